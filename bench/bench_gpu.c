/*
 * bench_gpu.c - the CUDA path's figures for BENCHMARKS.md (issue 8), CPU and
 * GPU in one run on one machine, the device named:
 *  - per-stage cumulative times of a 1024x1024 JPEG at qualities 7 and 10;
 *  - marching-cubes throughput (field evaluation + extraction) on a sphere
 *    at 256^3 and 512^3, in Gcells/s, with the GPU's per-step device times;
 *  - jobs per second with 1, 4 and 16 concurrent jobs at quality 7;
 *  - device memory per job at every quality and precision, measured and
 *    estimated, and the distance of fp16 / int8 meshes from fp32 (voxels);
 *  - how many concurrent quality-10 jobs the card admits at each precision.
 * It also checks, as it goes, that the GPU's fp32 meshes are the CPU's byte
 * for byte (a mismatch is printed and fails the program).  Without a usable
 * GPU it says so and exits 0.  Nothing here is asserted on time.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu.h"
#include "image.h"
#include "inflate.h"
#include "mask.h"
#include "meshdist.h"
#include "orfeas.h"
#include "parallel.h"
#include "testutil.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int failures;

/* ---- per-stage times ------------------------------------------------------ */

static int on_stage(void *user, orf_stage s, const orf_mesh *m, int grid, double ms) {
  (void)m, (void)grid;
  ((double *)user)[s] = ms;
  return 0;
}

static void stages(const uint8_t *jpg, size_t size, int quality) {
  orf_params p;
  orf_params_init(&p);
  p.quality = quality;
  printf("quality %d, 1024x1024 JPEG, cumulative ms (best of 3):\n", quality);
  printf("  %-6s %14s %11s %13s %16s %9s %9s\n", "device", "voxel_preview", "rough_mesh", "refined_mesh",
         "final_optimized", "mesh(ms)", "faces");
  orf_result first = {0};
  for (orf_device d = ORF_DEVICE_CPU; d <= ORF_DEVICE_CUDA; d++) {
    double best[ORF_STAGE_COUNT], t[ORF_STAGE_COUNT], mesh = 0;
    for (int s = 0; s < ORF_STAGE_COUNT; s++)
      best[s] = 1e30;
    orf_result r = {0};
    for (int run = 0; run < 3; run++) {
      orf_job_opts o;
      orf_job_opts_init(&o);
      o.device = d;
      o.on_stage = on_stage;
      o.user = t;
      orf_result_free(&r);
      if (orf_generate(jpg, size, &p, &o, &r)) {
        printf("  %s: failed\n", orf_device_name(d));
        failures++;
        return;
      }
      if (t[ORF_STAGE_FINAL_OPTIMIZED] < best[ORF_STAGE_FINAL_OPTIMIZED]) {
        memcpy(best, t, sizeof best);
        mesh = r.timings.mesh;
      }
    }
    printf("  %-6s %14.1f %11.1f %13.1f %16.1f %9.1f %9zu\n", orf_device_name(d), best[0], best[1], best[2],
           best[3], mesh, r.mesh.face_count);
    if (d == ORF_DEVICE_CPU) {
      first = r;
      continue;
    }
    int same = first.mesh.face_count == r.mesh.face_count &&
               !memcmp(first.mesh.positions, r.mesh.positions, r.mesh.vertex_count * 12);
    if (!same) failures++;
    printf("  final mesh on cuda %s the cpu's\n", same ? "byte-identical to" : "DIFFERS FROM");
    orf_result_free(&r);
  }
  orf_result_free(&first);
}

/* ---- fields of an image, as the pipeline makes them ------------------------- */

static int fields_of(const uint8_t *data, size_t size, uint32_t side, double thickness, orf_inflate *f) {
  orf_limits lim;
  orf_limits_init(&lim);
  orf_image src = {0}, img = {0};
  orf_mask mask = {0};
  int rc = orf_image_decode(data, size, &lim, 0, &src);
  if (!rc) rc = orf_image_downscale(&src, side, 2, &img);
  if (!rc) rc = orf_mask_build(&img, ORF_BG_AUTO, orf_cpu_count(), &mask);
  if (!rc)
    rc = orf_inflate_build(mask.data, img.rgba, img.width, img.height, thickness, 0.2, orf_cpu_count(), NULL,
                           f);
  orf_mask_free(&mask);
  orf_image_free(&img);
  orf_image_free(&src);
  return rc;
}

/* ---- marching cubes throughput ------------------------------------------------ */

static void throughput(int grid) {
  /* a disc inflated with thickness 1 is a sphere: grid^3 cells or so */
  uint32_t n = (uint32_t)(2 * grid);
  const uint8_t fg[3] = {200, 40, 40}, bg[3] = {255, 255, 255};
  const float disc[3] = {n / 2.0f, n / 2.0f, n * 0.45f};
  uint8_t *rgba = tu_discs_rgba(n, n, disc, 1, 0, fg, bg, 255);
  size_t png_size;
  uint8_t *png = tu_png(rgba, n, n, 4, 8, &png_size);
  orf_inflate f;
  if (!png || fields_of(png, png_size, n, 1.0, &f)) {
    printf("  fields failed\n");
    failures++;
    free(rgba);
    free(png);
    return;
  }
  orf_volume vol;
  orf_inflate_axes ax;
  orf_inflate_axes_build(&f, grid, &vol, &ax);
  orf_inflate_axes_free(&ax);
  double cells = (double)(vol.nx - 1) * (vol.ny - 1) * (vol.nz - 1);
  orf_mesh cpu, gpu;
  double t0 = now_ms();
  orf_inflate_mesh(&f, grid, orf_cpu_count(), NULL, &cpu);
  double cpu_ms = now_ms() - t0;
  printf("  %dx%dx%d points (%.0f Mcells), %zu faces\n", vol.nx, vol.ny, vol.nz, cells / 1e6, cpu.face_count);
  printf("    cpu  (%2d threads)       %8.1f ms  %6.2f Gcells/s\n", orf_cpu_count(), cpu_ms,
         cells / cpu_ms / 1e6);
  for (orf_precision p = ORF_PRECISION_FP32; p <= ORF_PRECISION_INT8; p++) {
    orf_gpu_stats st, best = {0};
    double best_ms = 1e30;
    for (int run = 0; run < 5; run++) {
      t0 = now_ms();
      if (orf_gpu_inflate_mesh(&f, grid, p, NULL, &gpu, &st)) {
        printf("    cuda %s failed\n", orf_precision_name(p));
        failures++;
        break;
      }
      double ms = now_ms() - t0;
      if (ms < best_ms) best_ms = ms, best = st;
      if (run < 4) orf_mesh_free(&gpu);
    }
    double dev = best.ms_eval + best.ms_count + best.ms_emit;
    printf("    cuda %s end to end    %8.1f ms  %6.2f Gcells/s (%.1fx cpu); device %.2f ms = %.1f Gcells/s "
           "(eval %.2f, count+scan %.2f, emit %.2f, copy back %.2f); peak %.0f MB\n",
           orf_precision_name(p), best_ms, cells / best_ms / 1e6, cpu_ms / best_ms, dev, cells / dev / 1e6,
           best.ms_eval, best.ms_count, best.ms_emit, best.ms_copy, best.device_peak / 1e6);
    if (p == ORF_PRECISION_FP32) {
      int same = gpu.face_count == cpu.face_count &&
                 !memcmp(gpu.positions, cpu.positions, cpu.vertex_count * 12) &&
                 !memcmp(gpu.indices, cpu.indices, cpu.face_count * 12);
      if (!same) failures++;
      printf("    cuda fp32 mesh %s the cpu's\n", same ? "byte-identical to" : "DIFFERS FROM");
    }
    orf_mesh_free(&gpu);
  }
  orf_mesh_free(&cpu);
  orf_inflate_free(&f);
  free(rgba);
  free(png);
}

/* ---- concurrent jobs ------------------------------------------------------------ */

typedef struct worker {
  const uint8_t *jpg;
  size_t size;
  orf_device device;
  int jobs, threads, failed;
} worker;

static void *work(void *arg) {
  worker *w = arg;
  orf_params p;
  orf_params_init(&p);
  for (int i = 0; i < w->jobs; i++) {
    orf_job_opts o;
    orf_job_opts_init(&o);
    o.device = w->device;
    o.threads = w->threads;
    orf_result r;
    if (orf_generate(w->jpg, w->size, &p, &o, &r)) w->failed++;
    orf_result_free(&r);
  }
  return NULL;
}

static void concurrency(const uint8_t *jpg, size_t size) {
  printf("jobs per second at quality 7 (1024x1024 JPEG), each job's CPU threads = cores / jobs:\n");
  static const int levels[] = {1, 4, 16};
  for (int l = 0; l < 3; l++) {
    int c = levels[l];
    double rate[2];
    for (orf_device d = ORF_DEVICE_CPU; d <= ORF_DEVICE_CUDA; d++) {
      worker w[16];
      pthread_t th[16];
      int per = c >= 8 ? 2 : 32 / c / 4 + 1;
      double t0 = now_ms();
      for (int i = 0; i < c; i++) {
        w[i] = (worker){jpg, size, d, per, orf_cpu_count() / c > 0 ? orf_cpu_count() / c : 1, 0};
        pthread_create(&th[i], NULL, work, &w[i]);
      }
      int done = 0;
      for (int i = 0; i < c; i++) {
        pthread_join(th[i], NULL);
        done += w[i].jobs - w[i].failed;
        failures += w[i].failed;
      }
      rate[d - ORF_DEVICE_CPU] = done / ((now_ms() - t0) / 1e3);
    }
    printf("  %2d concurrent: cpu %6.2f jobs/s, cuda %6.2f jobs/s (%.2fx)\n", c, rate[0], rate[1],
           rate[1] / rate[0]);
  }
}

/* ---- memory per job and accuracy per precision -------------------------------- */

static void memory_and_accuracy(const uint8_t *jpg, size_t size) {
  printf("device memory per job (measured peak / admission estimate, MB) and distance from fp32 (voxels):\n");
  printf("  %-3s %5s %19s %19s %19s %11s %11s\n", "q", "grid", "fp32", "fp16", "int8", "fp16 dist",
         "int8 dist");
  for (int q = 1; q <= 10; q++) {
    orf_params p;
    orf_params_init(&p);
    p.quality = q;
    double peak[3], est[3];
    for (orf_precision pr = ORF_PRECISION_FP32; pr <= ORF_PRECISION_INT8; pr++) {
      orf_job_opts o;
      orf_job_opts_init(&o);
      o.device = ORF_DEVICE_CUDA;
      o.precision = pr;
      orf_result r;
      if (orf_generate(jpg, size, &p, &o, &r)) failures++;
      peak[pr] = o.device_peak_bytes / 1e6;
      est[pr] = orf_estimate_device_bytes(&p, pr) / 1e6;
      if (peak[pr] > est[pr]) failures++;
      orf_result_free(&r);
    }
    /* the raw extraction at this quality's grid on the photo's fields */
    int grid = orf_quality_resolution(q);
    orf_inflate f;
    double dist[3] = {0};
    if (!fields_of(jpg, size, (uint32_t)(2 * grid < 256 ? 256 : 2 * grid), p.thickness, &f)) {
      orf_volume vol;
      orf_inflate_axes ax;
      orf_inflate_axes_build(&f, grid, &vol, &ax);
      orf_inflate_axes_free(&ax);
      orf_mesh m[3];
      orf_gpu_stats st;
      for (orf_precision pr = ORF_PRECISION_FP32; pr <= ORF_PRECISION_INT8; pr++)
        if (orf_gpu_inflate_mesh(&f, grid, pr, NULL, &m[pr], &st)) failures++;
      for (int pr = 1; pr < 3; pr++)
        dist[pr] = md_hausdorff(&m[pr], &m[0], vol.spacing[0], 3.0 * vol.spacing[0]) / vol.spacing[0];
      for (int pr = 0; pr < 3; pr++)
        orf_mesh_free(&m[pr]);
      orf_inflate_free(&f);
    }
    printf("  %-3d %5d %8.1f / %8.1f %8.1f / %8.1f %8.1f / %8.1f %11.3f %11.3f\n", q, grid, peak[0], est[0],
           peak[1], est[1], peak[2], est[2], dist[1], dist[2]);
  }
}

static void admission(void) {
  orf_gpu_info info;
  orf_gpu_query(&info);
  orf_params p;
  orf_params_init(&p);
  p.quality = 10;
  double total = info.total_bytes / 1e9, reserve = 2.0; /* the server's default system reserve */
  printf("concurrent quality-10 jobs admitted on this %.0f GB card (%.0f GB kept for the system):\n", total,
         reserve);
  for (orf_precision pr = ORF_PRECISION_FP32; pr <= ORF_PRECISION_INT8; pr++) {
    double per = orf_estimate_device_bytes(&p, pr) / 1e9;
    printf("  %s: %.3f GB per job -> %d jobs\n", orf_precision_name(pr), per, (int)((total - reserve) / per));
  }
  printf("  the system ORFEAS replaces: 18 GB per job, 3 to 4 jobs on a 24 GB card (%d on this card)\n",
         (int)(total / 18.0));
}

int main(int argc, char **argv) {
  (void)argv;
  orf_gpu_info info;
  orf_gpu_query(&info);
  if (!info.available) {
    printf("bench_gpu: no usable GPU (CUDA %s in this build); nothing to measure\n",
           info.compiled ? "compiled" : "not compiled");
    return 0;
  }
  printf("device: %s, %.1f GB; host: %d cores\n", info.name, info.total_bytes / 1e9, orf_cpu_count());
  size_t jpg_size;
  uint8_t *jpg = tu_photo_jpeg(1024, &jpg_size);
  if (!jpg) return 1;
  stages(jpg, jpg_size, 7);
  stages(jpg, jpg_size, 10);
  printf("marching cubes (field evaluation + extraction), best of 5:\n");
  throughput(256);
  throughput(512);
  if (argc < 2) concurrency(jpg, jpg_size);
  memory_and_accuracy(jpg, jpg_size);
  admission();
  orf_gpu_query(&info);
  printf("pool after the run: %.1f MB used, %.1f MB reserved; ", info.pool_used_bytes / 1e6,
         info.pool_reserved_bytes / 1e6);
  orf_gpu_trim();
  orf_gpu_query(&info);
  printf("after trim: %.1f MB reserved\n", info.pool_reserved_bytes / 1e6);
  free(jpg);
  if (failures) printf("bench_gpu: %d FAILURES (see above)\n", failures);
  return failures ? 1 : 0;
}
