/*
 * routes_batch.c - many images at once (issue 16): POST /api/v1/batch
 * takes several multipart `image` parts (each an image, or a zip of
 * images), or a zip as the raw body, with parameters common to all of
 * them (form fields or the query, as POST /api/v1/jobs takes them), and
 * answers 202 with one job per image.  Each image goes through
 * http_submit_image, the code POST /api/v1/jobs runs: probed, estimated,
 * hashed, answered from the cache or submitted (deduplicated and admitted
 * on its own), so a batch's jobs are /api/v1/jobs' jobs.  An image the
 * queue has no room for waits in the batch (held, BATCH_HELD_MAX bytes of
 * them at most across batches) and is submitted as room frees up, each
 * time the batch is asked for; an image refused otherwise (not an image,
 * too large) fails its own entry only.  GET /api/v1/batch/<id> gives every entry's status;
 * GET /api/v1/batch/<id>/results.zip, once none is queued or running, the
 * zip of the finished models in the batch's format.
 *
 * The upload: http.c's form reader appends every `image` part to the
 * request body, as it does the one image of other routes, and tells this
 * file where each part starts (http_batch_part); the limit on the body is
 * the upload limit, for all the parts together.  Zip entries are read one
 * at a time, each within the decoder's file limit, and only those whose
 * names end in .png, .jpg, .jpeg or .webp (folders, hidden files and
 * __MACOSX/ skipped).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "batch_store.h"
#include "http_int.h"
#include "log.h"

#define BATCH_KEEP 256                     /* batches kept findable, at most */
#define BATCH_HELD_MAX ((size_t)256 << 20) /* images waiting for room in the queue, all batches */

/* The images of a batch waiting for room in the job queue, while it is
 * submitted. */
typedef struct held_images {
  uint8_t *data;
  size_t len, cap;
} held_images;

static int hold(held_images *h, http_batch_item *it, const uint8_t *data, size_t size) {
  if (h->len + size > h->cap) {
    size_t cap = h->cap ? h->cap : 1 << 20;
    while (cap < h->len + size)
      cap *= 2;
    uint8_t *d = realloc(h->data, cap);
    if (!d) return -1;
    h->data = d;
    h->cap = cap;
  }
  memcpy(h->data + h->len, data, size);
  it->held = 1;
  it->held_off = h->len;
  it->held_len = size;
  h->len += size;
  return 0;
}

typedef struct batch_part {
  size_t off;
  char name[96];
} batch_part;

struct http_batch_upload {
  batch_part parts[HTTP_BATCH_MAX_ITEMS];
  size_t n;
};

int http_batch_part(request *r, const char *filename) {
  if (!r->batch_upload && !(r->batch_upload = calloc(1, sizeof *r->batch_upload))) return -1;
  struct http_batch_upload *u = r->batch_upload;
  if (u->n == HTTP_BATCH_MAX_ITEMS) {
    if (!r->form_error[0]) {
      r->form_status = 400;
      snprintf(r->form_error, sizeof r->form_error, "a batch holds at most %d images", HTTP_BATCH_MAX_ITEMS);
    }
    return 0;
  }
  batch_part *p = &u->parts[u->n++];
  p->off = r->body_len;
  snprintf(p->name, sizeof p->name, "%s", filename && filename[0] ? filename : "");
  return 0;
}

void http_batch_upload_free(request *r) {
  free(r->batch_upload);
  r->batch_upload = NULL;
}

/* A file name safe to echo and to name a zip entry: its last path
 * component, bytes outside printable ASCII and '"' '\\' replaced; a
 * default when nothing is left. */
static void clean_name(const char *in, size_t index, char *out, size_t size) {
  const char *slash = strrchr(in, '/'), *bslash = strrchr(in, '\\');
  if (bslash && (!slash || bslash > slash)) slash = bslash;
  const char *base = slash ? slash + 1 : in;
  size_t n = 0;
  for (; base[n] && n + 1 < size; n++)
    out[n] = base[n] > 0x20 && base[n] < 0x7f && base[n] != '"' && base[n] != '\\' ? base[n] : '_';
  out[n] = 0;
  if (!n || !strcmp(out, ".") || !strcmp(out, "..")) snprintf(out, size, "image-%zu", index + 1);
}

static int is_zip(const uint8_t *d, size_t n) { return n >= 4 && !memcmp(d, "PK\x03\x04", 4); }

static int image_entry_name(const char *name) {
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  const char *dot = strrchr(base, '.');
  if (!strncmp(name, "__MACOSX/", 9) || base[0] == '.' || !dot) return 0;
  return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
         !strcasecmp(dot, ".webp");
}

/* One image into the batch: submitted (http_submit_image), its outcome in
 * the next item; held when the queue has no room for it. */
static void add_image(request *r, const orf_params *p, http_batch *b, held_images *h, const char *name,
                      const uint8_t *data, size_t size) {
  if (b->n == HTTP_BATCH_MAX_ITEMS) return;
  http_batch_item *it = &b->items[b->n];
  memset(it, 0, sizeof *it);
  clean_name(name, b->n, it->name, sizeof it->name);
  b->n++;
  orf_job *job = NULL;
  int coalesced;
  int rc = http_submit_image(r, data, size, p, it->hash, &job, &coalesced);
  if (rc == ORF_SRV_EQUEUEFULL && hold(h, it, data, size) == 0) {
    it->hash[0] = 0;
    return;
  }
  if (rc) {
    it->error = rc;
    it->hash[0] = 0;
    snprintf(it->message, sizeof it->message, "%s", http_error_sentence(rc));
    return;
  }
  if (job) {
    memcpy(it->job_id, orf_job_id(job), 33);
    orf_job_release(job); /* the manager keeps it (kept, as /api/v1/jobs' jobs) */
  } else {
    it->cached = 1;
  }
}

/* A failed entry that never reached the submission (a zip entry that
 * could not be read). */
static void add_refused(http_batch *b, const char *name, int err, const char *message) {
  if (b->n == HTTP_BATCH_MAX_ITEMS) return;
  http_batch_item *it = &b->items[b->n];
  memset(it, 0, sizeof *it);
  clean_name(name, b->n, it->name, sizeof it->name);
  it->error = err;
  snprintf(it->message, sizeof it->message, "%s", message);
  b->n++;
}

/* Every image entry of the zip at data into the batch; -1 with the reason
 * in msg when the zip itself cannot be read. */
static int add_zip(request *r, const orf_params *p, http_batch *b, held_images *h, const uint8_t *data,
                   size_t size, char *msg, size_t msg_size) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(data, size, 0, &ze);
  zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
  zip_error_fini(&ze);
  if (!za) {
    if (src) zip_source_free(src);
    snprintf(msg, msg_size, "the zip archive cannot be read (damaged or not a zip)");
    return -1;
  }
  size_t limit = r->srv->limits.max_file_bytes;
  zip_int64_t n = zip_get_num_entries(za, 0);
  for (zip_int64_t i = 0; i < n && b->n < HTTP_BATCH_MAX_ITEMS; i++) {
    zip_stat_t st;
    if (zip_stat_index(za, (zip_uint64_t)i, 0, &st) || !(st.valid & ZIP_STAT_NAME) ||
        !image_entry_name(st.name))
      continue;
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > limit) {
      add_refused(b, st.name, ORF_ETOOLARGE, http_error_sentence(ORF_ETOOLARGE));
      continue;
    }
    uint8_t *buf = malloc(st.size ? st.size : 1);
    zip_file_t *zf = buf ? zip_fopen_index(za, (zip_uint64_t)i, 0) : NULL;
    zip_int64_t got = zf ? zip_fread(zf, buf, st.size) : -1;
    if (zf) zip_fclose(zf);
    if (got < 0 || (zip_uint64_t)got != st.size)
      add_refused(b, st.name, ORF_EBADIMAGE, "the zip entry cannot be read (damaged archive)");
    else
      add_image(r, p, b, h, st.name, buf, st.size);
    free(buf);
  }
  zip_discard(za);
  return 0;
}

/* ---- POST /api/v1/batch -------------------------------------------------- */

static json_t *item_json(server *srv, const http_batch *b, size_t i);

enum MHD_Result route_batch_submit(request *r) {
  enum MHD_Result ret;
  orf_params p;
  if (http_read_params(r, &p, &ret)) return ret;
  if (r->body_len == 0)
    return http_error_code(r, 400, "missing_image",
                           "no image: send each as a multipart part \"image\", or a zip of images as the "
                           "body or a part",
                           NULL);
  http_batch *b = calloc(1, sizeof *b);
  if (!b) return http_error(r, ORF_ENOMEM, NULL, NULL);
  orf_request_id(b->id);
  b->format = p.format;
  b->created = orf_now_mono();
  b->params = p;
  memcpy(b->precision, r->precision, sizeof b->precision);
  snprintf(b->generator, sizeof b->generator, "%s", r->gen.name);
  b->seed = r->gen.seed, b->seed_given = r->gen.seed_given;
  b->steps = r->gen.steps, b->steps_given = r->gen.steps_given;
  held_images h = {0};
  struct http_batch_upload *u = r->batch_upload;
  size_t nparts = u ? u->n : 1;
  char msg[160];
  for (size_t k = 0; k < nparts; k++) {
    size_t off = u ? u->parts[k].off : 0, end = u && k + 1 < u->n ? u->parts[k + 1].off : r->body_len;
    const char *name = u ? u->parts[k].name : "";
    const uint8_t *d = r->body + off;
    if (!is_zip(d, end - off)) {
      add_image(r, &p, b, &h, name, d, end - off);
    } else if (add_zip(r, &p, b, &h, d, end - off, msg, sizeof msg)) {
      if (!u) { /* the body itself */
        free(b);
        free(h.data);
        return http_error_code(r, 400, "bad_request", msg, NULL);
      }
      add_refused(b, name, ORF_EBADIMAGE, msg);
    }
  }
  if (b->n == 0) {
    free(b);
    free(h.data);
    return http_error_code(r, 400, "missing_image",
                           "the zip archive holds no .png, .jpg, .jpeg or .webp image", NULL);
  }
  if (!r->srv->batches || http_batches_put(r->srv->batches, b, h.data, h.len)) {
    free(b);
    return http_error(r, ORF_ENOMEM, NULL, NULL);
  }
  char location[64];
  snprintf(location, sizeof location, "/api/v1/batch/%s", b->id);
  json_t *jobs = json_array();
  for (size_t i = 0; i < b->n; i++)
    json_array_append_new(jobs, item_json(r->srv, b, i));
  json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:o}", "batch_id", b->id, "status_url", location, "count",
                        (json_int_t)b->n, "format", orf_format_ext(b->format), "jobs", jobs);
  free(b);
  struct MHD_Response *resp = http_json_response(r, j);
  if (resp) MHD_add_response_header(resp, "Location", location);
  return http_queue(r, 202, resp);
}

/* ---- GET /api/v1/batch/<id>[/results.zip] -------------------------------- */

/* Entry i's status: refused at submit ("failed"), its job's, or, with no
 * job kept (answered from the cache, or its record expired), "complete"
 * when the cache holds its result, else "expired". */
static json_t *item_json(server *srv, const http_batch *b, size_t i) {
  const http_batch_item *it = &b->items[i];
  json_t *j = json_pack("{s:I, s:s}", "index", (json_int_t)i, "name", it->name);
  if (it->error) {
    const char *code;
    http_status_of(it->error, &code);
    json_object_set_new(j, "status", json_string("failed"));
    json_object_set_new(j, "error", json_string(it->message));
    json_object_set_new(j, "code", json_string(code));
    return j;
  }
  if (it->held) { /* no room in the queue yet: submitted when the batch is asked again */
    json_object_set_new(j, "status", json_string("waiting"));
    return j;
  }
  json_object_set_new(j, "request_hash", json_string(it->hash));
  json_object_set_new(j, "cached", json_boolean(it->cached));
  if (it->job_id[0]) {
    char url[64];
    snprintf(url, sizeof url, "/api/v1/jobs/%s", it->job_id);
    json_object_set_new(j, "job_id", json_string(it->job_id));
    json_object_set_new(j, "status_url", json_string(url));
  }
  http_job_view v;
  http_job_view_get(srv, it->job_id, it->hash, &v);
  const char *status = v.status;
  if (it->job_id[0]) json_object_set_new(j, "progress", json_integer(v.progress));
  if (v.error[0] && strcmp(status, "expired")) {
    json_object_set_new(j, "error", json_string(v.error));
    json_object_set_new(j, "code", json_string(v.code));
  }
  json_object_set_new(j, "status", json_string(status));
  if (!strcmp(status, "complete")) {
    http_variant v = http_variant_of(&b->params);
    json_object_set_new(j, "download_url", http_result_url(it->hash, orf_job_stage_name(ORF_JOB_GENERATE, 3), &v));
  }
  return j;
}

/* A held image submitted with its batch's parameters
 * (http_batch_feed_fn; ctx: the request asking for the batch). */
static int feed_one(void *ctx, const http_batch *b, http_batch_item *it, const uint8_t *image, size_t size) {
  request *r = ctx;
  memcpy(r->precision, b->precision, sizeof r->precision);
  memset(&r->gen, 0, sizeof r->gen);
  char err[200];
  int rc = b->generator[0] && http_generator_param(r, "generator", b->generator, err, sizeof err) < 0
               ? ORF_EINVAL
               : ORF_OK;
  r->gen.seed = b->seed, r->gen.seed_given = b->seed_given;
  r->gen.steps = b->steps, r->gen.steps_given = b->steps_given;
  orf_job *job = NULL;
  int coalesced;
  if (!rc) rc = http_submit_image(r, image, size, &b->params, it->hash, &job, &coalesced);
  if (rc == ORF_SRV_EQUEUEFULL) return 1; /* still no room */
  if (rc) {
    it->error = rc;
    it->hash[0] = 0;
    snprintf(it->message, sizeof it->message, "%.159s", rc == ORF_EINVAL ? err : http_error_sentence(rc));
  } else if (job) {
    memcpy(it->job_id, orf_job_id(job), 33);
    orf_job_release(job);
  } else {
    it->cached = 1;
  }
  return 0;
}

/* The batch of id into a new allocation, its held images submitted first
 * as far as the queue has room, or NULL (404 answered in *ret). */
static http_batch *find_batch(request *r, const char *id, enum MHD_Result *ret) {
  http_batch *b = orf_is_hex(id, 32) ? malloc(sizeof *b) : NULL;
  if (b && r->srv->batches && http_batches_feed(r->srv->batches, id, feed_one, r) &&
      http_batches_get(r->srv->batches, id, b))
    return b;
  free(b);
  *ret = http_error(r, ORF_SRV_ENOTFOUND, "no such batch (or it has expired)", NULL);
  return NULL;
}

/* The zip of the batch's complete models: 409 while an entry is queued or
 * running, or when none is complete. */
static enum MHD_Result answer_zip(request *r, http_batch *b, json_t *items, int pending) {
  if (pending)
    return http_error(r, ORF_SRV_ECONFLICT, "the batch is still running: ask again when it is done", NULL);
  const char *names[HTTP_BATCH_MAX_ITEMS];
  char *owned[HTTP_BATCH_MAX_ITEMS];
  const uint8_t *data[HTTP_BATCH_MAX_ITEMS];
  size_t lens[HTTP_BATCH_MAX_ITEMS];
  orf_blob *blobs[HTTP_BATCH_MAX_ITEMS];
  size_t n = 0;
  int rc = ORF_OK;
  const char *stage = orf_job_stage_name(ORF_JOB_GENERATE, 3);
  for (size_t i = 0; i < b->n && !rc; i++) {
    if (strcmp(json_string_value(json_object_get(json_array_get(items, i), "status")), "complete")) continue;
    http_variant v = http_variant_of(&b->params);
    if (v.texture == ORF_TEXTURE_ON) v.texture = ORF_TEXTURE_AUTO; /* a model without one is zipped untextured */
    http_mesh_file file;
    if ((rc = http_mesh_convert(r->srv, b->items[i].hash, stage, &v, &file)) ||
        (rc = orf_cache_get(r->srv->cache, b->items[i].hash, file.name, 0, &blobs[n])))
      break;
    /* <index>-<name without its extension>.<format>: unique, and still the file's name */
    const char *nm = b->items[i].name, *dot = strrchr(nm, '.');
    int len = dot && dot != nm ? (int)(dot - nm) : (int)strlen(nm);
    size_t size = (size_t)len + 32;
    if (!(owned[n] = malloc(size))) {
      orf_blob_release(blobs[n]);
      rc = ORF_ENOMEM;
      break;
    }
    snprintf(owned[n], size, "%02zu-%.*s.%s", i + 1, len, nm, file.ext);
    names[n] = owned[n];
    data[n] = blobs[n]->data;
    lens[n] = blobs[n]->size;
    n++;
  }
  uint8_t *zip = NULL;
  size_t zip_size = 0;
  if (!rc && n == 0) rc = ORF_SRV_ECONFLICT;
  if (!rc) rc = orf_zip_files(names, data, lens, n, &zip, &zip_size);
  for (size_t k = 0; k < n; k++) {
    orf_blob_release(blobs[k]);
    free(owned[k]);
  }
  if (rc == ORF_SRV_ECONFLICT) return http_error(r, rc, "no image of the batch gave a model", NULL);
  if (rc) return http_error(r, rc, NULL, NULL);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer_with_free_callback(zip_size, zip, orf_buffer_free);
  if (!resp) {
    orf_buffer_free(zip);
    return MHD_NO;
  }
  char disposition[96];
  snprintf(disposition, sizeof disposition, "attachment; filename=\"orfeas-batch-%.12s.zip\"", b->id);
  r->bytes = zip_size;
  MHD_add_response_header(resp, "Content-Type", "application/zip");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  MHD_add_response_header(resp, "Content-Disposition", disposition);
  return http_queue(r, 200, resp);
}

enum MHD_Result route_batch_status(request *r, const char *rest) {
  char id[40];
  const char *slash = strchr(rest, '/');
  int want_zip = slash && !strcmp(slash, "/results.zip");
  if (slash && !want_zip) return http_error(r, ORF_SRV_ENOTFOUND, "no such endpoint", NULL);
  snprintf(id, sizeof id, "%.*s", slash ? (int)(slash - rest) < 39 ? (int)(slash - rest) : 39 : 39, rest);
  enum MHD_Result ret;
  http_batch *b = find_batch(r, id, &ret);
  if (!b) return ret;
  json_t *items = json_array();
  size_t complete = 0, failed = 0, pending = 0;
  for (size_t i = 0; i < b->n; i++) {
    json_t *it = item_json(r->srv, b, i);
    const char *st = json_string_value(json_object_get(it, "status"));
    if (!strcmp(st, "complete"))
      complete++;
    else if (!strcmp(st, "queued") || !strcmp(st, "running") || !strcmp(st, "waiting"))
      pending++;
    else
      failed++;
    json_array_append_new(items, it);
  }
  if (want_zip) {
    ret = answer_zip(r, b, items, pending > 0);
    json_decref(items);
    free(b);
    return ret;
  }
  json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "batch_id", b->id, "status",
                        pending ? "running" : "complete", "format", orf_format_ext(b->format), "count",
                        (json_int_t)b->n, "complete", (json_int_t)complete, "failed", (json_int_t)failed,
                        "pending", (json_int_t)pending, "jobs", items);
  if (!pending && complete) {
    char url[80];
    snprintf(url, sizeof url, "/api/v1/batch/%s/results.zip", b->id);
    json_object_set_new(j, "zip_url", json_string(url));
  }
  free(b);
  return http_json(r, 200, j);
}

int http_batches_start(server *srv) {
  return http_batches_create(&srv->batches, BATCH_KEEP, 3600.0, BATCH_HELD_MAX);
}
