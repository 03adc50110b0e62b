/*
 * results.c - GET /api/v1/results/<hash>/<stage>.<format>[?compress=&texture=]:
 * a stage's mesh in any format, textured and compressed as asked.  The
 * cache holds each stage as PLY (the job writes it) and a generation's
 * texture once (result_texture.h); every other file - another format, the
 * texture applied, the GLB compressed - is a conversion, made from them on
 * first request and cached too, under a name of its own
 * ("<stage>[.tex][.meshopt|.draco].<ext>"): the same variant gives the same
 * bytes, and a second request is a cache hit (X-Cache says which).
 * Files on the disk tier are sent from their descriptor (sendfile, no copy
 * through user space); entries only in memory from their buffer.  The path
 * is parsed against fixed names: a hash of 64 hex digits, one of the
 * stages of a generation or a repair (orf_job_stage_lookup), one of the
 * formats, so no request can name a file of its own.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_int.h"
#include "result_texture.h"

const char *http_media_type(orf_format f) {
  switch (f) {
  case ORF_FMT_GLB: return "model/gltf-binary";
  case ORF_FMT_STL: return "model/stl";
  case ORF_FMT_OBJ: return "model/obj";
  case ORF_FMT_3MF: return "model/3mf";
  default: return "application/octet-stream";
  }
}

static void release_blob(void *cls) { orf_blob_release(cls); }

/* A served file: its cache name, media type and download name's extension
 * (a textured OBJ is a zip of the OBJ, its MTL and its image). */
typedef struct served {
  char name[80];
  const char *type, *ext;
  int textured;
  int settled; /* the file this URL names can no longer change (immutable) */
} served;

static enum MHD_Result send_mesh(request *r, const char *hash, const served *sv, struct MHD_Response *resp,
                                 size_t size, int hit) {
  if (!resp) return http_error(r, ORF_ENOMEM, NULL, NULL);
  char etag[160], disposition[200];
  const char *cache_control = sv->settled ? "public, max-age=31536000, immutable" : "no-store";
  snprintf(etag, sizeof etag, "\"%s-%s\"", hash, sv->name);
  snprintf(disposition, sizeof disposition, "attachment; filename=\"orfeas-%.12s-%.*s.%s\"", hash,
           (int)strcspn(sv->name, "."), sv->name, sv->ext);
  MHD_add_response_header(resp, "Content-Type", sv->type);
  MHD_add_response_header(resp, "ETag", etag);
  MHD_add_response_header(resp, "Cache-Control", cache_control);
  MHD_add_response_header(resp, "Content-Disposition", disposition);
  MHD_add_response_header(resp, "X-Cache", hit ? "hit" : "miss");
  r->bytes = size;
  const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
  if (inm && !strcmp(inm, etag)) {
    MHD_destroy_response(resp);
    resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "Cache-Control", cache_control);
    r->bytes = 0;
    return http_queue(r, 304, resp);
  }
  return http_queue(r, 200, resp);
}

/* From the cache as it stands: disk descriptor first, then memory. */
static int try_cached(request *r, const char *hash, const served *sv, int hit, enum MHD_Result *ret) {
  int fd;
  off_t off;
  size_t size;
  if (orf_cache_open_fd(r->srv->cache, hash, sv->name, &fd, &off, &size) == ORF_OK) {
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(size, fd, (uint64_t)off);
    if (!resp) close(fd);
    *ret = send_mesh(r, hash, sv, resp, size, hit);
    return 1;
  }
  orf_blob *b;
  if (orf_cache_get(r->srv->cache, hash, sv->name, 0, &b) == ORF_OK) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(b->size, (void *)b->data, release_blob, b);
    if (!resp) orf_blob_release(b);
    *ret = send_mesh(r, hash, sv, resp, b->size, hit);
    return 1;
  }
  return 0;
}

/* See http_int.h. */
int http_mesh_convert(server *srv, const char *hash, const char *stage, const http_variant *v,
                      http_mesh_file *file) {
  orf_format f = v->format;
  char ply[64];
  snprintf(ply, sizeof ply, "%s.ply", stage);
  memset(file, 0, sizeof *file);
  /* Whether the result's texture step is over (its texture, or that it has
   * none: result_texture.h), or it is a repair's (meta.json, no texture
   * step), asked before the texture is looked up: a file converted while
   * the job still runs is untextured for now even if the texture lands
   * while it is being made (an ASan build's studio test served such a file
   * as immutable, and the browser kept it). */
  int wants = orf_format_holds_texture(f) && v->texture != ORF_TEXTURE_OFF;
  int step_over = !wants || orf_cache_has(srv->cache, hash, "texture.json") ||
                  orf_cache_has(srv->cache, hash, "meta.json");
  orf_cached_texture tex = {0};
  int rc;
  if (wants) {
    rc = orf_result_texture_get(srv->cache, hash, &tex);
    if (rc && rc != ORF_SRV_ENOTFOUND) return rc;
    file->textured = rc == ORF_OK;
  }
  if (v->texture == ORF_TEXTURE_ON && !file->textured)
    return orf_cache_has(srv->cache, hash, ply) ? HTTP_ENOTEXTURE : ORF_SRV_ENOTFOUND;
  const char *ext = orf_format_ext(f);
  snprintf(file->name, sizeof file->name, "%s%s%s%s.%s", stage, file->textured ? ".tex" : "",
           v->compress == ORF_COMPRESS_NONE ? "" : ".",
           v->compress == ORF_COMPRESS_NONE ? "" : orf_compress_name(v->compress), ext);
  file->ext = file->textured && f == ORF_FMT_OBJ ? "zip" : ext;
  file->settled = file->textured || step_over;
  int cached = orf_cache_has(srv->cache, hash, file->name);
  orf_blob *src;
  if (cached || f == ORF_FMT_PLY || orf_cache_get(srv->cache, hash, ply, 0, &src)) {
    orf_result_texture_release(&tex);
    return cached ? ORF_OK : ORF_SRV_ENOTFOUND;
  }
  orf_mesh m;
  rc = orf_mesh_read_ply(src->data, src->size, &m);
  orf_blob_release(src);
  if (rc) {
    orf_result_texture_release(&tex);
    return ORF_EINTERNAL;
  }
  uint8_t *out;
  size_t size;
  rc = orf_export_textured(&m, file->textured ? &tex.t : NULL, f, v->compress, &out, &size);
  orf_mesh_free(&m);
  orf_result_texture_release(&tex);
  if (rc) return rc;
  rc = orf_cache_put(srv->cache, hash, file->name, out, size);
  orf_buffer_free(out);
  file->converted = rc == ORF_OK;
  return rc;
}

enum MHD_Result http_serve_mesh(request *r, const char *hash, const char *stage, const http_variant *v) {
  http_mesh_file file;
  int rc = http_mesh_convert(r->srv, hash, stage, v, &file);
  if (rc == ORF_SRV_ENOTFOUND) return http_error(r, rc, "no such result", NULL);
  if (rc == HTTP_ENOTEXTURE)
    return http_error(
        r, ORF_EINVAL,
        "texture=on: this result has no texture (style=plain, a cylinder lithophane, a repair, or a "
        "job still running: the texture is made after its final stage); ask for texture=auto or off",
        "texture");
  if (rc == ORF_EINTERNAL) return http_error(r, rc, "the cached mesh could not be read", NULL);
  if (rc) return http_error(r, rc, NULL, NULL);
  served sv;
  snprintf(sv.name, sizeof sv.name, "%s", file.name);
  sv.ext = file.ext;
  sv.textured = file.textured;
  sv.type = file.textured && v->format == ORF_FMT_OBJ ? "application/zip" : http_media_type(v->format);
  sv.settled = file.settled;
  enum MHD_Result ret;
  if (try_cached(r, hash, &sv, !file.converted, &ret)) return ret;
  return http_error(r, ORF_EINTERNAL, "the converted mesh was not kept", NULL);
}

/* The query's texture and compress for format f, checked as a request's
 * parameters are (orf_params_set, orf_params_validate: 422 naming the
 * parameter).  0, or -1 with the error queued in *ret. */
static int read_variant(request *r, orf_format f, http_variant *v, enum MHD_Result *ret) {
  orf_params p;
  orf_params_init(&p);
  p.format = f;
  char err[200] = "";
  static const char *const keys[] = {"texture", "compress"};
  int rc = ORF_OK;
  for (int i = 0; i < 2 && !rc; i++) {
    const char *value = MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, keys[i]);
    if (value) rc = orf_params_set(&p, keys[i], value, err, sizeof err);
  }
  if (!rc) rc = orf_params_validate(&p, err, sizeof err);
  if (rc) {
    *ret = http_refuse_rule(r, err);
    return -1;
  }
  *v = http_variant_of(&p);
  return 0;
}
enum MHD_Result route_results(request *r, const char *rest) {
  const char *slash = strchr(rest, '/');
  char hash[65] = "";
  if (slash && slash - rest == 64) memcpy(hash, rest, 64);
  if (!orf_is_hex(hash, 64))
    return http_error_code(r, 400, "bad_request",
                           "a result path is /api/v1/results/<64 hex>/<stage>.<format>", NULL);
  const char *file = slash + 1, *dot = strrchr(file, '.');
  if (!dot || strchr(file, '/'))
    return http_error_code(r, 400, "bad_request",
                           "a result path is /api/v1/results/<64 hex>/<stage>.<format>", NULL);
  orf_job_kind kind;
  int stage;
  orf_format f;
  if (orf_job_stage_lookup(file, (size_t)(dot - file), &kind, &stage) || orf_format_from_ext(dot + 1, &f))
    return http_error_code(r, 400, "bad_request",
                           "unknown stage or format: stages are voxel_preview, rough_mesh, refined_mesh, "
                           "final_optimized (a generation's) and imported, rough_solid, final_repaired (a "
                           "repair's); formats glb, stl, obj, ply, 3mf",
                           NULL);
  http_variant v;
  enum MHD_Result ret;
  if (read_variant(r, f, &v, &ret)) return ret;
  if (http_cluster_mode(r->srv) && http_cluster_results(r, hash, orf_job_stage_name(kind, stage), &ret)) return ret;
  return http_serve_mesh(r, hash, orf_job_stage_name(kind, stage), &v);
}
