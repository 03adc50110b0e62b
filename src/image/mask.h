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
 *  - a soft matte (the segmentation network's, src/segment/): subject where
 *    it is at least one half, then the same background, hole and speck
 *    rules as the colour model's mask.
 *
 * The colour model is "confident" (orf_mask.confident; background=auto
 * then keeps it rather than asking the network) when the border is uniform
 * (every background cluster's 90th-percentile colour distance at most 10),
 * mostly background (75% of the border band within a background colour's
 * threshold), and the subject stands out (at most a quarter of its pixels
 * within twice a threshold of a background colour).
 */
#ifndef ORF_MASK_H
#define ORF_MASK_H

#include <stdint.h>

#include "image.h"

enum { ORF_MASK_FROM_ALPHA = 0, ORF_MASK_FROM_BACKGROUND = 1, ORF_MASK_FRAME = 2, ORF_MASK_FROM_NETWORK = 3 };

typedef struct orf_mask {
  uint32_t width, height;
  uint8_t *data; /* width*height bytes: 1 subject, 0 background; orf_malloc'd */
  size_t area;   /* subject pixels */
  int source;    /* ORF_MASK_FROM_* */
  int confident; /* FROM_BACKGROUND: the colour model separated cleanly (above); else 1 */
} orf_mask;

/* Builds the subject mask of img into *out (same size as img): bg AUTO
 * (alpha when usable, else the colour model), ALPHA, COLOR (the colour
 * model, whatever the alpha) or NONE; SUBJECT is segment.h's.
 * Errors: ORF_EINVAL when bg is ORF_BG_ALPHA and the image has no usable
 * alpha, or a NULL / empty / over-2^32-pixel image, or an unknown bg;
 * ORF_ENOSUBJECT when automatic separation finds no subject (nearly
 * empty or nearly the whole frame); ORF_ENOMEM.  On error *out is zeroed. */
int orf_mask_build(const orf_image *img, orf_background bg, int threads, orf_mask *out);

void orf_mask_free(orf_mask *m);

/* Builds the subject mask of a w x h soft matte (0..255, subject where
 * >= 128) into *out, with the background, hole and speck rules of the
 * colour model; source ORF_MASK_FROM_NETWORK.  Errors: ORF_EINVAL (NULL or
 * empty), ORF_ENOSUBJECT (under 0.1% of the frame), ORF_ENOMEM.  On error
 * *out is zeroed. */
int orf_mask_from_matte(const uint8_t *soft, uint32_t w, uint32_t h, orf_mask *out);

/* Applies subject points (orfeas.h, subject_points) to a built mask: with
 * keep points only the 8-connected subject regions under them stay; a drop
 * point removes the region under it.  A point finds its region at its
 * pixel or the nearest subject pixel within a 50th of the longer side.
 * Returns ORF_OK, ORF_ENOSUBJECT when nothing is left (the mask is then
 * empty but still owned), ORF_EINVAL, ORF_ENOMEM. */
int orf_mask_apply_points(orf_mask *mask, const orf_point *pts, int count);

/* The bounding box of the non-zero bytes of a w x h mask: box = {x0, y0,
 * x1, y1}, inclusive.  Returns ORF_OK, or ORF_ENOSUBJECT when the mask is
 * empty (box untouched). */
int orf_mask_bounds(const uint8_t *mask, uint32_t w, uint32_t h, uint32_t box[4]);

#endif
