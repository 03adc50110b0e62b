/*
 * orient.c - the first half of repair: weld, de-duplicate, orient, drop
 * floaters.
 *
 * The generalized winding number (winding.c) sums signed solid angles, so
 * it assumes faces oriented consistently; meshes from generators often
 * have a share flipped, and STL files are unwelded soups in which no face
 * knows its neighbour.  So, in order:
 *  1. weld: vertices within a tolerance (relative to the model's size) are
 *     merged, with a hash grid of cells twice the tolerance (each vertex
 *     looks in the 8 cells its tolerance box touches), in index order, so
 *     the result does not depend on anything but the input;
 *  2. faces that became degenerate (a repeated index) and exact duplicates
 *     are dropped;
 *  3. orientation is propagated breadth-first across manifold edges (edges
 *     of exactly two faces), the classical consistent-orientation pass of
 *     mesh repair (e.g. T. Murali and T. Funkhouser, "Consistent solid and
 *     boundary representations from arbitrary polygonal data", I3D 1997,
 *     whose solid/outward step we replace by the winding number), and each
 *     resulting patch is turned outward by the sign of its volume about its
 *     own centroid;
 *  4. connected components whose volume is a tiny share of the largest's
 *     are floaters: dropped and counted.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adjacency.h"
#include "alloc.h"
#include "mesh.h"
#include "repair.h"

#define NONE UINT32_MAX

static uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

static uint64_t cell_hash(int64_t x, int64_t y, int64_t z) {
  return mix((uint64_t)x * 0x9e3779b97f4a7c15ull ^ mix((uint64_t)y + 0x632be59bd9b4e019ull) ^
             mix((uint64_t)z * 0x85ebca6bull + 7));
}

int orf_repair_weld(orf_mesh *m, double tol, orf_repair_info *info) {
  size_t n = m->vertex_count, nf = m->face_count;
  size_t cap = 16;
  while (cap < 2 * n)
    cap *= 2;
  int64_t *keys = orf_malloc_array(cap * 3, sizeof *keys);
  uint32_t *head = orf_malloc_array(cap, sizeof *head);
  uint32_t *next = orf_malloc_array(n ? n : 1, sizeof *next);
  uint32_t *map = orf_malloc_array(n ? n : 1, sizeof *map);
  int rc = ORF_ENOMEM;
  if (!keys || !head || !next || !map) goto out;
  for (size_t i = 0; i < cap; i++)
    head[i] = NONE;
  double c = tol > 0 ? 2 * tol : 1e-30, t2 = tol * tol;
  size_t reps = 0;
  for (size_t v = 0; v < n; v++) {
    const float *p = m->positions + 3 * v;
    int64_t ci[3], cj[3];
    for (int a = 0; a < 3; a++) {
      double u = p[a] / c;
      ci[a] = (int64_t)floor(u);
      cj[a] = u - (double)ci[a] < 0.5 ? ci[a] - 1 : ci[a] + 1;
    }
    uint32_t found = NONE;
    for (int corner = 0; corner < 8 && found == NONE; corner++) {
      int64_t x = corner & 1 ? cj[0] : ci[0], y = corner & 2 ? cj[1] : ci[1], z = corner & 4 ? cj[2] : ci[2];
      if (tol <= 0 && corner) break;
      for (size_t s = cell_hash(x, y, z) & (cap - 1); head[s] != NONE; s = (s + 1) & (cap - 1)) {
        if (keys[3 * s] != x || keys[3 * s + 1] != y || keys[3 * s + 2] != z) continue;
        for (uint32_t r = head[s]; r != NONE && found == NONE; r = next[r]) {
          const float *q = m->positions + 3 * r;
          double dx = (double)p[0] - q[0], dy = (double)p[1] - q[1], dz = (double)p[2] - q[2];
          if (dx * dx + dy * dy + dz * dz <= t2) found = r;
        }
        break;
      }
    }
    if (found != NONE) {
      map[v] = found;
      continue;
    }
    map[v] = (uint32_t)v;
    reps++;
    size_t s = cell_hash(ci[0], ci[1], ci[2]) & (cap - 1);
    while (head[s] != NONE && (keys[3 * s] != ci[0] || keys[3 * s + 1] != ci[1] || keys[3 * s + 2] != ci[2]))
      s = (s + 1) & (cap - 1);
    if (head[s] == NONE) {
      keys[3 * s] = ci[0];
      keys[3 * s + 1] = ci[1];
      keys[3 * s + 2] = ci[2];
    }
    next[v] = head[s];
    head[s] = (uint32_t)v;
  }
  /* faces: remap, drop degenerate ones, then duplicates (a hash set of
   * sorted triples, reusing the key table) */
  size_t kept = 0, degenerate = 0, duplicate = 0;
  for (size_t i = 0; i < cap; i++)
    head[i] = NONE;
  size_t fcap = 16;
  while (fcap < 2 * nf)
    fcap *= 2;
  uint32_t *fset = orf_malloc_array(fcap, sizeof *fset);
  if (!fset) goto out;
  for (size_t i = 0; i < fcap; i++)
    fset[i] = NONE;
  for (size_t f = 0; f < nf; f++) {
    uint32_t a = map[m->indices[3 * f]], b = map[m->indices[3 * f + 1]], d = map[m->indices[3 * f + 2]];
    if (a == b || b == d || a == d) {
      degenerate++;
      continue;
    }
    uint32_t s0 = a < b ? a : b, s2 = a < b ? b : a, s1;
    if (d < s0) {
      s1 = s0;
      s0 = d;
    } else if (d > s2) {
      s1 = s2;
      s2 = d;
    } else {
      s1 = d;
    }
    size_t s = mix(((uint64_t)s0 << 32 | s1) ^ mix(s2)) & (fcap - 1);
    int dup = 0;
    for (; fset[s] != NONE; s = (s + 1) & (fcap - 1)) {
      const uint32_t *t = m->indices + 3 * (size_t)fset[s];
      uint32_t u0 = t[0] < t[1] ? t[0] : t[1], u2 = t[0] < t[1] ? t[1] : t[0], u1;
      if (t[2] < u0) {
        u1 = u0;
        u0 = t[2];
      } else if (t[2] > u2) {
        u1 = u2;
        u2 = t[2];
      } else {
        u1 = t[2];
      }
      if (u0 == s0 && u1 == s1 && u2 == s2) {
        dup = 1;
        break;
      }
    }
    if (dup) {
      duplicate++;
      continue;
    }
    fset[s] = (uint32_t)kept;
    m->indices[3 * kept] = a;
    m->indices[3 * kept + 1] = b;
    m->indices[3 * kept + 2] = d;
    kept++;
  }
  orf_free(fset);
  m->face_count = kept;
  rc = orf_mesh_compact(m);
  if (info) {
    info->degenerate_dropped += degenerate;
    info->duplicate_dropped += duplicate;
    info->welded_vertices = m->vertex_count;
  }
  (void)reps;
out:
  orf_free(keys);
  orf_free(head);
  orf_free(next);
  orf_free(map);
  return rc;
}

static void flip_face(orf_mesh *m, size_t f) {
  uint32_t t = m->indices[3 * f + 1];
  m->indices[3 * f + 1] = m->indices[3 * f + 2];
  m->indices[3 * f + 2] = t;
}

/* 6 x the signed volume of the tetrahedron (c, a, b, d). */
static double tet6(const float *a, const float *b, const float *d, const double c[3]) {
  double u[3], v[3], w[3];
  for (int k = 0; k < 3; k++) {
    u[k] = a[k] - c[k];
    v[k] = b[k] - c[k];
    w[k] = d[k] - c[k];
  }
  return u[0] * (v[1] * w[2] - v[2] * w[1]) - u[1] * (v[0] * w[2] - v[2] * w[0]) +
         u[2] * (v[0] * w[1] - v[1] * w[0]);
}

int orf_repair_orient(orf_mesh *m, double min_share, orf_repair_info *info, double *largest_volume) {
  size_t nf = m->face_count, nv = m->vertex_count;
  *largest_volume = 0;
  if (!nf) return ORF_OK;
  orf_edges e;
  int rc = orf_edges_build(&e, m);
  if (rc) return rc;
  uint32_t *nb = orf_malloc_array(3 * nf, sizeof *nb);
  uint32_t *patch = orf_malloc_array(nf, sizeof *patch);
  uint32_t *queue = orf_malloc_array(nf, sizeof *queue);
  uint8_t *flip = orf_calloc(nf, 1);
  uint8_t *orig_flip = orf_calloc(nf, 1);
  uint32_t *parent = orf_malloc_array(nv, sizeof *parent);
  double *pv = NULL, *pc = NULL, *comp_vol = NULL;
  uint32_t *patch_first = NULL;
  rc = ORF_ENOMEM;
  if (!nb || !patch || !queue || !flip || !orig_flip || !parent) goto out;
  for (size_t i = 0; i < 3 * nf; i++)
    nb[i] = NONE;
  for (size_t ed = 0; ed < e.edge_count; ed++)
    if (e.first[ed + 1] - e.first[ed] == 2) {
      uint32_t h1 = e.half[e.first[ed]], h2 = e.half[e.first[ed] + 1];
      if (h1 / 3 != h2 / 3) {
        nb[h1] = h2;
        nb[h2] = h1;
      }
    }
  /* breadth-first propagation of orientation over manifold edges */
  size_t patches = 0;
  for (size_t i = 0; i < nf; i++)
    patch[i] = NONE;
  for (size_t seed = 0; seed < nf; seed++) {
    if (patch[seed] != NONE) continue;
    size_t qh = 0, qt = 0;
    queue[qt++] = (uint32_t)seed;
    patch[seed] = (uint32_t)patches;
    while (qh < qt) {
      uint32_t f = queue[qh++];
      for (int k = 0; k < 3; k++) {
        uint32_t h = 3 * f + (uint32_t)k, g = nb[h];
        if (g == NONE || patch[g / 3] != NONE) continue;
        uint32_t fa, fb, ga, gb;
        orf_half_ends(m, h, &fa, &fb);
        orf_half_ends(m, g, &ga, &gb);
        flip[g / 3] = flip[f] ^ (fa == ga);
        patch[g / 3] = (uint32_t)patches;
        queue[qt++] = g / 3;
      }
    }
    patches++;
  }
  for (size_t f = 0; f < nf; f++)
    if (flip[f]) {
      flip_face(m, f);
      orig_flip[f] = 1;
    }
  /* each patch outward by its signed volume about its centroid */
  pv = orf_calloc(patches, sizeof *pv);
  pc = orf_calloc(4 * patches, sizeof *pc);
  patch_first = orf_malloc_array(patches, sizeof *patch_first);
  if (!pv || !pc || !patch_first) goto out;
  for (size_t p = 0; p < patches; p++)
    patch_first[p] = NONE;
  for (size_t f = 0; f < nf; f++) {
    double a = orf_face_area(m, f);
    size_t p = patch[f];
    if (patch_first[p] == NONE) patch_first[p] = (uint32_t)f;
    for (int k = 0; k < 3; k++) {
      double c = 0;
      for (int v = 0; v < 3; v++)
        c += m->positions[3 * m->indices[3 * f + v] + k];
      pc[4 * p + k] += a * c / 3;
    }
    pc[4 * p + 3] += a;
  }
  for (size_t p = 0; p < patches; p++)
    for (int k = 0; k < 3; k++)
      pc[4 * p + k] = pc[4 * p + 3] > 0 ? pc[4 * p + k] / pc[4 * p + 3] : 0;
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = m->indices + 3 * f;
    pv[patch[f]] +=
        tet6(m->positions + 3 * t[0], m->positions + 3 * t[1], m->positions + 3 * t[2], pc + 4 * patch[f]) /
        6;
  }
  size_t flipped = 0;
  for (size_t f = 0; f < nf; f++) {
    if (pv[patch[f]] < 0) {
      flip_face(m, f);
      orig_flip[f] ^= 1;
    }
    flipped += orig_flip[f];
  }
  /* components through shared vertices; their volume; floaters */
  for (size_t v = 0; v < nv; v++)
    parent[v] = (uint32_t)v;
  for (size_t f = 0; f < nf; f++) {
    orf_uf_union(parent, m->indices[3 * f], m->indices[3 * f + 1]);
    orf_uf_union(parent, m->indices[3 * f], m->indices[3 * f + 2]);
  }
  comp_vol = orf_calloc(nv, sizeof *comp_vol);
  if (!comp_vol) goto out;
  double largest = 0;
  for (size_t p = 0; p < patches; p++) {
    uint32_t r = orf_uf_find(parent, m->indices[3 * (size_t)patch_first[p]]);
    comp_vol[r] += fabs(pv[p]);
  }
  size_t comps = 0;
  for (size_t v = 0; v < nv; v++)
    if (parent[v] == v) {
      comps++;
      if (comp_vol[v] > largest) largest = comp_vol[v];
    }
  *largest_volume = largest;
  size_t floaters = 0, floater_faces = 0, kept = 0;
  double cut = largest * min_share;
  for (size_t v = 0; v < nv; v++)
    if (parent[v] == v && comp_vol[v] < cut) floaters++;
  for (size_t f = 0; f < nf; f++) {
    uint32_t r = orf_uf_find(parent, m->indices[3 * f]);
    if (comp_vol[r] < cut) {
      floater_faces++;
      continue;
    }
    memmove(m->indices + 3 * kept, m->indices + 3 * f, 3 * sizeof *m->indices);
    kept++;
  }
  m->face_count = kept;
  rc = orf_mesh_compact(m);
  if (info) {
    info->flipped_faces += flipped;
    info->floaters_dropped += floaters;
    info->floater_faces_dropped += floater_faces;
  }
  (void)comps;
out:
  orf_edges_free(&e);
  orf_free(nb);
  orf_free(patch);
  orf_free(queue);
  orf_free(flip);
  orf_free(orig_flip);
  orf_free(parent);
  orf_free(pv);
  orf_free(pc);
  orf_free(patch_first);
  orf_free(comp_vol);
  return rc;
}

typedef struct comp_box {
  float lo[3], hi[3];
} comp_box;

static int by_min_x(const void *a, const void *b) {
  const comp_box *x = a, *y = b;
  return x->lo[0] < y->lo[0] ? -1 : x->lo[0] > y->lo[0];
}

int orf_repair_overlapping(const orf_mesh *m, int *overlap) {
  size_t nv = m->vertex_count;
  *overlap = 0;
  uint32_t *parent = orf_malloc_array(nv ? nv : 1, sizeof *parent);
  uint32_t *slot = orf_malloc_array(nv ? nv : 1, sizeof *slot);
  comp_box *box = orf_malloc_array(nv ? nv : 1, sizeof *box);
  int rc = ORF_ENOMEM;
  if (!parent || !slot || !box) goto out;
  for (size_t v = 0; v < nv; v++)
    parent[v] = (uint32_t)v;
  for (size_t f = 0; f < m->face_count; f++) {
    orf_uf_union(parent, m->indices[3 * f], m->indices[3 * f + 1]);
    orf_uf_union(parent, m->indices[3 * f], m->indices[3 * f + 2]);
  }
  size_t n = 0;
  for (size_t v = 0; v < nv; v++)
    if (parent[v] == v) slot[v] = (uint32_t)n++;
  for (size_t c = 0; c < n; c++)
    for (int k = 0; k < 3; k++) {
      box[c].lo[k] = INFINITY;
      box[c].hi[k] = -INFINITY;
    }
  for (size_t v = 0; v < nv; v++) {
    comp_box *b = &box[slot[orf_uf_find(parent, (uint32_t)v)]];
    for (int k = 0; k < 3; k++) {
      float x = m->positions[3 * v + k];
      if (x < b->lo[k]) b->lo[k] = x;
      if (x > b->hi[k]) b->hi[k] = x;
    }
  }
  /* sweep along x: only boxes whose x ranges meet are compared */
  qsort(box, n, sizeof *box, by_min_x);
  for (size_t i = 0; i < n && !*overlap; i++)
    for (size_t j = i + 1; j < n && box[j].lo[0] <= box[i].hi[0] && !*overlap; j++)
      *overlap = box[j].lo[1] <= box[i].hi[1] && box[i].lo[1] <= box[j].hi[1] &&
                 box[j].lo[2] <= box[i].hi[2] && box[i].lo[2] <= box[j].hi[2];
  rc = ORF_OK;
out:
  orf_free(parent);
  orf_free(slot);
  orf_free(box);
  return rc;
}
