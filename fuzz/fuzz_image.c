/*
 * fuzz_image.c - libFuzzer harness for stages 1 and 2 of the pipeline on
 * untrusted bytes: orf_image_probe, orf_image_decode (PNG / JPEG / WebP,
 * JPEG also at a reduced DCT scale as the pipeline asks for it), the box
 * downscale and the subject mask (orf_mask_build with ORF_BG_AUTO), the
 * way pipeline.c chains them.
 *
 * Beyond "no crash, no leak, no undefined behaviour" (ASan, UBSan,
 * LeakSanitizer), it checks the contracts the server relies on and aborts
 * when one breaks: a decode that succeeds was probed successfully with the
 * same type and size (admission control trusts the probe), stays within
 * the limits, and a mask has the image's size, only 0/1 bytes and the area
 * it claims.  The limits are small (2048 px a side, 4 MP) so that one run
 * stays fast; the engine's own memory accounting must be back to zero
 * after each input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "image.h"
#include "mask.h"

#define FUZZ_MAX_SIDE 2048u
#define FUZZ_MAX_PIXELS ((uint64_t)4 * 1000 * 1000)
#define FUZZ_MAX_BYTES ((size_t)4 * 1000 * 1000)
#define SMALL_SIDE 256u /* the pipeline's first, small decode */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
  do {                                                                                                       \
    if (!(cond)) abort();                                                                                    \
  } while (0)

/* The mask's invariants: image size, 0/1 bytes, area = subject pixels. */
static void check_mask(const orf_image *img, const orf_mask *m) {
  CHECK(m->width == img->width && m->height == img->height && m->data);
  size_t n = (size_t)m->width * m->height, area = 0;
  for (size_t i = 0; i < n; i++) {
    CHECK(m->data[i] <= 1);
    area += m->data[i];
  }
  CHECK(area == m->area);
  CHECK(m->source >= ORF_MASK_FROM_ALPHA && m->source <= ORF_MASK_FRAME);
}

static void check_image(const orf_image *img, const orf_limits *lim, orf_image_type type) {
  CHECK(img->rgba && img->width > 0 && img->height > 0);
  CHECK(img->width <= lim->max_side && img->height <= lim->max_side);
  CHECK((uint64_t)img->width * img->height <= lim->max_pixels);
  CHECK(img->type == type);
  /* Touch every pixel so that ASan sees a short buffer. */
  volatile uint8_t sum = 0;
  for (size_t i = 0; i < (size_t)img->width * img->height * 4; i++)
    sum ^= img->rgba[i];
  (void)sum;
}

/* Mask of img (automatic background), checked, then freed. */
static void mask_once(const orf_image *img) {
  orf_mask m;
  int rc = orf_mask_build(img, ORF_BG_AUTO, 1, &m);
  if (rc == ORF_OK)
    check_mask(img, &m);
  else
    CHECK(rc == ORF_ENOSUBJECT || rc == ORF_ENOMEM);
  orf_mask_free(&m);
}

/* Compressed inputs reach the mask only through pictures the decoders
 * accept, and PNG's CRCs reject most mutations.  So an input that is no
 * image is read as raw pixels instead: width and height (1..64) from the
 * first two bytes, from the third the alpha flag (bit 0), the downscale's
 * threads (bit 1: 1 or 2) and side (bits 3-7), then RGBA (missing bytes
 * are 0), and goes through the same downscale and masks. */
static void raw_pixels(const uint8_t *data, size_t size) {
  if (size < 3) return;
  orf_image img = {0};
  img.width = 1 + data[0] % 64;
  img.height = 1 + data[1] % 64;
  img.has_alpha = data[2] & 1;
  img.type = ORF_IMG_PNG;
  img.source_width = img.width;
  img.source_height = img.height;
  size_t n = (size_t)img.width * img.height * 4;
  img.rgba = orf_calloc(n, 1);
  if (!img.rgba) return;
  memcpy(img.rgba, data + 3, size - 3 < n ? size - 3 : n);
  if (!img.has_alpha)
    for (size_t i = 3; i < n; i += 4)
      img.rgba[i] = 255;
  mask_once(&img);
  orf_mask m;
  if (orf_mask_build(&img, ORF_BG_ALPHA, 1, &m) == ORF_OK) check_mask(&img, &m);
  orf_mask_free(&m);
  orf_image small;
  if (orf_image_downscale(&img, 1 + data[2] / 8, 1 + ((data[2] >> 1) & 1), &small) == ORF_OK) {
    CHECK(small.width <= 1u + data[2] / 8 && small.height <= 1u + data[2] / 8);
    mask_once(&small);
  }
  orf_image_free(&small);
  orf_image_free(&img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  orf_memtrack track = {0};
  orf_memtrack *old = orf_memtrack_set(&track);
  orf_limits lim = {FUZZ_MAX_BYTES, FUZZ_MAX_SIDE, FUZZ_MAX_PIXELS};
  if (orf_image_sniff(data, size) == ORF_IMG_UNKNOWN) raw_pixels(data, size);

  orf_image_type type;
  uint32_t w, h;
  int probe_rc = orf_image_probe(data, size, &lim, &type, &w, &h);
  if (probe_rc != ORF_OK) CHECK(type == ORF_IMG_UNKNOWN && w == 0 && h == 0);

  orf_image full;
  int rc = orf_image_decode(data, size, &lim, 0, &full);
  if (rc == ORF_OK) {
    CHECK(probe_rc == ORF_OK);
    CHECK(full.type == type && full.source_width == w && full.source_height == h);
    CHECK(full.width == w && full.height == h);
    check_image(&full, &lim, type);
    mask_once(&full);

    orf_image small;
    rc = orf_image_downscale(&full, 64, 2, &small);
    if (rc == ORF_OK) {
      CHECK(small.width <= 64 && small.height <= 64 && small.width > 0 && small.height > 0);
      mask_once(&small);
      orf_mask m;
      if (orf_mask_build(&small, ORF_BG_ALPHA, 1, &m) == ORF_OK) check_mask(&small, &m);
      orf_mask_free(&m);
    }
    orf_image_free(&small);
  } else {
    CHECK(full.rgba == NULL && full.width == 0 && full.height == 0);
  }
  orf_image_free(&full);

  /* The pipeline's first decode of a JPEG: reduced in the DCT domain. */
  if (type == ORF_IMG_JPEG) {
    orf_image scaled;
    if (orf_image_decode(data, size, &lim, SMALL_SIDE, &scaled) == ORF_OK) {
      check_image(&scaled, &lim, type);
      CHECK(scaled.width <= w && scaled.height <= h);
      CHECK(scaled.source_width == w && scaled.source_height == h);
      uint32_t longest = w > h ? w : h, got = scaled.width > scaled.height ? scaled.width : scaled.height;
      CHECK(got >= (longest < SMALL_SIDE ? longest : SMALL_SIDE));
    }
    orf_image_free(&scaled);
  }

  orf_memtrack_set(old);
  CHECK(atomic_load(&track.current) == 0);
  return 0;
}
