/*
 * test_check.c - orf_mesh_check: every field of orf_mesh_report on closed
 * meshes and on each kind of defect (a hole, a flipped face, duplicate,
 * collapsed and zero-area faces, two cones touching at a tip, a fin of
 * three faces on an edge, unused vertices, out-of-range indices), and clean
 * failure when memory runs out.
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
#include "mesh.h"
#include "meshgen.h"

static const double PI = 3.14159265358979323846;

/* The mesh m with its face `drop` removed (or none when drop >= F) and
 * `extra` faces appended (n_extra of them) and n_new_vertices at the
 * origin added. */
static orf_mesh edited(const orf_mesh *m, size_t drop, const uint32_t *extra, size_t n_extra,
                       size_t n_new_vertices) {
  orf_mesh out = {0};
  size_t nf = m->face_count - (drop < m->face_count) + n_extra;
  assert_int_equal(orf_mesh_alloc(&out, m->vertex_count + n_new_vertices, nf, 0), ORF_OK);
  memcpy(out.positions, m->positions, m->vertex_count * 3 * sizeof(float));
  memset(out.positions + 3 * m->vertex_count, 0, n_new_vertices * 3 * sizeof(float));
  size_t o = 0;
  for (size_t f = 0; f < m->face_count; f++)
    if (f != drop) memcpy(out.indices + 3 * o++, m->indices + 3 * f, 3 * sizeof(uint32_t));
  if (n_extra) memcpy(out.indices + 3 * o, extra, n_extra * 3 * sizeof(uint32_t));
  return out;
}

static void assert_closed(const orf_mesh_report *r) {
  assert_int_equal(r->boundary_edges, 0);
  assert_int_equal(r->nonmanifold_edges, 0);
  assert_int_equal(r->misoriented_edges, 0);
  assert_int_equal(r->nonmanifold_vertices, 0);
  assert_int_equal(r->degenerate_faces, 0);
  assert_int_equal(r->duplicate_faces, 0);
  assert_true(r->watertight);
  assert_true(r->manifold);
}

static void test_icosphere_closed(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_icosphere(&m, 4, 10.0f), 0);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_closed(&r);
  assert_int_equal(r.vertices, 2562);
  assert_int_equal(r.faces, 5120);
  assert_int_equal(r.edges, 7680);
  assert_int_equal(r.unused_vertices, 0);
  assert_int_equal(r.components, 1);
  assert_int_equal(r.euler, 2);
  /* inscribed polyhedron: a little under the sphere, within 1% at 5120 faces */
  double v = 4.0 / 3.0 * PI * 1000.0, a = 4.0 * PI * 100.0;
  assert_true(r.volume > 0.99 * v && r.volume < v);
  assert_true(r.area > 0.99 * a && r.area < a);
  for (int k = 0; k < 3; k++) {
    assert_true(fabsf(r.bbox_min[k] + 10.0f) < 1e-4f);
    assert_true(fabsf(r.bbox_max[k] - 10.0f) < 1e-4f);
  }
  /* inside out: same topology, negative volume */
  for (size_t f = 0; f < m.face_count; f++) {
    uint32_t t = m.indices[3 * f + 1];
    m.indices[3 * f + 1] = m.indices[3 * f + 2];
    m.indices[3 * f + 2] = t;
  }
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_closed(&r);
  assert_true(r.volume < -0.99 * v);
  orf_mesh_free(&m);
}

/* High-valence poles take the large-bucket sort path of the edge structure. */
static void test_uv_sphere_poles(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_uv_sphere(&m, 40, 300, 5.0f), 0);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_closed(&r);
  assert_int_equal(r.euler, 2);
  assert_int_equal(r.edges, 3 * m.face_count / 2);
  assert_int_equal(r.components, 1);
  orf_mesh_free(&m);
}

static void test_hole(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_icosphere(&m, 2, 1.0f), 0);
  orf_mesh h = edited(&m, 17, NULL, 0, 0);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&h, &r), ORF_OK);
  assert_int_equal(r.boundary_edges, 3);
  assert_int_equal(r.nonmanifold_edges, 0);
  assert_int_equal(r.misoriented_edges, 0);
  assert_false(r.watertight);
  assert_true(r.manifold); /* a manifold with boundary */
  assert_int_equal(r.euler, 1);
  assert_int_equal(r.edges, 3 * m.face_count / 2);
  orf_mesh_free(&h);
  orf_mesh_free(&m);
}

static void test_flipped_face(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_icosphere(&m, 2, 1.0f), 0);
  uint32_t *t = m.indices + 3 * 5, x = t[0];
  t[0] = t[1];
  t[1] = x;
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_int_equal(r.misoriented_edges, 3);
  assert_int_equal(r.boundary_edges, 0);
  assert_int_equal(r.nonmanifold_edges, 0);
  assert_int_equal(r.nonmanifold_vertices, 0);
  assert_false(r.watertight);
  assert_false(r.manifold);
  assert_int_equal(r.euler, 2);
  orf_mesh_free(&m);
}

static void test_duplicate_faces(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_icosphere(&m, 2, 1.0f), 0);
  const uint32_t *t = m.indices + 3 * 9;
  /* the same face again, rotated; and back to back (reversed) */
  uint32_t same[3] = {t[1], t[2], t[0]}, back[3] = {t[0], t[2], t[1]};
  orf_mesh_report r;
  orf_mesh d = edited(&m, SIZE_MAX, same, 1, 0);
  assert_int_equal(orf_mesh_check(&d, &r), ORF_OK);
  assert_int_equal(r.duplicate_faces, 1);
  assert_int_equal(r.nonmanifold_edges, 3);
  assert_false(r.watertight);
  assert_false(r.manifold);
  orf_mesh_free(&d);
  d = edited(&m, SIZE_MAX, back, 1, 0);
  assert_int_equal(orf_mesh_check(&d, &r), ORF_OK);
  assert_int_equal(r.duplicate_faces, 1);
  assert_false(r.manifold);
  orf_mesh_free(&d);
  /* two copies of one face: a closed "pillow" of its own, watertight but
   * not manifold */
  uint32_t pillow[6] = {0, 1, 2, 0, 2, 1};
  float pos[9] = {0, 0, 0, 1, 0, 0, 0, 1, 0};
  assert_int_equal(mg_from_arrays(&d, pos, 3, pillow, 2, NULL), 0);
  assert_int_equal(orf_mesh_check(&d, &r), ORF_OK);
  assert_int_equal(r.duplicate_faces, 1);
  assert_true(r.watertight);
  assert_false(r.manifold);
  orf_mesh_free(&d);
  orf_mesh_free(&m);
}

static void test_degenerate_faces(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_icosphere(&m, 2, 1.0f), 0);
  /* a collapsed face (repeated index) takes no part in the topology */
  uint32_t collapsed[3] = {4, 4, 7};
  orf_mesh d = edited(&m, SIZE_MAX, collapsed, 1, 0);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&d, &r), ORF_OK);
  assert_int_equal(r.degenerate_faces, 1);
  assert_int_equal(r.edges, 3 * m.face_count / 2);
  assert_int_equal(r.euler, 2);
  assert_true(r.watertight);
  assert_false(r.manifold);
  orf_mesh_free(&d);
  orf_mesh_free(&m);
  /* a closed tetrahedron whose apex D sits on edge A-B: face ABD has zero
   * area without a repeated index */
  float pos[12] = {0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0, 0};
  uint32_t tet[12] = {0, 2, 1, 0, 1, 3, 1, 2, 3, 2, 0, 3};
  assert_int_equal(mg_from_arrays(&d, pos, 4, tet, 4, NULL), 0);
  assert_int_equal(orf_mesh_check(&d, &r), ORF_OK);
  assert_int_equal(r.degenerate_faces, 1);
  assert_true(r.watertight);
  assert_false(r.manifold);
  orf_mesh_free(&d);
}

/* Two tetrahedra sharing only vertex 0: the faces around it form two fans. */
static void test_two_cones_touching(void **state) {
  (void)state;
  float pos[21] = {0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, -1, 0, 0, 0, -1, 0, 0, 0, -1};
  uint32_t idx[24] = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3, 0, 4, 5, 0, 6, 4, 0, 5, 6, 4, 6, 5};
  orf_mesh m = {0};
  assert_int_equal(mg_from_arrays(&m, pos, 7, idx, 8, NULL), 0);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_int_equal(r.nonmanifold_vertices, 1);
  assert_int_equal(r.boundary_edges, 0);
  assert_int_equal(r.nonmanifold_edges, 0);
  assert_int_equal(r.misoriented_edges, 0);
  assert_true(r.watertight);
  assert_false(r.manifold);
  assert_int_equal(r.components, 2); /* joined by a vertex, not an edge */
  assert_int_equal(r.euler, 7 - 12 + 8);
  assert_true(r.volume > 0);
  orf_mesh_free(&m);
}

/* Three faces on edge 0-1: one non-manifold edge, six boundary edges. */
static void test_three_faces_on_edge(void **state) {
  (void)state;
  float pos[15] = {0, 0, 0, 1, 0, 0, 0.5f, 1, 0, 0.5f, -1, 0, 0.5f, 0, 1};
  uint32_t idx[9] = {0, 1, 2, 1, 0, 3, 0, 1, 4};
  orf_mesh m = {0};
  assert_int_equal(mg_from_arrays(&m, pos, 5, idx, 3, NULL), 0);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_int_equal(r.nonmanifold_edges, 1);
  assert_int_equal(r.boundary_edges, 6);
  assert_int_equal(r.edges, 7);
  assert_false(r.watertight);
  assert_false(r.manifold);
  assert_int_equal(r.components, 1);
  orf_mesh_free(&m);
}

static void test_torus(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_torus(&m, 10.0f, 3.0f, 60, 30), 0);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_closed(&r);
  assert_int_equal(r.euler, 0);
  assert_int_equal(r.components, 1);
  double v = 2 * PI * PI * 10.0 * 9.0; /* 2 pi^2 R r^2 */
  assert_true(r.volume > 0.98 * v && r.volume < 1.0 * v);
  orf_mesh_free(&m);
}

static void test_two_spheres(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_two_spheres(&m, 3, 5.0f, 0.1f), 0);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_closed(&r);
  assert_int_equal(r.components, 2);
  assert_int_equal(r.euler, 4);
  orf_mesh_free(&m);
}

static void test_cube(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_cube(&m, 8, 5.0f), 0);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
  assert_closed(&r);
  assert_int_equal(r.euler, 2);
  assert_true(fabs(r.volume - 1000.0) < 1e-3);
  assert_true(fabs(r.area - 600.0) < 1e-3);
  orf_mesh_free(&m);
}

static void test_unused_vertex(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_icosphere(&m, 2, 1.0f), 0);
  orf_mesh u = edited(&m, SIZE_MAX, NULL, 0, 2);
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&u, &r), ORF_OK);
  assert_int_equal(r.unused_vertices, 2);
  assert_int_equal(r.vertices, m.vertex_count + 2);
  assert_int_equal(r.euler, 2);
  assert_closed(&r);
  orf_mesh_free(&u);
  orf_mesh_free(&m);
}

static void test_bad_input(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_icosphere(&m, 1, 1.0f), 0);
  m.indices[7] = (uint32_t)m.vertex_count;
  orf_mesh_report r;
  memset(&r, 0x5a, sizeof r);
  assert_int_equal(orf_mesh_check(&m, &r), ORF_EINVAL);
  assert_int_equal(r.faces, 0);
  assert_int_equal(r.watertight, 0);
  assert_int_equal(orf_mesh_check(NULL, &r), ORF_EINVAL);
  assert_int_equal(orf_mesh_check(&m, NULL), ORF_EINVAL);
  orf_mesh_free(&m);
  /* an empty mesh is fine, and neither closed nor manifold */
  orf_mesh empty = {0};
  assert_int_equal(orf_mesh_check(&empty, &r), ORF_OK);
  assert_int_equal(r.faces, 0);
  assert_false(r.watertight);
  assert_false(r.manifold);
}

/* Every allocation failing in turn: ORF_ENOMEM, an empty report, no leak. */
static void test_out_of_memory(void **state) {
  (void)state;
  orf_mesh m = {0};
  assert_int_equal(mg_two_spheres(&m, 2, 1.0f, 0.5f), 0);
  orf_mesh_report want, r;
  assert_int_equal(orf_mesh_check(&m, &want), ORF_OK);
  int failures = 0;
  for (long n = 1; n < 64; n++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, n);
    orf_memtrack *old = orf_memtrack_set(&t);
    int rc = orf_mesh_check(&m, &r);
    orf_memtrack_set(old);
    assert_int_equal(atomic_load(&t.current), 0);
    if (rc == ORF_OK) {
      assert_memory_equal(&r, &want, sizeof r);
      break;
    }
    assert_int_equal(rc, ORF_ENOMEM);
    assert_int_equal(r.faces, 0);
    failures++;
  }
  assert_true(failures >= 3);
  orf_mesh_free(&m);
}

/* The closed-manifold path of orf_mesh_check (check_closed) against the
 * general one: the same mesh with one collapsed face appended (which the
 * closed path leaves to the general one) must report the same figures but
 * for that face. */
static void test_closed_path_matches_general(void **state) {
  (void)state;
  for (int k = 0; k < 7; k++) {
    orf_mesh m = {0};
    int rc = k == 0   ? mg_icosphere(&m, 3, 1.0f)
             : k == 1 ? mg_torus(&m, 1.0f, 0.3f, 40, 20)
             : k == 2 ? mg_two_spheres(&m, 2, 1.0f, 0.5f)
             : k == 3 ? mg_cube(&m, 6, 1.0f)
             : k == 4 ? mg_noisy_sphere(&m, 3, 1.0f, 0.05f, 7)
             : k == 5 ? mg_mt_sphere(&m, 24, 1.0f)
                      : mg_uv_sphere(&m, 12, 18, 1.0f);
    assert_int_equal(rc, 0);
    orf_mesh_report fast, slow;
    assert_int_equal(orf_mesh_check(&m, &fast), ORF_OK);
    orf_mesh more;
    assert_int_equal(orf_mesh_alloc(&more, m.vertex_count + 1, m.face_count + 1, 0), ORF_OK);
    memcpy(more.positions, m.positions, m.vertex_count * 3 * sizeof(float));
    memset(more.positions + 3 * m.vertex_count, 0, 3 * sizeof(float)); /* an unused vertex too */
    memcpy(more.indices, m.indices, m.face_count * 3 * sizeof(uint32_t));
    uint32_t *t = more.indices + 3 * m.face_count;
    t[0] = t[1] = m.indices[0], t[2] = m.indices[1];
    assert_int_equal(orf_mesh_check(&more, &slow), ORF_OK);
    print_message("mesh %d: %zu faces, euler %ld, %zu components, watertight %d manifold %d\n", k, fast.faces,
                  fast.euler, fast.components, fast.watertight, fast.manifold);
    assert_int_equal(slow.faces, fast.faces + 1);
    assert_int_equal(slow.vertices, fast.vertices + 1);
    assert_int_equal(slow.degenerate_faces, fast.degenerate_faces + 1);
    assert_int_equal(slow.unused_vertices, fast.unused_vertices + 1);
    assert_int_equal(slow.edges, fast.edges);
    assert_int_equal(slow.euler, fast.euler);
    assert_int_equal(slow.components, fast.components);
    assert_int_equal(slow.boundary_edges, fast.boundary_edges);
    assert_int_equal(slow.nonmanifold_edges, fast.nonmanifold_edges);
    assert_int_equal(slow.misoriented_edges, fast.misoriented_edges);
    assert_int_equal(slow.nonmanifold_vertices, fast.nonmanifold_vertices);
    assert_int_equal(slow.duplicate_faces, fast.duplicate_faces);
    assert_int_equal(slow.watertight, fast.watertight);
    assert_true(slow.volume == fast.volume && slow.area == fast.area);
    assert_true(fast.watertight && fast.manifold && !slow.manifold);
    orf_mesh_free(&more);
    orf_mesh_free(&m);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_icosphere_closed),
      cmocka_unit_test(test_uv_sphere_poles),
      cmocka_unit_test(test_hole),
      cmocka_unit_test(test_flipped_face),
      cmocka_unit_test(test_duplicate_faces),
      cmocka_unit_test(test_degenerate_faces),
      cmocka_unit_test(test_two_cones_touching),
      cmocka_unit_test(test_three_faces_on_edge),
      cmocka_unit_test(test_torus),
      cmocka_unit_test(test_two_spheres),
      cmocka_unit_test(test_cube),
      cmocka_unit_test(test_unused_vertex),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_out_of_memory),
      cmocka_unit_test(test_closed_path_matches_general),
  };
  return cmocka_run_group_tests_name("check", tests, NULL, NULL);
}
