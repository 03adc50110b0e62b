/*
 * fill.c - which texels show the subject's own colour, and the fill of the
 * others with the nearest of those (see texture.h).
 *
 * The fill is the nearest-feature transform of the trusted texels: the
 * exact Euclidean distance transform of Felzenszwalb & Huttenlocher
 * ("Distance Transforms of Sampled Functions", Theory of Computing 8,
 * 2012; src/field/edt.c) keeps, for every pixel, the index of the feature
 * pixel it is nearest to, so each texel outside the subject copies one
 * subject texel: the Voronoi cell of every outline texel takes its colour.
 * That is the fill inflate's colours already use (inflate.c), here at the
 * texture's resolution.  Unlike a push-pull (pyramid) fill it never blends
 * colours: whatever the rim's projection lands on is a colour the subject
 * has.
 */
#include <string.h>

#include "alloc.h"
#include "edt.h"
#include "texture.h"

int orf_texture_trust(const uint8_t *mask, uint32_t w, uint32_t h, int threads, uint8_t *trusted) {
  size_t n = (size_t)w * h;
  float *dist = orf_malloc_array(n, sizeof *dist);
  if (!dist) return ORF_ENOMEM;
  /* inside: farther than the ring from every background pixel (none: the
   * whole frame is inside; beyond the frame is not background) */
  int rc = orf_edt(mask, w, h, 0, dist, NULL, threads);
  if (rc == ORF_OK) {
    for (size_t i = 0; i < n; i++)
      trusted[i] = mask[i] && dist[i] > ORF_TEXTURE_RING_PX;
    /* the thin parts: subject farther than twice the ring from any inside
     * pixel (a corner's ring pixels lie up to about that far from it; no
     * inside at all: every distance is infinite) */
    rc = orf_edt(trusted, w, h, 1, dist, NULL, threads);
  }
  if (rc == ORF_OK)
    for (size_t i = 0; i < n; i++)
      if (mask[i] && dist[i] > 2 * ORF_TEXTURE_RING_PX + 0.5f) trusted[i] = 1;
  orf_free(dist);
  return rc;
}

int orf_texture_fill(uint8_t *rgba, uint32_t w, uint32_t h, const uint8_t *trusted, int threads) {
  size_t n = (size_t)w * h;
  float *dist = orf_malloc_array(n, sizeof *dist);
  int32_t *near = orf_malloc_array(n, sizeof *near);
  int rc = ORF_ENOMEM;
  if (dist && near && (rc = orf_edt(trusted, w, h, 1, dist, near, threads)) == ORF_OK) {
    for (size_t i = 0; i < n; i++) {
      if (trusted[i] || near[i] < 0) continue; /* near < 0: no trusted pixel at all */
      memcpy(rgba + 4 * i, rgba + 4 * (size_t)near[i], 3);
      rgba[4 * i + 3] = 255;
    }
  }
  orf_free(dist);
  orf_free(near);
  return rc;
}
