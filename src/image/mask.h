/*
 * mask.h - separating the subject from the background.  Stage 2 of the
 * pipeline: RGBA pixels -> a binary subject mask.
 *
 *  - alpha: subject where alpha >= 128, when the image has an alpha channel
 *    that is not opaque nearly everywhere;
 *  - auto: alpha as above when usable, else a background colour model
 *    estimated from the image border, a colour-distance threshold, the
 *    background grown from the border, the largest subject components kept
 *    (small specks dropped), holes enclosed by the subject kept when they are
 *    of real size and filled when they are noise;
 *  - none: the whole frame.
 */
#ifndef ORF_MASK_H
#define ORF_MASK_H

#include <stdint.h>

#include "image.h"

enum { ORF_MASK_FROM_ALPHA = 0, ORF_MASK_FROM_BACKGROUND = 1, ORF_MASK_FRAME = 2 };

typedef struct orf_mask {
  uint32_t width, height;
  uint8_t *data; /* width*height bytes: 1 subject, 0 background; orf_malloc'd */
  size_t area;   /* subject pixels */
  int source;    /* ORF_MASK_FROM_* */
} orf_mask;

/* Builds the subject mask of img into *out (same size as img).
 * Errors: ORF_EINVAL when bg is ORF_BG_ALPHA and the image has no usable
 * alpha, or a NULL / empty / over-2^32-pixel image, or an unknown bg;
 * ORF_ENOSUBJECT when automatic separation finds no subject (nearly
 * empty or nearly the whole frame); ORF_ENOMEM.  On error *out is zeroed. */
int orf_mask_build(const orf_image *img, orf_background bg, int threads, orf_mask *out);

void orf_mask_free(orf_mask *m);

/* The bounding box of the non-zero bytes of a w x h mask: box = {x0, y0,
 * x1, y1}, inclusive.  Returns ORF_OK, or ORF_ENOSUBJECT when the mask is
 * empty (box untouched). */
int orf_mask_bounds(const uint8_t *mask, uint32_t w, uint32_t h, uint32_t box[4]);

#endif
