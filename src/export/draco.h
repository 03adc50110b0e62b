/*
 * draco.h - the C interface of draco.cpp, the Draco encoding of a GLB's
 * mesh (KHR_draco_mesh_compression) with Debian's libdraco.  Plain C types
 * only, as src/segment/net.h, so that the C++ side needs none of the
 * engine's C11 headers (orfeas.h uses <stdatomic.h>); its error codes are
 * the engine's.  Every C++ exception stops at these functions.
 */
#ifndef ORF_EXPORT_DRACO_H
#define ORF_EXPORT_DRACO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { ORF__DRACO_OK = 0, ORF__DRACO_ENOMEM = -1, ORF__DRACO_EINVAL = -2, ORF__DRACO_EINTERNAL = -9 };

/* Positions are quantised to this many bits over the box (error at most
 * half a step on each axis, as the meshopt GLB's). */
#define ORF_DRACO_POSITION_BITS 14

/* A mesh's attributes, one value per vertex, in glTF's space (positions
 * in metres, normals, colours in linear light or texture coordinates). */
typedef struct orf__draco_in {
  size_t vertices, faces;
  const float *positions, *normals; /* 3 per vertex */
  const float *colors;              /* 3 per vertex, or NULL */
  const float *uvs;                 /* 2 per vertex, or NULL */
  const uint32_t *indices;          /* 3 per face */
} orf__draco_in;

/* What the encoding gives: its bytes (data, size: the encoder's, freed with
 * orf__draco_free), the vertex count a decoder gives (points), the decoded
 * positions' bounds, and the Draco attribute ids of POSITION, NORMAL and
 * COLOR_0 or TEXCOORD_0 (-1: none). */
typedef struct orf__draco_out {
  const uint8_t *data;
  size_t size, points;
  float lo[3], hi[3];
  int ids[3];
  void *owner; /* the encoder's buffer */
} orf__draco_out;

/* Encodes (Edgebreaker; positions to ORF_DRACO_POSITION_BITS bits, normals
 * and colours to 10, texture coordinates to 16; speed 3, draco_encoder's
 * default level 7) and decodes once for the counts and bounds.  The same
 * mesh gives the same bytes.  ORF__DRACO_OK, ORF__DRACO_EINVAL (empty or
 * too big), ORF__DRACO_ENOMEM, ORF__DRACO_EINTERNAL (the library failed);
 * on error *out is zeroed. */
int orf__draco_encode(const orf__draco_in *in, orf__draco_out *out);

/* Frees what *out holds and zeroes it.  Safe on a zeroed one. */
void orf__draco_free(orf__draco_out *out);

#ifdef __cplusplus
}
#endif

#endif
