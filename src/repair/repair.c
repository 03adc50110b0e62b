/*
 * repair.c - orf_repair(): any mesh made printable, with the guarantees
 * ENGINE.md gives generated meshes (closed, 2-manifold, outward, in
 * millimetres, Z up, budgeted).
 *
 *   bytes --import--> soup --up/units--> --weld--> --orient, floaters-->
 *         imported --winding number on a grid--> --marching cubes at 1/2-->
 *         --Taubin--> --simplify--> --colours--> --place--> --check--> final
 *
 * The work happens in a unit frame (the input centred, its longest side 1,
 * and again once its floaters are dropped) so that float precision does
 * not depend on the file's units; the result is scaled to millimetres at
 * the end: its longest side size_mm when given, else its size in `units`.
 * A mesh that is closed and manifold after welding and orientation is
 * passed through with remesh=auto (its faces kept exactly,
 * only turned, scaled and placed).  Otherwise the generalized winding
 * number (winding.c) of the oriented soup is thresholded at 1/2 on a grid
 * of R(quality) cells along the longest side: marching cubes (mc.h),
 * smoothing (smooth.h) and simplification to F(quality) or max_faces
 * (simplify.h), as the final stage of orf_generate() does.
 *
 * Placement is that of the printing modes: centred on x and y, resting on
 * z = 0.  Colours come from the nearest input vertex (nearest.c).  Then the
 * distance of the input's surface from the output is sampled (vertices and
 * face centroids of the input, each to the nearest triangle of the output):
 * its maximum is reported as the sampled Hausdorff distance, and input
 * samples farther than a grid cell and outside the output (its winding
 * number under 1/2: not an inner shell swallowed on purpose) mean parts
 * thinner than the grid were lost, which is said in a warning rather than
 * silently.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <time.h>

#include "alloc.h"
#include "mc.h"
#include "mc_tables.h"
#include "mesh.h"
#include "parallel.h"
#include "repair.h"
#include "simplify.h"
#include "smooth.h"

#define ROUGH_GRID 64
#define MIN_GRID 16 /* the coarsest grid a surface is made on */
#define SMOOTH_ITERS 8
#define TAUBIN_LAMBDA 0.5f
#define TAUBIN_MU -0.53f
#define MAX_SAMPLES 200000
/* The memory estimate (orf_estimate_repair_bytes), by phase: the import
 * (assimp in its child process, the mesh it sends), welding, the tree and
 * the grid, and marching cubes with smoothing and the simplifier.  The
 * phases follow one another, so the estimate is the largest of them, not
 * their sum; the constants are measured (bench_repair, test_repair; see
 * BENCHMARKS.md) with a margin. */
#define MC_FACES_PER_CELL2 24      /* marching-cubes faces per N^2 a repair may make (enforced) */
#define BYTES_PER_MC_FACE 220      /* MC mesh, smoothing, simplifier, checker: 181-187 measured */
#define MC_BYTES_PER_FACE 64       /* marching cubes' own buffers while it runs: 41 measured */
#define MESH_BYTES_PER_TRIANGLE 57 /* an unwelded mesh with colours: 3 x (12 + 3) + 12 */
#define WELD_BYTES_PER_TRIANGLE 380 /* the weld's hash tables at their largest, per unwelded triangle */
#define TREE_BYTES_PER_TRIANGLE 200 /* the winding-number tree while it is built (orf_wn_bytes) */
#define IMPORTER_BYTES_PER_FILE_BYTE 12 /* assimp's own: 2.6 (GLB) to 5.4 (OBJ) measured */
#define IMPORTER_BYTES_PER_UNPACKED_BYTE 12 /* a 3MF's XML, unpacked (assimp's DOM of it): 8 measured */
#define IMPORTER_OVERHEAD (32u << 20)
#define TEXTURE_BYTES (240u << 20) /* a texture decoded (40 MP at most), its copy, the cache (import.c) */
#define ENGINE_SLACK (16u << 20)   /* samples, point grids, the distance tree of the output */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- parameters ------------------------------------------------------ */

void orf_repair_params_init(orf_repair_params *p) {
  memset(p, 0, sizeof *p);
  p->quality = 7;
  p->size_mm = 0;
  p->units = ORF_UNITS_AUTO;
  p->up = ORF_UP_AUTO;
  p->remesh = ORF_REMESH_AUTO;
  p->min_component = 0.005;
  p->weld = 1e-5;
  p->realistic = 1;
  p->format = ORF_FMT_GLB;
  p->max_triangles = 5000000;
  p->max_nodes = 100000;
}

static const char *const kUnits[] = {"auto", "mm", "cm", "m", "in"};
static const char *const kUp[] = {"auto", "y", "z"};
static const char *const kRemesh[] = {"auto", "always", "never"};

static int choose(const char *v, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (!strcmp(v, names[i])) return i;
  return -1;
}

static int number(const char *v, double lo, double hi, double *out) {
  char *end;
  double x = strtod(v, &end);
  if (!*v || *end || !isfinite(x) || x < lo || x > hi) return -1;
  *out = x;
  return 0;
}

int orf_repair_params_set(orf_repair_params *p, const char *name, const char *value, char *err,
                          size_t err_size) {
  double x;
  int c;
  const char *why = NULL;
  if (!strcmp(name, "quality")) {
    if (number(value, 1, 10, &x) || x != floor(x))
      why = "must be an integer from 1 to 10";
    else
      p->quality = (int)x;
  } else if (!strcmp(name, "size_mm")) {
    if (number(value, 1, 1000, &x))
      why = "must be a number of millimetres from 1 to 1000";
    else
      p->size_mm = x;
  } else if (!strcmp(name, "units")) {
    if ((c = choose(value, kUnits, 5)) < 0)
      why = "must be auto, mm, cm, m or in";
    else
      p->units = (orf_units)c;
  } else if (!strcmp(name, "up")) {
    if ((c = choose(value, kUp, 3)) < 0)
      why = "must be auto, y or z";
    else
      p->up = (orf_up)c;
  } else if (!strcmp(name, "remesh")) {
    if ((c = choose(value, kRemesh, 3)) < 0)
      why = "must be auto, always or never";
    else
      p->remesh = (orf_remesh)c;
  } else if (!strcmp(name, "min_component")) {
    if (number(value, 0, 0.5, &x))
      why = "must be a share of the largest component's volume from 0 to 0.5";
    else
      p->min_component = x;
  } else if (!strcmp(name, "weld")) {
    if (number(value, 0, 0.01, &x))
      why = "must be a share of the bounding-box diagonal from 0 to 0.01";
    else
      p->weld = x;
  } else if (!strcmp(name, "max_faces")) {
    if (number(value, 100, 5000000, &x) || x != floor(x))
      why = "must be an integer from 100 to 5000000";
    else
      p->max_faces = (int)x;
  } else if (!strcmp(name, "style")) {
    if (!strcmp(value, "realistic"))
      p->realistic = 1;
    else if (!strcmp(value, "plain"))
      p->realistic = 0;
    else
      why = "must be realistic or plain";
  } else if (!strcmp(name, "format")) {
    if (orf_format_from_ext(value, &p->format)) why = "must be glb, stl, obj, ply or 3mf";
  } else {
    if (err && err_size)
      snprintf(err, err_size,
               "%s is not a repair parameter (quality, size_mm, units, up, remesh, min_component, weld, "
               "max_faces, style, format)",
               name);
    return ORF_EINVAL;
  }
  if (why) {
    if (err && err_size) snprintf(err, err_size, "%s %s (got \"%s\")", name, why, value);
    return ORF_EINVAL;
  }
  return ORF_OK;
}

size_t orf_repair_params_canonical(const orf_repair_params *p, char *buf, size_t buf_size) {
  int budget = p->max_faces ? p->max_faces : orf_quality_faces(p->quality);
  int n = snprintf(buf, buf_size,
                   "engine=%s&op=repair&max_faces=%d&min_component=%.9g&quality=%d&remesh=%s&size_mm=%.9g&"
                   "style=%s&units=%s&up=%s&weld=%.9g",
                   ORF_ENGINE_VERSION, budget, p->min_component, p->quality, kRemesh[p->remesh], p->size_mm,
                   p->realistic ? "realistic" : "plain", kUnits[p->units], kUp[p->up], p->weld);
  return n < 0 ? 0 : (size_t)n;
}

const char *orf_repair_stage_name(orf_repair_stage s) {
  switch (s) {
  case ORF_REPAIR_IMPORTED: return "imported";
  case ORF_REPAIR_ROUGH: return "rough_solid";
  case ORF_REPAIR_FINAL: return "final_repaired";
  default: return "unknown";
  }
}

void orf_repair_result_free(orf_repair_result *r) {
  orf_mesh_free(&r->mesh);
  memset(&r->report, 0, sizeof r->report);
}

/* Whether data reads as a Wavefront OBJ: its first 64 kB are lines of v,
 * vn, vt, f, l, g, o, s, usemtl, mtllib, comments and blanks. */
static int looks_obj(const uint8_t *data, size_t size) {
  size_t head = size < 65536 ? size : 65536;
  int lines = 0;
  for (size_t i = 0; i < head;) {
    size_t j = i;
    while (j < head && data[j] != '\n')
      j++;
    if (j == head && j < size) break; /* a line cut by the 64 kB: not judged */
    const char *l = (const char *)data + i, *e = (const char *)data + j;
    while (l < e && (*l == ' ' || *l == '\t' || *l == '\r'))
      l++;
    if (l < e && !(*l == '#' || ((*l == 'v' || *l == 'f' || *l == 'l' || *l == 'g' || *l == 'o' || *l == 's') &&
                                 (l + 1 == e || l[1] == ' ' || l[1] == '\t' || l[1] == 'n' || l[1] == 't')) ||
                   !strncmp(l, "usemtl", 6) || !strncmp(l, "mtllib", 6)))
      return 0;
    lines += l < e;
    i = j + 1;
  }
  return lines > 0;
}

/* The triangles of a glTF's default scene as assimp flattens it: each
 * node's mesh (its primitives' index counts, or vertex counts when not
 * indexed, by mode: lists, strips, fans), summed over the node tree from
 * the scene's roots, so instances count each time.  The JSON is that of a
 * .gltf or a GLB's JSON chunk, read only when under 4 MB (a .gltf carrying
 * its buffers as data: URIs is larger: then 0, unknown).  0 also when the
 * JSON does not say (malformed, more than max_nodes nodes visited). */
static uint64_t gltf_triangles(const uint8_t *data, size_t size, size_t max_nodes) {
  const uint8_t *js = data;
  size_t len = size;
  if (size >= 20 && !memcmp(data, "glTF", 4)) {
    uint32_t n, type;
    memcpy(&n, data + 12, 4);
    memcpy(&type, data + 16, 4);
    if (type != 0x4E4F534Au || n > size - 20) return 0;
    js = data + 20;
    len = n;
  }
  if (len > (4u << 20)) return 0;
  json_error_t err;
  json_t *root = json_loadb((const char *)js, len, JSON_ALLOW_NUL, &err);
  if (!root) return 0;
  json_t *accessors = json_object_get(root, "accessors"), *meshes = json_object_get(root, "meshes"),
         *nodes = json_object_get(root, "nodes"), *scenes = json_object_get(root, "scenes");
  size_t nmesh = json_array_size(meshes), nnode = json_array_size(nodes);
  uint64_t total = 0, *per_mesh = calloc(nmesh ? nmesh : 1, sizeof *per_mesh);
  size_t *stack = malloc((max_nodes + 1) * sizeof *stack);
  int ok = per_mesh && stack && json_is_array(scenes);
  for (size_t m = 0; ok && m < nmesh; m++) {
    json_t *prims = json_object_get(json_array_get(meshes, m), "primitives");
    for (size_t i = 0; i < json_array_size(prims); i++) {
      json_t *pr = json_array_get(prims, i), *idx = json_object_get(pr, "indices");
      json_t *mode = json_object_get(pr, "mode");
      json_t *acc = json_array_get(accessors, (size_t)json_integer_value(
                                                  idx ? idx : json_object_get(json_object_get(pr, "attributes"), "POSITION")));
      json_int_t count = json_integer_value(json_object_get(acc, "count"));
      json_int_t md = mode ? json_integer_value(mode) : 4;
      if (count < 0) count = 0;
      per_mesh[m] += md == 4 ? (uint64_t)count / 3 : (md == 5 || md == 6) && count > 2 ? (uint64_t)count - 2 : 0;
    }
  }
  json_t *scene_index = json_object_get(root, "scene");
  json_t *scene = json_array_get(scenes, scene_index ? (size_t)json_integer_value(scene_index) : 0);
  json_t *roots = json_object_get(scene, "nodes");
  size_t top = 0, seen = 0;
  for (size_t i = 0; ok && i < json_array_size(roots) && top < max_nodes; i++)
    stack[top++] = (size_t)json_integer_value(json_array_get(roots, i));
  while (ok && top) {
    size_t n = stack[--top];
    if (++seen > max_nodes || n >= nnode) {
      ok = 0;
      break;
    }
    json_t *node = json_array_get(nodes, n), *mesh = json_object_get(node, "mesh"),
           *children = json_object_get(node, "children");
    if (mesh && (size_t)json_integer_value(mesh) < nmesh) total += per_mesh[json_integer_value(mesh)];
    for (size_t c = 0; c < json_array_size(children); c++) {
      if (top == max_nodes) {
        ok = 0;
        break;
      }
      stack[top++] = (size_t)json_integer_value(json_array_get(children, c));
    }
  }
  free(per_mesh);
  free(stack);
  json_decref(root);
  return ok ? total : 0;
}

/* The triangles the memory estimate allows a file, and the import holds
 * it to (repair() refuses a file that makes more): a binary STL's count; an
 * ASCII STL's size over 48; a PLY's declared faces twice over (quads); an
 * OBJ's face lines, counted;
 * a zip (3MF, compressed) one a byte; else one per 3 bytes (a glTF with
 * byte indices into shared vertices is the densest).  Meshes instanced by
 * many nodes, or polygons of many corners, can make more than these: such
 * a file is refused with a sentence rather than let past the estimate. */
static uint64_t triangle_bound(const uint8_t *data, size_t size, size_t max_nodes) {
  uint64_t tris = size / 3 + 16;
  if (!data) return tris;
  if (size >= 84 && memcmp(data, "solid", 5) != 0) {
    uint32_t n;
    memcpy(&n, data + 80, 4);
    if ((uint64_t)n * 50 + 84 == size) return n;
  }
  if (size >= 4 && !memcmp(data, "ply", 3)) {
    const char *end = memmem(data, size < 65536 ? size : 65536, "end_header", 10);
    const char *face = end ? memmem(data, (size_t)(end - (const char *)data), "element face ", 13) : NULL;
    unsigned long long n;
    if (face && sscanf(face + 13, "%llu", &n) == 1 && 2 * n + 16 < tris) return 2 * n + 16;
    return tris;
  }
  /* a 3MF: a <triangle v1="0" v2="1" v3="2"/> is 32 bytes unpacked at the
   * shortest */
  if (size >= 4 && !memcmp(data, "PK\3\4", 4)) return orf_zip_unpacked_bytes(data, size) / 32 + 16;
  /* a glTF: its scene's triangles, counted from its JSON, and an eighth */
  if ((size >= 4 && !memcmp(data, "glTF", 4)) || (size && data[0] == '{')) {
    uint64_t n = gltf_triangles(data, size, max_nodes);
    if (n) return n + n / 8 + 16;
  }
  /* an ASCII STL: a facet takes some 86 bytes at the shortest ("facet
   * normal 0 0 0", "outer loop", three "vertex 0 0 0", "endloop",
   * "endfacet"), 54 without the optional words */
  if (size >= 6 && !memcmp(data, "solid", 5) && memmem(data, size < 4096 ? size : 4096, "facet", 5))
    return size / 48 + 16;
  if (looks_obj(data, size)) return orf_obj_triangles(data, size) + 16;
  return tris;
}

/* Whether the file may hold an image the import decodes (import.c): a
 * glTF or GLB that lists images, a zip (3MF) with an image in its
 * directory, and any format other than those that cannot hold one (STL,
 * PLY, OBJ, OFF: their textures are files beside them, never read). */
static int may_hold_textures(const uint8_t *data, size_t size) {
  if (!data) return 1;
  if (size >= 84 && memcmp(data, "solid", 5) != 0) {
    uint32_t n;
    memcpy(&n, data + 80, 4);
    if ((uint64_t)n * 50 + 84 == size) return 0; /* binary STL */
  }
  if (size >= 5 && (!memcmp(data, "solid", 5) || !memcmp(data, "ply", 3) || !memcmp(data, "OFF", 3)))
    return 0;
  if (size >= 20 && !memcmp(data, "glTF", 4)) {
    uint32_t json;
    memcpy(&json, data + 12, 4);
    return memmem(data + 20, json < size - 20 ? json : size - 20, "\"images\"", 8) != NULL;
  }
  if (size && data[0] == '{') return memmem(data, size, "\"images\"", 8) != NULL;
  if (size >= 4 && !memcmp(data, "PK\3\4", 4)) {
    static const char *const kImages[] = {".png", ".PNG", ".jpg", ".JPG", ".jpeg", ".JPEG"};
    for (size_t i = 0; i < sizeof kImages / sizeof kImages[0]; i++)
      if (memmem(data, size, kImages[i], strlen(kImages[i]))) return 1;
    return 0;
  }
  return !looks_obj(data, size);
}

/* An upper bound of the import child's memory (isolate.c): assimp's own,
 * which grows with the file (and with a 3MF's unpacked XML), the mesh it
 * builds, and a decoded texture (BENCHMARKS.md has the measurements). */
static uint64_t importer_bytes(const uint8_t *data, size_t file_bytes, uint64_t tris) {
  uint64_t unpacked = data ? orf_zip_unpacked_bytes(data, file_bytes) : 0;
  return IMPORTER_OVERHEAD + (uint64_t)file_bytes * IMPORTER_BYTES_PER_FILE_BYTE +
         unpacked * IMPORTER_BYTES_PER_UNPACKED_BYTE +
         tris * MESH_BYTES_PER_TRIANGLE + (may_hold_textures(data, file_bytes) ? TEXTURE_BYTES : 0);
}

/* The most marching-cubes faces a repair at this quality may make: the
 * estimate allows for them, and solid_mesh() refuses a surface with more. */
static uint64_t mc_face_cap(int quality) {
  uint64_t n = (uint64_t)orf_quality_resolution(quality) + 12;
  return MC_FACES_PER_CELL2 * n * n;
}

size_t orf_estimate_repair_bytes(const orf_repair_params *p, const uint8_t *data, size_t file_bytes) {
  uint64_t tris = triangle_bound(data, file_bytes, p->max_nodes);
  if (tris > p->max_triangles) tris = p->max_triangles;
  uint64_t n = (uint64_t)orf_quality_resolution(p->quality) + 12;
  uint64_t points = n * n * n, faces = mc_face_cap(p->quality);
  uint64_t in = tris * MESH_BYTES_PER_TRIANGLE;
  /* the phases, one after the other; the largest is the peak */
  uint64_t import = importer_bytes(data, file_bytes, tris) + in; /* the child's, and the mesh it sends */
  uint64_t weld = in + tris * WELD_BYTES_PER_TRIANGLE;
  uint64_t grid = in + orf_wn_bytes((size_t)tris, (size_t)points) + faces * MC_BYTES_PER_FACE;
  uint64_t surface = in + tris * TREE_BYTES_PER_TRIANGLE + faces * BYTES_PER_MC_FACE;
  uint64_t b = import;
  if (weld > b) b = weld;
  if (p->remesh != ORF_REMESH_NEVER && grid > b) b = grid; /* never: no grid, no new surface */
  if (p->remesh != ORF_REMESH_NEVER && surface > b) b = surface;
  b += ENGINE_SLACK;
  return b > SIZE_MAX ? SIZE_MAX : (size_t)b;
}

/* ---- the pipeline ---------------------------------------------------- */

typedef struct rjob {
  const orf_repair_params *p;
  orf_job_opts *o;
  orf_repair_stage_fn on_stage;
  void *user;
  orf_repair_result *res;
  double t0;
  double mm_per_unit; /* unit frame to millimetres */
  float one[3];       /* {1, 1, 1} */
  float offset[3];    /* placement of the result after scaling */
  int coarsened_from; /* the grid asked for, when the surface was made on a coarser one */
  uint64_t coarsened_faces; /* the marching-cubes faces it would have had */
} rjob;

/* Scales m from the unit frame to millimetres and places it: centred on x
 * and y, resting on z = 0. */
static void place(orf_mesh *m, double mm_per_unit) {
  float k = (float)mm_per_unit, s[3] = {k, k, k}, o[3] = {0, 0, 0};
  orf_mesh_transform(m, s, o);
  float lo[3], hi[3];
  orf_mesh_bounds(m, lo, hi);
  float one[3] = {1, 1, 1}, off[3] = {-0.5f * (lo[0] + hi[0]), -0.5f * (lo[1] + hi[1]), -lo[2]};
  orf_mesh_transform(m, one, off);
}

static int emit(rjob *j, orf_repair_stage s, const orf_mesh *unit, int grid) {
  if (orf_cancelled(j->o->cancel)) return ORF_ECANCELED;
  if (!j->on_stage) return ORF_OK;
  orf_mesh c;
  int rc = orf_mesh_copy(&c, unit);
  if (rc) return rc;
  place(&c, j->mm_per_unit);
  rc = j->on_stage(j->user, s, &c, grid, now_ms() - j->t0) ? ORF_ECANCELED : ORF_OK;
  orf_mesh_free(&c);
  return rc;
}

typedef struct slice_ctx {
  const orf_wn_grid *g;
} slice_ctx;

/* Marching cubes' field: 1 - w, so that inside (w > 1/2) is below 1/2.
 * The grid's outer layer is held outside (1): a soup oriented so that a
 * point beyond its box sees w > 1/2 (the mouth of a cup turned inside out)
 * would otherwise cut the surface open at the grid's edge, and mc.h
 * closes a surface only when the boundary is outside. */
static void wn_slice(void *ctx, int k, float *out) {
  const orf_wn_grid *g = ((slice_ctx *)ctx)->g;
  int edge_k = k == 0 || k == g->nz - 1;
  for (int j = 0; j < g->ny; j++)
    for (int i = 0; i < g->nx; i++)
      out[(size_t)j * g->nx + i] = edge_k || j == 0 || j == g->ny - 1 || i == 0 || i == g->nx - 1
                                       ? 1.0f
                                       : 1.0f - orf_wn_grid_at(g, i, j, k);
}

/* The faces marching cubes will make of g's field as wn_slice gives it
 * (the table's count for each cell's case; the outer layer is outside),
 * counted before they are made: the memory estimate allows at most
 * mc_face_cap() of them.  A point is inside (1 - w < 1/2) exactly when its
 * quantised value is at least 32768 (orf_wn_grid_at). */
typedef struct count_ctx {
  const orf_wn_grid *g;
  _Atomic uint64_t faces;
} count_ctx;

static int inside_at(const orf_wn_grid *g, int i, int j, int k) {
  if (i <= 0 || j <= 0 || k <= 0 || i >= g->nx - 1 || j >= g->ny - 1 || k >= g->nz - 1) return 0;
  return g->w[((size_t)k * g->ny + j) * g->nx + i] >= 32768;
}

static void count_range(void *vctx, size_t begin, size_t end, int worker) {
  (void)worker;
  count_ctx *c = vctx;
  const orf_wn_grid *g = c->g;
  uint64_t faces = 0;
  for (size_t kk = begin; kk < end; kk++) {
    int k = (int)kk;
    for (int j = 0; j + 1 < g->ny; j++)
      for (int i = 0; i + 1 < g->nx; i++) {
        int cs = 0;
        for (int corner = 0; corner < 8; corner++)
          cs |= inside_at(g, i + (corner & 1), j + (corner >> 1 & 1), k + (corner >> 2)) << corner;
        faces += orf_mc_tri_count[cs];
      }
  }
  atomic_fetch_add(&c->faces, faces);
}

static uint64_t mc_face_count(const orf_wn_grid *g, int threads) {
  count_ctx c = {g, 0};
  orf_parallel_for(threads, (size_t)g->nz - 1, 1, count_range, &c);
  return atomic_load(&c.faces);
}

/* The surface w = 1/2 of tree t on a grid of `grid` cells along the unit
 * frame's longest side, smoothed; simplified to budget when budget > 0. */
static int solid_mesh(rjob *j, const orf_wn_tree *t, const orf_mesh *in, int *grid, size_t budget, int smooth,
                      orf_mesh *out) {
  float lo[3], hi[3];
  orf_mesh_bounds(in, lo, hi);
  orf_wn_grid g;
  uint64_t mc_faces, cap = mc_face_cap(j->p->quality);
  int rc;
  /* a surface with more marching-cubes faces than the memory estimate
   * allows is made on a coarser grid (faces go as the grid's side squared) */
  for (;;) {
    double t1 = now_ms();
    rc = orf_wn_grid_eval(t, lo, hi, 1.0 / *grid, j->o->threads, j->o->cancel, &g);
    if (rc) return rc;
    j->res->info.winding_ms += now_ms() - t1;
    j->res->info.winding_evals += g.exact_evals;
    mc_faces = mc_face_count(&g, j->o->threads);
    if (mc_faces <= cap) break;
    orf_wn_grid_free(&g);
    int coarser = (int)(*grid * sqrt((double)cap / (double)mc_faces) * 0.95);
    if (coarser < MIN_GRID || coarser >= *grid) {
      snprintf(j->res->info.message, sizeof j->res->info.message,
               "the surface is too intricate to repair: %llu faces before simplification on a grid of %d, "
               "more than the %llu the memory estimate allows at quality %d",
               (unsigned long long)mc_faces, *grid, (unsigned long long)cap, j->p->quality);
      return ORF_ETOOLARGE;
    }
    j->coarsened_from = j->coarsened_from ? j->coarsened_from : *grid;
    j->coarsened_faces = j->coarsened_faces ? j->coarsened_faces : mc_faces;
    *grid = coarser;
  }
  slice_ctx sc = {&g};
  orf_volume v = {g.nx,
                  g.ny,
                  g.nz,
                  {(float)g.origin[0], (float)g.origin[1], (float)g.origin[2]},
                  {(float)g.spacing, (float)g.spacing, (float)g.spacing},
                  wn_slice,
                  &sc};
  rc = orf_mc_extract(&v, 0.5f, j->o->threads, j->o->cancel, out);
  orf_wn_grid_free(&g);
  if (rc) return rc;
  if (!out->face_count) return ORF_OK;
  rc = smooth ? orf_mesh_smooth_taubin(out, SMOOTH_ITERS, TAUBIN_LAMBDA, TAUBIN_MU, j->o->threads) : ORF_OK;
  if (rc == ORF_OK && budget) {
    orf_mesh_report known = {.watertight = 1, .manifold = 1, .volume = 1};
    known.euler = (long)out->vertex_count - (long)(out->face_count / 2);
    known.components = orf_mesh_components(out);
    rc = known.components ? orf_mesh_simplify_known(out, budget, &known) : ORF_ENOMEM;
  }
  if (rc) orf_mesh_free(out);
  return rc;
}

/* Colours of out's vertices from the nearest vertex of in (which has them). */
static int carry_colors(const orf_mesh *in, orf_mesh *out) {
  orf_point_grid pg;
  int rc = orf_point_grid_build(&pg, in->positions, in->vertex_count);
  if (rc) return rc;
  out->colors = orf_malloc_array(out->vertex_count ? out->vertex_count : 1, 3);
  if (!out->colors) {
    orf_point_grid_free(&pg);
    return ORF_ENOMEM;
  }
  for (size_t v = 0; v < out->vertex_count; v++) {
    float d2;
    size_t n = orf_point_grid_nearest(&pg, out->positions + 3 * v, &d2);
    memcpy(out->colors + 3 * v, in->colors + 3 * n, 3);
  }
  orf_point_grid_free(&pg);
  return ORF_OK;
}

/* Vertices and face centroids of m, at most max of them (evenly strided),
 * into a new array of *n points. */
static float *samples(const orf_mesh *m, size_t max, size_t *n) {
  size_t total = m->vertex_count + m->face_count, step = total > max ? (total + max - 1) / max : 1;
  float *s = orf_malloc_array(total / step + 1, 3 * sizeof(float));
  if (!s) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < total; i += step, k++) {
    if (i < m->vertex_count) {
      memcpy(s + 3 * k, m->positions + 3 * i, 3 * sizeof(float));
      continue;
    }
    const uint32_t *t = m->indices + 3 * (i - m->vertex_count);
    for (int a = 0; a < 3; a++)
      s[3 * k + a] =
          (m->positions[3 * t[0] + a] + m->positions[3 * t[1] + a] + m->positions[3 * t[2] + a]) / 3;
  }
  *n = k;
  return s;
}

/* The sampled distance from in's surface to out's (vertices and face
 * centroids of in, each to the nearest triangle of out), and the
 * thin-part warning (both meshes placed in millimetres). */
static int measure(rjob *j, const orf_mesh *in, const orf_mesh *out) {
  orf_repair_info *info = &j->res->info;
  size_t ni;
  float *si = samples(in, MAX_SAMPLES, &ni);
  orf_wn_tree *t = si ? orf_wn_build(out) : NULL;
  if (!t) {
    orf_free(si);
    return ORF_ENOMEM;
  }
  double worst = 0, cell = info->cell_mm;
  size_t far = 0;
  for (size_t i = 0; i < ni; i++) {
    double q[3] = {si[3 * i], si[3 * i + 1], si[3 * i + 2]};
    double d = orf_wn_distance(t, q);
    if (d > worst) worst = d;
    /* far from the output and outside it: surface that was lost (a shell
     * inside the result, swallowed on purpose, does not count) */
    if (cell > 0 && d > 1.5 * cell && orf_wn_eval(t, q, ORF_WN_BETA) < 0.5) far++;
  }
  orf_wn_free(t);
  orf_free(si);
  info->hausdorff_mm = worst;
  info->far_share = ni ? (double)far / ni : 0;
  if (info->remeshed && far > 0 && info->far_share > 1e-3) {
    info->thin_warning = 1;
    info->min_thickness_mm = cell;
    snprintf(info->message, sizeof info->message,
             "parts thinner than %.3g mm (one grid cell at quality %d) were lost: %.1f%% of the input's "
             "surface lies farther than that from the result; the thinnest part kept is about %.3g mm; "
             "raise quality to keep them",
             cell, j->p->quality, 100 * info->far_share, cell);
  }
  return ORF_OK;
}

/* Places out in millimetres (remembering the transform in j for the
 * input), drops colours for style=plain, checks it and removes slivers
 * that float rounding made; *rep is its report. */
static int finish(rjob *j, orf_mesh *out, orf_mesh_report *rep) {
  if (!j->p->realistic) {
    orf_free(out->colors);
    out->colors = NULL;
  }
  float k = (float)j->mm_per_unit, s3[3] = {k, k, k}, zero[3] = {0, 0, 0};
  orf_mesh_transform(out, s3, zero);
  float lo[3], hi[3];
  orf_mesh_bounds(out, lo, hi);
  j->offset[0] = -0.5f * (lo[0] + hi[0]);
  j->offset[1] = -0.5f * (lo[1] + hi[1]);
  j->offset[2] = -lo[2];
  orf_mesh_transform(out, j->one, j->offset);
  int rc = orf_mesh_check(out, rep);
  if (rc == ORF_OK && rep->degenerate_faces && (rc = orf_mesh_fix_degenerate(out)) == ORF_OK)
    rc = orf_mesh_check(out, rep);
  return rc;
}

static int final_ok(const orf_mesh_report *rep) {
  return rep->watertight && rep->manifold && rep->volume > 0;
}

/* The longest side of m's bounding box, whose corners go to lo and hi. */
static double longest_side(const orf_mesh *m, float lo[3], float hi[3]) {
  orf_mesh_bounds(m, lo, hi);
  double ext = 0;
  for (int a = 0; a < 3; a++)
    if ((double)hi[a] - lo[a] > ext) ext = (double)hi[a] - lo[a];
  return ext;
}

/* m, whose box is lo..hi with longest side ext > 0, centred on the origin
 * and scaled to a longest side of 1: the unit frame. */
static void to_unit_frame(orf_mesh *m, const float lo[3], const float hi[3], double ext) {
  float k = (float)(1 / ext), s[3] = {k, k, k};
  float o[3] = {-0.5f * (lo[0] + hi[0]) * k, -0.5f * (lo[1] + hi[1]) * k, -0.5f * (lo[2] + hi[2]) * k};
  orf_mesh_transform(m, s, o);
}

static int repair(rjob *j, const uint8_t *data, size_t size, const char *hint) {
  const orf_repair_params *p = j->p;
  orf_repair_info *info = &j->res->info;
  orf_mesh in = {0}, out = {0};
  orf_wn_tree *tree = NULL;
  int gltf = 0;
  /* no more triangles than the memory estimate allowed for */
  orf_repair_params ip = *p;
  uint64_t bound = triangle_bound(data, size, p->max_nodes);
  if (bound < ip.max_triangles) ip.max_triangles = (size_t)bound;
  int rc = orf_mesh_import(data, size, hint, &ip, &j->o->limits, &in, &gltf, info);
  if (rc == ORF_ETOOLARGE && ip.max_triangles < p->max_triangles) {
    /* the limit the file ran into was the one its size allows: say so */
    char n1[48], n2[48];
    snprintf(n1, sizeof n1, "limit %zu)", ip.max_triangles);
    snprintf(n2, sizeof n2, "limit of %zu", ip.max_triangles);
    if (strstr(info->message, n1) || strstr(info->message, n2)) {
      size_t len = strlen(info->message);
      snprintf(info->message + len, sizeof info->message - len,
               ": what the memory estimate allows a file of %zu bytes (meshes instanced by many nodes, or "
               "polygons of many corners, make more)",
               size);
    }
    return rc;
  }
  if (rc) return rc;
  /* Y up to Z up: (x, y, z) -> (x, -z, y) */
  if (p->up == ORF_UP_Y || (p->up == ORF_UP_AUTO && gltf))
    for (size_t v = 0; v < in.vertex_count; v++) {
      float *q = in.positions + 3 * v, y = q[1];
      q[1] = -q[2];
      q[2] = y;
    }
  float lo[3], hi[3];
  double ext = longest_side(&in, lo, hi);
  if (!(ext > 0) || !isfinite(ext)) {
    snprintf(info->message, sizeof info->message, "the mesh has no extent (all its vertices coincide)");
    rc = ORF_EBADMESH;
    goto out;
  }
  static const double kUnitMm[] = {1, 1, 10, 1000, 25.4};
  double unit_mm = p->units == ORF_UNITS_AUTO ? (gltf ? 1000 : 1) : kUnitMm[p->units];
  j->mm_per_unit = p->size_mm > 0 ? p->size_mm : ext * unit_mm;
  to_unit_frame(&in, lo, hi, ext);
  if ((rc = orf_repair_weld(&in, p->weld * sqrt(3.0), info))) goto out;
  orf_mesh_report rep;
  if ((rc = orf_mesh_check(&in, &rep))) goto out;
  info->open_edges = rep.boundary_edges;
  info->nonmanifold_edges = rep.nonmanifold_edges;
  info->components = rep.components;
  double largest;
  if ((rc = orf_repair_orient(&in, p->min_component, info, &largest))) goto out;
  if (!in.face_count) {
    snprintf(info->message, sizeof info->message, "no faces are left after welding");
    rc = ORF_EBADMESH;
    goto out;
  }
  /* the unit frame's box has volume at most 1: a largest part under 1e-9 of
   * it is a sheet, lines or points, not a solid */
  if (largest < 1e-9) {
    snprintf(info->message, sizeof info->message,
             "the mesh encloses no volume (an open sheet or a flat surface): nothing solid to print");
    rc = ORF_EBADMESH;
    goto out;
  }
  /* The unit frame again, on what is kept: with the floaters gone the
   * body may be smaller than the file's extent, and it is the body that
   * size_mm measures and the grid's R(quality) cells span (a speck far
   * from the body made the body come out smaller than asked, on a coarser
   * grid). */
  double kept = longest_side(&in, lo, hi);
  if (kept > 0 && kept < 1) {
    to_unit_frame(&in, lo, hi, kept);
    j->mm_per_unit = p->size_mm > 0 ? p->size_mm : j->mm_per_unit * kept;
  }
  if ((rc = orf_mesh_check(&in, &rep))) goto out;
  info->input_volume_mm3 = rep.volume * j->mm_per_unit * j->mm_per_unit * j->mm_per_unit;
  if ((rc = emit(j, ORF_REPAIR_IMPORTED, &in, 0))) goto out;
  int closed = rep.watertight && rep.manifold && rep.volume > 0, overlap = 0;
  /* closed shells inside or through each other (double shells, overlapping
   * parts) are not one printable solid: they are remeshed */
  if (closed && rep.components > 1 && (rc = orf_repair_overlapping(&in, &overlap))) goto out;
  closed = closed && !overlap;
  if (p->remesh == ORF_REMESH_NEVER && !closed) {
    snprintf(info->message, sizeof info->message,
             "the mesh is not closed and manifold (%zu open, %zu non-manifold edges) and remesh=never",
             rep.boundary_edges, rep.nonmanifold_edges);
    rc = ORF_EBADMESH;
    goto out;
  }
  if (closed && p->remesh != ORF_REMESH_ALWAYS) {
    if ((rc = orf_mesh_copy(&out, &in))) goto out;
  } else {
    info->remeshed = 1;
    int grid = orf_quality_resolution(p->quality);
    info->grid = grid;
    info->cell_mm = j->mm_per_unit / grid;
    if (!(tree = orf_wn_build(&in))) {
      rc = ORF_ENOMEM;
      goto out;
    }
    if (j->on_stage && grid > ROUGH_GRID) {
      orf_mesh rough;
      int rough_grid = ROUGH_GRID;
      if ((rc = solid_mesh(j, tree, &in, &rough_grid, 0, 1, &rough))) goto out;
      j->coarsened_from = 0;
      j->coarsened_faces = 0;
      rc = rough.face_count ? emit(j, ORF_REPAIR_ROUGH, &rough, rough_grid) : ORF_OK;
      orf_mesh_free(&rough);
      if (rc) goto out;
    }
    size_t budget = (size_t)(p->max_faces ? p->max_faces : orf_quality_faces(p->quality));
    /* Smoothing and simplification can, rarely, leave slivers that
     * orf_mesh_fix_degenerate cannot remove (seen on fuzzed soups a grid
     * cell across): then the surface is made again without smoothing, and
     * at last without simplification, whose marching-cubes mesh is closed,
     * manifold and free of degenerate faces by contract (mc.h). */
    for (int attempt = 0;; attempt++) {
      orf_mesh_free(&out);
      if ((rc = solid_mesh(j, tree, &in, &grid, attempt < 2 ? budget : 0, attempt == 0, &out))) goto out;
      info->grid = grid;
      info->cell_mm = j->mm_per_unit / grid;
      if (!out.face_count) {
        snprintf(info->message, sizeof info->message,
                 "the mesh encloses no solid at quality %d (an open sheet, or thinner than a grid cell)",
                 p->quality);
        rc = ORF_EBADMESH;
        goto out;
      }
      if (p->realistic && in.colors && (rc = carry_colors(&in, &out))) goto out;
      if ((rc = finish(j, &out, &rep))) goto out;
      if (final_ok(&rep) || attempt == 2) break;
    }
  }
  if (!info->remeshed && (rc = finish(j, &out, &rep))) goto out;
  if (!final_ok(&rep)) {
    rc = ORF_EINTERNAL;
    goto out;
  }
  /* the input in the output's frame, for the distance figures */
  {
    float k = (float)j->mm_per_unit, s3[3] = {k, k, k}, zero[3] = {0, 0, 0};
    orf_mesh_transform(&in, s3, zero);
    orf_mesh_transform(&in, j->one, j->offset);
  }
  if ((rc = measure(j, &in, &out))) goto out;
  if (j->coarsened_from) {
    info->coarsened = 1;
    if (info->thin_warning)
      snprintf(info->message, sizeof info->message,
               "made on a grid of %d, not %d: the surface was too intricate for quality %d's memory estimate; "
               "parts thinner than %.3g mm were lost (%.1f%% of the input's surface)",
               info->grid, j->coarsened_from, p->quality, info->cell_mm, 100 * info->far_share);
    else
      snprintf(info->message, sizeof info->message,
               "the surface was too intricate for the grid of %d at quality %d (%llu faces before "
               "simplification, the memory estimate allows %llu): it was made on a grid of %d",
               j->coarsened_from, p->quality, (unsigned long long)j->coarsened_faces,
               (unsigned long long)mc_face_cap(p->quality), info->grid);
  }
  j->res->report = rep;
  /* the result is placed already: handed to the caller as it is */
  if (j->on_stage && j->on_stage(j->user, ORF_REPAIR_FINAL, &out, info->grid, now_ms() - j->t0)) {
    rc = ORF_ECANCELED;
    goto out;
  }
  j->res->mesh = out;
  memset(&out, 0, sizeof out);
out:
  orf_wn_free(tree);
  orf_mesh_free(&in);
  orf_mesh_free(&out);
  return rc;
}

int orf_repair(const uint8_t *data, size_t size, const char *hint, const orf_repair_params *p,
               orf_job_opts *opts, orf_repair_stage_fn on_stage, void *user, orf_repair_result *out) {
  memset(out, 0, sizeof *out);
  orf_job_opts defaults;
  if (!opts) {
    orf_job_opts_init(&defaults);
    opts = &defaults;
  }
  if (p->quality < 1 || p->quality > 10 || (p->size_mm != 0 && (p->size_mm < 1 || p->size_mm > 1000)) ||
      p->min_component < 0 || p->min_component > 0.5 || p->weld < 0 || p->weld > 0.01 || p->max_faces < 0) {
    snprintf(out->info.message, sizeof out->info.message, "a repair parameter is out of range");
    return ORF_EINVAL;
  }
  if (opts->threads <= 0) opts->threads = orf_cpu_count();
  opts->device_used = ORF_DEVICE_CPU;
  orf_memtrack track = {0};
  orf_memtrack *prev = orf_memtrack_get();
  orf_memtrack *use = prev ? prev : &track;
  if (!prev) orf_memtrack_set(&track);
  size_t base = atomic_load(&use->current);
  atomic_store(&use->peak, base);
  rjob j = {p, opts, on_stage, user, out, now_ms(), 1, {1, 1, 1}, {0, 0, 0}, 0, 0};
  int rc = repair(&j, data, size, hint);
  out->info.total_ms = now_ms() - j.t0;
  opts->peak_bytes = atomic_load(&use->peak) - base;
  if (rc) orf_repair_result_free(out);
  if (!prev) orf_memtrack_set(NULL);
  return rc;
}
