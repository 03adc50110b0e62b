/*
 * test_texture.c - the picture as a texture (src/texture/, issue 18): the
 * `texture` and `compress` parameters, the fill that keeps the background
 * out of the texture, the planar projection (a vertex at image pixel
 * (i, j) gets the texture coordinate of (i, j) within half a texel, for
 * inflate's X-Z and relief's and extrude's X-Y), the textured writers
 * (GLB plain and meshopt-compressed, 3MF, OBJ as a zip and as files) read
 * back and checked by the Khronos glTF validator and PrusaSlicer, a label
 * with fine text rendered from the front (a small software rasteriser
 * below) against the source with the texture and with vertex colours,
 * determinism, the memory estimate, and every out-of-memory path.
 *
 * Figures are printed (sizes, correlations, PSNR) for the docs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <meshoptimizer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include "alloc.h"
#include "edt.h"
#include "export.h"
#include "image.h"
#include "mask.h"
#include "mesh.h"
#include "meshgen.h"
#include "orfeas.h"
#include "testutil.h"
#include "texture.h"

/* ---- images ------------------------------------------------------------- */

/* 5 x 7 glyphs (rows top down, bit 4 the left column) for the label. */
static const char kGlyphChars[] = "0123456789AEFHLORSTUX";
static const uint8_t kGlyphs[][7] = {
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}, {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}, {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}, {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}, {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}, {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},
    {0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11}, {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F},
    {0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10}, {0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11},
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F}, {0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
    {0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11}, {0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E},
    {0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04}, {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E},
    {0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11}};

static void put_px(uint8_t *rgba, uint32_t n, long x, long y, const uint8_t c[3]) {
  if (x < 0 || y < 0 || x >= (long)n || y >= (long)n) return;
  memcpy(rgba + 4 * ((size_t)y * n + (size_t)x), c, 3);
}

static void draw_text(uint8_t *rgba, uint32_t n, long x, long y, int scale, const char *s,
                      const uint8_t c[3]) {
  for (; *s; s++, x += 6 * scale) {
    const char *g = strchr(kGlyphChars, *s);
    if (*s == ' ' || !g) continue;
    const uint8_t *rows = kGlyphs[g - kGlyphChars];
    for (int r = 0; r < 7; r++)
      for (int b = 0; b < 5; b++)
        if (rows[r] >> (4 - b) & 1)
          for (int dy = 0; dy < scale; dy++)
            for (int dx = 0; dx < scale; dx++)
              put_px(rgba, n, x + b * scale + dx, y + r * scale + dy, c);
  }
}

/* A label: an n x n RGBA picture (n >= 512), transparent around a cream
 * rounded rectangle with lines of 2 px and 3 px text, thin lines (1 and 2
 * px, straight and slanted) and a 4 px checker, with sensor noise of
 * +-noise levels (0: none); *mask_out (may be NULL) gets the subject
 * (malloc'd, n*n bytes). */
static uint8_t *text_label(uint32_t n, int noise, uint8_t **mask_out) {
  uint8_t *rgba = calloc((size_t)n * n, 4), *mask = calloc((size_t)n * n, 1);
  assert_true(rgba && mask);
  long x0 = n / 9, y0 = n / 5, x1 = n - n / 9, y1 = n - n / 5, rad = n / 16;
  for (long y = 0; y < (long)n; y++)
    for (long x = 0; x < (long)n; x++) {
      long cx = x < x0 + rad ? x0 + rad : x > x1 - rad ? x1 - rad : x;
      long cy = y < y0 + rad ? y0 + rad : y > y1 - rad ? y1 - rad : y;
      int in =
          x >= x0 && x <= x1 && y >= y0 && y <= y1 && (x - cx) * (x - cx) + (y - cy) * (y - cy) <= rad * rad;
      uint8_t *p = rgba + 4 * ((size_t)y * n + (size_t)x);
      if (in) {
        p[0] = (uint8_t)(236 - 20 * (y - y0) / (y1 - y0));
        p[1] = 226;
        p[2] = (uint8_t)(196 + 20 * (x - x0) / (x1 - x0));
        p[3] = 255;
        mask[(size_t)y * n + (size_t)x] = 1;
      } else {
        p[0] = 20, p[1] = 200, p[2] = 40, p[3] = 0; /* garbage under transparency */
      }
    }
  static const uint8_t ink[3] = {20, 20, 30}, red[3] = {190, 20, 30}, blue[3] = {20, 40, 170};
  long tx = x0 + n / 20, ty = y0 + n / 20;
  draw_text(rgba, n, tx, ty, 3, "ORFEAS TEXTURE", ink);
  draw_text(rgba, n, tx, ty + 30, 2, "0123456789 AEFHLORSTUX 42", ink);
  draw_text(rgba, n, tx, ty + 50, 2, "HELLO TO THE RAFTS 2048", red);
  draw_text(rgba, n, tx, ty + 70, 2, "FLAT SHARE 0 5 RULE 12345", blue);
  for (int k = 0; k < 8; k++) { /* thin lines: 1 px and 2 px, level and slanted */
    long y = ty + 110 + 9 * k;
    for (long x = tx; x < x1 - n / 20; x++) {
      put_px(rgba, n, x, y, k % 2 ? red : ink);
      if (k % 3 == 0) put_px(rgba, n, x, y + 1, ink);
    }
  }
  for (long x = tx; x < tx + 300 && x < x1 - 20; x++) /* a slanted hair line */
    put_px(rgba, n, x, ty + 200 + (x - tx) / 6, blue);
  for (long y = ty + 240; y < y1 - n / 20; y++) /* a 4 px checker */
    for (long x = tx; x < tx + n / 3; x++)
      if (((x - tx) / 4 + (y - ty) / 4) % 2) put_px(rgba, n, x, y, ink);
  /* a photograph of it: sensor noise of +-noise levels */
  uint32_t seed = 7;
  for (size_t i = 0; noise && i < (size_t)n * n; i++) {
    for (int k = 0; k < 3; k++) {
      seed = seed * 1664525u + 1013904223u;
      int v = rgba[4 * i + k] + (int)(seed >> 24) % (2 * noise + 1) - noise;
      rgba[4 * i + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
  if (mask_out)
    *mask_out = mask;
  else
    free(mask);
  return rgba;
}

/* An n x n picture: a blob (a disc, anti-aliased by 4 x 4 supersampling)
 * whose colour runs from red at the top to yellow at the bottom (with
 * noise of +-4 levels: a photograph), on a flat blue background or (alpha)
 * a transparent one whose hidden colour is black; *coverage (may be NULL)
 * gets each pixel's subject share 0..16. */
static const uint8_t kBlue[3] = {30, 60, 200};
static uint8_t *blob(uint32_t n, int alpha, int noise, uint8_t **coverage) {
  uint8_t *rgba = malloc((size_t)n * n * 4), *cov = malloc((size_t)n * n);
  assert_true(rgba && cov);
  double c = n / 2.0, r = n * 0.36;
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++) {
      int k = 0;
      for (int s = 0; s < 16; s++) {
        double px = x + (s % 4 + 0.5) / 4, py = y + (s / 4 + 0.5) / 4;
        k += (px - c) * (px - c) + (py - c) * (py - c) <= r * r;
      }
      double t = (double)y / n;
      double fg[3] = {220, 40 + 180 * t, 30};
      uint8_t *p = rgba + 4 * ((size_t)y * n + x);
      for (int ch = 0; ch < 3; ch++) {
        int shake = noise ? (int)((x * 7919u + y * 104729u + (uint32_t)ch * 31u) % 9u) - 4 : 0;
        fg[ch] = fmin(255, fmax(0, fg[ch] + shake));
        p[ch] = alpha ? (uint8_t)(k ? fg[ch] : 0) : (uint8_t)lrint((fg[ch] * k + kBlue[ch] * (16 - k)) / 16);
      }
      p[3] = alpha ? (uint8_t)(k * 255 / 16) : 255;
      cov[(size_t)y * n + x] = (uint8_t)k;
    }
  if (coverage)
    *coverage = cov;
  else
    free(cov);
  return rgba;
}

/* An n x n picture whose colour says where it is: R = 2x, G = 2y (pixel
 * x, y), B = 128; a disc of radius 0.4 n is opaque and the rest
 * transparent (disc), or all of it is opaque. */
static uint8_t *ramp(uint32_t n, int disc) {
  uint8_t *rgba = malloc((size_t)n * n * 4);
  assert_non_null(rgba);
  double c = n / 2.0, r = 0.4 * n;
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++) {
      uint8_t *p = rgba + 4 * ((size_t)y * n + x);
      p[0] = (uint8_t)(2 * x), p[1] = (uint8_t)(2 * y), p[2] = 128;
      double dx = x + 0.5 - c, dy = y + 0.5 - c;
      p[3] = !disc || dx * dx + dy * dy <= r * r ? 255 : 0;
    }
  return rgba;
}

static uint8_t *png_of(const uint8_t *rgba, uint32_t w, uint32_t h, size_t *size) {
  uint8_t *png = tu_png(rgba, w, h, 4, 8, size);
  assert_non_null(png);
  return png;
}

/* Runs a job on the image file with the given "name", "value", ... NULL
 * parameters; asserts it works. */
static void generate(const uint8_t *file, size_t size, const char *const *kv, int threads, orf_result *r) {
  orf_params p;
  orf_params_init(&p);
  char err[256];
  for (int i = 0; kv && kv[i]; i += 2)
    if (orf_params_set(&p, kv[i], kv[i + 1], err, sizeof err)) fail_msg("%s", err);
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = threads;
  o.device = ORF_DEVICE_CPU;
  int rc = orf_generate(file, size, &p, &o, r);
  if (rc) fail_msg("orf_generate: %s", orf_strerror(rc));
}

/* The texture's pixels, decoded. */
static void decode_texture(const orf_texture *t, orf_image *img) {
  orf_limits lim;
  orf_limits_init(&lim);
  assert_int_equal(orf_image_decode(t->data, t->size, &lim, 0, img), ORF_OK);
  assert_int_equal(img->width, t->width);
  assert_int_equal(img->height, t->height);
}

/* Source-image pixel coordinates of a point p (mm) through t. */
static void image_xy(const orf_texture *t, const float p[3], double xy[2]) {
  float uv[2];
  orf_texture_project(t, p, uv);
  xy[0] = t->box[0] + uv[0] * (t->box[2] - t->box[0]);
  xy[1] = t->box[1] + uv[1] * (t->box[3] - t->box[1]);
}

/* ---- parameters ---------------------------------------------------------- */

static void test_params(void **state) {
  (void)state;
  orf_params p, q;
  orf_params_init(&p);
  assert_int_equal(p.texture, ORF_TEXTURE_AUTO);
  assert_int_equal(p.compress, ORF_COMPRESS_NONE);
  char err[256], a[1024], b[1024];
  orf_params_canonical(&p, a, sizeof a);
  /* conversions: set, they change nothing of the canonical form */
  q = p;
  assert_int_equal(orf_params_set(&q, "texture", "off", err, sizeof err), ORF_OK);
  assert_int_equal(orf_params_set(&q, "compress", "meshopt", err, sizeof err), ORF_OK);
  assert_int_equal(q.texture, ORF_TEXTURE_OFF);
  assert_int_equal(q.compress, ORF_COMPRESS_MESHOPT);
  orf_params_canonical(&q, b, sizeof b);
  assert_string_equal(a, b);
  assert_null(strstr(a, "texture="));
  assert_null(strstr(a, "compress="));
  assert_int_equal(orf_params_validate(&q, err, sizeof err), ORF_OK);
  /* strict values, naming the parameter */
  assert_int_equal(orf_params_set(&q, "texture", "yes", err, sizeof err), ORF_EINVAL);
  assert_non_null(strstr(err, "texture"));
  assert_int_equal(orf_params_set(&q, "compress", "zstd", err, sizeof err), ORF_EINVAL);
  assert_non_null(strstr(err, "compress"));
  assert_int_equal(orf_params_set(&q, "compress", "draco", err, sizeof err), ORF_OK);
  assert_int_equal(q.compress, ORF_COMPRESS_DRACO);
  /* rules: meshopt and draco are GLB's; texture=on needs a format, a style and a
   * shape that hold one; auto never fails */
  q = p;
  orf_params_set(&q, "compress", "meshopt", NULL, 0);
  orf_params_set(&q, "format", "stl", NULL, 0);
  assert_int_equal(orf_params_validate(&q, err, sizeof err), ORF_EINVAL);
  assert_true(strncmp(err, "compress", 8) == 0);
  static const char *const bad_on[][4] = {
      {"format", "ply", "", ""}, {"style", "plain", "", ""}, {"mode", "lithophane", "shape", "cylinder"}};
  for (int i = 0; i < 3; i++) {
    q = p;
    orf_params_set(&q, "texture", "on", NULL, 0);
    orf_params_set(&q, bad_on[i][0], bad_on[i][1], NULL, 0);
    if (*bad_on[i][2]) orf_params_set(&q, bad_on[i][2], bad_on[i][3], NULL, 0);
    assert_int_equal(orf_params_validate(&q, err, sizeof err), ORF_EINVAL);
    assert_true(strncmp(err, "texture", 7) == 0);
    orf_params_set(&q, "texture", "auto", NULL, 0);
    assert_int_equal(orf_params_validate(&q, err, sizeof err), ORF_OK);
  }
  static const char *const good_on[] = {"glb", "obj", "3mf"};
  for (int i = 0; i < 3; i++) {
    q = p;
    orf_params_set(&q, "texture", "on", NULL, 0);
    orf_params_set(&q, "format", good_on[i], NULL, 0);
    assert_int_equal(orf_params_validate(&q, err, sizeof err), ORF_OK);
    assert_true(orf_format_holds_texture(q.format));
  }
  assert_false(orf_format_holds_texture(ORF_FMT_STL));
  assert_false(orf_format_holds_texture(ORF_FMT_PLY));
  /* described as conversions: every mode, not geometry (empty modes) */
  size_t need = orf_params_describe(NULL, 0);
  char *desc = malloc(need + 1);
  assert_non_null(desc);
  orf_params_describe(desc, need + 1);
  json_error_t je;
  json_t *root = json_loads(desc, 0, &je);
  assert_non_null(root);
  int found = 0;
  size_t i;
  json_t *d;
  json_array_foreach(json_object_get(root, "params"), i, d) {
    const char *name = json_string_value(json_object_get(d, "name"));
    if (strcmp(name, "texture") && strcmp(name, "compress")) continue;
    found++;
    assert_int_equal(json_array_size(json_object_get(d, "modes")), 0);
    assert_string_equal(json_string_value(json_object_get(d, "default")),
                        strcmp(name, "texture") ? "none" : "auto");
  }
  assert_int_equal(found, 2);
  json_decref(root);
  free(desc);
  assert_string_equal(orf_texture_mode_name(ORF_TEXTURE_ON), "on");
  /* which jobs make a texture */
  q = p;
  assert_true(orf_texture_wanted(&q));
  q.realistic = 0;
  assert_false(orf_texture_wanted(&q));
  q = p;
  q.texture = ORF_TEXTURE_OFF;
  assert_false(orf_texture_wanted(&q));
  q = p;
  q.mode = ORF_MODE_LITHOPHANE;
  assert_true(orf_texture_wanted(&q));
  q.shape = ORF_SHAPE_CYLINDER;
  assert_false(orf_texture_wanted(&q));
}

/* ---- the fill ------------------------------------------------------------ */

static void test_trust_and_fill(void **state) {
  (void)state;
  /* a 20 x 20 square and a one-pixel line: the square loses its ring of
   * two pixels, the line (no inside near it) keeps its own pixels */
  enum { W = 40, H = 30 };
  uint8_t mask[W * H] = {0}, trusted[W * H];
  for (int y = 5; y < 25; y++)
    for (int x = 5; x < 25; x++)
      mask[y * W + x] = 1;
  for (int y = 2; y < 28; y++)
    mask[y * W + 33] = 1;
  assert_int_equal(orf_texture_trust(mask, W, H, 2, trusted), ORF_OK);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int ring = mask[y * W + x] && (x < 7 || x > 22 || y < 7 || y > 22) && x < 30;
      int want = mask[y * W + x] && !ring;
      if (trusted[y * W + x] != want)
        fail_msg("pixel %d,%d trusted %d, want %d", x, y, trusted[y * W + x], want);
    }
  /* the fill: every untrusted pixel takes its nearest trusted pixel's
   * colour (checked by brute force), and turns opaque */
  uint8_t rgba[W * H * 4];
  for (int i = 0; i < W * H; i++) {
    rgba[4 * i] = (uint8_t)(i * 7), rgba[4 * i + 1] = (uint8_t)(i * 13), rgba[4 * i + 2] = (uint8_t)i;
    rgba[4 * i + 3] = trusted[i] ? 255 : 0;
  }
  uint8_t orig[sizeof rgba];
  memcpy(orig, rgba, sizeof rgba);
  assert_int_equal(orf_texture_fill(rgba, W, H, trusted, 2), ORF_OK);
  for (int i = 0; i < W * H; i++) {
    assert_int_equal(rgba[4 * i + 3], 255);
    if (trusted[i]) {
      assert_memory_equal(rgba + 4 * i, orig + 4 * i, 3);
      continue;
    }
    double best = INFINITY;
    for (int j = 0; j < W * H; j++)
      if (trusted[j]) {
        double dx = i % W - j % W, dy = i / W - j / W;
        best = fmin(best, dx * dx + dy * dy);
      }
    int ok = 0;
    for (int j = 0; j < W * H && !ok; j++) {
      double dx = i % W - j % W, dy = i / W - j / W;
      ok = trusted[j] && dx * dx + dy * dy == best && !memcmp(rgba + 4 * i, orig + 4 * j, 3);
    }
    if (!ok) fail_msg("pixel %d is not the colour of a nearest trusted pixel", i);
  }
  /* nothing trusted: left as it is */
  memset(trusted, 0, sizeof trusted);
  memcpy(rgba, orig, sizeof rgba);
  assert_int_equal(orf_texture_fill(rgba, W, H, trusted, 1), ORF_OK);
  assert_memory_equal(rgba, orig, sizeof rgba);
}

/* The colours of a picture's subject, as a set with a tolerance: a grid
 * of 8-level bins, each bin within `tol` of a subject colour marked. */
typedef struct colour_set {
  uint8_t near[32 * 32 * 32];
} colour_set;

static void colour_set_build(colour_set *s, const uint8_t *rgba, const uint8_t *cov, uint32_t n, int tol) {
  memset(s, 0, sizeof *s);
  static uint8_t seen[32 * 32 * 32];
  memset(seen, 0, sizeof seen);
  for (size_t i = 0; i < (size_t)n * n; i++)
    if (cov[i] == 16)
      seen[(rgba[4 * i] >> 3) * 1024 + (rgba[4 * i + 1] >> 3) * 32 + (rgba[4 * i + 2] >> 3)] = 1;
  int r = (tol + 7) / 8;
  for (int b = 0; b < 32 * 32 * 32; b++) {
    if (!seen[b]) continue;
    int br = b / 1024, bg = b / 32 % 32, bb = b % 32;
    for (int dr = -r; dr <= r; dr++)
      for (int dg = -r; dg <= r; dg++)
        for (int db = -r; db <= r; db++) {
          int x = br + dr, y = bg + dg, z = bb + db;
          if (x >= 0 && y >= 0 && z >= 0 && x < 32 && y < 32 && z < 32 &&
              64 * (dr * dr + dg * dg + db * db) <= tol * tol + 3 * 64)
            s->near[x * 1024 + y * 32 + z] = 1;
        }
  }
}

/* Every texel of the textures of an inflated blob - opaque on blue
 * (background=color), with alpha (a transparent background whose hidden
 * colour is black), and photographed (noise: a JPEG texture) - is a
 * subject colour or within JPEG's error of one, and none is near the
 * background's: the rim shows the subject. */
static void test_fill_never_shows_background(void **state) {
  (void)state;
  const uint32_t n = 384;
  for (int variant = 0; variant < 3; variant++) {
    int alpha = variant == 1, noise = variant == 2;
    uint8_t *cov, *rgba = blob(n, alpha, noise, &cov);
    size_t size;
    uint8_t *png = png_of(rgba, n, n, &size);
    const char *kv[] = {"quality", "4", "background", alpha ? "alpha" : "color", NULL};
    orf_result r;
    generate(png, size, kv, 2, &r);
    assert_non_null(r.texture.data);
    orf_image tex;
    decode_texture(&r.texture, &tex);
    static colour_set set;
    colour_set_build(&set, rgba, cov, n, 24);
    size_t far = 0, near_bg = 0, texels = (size_t)tex.width * tex.height;
    for (size_t i = 0; i < texels; i++) {
      const uint8_t *c = tex.rgba + 4 * i;
      far += !set.near[(c[0] >> 3) * 1024 + (c[1] >> 3) * 32 + (c[2] >> 3)];
      double d = 0;
      for (int k = 0; k < 3; k++)
        d += ((double)c[k] - (alpha ? 0 : kBlue[k])) * ((double)c[k] - (alpha ? 0 : kBlue[k]));
      near_bg += d < 60 * 60;
    }
    /* the rim's own texels: each vertex of the silhouette (|y| under 2% of
     * the depth from the middle) samples a subject colour */
    size_t rim = 0, rim_bad = 0;
    float lo[3], hi[3];
    orf_mesh_bounds(&r.mesh, lo, hi);
    for (size_t v = 0; v < r.mesh.vertex_count; v++) {
      const float *p = r.mesh.positions + 3 * v;
      if (fabsf(p[1] - 0.5f * (lo[1] + hi[1])) > 0.02f * (hi[1] - lo[1])) continue;
      float uv[2];
      orf_texture_project(&r.texture, p, uv);
      long x = lrintf(uv[0] * tex.width - 0.5f), y = lrintf(uv[1] * tex.height - 0.5f);
      x = x < 0 ? 0 : x >= (long)tex.width ? (long)tex.width - 1 : x;
      y = y < 0 ? 0 : y >= (long)tex.height ? (long)tex.height - 1 : y;
      const uint8_t *c = tex.rgba + 4 * ((size_t)y * tex.width + (size_t)x);
      rim++;
      rim_bad += !set.near[(c[0] >> 3) * 1024 + (c[1] >> 3) * 32 + (c[2] >> 3)];
    }
    printf("  blob (%s): texture %ux%u %s, %zu of %zu texels off the subject's colours, %zu near the "
           "background; rim vertices %zu, %zu off\n",
           alpha   ? "alpha"
           : noise ? "color, noise"
                   : "color",
           tex.width, tex.height, r.texture.mime, far, texels, near_bg, rim, rim_bad);
    assert_string_equal(r.texture.mime, noise ? "image/jpeg" : "image/png");
    assert_int_equal(near_bg, 0);
    assert_int_equal(far, 0);
    assert_true(rim > 50);
    assert_int_equal(rim_bad, 0);
    orf_image_free(&tex);
    orf_result_free(&r);
    free(png);
    free(rgba);
    free(cov);
  }
}

/* ---- the projection ------------------------------------------------------ */

/* The ramp's colour says where a vertex is in the image: vertex colours
 * (bilinear in the working image, made before the mesh was placed) give
 * x = R / 2 + 0.5 and y = G / 2 + 0.5 in pixels, within a quarter pixel
 * (colours are rounded to whole levels, two a pixel).  The texture, at
 * the image's own resolution (one texel a pixel), must map every vertex
 * well inside the subject to the same place within half a texel. */
static void check_ramp(const char *mode, const char *const *kv, uint32_t n, int disc) {
  uint8_t *rgba = ramp(n, disc);
  size_t size;
  uint8_t *png = png_of(rgba, n, n, &size);
  orf_result r;
  generate(png, size, kv, 2, &r);
  const orf_texture *t = &r.texture;
  assert_non_null(t->data);
  assert_non_null(r.mesh.colors);
  double texel_x = (t->box[2] - t->box[0]) / t->width, texel_y = (t->box[3] - t->box[1]) / t->height;
  assert_true(fabs(texel_x - 1) < 1e-9 && fabs(texel_y - 1) < 1e-9);
  double worst = 0, c = n / 2.0;
  size_t checked = 0;
  for (size_t v = 0; v < r.mesh.vertex_count; v++) {
    double xy[2];
    image_xy(t, r.mesh.positions + 3 * v, xy);
    const uint8_t *col = r.mesh.colors + 3 * v;
    double x = col[0] / 2.0 + 0.5, y = col[1] / 2.0 + 0.5;
    /* well inside: 3 px from the disc's outline or the frame's edge */
    double inside = disc ? 0.4 * n - hypot(x - c, y - c) : fmin(fmin(x, y), fmin(n - x, n - y));
    if (inside < 3) continue;
    checked++;
    worst = fmax(worst, fmax(fabs(xy[0] - x) / texel_x, fabs(xy[1] - y) / texel_y));
  }
  printf(
      "  %s: %zu vertices inside, worst distance from the vertex colour's pixel %.3f texel (texture %ux%u, "
      "box %.0f,%.0f-%.0f,%.0f)\n",
      mode, checked, worst, t->width, t->height, t->box[0], t->box[1], t->box[2], t->box[3]);
  assert_true(checked > 100);
  assert_true(worst <= 0.5);
  orf_result_free(&r);
  free(png);
  free(rgba);
}

static void test_projection(void **state) {
  (void)state;
  const char *inflate[] = {"quality", "3", "background", "alpha", NULL};
  check_ramp("inflate (X, Z)", inflate, 128, 1);
  const char *relief[] = {"mode", "relief", "quality", "3", NULL};
  check_ramp("relief (X, Y)", relief, 128, 0);
  const char *extrude[] = {"mode", "extrude", "quality", "3", "background", "alpha", NULL};
  check_ramp("extrude (X, Y)", extrude, 128, 1);
  /* relief and lithophane: the whole frame, exactly */
  uint8_t *rgba = ramp(96, 0);
  size_t size;
  uint8_t *png = png_of(rgba, 96, 96, &size);
  const char *litho[] = {"mode", "lithophane", "quality", "2", NULL};
  orf_result r;
  generate(png, size, litho, 1, &r);
  assert_null(r.mesh.colors); /* a lithophane keeps no vertex colours */
  assert_non_null(r.texture.data);
  assert_true(r.texture.box[0] == 0 && r.texture.box[1] == 0 && r.texture.box[2] == 96 &&
              r.texture.box[3] == 96);
  assert_int_equal(r.texture.width, 96);
  /* the picture lies on the plate: X right, Y up */
  assert_true(r.texture.uv[0][0] > 0 && r.texture.uv[1][1] < 0);
  assert_true(r.texture.uv[0][1] == 0 && r.texture.uv[0][2] == 0 && r.texture.uv[1][0] == 0 &&
              r.texture.uv[1][2] == 0);
  orf_result_free(&r);
  /* none made: texture=off, style=plain, a cylinder */
  static const char *const none[][8] = {{"texture", "off", NULL},
                                        {"style", "plain", NULL},
                                        {"mode", "lithophane", "shape", "cylinder", "quality", "2"}};
  for (int i = 0; i < 3; i++) {
    generate(png, size, none[i], 1, &r);
    assert_null(r.texture.data);
    assert_int_equal(r.texture.size, 0);
    orf_result_free(&r);
  }
  free(png);
  free(rgba);
}

/* ---- reading GLB ---------------------------------------------------------- */

static uint32_t rd_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

typedef struct glb {
  json_t *root;
  const uint8_t *bin;
  size_t bin_len;
} glb;

static json_t *jget(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!v) fail_msg("GLB JSON lacks \"%s\"", key);
  return v;
}
static size_t jsz(json_t *o, const char *key) { return (size_t)json_integer_value(jget(o, key)); }

static void glb_open(const uint8_t *d, size_t size, glb *g) {
  assert_true(size >= 28);
  assert_memory_equal(d, "glTF", 4);
  assert_int_equal(rd_u32(d + 8), size);
  uint32_t jlen = rd_u32(d + 12);
  json_error_t err;
  g->root = json_loadb((const char *)d + 20, jlen, 0, &err);
  if (!g->root) fail_msg("GLB JSON does not parse: %s", err.text);
  g->bin_len = rd_u32(d + 20 + jlen);
  g->bin = d + 28 + jlen;
  assert_int_equal(28 + (size_t)jlen + g->bin_len, size);
}

/* The data of accessor a (not compressed): count, components, type. */
static const uint8_t *glb_accessor(const glb *g, size_t a, size_t *count, int *component) {
  json_t *acc = json_array_get(jget(g->root, "accessors"), a);
  json_t *view = json_array_get(jget(g->root, "bufferViews"), jsz(acc, "bufferView"));
  *count = jsz(acc, "count");
  *component = (int)jsz(acc, "componentType");
  size_t off = jsz(view, "byteOffset"), len = jsz(view, "byteLength");
  assert_true(off + len <= g->bin_len);
  return g->bin + off;
}

static json_t *glb_prim(const glb *g) {
  return json_array_get(jget(json_array_get(jget(g->root, "meshes"), 0), "primitives"), 0);
}

/* The image of a textured GLB: checks the material, texture, sampler and
 * image entries and returns the image's bytes. */
static const uint8_t *glb_image(const glb *g, size_t *len, const char **mime) {
  json_t *mat = json_array_get(jget(g->root, "materials"), 0);
  json_t *pbr = jget(mat, "pbrMetallicRoughness");
  assert_int_equal(jsz(jget(pbr, "baseColorTexture"), "index"), 0);
  assert_true(json_number_value(jget(pbr, "metallicFactor")) == 0);
  json_t *tex = json_array_get(jget(g->root, "textures"), 0);
  assert_int_equal(jsz(tex, "source"), 0);
  json_t *smp = json_array_get(jget(g->root, "samplers"), jsz(tex, "sampler"));
  assert_int_equal(jsz(smp, "wrapS"), 33071);
  assert_int_equal(jsz(smp, "wrapT"), 33071);
  json_t *img = json_array_get(jget(g->root, "images"), 0);
  *mime = json_string_value(jget(img, "mimeType"));
  json_t *view = json_array_get(jget(g->root, "bufferViews"), jsz(img, "bufferView"));
  assert_int_equal(jsz(view, "buffer"), 0);
  assert_null(json_object_get(view, "target"));
  *len = jsz(view, "byteLength");
  return g->bin + jsz(view, "byteOffset");
}

/* Every file passes the Khronos validator with 0 errors and 0 warnings
 * (tu_gltf_validate). */
static void validate_glb(const char *const *files, int n) { assert_int_equal(tu_gltf_validate(files, n), n); }

/* PrusaSlicer loads the 3MF: --info reports every face and a manifold
 * mesh. */
static void prusa_loads(const char *file, size_t faces, const char *dir) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "timeout 120 prusa-slicer --datadir %s/prusa --info %s 2>/dev/null", dir, file);
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  char line[512];
  long facets = -1;
  int manifold = 0;
  while (fgets(line, sizeof line, f)) {
    sscanf(line, "number_of_facets = %ld", &facets);
    manifold |= strncmp(line, "manifold = yes", 14) == 0;
  }
  int rc = pclose(f);
  if (rc) fail_msg("prusa-slicer --info %s failed (%d): is it installed (scripts/setup.sh build)?", file, rc);
  printf("    prusa-slicer --info: %ld facets, manifold %s\n", facets, manifold ? "yes" : "no");
  assert_int_equal(facets, (long)faces);
  assert_true(manifold);
}

/* ---- the writers --------------------------------------------------------- */

static uint8_t *zip_entry(const uint8_t *z, size_t size, const char *name, size_t *len, int *stored) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(z, size, 0, &ze);
  assert_non_null(src);
  zip_t *za = zip_open_from_source(src, ZIP_RDONLY, &ze);
  assert_non_null(za);
  zip_stat_t st;
  uint8_t *out = NULL;
  if (zip_stat(za, name, 0, &st) == 0) {
    out = malloc(st.size + 1);
    zip_file_t *f = zip_fopen(za, name, 0);
    assert_true(out && f);
    assert_int_equal(zip_fread(f, out, st.size), (zip_int64_t)st.size);
    zip_fclose(f);
    out[st.size] = 0;
    *len = st.size;
    if (stored) *stored = st.comp_method == ZIP_CM_STORE;
  }
  zip_close(za);
  zip_error_fini(&ze);
  return out;
}

static size_t count_of(const char *s, const char *needle) {
  size_t n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* The GLB of r with its texture: TEXCOORD_0 = the projection of each
 * vertex, no COLOR_0, the image the texture's bytes. */
static void check_glb_textured(const orf_result *r, const uint8_t *d, size_t size) {
  glb g;
  glb_open(d, size, &g);
  json_t *attrs = jget(glb_prim(&g), "attributes");
  assert_null(json_object_get(attrs, "COLOR_0"));
  size_t count;
  int comp;
  const uint8_t *uv = glb_accessor(&g, jsz(attrs, "TEXCOORD_0"), &count, &comp);
  assert_int_equal(comp, 5126);
  assert_int_equal(count, r->mesh.vertex_count);
  for (size_t v = 0; v < count; v++) {
    float want[2], got[2];
    orf_texture_project(&r->texture, r->mesh.positions + 3 * v, want);
    memcpy(got, uv + 8 * v, 8);
    assert_memory_equal(got, want, 8);
  }
  size_t len;
  const char *mime;
  const uint8_t *img = glb_image(&g, &len, &mime);
  assert_string_equal(mime, r->texture.mime);
  assert_int_equal(len, r->texture.size);
  assert_memory_equal(img, r->texture.data, len);
  json_decref(g.root);
}

/* The meshopt GLB of r with its texture: TEXCOORD_0 decoded within
 * 1/131070 of the projection of its vertex (vertices matched through the
 * decoded positions, within half a quantisation step of the original). */
static void check_glb_meshopt_textured(const orf_result *r, const uint8_t *d, size_t size) {
  glb g;
  glb_open(d, size, &g);
  json_t *prim = glb_prim(&g), *attrs = jget(prim, "attributes");
  assert_null(json_object_get(attrs, "COLOR_0"));
  json_t *node = json_array_get(jget(g.root, "nodes"), 0);
  double t[3], sc = json_number_value(json_array_get(jget(node, "scale"), 0));
  for (int k = 0; k < 3; k++)
    t[k] = json_number_value(json_array_get(jget(node, "translation"), k));
  uint8_t *dec[2];
  size_t nv = 0;
  const char *names[2] = {"POSITION", "TEXCOORD_0"};
  for (int s = 0; s < 2; s++) {
    json_t *acc = json_array_get(jget(g.root, "accessors"), jsz(attrs, names[s]));
    if (s == 1) {
      assert_int_equal(jsz(acc, "componentType"), 5123);
      assert_true(json_is_true(jget(acc, "normalized")));
    }
    json_t *view = json_array_get(jget(g.root, "bufferViews"), jsz(acc, "bufferView"));
    json_t *ext = jget(jget(view, "extensions"), "EXT_meshopt_compression");
    size_t count = jsz(ext, "count"), stride = jsz(ext, "byteStride");
    dec[s] = malloc(count * stride);
    assert_non_null(dec[s]);
    assert_int_equal(meshopt_decodeVertexBuffer(dec[s], count, stride, g.bin + jsz(ext, "byteOffset"),
                                                jsz(ext, "byteLength")),
                     0);
    nv = count;
  }
  assert_int_equal(nv, r->mesh.vertex_count);
  /* each decoded vertex's original: nearest in the quantised grid, through
   * a hash of the original vertices' quantised positions */
  const orf_mesh *m = &r->mesh;
  double worst = 0;
  for (size_t i = 0; i < nv; i++) {
    const uint16_t *q = (const uint16_t *)dec[0] + 4 * i;
    double p[3] = {t[0] + sc * q[0], t[1] + sc * q[1], t[2] + sc * q[2]};
    /* back to millimetres, Z up: (x, y, z) m -> (1000 x, -1000 z, 1000 y) */
    float mm[3] = {(float)(1000 * p[0]), (float)(-1000 * p[2]), (float)(1000 * p[1])};
    float want[2];
    orf_texture_project(&r->texture, mm, want);
    const uint16_t *tq = (const uint16_t *)dec[1] + 2 * i;
    /* the position moved by at most half a step: the projection by at most
     * that times its gradient */
    double grad = fabs(r->texture.uv[0][0]) + fabs(r->texture.uv[0][1]) + fabs(r->texture.uv[0][2]) +
                  fabs(r->texture.uv[1][0]) + fabs(r->texture.uv[1][1]) + fabs(r->texture.uv[1][2]);
    double bound = 1 / 131070.0 + grad * 1000 * sc / 2 * 1.001 + 1e-6;
    for (int k = 0; k < 2; k++) {
      double e = fabs(tq[k] / 65535.0 - fmax(0, fmin(1, want[k])));
      worst = fmax(worst, e);
      if (e > bound) fail_msg("vertex %zu: texture coordinate %d off by %g (bound %g)", i, k, e, bound);
    }
  }
  (void)m;
  printf("    meshopt TEXCOORD_0: worst %.3g of the texture's side\n", worst);
  size_t len;
  const char *mime;
  const uint8_t *img = glb_image(&g, &len, &mime);
  assert_int_equal(len, r->texture.size);
  assert_memory_equal(img, r->texture.data, len);
  free(dec[0]);
  free(dec[1]);
  json_decref(g.root);
}

/* The 3MF of r with its texture: the parts, content types, relationship,
 * and the model: a texture2d naming the part, one tex2coord per vertex
 * (v counted up), each triangle's p1 p2 p3 its vertices. */
static void check_3mf_textured(const orf_result *r, const uint8_t *d, size_t size) {
  const char *ext = strcmp(r->texture.mime, "image/png") ? "jpg" : "png";
  char part[64];
  snprintf(part, sizeof part, "3D/Textures/texture.%s", ext);
  size_t len;
  int stored = 0;
  uint8_t *img = zip_entry(d, size, part, &len, &stored);
  assert_non_null(img);
  assert_true(stored);
  assert_int_equal(len, r->texture.size);
  assert_memory_equal(img, r->texture.data, len);
  free(img);
  char *types = (char *)zip_entry(d, size, "[Content_Types].xml", &len, NULL);
  char want[128];
  snprintf(want, sizeof want, "<Default Extension=\"%s\" ContentType=\"%s\"/>", ext, r->texture.mime);
  assert_non_null(types);
  assert_non_null(strstr(types, want));
  free(types);
  char *rels = (char *)zip_entry(d, size, "3D/_rels/3dmodel.model.rels", &len, NULL);
  assert_non_null(rels);
  snprintf(want, sizeof want, "Target=\"/%s\"", part);
  assert_non_null(strstr(rels, want));
  assert_non_null(strstr(rels, "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dtexture"));
  free(rels);
  char *model = (char *)zip_entry(d, size, "3D/3dmodel.model", &len, NULL);
  assert_non_null(model);
  xmlDocPtr doc = xmlReadMemory(model, (int)len, "3dmodel.model", NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
  assert_non_null(doc);
  size_t coords = 0, tris = 0, bad = 0;
  int has_texture2d = 0;
  for (xmlNodePtr res = xmlDocGetRootElement(doc)->children; res; res = res->next) {
    if (res->type != XML_ELEMENT_NODE || strcmp((const char *)res->name, "resources")) continue;
    for (xmlNodePtr e = res->children; e; e = e->next) {
      if (e->type != XML_ELEMENT_NODE) continue;
      if (!strcmp((const char *)e->name, "texture2d")) {
        xmlChar *path = xmlGetProp(e, (const xmlChar *)"path");
        snprintf(want, sizeof want, "/%s", part);
        assert_string_equal((const char *)path, want);
        xmlFree(path);
        has_texture2d = 1;
      }
      if (!strcmp((const char *)e->name, "texture2dgroup")) {
        for (xmlNodePtr c = e->children; c; c = c->next) {
          if (c->type != XML_ELEMENT_NODE) continue;
          xmlChar *u = xmlGetProp(c, (const xmlChar *)"u"), *v = xmlGetProp(c, (const xmlChar *)"v");
          float want_uv[2];
          orf_texture_project(&r->texture, r->mesh.positions + 3 * coords, want_uv);
          bad += fabs(strtod((const char *)u, NULL) - want_uv[0]) > 1e-6 ||
                 fabs(strtod((const char *)v, NULL) - (1 - want_uv[1])) > 1e-6;
          xmlFree(u);
          xmlFree(v);
          coords++;
        }
      }
      if (!strcmp((const char *)e->name, "object")) {
        xmlNodePtr mesh = e->children;
        while (mesh && (mesh->type != XML_ELEMENT_NODE || strcmp((const char *)mesh->name, "mesh")))
          mesh = mesh->next;
        assert_non_null(mesh);
        for (xmlNodePtr part_ = mesh->children; part_; part_ = part_->next) {
          if (part_->type != XML_ELEMENT_NODE || strcmp((const char *)part_->name, "triangles")) continue;
          for (xmlNodePtr t = part_->children; t; t = t->next) {
            if (t->type != XML_ELEMENT_NODE) continue;
            static const char *const vk[3] = {"v1", "v2", "v3"}, *const pk[3] = {"p1", "p2", "p3"};
            for (int k = 0; k < 3; k++) {
              xmlChar *a = xmlGetProp(t, (const xmlChar *)vk[k]), *b = xmlGetProp(t, (const xmlChar *)pk[k]);
              bad += !a || !b || strcmp((const char *)a, (const char *)b) ||
                     strtoul((const char *)a, NULL, 10) != r->mesh.indices[3 * tris + k];
              xmlFree(a);
              xmlFree(b);
            }
            tris++;
          }
        }
      }
    }
  }
  assert_true(has_texture2d);
  assert_int_equal(coords, r->mesh.vertex_count);
  assert_int_equal(tris, r->mesh.face_count);
  assert_int_equal(bad, 0);
  xmlFreeDoc(doc);
  free(model);
}

/* The textured OBJ: vt per vertex (v up), faces "a/a", the MTL's map_Kd
 * the image beside it. */
static void check_obj_text(const orf_result *r, const char *obj, const char *mtl, const char *mtl_name,
                           const char *image_name) {
  char want[256];
  snprintf(want, sizeof want, "\nmtllib %s\n", mtl_name);
  assert_non_null(strstr(obj, want));
  assert_int_equal(count_of(obj, "\nvt "), r->mesh.vertex_count);
  assert_int_equal(count_of(obj, "\nv "), r->mesh.vertex_count);
  assert_int_equal(count_of(obj, "\nf "), r->mesh.face_count);
  assert_non_null(strstr(obj, "\nusemtl picture\n"));
  /* the first face and the first vt */
  const uint32_t *t = r->mesh.indices;
  snprintf(want, sizeof want, "\nf %u/%u %u/%u %u/%u\n", t[0] + 1, t[0] + 1, t[1] + 1, t[1] + 1, t[2] + 1,
           t[2] + 1);
  assert_non_null(strstr(obj, want));
  float uv[2];
  orf_texture_project(&r->texture, r->mesh.positions, uv);
  double u, v;
  assert_int_equal(sscanf(strstr(obj, "\nvt ") + 4, "%lf %lf", &u, &v), 2);
  assert_true(fabs(u - uv[0]) < 1e-7 && fabs(v - (1 - uv[1])) < 1e-7);
  snprintf(want, sizeof want, "\nmap_Kd %s\n", image_name);
  assert_non_null(strstr(mtl, "newmtl picture\n"));
  assert_non_null(strstr(mtl, want));
}

static void test_writers(void **state) {
  (void)state;
  size_t size;
  uint8_t *png = tu_photo_png(320, &size);
  assert_non_null(png);
  const char *kv[] = {"quality", "3", "background", "color", NULL};
  orf_result r;
  generate(png, size, kv, 2, &r);
  assert_non_null(r.texture.data);
  char dir[] = "/tmp/orf_test_texture_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char paths[4][320];
  const char *names[4] = {"textured.glb", "textured_meshopt.glb", "colours.glb", "colours_meshopt.glb"};
  size_t sizes[4];
  for (int k = 0; k < 4; k++) {
    uint8_t *d;
    const orf_texture *t = k < 2 ? &r.texture : NULL;
    orf_compress c = k % 2 ? ORF_COMPRESS_MESHOPT : ORF_COMPRESS_NONE;
    assert_int_equal(orf_export_textured(&r.mesh, t, ORF_FMT_GLB, c, &d, &sizes[k]), ORF_OK);
    if (k == 0) check_glb_textured(&r, d, sizes[k]);
    if (k == 1) check_glb_meshopt_textured(&r, d, sizes[k]);
    snprintf(paths[k], sizeof paths[k], "%s/%s", dir, names[k]);
    assert_int_equal(tu_write_file(paths[k], d, sizes[k]), 0);
    orf_buffer_free(d);
  }
  printf("  GLB of %zu faces: textured %zu bytes (texture %ux%u %s, %zu bytes), vertex colours %zu; meshopt: "
         "textured %zu, vertex colours %zu\n",
         r.mesh.face_count, sizes[0], r.texture.width, r.texture.height, r.texture.mime, r.texture.size,
         sizes[2], sizes[1], sizes[3]);
  const char *const files[4] = {paths[0], paths[1], paths[2], paths[3]};
  validate_glb(files, 4);

  /* 3MF */
  uint8_t *d;
  size_t n3mf;
  assert_int_equal(orf_export_textured(&r.mesh, &r.texture, ORF_FMT_3MF, ORF_COMPRESS_NONE, &d, &n3mf),
                   ORF_OK);
  check_3mf_textured(&r, d, n3mf);
  char path[400];
  snprintf(path, sizeof path, "%s/textured.3mf", dir);
  assert_int_equal(tu_write_file(path, d, n3mf), 0);
  orf_buffer_free(d);
  prusa_loads(path, r.mesh.face_count, dir);

  /* OBJ as a zip: model.obj, model.mtl, model.jpg */
  size_t nzip, len;
  assert_int_equal(orf_export_textured(&r.mesh, &r.texture, ORF_FMT_OBJ, ORF_COMPRESS_NONE, &d, &nzip),
                   ORF_OK);
  char *obj = (char *)zip_entry(d, nzip, "model.obj", &len, NULL);
  char *mtl = (char *)zip_entry(d, nzip, "model.mtl", &len, NULL);
  int stored = 0;
  uint8_t *img = zip_entry(d, nzip, "model.jpg", &len, &stored);
  assert_true(obj && mtl && img && stored);
  assert_int_equal(len, r.texture.size);
  assert_memory_equal(img, r.texture.data, len);
  check_obj_text(&r, obj, mtl, "model.mtl", "model.jpg");
  free(obj);
  free(mtl);
  free(img);
  orf_buffer_free(d);
  printf("  3MF textured %zu bytes; OBJ zip %zu bytes\n", n3mf, nzip);

  /* OBJ as files side by side; names from the path */
  snprintf(path, sizeof path, "%s/Fruit.OBJ", dir);
  assert_int_equal(orf_export_file_textured(&r.mesh, &r.texture, ORF_FMT_OBJ, ORF_COMPRESS_NONE, path),
                   ORF_OK);
  char p2[420], p3[420];
  snprintf(p2, sizeof p2, "%s/Fruit.mtl", dir);
  snprintf(p3, sizeof p3, "%s/Fruit.jpg", dir);
  obj = (char *)tu_read_file(path, &len);
  mtl = (char *)tu_read_file(p2, &len);
  img = tu_read_file(p3, &len);
  assert_true(obj && mtl && img);
  assert_int_equal(len, r.texture.size);
  check_obj_text(&r, obj, mtl, "Fruit.mtl", "Fruit.jpg");
  free(obj);
  free(mtl);
  free(img);
  /* other formats through the file writer: one file, as orf_export_textured */
  snprintf(p2, sizeof p2, "%s/one.glb", dir);
  assert_int_equal(orf_export_file_textured(&r.mesh, &r.texture, ORF_FMT_GLB, ORF_COMPRESS_MESHOPT, p2),
                   ORF_OK);
  uint8_t *want;
  size_t nwant;
  assert_int_equal(orf_export_textured(&r.mesh, &r.texture, ORF_FMT_GLB, ORF_COMPRESS_MESHOPT, &want, &nwant),
                   ORF_OK);
  img = tu_read_file(p2, &len);
  assert_int_equal(len, nwant);
  assert_memory_equal(img, want, len);
  free(img);
  orf_buffer_free(want);

  /* errors: formats without textures, compression of another format, a
   * broken texture; nothing written for them */
  assert_int_equal(orf_export_textured(&r.mesh, &r.texture, ORF_FMT_STL, ORF_COMPRESS_NONE, &d, &len),
                   ORF_EINVAL);
  assert_null(d);
  assert_int_equal(orf_export_textured(&r.mesh, &r.texture, ORF_FMT_PLY, ORF_COMPRESS_NONE, &d, &len),
                   ORF_EINVAL);
  assert_int_equal(orf_export_textured(&r.mesh, &r.texture, ORF_FMT_OBJ, ORF_COMPRESS_MESHOPT, &d, &len),
                   ORF_EINVAL);
  orf_texture bad = r.texture;
  bad.mime = "image/gif";
  assert_int_equal(orf_export_textured(&r.mesh, &bad, ORF_FMT_GLB, ORF_COMPRESS_NONE, &d, &len), ORF_EINVAL);
  bad = r.texture;
  bad.uv[1][2] = NAN;
  assert_int_equal(orf_export_textured(&r.mesh, &bad, ORF_FMT_3MF, ORF_COMPRESS_NONE, &d, &len), ORF_EINVAL);
  snprintf(p2, sizeof p2, "%s/bad.obj", dir);
  assert_int_equal(orf_export_file_textured(&r.mesh, &bad, ORF_FMT_OBJ, ORF_COMPRESS_NONE, p2), ORF_EINVAL);
  assert_int_equal(access(p2, F_OK), -1);
  /* a texture without data is vertex colours; pick follows the rules */
  bad = r.texture;
  bad.data = NULL;
  uint8_t *plain;
  size_t nplain;
  assert_int_equal(orf_export_textured(&r.mesh, &bad, ORF_FMT_GLB, ORF_COMPRESS_NONE, &d, &len), ORF_OK);
  assert_int_equal(orf_export(&r.mesh, ORF_FMT_GLB, &plain, &nplain), ORF_OK);
  assert_int_equal(len, nplain);
  assert_memory_equal(d, plain, len);
  orf_buffer_free(d);
  orf_buffer_free(plain);
  assert_ptr_equal(orf_texture_pick(&r.texture, ORF_TEXTURE_AUTO, ORF_FMT_GLB), &r.texture);
  assert_ptr_equal(orf_texture_pick(&r.texture, ORF_TEXTURE_ON, ORF_FMT_3MF), &r.texture);
  assert_null(orf_texture_pick(&r.texture, ORF_TEXTURE_OFF, ORF_FMT_GLB));
  assert_null(orf_texture_pick(&r.texture, ORF_TEXTURE_AUTO, ORF_FMT_STL));
  assert_null(orf_texture_pick(&bad, ORF_TEXTURE_AUTO, ORF_FMT_GLB));
  assert_null(orf_texture_pick(NULL, ORF_TEXTURE_AUTO, ORF_FMT_GLB));
  /* copy */
  orf_texture copy;
  assert_int_equal(orf_texture_copy(&copy, &r.texture), ORF_OK);
  assert_true(copy.data != r.texture.data && copy.size == r.texture.size);
  assert_memory_equal(copy.data, r.texture.data, copy.size);
  orf_texture_free(&copy);
  assert_null(copy.data);

  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  assert_int_equal(system(cmd), 0);
  orf_result_free(&r);
  free(png);
}

/* A flat-coloured logo becomes a PNG texture, a photograph a JPEG one. */
static void test_png_for_flat_colours(void **state) {
  (void)state;
  const uint32_t n = 256;
  uint8_t *rgba = malloc((size_t)n * n * 4);
  assert_non_null(rgba);
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++) {
      uint8_t *p = rgba + 4 * ((size_t)y * n + x);
      int in = x > 40 && x < 216 && y > 60 && y < 200, stripe = in && (x / 20) % 2;
      p[0] = in ? (stripe ? 230 : 20) : 255;
      p[1] = in ? (stripe ? 40 : 90) : 255;
      p[2] = in ? 30 : 255;
      p[3] = 255;
    }
  size_t size;
  uint8_t *png = png_of(rgba, n, n, &size);
  const char *kv[] = {"mode", "extrude", "quality", "3", "background", "color", NULL};
  orf_result r;
  generate(png, size, kv, 1, &r);
  assert_string_equal(r.texture.mime, "image/png");
  orf_image tex;
  decode_texture(&r.texture, &tex);
  orf_image_free(&tex);
  printf("  logo: PNG texture %ux%u, %zu bytes\n", r.texture.width, r.texture.height, r.texture.size);
  orf_result_free(&r);
  free(png);
  png = tu_photo_png(256, &size);
  const char *kv2[] = {"quality", "3", NULL};
  generate(png, size, kv2, 1, &r);
  assert_string_equal(r.texture.mime, "image/jpeg");
  orf_result_free(&r);
  free(png);
  free(rgba);
}

/* ---- a label with fine text, seen from the front ------------------------- */

/* An orthographic front view of a GLB (inflate: the front faces +Z in
 * glTF) in the source image's pixels (through the texture's projection and
 * box), z-buffered, each pixel shaded by the texture (textured GLB,
 * bilinear) or the interpolated vertex colours (converted back to sRGB
 * from glTF's linear): its luminance (Rec. 709 weights on sRGB values),
 * NAN where nothing was drawn. */
typedef struct sampler {
  const orf_image *img; /* the texture, or NULL: vertex colours */
} sampler;

static double srgb_of_linear(double l) {
  l = l < 0 ? 0 : l > 1 ? 1 : l;
  return 255 * (l <= 0.0031308 ? 12.92 * l : 1.055 * pow(l, 1 / 2.4) - 0.055);
}

static double texture_lum(const orf_image *img, double u, double v) {
  double x = u * img->width - 0.5, y = v * img->height - 0.5;
  x = fmax(0, fmin(img->width - 1.001, x));
  y = fmax(0, fmin(img->height - 1.001, y));
  long x0 = (long)x, y0 = (long)y;
  double tx = x - x0, ty = y - y0, c[3];
  for (int k = 0; k < 3; k++) {
    const uint8_t *a = img->rgba + 4 * ((size_t)y0 * img->width + (size_t)x0) + k, *b = a + 4 * img->width;
    double top = a[0] + tx * (a[4] - a[0]), bot = b[0] + tx * (b[4] - b[0]);
    c[k] = top + ty * (bot - top);
  }
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

static float *render_front(const uint8_t *d, size_t size, const orf_texture *t, uint32_t w, uint32_t h) {
  glb g;
  glb_open(d, size, &g);
  json_t *prim = glb_prim(&g), *attrs = jget(prim, "attributes");
  size_t nv, ni, nattr;
  int comp;
  const uint8_t *pos = glb_accessor(&g, jsz(attrs, "POSITION"), &nv, &comp);
  const uint8_t *idx = glb_accessor(&g, jsz(prim, "indices"), &ni, &comp);
  json_t *tc = json_object_get(attrs, "TEXCOORD_0");
  const uint8_t *attr = glb_accessor(&g, jsz(attrs, tc ? "TEXCOORD_0" : "COLOR_0"), &nattr, &comp);
  orf_image tex = {0};
  if (tc) {
    size_t len;
    const char *mime;
    const uint8_t *img = glb_image(&g, &len, &mime);
    orf_limits lim;
    orf_limits_init(&lim);
    assert_int_equal(orf_image_decode(img, len, &lim, 0, &tex), ORF_OK);
  }
  float *lum = malloc((size_t)w * h * sizeof *lum), *depth = malloc((size_t)w * h * sizeof *depth);
  double *xy = malloc(nv * 2 * sizeof *xy), *z = malloc(nv * sizeof *z);
  assert_true(lum && depth && xy && z);
  for (size_t i = 0; i < (size_t)w * h; i++)
    lum[i] = NAN, depth[i] = -INFINITY;
  for (size_t v = 0; v < nv; v++) {
    float q[3];
    memcpy(q, pos + 12 * v, 12);
    float mm[3] = {1000 * q[0], -1000 * q[2], 1000 * q[1]};
    image_xy(t, mm, xy + 2 * v);
    z[v] = q[2];
  }
  for (size_t f = 0; f < ni / 3; f++) {
    uint32_t k[3];
    memcpy(k, idx + 12 * f, 12);
    const double *a = xy + 2 * k[0], *b = xy + 2 * k[1], *c = xy + 2 * k[2];
    double area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    if (fabs(area) < 1e-12) continue;
    long x0 = (long)floor(fmin(a[0], fmin(b[0], c[0]))), x1 = (long)ceil(fmax(a[0], fmax(b[0], c[0])));
    long y0 = (long)floor(fmin(a[1], fmin(b[1], c[1]))), y1 = (long)ceil(fmax(a[1], fmax(b[1], c[1])));
    for (long y = y0 < 0 ? 0 : y0; y <= y1 && y < (long)h; y++)
      for (long x = x0 < 0 ? 0 : x0; x <= x1 && x < (long)w; x++) {
        double px = x + 0.5, py = y + 0.5;
        double l0 = ((b[0] - px) * (c[1] - py) - (b[1] - py) * (c[0] - px)) / area;
        double l1 = ((c[0] - px) * (a[1] - py) - (c[1] - py) * (a[0] - px)) / area;
        double l2 = 1 - l0 - l1;
        if (l0 < 0 || l1 < 0 || l2 < 0) continue;
        double dz = l0 * z[k[0]] + l1 * z[k[1]] + l2 * z[k[2]];
        size_t at = (size_t)y * w + (size_t)x;
        if (dz <= depth[at]) continue;
        depth[at] = (float)dz;
        const double l[3] = {l0, l1, l2};
        if (tc) {
          double uv[2] = {0, 0};
          for (int j = 0; j < 3; j++) {
            float tv[2];
            memcpy(tv, attr + 8 * k[j], 8);
            uv[0] += l[j] * tv[0], uv[1] += l[j] * tv[1];
          }
          lum[at] = (float)texture_lum(&tex, uv[0], uv[1]);
        } else {
          double col[3] = {0, 0, 0};
          for (int j = 0; j < 3; j++) {
            float cv[3];
            memcpy(cv, attr + 12 * k[j], 12);
            for (int ch = 0; ch < 3; ch++)
              col[ch] += l[j] * cv[ch];
          }
          lum[at] = (float)(0.2126 * srgb_of_linear(col[0]) + 0.7152 * srgb_of_linear(col[1]) +
                            0.0722 * srgb_of_linear(col[2]));
        }
      }
  }
  orf_image_free(&tex);
  free(depth);
  free(xy);
  free(z);
  json_decref(g.root);
  return lum;
}

/* Pearson's correlation and the PSNR (dB, peak 255) of a rendering's
 * luminance against the source's over the pixels of `region`. */
static void compare(const float *lum, const uint8_t *rgba, const uint8_t *region, size_t n, double *corr,
                    double *psnr, size_t *count) {
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, se = 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!region[i] || isnan(lum[i])) continue;
    const uint8_t *c = rgba + 4 * i;
    double a = lum[i], b = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    sa += a, sb += b, saa += a * a, sbb += b * b, sab += a * b, se += (a - b) * (a - b);
    k++;
  }
  double ma = sa / k, mb = sb / k;
  *corr = (sab / k - ma * mb) / sqrt((saa / k - ma * ma) * (sbb / k - mb * mb));
  *psnr = 10 * log10(255.0 * 255.0 / (se / k));
  *count = k;
}

/* The label rendered from the front, textured and with vertex colours,
 * against the source: the textured GLB must match it (correlation and
 * PSNR floors) and beat the vertex colours of the same mesh by a margin. */
static void check_fine_text(int noise, double min_corr, double min_psnr) {
  const uint32_t n = 1024;
  uint8_t *mask, *rgba = text_label(n, noise, &mask);
  size_t size;
  uint8_t *png = png_of(rgba, n, n, &size);
  const char *kv[] = {"quality", "4", "background", "alpha", NULL};
  orf_result r;
  generate(png, size, kv, 2, &r);
  /* the region compared: the label 8 px inside its outline */
  float *dist = malloc((size_t)n * n * sizeof *dist);
  uint8_t *region = malloc((size_t)n * n);
  assert_true(dist && region);
  assert_int_equal(orf_edt(mask, n, n, 0, dist, NULL, 2), ORF_OK);
  for (size_t i = 0; i < (size_t)n * n; i++)
    region[i] = mask[i] && dist[i] > 8;
  double corr[2], psnr[2];
  size_t bytes[2], count[2];
  for (int textured = 1; textured >= 0; textured--) {
    uint8_t *d;
    assert_int_equal(orf_export_textured(&r.mesh, textured ? &r.texture : NULL, ORF_FMT_GLB,
                                         ORF_COMPRESS_NONE, &d, &bytes[textured]),
                     ORF_OK);
    float *lum = render_front(d, bytes[textured], &r.texture, n, n);
    compare(lum, rgba, region, (size_t)n * n, &corr[textured], &psnr[textured], &count[textured]);
    if (getenv("ORF_KEEP_RENDER")) { /* the renderings, for a person to look at */
      uint8_t *grey = malloc((size_t)n * n * 4);
      assert_non_null(grey);
      for (size_t i = 0; i < (size_t)n * n; i++) {
        uint8_t g = isnan(lum[i]) ? 0 : (uint8_t)fmax(0, fmin(255, lum[i]));
        grey[4 * i] = grey[4 * i + 1] = grey[4 * i + 2] = g, grey[4 * i + 3] = 255;
      }
      size_t np;
      uint8_t *out = tu_png(grey, n, n, 4, 8, &np);
      char path[128];
      snprintf(path, sizeof path, "/tmp/orf_front_%s_%s.png", noise ? "photo" : "flat",
               textured ? "textured" : "colours");
      tu_write_file(path, out, np);
      free(out);
      free(grey);
    }
    free(lum);
    orf_buffer_free(d);
  }
  printf("  label with fine text%s, q4 (%zu faces), front view against the source over %zu px:\n"
         "    textured GLB   %zu bytes (texture %ux%u %s, %zu bytes): correlation %.4f, PSNR %.2f dB\n"
         "    vertex colours %zu bytes: correlation %.4f, PSNR %.2f dB\n",
         noise ? " photographed (noise)" : " (flat colours)", r.mesh.face_count, count[1], bytes[1],
         r.texture.width, r.texture.height, r.texture.mime, r.texture.size, corr[1], psnr[1], bytes[0],
         corr[0], psnr[0]);
  assert_string_equal(r.texture.mime, noise ? "image/jpeg" : "image/png");
  assert_true(count[1] > (size_t)n * n / 3);
  assert_true(corr[1] >= min_corr);
  assert_true(psnr[1] >= min_psnr);
  assert_true(corr[1] > corr[0] + 0.1);
  assert_true(psnr[1] > psnr[0] + 5);
  free(dist);
  free(region);
  free(mask);
  orf_result_free(&r);
  free(png);
  free(rgba);
}

static void test_fine_text(void **state) {
  (void)state;
  check_fine_text(0, 0.99, 40); /* a drawing: PNG, lossless */
  check_fine_text(6, 0.95, 28); /* a photograph of it: JPEG */
}

/* ---- determinism, memory ------------------------------------------------- */

static void test_deterministic(void **state) {
  (void)state;
  size_t size;
  uint8_t *jpg = tu_photo_jpeg(400, &size);
  assert_non_null(jpg);
  const char *kv[] = {"quality", "3", NULL};
  orf_result a, b;
  generate(jpg, size, kv, 1, &a);
  generate(jpg, size, kv, 2, &b);
  assert_int_equal(a.texture.size, b.texture.size);
  assert_memory_equal(a.texture.data, b.texture.data, a.texture.size);
  assert_memory_equal(a.texture.uv, b.texture.uv, sizeof a.texture.uv);
  assert_memory_equal(a.texture.box, b.texture.box, sizeof a.texture.box);
  static const orf_format fmts[3] = {ORF_FMT_GLB, ORF_FMT_3MF, ORF_FMT_OBJ};
  for (int k = 0; k < 5; k++) { /* GLB, 3MF, OBJ, and GLB with meshopt and with Draco */
    uint8_t *da, *db;
    size_t na, nb;
    orf_format f = k < 3 ? fmts[k] : ORF_FMT_GLB;
    orf_compress c = k == 3 ? ORF_COMPRESS_MESHOPT : k == 4 ? ORF_COMPRESS_DRACO : ORF_COMPRESS_NONE;
    assert_int_equal(orf_export_textured(&a.mesh, &a.texture, f, c, &da, &na), ORF_OK);
    assert_int_equal(orf_export_textured(&b.mesh, &b.texture, f, c, &db, &nb), ORF_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(da, db, na);
    orf_buffer_free(da);
    orf_buffer_free(db);
  }
  orf_result_free(&a);
  orf_result_free(&b);
  free(jpg);
}

/* A job's measured peak, texture included, stays under its estimate: a
 * small subject in a large picture (the crop decoded at full size) at
 * quality 8 (2048 texels). */
static void test_memory_estimate(void **state) {
  (void)state;
  const uint32_t n = 1600;
  float disc[3] = {1000, 700, 180};
  static const uint8_t fg[3] = {200, 60, 40}, bg[3] = {240, 240, 240};
  size_t size;
  uint8_t *png = tu_discs_png(n, n, disc, 1, 0, fg, bg, &size);
  assert_non_null(png);
  orf_params p;
  orf_params_init(&p);
  p.quality = 8;
  p.background = ORF_BG_COLOR;
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = 2;
  o.device = ORF_DEVICE_CPU;
  orf_result r;
  assert_int_equal(orf_generate(png, size, &p, &o, &r), ORF_OK);
  size_t est = orf_estimate_peak_bytes(&p, n, n, size);
  printf("  q8, %u px, subject of 360 px: texture %ux%u in %.0f ms; peak %.1f MB, estimate %.1f MB\n", n,
         r.texture.width, r.texture.height, r.timings.texture, o.peak_bytes / 1e6, est / 1e6);
  assert_non_null(r.texture.data);
  assert_true(o.peak_bytes <= est);
  orf_result_free(&r);
  free(png);
}

/* Every allocation of the texture's making and of the textured writers may
 * fail: ORF_ENOMEM with nothing left allocated, and the call works once
 * memory is there. */
static void test_out_of_memory(void **state) {
  (void)state;
  size_t size;
  uint8_t *png = tu_photo_png(160, &size);
  const char *kv[] = {"quality", "2", NULL};
  orf_result r;
  generate(png, size, kv, 1, &r);
  /* the writers */
  static const orf_format fmts[4] = {ORF_FMT_GLB, ORF_FMT_GLB, ORF_FMT_3MF, ORF_FMT_OBJ};
  for (int i = 0; i < 4; i++) {
    int failures = 0;
    for (long k = 1;; k++) {
      orf_memtrack t = {0};
      atomic_store(&t.fail_after, k);
      orf_memtrack *old = orf_memtrack_set(&t);
      uint8_t *d = NULL;
      size_t n = 0;
      int rc = orf_export_textured(&r.mesh, &r.texture, fmts[i],
                                   i == 1 ? ORF_COMPRESS_MESHOPT : ORF_COMPRESS_NONE, &d, &n);
      if (rc == ORF_OK) orf_buffer_free(d);
      orf_memtrack_set(old);
      assert_int_equal(atomic_load(&t.current), 0);
      if (rc == ORF_OK) break;
      assert_int_equal(rc, ORF_ENOMEM);
      assert_null(d);
      failures++;
      assert_true(k < 200);
    }
    assert_true(failures >= 1);
  }
  /* the making: a plan as the pipeline leaves it (the working image's
   * mask, a projection), made with every allocation failing in turn */
  orf_limits lim;
  orf_limits_init(&lim);
  orf_image img;
  assert_int_equal(orf_image_decode(png, size, &lim, 0, &img), ORF_OK);
  orf_params p;
  orf_params_init(&p);
  orf_texture_plan plan;
  orf_texture_plan_init(&plan, &p);
  orf_mask mask;
  assert_int_equal(orf_mask_build(&img, ORF_BG_COLOR, 1, &mask), ORF_OK);
  orf_texture_plan_keep_mask(&plan, &mask, img.width, img.height);
  assert_null(mask.data);
  plan.px[0][0] = 1, plan.px[1][2] = -1, plan.placed = 1;
  orf_texture want;
  assert_int_equal(orf_texture_plan_make(&plan, png, size, &lim, 2, 1, NULL, &want), ORF_OK);
  int failures = 0;
  for (long k = 1;; k++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, k);
    orf_memtrack *old = orf_memtrack_set(&t);
    orf_texture got;
    int rc = orf_texture_plan_make(&plan, png, size, &lim, 2, 1, NULL, &got);
    if (rc == ORF_OK) {
      assert_int_equal(got.size, want.size);
      assert_memory_equal(got.data, want.data, got.size);
      orf_texture_free(&got);
    }
    orf_memtrack_set(old);
    assert_int_equal(atomic_load(&t.current), 0);
    if (rc == ORF_OK) break;
    assert_int_equal(rc, ORF_ENOMEM);
    assert_null(got.data);
    failures++;
    assert_true(k < 500);
  }
  printf("  texture making: %d allocations failed in turn, each ORF_ENOMEM with nothing left\n", failures);
  assert_true(failures >= 5);
  /* unplaced: a bug, said as such; unwanted: nothing */
  orf_texture none;
  plan.placed = 0;
  assert_int_equal(orf_texture_plan_make(&plan, png, size, &lim, 2, 1, NULL, &none), ORF_EINTERNAL);
  assert_null(none.data);
  plan.wanted = 0;
  assert_int_equal(orf_texture_plan_make(&plan, png, size, &lim, 2, 1, NULL, &none), ORF_OK);
  assert_null(none.data);
  orf_texture_free(&want);
  orf_texture_plan_free(&plan);
  orf_image_free(&img);
  orf_result_free(&r);
  free(png);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_params),
      cmocka_unit_test(test_trust_and_fill),
      cmocka_unit_test(test_fill_never_shows_background),
      cmocka_unit_test(test_projection),
      cmocka_unit_test(test_writers),
      cmocka_unit_test(test_png_for_flat_colours),
      cmocka_unit_test(test_fine_text),
      cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_memory_estimate),
      cmocka_unit_test(test_out_of_memory),
  };
  return cmocka_run_group_tests_name("texture", tests, NULL, NULL);
}
