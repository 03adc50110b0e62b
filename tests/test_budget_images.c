/*
 * test_budget_images.c - the other four hostile images of hostile.h (text,
 * hairlines, lace, a checkerboard; test_budget.c has the first four), at
 * qualities 3, 7 and 10 in every mode through hi_check_image: every stage
 * within its face budget (issue 13), the final mesh closed, 2-manifold,
 * outward, with no degenerate or duplicate face, and the same bytes with 1
 * and 2 threads.  A program of its own so that each stays well inside
 * tests/run.sh's time limit on a loaded 2-core machine.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hostile.h"

#define SIDE 384

static void hostile_case(hi_kind k) {
  char why[200];
  int rc = hi_check_image(k, SIDE, why, sizeof why);
  if (rc) print_message("%s: %s\n", hi_name(k), why);
  assert_int_equal(rc, 0);
}

static void test_hostile_text(void **state) {
  (void)state;
  hostile_case(HI_TEXT);
}
static void test_hostile_hairlines(void **state) {
  (void)state;
  hostile_case(HI_HAIRLINES);
}
static void test_hostile_lace(void **state) {
  (void)state;
  hostile_case(HI_LACE);
}
static void test_hostile_checker(void **state) {
  (void)state;
  hostile_case(HI_CHECKER);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hostile_text),
      cmocka_unit_test(test_hostile_hairlines),
      cmocka_unit_test(test_hostile_lace),
      cmocka_unit_test(test_hostile_checker),
  };
  return cmocka_run_group_tests_name("budget_images", tests, NULL, NULL);
}
