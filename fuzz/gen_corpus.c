/*
 * gen_corpus.c - writes the seed corpus of the libFuzzer harnesses into
 * fuzz/corpus/<harness>/: small real PNG / JPEG / WebP files made with the
 * tests' encoders (tests/testutil.h), a JPEG carrying an EXIF orientation,
 * raw pixel pictures for the mask,
 * parameter strings, request bodies, PLY files written by orf_export and
 * mesh-building seeds for fuzz_export.  Run once by hand; its output is
 * committed, so the corpus does not change when an encoder's version does:
 *
 *   cd src && gcc -std=c11 -D_GNU_SOURCE -I../include -Icore -Iexport -Imesh -I../tests \
 *       ../fuzz/gen_corpus.c ../tests/testutil.c core/alloc.c core/buf.c core/error.c \
 *       export/export.c export/glb.c export/obj.c export/ply.c export/stl.c export/threemf.c mesh/mesh.c \
 *       -o /tmp/gen_corpus $(pkg-config --libs spng libturbojpeg libwebp libzip) -lm && cd .. &&
 * /tmp/gen_corpus
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orfeas.h"
#include "testutil.h"

static void put(const char *harness, const char *name, const void *data, size_t size) {
  char path[256];
  snprintf(path, sizeof path, "fuzz/corpus/%s/%s", harness, name);
  if (!data || tu_write_file(path, data, size)) {
    fprintf(stderr, "gen_corpus: cannot write %s\n", path);
    exit(1);
  }
}

/* A fuzz_multipart seed (see fuzz_multipart.c): the query string, a line
 * with the Content-Type, then the body. */
static void put_http(const char *name, const char *query, const char *ctype, const void *body, size_t size) {
  size_t q = strlen(query), t = strlen(ctype);
  uint8_t *b = malloc(q + t + 2 + size);
  if (!b) exit(1);
  memcpy(b, query, q);
  b[q] = '\n';
  memcpy(b + q + 1, ctype, t);
  b[q + 1 + t] = '\n';
  memcpy(b + q + t + 2, body, size);
  put("fuzz_multipart", name, b, q + t + 2 + size);
  free(b);
}

#define BOUNDARY "ORFfuzz"

/* A multipart/form-data request: each "k=v" of form a part, then the image
 * (when given) as the part "image". */
static void put_request(const char *name, const char *form, const uint8_t *img, size_t size) {
  size_t cap = 4 * strlen(form) + size + 512, n = 0;
  char *b = malloc(cap);
  if (!b) exit(1);
  char *f = strdup(form);
  for (char *kv = strtok(f, "&"); kv; kv = strtok(NULL, "&")) {
    char *eq = strchr(kv, '=');
    if (eq) *eq = '\0';
    n += (size_t)snprintf(b + n, cap - n,
                          "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n", kv,
                          eq ? eq + 1 : "");
  }
  free(f);
  if (img) {
    n += (size_t)snprintf(b + n, cap - n,
                          "--" BOUNDARY
                          "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"i\"\r\n"
                          "Content-Type: application/octet-stream\r\n\r\n");
    memcpy(b + n, img, size);
    n += size;
    n += (size_t)snprintf(b + n, cap - n, "\r\n");
  }
  n += (size_t)snprintf(b + n, cap - n, "--" BOUNDARY "--\r\n");
  put_http(name, "", "multipart/form-data; boundary=" BOUNDARY, b, n);
  free(b);
}

/* Multipart bodies the server once crashed on or mishandled (issue 19),
 * each with a small PNG as its image part. */
static void hostile_requests(const uint8_t *png, size_t n) {
  static const char *const parts[][2] = {
      {"empty_name.bin", "Content-Disposition: form-data; name=\"\"\r\n\r\n1"},
      {"no_name.bin", "Content-Disposition: form-data\r\n\r\n1"},
      {"folded_header.bin", "Content-Disposition: form-data;\r\n name=\"quality\"\r\n\r\n3"},
      {"no_disposition.bin", "Content-Type: text/plain\r\n\r\n1"},
      {"dup_param.bin", "Content-Disposition: form-data; name=\"quality\"\r\n\r\n3\r\n--" BOUNDARY
                        "\r\nContent-Disposition: form-data; name=\"quality\"\r\n\r\n4"},
      {"dup_image.bin", "Content-Disposition: form-data; name=\"image\"\r\n\r\nxyz"},
      {"nul_value.bin", "Content-Disposition: form-data; name=\"mode\"\r\n\r\ninflate\0junk"},
      {"foreign_param.bin", "Content-Disposition: form-data; name=\"cutout\"\r\n\r\ntrue"},
  };
  for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
    size_t plen = strlen(parts[i][1]) + (strstr(parts[i][0], "nul") ? 5 : 0); /* "\0junk" */
    size_t cap = plen + n + 512, k = 0;
    char *b = malloc(cap);
    if (!b) exit(1);
    k += (size_t)snprintf(b, cap, "--" BOUNDARY "\r\n");
    memcpy(b + k, parts[i][1], plen);
    k += plen;
    k += (size_t)snprintf(b + k, cap - k,
                          "\r\n--" BOUNDARY
                          "\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
                          "Content-Type: image/png\r\n\r\n");
    memcpy(b + k, png, n);
    k += n;
    k += (size_t)snprintf(b + k, cap - k, "\r\n--" BOUNDARY "--\r\n");
    char name[64];
    snprintf(name, sizeof name, "hostile_%s", parts[i][0]);
    put_http(name, "", "multipart/form-data; boundary=" BOUNDARY, b, k);
    free(b);
  }
  put_http("hostile_query_nul.bin", "mode=inflate%00junk", "image/png", png, n);
  put_http("hostile_query_dup.bin", "quality=3&quality=4", "image/png", png, n);
  put_http("hostile_no_boundary.bin", "", "multipart/form-data", png, n);
  put_http("hostile_text_body.bin", "", "text/plain", "hello, world\n", 13);
}

/* An image seed for fuzz_image, and the same as a raw body (no form) for
 * fuzz_multipart.  The size by pointer: read after the encoder call in
 * the argument list. */
static void put_image(const char *name, uint8_t *data, const size_t *size) {
  char raw[64];
  snprintf(raw, sizeof raw, "raw_%s", name);
  put("fuzz_image", name, data, *size);
  const char *ext = strrchr(name, '.');
  put_http(raw, "",
           !strcmp(ext, ".png")    ? "image/png"
           : !strcmp(ext, ".webp") ? "image/webp"
                                   : "image/jpeg",
           data, *size);
  free(data);
}

/* The JPEG with an APP1 EXIF segment (orientation 6, rotate 90 CW) after SOI. */
static uint8_t *with_exif(const uint8_t *jpg, size_t size, size_t *out_size) {
  static const uint8_t app1[] = {
      0xFF, 0xE1, 0x00, 0x22, 'E',  'x',  'i',  'f',  0,    0, /* marker, length 34, "Exif\0\0" */
      'I',  'I',  0x2A, 0x00, 0x08, 0x00, 0x00, 0x00,          /* TIFF header, IFD0 at 8 */
      0x01, 0x00,                                              /* one entry */
      0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, /* Orientation = 6 */
      0x00, 0x00, 0x00, 0x00};                                                /* no next IFD */
  uint8_t *b = malloc(size + sizeof app1);
  if (!b) exit(1);
  memcpy(b, jpg, 2);
  memcpy(b + 2, app1, sizeof app1);
  memcpy(b + 2 + sizeof app1, jpg + 2, size - 2);
  *out_size = size + sizeof app1;
  return b;
}

static void images(void) {
  static const uint8_t fg[3] = {200, 40, 30}, bg[3] = {245, 245, 240};
  const float discs[] = {16, 16, 10, 24, 12, 5};
  size_t n;
  uint8_t *rgba = tu_discs_rgba(32, 32, discs, 2, 0, fg, bg, 0); /* transparent background */
  uint8_t *opaque = tu_discs_rgba(32, 32, discs, 2, 3, fg, bg, 255);
  uint8_t *rgb = tu_rgba_to_rgb(opaque, 32, 32);
  uint8_t *photo = tu_photo_rgb(24);
  if (!rgba || !opaque || !rgb || !photo) exit(1);

  put_image("png_rgba_alpha.png", tu_png(rgba, 32, 32, 4, 8, &n), &n);
  put_image("png_rgb_opaque.png", tu_png(rgb, 32, 32, 3, 8, &n), &n);
  uint8_t grey16[8 * 8 * 2], ga[8 * 8 * 2], idx[16 * 16];
  for (int i = 0; i < 64; i++) {
    grey16[2 * i] = (uint8_t)(i * 4), grey16[2 * i + 1] = (uint8_t)i;
    ga[2 * i] = (uint8_t)(i * 3), ga[2 * i + 1] = (uint8_t)(i < 20 ? 0 : 255);
  }
  put_image("png_grey16.png", tu_png(grey16, 8, 8, 1, 16, &n), &n);
  put_image("png_grey_alpha.png", tu_png(ga, 8, 8, 2, 8, &n), &n);
  static const uint8_t pal[4 * 3] = {255, 255, 255, 10, 20, 200, 200, 10, 20, 0, 0, 0};
  static const uint8_t trns[4] = {0, 255, 255, 128};
  for (int i = 0; i < 256; i++) {
    int x = i % 16 - 8, y = i / 16 - 8;
    idx[i] = (uint8_t)(x * x + y * y < 30 ? 1 + (x > 0) : 0);
  }
  put_image("png_palette_trns.png", tu_png_palette(idx, 16, 16, pal, 4, trns, &n), &n);
  put_image("png_1x1.png", tu_png(rgba, 1, 1, 4, 8, &n), &n);

  uint8_t *jpg = tu_jpeg(photo, 24, 24, 80, 0, &n);
  put_image("jpeg_baseline.jpg", jpg, &n);
  jpg = tu_jpeg(rgb, 32, 16, 60, 1, &n);
  put_image("jpeg_progressive.jpg", jpg, &n);
  jpg = tu_jpeg(rgb, 24, 16, 70, 0, &n);
  size_t en;
  uint8_t *exif = with_exif(jpg, n, &en);
  free(jpg);
  put_request("req_exif_quality.bin", "quality=3&size=small&style=plain", exif, en);
  put_image("jpeg_exif_orient6.jpg", exif, &en);

  uint8_t *webp = tu_webp(rgba, 32, 32, 1, &n);
  put_request("req_webp_litho.bin", "mode=lithophane&min_mm=0.5&max_mm=2.5&shape=cylinder", webp, n);
  put_image("webp_lossless_alpha.webp", webp, &n);
  put_image("webp_lossy.webp", tu_webp(opaque, 32, 32, 0, &n), &n);
  /* Raw pixels for fuzz_image's mask path: w - 1, h - 1, alpha flag, RGBA. */
  for (int alpha = 0; alpha < 2; alpha++) {
    uint8_t raw[3 + 32 * 32 * 4] = {31, 31, (uint8_t)alpha};
    memcpy(raw + 3, alpha ? rgba : opaque, 32 * 32 * 4);
    put("fuzz_image", alpha ? "raw_discs_alpha.bin" : "raw_discs_opaque.bin", raw, sizeof raw);
  }
  uint8_t *png = tu_png(rgba, 16, 16, 4, 8, &n);
  put_request("req_png_inflate.bin", "mode=inflate&quality=7&thickness=0.4&detail=0.3&format=stl", png, n);
  put_request("req_png_badparam.bin", "quality=11", png, n);
  hostile_requests(png, n);
  free(png);
  free(rgba);
  free(opaque);
  free(rgb);
  free(photo);
}

static void params(void) {
  static const char *const seeds[] = {
      "mode=inflate&quality=7&size=medium&format=glb&style=realistic&background=auto",
      "mode=relief&relief_mm=4&base_mm=2&smooth=1&invert=true&cutout=false&max_faces=20000",
      "mode=lithophane&min_mm=0.8&max_mm=3&border_mm=3&shape=cylinder&invert=1",
      "mode=extrude&depth_mm=5&bevel_mm=0.5&size_mm=120&size=large",
      "thickness=0.05&detail=1&quality=1&background=none&format=3mf",
      "mode=lithophane&min_mm=3&max_mm=3",
      "quality=7.5&size_mm=1e3&max_faces=5000000&detail=-0",
      "engine=orfeas-engine-1&background=alpha&style=plain&format=ply",
  };
  for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
    char name[32];
    snprintf(name, sizeof name, "params_%zu.txt", i);
    put("fuzz_params", name, seeds[i], strlen(seeds[i]));
  }
}

/* A tetrahedron (and a coloured one) as orf_export writes them, and a
 * hand-written header with comments and the type aliases the reader takes. */
static void plys(void) {
  float pos[12] = {0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10};
  uint32_t ind[12] = {0, 2, 1, 0, 1, 3, 1, 2, 3, 2, 0, 3};
  uint8_t col[12] = {255, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128};
  orf_mesh m = {pos, NULL, ind, 4, 4};
  uint8_t *out;
  size_t n;
  if (orf_export(&m, ORF_FMT_PLY, &out, &n)) exit(1);
  put("fuzz_ply", "tet.ply", out, n);
  orf_buffer_free(out);
  m.colors = col;
  if (orf_export(&m, ORF_FMT_PLY, &out, &n)) exit(1);
  put("fuzz_ply", "tet_colors.ply", out, n);
  orf_buffer_free(out);

  static const char hdr[] = "ply\nformat binary_little_endian 1.0\ncomment written by hand\n"
                            "obj_info aliases\nelement vertex 3\nproperty float32 x\nproperty float32 y\n"
                            "property float32 z\nproperty uint8 red\nproperty uint8 green\n"
                            "property uint8 blue\nelement face 1\nproperty list uint8 uint32 vertex_index\n"
                            "end_header\n";
  uint8_t buf[sizeof hdr + 3 * 15 + 13];
  size_t len = sizeof hdr - 1;
  memcpy(buf, hdr, len);
  for (int v = 0; v < 3; v++) {
    memcpy(buf + len, pos + 3 * v, 12);
    memcpy(buf + len + 12, col + 3 * v, 3);
    len += 15;
  }
  buf[len++] = 3;
  memcpy(buf + len, ind, 12);
  len += 12;
  put("fuzz_ply", "aliases_comments.ply", buf, len);
}

/* fuzz_export: first byte = flags (1 colours, 2 raw floats, 4 sphere). */
static void export_seeds(void) {
  uint8_t b[512];
  for (size_t i = 0; i < sizeof b; i++)
    b[i] = (uint8_t)(i * 37 + 11);
  static const uint8_t flags[] = {0, 1, 2, 3, 4, 5, 6, 7};
  for (size_t k = 0; k < sizeof flags; k++) {
    b[0] = flags[k];
    b[1] = (uint8_t)(k * 5 + 2); /* tetrahedra count or stacks */
    char name[32];
    snprintf(name, sizeof name, "mesh_flags%u.bin", flags[k]);
    put("fuzz_export", name, b, k < 4 ? 200 : sizeof b);
  }
}

int main(void) {
  images();
  params();
  plys();
  export_seeds();
  return 0;
}
