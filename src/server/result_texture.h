/*
 * result_texture.h - a generation's texture in the cache, beside its stage
 * meshes (docs/API.md, "Textures and compression").
 *
 * Decision: the cache keeps the geometry once (each stage as PLY) and the
 * texture once per result: the encoded image as "texture.jpg" or
 * "texture.png", exactly the bytes the engine made, and its description as
 * "texture.json" (mime type, size, the projection from millimetres to
 * texture coordinates, the source rectangle).  Every stage shares it: the
 * projection is the final placement's, and every stage is placed in the
 * same millimetres (the earlier stages' boxes differ from the final one's
 * by their coarseness only).  A textured or compressed file is a
 * conversion of (stage mesh, texture), made on first request and cached
 * under its own name as every conversion is.  The image is put first and
 * the description last, so a description always has its image; a
 * description whose image has been evicted reads as no texture.
 *
 * Every generation writes the description, "{"mime":null}" when it made
 * no texture (style=plain, a cylinder lithophane), after its last stage
 * and before its meta.json: so a generation's result is whole only with
 * its description (and the image it names), whatever the request that
 * finds it asked, and a result of a server that kept no texture is
 * computed again rather than served without one.
 */
#ifndef ORF_RESULT_TEXTURE_H
#define ORF_RESULT_TEXTURE_H

#include "cache/cache.h"
#include "orfeas.h"

/* A texture read from the cache: t's data are the image blob's. */
typedef struct orf_cached_texture {
  orf_texture t;
  orf_blob *image;
} orf_cached_texture;

/* Puts t (a job's texture; without data: the description of none) under
 * hash.  ORF_OK, ORF_EINVAL (a mime type other than JPEG or PNG),
 * ORF_ENOMEM. */
int orf_result_texture_put(orf_cache *c, const char *hash, const orf_texture *t);

/* Reads hash's texture into *out (release with orf_result_texture_release).
 * ORF_OK; ORF_SRV_ENOTFOUND when the result has none (or its entries are
 * gone or malformed); ORF_ENOMEM.  On error *out is zeroed. */
int orf_result_texture_get(orf_cache *c, const char *hash, orf_cached_texture *out);

/* Whether the cache holds hash's texture step: a description of none, or
 * one whose image is there too. */
int orf_result_texture_settled(orf_cache *c, const char *hash);

/* The cache names of hash's texture step that the cache holds, image first
 * and description last (the order they must be stored in), into names;
 * returns how many (0 to 2).  For a node copying a result (cluster/). */
int orf_result_texture_files(orf_cache *c, const char *hash, const char *names[2]);

void orf_result_texture_release(orf_cached_texture *ct);

#endif
