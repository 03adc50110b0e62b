/*
 * test_params.c - parameters: defaults, strict parsing that names the
 * parameter, size/size_mm precedence, the canonical form, quality tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <jansson.h>
#include <stdio.h>

#include "orfeas.h"

static void test_defaults(void **state) {
  (void)state;
  orf_params p;
  orf_params_init(&p);
  assert_int_equal(p.mode, ORF_MODE_INFLATE);
  assert_int_equal(p.quality, 7);
  assert_true(p.size_mm == 100);
  assert_int_equal(p.format, ORF_FMT_GLB);
  assert_true(p.realistic);
  assert_true(p.thickness == 0.35 && p.detail == 0.2);
  assert_true(p.relief_mm == 4 && p.base_mm == 2 && p.smooth == 1.0);
  assert_true(p.min_mm == 0.8 && p.max_mm == 3.0 && p.border_mm == 3);
  assert_true(p.depth_mm == 5 && p.bevel_mm == 0.5);
}

static void expect_error(const char *name, const char *value, const char *needle) {
  orf_params p;
  char err[256] = "";
  orf_params_init(&p);
  orf_params before;
  memcpy(&before, &p, sizeof p); /* padding included: the comparison below is bytewise */
  assert_int_equal(orf_params_set(&p, name, value, err, sizeof err), ORF_EINVAL);
  if (!strstr(err, needle)) fail_msg("error \"%s\" does not name \"%s\"", err, needle);
  assert_memory_equal(&p, &before, sizeof p); /* nothing clamped or half-set */
}

static void test_strict_errors(void **state) {
  (void)state;
  expect_error("colour", "red", "colour");
  expect_error("quality", "11", "quality");
  expect_error("quality", "0", "quality");
  expect_error("quality", "7.5", "quality");
  expect_error("quality", "seven", "quality");
  expect_error("quality", "", "quality");
  expect_error("thickness", "nan", "thickness");
  expect_error("thickness", "5", "thickness");
  expect_error("detail", "-0.1", "detail");
  expect_error("size_mm", "0.5", "size_mm");
  expect_error("size_mm", "1e9", "size_mm");
  expect_error("size", "huge", "size");
  expect_error("mode", "sculpt", "mode");
  expect_error("format", "fbx", "format");
  expect_error("style", "fancy", "style");
  expect_error("invert", "maybe", "invert");
  expect_error("max_faces", "10", "max_faces");
}

static void test_set_values(void **state) {
  (void)state;
  orf_params p;
  orf_params_init(&p);
  assert_int_equal(orf_params_set(&p, "quality", "3", NULL, 0), 0);
  assert_int_equal(p.quality, 3);
  assert_int_equal(orf_params_set(&p, "style", "plain", NULL, 0), 0);
  assert_false(p.realistic);
  assert_int_equal(orf_params_set(&p, "mode", "lithophane", NULL, 0), 0);
  assert_int_equal(p.mode, ORF_MODE_LITHOPHANE);
  assert_int_equal(orf_params_set(&p, "shape", "cylinder", NULL, 0), 0);
  assert_int_equal(p.shape, ORF_SHAPE_CYLINDER);
  assert_int_equal(orf_params_set(&p, "invert", "true", NULL, 0), 0);
  assert_true(p.invert);
  /* size_mm wins over size, whichever comes first */
  assert_int_equal(orf_params_set(&p, "size", "large", NULL, 0), 0);
  assert_true(p.size_mm == 150);
  assert_int_equal(orf_params_set(&p, "size_mm", "42", NULL, 0), 0);
  assert_int_equal(orf_params_set(&p, "size", "small", NULL, 0), 0);
  assert_true(p.size_mm == 42);
  /* cross-parameter rule */
  char err[128];
  assert_int_equal(orf_params_set(&p, "min_mm", "3", NULL, 0), 0);
  assert_int_equal(orf_params_set(&p, "max_mm", "2", NULL, 0), 0);
  assert_int_equal(orf_params_validate(&p, err, sizeof err), ORF_EINVAL);
  assert_non_null(strstr(err, "min_mm"));
}

static void test_canonical(void **state) {
  (void)state;
  orf_params a, b;
  orf_params_init(&a);
  orf_params_init(&b);
  char ca[1024], cb[1024];
  /* defaults written out equal an explicit default */
  assert_int_equal(orf_params_set(&b, "thickness", "0.35", NULL, 0), 0);
  orf_params_canonical(&a, ca, sizeof ca);
  orf_params_canonical(&b, cb, sizeof cb);
  assert_string_equal(ca, cb);
  assert_true(strncmp(ca, "engine=" ORF_ENGINE_VERSION "&", strlen("engine=" ORF_ENGINE_VERSION "&")) == 0);
  assert_non_null(strstr(ca, "&max_faces=80000"));
  assert_non_null(strstr(ca, "&thickness=0.35"));
  assert_null(strstr(ca, "format=")); /* a conversion, not geometry */
  assert_null(strstr(ca, "min_mm=")); /* lithophane only */
  /* keys sorted after the engine version */
  const char *prev = "";
  for (char *k = strchr(ca, '&'); k; k = strchr(k + 1, '&')) {
    assert_true(strcmp(prev, k + 1) < 0);
    prev = k + 1;
  }
  /* format does not change it, a geometry parameter does */
  assert_int_equal(orf_params_set(&b, "format", "stl", NULL, 0), 0);
  orf_params_canonical(&b, cb, sizeof cb);
  assert_string_equal(ca, cb);
  assert_int_equal(orf_params_set(&b, "detail", "0.5", NULL, 0), 0);
  orf_params_canonical(&b, cb, sizeof cb);
  assert_string_not_equal(ca, cb);
  /* numbers are written exactly: two different values never share a text */
  assert_int_equal(orf_params_set(&b, "detail", "0.30000000000000004", NULL, 0), 0);
  orf_params_canonical(&b, cb, sizeof cb);
  assert_non_null(strstr(cb, "&detail=0.30000000000000004&"));
  assert_int_equal(orf_params_set(&b, "detail", "0.3", NULL, 0), 0);
  orf_params_canonical(&b, cb, sizeof cb);
  assert_non_null(strstr(cb, "&detail=0.3&"));
  /* the length it needs is returned even when the buffer is short */
  char tiny[8];
  assert_int_equal(orf_params_canonical(&a, tiny, sizeof tiny), strlen(ca));
}

static void test_quality_tables(void **state) {
  (void)state;
  static const int r[] = {48, 64, 96, 128, 160, 192, 256, 320, 384, 512};
  static const int f[] = {5000, 10000, 15000, 25000, 40000, 60000, 80000, 120000, 160000, 250000};
  for (int q = 1; q <= 10; q++) {
    assert_int_equal(orf_quality_resolution(q), r[q - 1]);
    assert_int_equal(orf_quality_faces(q), f[q - 1]);
  }
  orf_format fmt;
  assert_int_equal(orf_format_from_ext("STL", &fmt), 0);
  assert_int_equal(fmt, ORF_FMT_STL);
  assert_int_equal(orf_format_from_ext("fbx", &fmt), ORF_EINVAL);
  assert_string_equal(orf_errname(ORF_EBADIMAGE), "bad_image");
  /* the one table: every engine and server code has one sentence, one API
   * name and one status, and a name always comes with the same status */
  const int codes[] = {ORF_ENOMEM,        ORF_EINVAL,         ORF_EBADIMAGE,     ORF_EUNSUPPORTED,
                       ORF_ETOOLARGE,     ORF_ECANCELED,      ORF_ENOSUBJECT,    ORF_EIO,
                       ORF_EINTERNAL,     ORF_ENOTIMPL,       ORF_ENODEVICE,     ORF_ETOOTHIN,
                       ORF_EANIMATED,     ORF_SRV_EQUEUEFULL, ORF_SRV_EDRAINING, ORF_SRV_ENOTFOUND,
                       ORF_SRV_ECONFLICT, ORF_SRV_ECORRUPT,   ORF_SRV_ETOOBIG,   ORF_ESEGMENT,
                       ORF_ENOALPHA};
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
    int err = codes[i];
    assert_string_not_equal(orf_strerror(err), "unknown error");
    assert_true(strlen(orf_strerror(err)) > 0);
    assert_true(orf_errstatus(err) >= 400 && orf_errstatus(err) < 600);
    for (size_t k = 0; k < i; k++)
      if (!strcmp(orf_errname(codes[k]), orf_errname(err)))
        assert_int_equal(orf_errstatus(codes[k]), orf_errstatus(err));
  }
  assert_string_equal(orf_strerror(-9999), "unknown error");
  assert_string_equal(orf_errname(ORF_EIO), "internal_error"); /* the same in a stream and a response */
  assert_string_equal(orf_stage_name(ORF_STAGE_FINAL_OPTIMIZED), "final_optimized");
}

/* The published description matches the validation: every parameter is
 * there, its bounds are accepted and what lies past them refused, every
 * choice is accepted, and its default is orf_params_init's. */
static void test_describe_matches_validation(void **state) {
  (void)state;
  size_t n = orf_params_describe(NULL, 0);
  char *text = malloc(n + 1);
  assert_int_equal(orf_params_describe(text, n + 1), n);
  json_error_t err;
  json_t *d = json_loads(text, 0, &err);
  if (!d) fail_msg("not JSON: %s", err.text);
  free(text);
  json_t *params = json_object_get(d, "params");
  assert_true(json_array_size(params) >= 20);
  size_t i;
  json_t *p;
  int seen_quality = 0;
  json_array_foreach(params, i, p) {
    const char *name = json_string_value(json_object_get(p, "name"));
    const char *type = json_string_value(json_object_get(p, "type"));
    assert_non_null(name);
    assert_non_null(json_string_value(json_object_get(p, "help")));
    orf_params x;
    char v[64];
    if (!strcmp(type, "int") || !strcmp(type, "number")) {
      double lo = json_number_value(json_object_get(p, "min")),
             hi = json_number_value(json_object_get(p, "max"));
      double step = !strcmp(type, "int") ? 1 : 1e-6 * (hi - lo);
      snprintf(v, sizeof v, "%.17g", lo);
      orf_params_init(&x);
      assert_int_equal(orf_params_set(&x, name, v, NULL, 0), ORF_OK);
      snprintf(v, sizeof v, "%.17g", hi);
      assert_int_equal(orf_params_set(&x, name, v, NULL, 0), ORF_OK);
      snprintf(v, sizeof v, "%.17g", lo - step);
      assert_int_equal(orf_params_set(&x, name, v, NULL, 0), ORF_EINVAL);
      snprintf(v, sizeof v, "%.17g", hi + step);
      assert_int_equal(orf_params_set(&x, name, v, NULL, 0), ORF_EINVAL);
    } else if (!strcmp(type, "enum")) {
      size_t k;
      json_t *c;
      json_array_foreach(json_object_get(p, "choices"), k, c) {
        orf_params_init(&x);
        assert_int_equal(orf_params_set(&x, name, json_string_value(c), NULL, 0), ORF_OK);
      }
      orf_params_init(&x);
      assert_int_equal(orf_params_set(&x, name, "bogus", NULL, 0), ORF_EINVAL);
    } else if (!strcmp(type, "points")) {
      orf_params_init(&x);
      assert_int_equal(orf_params_set(&x, name, "+0.5,0.5;-0.25,0.75", NULL, 0), ORF_OK);
      assert_int_equal(orf_params_set(&x, name, "bogus", NULL, 0), ORF_EINVAL);
    } else {
      orf_params_init(&x);
      assert_int_equal(orf_params_set(&x, name, "true", NULL, 0), ORF_OK);
    }
    if (!strcmp(name, "quality")) {
      seen_quality = 1;
      assert_int_equal(json_integer_value(json_object_get(p, "default")), 7);
    }
    if (!strcmp(name, "thickness")) assert_true(json_real_value(json_object_get(p, "default")) == 0.35);
    if (!strcmp(name, "mode"))
      assert_string_equal(json_string_value(json_object_get(p, "default")), "inflate");
  }
  assert_true(seen_quality);
  json_decref(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),       cmocka_unit_test(test_strict_errors),
      cmocka_unit_test(test_set_values),     cmocka_unit_test(test_canonical),
      cmocka_unit_test(test_quality_tables), cmocka_unit_test(test_describe_matches_validation),
  };
  return cmocka_run_group_tests_name("params", tests, NULL, NULL);
}
