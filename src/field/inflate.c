/*
 * inflate.c - the inflate mode's fields and their sampling (see inflate.h).
 */
#include "inflate.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "edt.h"
#include "mask.h"
#include "mc.h"
#include "parallel.h"
#include "poisson.h"

/* Relief from shading: with detail = 1, a luminance step from black to
 * white raises the front by this fraction of the subject's longest side. */
#define DETAIL_GAIN 0.08f
/* Detail fades in over the outer part of the profile (H below this fraction
 * of its maximum), so the outline stays smooth and closed. */
#define DETAIL_FADE 0.2f
/* The front never comes closer to the middle than this fraction of the
 * plain profile, so detail cannot pinch the solid. */
#define DETAIL_FLOOR 0.25f

void orf_inflate_free(orf_inflate *f) {
  orf_free(f->height);
  orf_free(f->front);
  orf_free(f->rgb);
  memset(f, 0, sizeof *f);
}

/* Separable box blur of radius r, twice (close to a Gaussian), in place. */
static int blur(float *v, uint32_t w, uint32_t h, int r) {
  float *tmp = orf_malloc_array((size_t)(w > h ? w : h), sizeof(float));
  if (!tmp) return ORF_ENOMEM;
  for (int pass = 0; pass < 4; pass++) {
    int horizontal = pass % 2 == 0;
    uint32_t lines = horizontal ? h : w, len = horizontal ? w : h;
    size_t step = horizontal ? 1 : w;
    for (uint32_t l = 0; l < lines; l++) {
      float *p = v + (horizontal ? (size_t)l * w : l);
      double sum = 0;
      int count = 0;
      for (int i = 0; i < r && i < (int)len; i++, count++)
        sum += p[(size_t)i * step];
      for (int i = 0; i < (int)len; i++) {
        if (i + r < (int)len) sum += p[(size_t)(i + r) * step], count++;
        if (i - r - 1 >= 0) sum -= p[(size_t)(i - r - 1) * step], count--;
        tmp[i] = (float)(sum / count);
      }
      for (uint32_t i = 0; i < len; i++)
        p[i * step] = tmp[i];
    }
  }
  orf_free(tmp);
  return ORF_OK;
}

int orf_inflate_build(const uint8_t *mask, const uint8_t *rgba, uint32_t w, uint32_t h, double thickness,
                      double detail, int threads, atomic_int *cancel, orf_inflate *out) {
  memset(out, 0, sizeof *out);
  uint32_t box[4];
  if (orf_mask_bounds(mask, w, h, box)) return ORF_ENOSUBJECT;
  uint32_t x0 = box[0], y0 = box[1], x1 = box[2], y1 = box[3];
  float side = (float)((x1 - x0 > y1 - y0 ? x1 - x0 : y1 - y0) + 1);
  /* The coarsest grid (32 cells) reaches 2 cells past the subject. */
  uint32_t pad = (uint32_t)ceilf(3.0f * side / 32.0f) + 4;
  uint32_t cw = w + 2 * pad, ch = h + 2 * pad;
  size_t n = (size_t)cw * ch;
  uint8_t *cm = orf_calloc(n, 1);
  float *dist = orf_malloc_array(n, sizeof(float));
  int32_t *near = orf_malloc_array(n, sizeof(int32_t));
  float *lum = detail > 0 ? orf_malloc_array(n, sizeof(float)) : NULL;
  out->height = orf_malloc_array(n, sizeof(float));
  out->front = orf_malloc_array(n, sizeof(float));
  out->rgb = orf_calloc(n, 3);
  int rc = ORF_ENOMEM;
  if (!cm || !dist || !near || (detail > 0 && !lum) || !out->height || !out->front || !out->rgb) goto fail;
  out->w = cw;
  out->h = ch;
  out->pad = pad;
  for (uint32_t y = 0; y < h; y++) {
    for (uint32_t x = 0; x < w; x++) {
      size_t i = (size_t)(y + pad) * cw + x + pad, s = (size_t)y * w + x;
      cm[i] = mask[s] != 0;
      memcpy(out->rgb + 3 * i, rgba + 4 * s, 3);
    }
  }
  if ((rc = orf_poisson_solve(cm, cw, ch, out->height, threads, cancel))) goto fail;
  if ((rc = orf_edt(cm, cw, ch, 1, dist, near, threads))) goto fail;
  /* Outside: continue H below zero with the slope at the nearest subject
   * pixel (which sits one pixel from the zero boundary), and its colour. */
  float hmax = 0;
  for (size_t i = 0; i < n; i++) {
    if (cm[i]) {
      if (out->height[i] > hmax) hmax = out->height[i];
      continue;
    }
    int32_t q = near[i];
    out->height[i] = -out->height[q] * (dist[i] - 1.0f);
    memcpy(out->rgb + 3 * i, out->rgb + 3 * (size_t)q, 3);
  }
  if (hmax <= 0) {
    rc = ORF_ENOSUBJECT;
    goto fail;
  }
  float s = (float)(thickness * side / (2.0 * sqrt(hmax)));
  out->s2 = s * s;
  out->z_back = s * sqrtf(hmax);
  out->z_front = out->z_back;
  if (detail > 0) {
    double mean = 0;
    size_t area = 0;
    for (size_t i = 0; i < n; i++) {
      const uint8_t *c = out->rgb + 3 * i;
      lum[i] = (0.2126f * c[0] + 0.7152f * c[1] + 0.0722f * c[2]) / 255.0f;
    }
    int r = (int)lroundf(side / 200.0f);
    if ((rc = blur(lum, cw, ch, r < 1 ? 1 : r))) goto fail;
    for (size_t i = 0; i < n; i++)
      if (cm[i]) mean += lum[i], area++;
    mean /= (double)area;
    float gain = (float)detail * DETAIL_GAIN * side;
    for (size_t i = 0; i < n; i++) {
      float hv = out->height[i];
      if (hv <= 0) {
        out->front[i] = hv;
        continue;
      }
      float t = hv / (DETAIL_FADE * hmax);
      t = t > 1 ? 1 : t;
      float base = s * sqrtf(hv);
      float top = base + gain * (lum[i] - (float)mean) * t * t * (3 - 2 * t);
      if (top < DETAIL_FLOOR * base) top = DETAIL_FLOOR * base;
      if (top > out->z_front) out->z_front = top;
      out->front[i] = (top / s) * (top / s);
    }
  } else {
    memcpy(out->front, out->height, n * sizeof(float));
  }
  /* Bilinear H reaches zero at the centres of the pixels just outside the
   * subject, half a pixel beyond its edge: the bounds take one pixel more so
   * that the grid's outer points are always outside. */
  out->bounds[0] = (float)(x0 + pad) - 1;
  out->bounds[1] = (float)(y0 + pad) - 1;
  out->bounds[2] = (float)(x1 + pad + 2);
  out->bounds[3] = (float)(y1 + pad + 2);
  rc = ORF_OK;
  goto done;
fail:
  orf_inflate_free(out);
done:
  orf_free(cm);
  orf_free(dist);
  orf_free(near);
  orf_free(lum);
  return rc;
}

/* Bilinear sample position along one canvas axis: cell index and weight. */
static void axis_sample(float coord, uint32_t len, int32_t *i0, float *t) {
  float p = coord - 0.5f; /* pixel centres sit at i + 0.5 */
  if (p < 0) p = 0;
  if (p > (float)len - 1.001f) p = (float)len - 1.001f;
  *i0 = (int32_t)p;
  *t = p - (float)*i0;
}

void orf_inflate_axes_free(orf_inflate_axes *a) {
  orf_free(a->col);
  orf_free(a->colt);
  orf_free(a->row);
  orf_free(a->rowt);
  orf_free(a->y);
  memset(a, 0, sizeof *a);
}

int orf_inflate_axes_build(const orf_inflate *f, int grid, orf_volume *vol, orf_inflate_axes *a) {
  memset(a, 0, sizeof *a);
  memset(vol, 0, sizeof *vol);
  float bw = f->bounds[2] - f->bounds[0], bh = f->bounds[3] - f->bounds[1];
  float sp = (bw > bh ? bw : bh) / (float)grid;
  vol->nx = (int)ceilf(bw / sp) + 5;
  vol->nz = (int)ceilf(bh / sp) + 5;
  vol->ny = (int)ceilf((f->z_front + f->z_back) / sp) + 5;
  vol->origin[0] = f->bounds[0] - 2 * sp;
  vol->origin[1] = -f->z_front - 2 * sp;
  vol->origin[2] = -(f->bounds[3] + 2 * sp);
  vol->spacing[0] = vol->spacing[1] = vol->spacing[2] = sp;
  a->col = orf_malloc_array((size_t)vol->nx, sizeof(int32_t));
  a->colt = orf_malloc_array((size_t)vol->nx, sizeof(float));
  a->row = orf_malloc_array((size_t)vol->nz, sizeof(int32_t));
  a->rowt = orf_malloc_array((size_t)vol->nz, sizeof(float));
  a->y = orf_malloc_array((size_t)vol->ny, sizeof(float));
  if (!a->col || !a->colt || !a->row || !a->rowt || !a->y) {
    orf_inflate_axes_free(a);
    return ORF_ENOMEM;
  }
  for (int i = 0; i < vol->nx; i++)
    axis_sample(vol->origin[0] + (float)i * sp, f->w, &a->col[i], &a->colt[i]);
  for (int k = 0; k < vol->nz; k++)
    axis_sample(-(vol->origin[2] + (float)k * sp), f->h, &a->row[k], &a->rowt[k]);
  for (int j = 0; j < vol->ny; j++)
    a->y[j] = vol->origin[1] + (float)j * sp;
  return ORF_OK;
}

typedef struct slicer {
  const orf_inflate *f;
  const orf_volume *vol;
  const orf_inflate_axes *ax;
} slicer;

static float lerp2(const float *a, size_t w, int32_t c, float tx, float ty) {
  float top = a[c] + tx * (a[c + 1] - a[c]);
  float bot = a[w + c] + tx * (a[w + c + 1] - a[w + c]);
  return top + ty * (bot - top);
}

static void eval_slice(void *ctx, int k, float *out) {
  const slicer *sl = ctx;
  const orf_inflate *f = sl->f;
  const orf_volume *v = sl->vol;
  const orf_inflate_axes *ax = sl->ax;
  float ty = ax->rowt[k];
  const float *hrow = f->height + (size_t)ax->row[k] * f->w, *frow = f->front + (size_t)ax->row[k] * f->w;
  float back[v->nx], front[v->nx];
  for (int i = 0; i < v->nx; i++) {
    back[i] = f->s2 * lerp2(hrow, f->w, ax->col[i], ax->colt[i], ty);
    front[i] = f->s2 * lerp2(frow, f->w, ax->col[i], ax->colt[i], ty);
  }
  for (int j = 0; j < v->ny; j++) {
    float y = ax->y[j];
    const float *g = y < 0 ? front : back;
    float *o = out + (size_t)j * v->nx;
    for (int i = 0; i < v->nx; i++)
      o[i] = y * y - g[i];
  }
}

int orf_inflate_mesh(const orf_inflate *f, int grid, int threads, atomic_int *cancel, orf_mesh *out) {
  memset(out, 0, sizeof *out);
  orf_volume vol;
  orf_inflate_axes ax;
  int rc = orf_inflate_axes_build(f, grid, &vol, &ax);
  if (rc) return rc;
  slicer sl = {f, &vol, &ax};
  vol.eval = eval_slice;
  vol.ctx = &sl;
  rc = orf_mc_extract(&vol, 0.0f, threads, cancel, out);
  orf_inflate_axes_free(&ax);
  return rc;
}

int orf_inflate_colorize(const orf_inflate *f, orf_mesh *m) {
  orf_free(m->colors);
  m->colors = orf_malloc_array(m->vertex_count ? m->vertex_count : 1, 3);
  if (!m->colors) return ORF_ENOMEM;
  for (size_t v = 0; v < m->vertex_count; v++) {
    const float *p = m->positions + 3 * v;
    int32_t cx, cy;
    float tx, ty;
    axis_sample(p[0], f->w, &cx, &tx);
    axis_sample(-p[2], f->h, &cy, &ty);
    const uint8_t *a = f->rgb + 3 * ((size_t)cy * f->w + (size_t)cx);
    const uint8_t *b = a + 3 * (size_t)f->w;
    for (int c = 0; c < 3; c++) {
      float top = a[c] + tx * (a[3 + c] - a[c]);
      float bot = b[c] + tx * (b[3 + c] - b[c]);
      m->colors[3 * v + c] = (uint8_t)lroundf(top + ty * (bot - top));
    }
  }
  return ORF_OK;
}
