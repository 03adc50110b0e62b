/*
 * webp.c - WebP decoding with libwebp (Google's VP8 lossy and VP8L lossless
 * codecs in a RIFF container, with an optional ALPH alpha plane), straight
 * into an RGBA8 buffer we allocate.
 *
 * WebPGetFeatures() reads the container and bitstream headers only: the
 * size is checked against the limits and animations are refused
 * (ORF_EANIMATED: we make one mesh from one picture) before the pixel
 * buffer exists.  libwebp's own working memory is allocated with malloc and
 * is not seen by orf_memtrack; the pixels are.
 */
#include <string.h>
#include <webp/decode.h>

#include "alloc.h"
#include "decode_int.h"

/* A WebPGetFeatures() status as an ORF_E* code. */
static int webp_error(VP8StatusCode st) {
  switch (st) {
  case VP8_STATUS_OK: return ORF_OK;
  case VP8_STATUS_OUT_OF_MEMORY: return ORF_ENOMEM;
  case VP8_STATUS_UNSUPPORTED_FEATURE: return ORF_EUNSUPPORTED;
  default: return ORF_EBADIMAGE;
  }
}

/* Reads the features and applies the limits. */
static int webp_header(const uint8_t *data, size_t size, const orf_limits *lim, WebPBitstreamFeatures *f) {
  int rc = webp_error(WebPGetFeatures(data, size, f));
  if (rc != ORF_OK) return rc;
  if (f->has_animation) return ORF_EANIMATED;
  if (f->width <= 0 || f->height <= 0) return ORF_EBADIMAGE;
  return orf__image_check_size(lim, (uint32_t)f->width, (uint32_t)f->height);
}

int orf__webp_probe(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t *width,
                    uint32_t *height) {
  WebPBitstreamFeatures f;
  int rc = webp_header(data, size, lim, &f);
  if (rc != ORF_OK) return rc;
  *width = (uint32_t)f.width;
  *height = (uint32_t)f.height;
  return ORF_OK;
}

int orf__webp_decode(const uint8_t *data, size_t size, const orf_limits *lim, orf_image *out) {
  WebPBitstreamFeatures f;
  int rc = webp_header(data, size, lim, &f);
  if (rc != ORF_OK) return rc;
  size_t w = (size_t)f.width, h = (size_t)f.height, len = w * h * 4;
  uint8_t *pixels = orf_malloc(len);
  if (!pixels) return ORF_ENOMEM;
  if (!WebPDecodeRGBAInto(data, size, pixels, len, (int)(w * 4))) {
    orf_free(pixels);
    return ORF_EBADIMAGE;
  }
  out->width = out->source_width = (uint32_t)w;
  out->height = out->source_height = (uint32_t)h;
  out->rgba = pixels;
  out->has_alpha = f.has_alpha != 0;
  out->type = ORF_IMG_WEBP;
  return ORF_OK;
}
