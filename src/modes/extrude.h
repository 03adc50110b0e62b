/*
 * extrude.h - the `extrude` mode: the subject's silhouette extruded to
 * depth_mm with a rounded edge of radius bevel_mm (logo, cookie-cutter
 * style).
 *
 * Method: marching cubes on the exact signed distance of the rounded
 * extrusion of a smooth 2-D signed distance field (prism.h over
 * silhouette.h).  Chosen over contouring the outline in 2-D (marching
 * squares) and triangulating the caps: the blurred distance field gives the
 * sub-pixel outline, the 3-D distance gives the rounded bevel for free, and
 * marching cubes' contract (closed, 2-manifold, any topology, no degenerate
 * face) covers holes, several parts and thin necks without a constrained
 * triangulation and its robustness problems.  The flat caps it produces in
 * excess are what the simplifier removes best.
 */
#ifndef ORF_EXTRUDE_H
#define ORF_EXTRUDE_H

#include "modes.h"

/* See orf_modes_prepare / orf_modes_mesh. */
int orf_extrude_prepare(const orf_image *img, const uint8_t *mask, int threads, orf_modefield *f);
int orf_extrude_mesh(const orf_modefield *f, int grid, int threads, atomic_int *cancel, orf_mesh *out);

/* Shared with relief's cutout: the silhouette of img with a canvas margin
 * wide enough for the coarsest stage and the blur that makes the outline
 * smooth; sets f->sil, f->mm_per_px (the subject's longest side is
 * size_mm), f->ox and f->oy. */
int orf_extrude_silhouette(const orf_image *img, const uint8_t *mask, int with_colors, int threads,
                           orf_modefield *f);

/* Fills a prism's grid (prism.h) over f's subject at `grid` cells along its
 * longest side: p->nx, ny, x0, y0, h, and p->d (allocated with orf_malloc;
 * the caller frees it).  ORF_OK or ORF_ENOMEM. */
struct orf_prism;
int orf_extrude_grid(const orf_modefield *f, int grid, int threads, struct orf_prism *p);

#endif
