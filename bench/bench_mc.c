/*
 * bench_mc.c - speed of orf_mc_extract (src/surface/mc.c) on the field of
 * bench/mc_peers.py, against VTK's Flying Edges (Schroeder et al., LDAV
 * 2015) and scikit-image's marching cubes.
 *
 * The field: on an N^3 grid of points (N = 256 unless given), value =
 * distance to the centre ((N-1)/2, ...) minus r = 0.4 N, iso 0.  It is
 * computed once into a full float grid (not timed); the slice callback
 * copies slices out of it (memcpy), so ORFEAS reads the same stored field as
 * the peers and pays for that copy inside the timing.  Best of RUNS runs.
 *
 *   build/bench/bench_mc [N] [--threads T] [--runs R] [--peers]
 *
 * Prints key=value lines: mc_orfeas_mcells_s (Mcells/s = (N-1)^3 / s / 1e6,
 * with T threads, default every core), mc_orfeas_1t_mcells_s (one thread),
 * triangles and vertices.  With --peers it runs bench/mc_peers.py with the
 * same N and T, passes its lines through and prints the ratios
 * mc_ratio_orfeas_vtk and mc_ratio_orfeas_skimage (> 1: ORFEAS is faster).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mc.h"
#include "orfeas.h"
#include "parallel.h"

typedef struct field {
  int n;
  float *val;
} field;

static void copy_slice(void *ctx, int k, float *out) {
  const field *f = ctx;
  size_t sz = (size_t)f->n * f->n;
  memcpy(out, f->val + sz * k, sz * sizeof(float));
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Best time of `runs` extractions; fills the counts of the last mesh. */
static double best_time(const orf_volume *v, int threads, int runs, size_t *tris, size_t *verts) {
  double best = INFINITY;
  for (int r = 0; r < runs; r++) {
    orf_mesh m;
    double t0 = now_s();
    int rc = orf_mc_extract(v, 0.0f, threads, NULL, &m);
    double t = now_s() - t0;
    if (rc) {
      fprintf(stderr, "bench_mc: orf_mc_extract: %s\n", orf_strerror(rc));
      exit(1);
    }
    if (t < best) best = t;
    *tris = m.face_count;
    *verts = m.vertex_count;
    orf_mesh_free(&m);
  }
  return best;
}

/* The peers script: next to the working directory's bench/, or found from
 * this program's path (BUILD/bench/bench_mc -> bench/mc_peers.py). */
static void peers_script(const char *argv0, char *path, size_t size) {
  snprintf(path, size, "bench/mc_peers.py");
  if (access(path, R_OK) == 0) return;
  const char *slash = strrchr(argv0, '/');
  int dir = slash ? (int)(slash - argv0) : 0;
  snprintf(path, size, "%.*s/../../bench/mc_peers.py", dir, argv0);
}

static double find_value(const char *out, const char *key) {
  const char *p = strstr(out, key);
  return p ? atof(p + strlen(key)) : 0;
}

int main(int argc, char **argv) {
  int n = 256, threads = orf_cpu_count(), runs = 10, peers = 0;
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "--peers"))
      peers = 1;
    else if (!strcmp(argv[a], "--threads") && a + 1 < argc)
      threads = atoi(argv[++a]);
    else if (!strcmp(argv[a], "--runs") && a + 1 < argc)
      runs = atoi(argv[++a]);
    else if (atoi(argv[a]) >= 2)
      n = atoi(argv[a]);
    else {
      fprintf(stderr, "usage: %s [N] [--threads T] [--runs R] [--peers]\n", argv[0]);
      return 2;
    }
  }
  if (runs < 1) runs = 1;
  field f = {n, malloc((size_t)n * n * n * sizeof(float))};
  if (!f.val) return 1;
  double c = (n - 1) / 2.0, r = 0.4 * n;
  for (int k = 0; k < n; k++)
    for (int j = 0; j < n; j++)
      for (int i = 0; i < n; i++)
        f.val[((size_t)k * n + j) * n + i] =
            (float)(sqrt((i - c) * (i - c) + (j - c) * (j - c) + (k - c) * (k - c)) - r);
  orf_volume v = {.nx = n, .ny = n, .nz = n, .spacing = {1, 1, 1}, .eval = copy_slice, .ctx = &f};
  double cells = pow(n - 1, 3) / 1e6;
  size_t tris, verts;
  double t1 = best_time(&v, 1, runs, &tris, &verts);
  double t = best_time(&v, threads, runs, &tris, &verts);
  printf("mc_grid=%d\nmc_threads=%d\n", n, threads);
  printf("mc_orfeas_ms=%.2f\n", t * 1e3);
  printf("mc_orfeas_mcells_s=%.1f\n", cells / t);
  printf("mc_orfeas_1t_mcells_s=%.1f\n", cells / t1);
  printf("mc_orfeas_triangles=%zu\nmc_orfeas_vertices=%zu\n", tris, verts);
  fflush(stdout);
  free(f.val);
  if (!peers) return 0;

  char script[4096], cmd[4200], out[8192] = "";
  peers_script(argv[0], script, sizeof script);
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' %d %d 10", script, n, threads);
  FILE *p = popen(cmd, "r");
  if (!p) {
    perror("bench_mc: popen");
    return 1;
  }
  size_t len = fread(out, 1, sizeof out - 1, p);
  out[len] = 0;
  int rc = pclose(p);
  fputs(out, stdout);
  if (rc != 0) {
    fprintf(stderr, "bench_mc: %s failed\n", script);
    return 1;
  }
  double vtk = find_value(out, "mc_vtk_flying_edges_mcells_s=");
  double vtk1 = find_value(out, "mc_vtk_flying_edges_1t_mcells_s=");
  double sk = find_value(out, "mc_skimage_mcells_s=");
  if (vtk > 0) printf("mc_ratio_orfeas_vtk=%.2f\n", cells / t / vtk);
  if (vtk1 > 0) printf("mc_ratio_orfeas_vtk_1t=%.2f\n", cells / t1 / vtk1);
  if (sk > 0) printf("mc_ratio_orfeas_skimage=%.2f\n", cells / t / sk);
  return 0;
}
