/*
 * mc_tables.h - the 256-case marching-cubes table of ORFEAS (mc.c uses it).
 *
 * A cube cell has corners c = x + 2y + 4z (x, y, z in {0, 1}); case bit c is
 * set when corner c is inside (value < iso).  Its edges are numbered by axis:
 *   x-edges 0..3: edge 0 + y + 2z joins corners (0,y,z) and (1,y,z)
 *   y-edges 4..7: edge 4 + x + 2z joins corners (x,0,z) and (x,1,z)
 *   z-edges 8..11: edge 8 + x + 2y joins corners (x,y,0) and (x,y,1)
 * For a case, orf_mc_tri_edges[case] lists orf_mc_tri_count[case] triangles
 * as triples of edges (a vertex sits on each crossed edge), counter-clockwise
 * seen from outside, that is with the normal pointing to increasing values.
 * How the table was built, and why it is consistent, is in mc_tables.c.
 */
#ifndef ORF_MC_TABLES_H
#define ORF_MC_TABLES_H

#include <stdint.h>

#define ORF_MC_MAX_TRIS 5 /* most triangles of any case */

extern const uint8_t orf_mc_tri_count[256];
extern const uint8_t orf_mc_tri_edges[256][ORF_MC_MAX_TRIS * 3];

#endif
