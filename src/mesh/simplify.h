/*
 * simplify.h - decimation to a face budget with meshoptimizer's simplifier
 * (quadric edge collapse after M. Garland and P. Heckbert, "Surface
 * Simplification Using Quadric Error Metrics", SIGGRAPH 1997), followed by a
 * topology check: meshopt_simplify can leave non-manifold edges at high
 * reduction, so a result that fails orf_mesh_check is not accepted and the
 * reduction backs off until one passes (at worst the input is kept).
 */
#ifndef ORF_SIMPLIFY_H
#define ORF_SIMPLIFY_H

#include <stddef.h>

#include "orfeas.h"

/* Reduces *m (closed, 2-manifold) to at most about target_faces faces,
 * keeping it closed, 2-manifold, free of degenerate and duplicate faces,
 * with its Euler characteristic unchanged.  Unused vertices are removed and
 * colours follow their vertices.  A mesh already under the budget is left
 * alone.  Returns ORF_OK or ORF_ENOMEM (*m then unchanged). */
int orf_mesh_simplify(orf_mesh *m, size_t target_faces);

#endif
