/*
 * bench_segment.c - the segmentation network's figures for BENCHMARKS.md
 * (issue 12), at 2 threads:
 *  - the network alone (u2netp in OpenCV's DNN, 320x320) per photograph,
 *    median of RUNS runs after one warm-up (wall clock, and the process's
 *    CPU time over both threads), the same for its preview network (the
 *    side output of decoder stage 2, net.cpp), and the colour model on the
 *    same image at the job's two sizes (160 px, the decision, and 512 px,
 *    the work image of quality 7);
 *  - the first stage (voxel_preview) of a job from the bytes, median of
 *    RUNS jobs, for the three cases: a new photograph that needs the
 *    network (a segmenter without a cache, so every job runs it), an image
 *    that does not (a logo on white through auto: a confident colour
 *    model), and a photograph whose matte is cached; with the final
 *    stage's time too.
 * Photographs from Debian's opencv-doc; wall-clock figures, nothing here is
 * asserted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image.h"
#include "mask.h"
#include "orfeas.h"
#include "segment.h"
#include "testutil.h"

#define RUNS 5
#define THREADS 2
#define DOC "/usr/share/doc/opencv-doc/examples/"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of the whole process (all threads), ms: on a loaded machine a
 * steadier figure than the wall clock. */
static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return v[n / 2];
}

static double stage_ms[ORF_STAGE_COUNT];

static int on_stage(void *user, orf_stage s, const orf_mesh *m, int grid, double ms) {
  (void)user, (void)m, (void)grid;
  stage_ms[s] = ms;
  return 0;
}

/* Runs a quality-7 job; fills first and last (ms); returns the source. */
static int job(const uint8_t *data, size_t size, orf_segmenter *seg, double *first, double *last) {
  orf_params p;
  orf_params_init(&p);
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = THREADS;
  o.segmenter = seg;
  o.on_stage = on_stage;
  orf_result r;
  if (orf_generate(data, size, &p, &o, &r)) {
    fprintf(stderr, "bench_segment: a job failed\n");
    exit(1);
  }
  *first = stage_ms[ORF_STAGE_VOXEL_PREVIEW];
  *last = stage_ms[ORF_STAGE_FINAL_OPTIMIZED];
  int source = r.mask_source;
  orf_result_free(&r);
  return source;
}

int main(void) {
  char model[4096], err[512];
  if (orf_segment_default_model(model, sizeof model)) {
    fprintf(stderr, "bench_segment: no model at %s (make installs it)\n", model);
    return 1;
  }
  orf__net *net;
  if (orf__net_load(model, THREADS, &net, err, sizeof err)) {
    fprintf(stderr, "bench_segment: %s\n", err);
    return 1;
  }
  const int side = orf__net_side(net);
  uint8_t *matte = malloc((size_t)side * side);
  static const char *const photos[] = {"data/messi5.jpg", "data/fruits.jpg", "data/squirrel_cls.jpg",
                                       "alphamat/input_images/plant.jpg"};
  printf("network: %s, %dx%d input, %d threads, median of %d runs after a warm-up\n", model, side, side,
         THREADS, RUNS);
  printf("preview network: %s\n", orf__net_has_preview(net) ? "side output 2" : "none (the full one)");
  printf("%-34s %12s %12s %12s %12s %14s %14s\n", "image", "network ms", "network cpu", "preview ms",
         "preview cpu", "colour 160 ms", "colour 512 ms");
  for (size_t i = 0; i < sizeof photos / sizeof photos[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, DOC "%s", photos[i]);
    size_t n;
    uint8_t *data = tu_read_file(path, &n);
    orf_image img, small, work;
    if (!data || orf_image_decode(data, n, NULL, 0, &img)) {
      fprintf(stderr, "bench_segment: cannot read %s (opencv-doc)\n", path);
      return 1;
    }
    orf_image_downscale(&img, 160, THREADS, &small);
    orf_image_downscale(&img, 512, THREADS, &work);
    double t[RUNS], cpu[RUNS], pt[RUNS], pcpu[RUNS], c1[RUNS], c2[RUNS];
    int pv = orf__net_has_preview(net);
    orf__net_run(net, img.rgba, img.width, img.height, 0, matte); /* warm-up: the layers' buffers */
    orf__net_run(net, img.rgba, img.width, img.height, pv, matte);
    for (int r = 0; r < RUNS; r++) {
      double t0 = now_ms(), u0 = cpu_ms();
      orf__net_run(net, img.rgba, img.width, img.height, 0, matte);
      t[r] = now_ms() - t0;
      cpu[r] = cpu_ms() - u0;
      t0 = now_ms(), u0 = cpu_ms();
      orf__net_run(net, img.rgba, img.width, img.height, pv, matte);
      pt[r] = now_ms() - t0;
      pcpu[r] = cpu_ms() - u0;
      orf_mask m;
      t0 = now_ms();
      orf_mask_build(&small, ORF_BG_COLOR, THREADS, &m);
      c1[r] = now_ms() - t0;
      orf_mask_free(&m);
      t0 = now_ms();
      orf_mask_build(&work, ORF_BG_COLOR, THREADS, &m);
      c2[r] = now_ms() - t0;
      orf_mask_free(&m);
    }
    char name[64];
    snprintf(name, sizeof name, "%s %ux%u", strrchr(photos[i], '/') + 1, img.width, img.height);
    printf("%-34s %12.1f %12.1f %12.1f %12.1f %14.2f %14.2f\n", name, median(t, RUNS), median(cpu, RUNS),
           median(pt, RUNS), median(pcpu, RUNS), median(c1, RUNS), median(c2, RUNS));
    orf_image_free(&img);
    orf_image_free(&small);
    orf_image_free(&work);
    free(data);
  }
  orf__net_free(net);
  free(matte);

  /* first stage of a job, three cases */
  orf_segmenter *nocache, *cached;
  if (orf_segmenter_create(model, THREADS, 0, &nocache, err, sizeof err) ||
      orf_segmenter_create(model, THREADS, (size_t)32 << 20, &cached, err, sizeof err)) {
    fprintf(stderr, "bench_segment: %s\n", err);
    return 1;
  }
  size_t pn, ln;
  uint8_t *photo = tu_read_file(DOC "data/messi5.jpg", &pn);
  const float discs[] = {300, 300, 200, 700, 500, 180};
  const uint8_t red[3] = {200, 30, 40}, white[3] = {255, 255, 255};
  uint8_t *logo = tu_discs_png(1024, 1024, discs, 2, 0, red, white, &ln);
  double f[RUNS], l[RUNS], first, last;
  struct {
    const char *name;
    const uint8_t *data;
    size_t size;
    orf_segmenter *seg;
  } cases[] = {{"photo, network runs (messi5.jpg)", photo, pn, nocache},
               {"logo on white, no network (1024 PNG)", logo, ln, cached},
               {"photo, matte cached (messi5.jpg)", photo, pn, cached}};
  job(photo, pn, nocache, &first, &last); /* warm both networks */
  job(photo, pn, cached, &first, &last);
  printf("\nfirst stage of a quality-7 job from the bytes, median of %d jobs, %d threads\n", RUNS, THREADS);
  printf("%-40s %8s %18s %14s\n", "case", "source", "voxel_preview ms", "final ms");
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    int source = 0;
    for (int r = 0; r < RUNS; r++)
      source = job(cases[c].data, cases[c].size, cases[c].seg, &f[r], &l[r]);
    double mf = median(f, RUNS), ml = median(l, RUNS);
    printf("%-40s %8s %18.1f %14.1f\n", cases[c].name, orf_mask_source_name(source), mf, ml);
  }
  orf_segmenter_stats st;
  orf_segmenter_stats_get(cached, &st);
  printf("cached segmenter: %llu run(s), %llu preview run(s), %llu hit(s)\n", (unsigned long long)st.runs,
         (unsigned long long)st.preview_runs, (unsigned long long)st.hits);
  orf_segmenter_free(nocache);
  orf_segmenter_free(cached);
  free(photo);
  free(logo);
  return 0;
}
