/*
 * test_core.c - the allocator's accounting and fault injection, and
 * orf_parallel_for's chunking.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "alloc.h"
#include "parallel.h"

static void test_alloc_accounting(void **state) {
  (void)state;
  orf_memtrack t = {0};
  orf_memtrack *old = orf_memtrack_set(&t);
  void *a = orf_malloc(1000);
  void *b = orf_malloc(500);
  assert_int_equal(atomic_load(&t.current), 1500);
  orf_free(a);
  b = orf_realloc(b, 2000);
  assert_non_null(b);
  assert_int_equal(atomic_load(&t.current), 2000);
  assert_int_equal(atomic_load(&t.peak), 2000);
  orf_free(b);
  assert_int_equal(atomic_load(&t.current), 0);
  orf_memtrack_set(old);
}

static void test_alloc_fault_injection(void **state) {
  (void)state;
  orf_memtrack t = {0};
  atomic_store(&t.fail_after, 3);
  orf_memtrack *old = orf_memtrack_set(&t);
  void *a = orf_malloc(8), *b = orf_malloc(8), *c = orf_malloc(8), *d = orf_malloc(8);
  assert_non_null(a);
  assert_non_null(b);
  assert_null(c);
  assert_non_null(d);
  orf_free(a);
  orf_free(b);
  orf_free(d);
  assert_int_equal(atomic_load(&t.current), 0);
  assert_null(orf_malloc_array(SIZE_MAX / 2, 4));
  orf_memtrack_set(old);
}

static void mark(void *ctx, size_t begin, size_t end, int worker) {
  int *out = ctx;
  for (size_t i = begin; i < end; i++)
    out[i] = worker + 1;
  /* allocations on workers count against the caller's job */
  orf_free(orf_malloc(64));
}

static void test_parallel_covers_range(void **state) {
  (void)state;
  int out[1000] = {0};
  orf_memtrack t = {0};
  orf_memtrack *old = orf_memtrack_set(&t);
  int chunks = orf_parallel_for(4, 1000, 10, mark, out);
  assert_int_equal(chunks, 4);
  for (int i = 0; i < 1000; i++)
    assert_true(out[i] >= 1 && out[i] <= 4);
  for (int i = 1; i < 1000; i++)
    assert_true(out[i] >= out[i - 1]);
  assert_true(atomic_load(&t.peak) >= 64);
  assert_int_equal(orf_parallel_chunks(8, 5, 10), 1);
  assert_int_equal(orf_parallel_for(8, 0, 1, mark, out), 0);
  orf_memtrack_set(old);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alloc_accounting),
      cmocka_unit_test(test_alloc_fault_injection),
      cmocka_unit_test(test_parallel_covers_range),
  };
  return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
