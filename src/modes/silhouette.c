/*
 * silhouette.c - smooth signed distance and filled colours of a subject
 * mask (see silhouette.h).
 */
#include "silhouette.h"

#include <string.h>

#include "alloc.h"
#include "edt.h"
#include "imagefield.h"
#include "mask.h"
#include "orfeas.h"

void orf_silhouette_free(orf_silhouette *s) {
  orf_free(s->sdf);
  orf_free(s->rgb);
  memset(s, 0, sizeof *s);
}

int orf_silhouette_build(const uint8_t *mask, const orf_image *img, uint32_t pad, double sigma,
                         int with_colors, int threads, orf_silhouette *out) {
  memset(out, 0, sizeof *out);
  uint32_t w = img->width, h = img->height;
  uint32_t box[4];
  if (orf_mask_bounds(mask, w, h, box)) return ORF_ENOSUBJECT;
  uint32_t x0 = box[0], y0 = box[1], x1 = box[2], y1 = box[3];
  uint32_t cw = w + 2 * pad, ch = h + 2 * pad;
  size_t n = (size_t)cw * ch;
  uint8_t *cm = orf_calloc(n, 1);
  float *dist = with_colors ? orf_malloc_array(n, sizeof(float)) : NULL;
  int32_t *near = with_colors ? orf_malloc_array(n, sizeof(int32_t)) : NULL;
  out->sdf = orf_malloc_array(n, sizeof(float));
  out->rgb = with_colors ? orf_malloc_array(n, 3) : NULL;
  int rc = ORF_ENOMEM;
  if (!cm || !out->sdf || (with_colors && (!dist || !near || !out->rgb))) goto fail;
  for (uint32_t y = 0; y < h; y++)
    for (uint32_t x = 0; x < w; x++)
      cm[(size_t)(y + pad) * cw + x + pad] = mask[(size_t)y * w + x] != 0;
  if ((rc = orf_edt_signed(cm, cw, ch, out->sdf, threads))) goto fail;
  for (size_t i = 0; i < n; i++) /* edt.h has it positive inside */
    out->sdf[i] = -out->sdf[i];
  if (with_colors) {
    if ((rc = orf_edt(cm, cw, ch, 1, dist, near, threads))) goto fail;
    for (size_t i = 0; i < n; i++) {
      size_t q = (size_t)near[i], qx = q % cw - pad, qy = q / cw - pad;
      memcpy(out->rgb + 3 * i, img->rgba + 4 * (qy * w + qx), 3);
    }
  }
  orf_free(dist);
  orf_free(near);
  dist = NULL;
  near = NULL;
  /* a subject of a few pixels keeps its shape: at most a sixteenth of it */
  uint32_t side = x1 - x0 > y1 - y0 ? x1 - x0 + 1 : y1 - y0 + 1;
  if (sigma > side / 16.0) sigma = side / 16.0;
  if ((rc = orf_field_blur(out->sdf, cw, ch, sigma, threads))) goto fail;
  orf_free(cm);
  out->w = cw;
  out->h = ch;
  out->pad = pad;
  out->x0 = x0, out->y0 = y0, out->x1 = x1, out->y1 = y1;
  return ORF_OK;
fail:
  orf_free(cm);
  orf_free(dist);
  orf_free(near);
  orf_silhouette_free(out);
  return rc;
}

float orf_silhouette_sdf(const orf_silhouette *s, double x, double y) {
  return orf_field_sample(s->sdf, s->w, s->h, x + s->pad, y + s->pad);
}

void orf_silhouette_rgb(const orf_silhouette *s, double x, double y, uint8_t out[3]) {
  orf_field_sample_rgb(s->rgb, s->w, s->h, x + s->pad, y + s->pad, out);
}
