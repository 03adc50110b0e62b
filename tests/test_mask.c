/*
 * test_mask.c - subject mask extraction (src/image/mask.c): discs, holes,
 * blobs and specks on plain, noisy, JPEG-compressed and gradient
 * backgrounds, the alpha rules, the error cases and thread independence.
 * Images are built in memory (orf_image with a test-owned buffer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "alloc.h"
#include "mask.h"
#include "orfeas.h"
#include "testutil.h"

static const uint8_t WHITE[3] = {255, 255, 255};
static const uint8_t RED[3] = {200, 30, 30};
static const uint8_t BLUE[3] = {40, 90, 160};

static uint32_t rng_next(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

/* An image owning the malloc'd rgba (never passed to orf_image_free). */
static orf_image wrap(uint8_t *rgba, uint32_t w, uint32_t h, int has_alpha) {
  orf_image img = {0};
  img.width = w;
  img.height = h;
  img.rgba = rgba;
  img.has_alpha = has_alpha;
  img.type = ORF_IMG_PNG;
  img.source_width = w;
  img.source_height = h;
  return img;
}

static orf_image discs(uint32_t w, uint32_t h, const float *d, int n, float hole, const uint8_t fg[3],
                       const uint8_t bg[3], uint8_t alpha_bg, int has_alpha) {
  return wrap(tu_discs_rgba(w, h, d, n, hole, fg, bg, alpha_bg), w, h, has_alpha);
}

/* Adds deterministic noise in [-amp, amp] to every colour channel. */
static void add_noise(orf_image *img, int amp, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 7u;
  for (size_t i = 0; i < (size_t)img->width * img->height; i++)
    for (int c = 0; c < 3; c++) {
      int v = img->rgba[4 * i + c] + (int)(rng_next(&s) % (uint32_t)(2 * amp + 1)) - amp;
      img->rgba[4 * i + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
}

static size_t count_disc(uint32_t w, uint32_t h, float cx, float cy, float r) {
  size_t n = 0;
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      n += hypotf(x + 0.5f - cx, y + 0.5f - cy) <= r;
  return n;
}

/* Components of the pixels equal to `val`, 8- or 4-connected; with
 * enclosed_only, only those not touching the frame are counted. */
static int components(const uint8_t *m, uint32_t w, uint32_t h, uint8_t val, int conn8, int enclosed_only) {
  size_t n = (size_t)w * h;
  uint8_t *seen = calloc(n, 1);
  uint32_t *q = malloc(n * sizeof *q);
  int count = 0;
  for (size_t s = 0; s < n; s++) {
    if (seen[s] || m[s] != val) continue;
    size_t head = 0, tail = 0;
    int border = 0;
    q[tail++] = (uint32_t)s;
    seen[s] = 1;
    while (head < tail) {
      long p = q[head++], x = p % (long)w, y = p / (long)w;
      if (x == 0 || y == 0 || x == (long)w - 1 || y == (long)h - 1) border = 1;
      for (int dy = -1; dy <= 1; dy++)
        for (int dx = -1; dx <= 1; dx++) {
          if ((!dx && !dy) || (!conn8 && dx && dy)) continue;
          long xx = x + dx, yy = y + dy;
          if (xx < 0 || yy < 0 || xx >= (long)w || yy >= (long)h) continue;
          size_t k = (size_t)yy * w + (size_t)xx;
          if (!seen[k] && m[k] == val) {
            seen[k] = 1;
            q[tail++] = (uint32_t)k;
          }
        }
    }
    count += !enclosed_only || !border;
  }
  free(seen);
  free(q);
  return count;
}

static size_t mask_sum(const orf_mask *m) {
  size_t s = 0;
  for (size_t i = 0; i < (size_t)m->width * m->height; i++)
    s += m->data[i];
  return s;
}

/* A clean single disc: right size (within `frac` of its pixel count, and
 * exact but for a band of `tol` px along the outline), one component, no
 * enclosed background. */
static void check_disc_tol(const orf_mask *m, float cx, float cy, float r, float tol, double frac) {
  size_t want = count_disc(m->width, m->height, cx, cy, r), got = mask_sum(m);
  assert_int_equal(got, m->area);
  assert_true(fabs((double)got - (double)want) <= frac * (double)want);
  assert_int_equal(components(m->data, m->width, m->height, 1, 1, 0), 1);
  assert_int_equal(components(m->data, m->width, m->height, 0, 0, 1), 0);
  assert_int_equal(m->data[(size_t)cy * m->width + (size_t)cx], 1);
  size_t w = m->width, h = m->height;
  assert_int_equal(m->data[0] | m->data[w - 1] | m->data[(h - 1) * w] | m->data[h * w - 1], 0);
  /* every mask pixel lies within tol px of the disc's outline or inside */
  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++) {
      float d = hypotf(x + 0.5f - cx, y + 0.5f - cy);
      if (d < r - tol) assert_int_equal(m->data[y * w + x], 1);
      if (d > r + tol) assert_int_equal(m->data[y * w + x], 0);
    }
}

/* Within 1.5 px of the outline and 3% of the area. */
static void check_disc(const orf_mask *m, float cx, float cy, float r) {
  check_disc_tol(m, cx, cy, r, 1.5f, 0.03);
}

static void test_mask_disc_on_white(void **state) {
  (void)state;
  const float d[3] = {100, 80, 40};
  orf_image img = discs(200, 160, d, 1, 0, RED, WHITE, 255, 0);
  orf_mask m;
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m), ORF_OK);
  assert_int_equal(m.source, ORF_MASK_FROM_BACKGROUND);
  assert_int_equal(m.width, 200);
  assert_int_equal(m.height, 160);
  check_disc(&m, 100, 80, 40);
  orf_mask_free(&m);
  assert_null(m.data);
  free(img.rgba);
}

static void test_mask_noisy_background(void **state) {
  (void)state;
  const float d[3] = {130, 90, 55};
  orf_image img = discs(240, 200, d, 1, 0, BLUE, WHITE, 255, 0);
  add_noise(&img, 6, 3);
  orf_mask m1, m2, m4;
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 1, &m1), ORF_OK);
  check_disc(&m1, 130, 90, 55);
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m2), ORF_OK);
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 4, &m4), ORF_OK);
  assert_memory_equal(m1.data, m2.data, 240 * 200);
  assert_memory_equal(m1.data, m4.data, 240 * 200);
  assert_int_equal(m1.area, m4.area);
  orf_mask_free(&m1);
  orf_mask_free(&m2);
  orf_mask_free(&m4);
  free(img.rgba);
}

/* A real JPEG round trip (quality 60, 4:2:0) of a noisy product-like photo,
 * decoded here with TurboJPEG.  Ringing along the outline is real colour
 * change (4:2:0 chroma bleeds about 3 px): the mask may grow by up to 3.5 px
 * there (7% of the area), but
 * stays one clean component. */
static void test_mask_jpeg_artifacts(void **state) {
  (void)state;
  const uint32_t w = 256, h = 192;
  const float d[3] = {120, 100, 60};
  const uint8_t fg[3] = {180, 140, 60};
  uint8_t *rgba = tu_discs_rgba(w, h, d, 1, 0, fg, WHITE, 255);
  orf_image src = wrap(rgba, w, h, 0);
  add_noise(&src, 4, 9);
  uint8_t *rgb = tu_rgba_to_rgb(rgba, w, h);
  size_t size = 0;
  uint8_t *jpg = tu_jpeg(rgb, w, h, 60, 0, &size);
  assert_non_null(jpg);
  tjhandle tj = tjInitDecompress();
  assert_non_null(tj);
  assert_int_equal(tjDecompress2(tj, jpg, (unsigned long)size, rgba, (int)w, 0, (int)h, TJPF_RGBA, 0), 0);
  tjDestroy(tj);
  orf_mask m;
  assert_int_equal(orf_mask_build(&src, ORF_BG_AUTO, 2, &m), ORF_OK);
  check_disc_tol(&m, 120, 100, 60, 3.5f, 0.07);
  orf_mask_free(&m);
  free(jpg);
  free(rgb);
  free(rgba);
}

static void test_mask_annulus_keeps_hole(void **state) {
  (void)state;
  const float d[3] = {100, 100, 60};
  orf_image img = discs(200, 200, d, 1, 20, RED, WHITE, 255, 0);
  add_noise(&img, 6, 4);
  orf_mask m;
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m), ORF_OK);
  assert_int_equal(m.data[100 * 200 + 100], 0);
  assert_int_equal(m.data[100 * 200 + 100 + 40], 1);
  assert_int_equal(components(m.data, 200, 200, 0, 0, 1), 1); /* the hole, enclosed */
  assert_int_equal(components(m.data, 200, 200, 1, 1, 0), 1);
  size_t want = count_disc(200, 200, 100, 100, 60) - count_disc(200, 200, 100, 100, 20);
  assert_true(fabs((double)m.area - (double)want) <= 0.03 * (double)want);
  orf_mask_free(&m);
  free(img.rgba);
}

static void test_mask_tiny_holes_filled(void **state) {
  (void)state;
  const uint32_t w = 200, h = 200;
  const float d[3] = {100, 100, 60};
  orf_image img = discs(w, h, d, 1, 0, RED, WHITE, 255, 0);
  /* a 2-px hole and a 3x3 hole of background colour inside the disc */
  memset(img.rgba + 4 * (90 * w + 90), 255, 8);
  for (uint32_t y = 110; y < 113; y++)
    memset(img.rgba + 4 * (y * w + 110), 255, 12);
  orf_mask m;
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m), ORF_OK);
  assert_int_equal(m.data[90 * w + 90], 1);
  assert_int_equal(m.data[90 * w + 91], 1);
  assert_int_equal(m.data[111 * w + 111], 1);
  assert_int_equal(components(m.data, w, h, 0, 0, 1), 0);
  orf_mask_free(&m);
  free(img.rgba);
}

/* On the alpha path (no majority filter) the hole-size rule alone decides:
 * 12 px (< 16) filled, 5x5 = 25 px kept. */
static void test_mask_alpha_hole_sizes(void **state) {
  (void)state;
  const uint32_t w = 200, h = 200;
  const float d[3] = {100, 100, 60};
  orf_image img = discs(w, h, d, 1, 0, RED, WHITE, 0, 1);
  for (uint32_t y = 80; y < 83; y++)
    for (uint32_t x = 80; x < 84; x++)
      img.rgba[4 * (y * w + x) + 3] = 0;
  for (uint32_t y = 110; y < 115; y++)
    for (uint32_t x = 110; x < 115; x++)
      img.rgba[4 * (y * w + x) + 3] = 0;
  orf_mask m;
  assert_int_equal(orf_mask_build(&img, ORF_BG_ALPHA, 2, &m), ORF_OK);
  assert_int_equal(m.source, ORF_MASK_FROM_ALPHA);
  assert_int_equal(m.data[81 * w + 81], 1);
  assert_int_equal(m.data[112 * w + 112], 0);
  assert_int_equal(components(m.data, w, h, 0, 0, 1), 1);
  assert_int_equal(m.area, count_disc(w, h, 100, 100, 60) - 25);
  orf_mask_free(&m);
  free(img.rgba);
}

static void test_mask_two_blobs_and_speck(void **state) {
  (void)state;
  const uint32_t w = 240, h = 160;
  const float d[6] = {70, 80, 40, 170, 80, 30};
  orf_image img = discs(w, h, d, 2, 0, BLUE, WHITE, 255, 0);
  add_noise(&img, 6, 5);
  /* a 4x4 speck of subject colour far from both */
  for (uint32_t y = 10; y < 14; y++)
    for (uint32_t x = 220; x < 224; x++)
      memcpy(img.rgba + 4 * (y * w + x), BLUE, 3);
  orf_mask m;
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m), ORF_OK);
  assert_int_equal(m.data[80 * w + 70], 1);
  assert_int_equal(m.data[80 * w + 170], 1);
  assert_int_equal(m.data[11 * w + 221], 0);
  assert_int_equal(m.data[12 * w + 222], 0);
  assert_int_equal(components(m.data, w, h, 1, 1, 0), 2);
  size_t want = count_disc(w, h, 70, 80, 40) + count_disc(w, h, 170, 80, 30);
  assert_true(fabs((double)m.area - (double)want) <= 0.03 * (double)want);
  orf_mask_free(&m);
  free(img.rgba);
}

static void test_mask_alpha_transparent_background(void **state) {
  (void)state;
  const float d[3] = {100, 80, 40};
  /* same colour inside and out: only alpha can separate them */
  orf_image img = discs(200, 160, d, 1, 0, RED, RED, 0, 1);
  orf_mask m;
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m), ORF_OK);
  assert_int_equal(m.source, ORF_MASK_FROM_ALPHA);
  check_disc(&m, 100, 80, 40);
  orf_mask_free(&m);
  assert_int_equal(orf_mask_build(&img, ORF_BG_ALPHA, 1, &m), ORF_OK);
  assert_int_equal(m.source, ORF_MASK_FROM_ALPHA);
  check_disc(&m, 100, 80, 40);
  orf_mask_free(&m);
  free(img.rgba);
}

static void test_mask_opaque_alpha_ignored(void **state) {
  (void)state;
  const float d[3] = {100, 80, 40};
  orf_image img = discs(200, 160, d, 1, 0, RED, WHITE, 255, 1);
  /* a few transparent pixels (< 0.5%) do not make alpha usable */
  for (uint32_t x = 0; x < 100; x++)
    img.rgba[4 * (5 * 200 + x) + 3] = 0;
  orf_mask m;
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m), ORF_OK);
  assert_int_equal(m.source, ORF_MASK_FROM_BACKGROUND);
  check_disc(&m, 100, 80, 40);
  orf_mask_free(&m);
  memset(&m, 0xab, sizeof m);
  assert_int_equal(orf_mask_build(&img, ORF_BG_ALPHA, 2, &m), ORF_ENOALPHA);
  assert_null(m.data);
  assert_int_equal(m.area, 0);
  img.has_alpha = 0;
  assert_int_equal(orf_mask_build(&img, ORF_BG_ALPHA, 2, &m), ORF_ENOALPHA);
  free(img.rgba);
}

static void test_mask_none_is_frame(void **state) {
  (void)state;
  const float d[3] = {100, 80, 40};
  orf_image img = discs(200, 160, d, 1, 0, RED, WHITE, 255, 0);
  orf_mask m;
  assert_int_equal(orf_mask_build(&img, ORF_BG_NONE, 2, &m), ORF_OK);
  assert_int_equal(m.source, ORF_MASK_FRAME);
  assert_int_equal(m.area, 200 * 160);
  for (size_t i = 0; i < 200 * 160; i++)
    assert_int_equal(m.data[i], 1);
  orf_mask_free(&m);
  free(img.rgba);
}

static void test_mask_no_subject(void **state) {
  (void)state;
  const uint32_t w = 120, h = 90;
  const uint8_t grey[3] = {128, 130, 127};
  orf_image img = discs(w, h, NULL, 0, 0, RED, grey, 255, 0);
  orf_mask m;
  memset(&m, 0xab, sizeof m);
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m), ORF_ENOSUBJECT);
  assert_null(m.data);
  add_noise(&img, 6, 6);
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m), ORF_ENOSUBJECT);
  /* a subject filling the frame but for a 1-px white rim (0.8%): no
   * separable background */
  const uint32_t bw = 500, bh = 500;
  const float big[3] = {250, 250, 400};
  orf_image full = discs(bw, bh, big, 1, 0, RED, WHITE, 255, 0);
  for (uint32_t y = 0; y < bh; y++)
    for (uint32_t x = 0; x < bw; x++)
      if (x == 0 || y == 0 || x == bw - 1 || y == bh - 1) memset(full.rgba + 4 * (y * bw + x), 255, 3);
  assert_int_equal(orf_mask_build(&full, ORF_BG_AUTO, 2, &m), ORF_ENOSUBJECT);
  free(full.rgba);
  /* alpha that is transparent everywhere */
  for (size_t i = 0; i < (size_t)w * h; i++)
    img.rgba[4 * i + 3] = 0;
  img.has_alpha = 1;
  assert_int_equal(orf_mask_build(&img, ORF_BG_ALPHA, 2, &m), ORF_ENOSUBJECT);
  /* bad arguments */
  assert_int_equal(orf_mask_build(NULL, ORF_BG_AUTO, 2, &m), ORF_EINVAL);
  assert_int_equal(orf_mask_build(&img, (orf_background)7, 2, &m), ORF_EINVAL);
  free(img.rgba);
}

/* Light grey to white across the image (horizontal or vertical) with noise,
 * a dark subject in the middle. */
static void check_gradient(int vertical) {
  const uint32_t w = 256, h = 200;
  uint8_t *rgba = malloc((size_t)w * h * 4);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++) {
      uint8_t *p = rgba + 4 * ((size_t)y * w + x);
      int v = vertical ? 175 + (int)(80 * y / (h - 1)) : 175 + (int)(80 * x / (w - 1));
      int in = hypotf(x + 0.5f - 128, y + 0.5f - 100) <= 50;
      p[0] = in ? 70 : (uint8_t)v;
      p[1] = in ? 55 : (uint8_t)v;
      p[2] = in ? 45 : (uint8_t)v;
      p[3] = 255;
    }
  orf_image img = wrap(rgba, w, h, 0);
  add_noise(&img, 5, 8);
  orf_mask m1, m2;
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 1, &m1), ORF_OK);
  check_disc(&m1, 128, 100, 50);
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m2), ORF_OK);
  assert_memory_equal(m1.data, m2.data, (size_t)w * h);
  orf_mask_free(&m1);
  orf_mask_free(&m2);
  free(rgba);
}

static void test_mask_gradient_background(void **state) {
  (void)state;
  check_gradient(0);
  check_gradient(1);
}

/* A subject cut by the bottom edge of the frame is not taken for background
 * colour, and is kept. */
static void test_mask_subject_touching_border(void **state) {
  (void)state;
  const uint32_t w = 200, h = 160;
  const float d[3] = {100, 150, 60};
  orf_image img = discs(w, h, d, 1, 0, BLUE, WHITE, 255, 0);
  add_noise(&img, 6, 10);
  orf_mask m;
  assert_int_equal(orf_mask_build(&img, ORF_BG_AUTO, 2, &m), ORF_OK);
  size_t want = count_disc(w, h, 100, 150, 60);
  assert_true(fabs((double)m.area - (double)want) <= 0.03 * (double)want);
  assert_int_equal(m.data[(h - 1) * w + 100], 1);
  assert_int_equal(m.data[120 * w + 100], 1);
  assert_int_equal(m.data[0], 0);
  orf_mask_free(&m);
  free(img.rgba);
}

/* Degenerate sizes go through every step without fault. */
static void test_mask_tiny_images(void **state) {
  (void)state;
  uint8_t px[4] = {10, 20, 30, 255};
  orf_image one = wrap(px, 1, 1, 0);
  orf_mask m;
  assert_int_equal(orf_mask_build(&one, ORF_BG_AUTO, 2, &m), ORF_ENOSUBJECT);
  assert_int_equal(orf_mask_build(&one, ORF_BG_NONE, 2, &m), ORF_OK);
  assert_int_equal(m.area, 1);
  orf_mask_free(&m);
  uint8_t *line = malloc(40 * 4);
  memset(line, 255, 40 * 4);
  memset(line + 4 * 20, 0, 3);
  orf_image row = wrap(line, 40, 1, 0), col = wrap(line, 1, 40, 0);
  assert_int_equal(orf_mask_build(&row, ORF_BG_AUTO, 2, &m), ORF_ENOSUBJECT);
  assert_int_equal(orf_mask_build(&col, ORF_BG_AUTO, 2, &m), ORF_ENOSUBJECT);
  free(line);
  /* 12x12 white with a 6x6 dark square: the majority filter rounds its
   * four corners off, 32 px remain */
  uint8_t *sq = malloc(12 * 12 * 4);
  memset(sq, 255, 12 * 12 * 4);
  for (int y = 3; y < 9; y++)
    for (int x = 3; x < 9; x++)
      memset(sq + 4 * (y * 12 + x), 0, 3);
  orf_image small = wrap(sq, 12, 12, 0);
  assert_int_equal(orf_mask_build(&small, ORF_BG_AUTO, 3, &m), ORF_OK);
  assert_int_equal(m.area, 32);
  assert_int_equal(m.data[3 * 12 + 3], 0);
  assert_int_equal(m.data[3 * 12 + 4], 1);
  orf_mask_free(&m);
  free(sq);
}

/* Every allocation failure gives ORF_ENOMEM, a zeroed *out and no leak. */
static void test_mask_out_of_memory(void **state) {
  (void)state;
  const float d[3] = {50, 40, 20};
  orf_image img = discs(100, 80, d, 1, 0, RED, WHITE, 255, 0);
  int fails = 0, oks = 0;
  for (long k = 1; k < 16; k++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, k);
    orf_memtrack *old = orf_memtrack_set(&t);
    orf_mask m;
    int rc = orf_mask_build(&img, ORF_BG_AUTO, 2, &m);
    if (rc == ORF_OK) {
      oks++;
      orf_mask_free(&m);
    } else {
      assert_int_equal(rc, ORF_ENOMEM);
      assert_null(m.data);
      fails++;
    }
    orf_memtrack_set(old);
    assert_int_equal(atomic_load(&t.current), 0);
  }
  assert_true(fails >= 5);
  assert_true(oks >= 1);
  free(img.rgba);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mask_disc_on_white),
      cmocka_unit_test(test_mask_noisy_background),
      cmocka_unit_test(test_mask_jpeg_artifacts),
      cmocka_unit_test(test_mask_annulus_keeps_hole),
      cmocka_unit_test(test_mask_tiny_holes_filled),
      cmocka_unit_test(test_mask_alpha_hole_sizes),
      cmocka_unit_test(test_mask_two_blobs_and_speck),
      cmocka_unit_test(test_mask_alpha_transparent_background),
      cmocka_unit_test(test_mask_opaque_alpha_ignored),
      cmocka_unit_test(test_mask_none_is_frame),
      cmocka_unit_test(test_mask_no_subject),
      cmocka_unit_test(test_mask_gradient_background),
      cmocka_unit_test(test_mask_subject_touching_border),
      cmocka_unit_test(test_mask_tiny_images),
      cmocka_unit_test(test_mask_out_of_memory),
  };
  return cmocka_run_group_tests_name("mask", tests, NULL, NULL);
}
