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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_int.h"
#include "log.h"

/* Past the upload limit, this much more is read and dropped, so that a
 * client whose body is a little too large still gets its 413; past that
 * the connection is closed, so no body is read for ever. */
#define DRAIN_MAX ((size_t)4 << 20)

#define STR(x) #x
#define XSTR(x) STR(x)
/* a parameter's text holds a NUL: 400 bad_request (local to parsing) */
#define ORF_EBADREQUEST (-1000)

/* ---- responses ---------------------------------------------------------- */

enum MHD_Result http_queue(request *r, unsigned status, struct MHD_Response *resp) {
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "X-Request-Id", r->id);
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
  http_cors_headers(r, resp);
  /* 'wasm-unsafe-eval' lets the studio's own scripts compile WebAssembly
   * (three.js's meshopt and Draco decoders), and nothing else: no eval of
   * text; blob: for what those scripts make themselves: the textures
   * GLTFLoader unpacks (fetched as blobs) and DRACOLoader's worker */
  MHD_add_response_header(resp, "Content-Security-Policy",
                          "default-src 'self'; img-src 'self' blob: data:; connect-src 'self' blob:; "
                          "script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
                          "style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
  r->status = (int)status;
  enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

char *http_json_line(json_t *j, size_t *len) {
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (!text) return NULL;
  size_t n = strlen(text);
  char *line = realloc(text, n + 2);
  if (!line) {
    free(text);
    return NULL;
  }
  line[n] = '\n';
  line[n + 1] = 0;
  if (len) *len = n + 1;
  return line;
}

struct MHD_Response *http_json_response(request *r, json_t *j) {
  size_t len;
  /* one trailing newline makes the body friendlier to curl and shells */
  char *body = http_json_line(j, &len);
  if (!body) return NULL;
  r->bytes = len;
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
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

/* A JSON string of text, which may echo a client's bytes: where they are
 * not valid UTF-8 (jansson refuses them), every byte outside printable
 * ASCII becomes '?', so the answer is still sent (issue 19: fuzz_multipart
 * found a Content-Type of such bytes answered by a dropped connection). */
static json_t *echo_string(const char *text) {
  json_t *s = json_string(text);
  if (s) return s;
  char clean[512];
  size_t n = 0;
  for (; text[n] && n < sizeof clean - 1; n++)
    clean[n] = text[n] >= 0x20 && text[n] < 0x7f ? text[n] : '?';
  clean[n] = '\0';
  return json_string(clean);
}

enum MHD_Result http_error(request *r, int err, const char *message, const char *param) {
  const char *code;
  unsigned status = http_status_of(err, &code);
  if (status >= 500 && status != 501 && status != 502 && status != 503 && status != 507) {
    /* a 500 is a bug: it is logged with the request and the engine's code */
    json_t *f =
        json_pack("{s:s, s:o, s:i, s:s, s:s}", "request_id", r->id, "path", echo_string(r->path), "code_num",
                  err, "code", orf_errname(err), "error", message ? message : http_error_sentence(err));
    orf_log_json("error", "internal_error", f); /* counted: orfeas_http_requests_total{status="500"} */
  }
  return http_error_code(r, status, code, message ? message : http_error_sentence(err), param);
}

enum MHD_Result http_error_code(request *r, unsigned status, const char *code, const char *message,
                                const char *param) {
  json_t *j = json_pack("{s:o, s:s}", "error", echo_string(message), "code", code);
  if (param) json_object_set_new(j, "param", echo_string(param));
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

#define MAX_PARAMS (MAX_FORM_FIELDS + 16)

typedef struct param_walk {
  request *r;
  orf_params *p;
  const char *bad_name;
  char err[256];
  int rc;
  const char *seen[MAX_PARAMS]; /* names applied so far, query and form */
  int nseen;
} param_walk;

static int refuse_param(param_walk *w, const char *key, int rc) {
  w->rc = rc;
  w->bad_name = key;
  return -1;
}

static int apply_param(param_walk *w, const char *key, const char *value) {
  if (!value) value = "";
  /* One rule wherever a parameter comes from: each is given once. */
  for (int i = 0; i < w->nseen; i++)
    if (!strcmp(w->seen[i], key)) {
      snprintf(w->err, sizeof w->err, "%.64s is given more than once: send each parameter once", key);
      return refuse_param(w, key, ORF_EINVAL);
    }
  if (w->nseen == MAX_PARAMS) {
    snprintf(w->err, sizeof w->err, "too many parameters (at most %d)", MAX_PARAMS);
    return refuse_param(w, key, ORF_EINVAL);
  }
  w->seen[w->nseen++] = key;
  if (!strcmp(key, "download")) {
    w->r->download = !strcmp(value, "1") || !strcmp(value, "true");
    return 0;
  }
  int gen = http_generator_param(w->r, key, value, w->err, sizeof w->err);
  if (gen) return gen < 0 ? refuse_param(w, key, ORF_EINVAL) : 0;
  if (!strcmp(key, "precision")) { /* a server parameter, not a geometry one */
    orf_precision prec;
    if (strcmp(value, "auto") && orf_precision_from_name(value, &prec)) {
      snprintf(w->err, sizeof w->err, "precision must be auto, fp32, fp16 or int8 (got \"%.40s\")", value);
      return refuse_param(w, key, ORF_EINVAL);
    }
    snprintf(w->r->precision, sizeof w->r->precision, "%s", value);
    return 0;
  }
  int rc = orf_params_set(w->p, key, value, w->err, sizeof w->err);
  return rc ? refuse_param(w, key, rc) : 0;
}

static enum MHD_Result query_param(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size) {
  (void)kind;
  param_walk *w = cls;
  if (!key) return MHD_YES;
  if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
    snprintf(w->err, sizeof w->err, "parameter \"%.40s\" contains a NUL byte", key);
    refuse_param(w, key, ORF_EBADREQUEST);
    return MHD_NO;
  }
  return apply_param(w, key, value) ? MHD_NO : MHD_YES;
}

int http_parse_params(request *r, orf_params *p, enum MHD_Result *ret) {
  orf_params_init(p);
  param_walk w = {.r = r, .p = p};
  MHD_get_connection_values_n(r->conn, MHD_GET_ARGUMENT_KIND, query_param, &w);
  for (int i = 0; !w.bad_name && i < r->nfields; i++)
    apply_param(&w, r->keys[i], r->vals[i]);
  if (w.bad_name) {
    char name[65];
    snprintf(name, sizeof name, "%s", w.bad_name);
    if (w.rc == ORF_EBADREQUEST)
      *ret = http_error_code(r, 400, "bad_request", w.err, name);
    else
      *ret = http_error(r, w.rc, w.err, name);
    return -1;
  }
  if (orf_params_validate(p, w.err, sizeof w.err)) {
    *ret = http_refuse_rule(r, w.err);
    return -1;
  }
  return 0;
}

enum MHD_Result http_refuse_rule(request *r, const char *sentence) {
  /* the sentence begins with the parameter it is about (orfeas.h), alone
   * or with its value ("texture=on needs ...") */
  char param[32];
  snprintf(param, sizeof param, "%.*s", (int)strcspn(sentence, " ="), sentence);
  return http_error(r, ORF_EINVAL, sentence, param);
}

int http_request_hash(const uint8_t *image, size_t size, const orf_params *p, orf_precision prec,
                      const char *model_id, const char *extra, char out[65]) {
  char canon[1024];
  size_t n = orf_params_canonical(p, canon, sizeof canon - 64);
  if (n >= sizeof canon - 64) n = sizeof canon - 65;
  if (prec != ORF_PRECISION_FP32)
    n += (size_t)snprintf(canon + n, 32, "&precision=%s", orf_precision_name(prec));
  /* the network's model decides the subject wherever it may run */
  if (p->background == ORF_BG_AUTO || p->background == ORF_BG_SUBJECT)
    n += (size_t)snprintf(canon + n, 32, "&segment_model=%.16s", model_id && model_id[0] ? model_id : "none");
  if (extra && extra[0] && n + strlen(extra) < sizeof canon)
    n += (size_t)snprintf(canon + n, sizeof canon - n, "%s", extra);
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

/* Marks the form bad with the sentence the request will get (400, or 422
 * naming param when it is about one parameter); the first reason wins. */
__attribute__((format(printf, 4, 5))) static void form_refuse(request *r, unsigned status, const char *param,
                                                              const char *fmt, ...) {
  if (r->form_error[0]) return;
  r->form_status = status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->form_error, sizeof r->form_error, fmt, ap);
  va_end(ap);
  snprintf(r->form_param, sizeof r->form_param, "%s", param ? param : "");
}

/* libmicrohttpd's post-processor iterator.  Every pointer it hands over
 * may be NULL: a part whose Content-Disposition has no name, an empty
 * name or a header line it could not read comes with key NULL (or "");
 * filename, content_type and transfer_encoding are NULL when absent; data
 * is NULL when size is 0.  A part starts at off 0, its value continuing
 * at off > 0, so a name seen again at off 0 is a second part of that name. */
static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                  const char *content_type, const char *transfer_encoding, const char *data,
                                  uint64_t off, size_t size) {
  (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
  request *r = cls;
  if (r->form_error[0]) return MHD_YES; /* refused: the rest is read and dropped */
  if (!key || !key[0]) {
    form_refuse(r, 400, NULL,
                "a form part has no name: each part needs Content-Disposition: form-data; name=\"...\"");
    return MHD_YES;
  }
  if (size && !data) return MHD_YES;
  /* the file part: `image`, or for the repairing routes `mesh` */
  if (!strcmp(key, "image") || (http_route_repairs(r->route) && !strcmp(key, "mesh"))) {
    if (r->route == ORF_ROUTE_BATCH) { /* several images, each noted where it starts */
      if (off == 0 && http_batch_part(r, filename)) return MHD_NO;
    } else if (off == 0 && r->has_image_field) {
      form_refuse(r, 400, NULL, "one image per request: the form has more than one \"image\" part");
      return MHD_YES;
    }
    r->has_image_field = 1;
    if (off == 0 && filename) snprintf(r->upload_filename, sizeof r->upload_filename, "%s", filename);
    return body_append(r, data, size) ? MHD_NO : MHD_YES;
  }
  /* a parameter: values may arrive in pieces */
  int i;
  for (i = 0; i < r->nfields; i++)
    if (!strcmp(r->keys[i], key)) break;
  if (i < r->nfields && off == 0) {
    form_refuse(r, 422, key, "%.64s is given more than once: send each parameter once", key);
    return MHD_YES;
  }
  if (i == r->nfields) {
    if (strlen(key) > 64) {
      form_refuse(r, 400, NULL, "a form field's name is longer than 64 bytes");
      return MHD_YES;
    }
    if (r->nfields == MAX_FORM_FIELDS) {
      form_refuse(r, 400, NULL, "the form has more than " XSTR(MAX_FORM_FIELDS) " fields");
      return MHD_YES;
    }
    char *k = strdup(key), *v = calloc(1, 1);
    if (!k || !v) {
      free(k);
      free(v);
      return MHD_NO;
    }
    r->keys[i] = k;
    r->vals[i] = v;
    r->vlens[i] = 0;
    r->nfields++;
  }
  size_t have = r->vlens[i];
  if (off != have || have + size > MAX_FIELD_BYTES) {
    form_refuse(r, 400, NULL,
                "form field \"%.64s\" is longer than " XSTR(
                    MAX_FIELD_BYTES) " bytes: only the image part may carry a file",
                key);
    return MHD_YES;
  }
  if (size && memchr(data, 0, size)) {
    form_refuse(r, 400, key, "form field \"%.64s\" contains a NUL byte", key);
    return MHD_YES;
  }
  char *v = realloc(r->vals[i], have + size + 1);
  if (!v) return MHD_NO;
  if (size) memcpy(v + have, data, size);
  v[have + size] = 0;
  r->vals[i] = v;
  r->vlens[i] = have + size;
  return MHD_YES;
}

/* ---- routing ------------------------------------------------------------ */

/* The routes whose path is fixed, and those named by a path's start (none
 * of which is also a fixed path). */
static const struct {
  const char *path;
  orf_route route;
} fixed_routes[] = {{"/health", ORF_ROUTE_HEALTH},
                    {"/ready", ORF_ROUTE_READY},
                    {"/metrics", ORF_ROUTE_METRICS},
                    {"/api/v1/generate", ORF_ROUTE_GENERATE},
                    {"/api/v1/generate-progressive", ORF_ROUTE_PROGRESSIVE},
                    {"/api/v1/jobs", ORF_ROUTE_JOBS},
                    {"/api/v1/gpu/stats", ORF_ROUTE_GPU_STATS},
                    {"/api/v1/cache/stats", ORF_ROUTE_CACHE_STATS},
                    {"/api/v1/cache/clear", ORF_ROUTE_CACHE_CLEAR},
                    {"/api/v1/params", ORF_ROUTE_PARAMS},
                    {"/api/v1/mask", ORF_ROUTE_MASK},
                    {"/api/v1/openapi.json", ORF_ROUTE_OPENAPI},
                    {"/api/v1/repair", ORF_ROUTE_REPAIR},
                    {"/api/v1/repair-progressive", ORF_ROUTE_REPAIR_PROGRESSIVE},
                    {"/api/v1/repair-jobs", ORF_ROUTE_REPAIR_JOBS},
                    {"/api/v1/batch", ORF_ROUTE_BATCH},
                    {"/api/upload-image", ORF_ROUTE_COMPAT_ORFEAS},
                    {"/api/generate-3d", ORF_ROUTE_COMPAT_ORFEAS},
                    {"/generate", ORF_ROUTE_COMPAT_HUNYUAN},
                    {"/send", ORF_ROUTE_COMPAT_HUNYUAN},
                    {"/", ORF_ROUTE_STATIC},
                    {"/index.html", ORF_ROUTE_STATIC}},
  prefix_routes[] = {
      {"/api/v1/results/", ORF_ROUTE_RESULTS},     {"/static/", ORF_ROUTE_STATIC},
      {"/internal/v1/files/", ORF_ROUTE_INTERNAL}, {"/api/v1/batch/", ORF_ROUTE_BATCH_STATUS},
      {"/api/job-status/", ORF_ROUTE_COMPAT_ORFEAS}, {"/api/download/", ORF_ROUTE_COMPAT_ORFEAS},
      {"/api/preview/", ORF_ROUTE_COMPAT_ORFEAS},  {"/status/", ORF_ROUTE_COMPAT_HUNYUAN}};

static orf_route route_of(const char *method, const char *url) {
  (void)method;
  for (size_t i = 0; i < sizeof fixed_routes / sizeof *fixed_routes; i++)
    if (!strcmp(url, fixed_routes[i].path)) return fixed_routes[i].route;
  if (!strncmp(url, "/api/v1/jobs/", 13)) {
    const char *e = strstr(url + 13, "/events");
    return e && !strcmp(e, "/events") ? ORF_ROUTE_JOB_EVENTS : ORF_ROUTE_JOB_STATUS;
  }
  for (size_t i = 0; i < sizeof prefix_routes / sizeof *prefix_routes; i++)
    if (!strncmp(url, prefix_routes[i].path, strlen(prefix_routes[i].path))) return prefix_routes[i].route;
  return ORF_ROUTE_OTHER;
}

static int takes_body(orf_route route) {
  return route == ORF_ROUTE_GENERATE || route == ORF_ROUTE_PROGRESSIVE || route == ORF_ROUTE_JOBS ||
         route == ORF_ROUTE_MASK || route == ORF_ROUTE_BATCH || route == ORF_ROUTE_COMPAT_ORFEAS ||
         route == ORF_ROUTE_COMPAT_HUNYUAN || http_route_repairs(route);
}

static enum MHD_Result method_not_allowed(request *r, const char *allow) {
  struct MHD_Response *resp = http_json_response(
      r, json_pack("{s:s, s:s}", "error", "method not allowed here", "code", "method_not_allowed"));
  if (resp) MHD_add_response_header(resp, "Allow", allow);
  return http_queue(r, 405, resp);
}

enum MHD_Result http_method_not_allowed(request *r, const char *allow) {
  return method_not_allowed(r, allow);
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
  case ORF_ROUTE_OPENAPI: return get ? route_openapi(r) : method_not_allowed(r, "GET");
  case ORF_ROUTE_REPAIR: return post ? route_generate(r, 0) : method_not_allowed(r, "POST");
  case ORF_ROUTE_REPAIR_PROGRESSIVE: return post ? route_generate(r, 1) : method_not_allowed(r, "POST");
  case ORF_ROUTE_REPAIR_JOBS: return post ? route_job_submit(r) : method_not_allowed(r, "POST");
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
  case ORF_ROUTE_INTERNAL: return get ? route_internal_files(r, url + 19) : method_not_allowed(r, "GET");
  case ORF_ROUTE_BATCH: return post ? route_batch_submit(r) : method_not_allowed(r, "POST");
  case ORF_ROUTE_BATCH_STATUS: return get ? route_batch_status(r, url + 14) : method_not_allowed(r, "GET");
  case ORF_ROUTE_COMPAT_ORFEAS: return route_compat_orfeas(r, url);
  case ORF_ROUTE_COMPAT_HUNYUAN: return route_compat_hunyuan(r, url);
  default: return http_error(r, ORF_SRV_ENOTFOUND, "no such endpoint", NULL);
  }
}

/* ---- framing checks ------------------------------------------------------ */

typedef struct header_scan {
  int content_lengths; /* Content-Length headers */
  int lengths_differ;  /* with different values, or one not a plain number */
  const char *first_length;
  const char *transfer_encoding;
  int transfer_encodings;
  int nul;                /* a header's name or value holds a NUL byte */
  const char *head, *end; /* the raw request head, as libmicrohttpd holds it (see below) */
  const char *prev_end;   /* where the previous header's value ends in it */
} header_scan;

/* Whether [from, to) holds only what libmicrohttpd leaves between a
 * header's parts once it has cut them out in place: the NULs it wrote over
 * ':' and line ends, white space and line ends.  Anything else there was
 * cut off from a name or value by a NUL byte of the client's. */
static int only_separators(const char *from, const char *to) {
  for (const char *p = from; p < to; p++)
    if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') return 0;
  return 1;
}

/* libmicrohttpd 0.9.75 reports header values by strlen(), so a raw NUL
 * inside a header line silently cuts the value short ("Bearer <token>\0junk"
 * reads as "Bearer <token>").  Its request head lies in one buffer, parsed
 * in place: the method at its start, each header's name and value in
 * order, separated by the NULs it wrote and white space.  A NUL of the
 * client's shows as other bytes in those gaps.  When the pointers are not
 * laid out that way (another version of the library), the check is
 * skipped rather than reading outside the head. */
static void check_gap(header_scan *h, const char *key, size_t key_size, const char *value) {
  if (!h->head || h->nul) return;
  const char *key_end = key + key_size, *value_end = value + strlen(value);
  if (key < h->head || value_end > h->end || key_end > value || (h->prev_end && h->prev_end > key)) {
    h->head = NULL; /* not the layout this check knows */
    return;
  }
  if ((h->prev_end && !only_separators(h->prev_end, key)) || !only_separators(key_end, value)) h->nul = 1;
  h->prev_end = value_end;
}

static int plain_number(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size) {
  (void)kind;
  header_scan *h = cls;
  if (!key || !value || strlen(key) != key_size || strlen(value) != value_size) {
    h->nul = 1;
    return MHD_YES;
  }
  check_gap(h, key, key_size, value);
  if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
    if (h->content_lengths++ == 0) h->first_length = value;
    if (!plain_number(value) || (h->first_length && strcmp(h->first_length, value))) h->lengths_differ = 1;
  } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
    h->transfer_encodings++;
    h->transfer_encoding = value;
  }
  return MHD_YES;
}

/* An error that also closes the connection: after a request whose framing
 * is in doubt, nothing more on that connection can be trusted to start
 * where the server thinks (RFC 9112 section 6.3, request smuggling). */
static enum MHD_Result refuse_and_close(request *r, unsigned status, const char *code, const char *msg) {
  json_t *j = json_pack("{s:s, s:s}", "error", msg, "code", code);
  struct MHD_Response *resp = http_json_response(r, j);
  if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  return http_queue(r, status, resp);
}

/* The checks every request's head passes before anything else: one
 * framing of its body (RFC 9112 section 6.3: several different
 * Content-Length values, or Transfer-Encoding together with
 * Content-Length, are 400 and the connection is closed; a transfer coding
 * other than chunked is 501 and closed), and no NUL byte in its URL (an
 * escaped %00 anywhere in the path or query) or headers.  Returns 1 when
 * it answered the request. */
static int check_head(request *r, const char *head, int nul_in_url, enum MHD_Result *ret) {
  header_scan h = {.head = head};
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
  if (!ci || !head)
    h.head = NULL;
  else
    h.end = head + ci->header_size;
  MHD_get_connection_values_n(r->conn, MHD_HEADER_KIND, scan_header, &h);
  if (h.head && h.prev_end && !only_separators(h.prev_end, h.end)) h.nul = 1;
  if (h.content_lengths > 1 && h.lengths_differ) {
    *ret = refuse_and_close(r, 400, "bad_request", "the request has conflicting Content-Length headers");
    return 1;
  }
  if (h.content_lengths && !plain_number(h.first_length)) {
    *ret = refuse_and_close(r, 400, "bad_request", "the request's Content-Length is not a number");
    return 1;
  }
  if (h.transfer_encodings && h.content_lengths) {
    *ret = refuse_and_close(r, 400, "bad_request",
                            "the request has both Transfer-Encoding and Content-Length: send one of them");
    return 1;
  }
  if (h.transfer_encodings > 1 || (h.transfer_encoding && strcasecmp(h.transfer_encoding, "chunked"))) {
    *ret = refuse_and_close(r, 501, "not_implemented",
                            "unsupported Transfer-Encoding: the only transfer coding accepted is chunked");
    return 1;
  }
  if (nul_in_url || h.nul) {
    *ret = http_error_code(
        r, 400, "bad_request",
        nul_in_url ? "the URL contains a NUL byte (%00)" : "a request header contains a NUL byte", NULL);
    return 1;
  }
  return 0;
}

/* libmicrohttpd's URI logger sees the request line's target before it is
 * unescaped, the only place an escaped NUL (%00), which would cut the
 * decoded path and parameter strings short, can be told apart.  Its
 * return value becomes the request's context: a marker, never memory, so
 * that a request the library then refuses on its own leaks nothing. */
static char nul_url_marker;

void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
  (void)cls, (void)conn;
  for (const char *p = uri; p && (p = strchr(p, '%')); p++)
    if (p[1] == '0' && p[2] == '0') return &nul_url_marker;
  return NULL;
}

/* ---- requests ------------------------------------------------------------- */

int http_request_begin(request *r, const char *head, int nul_in_url, enum MHD_Result *ret) {
  server *srv = r->srv;
  if (check_head(r, head, nul_in_url, ret)) return 1;
  if (!(takes_body(r->route) && !strcmp(r->method, "POST"))) return 0;
  const char *len = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (len && strtoull(len, NULL, 10) > srv->cfg.max_upload_bytes + 65536) r->too_large = 1;
  if (len && strtoull(len, NULL, 10) > srv->cfg.max_upload_bytes + 65536 + DRAIN_MAX) {
    /* declared far too large: refused before a byte of it is read */
    char msg[96];
    snprintf(msg, sizeof msg, "the request body is larger than the %zu MB limit",
             srv->cfg.max_upload_bytes >> 20);
    *ret = http_error_code(r, 413, "too_large", msg, NULL);
    return 1;
  }
  const char *type = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (type && !strncasecmp(type, "multipart/form-data", 19)) {
    r->pp = MHD_create_post_processor(r->conn, 65536, form_field, r);
    if (!r->pp) { /* no boundary, or out of memory */
      *ret = http_error_code(r, 400, "bad_request", "multipart/form-data without a usable boundary", NULL);
      return 1;
    }
  } else {
    r->raw = 1;
  }
  return 0;
}

int http_request_feed(request *r, const char *data, size_t size) {
  r->received += size;
  if (r->received > r->srv->cfg.max_upload_bytes + 65536 + DRAIN_MAX) return -1;
  if (r->pp && !r->too_large) {
    if (!r->form_error[0] && MHD_post_process(r->pp, data, size) != MHD_YES)
      form_refuse(r, 400, NULL, "the multipart body is malformed");
  } else if (r->raw && body_append(r, data, size)) {
    return -1;
  }
  return 0;
}

void http_request_free(request *r) {
  if (r->pp) MHD_destroy_post_processor(r->pp);
  for (int i = 0; i < r->nfields; i++) {
    free(r->keys[i]);
    free(r->vals[i]);
  }
  http_batch_upload_free(r);
  free(r->body);
  free(r);
}

enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                const char *version, const char *upload_data, size_t *upload_data_size,
                                void **con_cls) {
  (void)version;
  server *srv = cls;
  request *r = *con_cls;
  if (!r || r == (request *)&nul_url_marker) {
    int nul_in_url = r != NULL;
    r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    r->srv = srv;
    r->conn = conn;
    r->t0 = orf_now_mono();
    orf_request_id(r->id);
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", url);
    r->route = route_of(method, url);
    *con_cls = r;
    http_deadline_request(srv, conn, takes_body(r->route) && !strcmp(method, "POST"));
    enum MHD_Result ret;
    if (http_guard_admit(r, &ret)) return ret;
    if (http_request_begin(r, method, nul_in_url, &ret)) return ret;
    return MHD_YES;
  }
  if (*upload_data_size) {
    http_deadline_body(srv, conn, *upload_data_size);
    if (http_request_feed(r, upload_data, *upload_data_size)) return MHD_NO; /* closes it */
    *upload_data_size = 0;
    return MHD_YES;
  }
  http_deadline_body_done(srv, conn);
  if (r->job || r->cwatch) /* resumed by a job's wake-up: the route decides what now */
    return r->route == ORF_ROUTE_COMPAT_HUNYUAN ? route_compat_hunyuan(r, url) : route_generate(r, 0);
  return dispatch(r, url);
}

void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode toe) {
  (void)toe;
  server *srv = cls;
  http_deadline_next_request(srv, conn);
  request *r = *con_cls;
  *con_cls = NULL;
  if (!r || r == (request *)&nul_url_marker) return;
  double dt = orf_now_mono() - r->t0;
  orf_log_access(r->id, r->method, orf_route_name(r->route), r->path, r->status, r->bytes, dt * 1e3);
  orf_metrics_request(srv->metrics, r->route, r->method, r->status, dt);
  if (r->job) {
    if (r->armed) orf_job_unwait(r->job, r);
    orf_job_release(r->job);
  }
  if (r->cwatch) { /* a cluster job followed (routes_cluster.c) */
    if (r->armed) orf_cluster_watch_unwait(r->cwatch, r);
    orf_cluster_watch_release(r->cwatch);
  }
  http_request_free(r);
}

void http_wake(void *ctx) {
  request *r = ctx;
  r->armed = 0;
  r->woken = 1;
  MHD_resume_connection(r->conn);
}
