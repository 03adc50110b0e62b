/*
 * bench_budget.c - the final stage within its face budget, and its time
 * (issue 13), for BENCHMARKS.md: the benchmark's 1024x1024 JPEG
 * (tu_photo_jpeg) and samples/heart.png at qualities 7 and 10, the hostile
 * images of tests/hostile.c at quality 7, and the photographs of Debian's
 * opencv-doc where installed.  Per case, the median of RUNS jobs with 2
 * threads: the final stage's cumulative time (from the job's start, as
 * ENGINE.md's targets count it) and its own time (after refined_mesh), the
 * faces against the budget, the pieces dropped, and the tracked peak
 * against the estimate.  With --old, the same jobs also run the path
 * before issue 13 (ORF_LEGACY_FINAL) in the same run, interleaved.
 * Wall-clock figures on a shared machine: nothing here is asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"
#include "orfeas.h"
#include "testutil.h"

#define RUNS 5

typedef struct fig {
  double cumulative, own; /* final stage, ms */
  size_t faces, dropped, peak;
} fig;

static double stage_ms[ORF_STAGE_COUNT];

static int on_stage(void *user, orf_stage s, const orf_mesh *m, int grid, double ms) {
  (void)user, (void)m, (void)grid;
  stage_ms[s] = ms;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

/* One job; 0 on success. */
static int job(const uint8_t *img, size_t size, const orf_params *p, int old, fig *f) {
  if (old)
    setenv("ORF_LEGACY_FINAL", "1", 1);
  else
    unsetenv("ORF_LEGACY_FINAL");
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = 2;
  o.device = ORF_DEVICE_CPU;
  o.on_stage = on_stage;
  orf_result r;
  int rc = orf_generate(img, size, p, &o, &r);
  unsetenv("ORF_LEGACY_FINAL");
  if (rc) return rc;
  f->cumulative = stage_ms[ORF_STAGE_FINAL_OPTIMIZED];
  f->own = stage_ms[ORF_STAGE_FINAL_OPTIMIZED] - stage_ms[ORF_STAGE_REFINED_MESH];
  f->faces = r.report.faces;
  f->dropped = r.dropped_components;
  f->peak = o.peak_bytes;
  orf_result_free(&r);
  return 0;
}

static void bench_case(const char *name, const uint8_t *img, size_t size, int quality, int compare) {
  orf_params p;
  orf_params_init(&p);
  p.quality = quality;
  uint32_t w = 0, h = 0;
  orf_image_type type;
  orf_limits lim;
  orf_limits_init(&lim);
  if (orf_image_probe(img, size, &lim, &type, &w, &h)) return;
  double est = orf_estimate_peak_bytes(&p, w, h, size) / 1e6;
  double cum[2][RUNS], own[2][RUNS];
  fig last[2] = {{0}};
  size_t peak[2] = {0, 0};
  for (int i = 0; i < RUNS; i++)
    for (int old = 0; old <= compare; old++) {
      fig f;
      int rc = job(img, size, &p, old, &f);
      if (rc) {
        printf("| %s | q%d | failed: %s |\n", name, quality, orf_strerror(rc));
        return;
      }
      cum[old][i] = f.cumulative;
      own[old][i] = f.own;
      last[old] = f;
      if (f.peak > peak[old]) peak[old] = f.peak;
    }
  size_t budget = orf_stage_face_budget(&p, ORF_STAGE_FINAL_OPTIMIZED);
  if (compare)
    printf("| %s | %d | %.0f / %.0f | %.0f / %.0f | %zu / %zu (%zu) | %zu | %.1f / %.1f (%.1f) |\n", name,
           quality, median(cum[1], RUNS), median(cum[0], RUNS), median(own[1], RUNS), median(own[0], RUNS),
           last[1].faces, last[0].faces, budget, last[0].dropped, peak[1] / 1e6, peak[0] / 1e6, est);
  else
    printf("| %s | %d | %.0f | %.0f | %zu (%zu) | %zu | %.1f (%.1f) |\n", name, quality, median(cum[0], RUNS),
           median(own[0], RUNS), last[0].faces, budget, last[0].dropped, peak[0] / 1e6, est);
  fflush(stdout);
}

int main(int argc, char **argv) {
  int compare = argc > 1 && !strcmp(argv[1], "--old");
  if (compare)
    printf(
        "| image | q | final cumulative ms, old / new | final stage ms, old / new | faces old / new (budget) "
        "| dropped | peak MB old / new (estimate) |\n|---|---|---|---|---|---|---|\n");
  else
    printf(
        "| image | q | final cumulative ms | final stage ms | faces (budget) | dropped | peak MB (estimate) "
        "|\n|---|---|---|---|---|---|---|\n");
  size_t size;
  uint8_t *jpg = tu_photo_jpeg(1024, &size);
  if (jpg) {
    bench_case("1024x1024 JPEG", jpg, size, 7, compare);
    bench_case("1024x1024 JPEG", jpg, size, 10, compare);
    free(jpg);
  }
  uint8_t *heart = tu_read_file("samples/heart.png", &size);
  if (heart) {
    bench_case("samples/heart.png", heart, size, 7, compare);
    bench_case("samples/heart.png", heart, size, 10, compare);
    free(heart);
  }
  for (int k = 0; k < HI_COUNT; k++) {
    uint8_t *png = hi_png((hi_kind)k, 384, &size);
    if (!png) continue;
    char name[64];
    snprintf(name, sizeof name, "hostile: %s (384 px)", hi_name((hi_kind)k));
    bench_case(name, png, size, 7, compare);
    free(png);
  }
  static const char *photos[] = {"baboon.jpg", "fruits.jpg", "home.jpg", "messi5.jpg", "starry_night.jpg"};
  for (size_t i = 0; i < sizeof photos / sizeof *photos; i++) {
    char path[256];
    snprintf(path, sizeof path, "/usr/share/doc/opencv-doc/examples/data/%s", photos[i]);
    uint8_t *img = tu_read_file(path, &size);
    if (!img) continue;
    bench_case(photos[i], img, size, 7, compare);
    free(img);
  }
  return 0;
}
