/*
 * silhouette.h - the subject's outline as a smooth signed distance field,
 * for the modes that follow the silhouette (extrude, relief with cutout).
 *
 * The exact Euclidean distance transform of the binary mask (edt.h,
 * Felzenszwalb and Huttenlocher 2012) gives a signed distance whose zero
 * level runs along pixel edges: a staircase.  A Gaussian blur of about one
 * pixel turns it into a smooth field whose zero level passes through the
 * staircase's steps - the sub-pixel outline an anti-aliased rendering of the
 * mask would have.  Blurring keeps a signed distance a distance where the
 * outline is straight (the blur of a linear function is itself) and moves
 * a curved outline by about sigma^2 * curvature / 2, a hundredth of a pixel
 * for a radius of 50 px, so contouring it (marching cubes, mc.h) gives an
 * outline with no pixel staircase.  The field lives on a canvas: the image
 * with a margin of background, so that a subject touching the frame still
 * has an outline there.
 *
 * Colours for realistic output: the image's, with background pixels
 * replaced by their nearest subject pixel's (from the same EDT), so that
 * outline vertices never pick up the background.
 */
#ifndef ORF_SILHOUETTE_H
#define ORF_SILHOUETTE_H

#include <stdint.h>

#include "image.h"

typedef struct orf_silhouette {
  uint32_t w, h;           /* canvas: the image with `pad` pixels on every side */
  uint32_t pad;            /* pixels */
  float *sdf;              /* w*h, pixels, negative inside the subject, smoothed */
  uint8_t *rgb;            /* w*h*3 colours, background filled from the subject; NULL when not asked */
  uint32_t x0, y0, x1, y1; /* the subject's pixels span [x0, x1] x [y0, y1] of the image (inclusive) */
} orf_silhouette;

/* Builds the silhouette of the subject mask (img->width x img->height
 * bytes, non-zero = subject) with a blur of sigma pixels (at most a
 * sixteenth of the subject's longest side, so a tiny subject keeps its
 * shape), and the filled
 * colours of img when with_colors.  pad is the canvas margin in pixels.
 * Returns ORF_OK, ORF_ENOSUBJECT (an empty mask), ORF_ENOMEM or ORF_EINVAL
 * (sizes the EDT refuses); on error *out is zeroed. */
int orf_silhouette_build(const uint8_t *mask, const orf_image *img, uint32_t pad, double sigma,
                         int with_colors, int threads, orf_silhouette *out);

/* The signed distance (pixels) at continuous image coordinates (x, y),
 * pixel (i, j) of the image covering [i, i+1] x [j, j+1]. */
float orf_silhouette_sdf(const orf_silhouette *s, double x, double y);

/* The filled colour at image coordinates (x, y); s->rgb must be set. */
void orf_silhouette_rgb(const orf_silhouette *s, double x, double y, uint8_t out[3]);

void orf_silhouette_free(orf_silhouette *s);

#endif
