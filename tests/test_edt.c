/*
 * test_edt.c - the exact Euclidean distance transform (src/field/edt.c)
 * against brute force over every feature pixel, its nearest-pixel output,
 * thread-count independence, and the signed variant's conventions.
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
#include "edt.h"
#include "orfeas.h"

/* Deterministic xorshift generator. */
static uint32_t rng_next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

/* Random mask with values 0/1 (feature density `permille` / 1000). */
static uint8_t *random_mask(uint32_t w, uint32_t h, int permille, uint32_t seed) {
  uint8_t *m = malloc((size_t)w * h);
  uint32_t s = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < (size_t)w * h; i++)
    m[i] = (int)(rng_next(&s) % 1000) < permille;
  return m;
}

/* Brute-force distance from pixel i to the nearest pixel equal to feature. */
static double brute(const uint8_t *m, uint32_t w, uint32_t h, uint8_t feature, size_t i) {
  double best = INFINITY;
  long x = (long)(i % w), y = (long)(i / w);
  for (size_t k = 0; k < (size_t)w * h; k++) {
    if (m[k] != feature) continue;
    double dx = (double)((long)(k % w) - x), dy = (double)((long)(k / w) - y);
    double d = sqrt(dx * dx + dy * dy);
    if (d < best) best = d;
  }
  return best;
}

/* Checks orf_edt against brute force, the nearest index, and identical
 * output for 1, 2 and 4 threads. */
static void check_edt(const uint8_t *m, uint32_t w, uint32_t h, uint8_t feature) {
  size_t n = (size_t)w * h;
  float *d[3];
  int32_t *nr[3];
  const int threads[3] = {1, 2, 4};
  for (int t = 0; t < 3; t++) {
    d[t] = malloc(n * sizeof(float));
    nr[t] = malloc(n * sizeof(int32_t));
    assert_int_equal(orf_edt(m, w, h, feature, d[t], nr[t], threads[t]), ORF_OK);
  }
  for (int t = 1; t < 3; t++) {
    assert_memory_equal(d[0], d[t], n * sizeof(float));
    assert_memory_equal(nr[0], nr[t], n * sizeof(int32_t));
  }
  for (size_t i = 0; i < n; i++) {
    double b = brute(m, w, h, feature, i);
    if (isinf(b)) {
      assert_true(isinf(d[0][i]) && d[0][i] > 0);
      assert_int_equal(nr[0][i], -1);
      continue;
    }
    assert_true(fabs((double)d[0][i] - b) < 1e-4);
    int32_t k = nr[0][i];
    assert_true(k >= 0 && (size_t)k < n);
    assert_int_equal(m[k], feature);
    double dx = (double)((long)(k % w) - (long)(i % w)), dy = (double)((long)(k / w) - (long)(i / w));
    assert_true(fabs(sqrt(dx * dx + dy * dy) - b) < 1e-4);
    if (m[i] == feature) assert_int_equal(k, (int32_t)i);
  }
  /* without the nearest output: same distances */
  float *d2 = malloc(n * sizeof(float));
  assert_int_equal(orf_edt(m, w, h, feature, d2, NULL, 2), ORF_OK);
  assert_memory_equal(d[0], d2, n * sizeof(float));
  free(d2);
  for (int t = 0; t < 3; t++) {
    free(d[t]);
    free(nr[t]);
  }
}

static void test_edt_random_masks(void **state) {
  (void)state;
  const uint32_t sizes[][2] = {{1, 1}, {1, 37}, {41, 1}, {7, 5}, {64, 64}, {130, 17}, {23, 150}, {97, 83}};
  const int dens[] = {2, 30, 300, 900};
  uint32_t seed = 1;
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (size_t k = 0; k < sizeof dens / sizeof dens[0]; k++) {
      uint8_t *m = random_mask(sizes[s][0], sizes[s][1], dens[k], seed++);
      check_edt(m, sizes[s][0], sizes[s][1], 1);
      check_edt(m, sizes[s][0], sizes[s][1], 0);
      free(m);
    }
  }
}

/* A grid in which many pixels have several equally near features: ties
 * must still give a true nearest and thread-independent output. */
static void test_edt_ties(void **state) {
  (void)state;
  const uint32_t w = 61, h = 47;
  uint8_t *m = calloc((size_t)w * h, 1);
  for (uint32_t y = 3; y < h; y += 8)
    for (uint32_t x = 2; x < w; x += 6)
      m[y * w + x] = 7;
  check_edt(m, w, h, 7);
  free(m);
}

static void test_edt_single_empty_full(void **state) {
  (void)state;
  const uint32_t w = 50, h = 31;
  size_t n = (size_t)w * h;
  uint8_t *m = calloc(n, 1);
  /* empty: every distance infinite, nearest -1 */
  float *d = malloc(n * sizeof(float));
  int32_t *nr = malloc(n * sizeof(int32_t));
  assert_int_equal(orf_edt(m, w, h, 1, d, nr, 4), ORF_OK);
  for (size_t i = 0; i < n; i++) {
    assert_true(isinf(d[i]) && d[i] > 0);
    assert_int_equal(nr[i], -1);
  }
  check_edt(m, w, h, 1);
  /* single feature pixel: exact distance from it everywhere */
  m[12 * w + 40] = 1;
  assert_int_equal(orf_edt(m, w, h, 1, d, nr, 3), ORF_OK);
  for (size_t i = 0; i < n; i++) {
    double dx = (double)i - (double)(i / w) * w - 40.0, dy = (double)(i / w) - 12.0;
    assert_true(fabs(d[i] - sqrt(dx * dx + dy * dy)) < 1e-4);
    assert_int_equal(nr[i], 12 * (int32_t)w + 40);
  }
  check_edt(m, w, h, 1);
  /* full: zero everywhere, each pixel its own nearest */
  memset(m, 1, n);
  assert_int_equal(orf_edt(m, w, h, 1, d, nr, 2), ORF_OK);
  for (size_t i = 0; i < n; i++) {
    assert_true(d[i] == 0.0f);
    assert_int_equal(nr[i], (int32_t)i);
  }
  free(m);
  free(d);
  free(nr);
}

static void test_edt_signed_disk(void **state) {
  (void)state;
  const uint32_t w = 80, h = 70;
  const double cx = 37.3, cy = 33.8, r = 20.0;
  size_t n = (size_t)w * h;
  uint8_t *m = calloc(n, 1);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      m[y * w + x] = hypot(x - cx, y - cy) <= r;
  float *s1 = malloc(n * sizeof(float)), *s2 = malloc(n * sizeof(float));
  assert_int_equal(orf_edt_signed(m, w, h, s1, 1), ORF_OK);
  assert_int_equal(orf_edt_signed(m, w, h, s2, 4), ORF_OK);
  assert_memory_equal(s1, s2, n * sizeof(float));
  for (size_t i = 0; i < n; i++) {
    if (m[i]) {
      assert_true(s1[i] >= 0.5f);
      assert_true(fabs(s1[i] - (brute(m, w, h, 0, i) - 0.5)) < 1e-4);
    } else {
      assert_true(s1[i] <= -0.5f);
      assert_true(fabs(s1[i] + (brute(m, w, h, 1, i) - 0.5)) < 1e-4);
    }
  }
  /* the zero level lies between neighbours of opposite sign: +0.5 / -0.5 */
  size_t edge = 0;
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x + 1 < w; x++) {
      size_t i = (size_t)y * w + x;
      if (m[i] != m[i + 1]) {
        assert_true(fabsf(s1[i] + s1[i + 1]) < 1e-6f);
        assert_true(fabsf(fabsf(s1[i]) - 0.5f) < 1e-6f);
        edge++;
      }
    }
  assert_true(edge > 20);
  /* the centre is about r deep inside, a corner about its distance outside */
  size_t c = (size_t)34 * w + 37;
  assert_true(fabs(s1[c] - r) < 1.5);
  assert_true(s1[0] < -(hypot(cx, cy) - r) + 1.5 && s1[0] > -(hypot(cx, cy) - r) - 1.5);
  free(m);
  free(s1);
  free(s2);
}

static void test_edt_signed_all_and_none(void **state) {
  (void)state;
  const uint32_t w = 9, h = 6;
  size_t n = (size_t)w * h;
  uint8_t m[9 * 6];
  float s[9 * 6];
  memset(m, 255, n);
  /* all subject: distance to the frame's outside minus 0.5 */
  assert_int_equal(orf_edt_signed(m, w, h, s, 2), ORF_OK);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      uint32_t a = x + 1 < w - x ? x + 1 : w - x, b = y + 1 < h - y ? y + 1 : h - y;
      assert_float_equal(s[y * w + x], (float)(a < b ? a : b) - 0.5f, 1e-6);
    }
  assert_float_equal(s[0], 0.5f, 1e-6);
  assert_float_equal(s[2 * w + 4], 2.5f, 1e-6);
  /* no subject: minus infinity everywhere */
  memset(m, 0, n);
  assert_int_equal(orf_edt_signed(m, w, h, s, 2), ORF_OK);
  for (size_t i = 0; i < n; i++)
    assert_true(isinf(s[i]) && s[i] < 0);
}

/* Every allocation failure is reported as ORF_ENOMEM and leaks nothing. */
static void test_edt_out_of_memory(void **state) {
  (void)state;
  const uint32_t w = 20, h = 20;
  uint8_t *m = random_mask(w, h, 100, 99);
  float d[400];
  int seen_fail = 0;
  for (long k = 1; k < 20; k++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, k);
    orf_memtrack *old = orf_memtrack_set(&t);
    int rc = orf_edt_signed(m, w, h, d, 2);
    orf_memtrack_set(old);
    assert_true(rc == ORF_OK || rc == ORF_ENOMEM);
    if (rc == ORF_ENOMEM) seen_fail = 1;
    assert_int_equal(atomic_load(&t.current), 0);
  }
  assert_true(seen_fail);
  free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_edt_random_masks),        cmocka_unit_test(test_edt_ties),
      cmocka_unit_test(test_edt_single_empty_full),   cmocka_unit_test(test_edt_signed_disk),
      cmocka_unit_test(test_edt_signed_all_and_none), cmocka_unit_test(test_edt_out_of_memory),
  };
  return cmocka_run_group_tests_name("edt", tests, NULL, NULL);
}
