/*
 * bench_repair.c - orf_repair() on a 1,000,000-triangle soup at quality 7
 * (issue 15): total time, the winding-number step alone, the engine's
 * measured peak against orf_estimate_repair_bytes and the process's
 * maximum resident set (assimp included); then the fast winding number
 * (Barill et al. 2018, the tree with far-field expansions) against the
 * direct O(n m) sum of solid angles on a small case, with their speedup.
 *
 * The soup: a torus of 1000 x 500 quads (1,000,000 triangles) written as
 * binary STL (so unwelded, as STL always is), with a third of its faces
 * flipped and 1% removed (holes).
 *   bench_repair [--quick]   (--quick: 100,000 triangles)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "meshgen.h"
#include "orfeas.h"
#include "repair.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint32_t lcg(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s >> 8;
}

int main(int argc, char **argv) {
  int quick = argc > 1 && !strcmp(argv[1], "--quick");
  int nu = quick ? 316 : 1000, nv = quick ? 158 : 500;
  orf_mesh m;
  if (mg_torus(&m, 30, 12, nu, nv)) return 1;
  uint32_t seed = 5;
  size_t kept = 0;
  for (size_t f = 0; f < m.face_count; f++) {
    uint32_t r = lcg(&seed);
    if (r % 100 == 0) continue; /* holes */
    uint32_t *t = m.indices + 3 * kept++;
    memmove(t, m.indices + 3 * f, 12);
    if (r % 3 == 0) {
      uint32_t x = t[1];
      t[1] = t[2];
      t[2] = x;
    }
  }
  m.face_count = kept;
  uint8_t *stl;
  size_t size;
  if (orf_export(&m, ORF_FMT_STL, &stl, &size)) return 1;
  printf("soup: %zu triangles (torus, 1%% removed, a third flipped), binary STL of %.1f MB\n", m.face_count,
         size / 1e6);
  orf_repair_params p;
  orf_repair_params_init(&p);
  p.quality = 7;
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.limits.max_file_bytes = 64u << 20;
  orf_repair_result res;
  int rc = orf_repair(stl, size, "stl", &p, &o, NULL, NULL, &res);
  if (rc) {
    printf("repair failed: %s: %s\n", orf_strerror(rc), res.info.message);
    return 1;
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  size_t est = orf_estimate_repair_bytes(&p, stl, size);
  printf("repair q7 (%d threads): total %.0f ms, winding number %.0f ms (%zu tree evaluations on a %d grid), "
         "%zu faces out, watertight %d, remeshed %d, hausdorff %.3f mm\n",
         o.threads, res.info.total_ms, res.info.winding_ms, res.info.winding_evals, res.info.grid,
         res.report.faces, res.report.watertight && res.report.manifold, res.info.remeshed,
         res.info.hausdorff_mm);
  printf("memory: engine peak %.1f MB, estimate %.1f MB (%s), process max RSS %.1f MB\n", o.peak_bytes / 1e6,
         est / 1e6, o.peak_bytes <= est ? "under" : "OVER", ru.ru_maxrss / 1e3);
  orf_repair_result_free(&res);
  orf_buffer_free(stl);
  orf_mesh_free(&m);

  /* fast against direct on a small case */
  orf_mesh s;
  if (mg_icosphere(&s, 4, 1)) return 1; /* 5120 faces */
  orf_wn_tree *t = orf_wn_build(&s);
  int n = 20000;
  double *q = malloc(3 * sizeof(double) * (size_t)n);
  for (int i = 0; i < 3 * n; i++)
    q[i] = (double)(lcg(&seed) % 30001) / 10000 - 1.5;
  double sum_fast = 0, sum_direct = 0, worst = 0;
  double t0 = now_ms();
  for (int i = 0; i < n; i++)
    sum_fast += orf_wn_eval(t, q + 3 * i, 3.0);
  double t1 = now_ms();
  for (int i = 0; i < n; i++) {
    double d = orf_wn_direct(&s, q + 3 * i);
    sum_direct += d;
    double e = fabs(d - orf_wn_eval(t, q + 3 * i, 3.0));
    if (e > worst) worst = e;
  }
  double t2 = now_ms() - (t1 - t0); /* the direct sums alone (the fast ones are counted above) */
  printf("winding number, %zu faces, %d points: fast %.3f us/point, direct %.3f us/point, speedup %.1fx, "
         "largest difference %.1e (sums %.3f, %.3f)\n",
         s.face_count, n, (t1 - t0) * 1e3 / n, (t2 - t1) * 1e3 / n, (t2 - t1) / (t1 - t0), worst, sum_fast,
         sum_direct);
  orf_wn_free(t);
  free(q);
  orf_mesh_free(&s);
  return 0;
}
