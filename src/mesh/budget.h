/*
 * budget.h - a closed mesh brought within a face budget, whatever its
 * number of pieces: each connected component is simplified on its own
 * (in parallel, to a share of the budget), and where the pieces are too
 * many for the budget to give each its floor, the smallest are dropped
 * first - the way image-to-3D systems remove floaters - never the largest.
 */
#ifndef ORF_BUDGET_H
#define ORF_BUDGET_H

#include <stddef.h>

#include "orfeas.h"

/* Faces every kept component may have at least: a component is dropped
 * only when the budget cannot give each kept one this many (fewer when it
 * has fewer already), plus ORF_BUDGET_HANDLE_FACES per handle (genus) it
 * has.  README.md states the rule. */
#define ORF_BUDGET_FLOOR_FACES 32
#define ORF_BUDGET_HANDLE_FACES 16

/* Returned by orf_mesh_fit_budget when even the largest component alone
 * cannot be brought under the budget without changing its topology (more
 * handles than the budget has room for): the caller meshes coarser. */
#define ORF_BUDGET_UNREACHABLE 1

/* What orf_mesh_fit_budget did. */
typedef struct orf_budget_stats {
  size_t components;         /* components of the input */
  size_t dropped_components; /* of those, how many were dropped */
  double dropped_volume;     /* the dropped ones' share of the input's volume, 0..1 */
  size_t closed_handles;     /* handles (tunnels) the simplifier closed in kept pieces */
  size_t input_faces;        /* on ORF_BUDGET_UNREACHABLE: the faces of the input */
} orf_budget_stats;

/* Brings *m - closed, 2-manifold, oriented, as marching cubes and the
 * modes' meshers make it - to at most `budget` faces with every guarantee
 * of orf_mesh_simplify on each kept component: closed, 2-manifold, no
 * degenerate face, orientation unchanged; a component may lose handles
 * narrower than its simplified edges (orf_mesh_simplify_piece), which
 * st->closed_handles counts.  A mesh within the budget is left as it is.
 * Components keep their order; the result is the same for any `threads`
 * (>= 1).  *st (may be NULL) gets what was dropped.  Returns ORF_OK,
 * ORF_ENOMEM, ORF_EINVAL (an index >= vertex_count) or
 * ORF_BUDGET_UNREACHABLE (above).  On anything but ORF_OK, *m is either
 * unchanged or, for a mesh of several pieces (freed once they are copied
 * out, to hold the job's peak), empty: orf_mesh_free() on it is safe. */
int orf_mesh_fit_budget(orf_mesh *m, size_t budget, int threads, orf_budget_stats *st);

#endif
