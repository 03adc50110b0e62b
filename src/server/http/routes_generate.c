/*
 * routes_generate.c - the endpoints of docs/API.md that run jobs: POST
 * /api/v1/generate (waits for the final stage, suspended, then answers
 * JSON or the file), POST /api/v1/generate-progressive (NDJSON, one line per
 * stage, sent the moment the stage exists), POST /api/v1/jobs and
 * GET/DELETE /api/v1/jobs/<id>[/events] (Server-Sent Events); and their
 * repairing twins POST /api/v1/repair, /api/v1/repair-progressive and
 * /api/v1/repair-jobs, which run the same code on a repair's input
 * (routes_repair.c reads it), so a repair answers as a generation does.
 *
 * Every such request: parameters parsed strictly (422 names the
 * parameter), the image's type and size read from its header (400, 413,
 * 415) or the mesh's presence checked, before anything is queued; the
 * request hash taken, the cache asked (a hit is answered at once), else the
 * job submitted or joined (429 with Retry-After when the queue is full, 503
 * while draining, 507 when its estimate exceeds the whole budget).
 * A job's stages, final stage and result shape come from its kind (jobs.h):
 * nothing here names a stage.
 * Streams are content-reader callbacks that suspend the connection when
 * they have nothing to send; the job's wake-up resumes it.  A suspended
 * connection does not notice its client leaving, so a disconnected
 * progressive client is noticed at its next stage line, whose write fails:
 * the stream is freed, its interest in the job released, and the job
 * cancelled if no other request shares it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"
#include "result_texture.h"

/* ---- input -------------------------------------------------------------- */

int http_refuse_upload(request *r, enum MHD_Result *ret) {
  if (r->too_large) {
    char msg[160];
    snprintf(msg, sizeof msg, "the request body is larger than the %zu MB limit",
             r->srv->cfg.max_upload_bytes >> 20);
    *ret = http_error_code(r, 413, "too_large", msg, NULL);
    return -1;
  }
  if (r->form_error[0]) {
    *ret = r->form_status == 422 ? http_error(r, ORF_EINVAL, r->form_error, r->form_param)
                                 : http_error_code(r, 400, "bad_request", r->form_error,
                                                   r->form_param[0] ? r->form_param : NULL);
    return -1;
  }
  return 0;
}

/* The image is there (400 missing_image), and its type is the bytes'
 * (orf_image_probe: 415 for an image of another type, 400 for no image at
 * all), never the declared Content-Type; its size from its header. */
static int probe_image(request *r, uint32_t *w, uint32_t *h, enum MHD_Result *ret) {
  if (r->body_len == 0) {
    *ret = http_error_code(r, 400, "missing_image",
                           "no image: send it as the multipart field \"image\" or as the request body", NULL);
    return -1;
  }
  orf_image_type t;
  int rc = orf_image_probe(r->body, r->body_len, &r->srv->limits, &t, w, h);
  if (rc) {
    *ret = http_error(r, rc, NULL, NULL);
    return -1;
  }
  return 0;
}

/* The job's precision and peak memory, from the image's size.  On a CUDA
 * server the budget is the GPU's: a job holds its field and mesh there
 * (jobs that stay on the CPU hold none of it), and the host budget takes
 * the job's host peak, bounded by the CPU path's (which also counts the
 * field the GPU holds instead: an over-estimate, never under). */
static void job_estimate(request *r, const orf_params *p, uint32_t w, uint32_t h, size_t size,
                         orf_precision *prec, size_t *estimate, size_t *host_estimate) {
  orf_params job = *p; /* the job runs with texture auto (run.c), whatever the request asked */
  job.texture = ORF_TEXTURE_AUTO;
  /* a remote generation holds none of this server's GPU: its previews run on the CPU */
  *prec = r->gen.name[0] ? ORF_PRECISION_FP32 : http_job_precision(r, &job);
  size_t host_peak = orf_estimate_peak_bytes(&job, w, h, size);
  int cuda = r->srv->engine_device == ORF_DEVICE_CUDA;
  if (r->gen.name[0]) {
    *estimate = cuda ? 0 : host_peak;
    *host_estimate = cuda ? host_peak : 0;
    return;
  }
  *estimate = cuda ? orf_estimate_device_bytes(&job, *prec) : host_peak;
  *host_estimate = cuda ? host_peak : 0;
}

static void estimate_job(request *r, const orf_params *p, uint32_t w, uint32_t h) {
  job_estimate(r, p, w, h, r->body_len, &r->prec, &r->estimate, &r->host_estimate);
}

/* The request hash (http_request_hash) into r->hash. */
static int hash_request(request *r, const orf_params *p, enum MHD_Result *ret) {
  char extra[128];
  http_generator_canonical(r, extra, sizeof extra);
  int rc = http_request_hash(r->body, r->body_len, p, r->prec, r->srv->segment_model_id, extra, r->hash);
  if (rc) {
    *ret = http_error(r, rc, NULL, NULL);
    return -1;
  }
  http_generator_register(r, p, r->hash);
  return 0;
}

void http_read_accept(request *r, const http_variant *v) {
  r->want = *v;
  const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
  if (accept && strstr(accept, http_media_type(v->format))) r->download = 1;
}

/* The upload, the parameters and the image's header, checked; w and h are
 * the image's size. */
int http_read_params(request *r, orf_params *p, enum MHD_Result *ret) {
  return http_refuse_upload(r, ret) || http_parse_params(r, p, ret) || http_generator_check(r, ret) ? -1 : 0;
}

static int read_image(request *r, orf_params *p, uint32_t *w, uint32_t *h, enum MHD_Result *ret) {
  return http_read_params(r, p, ret) || probe_image(r, w, h, ret) ? -1 : 0;
}

int http_read_image(request *r, orf_params *p, enum MHD_Result *ret) {
  uint32_t w, h;
  return read_image(r, p, &w, &h, ret);
}

int http_read_input(request *r, orf_params *p, enum MHD_Result *ret) {
  uint32_t w, h;
  if (read_image(r, p, &w, &h, ret)) return -1;
  r->kind = ORF_JOB_GENERATE;
  estimate_job(r, p, w, h);
  if (hash_request(r, p, ret)) return -1;
  http_variant v = http_variant_of(p);
  http_read_accept(r, &v);
  return 0;
}

/* The input of r's route into r: a repair's (http_read_repair) or a
 * generation's (http_read_input). */
static int read_job_input(request *r, enum MHD_Result *ret) {
  return http_route_repairs(r->route) ? http_read_repair(r, ret) : http_read_input(r, &r->params, ret);
}

/* The name of the last stage of r's kind of job (its answer's mesh). */
static const char *final_stage(const request *r) {
  return orf_job_stage_name(r->kind, orf_job_stage_count(r->kind) - 1);
}

/* Whether the cache holds a whole, readable result for hash: meta.json,
 * the PLY of every stage it lists (a repair may list no
 * rough_solid), the last one read (and so checksum-verified), and for a
 * generation its texture step (result_texture.h: the texture, or that
 * there is none).  A result
 * with a part missing or damaged on disk is computed again rather than
 * answered with links that would fail. */
int http_cached_result(server *srv, const char *hash) {
  orf_blob *b;
  if (orf_cache_get(srv->cache, hash, "meta.json", 0, &b)) return 0;
  json_t *meta = json_loadb((const char *)b->data, b->size, 0, NULL);
  orf_blob_release(b);
  json_t *stages = json_object_get(meta, "stages");
  size_t n = json_array_size(stages);
  int whole = n > 0;
  orf_job_kind kind = ORF_JOB_GENERATE;
  for (size_t i = 0; whole && i < n; i++) {
    const char *stage = json_string_value(json_object_get(json_array_get(stages, i), "stage"));
    char name[64];
    snprintf(name, sizeof name, "%s.ply", stage ? stage : "");
    if (!stage || orf_job_stage_lookup(stage, strlen(stage), &kind, NULL)) {
      whole = 0;
    } else if (i + 1 == n) {
      whole = orf_cache_get(srv->cache, hash, name, 0, &b) == ORF_OK;
      if (whole) orf_blob_release(b);
    } else {
      whole = orf_cache_has(srv->cache, hash, name);
    }
  }
  json_decref(meta);
  return whole && (kind != ORF_JOB_GENERATE || orf_result_texture_settled(srv->cache, hash));
}

/* ---- responses of finished work ----------------------------------------- */

/* Answers a finished generation or repair of r->hash (from the cache or a
 * job). */
enum MHD_Result http_answer_complete(request *r, int cached) {
  if (r->download) return http_serve_mesh(r, r->hash, final_stage(r), &r->want);
  orf_blob *meta;
  if (orf_cache_get(r->srv->cache, r->hash, "meta.json", 0, &meta))
    return http_error(r, ORF_EINTERNAL, "the finished result is missing from the cache", NULL);
  char *text = strndup((const char *)meta->data, meta->size);
  orf_blob_release(meta);
  json_t *j = text ? http_generate_response(text, r->hash, &r->want, cached) : NULL;
  free(text);
  if (!j) return http_error(r, ORF_ENOMEM, NULL, NULL);
  return http_json(r, 200, j);
}

/* The error of a failed job, from its last event. */
static enum MHD_Result answer_failed(request *r, const orf_job_state *st) {
  const char *last = st->events ? orf_job_event(r->job, st->events - 1) : NULL;
  json_t *ev = last ? json_loads(last, 0, NULL) : NULL;
  const char *msg = ev ? json_string_value(json_object_get(ev, "error")) : NULL;
  enum MHD_Result ret = http_error(r, st->error ? st->error : ORF_ECANCELED, msg, NULL);
  json_decref(ev);
  return ret;
}

/* Suspends r until its job has more than `have` events or has finished. */
enum MHD_Result http_wait_job(request *r, size_t have) {
  MHD_suspend_connection(r->conn);
  r->armed = 1;
  if (orf_job_wait(r->job, have, http_wake, r)) {
    r->armed = 0;
    MHD_resume_connection(r->conn);
  }
  return MHD_YES;
}

/* ---- streams (NDJSON and SSE) ------------------------------------------- */

typedef struct stream {
  struct MHD_Connection *conn;
  orf_job *job; /* NULL for a stream of a cached result */
  char hash[65];
  http_variant want; /* the URLs' format, texture and compression */
  int sse;
  size_t next; /* next event of the job */
  char *line;  /* line being sent */
  size_t line_len, line_off;
  char **pre; /* lines prepared up front (a cached result) */
  size_t npre, ipre;
  int armed;
} stream;

static void stream_wake(void *ctx) {
  stream *s = ctx;
  s->armed = 0;
  MHD_resume_connection(s->conn);
}

static char *frame(stream *s, char *line) {
  if (!s->sse || !line) return line;
  size_t n = strlen(line);
  char *f = malloc(n + 8);
  if (f) {
    memcpy(f, "data: ", 6);
    memcpy(f + 6, line, n); /* line ends in '\n'; SSE wants a blank line after */
    f[6 + n] = '\n';
    f[7 + n] = 0;
  }
  free(line);
  return f;
}

size_t http_stream_drain(char **line, size_t len, size_t *off, char *buf, size_t max) {
  if (*line && *off < len) {
    size_t n = len - *off < max ? len - *off : max;
    memcpy(buf, *line + *off, n);
    *off += n;
    return n;
  }
  free(*line);
  *line = NULL;
  return 0;
}

enum MHD_Result http_queue_stream(request *r, MHD_ContentReaderCallback read, void *cls,
                                  MHD_ContentReaderFreeCallback free_cls, int sse) {
  struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read, cls, free_cls);
  if (!resp) {
    free_cls(cls);
    return MHD_NO;
  }
  MHD_add_response_header(resp, "Content-Type", sse ? "text/event-stream" : "application/x-ndjson");
  MHD_add_response_header(resp, "Cache-Control", "no-cache");
  MHD_add_response_header(resp, "X-Accel-Buffering", "no");
  return http_queue(r, 200, resp);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  stream *s = cls;
  for (;;) {
    size_t sent = http_stream_drain(&s->line, s->line_len, &s->line_off, buf, max);
    if (sent) return (ssize_t)sent;
    if (s->ipre < s->npre) {
      s->line = frame(s, s->pre[s->ipre]);
      s->pre[s->ipre++] = NULL;
    } else if (s->job) {
      const char *ev = orf_job_event(s->job, s->next);
      if (ev) {
        s->line = frame(s, http_event_line(ev, s->hash, &s->want));
        s->next++;
      } else {
        orf_job_state st;
        orf_job_get_state(s->job, &st);
        if (st.status >= ORF_JOB_COMPLETE && s->next >= st.events) return MHD_CONTENT_READER_END_OF_STREAM;
        MHD_suspend_connection(s->conn);
        s->armed = 1;
        if (orf_job_wait(s->job, s->next, stream_wake, s)) {
          s->armed = 0;
          MHD_resume_connection(s->conn);
        }
        return 0;
      }
    } else {
      return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (!s->line) return MHD_CONTENT_READER_END_WITH_ERROR;
    s->line_len = strlen(s->line);
    s->line_off = 0;
  }
}

static void stream_free(void *cls) {
  stream *s = cls;
  if (s->job) {
    if (s->armed) orf_job_unwait(s->job, s);
    orf_job_release(s->job); /* a stream cut short drops its interest: may cancel */
  }
  for (size_t i = s->ipre; i < s->npre; i++)
    free(s->pre[i]);
  free(s->pre);
  free(s->line);
  free(s);
}

/* Whether a member of meta.json is the whole result's rather than the last
 * stage line's (which carries the rest, as the job's final event does: a
 * generation's "mesh", a repair's figures but its quality and timings). */
static int result_only(const char *key) {
  static const char *const keys[] = {"request_hash", "status",  "stages",     "timings_ms",
                                     "mode",         "quality", "mask_source"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
    if (!strcmp(key, keys[i])) return 1;
  return 0;
}

/* The lines of a cached result, as a finished job would have sent them. */
static int cached_lines(stream *s, server *srv) {
  orf_blob *meta;
  if (orf_cache_get(srv->cache, s->hash, "meta.json", 0, &meta)) return -1;
  json_error_t err;
  json_t *m = json_loadb((const char *)meta->data, meta->size, 0, &err);
  orf_blob_release(meta);
  json_t *stages = json_object_get(m, "stages");
  size_t n = json_array_size(stages);
  s->pre = calloc(n ? n : 1, sizeof *s->pre);
  if (!m || !s->pre) {
    json_decref(m);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    json_t *st = json_array_get(stages, i);
    int last = i + 1 == n;
    const char *name = json_string_value(json_object_get(st, "stage"));
    orf_job_kind kind = ORF_JOB_GENERATE;
    int stage = -1;
    if (name) orf_job_stage_lookup(name, strlen(name), &kind, &stage);
    json_t *data = json_deep_copy(st);
    json_object_del(data, "stage");
    json_object_set_new(data, "type",
                        json_string(kind == ORF_JOB_GENERATE && stage == ORF_STAGE_VOXEL_PREVIEW ? "voxel_grid"
                                                                                                : "mesh"));
    json_t *ev = json_pack("{s:O, s:i, s:s, s:o}", "stage", json_object_get(st, "stage"), "progress",
                           orf_job_stage_progress(kind, stage), "status", last ? "complete" : "processing",
                           "data", data);
    json_object_set_new(ev, "cached", json_true());
    const char *key;
    json_t *value;
    if (last) {
      json_object_foreach(m, key, value) {
        if (!result_only(key)) json_object_set(ev, key, value);
      }
    }
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    s->pre[s->npre++] = text ? http_event_line(text, s->hash, &s->want) : NULL;
    free(text);
    if (!s->pre[s->npre - 1]) {
      json_decref(m);
      return -1;
    }
  }
  json_decref(m);
  return 0;
}

static enum MHD_Result start_stream(request *r, orf_job *job, int sse) {
  stream *s = calloc(1, sizeof *s);
  if (!s) {
    if (job) orf_job_release(job);
    return http_error(r, ORF_ENOMEM, NULL, NULL);
  }
  s->conn = r->conn;
  s->job = job;
  s->sse = sse;
  s->want = r->want;
  memcpy(s->hash, job ? orf_job_hash(job) : r->hash, 65);
  if (!job && cached_lines(s, r->srv)) {
    stream_free(s);
    return http_error(r, ORF_EINTERNAL, "the cached result could not be read", NULL);
  }
  return http_queue_stream(r, stream_read, s, stream_free, sse);
}

/* ---- routes ------------------------------------------------------------- */

/* The job of r: none while draining (503), else submitted or joined
 * (orf_jobs_submit or orf_jobs_submit_repair by r's kind, keep as its own;
 * a refusal answered).  0, or -1 with the answer in *ret. */
static int submit_job(request *r, int keep, orf_job **job, int *coalesced, enum MHD_Result *ret) {
  int rc = atomic_load(&r->srv->draining) ? ORF_SRV_EDRAINING
           : r->kind == ORF_JOB_REPAIR
               ? orf_jobs_submit_repair(r->srv->jobs, r->hash, r->body, r->body_len, r->hint, &r->repair,
                                        r->estimate, r->host_estimate, keep, job, coalesced)
               : orf_jobs_submit(r->srv->jobs, r->hash, r->body, r->body_len, &r->params, r->prec,
                                 r->estimate, r->host_estimate, keep, job, coalesced);
  if (rc) {
    *ret = http_error(r, rc, NULL, NULL);
    return -1;
  }
  return 0;
}

enum MHD_Result route_generate(request *r, int progressive) {
  enum MHD_Result ret;
  if (r->cwatch) return http_cluster_resume(r);
  if (r->job) { /* resumed: finished, or a new event on the way there */
    orf_job_state st;
    orf_job_get_state(r->job, &st);
    if (st.status == ORF_JOB_COMPLETE) return http_answer_complete(r, 0);
    if (st.status >= ORF_JOB_FAILED) return answer_failed(r, &st);
    return http_wait_job(r, st.events);
  }
  if (read_job_input(r, &ret)) return ret;
  int found = http_cached_result(r->srv, r->hash);
  if (!found && http_cluster_mode(r->srv) && (found = http_cluster_fetch(r, &ret)) < 0) return ret;
  orf_cache_note_lookup(r->srv->cache, found);
  if (found) return progressive ? start_stream(r, NULL, 0) : http_answer_complete(r, 1);
  if (http_cluster_mode(r->srv)) return http_cluster_generate(r, progressive);
  orf_job *job;
  int coalesced;
  if (submit_job(r, 0, &job, &coalesced, &ret)) return ret;
  free(r->body); /* the job has its copy */
  r->body = NULL;
  r->body_len = r->body_cap = 0;
  if (progressive) return start_stream(r, job, 0);
  r->job = job;
  return http_wait_job(r, 0);
}

int http_submit_image(request *r, const uint8_t *image, size_t size, const orf_params *p, char hash[65],
                      orf_job **job, int *coalesced) {
  *job = NULL;
  *coalesced = 0;
  orf_image_type t;
  uint32_t w, h;
  int rc = orf_image_probe(image, size, &r->srv->limits, &t, &w, &h);
  if (rc) return rc;
  orf_precision prec;
  size_t estimate, host_estimate;
  job_estimate(r, p, w, h, size, &prec, &estimate, &host_estimate);
  char extra[128];
  http_generator_canonical(r, extra, sizeof extra);
  if ((rc = http_request_hash(image, size, p, prec, r->srv->segment_model_id, extra, hash))) return rc;
  int found = http_cached_result(r->srv, hash);
  orf_cache_note_lookup(r->srv->cache, found);
  if (found) return ORF_OK;
  if (atomic_load(&r->srv->draining)) return ORF_SRV_EDRAINING;
  http_generator_register(r, p, hash);
  return orf_jobs_submit(r->srv->jobs, hash, image, size, p, prec, estimate, host_estimate, 1, job,
                         coalesced);
}

enum MHD_Result route_job_submit(request *r) {
  enum MHD_Result ret;
  if (read_job_input(r, &ret)) return ret;
  if (http_cluster_mode(r->srv)) return http_cluster_job_submit(r);
  orf_job *job;
  int coalesced;
  if (submit_job(r, 1, &job, &coalesced, &ret)) return ret;
  orf_job_state st;
  orf_job_get_state(job, &st);
  char location[64];
  snprintf(location, sizeof location, "/api/v1/jobs/%s", orf_job_id(job));
  json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:b}", "job_id", orf_job_id(job), "status",
                        orf_job_status_name(st.status), "position", (json_int_t)st.position, "request_hash",
                        r->hash, "coalesced", coalesced);
  orf_job_release(job); /* the manager keeps it (keep = 1) */
  struct MHD_Response *resp = http_json_response(r, j);
  if (resp) MHD_add_response_header(resp, "Location", location);
  return http_queue(r, 202, resp);
}

/* The variant a job's submitter asked for (a repair's: its format). */
static http_variant job_variant(const orf_job *job) {
  if (orf_job_kind_of(job) == ORF_JOB_REPAIR)
    return (http_variant){orf_job_format(job), ORF_TEXTURE_AUTO, ORF_COMPRESS_NONE};
  return http_variant_of(orf_job_params(job));
}

/* A job id as the API hands them out: 32 lowercase hex digits. */
static int valid_job_id(const char *id) { return orf_is_hex(id, 32); }

enum MHD_Result route_job_status(request *r, const char *id) {
  if (http_cluster_mode(r->srv)) return http_cluster_job_status(r, id);
  orf_job *job = valid_job_id(id) ? orf_jobs_find(r->srv->jobs, id) : NULL;
  if (!job) return http_error(r, ORF_SRV_ENOTFOUND, "no such job", NULL);
  orf_job_state st;
  orf_job_get_state(job, &st);
  orf_job_kind kind = orf_job_kind_of(job);
  json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:s?}", "job_id", id, "kind",
                        kind == ORF_JOB_REPAIR ? "repair" : "generate", "status", orf_job_status_name(st.status),
                        "progress", st.progress, "stage", orf_job_stage_name(kind, st.stage));
  if (st.status == ORF_JOB_QUEUED) json_object_set_new(j, "position", json_integer((json_int_t)st.position));
  if (st.status == ORF_JOB_COMPLETE) {
    http_variant want = job_variant(job);
    orf_blob *meta;
    if (orf_cache_get(r->srv->cache, orf_job_hash(job), "meta.json", 0, &meta) == ORF_OK) {
      char *text = strndup((const char *)meta->data, meta->size);
      orf_blob_release(meta);
      json_t *res = text ? http_generate_response(text, orf_job_hash(job), &want, 0) : NULL;
      free(text);
      if (res) json_object_set_new(j, "result", res);
    }
  } else if (st.status >= ORF_JOB_FAILED && st.events) {
    json_t *ev = json_loads(orf_job_event(job, st.events - 1), 0, NULL);
    json_object_set(j, "error", json_object_get(ev, "error"));
    json_object_set(j, "code", json_object_get(ev, "code"));
    json_decref(ev);
  }
  orf_job_release(job);
  return http_json(r, 200, j);
}

enum MHD_Result route_job_events(request *r, const char *id) {
  if (http_cluster_mode(r->srv)) return http_cluster_job_events(r, id);
  orf_job *job = valid_job_id(id) ? orf_jobs_find(r->srv->jobs, id) : NULL;
  if (!job) return http_error(r, ORF_SRV_ENOTFOUND, "no such job", NULL);
  r->want = job_variant(job);
  return start_stream(r, job, 1);
}

enum MHD_Result route_job_cancel(request *r, const char *id) {
  if (http_cluster_mode(r->srv)) return http_cluster_job_cancel(r, id);
  int rc = valid_job_id(id) ? orf_jobs_cancel(r->srv->jobs, id) : ORF_SRV_ENOTFOUND;
  if (rc == ORF_SRV_ENOTFOUND) return http_error(r, rc, "no such job", NULL);
  if (rc == ORF_SRV_ECONFLICT) return http_error(r, rc, "the job has already finished", NULL);
  if (rc) return http_error(r, rc, NULL, NULL);
  return http_json(r, 200, json_pack("{s:s, s:s}", "job_id", id, "status", "cancelled"));
}

/* POST /api/v1/mask: the subject the engine would use for this image and
 * these parameters, as a PNG with the background transparent (for a person
 * to check before generating).  X-Mask-Source says how it was found.
 * The input is checked as a generation's (http_read_image: the same 400,
 * 413, 415 and 422), but no job estimate and no request hash are computed:
 * the mask is made here, on the request's thread, outside the job
 * manager's admission, and never cached, so neither would be used. */
enum MHD_Result route_mask(request *r) {
  enum MHD_Result ret;
  orf_params p;
  if (http_read_image(r, &p, &ret)) return ret;
  uint8_t *png;
  size_t n;
  int source = 0;
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.limits = r->srv->limits;
  o.threads = r->srv->cfg.engine_threads;
  o.segmenter = r->srv->segmenter;
  int rc = orf_subject_png(r->body, r->body_len, &p, &o, 512, &png, &n, &source);
  if (rc) return http_error(r, rc, NULL, NULL);
  struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(n, png, orf_buffer_free);
  if (!resp) {
    orf_buffer_free(png);
    return MHD_NO;
  }
  r->bytes = n;
  MHD_add_response_header(resp, "Content-Type", "image/png");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  MHD_add_response_header(resp, "X-Mask-Source", orf_mask_source_name(source));
  return http_queue(r, 200, resp);
}
