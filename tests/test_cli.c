/*
 * test_cli.c - the `orfeas` command line as a user runs it: help and
 * version, a generation per format with the files checked, --json figures,
 * --stages-dir, and the exit codes and messages of bad usage, bad
 * parameters and bad images.  The binary comes from $ORFEAS_BIN (set by
 * tests/run.sh), default build/orfeas.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "orfeas.h"
#include "testutil.h"

static char dir[] = "/tmp/orfeas-cli-XXXXXX";
static char image[256], out[8192];

static const char *bin(void) {
  const char *b = getenv("ORFEAS_BIN");
  return b ? b : "build/orfeas";
}

/* Runs `orfeas ARGS` with stdout+stderr into out; returns the exit code. */
static int orfeas(const char *args) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin(), args);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = 0;
  int status = pclose(f);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir)) return -1;
  const float disc[3] = {60, 60, 40};
  const uint8_t fg[3] = {30, 90, 200}, bg[3] = {255, 255, 255};
  size_t size;
  uint8_t *png = tu_discs_png(120, 120, disc, 1, 0, fg, bg, &size);
  snprintf(image, sizeof image, "%s/disc.png", dir);
  int rc = png ? tu_write_file(image, png, size) : -1;
  free(png);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd);
}

static void test_help_version(void **state) {
  (void)state;
  assert_int_equal(orfeas("--version"), 0);
  assert_non_null(strstr(out, "orfeas 0."));
  assert_int_equal(orfeas("--help"), 0);
  assert_non_null(strstr(out, "generate IMAGE"));
  assert_int_equal(orfeas(""), 2);
  assert_int_equal(orfeas("sculpt x"), 2);
  assert_non_null(strstr(out, "unknown command"));
}

static void test_generate_stl(void **state) {
  (void)state;
  char args[4096], path[512];
  snprintf(path, sizeof path, "%s/disc.stl", dir);
  snprintf(args, sizeof args, "generate %s -o %s --quality 3 --size-mm 40 --style plain", image, path);
  assert_int_equal(orfeas(args), 0);
  assert_non_null(strstr(out, "watertight"));
  size_t size;
  uint8_t *stl = tu_read_file(path, &size);
  assert_non_null(stl);
  uint32_t tris;
  memcpy(&tris, stl + 80, 4);
  assert_true(tris > 100);
  assert_int_equal(size, 84 + 50 * (size_t)tris);
  assert_true(memcmp(stl, "solid", 5) != 0);
  free(stl);
}

static void test_json_and_stages(void **state) {
  (void)state;
  char args[4096], path[512], stages[512];
  snprintf(path, sizeof path, "%s/disc.glb", dir);
  snprintf(stages, sizeof stages, "%s/stages", dir);
  snprintf(args, sizeof args, "generate %s -o %s --quality 2 --param thickness=0.5 --stages-dir %s --json",
           image, path, stages);
  assert_int_equal(orfeas(args), 0);
  json_error_t err;
  json_t *o = json_loads(out, 0, &err);
  if (!o) fail_msg("not JSON (%s): %s", err.text, out);
  json_t *mesh = json_object_get(o, "mesh");
  assert_true(json_is_true(json_object_get(mesh, "watertight")));
  assert_int_equal(json_integer_value(json_object_get(mesh, "euler")), 2);
  json_t *bbox = json_object_get(mesh, "bbox_mm");
  assert_float_equal(json_real_value(json_array_get(bbox, 0)), 100.0, 0.01);
  json_t *st = json_object_get(o, "stages");
  assert_int_equal(json_array_size(st), 4);
  const char *names[] = {"voxel_preview", "rough_mesh", "refined_mesh", "final_optimized"};
  for (int i = 0; i < 4; i++) {
    assert_string_equal(json_string_value(json_object_get(json_array_get(st, (size_t)i), "stage")), names[i]);
    char f[700];
    snprintf(f, sizeof f, "%s/%s.glb", stages, names[i]);
    struct stat sb;
    assert_int_equal(stat(f, &sb), 0);
    assert_true(sb.st_size > 1000);
  }
  assert_non_null(json_object_get(json_object_get(o, "timings_ms"), "total"));
  /* a GLB carries the picture as a texture (texture=auto), and says so */
  json_t *tex = json_object_get(o, "texture");
  assert_true(json_is_object(tex));
  assert_true(json_integer_value(json_object_get(tex, "bytes")) > 0);
  assert_string_equal(json_string_value(json_object_get(o, "compress")), "none");
  json_decref(o);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *glb = malloc((size_t)sb.st_size + 1);
  assert_int_equal(fread(glb, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
  fclose(f);
  glb[sb.st_size] = 0;
  assert_non_null(memmem(glb, (size_t)sb.st_size, "\"baseColorTexture\"", 18));
  assert_null(memmem(glb, (size_t)sb.st_size, "EXT_meshopt_compression", 23));
  free(glb);
  /* compress=meshopt: the compressed GLB; texture=off: vertex colours */
  snprintf(args, sizeof args,
           "generate %s -o %s --quality 2 --param compress=meshopt --param texture=off --json", image, path);
  assert_int_equal(orfeas(args), 0);
  o = json_loads(out, 0, &err);
  assert_non_null(o);
  assert_true(json_is_null(json_object_get(o, "texture")));
  assert_string_equal(json_string_value(json_object_get(o, "compress")), "meshopt");
  json_decref(o);
  struct stat sc;
  assert_int_equal(stat(path, &sc), 0);
  f = fopen(path, "rb");
  glb = malloc((size_t)sc.st_size);
  assert_int_equal(fread(glb, 1, (size_t)sc.st_size, f), (size_t)sc.st_size);
  fclose(f);
  assert_non_null(memmem(glb, (size_t)sc.st_size, "EXT_meshopt_compression", 23));
  assert_null(memmem(glb, (size_t)sc.st_size, "baseColorTexture", 16));
  free(glb);
  /* compress=meshopt is for GLB only: a usage error naming it */
  snprintf(args, sizeof args, "generate %s -o %s/x.stl --param compress=meshopt", image, dir);
  assert_int_equal(orfeas(args), 2);
}

/* --device and --precision: a bad value is a usage error; --device cuda
 * without a usable GPU is a usage error that says why; with one (the GPU
 * machine) the job runs there and --json says so, with its device memory;
 * --device cpu always runs on the CPU. */
static void test_device(void **state) {
  (void)state;
  char args[4096], path[512];
  snprintf(path, sizeof path, "%s/dev.stl", dir);
  snprintf(args, sizeof args, "generate %s -o %s --device gpu", image, path);
  assert_int_equal(orfeas(args), 2);
  assert_non_null(strstr(out, "--device"));
  snprintf(args, sizeof args, "generate %s -o %s --precision fp64", image, path);
  assert_int_equal(orfeas(args), 2);
  orf_gpu_info gi;
  orf_gpu_query(&gi);
  snprintf(args, sizeof args, "generate %s -o %s --quality 2 --device cuda --precision fp16 --json", image,
           path);
  int rc = orfeas(args);
  if (!gi.available) {
    assert_int_equal(rc, 2);
    assert_non_null(strstr(out, "no usable CUDA device"));
  } else {
    assert_int_equal(rc, 0);
    json_t *o = json_loads(out, 0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "device")), "cuda");
    assert_true(json_integer_value(json_object_get(o, "device_peak_bytes")) > 0);
    json_decref(o);
  }
  snprintf(args, sizeof args, "generate %s -o %s --quality 2 --device cpu --json", image, path);
  assert_int_equal(orfeas(args), 0);
  json_t *o = json_loads(out, 0, NULL);
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "device")), "cpu");
  assert_int_equal(json_integer_value(json_object_get(o, "device_peak_bytes")), 0);
  json_decref(o);
}

static void test_errors(void **state) {
  (void)state;
  char args[4096], path[512];
  snprintf(path, sizeof path, "%s/x.stl", dir);
  snprintf(args, sizeof args, "generate %s -o %s --quality 11", image, path);
  assert_int_equal(orfeas(args), 2);
  assert_non_null(strstr(out, "quality"));
  snprintf(args, sizeof args, "generate %s -o %s --param colour=red", image, path);
  assert_int_equal(orfeas(args), 2);
  assert_non_null(strstr(out, "colour"));
  snprintf(args, sizeof args, "generate %s -o %s/x.fbx", image, dir);
  assert_int_equal(orfeas(args), 2);
  snprintf(args, sizeof args, "generate %s -o %s --bogus", image, path);
  assert_int_equal(orfeas(args), 2);
  /* bad images: text, truncated PNG, missing file */
  char bad[512];
  snprintf(bad, sizeof bad, "%s/bad.png", dir);
  tu_write_file(bad, "hello, not an image", 19);
  snprintf(args, sizeof args, "generate %s -o %s", bad, path);
  assert_int_equal(orfeas(args), 3);
  assert_non_null(strstr(out, "not an image")); /* no image of any kind: bad_image, not unsupported */
  size_t size;
  uint8_t *png = tu_read_file(image, &size);
  tu_write_file(bad, png, size / 2);
  free(png);
  assert_int_equal(orfeas(args), 3);
  assert_non_null(strstr(out, "corrupt or truncated"));
  snprintf(args, sizeof args, "generate %s/missing.png -o %s", dir, path);
  assert_int_equal(orfeas(args), 3);
  /* nothing was written by the failures */
  struct stat sb;
  assert_int_equal(stat(path, &sb), -1);
}

/* Several inputs (issue 16): a folder with three images and a corrupt one,
 * into a directory of STL files, one line per file and a summary, exit
 * status of the failure; then two files by name, all done: 0. */
static void test_generate_many(void **state) {
  (void)state;
  char in[512], outdir[512], args[4096], path[700];
  snprintf(in, sizeof in, "%s/many", dir);
  snprintf(outdir, sizeof outdir, "%s/many-out/", dir);
  assert_int_equal(mkdir(in, 0777), 0);
  size_t size;
  uint8_t *png = tu_read_file(image, &size);
  assert_non_null(png);
  const char *names[] = {"a.png", "b.png", "c.png"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", in, names[i]);
    assert_int_equal(tu_write_file(path, png, size), 0);
  }
  snprintf(path, sizeof path, "%s/broken.png", in);
  assert_int_equal(tu_write_file(path, png, size / 2), 0);
  snprintf(path, sizeof path, "%s/notes.txt", in); /* not an image: not an input */
  assert_int_equal(tu_write_file(path, "x", 1), 0);
  free(png);
  snprintf(args, sizeof args, "generate %s -o %s --format stl --quality 2 --size-mm 30 --style plain", in, outdir);
  assert_int_equal(orfeas(args), 3);
  assert_non_null(strstr(out, "[1/4]"));
  assert_non_null(strstr(out, "[4/4]"));
  assert_non_null(strstr(out, "broken.png: FAILED"));
  assert_non_null(strstr(out, "3 of 4 done, 1 failed"));
  struct stat sb;
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s%c.stl", outdir, names[i][0]);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 84);
  }
  snprintf(path, sizeof path, "%sbroken.stl", outdir);
  assert_int_equal(stat(path, &sb), -1);
  /* two files named on the command line, the same base name twice */
  snprintf(args, sizeof args, "generate %s %s/a.png -o %s --format obj --quality 2 --style plain", image, in,
           outdir);
  assert_int_equal(orfeas(args), 0);
  assert_non_null(strstr(out, "2 of 2 done, 0 failed"));
  snprintf(path, sizeof path, "%sdisc.obj", outdir);
  assert_int_equal(stat(path, &sb), 0);
  /* several inputs without -o: a usage error */
  snprintf(args, sizeof args, "generate %s %s/a.png", image, in);
  assert_int_equal(orfeas(args), 2);
  assert_non_null(strstr(out, "OUTDIR"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_help_version),    cmocka_unit_test(test_generate_stl),
      cmocka_unit_test(test_json_and_stages), cmocka_unit_test(test_errors),
      cmocka_unit_test(test_device),          cmocka_unit_test(test_generate_many),
  };
  return cmocka_run_group_tests_name("cli", tests, setup, teardown);
}
