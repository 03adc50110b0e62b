/*
 * encode.c - the texture's file: JPEG for pictures, PNG for flat colours
 * (see texture.h).
 *
 * The rule: a texture whose subject is mostly runs of exactly equal
 * texels (ORF_TEXTURE_FLAT_SHARE of the texels whose right and lower
 * neighbours are subject equal both) is a logo, a drawing or a screenshot,
 * whose sharp edges JPEG rings around and which PNG's filters and deflate
 * store in a fraction of the JPEG's bytes; anything else (photographs:
 * sensor noise and a JPEG source's own artefacts leave almost no two
 * neighbours equal) is JPEG.  The box filter that scales the texture keeps
 * a flat region exactly flat (downscale.c), so the rule reads the same
 * from any resolution.
 *
 * JPEG: libjpeg-turbo's TurboJPEG API, baseline, quality
 * ORF_TEXTURE_JPEG_QUALITY with 4:2:0 chroma (the eye's lower colour
 * resolution; the luminance, where text and lines live, at full
 * resolution) and the default accurate integer DCT, whose SIMD and C
 * versions give the same bytes: the same pixels always give the same file.
 * The buffer is the engine's (TJFLAG_NOREALLOC into tjBufSize bytes), so
 * it counts against the job.  PNG: libspng, 8-bit RGB, zlib level 6 and
 * libspng's adaptive filter choice, both deterministic; its buffer is
 * copied into the engine's.
 */
#include <spng.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "alloc.h"
#include "texture.h"

int orf_texture_is_flat(const uint8_t *rgba, uint32_t w, uint32_t h, const uint8_t *trusted) {
  uint64_t pairs = 0, flat = 0;
  for (uint32_t y = 0; y + 1 < h; y++) {
    for (uint32_t x = 0; x + 1 < w; x++) {
      size_t i = (size_t)y * w + x, r = i + 1, d = i + w;
      if (trusted && !(trusted[i] && trusted[r] && trusted[d])) continue;
      pairs++;
      const uint8_t *c = rgba + 4 * i, *cr = rgba + 4 * r, *cd = rgba + 4 * d;
      flat += !memcmp(c, cr, 3) && !memcmp(c, cd, 3);
    }
  }
  return pairs > 0 && (double)flat >= ORF_TEXTURE_FLAT_SHARE * (double)pairs;
}

static int encode_jpeg(const uint8_t *rgba, uint32_t w, uint32_t h, uint8_t **out, size_t *size) {
  unsigned long cap = tjBufSize((int)w, (int)h, TJSAMP_420);
  if (cap == (unsigned long)-1) return ORF_EINVAL;
  unsigned char *buf = orf_malloc(cap);
  if (!buf) return ORF_ENOMEM;
  tjhandle tj = tjInitCompress();
  if (!tj) {
    orf_free(buf);
    return ORF_ENOMEM;
  }
  unsigned long len = cap;
  int bad = tjCompress2(tj, rgba, (int)w, 0, (int)h, TJPF_RGBX, &buf, &len, TJSAMP_420,
                        ORF_TEXTURE_JPEG_QUALITY, TJFLAG_NOREALLOC);
  tjDestroy(tj);
  if (bad) {
    orf_free(buf);
    return ORF_EINTERNAL;
  }
  /* give back the worst case's spare room */
  unsigned char *fit = orf_realloc(buf, len);
  *out = fit ? fit : buf;
  *size = len;
  return ORF_OK;
}

static int encode_png(const uint8_t *rgba, uint32_t w, uint32_t h, uint8_t **out, size_t *size) {
  size_t n = (size_t)w * h;
  uint8_t *rgb = orf_malloc_array(n, 3);
  if (!rgb) return ORF_ENOMEM;
  for (size_t i = 0; i < n; i++)
    memcpy(rgb + 3 * i, rgba + 4 * i, 3);
  int rc = ORF_ENOMEM;
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  if (ctx) {
    struct spng_ihdr ihdr = {
        .width = w, .height = h, .bit_depth = 8, .color_type = SPNG_COLOR_TYPE_TRUECOLOR};
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    spng_set_option(ctx, SPNG_IMG_COMPRESSION_LEVEL, 6);
    spng_set_ihdr(ctx, &ihdr);
    int e = spng_encode_image(ctx, rgb, n * 3, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE);
    rc = e == SPNG_EMEM ? ORF_ENOMEM : e ? ORF_EINTERNAL : ORF_OK;
    if (rc == ORF_OK) {
      int err = 0;
      size_t len = 0;
      void *png = spng_get_png_buffer(ctx, &len, &err);
      rc = !png || err ? ORF_ENOMEM : (*out = orf_malloc(len)) ? ORF_OK : ORF_ENOMEM;
      if (rc == ORF_OK) {
        memcpy(*out, png, len);
        *size = len;
      }
      free(png);
    }
    spng_ctx_free(ctx);
  }
  orf_free(rgb);
  return rc;
}

int orf_texture_encode(const uint8_t *rgba, uint32_t w, uint32_t h, int png, uint8_t **out, size_t *size,
                       const char **mime) {
  *out = NULL;
  *size = 0;
  if (!rgba || w == 0 || h == 0 || w > 65535 || h > 65535) return ORF_EINVAL;
  int rc = png ? encode_png(rgba, w, h, out, size) : encode_jpeg(rgba, w, h, out, size);
  if (rc) {
    *out = NULL;
    *size = 0;
    return rc;
  }
  *mime = png ? "image/png" : "image/jpeg";
  return ORF_OK;
}
