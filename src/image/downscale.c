/*
 * downscale.c - area-averaging (box filter) image reduction, the "area"
 * resampling of OpenCV's INTER_AREA and of pixel-mixing scalers: each output
 * pixel is the mean of the source area it covers, with exact fractional
 * weights when the ratio is not an integer.
 *
 * Exactness: in units where a source pixel is dst-long and an output pixel
 * src-long, every overlap is an integer, so the weights are integers and all
 * sums are 64-bit integers: the result does not depend on the order of the
 * additions or on floating point, and a constant image stays exactly
 * constant.  The filter is separable: each source row is reduced
 * horizontally once, then rows are accumulated into the output row they
 * overlap (a row across a boundary is split between two output rows).
 *
 * Alpha: colour is averaged weighted by alpha (as premultiplied-alpha
 * resampling does), so a transparent pixel's colour does not bleed into its
 * neighbours; where an output pixel is fully transparent its colour is the
 * plain average, so that colour stays defined.
 *
 * Opaque images (every alpha 255: photographs, most logos) take a path
 * with the plain sums only, three per pixel instead of seven.  Its bytes
 * are the general path's: there the colour is round(255 S / 255 T) and
 * the alpha round(255 T / T), which are round(S / T) and 255 (with T odd
 * the two roundings of a half differ only for a numerator S that no
 * integer reaches).  A 1024x1024 PNG to the first stage's 160 px: 7.4 ms
 * before, measured on 2 loaded cores; see BENCHMARKS.md (issue 12).
 */
#include <stdatomic.h>
#include <string.h>

#include "alloc.h"
#include "image.h"
#include "parallel.h"

/* The source range of each output index along one axis, and the weight of
 * each source index in it. */
typedef struct axis {
  uint32_t *first;  /* m: first source index of output i */
  uint32_t *offset; /* m + 1: its weights are weight[offset[i] .. offset[i+1]) */
  uint64_t *weight; /* <= n + m overlaps, in units where the total is n */
} axis;

static void axis_free(axis *a) {
  orf_free(a->first);
  orf_free(a->offset);
  orf_free(a->weight);
}

/* Splits n source pixels into m output pixels (m <= n): output i covers
 * [i*n, (i+1)*n) and source j covers [j*m, (j+1)*m). */
static int axis_build(axis *a, uint32_t n, uint32_t m) {
  a->first = orf_malloc_array(m, sizeof *a->first);
  a->offset = orf_malloc_array((size_t)m + 1, sizeof *a->offset);
  a->weight = orf_malloc_array((size_t)n + m, sizeof *a->weight);
  if (!a->first || !a->offset || !a->weight) {
    axis_free(a);
    return ORF_ENOMEM;
  }
  uint32_t k = 0;
  for (uint32_t i = 0; i < m; i++) {
    uint64_t lo = (uint64_t)i * n, hi = (uint64_t)(i + 1) * n;
    uint32_t j0 = (uint32_t)(lo / m), j1 = (uint32_t)((hi - 1) / m);
    a->first[i] = j0;
    a->offset[i] = k;
    for (uint32_t j = j0; j <= j1; j++) {
      uint64_t s = (uint64_t)j * m, e = s + m;
      a->weight[k++] = (e < hi ? e : hi) - (s > lo ? s : lo);
    }
  }
  a->offset[m] = k;
  return ORF_OK;
}

/* Sums kept per output pixel: alpha-weighted colour (3), alpha, plain
 * colour (3); for an opaque image, the plain colour only. */
enum { SUMS = 7, SUMS_OPAQUE = 3 };

/* Whether every one of n RGBA pixels has alpha 255. */
static int all_opaque(const uint8_t *rgba, size_t n) {
  uint8_t all = 255;
  for (size_t i = 0; i < n; i++)
    all &= rgba[4 * i + 3];
  return all == 255;
}

/* Reduces source row `row` (w opaque RGBA pixels) to nw columns of
 * SUMS_OPAQUE plain colour sums. */
static void reduce_row_opaque(const uint8_t *row, const axis *ax, uint32_t nw, uint64_t *out) {
  for (uint32_t xo = 0; xo < nw; xo++, out += SUMS_OPAQUE) {
    uint64_t s0 = 0, s1 = 0, s2 = 0;
    const uint8_t *p = row + (size_t)ax->first[xo] * 4;
    for (uint32_t k = ax->offset[xo]; k < ax->offset[xo + 1]; k++, p += 4) {
      uint64_t wt = ax->weight[k];
      s0 += wt * p[0];
      s1 += wt * p[1];
      s2 += wt * p[2];
    }
    out[0] = s0, out[1] = s1, out[2] = s2;
  }
}

/* Reduces source row `row` (w RGBA pixels) to nw columns of SUMS sums. */
static void reduce_row(const uint8_t *row, const axis *ax, uint32_t nw, uint64_t *out) {
  for (uint32_t xo = 0; xo < nw; xo++, out += SUMS) {
    uint64_t s[SUMS] = {0};
    const uint8_t *p = row + (size_t)ax->first[xo] * 4;
    for (uint32_t k = ax->offset[xo]; k < ax->offset[xo + 1]; k++, p += 4) {
      uint64_t wt = ax->weight[k], wa = wt * p[3];
      s[0] += wa * p[0];
      s[1] += wa * p[1];
      s[2] += wa * p[2];
      s[3] += wa;
      s[4] += wt * p[0];
      s[5] += wt * p[1];
      s[6] += wt * p[2];
    }
    memcpy(out, s, sizeof s);
  }
}

static uint8_t rounded_div(uint64_t num, uint64_t den) { return (uint8_t)((num + den / 2) / den); }

/* Writes output row from the sums of nw columns, total being the sum of the
 * weights of one output pixel. */
static void finish_row(const uint64_t *acc, uint32_t nw, uint64_t total, uint8_t *dst) {
  for (uint32_t x = 0; x < nw; x++, acc += SUMS, dst += 4) {
    uint64_t a = acc[3];
    for (int c = 0; c < 3; c++)
      dst[c] = a ? rounded_div(acc[c], a) : rounded_div(acc[4 + c], total);
    dst[3] = rounded_div(a, total);
  }
}

/* finish_row for the SUMS_OPAQUE sums of an opaque image. */
static void finish_row_opaque(const uint64_t *acc, uint32_t nw, uint64_t total, uint8_t *dst) {
  for (uint32_t x = 0; x < nw; x++, acc += SUMS_OPAQUE, dst += 4) {
    for (int c = 0; c < 3; c++)
      dst[c] = rounded_div(acc[c], total);
    dst[3] = 255;
  }
}

/* The output size: longest side max_side, the other in proportion, rounded,
 * at least 1. */
static uint32_t scaled_side(uint32_t side, uint32_t longest, uint32_t max_side) {
  uint64_t s = ((uint64_t)side * max_side + longest / 2) / longest;
  return s ? (uint32_t)s : 1;
}

/* One worker's share of the output rows (orf_parallel_for). */
typedef struct rows_ctx {
  const orf_image *src;
  const axis *ax, *ay;
  uint32_t nw;
  int opaque;
  atomic_int failed; /* a worker could not have its scratch */
  uint8_t *out;
} rows_ctx;

/* Output rows [begin, end): each source row they overlap is reduced
 * horizontally once (a row across a boundary between two workers' ranges
 * is reduced by both, with the same sums), then accumulated into the
 * output row, whose bytes depend on nothing else. */
static void rows(void *arg, size_t begin, size_t end, int worker) {
  (void)worker;
  rows_ctx *c = arg;
  const orf_image *src = c->src;
  uint32_t w = src->width, nw = c->nw;
  size_t n = (size_t)nw * (c->opaque ? SUMS_OPAQUE : SUMS);
  uint64_t *hrow = orf_malloc_array(n, sizeof *hrow), *acc = orf_malloc_array(n, sizeof *acc);
  if (!hrow || !acc) {
    atomic_store(&c->failed, 1);
    orf_free(hrow);
    orf_free(acc);
    return;
  }
  uint32_t reduced = UINT32_MAX; /* the source row now in hrow */
  for (uint32_t yo = (uint32_t)begin; yo < end; yo++) {
    memset(acc, 0, n * sizeof *acc);
    uint32_t sy = c->ay->first[yo];
    for (uint32_t k = c->ay->offset[yo]; k < c->ay->offset[yo + 1]; k++, sy++) {
      if (sy != reduced) {
        const uint8_t *row = src->rgba + (size_t)sy * w * 4;
        if (c->opaque)
          reduce_row_opaque(row, c->ax, nw, hrow);
        else
          reduce_row(row, c->ax, nw, hrow);
        reduced = sy;
      }
      uint64_t wy = c->ay->weight[k];
      for (size_t i = 0; i < n; i++)
        acc[i] += wy * hrow[i];
    }
    uint64_t total = (uint64_t)w * src->height;
    if (c->opaque)
      finish_row_opaque(acc, nw, total, c->out + (size_t)yo * nw * 4);
    else
      finish_row(acc, nw, total, c->out + (size_t)yo * nw * 4);
  }
  orf_free(hrow);
  orf_free(acc);
}

/* The fewest output rows a worker takes (a chosen bound, not a measured
 * one: a thumbnail of a few rows stays on the calling thread). */
#define ROWS_PER_THREAD 32

/* See image.h.  Returns ORF_EINVAL for an empty src or max_side 0,
 * ORF_ENOMEM; on error *dst is zeroed.  dst gets src's type, has_alpha and
 * source size; its pixels are orf_malloc'd (free with orf_image_free()).
 * The output rows are shared among `threads` workers: a 1024x1024 PNG to
 * the first stage's 160 px took 43M instructions on one thread, most of
 * the 3.5-5 ms between its decode and its mask. */
int orf_image_downscale(const orf_image *src, uint32_t max_side, int threads, orf_image *dst) {
  memset(dst, 0, sizeof *dst);
  uint32_t w = src->width, h = src->height;
  if (!src->rgba || w == 0 || h == 0 || max_side == 0) return ORF_EINVAL;
  /* sums reach w*h*255*255: refuse sizes no decoder can produce */
  if ((uint64_t)w * h > UINT64_MAX / (255 * 255 * 2)) return ORF_EINVAL;
  uint32_t longest = w > h ? w : h;
  uint32_t nw = w, nh = h;
  if (longest > max_side) {
    nw = scaled_side(w, longest, max_side);
    nh = scaled_side(h, longest, max_side);
  }
  uint8_t *out = orf_malloc_array((size_t)nw * nh, 4);
  if (!out) return ORF_ENOMEM;
  if (nw == w && nh == h) {
    memcpy(out, src->rgba, (size_t)w * h * 4);
  } else {
    axis ax = {0}, ay = {0};
    int rc = axis_build(&ax, w, nw);
    if (rc == ORF_OK) {
      rc = axis_build(&ay, h, nh);
      if (rc != ORF_OK) axis_free(&ax);
    }
    if (rc != ORF_OK) {
      orf_free(out);
      return rc;
    }
    rows_ctx c = {src, &ax, &ay, nw, all_opaque(src->rgba, (size_t)w * h), 0, out};
    orf_parallel_for(threads, nh, ROWS_PER_THREAD, rows, &c);
    axis_free(&ax);
    axis_free(&ay);
    if (atomic_load(&c.failed)) {
      orf_free(out);
      return ORF_ENOMEM;
    }
  }
  dst->width = nw;
  dst->height = nh;
  dst->rgba = out;
  dst->has_alpha = src->has_alpha;
  dst->type = src->type;
  dst->source_width = src->source_width;
  dst->source_height = src->source_height;
  return ORF_OK;
}
