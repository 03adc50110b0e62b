/*
 * routes_compat_hunyuan.c - the Hunyuan3D-2 API server's contract served
 * by ORFEAS (issue 16), so that clients written for it (its Blender add-on
 * among them) get ORFEAS's engine, with the cache and admission in
 * between, as a thin adapter onto the same generation code:
 *   POST /generate     JSON {image (base64), octree_resolution, face_count,
 *                      type, seed, num_inference_steps, guidance_scale,
 *                      texture}: the model itself, once made
 *   POST /send         the same, answered at once {"uid"}
 *   GET  /status/<uid> {"status":"processing"} until {"status":"completed",
 *                      "model_base64", "initial_model_base64"}, or
 *                      {"status":"error","message"}
 * (GET /health is ORFEAS's own, routes_info.c: 200 while the server runs.)
 * Every image goes through http_submit_image, the code of POST
 * /api/v1/jobs.  Values are checked against the 2.1 server's ranges
 * (octree_resolution 64 to 512, num_inference_steps 1 to 20,
 * guidance_scale 0.1 to 20, face_count 1,000 to 100,000): 422; other
 * errors as that server gives them, HTTP 404 {"text", "error_code": 1}.
 * A uid is the job's id (zeros when the result came from the cache) and
 * the request hash, 96 hex digits: nothing is kept per uid.  An addition:
 * "generator" names a remote generator of this server (--generator) to
 * make the shape instead of the engine, with the request's seed and
 * num_inference_steps passed on.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

/* An error as the Hunyuan3D-2 API server gives it. */
static enum MHD_Result hy_error(request *r, unsigned status, const char *text) {
  return http_json(r, status, json_pack("{s:s, s:i}", "text", text, "error_code", 1));
}

/* The image of the request's "image": plain base64 or a data: URL, white
 * space ignored.  malloc'd (*size bytes), or NULL. */
static uint8_t *decode_image(const char *b64, size_t *size) {
  const char *comma = strncmp(b64, "data:", 5) ? NULL : strchr(b64, ',');
  if (comma) b64 = comma + 1;
  size_t n = strlen(b64);
  char *clean = malloc(n + 4);
  if (!clean) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (b64[i] != ' ' && b64[i] != '\n' && b64[i] != '\r' && b64[i] != '\t') clean[k++] = b64[i];
  while (k % 4) /* missing padding, as some encoders leave it */
    clean[k++] = '=';
  uint8_t *out = k ? malloc(k / 4 * 3 + 1) : NULL;
  int len = out ? EVP_DecodeBlock(out, (const unsigned char *)clean, (int)k) : -1;
  if (len >= 0) {
    for (size_t i = k; i > 0 && clean[i - 1] == '='; i--) /* EVP_DecodeBlock counts the padding */
      len--;
  }
  free(clean);
  if (len <= 0) {
    free(out);
    return NULL;
  }
  *size = (size_t)len;
  return out;
}

/* A number field within [lo, hi] (absent: fine); -1 with the sentence. */
static int check_range(json_t *req, const char *key, double lo, double hi, char *msg, size_t size) {
  json_t *v = json_object_get(req, key);
  if (!v || json_is_null(v)) return 0;
  double x = json_number_value(v);
  if (json_is_number(v) && x >= lo && x <= hi) return 0;
  snprintf(msg, size, "%s must be a number from %g to %g", key, lo, hi);
  return -1;
}

/* The engine's parameters from the request: type -> format (glb by
 * default), octree_resolution -> the lowest quality whose grid is at
 * least that fine, face_count -> max_faces.  The diffusion model's own
 * values (seed, steps, guidance, texture) have no meaning to the geometry
 * engine and are checked but not used.  0, or 422 queued in *ret. */
static int read_params(request *r, json_t *req, orf_params *p, enum MHD_Result *ret) {
  char msg[200];
  orf_params_init(p);
  if (check_range(req, "octree_resolution", 64, 512, msg, sizeof msg) ||
      check_range(req, "num_inference_steps", 1, 20, msg, sizeof msg) ||
      check_range(req, "guidance_scale", 0.1, 20, msg, sizeof msg) ||
      check_range(req, "face_count", 1000, 100000, msg, sizeof msg) ||
      check_range(req, "seed", 0, 4294967295.0, msg, sizeof msg)) {
    *ret = http_json(r, 422, json_pack("{s:s, s:s, s:i}", "detail", msg, "text", msg, "error_code", 1));
    return -1;
  }
  const char *type = json_string_value(json_object_get(req, "type"));
  if (type && orf_params_set(p, "format", type, msg, sizeof msg)) {
    *ret = http_json(r, 422, json_pack("{s:s, s:s, s:i}", "detail", msg, "text", msg, "error_code", 1));
    return -1;
  }
  json_t *oct = json_object_get(req, "octree_resolution");
  if (json_is_number(oct)) {
    int q = 1;
    while (q < 10 && orf_quality_resolution(q) < json_number_value(oct))
      q++;
    p->quality = q;
  }
  /* "generator" (an addition to the contract): a remote generator of this
   * server instead of the engine, given the request's seed and steps */
  const char *gen = json_string_value(json_object_get(req, "generator"));
  if (gen && http_generator_param(r, "generator", gen, msg, sizeof msg) < 0) {
    *ret = http_json(r, 422, json_pack("{s:s, s:s, s:i}", "detail", msg, "text", msg, "error_code", 1));
    return -1;
  }
  json_t *seed = json_object_get(req, "seed"), *steps = json_object_get(req, "num_inference_steps");
  if (r->gen.name[0] && json_is_integer(seed)) r->gen.seed = json_integer_value(seed), r->gen.seed_given = 1;
  if (r->gen.name[0] && json_is_integer(steps))
    r->gen.steps = (int)json_integer_value(steps), r->gen.steps_given = 1;
  json_t *faces = json_object_get(req, "face_count");
  if (json_is_number(faces)) {
    char text[32];
    snprintf(text, sizeof text, "%d", (int)json_number_value(faces));
    orf_params_set(p, "max_faces", text, msg, sizeof msg);
  }
  return 0;
}

/* The request's image submitted (http_submit_image): *job (NULL when the
 * cache answered) and hash; 0, or -1 with the answer queued in *ret. */
static int submit(request *r, orf_job **job, char hash[65], orf_format *format, enum MHD_Result *ret) {
  if (http_refuse_upload(r, ret)) return -1;
  json_t *req = json_loadb((const char *)r->body, r->body_len, 0, NULL);
  const char *b64 = json_string_value(json_object_get(req, "image"));
  if (!json_is_object(req) || !b64) {
    *ret = hy_error(r, 404,
                    json_object_get(req, "text") ? "text prompts are not served here: send an image"
                                                 : "the body must be a JSON object with \"image\" (base64)");
    json_decref(req);
    return -1;
  }
  orf_params p;
  if (read_params(r, req, &p, ret)) {
    json_decref(req);
    return -1;
  }
  size_t size = 0;
  uint8_t *image = decode_image(b64, &size);
  json_decref(req);
  if (!image) {
    *ret = hy_error(r, 404, "\"image\" is not valid base64");
    return -1;
  }
  int coalesced;
  int rc = http_submit_image(r, image, size, &p, hash, job, &coalesced);
  free(image);
  if (rc) {
    *ret = hy_error(r, 404, http_error_sentence(rc));
    return -1;
  }
  *format = p.format;
  return 0;
}

static const char *final_stage(void) {
  return orf_job_stage_name(ORF_JOB_GENERATE, orf_job_stage_count(ORF_JOB_GENERATE) - 1);
}

/* POST /generate: the model itself, waiting for the job (resumed here). */
static enum MHD_Result generate(request *r) {
  enum MHD_Result ret;
  if (!r->job) {
    orf_job *job;
    orf_format f;
    if (submit(r, &job, r->hash, &f, &ret)) return ret;
    r->want = (http_variant){f, ORF_TEXTURE_AUTO, ORF_COMPRESS_NONE}; /* textured where it has one */
    if (!job) return http_serve_mesh(r, r->hash, final_stage(), &r->want);
    r->job = job;
    return http_wait_job(r, 0);
  }
  orf_job_state st;
  orf_job_get_state(r->job, &st);
  if (st.status == ORF_JOB_COMPLETE) return http_serve_mesh(r, r->hash, final_stage(), &r->want);
  if (st.status < ORF_JOB_COMPLETE) return http_wait_job(r, st.events);
  http_job_view v;
  http_job_view_get(r->srv, orf_job_id(r->job), r->hash, &v);
  return hy_error(r, 404, v.error[0] ? v.error : "the generation failed");
}

/* POST /send: {"uid"} at once. */
static enum MHD_Result send_job(request *r) {
  enum MHD_Result ret;
  orf_job *job;
  char hash[65];
  orf_format f;
  if (submit(r, &job, hash, &f, &ret)) return ret;
  char uid[100];
  snprintf(uid, sizeof uid, "%s%s", job ? orf_job_id(job) : "00000000000000000000000000000000", hash);
  if (job) orf_job_release(job); /* kept by the manager */
  return http_json(r, 200, json_pack("{s:s}", "uid", uid));
}

/* The GLB of hash's final stage as base64 (malloc'd), or NULL. */
static char *glb_base64(server *srv, const char *hash) {
  http_variant v = {ORF_FMT_GLB, ORF_TEXTURE_AUTO, ORF_COMPRESS_NONE}; /* textured where the result has one */
  http_mesh_file file;
  orf_blob *b;
  if (http_mesh_convert(srv, hash, final_stage(), &v, &file) || orf_cache_get(srv->cache, hash, file.name, 0, &b))
    return NULL;
  char *out = malloc(4 * ((b->size + 2) / 3) + 1);
  if (out) EVP_EncodeBlock((unsigned char *)out, b->data, (int)b->size);
  orf_blob_release(b);
  return out;
}

/* GET /status/<uid>. */
static enum MHD_Result status(request *r, const char *uid) {
  char job_id[33], hash[65];
  if (strlen(uid) != 96) return hy_error(r, 404, "no such uid");
  memcpy(job_id, uid, 32);
  job_id[32] = 0;
  memcpy(hash, uid + 32, 65);
  if (!orf_is_hex(job_id, 32) || !orf_is_hex(hash, 64)) return hy_error(r, 404, "no such uid");
  http_job_view v;
  http_job_view_get(r->srv, strcmp(job_id, "00000000000000000000000000000000") ? job_id : NULL, hash, &v);
  if (!strcmp(v.status, "queued") || !strcmp(v.status, "running"))
    return http_json(r, 200, json_pack("{s:s}", "status", "processing"));
  if (strcmp(v.status, "complete"))
    return http_json(r, 200, json_pack("{s:s, s:s}", "status", "error", "message", v.error));
  char *b64 = glb_base64(r->srv, hash);
  if (!b64)
    return http_json(r, 200,
                     json_pack("{s:s, s:s}", "status", "error", "message", "the model is no longer cached"));
  json_t *j =
      json_pack("{s:s, s:s, s:s}", "status", "completed", "model_base64", b64, "initial_model_base64", b64);
  free(b64);
  return http_json(r, 200, j);
}

enum MHD_Result route_compat_hunyuan(request *r, const char *url) {
  int post = !strcmp(r->method, "POST");
  if (!strcmp(url, "/generate")) return post ? generate(r) : http_method_not_allowed(r, "POST");
  if (!strcmp(url, "/send")) return post ? send_job(r) : http_method_not_allowed(r, "POST");
  if (!strcmp(r->method, "GET") || !strcmp(r->method, "HEAD")) return status(r, url + 8);
  return http_method_not_allowed(r, "GET");
}
