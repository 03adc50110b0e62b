/*
 * meshdist.c - one-sided and symmetric Hausdorff distances between meshes
 * (see meshdist.h).  The point-triangle distance is the closest-point
 * construction of C. Ericson, "Real-Time Collision Detection" (2005), 5.1.5.
 */
#include "meshdist.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  double x, y, z;
} v3;

static v3 sub(v3 a, v3 b) { return (v3){a.x - b.x, a.y - b.y, a.z - b.z}; }
static double dot(v3 a, v3 b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
static v3 mad(v3 a, v3 d, double t) { return (v3){a.x + d.x * t, a.y + d.y * t, a.z + d.z * t}; }

static v3 closest_on_triangle(v3 p, v3 a, v3 b, v3 c) {
  v3 ab = sub(b, a), ac = sub(c, a), ap = sub(p, a);
  double d1 = dot(ab, ap), d2 = dot(ac, ap);
  if (d1 <= 0 && d2 <= 0) return a;
  v3 bp = sub(p, b);
  double d3 = dot(ab, bp), d4 = dot(ac, bp);
  if (d3 >= 0 && d4 <= d3) return b;
  double vc = d1 * d4 - d3 * d2;
  if (vc <= 0 && d1 >= 0 && d3 <= 0) return mad(a, ab, d1 / (d1 - d3));
  v3 cp = sub(p, c);
  double d5 = dot(ab, cp), d6 = dot(ac, cp);
  if (d6 >= 0 && d5 <= d6) return c;
  double vb = d5 * d2 - d1 * d6;
  if (vb <= 0 && d2 >= 0 && d6 <= 0) return mad(a, ac, d2 / (d2 - d6));
  double va = d3 * d6 - d5 * d4;
  if (va <= 0 && d4 - d3 >= 0 && d5 - d6 >= 0) return mad(b, sub(c, b), (d4 - d3) / ((d4 - d3) + (d5 - d6)));
  double den = 1.0 / (va + vb + vc);
  return mad(mad(a, ab, vb * den), ac, vc * den);
}

static v3 vert(const orf_mesh *m, uint32_t i) {
  const float *p = m->positions + 3 * (size_t)i;
  return (v3){p[0], p[1], p[2]};
}

typedef struct grid {
  double lo[3], cell;
  int n[3];
  uint32_t *start, *items; /* CSR: bucket b holds items[start[b] .. start[b+1]) */
} grid;

static int clampi(int v, int hi) { return v < 0 ? 0 : v > hi ? hi : v; }

static long bucket_of(const grid *g, int x, int y, int z) { return ((long)z * g->n[1] + y) * g->n[0] + x; }

static void tri_range(const grid *g, const orf_mesh *b, size_t f, int lo[3], int hi[3]) {
  double mn[3] = {INFINITY, INFINITY, INFINITY}, mx[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (int c = 0; c < 3; c++) {
    const float *p = b->positions + 3 * (size_t)b->indices[3 * f + c];
    for (int a = 0; a < 3; a++) {
      if (p[a] < mn[a]) mn[a] = p[a];
      if (p[a] > mx[a]) mx[a] = p[a];
    }
  }
  for (int a = 0; a < 3; a++) {
    lo[a] = clampi((int)floor((mn[a] - g->lo[a]) / g->cell), g->n[a] - 1);
    hi[a] = clampi((int)floor((mx[a] - g->lo[a]) / g->cell), g->n[a] - 1);
  }
}

static int grid_build(grid *g, const orf_mesh *b, double cell) {
  float mn[3] = {INFINITY, INFINITY, INFINITY}, mx[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (size_t v = 0; v < b->vertex_count; v++)
    for (int a = 0; a < 3; a++) {
      float x = b->positions[3 * v + a];
      if (x < mn[a]) mn[a] = x;
      if (x > mx[a]) mx[a] = x;
    }
  g->cell = cell;
  long total = 1;
  for (int a = 0; a < 3; a++) {
    g->lo[a] = mn[a];
    g->n[a] = (int)((mx[a] - mn[a]) / cell) + 1;
    total *= g->n[a];
  }
  g->start = calloc((size_t)total + 1, sizeof(uint32_t));
  if (!g->start) return -1;
  int lo[3], hi[3];
  size_t count = 0;
  for (size_t f = 0; f < b->face_count; f++) {
    tri_range(g, b, f, lo, hi);
    for (int z = lo[2]; z <= hi[2]; z++)
      for (int y = lo[1]; y <= hi[1]; y++)
        for (int x = lo[0]; x <= hi[0]; x++)
          g->start[bucket_of(g, x, y, z) + 1]++, count++;
  }
  for (long i = 0; i < total; i++)
    g->start[i + 1] += g->start[i];
  g->items = malloc((count ? count : 1) * sizeof(uint32_t));
  uint32_t *fill = malloc((size_t)total * sizeof(uint32_t));
  if (!g->items || !fill) {
    free(fill);
    return -1;
  }
  for (long i = 0; i < total; i++)
    fill[i] = g->start[i];
  for (size_t f = 0; f < b->face_count; f++) {
    tri_range(g, b, f, lo, hi);
    for (int z = lo[2]; z <= hi[2]; z++)
      for (int y = lo[1]; y <= hi[1]; y++)
        for (int x = lo[0]; x <= hi[0]; x++)
          g->items[fill[bucket_of(g, x, y, z)]++] = (uint32_t)f;
  }
  free(fill);
  return 0;
}

double md_one_sided(const orf_mesh *a, const orf_mesh *b, double cell, double max_r) {
  grid g = {0};
  if (grid_build(&g, b, cell)) {
    free(g.start);
    free(g.items);
    return -1;
  }
  int reach = (int)ceil(max_r / cell);
  double worst = 0;
  for (size_t v = 0; v < a->vertex_count; v++) {
    v3 p = vert(a, (uint32_t)v);
    int c[3] = {(int)floor((p.x - g.lo[0]) / cell), (int)floor((p.y - g.lo[1]) / cell),
                (int)floor((p.z - g.lo[2]) / cell)};
    double best = max_r * max_r;
    for (int z = c[2] - reach; z <= c[2] + reach; z++) {
      if (z < 0 || z >= g.n[2]) continue;
      for (int y = c[1] - reach; y <= c[1] + reach; y++) {
        if (y < 0 || y >= g.n[1]) continue;
        for (int x = c[0] - reach; x <= c[0] + reach; x++) {
          if (x < 0 || x >= g.n[0]) continue;
          long bk = bucket_of(&g, x, y, z);
          for (uint32_t q = g.start[bk]; q < g.start[bk + 1]; q++) {
            const uint32_t *t = b->indices + 3 * (size_t)g.items[q];
            v3 d = sub(p, closest_on_triangle(p, vert(b, t[0]), vert(b, t[1]), vert(b, t[2])));
            double d2 = dot(d, d);
            if (d2 < best) best = d2;
          }
        }
      }
    }
    if (best > worst) worst = best;
  }
  free(g.start);
  free(g.items);
  return sqrt(worst);
}

double md_hausdorff(const orf_mesh *a, const orf_mesh *b, double cell, double max_r) {
  double ab = md_one_sided(a, b, cell, max_r), ba = md_one_sided(b, a, cell, max_r);
  if (ab < 0 || ba < 0) return -1;
  return ab > ba ? ab : ba;
}

int md_first_differing_format(const orf_mesh *a, const orf_mesh *b, const orf_format *fmts, int n) {
  for (int i = 0; i < n; i++) {
    uint8_t *fa = NULL, *fb = NULL;
    size_t na = 0, nb = 0;
    if (orf_export(a, fmts[i], &fa, &na) || orf_export(b, fmts[i], &fb, &nb)) {
      orf_buffer_free(fa);
      return n;
    }
    int same = na == nb && memcmp(fa, fb, na) == 0;
    orf_buffer_free(fa);
    orf_buffer_free(fb);
    if (!same) return i;
  }
  return -1;
}

double md_face_quality(const orf_mesh *m, size_t f) {
  const uint32_t *t = m->indices + 3 * f;
  double p[3][3], l = 0;
  for (int k = 0; k < 3; k++)
    for (int a = 0; a < 3; a++)
      p[k][a] = m->positions[3 * (size_t)t[k] + a];
  for (int k = 0; k < 3; k++) {
    double s = 0;
    for (int a = 0; a < 3; a++)
      s += (p[(k + 1) % 3][a] - p[k][a]) * (p[(k + 1) % 3][a] - p[k][a]);
    if (s > l) l = s;
  }
  double u[3], w[3];
  for (int a = 0; a < 3; a++) {
    u[a] = p[1][a] - p[0][a];
    w[a] = p[2][a] - p[0][a];
  }
  double n[3] = {u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]};
  return l > 0 ? sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]) / l : 0;
}

size_t md_count_slivers(const orf_mesh *m, double ratio) {
  size_t n = 0;
  for (size_t f = 0; f < m->face_count; f++)
    n += md_face_quality(m, f) < ratio;
  return n;
}
