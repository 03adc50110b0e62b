/*
 * export.h - the writers behind orf_export(), one file per format:
 * stl.c (binary STL), obj.c (Wavefront OBJ with `v x y z r g b`),
 * ply.c (binary little-endian PLY with colours), glb.c (glTF 2.0 binary).
 * Each appends the whole file to an orf_buf; the same mesh gives the same
 * bytes.  Input meshes are in millimetres, Z up.
 */
#ifndef ORF_EXPORT_H
#define ORF_EXPORT_H

#include "buf.h"
#include "orfeas.h"

int orf_write_stl(const orf_mesh *m, orf_buf *out);
int orf_write_obj(const orf_mesh *m, orf_buf *out);
int orf_write_ply(const orf_mesh *m, orf_buf *out);
/* GLB in glTF's convention: metres, Y up ((x, y, z) mm -> (x, z, -y) / 1000). */
int orf_write_glb(const orf_mesh *m, orf_buf *out);

#endif
