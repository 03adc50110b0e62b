/*
 * check.c - orf_mesh_check(): the figures and topology of a triangle mesh,
 * the verification every output of the engine goes through (docs/ENGINE.md,
 * "What every output mesh guarantees").
 *
 * Edges come from the CSR edge structure of adjacency.c (counting sort,
 * O(F + V)).  Per undirected edge: one half-edge is a boundary, more than
 * two is non-manifold, two in the same direction is misoriented.  Vertex
 * manifoldness is the "one fan" test: the corners of the faces around a
 * vertex are joined, with union-find, across every edge they share; a vertex
 * whose corners end in more than one set has more than one fan (two cones
 * touching at their tips).  On an edge-manifold mesh the link of a vertex is
 * then a single path or cycle, i.e. a disc or half-disc.  Components are
 * faces joined by shared edges (union-find again).  Volume is the divergence
 * theorem sum of signed tetrahedra (det/6) taken about the bounding box
 * centre, in double, as is the area.
 *
 * Definitions (the contract behind orf_mesh_report's comments):
 *  - a "collapsed" face has a repeated index; it is degenerate and takes no
 *    part in edges, fans, components, duplicates or Euler's V/E/F.
 *  - a face is degenerate when collapsed or when its area is <= 1e-12 x the
 *    squared bounding-box diagonal (zero, NaN, or below float resolution).
 *  - duplicate_faces: faces with the same three vertices (any order or
 *    orientation) as a face earlier in the array (n copies count n-1).
 *  - unused_vertices: vertices no face (not even a collapsed one) indexes.
 *  - euler = V - E + F over the faces that are not collapsed and the
 *    vertices they use.
 *  - components: sets of non-collapsed faces connected through shared edges
 *    (two cones touching at a tip are two components).
 *  - watertight: at least one non-collapsed face, and every edge has exactly
 *    two half-edges, in opposite directions.
 *  - manifold: at least one non-collapsed face, no non-manifold or
 *    misoriented edge, no non-manifold vertex, no degenerate or duplicate
 *    face (an oriented 2-manifold, possibly with boundary: closedness is
 *    `watertight`).  The engine requires watertight && manifold.
 *  - bbox: over all vertices, used or not (orf_mesh_bounds).
 */
#include <stdlib.h>
#include <string.h>

#include "adjacency.h"
#include "alloc.h"
#include "mesh.h"

/* flag bits per vertex */
#define USED_ANY 1u    /* indexed by some face */
#define USED_PROPER 2u /* indexed by a non-collapsed face */
#define FAN_SHIFT 2    /* bits 2-3: fans seen, saturating at 2 */

/* Area, volume, degenerate faces and vertex use: one pass over the faces. */
static void face_pass(const orf_mesh *m, uint8_t *flags, orf_mesh_report *r, size_t *proper_faces) {
  double c[3];
  for (int a = 0; a < 3; a++)
    c[a] = 0.5 * ((double)r->bbox_min[a] + (double)r->bbox_max[a]);
  double eps = orf_degenerate_area(m);
  double area = 0, vol6 = 0;
  size_t proper = 0, degenerate = 0;
  for (size_t f = 0; f < m->face_count; f++) {
    const uint32_t *t = m->indices + 3 * f;
    int collapsed = t[0] == t[1] || t[1] == t[2] || t[2] == t[0];
    uint8_t use = collapsed ? USED_ANY : USED_ANY | USED_PROPER;
    double p[3][3];
    for (int k = 0; k < 3; k++) {
      flags[t[k]] |= use;
      for (int a = 0; a < 3; a++)
        p[k][a] = (double)m->positions[3 * (size_t)t[k] + a] - c[a];
    }
    double fa = orf_face_area(m, f);
    /* det(p0, p1, p2) = p0 . (p1 x p2), about the box centre for precision */
    double det = p[0][0] * (p[1][1] * p[2][2] - p[1][2] * p[2][1]) -
                 p[0][1] * (p[1][0] * p[2][2] - p[1][2] * p[2][0]) +
                 p[0][2] * (p[1][0] * p[2][1] - p[1][1] * p[2][0]);
    if (!collapsed) {
      proper++;
      area += fa;
      vol6 += det;
    }
    if (collapsed || !(fa > eps)) degenerate++;
  }
  r->area = area;
  r->volume = vol6 / 6.0;
  r->degenerate_faces = degenerate;
  *proper_faces = proper;
}

/* Per edge: boundary / non-manifold / misoriented counts, component and
 * corner unions. */
static void edge_pass(const orf_mesh *m, const orf_edges *e, uint32_t *face_uf, uint32_t *corner_uf,
                      orf_mesh_report *r) {
  size_t boundary = 0, nonmanifold = 0, misoriented = 0;
  for (size_t i = 0; i < e->edge_count; i++) {
    const uint32_t *h = e->half + e->first[i];
    uint32_t n = e->first[i + 1] - e->first[i];
    uint32_t lo, hi;
    orf_edge_ends(e, m, i, &lo, &hi);
    if (n == 1) {
      boundary++;
    } else if (n > 2) {
      nonmanifold++;
    } else {
      uint32_t a0, b0, a1, b1;
      orf_half_ends(m, h[0], &a0, &b0);
      orf_half_ends(m, h[1], &a1, &b1);
      if (a0 == a1) misoriented++;
    }
    /* the corner of face f at vertex v, for a half-edge 3f+k of this edge */
    uint32_t lo0 = 0, hi0 = 0;
    for (uint32_t j = 0; j < n; j++) {
      uint32_t f = h[j] / 3, k = h[j] % 3, k1 = k == 2 ? 0 : k + 1;
      uint32_t from = m->indices[3 * (size_t)f + k];
      uint32_t c_lo = from == lo ? 3 * f + k : 3 * f + k1;
      uint32_t c_hi = from == lo ? 3 * f + k1 : 3 * f + k;
      if (j == 0) {
        lo0 = c_lo;
        hi0 = c_hi;
      } else {
        orf_uf_union(face_uf, h[0] / 3, f);
        orf_uf_union(corner_uf, lo0, c_lo);
        orf_uf_union(corner_uf, hi0, c_hi);
      }
    }
  }
  r->boundary_edges = boundary;
  r->nonmanifold_edges = nonmanifold;
  r->misoriented_edges = misoriented;
}

/* See orfeas.h.  Returns ORF_OK; ORF_ENOMEM; or ORF_EINVAL for a NULL
 * argument, an index >= vertex_count, or more than UINT32_MAX/3 faces.  On
 * error *r is all zeros.  Owns nothing afterwards. */
int orf_mesh_check(const orf_mesh *m, orf_mesh_report *r) {
  if (!r) return ORF_EINVAL;
  memset(r, 0, sizeof *r);
  if (!m || (m->vertex_count && !m->positions)) return ORF_EINVAL;
  orf_edges e;
  int rc = orf_edges_build(&e, m);
  if (rc) return rc;

  size_t nv = m->vertex_count, nf = m->face_count;
  uint8_t *flags = orf_calloc(nv ? nv : 1, 1);
  uint32_t *face_uf = orf_malloc_array(nf ? nf : 1, sizeof *face_uf);
  uint32_t *corner_uf = orf_malloc_array(nf ? 3 * nf : 1, sizeof *corner_uf);
  if (!flags || !face_uf || !corner_uf) {
    rc = ORF_ENOMEM;
    goto out_free;
  }
  /* duplicates first, in face_uf's memory, before it becomes the union-find */
  rc = orf_faces_same(&e, m, face_uf);
  if (rc) goto out_free;
  for (size_t f = 0; f < nf; f++)
    r->duplicate_faces += face_uf[f] != f;

  r->vertices = nv;
  r->faces = nf;
  r->edges = e.edge_count;
  orf_mesh_bounds(m, r->bbox_min, r->bbox_max);
  size_t proper = 0;
  face_pass(m, flags, r, &proper);

  for (size_t f = 0; f < nf; f++)
    face_uf[f] = (uint32_t)f;
  for (size_t c = 0; c < 3 * nf; c++)
    corner_uf[c] = (uint32_t)c;
  edge_pass(m, &e, face_uf, corner_uf, r);

  size_t components = 0, nonmanifold_vertices = 0, unused = 0, used_proper = 0;
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = m->indices + 3 * f;
    if (t[0] == t[1] || t[1] == t[2] || t[2] == t[0]) continue;
    if (orf_uf_find(face_uf, (uint32_t)f) == f) components++;
    for (uint32_t k = 0; k < 3; k++) {
      uint32_t c = 3 * (uint32_t)f + k;
      if (orf_uf_find(corner_uf, c) != c) continue;
      uint8_t fans = (flags[t[k]] >> FAN_SHIFT) & 3u;
      if (fans < 2) flags[t[k]] = (uint8_t)((flags[t[k]] & 3u) | (fans + 1) << FAN_SHIFT);
    }
  }
  for (size_t v = 0; v < nv; v++) {
    if (!(flags[v] & USED_ANY)) unused++;
    if (flags[v] & USED_PROPER) used_proper++;
    if (((flags[v] >> FAN_SHIFT) & 3u) > 1) nonmanifold_vertices++;
  }
  r->components = components;
  r->nonmanifold_vertices = nonmanifold_vertices;
  r->unused_vertices = unused;
  r->euler = (long)used_proper - (long)e.edge_count + (long)proper;
  r->watertight =
      proper > 0 && r->boundary_edges == 0 && r->nonmanifold_edges == 0 && r->misoriented_edges == 0;
  r->manifold = proper > 0 && r->nonmanifold_edges == 0 && r->misoriented_edges == 0 &&
                r->nonmanifold_vertices == 0 && r->degenerate_faces == 0 && r->duplicate_faces == 0;
  rc = ORF_OK;

out_free:
  orf_free(flags);
  orf_free(face_uf);
  orf_free(corner_uf);
  orf_edges_free(&e);
  if (rc) memset(r, 0, sizeof *r);
  return rc;
}
