/*
 * imagefield.c - brightness, blur and sampling of image fields (see
 * imagefield.h).  Written by hand: the engine has no image-processing
 * library, and each step is a few lines (a Gaussian kernel, two passes).
 */
#include "imagefield.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "orfeas.h"
#include "parallel.h"

typedef struct bright_job {
  const orf_image *img;
  int linear;
  float *out;
  float lut[256]; /* sRGB code value -> linear light */
} bright_job;

static void bright_rows(void *ctx, size_t y0, size_t y1, int worker) {
  (void)worker;
  const bright_job *b = ctx;
  uint32_t w = b->img->width;
  for (size_t y = y0; y < y1; y++) {
    for (uint32_t x = 0; x < w; x++) {
      const uint8_t *p = b->img->rgba + 4 * (y * w + x);
      float a = p[3] / 255.0f, c[3];
      for (int k = 0; k < 3; k++) /* over white */
        c[k] = b->linear ? b->lut[p[k]] * a + (1 - a) : (p[k] / 255.0f) * a + (1 - a);
      float v = 0.2126f * c[0] + 0.7152f * c[1] + 0.0722f * c[2];
      b->out[y * w + x] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
}

void orf_field_brightness(const orf_image *img, int linear, int threads, float *out) {
  bright_job b = {.img = img, .linear = linear, .out = out};
  for (int i = 0; i < 256; i++) { /* IEC 61966-2-1 */
    double c = i / 255.0;
    b.lut[i] = (float)(c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4));
  }
  orf_parallel_for(threads, img->height, 16, bright_rows, &b);
}

typedef struct blur_job {
  const float *src;
  float *dst;
  uint32_t w, h;
  int r;
  const float *k; /* 2r+1 weights */
} blur_job;

static void blur_h(void *ctx, size_t y0, size_t y1, int worker) {
  (void)worker;
  const blur_job *b = ctx;
  int w = (int)b->w;
  for (size_t y = y0; y < y1; y++) {
    const float *s = b->src + y * b->w;
    float *d = b->dst + y * b->w;
    for (int x = 0; x < w; x++) {
      float acc = 0;
      for (int t = -b->r; t <= b->r; t++) {
        int i = x + t;
        i = i < 0 ? 0 : i >= w ? w - 1 : i;
        acc += b->k[t + b->r] * s[i];
      }
      d[x] = acc;
    }
  }
}

static void blur_v(void *ctx, size_t y0, size_t y1, int worker) {
  (void)worker;
  const blur_job *b = ctx;
  int h = (int)b->h;
  for (size_t y = y0; y < y1; y++) {
    float *d = b->dst + y * b->w;
    for (uint32_t x = 0; x < b->w; x++)
      d[x] = 0;
    for (int t = -b->r; t <= b->r; t++) {
      int j = (int)y + t;
      j = j < 0 ? 0 : j >= h ? h - 1 : j;
      const float *s = b->src + (size_t)j * b->w;
      float kw = b->k[t + b->r];
      for (uint32_t x = 0; x < b->w; x++)
        d[x] += kw * s[x];
    }
  }
}

int orf_field_blur(float *v, uint32_t w, uint32_t h, double sigma, int threads) {
  if (sigma < 0.05 || !w || !h) return ORF_OK;
  int r = (int)ceil(3 * sigma);
  float *k = orf_malloc_array((size_t)(2 * r + 1), sizeof(float));
  float *tmp = orf_malloc_array((size_t)w * h, sizeof(float));
  if (!k || !tmp) {
    orf_free(k);
    orf_free(tmp);
    return ORF_ENOMEM;
  }
  double sum = 0;
  for (int t = -r; t <= r; t++)
    sum += exp(-0.5 * t * t / (sigma * sigma));
  for (int t = -r; t <= r; t++)
    k[t + r] = (float)(exp(-0.5 * t * t / (sigma * sigma)) / sum);
  blur_job b = {.src = v, .dst = tmp, .w = w, .h = h, .r = r, .k = k};
  orf_parallel_for(threads, h, 8, blur_h, &b);
  b.src = tmp;
  b.dst = v;
  orf_parallel_for(threads, h, 8, blur_v, &b);
  orf_free(tmp);
  orf_free(k);
  return ORF_OK;
}

/* The two neighbours and the weight of the second, along one axis. */
static inline void axis(double c, uint32_t n, uint32_t *i0, uint32_t *i1, float *t) {
  double f = c - 0.5;
  if (f <= 0) {
    *i0 = *i1 = 0;
    *t = 0;
  } else if (f >= n - 1) {
    *i0 = *i1 = n - 1;
    *t = 0;
  } else {
    *i0 = (uint32_t)f;
    *i1 = *i0 + 1;
    *t = (float)(f - *i0);
  }
}

float orf_field_sample(const float *v, uint32_t w, uint32_t h, double x, double y) {
  uint32_t x0, x1, y0, y1;
  float tx, ty;
  axis(x, w, &x0, &x1, &tx);
  axis(y, h, &y0, &y1, &ty);
  const float *a = v + (size_t)y0 * w, *b = v + (size_t)y1 * w;
  float top = a[x0] + tx * (a[x1] - a[x0]);
  float bot = b[x0] + tx * (b[x1] - b[x0]);
  return top + ty * (bot - top);
}

void orf_field_sample_rgb(const uint8_t *rgb, uint32_t w, uint32_t h, double x, double y, uint8_t out[3]) {
  uint32_t x0, x1, y0, y1;
  float tx, ty;
  axis(x, w, &x0, &x1, &tx);
  axis(y, h, &y0, &y1, &ty);
  const uint8_t *a = rgb + 3 * (size_t)y0 * w, *b = rgb + 3 * (size_t)y1 * w;
  for (int c = 0; c < 3; c++) {
    float top = a[3 * x0 + c] + tx * (a[3 * x1 + c] - a[3 * x0 + c]);
    float bot = b[3 * x0 + c] + tx * (b[3 * x1 + c] - b[3 * x0 + c]);
    out[c] = (uint8_t)lroundf(top + ty * (bot - top));
  }
}
