/*
 * nearest.c - nearest-point queries on a uniform grid of buckets (counting
 * sort of points into cells of about two points each), for the colours of
 * the repaired surface (each new vertex takes the colour of the nearest
 * input vertex) and the sampled distance between input and output.
 * A query searches rings of cells outward until the ring's distance
 * exceeds the best found: exact, and O(1) on average for surface samples.
 */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "repair.h"

int orf_point_grid_build(orf_point_grid *g, const float *pts, size_t n) {
  memset(g, 0, sizeof *g);
  g->pts = pts;
  g->n = n;
  float lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
  for (size_t i = 0; i < n; i++)
    for (int a = 0; a < 3; a++) {
      float v = pts[3 * i + a];
      if (!i || v < lo[a]) lo[a] = v;
      if (!i || v > hi[a]) hi[a] = v;
    }
  double ext = 0;
  for (int a = 0; a < 3; a++)
    if (hi[a] - lo[a] > ext) ext = hi[a] - lo[a];
  /* points on surfaces: about n^(1/2) cells a side keeps buckets small */
  double side = ceil(sqrt((double)n) / 2);
  if (side < 1) side = 1;
  if (side > 1024) side = 1024;
  g->cell = ext > 0 ? (float)(ext / side) : 1.0f;
  size_t cells = 1;
  for (int a = 0; a < 3; a++) {
    g->lo[a] = lo[a];
    g->dim[a] = (int)((hi[a] - lo[a]) / g->cell) + 1;
    cells *= (size_t)g->dim[a];
  }
  g->start = orf_calloc(cells + 1, sizeof *g->start);
  g->idx = orf_malloc_array(n ? n : 1, sizeof *g->idx);
  if (!g->start || !g->idx) {
    orf_point_grid_free(g);
    return ORF_ENOMEM;
  }
  size_t *cellof = NULL;
  (void)cellof;
  for (size_t i = 0; i < n; i++) {
    size_t c = 0;
    for (int a = 2; a >= 0; a--) {
      int x = (int)((pts[3 * i + a] - lo[a]) / g->cell);
      if (x >= g->dim[a]) x = g->dim[a] - 1;
      c = c * (size_t)g->dim[a] + (size_t)x;
    }
    g->start[c + 1]++;
  }
  for (size_t c = 0; c < cells; c++)
    g->start[c + 1] += g->start[c];
  for (size_t i = 0; i < n; i++) {
    size_t c = 0;
    for (int a = 2; a >= 0; a--) {
      int x = (int)((pts[3 * i + a] - lo[a]) / g->cell);
      if (x >= g->dim[a]) x = g->dim[a] - 1;
      c = c * (size_t)g->dim[a] + (size_t)x;
    }
    g->idx[g->start[c]++] = (uint32_t)i;
  }
  for (size_t c = cells; c > 0; c--)
    g->start[c] = g->start[c - 1];
  g->start[0] = 0;
  return ORF_OK;
}

void orf_point_grid_free(orf_point_grid *g) {
  orf_free(g->start);
  orf_free(g->idx);
  memset(g, 0, sizeof *g);
}

size_t orf_point_grid_nearest(const orf_point_grid *g, const float q[3], float *d2) {
  int c[3];
  for (int a = 0; a < 3; a++) {
    int x = (int)floorf((q[a] - g->lo[a]) / g->cell);
    c[a] = x < 0 ? 0 : x >= g->dim[a] ? g->dim[a] - 1 : x;
  }
  size_t best = 0;
  float bd = INFINITY;
  int maxr = g->dim[0] > g->dim[1] ? g->dim[0] : g->dim[1];
  if (g->dim[2] > maxr) maxr = g->dim[2];
  for (int r = 0; r <= maxr; r++) {
    /* every point in ring r is at least (r - 1) cells from q */
    if (r > 1 && bd < ((float)(r - 1) * g->cell) * ((float)(r - 1) * g->cell)) break;
    for (int z = c[2] - r; z <= c[2] + r; z++) {
      if (z < 0 || z >= g->dim[2]) continue;
      for (int y = c[1] - r; y <= c[1] + r; y++) {
        if (y < 0 || y >= g->dim[1]) continue;
        int shell = z == c[2] - r || z == c[2] + r || y == c[1] - r || y == c[1] + r;
        for (int x = c[0] - r; x <= c[0] + r; x += (shell || r == 0) ? 1 : 2 * r) {
          if (x < 0 || x >= g->dim[0]) continue;
          size_t cell = ((size_t)z * g->dim[1] + y) * g->dim[0] + x;
          for (uint32_t s = g->start[cell]; s < g->start[cell + 1]; s++) {
            const float *p = g->pts + 3 * (size_t)g->idx[s];
            float dx = p[0] - q[0], dy = p[1] - q[1], dz = p[2] - q[2];
            float d = dx * dx + dy * dy + dz * dz;
            if (d < bd) {
              bd = d;
              best = g->idx[s];
            }
          }
        }
      }
    }
  }
  *d2 = bd;
  return best;
}
