/*
 * prism.h - a silhouette extruded along Z, as the zero level of a 3-D
 * signed distance field contoured by marching cubes (mc.h, Lorensen and
 * Cline 1987).  The outline comes from a smooth 2-D signed distance d(x, y)
 * (silhouette.h), so it is sub-pixel and free of the pixel staircase, and
 * marching cubes makes the surface closed and 2-manifold whatever the
 * silhouette's topology (holes, several parts, thin necks).
 *
 *  - extrusion of depth D with rounded edges of radius b (0 <= b <= D/2):
 *    the exact signed distance of an extruded, rounded 2-D shape
 *    (I. Quilez, "distance functions": opExtrusion with a rounding),
 *      w = (d + b, |z - D/2| - D/2 + b),
 *      f = |max(w, 0)| + min(max(w.x, w.y), 0) - b;
 *    the outline stays on d = 0, its top and bottom edges get quarter
 *    circles of radius b, parts thinner than 2b get a lower, lens-like
 *    profile instead of vanishing;
 *  - a plate under a height field top(x, y): f = max(d, z - top, -z).
 * Points are sampled on a grid of spacing h in X and Y and hz in Z whose Z
 * levels sit half a step off z = 0 and z = D, so the flat faces land on
 * those planes exactly (the field is linear in z across them).  The caller
 * fills d and top on the grid; the grid must reach past the outline so
 * that the field is positive on its boundary.
 */
#ifndef ORF_PRISM_H
#define ORF_PRISM_H

#include <stdatomic.h>

#include "orfeas.h"

typedef struct orf_prism {
  int nx, ny, nz;   /* grid points */
  float x0, y0, h;  /* point (i, j) at (x0 + i h, y0 + j h), mm */
  float z0, hz;     /* level k at z0 + k hz, mm */
  float *d;         /* nx*ny signed distance to the outline, mm, negative inside */
  const float *top; /* nx*ny height of the top (mm), or NULL: extrusion of `depth` with `bevel` */
  float depth, bevel;
} orf_prism;

/* Chooses the Z levels for a solid between z = 0 and z = zmax at about the
 * spacing h: sets p->z0, p->hz and p->nz.  With exact_top, zmax falls
 * halfway between two levels as z = 0 does. */
void orf_prism_levels(orf_prism *p, float zmax, float h, int exact_top);

/* Contours the field into *out (mm, no colours): closed, 2-manifold,
 * outward.  Returns ORF_OK, ORF_EINVAL (a grid under 2 points an axis),
 * ORF_ENOMEM or ORF_ECANCELED; on error *out is empty. */
int orf_prism_mesh(const orf_prism *p, int threads, atomic_int *cancel, orf_mesh *out);

#endif
