/*
 * test_pipeline.c - orf_generate() end to end on generated images: the
 * topology of the solids (disc, annulus, two blobs), symmetry, size, stage
 * order, colours, determinism across runs and thread counts, cancellation,
 * errors, allocation failures, and the measured peak against the estimate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobcheck.h"
#include "meshdist.h"
#include "orfeas.h"
#include "testutil.h"

static const uint8_t RED[3] = {200, 30, 40}, WHITE[3] = {250, 250, 250};

/* A PNG of discs on white: discs as (cx, cy, r) in a w x w image. */
static uint8_t *discs_png(uint32_t w, const float *discs, int n, float hole, size_t *size) {
  return tu_discs_png(w, w, discs, n, hole, RED, WHITE, size);
}

typedef struct seen {
  int count;
  orf_stage stages[8];
  int grids[8];
  size_t faces[8];
  int ok[8];
  int cancel_at; /* -1: never */
} seen;

static int on_stage(void *user, orf_stage stage, const orf_mesh *mesh, int grid, double ms) {
  (void)ms;
  seen *s = user;
  orf_mesh_report r;
  s->stages[s->count] = stage;
  s->grids[s->count] = grid;
  s->faces[s->count] = mesh->face_count;
  s->ok[s->count] = orf_mesh_check(mesh, &r) == 0 && r.watertight && r.manifold && r.euler == 2;
  s->count++;
  return s->cancel_at >= 0 && s->count >= s->cancel_at;
}

static int run(const uint8_t *img, size_t size, orf_params *p, int threads, orf_result *res, seen *s) {
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = threads;
  o.on_stage = s ? on_stage : NULL;
  o.user = s;
  return orf_generate(img, size, p, &o, res);
}

/* The y of the volume's centroid (front/back balance), and the volume. */
static double centroid_y(const orf_mesh *mesh, double *volume) {
  double vol = 0, cy = 0;
  for (size_t f = 0; f < mesh->face_count; f++) {
    const float *a = mesh->positions + 3 * mesh->indices[3 * f],
                *b = mesh->positions + 3 * mesh->indices[3 * f + 1],
                *c = mesh->positions + 3 * mesh->indices[3 * f + 2];
    double v = (a[0] * ((double)b[1] * c[2] - (double)b[2] * c[1]) -
                a[1] * ((double)b[0] * c[2] - (double)b[2] * c[0]) +
                a[2] * ((double)b[0] * c[1] - (double)b[1] * c[0])) /
               6.0;
    vol += v;
    cy += v * (a[1] + b[1] + c[1]) / 4.0;
  }
  *volume = vol;
  return cy / vol;
}

static void test_disc_closed_symmetric(void **state) {
  (void)state;
  const float disc[3] = {128, 128, 90};
  size_t size;
  uint8_t *png = discs_png(256, disc, 1, 0, &size);
  orf_params p;
  orf_params_init(&p);
  p.detail = 0;
  p.quality = 5;
  orf_result r;
  seen s = {.cancel_at = -1};
  assert_int_equal(run(png, size, &p, 2, &r, &s), 0);
  /* every stage, in order, each closed and genus 0 */
  assert_int_equal(s.count, 4);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(s.stages[i], i);
    assert_true(s.ok[i]);
  }
  assert_int_equal(s.grids[0], 32);
  /* the final grid is matched to the budget: R(q) at most, and for inflate
   * never under 0.8 of the refined stage's grid or of R(q)/2 (pipeline.c,
   * final_grid_of); the budget is held exactly */
  int floor_grid = orf_quality_resolution(5) / 2 > 128 ? orf_quality_resolution(5) / 2 : 128;
  assert_true(s.grids[3] <= orf_quality_resolution(5) && s.grids[3] >= (int)(0.8 * floor_grid));
  assert_true(s.faces[3] <= (size_t)orf_quality_faces(5));
  assert_int_equal(r.dropped_components, 0);
  const orf_mesh_report *m = &r.report;
  assert_true(m->watertight && m->manifold);
  assert_int_equal(m->euler, 2);
  assert_int_equal(m->components, 1);
  assert_true(m->volume > 0);
  /* 100 mm across, 35 mm deep, centred on the origin */
  float ext[3];
  for (int a = 0; a < 3; a++)
    ext[a] = m->bbox_max[a] - m->bbox_min[a];
  assert_float_equal(ext[0], 100.0, 0.01);
  assert_float_equal(ext[2], 100.0, 1.0);
  assert_float_equal(ext[1], 35.0, 1.5);
  for (int a = 0; a < 3; a++)
    assert_float_equal(m->bbox_min[a] + m->bbox_max[a], 0, 0.01);
  /* front/back mirror symmetry: the volume's centroid lies on y = 0 */
  const orf_mesh *mesh = &r.mesh;
  double vol, cy = centroid_y(mesh, &vol);
  print_message("disc: centroid y %.4f mm, volume %.0f mm^3 (sphere-like ellipsoid %.0f)\n", cy, vol,
                4.0 / 3.0 * M_PI * 50 * 50 * 17.5);
  assert_true(fabs(cy) < 0.2);
  /* an ellipsoid of semi-axes 50, 50, 17.5 */
  assert_true(fabs(vol / (4.0 / 3.0 * M_PI * 50 * 50 * 17.5) - 1) < 0.06);
  /* colours come from the disc, never from the white background */
  assert_non_null(mesh->colors);
  for (size_t v = 0; v < mesh->vertex_count; v++) {
    assert_true(abs(mesh->colors[3 * v] - RED[0]) < 12);
    assert_true(abs(mesh->colors[3 * v + 1] - RED[1]) < 12);
  }
  orf_result_free(&r);
  free(png);
}

static void test_topology(void **state) {
  (void)state;
  const float annulus[3] = {128, 128, 100};
  const float blobs[6] = {70, 128, 50, 190, 128, 50};
  size_t size;
  orf_params p;
  orf_params_init(&p);
  p.quality = 4;
  orf_result r;
  uint8_t *png = discs_png(256, annulus, 1, 45, &size);
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  assert_true(r.report.watertight && r.report.manifold);
  assert_int_equal(r.report.euler, 0); /* a torus */
  orf_result_free(&r);
  free(png);
  png = discs_png(256, blobs, 2, 0, &size);
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  assert_true(r.report.watertight && r.report.manifold);
  assert_int_equal(r.report.components, 2);
  assert_int_equal(r.report.euler, 4);
  orf_result_free(&r);
  free(png);
}

static void test_deterministic(void **state) {
  (void)state;
  size_t size;
  uint8_t *jpg = tu_photo_jpeg(512, &size);
  orf_params p;
  orf_params_init(&p);
  p.quality = 6;
  orf_result a, b, c;
  assert_int_equal(run(jpg, size, &p, 1, &a, NULL), 0);
  assert_int_equal(run(jpg, size, &p, 2, &b, NULL), 0);
  assert_int_equal(run(jpg, size, &p, 3, &c, NULL), 0);
  assert_true(a.report.watertight && a.report.manifold);
  const orf_format fmts[] = {ORF_FMT_GLB, ORF_FMT_STL, ORF_FMT_OBJ, ORF_FMT_PLY};
  assert_int_equal(md_first_differing_format(&a.mesh, &b.mesh, fmts, 4), -1);
  assert_int_equal(md_first_differing_format(&a.mesh, &c.mesh, fmts, 4), -1);
  orf_result_free(&a);
  orf_result_free(&b);
  orf_result_free(&c);
  free(jpg);
}

/* detail lifts the bright parts of the front: the solid is no longer
 * symmetric, and the plain style carries no colours. */
static void test_detail_and_plain(void **state) {
  (void)state;
  size_t size;
  uint8_t *jpg = tu_photo_jpeg(256, &size);
  orf_params p;
  orf_params_init(&p);
  p.quality = 4;
  orf_result flat, relief;
  p.detail = 0;
  p.realistic = 0;
  assert_int_equal(run(jpg, size, &p, 2, &flat, NULL), 0);
  assert_null(flat.mesh.colors);
  p.detail = 1;
  assert_int_equal(run(jpg, size, &p, 2, &relief, NULL), 0);
  assert_true(relief.report.watertight && relief.report.manifold);
  double v0, v1, c0 = centroid_y(&flat.mesh, &v0), c1 = centroid_y(&relief.mesh, &v1);
  print_message("detail 0: centroid y %.3f mm; detail 1: %.3f mm\n", c0, c1);
  assert_true(fabs(c0) < 0.2);
  assert_true(fabs(c1) > 3 * fabs(c0) && fabs(c1) > 0.3);
  orf_result_free(&flat);
  orf_result_free(&relief);
  free(jpg);
}

static void test_no_subject_uses_frame(void **state) {
  (void)state;
  uint8_t rgb[64 * 48 * 3];
  memset(rgb, 128, sizeof rgb);
  size_t size;
  uint8_t *png = tu_png(rgb, 64, 48, 3, 8, &size);
  orf_params p;
  orf_params_init(&p);
  p.quality = 2;
  orf_result r;
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  assert_int_equal(r.mask_source, 2);
  assert_int_equal(r.report.euler, 2);
  /* a pillow as wide as the frame: 100 mm by 75 mm */
  assert_float_equal(r.report.bbox_max[0] - r.report.bbox_min[0], 100, 0.01);
  assert_float_equal(r.report.bbox_max[2] - r.report.bbox_min[2], 75, 2);
  orf_result_free(&r);
  free(png);
}

static void test_alpha_subject(void **state) {
  (void)state;
  const float disc[3] = {64, 64, 40};
  uint8_t *rgba = tu_discs_rgba(128, 128, disc, 1, 0, RED, WHITE, 0);
  size_t size;
  uint8_t *png = tu_png(rgba, 128, 128, 4, 8, &size);
  orf_params p;
  orf_params_init(&p);
  p.quality = 3;
  orf_result r;
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  assert_int_equal(r.mask_source, 0);
  assert_int_equal(r.report.euler, 2);
  orf_result_free(&r);
  free(png);
  free(rgba);
}

static void test_errors_and_cancel(void **state) {
  (void)state;
  const float disc[3] = {64, 64, 40};
  size_t size;
  uint8_t *png = discs_png(128, disc, 1, 0, &size);
  orf_params p;
  orf_params_init(&p);
  p.quality = 3;
  orf_result r;
  assert_int_equal(run(png, size / 2, &p, 2, &r, NULL), ORF_EBADIMAGE);
  assert_null(r.mesh.positions);
  assert_int_equal(run((const uint8_t *)"GIF89a....", 10, &p, 2, &r, NULL), ORF_EUNSUPPORTED);
  assert_int_equal(run(png, 0, &p, 2, &r, NULL), ORF_EBADIMAGE);
  p.mode = ORF_MODE_LITHOPHANE; /* parameters that make no sense together */
  p.min_mm = 3, p.max_mm = 2;
  assert_int_equal(run(png, size, &p, 2, &r, NULL), ORF_EINVAL);
  p.mode = ORF_MODE_INFLATE;
  /* the callback cancels after the second stage: no third stage comes */
  seen s = {.cancel_at = 2};
  assert_int_equal(run(png, size, &p, 2, &r, &s), ORF_ECANCELED);
  assert_int_equal(s.count, 2);
  assert_null(r.mesh.positions);
  /* a cancel flag set before the start */
  orf_job_opts o;
  orf_job_opts_init(&o);
  atomic_int cancel = 1;
  o.cancel = &cancel;
  assert_int_equal(orf_generate(png, size, &p, &o, &r), ORF_ECANCELED);
  free(png);
}

/* Failing the Nth allocation anywhere in a job fails the job cleanly. */
static void test_allocation_failures(void **state) {
  (void)state;
  const float disc[3] = {64, 64, 40};
  size_t size;
  uint8_t *png = discs_png(128, disc, 1, 0, &size);
  orf_params p;
  orf_params_init(&p);
  p.quality = 2;
  jc_sweep sw;
  if (jc_allocation_sweep(png, size, &p, 1, 400, 7, &sw)) fail_msg("%s", sw.why);
  print_message("allocation failures: %d jobs failed cleanly, %d got past\n", sw.failed, sw.passed);
  assert_true(sw.failed > 10);
  free(png);
}

/* The estimate bounds both the engine's own allocations and, in a fresh
 * child process, the growth of the resident set (libraries included). */
static void check_estimate(const uint8_t *img, size_t size, uint32_t w, uint32_t h, int quality) {
  orf_params p;
  orf_params_init(&p);
  p.quality = quality;
  char label[16];
  snprintf(label, sizeof label, "q%d", quality);
  assert_true(jc_peak_under_estimate(img, size, w, h, &p, label));
}

static void test_peak_under_estimate(void **state) {
  (void)state;
  size_t size;
  uint8_t *jpg = tu_photo_jpeg(1024, &size);
  check_estimate(jpg, size, 1024, 1024, 3);
  check_estimate(jpg, size, 1024, 1024, 7);
  check_estimate(jpg, size, 1024, 1024, 9);
  free(jpg);
  const float blobs[9] = {100, 150, 80, 300, 150, 90, 200, 300, 60};
  uint8_t *png = discs_png(400, blobs, 3, 20, &size);
  check_estimate(png, size, 400, 400, 7);
  free(png);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_disc_closed_symmetric), cmocka_unit_test(test_topology),
      cmocka_unit_test(test_deterministic),         cmocka_unit_test(test_detail_and_plain),
      cmocka_unit_test(test_no_subject_uses_frame), cmocka_unit_test(test_alpha_subject),
      cmocka_unit_test(test_errors_and_cancel),     cmocka_unit_test(test_allocation_failures),
      cmocka_unit_test(test_peak_under_estimate),
  };
  return cmocka_run_group_tests_name("pipeline", tests, NULL, NULL);
}
