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

/* See smooth.h.  Also returns ORF_EINVAL (positions unchanged) for an index
 * >= vertex_count. */
int orf_mesh_smooth_taubin(orf_mesh *m, int iterations, float lambda, float mu, int threads) {
  if (iterations <= 0 || m->vertex_count == 0 || m->face_count == 0) return ORF_OK;
  orf_edges e;
  int rc = orf_edges_build(&e, m);
  if (rc) return rc;
  orf_neighbors n;
  rc = orf_neighbors_build(&n, &e, m);
  orf_edges_free(&e);
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
