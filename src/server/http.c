/*
 * http.c - the HTTP layer's core: the access handler libmicrohttpd calls
 * for every request (routing, streaming the body in with its size limit
 * enforced while reading), the completion callback (access log, metrics,
 * cleanup), and the helpers every route builds its response with.
 *
 * Bodies: multipart/form-data goes through libmicrohttpd's post processor
 * (the `image` field collected, other fields kept as parameters); a body
 * of type image/png, image/jpeg or image/webp is the image itself, with
 * parameters in the query string.  Past max_upload_bytes the rest of the
 * body is read and dropped, and the request gets 413 once it is in; a body
 * declared (Content-Length) or sent (chunked) beyond DRAIN_MAX more is not
 * read on: 413 at once, or the connection closed.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"
#include "log.h"
#include "srv_error.h"

/* Past the upload limit, this much more is read and dropped, so that a
 * client whose body is a little too large still gets its 413; past that
 * the connection is closed, so no body is read for ever. */
#define DRAIN_MAX ((size_t)4 << 20)

const char *const kStageNames[ORF_STAGE_COUNT] = {"voxel_preview", "rough_mesh", "refined_mesh",
                                                  "final_optimized"};

double http_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- responses ---------------------------------------------------------- */

enum MHD_Result http_queue(request *r, unsigned status, struct MHD_Response *resp) {
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "X-Request-Id", r->id);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
  http_cors_headers(r, resp);
  MHD_add_response_header(
      resp, "Content-Security-Policy",
      "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; script-src 'self'; "
      "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
  r->status = (int)status;
  enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

struct MHD_Response *http_json_response(request *r, json_t *j) {
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text) return NULL;
  size_t len = strlen(text);
  /* one trailing newline makes the body friendlier to curl and shells */
  char *body = realloc(text, len + 2);
  if (!body) {
    free(text);
    return NULL;
  }
  body[len] = '\n';
  body[len + 1] = 0;
  r->bytes = len + 1;
  struct MHD_Response *resp = MHD_create_response_from_buffer(len + 1, body, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(body);
    return NULL;
  }
  MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  return resp;
}

enum MHD_Result http_json(request *r, unsigned status, json_t *j) {
  return http_queue(r, status, http_json_response(r, j));
}

enum MHD_Result http_error(request *r, int err, const char *message, const char *param) {
  const char *code;
  unsigned status = http_status_of(err, &code);
  return http_error_code(r, status, code, message ? message : orf_strerror(err), param);
}

enum MHD_Result http_error_code(request *r, unsigned status, const char *code, const char *message,
                                const char *param) {
  json_t *j = json_pack("{s:s, s:s}", "error", message, "code", code);
  if (param) json_object_set_new(j, "param", json_string(param));
  if (status == 429) {
    int retry = orf_jobs_retry_after(r->srv->jobs);
    json_object_set_new(j, "retry_after_s", json_integer(retry));
    struct MHD_Response *resp = http_json_response(r, j);
    char text[16];
    snprintf(text, sizeof text, "%d", retry);
    if (resp) MHD_add_response_header(resp, "Retry-After", text);
    return http_queue(r, status, resp);
  }
  return http_json(r, status, j);
}

/* ---- parameters and hashing --------------------------------------------- */

typedef struct param_walk {
  request *r;
  orf_params *p;
  const char *bad_name;
  char err[256];
  int rc;
} param_walk;

static int apply_param(param_walk *w, const char *key, const char *value) {
  if (!value) value = "";
  if (!strcmp(key, "download")) {
    w->r->download = !strcmp(value, "1") || !strcmp(value, "true");
    return 0;
  }
  if (!strcmp(key, "precision")) { /* a server parameter, not a geometry one */
    static const char *const ok[] = {"auto", "fp32", "fp16", "int8"};
    for (int i = 0; i < 4; i++)
      if (!strcmp(value, ok[i])) {
        snprintf(w->r->precision, sizeof w->r->precision, "%s", value);
        return 0;
      }
    snprintf(w->err, sizeof w->err, "precision must be auto, fp32, fp16 or int8 (got \"%.40s\")", value);
    w->rc = ORF_EINVAL;
    w->bad_name = key;
    return -1;
  }
  int rc = orf_params_set(w->p, key, value, w->err, sizeof w->err);
  if (rc) {
    w->rc = rc;
    w->bad_name = key;
    return -1;
  }
  return 0;
}

static enum MHD_Result query_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  param_walk *w = cls;
  return apply_param(w, key, value) ? MHD_NO : MHD_YES;
}

int http_parse_params(request *r, orf_params *p, enum MHD_Result *ret) {
  orf_params_init(p);
  param_walk w = {r, p, NULL, "", 0};
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_param, &w);
  for (int i = 0; !w.bad_name && i < r->nfields; i++)
    apply_param(&w, r->keys[i], r->vals[i]);
  if (w.bad_name) {
    char name[64];
    snprintf(name, sizeof name, "%s", w.bad_name);
    *ret = http_error(r, ORF_EINVAL, w.err, name);
    return -1;
  }
  if (orf_params_validate(p, w.err, sizeof w.err)) {
    /* the sentence begins with the parameter it is about (orfeas.h) */
    char param[32];
    snprintf(param, sizeof param, "%.*s", (int)strcspn(w.err, " "), w.err);
    *ret = http_error(r, ORF_EINVAL, w.err, param);
    return -1;
  }
  return 0;
}

int http_request_hash(const uint8_t *image, size_t size, const orf_params *p, orf_precision prec,
                      char out[65]) {
  char canon[1024];
  size_t n = orf_params_canonical(p, canon, sizeof canon - 32);
  if (n >= sizeof canon - 32) n = sizeof canon - 33;
  if (prec != ORF_PRECISION_FP32)
    n += (size_t)snprintf(canon + n, 32, "&precision=%s", orf_precision_name(prec));
  unsigned char md[32];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, canon, n) &&
           EVP_DigestUpdate(ctx, "\n", 1) && EVP_DigestUpdate(ctx, image, size) &&
           EVP_DigestFinal_ex(ctx, md, NULL);
  EVP_MD_CTX_free(ctx);
  if (!ok) return ORF_ENOMEM; /* libcrypto out of memory: no hash, and none may be guessed */
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return ORF_OK;
}

orf_precision http_recommended_precision(server *srv) {
  double in_use, budget;
  orf_jobs_budget(srv->jobs, &in_use, &budget);
  double free_gb = (budget - in_use) / ORF_GIB;
  return free_gb > srv->cfg.precision_fp32_gb   ? ORF_PRECISION_FP32
         : free_gb > srv->cfg.precision_fp16_gb ? ORF_PRECISION_FP16
                                                : ORF_PRECISION_INT8;
}

orf_precision http_precision_of(server *srv, const char *name) {
  orf_precision prec;
  return orf_precision_from_name(name, &prec) ? http_recommended_precision(srv) /* auto */ : prec;
}

orf_precision http_job_precision(request *r, const orf_params *p) {
  if (r->srv->engine_device != ORF_DEVICE_CUDA || p->mode != ORF_MODE_INFLATE) return ORF_PRECISION_FP32;
  return http_precision_of(r->srv, r->precision[0] ? r->precision : r->srv->cfg.precision);
}

/* ---- uploads ------------------------------------------------------------ */

static int body_append(request *r, const char *data, size_t size) {
  if (r->too_large || size == 0) return 0;
  if (r->body_len + size > r->srv->cfg.max_upload_bytes) {
    r->too_large = 1;
    free(r->body);
    r->body = NULL;
    r->body_len = r->body_cap = 0;
    return 0;
  }
  if (r->body_len + size > r->body_cap) {
    size_t cap = r->body_cap ? r->body_cap : 65536;
    while (cap < r->body_len + size)
      cap *= 2;
    uint8_t *p = realloc(r->body, cap);
    if (!p) return -1;
    r->body = p;
    r->body_cap = cap;
  }
  memcpy(r->body + r->body_len, data, size);
  r->body_len += size;
  return 0;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                  const char *content_type, const char *transfer_encoding, const char *data,
                                  uint64_t off, size_t size) {
  (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
  request *r = cls;
  if (!strcmp(key, "image")) {
    r->has_image_field = 1;
    return body_append(r, data, size) ? MHD_NO : MHD_YES;
  }
  /* a parameter: values may arrive in pieces */
  int i;
  for (i = 0; i < r->nfields; i++)
    if (!strcmp(r->keys[i], key)) break;
  if (i == r->nfields) {
    if (r->nfields == MAX_FORM_FIELDS || strlen(key) > 64) {
      r->bad_form = 1;
      return MHD_YES;
    }
    r->keys[i] = strdup(key);
    r->vals[i] = calloc(1, 1);
    if (!r->keys[i] || !r->vals[i]) return MHD_NO;
    r->nfields++;
  }
  size_t have = strlen(r->vals[i]);
  if (off != have || have + size > MAX_FIELD_BYTES) {
    r->bad_form = 1;
    return MHD_YES;
  }
  char *v = realloc(r->vals[i], have + size + 1);
  if (!v) return MHD_NO;
  memcpy(v + have, data, size);
  v[have + size] = 0;
  r->vals[i] = v;
  return MHD_YES;
}

/* ---- routing ------------------------------------------------------------ */

static orf_route route_of(const char *method, const char *url) {
  if (!strcmp(url, "/health")) return ORF_ROUTE_HEALTH;
  if (!strcmp(url, "/ready")) return ORF_ROUTE_READY;
  if (!strcmp(url, "/metrics")) return ORF_ROUTE_METRICS;
  if (!strcmp(url, "/api/v1/generate")) return ORF_ROUTE_GENERATE;
  if (!strcmp(url, "/api/v1/generate-progressive")) return ORF_ROUTE_PROGRESSIVE;
  if (!strcmp(url, "/api/v1/jobs")) return ORF_ROUTE_JOBS;
  if (!strncmp(url, "/api/v1/jobs/", 13)) {
    const char *e = strstr(url + 13, "/events");
    return e && !strcmp(e, "/events") ? ORF_ROUTE_JOB_EVENTS : ORF_ROUTE_JOB_STATUS;
  }
  if (!strncmp(url, "/api/v1/results/", 16)) return ORF_ROUTE_RESULTS;
  if (!strcmp(url, "/api/v1/gpu/stats")) return ORF_ROUTE_GPU_STATS;
  if (!strcmp(url, "/api/v1/cache/stats")) return ORF_ROUTE_CACHE_STATS;
  if (!strcmp(url, "/api/v1/cache/clear")) return ORF_ROUTE_CACHE_CLEAR;
  if (!strcmp(url, "/api/v1/params")) return ORF_ROUTE_PARAMS;
  if (!strcmp(url, "/api/v1/mask")) return ORF_ROUTE_MASK;
  if (!strncmp(url, "/static/", 8)) return ORF_ROUTE_STATIC;
  if (!strcmp(url, "/") || !strcmp(url, "/index.html")) return ORF_ROUTE_STATIC;
  (void)method;
  return ORF_ROUTE_OTHER;
}

static int takes_body(orf_route route) {
  return route == ORF_ROUTE_GENERATE || route == ORF_ROUTE_PROGRESSIVE || route == ORF_ROUTE_JOBS ||
         route == ORF_ROUTE_MASK;
}

static enum MHD_Result method_not_allowed(request *r, const char *allow) {
  struct MHD_Response *resp = http_json_response(
      r, json_pack("{s:s, s:s}", "error", "method not allowed here", "code", "method_not_allowed"));
  if (resp) MHD_add_response_header(resp, "Allow", allow);
  return http_queue(r, 405, resp);
}

/* Runs the route once the whole body is in. */
static enum MHD_Result dispatch(request *r, const char *url) {
  const char *m = r->method;
  int get = !strcmp(m, "GET") || !strcmp(m, "HEAD"), post = !strcmp(m, "POST");
  switch (r->route) {
  case ORF_ROUTE_HEALTH: return get ? route_health(r) : method_not_allowed(r, "GET");
  case ORF_ROUTE_READY: return get ? route_ready(r) : method_not_allowed(r, "GET");
  case ORF_ROUTE_METRICS: return get ? route_metrics(r) : method_not_allowed(r, "GET");
  case ORF_ROUTE_GPU_STATS: return get ? route_gpu_stats(r) : method_not_allowed(r, "GET");
  case ORF_ROUTE_CACHE_STATS: return get ? route_cache_stats(r) : method_not_allowed(r, "GET");
  case ORF_ROUTE_CACHE_CLEAR: return post ? route_cache_clear(r) : method_not_allowed(r, "POST");
  case ORF_ROUTE_PARAMS: return get ? route_params(r) : method_not_allowed(r, "GET");
  case ORF_ROUTE_MASK: return post ? route_mask(r) : method_not_allowed(r, "POST");
  case ORF_ROUTE_STATIC: return get ? route_static(r, url) : method_not_allowed(r, "GET");
  case ORF_ROUTE_GENERATE: return post ? route_generate(r, 0) : method_not_allowed(r, "POST");
  case ORF_ROUTE_PROGRESSIVE: return post ? route_generate(r, 1) : method_not_allowed(r, "POST");
  case ORF_ROUTE_JOBS: return post ? route_job_submit(r) : method_not_allowed(r, "POST");
  case ORF_ROUTE_JOB_EVENTS: {
    char id[64];
    const char *s = url + 13, *e = strstr(s, "/events");
    snprintf(id, sizeof id, "%.*s", (int)(e - s) < 63 ? (int)(e - s) : 63, s);
    return get ? route_job_events(r, id) : method_not_allowed(r, "GET");
  }
  case ORF_ROUTE_JOB_STATUS:
    if (get) return route_job_status(r, url + 13);
    if (!strcmp(m, "DELETE")) return route_job_cancel(r, url + 13);
    return method_not_allowed(r, "GET, DELETE");
  case ORF_ROUTE_RESULTS: return get ? route_results(r, url + 16) : method_not_allowed(r, "GET");
  default: return http_error(r, ORF_SRV_ENOTFOUND, "no such endpoint", NULL);
  }
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                const char *version, const char *upload_data, size_t *upload_data_size,
                                void **con_cls) {
  (void)version;
  server *srv = cls;
  request *r = *con_cls;
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    r->srv = srv;
    r->conn = conn;
    r->t0 = http_now();
    orf_request_id(r->id);
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", url);
    r->route = route_of(method, url);
    *con_cls = r;
    int has_body = takes_body(r->route) && !strcmp(method, "POST");
    http_deadline_request(srv, conn, has_body);
    enum MHD_Result ret;
    if (http_guard_admit(r, &ret)) return ret;
    if (has_body) {
      const char *len = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      if (len && strtoull(len, NULL, 10) > srv->cfg.max_upload_bytes + 65536) r->too_large = 1;
      if (len && strtoull(len, NULL, 10) > srv->cfg.max_upload_bytes + 65536 + DRAIN_MAX) {
        /* declared far too large: refused before a byte of it is read */
        char msg[96];
        snprintf(msg, sizeof msg, "the request body is larger than the %zu MB limit",
                 srv->cfg.max_upload_bytes >> 20);
        return http_error_code(r, 413, "too_large", msg, NULL);
      }
      const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
      if (type && !strncasecmp(type, "multipart/form-data", 19))
        r->pp = MHD_create_post_processor(conn, 65536, form_field, r);
      else
        r->raw = 1;
    }
    return MHD_YES;
  }
  if (*upload_data_size) {
    http_deadline_body(srv, conn, *upload_data_size);
    r->received += *upload_data_size;
    if (r->received > srv->cfg.max_upload_bytes + 65536 + DRAIN_MAX) return MHD_NO; /* closes it */
    if (r->pp && !r->too_large) {
      if (MHD_post_process(r->pp, upload_data, *upload_data_size) != MHD_YES) r->bad_form = 1;
    } else if (r->raw && body_append(r, upload_data, *upload_data_size)) {
      return MHD_NO;
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  http_deadline_body_done(srv, conn);
  if (r->job) /* resumed by a job's wake-up: the route decides what now */
    return route_generate(r, 0);
  return dispatch(r, url);
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode toe) {
  (void)toe;
  server *srv = cls;
  http_deadline_next_request(srv, conn);
  request *r = *con_cls;
  if (!r) return;
  double dt = http_now() - r->t0;
  orf_log_access(r->id, r->method, orf_route_name(r->route), r->path, r->status, r->bytes, dt * 1e3);
  orf_metrics_request(srv->metrics, r->route, r->method, r->status, dt);
  if (r->job) {
    if (r->armed) orf_job_unwait(r->job, r);
    orf_job_release(r->job);
  }
  if (r->pp) MHD_destroy_post_processor(r->pp);
  for (int i = 0; i < r->nfields; i++) {
    free(r->keys[i]);
    free(r->vals[i]);
  }
  free(r->body);
  free(r);
  *con_cls = NULL;
}

void http_wake(void *ctx) {
  request *r = ctx;
  r->armed = 0;
  r->woken = 1;
  MHD_resume_connection(r->conn);
}
