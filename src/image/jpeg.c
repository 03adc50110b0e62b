/*
 * jpeg.c - JPEG decoding with the TurboJPEG API of libjpeg-turbo (baseline,
 * progressive, greyscale, colour; CMYK/YCCK converted as Adobe's inverted
 * CMYK), scaled in the DCT domain when the caller needs fewer pixels, and
 * EXIF orientation (the TIFF/EXIF 2.3 Orientation tag, values 1..8) read
 * with libexif and applied to the pixels.
 *
 * DCT scaling: an 8x8 block's inverse DCT can be computed at 1x1, 2x2 or
 * 4x4 output, which decodes at 1/8, 1/4 or 1/2 size for a fraction of the
 * full cost (libjpeg's scaled IDCT).  We pick the smallest such scale whose
 * longest side still reaches the caller's min_side.
 *
 * Untrusted input: the size from the frame header is checked against the
 * limits before the pixel buffer exists; a warning (e.g. "premature end of
 * data segment" on a truncated file) stops the decode and counts as a broken
 * image; progressive files with absurd scan counts are refused
 * (TJFLAG_LIMITSCANS).  A broken EXIF block never fails the decode: the
 * orientation is then 1.  libjpeg-turbo's own working memory is allocated
 * with malloc and is not seen by orf_memtrack; the pixels and libexif's
 * memory are.
 */
#include <libexif/exif-data.h>
#include <string.h>
#include <turbojpeg.h>

#include "alloc.h"
#include "decode_int.h"

/* ---- EXIF orientation ------------------------------------------------- */

/* Finds the APP1 segment that starts with "Exif\0\0" among the markers
 * before the first scan; returns its payload (from "Exif") and *len, or
 * NULL when there is none or the marker structure breaks before it. */
static const uint8_t *find_exif(const uint8_t *d, size_t n, size_t *len) {
  size_t i = 2; /* after SOI */
  while (i + 4 <= n) {
    if (d[i] != 0xFF) return NULL;
    uint8_t m = d[i + 1];
    if (m == 0xFF) { /* fill byte */
      i++;
      continue;
    }
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { /* markers without a length */
      i += 2;
      continue;
    }
    if (m == 0xDA || m == 0xD9) return NULL; /* SOS, EOI */
    size_t seg = ((size_t)d[i + 2] << 8) | d[i + 3];
    if (seg < 2 || seg > n - i - 2) return NULL;
    if (m == 0xE1 && seg >= 2 + 6 && memcmp(d + i + 4, "Exif\0\0", 6) == 0) {
      *len = seg - 2;
      return d + i + 4;
    }
    i += 2 + seg;
  }
  return NULL;
}

/* libexif expects zeroed blocks from its allocator. */
static void *exif_alloc(ExifLong size) { return orf_calloc(size, 1); }
static void *exif_realloc(void *p, ExifLong size) { return orf_realloc(p, size); }
static void exif_free(void *p) { orf_free(p); }

/* Reads the EXIF orientation of a JPEG file into *o: 1 when absent, broken
 * or out of range.  Returns ORF_OK, or ORF_ENOMEM when libexif's objects
 * cannot be allocated (allocation failures inside libexif's parser cannot
 * be told from a broken block and leave orientation 1). */
static int exif_orientation(const uint8_t *data, size_t size, int *o) {
  size_t len = 0;
  const uint8_t *seg = find_exif(data, size, &len);
  *o = 1;
  if (!seg) return ORF_OK;
  ExifMem *mem = exif_mem_new(exif_alloc, exif_realloc, exif_free);
  if (!mem) return ORF_ENOMEM;
  ExifData *ed = exif_data_new_mem(mem);
  exif_mem_unref(mem); /* ed holds its own reference */
  if (!ed) return ORF_ENOMEM;
  /* do not "fix" the data to the specification: we only read one tag */
  exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
  exif_data_load_data(ed, seg, (unsigned int)len);
  int v = 1;
  ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
  if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->data && e->size >= 2)
    v = exif_get_short(e->data, exif_data_get_byte_order(ed));
  exif_data_unref(ed);
  if (v >= 1 && v <= 8) *o = v;
  return ORF_OK;
}

/* Orientations 5..8 turn the image a quarter: width and height swap. */
static int swaps_sides(int orientation) { return orientation >= 5; }

static void swap_px(uint8_t *a, uint8_t *b) {
  uint8_t t[4];
  memcpy(t, a, 4);
  memcpy(a, b, 4);
  memcpy(b, t, 4);
}

#define TILE 32

/* Applies orientation o to the w x h pixels *rgba so that they read as the
 * camera meant (EXIF 2.3, 4.6.4 A "Orientation"): 2 mirror left-right, 3
 * rotate 180, 4 mirror top-bottom, 5 transpose, 6 rotate 90 clockwise, 7
 * transverse, 8 rotate 90 anticlockwise.  May replace *rgba by a new block
 * (the old one freed) and swap *w and *h. */
static int apply_orientation(uint8_t **rgba, uint32_t *w, uint32_t *h, int o) {
  uint8_t *p = *rgba;
  size_t W = *w, H = *h;
  if (o == 2 || o == 3) { /* mirror each row; 3 also mirrors the row order */
    for (size_t y = 0; y < H; y++)
      for (size_t x = 0; x < W / 2; x++)
        swap_px(p + (y * W + x) * 4, p + (y * W + W - 1 - x) * 4);
  }
  if (o == 3 || o == 4) { /* mirror the row order */
    for (size_t y = 0; y < H / 2; y++)
      for (size_t x = 0; x < W; x++)
        swap_px(p + (y * W + x) * 4, p + ((H - 1 - y) * W + x) * 4);
  }
  if (!swaps_sides(o)) return ORF_OK;
  /* output is H wide and W high: out(xo, yo) = in(xi, yi) with xi from yo
   * and yi from xo, mirrored for 6, 7 (yi) and 7, 8 (xi) */
  uint8_t *q = orf_malloc_array(W * H, 4);
  if (!q) return ORF_ENOMEM;
  int flip_x = o == 7 || o == 8, flip_y = o == 6 || o == 7;
  size_t OW = H, OH = W;
  for (size_t by = 0; by < OH; by += TILE) {
    for (size_t bx = 0; bx < OW; bx += TILE) {
      size_t ey = by + TILE < OH ? by + TILE : OH, ex = bx + TILE < OW ? bx + TILE : OW;
      for (size_t yo = by; yo < ey; yo++) {
        size_t xi = flip_x ? W - 1 - yo : yo;
        for (size_t xo = bx; xo < ex; xo++) {
          size_t yi = flip_y ? H - 1 - xo : xo;
          memcpy(q + (yo * OW + xo) * 4, p + (yi * W + xi) * 4, 4);
        }
      }
    }
  }
  orf_free(p);
  *rgba = q;
  *w = (uint32_t)OW;
  *h = (uint32_t)OH;
  return ORF_OK;
}

/* ---- decoding --------------------------------------------------------- */

typedef struct jpeg_header {
  int width, height; /* as stored (before orientation) */
  int colorspace;    /* TJCS_* */
  int orientation;   /* 1..8 */
} jpeg_header;

/* Reads the frame header and EXIF orientation, and applies the limits. */
static int jpeg_read_header(tjhandle tj, const uint8_t *data, size_t size, const orf_limits *lim,
                            jpeg_header *hd) {
  /* tjDecompressHeader3() returns success without writing its outputs for
   * a tables-only stream (what a file cut before its frame header reads as
   * after libjpeg inserts a fake EOI): start from values that fail below */
  int subsamp = -1;
  hd->width = hd->height = 0;
  hd->colorspace = -1;
  if (size > (unsigned long)-1) return ORF_ETOOLARGE;
  if (tjDecompressHeader3(tj, data, (unsigned long)size, &hd->width, &hd->height, &subsamp,
                          &hd->colorspace) != 0)
    return ORF_EBADIMAGE;
  if (hd->width <= 0 || hd->height <= 0) return ORF_EBADIMAGE;
  int rc = orf__image_check_size(lim, (uint32_t)hd->width, (uint32_t)hd->height);
  if (rc != ORF_OK) return rc;
  return exif_orientation(data, size, &hd->orientation);
}

int orf__jpeg_probe(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t *width,
                    uint32_t *height) {
  tjhandle tj = tjInitDecompress();
  if (!tj) return ORF_ENOMEM;
  jpeg_header hd;
  int rc = jpeg_read_header(tj, data, size, lim, &hd);
  tjDestroy(tj);
  if (rc != ORF_OK) return rc;
  int swap = swaps_sides(hd.orientation);
  *width = (uint32_t)(swap ? hd.height : hd.width);
  *height = (uint32_t)(swap ? hd.width : hd.height);
  return ORF_OK;
}

/* The smallest DCT scale 1/8, 1/4, 1/2 or 1 whose longest side is still at
 * least min_side (1 when min_side is 0 or no smaller scale reaches it). */
static tjscalingfactor pick_scale(int width, int height, uint32_t min_side) {
  tjscalingfactor best = {1, 1};
  if (min_side == 0) return best;
  int n = 0;
  tjscalingfactor *sf = tjGetScalingFactors(&n);
  int longest = width > height ? width : height;
  for (int i = 0; sf && i < n; i++) {
    if (sf[i].num != 1 || (sf[i].denom != 2 && sf[i].denom != 4 && sf[i].denom != 8)) continue;
    if ((uint32_t)TJSCALED(longest, sf[i]) >= min_side && sf[i].denom > best.denom) best = sf[i];
  }
  return best;
}

/* In place: Adobe (inverted) CMYK, as Photoshop writes it, to RGBA. */
static void cmyk_to_rgba(uint8_t *p, size_t count) {
  for (size_t i = 0; i < count; i++, p += 4) {
    unsigned k = p[3];
    p[0] = (uint8_t)((p[0] * k + 127) / 255);
    p[1] = (uint8_t)((p[1] * k + 127) / 255);
    p[2] = (uint8_t)((p[2] * k + 127) / 255);
    p[3] = 255;
  }
}

int orf__jpeg_decode(const uint8_t *data, size_t size, const orf_limits *lim, uint32_t min_side,
                     orf_image *out) {
  tjhandle tj = tjInitDecompress();
  if (!tj) return ORF_ENOMEM;
  jpeg_header hd;
  uint8_t *pixels = NULL;
  int rc = jpeg_read_header(tj, data, size, lim, &hd);
  if (rc != ORF_OK) goto out_destroy;
  tjscalingfactor sf = pick_scale(hd.width, hd.height, min_side);
  uint32_t w = (uint32_t)TJSCALED(hd.width, sf), h = (uint32_t)TJSCALED(hd.height, sf);
  pixels = orf_malloc_array((size_t)w * h, 4);
  if (!pixels) {
    rc = ORF_ENOMEM;
    goto out_destroy;
  }
  int cmyk = hd.colorspace == TJCS_CMYK || hd.colorspace == TJCS_YCCK;
  int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  if (tjDecompress2(tj, data, (unsigned long)size, pixels, (int)w, (int)w * 4, (int)h,
                    cmyk ? TJPF_CMYK : TJPF_RGBA, flags) != 0) {
    rc = ORF_EBADIMAGE;
    goto out_free_pixels;
  }
  if (cmyk) cmyk_to_rgba(pixels, (size_t)w * h);
  rc = apply_orientation(&pixels, &w, &h, hd.orientation);
  if (rc != ORF_OK) goto out_free_pixels;
  tjDestroy(tj);
  int swap = swaps_sides(hd.orientation);
  out->width = w;
  out->height = h;
  out->rgba = pixels;
  out->has_alpha = 0;
  out->type = ORF_IMG_JPEG;
  out->source_width = (uint32_t)(swap ? hd.height : hd.width);
  out->source_height = (uint32_t)(swap ? hd.width : hd.height);
  return ORF_OK;

out_free_pixels:
  orf_free(pixels);
out_destroy:
  tjDestroy(tj);
  return rc;
}
