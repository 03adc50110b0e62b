/*
 * results.c - GET /api/v1/results/<hash>/<stage>.<format>: a stage's mesh
 * in any format.  The cache holds each stage as PLY (the job writes it);
 * another format is converted from it on first request and cached too.
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

static enum MHD_Result send_mesh(request *r, const char *hash, const char *name, orf_format f,
                                 struct MHD_Response *resp, size_t size) {
  if (!resp) return http_error(r, ORF_ENOMEM, NULL, NULL);
  char etag[160], disposition[200];
  snprintf(etag, sizeof etag, "\"%s-%s\"", hash, name);
  snprintf(disposition, sizeof disposition, "attachment; filename=\"orfeas-%.12s-%s\"", hash, name);
  MHD_add_response_header(resp, "Content-Type", http_media_type(f));
  MHD_add_response_header(resp, "ETag", etag);
  MHD_add_response_header(resp, "Cache-Control", "public, max-age=31536000, immutable");
  MHD_add_response_header(resp, "Content-Disposition", disposition);
  r->bytes = size;
  const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
  if (inm && !strcmp(inm, etag)) {
    MHD_destroy_response(resp);
    resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(resp, "ETag", etag);
    MHD_add_response_header(resp, "Cache-Control", "public, max-age=31536000, immutable");
    r->bytes = 0;
    return http_queue(r, 304, resp);
  }
  return http_queue(r, 200, resp);
}

/* From the cache as it stands: disk descriptor first, then memory. */
static int try_cached(request *r, const char *hash, const char *name, orf_format f, enum MHD_Result *ret) {
  int fd;
  off_t off;
  size_t size;
  if (orf_cache_open_fd(r->srv->cache, hash, name, &fd, &off, &size) == ORF_OK) {
    struct MHD_Response *resp = MHD_create_response_from_fd_at_offset64(size, fd, (uint64_t)off);
    if (!resp) close(fd);
    *ret = send_mesh(r, hash, name, f, resp, size);
    return 1;
  }
  orf_blob *b;
  if (orf_cache_get(r->srv->cache, hash, name, 0, &b) == ORF_OK) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer_with_free_callback_cls(b->size, (void *)b->data, release_blob, b);
    if (!resp) orf_blob_release(b);
    *ret = send_mesh(r, hash, name, f, resp, b->size);
    return 1;
  }
  return 0;
}

int http_mesh_convert(server *srv, const char *hash, const char *stage, orf_format f) {
  char name[64], ply[64];
  snprintf(name, sizeof name, "%s.%s", stage, orf_format_ext(f));
  snprintf(ply, sizeof ply, "%s.ply", stage);
  if (orf_cache_has(srv->cache, hash, name)) return ORF_OK;
  orf_blob *src;
  if (f == ORF_FMT_PLY || orf_cache_get(srv->cache, hash, ply, 0, &src)) return ORF_SRV_ENOTFOUND;
  orf_mesh m;
  int rc = orf_mesh_read_ply(src->data, src->size, &m);
  orf_blob_release(src);
  if (rc) return ORF_EINTERNAL;
  uint8_t *out;
  size_t size;
  rc = orf_export(&m, f, &out, &size);
  orf_mesh_free(&m);
  if (rc) return rc;
  rc = orf_cache_put(srv->cache, hash, name, out, size);
  orf_buffer_free(out);
  return rc;
}

enum MHD_Result http_serve_mesh(request *r, const char *hash, const char *stage, orf_format f) {
  char name[64];
  snprintf(name, sizeof name, "%s.%s", stage, orf_format_ext(f));
  enum MHD_Result ret;
  if (try_cached(r, hash, name, f, &ret)) return ret;
  int rc = http_mesh_convert(r->srv, hash, stage, f);
  if (rc == ORF_SRV_ENOTFOUND) return http_error(r, rc, "no such result", NULL);
  if (rc == ORF_EINTERNAL) return http_error(r, rc, "the cached mesh could not be read", NULL);
  if (rc) return http_error(r, rc, NULL, NULL);
  if (try_cached(r, hash, name, f, &ret)) return ret;
  return http_error(r, ORF_EINTERNAL, "the converted mesh was not kept", NULL);
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
  return http_serve_mesh(r, hash, orf_job_stage_name(kind, stage), f);
}
