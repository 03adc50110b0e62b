/*
 * routes_cluster.c - the routes' side of a cluster node (--redis; the
 * layer itself is ../cluster/): what route_generate, the /api/v1/jobs
 * routes and the results route do instead of using the local job manager
 * directly, and the internal route another node fetches result files from.
 *
 * A job is submitted to (or followed on) the shared queue, and every
 * client of this node follows it through its progress stream in Redis
 * (orf_cluster_watch), whichever node runs it: a waiting generate is
 * suspended until the watch has the last event, a progressive stream
 * (NDJSON, or SSE for /jobs/<id>/events with the entry id as each event's
 * `id`, Last-Event-ID resuming after it) sends each event as it arrives.
 * A result computed elsewhere is fetched from its holder before it is
 * answered, so every URL this node hands out is one it can serve.
 * While Redis is unreachable, these routes answer 503 cluster_unavailable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

#define RECOMPUTE_RETRY_S 10 /* Retry-After of a result being computed again */

int http_cluster_mode(const server *srv) { return srv->cfg.redis[0] != 0; }

/* The cluster, or NULL while the node is still joining. */
static orf_cluster *cluster_of(request *r) { return atomic_load(&r->srv->cluster); }

enum MHD_Result http_cluster_unavailable(request *r) {
  orf_cluster *c = cluster_of(r);
  char buf[800];
  return http_error_code(r, 503, "cluster_unavailable",
                         c ? orf_cluster_error(c, buf, sizeof buf)
                           : "this node is still joining the cluster; retry in a few seconds",
                         NULL);
}

int http_cluster_fetch(request *r, enum MHD_Result *ret) {
  orf_cluster *c = cluster_of(r);
  int rc = c ? orf_cluster_fetch_result(c, r->hash) : ORF_CLUSTER_EDOWN;
  if (rc == ORF_CLUSTER_EDOWN) {
    *ret = http_cluster_unavailable(r);
    return -1;
  }
  r->cluster_recompute = rc == ORF_SRV_ENOTFOUND;
  return rc == ORF_OK && http_cached_result(r->srv, r->hash);
}

/* Submits r's input: 0 with job_id, or -1 with the refusal answered. */
static int submit(request *r, char job_id[33], int *coalesced, enum MHD_Result *ret) {
  orf_cluster *c = cluster_of(r);
  if (atomic_load(&r->srv->draining)) {
    *ret = http_error(r, ORF_SRV_EDRAINING, NULL, NULL);
    return -1;
  }
  if (!c) {
    *ret = http_cluster_unavailable(r);
    return -1;
  }
  orf_cluster_input in = {.kind = r->kind,
                          .hash = r->hash,
                          .data = r->body,
                          .size = r->body_len,
                          .params = &r->params,
                          .prec = r->prec,
                          .repair = &r->repair,
                          .hint = r->hint,
                          .estimate = r->estimate,
                          .host_estimate = r->host_estimate,
                          .recompute = r->cluster_recompute};
  int rc = orf_cluster_submit(c, &in, job_id, coalesced);
  if (rc == ORF_CLUSTER_EDOWN) *ret = http_cluster_unavailable(r);
  else if (rc == ORF_SRV_ETOOBIG)
    *ret = http_error_code(r, 413, "too_large",
                           "the input is larger than a cluster keeps for its jobs (the --max-upload-mb of this node)",
                           NULL);
  else if (rc == ORF_SRV_EQUEUEFULL)
    *ret = http_error(r, rc, "the cluster's shared queue is full; retry after the time in Retry-After", NULL);
  else if (rc)
    *ret = http_error(r, rc, NULL, NULL);
  if (!rc && *coalesced) orf_cache_note_coalesced(r->srv->cache);
  return rc ? -1 : 0;
}

/* ---- streams --------------------------------------------------------------- */

typedef struct cstream {
  struct MHD_Connection *conn;
  orf_cluster_watch *watch;
  char hash[65];
  http_variant want;
  int sse;
  size_t next;
  char *line;
  size_t line_len, line_off;
  int armed;
} cstream;

static void cstream_wake(void *ctx) {
  cstream *s = ctx;
  s->armed = 0;
  MHD_resume_connection(s->conn);
}

/* An event line (ending in '\n') as an SSE event with its id. */
static char *sse_frame(char *line, const char *id) {
  if (!line) return NULL;
  size_t n = strlen(line), idn = strlen(id);
  char *f = malloc(n + idn + 16);
  if (f) snprintf(f, n + idn + 16, "id: %s\ndata: %s\n", id, line);
  free(line);
  return f;
}

static ssize_t cstream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  cstream *s = cls;
  for (;;) {
    size_t sent = http_stream_drain(&s->line, s->line_len, &s->line_off, buf, max);
    if (sent) return (ssize_t)sent;
    const char *id;
    const char *ev = orf_cluster_watch_event(s->watch, s->next, &id);
    if (!ev) {
      size_t have;
      if (orf_cluster_watch_done(s->watch, &have) && s->next >= have) return MHD_CONTENT_READER_END_OF_STREAM;
      MHD_suspend_connection(s->conn);
      s->armed = 1;
      if (orf_cluster_watch_wait(s->watch, s->next, cstream_wake, s)) {
        s->armed = 0;
        MHD_resume_connection(s->conn);
      }
      return 0;
    }
    char *line = http_event_line(ev, s->hash, &s->want);
    s->line = s->sse ? sse_frame(line, id) : line;
    s->next++;
    if (!s->line) return MHD_CONTENT_READER_END_WITH_ERROR;
    s->line_len = strlen(s->line);
    s->line_off = 0;
  }
}

static void cstream_free(void *cls) {
  cstream *s = cls;
  if (s->armed) orf_cluster_watch_unwait(s->watch, s);
  orf_cluster_watch_release(s->watch);
  free(s->line);
  free(s);
}

/* Streams the job of hash from after entry `after`. */
static enum MHD_Result start_cstream(request *r, const char *hash, const char *after, int sse) {
  cstream *s = calloc(1, sizeof *s);
  if (s) s->watch = orf_cluster_watch_open(cluster_of(r), hash, after);
  if (!s || !s->watch) {
    free(s);
    return http_error(r, ORF_ENOMEM, NULL, NULL);
  }
  s->conn = r->conn;
  s->sse = sse;
  s->want = r->want;
  memcpy(s->hash, hash, 65);
  return http_queue_stream(r, cstream_read, s, cstream_free, sse);
}

/* ---- generate, waiting --------------------------------------------------------- */

/* Suspends r until its watch has more than `have` events or is done. */
static enum MHD_Result wait_watch(request *r, size_t have) {
  MHD_suspend_connection(r->conn);
  r->armed = 1;
  if (orf_cluster_watch_wait(r->cwatch, have, http_wake, r)) {
    r->armed = 0;
    MHD_resume_connection(r->conn);
  }
  return MHD_YES;
}

enum MHD_Result http_cluster_generate(request *r, int progressive) {
  enum MHD_Result ret;
  char job_id[33];
  int coalesced;
  if (submit(r, job_id, &coalesced, &ret)) return ret;
  free(r->body); /* Redis has its copy */
  r->body = NULL;
  r->body_len = r->body_cap = 0;
  if (progressive) return start_cstream(r, r->hash, NULL, 0);
  r->cwatch = orf_cluster_watch_open(cluster_of(r), r->hash, NULL);
  if (!r->cwatch) return http_error(r, ORF_ENOMEM, NULL, NULL);
  return wait_watch(r, 0);
}

/* The error of a failed cluster job, from its last event (the job's HTTP
 * status from Redis, 500 when it is not known). */
static enum MHD_Result answer_failed(request *r, const char *event) {
  json_t *ev = json_loads(event, 0, NULL);
  const char *msg = json_string_value(json_object_get(ev, "error"));
  const char *code = json_string_value(json_object_get(ev, "code"));
  int down = 0, status = 500;
  json_t *st = orf_cluster_job_state(cluster_of(r), r->hash, &down);
  json_int_t s = json_integer_value(json_object_get(st, "http_status"));
  if (s >= 400 && s <= 599) status = (int)s;
  if (code && !strcmp(code, "job_lost")) status = 503;
  enum MHD_Result ret = http_error_code(r, (unsigned)status, code ? code : "internal_error",
                                        msg ? msg : "the job failed", NULL);
  json_decref(st);
  json_decref(ev);
  return ret;
}

enum MHD_Result http_cluster_resume(request *r) {
  size_t have;
  if (!orf_cluster_watch_done(r->cwatch, &have)) return wait_watch(r, have);
  const char *last = have ? orf_cluster_watch_event(r->cwatch, have - 1, NULL) : NULL;
  if (!last || !strstr(last, "\"status\":\"complete\"")) return last ? answer_failed(r, last) : http_cluster_unavailable(r);
  if (!http_cached_result(r->srv, r->hash)) {
    enum MHD_Result ret;
    int got = http_cluster_fetch(r, &ret);
    if (got < 0) return ret;
    if (!got)
      return http_error_code(r, 503, "result_unavailable",
                             "the result was computed but the node holding it cannot be reached; retry to compute it "
                             "again",
                             NULL);
  }
  return http_answer_complete(r, 0);
}

/* ---- /api/v1/jobs ------------------------------------------------------------------- */

enum MHD_Result http_cluster_job_submit(request *r) {
  enum MHD_Result ret;
  char job_id[33];
  int coalesced;
  if (submit(r, job_id, &coalesced, &ret)) return ret;
  char location[64];
  snprintf(location, sizeof location, "/api/v1/jobs/%s", job_id);
  json_t *j = json_pack("{s:s, s:s, s:s, s:b, s:s}", "job_id", job_id, "status", "queued", "request_hash", r->hash,
                        "coalesced", coalesced, "node", orf_cluster_node_id(cluster_of(r)));
  struct MHD_Response *resp = http_json_response(r, j);
  if (resp) MHD_add_response_header(resp, "Location", location);
  return http_queue(r, 202, resp);
}

/* The hash of job id, or the answer (404, 503) in *ret. */
static int job_hash(request *r, const char *id, char hash[65], enum MHD_Result *ret) {
  orf_cluster *c = cluster_of(r);
  int rc = c ? orf_cluster_job_hash(c, id, hash) : ORF_CLUSTER_EDOWN;
  if (rc == ORF_OK) return 0;
  *ret = rc == ORF_CLUSTER_EDOWN ? http_cluster_unavailable(r) : http_error(r, ORF_SRV_ENOTFOUND, "no such job", NULL);
  return -1;
}

enum MHD_Result http_cluster_job_status(request *r, const char *id) {
  enum MHD_Result ret;
  char hash[65];
  if (job_hash(r, id, hash, &ret)) return ret;
  int down;
  json_t *st = orf_cluster_job_state(cluster_of(r), hash, &down);
  if (!st) return down ? http_cluster_unavailable(r) : http_error(r, ORF_SRV_ENOTFOUND, "no such job", NULL);
  orf_job_kind kind = json_integer_value(json_object_get(st, "kind")) == ORF_JOB_REPAIR ? ORF_JOB_REPAIR
                                                                                        : ORF_JOB_GENERATE;
  json_t *si = json_object_get(st, "stage_index");
  const char *stage = si ? orf_job_stage_name(kind, (int)json_integer_value(si)) : NULL;
  json_t *j = json_pack("{s:s, s:s, s:O, s:O, s:s?, s:O?, s:O}", "job_id", id, "kind",
                        kind == ORF_JOB_REPAIR ? "repair" : "generate", "status", json_object_get(st, "status"),
                        "progress", json_object_get(st, "progress"), "stage", stage, "node",
                        json_object_get(st, "node"), "deliveries", json_object_get(st, "deliveries"));
  const char *status = json_string_value(json_object_get(st, "status"));
  if (status && !strcmp(status, "complete")) {
    orf_blob *meta; /* fetched from the holder when this node lacks it (no answer queued on failure) */
    if ((http_cached_result(r->srv, hash) ||
         (orf_cluster_fetch_result(cluster_of(r), hash) == ORF_OK && http_cached_result(r->srv, hash))) &&
        orf_cache_get(r->srv->cache, hash, "meta.json", 0, &meta) == ORF_OK) {
      char *text = strndup((const char *)meta->data, meta->size);
      orf_blob_release(meta);
      orf_params p;
      orf_params_init(&p);
      http_variant v = http_variant_of(&p);
      json_t *res = text ? http_generate_response(text, hash, &v, 0) : NULL;
      free(text);
      if (res) json_object_set_new(j, "result", res);
    }
  } else if (status && !strcmp(status, "failed")) {
    json_object_set(j, "error", json_object_get(st, "error"));
    json_object_set(j, "code", json_object_get(st, "code"));
  }
  json_decref(st);
  return http_json(r, 200, j);
}

enum MHD_Result http_cluster_job_events(request *r, const char *id) {
  enum MHD_Result ret;
  char hash[65];
  if (job_hash(r, id, hash, &ret)) return ret;
  const char *last = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID");
  orf_params p;
  orf_params_init(&p);
  r->want = http_variant_of(&p);
  return start_cstream(r, hash, last, 1);
}

enum MHD_Result http_cluster_job_cancel(request *r, const char *id) {
  enum MHD_Result ret;
  char hash[65];
  if (job_hash(r, id, hash, &ret)) return ret;
  return http_error_code(r, 409, "not_cancellable",
                         "a job on a cluster's shared queue cannot be cancelled: other requests may share it and "
                         "any node may be running it",
                         NULL);
}

/* ---- results ----------------------------------------------------------------------------- */

int http_cluster_results(request *r, const char *hash, const char *stage, enum MHD_Result *ret) {
  char ply[80];
  snprintf(ply, sizeof ply, "%s.ply", stage);
  if (orf_cache_has(r->srv->cache, hash, ply)) return 0;
  orf_cluster *c = cluster_of(r);
  int rc = c ? orf_cluster_fetch_result(c, hash) : ORF_CLUSTER_EDOWN;
  if (rc == ORF_OK) return 0; /* fetched, or unknown to the cluster: served or 404 as on one node */
  if (rc == ORF_SRV_ENOTFOUND) rc = orf_cluster_recompute(c, hash);
  if (rc == ORF_CLUSTER_EDOWN) {
    *ret = http_cluster_unavailable(r);
    return 1;
  }
  if (rc == ORF_SRV_ENOTFOUND) return 0; /* nothing kept to compute it from: 404 */
  if (rc == ORF_SRV_EQUEUEFULL) {
    *ret = http_error(r, rc, "the cluster's shared queue is full; retry after the time in Retry-After", NULL);
    return 1;
  }
  json_t *j = json_pack("{s:s, s:s, s:i}", "error",
                        "the node that held this result is gone; it is being computed again: retry after the time "
                        "in Retry-After",
                        "code", "result_recomputing", "retry_after_s", RECOMPUTE_RETRY_S);
  struct MHD_Response *resp = http_json_response(r, j);
  char text[16];
  snprintf(text, sizeof text, "%d", RECOMPUTE_RETRY_S);
  if (resp) MHD_add_response_header(resp, "Retry-After", text);
  *ret = http_queue(r, 503, resp);
  return 1;
}

enum MHD_Result route_internal_files(request *r, const char *rest) {
  orf_cluster *c = cluster_of(r);
  if (!c) return http_error(r, ORF_SRV_ENOTFOUND, "no such endpoint", NULL);
  const char *token = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Orfeas-Cluster-Token");
  if (!orf_cluster_token_ok(c, token))
    return http_error_code(r, 403, "forbidden", "the internal routes need the cluster's token", NULL);
  char hash[65] = "";
  const char *slash = strchr(rest, '/');
  if (slash && slash - rest == 64) memcpy(hash, rest, 64);
  orf_blob *b;
  if (!orf_is_hex(hash, 64) || orf_cache_get(r->srv->cache, hash, slash + 1, 0, &b))
    return http_error(r, ORF_SRV_ENOTFOUND, "this node does not hold that file", NULL);
  struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
      b->size, (void *)b->data, (MHD_ContentReaderFreeCallback)orf_blob_release, b);
  if (!resp) {
    orf_blob_release(b);
    return MHD_NO;
  }
  r->bytes = b->size;
  MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
  return http_queue(r, 200, resp);
}
