/*
 * mask.c - subject mask from RGBA pixels (see mask.h): alpha thresholding,
 * or background subtraction against a colour model of the image border.
 *
 * Automatic separation, in the spirit of the border-prior ("boundary
 * connectivity") methods of salient-object detection (Wei et al., "Geodesic
 * Saliency Using Background Priors", ECCV 2012; Zhu et al., "Saliency
 * Optimization from Robust Background Detection", CVPR 2014), reduced to
 * what a product photo needs:
 *  1. colour model: the pixels of a band along the frame (1-4 px wide, a
 *     64th of the shorter side) are clustered by k-means (Lloyd) into at
 *     most 3 clusters, seeded deterministically (per-channel median, then
 *     farthest-point).  Colour distance is the low-cost weighted RGB metric
 *     d^2 = (2 dR^2 + 4 dG^2 + 3 dB^2) / 3 on the sRGB values (weights after
 *     T. Riemersma's "colour metric" note; the /3 keeps RGB-Euclidean scale).
 *     A cluster is a background colour when it is the largest, or holds at
 *     least 5% of the band and at least 10% of the band on two or more sides
 *     (so a subject touching one side of the frame is not taken for
 *     background).  Its threshold is 3x the 90th percentile of its members'
 *     distances, clamped to [20, 60].
 *  2. a pixel is background-like when it lies within the threshold of any
 *     background cluster; a 3x3 majority filter removes isolated JPEG noise.
 *  3. the background is the background-like pixels 4-connected to the
 *     frame's outermost ring (flood fill); the subject is 8-connected (the
 *     dual connectivity, so the two never cross diagonally).
 *  4. enclosed background-like regions (4-connected, not reached from the
 *     frame) are holes: kept as background when their area is at least
 *     max(16, 0.1% of the non-background area), else filled (noise).
 *  5. subject components (8-connected) are kept when their area is at least
 *     1% of the largest one and at least max(8, 0.01% of the frame); smaller
 *     ones are specks and dropped.
 * ORF_ENOSUBJECT when the result covers less than 0.1% of the frame, or
 * (automatic separation only) more than 99%.
 *
 * Alpha: usable when the image has an alpha channel and at least 0.5% of the
 * pixels have alpha < 128 (else it is "opaque nearly everywhere").  Then
 * background-like = alpha < 128 and steps 3-5 run unchanged (no majority
 * filter: alpha is exact).  Only the nearly-empty check applies.
 *
 * Per-pixel steps run in parallel over rows with disjoint outputs; the model
 * and the labelling are serial; so the mask is the same for any thread count.
 */
#include "mask.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "components.h"
#include "orfeas.h"
#include "parallel.h"

/* Bits of the working map. */
enum { M_BGLIKE = 1, M_OUTER = 2, M_HOLE_SEEN = 4, M_BG = 8, M_SUBJ_SEEN = 16 };

#define ROWS_MIN 16      /* rows per parallel chunk at least */
#define ALPHA_CUT 128    /* subject where alpha >= this */
#define MATTE_CUT 128    /* subject where a soft matte >= this (one half) */
#define POINT_REACH 50   /* a point reaches a subject pixel within 1/this of the longer side */
#define ALPHA_USABLE 200 /* alpha usable when transparent * this >= pixels (0.5%) */
#define MAX_CLUSTERS 3
#define KMEANS_ITERS 16
#define THR_SPREAD 3.0
#define THR_FLOOR 20.0
#define THR_CAP 60.0
/* Confidence of the colour model (background=auto, see mask.h). */
#define CONF_SPREAD 10.0  /* every background cluster's 90th-percentile distance at most this */
#define CONF_COVERED 0.75 /* at least this fraction of the band is background */
#define CONF_WEAK 0.25    /* at most this fraction of the subject within 2x a threshold */

typedef struct bg_model {
  int k;                     /* background clusters */
  int c[MAX_CLUSTERS][3];    /* centres, sRGB */
  uint32_t t2[MAX_CLUSTERS]; /* thresholds in cdist2 units */
  double spread;             /* largest 90th-percentile distance of a background cluster */
  double covered;            /* fraction of the band within a background cluster's threshold */
} bg_model;

/* Weighted squared colour distance, 3x the RGB-equivalent squared distance. */
static inline uint32_t cdist2(const uint8_t *p, const int *c) {
  int dr = p[0] - c[0], dg = p[1] - c[1], db = p[2] - c[2];
  return (uint32_t)(2 * dr * dr + 4 * dg * dg + 3 * db * db);
}

static uint32_t thr_to_d2(double thr) { return (uint32_t)(3.0 * thr * thr + 0.5); }

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

/* Index of the nearest of k centres (ties: the first). */
static int nearest_centre(const uint8_t *p, int c[][3], int k, uint32_t *d2) {
  int best = 0;
  uint32_t bd = cdist2(p, c[0]);
  for (int i = 1; i < k; i++) {
    uint32_t d = cdist2(p, c[i]);
    if (d < bd) bd = d, best = i;
  }
  if (d2) *d2 = bd;
  return best;
}

/* The border band's pixels: colours (3 bytes each) and the sides they lie
 * on (bit 0 top, 1 bottom, 2 left, 3 right). */
typedef struct band {
  size_t n;
  uint8_t *rgb, *sides, *cl;
  uint32_t *d2;
} band;

static int band_collect(const orf_image *img, band *b) {
  const uint32_t w = img->width, h = img->height;
  uint32_t s = w < h ? w : h, bw = s / 64;
  if (bw < 1) bw = 1;
  if (bw > 4) bw = 4;
  for (int pass = 0; pass < 2; pass++) {
    b->n = 0;
    for (uint32_t y = 0; y < h; y++) {
      int row_band = y < bw || y >= h - bw;
      for (uint32_t x = 0; x < w; x++) {
        if (!row_band && x == bw && w > 2 * bw) x = w - bw; /* skip the interior */
        uint8_t sides = (uint8_t)((y < bw) | (y >= h - bw) << 1 | (x < bw) << 2 | (x >= w - bw) << 3);
        if (!sides) continue;
        if (pass == 1) {
          memcpy(b->rgb + 3 * b->n, img->rgba + 4 * ((size_t)y * w + x), 3);
          b->sides[b->n] = sides;
        }
        b->n++;
      }
    }
    if (pass == 0) {
      b->rgb = orf_malloc_array(b->n, 3);
      b->sides = orf_malloc(b->n);
      b->cl = orf_malloc(b->n);
      b->d2 = orf_malloc_array(b->n, sizeof *b->d2);
      if (!b->rgb || !b->sides || !b->cl || !b->d2) return ORF_ENOMEM;
    }
  }
  return ORF_OK;
}

static void band_free(band *b) {
  orf_free(b->rgb);
  orf_free(b->sides);
  orf_free(b->cl);
  orf_free(b->d2);
}

/* Deterministic seeds: the per-channel median, then farthest points while
 * they are farther than the threshold floor.  Returns the seed count. */
static int kmeans_seed(const band *b, int c[][3]) {
  for (int ch = 0; ch < 3; ch++) {
    size_t hist[256] = {0}, acc = 0;
    for (size_t i = 0; i < b->n; i++)
      hist[b->rgb[3 * i + ch]]++;
    int v = 0;
    while (v < 255 && (acc += hist[v]) * 2 < b->n)
      v++;
    c[0][ch] = v;
  }
  int k = 1;
  while (k < MAX_CLUSTERS) {
    uint32_t far = 0;
    size_t arg = 0;
    for (size_t i = 0; i < b->n; i++) {
      uint32_t d;
      nearest_centre(b->rgb + 3 * i, c, k, &d);
      if (d > far) far = d, arg = i;
    }
    if (far <= thr_to_d2(THR_FLOOR)) break;
    for (int ch = 0; ch < 3; ch++)
      c[k][ch] = b->rgb[3 * arg + ch];
    k++;
  }
  return k;
}

/* Lloyd iterations; drops clusters that go empty.  Leaves b->cl and b->d2
 * (assignment and squared distance) for the final centres. */
static int kmeans(band *b, int c[][3], int k) {
  for (int it = 0; it <= KMEANS_ITERS; it++) {
    uint64_t sum[MAX_CLUSTERS][3] = {{0}};
    size_t cnt[MAX_CLUSTERS] = {0};
    for (size_t i = 0; i < b->n; i++) {
      int j = nearest_centre(b->rgb + 3 * i, c, k, &b->d2[i]);
      b->cl[i] = (uint8_t)j;
      cnt[j]++;
      for (int ch = 0; ch < 3; ch++)
        sum[j][ch] += b->rgb[3 * i + ch];
    }
    if (it == KMEANS_ITERS) break;
    int moved = 0, kk = 0;
    for (int j = 0; j < k; j++) {
      if (!cnt[j]) {
        moved = 1;
        continue;
      }
      for (int ch = 0; ch < 3; ch++) {
        int v = (int)((sum[j][ch] + cnt[j] / 2) / cnt[j]);
        moved |= v != c[j][ch];
        c[kk][ch] = v;
      }
      kk++;
    }
    k = kk;
    if (!moved) break;
  }
  return k;
}

/* The model from the clustered band: which clusters are background, and
 * their thresholds.  tmp: b->n scratch entries. */
static void model_select(const band *b, int c[][3], int k, uint32_t *tmp, bg_model *bm) {
  size_t cnt[MAX_CLUSTERS] = {0}, side_cnt[MAX_CLUSTERS][4] = {{0}}, side_tot[4] = {0};
  for (size_t i = 0; i < b->n; i++) {
    cnt[b->cl[i]]++;
    for (int s = 0; s < 4; s++) {
      int on = (b->sides[i] >> s) & 1;
      side_tot[s] += (size_t)on;
      side_cnt[b->cl[i]][s] += (size_t)on;
    }
  }
  int largest = 0;
  for (int j = 1; j < k; j++)
    if (cnt[j] > cnt[largest]) largest = j;
  bm->k = 0;
  bm->spread = 0;
  for (int j = 0; j < k; j++) {
    int sides = 0;
    for (int s = 0; s < 4; s++)
      sides += side_tot[s] && side_cnt[j][s] * 10 >= side_tot[s];
    if (j != largest && (cnt[j] * 20 < b->n || sides < 2)) continue;
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++)
      if (b->cl[i] == j) tmp[m++] = b->d2[i];
    qsort(tmp, m, sizeof *tmp, cmp_u32);
    double p90 = sqrt(tmp[(m - 1) * 9 / 10] / 3.0), thr = THR_SPREAD * p90;
    thr = thr < THR_FLOOR ? THR_FLOOR : (thr > THR_CAP ? THR_CAP : thr);
    if (p90 > bm->spread) bm->spread = p90;
    memcpy(bm->c[bm->k], c[j], sizeof c[j]);
    bm->t2[bm->k++] = thr_to_d2(thr);
  }
  size_t in = 0;
  for (size_t i = 0; i < b->n; i++) {
    int like = 0;
    for (int c2 = 0; c2 < bm->k && !like; c2++)
      like = cdist2(b->rgb + 3 * i, bm->c[c2]) <= bm->t2[c2];
    in += (size_t)like;
  }
  bm->covered = b->n ? (double)in / (double)b->n : 0;
}

/* Builds the background colour model from the border band. */
static int model_build(const orf_image *img, bg_model *bm) {
  band b = {0};
  int rc = band_collect(img, &b);
  uint32_t *tmp = rc == ORF_OK ? orf_malloc_array(b.n, sizeof *tmp) : NULL;
  if (tmp) {
    int c[MAX_CLUSTERS][3];
    int k = kmeans(&b, c, kmeans_seed(&b, c));
    model_select(&b, c, k, tmp, bm);
  } else {
    rc = ORF_ENOMEM;
  }
  orf_free(tmp);
  band_free(&b);
  return rc;
}

typedef struct pix_job {
  const orf_image *img;
  const bg_model *bm;
  const uint8_t *src;
  uint8_t *dst;
} pix_job;

/* dst = M_BGLIKE where alpha < ALPHA_CUT. */
static void alpha_rows(void *ctx, size_t y0, size_t y1, int worker) {
  (void)worker;
  pix_job *j = ctx;
  const size_t w = j->img->width;
  for (size_t i = y0 * w; i < y1 * w; i++)
    j->dst[i] = j->img->rgba[4 * i + 3] < ALPHA_CUT ? M_BGLIKE : 0;
}

/* dst = 1 where the colour is within the threshold of a background cluster. */
static void classify_rows(void *ctx, size_t y0, size_t y1, int worker) {
  (void)worker;
  pix_job *j = ctx;
  const size_t w = j->img->width;
  const bg_model *bm = j->bm;
  for (size_t i = y0 * w; i < y1 * w; i++) {
    const uint8_t *p = j->img->rgba + 4 * i;
    uint8_t like = 0;
    for (int c = 0; c < bm->k && !like; c++)
      like = cdist2(p, bm->c[c]) <= bm->t2[c];
    j->dst[i] = like;
  }
}

/* 3x3 majority of src (0/1) into dst (M_BGLIKE or 0); pixels outside the
 * frame do not vote, a tie keeps the centre's value.  Column sums of the
 * 3 rows slide along the row. */
static void majority_rows(void *ctx, size_t y0, size_t y1, int worker) {
  (void)worker;
  pix_job *j = ctx;
  const size_t w = j->img->width, h = j->img->height;
  for (size_t y = y0; y < y1; y++) {
    const uint8_t *r = j->src + y * w;
    const uint8_t *a = y > 0 ? r - w : NULL, *b = y + 1 < h ? r + w : NULL;
    const int rows = 1 + (a != NULL) + (b != NULL);
    uint8_t *out = j->dst + y * w;
#define COLSUM(x) (r[x] + (a ? a[x] : 0) + (b ? b[x] : 0))
    int prev = 0, cur = COLSUM(0);
    for (size_t x = 0; x < w; x++) {
      int next = x + 1 < w ? COLSUM(x + 1) : 0;
      int cols = 1 + (x > 0) + (x + 1 < w), ones = prev + cur + next, all = rows * cols;
      out[x] = (2 * ones > all || (2 * ones == all && r[x])) ? M_BGLIKE : 0;
      prev = cur;
      cur = next;
    }
#undef COLSUM
  }
}

/* Steps 3-5 on the working map m (M_BGLIKE set): the final mask into data
 * (0/1) and its area. */
static int separate(uint8_t *m, uint32_t w, uint32_t h, uint32_t *pix, orf__comp_list *cl, uint8_t *data,
                    size_t *area) {
  const size_t n = (size_t)w * h;
  /* 3: background = background-like pixels 4-connected to the frame */
  int rc = orf__components_label(m, w, h, M_BGLIKE, M_BGLIKE, M_OUTER, 0, 1, pix, cl);
  if (rc != ORF_OK) return rc;
  size_t outer = 0;
  for (size_t i = 0; i < cl->count; i++)
    outer += cl->items[i].size;
  /* 4: enclosed background-like regions: holes when big enough */
  size_t hole_min = (n - outer) / 1000 > 16 ? (n - outer) / 1000 : 16;
  rc = orf__components_label(m, w, h, M_BGLIKE | M_OUTER, M_BGLIKE, M_HOLE_SEEN, 0, 0, pix, cl);
  if (rc != ORF_OK) return rc;
  for (size_t i = 0; i < cl->count; i++) {
    const orf__comp *c = &cl->items[i];
    if (c->size < hole_min) continue;
    for (size_t k = c->start; k < (size_t)c->start + c->size; k++)
      m[pix[k]] |= M_BG;
  }
  /* 5: subject components, specks dropped */
  rc = orf__components_label(m, w, h, M_OUTER | M_BG, 0, M_SUBJ_SEEN, 1, 0, pix, cl);
  if (rc != ORF_OK) return rc;
  size_t largest = 0;
  for (size_t i = 0; i < cl->count; i++)
    if (cl->items[i].size > largest) largest = cl->items[i].size;
  size_t keep = (largest + 99) / 100, speck = n / 10000 > 8 ? n / 10000 : 8;
  if (keep < speck) keep = speck;
  memset(data, 0, n);
  *area = 0;
  for (size_t i = 0; i < cl->count; i++) {
    const orf__comp *c = &cl->items[i];
    if (c->size < keep) continue;
    for (size_t k = c->start; k < (size_t)c->start + c->size; k++)
      data[pix[k]] = 1;
    *area += c->size;
  }
  return ORF_OK;
}

/* Whether the colour model separated img cleanly (mask.h): a uniform
 * border (every background cluster's spread at most CONF_SPREAD), mostly
 * background (CONF_COVERED of the band), and a subject that stands out
 * (at most CONF_WEAK of its pixels within twice a threshold of a
 * background colour). */
static int model_confident(const orf_image *img, const bg_model *bm, const uint8_t *data, size_t area) {
  if (bm->k == 0 || bm->spread > CONF_SPREAD || bm->covered < CONF_COVERED) return 0;
  const size_t n = (size_t)img->width * img->height;
  size_t weak = 0;
  for (size_t i = 0; i < n; i++) {
    if (!data[i]) continue;
    int near = 0;
    for (int c = 0; c < bm->k && !near; c++)
      near = cdist2(img->rgba + 4 * i, bm->c[c]) <= 4 * bm->t2[c];
    weak += (size_t)near;
  }
  return (double)weak <= CONF_WEAK * (double)area;
}

/* Alpha is usable when the file has it and it is not opaque nearly
 * everywhere: at least 0.5% of the pixels with alpha < 128. */
static int alpha_usable(const orf_image *img) {
  if (!img->has_alpha) return 0;
  size_t n = (size_t)img->width * img->height, clear = 0;
  for (size_t i = 0; i < n; i++)
    clear += img->rgba[4 * i + 3] < ALPHA_CUT;
  return clear * ALPHA_USABLE >= n;
}

int orf_mask_build(const orf_image *img, orf_background bg, int threads, orf_mask *out) {
  if (!out) return ORF_EINVAL;
  memset(out, 0, sizeof *out);
  if (!img || !img->rgba || !img->width || !img->height || (uint64_t)img->width * img->height > UINT32_MAX ||
      (bg != ORF_BG_AUTO && bg != ORF_BG_ALPHA && bg != ORF_BG_NONE && bg != ORF_BG_COLOR))
    return ORF_EINVAL;
  const uint32_t w = img->width, h = img->height;
  const size_t n = (size_t)w * h;
  int use_alpha = (bg == ORF_BG_AUTO || bg == ORF_BG_ALPHA) && alpha_usable(img);
  if (bg == ORF_BG_ALPHA && !use_alpha) return ORF_ENOALPHA;
  uint8_t *data = orf_malloc(n);
  if (!data) return ORF_ENOMEM;
  if (bg == ORF_BG_NONE) {
    memset(data, 1, n);
    *out = (orf_mask){w, h, data, n, ORF_MASK_FRAME, 1};
    return ORF_OK;
  }
  uint8_t *m = orf_malloc(n);
  uint32_t *pix = orf_malloc_array(n, sizeof *pix);
  orf__comp_list cl = {0};
  pix_job job = {.img = img, .dst = m};
  size_t area = 0;
  int rc = ORF_ENOMEM;
  if (!m || !pix) goto out_free;
  bg_model bm = {0};
  if (use_alpha) {
    orf_parallel_for(threads, h, ROWS_MIN, alpha_rows, &job);
  } else {
    rc = model_build(img, &bm);
    if (rc != ORF_OK) goto out_free;
    /* raw classification into data (free until the end), majority into m */
    job = (pix_job){.img = img, .bm = &bm, .dst = data};
    orf_parallel_for(threads, h, ROWS_MIN, classify_rows, &job);
    job = (pix_job){.img = img, .src = data, .dst = m};
    orf_parallel_for(threads, h, ROWS_MIN, majority_rows, &job);
  }
  rc = separate(m, w, h, pix, &cl, data, &area);
  if (rc != ORF_OK) goto out_free;
  if (area * 1000 < n || (!use_alpha && area * 100 > n * 99)) {
    rc = ORF_ENOSUBJECT;
    goto out_free;
  }
  *out = (orf_mask){w, h, data, area, use_alpha ? ORF_MASK_FROM_ALPHA : ORF_MASK_FROM_BACKGROUND, 1};
  if (!use_alpha) out->confident = model_confident(img, &bm, data, area);
  data = NULL;
out_free:
  orf__comp_list_free(&cl);
  orf_free(pix);
  orf_free(m);
  orf_free(data);
  return rc;
}

void orf_mask_free(orf_mask *m) {
  if (!m) return;
  orf_free(m->data);
  memset(m, 0, sizeof *m);
}

int orf_mask_bounds(const uint8_t *mask, uint32_t w, uint32_t h, uint32_t box[4]) {
  uint32_t x0 = w, y0 = h, x1 = 0, y1 = 0;
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      if (mask[(size_t)y * w + x]) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
  if (x0 > x1) return ORF_ENOSUBJECT;
  box[0] = x0, box[1] = y0, box[2] = x1, box[3] = y1;
  return ORF_OK;
}

int orf_mask_from_matte(const uint8_t *soft, uint32_t w, uint32_t h, orf_mask *out) {
  if (!out) return ORF_EINVAL;
  memset(out, 0, sizeof *out);
  if (!soft || !w || !h || (uint64_t)w * h > UINT32_MAX) return ORF_EINVAL;
  const size_t n = (size_t)w * h;
  uint8_t *data = orf_malloc(n), *m = orf_malloc(n);
  uint32_t *pix = orf_malloc_array(n, sizeof *pix);
  orf__comp_list cl = {0};
  size_t area = 0;
  int rc = ORF_ENOMEM;
  if (!data || !m || !pix) goto out_free;
  for (size_t i = 0; i < n; i++)
    m[i] = soft[i] < MATTE_CUT ? M_BGLIKE : 0;
  rc = separate(m, w, h, pix, &cl, data, &area);
  if (rc != ORF_OK) goto out_free;
  if (area * 1000 < n) {
    rc = ORF_ENOSUBJECT;
    goto out_free;
  }
  *out = (orf_mask){w, h, data, area, ORF_MASK_FROM_NETWORK, 0};
  data = NULL;
out_free:
  orf__comp_list_free(&cl);
  orf_free(pix);
  orf_free(m);
  orf_free(data);
  return rc;
}

/* The pixel of point pt in a w x h mask, or, when that pixel is not
 * subject, the nearest subject pixel within POINT_REACH of the longer side
 * (a click just beside a thin part still finds it).  Returns the index, or
 * SIZE_MAX when there is none. */
static size_t point_pixel(const uint8_t *data, uint32_t w, uint32_t h, const orf_point *pt) {
  long px = lround(pt->x * (w - 1)), py = lround(pt->y * (h - 1));
  long reach = (long)((w > h ? w : h) / POINT_REACH) + 1, best = -1, bd = 0;
  for (long y = py - reach; y <= py + reach; y++)
    for (long x = px - reach; x <= px + reach; x++) {
      if (x < 0 || y < 0 || x >= (long)w || y >= (long)h || !data[(size_t)y * w + x]) continue;
      long d = (x - px) * (x - px) + (y - py) * (y - py);
      if (d <= reach * reach && (best < 0 || d < bd)) best = y * (long)w + x, bd = d;
    }
  return best < 0 ? SIZE_MAX : (size_t)best;
}

/* Flood fill of the 8-connected subject region of data holding seed:
 * every pixel of it gets `mark` in m.  queue: w*h entries. */
static void region_mark(const uint8_t *data, uint32_t w, uint32_t h, size_t seed, uint8_t *m, uint8_t mark,
                        uint32_t *queue) {
  if (m[seed] & mark) return;
  size_t head = 0, tail = 0;
  queue[tail++] = (uint32_t)seed;
  m[seed] |= mark;
  while (head < tail) {
    uint32_t i = queue[head++], x = i % w, y = i / w;
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) {
        long nx = (long)x + dx, ny = (long)y + dy;
        if (nx < 0 || ny < 0 || nx >= (long)w || ny >= (long)h) continue;
        size_t j = (size_t)ny * w + (size_t)nx;
        if (data[j] && !(m[j] & mark)) {
          m[j] |= mark;
          queue[tail++] = (uint32_t)j;
        }
      }
  }
}

int orf_mask_apply_points(orf_mask *mask, const orf_point *pts, int count) {
  if (!mask || !mask->data || count < 0 || (count && !pts)) return ORF_EINVAL;
  if (!count) return ORF_OK;
  const uint32_t w = mask->width, h = mask->height;
  const size_t n = (size_t)w * h;
  uint8_t *m = orf_calloc(n, 1);
  uint32_t *queue = orf_malloc_array(n, sizeof *queue);
  int rc = ORF_ENOMEM, keeps = 0;
  if (!m || !queue) goto out_free;
  enum { KEEP = 1, DROP = 2 };
  for (int i = 0; i < count; i++) {
    size_t at = point_pixel(mask->data, w, h, &pts[i]);
    keeps += pts[i].keep;
    if (at != SIZE_MAX) region_mark(mask->data, w, h, at, m, pts[i].keep ? KEEP : DROP, queue);
  }
  mask->area = 0;
  for (size_t i = 0; i < n; i++) {
    int on = mask->data[i] && (!keeps || (m[i] & KEEP)) && !(m[i] & DROP);
    mask->data[i] = (uint8_t)on;
    mask->area += (size_t)on;
  }
  rc = mask->area ? ORF_OK : ORF_ENOSUBJECT;
out_free:
  orf_free(queue);
  orf_free(m);
  return rc;
}
