/*
 * smooth.c - Taubin lambda|mu smoothing (G. Taubin, "A Signal Processing
 * Approach to Fair Surface Design", SIGGRAPH 1995), see smooth.h.
 *
 * Each iteration is two Laplacian steps p' = p + w (avg(N(p)) - p) with the
 * uniform umbrella operator over the one-rings of the edge graph (CSR from
 * adjacency.c, built once), w = lambda then w = mu.  Steps are Jacobi
 * updates: every vertex reads the previous positions and writes a second
 * buffer, so vertices are independent, split over threads with
 * orf_parallel_for, and the bytes do not depend on the thread count (the
 * neighbour sum of each vertex is taken in the same order, in double).
 * A vertex without neighbours stays where it is.
 */
#include "smooth.h"

#include <string.h>

#include "adjacency.h"
#include "alloc.h"
#include "parallel.h"

/* Vertices per chunk below which a step stays on fewer threads. */
#define MIN_CHUNK 2048

typedef struct step_ctx {
  const orf_neighbors *n;
  const float *src;
  float *dst;
  double w;
} step_ctx;

static void step_range(void *ctx, size_t begin, size_t end, int worker) {
  (void)worker;
  const step_ctx *s = ctx;
  const uint32_t *start = s->n->start, *nbr = s->n->nbr;
  for (size_t v = begin; v < end; v++) {
    const float *p = s->src + 3 * v;
    float *q = s->dst + 3 * v;
    uint32_t b = start[v], e = start[v + 1];
    if (b == e) {
      q[0] = p[0];
      q[1] = p[1];
      q[2] = p[2];
      continue;
    }
    double sum[3] = {0, 0, 0};
    for (uint32_t i = b; i < e; i++) {
      const float *o = s->src + 3 * (size_t)nbr[i];
      sum[0] += o[0];
      sum[1] += o[1];
      sum[2] += o[2];
    }
    double inv = 1.0 / (double)(e - b);
    for (int a = 0; a < 3; a++)
      q[a] = (float)(p[a] + s->w * (sum[a] * inv - p[a]));
  }
}

/* Sorts v[0..n) ascending (a one-ring: a handful of entries). */
static void sort_small(uint32_t *v, uint32_t n) {
  for (uint32_t i = 1; i < n; i++) {
    uint32_t x = v[i], j = i;
    for (; j > 0 && v[j - 1] > x; j--)
      v[j] = v[j - 1];
    v[j] = x;
  }
}

/* The one-rings of a closed 2-manifold without the edge structure: there
 * every edge v-w is one half-edge v->w and one w->v, so the vertices after
 * v in its faces (out) are the vertices before it (in) and its one-ring.
 * Both lists are gathered by a counting sort, sorted per vertex and
 * compared; when they are equal with no repeat for every vertex, *n gets
 * the out lists, ascending: the same one-rings as orf_neighbors_build's.
 * Marching cubes' meshes, which the pipeline smooths, are closed
 * 2-manifolds by contract (mc.h); this takes 3 ms on the heart's final
 * 159k-face mesh where the edges and their neighbours took 9.5 (1 thread).
 * Returns ORF_OK, ORF_ENOMEM, or 1 when the mesh is not a closed manifold
 * (the caller builds the edges). */
static int closed_rings(const orf_mesh *m, orf_neighbors *n) {
  size_t nv = m->vertex_count, nf = m->face_count;
  memset(n, 0, sizeof *n);
  if (nf > UINT32_MAX / 3) return 1;
  uint32_t *start = orf_calloc(nv + 1, sizeof *start);
  uint32_t *in_start = orf_calloc(nv + 1, sizeof *in_start);
  uint32_t *out = orf_malloc_array(3 * nf, sizeof *out);
  uint32_t *in = orf_malloc_array(3 * nf, sizeof *in);
  int rc = ORF_ENOMEM;
  if (!start || !in_start || !out || !in) goto fail;
  for (size_t i = 0; i < 3 * nf; i++) {
    uint32_t v = m->indices[i];
    if (v >= nv) {
      rc = 1; /* the edge path reports it */
      goto fail;
    }
    start[v + 1]++;
  }
  for (size_t v = 0; v < nv; v++)
    start[v + 1] += start[v];
  memcpy(in_start, start, (nv + 1) * sizeof *start);
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = m->indices + 3 * f;
    for (int k = 0; k < 3; k++) {
      uint32_t v = t[k], next = t[k == 2 ? 0 : k + 1], prev = t[k == 0 ? 2 : k - 1];
      out[start[v]++] = next;
      in[in_start[v]++] = prev;
    }
  }
  for (size_t v = nv; v > 0; v--)
    start[v] = start[v - 1];
  start[0] = 0;
  rc = 1;
  for (size_t v = 0; v < nv; v++) {
    uint32_t b = start[v], d = start[v + 1] - b;
    sort_small(out + b, d);
    sort_small(in + b, d);
    for (uint32_t i = 0; i < d; i++)
      if (out[b + i] != in[b + i] || out[b + i] == v || (i && out[b + i] == out[b + i - 1])) goto fail;
  }
  orf_free(in);
  orf_free(in_start);
  n->vertex_count = nv;
  n->start = start;
  n->nbr = out;
  return ORF_OK;
fail:
  orf_free(start);
  orf_free(in_start);
  orf_free(out);
  orf_free(in);
  return rc;
}

/* See smooth.h.  Also returns ORF_EINVAL (positions unchanged) for an index
 * >= vertex_count. */
int orf_mesh_smooth_taubin(orf_mesh *m, int iterations, float lambda, float mu, int threads) {
  if (iterations <= 0 || m->vertex_count == 0 || m->face_count == 0) return ORF_OK;
  orf_neighbors n;
  int rc = closed_rings(m, &n);
  if (rc == 1) {
    orf_edges e;
    if ((rc = orf_edges_build(&e, m))) return rc;
    rc = orf_neighbors_build(&n, &e, m);
    orf_edges_free(&e);
  }
  if (rc) return rc;
  float *tmp = orf_malloc_array(m->vertex_count, 3 * sizeof(float));
  if (!tmp) {
    orf_neighbors_free(&n);
    return ORF_ENOMEM;
  }
  step_ctx s = {&n, NULL, NULL, 0};
  for (int it = 0; it < iterations; it++) {
    s.src = m->positions;
    s.dst = tmp;
    s.w = lambda;
    orf_parallel_for(threads, m->vertex_count, MIN_CHUNK, step_range, &s);
    s.src = tmp;
    s.dst = m->positions;
    s.w = mu;
    orf_parallel_for(threads, m->vertex_count, MIN_CHUNK, step_range, &s);
  }
  orf_free(tmp);
  orf_neighbors_free(&n);
  return ORF_OK;
}
