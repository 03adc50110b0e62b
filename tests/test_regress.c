/*
 * test_regress.c - regression tests for what the libFuzzer harnesses
 * (fuzz/, `make fuzz`) found.  Each input lives in tests/data/regress/,
 * minimised with -minimize_crash=1, and is fed here to the same engine
 * function the harness called, asserting the right result (an error code,
 * or output that meets its contract) where the harness saw a crash or a
 * broken check.  The raw fuzzer input is kept next to it as
 * fuzz_<harness>-<what>.bin, so `build-fuzz/fuzz/fuzz_<harness> FILE`
 * replays it.
 *
 *  - export-glb-normal-subnormal.ply (fuzz_export): a tetrahedron whose
 *    faces have cross products of about 1e-40, below float's normal range.
 *    orf_mesh_vertex_normals summed and squared them in float, the squares
 *    underflowed to subnormals, and the "unit" NORMAL written to the GLB
 *    had length 0.914 (glTF requires unit normals).
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
#include "orfeas.h"
#include "testutil.h"

#define REGRESS_DIR "tests/data/regress/"

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float lef32(const uint8_t *p) {
  uint32_t u = le32(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Reads a regression mesh (a PLY as orf_export writes it). */
static void read_mesh(const char *name, orf_mesh *m) {
  size_t size;
  uint8_t *data = tu_read_file(name, &size);
  assert_non_null(data);
  assert_int_equal(orf_mesh_read_ply(data, size, m), ORF_OK);
  free(data);
}

static void assert_unit(const float n[3]) {
  double len = sqrt((double)n[0] * n[0] + (double)n[1] * n[1] + (double)n[2] * n[2]);
  assert_true(isfinite(len));
  assert_true(fabs(len - 1) < 1e-5);
}

/* fuzz_export: GLB normals of faces too small for float's squares. */
static void test_glb_normals_subnormal(void **state) {
  (void)state;
  orf_memtrack track = {0};
  orf_memtrack *old = orf_memtrack_set(&track);
  orf_mesh m;
  read_mesh(REGRESS_DIR "export-glb-normal-subnormal.ply", &m);
  assert_int_equal(m.vertex_count, 4);

  /* The engine's vertex normals: unit for every vertex. */
  float *normals = malloc(12 * m.vertex_count);
  assert_non_null(normals);
  orf_mesh_vertex_normals(&m, normals);
  for (size_t v = 0; v < m.vertex_count; v++)
    assert_unit(normals + 3 * v);
  free(normals);

  /* And as written to the GLB's NORMAL accessor (after POSITION). */
  uint8_t *glb;
  size_t size;
  assert_int_equal(orf_export(&m, ORF_FMT_GLB, &glb, &size), ORF_OK);
  assert_true(size >= 28);
  size_t jl = le32(glb + 12);
  assert_true(28 + jl + 24 * m.vertex_count <= size);
  const uint8_t *nrm = glb + 28 + jl + 12 * m.vertex_count;
  for (size_t v = 0; v < m.vertex_count; v++) {
    float n[3] = {lef32(nrm + 12 * v), lef32(nrm + 12 * v + 4), lef32(nrm + 12 * v + 8)};
    assert_unit(n);
  }
  orf_buffer_free(glb);
  orf_mesh_free(&m);
  orf_memtrack_set(old);
  assert_int_equal(atomic_load(&track.current), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_glb_normals_subnormal),
  };
  return cmocka_run_group_tests_name("regress", tests, NULL, NULL);
}
