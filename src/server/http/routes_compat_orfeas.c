/*
 * routes_compat_orfeas.c - the original ORFEAS API (issue 16), for its web
 * page and scripts, as a thin adapter onto the same generation code:
 *   POST /api/upload-image     multipart `image`: kept (upload_store.h),
 *                              answered {job_id, filename, original_filename,
 *                              preview_url, status:"uploaded", image_info}
 *   GET  /api/preview/<file>   the uploaded image
 *   POST /api/generate-3d      JSON {job_id, format, dimensions, quality}:
 *                              the image submitted as POST /api/v1/jobs
 *                              submits it (http_submit_image: cache, single
 *                              flight, admission), answered {job_id,
 *                              status:"generating_3d", format, dimensions,
 *                              quality}
 *   GET  /api/job-status/<id>  {status, progress, step, output_file?,
 *                              download_url?, error?}: initializing (queued),
 *                              processing, completed, failed
 *   GET  /api/download/<id>/<file>   the model (from the cache)
 * Errors in that API's shape: {"error": a short title, "details": the
 * sentence, "code"}, 404 {"error":"Job not found"}.
 *
 * dimensions {width, height, depth} in mm (100, 100, 20) become the
 * engine's parameters: size_mm is the larger of width and height (the
 * image's own proportions decide the other side), and depth that of the
 * mode ("mode", an addition to that API, inflate by default): inflate's
 * thickness = depth / size_mm, relief's relief_mm = depth - base_mm,
 * extrude's depth_mm = depth, lithophane's max_mm = depth.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "log.h"
#include "upload_store.h"

#define UPLOADS_MAX 256
#define UPLOADS_BYTES ((size_t)256 << 20) /* images kept, all uploads */

int http_uploads_start(server *srv) {
  return http_uploads_create(&srv->uploads, UPLOADS_MAX, UPLOADS_BYTES, 3600.0);
}

/* An error in the original API's shape. */
static enum MHD_Result compat_error(request *r, unsigned status, const char *title, const char *details,
                                    const char *code) {
  json_t *j = json_pack("{s:s}", "error", title);
  if (details) json_object_set_new(j, "details", json_string(details));
  if (code) json_object_set_new(j, "code", json_string(code));
  return http_json(r, status, j);
}

/* An engine or server error code in that shape, its title by its status. */
static enum MHD_Result compat_fail(request *r, int err, const char *details) {
  const char *code;
  unsigned status = http_status_of(err, &code);
  const char *title = status == 413   ? "File too large"
                      : status == 415 ? "Unsupported file type"
                      : status == 429 ? "Server busy"
                      : status == 503 ? "Service unavailable"
                      : status == 507 ? "Insufficient memory"
                      : status >= 500 ? "Internal server error"
                      : status == 400 ? "Invalid image"
                                      : "Invalid request";
  return compat_error(r, status, title, details ? details : http_error_sentence(err), code);
}

static enum MHD_Result job_not_found(request *r) {
  return http_json(r, 404, json_pack("{s:s}", "error", "Job not found"));
}

/* ---- POST /api/upload-image ----------------------------------------------- */

static const char *image_ext(orf_image_type t) {
  return t == ORF_IMG_PNG ? "png" : t == ORF_IMG_JPEG ? "jpg" : "webp";
}

static enum MHD_Result upload_image(request *r) {
  enum MHD_Result ret;
  if (http_refuse_upload(r, &ret)) return ret;
  if (!r->has_image_field || r->body_len == 0)
    return compat_error(r, 400, "No image file provided",
                        "send the picture as the multipart/form-data field \"image\"", "missing_image");
  http_upload u;
  memset(&u, 0, sizeof u);
  orf_image_type t;
  int rc = orf_image_probe(r->body, r->body_len, &r->srv->limits, &t, &u.width, &u.height);
  if (rc) return compat_fail(r, rc, NULL);
  orf_request_id(u.id);
  snprintf(u.ext, sizeof u.ext, "%s", image_ext(t));
  snprintf(u.original_filename, sizeof u.original_filename, "%s",
           r->upload_filename[0] ? r->upload_filename : "image");
  if ((rc = http_uploads_put(r->srv->uploads, &u, r->body, r->body_len))) return compat_fail(r, rc, NULL);
  char filename[48], preview[80];
  snprintf(filename, sizeof filename, "%s.%s", u.id, u.ext);
  snprintf(preview, sizeof preview, "/api/preview/%s", filename);
  json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:i, s:i, s:s, s:I}}", "job_id", u.id, "filename",
                        filename, "original_filename", u.original_filename, "preview_url", preview, "status",
                        "uploaded", "image_info", "width", (int)u.width, "height", (int)u.height, "format",
                        u.ext, "size", (json_int_t)r->body_len);
  return http_json(r, 200, j);
}

/* ---- GET /api/preview/<id>.<ext> ------------------------------------------- */

static enum MHD_Result preview(request *r, const char *file) {
  char id[33];
  snprintf(id, sizeof id, "%.32s", file);
  http_upload u;
  uint8_t *image = NULL;
  size_t size;
  if (strlen(file) < 34 || file[32] != '.' || !orf_is_hex(id, 32) ||
      !http_uploads_get(r->srv->uploads, id, &u, &image, &size) || strcmp(file + 33, u.ext)) {
    free(image);
    return compat_error(r, 404, "File not found", "no uploaded image of that name", "not_found");
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(size, image, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(image);
    return MHD_NO;
  }
  r->bytes = size;
  MHD_add_response_header(resp, "Content-Type",
                          !strcmp(u.ext, "png")   ? "image/png"
                          : !strcmp(u.ext, "jpg") ? "image/jpeg"
                                                  : "image/webp");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  return http_queue(r, 200, resp);
}

/* ---- POST /api/generate-3d ------------------------------------------------- */

/* A number of the request JSON (default def when absent) within [lo, hi],
 * or -1 with the details written. */
static int number(json_t *o, const char *key, double def, double lo, double hi, double *out, char *details,
                  size_t size) {
  json_t *v = json_object_get(o, key);
  *out = v ? json_number_value(v) : def;
  if ((v && !json_is_number(v)) || !(*out >= lo && *out <= hi)) {
    snprintf(details, size, "%s must be a number from %g to %g", key, lo, hi);
    return -1;
  }
  return 0;
}

static int set(orf_params *p, const char *name, double value, char *details, size_t size) {
  char text[32];
  snprintf(text, sizeof text, "%g", value);
  return orf_params_set(p, name, text, details, size) ? -1 : 0;
}

/* The request's format, quality, dimensions and mode into p (and their
 * values into *echo, the answer's); -1 with the details written. */
static int read_request(json_t *req, orf_params *p, json_t **echo, char *details, size_t size) {
  orf_params_init(p);
  const char *format = json_string_value(json_object_get(req, "format"));
  if (json_object_get(req, "format") && !format) format = "";
  if (!format) format = "stl";
  if (strcmp(format, "stl") && strcmp(format, "obj") && strcmp(format, "glb") && strcmp(format, "ply")) {
    snprintf(details, size, "format must be stl, obj, glb or ply");
    return -1;
  }
  double quality, w, h, d;
  json_t *dims = json_object_get(req, "dimensions");
  if (dims && !json_is_object(dims)) {
    snprintf(details, size, "dimensions must be an object {width, height, depth} in millimetres");
    return -1;
  }
  if (number(req, "quality", 7, 1, 10, &quality, details, size) || quality != (double)(int)quality ||
      number(dims, "width", 100, 1, 1000, &w, details, size) ||
      number(dims, "height", 100, 1, 1000, &h, details, size) ||
      number(dims, "depth", 20, 0.2, 1000, &d, details, size)) {
    if (quality != (double)(int)quality)
      snprintf(details, size, "quality must be a whole number from 1 to 10");
    return -1;
  }
  const char *mode = json_string_value(json_object_get(req, "mode"));
  double size_mm = w > h ? w : h;
  if (orf_params_set(p, "format", format, details, size) ||
      (mode && orf_params_set(p, "mode", mode, details, size)) || set(p, "quality", quality, details, size) ||
      set(p, "size_mm", size_mm, details, size))
    return -1;
  int rc = 0;
  switch (p->mode) {
  case ORF_MODE_INFLATE: {
    double t = d / size_mm;
    rc = set(p, "thickness", t < 0.05 ? 0.05 : t > 2 ? 2 : t, details, size);
    break;
  }
  case ORF_MODE_RELIEF:
    rc = set(p, "relief_mm", d - p->base_mm < 0.1 ? 0.1 : d - p->base_mm, details, size);
    break;
  case ORF_MODE_EXTRUDE: rc = set(p, "depth_mm", d > 500 ? 500 : d, details, size); break;
  default: rc = set(p, "max_mm", d < 0.8 ? 0.8 : d > 20 ? 20 : d, details, size); break; /* lithophane */
  }
  if (rc || orf_params_validate(p, details, size)) return -1;
  *echo = json_pack("{s:s, s:{s:f, s:f, s:f}, s:i}", "format", format, "dimensions", "width", w, "height", h,
                    "depth", d, "quality", (int)quality);
  return 0;
}

static enum MHD_Result generate_3d(request *r) {
  enum MHD_Result ret;
  if (http_refuse_upload(r, &ret)) return ret;
  json_t *req = json_loadb((const char *)r->body, r->body_len, 0, NULL);
  if (!json_is_object(req)) {
    json_decref(req);
    return compat_error(r, 400, "Invalid request",
                        "the body must be a JSON object {job_id, format, dimensions, quality}",
                        "bad_request");
  }
  const char *id = json_string_value(json_object_get(req, "job_id"));
  http_upload u;
  uint8_t *image = NULL;
  size_t size = 0;
  if (!id || !orf_is_hex(id, 32) || !http_uploads_get(r->srv->uploads, id, &u, &image, &size)) {
    json_decref(req);
    return job_not_found(r);
  }
  orf_params p;
  json_t *echo = NULL;
  char details[256];
  if (read_request(req, &p, &echo, details, sizeof details)) {
    json_decref(req);
    free(image);
    return compat_error(r, 400, "Invalid request", details, "invalid_param");
  }
  json_decref(req);
  orf_job *job;
  int coalesced;
  int rc = http_submit_image(r, image, size, &p, u.hash, &job, &coalesced);
  free(image);
  if (rc) {
    json_decref(echo);
    return compat_fail(r, rc, NULL);
  }
  u.generating = 1;
  u.format = p.format;
  u.job_id[0] = 0;
  if (job) {
    memcpy(u.job_id, orf_job_id(job), 33);
    orf_job_release(job); /* kept by the manager */
  }
  if (!http_uploads_update(r->srv->uploads, &u)) {
    json_decref(echo);
    return job_not_found(r);
  }
  json_object_set_new(echo, "job_id", json_string(u.id));
  json_object_set_new(echo, "status", json_string("generating_3d"));
  return http_json(r, 200, echo);
}

/* ---- GET /api/job-status/<id>, GET /api/download/<id>/<file> --------------- */

static enum MHD_Result job_status(request *r, const char *id) {
  http_upload u;
  if (!orf_is_hex(id, 32) || !http_uploads_get(r->srv->uploads, id, &u, NULL, NULL)) return job_not_found(r);
  if (!u.generating)
    return http_json(r, 200,
                     json_pack("{s:s, s:i, s:s}", "status", "uploaded", "progress", 0, "step",
                               "image uploaded: waiting for generate-3d"));
  http_job_view v;
  http_job_view_get(r->srv, u.job_id, u.hash, &v);
  json_t *j;
  char step[96];
  if (!strcmp(v.status, "queued")) {
    snprintf(step, sizeof step, "queued (position %zu)", v.position);
    j = json_pack("{s:s, s:i, s:s}", "status", "initializing", "progress", 0, "step", step);
  } else if (!strcmp(v.status, "running")) {
    const char *stage = orf_job_stage_name(ORF_JOB_GENERATE, v.stage);
    snprintf(step, sizeof step, "%s%s", stage ? "done: " : "starting", stage ? stage : "");
    j = json_pack("{s:s, s:i, s:s}", "status", "processing", "progress", v.progress, "step", step);
  } else if (!strcmp(v.status, "complete")) {
    char file[48], url[128];
    snprintf(file, sizeof file, "%s.%s", u.id, orf_format_ext(u.format));
    snprintf(url, sizeof url, "/api/download/%s/%s", u.id, file);
    j = json_pack("{s:s, s:i, s:s, s:s, s:s}", "status", "completed", "progress", 100, "step", "complete",
                  "output_file", file, "download_url", url);
  } else {
    j = json_pack("{s:s, s:i, s:s, s:s, s:s}", "status", "failed", "progress", v.progress, "step", "failed",
                  "error", v.error, "code", v.code);
  }
  return http_json(r, 200, j);
}

static enum MHD_Result download(request *r, const char *rest) {
  char id[33];
  snprintf(id, sizeof id, "%.32s", rest);
  http_upload u;
  if (!orf_is_hex(id, 32) || rest[32] != '/' || !http_uploads_get(r->srv->uploads, id, &u, NULL, NULL))
    return job_not_found(r);
  char file[48];
  snprintf(file, sizeof file, "%s.%s", u.id, orf_format_ext(u.format));
  http_job_view v;
  if (u.generating) http_job_view_get(r->srv, u.job_id, u.hash, &v);
  if (!u.generating || strcmp(v.status, "complete") || strcmp(rest + 33, file))
    return compat_error(r, 404, "File not found", "no such file for this job (is it completed?)",
                        "not_found");
  /* the original API's file: a GLB textured where the result has a texture,
   * an OBJ plain (its name says .obj, not the zip a textured OBJ is) */
  http_variant want = {u.format, u.format == ORF_FMT_OBJ ? ORF_TEXTURE_OFF : ORF_TEXTURE_AUTO, ORF_COMPRESS_NONE};
  return http_serve_mesh(
      r, u.hash, orf_job_stage_name(ORF_JOB_GENERATE, orf_job_stage_count(ORF_JOB_GENERATE) - 1), &want);
}

enum MHD_Result route_compat_orfeas(request *r, const char *url) {
  int get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD"), post = !strcmp(r->method, "POST");
  const char *allow = NULL;
  if (!strcmp(url, "/api/upload-image")) {
    if (post) return upload_image(r);
    allow = "POST";
  } else if (!strcmp(url, "/api/generate-3d")) {
    if (post) return generate_3d(r);
    allow = "POST";
  } else if (!strncmp(url, "/api/job-status/", 16)) {
    if (get) return job_status(r, url + 16);
    allow = "GET";
  } else if (!strncmp(url, "/api/download/", 14)) {
    if (get) return download(r, url + 14);
    allow = "GET";
  } else if (!strncmp(url, "/api/preview/", 13)) {
    if (get) return preview(r, url + 13);
    allow = "GET";
  }
  if (!allow) return http_error(r, ORF_SRV_ENOTFOUND, "no such endpoint", NULL);
  return http_method_not_allowed(r, allow);
}
