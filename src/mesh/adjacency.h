/*
 * adjacency.h - the edge structure of a triangle mesh, shared by the mesh
 * checker (check.c), Taubin smoothing (smooth.c) and decimation (simplify.c).
 *
 * Half-edges (corner k of face f runs from t[k] to t[(k+1)%3]; its id is
 * 3f+k) are grouped by undirected edge with a counting sort on the smaller
 * endpoint, then by the larger one: a compressed-sparse-row (CSR) layout
 * built in O(F + V) time, the same bytes every run.  From it come the
 * undirected edges with the faces around each (check), and the one-ring of
 * each vertex (the umbrella operator of smoothing).
 *
 * Faces with a repeated index ("collapsed" faces) have no proper edges and
 * are left out of the structure entirely; the checker counts them as
 * degenerate.
 */
#ifndef ORF_ADJACENCY_H
#define ORF_ADJACENCY_H

#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

/* Undirected edges of a mesh and the half-edges on each.  Edges are sorted
 * by (lo, hi), lo < hi their endpoints; the half-edges of edge e are
 * half[first[e] .. first[e+1]), ascending (so by face). */
typedef struct orf_edges {
  size_t vertex_count, face_count; /* of the mesh it was built from */
  size_t edge_count;
  size_t half_count; /* 3 x the faces with three distinct indices */
  uint32_t *first;   /* edge_count + 1 offsets into half */
  uint32_t *half;    /* half-edge ids 3f+k, grouped by edge */
} orf_edges;

/* Builds the edges of *m into *e (which the caller frees with
 * orf_edges_free).  Returns ORF_OK, ORF_EINVAL for an index >= vertex_count
 * or more than UINT32_MAX/3 faces, or ORF_ENOMEM; on error *e is empty. */
int orf_edges_build(orf_edges *e, const orf_mesh *m);

/* Frees what *e owns and zeroes it.  Safe on a zeroed struct. */
void orf_edges_free(orf_edges *e);

/* Endpoints of the half-edge h = 3f+k of mesh m: *from = t[k], *to = t[k+1]. */
static inline void orf_half_ends(const orf_mesh *m, uint32_t h, uint32_t *from, uint32_t *to) {
  uint32_t f = h / 3, k = h % 3;
  *from = m->indices[3 * (size_t)f + k];
  *to = m->indices[3 * (size_t)f + (k == 2 ? 0 : k + 1)];
}

/* Endpoints lo < hi of edge `edge` of *e (built from m). */
static inline void orf_edge_ends(const orf_edges *e, const orf_mesh *m, size_t edge, uint32_t *lo,
                                 uint32_t *hi) {
  uint32_t a, b;
  orf_half_ends(m, e->half[e->first[edge]], &a, &b);
  *lo = a < b ? a : b;
  *hi = a < b ? b : a;
}

/* For every face f of m (whose edges are *e), same[f] = the lowest-numbered
 * face with the same three vertices, in any order or orientation (f itself
 * when no earlier face has them, and for collapsed faces).  same holds
 * face_count entries.  Returns ORF_OK or ORF_ENOMEM. */
int orf_faces_same(const orf_edges *e, const orf_mesh *m, uint32_t *same);

/* Area of face f of m, in double (0 for a collapsed face). */
double orf_face_area(const orf_mesh *m, size_t f);

/* The area at or under which a face of m counts as degenerate (check.c,
 * simplify.c): 1e-12 x the squared diagonal of the bounding box of all of
 * m's vertices - zero area, or below what float coordinates resolve. */
double orf_degenerate_area(const orf_mesh *m);

/* The one-ring of every vertex: the neighbours of v (vertices joined to it
 * by an edge) are nbr[start[v] .. start[v+1]), ascending. */
typedef struct orf_neighbors {
  size_t vertex_count;
  uint32_t *start; /* vertex_count + 1 */
  uint32_t *nbr;   /* 2 x edge_count */
} orf_neighbors;

/* Builds the one-rings of the mesh m whose edges are *e into *n (freed with
 * orf_neighbors_free).  Returns ORF_OK or ORF_ENOMEM (*n then empty). */
int orf_neighbors_build(orf_neighbors *n, const orf_edges *e, const orf_mesh *m);

/* Frees what *n owns and zeroes it.  Safe on a zeroed struct. */
void orf_neighbors_free(orf_neighbors *n);

#endif
