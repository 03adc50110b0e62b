/*
 * hostile.c - the ragged, many-piece and thin test images of hostile.h.
 * Pixels come from a fixed linear congruential generator (Knuth's MMIX
 * constants), so every run draws the same images.
 */
#include "hostile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orfeas.h"
#include "testutil.h"

static uint32_t next_rand(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(*s >> 33);
}

static double unit_rand(uint64_t *s) { return next_rand(s) / 2147483648.0; }

const char *hi_name(hi_kind k) {
  static const char *names[HI_COUNT] = {"noise", "blobs",     "specks", "comb",
                                        "text",  "hairlines", "lace",   "checker"};
  return k < HI_COUNT ? names[k] : "?";
}

static void disc(uint8_t *in, uint32_t n, double cx, double cy, double r, uint8_t v) {
  int x0 = (int)floor(cx - r), x1 = (int)ceil(cx + r), y0 = (int)floor(cy - r), y1 = (int)ceil(cy + r);
  for (int y = y0 < 0 ? 0 : y0; y <= y1 && y < (int)n; y++)
    for (int x = x0 < 0 ? 0 : x0; x <= x1 && x < (int)n; x++)
      if ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) <= r * r)
        in[(size_t)y * n + x] = v;
}

/* 5x7 glyphs, one row a byte, the leftmost dot the 0x10 bit. */
static const char kGlyphChars[] = "ORFEAS3D";
static const uint8_t kGlyphs[8][7] = {
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e}, /* O */
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11}, /* R */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10}, /* F */
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f}, /* E */
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11}, /* A */
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e}, /* S */
    {0x1e, 0x01, 0x01, 0x0e, 0x01, 0x01, 0x1e}, /* 3 */
    {0x1e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1e}, /* D */
};

static void text(uint8_t *in, uint32_t n, const char *s, int x, int y, int dot) {
  for (; *s; s++, x += 6 * dot) {
    const char *g = strchr(kGlyphChars, *s);
    if (!g || !*s) continue;
    const uint8_t *rows = kGlyphs[g - kGlyphChars];
    for (int r = 0; r < 7; r++)
      for (int c = 0; c < 5; c++) {
        if (!(rows[r] >> (4 - c) & 1)) continue;
        for (int yy = y + r * dot; yy < y + (r + 1) * dot; yy++)
          for (int xx = x + c * dot; xx < x + (c + 1) * dot; xx++)
            if (xx >= 0 && yy >= 0 && xx < (int)n && yy < (int)n) in[(size_t)yy * n + xx] = 1;
      }
  }
}

/* The subject (1) and background (0) of image k. */
static void draw(hi_kind k, uint32_t n, uint8_t *in) {
  uint64_t s = 0x9e3779b97f4a7c15ULL + (uint64_t)k;
  size_t np = (size_t)n * n;
  memset(in, 0, np);
  switch (k) {
  case HI_NOISE:
    for (size_t i = 0; i < np; i++)
      in[i] = next_rand(&s) & 1;
    break;
  case HI_BLOBS: {
    enum { G = 24 };
    double v[G + 1][G + 1];
    for (int y = 0; y <= G; y++)
      for (int x = 0; x <= G; x++)
        v[y][x] = unit_rand(&s);
    for (uint32_t y = 0; y < n; y++)
      for (uint32_t x = 0; x < n; x++) {
        double fx = (double)x * G / n, fy = (double)y * G / n;
        int ix = (int)fx, iy = (int)fy;
        fx -= ix, fy -= iy;
        double a = v[iy][ix] * (1 - fx) + v[iy][ix + 1] * fx,
               b = v[iy + 1][ix] * (1 - fx) + v[iy + 1][ix + 1] * fx;
        in[(size_t)y * n + x] = a * (1 - fy) + b * fy > 0.55;
      }
    break;
  }
  case HI_SPECKS: {
    /* specks of radius n/128 to n/77 (3 to 5 px at 384): above the mask's
     * speck filter (1% of the largest piece, mask.c) so they reach the mesh */
    size_t count = np / 250;
    for (size_t i = 0; i < count; i++)
      disc(in, n, unit_rand(&s) * n, unit_rand(&s) * n, n / 128.0 * (1 + 0.67 * unit_rand(&s)), 1);
    disc(in, n, 0.35 * n, 0.5 * n, n / 12.0, 1);
    break;
  }
  case HI_COMB:
    for (uint32_t y = n / 8; y < n / 8 + n / 16; y++)
      for (uint32_t x = n / 16; x < n - n / 16; x++)
        in[(size_t)y * n + x] = 1;
    for (uint32_t x = n / 16; x + 2 <= n - n / 16; x += 4) {
      uint32_t len = n / 4 + next_rand(&s) % (n / 2);
      for (uint32_t y = n / 8 + n / 16; y < n / 8 + n / 16 + len && y < n; y++)
        in[(size_t)y * n + x] = in[(size_t)y * n + x + 1] = 1;
    }
    break;
  case HI_TEXT: {
    int y = 4;
    for (int dot = 2; dot <= 5; dot++, y += 9 * dot)
      for (int x = 4; x < (int)n; x += 6 * 9 * dot + 6 * dot)
        text(in, n, "ORFEAS 3D", x, y, dot);
    break;
  }
  case HI_HAIRLINES:
    for (uint32_t y = 0; y < n; y++)
      for (uint32_t x = 0; x < n; x++) {
        double dx = x + 0.5 - n / 2.0, dy = y + 0.5 - n / 2.0, r = sqrt(dx * dx + dy * dy);
        int line = (x + y) % 12 == 0 || (x + n - y) % 17 == 0;
        int ring = r < n / 2.0 && fmod(r, 9.0) < 1.0;
        in[(size_t)y * n + x] = line || ring;
      }
    break;
  case HI_LACE:
    disc(in, n, n / 2.0, n / 2.0, 0.45 * n, 1);
    for (double y = 0; y < n; y += 10 * 0.866)
      for (double x = fmod(y / (10 * 0.866), 2) < 1 ? 0 : 5; x < n; x += 10)
        disc(in, n, x, y, 3, 0);
    break;
  case HI_CHECKER:
    for (uint32_t y = n / 8; y < n - n / 8; y++)
      for (uint32_t x = n / 8; x < n - n / 8; x++)
        in[(size_t)y * n + x] = ((x / 2) + (y / 2)) & 1;
    break;
  default: break;
  }
}

uint8_t *hi_rgba(hi_kind k, uint32_t n) {
  size_t np = (size_t)n * n;
  uint8_t *in = malloc(np), *rgba = malloc(4 * np);
  if (!in || !rgba) {
    free(in);
    free(rgba);
    return NULL;
  }
  draw(k, n, in);
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++) {
      uint8_t *p = rgba + 4 * ((size_t)y * n + x);
      p[0] = (uint8_t)(40 + 180 * x / n);
      p[1] = (uint8_t)(200 - 150 * y / n);
      p[2] = 90;
      p[3] = in[(size_t)y * n + x] ? 255 : 0;
    }
  free(in);
  return rgba;
}

uint8_t *hi_png(hi_kind k, uint32_t n, size_t *size) {
  uint8_t *rgba = hi_rgba(k, n);
  uint8_t *png = rgba ? tu_png(rgba, n, n, 4, 8, size) : NULL;
  free(rgba);
  return png;
}

/* ---- the budget check of every stage ------------------------------------ */

static int on_stage(void *user, orf_stage stage, const orf_mesh *mesh, int grid, double ms) {
  (void)ms;
  hi_seen *s = user;
  s->faces[stage] = mesh->face_count;
  s->grid[stage] = grid;
  s->count++;
  return 0;
}

/* See hostile.h. */
int hi_run(const uint8_t *img, size_t size, const orf_params *p, int threads, orf_result *res, hi_seen *s) {
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = threads;
  o.device = ORF_DEVICE_CPU;
  o.on_stage = on_stage;
  o.user = s;
  memset(s, 0, sizeof *s);
  return orf_generate(img, size, p, &o, res);
}

static int same_mesh(const orf_mesh *a, const orf_mesh *b) {
  if (a->vertex_count != b->vertex_count || a->face_count != b->face_count) return 0;
  if (memcmp(a->positions, b->positions, a->vertex_count * 3 * sizeof(float))) return 0;
  if (memcmp(a->indices, b->indices, a->face_count * 3 * sizeof(uint32_t))) return 0;
  if (!a->colors != !b->colors) return 0;
  return !a->colors || !memcmp(a->colors, b->colors, a->vertex_count * 3);
}

typedef struct mode_case {
  orf_mode mode;
  int cutout;
  const char *name;
} mode_case;

static const mode_case kModes[] = {
    {ORF_MODE_INFLATE, 0, "inflate"},       {ORF_MODE_RELIEF, 0, "relief"},   {ORF_MODE_RELIEF, 1, "cutout"},
    {ORF_MODE_LITHOPHANE, 0, "lithophane"}, {ORF_MODE_EXTRUDE, 0, "extrude"},
};

/* The checks of one job (see hostile.h): 0, or -1 with why filled. */
static int check_job(hi_kind k, const uint8_t *png, size_t size, const orf_params *p, const char *mode,
                     char *why, size_t why_len) {
  orf_result r1, r2;
  hi_seen s1, s2;
  int rc = hi_run(png, size, p, 2, &r2, &s2), bad = -1;
  printf("%-9s q%-2d %-10s rc %d: %6zu faces (budget %6zu), %zu pieces dropped (%.3f%% of the volume), euler "
         "%ld, %.0f ms\n",
         hi_name(k), p->quality, mode, rc, r2.report.faces,
         orf_stage_face_budget(p, ORF_STAGE_FINAL_OPTIMIZED), r2.dropped_components,
         100 * r2.dropped_volume_share, r2.report.euler, r2.timings.total);
  fflush(stdout);
  snprintf(why, why_len, "q%d %s: ", p->quality, mode);
  size_t at = strlen(why);
  /* hairlines of one pixel are thinner than the silhouette modes' grid at
   * low quality: ORF_ETOOTHIN, as README.md says, with both thread counts */
  if (rc == ORF_ETOOTHIN && k == HI_HAIRLINES && (p->mode == ORF_MODE_EXTRUDE || p->cutout)) {
    rc = hi_run(png, size, p, 1, &r1, &s1);
    if (rc != ORF_ETOOTHIN) {
      snprintf(why + at, why_len - at, "1 thread gave %d, 2 threads too thin", rc);
      orf_result_free(&r1);
      return -1;
    }
    return 0;
  }
  if (rc) {
    snprintf(why + at, why_len - at, "failed: %s", orf_strerror(rc));
    return -1;
  }
  orf_mesh_report rep;
  if (s2.count != ORF_STAGE_COUNT) {
    snprintf(why + at, why_len - at, "%d stages", s2.count);
    goto out_free2;
  }
  for (int st = 0; st < ORF_STAGE_COUNT; st++)
    if (s2.faces[st] > orf_stage_face_budget(p, (orf_stage)st)) {
      snprintf(why + at, why_len - at, "stage %s has %zu faces, over %zu", orf_stage_name((orf_stage)st),
               s2.faces[st], orf_stage_face_budget(p, (orf_stage)st));
      goto out_free2;
    }
  if (orf_mesh_check(&r2.mesh, &rep) || !rep.watertight || !rep.manifold || rep.degenerate_faces ||
      rep.duplicate_faces || !(rep.volume > 0) || rep.faces != r2.report.faces) {
    snprintf(why + at, why_len - at,
             "final mesh: watertight %d manifold %d degenerate %zu duplicate %zu volume %g", rep.watertight,
             rep.manifold, rep.degenerate_faces, rep.duplicate_faces, rep.volume);
    goto out_free2;
  }
  if (!(r2.dropped_volume_share >= 0 && r2.dropped_volume_share < 1)) {
    snprintf(why + at, why_len - at, "dropped volume share %g", r2.dropped_volume_share);
    goto out_free2;
  }
  if ((rc = hi_run(png, size, p, 1, &r1, &s1))) {
    snprintf(why + at, why_len - at, "1 thread failed: %s", orf_strerror(rc));
    goto out_free2;
  }
  if (!same_mesh(&r1.mesh, &r2.mesh) || r1.dropped_components != r2.dropped_components)
    snprintf(why + at, why_len - at, "1 and 2 threads differ");
  else
    bad = 0;
  orf_result_free(&r1);
out_free2:
  orf_result_free(&r2);
  return bad;
}

int hi_check_image(hi_kind k, uint32_t n, char *why, size_t why_len) {
  size_t size;
  uint8_t *png = hi_png(k, n, &size);
  if (!png) {
    snprintf(why, why_len, "out of memory");
    return -1;
  }
  static const int qualities[] = {3, 7, 10};
  int rc = 0;
  for (size_t qi = 0; qi < 3 && !rc; qi++)
    for (size_t mi = 0; mi < sizeof kModes / sizeof *kModes && !rc; mi++) {
      orf_params p;
      orf_params_init(&p);
      p.quality = qualities[qi];
      p.mode = kModes[mi].mode;
      p.cutout = kModes[mi].cutout;
      rc = check_job(k, png, size, &p, kModes[mi].name, why, why_len);
    }
  free(png);
  return rc;
}
