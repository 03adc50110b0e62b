/*
 * adjacency.c - the CSR edge structure and vertex one-rings of a triangle
 * mesh (see adjacency.h).
 *
 * Half-edges are bucketed by their smaller endpoint with a counting sort
 * (O(F + V)) as 64-bit keys (larger endpoint, half-edge id), and each
 * bucket, a handful of entries on a real mesh, is then sorted: insertion
 * sort for small buckets, qsort for large ones (a fan of thousands of faces
 * around one vertex stays O(d log d)).  Keys are unique, so the result is
 * the same for any input order of equal keys: deterministic.
 */
#include "adjacency.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "mesh.h"

/* Bucket size from which qsort replaces insertion sort. */
#define SMALL_BUCKET 24

static inline int face_is_proper(const uint32_t *t) { return t[0] != t[1] && t[1] != t[2] && t[2] != t[0]; }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Sorts keys[0..n) ascending: insertion sort when short, else qsort. */
static void sort_keys(uint64_t *keys, size_t n) {
  if (n <= SMALL_BUCKET) {
    for (size_t i = 1; i < n; i++) {
      uint64_t k = keys[i];
      size_t j = i;
      while (j > 0 && keys[j - 1] > k) {
        keys[j] = keys[j - 1];
        j--;
      }
      keys[j] = k;
    }
  } else {
    qsort(keys, n, sizeof *keys, cmp_u64);
  }
}

void orf_edges_free(orf_edges *e) {
  if (!e) return;
  orf_free(e->first);
  orf_free(e->half);
  memset(e, 0, sizeof *e);
}

int orf_edges_build(orf_edges *e, const orf_mesh *m) {
  memset(e, 0, sizeof *e);
  if (!m) return ORF_EINVAL;
  size_t nv = m->vertex_count, nf = m->face_count;
  if (nf > UINT32_MAX / 3 || (nf && !m->indices)) return ORF_EINVAL;
  for (size_t i = 0; i < 3 * nf; i++)
    if (m->indices[i] >= nv) return ORF_EINVAL;

  /* bucket[v] = half-edges whose smaller endpoint is v, by counting sort:
   * counts into start[v+1], prefix sums, fill with start[lo]++, shift back.
   * Each entry is the key (larger endpoint << 32 | half-edge id), written
   * once while the faces are read in order, so sorting the buckets and
   * cutting them into edges never goes back to the index array: with the
   * endpoints looked up again per comparison and per edge (as before), this
   * function was a fifth of a noise-mask job and a sixth of the heart's
   * (perf, issue 13); now those passes are sequential. */
  uint32_t *start = orf_calloc(nv + 1, sizeof *start);
  if (!start) return ORF_ENOMEM;
  size_t nh = 0;
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = m->indices + 3 * f;
    if (!face_is_proper(t)) continue;
    for (int k = 0; k < 3; k++)
      start[(t[k] < t[(k + 1) % 3] ? t[k] : t[(k + 1) % 3]) + 1]++;
    nh += 3;
  }
  for (size_t v = 0; v < nv; v++)
    start[v + 1] += start[v];
  uint32_t *half = orf_malloc_array(nh ? nh : 1, sizeof *half);
  uint64_t *keys = orf_malloc_array(nh ? nh : 1, sizeof *keys);
  if (!half || !keys) {
    orf_free(start);
    orf_free(half);
    orf_free(keys);
    return ORF_ENOMEM;
  }
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = m->indices + 3 * f;
    if (!face_is_proper(t)) continue;
    for (uint32_t k = 0; k < 3; k++) {
      uint32_t a = t[k], b = t[(k + 1) % 3];
      uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
      keys[start[lo]++] = (uint64_t)hi << 32 | (3 * (uint32_t)f + k);
    }
  }
  for (size_t v = nv; v > 0; v--)
    start[v] = start[v - 1];
  start[0] = 0;

  /* sort each bucket, and count the edges: runs of equal larger endpoint */
  size_t ne = 0;
  for (size_t v = 0; v < nv; v++) {
    uint32_t b = start[v], n = start[v + 1] - b;
    sort_keys(keys + b, n);
    for (uint32_t i = 0; i < n; i++)
      if (i == 0 || keys[b + i] >> 32 != keys[b + i - 1] >> 32) ne++;
  }

  uint32_t *first = orf_malloc_array(ne + 1, sizeof *first);
  if (!first) {
    orf_free(start);
    orf_free(half);
    orf_free(keys);
    return ORF_ENOMEM;
  }
  size_t edge = 0;
  for (size_t v = 0; v < nv; v++) {
    uint32_t b = start[v], n = start[v + 1] - b;
    for (uint32_t i = 0; i < n; i++) {
      if (i == 0 || keys[b + i] >> 32 != keys[b + i - 1] >> 32) first[edge++] = b + i;
      half[b + i] = (uint32_t)keys[b + i];
    }
  }
  first[ne] = (uint32_t)nh;
  orf_free(keys);
  orf_free(start);

  e->vertex_count = nv;
  e->face_count = nf;
  e->edge_count = ne;
  e->half_count = nh;
  e->first = first;
  e->half = half;
  return ORF_OK;
}

static inline void sort3(const uint32_t *t, uint32_t s[3]) {
  uint32_t a = t[0], b = t[1], c = t[2], x;
  if (a > b) x = a, a = b, b = x;
  if (b > c) x = b, b = c, c = x;
  if (a > b) x = a, a = b, b = x;
  s[0] = a;
  s[1] = b;
  s[2] = c;
}

int orf_faces_same(const orf_edges *e, const orf_mesh *m, uint32_t *same) {
  size_t max_edge = 0;
  for (size_t i = 0; i < e->edge_count; i++)
    if (e->first[i + 1] - e->first[i] > max_edge) max_edge = e->first[i + 1] - e->first[i];
  uint64_t *keys = orf_malloc_array(max_edge ? max_edge : 1, sizeof *keys);
  if (!keys) return ORF_ENOMEM;
  for (size_t f = 0; f < e->face_count; f++)
    same[f] = (uint32_t)f;
  /* Equal faces share all three edges; each face is looked up on the edge
   * of its two smallest vertices only, keyed by the third, so every group
   * of equal faces meets in one sorted run. */
  for (size_t i = 0; i < e->edge_count; i++) {
    const uint32_t *h = e->half + e->first[i];
    uint32_t n = e->first[i + 1] - e->first[i], lo, hi;
    if (n < 2) continue;
    orf_edge_ends(e, m, i, &lo, &hi);
    size_t nk = 0;
    for (uint32_t j = 0; j < n; j++) {
      uint32_t s[3], f = h[j] / 3;
      sort3(m->indices + 3 * (size_t)f, s);
      if (s[0] == lo && s[1] == hi) keys[nk++] = (uint64_t)s[2] << 32 | f;
    }
    if (nk < 2) continue;
    sort_keys(keys, nk);
    for (size_t j = 1; j < nk; j++)
      if (keys[j] >> 32 == keys[j - 1] >> 32) same[(uint32_t)keys[j]] = same[(uint32_t)keys[j - 1]];
  }
  orf_free(keys);
  return ORF_OK;
}

void orf_neighbors_free(orf_neighbors *n) {
  if (!n) return;
  orf_free(n->start);
  orf_free(n->nbr);
  memset(n, 0, sizeof *n);
}

int orf_neighbors_build(orf_neighbors *n, const orf_edges *e, const orf_mesh *m) {
  memset(n, 0, sizeof *n);
  size_t nv = e->vertex_count;
  if (e->edge_count > UINT32_MAX / 2) return ORF_ENOMEM;
  uint32_t *start = orf_calloc(nv + 1, sizeof *start);
  uint32_t *nbr = orf_malloc_array(e->edge_count ? 2 * e->edge_count : 1, sizeof *nbr);
  if (!start || !nbr) {
    orf_free(start);
    orf_free(nbr);
    return ORF_ENOMEM;
  }
  for (size_t i = 0; i < e->edge_count; i++) {
    uint32_t lo, hi;
    orf_edge_ends(e, m, i, &lo, &hi);
    start[lo + 1]++;
    start[hi + 1]++;
  }
  for (size_t v = 0; v < nv; v++)
    start[v + 1] += start[v];
  /* Edges come sorted by (lo, hi): vertex v first meets the edges where it
   * is hi (ascending lo), then those where it is lo (ascending hi), so every
   * one-ring comes out ascending. */
  for (size_t i = 0; i < e->edge_count; i++) {
    uint32_t lo, hi;
    orf_edge_ends(e, m, i, &lo, &hi);
    nbr[start[lo]++] = hi;
    nbr[start[hi]++] = lo;
  }
  for (size_t v = nv; v > 0; v--)
    start[v] = start[v - 1];
  start[0] = 0;
  n->vertex_count = nv;
  n->start = start;
  n->nbr = nbr;
  return ORF_OK;
}

double orf_face_area(const orf_mesh *m, size_t f) {
  const uint32_t *t = m->indices + 3 * f;
  const float *p0 = m->positions + 3 * (size_t)t[0], *p1 = m->positions + 3 * (size_t)t[1],
              *p2 = m->positions + 3 * (size_t)t[2];
  double u[3], w[3];
  for (int a = 0; a < 3; a++) {
    u[a] = (double)p1[a] - (double)p0[a];
    w[a] = (double)p2[a] - (double)p0[a];
  }
  double n0 = u[1] * w[2] - u[2] * w[1], n1 = u[2] * w[0] - u[0] * w[2], n2 = u[0] * w[1] - u[1] * w[0];
  return 0.5 * sqrt(n0 * n0 + n1 * n1 + n2 * n2);
}

double orf_degenerate_area(const orf_mesh *m) {
  float lo[3], hi[3];
  orf_mesh_bounds(m, lo, hi);
  double d2 = 0;
  for (int a = 0; a < 3; a++)
    d2 += ((double)hi[a] - lo[a]) * ((double)hi[a] - lo[a]);
  return 1e-12 * d2;
}
