/*
 * inflate.h - the `inflate` mode's field: a closed, rounded solid blown into
 * the subject's silhouette (Teddy, Igarashi et al. 1999; Monster Mash,
 * Dvoroznak et al. 2020).  Stage 3 of the pipeline: mask -> fields.
 *
 * The 2-D fields are computed once per image and sampled by every stage's
 * grid:
 *  - H, the Poisson height of poisson.h (smooth, no medial crease), inside
 *    the subject; outside it continues linearly below zero along the
 *    distance to the subject (from the exact EDT), so the 3-D field crosses
 *    zero cleanly at the outline;
 *  - the back surface is y = +s sqrt(H), the front y = -(s sqrt(H) + D),
 *    with s set so the depth is `thickness` times the longest side and D an
 *    optional relief from the image's shading (`detail`) that fades out
 *    towards the outline;
 *  - colours, with background pixels replaced by their nearest subject
 *    pixel's colour so that outline vertices do not pick up the background.
 * The 3-D field f = y^2 - s^2 G(x, z) (G = H behind, (sqrt(H) + D/s)^2 in
 * front) is negative inside and is evaluated slice by slice, never stored.
 *
 * Axes of the meshes: X = image x (right), Z = image up, Y = depth with the
 * front (the side the camera saw) towards -Y; units are canvas pixels until
 * the pipeline scales them to millimetres.
 */
#ifndef ORF_INFLATE_H
#define ORF_INFLATE_H

#include <stdatomic.h>
#include <stdint.h>

#include "mc.h"
#include "orfeas.h"

typedef struct orf_inflate {
  uint32_t w, h; /* canvas: the image with a margin of `pad` pixels */
  uint32_t pad;
  float *height;         /* H, w*h */
  float *front;          /* G of the front half, w*h */
  uint8_t *rgb;          /* w*h*3, background filled from the subject */
  float s2;              /* s^2 */
  float z_front, z_back; /* largest front and back heights, pixels */
  float bounds[4];       /* x0, y0, x1, y1 in canvas pixels around the solid's outline */
} orf_inflate;

/* Builds the fields of an image of w x h pixels from its subject mask
 * (w*h bytes, non-zero = subject) and its RGBA pixels.  thickness and detail
 * are the parameters of docs/ENGINE.md.  Returns ORF_OK, ORF_ENOSUBJECT (empty
 * mask), ORF_ENOMEM or ORF_ECANCELED; on error *out is zeroed. */
int orf_inflate_build(const uint8_t *mask, const uint8_t *rgba, uint32_t w, uint32_t h, double thickness,
                      double detail, int threads, atomic_int *cancel, orf_inflate *out);

/* Extracts the solid at `grid` cells along the subject's longest side, in
 * canvas pixel units, into *out (no colours).  Closed and 2-manifold (see
 * mc.h).  Returns ORF_OK, ORF_ENOMEM or ORF_ECANCELED. */
int orf_inflate_mesh(const orf_inflate *f, int grid, int threads, atomic_int *cancel, orf_mesh *out);

/* The grid orf_inflate_mesh() samples at `grid` cells, and where each of
 * its points reads the 2-D fields: per grid x the canvas column and its
 * bilinear weight, per grid z the canvas row and weight, per grid y the
 * depth.  The CPU path and the stored-field path (src/gpu/) both read these
 * tables, so they evaluate the same numbers. */
typedef struct orf_inflate_axes {
  int32_t *col; /* nx */
  float *colt;  /* nx */
  int32_t *row; /* nz */
  float *rowt;  /* nz */
  float *y;     /* ny */
} orf_inflate_axes;

/* Fills *vol's dimensions, origin and spacing (eval and ctx NULL) and
 * allocates *a.  Returns ORF_OK or ORF_ENOMEM (then *a is empty). */
int orf_inflate_axes_build(const orf_inflate *f, int grid, orf_volume *vol, orf_inflate_axes *a);
void orf_inflate_axes_free(orf_inflate_axes *a);

/* Gives every vertex of m (canvas pixel units, as orf_inflate_mesh made it)
 * the image colour under it; allocates m->colors.  ORF_OK or ORF_ENOMEM. */
int orf_inflate_colorize(const orf_inflate *f, orf_mesh *m);

void orf_inflate_free(orf_inflate *f);

#endif
