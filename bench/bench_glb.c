/*
 * bench_glb.c - the GLB a web developer ships (issue 18), for
 * BENCHMARKS.md: for a 1024x1024 photograph-like JPEG (tu_photo_jpeg) and
 * samples/heart.png, one generation at each of qualities 4, 7 and 10
 * (texture auto), then the final mesh exported as every GLB variant -
 * vertex colours or the texture, each plain, meshopt and Draco - with its
 * bytes, its ratio to the uncompressed GLB of the same colouring, and its
 * encode time (the best of RUNS exports; the texture's own time is the
 * job's, below).  Then the texture step's share of the job: the pipeline's
 * timings (texture, total), the median of RUNS jobs at quality 7.
 * Wall-clock figures: run on a quiet machine; nothing here is asserted.
 *   build/bench/bench_glb [IMAGE...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "orfeas.h"
#include "testutil.h"

#define RUNS 5

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The bytes and the best encode time of one variant. */
static size_t export_best(const orf_mesh *m, const orf_texture *t, orf_compress c, double *best_ms) {
  size_t bytes = 0;
  *best_ms = 1e300;
  for (int r = 0; r < RUNS; r++) {
    uint8_t *d;
    double t0 = now_ms();
    if (orf_export_textured(m, t, ORF_FMT_GLB, c, &d, &bytes)) {
      fprintf(stderr, "bench_glb: the export failed\n");
      exit(1);
    }
    double ms = now_ms() - t0;
    if (ms < *best_ms) *best_ms = ms;
    orf_buffer_free(d);
  }
  return bytes;
}

static int generate(const uint8_t *img, size_t size, int quality, orf_result *res) {
  orf_params p;
  orf_params_init(&p);
  p.quality = quality;
  orf_job_opts o;
  orf_job_opts_init(&o);
  return orf_generate(img, size, &p, &o, res);
}

static void bench_image(const char *name, const uint8_t *img, size_t size) {
  static const int qualities[] = {4, 7, 10};
  static const orf_compress codecs[] = {ORF_COMPRESS_NONE, ORF_COMPRESS_MESHOPT, ORF_COMPRESS_DRACO};
  printf("%s\n%-3s %8s %-8s %-8s %10s %7s %10s\n", name, "q", "faces", "colour", "compress", "bytes", "ratio",
         "encode_ms");
  for (size_t qi = 0; qi < sizeof qualities / sizeof *qualities; qi++) {
    orf_result res;
    if (generate(img, size, qualities[qi], &res)) {
      fprintf(stderr, "bench_glb: %s at quality %d failed\n", name, qualities[qi]);
      exit(1);
    }
    for (int tex = 0; tex < 2; tex++) {
      const orf_texture *t = tex ? &res.texture : NULL;
      if (tex && !res.texture.data) continue;
      size_t plain = 0;
      for (size_t c = 0; c < 3; c++) {
        double ms;
        size_t bytes = export_best(&res.mesh, t, codecs[c], &ms);
        if (c == 0) plain = bytes;
        printf("%-3d %8zu %-8s %-8s %10zu %7.3f %10.1f\n", qualities[qi], res.mesh.face_count,
               tex ? "texture" : "vertex", orf_compress_name(codecs[c]), bytes, (double)bytes / (double)plain,
               ms);
      }
    }
    if (res.texture.data)
      printf("    texture: %ux%u %s, %zu bytes\n", res.texture.width, res.texture.height, res.texture.mime,
             res.texture.size);
    orf_result_free(&res);
  }
  /* the texture step's share of a job at quality 7 */
  double texture[RUNS], total[RUNS];
  for (int r = 0; r < RUNS; r++) {
    orf_result res;
    if (generate(img, size, 7, &res)) exit(1);
    texture[r] = res.timings.texture;
    total[r] = res.timings.total;
    orf_result_free(&res);
  }
  qsort(texture, RUNS, sizeof *texture, cmp_double);
  qsort(total, RUNS, sizeof *total, cmp_double);
  printf("    quality 7 job (median of %d): texture %.1f ms of %.1f ms total (%.1f%%)\n\n", RUNS,
         texture[RUNS / 2], total[RUNS / 2], 100 * texture[RUNS / 2] / total[RUNS / 2]);
}

int main(int argc, char **argv) {
  printf("GLB variants: bytes, ratio to the plain GLB of the same colouring, best of %d encodes\n", RUNS);
  size_t n;
  uint8_t *photo = tu_photo_jpeg(1024, &n);
  if (!photo) return 1;
  bench_image("photo 1024x1024 JPEG (tu_photo_jpeg)", photo, n);
  free(photo);
  const char *def[] = {"samples/heart.png"};
  char **files = argc > 1 ? argv + 1 : (char **)def;
  int count = argc > 1 ? argc - 1 : 1;
  for (int i = 0; i < count; i++) {
    uint8_t *data = tu_read_file(files[i], &n);
    if (!data) {
      fprintf(stderr, "bench_glb: cannot read %s\n", files[i]);
      return 1;
    }
    bench_image(files[i], data, n);
    free(data);
  }
  return 0;
}
