/*
 * png.c - PNG decoding with libspng (Randy408's "simple, modern libpng
 * alternative"), to RGBA8 whatever the colour type and bit depth: grey,
 * grey+alpha, RGB, RGBA, palette (with tRNS as alpha), 1..16 bits; 16-bit
 * samples keep their high byte.  Colour is not gamma-corrected (gAMA and
 * iCCP are ignored, like most web image viewers that do no colour
 * management).
 *
 * Defences for untrusted files: spng's image limits are set to orf_limits'
 * side, so IHDR is refused before anything is allocated; ancillary chunks
 * are capped (chunk size and the memory spng keeps for them, which bounds
 * zTXt/iCCP decompression); CRC and Adler-32 errors are fatal for critical
 * chunks.  spng's allocations (its zlib state included) go through
 * orf_malloc, so they count against the job.
 */
#include <spng.h>
#include <string.h>

#include "alloc.h"
#include "decode_int.h"

/* Memory spng may keep for ancillary chunks (text, ICC profile, EXIF). */
#define PNG_CHUNK_CACHE_LIMIT ((size_t)16 << 20)
/* spng refuses image limits above 2^31 - 1 (the PNG maximum). */
#define PNG_MAX_DIMENSION 0x7FFFFFFFu

/* Set when one of spng's allocations failed during the decode running on
 * this thread.  spng's allocator hooks take no user pointer, and zlib's
 * Z_MEM_ERROR inside inflate() reaches us only as SPNG_EIDAT_STREAM, the
 * same code as a corrupt stream: this flag tells the two apart.  It is reset
 * by png_open() and read before png.c returns, so it carries nothing from
 * one call to the next (the same thread-local pattern as alloc.c's
 * tracker). */
static _Thread_local int png_alloc_failed;

static void *png_seen(void *p) {
  if (!p) png_alloc_failed = 1;
  return p;
}
static void *png_malloc(size_t size) { return png_seen(orf_malloc(size)); }
static void *png_realloc(void *p, size_t size) { return png_seen(orf_realloc(p, size)); }
static void *png_calloc(size_t count, size_t size) { return png_seen(orf_calloc(count, size)); }
static void png_free(void *p) { orf_free(p); }

/* An spng error as an ORF_E* code. */
static int png_error(int err) {
  if (err && png_alloc_failed) return ORF_ENOMEM;
  switch (err) {
  case SPNG_OK: return ORF_OK;
  case SPNG_EMEM:
  case SPNG_EZLIB_INIT: return ORF_ENOMEM;
  case SPNG_EUSER_WIDTH:
  case SPNG_EUSER_HEIGHT:
  case SPNG_ECHUNK_LIMITS: return ORF_ETOOLARGE;
  default: return ORF_EBADIMAGE;
  }
}

/* A decoder context on data with our allocator and limits; *ctx NULL on
 * failure. */
static int png_open(const uint8_t *data, size_t size, const orf_limits *lim, spng_ctx **ctx) {
  struct spng_alloc alloc = {png_malloc, png_realloc, png_calloc, png_free};
  *ctx = NULL;
  png_alloc_failed = 0;
  spng_ctx *c = spng_ctx_new2(&alloc, 0);
  if (!c) return ORF_ENOMEM;
  uint32_t side = lim->max_side < PNG_MAX_DIMENSION ? lim->max_side : PNG_MAX_DIMENSION;
  /* a side limit of 0 is legal in orf_limits (refuses everything) but not in
   * spng: keep 1 there and let orf__image_check_size() refuse */
  if (side == 0) side = 1;
  size_t chunk = size < PNG_MAX_DIMENSION ? size : PNG_MAX_DIMENSION;
  int err = spng_set_image_limits(c, side, side);
  if (!err) err = spng_set_chunk_limits(c, chunk, PNG_CHUNK_CACHE_LIMIT);
  if (!err) err = spng_set_crc_action(c, SPNG_CRC_ERROR, SPNG_CRC_DISCARD);
  if (!err) err = spng_set_png_buffer(c, data, size);
  if (err) {
    spng_ctx_free(c);
    return png_error(err);
  }
  *ctx = c;
  return ORF_OK;
}

/* Reads IHDR and applies the limits. */
static int png_header(spng_ctx *ctx, const orf_limits *lim, struct spng_ihdr *ihdr) {
  int err = spng_get_ihdr(ctx, ihdr);
  if (err) return png_error(err);
  return orf__image_check_size(lim, ihdr->width, ihdr->height);
}

int orf__png_probe(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t *width,
                   uint32_t *height) {
  spng_ctx *ctx;
  int rc = png_open(data, size, lim, &ctx);
  if (rc != ORF_OK) return rc;
  struct spng_ihdr ihdr;
  rc = png_header(ctx, lim, &ihdr);
  spng_ctx_free(ctx);
  if (rc != ORF_OK) return rc;
  *width = ihdr.width;
  *height = ihdr.height;
  return ORF_OK;
}

int orf__png_decode(const uint8_t *data, size_t size, const orf_limits *lim, orf_image *out) {
  spng_ctx *ctx;
  int rc = png_open(data, size, lim, &ctx);
  if (rc != ORF_OK) return rc;
  struct spng_ihdr ihdr;
  size_t len = 0;
  uint8_t *pixels = NULL;
  rc = png_header(ctx, lim, &ihdr);
  if (rc != ORF_OK) goto out_free_ctx;
  rc = png_error(spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &len));
  if (rc != ORF_OK) goto out_free_ctx;
  if (len != (size_t)ihdr.width * ihdr.height * 4) {
    rc = ORF_EINTERNAL;
    goto out_free_ctx;
  }
  pixels = orf_malloc(len);
  if (!pixels) {
    rc = ORF_ENOMEM;
    goto out_free_ctx;
  }
  rc = png_error(spng_decode_image(ctx, pixels, len, SPNG_FMT_RGBA8, SPNG_DECODE_TRNS));
  if (rc != ORF_OK) goto out_free_pixels;
  struct spng_trns trns;
  int has_trns = spng_get_trns(ctx, &trns) == SPNG_OK;
  out->width = out->source_width = ihdr.width;
  out->height = out->source_height = ihdr.height;
  out->rgba = pixels;
  out->has_alpha = ihdr.color_type == SPNG_COLOR_TYPE_GRAYSCALE_ALPHA ||
                   ihdr.color_type == SPNG_COLOR_TYPE_TRUECOLOR_ALPHA || has_trns;
  out->type = ORF_IMG_PNG;
  spng_ctx_free(ctx);
  return ORF_OK;

out_free_pixels:
  orf_free(pixels);
out_free_ctx:
  spng_ctx_free(ctx);
  return rc;
}
