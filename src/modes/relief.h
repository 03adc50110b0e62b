/*
 * relief.h - the `relief` mode: a bas-relief plate whose top is a height
 * field from the image's brightness (Rec. 709 luma, imagefield.h), blurred
 * by `smooth` source pixels, at base_mm + relief_mm * l (l flipped by
 * `invert`), on a flat base.  Without cutout the plate is the whole frame,
 * meshed directly as a height field (heightfield.h); with cutout it is
 * clipped to the subject's silhouette, with a smooth sub-pixel outline, by
 * marching cubes on max(d, z - top, -z) (prism.h).
 */
#ifndef ORF_RELIEF_H
#define ORF_RELIEF_H

#include "modes.h"

/* See orf_modes_prepare / orf_modes_mesh. */
int orf_relief_prepare(const orf_image *img, const uint8_t *mask, int threads, orf_modefield *f);
int orf_relief_mesh(const orf_modefield *f, int grid, int threads, atomic_int *cancel, orf_mesh *out);

#endif
