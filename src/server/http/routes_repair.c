/*
 * routes_repair.c - the input of the repairing endpoints (issue 15): POST
 * /api/v1/repair, /api/v1/repair-progressive and /api/v1/repair-jobs, the
 * twins of /api/v1/generate, /api/v1/generate-progressive and
 * /api/v1/jobs.  routes_generate.c runs all six the same way (the cache
 * asked, the job submitted or joined, the answer waited for, streamed or
 * handed out as a job id); what differs is read here: a mesh instead of an
 * image, and orf_repair_params instead of orf_params.
 *
 * The mesh comes as the multipart field `mesh` (or `image`, the field the
 * upload code already collects) or as the raw body, whose media type is a
 * hint of its format for the importer; parameters (those of
 * orf_repair_params_set, and `download`) as form fields or in the query.
 *
 * The request hash is the SHA-256 of "repair", the canonical parameters
 * and the mesh bytes, so a repair never shares a cache entry with a
 * generation, and the same mesh asked again, in any format, is answered
 * from the cache.  The job's estimate is orf_estimate_repair_bytes, host
 * memory: the job budget's on a CPU server, the host budget's beside a GPU
 * (where a repair holds none of the GPU).
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

typedef struct rparams {
  request *r;
  orf_repair_params *p;
  char err[256];
  char bad[65];
  int rc;
} rparams;

static int take_param(rparams *w, const char *key, const char *value) {
  if (!value) value = "";
  if (!strcmp(key, "download")) {
    w->r->download = !strcmp(value, "1") || !strcmp(value, "true");
    return 0;
  }
  int rc = orf_repair_params_set(w->p, key, value, w->err, sizeof w->err);
  if (rc) {
    snprintf(w->bad, sizeof w->bad, "%s", key);
    w->rc = rc;
  }
  return rc;
}

static enum MHD_Result query_param(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind;
  return key && take_param(cls, key, value) ? MHD_NO : MHD_YES;
}

static int repair_hash(const uint8_t *mesh, size_t size, const orf_repair_params *p, char out[65]) {
  char canon[512];
  size_t n = orf_repair_params_canonical(p, canon, sizeof canon);
  if (n >= sizeof canon) n = sizeof canon - 1;
  unsigned char md[32];
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, "repair\n", 7) &&
           EVP_DigestUpdate(ctx, canon, n) && EVP_DigestUpdate(ctx, "\n", 1) &&
           EVP_DigestUpdate(ctx, mesh, size) && EVP_DigestFinal_ex(ctx, md, NULL);
  EVP_MD_CTX_free(ctx);
  if (!ok) return ORF_ENOMEM;
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return ORF_OK;
}

/* The file-name hint assimp gets for a raw body, from its media type. */
static const char *hint_of(request *r) {
  static const char *const kTypes[][2] = {{"model/gltf-binary", "glb"},
                                          {"model/gltf+json", "gltf"},
                                          {"model/stl", "stl"},
                                          {"model/x.stl-binary", "stl"},
                                          {"model/obj", "obj"},
                                          {"model/3mf", "3mf"},
                                          {"application/vnd.ms-package.3dmanufacturing-3dmodel+xml", "3mf"},
                                          {"model/ply", "ply"},
                                          {"application/ply", "ply"},
                                          {"model/vnd.collada+xml", "dae"},
                                          {"application/x-fbx", "fbx"}};
  const char *type = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (!r->raw || !type) return NULL;
  for (size_t i = 0; i < sizeof kTypes / sizeof kTypes[0]; i++)
    if (!strncasecmp(type, kTypes[i][0], strlen(kTypes[i][0]))) return kTypes[i][1];
  return NULL;
}

int http_route_repairs(orf_route route) {
  return route == ORF_ROUTE_REPAIR || route == ORF_ROUTE_REPAIR_PROGRESSIVE || route == ORF_ROUTE_REPAIR_JOBS;
}

int http_read_repair(request *r, enum MHD_Result *ret) {
  if (http_refuse_upload(r, ret)) return -1;
  orf_repair_params *p = &r->repair;
  orf_repair_params_init(p);
  rparams w = {.r = r, .p = p};
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_param, &w);
  for (int i = 0; !w.rc && i < r->nfields; i++)
    take_param(&w, r->keys[i], r->vals[i]);
  if (w.rc) {
    *ret = http_error(r, w.rc, w.err, w.bad);
    return -1;
  }
  if (r->body_len == 0) {
    *ret = http_error_code(r, 400, "missing_mesh",
                           "no mesh: send it as the multipart field \"mesh\" or as the request body", NULL);
    return -1;
  }
  r->kind = ORF_JOB_REPAIR;
  r->hint = hint_of(r);
  size_t need = orf_estimate_repair_bytes(p, r->body, r->body_len);
  int cuda = r->srv->engine_device == ORF_DEVICE_CUDA;
  r->estimate = cuda ? 0 : need;
  r->host_estimate = cuda ? need : 0;
  int rc = repair_hash(r->body, r->body_len, p, r->hash);
  if (rc) {
    *ret = http_error(r, rc, NULL, NULL);
    return -1;
  }
  http_read_accept(r, &(http_variant){p->format, ORF_TEXTURE_AUTO, ORF_COMPRESS_NONE});
  return 0;
}
