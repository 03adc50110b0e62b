/*
 * meshdist.h - how far apart two meshes are, for the tests and benchmarks
 * that compare the GPU's reduced-precision meshes with the fp32 one: the
 * one-sided Hausdorff distance from the vertices of one mesh to the surface
 * (triangles) of the other, through a uniform grid of buckets; and, for
 * the determinism tests, whether two meshes export to the same bytes; and
 * how thin faces are (slivers: needles and caps).
 */
#ifndef ORF_MESHDIST_H
#define ORF_MESHDIST_H

#include "orfeas.h"

/* max over the vertices of a of the distance to the nearest triangle of b,
 * searching up to max_r (cell: bucket size, about the triangles' size).
 * Returns max_r when some vertex has no triangle within max_r, -1 when out
 * of memory. */
double md_one_sided(const orf_mesh *a, const orf_mesh *b, double cell, double max_r);

/* The symmetric Hausdorff distance: the larger of both one-sided ones. */
double md_hausdorff(const orf_mesh *a, const orf_mesh *b, double cell, double max_r);

/* Whether a and b export to the same bytes in each of the n formats:
 * -1 when they do, the index of the first format where they differ, or
 * n when an export failed. */
int md_first_differing_format(const orf_mesh *a, const orf_mesh *b, const orf_format *fmts, int n);

/* Twice the area over the longest edge squared of face f (its smallest
 * altitude over its longest edge), in double: 0 for a degenerate face. */
double md_face_quality(const orf_mesh *m, size_t f);

/* Faces whose md_face_quality is under ratio. */
size_t md_count_slivers(const orf_mesh *m, double ratio);

#endif
