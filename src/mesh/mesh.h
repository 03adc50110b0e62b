/*
 * mesh.h - operations on orf_mesh inside the engine: allocation (through
 * orf_malloc, so meshes count against the job), bounds, transforms,
 * normals and compaction.  Checking, smoothing and simplification have
 * their own files (check.c, smooth.h, simplify.h).
 */
#ifndef ORF_MESH_H
#define ORF_MESH_H

#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

/* Allocates a mesh of the given counts (contents uninitialised); colors only
 * when with_colors.  Returns ORF_OK or ORF_ENOMEM (*m then empty). */
int orf_mesh_alloc(orf_mesh *m, size_t vertices, size_t faces, int with_colors);

/* Axis-aligned bounds of the vertices (zeros for an empty mesh). */
void orf_mesh_bounds(const orf_mesh *m, float min[3], float max[3]);

/* p' = p * scale + offset, per axis. */
void orf_mesh_transform(orf_mesh *m, const float scale[3], const float offset[3]);

/* Area-weighted unit vertex normals into normals[3*vertex_count]
 * (a vertex of no face gets (0,0,1)). */
void orf_mesh_vertex_normals(const orf_mesh *m, float *normals);

/* Drops vertices no face uses, keeping the order of the others; indices are
 * rewritten.  Returns ORF_OK or ORF_ENOMEM. */
int orf_mesh_compact(orf_mesh *m);

/* Union-find over indices (parent[i] == i for a root), with path halving.
 * The smaller root wins a union, so the sets and their roots depend only on
 * the order of the calls: deterministic.  Used by the checker, the
 * simplifier's repairs and orf_mesh_components. */
static inline uint32_t orf_uf_find(uint32_t *parent, uint32_t x) {
  while (parent[x] != x) {
    parent[x] = parent[parent[x]];
    x = parent[x];
  }
  return x;
}

static inline void orf_uf_union(uint32_t *parent, uint32_t a, uint32_t b) {
  a = orf_uf_find(parent, a);
  b = orf_uf_find(parent, b);
  if (a < b)
    parent[b] = a;
  else if (b < a)
    parent[a] = b;
}

/* Number of connected components of the faces, joined through shared
 * vertices (for a vertex-manifold mesh the same as through shared edges,
 * as orf_mesh_check counts them).  Returns 0 on allocation failure for a
 * mesh with faces. */
size_t orf_mesh_components(const orf_mesh *m);

#endif
