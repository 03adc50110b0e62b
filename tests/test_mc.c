/*
 * test_mc.c - marching cubes (src/surface/mc.c): closed, oriented,
 * 2-manifold meshes with the right topology and volume on analytic fields,
 * random fields and every configuration of one and two cells; the same
 * bytes for any thread count; cancellation, allocation failure and bad
 * input.  The mesh checks are done here by a small checker of our own
 * (sorted directed edges, fans around vertices, union-find components,
 * divergence-theorem volume), independent of src/mesh/check.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "mc.h"
#include "mc_tables.h"
#include "mesh.h"

/* ---- fields -------------------------------------------------------------- */

/* A field stored as a full grid (the test's own memory, not the engine's);
 * the callback copies slices out of it. */
typedef struct grid {
  int n[3];
  float *val;
  atomic_int calls;   /* slices evaluated */
  atomic_int bad_k;   /* set when a slice out of range was asked for */
  atomic_int *cancel; /* set to 1 after cancel_after slices, if not NULL */
  int cancel_after;
} grid;

static void grid_slice(void *ctx, int k, float *out) {
  grid *g = ctx;
  if (k < 0 || k >= g->n[2]) {
    atomic_store(&g->bad_k, 1);
    return;
  }
  int c = atomic_fetch_add(&g->calls, 1) + 1;
  if (g->cancel && c >= g->cancel_after) atomic_store(g->cancel, 1);
  size_t sz = (size_t)g->n[0] * g->n[1];
  memcpy(out, g->val + sz * k, sz * sizeof(float));
}

static grid *grid_new(int nx, int ny, int nz) {
  grid *g = calloc(1, sizeof *g);
  assert_non_null(g);
  g->n[0] = nx, g->n[1] = ny, g->n[2] = nz;
  g->val = malloc((size_t)nx * ny * nz * sizeof(float));
  assert_non_null(g->val);
  return g;
}

static void grid_free(grid *g) {
  free(g->val);
  free(g);
}

static float *at(grid *g, int i, int j, int k) { return g->val + ((size_t)k * g->n[1] + j) * g->n[0] + i; }

/* Sets every boundary point to `v` (outside when v >= iso). */
static void pad(grid *g, float v) {
  for (int k = 0; k < g->n[2]; k++)
    for (int j = 0; j < g->n[1]; j++)
      for (int i = 0; i < g->n[0]; i++)
        if (i == 0 || j == 0 || k == 0 || i == g->n[0] - 1 || j == g->n[1] - 1 || k == g->n[2] - 1)
          *at(g, i, j, k) = v;
}

static orf_volume volume_of(grid *g) {
  orf_volume v = {
      .nx = g->n[0], .ny = g->n[1], .nz = g->n[2], .spacing = {1, 1, 1}, .eval = grid_slice, .ctx = g};
  return v;
}

static grid *sphere_grid(int n, double cx, double cy, double cz, double r) {
  grid *g = grid_new(n, n, n);
  for (int k = 0; k < n; k++)
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++)
        *at(g, i, j, k) = (float)(sqrt((i - cx) * (i - cx) + (j - cy) * (j - cy) + (k - cz) * (k - cz)) - r);
  return g;
}

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) { return (rng_next(s) >> 11) * (1.0 / 9007199254740992.0); }

/* 0.5 minus a sum of random Gaussian bumps (some negative: holes and
 * tunnels), outside on the boundary. */
static grid *gauss_grid(int n, uint64_t seed, int bumps) {
  grid *g = grid_new(n, n, n);
  double c[64][3], s2[64], a[64];
  for (int b = 0; b < bumps; b++) {
    for (int d = 0; d < 3; d++)
      c[b][d] = n * (0.2 + 0.6 * rng_unit(&seed));
    double s = n * (0.04 + 0.1 * rng_unit(&seed));
    s2[b] = 2 * s * s;
    a[b] = rng_unit(&seed) < 0.25 ? -0.8 : 0.6 + 0.6 * rng_unit(&seed);
  }
  for (int k = 0; k < n; k++)
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int b = 0; b < bumps; b++) {
          double d2 =
              (i - c[b][0]) * (i - c[b][0]) + (j - c[b][1]) * (j - c[b][1]) + (k - c[b][2]) * (k - c[b][2]);
          sum += a[b] * exp(-d2 / s2[b]);
        }
        *at(g, i, j, k) = (float)(0.5 - sum);
      }
  pad(g, 1);
  return g;
}

/* Independent random values at every point: nearly every cell and face
 * configuration, ambiguous ones included, many times over. */
static grid *noise_grid(int nx, int ny, int nz, uint64_t seed) {
  grid *g = grid_new(nx, ny, nz);
  for (size_t q = 0; q < (size_t)nx * ny * nz; q++)
    g->val[q] = (float)(rng_unit(&seed) - 0.5);
  pad(g, 1);
  return g;
}

/* ---- mesh checker ---------------------------------------------------------- */

typedef struct report {
  size_t v, f, e;
  long euler;
  size_t bad_edges;    /* undirected edges not used once in each direction */
  size_t bad_vertices; /* vertices whose faces do not form exactly one fan */
  size_t degenerate;   /* repeated index or zero area */
  size_t dup_positions, unused, out_of_range;
  size_t components;
  double volume;
} report;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static const float *g_pos; /* for the position sort (tests run one at a time) */
static int cmp_pos(const void *a, const void *b) {
  const float *p = g_pos + 3 * *(const uint32_t *)a, *q = g_pos + 3 * *(const uint32_t *)b;
  for (int d = 0; d < 3; d++)
    if (p[d] != q[d]) return p[d] < q[d] ? -1 : 1;
  return 0;
}

static uint32_t uf_find(uint32_t *p, uint32_t x) {
  while (p[x] != x)
    x = p[x] = p[p[x]];
  return x;
}

static void check_mesh(const orf_mesh *m, report *r) {
  memset(r, 0, sizeof *r);
  r->v = m->vertex_count;
  r->f = m->face_count;
  size_t nf = m->face_count, nv = m->vertex_count;
  const uint32_t *ix = m->indices;
  for (size_t q = 0; q < 3 * nf; q++)
    if (ix[q] >= nv) r->out_of_range++;
  if (r->out_of_range) return;
  /* edges: key (min << 33 | max << 1 | reversed) */
  uint64_t *e = malloc((3 * nf + 1) * sizeof *e);
  assert_non_null(e);
  for (size_t f = 0; f < nf; f++)
    for (int c = 0; c < 3; c++) {
      uint64_t a = ix[3 * f + c], b = ix[3 * f + (c + 1) % 3];
      e[3 * f + c] = a < b ? (a << 33 | b << 1) : (b << 33 | a << 1 | 1);
    }
  qsort(e, 3 * nf, sizeof *e, cmp_u64);
  for (size_t q = 0; q < 3 * nf;) {
    size_t s = q;
    while (q < 3 * nf && (e[q] >> 1) == (e[s] >> 1))
      q++;
    r->e++;
    if (q - s != 2 || (e[s] & 1) != 0 || (e[s + 1] & 1) != 1) r->bad_edges++;
  }
  free(e);
  /* fans: for corner v of face (v, a, b), link a -> b; one cycle per vertex */
  uint64_t *lk = malloc((3 * nf + 1) * sizeof *lk);
  size_t *first = calloc(nv + 1, sizeof *first);
  uint8_t *seen = calloc(3 * nf + 1, 1);
  assert_true(lk && first && seen);
  for (size_t f = 0; f < nf; f++)
    for (int c = 0; c < 3; c++) {
      uint64_t v = ix[3 * f + c], a = ix[3 * f + (c + 1) % 3];
      lk[3 * f + c] = v << 32 | a;
    }
  qsort(lk, 3 * nf, sizeof *lk, cmp_u64);
  /* b of each entry, recovered per face: store as parallel array */
  uint32_t *lb = malloc((3 * nf + 1) * sizeof *lb);
  assert_non_null(lb);
  for (size_t f = 0; f < nf; f++)
    for (int c = 0; c < 3; c++) {
      uint64_t key = (uint64_t)ix[3 * f + c] << 32 | ix[3 * f + (c + 1) % 3];
      uint64_t *hit = bsearch(&key, lk, 3 * nf, sizeof *lk, cmp_u64);
      assert_non_null(hit);
      lb[hit - lk] = ix[3 * f + (c + 2) % 3];
    }
  for (size_t q = 0; q < 3 * nf; q++)
    first[(lk[q] >> 32) + 1]++;
  for (size_t v = 0; v < nv; v++)
    first[v + 1] += first[v];
  for (size_t v = 0; v < nv; v++) {
    size_t s = first[v], t = first[v + 1];
    if (s == t) {
      r->unused++;
      continue;
    }
    int cycles = 0, broken = 0;
    for (size_t q = s; q < t; q++) {
      if (seen[q]) continue;
      cycles++;
      size_t cur = q;
      while (!seen[cur]) {
        seen[cur] = 1;
        uint64_t key = (uint64_t)v << 32 | lb[cur];
        uint64_t *hit = bsearch(&key, lk + s, t - s, sizeof *lk, cmp_u64);
        if (!hit) {
          broken = 1;
          break;
        }
        cur = (size_t)(hit - lk);
      }
    }
    if (cycles != 1 || broken) r->bad_vertices++;
  }
  free(lk);
  free(lb);
  free(first);
  free(seen);
  /* components, degenerate faces, volume */
  uint32_t *uf = malloc((nv + 1) * sizeof *uf);
  assert_non_null(uf);
  for (size_t v = 0; v < nv; v++)
    uf[v] = (uint32_t)v;
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = ix + 3 * f;
    uf[uf_find(uf, t[0])] = uf_find(uf, t[1]);
    uf[uf_find(uf, t[1])] = uf_find(uf, t[2]);
    const float *p0 = m->positions + 3 * t[0], *p1 = m->positions + 3 * t[1], *p2 = m->positions + 3 * t[2];
    double u[3], w[3], x[3];
    for (int d = 0; d < 3; d++)
      u[d] = (double)p1[d] - p0[d], w[d] = (double)p2[d] - p0[d];
    x[0] = u[1] * w[2] - u[2] * w[1];
    x[1] = u[2] * w[0] - u[0] * w[2];
    x[2] = u[0] * w[1] - u[1] * w[0];
    if (t[0] == t[1] || t[1] == t[2] || t[0] == t[2] || (x[0] == 0 && x[1] == 0 && x[2] == 0))
      r->degenerate++;
    r->volume += (p0[0] * ((double)p1[1] * p2[2] - (double)p1[2] * p2[1]) +
                  p0[1] * ((double)p1[2] * p2[0] - (double)p1[0] * p2[2]) +
                  p0[2] * ((double)p1[0] * p2[1] - (double)p1[1] * p2[0])) /
                 6;
  }
  /* components: roots among the used vertices (an unused vertex is its own root) */
  for (size_t v = 0; v < nv; v++)
    if (uf_find(uf, (uint32_t)v) == v) r->components++;
  r->components -= r->unused;
  free(uf);
  r->euler = (long)(nv - r->unused) - (long)r->e + (long)nf;
  /* identical positions */
  uint32_t *ord = malloc((nv + 1) * sizeof *ord);
  assert_non_null(ord);
  for (size_t v = 0; v < nv; v++)
    ord[v] = (uint32_t)v;
  g_pos = m->positions;
  qsort(ord, nv, sizeof *ord, cmp_pos);
  for (size_t v = 1; v < nv; v++)
    if (cmp_pos(&ord[v - 1], &ord[v]) == 0) r->dup_positions++;
  free(ord);
}

/* Closed, edge- and vertex-manifold, nothing degenerate or duplicated. */
static void assert_clean(const report *r) {
  assert_int_equal(r->out_of_range, 0);
  assert_int_equal(r->bad_edges, 0);
  assert_int_equal(r->bad_vertices, 0);
  assert_int_equal(r->degenerate, 0);
  assert_int_equal(r->dup_positions, 0);
  assert_int_equal(r->unused, 0);
}

static void extract(grid *g, float iso, int threads, orf_mesh *m) {
  orf_volume v = volume_of(g);
  assert_int_equal(orf_mc_extract(&v, iso, threads, NULL, m), ORF_OK);
  assert_int_equal(atomic_load(&g->bad_k), 0);
}

/* ---- tests --------------------------------------------------------------- */

static void test_checker_catches_defects(void **state) {
  (void)state;
  /* a tetrahedron is clean; dropping a face, flipping one, or pinching two
   * tetrahedra at a vertex must each be caught */
  float pos[7 * 3] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, -1, 0, 0, 0, -1, 0, 0, 0, -1};
  uint32_t tet[8 * 3] = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3, 0, 5, 4, 0, 4, 6, 0, 6, 5, 4, 5, 6};
  orf_mesh m = {.positions = pos, .indices = tet, .vertex_count = 4, .face_count = 4};
  report r;
  check_mesh(&m, &r);
  assert_clean(&r);
  assert_int_equal(r.euler, 2);
  assert_true(r.volume > 0);
  m.face_count = 3;
  check_mesh(&m, &r);
  assert_true(r.bad_edges > 0);
  m.face_count = 4;
  uint32_t t = tet[0];
  tet[0] = tet[1], tet[1] = t;
  check_mesh(&m, &r);
  assert_true(r.bad_edges > 0);
  tet[1] = tet[0], tet[0] = t;
  m.vertex_count = 7, m.face_count = 8;
  check_mesh(&m, &r);
  assert_int_equal(r.bad_edges, 0);
  assert_int_equal(r.bad_vertices, 1);
}

static void test_table_uses_crossed_edges(void **state) {
  (void)state;
  static const int ends[12][2] = {{0, 1}, {2, 3}, {4, 5}, {6, 7}, {0, 2}, {1, 3},
                                  {4, 6}, {5, 7}, {0, 4}, {1, 5}, {2, 6}, {3, 7}};
  for (int c = 0; c < 256; c++) {
    int used[12] = {0};
    for (int t = 0; t < 3 * orf_mc_tri_count[c]; t++)
      used[orf_mc_tri_edges[c][t]]++;
    for (int e = 0; e < 12; e++) {
      int crossed = ((c >> ends[e][0]) & 1) != ((c >> ends[e][1]) & 1);
      assert_int_equal(crossed, used[e] > 0);
    }
    /* complementary cases have the same number of crossings */
    int n = 0, nc = 0;
    for (int e = 0; e < 12; e++)
      n += used[e] > 0;
    for (int t = 0; t < 3 * orf_mc_tri_count[255 - c]; t++)
      used[orf_mc_tri_edges[255 - c][t]] = -1;
    for (int e = 0; e < 12; e++)
      nc += used[e] < 0;
    assert_int_equal(n, nc);
  }
}

static void check_sphere(int n, double tol) {
  double c = (n - 1) / 2.0, r = 0.4 * n;
  grid *g = sphere_grid(n, c, c, c, r);
  orf_mesh m;
  extract(g, 0, 2, &m);
  report rep;
  check_mesh(&m, &rep);
  assert_clean(&rep);
  assert_int_equal(rep.euler, 2);
  assert_int_equal(rep.components, 1);
  double want = 4.0 / 3.0 * M_PI * r * r * r;
  assert_true(rep.volume > 0);
  assert_true(fabs(rep.volume - want) < tol * want);
  /* every vertex lies near the sphere */
  for (size_t v = 0; v < m.vertex_count; v++) {
    const float *p = m.positions + 3 * v;
    double d = sqrt((p[0] - c) * (p[0] - c) + (p[1] - c) * (p[1] - c) + (p[2] - c) * (p[2] - c));
    assert_true(fabs(d - r) < 0.05);
  }
  orf_mesh_free(&m);
  grid_free(g);
}

static void test_sphere_32(void **state) {
  (void)state;
  check_sphere(32, 0.03);
}
static void test_sphere_64(void **state) {
  (void)state;
  check_sphere(64, 0.015);
}
static void test_sphere_128(void **state) {
  (void)state;
  check_sphere(128, 0.01);
}

static void test_origin_and_spacing(void **state) {
  (void)state;
  grid *g = sphere_grid(24, 11.5, 11.5, 11.5, 8);
  orf_volume v = volume_of(g);
  v.origin[0] = 10, v.origin[1] = -5, v.origin[2] = 2;
  v.spacing[0] = 0.5, v.spacing[1] = 2, v.spacing[2] = 1;
  orf_mesh m;
  assert_int_equal(orf_mc_extract(&v, 0, 1, NULL, &m), ORF_OK);
  assert_null(m.colors);
  float lo[3], hi[3];
  orf_mesh_bounds(&m, lo, hi);
  const float want_lo[3] = {10 + 0.5f * 3.5f, -5 + 2 * 3.5f, 2 + 3.5f};
  const float want_hi[3] = {10 + 0.5f * 19.5f, -5 + 2 * 19.5f, 2 + 19.5f};
  for (int d = 0; d < 3; d++) {
    assert_true(fabsf(lo[d] - want_lo[d]) < 0.05f * v.spacing[d]);
    assert_true(fabsf(hi[d] - want_hi[d]) < 0.05f * v.spacing[d]);
  }
  report r;
  check_mesh(&m, &r);
  assert_clean(&r);
  assert_true(r.volume > 0); /* a positive scale keeps the orientation */
  orf_mesh_free(&m);
  grid_free(g);
}

static void test_torus(void **state) {
  (void)state;
  int n = 64;
  double c = (n - 1) / 2.0, R = 0.3 * n, rr = 0.12 * n;
  grid *g = grid_new(n, n, n);
  for (int k = 0; k < n; k++)
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++) {
        double x = i - c, y = j - c, z = k - c, q = sqrt(x * x + y * y) - R;
        *at(g, i, j, k) = (float)(sqrt(q * q + z * z) - rr);
      }
  orf_mesh m;
  extract(g, 0, 2, &m);
  report r;
  check_mesh(&m, &r);
  assert_clean(&r);
  assert_int_equal(r.euler, 0);
  assert_int_equal(r.components, 1);
  double want = 2 * M_PI * M_PI * R * rr * rr;
  assert_true(fabs(r.volume - want) < 0.02 * want);
  orf_mesh_free(&m);
  grid_free(g);
}

static void test_two_spheres(void **state) {
  (void)state;
  int n = 48;
  grid *a = sphere_grid(n, 14, 15, 20, 9), *b = sphere_grid(n, 33, 30, 26, 10);
  for (size_t q = 0; q < (size_t)n * n * n; q++)
    a->val[q] = fminf(a->val[q], b->val[q]);
  orf_mesh m;
  extract(a, 0, 3, &m);
  report r;
  check_mesh(&m, &r);
  assert_clean(&r);
  assert_int_equal(r.components, 2);
  assert_int_equal(r.euler, 4);
  orf_mesh_free(&m);
  grid_free(a);
  grid_free(b);
}

static void test_random_smooth_fields(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    grid *g = gauss_grid(40, seed, 24);
    orf_mesh m;
    extract(g, 0, 2, &m);
    report r;
    check_mesh(&m, &r);
    assert_true(r.f > 0);
    assert_clean(&r);
    assert_true(r.volume > 0);
    assert_int_equal(r.euler % 2, 0);
    orf_mesh_free(&m);
    grid_free(g);
  }
}

static void test_random_noise_fields(void **state) {
  (void)state;
  /* cubes, and rows that end just past a 64-bit word (65, 129 points) */
  static const int dims[][3] = {{24, 24, 24}, {24, 24, 24}, {24, 24, 24}, {24, 24, 24},
                                {65, 14, 13}, {129, 9, 11}, {128, 10, 9}, {66, 12, 12}};
  for (uint64_t seed = 0; seed < 8; seed++) {
    grid *g = noise_grid(dims[seed][0], dims[seed][1], dims[seed][2], seed * 77 + 1);
    orf_mesh m;
    extract(g, 0, 2, &m);
    report r;
    check_mesh(&m, &r);
    assert_true(r.f > 1000);
    assert_clean(&r);
    assert_true(r.volume > 0);
    orf_mesh_free(&m);
    grid_free(g);
  }
}

/* Every sign configuration of one cell, of two cells sharing a face (along
 * each axis) and, at random, of 2x2x2 cells, padded outside: each mesh must
 * be closed and 2-manifold.  This checks the table's consistency across
 * shared faces exhaustively. */
static void check_block(int bx, int by, int bz, uint64_t bits, report *r) {
  grid *g = grid_new(bx + 3, by + 3, bz + 3);
  for (size_t q = 0; q < (size_t)(bx + 3) * (by + 3) * (bz + 3); q++)
    g->val[q] = 1;
  int b = 0;
  for (int k = 1; k <= bz + 1; k++)
    for (int j = 1; j <= by + 1; j++)
      for (int i = 1; i <= bx + 1; i++, b++)
        *at(g, i, j, k) = ((bits >> b) & 1) ? -0.5f - 0.1f * (b % 5) : 0.3f + 0.2f * (b % 3);
  orf_mesh m;
  extract(g, 0, 1, &m);
  check_mesh(&m, r);
  assert_clean(r);
  assert_true(r->volume > 0 || bits == 0);
  orf_mesh_free(&m);
  grid_free(g);
}

static void test_all_cell_configurations(void **state) {
  (void)state;
  report r;
  for (uint64_t c = 0; c < 256; c++)
    check_block(1, 1, 1, c, &r);
  for (uint64_t c = 0; c < 4096; c++) {
    check_block(2, 1, 1, c, &r);
    check_block(1, 2, 1, c, &r);
    check_block(1, 1, 2, c, &r);
  }
  uint64_t s = 12345;
  for (int t = 0; t < 1500; t++)
    check_block(2, 2, 2, rng_next(&s) & ((1ULL << 27) - 1), &r);
}

static void test_same_bytes_for_any_thread_count(void **state) {
  (void)state;
  grid *fields[2] = {gauss_grid(72, 42, 30), noise_grid(129, 20, 41, 5)};
  for (int f = 0; f < 2; f++) {
    orf_mesh ref;
    extract(fields[f], 0, 1, &ref);
    assert_true(ref.face_count > 1000);
    const int threads[] = {2, 3, 8, 0};
    for (int t = 0; t < 4; t++) {
      orf_mesh m;
      extract(fields[f], 0, threads[t], &m);
      assert_int_equal(m.vertex_count, ref.vertex_count);
      assert_int_equal(m.face_count, ref.face_count);
      assert_memory_equal(m.positions, ref.positions, ref.vertex_count * 3 * sizeof(float));
      assert_memory_equal(m.indices, ref.indices, ref.face_count * 3 * sizeof(uint32_t));
      orf_mesh_free(&m);
    }
    orf_mesh_free(&ref);
    grid_free(fields[f]);
  }
}

static void test_values_equal_to_iso(void **state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 4; seed++) {
    grid *g = grid_new(28, 28, 28);
    uint64_t s = seed;
    for (size_t q = 0; q < (size_t)28 * 28 * 28; q++)
      g->val[q] = (float)(rng_next(&s) % 3); /* 0, 1, 2 */
    pad(g, 2);
    orf_mesh m;
    extract(g, 1, 2, &m); /* a value of 1 is outside */
    report r;
    check_mesh(&m, &r);
    assert_true(r.f > 0);
    assert_clean(&r);
    orf_mesh_free(&m);
    grid_free(g);
  }
  /* a grid of exactly iso inside a box of lower values: all crossings are clamped */
  grid *g = grid_new(12, 12, 12);
  for (size_t q = 0; q < (size_t)12 * 12 * 12; q++)
    g->val[q] = 3;
  for (int k = 3; k < 9; k++)
    for (int j = 3; j < 9; j++)
      for (int i = 3; i < 9; i++)
        *at(g, i, j, k) = 2;
  orf_mesh m;
  extract(g, 3, 1, &m);
  report r;
  check_mesh(&m, &r);
  assert_clean(&r);
  assert_int_equal(r.euler, 2);
  /* crossings sit 1e-4 of a cell from the outside points: between the
   * inside points' box and the outside points' box */
  assert_true(r.volume > 5 * 5 * 5 && r.volume < 7 * 7 * 7);
  orf_mesh_free(&m);
  grid_free(g);
}

static void test_streams_slices(void **state) {
  (void)state;
  int n = 128;
  grid *g = sphere_grid(n, 63.5, 63.5, 63.5, 30);
  orf_memtrack t = {0};
  orf_memtrack *old = orf_memtrack_set(&t);
  orf_mesh m;
  extract(g, 0, 2, &m);
  orf_mesh_free(&m);
  orf_memtrack_set(old);
  assert_int_equal(atomic_load(&t.current), 0);
  /* two slices per slab and the mesh: far below one float grid */
  assert_true(atomic_load(&t.peak) < (size_t)n * n * n * sizeof(float) / 4);
  /* each slice is evaluated once, plus once more per extra slab */
  assert_true(atomic_load(&g->calls) <= n + 1);
  grid_free(g);
}

static void test_cancel(void **state) {
  (void)state;
  grid *g = gauss_grid(48, 7, 20);
  orf_volume v = volume_of(g);
  atomic_int cancel = 1;
  orf_memtrack t = {0};
  orf_memtrack *old = orf_memtrack_set(&t);
  orf_mesh m;
  memset(&m, 0xab, sizeof m);
  assert_int_equal(orf_mc_extract(&v, 0, 2, &cancel, &m), ORF_ECANCELED);
  assert_null(m.positions);
  assert_null(m.indices);
  assert_int_equal(m.face_count, 0);
  /* cancelled half-way, from inside the field callback */
  for (int threads = 1; threads <= 3; threads++) {
    atomic_store(&cancel, 0);
    atomic_store(&g->calls, 0);
    g->cancel = &cancel;
    g->cancel_after = 20;
    assert_int_equal(orf_mc_extract(&v, 0, threads, &cancel, &m), ORF_ECANCELED);
    assert_null(m.positions);
    assert_true(atomic_load(&g->calls) < 48);
  }
  orf_memtrack_set(old);
  assert_int_equal(atomic_load(&t.current), 0);
  grid_free(g);
}

static void test_allocation_failures(void **state) {
  (void)state;
  grid *g = gauss_grid(40, 3, 20);
  orf_volume v = volume_of(g);
  int ok = 0;
  for (long n = 1; n < 400 && !ok; n++) {
    for (int threads = 1; threads <= 2; threads++) {
      orf_memtrack t = {0};
      atomic_store(&t.fail_after, n);
      orf_memtrack *old = orf_memtrack_set(&t);
      orf_mesh m;
      int rc = orf_mc_extract(&v, 0, threads, NULL, &m);
      if (rc == ORF_OK) {
        ok = 1;
        orf_mesh_free(&m);
      } else {
        assert_int_equal(rc, ORF_ENOMEM);
        assert_null(m.positions);
      }
      orf_memtrack_set(old);
      assert_int_equal(atomic_load(&t.current), 0);
    }
  }
  assert_true(ok);
  grid_free(g);
}

static void test_empty_and_bad_input(void **state) {
  (void)state;
  grid *g = grid_new(10, 9, 8);
  for (size_t q = 0; q < (size_t)10 * 9 * 8; q++)
    g->val[q] = 5;
  orf_mesh m;
  extract(g, 0, 2, &m);
  assert_int_equal(m.face_count, 0);
  assert_int_equal(m.vertex_count, 0);
  orf_mesh_free(&m);
  /* the whole grid inside: no crossing either */
  extract(g, 6, 2, &m);
  assert_int_equal(m.face_count, 0);
  orf_mesh_free(&m);
  orf_volume v = volume_of(g);
  v.nx = 1;
  assert_int_equal(orf_mc_extract(&v, 0, 1, NULL, &m), ORF_EINVAL);
  assert_null(m.positions);
  v = volume_of(g);
  v.nz = 0;
  assert_int_equal(orf_mc_extract(&v, 0, 1, NULL, &m), ORF_EINVAL);
  v = volume_of(g);
  v.ny = -3;
  assert_int_equal(orf_mc_extract(&v, 0, 1, NULL, &m), ORF_EINVAL);
  v = volume_of(g);
  v.eval = NULL;
  assert_int_equal(orf_mc_extract(&v, 0, 1, NULL, &m), ORF_EINVAL);
  assert_int_equal(orf_mc_extract(NULL, 0, 1, NULL, &m), ORF_EINVAL);
  /* the smallest grid: one cell */
  grid *one = grid_new(2, 2, 2);
  for (int q = 0; q < 8; q++)
    one->val[q] = q == 0 ? -1.0f : 1.0f;
  extract(one, 0, 4, &m);
  assert_int_equal(m.face_count, 1);
  assert_int_equal(m.vertex_count, 3);
  orf_mesh_free(&m);
  grid_free(one);
  grid_free(g);
}

static void test_open_surface_at_boundary(void **state) {
  (void)state;
  /* a plane z = 10.3 through a grid that is not outside on its boundary:
   * every edge is used once or twice in opposite directions, normals up */
  grid *g = grid_new(20, 17, 23);
  for (int k = 0; k < 23; k++)
    for (int j = 0; j < 17; j++)
      for (int i = 0; i < 20; i++)
        *at(g, i, j, k) = (float)(k - 10.3 + 0.01 * i);
  orf_mesh m;
  extract(g, 0, 3, &m);
  assert_true(m.face_count > 0);
  for (size_t f = 0; f < m.face_count; f++) {
    const float *a = m.positions + 3 * m.indices[3 * f], *b = m.positions + 3 * m.indices[3 * f + 1],
                *c = m.positions + 3 * m.indices[3 * f + 2];
    double nz = (double)(b[0] - a[0]) * (c[1] - a[1]) - (double)(b[1] - a[1]) * (c[0] - a[0]);
    assert_true(nz > 0);
  }
  orf_mesh_free(&m);
  grid_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_checker_catches_defects),
      cmocka_unit_test(test_table_uses_crossed_edges),
      cmocka_unit_test(test_sphere_32),
      cmocka_unit_test(test_sphere_64),
      cmocka_unit_test(test_sphere_128),
      cmocka_unit_test(test_origin_and_spacing),
      cmocka_unit_test(test_torus),
      cmocka_unit_test(test_two_spheres),
      cmocka_unit_test(test_random_smooth_fields),
      cmocka_unit_test(test_random_noise_fields),
      cmocka_unit_test(test_all_cell_configurations),
      cmocka_unit_test(test_same_bytes_for_any_thread_count),
      cmocka_unit_test(test_values_equal_to_iso),
      cmocka_unit_test(test_streams_slices),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_allocation_failures),
      cmocka_unit_test(test_empty_and_bad_input),
      cmocka_unit_test(test_open_surface_at_boundary),
  };
  return cmocka_run_group_tests_name("mc", tests, NULL, NULL);
}
