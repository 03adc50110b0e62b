/*
 * decode.c - the front door of image decoding: type from the magic bytes,
 * the file-size limit, dispatch to the PNG / JPEG / WebP decoders, and the
 * header-only probe used for admission control.
 *
 * The input is untrusted (docs/ENGINE.md "Input"): nothing is decided from a file
 * name or a declared content type.  A real image of another type (GIF,
 * BMP, TIFF, SVG, ...), recognised by its signature, is unsupported
 * (ORF_EUNSUPPORTED, HTTP 415); bytes that are no image at all are a bad
 * image (ORF_EBADIMAGE, 400).  Every size is checked against orf_limits
 * before a pixel buffer exists, the way stb_image caps
 * STBI_MAX_DIMENSIONS "to prevent denial-of-service attacks on untrusted
 * data".
 */
#include <string.h>

#include "alloc.h"
#include "decode_int.h"
#include "image.h"

/* docs/ENGINE.md's limits. */
#define DEFAULT_MAX_FILE_BYTES ((size_t)50 * 1000 * 1000)
#define DEFAULT_MAX_SIDE 8192u
#define DEFAULT_MAX_PIXELS ((uint64_t)40 * 1000 * 1000)

void orf_limits_init(orf_limits *l) {
  l->max_file_bytes = DEFAULT_MAX_FILE_BYTES;
  l->max_side = DEFAULT_MAX_SIDE;
  l->max_pixels = DEFAULT_MAX_PIXELS;
}

/* The PNG signature's first four bytes, JPEG's SOI plus the next marker's
 * 0xFF, and WebP's RIFF container with its WEBP form type. */
orf_image_type orf_image_sniff(const uint8_t *data, size_t size) {
  if (!data) return ORF_IMG_UNKNOWN;
  if (size >= 4 && memcmp(data, "\x89PNG", 4) == 0) return ORF_IMG_PNG;
  if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return ORF_IMG_JPEG;
  if (size >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0) return ORF_IMG_WEBP;
  return ORF_IMG_UNKNOWN;
}

/* Whether data is an image of a type we do not decode, recognised by its
 * signature: GIF, BMP (with a known header size), TIFF (either byte
 * order), SVG (XML text whose first element is <svg, or an <?xml prolog
 * followed by one within the first 1 KiB), ICO/CUR, PSD, JPEG 2000,
 * JPEG XL, QOI, and HEIF/AVIF (an ISO-BMFF ftyp box of those brands).
 * Anything else is not an image (bad_image), whatever it is called. */
static int other_image_type(const uint8_t *d, size_t n) {
  if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6))) return 1;
  if (n >= 18 && d[0] == 'B' && d[1] == 'M') {
    uint32_t hs = (uint32_t)d[14] | (uint32_t)d[15] << 8 | (uint32_t)d[16] << 16 | (uint32_t)d[17] << 24;
    if (hs == 12 || hs == 40 || hs == 52 || hs == 56 || hs == 64 || hs == 108 || hs == 124) return 1;
  }
  if (n >= 4 && (!memcmp(d, "II*\0", 4) || !memcmp(d, "MM\0*", 4))) return 1;
  if (n >= 4 && (!memcmp(d, "\0\0\1\0", 4) || !memcmp(d, "\0\0\2\0", 4)) && n >= 22 && d[4] | d[5]) return 1;
  if (n >= 4 && (!memcmp(d, "8BPS", 4) || !memcmp(d, "qoif", 4))) return 1;
  if (n >= 12 && !memcmp(d, "\0\0\0\x0cjP  \r\n\x87\n", 12)) return 1;
  if (n >= 2 && d[0] == 0xFF && d[1] == 0x0A) return 1; /* JPEG XL codestream */
  if (n >= 12 && !memcmp(d + 4, "ftyp", 4)) {
    static const char *const brands[] = {"heic", "heix", "mif1", "msf1", "avif", "avis", "hevc"};
    for (size_t i = 0; i < sizeof brands / sizeof brands[0]; i++)
      if (!memcmp(d + 8, brands[i], 4)) return 1;
  }
  /* SVG: skip a BOM and white space, then <svg, or <?xml / <!-- / <!DOCTYPE
   * svg with an <svg tag soon after */
  size_t i = n >= 3 && !memcmp(d, "\xEF\xBB\xBF", 3) ? 3 : 0;
  while (i < n && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n'))
    i++;
  if (n - i >= 4 && !memcmp(d + i, "<svg", 4)) return 1;
  if (n - i >= 2 && d[i] == '<' && (d[i + 1] == '?' || d[i + 1] == '!')) {
    size_t end = n < i + 1024 ? n : i + 1024;
    for (size_t k = i; k + 4 <= end; k++)
      if (!memcmp(d + k, "<svg", 4)) return 1;
  }
  return 0;
}

int orf__image_check_size(const orf_limits *lim, uint32_t width, uint32_t height) {
  if (width == 0 || height == 0) return ORF_EBADIMAGE;
  if (width > lim->max_side || height > lim->max_side) return ORF_ETOOLARGE;
  if ((uint64_t)width * height > lim->max_pixels) return ORF_ETOOLARGE;
  return ORF_OK;
}

/* The checks every entry point makes before looking inside the file: empty
 * data, file size, type.  Fills *type and returns ORF_OK, or an error. */
static int check_input(const uint8_t *data, size_t size, const orf_limits *lim, orf_image_type *type) {
  *type = ORF_IMG_UNKNOWN;
  if (size == 0) return ORF_EBADIMAGE;
  if (!data) return ORF_EINVAL;
  if (size > lim->max_file_bytes) return ORF_ETOOLARGE;
  *type = orf_image_sniff(data, size);
  if (*type != ORF_IMG_UNKNOWN) return ORF_OK;
  return other_image_type(data, size) ? ORF_EUNSUPPORTED : ORF_EBADIMAGE;
}

/* Header only; see orfeas.h.  lim may be NULL for docs/ENGINE.md's defaults.  On
 * error the outputs are ORF_IMG_UNKNOWN and 0. */
int orf_image_probe(const uint8_t *data, size_t size, const orf_limits *lim, orf_image_type *type,
                    uint32_t *width, uint32_t *height) {
  orf_limits defaults;
  if (!lim) {
    orf_limits_init(&defaults);
    lim = &defaults;
  }
  orf_image_type t;
  uint32_t w = 0, h = 0;
  int rc = check_input(data, size, lim, &t);
  if (rc == ORF_OK) {
    switch (t) {
    case ORF_IMG_PNG: rc = orf__png_probe(data, size, lim, &w, &h); break;
    case ORF_IMG_JPEG: rc = orf__jpeg_probe(data, size, lim, &w, &h); break;
    case ORF_IMG_WEBP: rc = orf__webp_probe(data, size, lim, &w, &h); break;
    default: rc = ORF_EUNSUPPORTED; break;
    }
  }
  if (rc != ORF_OK) {
    t = ORF_IMG_UNKNOWN;
    w = h = 0;
  }
  if (type) *type = t;
  if (width) *width = w;
  if (height) *height = h;
  return rc;
}

/* See image.h.  lim may be NULL for docs/ENGINE.md's defaults.  On success the
 * caller owns out->rgba and frees it with orf_image_free(). */
int orf_image_decode(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t min_side,
                     orf_image *out) {
  memset(out, 0, sizeof *out);
  orf_limits defaults;
  if (!lim) {
    orf_limits_init(&defaults);
    lim = &defaults;
  }
  orf_image_type t;
  int rc = check_input(data, size, lim, &t);
  if (rc != ORF_OK) return rc;
  switch (t) {
  case ORF_IMG_PNG: rc = orf__png_decode(data, size, lim, out); break;
  case ORF_IMG_JPEG: rc = orf__jpeg_decode(data, size, lim, min_side, out); break;
  case ORF_IMG_WEBP: rc = orf__webp_decode(data, size, lim, out); break;
  default: rc = ORF_EUNSUPPORTED; break;
  }
  if (rc != ORF_OK) {
    orf_image_free(out);
    return rc;
  }
  out->type = t;
  return ORF_OK;
}

void orf_image_free(orf_image *img) {
  if (!img) return;
  orf_free(img->rgba);
  memset(img, 0, sizeof *img);
}
