/*
 * test_segment.c - finding the subject of photographs (src/segment/), on the
 * real network: U^2-Net's u2netp from build/models (the Makefile installs it
 * from npm), never a mock.
 *
 *  - known truth: composites made here, a shaded, textured object pasted on
 *    a busy real photograph (Debian's opencv-doc samples) with its exact
 *    mask; background=subject must find it (IoU >= 0.85, printed) and auto
 *    must choose the network for them;
 *  - the alphamat plant of opencv-doc against its matte (thresholded at one
 *    half): auto's IoU printed, and >= 0.75 with keep points on the leaves;
 *  - images that separate without the network (a logo on white, alpha, a
 *    flat background) keep the colour model's or alpha's mask through auto,
 *    and the network does not run (the segmenter's counter);
 *  - subject points: a keep point keeps one of two objects, a drop point
 *    removes one, malformed lists are refused naming subject_points;
 *  - the matte cache: one run per image whatever the parameters, and one
 *    run for four threads asking at once;
 *  - missing, empty and corrupt model files: errors that name the file, from
 *    the engine, the CLI (exit 2) and the server (does not start);
 *  - over HTTP: X-Mask-Source, mask_source in the result, the counter
 *    orfeas_segment_runs_total for the same image at other qualities and
 *    modes (one run) and for ten concurrent requests of a new image (one run);
 *  - previews: a new photograph's first two stages take the preview
 *    network's matte (one preview run and one full run per image, shared by
 *    concurrent jobs; none for a cached image), whose mask agrees with the
 *    full one's (IoU printed, >= 0.85 on the composites and photographs);
 *  - the job's memory: the process's RSS peak over a network job stays under
 *    orf_estimate_peak_bytes (OpenCV allocates outside the engine's
 *    allocator, so the estimate's share for it is measured, estimate.c).
 * The composites and the masks found are left in BUILD/segment/ to look at.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "image.h"
#include "segment.h"
#include "orfeas.h"
#include "server_harness.h"
#include "testutil.h"

#define DOC "/usr/share/doc/opencv-doc/examples/"
#define CUT 128 /* subject where alpha >= this */

static orf_segmenter *seg;
static char model[4096];
static char tmp[256];   /* scratch, removed at the end */
static char views[300]; /* BUILD/segment: composites and masks to look at */

/* ---- images -------------------------------------------------------------- */

/* An image file decoded, or a failed test. */
static orf_image load(const char *path) {
  size_t n;
  uint8_t *data = tu_read_file(path, &n);
  if (!data) fail_msg("cannot read %s (Debian's opencv-doc must be installed)", path);
  orf_image img;
  int rc = orf_image_decode(data, n, NULL, 0, &img);
  free(data);
  if (rc) fail_msg("cannot decode %s: %s", path, orf_strerror(rc));
  return img;
}

/* The n x n centre crop of a photograph, scaled so its shorter side is n
 * (area averaging), as RGB. */
static uint8_t *photo_crop(const char *path, uint32_t n) {
  orf_image img = load(path), small;
  uint32_t s = img.width < img.height ? img.width : img.height;
  uint32_t longest = img.width > img.height ? img.width : img.height;
  assert_int_equal(orf_image_downscale(&img, (uint32_t)((uint64_t)longest * n / s) + 1, 1, &small), 0);
  orf_image_free(&img);
  assert_true(small.width >= n && small.height >= n);
  uint8_t *rgb = malloc((size_t)n * n * 3);
  uint32_t x0 = (small.width - n) / 2, y0 = (small.height - n) / 2;
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++)
      memcpy(rgb + 3 * ((size_t)y * n + x), small.rgba + 4 * ((size_t)(y + y0) * small.width + x + x0), 3);
  orf_image_free(&small);
  return rgb;
}

static uint32_t rnd(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

/* A shaded, textured object pasted into the n x n RGB image bg: kind 0 a
 * vase (a surface of revolution, lit from the upper left, with painted
 * bands), 1 a five-lobed fruit-like body with speckles, 2 a mug (a body and
 * a ring handle with its hole).  cx, cy, size: centre and height as
 * fractions of n.  The object's exact pixels are set in truth (1). */
static void paste(uint8_t *bg, uint8_t *truth, uint32_t n, int kind, float cx, float cy, float size,
                  const float rgb[3]) {
  uint32_t seed = 777u + (uint32_t)kind;
  float h = size * n, r0 = 0.5f * h;
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++) {
      float u = ((float)x - cx * n) / r0, v = ((float)y - cy * n) / r0; /* -1..1 over the object */
      float nx = 0, nz = 0, inside = 0, tex = 1;
      if (kind == 0) { /* vase: radius profile along v */
        float prof = 0.55f + 0.3f * sinf(3.0f * (v + 1)) - 0.1f * v;
        if (fabsf(v) < 1 && fabsf(u) < prof) {
          inside = 1;
          nx = u / prof;
          nz = sqrtf(fmaxf(0, 1 - nx * nx));
          tex = fmodf(v * 4 + 10, 1.0f) < 0.3f ? 0.6f : 1.0f;
        }
      } else if (kind == 1) { /* lobed body */
        float d = u * u + v * v, a = atan2f(v, u);
        float rr = 0.8f + 0.15f * sinf(5 * a);
        if (d < rr * rr) {
          inside = 1;
          float k = sqrtf(d) / rr;
          nx = u / rr;
          nz = sqrtf(fmaxf(0, 1 - k * k));
          tex = (rnd(&seed) & 15) == 0 ? 0.7f : 1.0f;
        }
      } else { /* mug: body u in [-0.6, 0.4], handle ring at u = 0.55 */
        if (u > -0.6f && u < 0.4f && fabsf(v) < 0.8f) {
          inside = 1;
          nx = (u + 0.1f) / 0.5f;
          nz = sqrtf(fmaxf(0, 1 - nx * nx));
        } else {
          float du = u - 0.45f, dv = v / 0.9f, d = sqrtf(du * du + dv * dv);
          if (d > 0.22f && d < 0.4f) {
            inside = 1;
            nx = du / d;
            nz = 0.6f;
          }
        }
      }
      if (!inside) continue;
      float ny = -v * 0.3f;
      float light = 0.25f + 0.75f * fmaxf(0, -0.5f * nx + 0.4f * ny + 0.77f * nz);
      float spec = powf(fmaxf(0, -0.3f * nx + 0.2f * ny + 0.93f * nz), 40) * 0.6f;
      uint8_t *p = bg + 3 * ((size_t)y * n + x);
      for (int c = 0; c < 3; c++) {
        float val = rgb[c] * light * tex * 255 + spec * 255 + (float)((int)(rnd(&seed) & 7) - 4);
        p[c] = (uint8_t)fminf(255, fmaxf(0, val));
      }
      truth[(size_t)y * n + x] = 1;
    }
}

/* The subject of a PNG as orf_subject_png finds it, as a 0/1 mask of
 * w x h (the size it was decoded at: the image's own when max_side covers
 * it).  Returns the source. */
static int subject_of(const uint8_t *data, size_t size, const orf_params *p, uint32_t max_side, uint8_t *mask,
                      uint32_t w, uint32_t h) {
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = 2;
  o.segmenter = seg;
  uint8_t *png;
  size_t n;
  int source = -1;
  int rc = orf_subject_png(data, size, p, &o, max_side, &png, &n, &source);
  if (rc) fail_msg("orf_subject_png: %s", orf_strerror(rc));
  orf_image img;
  assert_int_equal(orf_image_decode(png, n, NULL, 0, &img), 0);
  orf_buffer_free(png);
  assert_int_equal(img.width, w);
  assert_int_equal(img.height, h);
  for (size_t i = 0; i < (size_t)w * h; i++)
    mask[i] = img.rgba[4 * i + 3] >= CUT;
  orf_image_free(&img);
  return source;
}

static double iou(const uint8_t *a, const uint8_t *b, size_t n) {
  size_t in = 0, un = 0;
  for (size_t i = 0; i < n; i++) {
    in += a[i] && b[i];
    un += a[i] || b[i];
  }
  return un ? (double)in / (double)un : 0;
}

static uint64_t runs(void) {
  orf_segmenter_stats st;
  orf_segmenter_stats_get(seg, &st);
  return st.runs;
}

/* Writes mask (0/1, w x h) as a grey PNG under build/, for people to look at. */
static void save_mask(const char *name, const uint8_t *mask, uint32_t w, uint32_t h) {
  uint8_t *g = malloc((size_t)w * h);
  for (size_t i = 0; i < (size_t)w * h; i++)
    g[i] = mask[i] ? 255 : 0;
  size_t n;
  uint8_t *png = tu_png(g, w, h, 1, 8, &n);
  char path[512];
  snprintf(path, sizeof path, "%s/%s.png", views, name);
  if (png) tu_write_file(path, png, n);
  free(png);
  free(g);
}

/* ---- known truth --------------------------------------------------------- */

static void test_composites(void **state) {
  (void)state;
  enum { N = 384 };
  static const struct {
    const char *bg;
    int kind;
    float cx, cy, size, rgb[3];
  } cases[] = {
      {DOC "data/building.jpg", 0, 0.5f, 0.55f, 0.7f, {0.85f, 0.2f, 0.15f}},
      {DOC "data/board.jpg", 1, 0.45f, 0.5f, 0.6f, {0.95f, 0.75f, 0.1f}},
      {DOC "data/starry_night.jpg", 2, 0.5f, 0.5f, 0.55f, {0.9f, 0.9f, 0.85f}},
      {DOC "data/home.jpg", 1, 0.55f, 0.6f, 0.5f, {0.8f, 0.3f, 0.6f}},
  };
  uint8_t *truth = malloc(N * N), *mask = malloc(N * N);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    uint8_t *rgb = photo_crop(cases[c].bg, N);
    memset(truth, 0, N * N);
    paste(rgb, truth, N, cases[c].kind, cases[c].cx, cases[c].cy, cases[c].size, cases[c].rgb);
    size_t n;
    uint8_t *png = tu_png(rgb, N, N, 3, 8, &n);
    char name[32];
    snprintf(name, sizeof name, "composite%zu.png", c);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", views, name);
    tu_write_file(path, png, n);
    orf_params p;
    orf_params_init(&p);
    p.background = ORF_BG_SUBJECT;
    assert_int_equal(subject_of(png, n, &p, N, mask, N, N), 3);
    double s = iou(mask, truth, N * N);
    snprintf(name, sizeof name, "composite%zu", c);
    save_mask(name, mask, N, N);
    p.background = ORF_BG_AUTO;
    int source = subject_of(png, n, &p, N, mask, N, N);
    double a = iou(mask, truth, N * N);
    p.background = ORF_BG_COLOR;
    subject_of(png, n, &p, N, mask, N, N);
    double col = iou(mask, truth, N * N);
    printf("composite %zu (%s on %s): IoU subject %.3f, auto %.3f (%s), color %.3f\n", c,
           cases[c].kind == 0   ? "vase"
           : cases[c].kind == 1 ? "fruit"
                                : "mug",
           strrchr(cases[c].bg, '/') + 1, s, a, orf_mask_source_name(source), col);
    assert_true(s >= 0.85);
    assert_int_equal(source, 3);
    assert_true(a >= 0.85);
    free(png);
    free(rgb);
  }
  free(truth);
  free(mask);
}

/* The alphamat plant: the network alone keeps the pot and loses most
 * leaves; keep points on the leaves grow them back. */
static void test_plant(void **state) {
  (void)state;
  orf_image matte = load(DOC "alphamat/output_mattes/plant_result.png");
  size_t n;
  uint8_t *jpg = tu_read_file(DOC "alphamat/input_images/plant.jpg", &n);
  assert_non_null(jpg);
  const uint32_t w = matte.width, h = matte.height;
  uint8_t *truth = malloc((size_t)w * h), *mask = malloc((size_t)w * h);
  for (size_t i = 0; i < (size_t)w * h; i++)
    truth[i] = matte.rgba[4 * i] >= CUT;
  orf_params p;
  orf_params_init(&p);
  int source = subject_of(jpg, n, &p, 512, mask, w, h);
  double a = iou(mask, truth, (size_t)w * h);
  save_mask("plant-auto", mask, w, h);
  static const char *const lists[] = {"+0.4,0.25;+0.65,0.2", "+0.3,0.3;+0.7,0.3;+0.5,0.15"};
  double k[2];
  for (int i = 0; i < 2; i++) {
    char err[256];
    assert_int_equal(orf_params_set(&p, "subject_points", lists[i], err, sizeof err), 0);
    assert_int_equal(subject_of(jpg, n, &p, 512, mask, w, h), 3);
    k[i] = iou(mask, truth, (size_t)w * h);
    save_mask(i ? "plant-points3" : "plant-points2", mask, w, h);
  }
  printf("plant: IoU auto %.3f (%s), keep points %s %.3f, %s %.3f\n", a, orf_mask_source_name(source),
         lists[0], k[0], lists[1], k[1]);
  assert_int_equal(source, 3);
  assert_true(k[0] >= 0.75);
  assert_true(k[1] >= 0.75);
  free(truth);
  free(mask);
  free(jpg);
  orf_image_free(&matte);
}

/* Logos, alpha and flat backgrounds: auto keeps today's mask (the colour
 * model's or alpha's) and the network never runs. */
static void test_simple_images_skip_network(void **state) {
  (void)state;
  enum { W = 320, H = 240 };
  const float discs[] = {110, 120, 60, 220, 110, 45};
  const uint8_t red[3] = {200, 30, 40}, white[3] = {255, 255, 255}, blue[3] = {40, 70, 160},
                yellow[3] = {240, 200, 40};
  size_t sizes[3];
  uint8_t *files[3];
  files[0] = tu_discs_png(W, H, discs, 2, 0, red, white, &sizes[0]);    /* a logo on white */
  files[1] = tu_discs_png(W, H, discs, 2, 12, yellow, blue, &sizes[1]); /* a flat background */
  uint8_t *rgba = tu_discs_rgba(W, H, discs, 2, 0, red, white, 0);      /* alpha */
  files[2] = tu_png(rgba, W, H, 4, 8, &sizes[2]);
  free(rgba);
  static const int want[3] = {1, 1, 0};
  uint8_t *a = malloc(W * H), *b = malloc(W * H);
  uint64_t r0 = runs();
  for (int i = 0; i < 3; i++) {
    orf_params p;
    orf_params_init(&p);
    int source = subject_of(files[i], sizes[i], &p, 512, a, W, H);
    p.background = want[i] ? ORF_BG_COLOR : ORF_BG_ALPHA;
    subject_of(files[i], sizes[i], &p, 512, b, W, H);
    printf("simple image %d: auto chose %s\n", i, orf_mask_source_name(source));
    assert_int_equal(source, want[i]);
    assert_memory_equal(a, b, W * H);
    /* and a whole job */
    orf_job_opts o;
    orf_job_opts_init(&o);
    o.threads = 2;
    o.segmenter = seg;
    orf_result res;
    orf_params_init(&p);
    p.quality = 3;
    assert_int_equal(orf_generate(files[i], sizes[i], &p, &o, &res), 0);
    assert_int_equal(res.mask_source, want[i]);
    orf_result_free(&res);
    free(files[i]);
  }
  assert_int_equal(runs(), r0);
  free(a);
  free(b);
}

/* ---- points -------------------------------------------------------------- */

static void test_points(void **state) {
  (void)state;
  enum { N = 384 };
  uint8_t *rgb = photo_crop(DOC "data/building.jpg", N), *truth = calloc(N, N), *mask = malloc(N * N);
  const float red[3] = {0.85f, 0.2f, 0.15f}, yellow[3] = {0.95f, 0.75f, 0.1f};
  paste(rgb, truth, N, 1, 0.27f, 0.5f, 0.36f, red);
  paste(rgb, truth, N, 1, 0.73f, 0.5f, 0.36f, yellow);
  size_t n;
  uint8_t *png = tu_png(rgb, N, N, 3, 8, &n);
  const size_t left = (size_t)(N / 2) * N + (size_t)(0.27 * N),
               right = (size_t)(N / 2) * N + (size_t)(0.73 * N);
  orf_params p;
  orf_params_init(&p);
  p.background = ORF_BG_SUBJECT;
  subject_of(png, n, &p, N, mask, N, N);
  printf("two objects: subject keeps left %d right %d\n", mask[left], mask[right]);
  assert_true(mask[left] && mask[right]);
  char err[256];
  /* a keep point on the right one keeps it only */
  assert_int_equal(orf_params_set(&p, "subject_points", "+0.73,0.5", err, sizeof err), 0);
  subject_of(png, n, &p, N, mask, N, N);
  save_mask("points-keep", mask, N, N);
  assert_false(mask[left]);
  assert_true(mask[right]);
  /* a drop point on the left one removes it; the right one stays */
  assert_int_equal(orf_params_set(&p, "subject_points", "-0.27,0.5", err, sizeof err), 0);
  subject_of(png, n, &p, N, mask, N, N);
  save_mask("points-drop", mask, N, N);
  assert_false(mask[left]);
  assert_true(mask[right]);
  /* with the colour model and auto too (the points apply to any mask) */
  p.background = ORF_BG_AUTO;
  subject_of(png, n, &p, N, mask, N, N);
  assert_false(mask[left]);
  assert_true(mask[right]);
  free(png);
  free(rgb);
  free(truth);
  free(mask);
}

static void test_points_parsing(void **state) {
  (void)state;
  orf_params p;
  orf_params_init(&p);
  char err[256];
  assert_int_equal(orf_params_set(&p, "subject_points", "+0.25,0.5; -0.75,0.125 0.5,1", err, sizeof err), 0);
  assert_int_equal(p.point_count, 3);
  assert_true(p.points[0].keep && !p.points[1].keep && p.points[2].keep); /* no sign (a query's '+'): keep */
  assert_true(p.points[1].x == 0.75 && p.points[1].y == 0.125);
  char c[2048];
  orf_params_canonical(&p, c, sizeof c);
  assert_non_null(strstr(c, "&subject_points=+0.25,0.5;-0.75,0.125;+0.5,1&"));
  orf_params q;
  orf_params_init(&q);
  char d[2048];
  orf_params_canonical(&q, d, sizeof d);
  assert_null(strstr(d, "subject_points")); /* none: the hash of a request without */
  static const char *const bad[] = {"+1.5,0.5", "0.5",       "+0.5,0.5,0.5", "*0.5,0.5", "+0.5;0.5",
                                    "+a,b",     "-0.1,-0.2", "+0.5,0.5x",    "+nan,0.5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    assert_int_equal(orf_params_set(&p, "subject_points", bad[i], err, sizeof err), ORF_EINVAL);
    assert_non_null(strstr(err, "subject_points"));
  }
  char many[1024] = "";
  for (int i = 0; i < ORF_MAX_POINTS + 1; i++)
    strcat(many, "+0.5,0.5;");
  assert_int_equal(orf_params_set(&p, "subject_points", many, err, sizeof err), ORF_EINVAL);
  assert_non_null(strstr(err, "subject_points"));
  /* points need a background that separates */
  assert_int_equal(orf_params_set(&p, "subject_points", "+0.5,0.5", err, sizeof err), 0);
  p.background = ORF_BG_NONE;
  assert_int_equal(orf_params_validate(&p, err, sizeof err), ORF_EINVAL);
  assert_non_null(strstr(err, "subject_points"));
}

/* ---- the cache ----------------------------------------------------------- */

typedef struct ask {
  const uint8_t *data;
  size_t size;
  int rc;
} ask;

static void *ask_mask(void *arg) {
  ask *a = arg;
  orf_params p;
  orf_params_init(&p);
  p.background = ORF_BG_SUBJECT;
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = 1;
  o.segmenter = seg;
  uint8_t *png;
  size_t n;
  a->rc = orf_subject_png(a->data, a->size, &p, &o, 256, &png, &n, NULL);
  if (!a->rc) orf_buffer_free(png);
  return NULL;
}

static void test_cache(void **state) {
  (void)state;
  size_t n;
  uint8_t *jpg = tu_photo_jpeg(300, &n);
  orf_segmenter_stats s0, s1;
  orf_segmenter_stats_get(seg, &s0);
  /* four threads at once on a new image: one run */
  pthread_t t[4];
  ask a[4];
  for (int i = 0; i < 4; i++) {
    a[i] = (ask){jpg, n, -1};
    pthread_create(&t[i], NULL, ask_mask, &a[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(a[i].rc, 0);
  }
  orf_segmenter_stats_get(seg, &s1);
  assert_int_equal(s1.runs - s0.runs, 1);
  assert_int_equal(s1.hits - s0.hits, 3);
  /* the same image in jobs of other qualities and modes: no run */
  static const char *const modes[][2] = {{"quality", "2"}, {"quality", "5"}, {"mode", "extrude"}};
  for (int i = 0; i < 3; i++) {
    orf_params p;
    orf_params_init(&p);
    p.background = ORF_BG_SUBJECT;
    assert_int_equal(orf_params_set(&p, modes[i][0], modes[i][1], NULL, 0), 0);
    if (p.mode == ORF_MODE_EXTRUDE) p.quality = 3;
    orf_job_opts o;
    orf_job_opts_init(&o);
    o.threads = 2;
    o.segmenter = seg;
    orf_result res;
    assert_int_equal(orf_generate(jpg, n, &p, &o, &res), 0);
    assert_int_equal(res.mask_source, 3);
    orf_result_free(&res);
  }
  orf_segmenter_stats_get(seg, &s1);
  assert_int_equal(s1.runs - s0.runs, 1);
  assert_true(s1.cache_bytes >= (size_t)s1.input_side * s1.input_side);
  printf("cache: %zu entries, %zu bytes, input side %d\n", s1.cache_entries, s1.cache_bytes, s1.input_side);
  free(jpg);
}

/* ---- previews ------------------------------------------------------------ */

typedef struct gen {
  const uint8_t *data;
  size_t size;
  int rc;
  int stages;
} gen;

static int count_stage(void *user, orf_stage s, const orf_mesh *m, int grid, double ms) {
  (void)s, (void)m, (void)grid, (void)ms;
  ((gen *)user)->stages++;
  return 0;
}

static void *generate_q3(void *arg) {
  gen *g = arg;
  orf_params p;
  orf_params_init(&p);
  p.background = ORF_BG_SUBJECT;
  p.quality = 3;
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = 2;
  o.segmenter = seg;
  o.on_stage = count_stage;
  o.user = g;
  orf_result r;
  g->rc = orf_generate(g->data, g->size, &p, &o, &r);
  if (!g->rc) orf_result_free(&r);
  return NULL;
}

/* The preview network's mask against the full one's: the composites and
 * photographs of opencv-doc, decoded and run through net.h as a job would,
 * thresholded at one half.  Then jobs: a new image (three jobs at once)
 * runs the preview once and the network once; a cached one runs neither. */
static void test_preview(void **state) {
  (void)state;
  char err[512];
  orf__net *net;
  assert_int_equal(orf__net_load(model, 2, &net, err, sizeof err), 0);
  assert_true(orf__net_has_preview(net));
  int side = orf__net_side(net);
  uint8_t *full = malloc((size_t)side * side), *pre = malloc((size_t)side * side);
  static const char *const photos[] = {"data/messi5.jpg",       "data/fruits.jpg",
                                       "data/squirrel_cls.jpg", "data/home.jpg",
                                       "data/butterfly.jpg",    "alphamat/input_images/plant.jpg"};
  double worst = 1;
  for (size_t i = 0; i < sizeof photos / sizeof photos[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, DOC "%s", photos[i]);
    size_t n;
    uint8_t *data = tu_read_file(path, &n);
    orf_image img;
    assert_non_null(data);
    assert_int_equal(orf_image_decode(data, n, NULL, (uint32_t)side, &img), 0);
    assert_int_equal(orf__net_run(net, img.rgba, img.width, img.height, 0, full), 0);
    assert_int_equal(orf__net_run(net, img.rgba, img.width, img.height, 1, pre), 0);
    for (size_t k = 0; k < (size_t)side * side; k++)
      full[k] = full[k] >= 128, pre[k] = pre[k] >= 128;
    double v = iou(full, pre, (size_t)side * side);
    printf("preview against full, %s: IoU %.3f\n", strrchr(photos[i], '/') + 1, v);
    if (v < worst) worst = v;
    orf_image_free(&img);
    free(data);
  }
  assert_true(worst >= 0.85);
  orf__net_free(net);
  free(full);
  free(pre);

  size_t n;
  uint8_t *jpg = tu_photo_jpeg(330, &n);
  orf_segmenter_stats s0, s1;
  orf_segmenter_stats_get(seg, &s0);
  pthread_t t[3];
  gen g[3];
  for (int i = 0; i < 3; i++) {
    g[i] = (gen){jpg, n, -1, 0};
    pthread_create(&t[i], NULL, generate_q3, &g[i]);
  }
  for (int i = 0; i < 3; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(g[i].rc, 0);
    assert_int_equal(g[i].stages, ORF_STAGE_COUNT);
  }
  orf_segmenter_stats_get(seg, &s1);
  printf("three jobs on a new image: %llu preview run(s), %llu run(s)\n",
         (unsigned long long)(s1.preview_runs - s0.preview_runs), (unsigned long long)(s1.runs - s0.runs));
  assert_int_equal(s1.preview_runs - s0.preview_runs, 1);
  assert_int_equal(s1.runs - s0.runs, 1);
  gen again = {jpg, n, -1, 0};
  generate_q3(&again);
  assert_int_equal(again.rc, 0);
  orf_segmenter_stats_get(seg, &s0);
  assert_int_equal(s0.preview_runs, s1.preview_runs);
  assert_int_equal(s0.runs, s1.runs);
  free(jpg);
}

/* A cache of 0 bytes keeps nothing: a second ask runs again; and an LRU of
 * one matte drops the older image. */
static void test_cache_bound(void **state) {
  (void)state;
  char err[512];
  orf_segmenter *small;
  assert_int_equal(orf_segmenter_create(model, 2, 320 * 320, &small, err, sizeof err), 0);
  size_t n1, n2;
  uint8_t *a = tu_photo_jpeg(200, &n1), *b = tu_photo_jpeg(210, &n2);
  orf_params p;
  orf_params_init(&p);
  p.background = ORF_BG_SUBJECT;
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = 2;
  o.segmenter = small;
  uint8_t *png;
  size_t n;
  const uint8_t *order[] = {a, a, b, a};
  const size_t sizes[] = {n1, n1, n2, n1};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(orf_subject_png(order[i], sizes[i], &p, &o, 200, &png, &n, NULL), 0);
    orf_buffer_free(png);
  }
  orf_segmenter_stats st;
  orf_segmenter_stats_get(small, &st);
  assert_int_equal(st.runs, 3); /* a, b, a again (b pushed it out) */
  assert_int_equal(st.hits, 1);
  assert_int_equal(st.cache_entries, 1);
  orf_segmenter_free(small);
  free(a);
  free(b);
}

/* ---- model errors -------------------------------------------------------- */

static void test_model_errors(void **state) {
  (void)state;
  char path[600], err[512];
  orf_segmenter *s = (orf_segmenter *)1;
  snprintf(path, sizeof path, "%s/no-such-model.onnx", tmp);
  assert_int_equal(orf_segmenter_create(path, 1, 0, &s, err, sizeof err), ORF_EIO);
  assert_null(s);
  printf("missing: %s\n", err);
  assert_non_null(strstr(err, path));
  /* empty, text, random bytes, a truncated copy of the real model */
  size_t n;
  uint8_t *real = tu_read_file(model, &n);
  assert_non_null(real);
  uint32_t seed = 99;
  uint8_t *noise = malloc(65536);
  for (int i = 0; i < 65536; i++)
    noise[i] = (uint8_t)rnd(&seed);
  const struct {
    const char *name;
    const void *data;
    size_t size;
  } bad[] = {{"empty.onnx", "", 0},
             {"text.onnx", "this is not a model\n", 20},
             {"noise.onnx", noise, 65536},
             {"truncated.onnx", real, n / 3}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", tmp, bad[i].name);
    assert_int_equal(tu_write_file(path, bad[i].data, bad[i].size), 0);
    s = (orf_segmenter *)1;
    int rc = orf_segmenter_create(path, 1, 0, &s, err, sizeof err);
    printf("%s: %s\n", bad[i].name, err);
    assert_int_equal(rc, ORF_ESEGMENT);
    assert_null(s);
    assert_non_null(strstr(err, path));
  }
  /* a directory is not readable as a model either */
  s = (orf_segmenter *)1;
  assert_true(orf_segmenter_create(tmp, 1, 0, &s, err, sizeof err) < 0);
  assert_null(s);
  assert_non_null(strstr(err, tmp));
  /* the CLI exits 2 with the sentence; the server does not start */
  size_t pn;
  uint8_t *photo = tu_photo_jpeg(128, &pn);
  char img[600], cmd[2048];
  snprintf(img, sizeof img, "%s/photo.jpg", tmp);
  tu_write_file(img, photo, pn);
  free(photo);
  snprintf(path, sizeof path, "%s/noise.onnx", tmp);
  snprintf(cmd, sizeof cmd, "%s generate %s -o %s/out.stl --segment-model %s 2>%s/cli.err", ts_bin(), img,
           tmp, path, tmp);
  int st = system(cmd);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 2);
  snprintf(cmd, sizeof cmd, "%s/cli.err", tmp);
  char *msg = (char *)tu_read_file(cmd, &n);
  assert_non_null(msg);
  printf("cli: %s", msg);
  assert_non_null(strstr(msg, path));
  free(msg);
  ts_server srv;
  char data[600], log[600], extra[700];
  snprintf(data, sizeof data, "%s/data-bad-model", tmp);
  snprintf(log, sizeof log, "%s/bad-model.log", tmp);
  snprintf(extra, sizeof extra, "--segment-model %s", path);
  assert_int_equal(ts_start(&srv, &(ts_launch){.data = data, .extra = extra, .log = log, .quiet = 1}), -1);
  assert_true(WIFEXITED(srv.exit_status));
  assert_int_equal(WEXITSTATUS(srv.exit_status), 2);
  msg = (char *)tu_read_file(log, &n);
  assert_non_null(msg);
  assert_non_null(strstr(msg, path));
  free(msg);
  /* the variable names the model too */
  char env[700];
  snprintf(env, sizeof env, "ORFEAS_SEGMENT_MODEL=%s/missing.onnx", tmp);
  assert_int_equal(ts_start(&srv, &(ts_launch){.data = data, .env = env, .log = log, .quiet = 1}), -1);
  assert_int_equal(WEXITSTATUS(srv.exit_status), 2);
  free(noise);
  free(real);
}

/* ---- memory -------------------------------------------------------------- */

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t k = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, key, k)) v = atol(line + k);
  if (f) fclose(f);
  return v;
}

/* A network job's whole RSS peak (the engine's allocations and OpenCV's,
 * on a segmenter that has not run yet, so the network's buffers are
 * allocated inside the job) stays under its estimate. */
static void test_memory_estimate(void **state) {
  (void)state;
  char err[512];
  orf_segmenter *fresh;
  assert_int_equal(orf_segmenter_create(model, 2, 0, &fresh, err, sizeof err), 0);
  size_t n;
  uint8_t *jpg = tu_photo_jpeg(1024, &n);
  orf_params p;
  orf_params_init(&p);
  p.background = ORF_BG_SUBJECT;
  p.quality = 10;
  assert_int_equal(orf_params_set(&p, "subject_points", "+0.5,0.5", NULL, 0), 0);
  FILE *f = fopen("/proc/self/clear_refs", "w"); /* resets VmHWM to the current RSS */
  if (f) {
    fputs("5", f);
    fclose(f);
  }
  long rss0 = status_kb("VmRSS:");
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = 2;
  o.segmenter = fresh;
  orf_result res;
  assert_int_equal(orf_generate(jpg, n, &p, &o, &res), 0);
  long hwm = status_kb("VmHWM:");
  size_t est = orf_estimate_peak_bytes(&p, 1024, 1024, n);
  double peak = (double)(hwm - rss0) * 1024;
  printf("memory: RSS peak over the job %.1f MB (engine's own %.1f MB), estimate %.1f MB\n", peak / 1e6,
         (double)o.peak_bytes / 1e6, (double)est / 1e6);
  assert_true(hwm > 0 && rss0 > 0);
  assert_true(peak <= (double)est);
  orf_result_free(&res);
  orf_segmenter_free(fresh);
  free(jpg);
}

/* ---- over HTTP ----------------------------------------------------------- */

static ts_server S;

static void test_http(void **state) {
  (void)state;
  char data[600], log[600];
  snprintf(data, sizeof data, "%s/data", tmp);
  snprintf(log, sizeof log, "%s/server.log", tmp);
  assert_int_equal(ts_start(&S, &(ts_launch){.data = data, .extra = "--engine-threads 2", .log = log}), 0);
  ts_default_server = &S;
  size_t n;
  uint8_t *jpg = tu_photo_jpeg(640, &n);
  double r0 = ts_get_metric(NULL, "orfeas_segment_runs_total", NULL);
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/mask?background=subject",
                            .ctype = "image/jpeg",
                            .body = jpg,
                            .len = n});
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header(&r, "X-Mask-Source", "subject");
  ts_reply_free(&r);
  /* the same image, other qualities and modes: the network does not run again */
  static const char *const paths[] = {"/api/v1/generate?quality=3&background=subject",
                                      "/api/v1/generate?quality=6&background=subject",
                                      "/api/v1/generate?quality=4&mode=extrude&background=subject",
                                      "/api/v1/mask?background=subject&subject_points=%2B0.5,0.5"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    ts_http(&r,
            &(ts_request){.method = "POST", .path = paths[i], .ctype = "image/jpeg", .body = jpg, .len = n});
    TS_EXPECT_STATUS(&r, 200);
    if (strstr(paths[i], "generate")) {
      json_t *j = ts_reply_json(&r);
      assert_string_equal(json_string_value(json_object_get(j, "mask_source")), "subject");
      json_decref(j);
    }
    ts_reply_free(&r);
  }
  double r1 = ts_get_metric(NULL, "orfeas_segment_runs_total", NULL);
  printf("http: one image, five requests: %.0f network run(s)\n", r1 - r0);
  assert_true(r1 - r0 == 1);
  /* malformed points: 422 naming subject_points */
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/mask?subject_points=%2B2,0.5",
                            .ctype = "image/jpeg",
                            .body = jpg,
                            .len = n});
  TS_EXPECT_STATUS(&r, 422);
  json_t *j = ts_reply_json(&r);
  assert_string_equal(json_string_value(json_object_get(j, "param")), "subject_points");
  json_decref(j);
  ts_reply_free(&r);
  free(jpg);

  /* ten requests at once for a new image: one run */
  enum { M = 10 };
  jpg = tu_photo_jpeg(700, &n);
  r0 = ts_get_metric(NULL, "orfeas_segment_runs_total", NULL);
  CURLM *m = curl_multi_init();
  CURL *h[M];
  ts_reply rr[M];
  struct curl_slist *hl[M];
  curl_mime *mime[M];
  for (int i = 0; i < M; i++) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/%s?background=subject&quality=%d", i % 2 ? "generate" : "mask",
             2 + i % 4);
    ts_request q = {.method = "POST", .path = path, .ctype = "image/jpeg", .body = jpg, .len = n};
    h[i] = curl_easy_init();
    ts_prepare(h[i], &q, &rr[i], &hl[i], &mime[i]);
    curl_easy_setopt(h[i], CURLOPT_PRIVATE, &rr[i]);
    curl_multi_add_handle(m, h[i]);
  }
  int running = 1;
  double t0 = ts_now_s();
  while (running && ts_now_s() - t0 < TS_REQ_TIMEOUT_S) {
    curl_multi_perform(m, &running);
    if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m, &left)))
    if (msg->msg == CURLMSG_DONE) {
      ts_reply *x;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
      ts_finish(msg->easy_handle, x, msg->data.result);
    }
  for (int i = 0; i < M; i++) {
    curl_multi_remove_handle(m, h[i]);
    curl_easy_cleanup(h[i]);
    curl_slist_free_all(hl[i]);
    curl_mime_free(mime[i]);
  }
  curl_multi_cleanup(m);
  for (int i = 0; i < M; i++) {
    TS_EXPECT_STATUS(&rr[i], 200);
    ts_reply_free(&rr[i]);
  }
  r1 = ts_get_metric(NULL, "orfeas_segment_runs_total", NULL);
  printf("http: ten concurrent requests for a new image: %.0f network run(s)\n", r1 - r0);
  assert_true(r1 - r0 == 1);
  free(jpg);

  /* random bytes named .png: 400 bad_image; a GIF: 415 */
  uint8_t noise[4096];
  uint32_t seed = 5;
  for (size_t i = 0; i < sizeof noise; i++)
    noise[i] = (uint8_t)rnd(&seed);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .multipart = 1,
                            .image = noise,
                            .image_len = sizeof noise,
                            .image_type = "image/png"});
  TS_EXPECT_STATUS(&r, 400);
  assert_non_null(strstr(r.body, "bad_image"));
  ts_reply_free(&r);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/mask",
                            .ctype = "image/gif",
                            .body = "this is a text file, not a GIF\n",
                            .len = 31});
  TS_EXPECT_STATUS(&r, 400);
  ts_reply_free(&r);
  ts_stop_clean(&S);
}

/* The request hash of POST /api/v1/generate?QUERY with the heart from
 * server s (asserting 200). */
static void hash_of(ts_server *s, const char *query, const uint8_t *png, size_t n, char out[65]) {
  char path[200];
  snprintf(path, sizeof path, "/api/v1/generate?%s", query);
  ts_reply r;
  ts_http(&r, &(ts_request){
                  .method = "POST", .path = path, .ctype = "image/png", .body = png, .len = n, .srv = s});
  TS_EXPECT_STATUS(&r, 200);
  json_t *j = ts_reply_json(&r);
  snprintf(out, 65, "%s", json_string_value(json_object_get(j, "request_hash")));
  json_decref(j);
  ts_reply_free(&r);
}

/* Another model is another result: where the network may decide the
 * subject (background auto or subject), the model file's hash is part of
 * the request hash, so a server started with another model (here none)
 * on the same data directory never serves the first model's results; with
 * background=color the model plays no part and the hash is the same. */
static void test_model_in_request_hash(void **state) {
  (void)state;
  char data[600], log[600];
  snprintf(data, sizeof data, "%s/hashdata", tmp);
  snprintf(log, sizeof log, "%s/hash.log", tmp);
  size_t n;
  uint8_t *png = tu_read_file("samples/heart.png", &n);
  assert_non_null(png);
  char auto1[65], auto2[65], alpha1[65], alpha2[65], again[65];
  ts_server a, b;
  assert_int_equal(ts_start(&a, &(ts_launch){.data = data, .log = log}), 0);
  hash_of(&a, "quality=1", png, n, auto1);
  hash_of(&a, "quality=1&background=color", png, n, alpha1);
  hash_of(&a, "quality=1", png, n, again);
  assert_string_equal(auto1, again); /* stable for one model */
  ts_stop_clean(&a);
  assert_int_equal(ts_start(&b, &(ts_launch){.data = data, .log = log, .extra = "--segment-model none"}), 0);
  hash_of(&b, "quality=1", png, n, auto2);
  hash_of(&b, "quality=1&background=color", png, n, alpha2);
  ts_stop_clean(&b);
  printf("request hash, background=auto: %.12s with u2netp, %.12s without a model\n", auto1, auto2);
  assert_string_not_equal(auto1, auto2);
  assert_string_equal(alpha1, alpha2);
  free(png);
}

/* ---- fixture ------------------------------------------------------------- */

static int setup(void **state) {
  (void)state;
  snprintf(tmp, sizeof tmp, "build/test_segment.%d", (int)getpid());
  const char *bin = ts_bin();
  const char *slash = strrchr(bin, '/');
  mkdir(tmp, 0777);
  snprintf(model, sizeof model, "%.*s/models/u2netp.onnx", slash ? (int)(slash - bin) : 1, slash ? bin : ".");
  snprintf(views, sizeof views, "%.*s/segment", slash ? (int)(slash - bin) : 1, slash ? bin : ".");
  mkdir(views, 0777);
  char err[512];
  if (orf_segmenter_create(model, 2, (size_t)32 << 20, &seg, err, sizeof err)) {
    fprintf(stderr, "test_segment: %s (make installs it)\n", err);
    return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  orf_segmenter_free(seg);
  ts_kill_all();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_composites),
      cmocka_unit_test(test_plant),
      cmocka_unit_test(test_simple_images_skip_network),
      cmocka_unit_test(test_points),
      cmocka_unit_test(test_points_parsing),
      cmocka_unit_test(test_cache),
      cmocka_unit_test(test_cache_bound),
      cmocka_unit_test(test_preview),
      cmocka_unit_test(test_model_errors),
      cmocka_unit_test(test_memory_estimate),
      cmocka_unit_test(test_http),
      cmocka_unit_test(test_model_in_request_hash),
  };
  int failed = cmocka_run_group_tests_name("segment", tests, setup, teardown);
  curl_global_cleanup();
  return failed ? 1 : 0;
}
