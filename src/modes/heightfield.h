/*
 * heightfield.h - closed solids over a height field, meshed directly: a
 * regular grid of the top surface, vertical walls and a flat bottom, with
 * no marching cubes.  For a field sampled on a grid this is exact (the top
 * is the bilinear-grid's triangulation, the walls and bottom are planes)
 * and costs one vertex per sample; the flat bottom and walls are left for
 * the simplifier (simplify.h), which removes nearly all of them.
 *
 *  - plate: top z(i, j) > 0 over a rectangular grid of x and y lines, a
 *    bottom at z = 0 with the same grid (so every face is a right triangle
 *    of the grid, and no sliver or fan vertex of high valence reaches the
 *    simplifier), walls along the four sides.  Topologically a sphere
 *    (Euler characteristic 2).
 *  - ring: the same grid wrapped around the Z axis: columns are angles,
 *    rows heights, the outer wall at radius r_in + t(i, j) (t > 0), a smooth
 *    inner wall at r_in (one band of quads: a cylinder is ruled along Z),
 *    and flat annular rims at the bottom and top row.  A torus (Euler 0).
 *    Blocks of equal thickness are graded as a plate's flat blocks (two
 *    vertical lines are coplanar, so every strip between two columns is
 *    flat); the column of cells across the seam never is.
 * Faces are counter-clockwise seen from outside; every quad is split along
 * its diagonal of smaller height difference (the triangulation closest to
 * the field, deterministic).
 */
#ifndef ORF_HEIGHTFIELD_H
#define ORF_HEIGHTFIELD_H

#include <stdint.h>

#include "orfeas.h"

/* Meshes the plate over xs[nx] (increasing) and ys[ny] (increasing),
 * nx, ny >= 2, with top heights z[j*nx + i] > 0, into *out (no colours).
 * Returns ORF_OK, ORF_EINVAL (a grid under 2 x 2 or over 2^29 points) or
 * ORF_ENOMEM; on error *out is empty. */
int orf_hf_plate(const float *xs, uint32_t nx, const float *ys, uint32_t ny, const float *z, orf_mesh *out);

/* Meshes the ring: column i at angle theta[i] (increasing in [0, 2 pi),
 * nt >= 3 columns, the last joining the first), row j at height zs[j]
 * (increasing, nz >= 2), thickness t[j*nt + i] > 0 outside the inner radius
 * r_in > 0, into *out (no colours).  Errors as orf_hf_plate. */
int orf_hf_ring(const float *theta, uint32_t nt, const float *zs, uint32_t nz, float r_in, const float *t,
                orf_mesh *out);

#endif
