/*
 * make.c - the texture of a job, after its final stage (see texture.h).
 *
 *   1. the crop: the subject's bounding box in the working image (the one
 *      the final mesh was made from), ORF_TEXTURE_MARGIN_PX around it; the
 *      whole frame for relief and lithophane;
 *   2. the image decoded again, at the resolution that gives the crop its
 *      texels (a JPEG scaled in the DCT domain where that is enough),
 *      cropped (texels past the image's edges transparent) and scaled to
 *      the texture's side by the area filter of downscale.c, which weighs
 *      colour by alpha so that a transparent background never bleeds in;
 *   3. the texels that show the subject's own colour (fill.c: the working
 *      mask's inside, sampled at each texel's centre, and opaque), the
 *      others filled from the nearest of them;
 *   4. encoded (encode.c), and the projection: the plan's map from
 *      millimetres to working pixels, then working pixels to the crop's
 *      0..1.
 *
 * Coordinates: every image of the job covers the same frame (edge to
 * edge), so a working pixel x is x * Sw / Ww pixels of a Sw-wide decode.
 * A JPEG decoded in the DCT domain rounds its scaled size up, which can
 * shift that by under one pixel of the scaled image; PNG and WebP decode
 * at full size and map exactly.
 */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "image.h"
#include "parallel.h"
#include "texture.h"

/* The texture's longer side at `quality`. */
static uint32_t texture_side(int quality) {
  long t = (long)ORF_TEXTURE_TEXELS_PER_Q * (quality < 1 ? 1 : quality);
  return (uint32_t)(t < ORF_TEXTURE_MAX_SIDE ? t : ORF_TEXTURE_MAX_SIDE);
}

/* The crop of src (sw x sh) from x0, y0 (may be negative), cw x ch, into
 * *out: pixels outside src are transparent black. */
static int crop(const orf_image *src, long x0, long y0, uint32_t cw, uint32_t ch, orf_image *out) {
  memset(out, 0, sizeof *out);
  out->rgba = orf_calloc((size_t)cw * ch, 4);
  if (!out->rgba) return ORF_ENOMEM;
  out->width = cw;
  out->height = ch;
  out->has_alpha = 1;
  out->type = src->type;
  out->source_width = src->source_width;
  out->source_height = src->source_height;
  long xa = x0 < 0 ? 0 : x0, xb = x0 + (long)cw > (long)src->width ? (long)src->width : x0 + (long)cw;
  for (uint32_t j = 0; j < ch && xb > xa; j++) {
    long y = y0 + (long)j;
    if (y < 0 || y >= (long)src->height) continue;
    memcpy(out->rgba + 4 * ((size_t)j * cw + (size_t)(xa - x0)),
           src->rgba + 4 * ((size_t)y * src->width + xa), 4 * (size_t)(xb - xa));
  }
  return ORF_OK;
}

/* Marks the texels of the tw x th texture img (covering the decoded
 * image's [x0, x0 + cw) x [y0, y0 + ch), sx = Sw / Ww, sy = Sh / Wh) that
 * show the subject's own colour: opaque, over a trusted working pixel
 * (trusted_w NULL: any pixel of the frame).  Returns how many. */
static size_t trusted_texels(const orf_image *img, const uint8_t *trusted_w, uint32_t ww, uint32_t wh,
                             long x0, long y0, uint32_t cw, uint32_t ch, double sx, double sy, uint8_t *out) {
  uint32_t tw = img->width, th = img->height;
  size_t count = 0;
  for (uint32_t j = 0; j < th; j++) {
    double yw = (y0 + (j + 0.5) * ch / th) / sy;
    long py = (long)floor(yw);
    for (uint32_t i = 0; i < tw; i++) {
      double xw = (x0 + (i + 0.5) * cw / tw) / sx;
      long px = (long)floor(xw);
      size_t t = (size_t)j * tw + i;
      int in = px >= 0 && py >= 0 && px < (long)ww && py < (long)wh && img->rgba[4 * t + 3] >= 128;
      if (in && trusted_w) in = trusted_w[(size_t)py * ww + (size_t)px] != 0;
      out[t] = (uint8_t)in;
      count += (size_t)in;
    }
  }
  return count;
}

int orf_texture_plan_make(const orf_texture_plan *t, const uint8_t *data, size_t size, const orf_limits *lim,
                          int quality, int threads, atomic_int *cancel, orf_texture *out) {
  memset(out, 0, sizeof *out);
  if (!t->wanted) return ORF_OK;
  if (!t->placed || !t->work_w || !t->work_h) return ORF_EINTERNAL;
  uint32_t ww = t->work_w, wh = t->work_h, side = texture_side(quality);

  /* 1. the crop in working pixels */
  double c0x = 0, c0y = 0, c1x = ww, c1y = wh;
  uint32_t box[4];
  if (t->mask.data && orf_mask_bounds(t->mask.data, ww, wh, box) == ORF_OK) {
    c0x = (double)box[0] - ORF_TEXTURE_MARGIN_PX;
    c0y = (double)box[1] - ORF_TEXTURE_MARGIN_PX;
    c1x = (double)box[2] + 1 + ORF_TEXTURE_MARGIN_PX;
    c1y = (double)box[3] + 1 + ORF_TEXTURE_MARGIN_PX;
  }
  double crop_w = c1x - c0x > c1y - c0y ? c1x - c0x : c1y - c0y;
  uint32_t longest_w = ww > wh ? ww : wh;
  double need = ceil(side * (double)longest_w / crop_w);

  /* 2. decoded again, cropped and scaled */
  orf_image src = {0}, cut = {0}, tex = {0};
  uint8_t *trusted_w = NULL, *trusted = NULL;
  int rc = orf_image_decode(data, size, lim, need > UINT32_MAX ? 0 : (uint32_t)need, &src);
  if (rc) goto out;
  if (orf_cancelled(cancel)) {
    rc = ORF_ECANCELED;
    goto out;
  }
  double sx = (double)src.width / ww, sy = (double)src.height / wh;
  /* full-size pixels per decoded pixel, for out->box */
  double fx = src.source_width ? (double)src.source_width / src.width : 1;
  double fy = src.source_height ? (double)src.source_height / src.height : 1;
  /* integer decoded pixels; 1e-9 keeps an exact edge (the frame's) exact */
  long x0 = (long)floor(c0x * sx + 1e-9), y0 = (long)floor(c0y * sy + 1e-9);
  long x1 = (long)ceil(c1x * sx - 1e-9), y1 = (long)ceil(c1y * sy - 1e-9);
  uint32_t cw = (uint32_t)(x1 - x0), ch = (uint32_t)(y1 - y0);
  if ((rc = crop(&src, x0, y0, cw, ch, &cut))) goto out;
  orf_image_free(&src);
  if ((rc = orf_image_downscale(&cut, side, threads, &tex))) goto out;
  orf_image_free(&cut);

  /* 3. the subject's own texels, the rest filled */
  size_t n = (size_t)tex.width * tex.height;
  trusted = orf_malloc(n);
  if (!trusted) {
    rc = ORF_ENOMEM;
    goto out;
  }
  if (t->mask.data) {
    trusted_w = orf_malloc((size_t)ww * wh);
    if (!trusted_w) {
      rc = ORF_ENOMEM;
      goto out;
    }
    if ((rc = orf_texture_trust(t->mask.data, ww, wh, threads, trusted_w))) goto out;
  }
  /* none trusted (a speck of a subject between texel centres): every
   * opaque texel, then every texel */
  if (!trusted_texels(&tex, trusted_w, ww, wh, x0, y0, cw, ch, sx, sy, trusted) &&
      !trusted_texels(&tex, NULL, ww, wh, x0, y0, cw, ch, sx, sy, trusted))
    memset(trusted, 1, n);
  orf_free(trusted_w);
  trusted_w = NULL;
  if ((rc = orf_texture_fill(tex.rgba, tex.width, tex.height, trusted, threads))) goto out;
  if (orf_cancelled(cancel)) {
    rc = ORF_ECANCELED;
    goto out;
  }

  /* 4. encoded, with its projection */
  int png = orf_texture_is_flat(tex.rgba, tex.width, tex.height, trusted);
  if ((rc = orf_texture_encode(tex.rgba, tex.width, tex.height, png, &out->data, &out->size, &out->mime)))
    goto out;
  out->width = tex.width;
  out->height = tex.height;
  double ku = sx / cw, kv = sy / ch;
  for (int k = 0; k < 3; k++) {
    out->uv[0][k] = t->px[0][k] * ku;
    out->uv[1][k] = t->px[1][k] * kv;
  }
  out->uv[0][3] = (t->px[0][3] * sx - (double)x0) / cw;
  out->uv[1][3] = (t->px[1][3] * sy - (double)y0) / ch;
  for (int k = 0; k < 4; k++)
    out->box[k] = (double)(k == 0 ? x0 : k == 1 ? y0 : k == 2 ? x1 : y1) * (k % 2 ? fy : fx);
out:
  orf_image_free(&src);
  orf_image_free(&cut);
  orf_image_free(&tex);
  orf_free(trusted_w);
  orf_free(trusted);
  if (rc) orf_texture_free(out);
  return rc;
}
