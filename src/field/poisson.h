/*
 * poisson.h - the inflation height of a silhouette as the solution of a
 * Poisson equation, as in Monster Mash (M. Dvoroznak, D. Sykora, C. Curtis,
 * B. Curless, O. Sorkine-Hornung, O. Wang, "Monster Mash: A Single-View
 * Approach to Casual 3D Modeling and Animation", SIGGRAPH Asia 2020) and
 * Teddy before it (T. Igarashi, S. Matsuoka, H. Tanaka, SIGGRAPH 1999).
 *
 * Solving -laplace(h) = 4 inside the subject with h = 0 outside gives, for a
 * disc of radius R, h = R^2 - r^2: sqrt(h) is then exactly a hemisphere.  For
 * any shape h is smooth inside, so sqrt(h) has no crease along the medial
 * axis (a sqrt-of-distance profile does) and meets the outline vertically.
 */
#ifndef ORF_POISSON_H
#define ORF_POISSON_H

#include <stdatomic.h>
#include <stdint.h>

/* Solves -laplace(h) = 4 (pixel units) on the pixels where mask != 0, with
 * h = 0 on every other pixel and on the frame (border pixels count as
 * outside), into h[w*hgt].  Cascadic multigrid (P. Deuflhard, "Cascadic
 * conjugate gradient methods for elliptic partial differential equations",
 * 1994 - here with red-black SOR as the smoother): solved on a pyramid of
 * coarser masks first, each level's solution prolonged as the next one's
 * start, then V-cycles on the finest level.  Every inside pixel ends at
 * least 1, as the exact discrete solution is.  Deterministic for any thread count.  Returns ORF_OK,
 * ORF_ENOMEM or ORF_ECANCELED. */
int orf_poisson_solve(const uint8_t *mask, uint32_t w, uint32_t hgt, float *h, int threads,
                      atomic_int *cancel);

#endif
