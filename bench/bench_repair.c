/*
 * bench_repair.c - orf_repair() on a 1,000,000-triangle soup at quality 7
 * (issue 15): total time, the winding-number step alone, the engine's
 * measured peak against orf_estimate_repair_bytes and the process's
 * maximum resident set (assimp included); then the fast winding number
 * (Barill et al. 2018, the tree with far-field expansions) against the
 * direct O(n m) sum of solid angles on a small case, with their speedup,
 * for the far-field expansion to first and to second order and several
 * betas (error against the direct sum and time a point, in the same run);
 * and the grid step alone for each expansion: its time on a 100,000-
 * triangle torus, its error against the direct sum on a 10,000-triangle
 * one.
 *
 * The soup: a torus of 1000 x 500 quads (1,000,000 triangles) written as
 * binary STL (so unwelded, as STL always is), with a third of its faces
 * flipped and 1% removed (holes).
 *   bench_repair [--quick | --winding]   (--quick: a 100,000-triangle soup and
 *   no 100,000-triangle grid; --winding: the winding-number parts only)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "alloc.h"
#include "mesh.h"
#include "meshgen.h"
#include "orfeas.h"
#include "parallel.h"
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
  int quick = argc > 1 && !strcmp(argv[1], "--quick"), winding_only = argc > 1 && !strcmp(argv[1], "--winding");
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
  orf_job_opts o;
  orf_job_opts_init(&o);
  if (o.threads <= 0) o.threads = orf_cpu_count();
  if (!winding_only) {
    uint8_t *stl;
    size_t size;
    if (orf_export(&m, ORF_FMT_STL, &stl, &size)) return 1;
    printf("soup: %zu triangles (torus, 1%% removed, a third flipped), binary STL of %.1f MB\n", m.face_count,
           size / 1e6);
    orf_repair_params p;
    orf_repair_params_init(&p);
    p.quality = 7;
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
    size_t import = res.info.importer_bytes + 15 * res.info.input_vertices + 12 * res.info.input_triangles;
    size_t peak = o.peak_bytes > import ? o.peak_bytes : import;
    printf("memory: engine peak %.1f MB, import (its child's %.1f MB and the mesh it sent) %.1f MB, estimate "
           "%.1f MB (%s, %.2f times the larger), process max RSS %.1f MB\n",
           o.peak_bytes / 1e6, res.info.importer_bytes / 1e6, import / 1e6, est / 1e6,
           peak <= est ? "under" : "OVER", (double)est / peak, ru.ru_maxrss / 1e3);
    orf_repair_result_free(&res);
    orf_buffer_free(stl);
    /* the import alone, in each format the engine writes: the child's
     * peak against the file's size */
    orf_mesh colored;
    if (orf_mesh_copy(&colored, &m)) return 1;
    colored.colors = orf_malloc(3 * colored.vertex_count);
    if (!colored.colors) return 1;
    memset(colored.colors, 128, 3 * colored.vertex_count);
    static const orf_format kFormats[] = {ORF_FMT_STL, ORF_FMT_OBJ, ORF_FMT_PLY, ORF_FMT_GLB, ORF_FMT_3MF};
    for (size_t f = 0; f < sizeof kFormats / sizeof kFormats[0]; f++) {
      uint8_t *bytes;
      size_t nb;
      if (orf_export(&colored, kFormats[f], &bytes, &nb)) return 1;
      orf_mesh in;
      orf_repair_info info = {0};
      double ti = now_ms();
      rc = orf_mesh_import(bytes, nb, orf_format_ext(kFormats[f]), &p, &o.limits, &in, NULL, &info);
      double ms = now_ms() - ti;
      if (rc) {
        printf("import %s failed: %s\n", orf_format_ext(kFormats[f]), info.message);
      } else {
        uint64_t unpacked = orf_zip_unpacked_bytes(bytes, nb);
        printf("import %s: %.1f MB file%s, %.0f ms, importer child %.1f MB (%.1f %s byte), mesh %.1f MB, "
               "estimate at q7 %.1f MB\n",
               orf_format_ext(kFormats[f]), nb / 1e6, unpacked ? " (unpacked: see the ratio)" : "", ms,
               info.importer_bytes / 1e6, (double)info.importer_bytes / (unpacked ? unpacked : nb),
               unpacked ? "an unpacked" : "a file", (15.0 * in.vertex_count + 12.0 * in.face_count) / 1e6,
               orf_estimate_repair_bytes(&p, bytes, nb) / 1e6);
        orf_mesh_free(&in);
      }
      orf_buffer_free(bytes);
    }
    orf_mesh_free(&colored);
  }
  orf_mesh_free(&m);

  /* fast against direct on a small case, for each expansion order and
   * beta: the error against the direct sum and the time a point */
  orf_mesh s;
  if (mg_icosphere(&s, 4, 1)) return 1; /* 5120 faces */
  orf_wn_tree *t = orf_wn_build(&s);
  int n = quick ? 5000 : 20000;
  double *q = malloc(3 * sizeof(double) * (size_t)n), *direct = malloc(sizeof(double) * (size_t)n);
  for (int i = 0; i < 3 * n; i++)
    q[i] = (double)(lcg(&seed) % 30001) / 10000 - 1.5;
  double t0 = now_ms();
  for (int i = 0; i < n; i++)
    direct[i] = orf_wn_direct(&s, q + 3 * i);
  double direct_us = (now_ms() - t0) * 1e3 / n;
  printf("winding number, %zu faces, %d points in [-1.5, 1.5]^3: direct sum %.2f us/point\n", s.face_count, n,
         direct_us);
  static const struct {
    int order;
    double beta;
  } kCases[] = {{1, 3.0}, {1, 2.0}, {2, 3.0}, {2, 2.5}, {2, 2.0}, {2, 1.5}};
  for (size_t c = 0; c < sizeof kCases / sizeof kCases[0]; c++) {
    double worst = 0, mean = 0, best_ms = INFINITY;
    for (int rep = 0; rep < 3; rep++) { /* the fastest of three: the machine is shared */
      double sum = 0;
      t0 = now_ms();
      for (int i = 0; i < n; i++)
        sum += orf_wn_eval_order(t, q + 3 * i, kCases[c].beta, kCases[c].order);
      double ms = now_ms() - t0;
      if (ms < best_ms) best_ms = ms;
      (void)sum;
    }
    for (int i = 0; i < n; i++) {
      double e = fabs(orf_wn_eval_order(t, q + 3 * i, kCases[c].beta, kCases[c].order) - direct[i]);
      mean += e / n;
      if (e > worst) worst = e;
    }
    printf("  order %d, beta %.1f: %.2f us/point (speedup %.0fx), mean |fast - direct| %.1e, largest %.1e\n",
           kCases[c].order, kCases[c].beta, best_ms * 1e3 / n, direct_us / (best_ms * 1e3 / n), mean, worst);
  }
  orf_wn_free(t);
  free(q);
  free(direct);
  orf_mesh_free(&s);

  /* the grid step of a repair at quality 7 (grid 256) on a torus with
   * holes in the unit frame, for each expansion: its time on a 100,000-
   * triangle torus, and its error against the direct sum at 3,000 random
   * grid points of a 10,000-triangle one (winding numbers farther than the
   * distance ramp from the surface; the side of 1/2 for every point) */
  static const struct {
    int order;
    double beta;
  } kGrid[] = {{1, 3.0}, {2, 3.0}, {2, 2.0}, {2, 1.5}};
  for (int big = 1; big >= 0; big--) {
    if (quick && big) continue;
    orf_mesh g;
    if (mg_torus(&g, 30, 12, big ? 316 : 100, big ? 158 : 50)) return 1;
    kept = 0;
    for (size_t f = 0; f < g.face_count; f++)
      if (lcg(&seed) % 100) memmove(g.indices + 3 * kept++, g.indices + 3 * f, 12);
    g.face_count = kept;
    float k = 1.0f / 84, sc[3] = {k, k, k}, off[3] = {0, 0, 0}, lo[3], hi[3];
    orf_mesh_transform(&g, sc, off);
    orf_mesh_bounds(&g, lo, hi);
    t = orf_wn_build(&g);
    for (size_t c = 0; c < sizeof kGrid / sizeof kGrid[0]; c++) {
      orf_wn_set_expansion(t, kGrid[c].order, kGrid[c].beta);
      orf_wn_grid gr;
      t0 = now_ms();
      if (orf_wn_grid_eval(t, lo, hi, 1.0 / 256, o.threads, NULL, &gr)) return 1;
      double ms = now_ms() - t0;
      printf("grid 256, %zu-triangle torus with holes, order %d, beta %.1f: %.0f ms (%zu tree evaluations)",
             g.face_count, kGrid[c].order, kGrid[c].beta, ms, gr.exact_evals);
      if (!big) {
        uint32_t s2 = 99;
        int far = 0, side = 0, samples = 3000;
        double mean = 0, worst = 0;
        for (int i = 0; i < samples; i++) {
          int x = (int)(lcg(&s2) % (uint32_t)gr.nx), y = (int)(lcg(&s2) % (uint32_t)gr.ny),
              z = (int)(lcg(&s2) % (uint32_t)gr.nz);
          double pq[3] = {gr.origin[0] + gr.spacing * x, gr.origin[1] + gr.spacing * y,
                          gr.origin[2] + gr.spacing * z};
          double exact = orf_wn_direct(&g, pq), got = orf_wn_grid_at(&gr, x, y, z);
          side += (exact > 0.5) != (got > 0.5);
          if (orf_wn_distance(t, pq) > 2.5 * gr.spacing) {
            far++;
            mean += fabs(got - exact);
            if (fabs(got - exact) > worst) worst = fabs(got - exact);
          }
        }
        printf(": against the direct sum at %d points, %d on the wrong side of 1/2; away from the surface "
               "(%d) mean error %.1e, largest %.1e",
               samples, side, far, mean / (far ? far : 1), worst);
      }
      printf("\n");
      orf_wn_grid_free(&gr);
    }
    orf_wn_free(t);
    orf_mesh_free(&g);
  }
  return 0;
}
