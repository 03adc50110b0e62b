/*
 * meshgen.h - closed test meshes for the mesh modules' tests (check,
 * smooth, simplify): icospheres, UV spheres, tori, cubes, two spheres, a
 * noisy sphere and a marching-tetrahedra sphere that has the slivers of a
 * real iso-surface.  Every generator fills *m through orf_mesh_alloc (free
 * it with orf_mesh_free), is deterministic, and returns 0 or -1 when out of
 * memory.  Faces are counter-clockwise seen from outside.
 */
#ifndef ORF_MESHGEN_H
#define ORF_MESHGEN_H

#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

/* Icosahedron subdivided `subdiv` times (20 * 4^subdiv faces), vertices
 * projected on the sphere of `radius` about the origin. */
int mg_icosphere(orf_mesh *m, int subdiv, float radius);

/* Latitude/longitude sphere: `stacks` bands from pole to pole (>= 2),
 * `slices` around; 2 * slices * (stacks - 1) faces, poles of valence slices. */
int mg_uv_sphere(orf_mesh *m, int stacks, int slices, float radius);

/* Torus about the z axis: major radius R, minor r, nu x nv quads, split in
 * two triangles each (Euler characteristic 0). */
int mg_torus(orf_mesh *m, float R, float r, int nu, int nv);

/* Axis-aligned cube of half side `half` about the origin, each side an
 * n x n grid of quads (12 n^2 faces), sharp edges. */
int mg_cube(orf_mesh *m, int n, float half);

/* Two icospheres of `radius`, `gap` apart along x (two components). */
int mg_two_spheres(orf_mesh *m, int subdiv, float radius, float gap);

/* Icosphere whose vertices are moved radially by amplitude * radius * u,
 * u uniform in [-1, 1] from a hash of (seed, vertex). */
int mg_noisy_sphere(orf_mesh *m, int subdiv, float radius, float amplitude, uint32_t seed);

/* The sphere |p| = radius by marching tetrahedra (6 per cube) on an n^3
 * grid over [-1.2 r, 1.2 r]^3, centre offset a little from the lattice:
 * closed, 2-manifold, with the thin slivers of real iso-surfaces. */
int mg_mt_sphere(orf_mesh *m, int n, float radius);

/* A mesh from arrays (copied); colors may be NULL. */
int mg_from_arrays(orf_mesh *m, const float *positions, size_t nv, const uint32_t *indices, size_t nf,
                   const uint8_t *colors);

/* dst = a then b (b's indices shifted); colours kept if both have them. */
int mg_concat(orf_mesh *dst, const orf_mesh *a, const orf_mesh *b);

/* Mean and standard deviation of |p - centre| over the vertices. */
void mg_radius_stats(const orf_mesh *m, const float centre[3], double *mean, double *stddev);

#endif
