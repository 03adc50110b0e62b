/*
 * export.h - the writers behind orf_export(), one file per format:
 * stl.c (binary STL), obj.c (Wavefront OBJ with `v x y z r g b`),
 * ply.c (binary little-endian PLY with colours), glb.c (glTF 2.0 binary)
 * and glb_meshopt.c (the same, quantised and compressed),
 * threemf.c (3MF core zip with a colour group).
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
/* The same, quantised and meshopt-compressed (glb_meshopt.c). */
int orf_write_glb_meshopt(const orf_mesh *m, orf_buf *out);
/* glb.c's pieces that glb_meshopt.c shares: the position conversion, the
 * sRGB byte to linear float, the container up to the BIN chunk's data. */
void orf_glb_position(const float *p, float q[3]);
float orf_srgb_to_linear(uint8_t c);
int orf_glb_begin(orf_buf *out, orf_buf *json, size_t bin_len);
/* 3MF (3MF Core Specification 1.3): millimetres, Z up, as given; colours as a
 * materials-extension colour group, quantised to 5 bits a channel. */
int orf_write_3mf(const orf_mesh *m, orf_buf *out);

/* Writes n in decimal at s, which has room for 20 characters; returns the
 * end (no terminating NUL).  In obj.c. */
char *orf_put_uint(char *s, uint64_t n);

#endif
