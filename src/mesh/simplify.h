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
 * alone.  Returns ORF_OK, ORF_ENOMEM or ORF_EINVAL (an index >=
 * vertex_count); *m is unchanged on error. */
int orf_mesh_simplify(orf_mesh *m, size_t target_faces);

/* orf_mesh_simplify() for a caller that already knows the input's
 * topology (watertight, manifold, euler, components, sign of volume in
 * *known; the rest is not read), e.g. from the marching-cubes contract:
 * skips checking the full-size input, the costliest check of a job. */
int orf_mesh_simplify_known(orf_mesh *m, size_t target_faces, const orf_mesh_report *known);

/* Faces from which orf_mesh_simplify_piece works in slabs. */
#define ORF_SIMPLIFY_SLAB_FACES 64000

/* orf_mesh_simplify_known() for one connected closed piece (known->
 * components 1) that, with close_handles, may come back with fewer handles
 * than it had - a higher Euler characteristic, at most 2 - where
 * meshoptimizer collapses a tunnel narrower than the result's edges (it
 * does not test the link condition), as meshing on a coarser grid would
 * close it (a tunnel collapsed to a point or an edge is split apart so the
 * surface is a manifold again; the copies of a split vertex share its
 * position); without, as orf_mesh_simplify_known.  Everything else is held
 * as there: closed, 2-manifold, one piece, orientation kept.  At most 3
 * attempts with close_handles, 8 without.  Used per piece by
 * orf_mesh_fit_budget (budget.h), which reports the handles closed.  With
 * threads >= 1, a large piece is simplified in slabs on that many threads
 * (simplify.c), the same bytes for any count; 0 keeps one pass over the
 * whole, as orf_mesh_simplify_known. */
int orf_mesh_simplify_piece(orf_mesh *m, size_t target_faces, const orf_mesh_report *known, int close_handles,
                            int threads);

/* Removes slivers from a closed mesh: degenerate faces (see
 * orf_mesh_check) and needles and caps, faces whose smallest altitude is
 * under 1e-3 of their longest edge (too thin for a float facet normal, as
 * slicers compute it, to be trusted).  A cap's longest edge is flipped, or
 * else a needle's shortest edge collapsed, where that keeps the mesh
 * manifold and every neighbouring face's orientation and makes no new
 * sliver (M. Botsch and L. Kobbelt, VMV 2001); collapsed faces and unused
 * vertices are dropped.  A mesh without slivers is left as it is.  Used by
 * the simplifier and after scaling, where float rounding can bring a face
 * under the degenerate threshold.  The caller checks the result.  Returns
 * ORF_OK or ORF_ENOMEM. */
int orf_mesh_fix_degenerate(orf_mesh *m);

#endif
