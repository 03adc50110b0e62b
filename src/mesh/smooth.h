/*
 * smooth.h - Taubin lambda|mu smoothing (G. Taubin, "A Signal Processing
 * Approach to Fair Surface Design", SIGGRAPH 1995): alternating Laplacian
 * steps of +lambda and mu < -lambda, a low-pass filter that does not shrink
 * the surface as plain Laplacian smoothing does.
 */
#ifndef ORF_SMOOTH_H
#define ORF_SMOOTH_H

#include "orfeas.h"

/* Smooths vertex positions in place with `iterations` lambda|mu pairs over
 * the uniform (umbrella) Laplacian of the mesh's edge graph.  Topology is
 * untouched.  Deterministic for any thread count (Jacobi updates).
 * Returns ORF_OK, ORF_ENOMEM or ORF_EINVAL (an index >= vertex_count);
 * positions are unchanged on error. */
int orf_mesh_smooth_taubin(orf_mesh *m, int iterations, float lambda, float mu, int threads);

#endif
