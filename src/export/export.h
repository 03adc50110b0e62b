/*
 * export.h - the writers behind orf_export(), one file per format:
 * stl.c (binary STL), obj.c (Wavefront OBJ with `v x y z r g b`),
 * ply.c (binary little-endian PLY with colours), glb.c (glTF 2.0 binary)
 * and glb_meshopt.c (the same, quantised and compressed),
 * threemf.c (3MF core zip with a colour group or a texture), zip.c (the
 * zip packages).
 * Each appends the whole file to an orf_buf; the same mesh gives the same
 * bytes.  Input meshes are in millimetres, Z up.
 */
#ifndef ORF_EXPORT_H
#define ORF_EXPORT_H

#include "buf.h"
#include "draco.h"
#include "orfeas.h"

int orf_write_stl(const orf_mesh *m, orf_buf *out);
/* OBJ with `v x y z r g b` colours; with a texture t (not NULL), `vt` per
 * vertex from t's projection (v counted up: 1 - v), `f a/a b/b c/c`,
 * `mtllib mtl_name` and `usemtl`, and no vertex colours. */
int orf_write_obj(const orf_mesh *m, const orf_texture *t, const char *mtl_name, orf_buf *out);
/* The MTL beside a textured OBJ: one material whose map_Kd is image_name. */
int orf_write_mtl(const char *image_name, orf_buf *out);
int orf_write_ply(const orf_mesh *m, orf_buf *out);
/* GLB in glTF's convention: metres, Y up ((x, y, z) mm -> (x, z, -y) / 1000);
 * with a texture t (not NULL), TEXCOORD_0 and the image instead of COLOR_0. */
int orf_write_glb(const orf_mesh *m, const orf_texture *t, orf_buf *out);
/* The same, quantised and meshopt-compressed (glb_meshopt.c). */
int orf_write_glb_meshopt(const orf_mesh *m, const orf_texture *t, orf_buf *out);
/* glb.c's pieces that glb_meshopt.c and glb_draco.c share: the position conversion, the
 * sRGB byte to linear float, the material (and with an image in buffer
 * view `image_view`, the texture, sampler and image that it uses), the
 * container up to the BIN chunk's data. */
void orf_glb_position(const float *p, float q[3]);
float orf_srgb_to_linear(uint8_t c);
void orf_glb_put_material(orf_buf *json, const orf_texture *t, int image_view);
/* Appends len bytes of data and zeros up to a multiple of 4 (glTF's
 * alignment of a buffer view in the BIN chunk). */
void orf_glb_put_padded(orf_buf *out, const void *data, size_t len);
int orf_glb_begin(orf_buf *out, orf_buf *json, size_t bin_len);
/* The same, Draco-compressed (KHR_draco_mesh_compression; glb_draco.c with
 * draco.cpp). */
int orf_write_glb_draco(const orf_mesh *m, const orf_texture *t, orf_buf *out);
/* 3MF (3MF Core Specification 1.3): millimetres, Z up, as given; colours as a
 * materials-extension colour group, quantised to 5 bits a channel; with a
 * texture t (not NULL), a texture2d and texture2dgroup instead. */
int orf_write_3mf(const orf_mesh *m, const orf_texture *t, orf_buf *out);

/* A textured OBJ as the zip a server hands out: model.obj, model.mtl and
 * model.jpg or model.png (export.c). */
int orf_write_obj_zip(const orf_mesh *m, const orf_texture *t, orf_buf *out);

/* The file extension of t's image: "jpg" or "png" (NULL for another mime
 * type). */
const char *orf_texture_ext(const orf_texture *t);

/* zip.c: a part of a zip package; `store` keeps it uncompressed (an image
 * that is compressed already), else it is deflated. */
typedef struct orf_zip_part {
  const char *name;
  const void *data;
  size_t len;
  int store;
} orf_zip_part;
/* Appends the zip of the n parts, in order, with fixed times, to *out:
 * the same parts give the same bytes.  ORF_OK, ORF_ENOMEM, ORF_EINTERNAL
 * (libzip failed otherwise). */
int orf_zip_write(const orf_zip_part *parts, size_t n, orf_buf *out);

/* Writes n in decimal at s, which has room for 20 characters; returns the
 * end (no terminating NUL).  In obj.c. */
char *orf_put_uint(char *s, uint64_t n);

#endif
