/*
 * decode_int.h - internals of image decoding shared by decode.c (sniffing,
 * limits, dispatch) and the per-format decoders png.c, jpeg.c and webp.c.
 * Not part of the engine's interface: the rest of the engine uses image.h.
 *
 * Every per-format function is called by decode.c with a non-empty buffer
 * whose magic bytes matched, a non-NULL orf_limits and the file size already
 * checked.  Each reads the header, calls orf__image_check_size() before it
 * allocates any pixel, and on error leaves *out zeroed and owns nothing.
 */
#ifndef ORF_DECODE_INT_H
#define ORF_DECODE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* The size check of every decoder: ORF_EBADIMAGE when a side is 0,
 * ORF_ETOOLARGE when a side is over lim->max_side or the pixel count is over
 * lim->max_pixels, else ORF_OK. */
int orf__image_check_size(const orf_limits *lim, uint32_t width, uint32_t height);

/* Header only: the size (for JPEG after EXIF orientation), limits applied. */
int orf__png_probe(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t *width,
                   uint32_t *height);
int orf__jpeg_probe(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t *width,
                    uint32_t *height);
int orf__webp_probe(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t *width,
                    uint32_t *height);

/* Full decodes to RGBA8 into *out (pixels orf_malloc'd).  Only the JPEG
 * decoder uses min_side (DCT-domain scaling); see orf_image_decode(). */
int orf__png_decode(const uint8_t *data, size_t size, const orf_limits *lim, orf_image *out);
int orf__jpeg_decode(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t min_side,
                     orf_image *out);
int orf__webp_decode(const uint8_t *data, size_t size, const orf_limits *lim, orf_image *out);

#endif
