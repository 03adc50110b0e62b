/*
 * test_smooth.c - Taubin lambda|mu smoothing: a noisy sphere gets smooth
 * without shrinking (where plain Laplacian smoothing shrinks it), topology
 * is untouched, the bytes do not depend on the thread count, and a failed
 * allocation leaves the positions as they were.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "mesh.h"
#include "meshgen.h"
#include "smooth.h"

static const float ORIGIN[3] = {0, 0, 0};

static void test_taubin_smooths_without_shrinking(void **state) {
  (void)state;
  orf_mesh noisy = {0}, taubin = {0}, plain = {0};
  assert_int_equal(mg_noisy_sphere(&noisy, 4, 10.0f, 0.02f, 7), 0);
  assert_int_equal(orf_mesh_copy(&taubin, &noisy), ORF_OK);
  assert_int_equal(orf_mesh_copy(&plain, &noisy), ORF_OK);
  double mean0, sd0, mean_t, sd_t, mean_p, sd_p;
  mg_radius_stats(&noisy, ORIGIN, &mean0, &sd0);

  assert_int_equal(orf_mesh_smooth_taubin(&taubin, 10, 0.5f, -0.53f, 2), ORF_OK);
  mg_radius_stats(&taubin, ORIGIN, &mean_t, &sd_t);
  /* plain Laplacian: the same 20 steps, all +0.5 */
  assert_int_equal(orf_mesh_smooth_taubin(&plain, 10, 0.5f, 0.5f, 2), ORF_OK);
  mg_radius_stats(&plain, ORIGIN, &mean_p, &sd_p);

  /* noise: radius variance down to under a quarter (measured ~0.14) */
  assert_true(sd_t * sd_t < 0.25 * sd0 * sd0);
  /* Taubin keeps the size within 1% (measured +0.08%) ... */
  assert_true(fabs(mean_t / mean0 - 1.0) < 0.01);
  /* ... where the Laplacian shrinks it by more than 2% (measured 2.8%) */
  assert_true(mean_p / mean0 < 0.98);
  assert_true(fabs(mean_p / mean0 - 1.0) > 10 * fabs(mean_t / mean0 - 1.0));

  /* topology untouched */
  assert_int_equal(taubin.vertex_count, noisy.vertex_count);
  assert_int_equal(taubin.face_count, noisy.face_count);
  assert_memory_equal(taubin.indices, noisy.indices, noisy.face_count * 3 * sizeof(uint32_t));
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(&taubin, &r), ORF_OK);
  assert_true(r.watertight && r.manifold);
  assert_int_equal(r.euler, 2);
  orf_mesh_free(&noisy);
  orf_mesh_free(&taubin);
  orf_mesh_free(&plain);
}

static void test_thread_count_invariant(void **state) {
  (void)state;
  orf_mesh a = {0}, b = {0}, c = {0};
  assert_int_equal(mg_noisy_sphere(&a, 6, 25.0f, 0.03f, 11), 0); /* 40,962 vertices */
  assert_int_equal(orf_mesh_copy(&b, &a), ORF_OK);
  assert_int_equal(orf_mesh_copy(&c, &a), ORF_OK);
  assert_int_equal(orf_mesh_smooth_taubin(&a, 5, 0.5f, -0.53f, 1), ORF_OK);
  assert_int_equal(orf_mesh_smooth_taubin(&b, 5, 0.5f, -0.53f, 3), ORF_OK);
  assert_int_equal(orf_mesh_smooth_taubin(&c, 5, 0.5f, -0.53f, 8), ORF_OK);
  assert_memory_equal(a.positions, b.positions, a.vertex_count * 3 * sizeof(float));
  assert_memory_equal(a.positions, c.positions, a.vertex_count * 3 * sizeof(float));
  orf_mesh_free(&a);
  orf_mesh_free(&b);
  orf_mesh_free(&c);
}

/* Zero iterations change nothing; a vertex no face uses stays put. */
static void test_no_op_cases(void **state) {
  (void)state;
  orf_mesh m = {0}, extra = {0};
  assert_int_equal(mg_noisy_sphere(&m, 2, 1.0f, 0.1f, 3), 0);
  float lone[3] = {5, 6, 7};
  orf_mesh one = {0};
  assert_int_equal(mg_from_arrays(&one, lone, 1, NULL, 0, NULL), 0);
  assert_int_equal(mg_concat(&extra, &m, &one), 0);
  orf_mesh before = {0};
  assert_int_equal(orf_mesh_copy(&before, &extra), ORF_OK);
  assert_int_equal(orf_mesh_smooth_taubin(&extra, 0, 0.5f, -0.53f, 1), ORF_OK);
  assert_memory_equal(extra.positions, before.positions, extra.vertex_count * 3 * sizeof(float));
  assert_int_equal(orf_mesh_smooth_taubin(&extra, 3, 0.5f, -0.53f, 1), ORF_OK);
  assert_memory_equal(extra.positions + 3 * m.vertex_count, lone, sizeof lone);
  assert_memory_not_equal(extra.positions, before.positions, m.vertex_count * 3 * sizeof(float));
  orf_mesh_free(&m);
  orf_mesh_free(&one);
  orf_mesh_free(&extra);
  orf_mesh_free(&before);
}

/* Every allocation failing in turn: ORF_ENOMEM, positions as they were,
 * no leak; then success. */
static void test_out_of_memory(void **state) {
  (void)state;
  orf_mesh m = {0}, before = {0};
  assert_int_equal(mg_noisy_sphere(&m, 3, 1.0f, 0.05f, 5), 0);
  assert_int_equal(orf_mesh_copy(&before, &m), ORF_OK);
  int failures = 0, done = 0;
  for (long n = 1; n < 64 && !done; n++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, n);
    orf_memtrack *old = orf_memtrack_set(&t);
    int rc = orf_mesh_smooth_taubin(&m, 2, 0.5f, -0.53f, 1);
    orf_memtrack_set(old);
    assert_int_equal(atomic_load(&t.current), 0);
    if (rc == ORF_OK) {
      done = 1;
    } else {
      assert_int_equal(rc, ORF_ENOMEM);
      assert_memory_equal(m.positions, before.positions, m.vertex_count * 3 * sizeof(float));
      failures++;
    }
  }
  assert_true(done);
  assert_true(failures >= 3);
  orf_mesh_free(&m);
  orf_mesh_free(&before);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_taubin_smooths_without_shrinking),
      cmocka_unit_test(test_thread_count_invariant),
      cmocka_unit_test(test_no_op_cases),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests_name("smooth", tests, NULL, NULL);
}
