/*
 * stub_hunyuan.c - a Hunyuan3D-2 API server stand-in (contract in
 * stub_hunyuan.h).  A uid is "stub-<ms>", the monotonic milliseconds of
 * its /send, so no state is kept per job: its status follows from the
 * mode and the time since then.
 */
#include "stub_hunyuan.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meshgen.h"
#include "orfeas.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The test meshes, in millimetres: the GLB writer puts them in metres. */
static int make_mesh(stub_mesh kind, orf_mesh *out) {
  orf_mesh a = {0}, b = {0};
  if (mg_icosphere(&a, 3, 30.0f)) return -1;
  if (kind == STUB_MESH_FLIPPED) {
    for (size_t f = 0; f < a.face_count; f += 10) { /* a tenth of the faces wound the other way */
      uint32_t t = a.indices[3 * f + 1];
      a.indices[3 * f + 1] = a.indices[3 * f + 2];
      a.indices[3 * f + 2] = t;
    }
    *out = a;
    return 0;
  }
  a.face_count -= 6; /* a hole: the last faces dropped */
  int rc = mg_icosphere(&b, 1, 2.0f);
  for (size_t v = 0; !rc && v < b.vertex_count; v++)
    b.positions[3 * v] += 80.0f; /* a floater, far from the body */
  rc = rc ? rc : mg_concat(out, &a, &b);
  orf_mesh_free(&a);
  orf_mesh_free(&b);
  return rc;
}

typedef struct conn {
  char *body;
  size_t len;
} conn;

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type, const void *data,
                              size_t len) {
  struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(r, "Content-Type", type);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result answer_json(struct MHD_Connection *c, unsigned status, json_t *j) {
  char *text = json_dumps(j, JSON_COMPACT);
  json_decref(j);
  enum MHD_Result ret = answer(c, status, "application/json", text, strlen(text));
  free(text);
  return ret;
}

static enum MHD_Result refuse(struct MHD_Connection *c, const char *text) {
  return answer_json(c, 404, json_pack("{s:s, s:i}", "text", text, "error_code", 1));
}

/* The base64 of the model this mode sends. */
static char *model_base64(stub_hunyuan *s) {
  static const char not_glb[] = "ply\nformat ascii 1.0\nelement vertex 0\nend_header\n";
  const uint8_t *d = s->mode == STUB_NOT_GLB ? (const uint8_t *)not_glb : s->glb;
  size_t n = s->mode == STUB_NOT_GLB ? sizeof not_glb - 1 : s->glb_size;
  char *b64 = malloc(4 * ((n + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)b64, d, (int)n);
  if (s->mode == STUB_TRUNCATED) b64[strlen(b64) / 2 + 1] = 0; /* cut, and not a multiple of 4 */
  return b64;
}

/* 2.1's ranges: the name of the first value out of them, or NULL. */
static const char *out_of_range(json_t *req) {
  static const struct {
    const char *key;
    double lo, hi;
  } r[] = {{"octree_resolution", 64, 512},
           {"num_inference_steps", 1, 20},
           {"guidance_scale", 0.1, 20},
           {"face_count", 1000, 100000}};
  for (size_t i = 0; i < sizeof r / sizeof *r; i++) {
    json_t *v = json_object_get(req, r[i].key);
    if (v && (!json_is_number(v) || json_number_value(v) < r[i].lo || json_number_value(v) > r[i].hi))
      return r[i].key;
  }
  return NULL;
}

/* Notes what /send or /generate was sent; 0, or the refusal queued. */
static int take_request(stub_hunyuan *s, struct MHD_Connection *c, conn *k, enum MHD_Result *ret) {
  json_t *req = json_loadb(k->body ? k->body : "", k->len, 0, NULL);
  const char *b64 = json_string_value(json_object_get(req, "image"));
  if (!b64) {
    json_decref(req);
    *ret = refuse(c, "no image");
    return -1;
  }
  size_t n = strlen(b64);
  uint8_t *png = malloc(n + 4);
  int len = EVP_DecodeBlock(png, (const unsigned char *)b64, (int)n);
  atomic_store(&s->png_color_type, len > 25 && !memcmp(png, "\x89PNG", 4) ? png[25] : -1);
  free(png);
  json_t *seed = json_object_get(req, "seed"), *steps = json_object_get(req, "num_inference_steps");
  atomic_store(&s->seed, seed ? json_integer_value(seed) : -1);
  atomic_store(&s->steps, steps ? (int)json_integer_value(steps) : -1);
  atomic_store(&s->octree, (int)json_integer_value(json_object_get(req, "octree_resolution")));
  atomic_store(&s->face_count, (int)json_integer_value(json_object_get(req, "face_count")));
  const char *bad = s->version == 21 ? out_of_range(req) : NULL;
  json_decref(req);
  if (bad) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s is out of its range", bad);
    *ret = answer_json(c, 422, json_pack("{s:s}", "detail", msg));
    return -1;
  }
  if (s->mode == STUB_ERROR404) {
    *ret = refuse(c, "**NETWORK ERROR DUE TO HIGH TRAFFIC. PLEASE REGENERATE OR REFRESH THIS PAGE.**");
    return -1;
  }
  return 0;
}

static enum MHD_Result status(stub_hunyuan *s, struct MHD_Connection *c, const char *uid) {
  atomic_fetch_add(&s->statuses, 1);
  long long ms;
  if (sscanf(uid, "stub-%lld", &ms) != 1)
    return answer_json(c, 200, json_pack("{s:s}", "status", "processing"));
  double age = now_s() - (double)ms / 1000.0;
  if (s->mode == STUB_STUCK || age < s->delay_s)
    return answer_json(c, 200, json_pack("{s:s}", "status", "processing"));
  if (s->mode == STUB_STATUS_ERROR)
    return answer_json(c, 200, json_pack("{s:s, s:s}", "status", "error", "message", "CUDA out of memory"));
  char *b64 = model_base64(s);
  atomic_fetch_sub(&s->open, 1);
  enum MHD_Result ret =
      answer_json(c, 200,
                  json_pack("{s:s, s:s}", "status", "completed",
                            s->version == 21 ? "initial_model_base64" : "model_base64", b64));
  free(b64);
  return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **con_cls) {
  (void)version;
  stub_hunyuan *s = cls;
  conn *k = *con_cls;
  if (!k) {
    *con_cls = calloc(1, sizeof(conn));
    return MHD_YES;
  }
  if (*size) {
    if (k->len + *size < ((size_t)64 << 20)) {
      k->body = realloc(k->body, k->len + *size + 1);
      memcpy(k->body + k->len, data, *size);
      k->len += *size;
      k->body[k->len] = 0;
    }
    *size = 0;
    return MHD_YES;
  }
  enum MHD_Result ret;
  if (!strcmp(method, "GET") && !strcmp(url, "/health")) {
    atomic_fetch_add(&s->healths, 1);
    if (s->version == 21)
      return answer_json(c, 200, json_pack("{s:s, s:s}", "status", "healthy", "worker_id", "stub"));
    return answer_json(c, 404, json_pack("{s:s}", "detail", "Not Found"));
  }
  if (!strcmp(method, "GET") && !strncmp(url, "/status/", 8)) return status(s, c, url + 8);
  if (!strcmp(method, "POST") && !strcmp(url, "/send")) {
    atomic_fetch_add(&s->sends, 1);
    if (take_request(s, c, k, &ret)) return ret;
    char uid[48];
    snprintf(uid, sizeof uid, "stub-%lld", (long long)(now_s() * 1000.0));
    int open = atomic_fetch_add(&s->open, 1) + 1, max = atomic_load(&s->max_open);
    while (open > max && !atomic_compare_exchange_weak(&s->max_open, &max, open)) {
    }
    return answer_json(c, 200, json_pack("{s:s}", "uid", uid));
  }
  if (!strcmp(method, "POST") && !strcmp(url, "/generate")) {
    if (take_request(s, c, k, &ret)) return ret;
    if (s->mode == STUB_NOT_GLB) return answer(c, 200, "model/gltf-binary", "not a model", 11);
    return answer(c, 200, "application/octet-stream", s->glb, s->glb_size);
  }
  return answer_json(c, 404, json_pack("{s:s}", "detail", "Not Found"));
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t) {
  (void)cls, (void)c, (void)t;
  conn *k = *con_cls;
  if (k) free(k->body);
  free(k);
  *con_cls = NULL;
}

int stub_hunyuan_start(stub_hunyuan *s, int version, stub_mode mode, stub_mesh mesh, double delay_s) {
  memset(s, 0, sizeof *s);
  s->version = version;
  s->mode = mode;
  s->delay_s = delay_s;
  atomic_store(&s->seed, -1);
  atomic_store(&s->steps, -1);
  orf_mesh m = {0};
  if (make_mesh(mesh, &m)) return -1;
  int rc = orf_export(&m, ORF_FMT_GLB, &s->glb, &s->glb_size);
  orf_mesh_free(&m);
  if (rc) return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                               on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                               MHD_OPTION_NOTIFY_COMPLETED, on_done, s, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                               MHD_OPTION_END);
  if (!s->daemon) return -1;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : 0;
  return s->port ? 0 : -1;
}

void stub_hunyuan_stop(stub_hunyuan *s) {
  if (s->daemon) MHD_stop_daemon(s->daemon);
  s->daemon = NULL;
  orf_buffer_free(s->glb);
  s->glb = NULL;
}
