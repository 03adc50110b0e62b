/*
 * test_modes.c - the printing modes relief, lithophane and extrude
 * (src/modes/, issue 3) through orf_generate(): the geometry checks of the
 * issue (a lithophane's thickness range and frame, an extruded disc's
 * volume and outline, a constant image's relief is a box), every mode and
 * shape closed, 2-manifold and outward at two qualities with the right
 * size resting on z = 0, stage order, determinism across runs and thread
 * counts, colours, refusals that name the parameter, no-subject errors,
 * allocation failures and the memory estimate.
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
#include "lithophane.h"
#include "meshdist.h"
#include "orfeas.h"
#include "testutil.h"

static const uint8_t RED[3] = {200, 30, 40}, WHITE[3] = {250, 250, 250};

/* ---- helpers ---------------------------------------------------------- */

static uint8_t *png_rgb(const uint8_t *rgb, uint32_t w, uint32_t h, size_t *size) {
  return tu_png(rgb, w, h, 3, 8, size);
}

/* A PNG of red discs (cx, cy, r) on white, w x w. */
static uint8_t *discs_png(uint32_t w, const float *discs, int n, size_t *size) {
  return tu_discs_png(w, w, discs, n, 0, RED, WHITE, size);
}

/* Every stage as the callback saw it. */
typedef struct seen {
  int count;
  orf_stage stages[8];
  int grids[8];
  int ok[8];
  int cancel_at; /* 0: never */
} seen;

static int closed_ok(const orf_mesh *m, orf_mesh_report *r) {
  return orf_mesh_check(m, r) == 0 && r->watertight && r->manifold && r->volume > 0 &&
         r->degenerate_faces == 0 && r->duplicate_faces == 0;
}

static int on_stage(void *user, orf_stage stage, const orf_mesh *mesh, int grid, double ms) {
  (void)ms;
  seen *s = user;
  orf_mesh_report r;
  if (s->count < 8) {
    s->stages[s->count] = stage;
    s->grids[s->count] = grid;
    s->ok[s->count] = closed_ok(mesh, &r) && fabsf(r.bbox_min[2]) < 1e-5f;
  }
  s->count++;
  return s->cancel_at && s->count >= s->cancel_at;
}

static int run(const uint8_t *img, size_t size, const orf_params *p, int threads, orf_result *res, seen *s) {
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = threads;
  o.on_stage = s ? on_stage : NULL;
  o.user = s;
  return orf_generate(img, size, p, &o, res);
}

static void params(orf_params *p, orf_mode mode, int quality) {
  orf_params_init(p);
  p->mode = mode;
  p->quality = quality;
}

static float extent(const orf_mesh_report *r, int a) { return r->bbox_max[a] - r->bbox_min[a]; }

/* ---- the geometry checks ------------------------------------- */

/* A relief of a constant image is a box: W x H x (base + relief * l). */
static void test_relief_constant_is_box(void **state) {
  (void)state;
  const uint32_t w = 120, h = 80;
  uint8_t *rgb = malloc(w * h * 3);
  memset(rgb, 128, w * h * 3);
  size_t size;
  uint8_t *png = png_rgb(rgb, w, h, &size);
  for (int invert = 0; invert < 2; invert++) {
    orf_params p;
    params(&p, ORF_MODE_RELIEF, 4);
    p.invert = invert;
    orf_result r;
    assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
    double l = 128.0 / 255.0, top = p.base_mm + p.relief_mm * (invert ? 1 - l : l);
    const orf_mesh_report *m = &r.report;
    print_message("constant relief (invert %d): %zu faces, box %.4f x %.4f x %.4f mm, volume %.2f\n", invert,
                  m->faces, extent(m, 0), extent(m, 1), extent(m, 2), m->volume);
    assert_true(m->watertight && m->manifold);
    assert_int_equal(m->euler, 2);
    assert_float_equal(extent(m, 0), 100.0, 1e-3);
    assert_float_equal(extent(m, 1), 100.0 * h / w, 1e-3);
    assert_float_equal(extent(m, 2), top, 1e-4);
    assert_float_equal(m->bbox_min[2], 0, 0);
    /* every vertex on the top or the bottom face, and the volume of the box */
    for (size_t v = 0; v < r.mesh.vertex_count; v++) {
      float z = r.mesh.positions[3 * v + 2];
      assert_true(z == 0 || fabs(z - top) < 1e-4);
    }
    assert_true(fabs(m->volume / (100.0 * 100.0 * h / w * top) - 1) < 1e-4);
    /* grey colours on every vertex */
    assert_non_null(r.mesh.colors);
    for (size_t v = 0; v < r.mesh.vertex_count; v++)
      assert_int_equal(r.mesh.colors[3 * v], 128);
    orf_result_free(&r);
  }
  free(png);
  free(rgb);
}

/* The thickness map: max_mm for black, min_mm for white, transmittance
 * linear in luminance in between, monotone. */
static void test_litho_curve(void **state) {
  (void)state;
  double mn = 0.8, mx = 3.0;
  assert_float_equal(orf_litho_thickness(0, mn, mx), mx, 1e-12);
  assert_float_equal(orf_litho_thickness(1, mn, mx), mn, 1e-12);
  double prev = mx + 1;
  for (int i = 0; i <= 100; i++) {
    double y = i / 100.0, t = orf_litho_thickness(y, mn, mx);
    assert_true(t < prev && t >= mn && t <= mx);
    prev = t;
    /* Beer-Lambert: the light through it is linear in y */
    double T = exp(-ORF_LITHO_K * t), T0 = exp(-ORF_LITHO_K * mx), T1 = exp(-ORF_LITHO_K * mn);
    assert_float_equal(T, T0 + y * (T1 - T0), 1e-12);
  }
  /* not linear in thickness: mid-grey luminance is thinner than the middle */
  assert_true(orf_litho_thickness(0.5, mn, mx) < 0.5 * (mn + mx));
}

/* A picture black on the left, white on the right, a ramp between. */
static uint8_t *ramp_png(uint32_t w, uint32_t h, size_t *size) {
  uint8_t *rgb = malloc((size_t)w * h * 3);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      int v = x < w / 4 ? 0 : x >= 3 * w / 4 ? 255 : (int)(255.0 * (x - w / 4.0) / (w / 2.0));
      memset(rgb + 3 * ((size_t)y * w + x), v, 3);
    }
  uint8_t *png = png_rgb(rgb, w, h, size);
  free(rgb);
  return png;
}

/* Flat: the thickness range is [min_mm, max_mm] within 0.05 mm and the
 * frame is at max_mm; cylinder: the same radially, inner wall round. */
static void test_litho_thickness_and_frame(void **state) {
  (void)state;
  size_t size;
  uint8_t *png = ramp_png(200, 100, &size);
  for (int shape = 0; shape < 2; shape++) {
    orf_params p;
    params(&p, ORF_MODE_LITHOPHANE, 5);
    p.shape = (orf_shape)shape;
    p.min_mm = 0.6;
    p.max_mm = 2.5;
    p.border_mm = 4;
    p.realistic = 1; /* a lithophane is plain all the same */
    orf_result r;
    assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
    const orf_mesh_report *m = &r.report;
    const orf_mesh *mesh = &r.mesh;
    assert_true(m->watertight && m->manifold && m->volume > 0);
    assert_null(mesh->colors);
    double tmin = 1e9, tmax = 0, r_in = 1e9;
    for (size_t v = 0; v < mesh->vertex_count; v++) {
      const float *q = mesh->positions + 3 * v;
      if (shape == 0) continue;
      double rho = hypot(q[0], q[1]);
      if (rho < r_in) r_in = rho;
    }
    int frame = 0;
    for (size_t v = 0; v < mesh->vertex_count; v++) {
      const float *q = mesh->positions + 3 * v;
      double t;
      if (shape == 0) {
        if (q[2] == 0) continue; /* the bottom */
        t = q[2];
        int in_frame =
            q[0] - m->bbox_min[0] < p.border_mm - 1e-3 || m->bbox_max[0] - q[0] < p.border_mm - 1e-3 ||
            q[1] - m->bbox_min[1] < p.border_mm - 1e-3 || m->bbox_max[1] - q[1] < p.border_mm - 1e-3;
        if (in_frame) {
          assert_float_equal(t, p.max_mm, 1e-4);
          frame++;
        }
      } else {
        t = hypot(q[0], q[1]) - r_in;
        if (t < 0.1) continue; /* the inner wall */
        if (q[2] < p.border_mm - 1e-3 || q[2] > m->bbox_max[2] - p.border_mm + 1e-3) {
          assert_float_equal(t, p.max_mm, 0.01); /* about the bbox centre, not the exact axis */
          frame++;
        }
      }
      if (t < tmin) tmin = t;
      if (t > tmax) tmax = t;
    }
    print_message("lithophane %s: thickness %.4f..%.4f mm (asked %.2f..%.2f), %d frame vertices, "
                  "bbox %.3f x %.3f x %.3f, inner radius %.3f\n",
                  shape ? "cylinder" : "flat", tmin, tmax, p.min_mm, p.max_mm, frame, extent(m, 0),
                  extent(m, 1), extent(m, 2), shape ? r_in : 0.0);
    assert_true(frame > 8);
    assert_float_equal(tmin, p.min_mm, 0.05);
    assert_float_equal(tmax, p.max_mm, 0.05);
    float longest = fmaxf(fmaxf(extent(m, 0), extent(m, 1)), extent(m, 2));
    assert_float_equal(longest, p.size_mm, 0.01);
    if (shape == 0) {
      assert_int_equal(m->euler, 2);
      assert_float_equal(extent(m, 2), p.max_mm, 1e-5);
      assert_float_equal(extent(m, 0), 100, 1e-3);
      assert_float_equal(extent(m, 1), (100 - 2 * p.border_mm) / 2 + 2 * p.border_mm, 1e-2);
    } else {
      assert_int_equal(m->euler, 0); /* a ring: a torus */
      /* the picture (with its frame) wraps once around the inner wall */
      double around = 2 * M_PI * r_in, tall = extent(m, 2);
      print_message("  unrolled %.2f x %.2f mm (picture 2:1 plus frame)\n", around, tall);
      assert_true(fabs((around - 2 * p.border_mm) / (tall - 2 * p.border_mm) - 2.0) < 0.05);
      assert_true(r_in > 10);
    }
    orf_result_free(&r);
  }
  free(png);
}

/* An extruded disc of radius r: volume within 1% of pi r^2 depth, outline
 * within 0.5 px of the true circle, flat faces on z = 0 and z = depth. */
static void test_extrude_disc(void **state) {
  (void)state;
  const float disc[3] = {128, 128, 100}; /* pixels */
  size_t size;
  uint8_t *png = discs_png(256, disc, 1, &size);
  const int qualities[2] = {5, 7};
  for (int qi = 0; qi < 2; qi++) {
    for (int bevel = 0; bevel < 2; bevel++) {
      orf_params p;
      params(&p, ORF_MODE_EXTRUDE, qualities[qi]);
      p.depth_mm = 5;
      p.bevel_mm = bevel ? 1.0 : 0;
      orf_result r;
      seen s = {0};
      assert_int_equal(run(png, size, &p, 2, &r, &s), 0);
      assert_int_equal(s.count, 4);
      const orf_mesh_report *m = &r.report;
      assert_true(m->watertight && m->manifold);
      assert_int_equal(m->euler, 2);
      assert_int_equal(m->components, 1);
      double R = p.size_mm / 2, px_per_mm = 2 * disc[2] / p.size_mm, b = p.bevel_mm, D = p.depth_mm;
      /* a rounded edge of radius b takes (1 - pi/4) b^2 off the section, twice, all around */
      double expect =
          M_PI * R * R * D - 2 * (1 - M_PI / 4) * b * b * 2 * M_PI * (R - b * (1 - 2 / (3 * (4 - M_PI))));
      double worst = 0;
      size_t wall = 0;
      for (size_t v = 0; v < r.mesh.vertex_count; v++) {
        const float *q = r.mesh.positions + 3 * v;
        if (q[2] < b + 0.3 || q[2] > D - b - 0.3) continue;
        double dev = fabs(hypot(q[0], q[1]) * px_per_mm - disc[2]);
        if (dev > worst) worst = dev;
        wall++;
      }
      print_message("extruded disc q%d bevel %.1f: volume %.1f mm^3 (expected %.1f, %+.3f%%), outline within "
                    "%.3f px (%zu wall vertices), %zu faces\n",
                    p.quality, b, m->volume, expect, 100 * (m->volume / expect - 1), worst, wall, m->faces);
      assert_true(fabs(m->volume / expect - 1) < 0.01);
      assert_true(wall > 50);
      assert_true(worst <= 0.5);
      assert_float_equal(m->bbox_min[2], 0, 0);
      assert_float_equal(m->bbox_max[2], D, 1e-4);
      assert_float_equal(extent(m, 0), p.size_mm, 1e-3);
      /* colours from the disc, never from the white background */
      assert_non_null(r.mesh.colors);
      for (size_t v = 0; v < r.mesh.vertex_count; v++)
        assert_true(abs(r.mesh.colors[3 * v] - RED[0]) < 12 && abs(r.mesh.colors[3 * v + 1] - RED[1]) < 12);
      orf_result_free(&r);
    }
  }
  free(png);
}

/* No needles or caps where marching cubes meets a crease: the sample heart
 * at 40 mm, cut-out relief and extrude at four qualities, has no face
 * whose smallest altitude is under 1e-3 of its longest edge.  Before
 * prism.c kept its grid values off the iso-value, the relief had 1 to 8 of
 * them on its walls at every one of these qualities. */
static void test_no_slivers_at_creases(void **state) {
  (void)state;
  size_t size;
  uint8_t *png = tu_read_file("samples/heart.png", &size);
  assert_non_null(png);
  for (int m = 0; m < 2; m++)
    for (int q = 3; q <= 9; q += 2) {
      orf_params p;
      params(&p, m ? ORF_MODE_EXTRUDE : ORF_MODE_RELIEF, q);
      p.cutout = 1;
      p.size_mm = 40;
      orf_result r;
      assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
      size_t n = md_count_slivers(&r.mesh, 1e-3);
      if (n)
        fail_msg("%s q%d: %zu slivers in %zu faces", m ? "extrude" : "relief cutout", q, n,
                 r.mesh.face_count);
      orf_result_free(&r);
    }
  free(png);
}

/* ---- every mode, shape, invert and two qualities ----------------------- */

typedef struct config {
  orf_mode mode;
  int cutout, shape, invert, quality;
} config;

static void check_job(const uint8_t *png, size_t size, const config *c, int realistic) {
  orf_params p;
  params(&p, c->mode, c->quality);
  p.cutout = c->cutout;
  p.shape = (orf_shape)c->shape;
  p.invert = c->invert;
  p.realistic = realistic;
  p.size_mm = 80;
  orf_result r;
  seen s = {0};
  int rc = run(png, size, &p, 2, &r, &s);
  const orf_mesh_report *m = &r.report;
  print_message(
      "%-10s cutout %d shape %d invert %d q%d: rc %d, %zu faces, euler %ld, %zu parts, bbox %.2f x %.2f x "
      "%.2f\n",
      orf_mode_name(c->mode), c->cutout, c->shape, c->invert, c->quality, rc, m->faces, m->euler,
      m->components, extent(m, 0), extent(m, 1), extent(m, 2));
  assert_int_equal(rc, 0);
  /* every stage in order, each closed and resting on z = 0 */
  assert_int_equal(s.count, 4);
  static const int grids[3] = {32, 64, 128};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(s.stages[i], i);
    assert_int_equal(s.grids[i], i < 3 ? grids[i] : orf_quality_resolution(c->quality));
    assert_true(s.ok[i]);
  }
  orf_mesh_report again;
  assert_true(closed_ok(&r.mesh, &again));
  assert_true(m->faces <= (size_t)orf_quality_faces(c->quality) * 11 / 10);
  /* Euler: a plate 2 per part, a ring 0 */
  if (c->mode == ORF_MODE_LITHOPHANE)
    assert_int_equal(m->euler, c->shape ? 0 : 2);
  else if (c->mode == ORF_MODE_RELIEF && !c->cutout)
    assert_int_equal(m->euler, 2);
  else
    assert_true(m->euler <= 2 * (long)m->components);
  /* sized in mm: the longest side is size_mm; on z = 0, centred in X, Y */
  float longest = fmaxf(fmaxf(extent(m, 0), extent(m, 1)), extent(m, 2));
  assert_float_equal(longest, p.size_mm, 0.01);
  assert_float_equal(m->bbox_min[2], 0, 0);
  assert_float_equal(m->bbox_min[0] + m->bbox_max[0], 0, 1e-3);
  assert_float_equal(m->bbox_min[1] + m->bbox_max[1], 0, 1e-3);
  float height = c->mode == ORF_MODE_RELIEF    ? (float)(p.base_mm + p.relief_mm)
                 : c->mode == ORF_MODE_EXTRUDE ? (float)p.depth_mm
                 : c->shape == ORF_SHAPE_FLAT  ? (float)p.max_mm
                                               : 1e9f;
  assert_true(extent(m, 2) <= height + 1e-4);
  if (c->mode == ORF_MODE_EXTRUDE) assert_float_equal(extent(m, 2), height, 1e-4);
  /* colours where the mode keeps them */
  if (realistic && c->mode != ORF_MODE_LITHOPHANE)
    assert_non_null(r.mesh.colors);
  else
    assert_null(r.mesh.colors);
  orf_result_free(&r);
}

static void test_every_mode_closed(void **state) {
  (void)state;
  size_t size;
  uint8_t *png = tu_photo_png(256, &size);
  const orf_mode modes[3] = {ORF_MODE_RELIEF, ORF_MODE_LITHOPHANE, ORF_MODE_EXTRUDE};
  const int qualities[2] = {2, 6};
  int n = 0;
  for (int mi = 0; mi < 3; mi++)
    for (int cutout = 0; cutout < (modes[mi] == ORF_MODE_RELIEF ? 2 : 1); cutout++)
      for (int shape = 0; shape < 2; shape++)
        for (int invert = 0; invert < 2; invert++)
          for (int qi = 0; qi < 2; qi++) {
            config c = {modes[mi], cutout, shape, invert, qualities[qi]};
            check_job(png, size, &c, (n++ % 3) != 2);
          }
  free(png);
}

/* A subject with a hole and two parts: the topology comes through. */
static void test_silhouette_topology(void **state) {
  (void)state;
  size_t size;
  const float annulus[3] = {128, 128, 100};
  uint8_t *png = tu_discs_png(256, 256, annulus, 1, 45, RED, WHITE, &size);
  orf_params p;
  params(&p, ORF_MODE_EXTRUDE, 4);
  orf_result r;
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  assert_true(r.report.watertight && r.report.manifold);
  assert_int_equal(r.report.euler, 0); /* a ring */
  orf_result_free(&r);
  params(&p, ORF_MODE_RELIEF, 4);
  p.cutout = 1;
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  assert_int_equal(r.report.euler, 0);
  orf_result_free(&r);
  free(png);
  const float blobs[6] = {70, 128, 50, 190, 128, 50};
  png = discs_png(256, blobs, 2, &size);
  params(&p, ORF_MODE_EXTRUDE, 4);
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  assert_int_equal(r.report.components, 2);
  assert_int_equal(r.report.euler, 4);
  orf_result_free(&r);
  free(png);
}

/* ---- determinism -------------------------------------------------------- */

static void test_deterministic(void **state) {
  (void)state;
  size_t size;
  uint8_t *jpg = tu_photo_jpeg(300, &size);
  const config cs[4] = {{ORF_MODE_RELIEF, 1, 0, 0, 5},
                        {ORF_MODE_LITHOPHANE, 0, 1, 1, 5},
                        {ORF_MODE_EXTRUDE, 0, 0, 0, 5},
                        {ORF_MODE_RELIEF, 0, 0, 1, 5}};
  for (int i = 0; i < 4; i++) {
    orf_params p;
    params(&p, cs[i].mode, cs[i].quality);
    p.cutout = cs[i].cutout;
    p.shape = (orf_shape)cs[i].shape;
    p.invert = cs[i].invert;
    orf_result a, b, c;
    assert_int_equal(run(jpg, size, &p, 1, &a, NULL), 0);
    assert_int_equal(run(jpg, size, &p, 2, &b, NULL), 0);
    assert_int_equal(run(jpg, size, &p, 2, &c, NULL), 0);
    const orf_format fmts[2] = {ORF_FMT_PLY, ORF_FMT_STL};
    assert_int_equal(md_first_differing_format(&a.mesh, &b.mesh, fmts, 2), -1);
    assert_int_equal(md_first_differing_format(&a.mesh, &c.mesh, fmts, 2), -1);
    orf_result_free(&a);
    orf_result_free(&b);
    orf_result_free(&c);
  }
  free(jpg);
}

/* ---- refusals and bad input --------------------------------------------- */

static void expect_refused(const orf_params *p, const char *name) {
  char err[256] = "";
  assert_int_equal(orf_params_validate(p, err, sizeof err), ORF_EINVAL);
  print_message("refused: %s\n", err);
  assert_non_null(strstr(err, name));
  orf_result r;
  assert_int_equal(orf_generate((const uint8_t *)"x", 1, p, NULL, &r), ORF_EINVAL);
}

static void test_refusals(void **state) {
  (void)state;
  orf_params p;
  char err[256];
  params(&p, ORF_MODE_LITHOPHANE, 3);
  assert_int_equal(orf_params_validate(&p, err, sizeof err), ORF_OK);
  p.min_mm = 3, p.max_mm = 3;
  expect_refused(&p, "min_mm");
  p.min_mm = 2.5, p.max_mm = 2;
  expect_refused(&p, "min_mm");
  /* thinner than one nozzle width: from text and set directly */
  params(&p, ORF_MODE_LITHOPHANE, 3);
  assert_int_equal(orf_params_set(&p, "min_mm", "0.3", err, sizeof err), ORF_EINVAL);
  assert_non_null(strstr(err, "min_mm"));
  p.min_mm = 0.3;
  expect_refused(&p, "min_mm");
  params(&p, ORF_MODE_LITHOPHANE, 3);
  p.border_mm = 30, p.size_mm = 50;
  expect_refused(&p, "border_mm");
  params(&p, ORF_MODE_LITHOPHANE, 3);
  p.shape = ORF_SHAPE_CYLINDER, p.max_mm = 5, p.size_mm = 15;
  expect_refused(&p, "max_mm");
  /* negative or zero sizes set directly */
  params(&p, ORF_MODE_EXTRUDE, 3);
  p.size_mm = -10;
  expect_refused(&p, "size_mm");
  params(&p, ORF_MODE_EXTRUDE, 3);
  p.depth_mm = 0;
  expect_refused(&p, "depth_mm");
  params(&p, ORF_MODE_EXTRUDE, 3);
  p.bevel_mm = -1;
  expect_refused(&p, "bevel_mm");
  p.bevel_mm = 3, p.depth_mm = 5;
  expect_refused(&p, "bevel_mm");
  params(&p, ORF_MODE_EXTRUDE, 3);
  p.depth_mm = 60, p.size_mm = 50;
  expect_refused(&p, "depth_mm");
  params(&p, ORF_MODE_RELIEF, 3);
  p.base_mm = -2;
  expect_refused(&p, "base_mm");
  params(&p, ORF_MODE_RELIEF, 3);
  p.size_mm = 5;
  expect_refused(&p, "relief_mm");
  /* a rule of another mode does not apply */
  params(&p, ORF_MODE_INFLATE, 3);
  p.min_mm = 3, p.max_mm = 1;
  assert_int_equal(orf_params_validate(&p, err, sizeof err), ORF_OK);
}

/* No separable subject: extrude and cutout say so; a plain relief and a
 * lithophane use the whole frame; background=none extrudes the frame. */
static void test_no_subject(void **state) {
  (void)state;
  uint8_t rgb[96 * 64 * 3];
  memset(rgb, 128, sizeof rgb);
  size_t size;
  uint8_t *png = png_rgb(rgb, 96, 64, &size);
  orf_params p;
  orf_result r;
  seen s = {0};
  params(&p, ORF_MODE_EXTRUDE, 3);
  assert_int_equal(run(png, size, &p, 2, &r, &s), ORF_ENOSUBJECT);
  assert_int_equal(s.count, 0);
  assert_null(r.mesh.positions);
  assert_non_null(strstr(orf_strerror(ORF_ENOSUBJECT), "subject"));
  params(&p, ORF_MODE_RELIEF, 3);
  p.cutout = 1;
  assert_int_equal(run(png, size, &p, 2, &r, NULL), ORF_ENOSUBJECT);
  p.cutout = 0;
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  assert_int_equal(r.mask_source, 2);
  orf_result_free(&r);
  params(&p, ORF_MODE_LITHOPHANE, 3);
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  orf_result_free(&r);
  /* a subject a pixel thin: nothing the grid can hold, said so, never an
   * empty mesh */
  uint8_t line[96 * 64 * 4];
  memset(line, 0, sizeof line); /* transparent: the subject comes from alpha */
  for (int y = 8; y < 56; y++)
    memset(line + 4 * (y * 96 + 48), 255, 4);
  size_t line_size;
  uint8_t *line_png = tu_png(line, 96, 64, 4, 8, &line_size);
  params(&p, ORF_MODE_EXTRUDE, 3);
  seen ls = {0};
  assert_int_equal(run(line_png, line_size, &p, 2, &r, &ls), ORF_ETOOTHIN);
  assert_non_null(strstr(orf_strerror(ORF_ETOOTHIN), "thinner"));
  assert_string_equal(orf_errname(ORF_ETOOTHIN), "no_subject"); /* the API's code stays no_subject */
  assert_int_equal(ls.count, 0);
  assert_null(r.mesh.positions);
  free(line_png);
  /* the whole frame, asked for: a 96 x 64 slab */
  params(&p, ORF_MODE_EXTRUDE, 3);
  p.background = ORF_BG_NONE;
  assert_int_equal(run(png, size, &p, 2, &r, NULL), 0);
  assert_int_equal(r.report.euler, 2);
  assert_float_equal(extent(&r.report, 0), 100, 1e-3);
  assert_float_equal(extent(&r.report, 1), 100.0 * 64 / 96, 0.2);
  orf_result_free(&r);
  free(png);
}

static void test_cancel(void **state) {
  (void)state;
  size_t size;
  uint8_t *png = tu_photo_png(128, &size);
  const orf_mode modes[3] = {ORF_MODE_RELIEF, ORF_MODE_LITHOPHANE, ORF_MODE_EXTRUDE};
  for (int i = 0; i < 3; i++) {
    orf_params p;
    params(&p, modes[i], 3);
    orf_result r;
    seen s = {.cancel_at = 2};
    assert_int_equal(run(png, size, &p, 2, &r, &s), ORF_ECANCELED);
    assert_int_equal(s.count, 2);
    assert_null(r.mesh.positions);
  }
  free(png);
}

/* Failing the Nth allocation anywhere in a job fails it cleanly. */
static void test_allocation_failures(void **state) {
  (void)state;
  size_t size;
  uint8_t *png = tu_photo_png(96, &size);
  const config cs[3] = {
      {ORF_MODE_RELIEF, 1, 0, 0, 2}, {ORF_MODE_LITHOPHANE, 0, 1, 0, 2}, {ORF_MODE_EXTRUDE, 0, 0, 0, 2}};
  for (int i = 0; i < 3; i++) {
    orf_params p;
    params(&p, cs[i].mode, cs[i].quality);
    p.cutout = cs[i].cutout;
    p.shape = (orf_shape)cs[i].shape;
    jc_sweep sw;
    if (jc_allocation_sweep(png, size, &p, 1, 300, 9, &sw))
      fail_msg("%s: %s", orf_mode_name(cs[i].mode), sw.why);
    print_message("%s: %d jobs failed cleanly, %d got past\n", orf_mode_name(cs[i].mode), sw.failed,
                  sw.passed);
    assert_true(sw.failed > 5);
  }
  free(png);
}

/* The estimate bounds the engine's own allocations and, in a fresh child,
 * the growth of the resident set. */
static void check_estimate(const uint8_t *img, size_t size, uint32_t w, uint32_t h, const config *c) {
  orf_params p;
  params(&p, c->mode, c->quality);
  p.cutout = c->cutout;
  p.shape = (orf_shape)c->shape;
  char label[80];
  snprintf(label, sizeof label, "%s cutout %d shape %d q%d", orf_mode_name(c->mode), c->cutout, c->shape,
           c->quality);
  assert_true(jc_peak_under_estimate(img, size, w, h, &p, label));
}

static void test_peak_under_estimate(void **state) {
  (void)state;
  size_t size;
  uint8_t *jpg = tu_photo_jpeg(1024, &size);
  const config cs[5] = {{ORF_MODE_RELIEF, 0, 0, 0, 7},
                        {ORF_MODE_RELIEF, 1, 0, 0, 7},
                        {ORF_MODE_LITHOPHANE, 0, 0, 0, 7},
                        {ORF_MODE_LITHOPHANE, 0, 1, 0, 3},
                        {ORF_MODE_EXTRUDE, 0, 0, 0, 7}};
  for (int i = 0; i < 5; i++)
    check_estimate(jpg, size, 1024, 1024, &cs[i]);
  free(jpg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_relief_constant_is_box),
      cmocka_unit_test(test_litho_curve),
      cmocka_unit_test(test_litho_thickness_and_frame),
      cmocka_unit_test(test_extrude_disc),
      cmocka_unit_test(test_every_mode_closed),
      cmocka_unit_test(test_no_slivers_at_creases),
      cmocka_unit_test(test_silhouette_topology),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_no_subject),
      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_allocation_failures),
      cmocka_unit_test(test_peak_under_estimate),
  };
  return cmocka_run_group_tests_name("modes", tests, NULL, NULL);
}
