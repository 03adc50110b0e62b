/*
 * edt.c - exact Euclidean distance transform of a binary image (see edt.h).
 *
 * P. Felzenszwalb and D. Huttenlocher, "Distance Transforms of Sampled
 * Functions", Theory of Computing 8 (2012) 415-428.  The squared distance
 * separates into a 1-D transform along every column followed by a 1-D
 * transform along every row of the column result.  Each 1-D transform is the
 * lower envelope of the parabolas f(p) + (q - p)^2 rooted at the sites p.
 *
 *  - Column pass.  On a binary image the column input is 0 on feature pixels
 *    and +inf elsewhere, so the lower envelope of its parabolas is simply the
 *    squared distance to the nearest feature pixel in the column (F&H's
 *    envelope degenerates to one parabola per feature, each winning up to
 *    the midpoint to the next).  We compute it with one downward and one
 *    upward scan, keeping the row of that nearest feature per pixel (ties:
 *    the upper one).  Scans run row by row over a block of columns so memory
 *    is read in order; workers own disjoint column blocks.
 *  - Row pass.  The sites are the pixels of the row whose column has a
 *    feature, with f = squared column distance.  The envelope is built with
 *    exact integer arithmetic: the intersection test s(q, v_k) <= s(v_k,
 *    v_k-1) of F&H's algorithm is done by cross-multiplication in int64,
 *    and the envelope is then walked by comparing the exact squared distances
 *    of consecutive parabolas, so results never depend on rounding and ties
 *    always resolve the same way (towards the leftmost surviving site).
 *    Workers own disjoint row ranges.
 *
 * The nearest-site index is tracked through both passes: the column pass
 * stores the row of the nearest feature in its column, the row pass combines
 * it with the winning column.  That row array lives in the caller's
 * `nearest` buffer when there is one, so tracking the argmin costs nothing.
 *
 * Exactness bounds: both sides at most 2^20 pixels (numerators <= 2^41,
 * denominators <= 2^21, products < 2^63) and w*h <= INT32_MAX (indices fit
 * int32); larger images are refused with ORF_EINVAL.
 */
#include "edt.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "alloc.h"
#include "orfeas.h"
#include "parallel.h"

#define EDT_MAX_SIDE (1u << 20)
#define COL_BLOCK 64 /* columns per chunk at least, for the column scans */
#define ROW_BLOCK 8  /* rows per chunk at least, for the row pass */

/* What the row pass writes for each pixel. */
typedef enum {
  OUT_PLAIN,   /* dist = distance, INFINITY when there is no feature */
  OUT_INSIDE,  /* only where mask != 0: distance - 0.5, or the frame distance - 0.5 */
  OUT_OUTSIDE, /* only where mask == 0: -(distance - 0.5), -INFINITY when none */
} out_mode;

typedef struct edt_job {
  const uint8_t *mask;
  uint32_t w, h;
  int feat_nonzero; /* features are mask != 0 (else mask == feature) */
  uint8_t feature;
  float *dist;
  int32_t *ny;    /* w*h: row of the nearest feature in the column, -1 none;
                   * overwritten row by row with the final nearest index */
  int32_t *below; /* w: column scan state (disjoint columns per worker) */
  /* per-worker row scratch, w entries each */
  int32_t *row_ny;
  int32_t *sites;
  int64_t *site_f;
  out_mode mode;
} edt_job;

static inline int is_feature(const edt_job *j, uint8_t v) {
  return j->feat_nonzero ? v != 0 : v == j->feature;
}

/* Column pass over the columns [x0, x1). */
static void column_pass(void *ctx, size_t x0, size_t x1, int worker) {
  (void)worker;
  edt_job *j = ctx;
  const size_t w = j->w, h = j->h;
  for (size_t y = 0; y < h; y++) {
    const uint8_t *m = j->mask + y * w;
    int32_t *cur = j->ny + y * w;
    const int32_t *up = y > 0 ? cur - w : NULL;
    for (size_t x = x0; x < x1; x++)
      cur[x] = is_feature(j, m[x]) ? (int32_t)y : (up ? up[x] : -1);
  }
  int32_t *below = j->below;
  for (size_t x = x0; x < x1; x++)
    below[x] = -1;
  for (size_t y = h; y-- > 0;) {
    const uint8_t *m = j->mask + y * w;
    int32_t *cur = j->ny + y * w;
    for (size_t x = x0; x < x1; x++) {
      if (is_feature(j, m[x])) {
        below[x] = (int32_t)y;
        continue;
      }
      int32_t b = below[x], a = cur[x];
      if (b < 0) continue;
      if (a < 0 || (int64_t)b - (int64_t)y < (int64_t)y - a) cur[x] = b;
    }
  }
}

/* True when parabola q (added last) hides parabola p at and beyond the point
 * where p overtakes r (r < p < q): s(q,p) <= s(p,r) with
 * s(a,b) = ((f_a + a^2) - (f_b + b^2)) / (2(a - b)), compared exactly. */
static inline int hides(int64_t q, int64_t fq, int64_t p, int64_t fp, int64_t r, int64_t fr) {
  int64_t n_qp = (fq + q * q) - (fp + p * p), d_qp = q - p;
  int64_t n_pr = (fp + p * p) - (fr + r * r), d_pr = p - r;
  return n_qp * d_pr <= n_pr * d_qp;
}

/* Row pass over the rows [y0, y1). */
static void row_pass(void *ctx, size_t y0, size_t y1, int worker) {
  edt_job *j = ctx;
  const size_t w = j->w, h = j->h;
  const out_mode mode = j->mode;
  int32_t *rny = j->row_ny + (size_t)worker * w;
  int32_t *v = j->sites + (size_t)worker * w;
  int64_t *fv = j->site_f + (size_t)worker * w;
  for (size_t y = y0; y < y1; y++) {
    int32_t *ny = j->ny + y * w;
    memcpy(rny, ny, w * sizeof *rny);
    /* lower envelope of the parabolas of this row's sites */
    size_t k = 0; /* number of parabolas in the envelope */
    for (size_t x = 0; x < w; x++) {
      if (rny[x] < 0) continue;
      int64_t dy = (int64_t)y - rny[x], f = dy * dy, q = (int64_t)x;
      while (k >= 2 && hides(q, f, v[k - 1], fv[k - 1], v[k - 2], fv[k - 2]))
        k--;
      v[k] = (int32_t)x;
      fv[k] = f;
      k++;
    }
    const uint8_t *m = j->mask + y * w;
    float *out = j->dist + y * w;
    size_t e = 0;
    for (size_t x = 0; x < w; x++) {
      int inside = m[x] != 0;
      int write = mode == OUT_PLAIN || (mode == OUT_INSIDE) == inside;
      if (k == 0) { /* no feature anywhere in the image */
        ny[x] = -1;
        if (!write) continue;
        if (mode == OUT_INSIDE) {
          size_t xx = x + 1 < w - x ? x + 1 : w - x, yy = y + 1 < h - y ? y + 1 : h - y;
          out[x] = (float)(xx < yy ? xx : yy) - 0.5f;
        } else {
          out[x] = mode == OUT_PLAIN ? INFINITY : -INFINITY;
        }
        continue;
      }
      int64_t q = (int64_t)x, d0 = q - v[e], best = fv[e] + d0 * d0;
      while (e + 1 < k) {
        int64_t d1 = q - v[e + 1], next = fv[e + 1] + d1 * d1;
        if (next >= best) break;
        best = next;
        e++;
      }
      ny[x] = rny[v[e]] * (int32_t)w + v[e];
      if (!write) continue;
      /* below 2^24 the float square root of the exact integer is already
       * correctly rounded (and faster than the double one) */
      float d = best < (1 << 24) ? sqrtf((float)best) : (float)sqrt((double)best);
      out[x] = mode == OUT_PLAIN ? d : (mode == OUT_INSIDE ? d - 0.5f : 0.5f - d);
    }
  }
}

/* The whole transform; nearest may be NULL (a scratch array is used). */
static int edt_run(const uint8_t *mask, uint32_t w, uint32_t h, int feat_nonzero, uint8_t feature,
                   float *dist, int32_t *nearest, int threads, out_mode mode) {
  if (w == 0 || h == 0) return ORF_OK;
  if (!mask || !dist || w > EDT_MAX_SIDE || h > EDT_MAX_SIDE || (uint64_t)w * h > INT32_MAX)
    return ORF_EINVAL;
  const size_t n = (size_t)w * h;
  int workers = orf_parallel_chunks(threads, h, ROW_BLOCK);
  edt_job j = {.mask = mask,
               .w = w,
               .h = h,
               .feat_nonzero = feat_nonzero,
               .feature = feature,
               .dist = dist,
               .ny = nearest,
               .mode = mode};
  int32_t *own_ny = NULL;
  if (!j.ny) j.ny = own_ny = orf_malloc_array(n, sizeof *own_ny);
  j.below = orf_malloc_array(w, sizeof *j.below);
  j.row_ny = orf_malloc_array((size_t)workers * w, sizeof *j.row_ny);
  j.sites = orf_malloc_array((size_t)workers * w, sizeof *j.sites);
  j.site_f = orf_malloc_array((size_t)workers * w, sizeof *j.site_f);
  int rc = ORF_ENOMEM;
  if (j.ny && j.below && j.row_ny && j.sites && j.site_f) {
    orf_parallel_for(threads, w, COL_BLOCK, column_pass, &j);
    orf_parallel_for(threads, h, ROW_BLOCK, row_pass, &j);
    rc = ORF_OK;
  }
  orf_free(own_ny);
  orf_free(j.below);
  orf_free(j.row_ny);
  orf_free(j.sites);
  orf_free(j.site_f);
  return rc;
}

int orf_edt(const uint8_t *mask, uint32_t w, uint32_t h, uint8_t feature, float *dist, int32_t *nearest,
            int threads) {
  return edt_run(mask, w, h, 0, feature, dist, nearest, threads, OUT_PLAIN);
}

int orf_edt_signed(const uint8_t *mask, uint32_t w, uint32_t h, float *sdf, int threads) {
  /* inside: distance to the nearest background pixel (features: mask == 0) */
  int rc = edt_run(mask, w, h, 0, 0, sdf, NULL, threads, OUT_INSIDE);
  if (rc != ORF_OK) return rc;
  /* outside: distance to the nearest subject pixel (features: mask != 0) */
  return edt_run(mask, w, h, 1, 0, sdf, NULL, threads, OUT_OUTSIDE);
}
