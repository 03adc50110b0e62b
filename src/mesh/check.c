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
#include <math.h>
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
  /* orf_degenerate_area(m), from the box already in *r */
  double d2 = 0;
  for (int a = 0; a < 3; a++)
    d2 += ((double)r->bbox_max[a] - r->bbox_min[a]) * ((double)r->bbox_max[a] - r->bbox_min[a]);
  double eps = 1e-12 * d2;
  double area = 0, vol6 = 0;
  size_t proper = 0, degenerate = 0, nf = m->face_count;
  /* locals, so that the byte stores into flags (which may alias anything)
   * do not make the compiler reload them every face */
  const float *pos = m->positions;
  const uint32_t *idx = m->indices;
  for (size_t f = 0; f < nf; f++) {
    uint32_t t[3] = {idx[3 * f], idx[3 * f + 1], idx[3 * f + 2]};
    int collapsed = t[0] == t[1] || t[1] == t[2] || t[2] == t[0];
    const float *a = pos + 3 * (size_t)t[0], *b = pos + 3 * (size_t)t[1], *e = pos + 3 * (size_t)t[2];
    double q0x = a[0], q0y = a[1], q0z = a[2], q1x = b[0], q1y = b[1], q1z = b[2];
    double q2x = e[0], q2y = e[1], q2z = e[2];
    /* orf_face_area(m, f), the same arithmetic inlined */
    double ux = q1x - q0x, uy = q1y - q0y, uz = q1z - q0z, wx = q2x - q0x, wy = q2y - q0y, wz = q2z - q0z;
    double n0 = uy * wz - uz * wy, n1 = uz * wx - ux * wz, n2 = ux * wy - uy * wx;
    double fa = 0.5 * sqrt(n0 * n0 + n1 * n1 + n2 * n2);
    /* det(p0, p1, p2) = p0 . (p1 x p2), about the box centre for precision */
    double p0x = q0x - c[0], p0y = q0y - c[1], p0z = q0z - c[2], p1x = q1x - c[0], p1y = q1y - c[1],
           p1z = q1z - c[2], p2x = q2x - c[0], p2y = q2y - c[1], p2z = q2z - c[2];
    double det =
        p0x * (p1y * p2z - p1z * p2y) - p0y * (p1x * p2z - p1z * p2x) + p0z * (p1x * p2y - p1y * p2x);
    if (!collapsed) {
      proper++;
      area += fa;
      vol6 += det;
    }
    if (collapsed || !(fa > eps)) degenerate++;
    uint8_t use = collapsed ? USED_ANY : USED_ANY | USED_PROPER;
    flags[t[0]] |= use, flags[t[1]] |= use, flags[t[2]] |= use;
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

/* Sorts the keys k[0..n) (a vertex's outgoing half-edges: a handful). */
static void sort_out(uint64_t *k, uint32_t n) {
  for (uint32_t i = 1; i < n; i++) {
    uint64_t x = k[i];
    uint32_t j = i;
    for (; j > 0 && k[j - 1] > x; j--)
      k[j] = k[j - 1];
    k[j] = x;
  }
}

/* The check of a closed, oriented 2-manifold - what every mesh of the
 * engine is, and is checked to be - without the undirected edge structure
 * and its two union-finds over corners and faces, which took about 1,100
 * instructions a face (callgrind: 18% of a quality-7 job on its main
 * thread, five checks).  Outgoing half-edges are bucketed by their start
 * (a counting sort) and sorted by their end; the twin of a->b is then the
 * b->a of b's short list.  When every half-edge has exactly one twin and
 * no vertex two half-edges to the same vertex, every edge has two faces in
 * opposite directions (closed, edge-manifold, oriented, E = H/2); a vertex
 * is one fan when turning around it from twin to twin meets all its
 * half-edges; components are faces joined across twins (one union each);
 * a face whose three twins lie in one face is a duplicate, the only kind a
 * closed oriented manifold can have.  Anything else - a collapsed face, a
 * half-edge without a twin or with two, a second fan, a duplicate - returns
 * 1, and orf_mesh_check takes the general path, which counts what is wrong.
 * Where this path answers, its report is the general path's, field for
 * field.  Returns ORF_OK, ORF_ENOMEM or 1. */
static int check_closed(const orf_mesh *m, orf_mesh_report *r) {
  size_t nv = m->vertex_count, nf = m->face_count, nh = 3 * nf;
  if (!nf) return 1;
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = m->indices + 3 * f;
    if (t[0] == t[1] || t[1] == t[2] || t[2] == t[0]) return 1;
  }
  uint32_t *start = orf_calloc(nv + 1, sizeof *start);
  uint64_t *out = orf_malloc_array(nh, sizeof *out);
  uint32_t *twin = orf_malloc_array(nh, sizeof *twin);
  uint32_t *face_uf = orf_malloc_array(nf, sizeof *face_uf);
  uint8_t *flags = orf_calloc(nv ? nv : 1, 1);
  int rc = ORF_ENOMEM;
  if (!start || !out || !twin || !face_uf || !flags) goto out_free;
  for (size_t i = 0; i < nh; i++)
    start[m->indices[i] + 1]++;
  for (size_t v = 0; v < nv; v++)
    start[v + 1] += start[v];
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = m->indices + 3 * f;
    for (uint32_t k = 0; k < 3; k++)
      out[start[t[k]]++] = (uint64_t)t[k == 2 ? 0 : k + 1] << 32 | (3 * (uint32_t)f + k);
  }
  for (size_t v = nv; v > 0; v--)
    start[v] = start[v - 1];
  start[0] = 0;
  rc = 1;
  for (size_t v = 0; v < nv; v++) {
    uint32_t b = start[v], n = start[v + 1] - b;
    sort_out(out + b, n);
    for (uint32_t i = 1; i < n; i++)
      if (out[b + i] >> 32 == out[b + i - 1] >> 32) goto out_free; /* a->b twice */
  }
  /* each pair once, from its smaller end; a half-edge left without a twin
   * lies on a boundary or a misoriented edge */
  memset(twin, 0xff, nh * sizeof *twin);
  for (size_t v = 0; v < nv; v++)
    for (uint32_t i = start[v + 1]; i-- > start[v];) {
      uint32_t w = (uint32_t)(out[i] >> 32);
      if (w < v) break;
      for (uint32_t j = start[w]; j < start[w + 1] && out[j] >> 32 <= v; j++)
        if (out[j] >> 32 == v) {
          twin[(uint32_t)out[i]] = (uint32_t)out[j];
          twin[(uint32_t)out[j]] = (uint32_t)out[i];
          break;
        }
    }
  for (size_t h = 0; h < nh; h++)
    if (twin[h] == UINT32_MAX) goto out_free;
  /* one fan per vertex: from each vertex's first half-edge, turn around it
   * (the half-edge into it, then that one's twin) until back */
  for (size_t v = 0; v < nv; v++) {
    uint32_t n = start[v + 1] - start[v];
    if (!n) continue;
    uint32_t h0 = (uint32_t)out[start[v]], h = h0, seen = 0;
    do {
      h = twin[h % 3 == 0 ? h + 2 : h - 1];
      seen++;
    } while (h != h0 && seen <= n);
    if (seen != n) goto out_free;
  }
  for (size_t f = 0; f < nf; f++) {
    uint32_t a = twin[3 * f] / 3, b = twin[3 * f + 1] / 3, c = twin[3 * f + 2] / 3;
    if (a == b && b == c) goto out_free; /* (x, y, z) and (x, z, y) */
    face_uf[f] = (uint32_t)f;
  }
  for (size_t h = 0; h < nh; h++)
    if (h < twin[h]) orf_uf_union(face_uf, (uint32_t)(h / 3), twin[h] / 3);
  size_t components = 0, unused = 0, used = 0, proper = 0;
  for (size_t f = 0; f < nf; f++)
    components += orf_uf_find(face_uf, (uint32_t)f) == f;
  r->vertices = nv;
  r->faces = nf;
  r->edges = nh / 2;
  orf_mesh_bounds(m, r->bbox_min, r->bbox_max);
  face_pass(m, flags, r, &proper);
  for (size_t v = 0; v < nv; v++) {
    unused += !(flags[v] & USED_ANY);
    used += (flags[v] & USED_PROPER) != 0;
  }
  r->components = components;
  r->unused_vertices = unused;
  r->euler = (long)used - (long)(nh / 2) + (long)proper;
  r->watertight = 1;
  r->manifold = r->degenerate_faces == 0;
  rc = ORF_OK;
out_free:
  orf_free(start);
  orf_free(out);
  orf_free(twin);
  orf_free(face_uf);
  orf_free(flags);
  return rc;
}

/* See orfeas.h.  Returns ORF_OK; ORF_ENOMEM; or ORF_EINVAL for a NULL
 * argument, an index >= vertex_count, or more than UINT32_MAX/3 faces.  On
 * error *r is all zeros.  Owns nothing afterwards. */
int orf_mesh_check(const orf_mesh *m, orf_mesh_report *r) {
  if (!r) return ORF_EINVAL;
  memset(r, 0, sizeof *r);
  if (!m || (m->vertex_count && !m->positions)) return ORF_EINVAL;
  if (m->face_count > UINT32_MAX / 3 || (m->face_count && !m->indices)) return ORF_EINVAL;
  for (size_t i = 0; i < 3 * m->face_count; i++)
    if (m->indices[i] >= m->vertex_count) return ORF_EINVAL;
  int rc = check_closed(m, r);
  if (rc != 1) {
    if (rc) memset(r, 0, sizeof *r);
    return rc;
  }
  memset(r, 0, sizeof *r);
  orf_edges e;
  rc = orf_edges_build(&e, m);
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
