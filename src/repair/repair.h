/*
 * repair.h - the parts of orf_repair() (repair.c) for the rest of the engine
 * and the tests: welding and orientation (orient.c), the fast generalized
 * winding number (winding.c) and nearest-point queries (nearest.c).  The
 * public entry points (orf_mesh_import, orf_repair) are in orfeas.h.
 */
#ifndef ORF_REPAIR_H
#define ORF_REPAIR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

/* ---- orient.c -------------------------------------------------------- */

/* Merges the vertices of *m that lie within tol of each other (the first
 * in index order is kept, colours with it), drops faces that become
 * degenerate (a repeated index) and exact duplicates (the same three
 * vertices in any order; the first is kept), and unused vertices.
 * Deterministic.  Counts go to info.  Returns ORF_OK or ORF_ENOMEM. */
int orf_repair_weld(orf_mesh *m, double tol, orf_repair_info *info);

/* Orients the faces of *m consistently across manifold edges (edges of
 * exactly two faces), by breadth-first propagation from the lowest face of
 * each patch, then turns each patch outward: a patch whose signed volume
 * (about its own area-weighted centroid) is negative is flipped.  Then the
 * connected components (through shared vertices) whose volume is under
 * min_share of the largest's are dropped (floaters).  Counts go to info,
 * the largest component's volume to *largest_volume.  Returns ORF_OK or
 * ORF_ENOMEM. */
int orf_repair_orient(orf_mesh *m, double min_share, orf_repair_info *info, double *largest_volume);

/* *overlap = 1 when the bounding boxes of two connected components (through
 * shared vertices) of m meet: nested or intersecting shells, which a mesh
 * passed through unremeshed must not have (a conservative test: two
 * interlocked rings are remeshed too).  Returns ORF_OK or ORF_ENOMEM. */
int orf_repair_overlapping(const orf_mesh *m, int *overlap);

/* ---- winding.c ------------------------------------------------------- */

/* A bounding-volume tree over a triangle soup, with each node's far-field
 * expansion (see winding.c). */
typedef struct orf_wn_tree orf_wn_tree;

/* Builds the tree of *m's faces (positions copied; m may be freed after).
 * Returns NULL when out of memory. */
orf_wn_tree *orf_wn_build(const orf_mesh *m);
void orf_wn_free(orf_wn_tree *t);

/* The generalized winding number at q: the far-field expansion for nodes
 * farther than beta times their radius, the exact solid angle otherwise.
 * beta <= 0 evaluates every triangle exactly (the direct sum). */
double orf_wn_eval(const orf_wn_tree *t, const double q[3], double beta);

/* The order of the far-field expansion and the distance criterion (a node
 * farther than beta times its radius is expanded) that orf_wn_eval's
 * callers and orf_wn_grid_eval use (see winding.c). */
#define ORF_WN_ORDER 2
#define ORF_WN_BETA 2.0

/* orf_wn_eval with the expansion to `order` (1: the zeroth- and
 * first-order terms; 2: and the second), for tests and benchmarks. */
double orf_wn_eval_order(const orf_wn_tree *t, const double q[3], double beta, int order);

/* The order and beta orf_wn_grid_eval uses on t (ORF_WN_ORDER and
 * ORF_WN_BETA unless set), for benchmarks. */
void orf_wn_set_expansion(orf_wn_tree *t, int order, double beta);

/* The distance from q to the nearest triangle of t (branch and bound over
 * the tree's bounding spheres); INFINITY for an empty tree. */
double orf_wn_distance(const orf_wn_tree *t, const double q[3]);

/* orf_wn_distance() searching only within max: max when nothing is nearer. */
double orf_wn_distance_within(const orf_wn_tree *t, const double q[3], double max);

/* The direct O(faces) sum of solid angles at q, for tests and benchmarks. */
double orf_wn_direct(const orf_mesh *m, const double q[3]);

/* A winding-number grid: nx*ny*nz points at origin + spacing*(i,j,k),
 * values quantised to 16 bits (see winding.c). */
typedef struct orf_wn_grid {
  int nx, ny, nz;
  double origin[3], spacing;
  uint16_t *w;
  size_t exact_evals; /* points evaluated through the tree */
} orf_wn_grid;

/* Evaluates the winding number of t on a grid covering [lo, hi] with cells
 * of `spacing` and a margin of two cells: exactly at points near the
 * surface, interpolated in blocks far from every triangle whose corners
 * agree (see winding.c).  Returns ORF_OK, ORF_ENOMEM or ORF_ECANCELED. */
int orf_wn_grid_eval(const orf_wn_tree *t, const float lo[3], const float hi[3], double spacing, int threads,
                     atomic_int *cancel, orf_wn_grid *g);
void orf_wn_grid_free(orf_wn_grid *g);

/* The winding number stored at grid point (i, j, k). */
float orf_wn_grid_at(const orf_wn_grid *g, int i, int j, int k);

/* Bytes orf_wn_build and orf_wn_grid_eval allocate for `faces` faces and a
 * grid of `points` points. */
size_t orf_wn_bytes(size_t faces, size_t points);

/* ---- nearest.c ------------------------------------------------------- */

/* A uniform hash grid of points, for nearest-point queries. */
typedef struct orf_point_grid {
  const float *pts;
  size_t n;
  float lo[3], cell;
  int dim[3];
  uint32_t *start, *idx;
} orf_point_grid;

/* Builds a grid over n points (pts kept by reference).  ORF_OK/ORF_ENOMEM. */
int orf_point_grid_build(orf_point_grid *g, const float *pts, size_t n);
void orf_point_grid_free(orf_point_grid *g);

/* Index of the point nearest q, *d2 its squared distance (n must be > 0). */
size_t orf_point_grid_nearest(const orf_point_grid *g, const float q[3], float *d2);

/* ---- import.c ------------------------------------------------------- */

/* The uncompressed bytes a zip's (a 3MF's) directory declares; 0 when data
 * is not a readable zip. */
uint64_t orf_zip_unpacked_bytes(const uint8_t *data, size_t size);

/* The triangles an OBJ's face lines make (a polygon of k corners is
 * k - 2), counted without parsing numbers: an upper bound of what assimp
 * reads, used by the memory estimate and the import's limit. */
uint64_t orf_obj_triangles(const uint8_t *data, size_t size);

/* ---- isolate.c ------------------------------------------------------ */

/* The part of an import that runs in the child: fills *out (orf_malloc) or
 * returns an error with a sentence in info->message. */
typedef int (*orf_child_parse_fn)(void *ctx, orf_mesh *out, orf_repair_info *info);

/* Runs parse(ctx, ...) in a child process (fork(), see isolate.c) and
 * receives the mesh it makes into *out.  The child has `seconds` of wall
 * time and, outside sanitizer builds, mem_bytes of address space above
 * what it inherits.  An answer of more than max_vertices vertices or
 * max_faces faces, or of none, is refused before anything is allocated.
 * Returns parse's own code and message; ORF_EBADMESH with a sentence when
 * the child crashed, was killed or ran out of time; ORF_EINTERNAL when it
 * exited without a whole answer; ORF_EIO or ORF_ENOMEM when no child could
 * be started.  The mesh's indices and positions are as the child sent
 * them: the caller checks them.  On error *out is empty. */
int orf_parse_isolated(orf_child_parse_fn parse, void *ctx, double seconds, size_t mem_bytes,
                       size_t max_vertices, size_t max_faces, orf_mesh *out, orf_repair_info *info);

#endif
