/*
 * test_slivers.c - the repair of needles and caps (src/mesh/simplify.c,
 * after M. Botsch and L. Kobbelt, "A Robust Procedure to Eliminate
 * Degenerate Faces from Triangle Meshes", VMV 2001): faces whose smallest
 * altitude is under 1e-3 of their longest edge pass orf_mesh_check (their
 * area is far above its degenerate threshold) but are too thin for the float
 * facet normal a slicer computes, so admesh "fixes" their normals (issue 3).
 * Built by hand on the flat sides of a cube, where no repair may move the
 * surface: a cap (a vertex 1e-6 of an edge away from that edge), a needle
 * (a vertex 1e-6 of an edge away from its neighbour), two caps back to back
 * on one edge, and a mesh that has none, which must come back unchanged.
 * Then meshoptimizer's own caps: a finely gridded cube and a relief-like
 * plate with plateaus, simplified at several budgets, come out without a
 * sliver (without the repair: 1 on the cube, 7 to 273 on the plate).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mesh.h"
#include "meshdist.h"
#include "meshgen.h"
#include "simplify.h"

/* simplify.c's SLIVER_RATIO: smallest altitude over longest edge */
#define RATIO 1e-3

/* The vertex of the 8 x 8 gridded cube of half side 1 at grid point (i, j)
 * of its +z side (0 < i, j < 8: inside the side, never on a cube edge). */
static uint32_t side_vertex(const orf_mesh *m, int i, int j) {
  for (size_t v = 0; v < m->vertex_count; v++) {
    const float *p = m->positions + 3 * v;
    if (p[2] == 1.0f && p[0] == -1.0f + 0.25f * (float)i && p[1] == -1.0f + 0.25f * (float)j)
      return (uint32_t)v;
  }
  fail_msg("no vertex at (%d, %d)", i, j);
  return 0;
}

/* A face (v, p, q) of m, as corners rotated so v comes first: the first in
 * face order that has v. */
static void face_at(const orf_mesh *m, uint32_t v, uint32_t *p, uint32_t *q) {
  for (size_t f = 0; f < m->face_count; f++)
    for (int k = 0; k < 3; k++)
      if (m->indices[3 * f + k] == v) {
        *p = m->indices[3 * f + (k + 1) % 3];
        *q = m->indices[3 * f + (k + 2) % 3];
        return;
      }
  fail_msg("vertex %u in no face", v);
}

/* Puts v at from + t (to - from) + s (v - mid(from, to)) / |v - mid|. */
static void move_vertex(orf_mesh *m, uint32_t v, uint32_t from, uint32_t to, double t, double s) {
  float *pv = m->positions + 3 * v;
  const float *a = m->positions + 3 * from, *b = m->positions + 3 * to;
  double d[3], len = 0, out[3];
  for (int k = 0; k < 3; k++) {
    d[k] = pv[k] - 0.5 * ((double)a[k] + b[k]);
    len += d[k] * d[k];
  }
  len = sqrt(len);
  for (int k = 0; k < 3; k++)
    out[k] = a[k] + t * ((double)b[k] - a[k]) + s * d[k] / len;
  for (int k = 0; k < 3; k++)
    pv[k] = (float)out[k];
}

/* The repaired cube: closed, manifold, a sphere's topology, no sliver, the
 * same volume (every repair stayed on a flat side) and no unused vertex. */
static void assert_clean_cube(orf_mesh *m) {
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(m, &r), ORF_OK);
  assert_true(r.watertight && r.manifold);
  assert_int_equal(r.euler, 2);
  assert_int_equal(r.components, 1);
  assert_int_equal(r.unused_vertices, 0);
  assert_true(fabs(r.volume - 8.0) < 1e-5);
  assert_int_equal(md_count_slivers(m, RATIO), 0);
}

/* A cap - a vertex moved to 1e-6 of an edge away from the middle of the
 * opposite edge of one of its faces - and a needle - a vertex moved to
 * 1e-6 away from a neighbour - pass orf_mesh_check, and the repair flips
 * the cap's edge and collapses the needle's. */
static void test_cap_and_needle_removed(void **state) {
  (void)state;
  orf_mesh m;
  assert_int_equal(mg_cube(&m, 8, 1.0f), 0);
  uint32_t v = side_vertex(&m, 2, 2), p, q;
  face_at(&m, v, &p, &q);
  double pq = sqrt(pow(m.positions[3 * p] - m.positions[3 * q], 2) +
                   pow(m.positions[3 * p + 1] - m.positions[3 * q + 1], 2));
  move_vertex(&m, v, p, q, 0.5, 1e-6 * pq); /* the cap (v, p, q) */
  uint32_t w = side_vertex(&m, 6, 6), a, b;
  face_at(&m, w, &a, &b);
  move_vertex(&m, w, a, w, 1e-6, 0); /* needles (w, a, .) */
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_true(r.watertight && r.manifold); /* not degenerate by the check's measure */
  assert_int_equal(r.degenerate_faces, 0);
  assert_int_equal(md_count_slivers(&m, RATIO), 3); /* the cap and the needle's two faces */
  size_t faces = m.face_count;
  assert_int_equal(orf_mesh_fix_degenerate(&m), ORF_OK);
  assert_clean_cube(&m);
  assert_int_equal(m.face_count, faces - 2); /* one flip, one collapse */
  orf_mesh_free(&m);
}

/* Two caps back to back on one edge (p, q): flipping it would give two
 * slivers again, so the repair must collapse instead. */
static void test_caps_back_to_back(void **state) {
  (void)state;
  orf_mesh m;
  assert_int_equal(mg_cube(&m, 8, 1.0f), 0);
  uint32_t v = side_vertex(&m, 4, 4), p, q;
  face_at(&m, v, &p, &q);
  /* the vertex across p-q: the face (q, p, w) */
  uint32_t w = UINT32_MAX;
  for (size_t f = 0; f < m.face_count && w == UINT32_MAX; f++)
    for (int k = 0; k < 3; k++)
      if (m.indices[3 * f + k] == q && m.indices[3 * f + (k + 1) % 3] == p)
        w = m.indices[3 * f + (k + 2) % 3];
  assert_int_not_equal(w, UINT32_MAX);
  const float *pw = m.positions + 3 * w;
  assert_true(pw[2] == 1.0f && fabsf(pw[0]) < 1.0f && fabsf(pw[1]) < 1.0f); /* inside the side too */
  move_vertex(&m, v, p, q, 0.4, 1e-6);
  move_vertex(&m, w, p, q, 0.6, 1e-6);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_true(r.watertight && r.manifold);
  assert_int_equal(md_count_slivers(&m, RATIO), 2);
  assert_int_equal(orf_mesh_fix_degenerate(&m), ORF_OK);
  assert_clean_cube(&m);
  orf_mesh_free(&m);
}

/* A mesh without slivers comes back byte for byte, and a repair gives the
 * same bytes every time. */
static void test_clean_untouched_and_deterministic(void **state) {
  (void)state;
  orf_mesh m, c;
  assert_int_equal(mg_icosphere(&m, 4, 1.0f), 0);
  assert_int_equal(md_count_slivers(&m, RATIO), 0);
  assert_int_equal(orf_mesh_copy(&c, &m), ORF_OK);
  assert_int_equal(orf_mesh_fix_degenerate(&m), ORF_OK);
  assert_int_equal(m.face_count, c.face_count);
  assert_memory_equal(m.indices, c.indices, m.face_count * 3 * sizeof(uint32_t));
  assert_memory_equal(m.positions, c.positions, m.vertex_count * 3 * sizeof(float));
  orf_mesh_free(&m);
  orf_mesh_free(&c);
  orf_mesh a, b;
  assert_int_equal(mg_cube(&a, 8, 1.0f), 0);
  uint32_t v = side_vertex(&a, 3, 5), p, q;
  face_at(&a, v, &p, &q);
  move_vertex(&a, v, p, q, 0.5, 1e-7);
  assert_int_equal(orf_mesh_copy(&b, &a), ORF_OK);
  assert_int_equal(orf_mesh_fix_degenerate(&a), ORF_OK);
  assert_int_equal(orf_mesh_fix_degenerate(&b), ORF_OK);
  assert_int_equal(a.face_count, b.face_count);
  assert_memory_equal(a.indices, b.indices, a.face_count * 3 * sizeof(uint32_t));
  assert_int_equal(md_count_slivers(&a, RATIO), 0);
  orf_mesh_free(&a);
  orf_mesh_free(&b);
}

/* A closed plate like a relief: an n x n grid height field of terraces
 * (flat steps, as a relief of a posterised image has) crossed by a
 * flat-topped ridge with sloping sides, on a flat bottom, the walls one quad
 * high.  meshoptimizer 0.18 leaves hundreds of caps on it. */
static int terrace_plate(orf_mesh *m, int n) {
  size_t g = (size_t)n + 1, nv = 2 * g * g, nf = 4 * (size_t)n * n + 8 * (size_t)n;
  if (orf_mesh_alloc(m, nv, nf, 0)) return -1;
  for (size_t j = 0; j < g; j++)
    for (size_t i = 0; i < g; i++) {
      float *top = m->positions + 3 * (j * g + i), *bot = m->positions + 3 * (g * g + j * g + i);
      double x = (double)i / n - 0.5, y = (double)j / n - 0.5, r = sqrt(x * x + y * y);
      int inner = i > 0 && j > 0 && i < (size_t)n && j < (size_t)n;
      double h = inner ? 4.0 * floor(4.0 * (0.75 - r)) + fmin(4.0, fmax(0.0, 20.0 * (0.3 - fabs(x + y)))) : 0;
      top[0] = bot[0] = (float)i;
      top[1] = bot[1] = (float)j;
      top[2] = 2.0f + (float)fmax(h, 0.0);
      bot[2] = 0;
    }
  uint32_t *o = m->indices;
  for (size_t j = 0; j < (size_t)n; j++)
    for (size_t i = 0; i < (size_t)n; i++) {
      uint32_t a = (uint32_t)(j * g + i), b = a + 1, c = a + (uint32_t)g + 1, d = a + (uint32_t)g;
      uint32_t s = (uint32_t)(g * g);
      *o++ = a, *o++ = b, *o++ = c, *o++ = a, *o++ = c, *o++ = d;                         /* top, up */
      *o++ = a + s, *o++ = c + s, *o++ = b + s, *o++ = a + s, *o++ = d + s, *o++ = c + s; /* bottom */
    }
  /* walls: around the border counter-clockwise seen from above, outward */
  for (int side = 0; side < 4; side++)
    for (int k = 0; k < n; k++) {
      size_t i0, j0, i1, j1;
      switch (side) {
      case 0: i0 = (size_t)k, j0 = 0, i1 = (size_t)k + 1, j1 = 0; break;
      case 1: i0 = (size_t)n, j0 = (size_t)k, i1 = (size_t)n, j1 = (size_t)k + 1; break;
      case 2: i0 = (size_t)(n - k), j0 = (size_t)n, i1 = (size_t)(n - k - 1), j1 = (size_t)n; break;
      default: i0 = 0, j0 = (size_t)(n - k), i1 = 0, j1 = (size_t)(n - k - 1); break;
      }
      uint32_t t0 = (uint32_t)(j0 * g + i0), t1 = (uint32_t)(j1 * g + i1);
      uint32_t b0 = t0 + (uint32_t)(g * g), b1 = t1 + (uint32_t)(g * g);
      *o++ = b0, *o++ = b1, *o++ = t1, *o++ = b0, *o++ = t1, *o++ = t0;
    }
  return 0;
}

/* meshoptimizer 0.18 leaves caps on flat ground (measured: hundreds, down
 * to 4e-8, on a relief of samples/heart.png); the simplifier's repair
 * removes them: a finely gridded cube and a terraced plate, at several
 * budgets, come out closed, manifold and without a sliver. */
static void test_simplified_without_slivers(void **state) {
  (void)state;
  orf_mesh cube, plate;
  assert_int_equal(mg_cube(&cube, 60, 10.0f), 0); /* 43,200 faces */
  assert_int_equal(terrace_plate(&plate, 150), 0);
  orf_mesh_report in;
  assert_int_equal(orf_mesh_check(&plate, &in), ORF_OK);
  assert_true(in.watertight && in.manifold && in.euler == 2 && in.volume > 0);
  const orf_mesh *meshes[2] = {&cube, &plate};
  const size_t budgets[3] = {2000, 5000, 15000};
  size_t slivers = 0;
  for (int i = 0; i < 2; i++)
    for (int b = 0; b < 3; b++) {
      orf_mesh s;
      assert_int_equal(orf_mesh_copy(&s, meshes[i]), ORF_OK);
      assert_int_equal(orf_mesh_simplify(&s, budgets[b]), ORF_OK);
      orf_mesh_report r;
      assert_int_equal(orf_mesh_check(&s, &r), ORF_OK);
      size_t n = md_count_slivers(&s, RATIO);
      if (n) print_message("mesh %d at %zu faces: %zu slivers\n", i, budgets[b], n);
      assert_true(r.watertight && r.manifold && r.euler == 2 && r.components == 1);
      assert_true(s.face_count < meshes[i]->face_count);
      slivers += n;
      orf_mesh_free(&s);
    }
  assert_int_equal(slivers, 0);
  orf_mesh_free(&cube);
  orf_mesh_free(&plate);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cap_and_needle_removed),
      cmocka_unit_test(test_caps_back_to_back),
      cmocka_unit_test(test_clean_untouched_and_deterministic),
      cmocka_unit_test(test_simplified_without_slivers),
  };
  return cmocka_run_group_tests_name("slivers", tests, NULL, NULL);
}
