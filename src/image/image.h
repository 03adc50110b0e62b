/*
 * image.h - decoded images: PNG (libspng), JPEG (libjpeg-turbo's TurboJPEG
 * API, EXIF orientation through libexif), WebP (libwebp), and box
 * downscaling.  Stage 1 of the pipeline: bytes -> RGBA pixels.
 *
 * Untrusted input: the type comes from the magic bytes, and the size from the
 * header is checked against orf_limits before any pixel buffer is allocated.
 */
#ifndef ORF_IMAGE_H
#define ORF_IMAGE_H

#include <stdint.h>

#include "orfeas.h"

typedef struct orf_image {
  uint32_t width, height; /* of the pixels below, after EXIF orientation */
  uint8_t *rgba;          /* width*height*4, row-major from the top-left; orf_malloc'd */
  int has_alpha;          /* the file carries alpha (PNG alpha/tRNS, WebP alpha) */
  orf_image_type type;
  uint32_t source_width; /* full size of the file's image, after orientation */
  uint32_t source_height;
} orf_image;

/* The type from the magic bytes (ORF_IMG_UNKNOWN if none matches). */
orf_image_type orf_image_sniff(const uint8_t *data, size_t size);

/* Decodes an image into *out.  min_side == 0 decodes at full size; otherwise
 * the decoder may return a smaller image (JPEG decodes at 1/2, 1/4 or 1/8
 * scale in the DCT domain) whose longest side is still >= min_side, or the
 * full size when that is smaller.  EXIF orientation (JPEG) is applied.
 * Errors: ORF_EUNSUPPORTED (type, animated WebP), ORF_EBADIMAGE (corrupt,
 * truncated, zero size), ORF_ETOOLARGE (limits, checked from the header
 * first), ORF_ENOMEM.  On error *out is zeroed. */
int orf_image_decode(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t min_side,
                     orf_image *out);

/* Area-averaging (box filter) downscale of src so that its longest side is
 * at most max_side, into *dst (a plain copy when src is already small
 * enough), on up to `threads` threads.  Deterministic, the same bytes for
 * any thread count; colour averaged with alpha weighting so that
 * transparent pixels do not bleed their colour. */
int orf_image_downscale(const orf_image *src, uint32_t max_side, int threads, orf_image *dst);

/* Frees the pixels and zeroes *img. */
void orf_image_free(orf_image *img);

#endif
