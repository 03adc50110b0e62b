/*
 * edt.h - exact Euclidean distance transform in linear time
 * (P. Felzenszwalb and D. Huttenlocher, "Distance Transforms of Sampled
 * Functions", Theory of Computing 8, 2012): a 1-D lower envelope of
 * parabolas along every column, then along every row, each pass
 * multi-threaded over its independent lines.
 */
#ifndef ORF_EDT_H
#define ORF_EDT_H

#include <stdint.h>

/* For each pixel of the w x h image, the Euclidean distance (in pixels) to
 * the nearest pixel whose mask value equals `feature`; 0 on such pixels.
 * When no pixel equals `feature`, every distance is INFINITY.
 * `nearest` (may be NULL) receives the index y*w+x of that nearest pixel
 * (-1 when there is none; ties broken deterministically).  dist and nearest
 * have w*h entries.  Returns 0, ORF_ENOMEM, or ORF_EINVAL (a NULL pointer,
 * a side over 2^20, w*h over INT32_MAX).  Same result for any thread count. */
int orf_edt(const uint8_t *mask, uint32_t w, uint32_t h, uint8_t feature, float *dist, int32_t *nearest,
            int threads);

/* Signed distance to the subject's outline: inside (mask != 0) the distance
 * to the nearest background pixel minus 0.5, outside minus (the distance to
 * the nearest subject pixel minus 0.5), so the zero level lies on the pixel
 * edges between subject and background.  An image that is all subject is
 * treated as having background just outside the frame. */
int orf_edt_signed(const uint8_t *mask, uint32_t w, uint32_t h, float *sdf, int threads);

#endif
