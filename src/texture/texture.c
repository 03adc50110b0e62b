/*
 * texture.c - orfeas.h's orf_texture functions: free, copy, the projection
 * of a point, and which texture an export writes.
 */
#include <string.h>

#include "alloc.h"
#include "texture.h"

/* Contract: frees t->data and zeroes *t; safe on a zeroed texture. */
void orf_texture_free(orf_texture *t) {
  if (!t) return;
  orf_free(t->data);
  memset(t, 0, sizeof *t);
}

/* Contract: *dst = a deep copy of *src; ORF_OK, or ORF_ENOMEM with *dst
 * zeroed.  A texture without data copies as one without data. */
int orf_texture_copy(orf_texture *dst, const orf_texture *src) {
  *dst = *src;
  dst->data = NULL;
  if (!src->data) {
    dst->size = 0;
    return ORF_OK;
  }
  dst->data = orf_malloc(src->size ? src->size : 1);
  if (!dst->data) {
    memset(dst, 0, sizeof *dst);
    return ORF_ENOMEM;
  }
  memcpy(dst->data, src->data, src->size);
  return ORF_OK;
}

/* Contract: uv = t's affine projection of p, in double then rounded once. */
void orf_texture_project(const orf_texture *t, const float p[3], float uv[2]) {
  for (int r = 0; r < 2; r++)
    uv[r] = (float)(t->uv[r][0] * p[0] + t->uv[r][1] * p[1] + t->uv[r][2] * p[2] + t->uv[r][3]);
}

/* Contract: t when it holds an image, mode is not OFF and f holds one. */
const orf_texture *orf_texture_pick(const orf_texture *t, orf_texture_mode mode, orf_format f) {
  if (!t || !t->data || !t->size || mode == ORF_TEXTURE_OFF || !orf_format_holds_texture(f)) return NULL;
  return t;
}
