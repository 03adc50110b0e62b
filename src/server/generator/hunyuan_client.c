/*
 * hunyuan_client.c - the Hunyuan3D-2 API server's contract, client side
 * (contract in hunyuan_client.h), with libcurl's easy interface: one
 * handle per request, no signals (CURLOPT_NOSIGNAL: worker threads), each
 * bounded by what is left of the deadline, answers bounded in size.
 */
#include "hunyuan_client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orfeas.h"
#include "util.h"

#define MAX_ANSWER ((size_t)512 << 20) /* a model of 384 MiB in base64 */

typedef struct answer {
  char *data;
  size_t len, cap;
  int too_big;
} answer;

static size_t on_data(char *p, size_t size, size_t n, void *user) {
  answer *a = user;
  size_t k = size * n;
  if (a->len + k > MAX_ANSWER) {
    a->too_big = 1;
    return 0;
  }
  if (a->len + k + 1 > a->cap) {
    size_t cap = a->cap ? a->cap : 4096;
    while (cap < a->len + k + 1)
      cap *= 2;
    char *d = realloc(a->data, cap);
    if (!d) return 0;
    a->data = d;
    a->cap = cap;
  }
  memcpy(a->data + a->len, p, k);
  a->len += k;
  a->data[a->len] = 0;
  return k;
}

/* One request (body NULL: GET) within timeout_s: 0 with *status and the
 * answer, or -1 with the reason in msg (transport). */
static int call(const char *base, const char *path, const char *body, double timeout_s, long *status,
                answer *a, char *msg, size_t msg_size) {
  char url[1200];
  snprintf(url, sizeof url, "%s%s", base, path);
  CURL *h = curl_easy_init();
  if (!h) {
    snprintf(msg, msg_size, "out of memory for the HTTP client");
    return -1;
  }
  struct curl_slist *hl = body ? curl_slist_append(NULL, "Content-Type: application/json") : NULL;
  long ms = timeout_s < 0.05 ? 50 : (long)(timeout_s * 1000);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms < 10000 ? ms : 10000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  if (body) {
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
  }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
  curl_slist_free_all(hl);
  curl_easy_cleanup(h);
  if (rc == CURLE_OK) return 0;
  if (a->too_big)
    snprintf(msg, msg_size, "it sent an answer larger than %zu MiB", MAX_ANSWER >> 20);
  else if (rc == CURLE_OPERATION_TIMEDOUT)
    snprintf(msg, msg_size, "it did not answer %s within %.0f s", path, timeout_s);
  else
    snprintf(msg, msg_size, "it could not be reached (%s)", curl_easy_strerror(rc));
  return -1;
}

int orf_hy_probe(const char *base_url, double timeout_s, char *msg, size_t msg_size) {
  answer a = {0};
  long status = 0;
  int rc = call(base_url, "/health", NULL, timeout_s, &status, &a, msg, msg_size);
  free(a.data);
  if (rc) return 0;
  return status == 200 ? 21 : 20;
}

/* The error an answer of HTTP `status` says, in msg: the 2.0 server's
 * {"text"}, FastAPI's {"detail"}, or the status. */
static void refusal(const answer *a, long status, const char *what, char *msg, size_t msg_size) {
  json_t *j = a->data ? json_loadb(a->data, a->len, 0, NULL) : NULL;
  const char *text = json_string_value(json_object_get(j, "text"));
  json_t *detail = json_object_get(j, "detail");
  char *dumped = !text && detail ? json_dumps(detail, JSON_COMPACT) : NULL;
  if (!text) text = json_string_value(detail) ? json_string_value(detail) : dumped;
  if (text)
    snprintf(msg, msg_size, "it refused %s (HTTP %ld): %.300s", what, status, text);
  else
    snprintf(msg, msg_size, "it answered %s with HTTP %ld", what, status);
  free(dumped);
  json_decref(j);
}

/* The model of a completed status: base64 decoded and checked as a GLB. */
static int take_model(const char *b64, uint8_t **glb, size_t *glb_size, char *msg, size_t msg_size) {
  size_t n = strlen(b64);
  if (n == 0 || n % 4) {
    snprintf(msg, msg_size, "it sent a model that is not valid base64 (%zu characters: truncated?)", n);
    return ORF_SRV_EGENERATOR;
  }
  uint8_t *out = malloc(n / 4 * 3 + 1);
  if (!out) return ORF_ENOMEM;
  int len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
  if (len >= 0) len -= (b64[n - 1] == '=') + (b64[n - 2] == '=');
  if (len < 0) {
    free(out);
    snprintf(msg, msg_size, "it sent a model that is not valid base64");
    return ORF_SRV_EGENERATOR;
  }
  uint32_t version = 0, length = 0;
  if (len >= 12) {
    memcpy(&version, out + 4, 4);
    memcpy(&length, out + 8, 4);
  }
  if (len < 12 || memcmp(out, "glTF", 4)) {
    free(out);
    snprintf(msg, msg_size, "it sent a model that is not a GLB (no glTF binary header)");
    return ORF_SRV_EGENERATOR;
  }
  if (version != 2 || length != (uint32_t)len) {
    free(out);
    snprintf(msg, msg_size, "it sent a truncated or damaged GLB (%d bytes, its header says %u, version %u)",
             len, length, version);
    return ORF_SRV_EGENERATOR;
  }
  *glb = out;
  *glb_size = (size_t)len;
  return ORF_OK;
}

/* The /send body: the image as plain base64 and the model's values. */
static char *send_body(const orf_hy_request *rq) {
  char *b64 = malloc(4 * ((rq->png_size + 2) / 3) + 1);
  if (!b64) return NULL;
  EVP_EncodeBlock((unsigned char *)b64, rq->png, (int)rq->png_size);
  json_t *j = json_pack("{s:s, s:i, s:i, s:f, s:b, s:s}", "image", b64, "octree_resolution", rq->octree,
                        "face_count", rq->face_count, "guidance_scale", 5.0, "texture", 0, "type", "glb");
  free(b64);
  if (j && rq->seed >= 0) json_object_set_new(j, "seed", json_integer(rq->seed));
  if (j && rq->steps > 0) json_object_set_new(j, "num_inference_steps", json_integer(rq->steps));
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  return text;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

int orf_hy_generate(const char *base_url, const orf_hy_request *rq, double timeout_s, double poll_s,
                    orf_hy_tick_fn tick, void *ctx, uint8_t **glb, size_t *glb_size, char *msg,
                    size_t msg_size) {
  *glb = NULL;
  *glb_size = 0;
  double t0 = orf_now_mono();
  char *body = send_body(rq);
  if (!body) return ORF_ENOMEM;
  answer a = {0};
  long status = 0;
  int rc = call(base_url, "/send", body, timeout_s, &status, &a, msg, msg_size);
  free(body);
  json_t *j = rc == 0 && status == 200 ? json_loadb(a.data ? a.data : "", a.len, 0, NULL) : NULL;
  const char *uid = json_string_value(json_object_get(j, "uid"));
  if (rc == 0 && status != 200) refusal(&a, status, "the request", msg, msg_size);
  if (rc == 0 && status == 200 && !uid) snprintf(msg, msg_size, "it answered /send without a uid");
  free(a.data);
  if (!uid) {
    json_decref(j);
    return ORF_SRV_EGENERATOR;
  }
  char path[300];
  snprintf(path, sizeof path, "/status/%.200s", uid);
  json_decref(j);
  const char *last = "sent";
  int result = ORF_SRV_EGENERATOR;
  for (;;) {
    double elapsed = orf_now_mono() - t0;
    if (tick && tick(ctx, elapsed)) {
      result = ORF_ECANCELED;
      break;
    }
    if (elapsed >= timeout_s) {
      snprintf(msg, msg_size, "it did not finish within the %.0f s of --generator-timeout (last status: %s)",
               timeout_s, last);
      break;
    }
    memset(&a, 0, sizeof a);
    if (call(base_url, path, NULL, timeout_s - elapsed, &status, &a, msg, msg_size)) {
      free(a.data);
      break;
    }
    json_t *st = status == 200 ? json_loadb(a.data ? a.data : "", a.len, 0, NULL) : NULL;
    const char *s = json_string_value(json_object_get(st, "status"));
    if (status != 200) {
      refusal(&a, status, "the status request", msg, msg_size);
    } else if (!s) {
      snprintf(msg, msg_size, "it answered /status with something that is not its status JSON");
    } else if (!strcmp(s, "completed")) {
      const char *b64 = json_string_value(json_object_get(st, "model_base64"));
      if (!b64) b64 = json_string_value(json_object_get(st, "initial_model_base64"));
      if (b64)
        result = take_model(b64, glb, glb_size, msg, msg_size);
      else
        snprintf(msg, msg_size, "it said completed but sent no model_base64");
    } else if (!strcmp(s, "error")) {
      const char *m = json_string_value(json_object_get(st, "message"));
      snprintf(msg, msg_size, "it reported an error: %.300s", m ? m : "(no message)");
    } else if (!strcmp(s, "processing") || !strcmp(s, "texturing")) {
      last = !strcmp(s, "processing") ? "processing" : "texturing";
      json_decref(st);
      free(a.data);
      sleep_s(poll_s);
      continue;
    } else {
      snprintf(msg, msg_size, "it answered an unknown status \"%.40s\"", s);
    }
    json_decref(st);
    free(a.data);
    break;
  }
  return result;
}
