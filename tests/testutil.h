/*
 * testutil.h - helpers shared by the tests and benchmarks: synthetic images
 * encoded as real PNG / JPEG / WebP files, and small file helpers.
 * Everything returned is malloc'd; free it with free().
 */
#ifndef ORF_TESTUTIL_H
#define ORF_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* PNG of `channels` (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) at bit_depth 8 or
 * 16 (16-bit samples big-endian in `pixels`, as PNG stores them).  With
 * palette != 0, pixels are 1-byte indices into `palette` (n_palette RGB
 * triplets) and `trns` (may be NULL) gives their alpha. */
uint8_t *tu_png(const uint8_t *pixels, uint32_t w, uint32_t h, int channels, int bit_depth, size_t *size);
uint8_t *tu_png_palette(const uint8_t *indices, uint32_t w, uint32_t h, const uint8_t *palette, int n_palette,
                        const uint8_t *trns, size_t *size);
/* JPEG of RGB pixels (quality 1..100, progressive or baseline). */
uint8_t *tu_jpeg(const uint8_t *rgb, uint32_t w, uint32_t h, int quality, int progressive, size_t *size);
/* WebP of RGBA pixels; lossless or lossy (quality 90). */
uint8_t *tu_webp(const uint8_t *rgba, uint32_t w, uint32_t h, int lossless, size_t *size);
/* An animated WebP of one frame (VP8X with the animation flag, ANIM, one
 * ANMF holding the lossless still of rgba), built by hand: libwebp's own
 * muxer is another library.  malloc'd, or NULL. */
uint8_t *tu_webp_animated(const uint8_t *rgba, uint32_t w, uint32_t h, size_t *size);

/* An RGBA picture: background colour bg everywhere, colour fg inside the
 * union of the given discs (cx, cy, r in pixels; n discs), minus the holes
 * (a disc of radius hole_r at each centre, 0 for none).  alpha_bg is the
 * alpha of the background (255 for an opaque image). */
uint8_t *tu_discs_rgba(uint32_t w, uint32_t h, const float *discs, int n, float hole_r, const uint8_t fg[3],
                       const uint8_t bg[3], uint8_t alpha_bg);

/* The same picture as an opaque RGB PNG (the background's alpha dropped). */
uint8_t *tu_discs_png(uint32_t w, uint32_t h, const float *discs, int n, float hole_r, const uint8_t fg[3],
                      const uint8_t bg[3], size_t *size);

/* A photo-like n x n RGB picture: a shaded, textured five-lobed subject on
 * a light, noisy backdrop (deterministic). */
uint8_t *tu_photo_rgb(uint32_t n);
/* That picture encoded: as a baseline JPEG at quality 90, or as an RGB PNG. */
uint8_t *tu_photo_jpeg(uint32_t n, size_t *size);
uint8_t *tu_photo_png(uint32_t n, size_t *size);

/* RGBA -> RGB (drops alpha). */
uint8_t *tu_rgba_to_rgb(const uint8_t *rgba, uint32_t w, uint32_t h);

/* Runs the Khronos glTF validator (BUILD/tools/gltf-validator/validate.js
 * beside $ORFEAS_BIN, else build/; as tests/test_tools.sh does) on the n
 * GLB files, printing its lines; returns how many have 0 errors and 0
 * warnings, or -1 when it is not installed (saying so) or did not run. */
int tu_gltf_validate(const char *const *files, int n);

/* Writes/reads a whole file; 0 on success / NULL on failure. */
int tu_write_file(const char *path, const void *data, size_t size);
uint8_t *tu_read_file(const char *path, size_t *size); /* NUL-terminated too */

#endif
