/*
 * mc.h - iso-surface extraction by marching cubes (W. Lorensen and H. Cline,
 * "Marching Cubes", SIGGRAPH 1987), organised like Flying Edges
 * (W. Schroeder, R. Maynard, B. Geveci, "Flying Edges: a high-performance
 * scalable isocontouring algorithm", LDAV 2015): the volume is cut into slabs
 * of z-slices processed in parallel, each edge crossing is owned by exactly
 * one slice, so vertices are shared directly (no welding pass) and the
 * output does not depend on the thread count.  Only the two slices a slab is
 * on are held in memory: the field is evaluated slice by slice through a
 * callback and no N^3 grid is stored.
 */
#ifndef ORF_MC_H
#define ORF_MC_H

#include <stdatomic.h>

#include "orfeas.h"

/* Fills out[j*nx + i] with the field at grid point (i, j, k), for all
 * 0 <= i < nx, 0 <= j < ny.  Called from several threads at once, possibly
 * more than once for the same k: must be thread-safe and give the same
 * values each time. */
typedef void (*orf_slice_fn)(void *ctx, int k, float *out);

typedef struct orf_volume {
  int nx, ny, nz;   /* grid points along x, y, z (>= 2 each) */
  float origin[3];  /* position of point (0,0,0) */
  float spacing[3]; /* distance between neighbouring points */
  orf_slice_fn eval;
  void *ctx;
} orf_volume;

/* Extracts the surface where the field equals `iso` into *out (positions
 * only; colors NULL), with shared vertices.  Inside is value < iso; faces
 * are counter-clockwise seen from outside.  When the field is > iso on the
 * whole boundary of the grid the mesh is closed and 2-manifold, with no
 * degenerate face (a crossing is never placed exactly on a grid point).
 * Errors: ORF_EINVAL (bad dims), ORF_ENOMEM, ORF_ECANCELED (cancel was set,
 * checked per slice).  On error *out is empty. */
int orf_mc_extract(const orf_volume *v, float iso, int threads, atomic_int *cancel, orf_mesh *out);

#endif
