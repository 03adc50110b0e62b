/*
 * testutil.c - synthetic test images as real encoded files (see testutil.h).
 * Encoders are the same Debian libraries the engine decodes with.
 */
#include "testutil.h"

#include <math.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <webp/encode.h>

static uint8_t *png_encode(struct spng_ihdr *ihdr, const uint8_t *pixels, size_t len, const uint8_t *palette,
                           int n_palette, const uint8_t *trns, size_t *size) {
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  if (!ctx) return NULL;
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_set_ihdr(ctx, ihdr);
  if (palette) {
    struct spng_plte plte = {.n_entries = (uint32_t)n_palette};
    for (int i = 0; i < n_palette; i++) {
      plte.entries[i].red = palette[3 * i];
      plte.entries[i].green = palette[3 * i + 1];
      plte.entries[i].blue = palette[3 * i + 2];
    }
    spng_set_plte(ctx, &plte);
    if (trns) {
      struct spng_trns t = {.n_type3_entries = (uint32_t)n_palette};
      memcpy(t.type3_alpha, trns, (size_t)n_palette);
      spng_set_trns(ctx, &t);
    }
  }
  uint8_t *out = NULL;
  /* SPNG_FMT_RAW: 16-bit samples big-endian, as PNG stores them */
  if (spng_encode_image(ctx, pixels, len, SPNG_FMT_RAW, SPNG_ENCODE_FINALIZE) == 0) {
    int err = 0;
    out = spng_get_png_buffer(ctx, size, &err);
    if (err) out = NULL;
  }
  spng_ctx_free(ctx);
  return out;
}

uint8_t *tu_png(const uint8_t *pixels, uint32_t w, uint32_t h, int channels, int bit_depth, size_t *size) {
  static const uint8_t types[5] = {0, SPNG_COLOR_TYPE_GRAYSCALE, SPNG_COLOR_TYPE_GRAYSCALE_ALPHA,
                                   SPNG_COLOR_TYPE_TRUECOLOR, SPNG_COLOR_TYPE_TRUECOLOR_ALPHA};
  struct spng_ihdr ihdr = {
      .width = w, .height = h, .bit_depth = (uint8_t)bit_depth, .color_type = types[channels]};
  size_t len = (size_t)w * h * (size_t)channels * (size_t)(bit_depth / 8);
  return png_encode(&ihdr, pixels, len, NULL, 0, NULL, size);
}

uint8_t *tu_png_palette(const uint8_t *indices, uint32_t w, uint32_t h, const uint8_t *palette, int n_palette,
                        const uint8_t *trns, size_t *size) {
  struct spng_ihdr ihdr = {.width = w, .height = h, .bit_depth = 8, .color_type = SPNG_COLOR_TYPE_INDEXED};
  return png_encode(&ihdr, indices, (size_t)w * h, palette, n_palette, trns, size);
}

uint8_t *tu_jpeg(const uint8_t *rgb, uint32_t w, uint32_t h, int quality, int progressive, size_t *size) {
  tjhandle tj = tjInitCompress();
  if (!tj) return NULL;
  unsigned char *jpg = NULL;
  unsigned long len = 0;
  int flags = TJFLAG_ACCURATEDCT | (progressive ? TJFLAG_PROGRESSIVE : 0);
  int rc = tjCompress2(tj, rgb, (int)w, 0, (int)h, TJPF_RGB, &jpg, &len, TJSAMP_420, quality, flags);
  tjDestroy(tj);
  if (rc != 0) {
    tjFree(jpg);
    return NULL;
  }
  uint8_t *out = malloc(len);
  if (out) memcpy(out, jpg, len);
  tjFree(jpg);
  *size = len;
  return out;
}

uint8_t *tu_webp(const uint8_t *rgba, uint32_t w, uint32_t h, int lossless, size_t *size) {
  uint8_t *enc = NULL;
  size_t len = lossless ? WebPEncodeLosslessRGBA(rgba, (int)w, (int)h, (int)w * 4, &enc)
                        : WebPEncodeRGBA(rgba, (int)w, (int)h, (int)w * 4, 90.0f, &enc);
  if (!len) return NULL;
  uint8_t *out = malloc(len);
  if (out) memcpy(out, enc, len);
  WebPFree(enc);
  *size = len;
  return out;
}

uint8_t *tu_discs_rgba(uint32_t w, uint32_t h, const float *discs, int n, float hole_r, const uint8_t fg[3],
                       const uint8_t bg[3], uint8_t alpha_bg) {
  uint8_t *p = malloc((size_t)w * h * 4);
  if (!p) return NULL;
  for (uint32_t y = 0; y < h; y++) {
    for (uint32_t x = 0; x < w; x++) {
      int in = 0;
      float px = (float)x + 0.5f, py = (float)y + 0.5f;
      for (int i = 0; i < n; i++) {
        float dx = px - discs[3 * i], dy = py - discs[3 * i + 1], d2 = dx * dx + dy * dy;
        float r = discs[3 * i + 2];
        if (d2 <= r * r && !(hole_r > 0 && d2 <= hole_r * hole_r)) in = 1;
      }
      uint8_t *q = p + ((size_t)y * w + x) * 4;
      const uint8_t *c = in ? fg : bg;
      q[0] = c[0];
      q[1] = c[1];
      q[2] = c[2];
      q[3] = in ? 255 : alpha_bg;
    }
  }
  return p;
}

uint8_t *tu_discs_png(uint32_t w, uint32_t h, const float *discs, int n, float hole_r, const uint8_t fg[3],
                      const uint8_t bg[3], size_t *size) {
  uint8_t *rgba = tu_discs_rgba(w, h, discs, n, hole_r, fg, bg, 255);
  uint8_t *rgb = rgba ? tu_rgba_to_rgb(rgba, w, h) : NULL;
  uint8_t *png = rgb ? tu_png(rgb, w, h, 3, 8, size) : NULL;
  free(rgba);
  free(rgb);
  return png;
}

uint8_t *tu_photo_rgb(uint32_t n) {
  uint8_t *rgb = malloc((size_t)n * n * 3);
  if (!rgb) return NULL;
  uint32_t seed = 12345;
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++) {
      float u = ((float)x - n * 0.5f) / (n * 0.3f), v = ((float)y - n * 0.55f) / (n * 0.35f);
      float d = u * u + v * v + 0.3f * sinf(5 * atan2f(v, u)) * (u * u + v * v);
      seed = seed * 1664525u + 1013904223u;
      int noise = (int)(seed >> 28) - 8;
      uint8_t *p = rgb + 3 * ((size_t)y * n + x);
      if (d < 1) {
        float shade = 0.5f + 0.5f * (1 - d) - 0.2f * v;
        p[0] = (uint8_t)fminf(255, 60 + 150 * shade);
        p[1] = (uint8_t)fminf(255, 90 + 80 * shade + 20 * sinf((float)x * 0.2f));
        p[2] = (uint8_t)fminf(255, 40 + 60 * shade);
      } else {
        p[0] = p[1] = p[2] = (uint8_t)(235 + noise);
      }
    }
  return rgb;
}

uint8_t *tu_photo_jpeg(uint32_t n, size_t *size) {
  uint8_t *rgb = tu_photo_rgb(n);
  uint8_t *jpg = rgb ? tu_jpeg(rgb, n, n, 90, 0, size) : NULL;
  free(rgb);
  return jpg;
}

uint8_t *tu_photo_png(uint32_t n, size_t *size) {
  uint8_t *rgb = tu_photo_rgb(n);
  uint8_t *png = rgb ? tu_png(rgb, n, n, 3, 8, size) : NULL;
  free(rgb);
  return png;
}

uint8_t *tu_rgba_to_rgb(const uint8_t *rgba, uint32_t w, uint32_t h) {
  size_t n = (size_t)w * h;
  uint8_t *p = malloc(n * 3);
  if (!p) return NULL;
  for (size_t i = 0; i < n; i++)
    memcpy(p + 3 * i, rgba + 4 * i, 3);
  return p;
}

int tu_write_file(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t n = fwrite(data, 1, size, f);
  return (fclose(f) == 0 && n == size) ? 0 : -1;
}

uint8_t *tu_read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  if (p) {
    p[n] = 0; /* text files can be read as strings */
    *size = (size_t)n;
  }
  return p;
}

uint8_t *tu_webp_animated(const uint8_t *rgba, uint32_t w, uint32_t h, size_t *size) {
  size_t n;
  uint8_t *still = tu_webp(rgba, w, h, 1, &n);
  if (!still || n < 12 || memcmp(still + 12, "VP8L", 4) != 0) {
    free(still);
    return NULL;
  }
  size_t vp8l = n - 12; /* the VP8L chunk with its header */
  size_t anmf_payload = 16 + vp8l;
  size_t total = 12 + (8 + 10) + (8 + 6) + (8 + anmf_payload);
  uint8_t *f = calloc(1, total);
  if (!f) {
    free(still);
    return NULL;
  }
  uint8_t *p = f;
#define LE32(v)                                                                                              \
  (p[0] = (uint8_t)(v), p[1] = (uint8_t)((v) >> 8), p[2] = (uint8_t)((v) >> 16),                             \
   p[3] = (uint8_t)((v) >> 24), p += 4)
#define LE24(q, v) ((q)[0] = (uint8_t)(v), (q)[1] = (uint8_t)((v) >> 8), (q)[2] = (uint8_t)((v) >> 16))
  memcpy(p, "RIFF", 4), p += 4;
  LE32(total - 8);
  memcpy(p, "WEBP", 4), p += 4;
  memcpy(p, "VP8X", 4), p += 4;
  LE32(10);
  p[0] = 0x02;        /* animation */
  LE24(p + 4, w - 1); /* canvas width - 1 */
  LE24(p + 7, h - 1); /* canvas height - 1 */
  p += 10;
  memcpy(p, "ANIM", 4), p += 4;
  LE32(6);
  p += 6;
  memcpy(p, "ANMF", 4), p += 4;
  LE32(anmf_payload);
  LE24(p + 6, w - 1); /* frame width - 1 */
  LE24(p + 9, h - 1); /* frame height - 1 */
  p[12] = 100;        /* duration */
  p += 16;
  memcpy(p, still + 12, vp8l);
#undef LE32
#undef LE24
  free(still);
  *size = total;
  return f;
}


int tu_gltf_validate(const char *const *files, int n) {
  char validator[512] = "build/tools/gltf-validator/validate.js";
  const char *bin = getenv("ORFEAS_BIN");
  if (bin && strrchr(bin, '/'))
    snprintf(validator, sizeof validator, "%.*s/tools/gltf-validator/validate.js",
             (int)(strrchr(bin, '/') - bin), bin);
  if (access(validator, R_OK)) {
    printf("    the glTF validator is not installed at %s (make test installs it)\n", validator);
    return -1;
  }
  char cmd[4096];
  int at = snprintf(cmd, sizeof cmd, "timeout 120 node %s", validator);
  for (int i = 0; i < n; i++)
    at += snprintf(cmd + at, sizeof cmd - (size_t)at, " %s", files[i]);
  snprintf(cmd + at, sizeof cmd - (size_t)at, " 2>&1");
  FILE *f = popen(cmd, "r");
  if (!f) return -1;
  char line[1024];
  int clean = 0;
  while (fgets(line, sizeof line, f)) {
    printf("    %s", line);
    clean += strstr(line, ": errors=0 warnings=0") != NULL;
  }
  return pclose(f) == 0 || clean < n ? clean : -1;
}
