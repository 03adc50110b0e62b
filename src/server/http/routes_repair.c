/*
 * routes_repair.c - POST /api/v1/repair: a mesh made printable
 * (orf_repair, issue 15).
 *
 * The mesh comes as the multipart field `mesh` (or `image`, the field the
 * upload code already collects) or as the raw body; parameters (those of
 * orf_repair_params_set, and `download`) as form fields or in the query.
 * The answer is that of a synchronous /api/v1/generate: JSON with the
 * figures of what was found and done, or with download=1 (or an Accept
 * naming the format's media type) the file itself.
 *
 * Results are cached under the SHA-256 of "repair", the canonical
 * parameters and the mesh bytes, as `repair.ply` (the mesh, read back with
 * orf_mesh_read_ply and converted to the format asked for) and
 * `repair.json` (the figures), so the same mesh asked again, in any
 * format, is answered from the cache.  A repair is admitted by its memory
 * estimate (orf_estimate_repair_bytes) against the job budget's free bytes
 * less what running repairs hold; one that could never fit is 507, one
 * that does not fit now 429 with Retry-After.
 *
 * What this endpoint does not do (yet): it runs on the connection's thread
 * of the server's pool (libmicrohttpd's), not on the job manager, whose
 * jobs are images (jobs/run.c runs orf_generate); so there is no job id, no
 * progressive stream and no coalescing of identical requests in flight,
 * and the job manager's budget does not see a repair's reservation (only
 * other repairs do).
 */
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_int.h"

static atomic_size_t g_repair_reserved; /* estimates of the repairs running now */

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

/* The figures of a repair, as the CLI's --json gives them. */
static json_t *figures(const orf_repair_result *res, const orf_repair_params *p) {
  const orf_repair_info *i = &res->info;
  const orf_mesh_report *m = &res->report;
  json_t *o = json_pack(
      "{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:f}, s:{s:I, s:I, s:I, s:I, s:I, s:b, s:i, s:f}, "
      "s:{s:I, s:I, s:b, s:b, s:I, s:[f,f,f], s:f, s:f}, s:{s:f, s:f, s:b}, s:i, s:{s:f, s:f}}",
      "input", "triangles", (json_int_t)i->input_triangles, "vertices", (json_int_t)i->input_vertices,
      "welded_vertices", (json_int_t)i->welded_vertices, "open_edges", (json_int_t)i->open_edges,
      "nonmanifold_edges", (json_int_t)i->nonmanifold_edges, "components", (json_int_t)i->components,
      "volume_mm3", i->input_volume_mm3, "done", "flipped_faces", (json_int_t)i->flipped_faces,
      "degenerate_dropped", (json_int_t)i->degenerate_dropped, "duplicate_dropped",
      (json_int_t)i->duplicate_dropped, "floaters_dropped", (json_int_t)i->floaters_dropped,
      "floater_faces_dropped", (json_int_t)i->floater_faces_dropped, "remeshed", i->remeshed, "grid", i->grid,
      "cell_mm", i->cell_mm, "mesh", "vertices", (json_int_t)m->vertices, "faces", (json_int_t)m->faces,
      "watertight", m->watertight, "manifold", m->manifold, "euler", (json_int_t)m->euler, "bbox_mm",
      (double)(m->bbox_max[0] - m->bbox_min[0]), (double)(m->bbox_max[1] - m->bbox_min[1]),
      (double)(m->bbox_max[2] - m->bbox_min[2]), "volume_mm3", m->volume, "surface_mm2", m->area, "fidelity",
      "hausdorff_mm", i->hausdorff_mm, "far_share", i->far_share, "thin_warning", i->thin_warning, "quality",
      p->quality, "timings_ms", "winding", i->winding_ms, "total", i->total_ms);
  if (o && i->thin_warning) json_object_set_new(o, "warning", json_string(i->message));
  return o;
}

/* Answers from the cache entry of r->hash: the file, or the figures. */
static enum MHD_Result answer(request *r, int cached) {
  orf_blob *b;
  if (r->download) {
    if (orf_cache_get(r->srv->cache, r->hash, "repair.ply", 0, &b))
      return http_error(r, ORF_EINTERNAL, "the repaired mesh is missing from the cache", NULL);
    orf_mesh m;
    int rc = orf_mesh_read_ply(b->data, b->size, &m);
    orf_blob_release(b);
    uint8_t *out = NULL;
    size_t size = 0;
    if (rc == ORF_OK) rc = orf_export(&m, r->format, &out, &size);
    orf_mesh_free(&m);
    if (rc) return http_error(r, rc, NULL, NULL);
    struct MHD_Response *resp = MHD_create_response_from_buffer(size, out, MHD_RESPMEM_MUST_COPY);
    orf_buffer_free(out);
    if (!resp) return MHD_NO;
    char disposition[96];
    snprintf(disposition, sizeof disposition, "attachment; filename=\"repaired.%s\"",
             orf_format_ext(r->format));
    MHD_add_response_header(resp, "Content-Type", http_media_type(r->format));
    MHD_add_response_header(resp, "Content-Disposition", disposition);
    MHD_add_response_header(resp, "X-Request-Hash", r->hash);
    MHD_add_response_header(resp, "X-Cache", cached ? "hit" : "miss");
    return http_queue(r, 200, resp);
  }
  if (orf_cache_get(r->srv->cache, r->hash, "repair.json", 0, &b))
    return http_error(r, ORF_EINTERNAL, "the repair's figures are missing from the cache", NULL);
  json_error_t err;
  json_t *j = json_loadb((const char *)b->data, b->size, 0, &err);
  orf_blob_release(b);
  if (!j) return http_error(r, ORF_ENOMEM, NULL, NULL);
  json_object_set_new(j, "request_hash", json_string(r->hash));
  json_object_set_new(j, "cached", json_boolean(cached));
  json_object_set_new(j, "format", json_string(orf_format_ext(r->format)));
  return http_json(r, 200, j);
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

/* Runs the repair and stores its result in the cache. */
static int run_repair(request *r, const orf_repair_params *p, char *msg, size_t msg_size) {
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.limits = r->srv->limits;
  o.limits.max_file_bytes = r->srv->cfg.max_upload_bytes;
  o.threads = 0;
  orf_repair_result res;
  int rc = orf_repair(r->body, r->body_len, hint_of(r), p, &o, NULL, NULL, &res);
  snprintf(msg, msg_size, "%s", res.info.message);
  if (rc) return rc;
  uint8_t *ply = NULL;
  size_t ply_size = 0;
  json_t *j = figures(&res, p);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  rc = text ? orf_export(&res.mesh, ORF_FMT_PLY, &ply, &ply_size) : ORF_ENOMEM;
  if (rc == ORF_OK) rc = orf_cache_put(r->srv->cache, r->hash, "repair.ply", ply, ply_size);
  if (rc == ORF_OK) rc = orf_cache_put(r->srv->cache, r->hash, "repair.json", text, strlen(text));
  orf_buffer_free(ply);
  free(text);
  orf_repair_result_free(&res);
  return rc;
}

enum MHD_Result route_repair(request *r) {
  char msg[300];
  if (r->too_large) {
    snprintf(msg, sizeof msg, "the request body is larger than the %zu MB limit",
             r->srv->cfg.max_upload_bytes >> 20);
    return http_error_code(r, 413, "too_large", msg, NULL);
  }
  if (r->form_error[0])
    return r->form_status == 422 ? http_error(r, ORF_EINVAL, r->form_error, r->form_param)
                                 : http_error_code(r, 400, "bad_request", r->form_error,
                                                   r->form_param[0] ? r->form_param : NULL);
  orf_repair_params p;
  orf_repair_params_init(&p);
  rparams w = {.r = r, .p = &p};
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_param, &w);
  for (int i = 0; !w.rc && i < r->nfields; i++)
    take_param(&w, r->keys[i], r->vals[i]);
  if (w.rc) return http_error(r, w.rc, w.err, w.bad);
  if (r->body_len == 0)
    return http_error_code(r, 400, "missing_mesh",
                           "no mesh: send it as the multipart field \"mesh\" or as the request body", NULL);
  r->format = p.format;
  const char *accept = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
  if (accept && strstr(accept, http_media_type(p.format))) r->download = 1;
  int rc = repair_hash(r->body, r->body_len, &p, r->hash);
  if (rc) return http_error(r, rc, NULL, NULL);
  int found = orf_cache_has(r->srv->cache, r->hash, "repair.ply") &&
              orf_cache_has(r->srv->cache, r->hash, "repair.json");
  orf_cache_note_lookup(r->srv->cache, found);
  if (found) return answer(r, 1);
  if (atomic_load(&r->srv->draining)) return http_error(r, ORF_SRV_EDRAINING, NULL, NULL);
  /* admission by the memory estimate */
  size_t need = orf_estimate_repair_bytes(&p, r->body, r->body_len);
  double in_use, budget;
  orf_jobs_budget(r->srv->jobs, &in_use, &budget);
  if ((double)need > budget) return http_error(r, ORF_SRV_ETOOBIG, NULL, NULL);
  size_t held = atomic_fetch_add(&g_repair_reserved, need);
  if (in_use + (double)held + (double)need > budget) {
    atomic_fetch_sub(&g_repair_reserved, need);
    return http_error(r, ORF_SRV_EQUEUEFULL, NULL, NULL);
  }
  msg[0] = 0;
  rc = run_repair(r, &p, msg, sizeof msg);
  atomic_fetch_sub(&g_repair_reserved, need);
  if (rc) return http_error(r, rc, msg[0] ? msg : NULL, NULL);
  return answer(r, 0);
}
