/*
 * imagefield.h - per-pixel fields of an image that the printing modes
 * (relief, lithophane) sample: Rec. 709 luma and relative luminance, a
 * separable Gaussian blur, and bilinear sampling in continuous pixel
 * coordinates.
 *
 * Luma and luminance follow ITU-R BT.709-6 (item 3.2, the weights
 * 0.2126 R + 0.7152 G + 0.0722 B) over the sRGB primaries, which are
 * BT.709's; relative luminance first linearises the sRGB values with the
 * transfer function of IEC 61966-2-1.  Alpha is composited over white, so
 * a transparent background reads as bright paper.
 *
 * Coordinates: pixel (i, j) covers [i, i+1] x [j, j+1], its value sits at
 * its centre (i + 0.5, j + 0.5); samples outside the image take the value
 * of the nearest edge pixel.
 */
#ifndef ORF_IMAGEFIELD_H
#define ORF_IMAGEFIELD_H

#include <stdint.h>

#include "image.h"

/* Writes the brightness of every pixel of img, in [0, 1], into
 * out[width*height] (the caller allocates it): Rec. 709 luma of the
 * gamma-encoded values when linear == 0, relative (linear-light)
 * luminance when linear != 0.  Deterministic for any thread count. */
void orf_field_brightness(const orf_image *img, int linear, int threads, float *out);

/* Blurs v (w x h) in place with a Gaussian of standard deviation sigma
 * pixels (kernel cut at 3 sigma, edges replicated); sigma < 0.05 leaves v
 * as it is.  Returns ORF_OK or ORF_ENOMEM (v unchanged).  Deterministic for
 * any thread count. */
int orf_field_blur(float *v, uint32_t w, uint32_t h, double sigma, int threads);

/* Bilinear sample of v (w x h) at continuous coordinates (x, y). */
float orf_field_sample(const float *v, uint32_t w, uint32_t h, double x, double y);

/* Bilinear sample of an RGB image (3 bytes a pixel, w x h) at (x, y). */
void orf_field_sample_rgb(const uint8_t *rgb, uint32_t w, uint32_t h, double x, double y, uint8_t out[3]);

#endif
