/*
 * test_image.c - image decoding (PNG, JPEG, WebP), its refusals of broken,
 * unsupported and oversized input, EXIF orientation, JPEG DCT scaling, the
 * header-only probe, and the area-averaging downscale.  Images are made
 * here with the encoders of tests/testutil.h and patched by hand where a
 * test needs a broken or hostile file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <turbojpeg.h>

#include "alloc.h"
#include "image.h"
#include "testutil.h"

/* ---- helpers ---------------------------------------------------------- */

static uint32_t rng_next(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

static uint8_t *random_bytes(size_t n, uint32_t seed) {
  uint8_t *p = malloc(n);
  assert_non_null(p);
  for (size_t i = 0; i < n; i++)
    p[i] = (uint8_t)rng_next(&seed);
  return p;
}

/* Decodes with the default limits, asserting success. */
static void decode_ok(const uint8_t *data, size_t size, uint32_t min_side, orf_image *img) {
  orf_limits lim;
  orf_limits_init(&lim);
  int rc = orf_image_decode(data, size, &lim, min_side, img);
  assert_int_equal(rc, ORF_OK);
  assert_non_null(img->rgba);
}

static int decode_rc(const uint8_t *data, size_t size) {
  orf_limits lim;
  orf_limits_init(&lim);
  orf_image img;
  int rc = orf_image_decode(data, size, &lim, 0, &img);
  if (rc != ORF_OK) {
    assert_null(img.rgba);
    assert_int_equal(img.width, 0);
  }
  orf_image_free(&img);
  return rc;
}

static const uint8_t *px(const orf_image *img, uint32_t x, uint32_t y) {
  return img->rgba + ((size_t)y * img->width + x) * 4;
}

static void assert_px_near(const uint8_t *p, int r, int g, int b, int a, int tol) {
  if (abs(p[0] - r) > tol || abs(p[1] - g) > tol || abs(p[2] - b) > tol || abs(p[3] - a) > tol)
    fail_msg("pixel (%d,%d,%d,%d), expected (%d,%d,%d,%d) +-%d", p[0], p[1], p[2], p[3], r, g, b, a, tol);
}

/* PNG's CRC-32 (ISO 3309), bitwise. */
static uint32_t crc32_png(const uint8_t *p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    c ^= p[i];
    for (int k = 0; k < 8; k++)
      c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return c ^ 0xFFFFFFFFu;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Rewrites the IHDR size of a PNG (IHDR is at offset 8: length, type,
 * width at 16, height at 20, CRC at 29 over bytes 12..28). */
static void png_patch_size(uint8_t *png, uint32_t w, uint32_t h) {
  assert_memory_equal(png + 12, "IHDR", 4);
  put_be32(png + 16, w);
  put_be32(png + 20, h);
  put_be32(png + 29, crc32_png(png + 12, 17));
}

/* Offset of the SOFn marker of a JPEG (FF C0..C3), walking the segments. */
static size_t jpeg_find_sof(const uint8_t *d, size_t n) {
  size_t i = 2;
  while (i + 4 <= n) {
    assert_int_equal(d[i], 0xFF);
    uint8_t m = d[i + 1];
    if (m >= 0xC0 && m <= 0xC3) return i;
    i += 2 + (((size_t)d[i + 2] << 8) | d[i + 3]);
  }
  fail_msg("no SOF");
  return 0;
}

static void jpeg_patch_size(uint8_t *jpg, size_t n, uint16_t w, uint16_t h) {
  size_t s = jpeg_find_sof(jpg, n);
  jpg[s + 5] = (uint8_t)(h >> 8);
  jpg[s + 6] = (uint8_t)h;
  jpg[s + 7] = (uint8_t)(w >> 8);
  jpg[s + 8] = (uint8_t)w;
}

/* A JPEG of four solid quadrants: red, green / blue, white. */
static const uint8_t QUAD[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};

static uint8_t *quadrant_rgb(uint32_t w, uint32_t h) {
  uint8_t *rgb = malloc((size_t)w * h * 3);
  assert_non_null(rgb);
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      memcpy(rgb + ((size_t)y * w + x) * 3, QUAD[(y >= h / 2) * 2 + (x >= w / 2)], 3);
  return rgb;
}

static uint8_t *noise_rgba(uint32_t w, uint32_t h, uint32_t seed, int opaque) {
  uint8_t *p = random_bytes((size_t)w * h * 4, seed);
  if (opaque)
    for (size_t i = 0; i < (size_t)w * h; i++)
      p[i * 4 + 3] = 255;
  return p;
}

/* ---- sniffing and trivial refusals ------------------------------------ */

static void test_sniff(void **state) {
  (void)state;
  assert_int_equal(orf_image_sniff((const uint8_t *)"\x89PNG\r\n\x1a\n", 8), ORF_IMG_PNG);
  assert_int_equal(orf_image_sniff((const uint8_t *)"\xFF\xD8\xFF\xE0", 4), ORF_IMG_JPEG);
  assert_int_equal(orf_image_sniff((const uint8_t *)"RIFF\x10\0\0\0WEBPVP8 ", 16), ORF_IMG_WEBP);
  assert_int_equal(orf_image_sniff((const uint8_t *)"RIFF\x10\0\0\0WAVEfmt ", 16), ORF_IMG_UNKNOWN);
  assert_int_equal(orf_image_sniff((const uint8_t *)"GIF89a", 6), ORF_IMG_UNKNOWN);
  assert_int_equal(orf_image_sniff((const uint8_t *)"\xFF\xD8", 2), ORF_IMG_UNKNOWN);
  assert_int_equal(orf_image_sniff(NULL, 0), ORF_IMG_UNKNOWN);
}

static void test_unsupported_and_empty(void **state) {
  (void)state;
#define F(lit)                                                                                               \
  { lit, sizeof lit }
  static const struct {
    const char *d;
    size_t n;
  } files[] = {
      F("GIF89a\x01\0\x01\0\x80\0\0\xff\xff\xff\0\0\0!\xf9\x04\0\0\0\0\0,"
        "\0\0\0\0\x01\0\x01\0\0\x02\x02D\x01\0;"),
      F("BM\x3a\0\0\0\0\0\0\0\x36\0\0\0\x28\0\0\0\x01\0\0\0\x01\0\0\0\x01\0\x18\0"),
      F("II*\0\x08\0\0\0"),
      F("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"/>"),
  };
  /* bytes that are no image of any kind: bad_image, not unsupported */
  static const char *not_images[] = {
      "hello, this is plain text and not an image at all\n",
      "RIFF\x24\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0",
      "\x89PN",
      "BMW is a car, not a bitmap",
  };
  for (size_t i = 0; i < sizeof not_images / sizeof *not_images; i++) {
    size_t n = strlen(not_images[i]) + 1;
    assert_int_equal(decode_rc((const uint8_t *)not_images[i], n), ORF_EBADIMAGE);
    orf_image_type t = ORF_IMG_PNG;
    assert_int_equal(orf_image_probe((const uint8_t *)not_images[i], n, NULL, &t, NULL, NULL), ORF_EBADIMAGE);
    assert_int_equal(t, ORF_IMG_UNKNOWN);
  }
#undef F
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    size_t n = files[i].n;
    assert_int_equal(decode_rc((const uint8_t *)files[i].d, n), ORF_EUNSUPPORTED);
    orf_image_type t = ORF_IMG_PNG;
    uint32_t w = 7, h = 7;
    assert_int_equal(orf_image_probe((const uint8_t *)files[i].d, n, NULL, &t, &w, &h), ORF_EUNSUPPORTED);
    assert_int_equal(t, ORF_IMG_UNKNOWN);
    assert_int_equal(w, 0);
  }
  assert_int_equal(decode_rc((const uint8_t *)"", 0), ORF_EBADIMAGE);
  assert_int_equal(decode_rc(NULL, 0), ORF_EBADIMAGE);
  orf_image_type t;
  uint32_t w, h;
  assert_int_equal(orf_image_probe(NULL, 0, NULL, &t, &w, &h), ORF_EBADIMAGE);
}

static void test_limits_init(void **state) {
  (void)state;
  orf_limits l;
  memset(&l, 0xAB, sizeof l);
  orf_limits_init(&l);
  assert_int_equal(l.max_file_bytes, 50 * 1000 * 1000);
  assert_int_equal(l.max_side, 8192);
  assert_int_equal(l.max_pixels, 40 * 1000 * 1000);
}

/* ---- PNG variants ----------------------------------------------------- */

/* Decodes a PNG of `channels` 8-bit samples and checks every pixel. */
static void check_png8(int channels) {
  const uint32_t w = 5, h = 3;
  uint8_t *src = random_bytes((size_t)w * h * channels, 100 + channels);
  size_t n;
  uint8_t *png = tu_png(src, w, h, channels, 8, &n);
  assert_non_null(png);
  orf_image img;
  decode_ok(png, n, 0, &img);
  assert_int_equal(img.width, w);
  assert_int_equal(img.height, h);
  assert_int_equal(img.source_width, w);
  assert_int_equal(img.type, ORF_IMG_PNG);
  assert_int_equal(img.has_alpha, channels == 2 || channels == 4);
  for (size_t i = 0; i < (size_t)w * h; i++) {
    const uint8_t *s = src + i * channels, *d = img.rgba + i * 4;
    uint8_t e[4];
    switch (channels) {
    case 1: e[0] = e[1] = e[2] = s[0], e[3] = 255; break;
    case 2: e[0] = e[1] = e[2] = s[0], e[3] = s[1]; break;
    case 3: memcpy(e, s, 3), e[3] = 255; break;
    default: memcpy(e, s, 4); break;
    }
    assert_memory_equal(d, e, 4);
  }
  orf_image_free(&img);
  assert_null(img.rgba);
  free(png);
  free(src);
}

static void test_png_grey8(void **state) {
  (void)state;
  check_png8(1);
}
static void test_png_grey_alpha8(void **state) {
  (void)state;
  check_png8(2);
}
static void test_png_rgb8(void **state) {
  (void)state;
  check_png8(3);
}
static void test_png_rgba8(void **state) {
  (void)state;
  check_png8(4);
}

static void put_chunk(uint8_t **p, const char *type, const uint8_t *data, uint32_t len) {
  put_be32(*p, len);
  memcpy(*p + 4, type, 4);
  if (len) memcpy(*p + 8, data, len);
  put_be32(*p + 8 + len, crc32_png(*p + 4, 4 + (size_t)len));
  *p += 12 + len;
}

/* A PNG written by hand (no encoder: its samples are exactly the bytes
 * given): IHDR, one IDAT holding `raw` (scanlines with their filter byte) in
 * stored deflate blocks, IEND.  raw_len < 65536. */
static uint8_t *png_by_hand(uint32_t w, uint32_t h, int depth, int color_type, const uint8_t *raw,
                            size_t raw_len, size_t *size) {
  assert_true(raw_len < 65536);
  uint8_t ihdr[13] = {0};
  put_be32(ihdr, w);
  put_be32(ihdr + 4, h);
  ihdr[8] = (uint8_t)depth;
  ihdr[9] = (uint8_t)color_type;
  size_t zlen = 2 + 5 + raw_len + 4;
  uint8_t *z = malloc(zlen);
  assert_non_null(z);
  z[0] = 0x78, z[1] = 0x01; /* zlib header, no dictionary */
  z[2] = 1;                 /* final stored block */
  z[3] = (uint8_t)raw_len, z[4] = (uint8_t)(raw_len >> 8);
  z[5] = (uint8_t)~z[3], z[6] = (uint8_t)~z[4];
  memcpy(z + 7, raw, raw_len);
  uint32_t a = 1, b = 0; /* Adler-32 */
  for (size_t i = 0; i < raw_len; i++)
    a = (a + raw[i]) % 65521, b = (b + a) % 65521;
  put_be32(z + 7 + raw_len, b << 16 | a);
  *size = 8 + 25 + 12 + zlen + 12;
  uint8_t *png = malloc(*size), *p = png + 8;
  assert_non_null(png);
  memcpy(png, "\x89PNG\r\n\x1a\n", 8);
  put_chunk(&p, "IHDR", ihdr, 13);
  put_chunk(&p, "IDAT", z, (uint32_t)zlen);
  put_chunk(&p, "IEND", NULL, 0);
  free(z);
  return png;
}

/* 16-bit samples (big-endian in the file) come out as their high byte. */
static void check_png16(int channels) {
  const uint32_t w = 4, h = 2;
  size_t row = 1 + (size_t)w * channels * 2, count = (size_t)w * h * channels;
  uint8_t *raw = calloc(h, row), *s = malloc(count * 2);
  assert_non_null(raw);
  assert_non_null(s);
  for (size_t i = 0; i < count; i++) {
    s[2 * i] = (uint8_t)(17 * i + 3);       /* high byte */
    s[2 * i + 1] = (uint8_t)(0x35 + 7 * i); /* low byte: below 0x80, so no rounding up */
  }
  for (uint32_t y = 0; y < h; y++)
    memcpy(raw + y * row + 1, s + (size_t)y * (row - 1), row - 1);
  size_t n;
  uint8_t *png = png_by_hand(w, h, 16, channels == 4 ? 6 : 2, raw, h * row, &n);
  orf_image img;
  decode_ok(png, n, 0, &img);
  assert_int_equal(img.has_alpha, channels == 4);
  for (size_t i = 0; i < (size_t)w * h; i++) {
    for (int c = 0; c < 3; c++)
      assert_int_equal(img.rgba[i * 4 + c], s[2 * (i * channels + c)]);
    assert_int_equal(img.rgba[i * 4 + 3], channels == 4 ? s[2 * (i * channels + 3)] : 255);
  }
  orf_image_free(&img);
  free(png);
  free(raw);
  free(s);
}

static void test_png_rgb16(void **state) {
  (void)state;
  check_png16(3);
}
static void test_png_rgba16(void **state) {
  (void)state;
  check_png16(4);
}

static void test_png_palette(void **state) {
  (void)state;
  const uint8_t pal[9] = {10, 20, 30, 200, 100, 50, 0, 255, 128};
  const uint8_t trns[3] = {255, 0, 77};
  const uint8_t idx[6] = {0, 1, 2, 2, 1, 0};
  for (int with_trns = 0; with_trns < 2; with_trns++) {
    size_t n;
    uint8_t *png = tu_png_palette(idx, 3, 2, pal, 3, with_trns ? trns : NULL, &n);
    assert_non_null(png);
    orf_image img;
    decode_ok(png, n, 0, &img);
    assert_int_equal(img.has_alpha, with_trns);
    for (int i = 0; i < 6; i++) {
      assert_memory_equal(img.rgba + 4 * i, pal + 3 * idx[i], 3);
      assert_int_equal(img.rgba[4 * i + 3], with_trns ? trns[idx[i]] : 255);
    }
    orf_image_free(&img);
    free(png);
  }
}

/* ---- JPEG ------------------------------------------------------------- */

static void check_quadrants(const orf_image *img, int tol) {
  uint32_t w = img->width, h = img->height;
  for (int q = 0; q < 4; q++) {
    uint32_t x = (q & 1) ? 3 * w / 4 : w / 4, y = (q & 2) ? 3 * h / 4 : h / 4;
    assert_px_near(px(img, x, y), QUAD[q][0], QUAD[q][1], QUAD[q][2], 255, tol);
  }
}

static void check_jpeg_colours(int progressive) {
  uint8_t *rgb = quadrant_rgb(64, 48);
  size_t n;
  uint8_t *jpg = tu_jpeg(rgb, 64, 48, 90, progressive, &n);
  assert_non_null(jpg);
  orf_image img;
  decode_ok(jpg, n, 0, &img);
  assert_int_equal(img.width, 64);
  assert_int_equal(img.height, 48);
  assert_int_equal(img.type, ORF_IMG_JPEG);
  assert_int_equal(img.has_alpha, 0);
  check_quadrants(&img, 8);
  orf_image_free(&img);
  free(jpg);
  free(rgb);
}

static void test_jpeg_baseline(void **state) {
  (void)state;
  check_jpeg_colours(0);
}
static void test_jpeg_progressive(void **state) {
  (void)state;
  check_jpeg_colours(1);
}

/* A JPEG made directly with TurboJPEG (grey or CMYK input). */
static uint8_t *tj_encode(const uint8_t *pix, int w, int h, int pf, int samp, size_t *size) {
  tjhandle tj = tjInitCompress();
  assert_non_null(tj);
  unsigned char *jpg = NULL;
  unsigned long len = 0;
  assert_int_equal(tjCompress2(tj, pix, w, 0, h, pf, &jpg, &len, samp, 95, 0), 0);
  tjDestroy(tj);
  uint8_t *out = malloc(len);
  assert_non_null(out);
  memcpy(out, jpg, len);
  tjFree(jpg);
  *size = len;
  return out;
}

static void test_jpeg_grey(void **state) {
  (void)state;
  uint8_t grey[32 * 16];
  for (int i = 0; i < 32 * 16; i++)
    grey[i] = (i % 32) < 16 ? 40 : 210;
  size_t n;
  uint8_t *jpg = tj_encode(grey, 32, 16, TJPF_GRAY, TJSAMP_GRAY, &n);
  orf_image img;
  decode_ok(jpg, n, 0, &img);
  assert_int_equal(img.width, 32);
  assert_px_near(px(&img, 4, 8), 40, 40, 40, 255, 4);
  assert_px_near(px(&img, 28, 8), 210, 210, 210, 255, 4);
  orf_image_free(&img);
  free(jpg);
}

/* CMYK JPEGs are read as Adobe's inverted CMYK: R = C*K/255. */
static void test_jpeg_cmyk(void **state) {
  (void)state;
  uint8_t cmyk[16 * 16 * 4];
  for (int i = 0; i < 16 * 16; i++) {
    uint8_t v[4] = {255, 0, 128, 255};
    memcpy(cmyk + 4 * i, v, 4);
  }
  size_t n;
  uint8_t *jpg = tj_encode(cmyk, 16, 16, TJPF_CMYK, TJSAMP_444, &n);
  orf_image img;
  decode_ok(jpg, n, 0, &img);
  assert_px_near(px(&img, 8, 8), 255, 0, 128, 255, 6);
  orf_image_free(&img);
  free(jpg);
}

static void test_jpeg_dct_scaling(void **state) {
  (void)state;
  uint8_t *rgb = quadrant_rgb(1024, 768);
  size_t n;
  uint8_t *jpg = tu_jpeg(rgb, 1024, 768, 85, 0, &n);
  assert_non_null(jpg);
  static const struct {
    uint32_t min_side, w, h;
  } cases[] = {{0, 1024, 768},  {100, 128, 96},   {128, 128, 96},   {129, 256, 192},
               {300, 512, 384}, {513, 1024, 768}, {5000, 1024, 768}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    orf_image img;
    decode_ok(jpg, n, cases[i].min_side, &img);
    assert_int_equal(img.width, cases[i].w);
    assert_int_equal(img.height, cases[i].h);
    assert_int_equal(img.source_width, 1024);
    assert_int_equal(img.source_height, 768);
    check_quadrants(&img, 10);
    orf_image_free(&img);
  }
  free(jpg);
  free(rgb);
}

/* ---- EXIF orientation ------------------------------------------------- */

/* The JPEG with an APP1 Exif segment inserted after SOI: a TIFF header in
 * the given byte order and IFD0 with one entry, Orientation = o.  When
 * `broken` the TIFF data is cut short and its IFD offset points nowhere. */
static uint8_t *jpeg_with_exif(const uint8_t *jpg, size_t n, int o, int big_endian, int broken,
                               size_t *out_n) {
  uint8_t tiff[26];
  if (big_endian) {
    const uint8_t t[26] = {'M', 'M', 0, 42, 0, 0, 0,          8, 0, 1, 0x01, 0x12, 0,
                           3,   0,   0, 0,  1, 0, (uint8_t)o, 0, 0, 0, 0,    0,    0};
    memcpy(tiff, t, 26);
  } else {
    const uint8_t t[26] = {'I', 'I', 42, 0, 8, 0,          0, 0, 1, 0, 0x12, 0x01, 3,
                           0,   1,   0,  0, 0, (uint8_t)o, 0, 0, 0, 0, 0,    0,    0};
    memcpy(tiff, t, 26);
  }
  size_t tiff_len = sizeof tiff;
  if (broken) {
    tiff[4] = tiff[5] = tiff[6] = tiff[7] = 0xF0; /* IFD0 far past the end */
    tiff_len = 12;
  }
  size_t seg = 2 + 6 + tiff_len;
  size_t total = n + 2 + seg;
  uint8_t *out = malloc(total);
  assert_non_null(out);
  memcpy(out, jpg, 2);
  uint8_t *p = out + 2;
  *p++ = 0xFF;
  *p++ = 0xE1;
  *p++ = (uint8_t)(seg >> 8);
  *p++ = (uint8_t)seg;
  memcpy(p, "Exif\0\0", 6);
  p += 6;
  memcpy(p, tiff, tiff_len);
  p += tiff_len;
  memcpy(p, jpg + 2, n - 2);
  *out_n = total;
  return out;
}

static void test_exif_orientation(void **state) {
  (void)state;
  const uint32_t W = 64, H = 32;
  uint8_t *rgb = quadrant_rgb(W, H);
  size_t n;
  uint8_t *jpg = tu_jpeg(rgb, W, H, 95, 0, &n);
  assert_non_null(jpg);
  /* which stored quadrant (0 red TL, 1 green TR, 2 blue BL, 3 white BR)
   * lands in output TL, TR, BL, BR */
  static const struct {
    int o, big_endian, swap, quad[4];
  } cases[] = {
      {1, 0, 0, {0, 1, 2, 3}}, {2, 1, 0, {1, 0, 3, 2}}, {3, 1, 0, {3, 2, 1, 0}}, {4, 0, 0, {2, 3, 0, 1}},
      {5, 0, 1, {0, 2, 1, 3}}, {6, 0, 1, {2, 0, 3, 1}}, {7, 1, 1, {3, 1, 2, 0}}, {8, 1, 1, {1, 3, 0, 2}},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t en;
    uint8_t *ej = jpeg_with_exif(jpg, n, cases[i].o, cases[i].big_endian, 0, &en);
    orf_image img;
    decode_ok(ej, en, 0, &img);
    uint32_t ow = cases[i].swap ? H : W, oh = cases[i].swap ? W : H;
    assert_int_equal(img.width, ow);
    assert_int_equal(img.height, oh);
    assert_int_equal(img.source_width, ow);
    assert_int_equal(img.source_height, oh);
    for (int q = 0; q < 4; q++) {
      uint32_t x = (q & 1) ? 3 * ow / 4 : ow / 4, y = (q & 2) ? 3 * oh / 4 : oh / 4;
      const uint8_t *e = QUAD[cases[i].quad[q]];
      assert_px_near(px(&img, x, y), e[0], e[1], e[2], 255, 8);
    }
    orf_image_free(&img);
    orf_image_type t;
    uint32_t pw, ph;
    assert_int_equal(orf_image_probe(ej, en, NULL, &t, &pw, &ph), ORF_OK);
    assert_int_equal(t, ORF_IMG_JPEG);
    assert_int_equal(pw, ow);
    assert_int_equal(ph, oh);
    free(ej);
  }
  /* DCT scaling and orientation together: sizes are the scaled ones, swapped */
  size_t en;
  uint8_t *ej = jpeg_with_exif(jpg, n, 6, 0, 0, &en);
  orf_image img;
  decode_ok(ej, en, 20, &img); /* 1/2 scale: 32 x 16 stored, 16 x 32 shown */
  assert_int_equal(img.width, 16);
  assert_int_equal(img.height, 32);
  assert_int_equal(img.source_width, 32);
  assert_int_equal(img.source_height, 64);
  orf_image_free(&img);
  free(ej);
  free(jpg);
  free(rgb);
}

static void test_exif_broken_is_ignored(void **state) {
  (void)state;
  uint8_t *rgb = quadrant_rgb(32, 16);
  size_t n;
  uint8_t *jpg = tu_jpeg(rgb, 32, 16, 95, 0, &n);
  assert_non_null(jpg);
  for (int be = 0; be < 2; be++) {
    size_t en;
    uint8_t *ej = jpeg_with_exif(jpg, n, 6, be, 1, &en);
    orf_image img;
    decode_ok(ej, en, 0, &img);
    assert_int_equal(img.width, 32);
    assert_int_equal(img.height, 16);
    orf_image_free(&img);
    free(ej);
  }
  /* orientation out of range (9, 0) is orientation 1 */
  for (int o = 0; o <= 9; o += 9) {
    size_t en;
    uint8_t *ej = jpeg_with_exif(jpg, n, o, 0, 0, &en);
    orf_image img;
    decode_ok(ej, en, 0, &img);
    assert_int_equal(img.width, 32);
    check_quadrants(&img, 8);
    orf_image_free(&img);
    free(ej);
  }
  /* random bytes in place of the TIFF block, several seeds */
  for (uint32_t seed = 1; seed <= 20; seed++) {
    size_t en;
    uint8_t *ej = jpeg_with_exif(jpg, n, 6, 0, 0, &en);
    uint8_t *junk = random_bytes(26, seed);
    memcpy(ej + 2 + 4 + 6, junk, 26);
    if (seed % 2) memcpy(ej + 2 + 4 + 6, "II*\0", 4); /* valid start, junk after */
    orf_image img;
    decode_ok(ej, en, 0, &img);
    assert_true(img.width == 32 || img.width == 16);
    orf_image_free(&img);
    free(junk);
    free(ej);
  }
  free(jpg);
  free(rgb);
}

/* ---- WebP ------------------------------------------------------------- */

static void test_webp_lossless(void **state) {
  (void)state;
  uint8_t *rgba = noise_rgba(13, 7, 5, 0);
  size_t n;
  uint8_t *webp = tu_webp(rgba, 13, 7, 1, &n);
  assert_non_null(webp);
  orf_image img;
  decode_ok(webp, n, 0, &img);
  assert_int_equal(img.width, 13);
  assert_int_equal(img.height, 7);
  assert_int_equal(img.type, ORF_IMG_WEBP);
  assert_int_equal(img.has_alpha, 1);
  assert_memory_equal(img.rgba, rgba, 13 * 7 * 4);
  orf_image_free(&img);
  free(webp);
  free(rgba);
}

static void test_webp_lossy(void **state) {
  (void)state;
  uint8_t *rgb = quadrant_rgb(64, 64);
  uint8_t *rgba = malloc(64 * 64 * 4);
  assert_non_null(rgba);
  for (int i = 0; i < 64 * 64; i++)
    memcpy(rgba + 4 * i, rgb + 3 * i, 3), rgba[4 * i + 3] = 255;
  size_t n;
  uint8_t *webp = tu_webp(rgba, 64, 64, 0, &n);
  assert_non_null(webp);
  orf_image img;
  decode_ok(webp, n, 0, &img);
  assert_int_equal(img.width, 64);
  assert_int_equal(img.has_alpha, 0);
  check_quadrants(&img, 12);
  orf_image_free(&img);
  free(webp);
  free(rgba);
  free(rgb);
}

static void test_webp_lossy_alpha(void **state) {
  (void)state;
  const float disc[3] = {32, 32, 20};
  const uint8_t fg[3] = {250, 200, 30}, bg[3] = {0, 0, 0};
  uint8_t *rgba = tu_discs_rgba(64, 64, disc, 1, 0, fg, bg, 0);
  size_t n;
  uint8_t *webp = tu_webp(rgba, 64, 64, 0, &n);
  assert_non_null(webp);
  orf_image img;
  decode_ok(webp, n, 0, &img);
  assert_int_equal(img.has_alpha, 1);
  assert_px_near(px(&img, 32, 32), 250, 200, 30, 255, 12);
  assert_int_equal(px(&img, 2, 2)[3], 0);
  assert_int_equal(px(&img, 61, 61)[3], 0);
  orf_image_free(&img);
  free(webp);
  free(rgba);
}

/* An animated WebP (tu_webp_animated) is refused as such. */
static void test_webp_animated_refused(void **state) {
  (void)state;
  uint8_t *rgba = noise_rgba(4, 4, 9, 1);
  size_t n, total;
  uint8_t *still = tu_webp(rgba, 4, 4, 1, &n);
  uint8_t *f = tu_webp_animated(rgba, 4, 4, &total);
  assert_non_null(still);
  assert_non_null(f);
  assert_int_equal(decode_rc(f, total), ORF_EANIMATED);
  orf_image_type t;
  uint32_t w, h;
  assert_int_equal(orf_image_probe(f, total, NULL, &t, &w, &h), ORF_EANIMATED);
  /* the still image itself decodes */
  assert_int_equal(decode_rc(still, n), ORF_OK);
  free(f);
  free(still);
  free(rgba);
}

/* ---- broken and hostile files ----------------------------------------- */

static void check_truncations(const uint8_t *data, size_t n) {
  static const int percent[] = {1, 10, 30, 50, 75, 90, 97};
  for (size_t i = 0; i < sizeof percent / sizeof *percent; i++) {
    size_t cut = n * (size_t)percent[i] / 100;
    uint8_t *copy = malloc(cut ? cut : 1);
    assert_non_null(copy);
    memcpy(copy, data, cut);
    int rc = decode_rc(copy, cut);
    if (rc != ORF_EBADIMAGE) fail_msg("cut at %d%% (%zu of %zu bytes): rc %d", percent[i], cut, n, rc);
    free(copy);
  }
  assert_int_equal(decode_rc(data, n), ORF_OK);
}

static void test_truncated(void **state) {
  (void)state;
  const uint32_t w = 64, h = 48;
  uint8_t *rgba = noise_rgba(w, h, 77, 0);
  uint8_t *rgb = tu_rgba_to_rgb(rgba, w, h);
  size_t n;
  uint8_t *f = tu_png(rgba, w, h, 4, 8, &n);
  check_truncations(f, n);
  free(f);
  f = tu_jpeg(rgb, w, h, 90, 0, &n);
  check_truncations(f, n);
  free(f);
  f = tu_jpeg(rgb, w, h, 90, 1, &n);
  check_truncations(f, n);
  /* cut just before the frame header: TurboJPEG reads a tables-only stream */
  assert_int_equal(decode_rc(f, jpeg_find_sof(f, n)), ORF_EBADIMAGE);
  free(f);
  f = tu_webp(rgba, w, h, 1, &n);
  check_truncations(f, n);
  free(f);
  f = tu_webp(rgba, w, h, 0, &n);
  check_truncations(f, n);
  free(f);
  free(rgb);
  free(rgba);
}

static void test_png_crc_broken(void **state) {
  (void)state;
  uint8_t *rgba = noise_rgba(16, 16, 3, 0);
  size_t n;
  uint8_t *png = tu_png(rgba, 16, 16, 4, 8, &n);
  png[29] ^= 0x55; /* IHDR CRC */
  assert_int_equal(decode_rc(png, n), ORF_EBADIMAGE);
  png[29] ^= 0x55;
  png[n - 30] ^= 0x55; /* inside IDAT: its CRC no longer matches */
  assert_int_equal(decode_rc(png, n), ORF_EBADIMAGE);
  free(png);
  free(rgba);
}

/* A tracker on the calling thread for the duration of a check. */
static void test_png_bomb(void **state) {
  (void)state;
  uint8_t *rgba = noise_rgba(16, 16, 4, 0);
  size_t n;
  uint8_t *png = tu_png(rgba, 16, 16, 4, 8, &n);
  png_patch_size(png, 100000, 100000);
  orf_memtrack t = {0};
  orf_memtrack *old = orf_memtrack_set(&t);
  assert_int_equal(decode_rc(png, n), ORF_ETOOLARGE);
  orf_image_type ty;
  uint32_t w, h;
  assert_int_equal(orf_image_probe(png, n, NULL, &ty, &w, &h), ORF_ETOOLARGE);
  orf_memtrack_set(old);
  assert_true(atomic_load(&t.peak) < 1000000);
  assert_int_equal(atomic_load(&t.current), 0);
  /* side limit and pixel limit separately: 9000 x 10, then 8000 x 8000 */
  png_patch_size(png, 9000, 10);
  assert_int_equal(decode_rc(png, n), ORF_ETOOLARGE);
  png_patch_size(png, 8000, 8000);
  assert_int_equal(decode_rc(png, n), ORF_ETOOLARGE);
  /* zero sides */
  png_patch_size(png, 0, 16);
  assert_int_equal(decode_rc(png, n), ORF_EBADIMAGE);
  png_patch_size(png, 16, 0);
  assert_int_equal(decode_rc(png, n), ORF_EBADIMAGE);
  free(png);
  free(rgba);
}

static void test_jpeg_bomb(void **state) {
  (void)state;
  uint8_t *rgb = quadrant_rgb(32, 32);
  size_t n;
  uint8_t *jpg = tu_jpeg(rgb, 32, 32, 90, 0, &n);
  jpeg_patch_size(jpg, n, 60000, 60000);
  orf_memtrack t = {0};
  orf_memtrack *old = orf_memtrack_set(&t);
  assert_int_equal(decode_rc(jpg, n), ORF_ETOOLARGE);
  orf_image_type ty;
  uint32_t w, h;
  assert_int_equal(orf_image_probe(jpg, n, NULL, &ty, &w, &h), ORF_ETOOLARGE);
  orf_memtrack_set(old);
  assert_true(atomic_load(&t.peak) < 1000000);
  jpeg_patch_size(jpg, n, 0, 32);
  assert_int_equal(decode_rc(jpg, n), ORF_EBADIMAGE);
  jpeg_patch_size(jpg, n, 32, 0);
  assert_int_equal(decode_rc(jpg, n), ORF_EBADIMAGE);
  free(jpg);
  free(rgb);
}

/* A lossless WebP whose VP8L header claims 16000 x 16000. */
static void test_webp_bomb(void **state) {
  (void)state;
  uint8_t *rgba = noise_rgba(8, 8, 6, 1);
  size_t n;
  uint8_t *webp = tu_webp(rgba, 8, 8, 1, &n);
  assert_memory_equal(webp + 12, "VP8L", 4);
  assert_int_equal(webp[20], 0x2F);
  uint32_t bits = webp[21] | (uint32_t)webp[22] << 8 | (uint32_t)webp[23] << 16 | (uint32_t)webp[24] << 24;
  bits = (bits & ~0x0FFFFFFFu) | (16000 - 1) | (uint32_t)(16000 - 1) << 14;
  for (int i = 0; i < 4; i++)
    webp[21 + i] = (uint8_t)(bits >> (8 * i));
  orf_memtrack t = {0};
  orf_memtrack *old = orf_memtrack_set(&t);
  assert_int_equal(decode_rc(webp, n), ORF_ETOOLARGE);
  orf_memtrack_set(old);
  assert_true(atomic_load(&t.peak) < 1000000);
  free(webp);
  free(rgba);
}

static void test_garbage_after_magic(void **state) {
  (void)state;
  static const struct {
    const char *magic;
    size_t len;
  } magics[] = {{"\x89PNG\r\n\x1a\n", 8},      {"\x89PNG", 4},
                {"\xFF\xD8\xFF", 3},           {"\xFF\xD8\xFF\xE0\x00\x10JFIF\0", 11},
                {"RIFF\0\x10\0\0WEBP", 12},    {"RIFF\0\x10\0\0WEBPVP8L", 16},
                {"RIFF\0\x10\0\0WEBPVP8 ", 16}};
  for (size_t m = 0; m < sizeof magics / sizeof *magics; m++) {
    for (uint32_t seed = 1; seed <= 30; seed++) {
      size_t n = 16 + seed * 97;
      uint8_t *f = random_bytes(n, seed * 7919 + (uint32_t)m);
      memcpy(f, magics[m].magic, magics[m].len);
      int rc = decode_rc(f, n);
      assert_true(rc == ORF_EBADIMAGE || rc == ORF_EUNSUPPORTED || rc == ORF_EANIMATED ||
                  rc == ORF_ETOOLARGE);
      orf_image_type t;
      uint32_t w, h;
      rc = orf_image_probe(f, n, NULL, &t, &w, &h);
      assert_true(rc <= ORF_OK);
      free(f);
    }
  }
}

static void test_file_size_limit(void **state) {
  (void)state;
  uint8_t *rgba = noise_rgba(8, 8, 8, 0);
  size_t n;
  uint8_t *png = tu_png(rgba, 8, 8, 4, 8, &n);
  orf_limits lim;
  orf_limits_init(&lim);
  orf_image img;
  lim.max_file_bytes = n - 1;
  assert_int_equal(orf_image_decode(png, n, &lim, 0, &img), ORF_ETOOLARGE);
  assert_null(img.rgba);
  orf_image_type t;
  uint32_t w, h;
  assert_int_equal(orf_image_probe(png, n, &lim, &t, &w, &h), ORF_ETOOLARGE);
  lim.max_file_bytes = n;
  assert_int_equal(orf_image_decode(png, n, &lim, 0, &img), ORF_OK);
  orf_image_free(&img);
  /* custom side and pixel limits */
  lim.max_side = 7;
  assert_int_equal(orf_image_decode(png, n, &lim, 0, &img), ORF_ETOOLARGE);
  lim.max_side = 8;
  lim.max_pixels = 63;
  assert_int_equal(orf_image_decode(png, n, &lim, 0, &img), ORF_ETOOLARGE);
  lim.max_pixels = 64;
  assert_int_equal(orf_image_decode(png, n, &lim, 0, &img), ORF_OK);
  orf_image_free(&img);
  free(png);
  free(rgba);
}

/* Every allocation failing in turn: ORF_ENOMEM or success, nothing leaked. */
static void test_decode_out_of_memory(void **state) {
  (void)state;
  uint8_t *rgba = noise_rgba(40, 30, 12, 0);
  uint8_t *rgb = tu_rgba_to_rgb(rgba, 40, 30);
  size_t sizes[3];
  uint8_t *files[3];
  files[0] = tu_png(rgba, 40, 30, 4, 8, &sizes[0]);
  uint8_t *jpg = tu_jpeg(rgb, 40, 30, 90, 0, &sizes[1]);
  files[1] = jpeg_with_exif(jpg, sizes[1], 6, 0, 0, &sizes[1]);
  files[2] = tu_webp(rgba, 40, 30, 1, &sizes[2]);
  for (int f = 0; f < 3; f++) {
    int saw_nomem = 0;
    for (long k = 1; k < 200; k++) {
      orf_memtrack t = {0};
      atomic_store(&t.fail_after, k);
      orf_memtrack *old = orf_memtrack_set(&t);
      orf_image img;
      int rc = orf_image_decode(files[f], sizes[f], NULL, 0, &img);
      orf_image small;
      if (rc == ORF_OK) {
        int rc2 = orf_image_downscale(&img, 10, 1, &small);
        assert_true(rc2 == ORF_OK || rc2 == ORF_ENOMEM);
        orf_image_free(&small);
      }
      orf_image_free(&img);
      orf_memtrack_set(old);
      assert_int_equal(atomic_load(&t.current), 0);
      if (rc == ORF_ENOMEM)
        saw_nomem = 1;
      else
        assert_int_equal(rc, ORF_OK);
      if (rc == ORF_OK && atomic_load(&t.fail_after) > 0) break; /* no allocation left to fail */
    }
    assert_true(saw_nomem);
  }
  free(jpg);
  for (int f = 0; f < 3; f++)
    free(files[f]);
  free(rgb);
  free(rgba);
}

/* ---- probe ------------------------------------------------------------ */

static void test_probe(void **state) {
  (void)state;
  const uint32_t w = 1000, h = 700;
  uint8_t *rgba = noise_rgba(w, h, 21, 0);
  uint8_t *rgb = tu_rgba_to_rgb(rgba, w, h);
  size_t sizes[3];
  uint8_t *files[3] = {tu_png(rgba, w, h, 4, 8, &sizes[0]), tu_jpeg(rgb, w, h, 80, 1, &sizes[1]),
                       tu_webp(rgba, w, h, 1, &sizes[2])};
  const orf_image_type types[3] = {ORF_IMG_PNG, ORF_IMG_JPEG, ORF_IMG_WEBP};
  for (int f = 0; f < 3; f++) {
    orf_memtrack t = {0};
    orf_memtrack *old = orf_memtrack_set(&t);
    orf_image_type ty;
    uint32_t pw, ph;
    assert_int_equal(orf_image_probe(files[f], sizes[f], NULL, &ty, &pw, &ph), ORF_OK);
    orf_memtrack_set(old);
    assert_int_equal(ty, types[f]);
    assert_int_equal(pw, w);
    assert_int_equal(ph, h);
    assert_true(atomic_load(&t.peak) < 200000); /* the pixels would be 2.8 MB */
    free(files[f]);
  }
  free(rgb);
  free(rgba);
}

/* ---- downscale -------------------------------------------------------- */

static orf_image make_image(uint32_t w, uint32_t h, const uint8_t *rgba) {
  orf_image img = {
      .width = w, .height = h, .type = ORF_IMG_PNG, .source_width = w, .source_height = h, .has_alpha = 1};
  img.rgba = orf_malloc((size_t)w * h * 4);
  assert_non_null(img.rgba);
  memcpy(img.rgba, rgba, (size_t)w * h * 4);
  return img;
}

static void test_downscale_size_and_constant(void **state) {
  (void)state;
  const uint32_t w = 1000, h = 500;
  uint8_t *rgba = malloc((size_t)w * h * 4);
  for (size_t i = 0; i < (size_t)w * h; i++) {
    rgba[4 * i] = 13, rgba[4 * i + 1] = 200, rgba[4 * i + 2] = 99, rgba[4 * i + 3] = 170;
  }
  orf_image src = make_image(w, h, rgba);
  static const uint32_t max[] = {100, 73, 999, 1, 3};
  static const uint32_t ew[] = {100, 73, 999, 1, 3}, eh[] = {50, 37, 500, 1, 2};
  for (int i = 0; i < 5; i++) {
    orf_image dst;
    assert_int_equal(orf_image_downscale(&src, max[i], 1, &dst), ORF_OK);
    assert_int_equal(dst.width, ew[i]);
    assert_int_equal(dst.height, eh[i]);
    assert_int_equal(dst.source_width, w);
    assert_int_equal(dst.has_alpha, 1);
    for (size_t p = 0; p < (size_t)dst.width * dst.height; p++)
      assert_memory_equal(dst.rgba + 4 * p, rgba, 4);
    orf_image_free(&dst);
  }
  /* portrait: the height is the longest side; a sliver keeps 1 px */
  orf_image tall = make_image(5, 1000, rgba);
  orf_image dst;
  assert_int_equal(orf_image_downscale(&tall, 100, 1, &dst), ORF_OK);
  assert_int_equal(dst.width, 1);
  assert_int_equal(dst.height, 100);
  orf_image_free(&dst);
  orf_image_free(&tall);
  orf_image_free(&src);
  free(rgba);
}

static void test_downscale_exact_weights(void **state) {
  (void)state;
  /* 3 -> 2: output 0 is (v0 + v1/2) / 1.5, output 1 is (v1/2 + v2) / 1.5 */
  const uint8_t row[12] = {0, 0, 0, 255, 90, 90, 90, 255, 180, 180, 180, 255};
  orf_image src = make_image(3, 1, row);
  orf_image dst;
  assert_int_equal(orf_image_downscale(&src, 2, 1, &dst), ORF_OK);
  assert_int_equal(dst.width, 2);
  assert_int_equal(dst.height, 1);
  assert_px_near(dst.rgba, 30, 30, 30, 255, 0);
  assert_px_near(dst.rgba + 4, 150, 150, 150, 255, 0);
  orf_image_free(&dst);
  orf_image_free(&src);
  /* 4x4 -> 2x2 integer box: each output is the mean of its 2x2 block */
  uint8_t sq[64];
  for (int i = 0; i < 16; i++)
    sq[4 * i] = sq[4 * i + 1] = sq[4 * i + 2] = (uint8_t)(i * 10), sq[4 * i + 3] = 255;
  src = make_image(4, 4, sq);
  assert_int_equal(orf_image_downscale(&src, 2, 1, &dst), ORF_OK);
  /* top-left block: 0, 10, 40, 50 -> 25 */
  assert_int_equal(dst.rgba[0], 25);
  /* bottom-right block: 100, 110, 140, 150 -> 125 */
  assert_int_equal(dst.rgba[12], 125);
  orf_image_free(&dst);
  orf_image_free(&src);
}

static void test_downscale_alpha_weighting(void **state) {
  (void)state;
  /* transparent red next to opaque blue: pure blue, half alpha */
  const uint8_t a[8] = {255, 0, 0, 0, 0, 0, 255, 255};
  orf_image src = make_image(2, 1, a);
  orf_image dst;
  assert_int_equal(orf_image_downscale(&src, 1, 1, &dst), ORF_OK);
  assert_px_near(dst.rgba, 0, 0, 255, 128, 0);
  orf_image_free(&dst);
  orf_image_free(&src);
  /* half-transparent red (alpha 128) next to opaque blue: blue-ish,
   * red = 255*128/383 = 85, blue = 255*255/383 = 170 */
  const uint8_t b[8] = {255, 0, 0, 128, 0, 0, 255, 255};
  src = make_image(2, 1, b);
  assert_int_equal(orf_image_downscale(&src, 1, 1, &dst), ORF_OK);
  assert_px_near(dst.rgba, 85, 0, 170, 192, 0);
  assert_true(dst.rgba[2] > dst.rgba[0]);
  orf_image_free(&dst);
  orf_image_free(&src);
  /* fully transparent everywhere: the plain average keeps a colour */
  const uint8_t c[8] = {200, 0, 0, 0, 0, 0, 100, 0};
  src = make_image(2, 1, c);
  assert_int_equal(orf_image_downscale(&src, 1, 1, &dst), ORF_OK);
  assert_px_near(dst.rgba, 100, 0, 50, 0, 0);
  orf_image_free(&dst);
  orf_image_free(&src);
}

/* The opaque path (every alpha 255: three sums instead of seven) gives the
 * general path's bytes.  The general path is forced on the same picture by
 * one alpha of 254 in the source's top-left pixel, which only the output's
 * top-left pixel covers: every other output pixel must be the same, at
 * ratios with odd totals (1001x777) and whole ones (1024x1024). */
static void test_downscale_opaque_path(void **state) {
  (void)state;
  static const uint32_t sizes[][2] = {{1001, 777}, {1024, 1024}, {333, 999}};
  static const uint32_t max[] = {160, 512, 97};
  for (int s = 0; s < 3; s++) {
    uint32_t w = sizes[s][0], h = sizes[s][1];
    uint8_t *rgba = noise_rgba(w, h, 7u + (unsigned)s, 0);
    for (size_t i = 0; i < (size_t)w * h; i++)
      rgba[4 * i + 3] = 255;
    orf_image opaque = make_image(w, h, rgba);
    rgba[3] = 254;
    orf_image general = make_image(w, h, rgba);
    for (int m = 0; m < 3; m++) {
      orf_image a, b;
      assert_int_equal(orf_image_downscale(&opaque, max[m], 1, &a), ORF_OK);
      assert_int_equal(orf_image_downscale(&general, max[m], 1, &b), ORF_OK);
      assert_int_equal(a.width, b.width);
      assert_int_equal(a.height, b.height);
      size_t n = (size_t)a.width * a.height;
      assert_int_equal(b.rgba[3], 255); /* 254 in a box of more pixels rounds up */
      for (size_t p = 1; p < n; p++)
        assert_memory_equal(a.rgba + 4 * p, b.rgba + 4 * p, 4);
      for (size_t p = 0; p < n; p++)
        assert_int_equal(a.rgba[4 * p + 3], 255);
      orf_image_free(&a);
      orf_image_free(&b);
    }
    orf_image_free(&opaque);
    orf_image_free(&general);
    free(rgba);
  }
}

/* The same bytes for any thread count (the output rows are shared among
 * workers; a source row across two workers' ranges is reduced by both):
 * opaque and with alpha, at ratios with odd totals and whole ones. */
static void test_downscale_threads(void **state) {
  (void)state;
  static const uint32_t sizes[][2] = {{1001, 777}, {1024, 1024}, {333, 999}};
  static const uint32_t max[] = {160, 512, 97};
  for (int s = 0; s < 3; s++) {
    for (int opaque = 0; opaque < 2; opaque++) {
      uint32_t w = sizes[s][0], h = sizes[s][1];
      uint8_t *rgba = noise_rgba(w, h, 11u + (unsigned)s, opaque);
      orf_image src = make_image(w, h, rgba);
      for (int m = 0; m < 3; m++) {
        orf_image one, many;
        assert_int_equal(orf_image_downscale(&src, max[m], 1, &one), ORF_OK);
        for (int t = 2; t <= 5; t += 3) {
          assert_int_equal(orf_image_downscale(&src, max[m], t, &many), ORF_OK);
          assert_int_equal(one.width, many.width);
          assert_int_equal(one.height, many.height);
          assert_memory_equal(one.rgba, many.rgba, (size_t)one.width * one.height * 4);
          orf_image_free(&many);
        }
        orf_image_free(&one);
      }
      orf_image_free(&src);
      free(rgba);
    }
  }
}

static void test_downscale_copy_when_small(void **state) {
  (void)state;
  uint8_t *rgba = noise_rgba(20, 10, 31, 0);
  orf_image src = make_image(20, 10, rgba);
  src.type = ORF_IMG_WEBP;
  for (uint32_t max = 20; max <= 21; max++) {
    orf_image dst;
    assert_int_equal(orf_image_downscale(&src, max, 1, &dst), ORF_OK);
    assert_int_equal(dst.width, 20);
    assert_int_equal(dst.height, 10);
    assert_int_equal(dst.type, ORF_IMG_WEBP);
    assert_ptr_not_equal(dst.rgba, src.rgba);
    assert_memory_equal(dst.rgba, rgba, 20 * 10 * 4);
    orf_image_free(&dst);
  }
  orf_image dst;
  assert_int_equal(orf_image_downscale(&src, 0, 1, &dst), ORF_EINVAL);
  assert_null(dst.rgba);
  orf_image_free(&src);
  free(rgba);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sniff),
      cmocka_unit_test(test_unsupported_and_empty),
      cmocka_unit_test(test_limits_init),
      cmocka_unit_test(test_png_grey8),
      cmocka_unit_test(test_png_grey_alpha8),
      cmocka_unit_test(test_png_rgb8),
      cmocka_unit_test(test_png_rgba8),
      cmocka_unit_test(test_png_rgb16),
      cmocka_unit_test(test_png_rgba16),
      cmocka_unit_test(test_png_palette),
      cmocka_unit_test(test_jpeg_baseline),
      cmocka_unit_test(test_jpeg_progressive),
      cmocka_unit_test(test_jpeg_grey),
      cmocka_unit_test(test_jpeg_cmyk),
      cmocka_unit_test(test_jpeg_dct_scaling),
      cmocka_unit_test(test_exif_orientation),
      cmocka_unit_test(test_exif_broken_is_ignored),
      cmocka_unit_test(test_webp_lossless),
      cmocka_unit_test(test_webp_lossy),
      cmocka_unit_test(test_webp_lossy_alpha),
      cmocka_unit_test(test_webp_animated_refused),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_png_crc_broken),
      cmocka_unit_test(test_png_bomb),
      cmocka_unit_test(test_jpeg_bomb),
      cmocka_unit_test(test_webp_bomb),
      cmocka_unit_test(test_garbage_after_magic),
      cmocka_unit_test(test_file_size_limit),
      cmocka_unit_test(test_decode_out_of_memory),
      cmocka_unit_test(test_probe),
      cmocka_unit_test(test_downscale_size_and_constant),
      cmocka_unit_test(test_downscale_exact_weights),
      cmocka_unit_test(test_downscale_alpha_weighting),
      cmocka_unit_test(test_downscale_opaque_path),
      cmocka_unit_test(test_downscale_threads),
      cmocka_unit_test(test_downscale_copy_when_small),
  };
  return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
