/*
 * test_poisson.c - the inflation height: a disc's solution is R^2 - r^2
 * (so sqrt(h) is a hemisphere), the solver is deterministic across thread
 * counts, and the profile has no crease along the medial axis of a
 * rectangle (where a distance-based profile has one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "poisson.h"

static uint8_t *disc_mask(uint32_t n, float cx, float cy, float r) {
  uint8_t *m = malloc((size_t)n * n);
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++) {
      float dx = (float)x - cx, dy = (float)y - cy;
      m[(size_t)y * n + x] = dx * dx + dy * dy < r * r;
    }
  return m;
}

static void test_disc_is_paraboloid(void **state) {
  (void)state;
  const uint32_t n = 512;
  const float r = 200, c = 255.5f;
  uint8_t *m = disc_mask(n, c, c, r);
  float *h = malloc((size_t)n * n * sizeof *h);
  assert_int_equal(orf_poisson_solve(m, n, n, h, 2, NULL), 0);
  double worst = 0;
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++) {
      size_t i = (size_t)y * n + x;
      if (!m[i]) {
        assert_true(h[i] == 0.0f);
        continue;
      }
      float dx = (float)x - c, dy = (float)y - c;
      double exact = r * r - (dx * dx + dy * dy);
      double err = fabs(h[i] - exact) / (r * r);
      if (err > worst) worst = err;
    }
  print_message("disc: worst error %.4f of R^2\n", worst);
  /* the discrete problem itself is off by about R (its boundary sits half a
   * pixel out), 0.5% of R^2 here; the solver adds about 1% more */
  assert_true(worst < 0.025);
  free(m);
  free(h);
}

static void test_threads_identical(void **state) {
  (void)state;
  const uint32_t n = 300;
  uint8_t *m = disc_mask(n, 140, 160, 120);
  for (uint32_t y = 40; y < 80; y++)
    for (uint32_t x = 20; x < 280; x++)
      m[(size_t)y * n + x] = 1; /* a bar across: not a disc */
  float *a = malloc((size_t)n * n * 4), *b = malloc((size_t)n * n * 4);
  assert_int_equal(orf_poisson_solve(m, n, n, a, 1, NULL), 0);
  assert_int_equal(orf_poisson_solve(m, n, n, b, 3, NULL), 0);
  assert_memory_equal(a, b, (size_t)n * n * 4);
  free(m);
  free(a);
  free(b);
}

/* Across the long axis of a 2:1 rectangle, sqrt(h) must be smooth at the
 * middle: its second difference there is close to its neighbours' (a crease,
 * as sqrt(distance) has, makes it jump). */
static void test_no_medial_crease(void **state) {
  (void)state;
  const uint32_t w = 400, hh = 200;
  uint8_t *m = calloc((size_t)w * hh, 1);
  for (uint32_t y = 20; y < 180; y++)
    for (uint32_t x = 20; x < 380; x++)
      m[(size_t)y * w + x] = 1;
  float *h = malloc((size_t)w * hh * 4);
  assert_int_equal(orf_poisson_solve(m, w, hh, h, 2, NULL), 0);
  /* column through the centre, rows 90..109 straddle the medial axis y = 99.5 */
  double d2[200];
  for (uint32_t y = 60; y < 140; y++) {
    double a = sqrt(h[(size_t)(y - 1) * w + 200]), b = sqrt(h[(size_t)y * w + 200]),
           c = sqrt(h[(size_t)(y + 1) * w + 200]);
    d2[y] = a - 2 * b + c;
  }
  /* a crease shows as a second difference at the axis many times its neighbours' */
  double axis = fabs(d2[99]) > fabs(d2[100]) ? fabs(d2[99]) : fabs(d2[100]);
  double side = fabs(d2[80]);
  print_message("second difference at axis %.5f, 20 px away %.5f\n", axis, side);
  assert_true(axis < 2.0 * side);
  /* while sqrt(distance) does crease there: its second difference at the axis is
   * negative and large next to 20 px away (zero: a straight flank) */
  free(m);
  free(h);
}

/* Features thinner than a coarse pixel (a one-pixel diagonal line, a
 * two-pixel bar) next to big blobs: the solution stays positive inside (at
 * least 1, like the exact discrete one) and zero outside. */
static void test_thin_features_positive(void **state) {
  (void)state;
  const uint32_t w = 600, hh = 400;
  uint8_t *m = calloc((size_t)w * hh, 1);
  for (uint32_t y = 20; y < 380; y++) {
    for (uint32_t x = 20; x < 580; x++) {
      float dx = (float)x - 150, dy = (float)y - 200, ex = (float)x - 450;
      int blob = dx * dx + dy * dy < 100 * 100 || ex * ex + dy * dy < 90 * 90;
      int line = x == y + 100 || x + 1 == y + 100;
      int bar = y >= 300 && y < 302;
      m[(size_t)y * w + x] = blob || line || bar;
    }
  }
  float *h = malloc((size_t)w * hh * 4);
  assert_int_equal(orf_poisson_solve(m, w, hh, h, 2, NULL), 0);
  for (size_t i = 0; i < (size_t)w * hh; i++) {
    if (m[i])
      assert_true(h[i] >= 1.0f);
    else
      assert_true(h[i] == 0.0f);
  }
  free(m);
  free(h);
}

static void test_cancel(void **state) {
  (void)state;
  uint8_t *m = disc_mask(256, 128, 128, 100);
  float *h = malloc(256 * 256 * 4);
  atomic_int cancel = 1;
  assert_int_equal(orf_poisson_solve(m, 256, 256, h, 1, &cancel), -6);
  free(m);
  free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_disc_is_paraboloid),
      cmocka_unit_test(test_threads_identical),
      cmocka_unit_test(test_no_medial_crease),
      cmocka_unit_test(test_thin_features_positive),
      cmocka_unit_test(test_cancel),
  };
  return cmocka_run_group_tests_name("poisson", tests, NULL, NULL);
}
