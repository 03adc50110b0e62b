/*
 * bench_engine.c - the engine's figures for BENCHMARKS.md:
 *  - per-stage cumulative times of a 1024x1024 JPEG at quality 7 (targets in
 *    docs/ENGINE.md: voxel_preview under 25 ms, final under 500 ms), median of
 *    RUNS jobs, with the time breakdown of the median job;
 *  - peak memory per job: the engine's tracked peak, the resident-set growth
 *    of a fresh process running one job, and the estimate;
 *  - the EDT on a 1024^2 mask, and the same mask through
 *    scipy.ndimage.distance_transform_edt in the same run (bench/edt_peer.py);
 *  - the printing modes (relief, lithophane, extrude; issue 3) on the same
 *    JPEG at quality 7: per-stage times (median of RUNS jobs), faces, peak
 *    and estimate, and the file size of the final mesh in every format.
 * Wall-clock figures: run on a quiet machine; nothing here is asserted.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "edt.h"
#include "orfeas.h"
#include "testutil.h"

#define RUNS 9

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double stage_ms[RUNS][ORF_STAGE_COUNT];
static int run_index;

static int on_stage(void *user, orf_stage s, const orf_mesh *m, int grid, double ms) {
  (void)user, (void)m, (void)grid;
  stage_ms[run_index][s] = ms;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  double tmp[RUNS];
  memcpy(tmp, v, sizeof(double) * (size_t)n);
  qsort(tmp, (size_t)n, sizeof(double), cmp_double);
  return tmp[n / 2];
}

static void bench_stages(const uint8_t *jpg, size_t size, int quality) {
  orf_params p;
  orf_params_init(&p);
  p.quality = quality;
  orf_timings t[RUNS];
  size_t faces = 0, peak = 0;
  for (run_index = 0; run_index < RUNS; run_index++) {
    orf_job_opts o;
    orf_job_opts_init(&o);
    o.on_stage = on_stage;
    orf_result r;
    if (orf_generate(jpg, size, &p, &o, &r)) {
      fprintf(stderr, "bench: generation failed\n");
      exit(1);
    }
    t[run_index] = r.timings;
    faces = r.report.faces;
    peak = o.peak_bytes;
    orf_result_free(&r);
  }
  printf("1024x1024 JPEG, quality %d, %d threads, median of %d jobs (cumulative ms from the start):\n",
         quality, (int)sysconf(_SC_NPROCESSORS_ONLN), RUNS);
  for (int s = 0; s < ORF_STAGE_COUNT; s++) {
    double v[RUNS];
    for (int i = 0; i < RUNS; i++)
      v[i] = stage_ms[i][s];
    printf("  stage_%s_ms=%.1f\n", orf_stage_name((orf_stage)s), median(v, RUNS));
  }
  double total[RUNS];
  for (int i = 0; i < RUNS; i++)
    total[i] = t[i].total;
  double med = median(total, RUNS);
  for (int i = 0; i < RUNS; i++)
    if (t[i].total == med)
      printf(
          "  breakdown_ms: decode=%.1f mask=%.1f field=%.1f mesh=%.1f smooth=%.1f simplify=%.1f total=%.1f\n",
          t[i].decode, t[i].mask, t[i].field, t[i].mesh, t[i].smooth, t[i].simplify, t[i].total);
  printf("  final_faces=%zu tracked_peak_mb=%.1f\n", faces, peak / 1e6);
}

/* One job in a fresh child: resident-set growth against the estimate. */
static void bench_rss(const uint8_t *img, size_t size, int quality) {
  orf_params p;
  orf_params_init(&p);
  p.quality = quality;
  size_t est = orf_estimate_peak_bytes(&p, 1024, 1024, size);
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long before = ru.ru_maxrss;
    orf_job_opts o;
    orf_job_opts_init(&o);
    orf_result r;
    if (orf_generate(img, size, &p, &o, &r)) _exit(1);
    getrusage(RUSAGE_SELF, &ru);
    printf("  quality %2d: rss_growth_mb=%.1f tracked_peak_mb=%.1f estimate_mb=%.1f\n", quality,
           (ru.ru_maxrss - before) / 1024.0, o.peak_bytes / 1e6, est / 1e6);
    fflush(stdout);
    _exit(0);
  }
  waitpid(pid, NULL, 0);
}

static void bench_edt(void) {
  const uint32_t n = 1024;
  uint8_t *mask = malloc((size_t)n * n);
  uint32_t seed = 7;
  for (uint32_t y = 0; y < n; y++)
    for (uint32_t x = 0; x < n; x++) {
      float dx = (float)x - 512, dy = (float)y - 512;
      seed = seed * 1664525u + 1013904223u;
      mask[(size_t)y * n + x] = (dx * dx + dy * dy < 350.0f * 350.0f) || (seed >> 24) == 0;
    }
  float *dist = malloc((size_t)n * n * sizeof(float));
  int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  double best = 1e9, best1 = 1e9;
  for (int i = 0; i < 10; i++) {
    double t = now_ms();
    orf_edt(mask, n, n, 1, dist, NULL, threads);
    best = fmin(best, now_ms() - t);
    t = now_ms();
    orf_edt(mask, n, n, 1, dist, NULL, 1);
    best1 = fmin(best1, now_ms() - t);
  }
  printf("EDT 1024x1024 (best of 10): edt_orfeas_ms=%.2f (%d threads), edt_orfeas_1thread_ms=%.2f\n", best,
         threads, best1);
  char path[] = "/tmp/orfeas-edt-XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0 && write(fd, mask, (size_t)n * n) == (ssize_t)(n * n)) {
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 bench/edt_peer.py %s %u %u", path, n, n);
    FILE *f = popen(cmd, "r");
    double peer = 0;
    if (f && fscanf(f, "edt_scipy_ms=%lf", &peer) == 1)
      printf("  edt_scipy_ms=%.2f ratio scipy/orfeas=%.2fx (1 thread: %.2fx)\n", peer, peer / best,
             peer / best1);
    else
      printf("  scipy peer unavailable (python3-scipy missing?)\n");
    if (f) pclose(f);
  }
  unlink(path);
  free(mask);
  free(dist);
}

/* One printing mode at quality 7: stage times, figures and file sizes. */
static void bench_mode(const uint8_t *jpg, size_t size, const char *name, const char *const *kv) {
  orf_params p;
  orf_params_init(&p);
  for (int i = 0; kv[i]; i += 2)
    if (orf_params_set(&p, kv[i], kv[i + 1], NULL, 0)) {
      fprintf(stderr, "bench: bad parameter %s\n", kv[i]);
      exit(1);
    }
  orf_result keep = {0};
  double total[RUNS];
  size_t peak = 0;
  for (run_index = 0; run_index < RUNS; run_index++) {
    orf_job_opts o;
    orf_job_opts_init(&o);
    o.on_stage = on_stage;
    orf_result r;
    if (orf_generate(jpg, size, &p, &o, &r)) {
      fprintf(stderr, "bench: %s failed\n", name);
      exit(1);
    }
    total[run_index] = r.timings.total;
    peak = o.peak_bytes;
    if (run_index == 0)
      keep = r;
    else
      orf_result_free(&r);
  }
  printf("  %-22s", name);
  for (int s = 0; s < ORF_STAGE_COUNT; s++) {
    double v[RUNS];
    for (int i = 0; i < RUNS; i++)
      v[i] = stage_ms[i][s];
    printf(" %s=%.1f", s == ORF_STAGE_COUNT - 1 ? "final_ms" : orf_stage_name((orf_stage)s), median(v, RUNS));
  }
  printf(" total_ms=%.1f faces=%zu peak_mb=%.1f estimate_mb=%.1f\n   %22s", median(total, RUNS),
         keep.report.faces, peak / 1e6, orf_estimate_peak_bytes(&p, 1024, 1024, size) / 1e6, "");
  for (orf_format f = ORF_FMT_GLB; f <= ORF_FMT_3MF; f++) {
    uint8_t *out;
    size_t n;
    if (orf_export(&keep.mesh, f, &out, &n) == ORF_OK) {
      printf(" %s_kb=%.0f", orf_format_ext(f), n / 1024.0);
      orf_buffer_free(out);
    } else {
      printf(" %s=n/a", orf_format_ext(f));
    }
  }
  printf("\n");
  orf_result_free(&keep);
}

static void bench_modes(const uint8_t *jpg, size_t size) {
  static const char *const relief[] = {"mode", "relief", "quality", "7", NULL};
  static const char *const cutout[] = {"mode", "relief", "cutout", "true", "quality", "7", NULL};
  static const char *const litho[] = {"mode", "lithophane", "quality", "7", NULL};
  static const char *const cyl[] = {"mode", "lithophane", "shape", "cylinder", "quality", "7", NULL};
  static const char *const extrude[] = {"mode", "extrude", "quality", "7", NULL};
  printf("printing modes, 1024x1024 JPEG, quality 7, %d threads, median of %d jobs (cumulative ms):\n",
         (int)sysconf(_SC_NPROCESSORS_ONLN), RUNS);
  bench_mode(jpg, size, "relief", relief);
  bench_mode(jpg, size, "relief cutout", cutout);
  bench_mode(jpg, size, "lithophane flat", litho);
  bench_mode(jpg, size, "lithophane cylinder", cyl);
  bench_mode(jpg, size, "extrude", extrude);
}

int main(void) {
  size_t size;
  uint8_t *jpg = tu_photo_jpeg(1024, &size);
  bench_stages(jpg, size, 7);
  printf("peak memory of one job in a fresh process (1024x1024 JPEG):\n");
  for (int q = 1; q <= 10; q += 3)
    bench_rss(jpg, size, q);
  bench_rss(jpg, size, 10);
  bench_edt();
  bench_modes(jpg, size);
  free(jpg);
  return 0;
}
