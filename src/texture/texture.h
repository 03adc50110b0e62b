/*
 * texture.h - the picture of a job as a texture (orfeas.h, orf_texture;
 * docs/ENGINE.md, "Texture").
 *
 * Every mode is made from the image in a plane: inflate's X and Z are the
 * image's x and up, relief, lithophane and extrude lie on it with X and Y.
 * So the texture is a planar projection (the "projector" texture mapping
 * of Segal et al., "Fast shadows and lighting effects using texture
 * mapping", SIGGRAPH 1992, with an orthographic projector): texture
 * coordinates are an affine function of a vertex's position, and the
 * texture is the image itself, cropped to the subject.  Where a surface
 * is not facing the projector (inflate's back and rim, extrude's walls) it
 * takes the colour of the image behind it: outside the subject that is a
 * fill of the nearest subject colour, so no background shows there.
 *
 *   plan.c     what the pipeline keeps while its stages run: the working
 *              image's subject mask and the final placement of the mesh,
 *              from which the projection follows
 *   make.c     after the final stage: the image decoded again at the
 *              texture's resolution, cropped, scaled, filled and encoded
 *   fill.c     which texels show the subject's own colour, and the fill of
 *              the others (the exact Euclidean feature transform)
 *   encode.c   JPEG, or PNG for flat colours, and the rule between them
 *   texture.c  orfeas.h's orf_texture_* functions
 */
#ifndef ORF_TEXTURE_H
#define ORF_TEXTURE_H

#include <stdatomic.h>
#include <stdint.h>

#include "inflate.h"
#include "mask.h"
#include "modes.h"
#include "orfeas.h"

/* The crop reaches this many working-image pixels past the subject's
 * bounding box, so that the solid's outline (inflate's lies up to a pixel
 * beyond the mask's edge) projects inside the texture. */
#define ORF_TEXTURE_MARGIN_PX 2
/* Texels on the longer side per quality step: 256 q, at most
 * ORF_TEXTURE_MAX_SIDE (q 8 and above). */
#define ORF_TEXTURE_TEXELS_PER_Q 256

typedef struct orf_texture_plan {
  int wanted;              /* the job makes a texture */
  orf_mask mask;           /* the working image's subject mask; data NULL: the whole frame */
  uint32_t work_w, work_h; /* the image the mask belongs to */
  /* Working-image pixel (x right, y down, pixel edges at integers) of a
   * point (X, Y, Z) of the final mesh in millimetres:
   * x = px[0] . (X, Y, Z, 1), y = px[1] . (X, Y, Z, 1). */
  double px[2][4];
  int placed; /* px is set */
} orf_texture_plan;

/* Non-zero when a job with parameters p makes a texture: texture is not
 * off, style is realistic, and the picture is flat (not a cylinder
 * lithophane). */
int orf_texture_wanted(const orf_params *p);

/* Zeroes *t and records whether the job wants a texture. */
void orf_texture_plan_init(orf_texture_plan *t, const orf_params *p);

/* Takes *mask (the subject of a w x h image, data NULL for the whole
 * frame) when the plan wants a texture, freeing the one it held; frees it
 * otherwise.  *mask is zeroed either way.  The pipeline hands it the mask
 * of each image it prepares: the working image's is the last. */
void orf_texture_plan_keep_mask(orf_texture_plan *t, orf_mask *mask, uint32_t w, uint32_t h);

/* Records the projection of the final mesh: lo, hi are the bounds of the
 * mesh before the pipeline placed it (inflate's canvas pixels when mf is
 * NULL, with f its fields; a mode's model millimetres otherwise) and
 * `placed` the mesh after.  Placement is a scale and offset per axis
 * (to_millimetres, orf_modes_place), which the two boxes give exactly;
 * a cylinder lithophane, which is not, never wants a texture. */
void orf_texture_plan_place(orf_texture_plan *t, const orf_inflate *f, const orf_modefield *mf,
                            const float lo[3], const float hi[3], const orf_mesh *placed);

/* Makes the texture of the image in data (size bytes, decoded again
 * within lim) for a job at `quality` into *out: the crop of the subject
 * (the mask's bounding box and ORF_TEXTURE_MARGIN_PX; the whole frame
 * without a mask) at min(ORF_TEXTURE_MAX_SIDE, 256 quality) texels on its
 * longer side or the image's own resolution where that is less, filled
 * (fill.c) and encoded (encode.c), with the projection composed from the
 * plan's.  A plan that does not want one leaves *out zeroed.  Returns
 * ORF_OK, ORF_ENOMEM, ORF_ECANCELED, a decoder's error, or ORF_EINTERNAL
 * when the plan was never placed; on error *out is zeroed. */
int orf_texture_plan_make(const orf_texture_plan *t, const uint8_t *data, size_t size, const orf_limits *lim,
                          int quality, int threads, atomic_int *cancel, orf_texture *out);

void orf_texture_plan_free(orf_texture_plan *t);

/* fill.c: marks in trusted (w*h bytes) the pixels of the subject mask
 * (w*h, non-zero = subject) whose colour is the subject's own: those
 * farther than ORF_TEXTURE_RING_PX from every background pixel (beyond the
 * frame is not background), and the pixels of parts too thin to have such
 * an inside (farther than twice the ring and a half pixel from every
 * inside pixel: a corner's ring lies up to about that far), which keep
 * their own.  The outline's ring mixes subject and background
 * in its pixels (a box-filtered or anti-aliased edge, and a mask that
 * takes a pixel with a share of subject colour as subject: the colour
 * model's threshold, the network's matte at one half), so it is left to
 * the fill where an inside is near.  ORF_OK, ORF_ENOMEM. */
#define ORF_TEXTURE_RING_PX 2.0f
int orf_texture_trust(const uint8_t *mask, uint32_t w, uint32_t h, int threads, uint8_t *trusted);

/* fill.c: gives every pixel of the w x h RGBA image whose trusted byte is
 * 0 the colour of the nearest trusted pixel (alpha 255), by the exact
 * Euclidean feature transform: orf_edt's nearest-feature indices
 * (Felzenszwalb & Huttenlocher 2012), ties broken as it breaks them.
 * Without any trusted pixel the image is left as it is.  ORF_OK,
 * ORF_ENOMEM, ORF_EINVAL (a side over the EDT's limits). */
int orf_texture_fill(uint8_t *rgba, uint32_t w, uint32_t h, const uint8_t *trusted, int threads);

/* encode.c: non-zero when the trusted texels (trusted NULL: all) of the
 * w x h RGBA image are flat colours, as a logo or a drawing has: at least
 * ORF_TEXTURE_FLAT_SHARE of those whose right and lower neighbours are
 * trusted equal both exactly.  A photograph's noise and a JPEG's
 * artefacts leave almost none equal. */
#define ORF_TEXTURE_FLAT_SHARE 0.5
int orf_texture_is_flat(const uint8_t *rgba, uint32_t w, uint32_t h, const uint8_t *trusted);

/* encode.c: encodes the w x h RGBA image (alpha ignored: the texture is
 * opaque) as an RGB PNG (png != 0; libspng, zlib level 6) or a baseline
 * JPEG (libjpeg-turbo, quality ORF_TEXTURE_JPEG_QUALITY, 4:2:0, the
 * accurate integer DCT) into *out (orf_malloc'd, *size bytes) and sets
 * *mime.  The same pixels give the same bytes.  ORF_OK, ORF_ENOMEM,
 * ORF_EINTERNAL (the codec failed otherwise); on error *out is NULL. */
#define ORF_TEXTURE_JPEG_QUALITY 90
int orf_texture_encode(const uint8_t *rgba, uint32_t w, uint32_t h, int png, uint8_t **out, size_t *size,
                       const char **mime);

#endif
