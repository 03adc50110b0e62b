/*
 * fieldgrid_ref.c - the stored-field marching cubes of fieldgrid.h run on
 * the host: the same inline functions the CUDA kernels run, driven in the
 * same order (evaluate every point, count every row, exclusive prefix sums,
 * emit every row), so its output is what the GPU must give byte for byte.
 * It is the reference of the tests and benchmarks, not the CPU path of a
 * job (that is mc.c, which streams two slices instead of storing N^3).
 * Also here: the device-memory bound of that computation, shared by the
 * CUDA driver (which checks it) and admission control.
 */
#include <string.h>

#include "alloc.h"
#include "fieldgrid.h"
#include "gpu.h"
#include "mc_tables.h"
#include "parallel.h"

#define MAX_POINTS ((size_t)1 << 32) /* a stored grid this large is refused */

typedef struct ref_job {
  const orf_fg_src *src;
  orf_fg_grid *g;
  void *data;
  uint64_t *seg, *tri;
  float *pos;
  uint32_t *idx;
} ref_job;

static void eval_worker(void *ctx, size_t begin, size_t end, int worker) {
  (void)worker;
  ref_job *J = ctx;
  for (size_t k = begin; k < end; k++)
    for (int i = 0; i < J->g->nx; i++)
      for (int j = 0; j < J->g->ny; j++)
        orf_fg_eval(J->src, J->g, i, j, (int)k, J->data);
}

static void count_worker(void *ctx, size_t begin, size_t end, int worker) {
  (void)worker;
  ref_job *J = ctx;
  for (size_t r = begin; r < end; r++)
    orf_fg_row_count(J->g, (int)(r % (size_t)J->g->ny), (int)(r / (size_t)J->g->ny), orf_mc_tri_count, J->seg,
                     J->tri);
}

static void emit_worker(void *ctx, size_t begin, size_t end, int worker) {
  (void)worker;
  ref_job *J = ctx;
  for (size_t r = begin; r < end; r++)
    orf_fg_row_emit(J->g, (int)(r % (size_t)J->g->ny), (int)(r / (size_t)J->g->ny), orf_mc_tri_count,
                    &orf_mc_tri_edges[0][0], ORF_MC_MAX_TRIS, J->seg, J->tri, J->pos, J->idx);
}

/* In place: a[i] becomes the sum of a[0..i-1]; returns the total. */
static uint64_t exclusive_sum(uint64_t *a, size_t n) {
  uint64_t run = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t v = a[i];
    a[i] = run;
    run += v;
  }
  return run;
}

int orf_fieldgrid_setup(const orf_inflate *f, int grid, orf_precision prec, orf_inflate_axes *ax,
                        orf_fg_src *src, orf_fg_grid *g) {
  orf_volume vol;
  int rc = orf_inflate_axes_build(f, grid, &vol, ax);
  if (rc) return rc;
  *src = (orf_fg_src){f->height, f->front, f->w, f->s2, ax->col, ax->colt, ax->row, ax->rowt, ax->y};
  *g = (orf_fg_grid){vol.nx, vol.ny, vol.nz, {0}, {0}, (int)prec, NULL};
  memcpy(g->origin, vol.origin, sizeof g->origin);
  memcpy(g->spacing, vol.spacing, sizeof g->spacing);
  return ORF_OK;
}

int orf_fieldgrid_mesh_host(const orf_inflate *f, int grid, orf_precision prec, int threads, orf_mesh *out) {
  memset(out, 0, sizeof *out);
  orf_inflate_axes ax;
  orf_fg_src src;
  orf_fg_grid g;
  int rc = orf_fieldgrid_setup(f, grid, prec, &ax, &src, &g);
  if (rc) return rc;
  size_t points = (size_t)g.nx * g.ny * g.nz, rows = (size_t)g.ny * g.nz;
  ref_job J = {&src, &g, NULL, NULL, NULL, NULL, NULL};
  rc = ORF_EINVAL;
  if (points >= MAX_POINTS) goto out;
  rc = ORF_ENOMEM;
  J.data = orf_malloc_array(points, orf_fg_value_size((int)prec));
  J.seg = orf_malloc_array(3 * rows, sizeof(uint64_t));
  J.tri = orf_malloc_array(rows, sizeof(uint64_t));
  if (!J.data || !J.seg || !J.tri) goto out;
  g.data = J.data;
  orf_parallel_for(threads, (size_t)g.nz, 1, eval_worker, &J);
  orf_parallel_for(threads, rows, 64, count_worker, &J);
  uint64_t nv = exclusive_sum(J.seg, 3 * rows), nt = exclusive_sum(J.tri, rows);
  if (nv > UINT32_MAX || nt > UINT32_MAX / 3) goto out;
  out->positions = orf_malloc_array(nv ? nv * 3 : 3, sizeof(float));
  out->indices = orf_malloc_array(nt ? nt * 3 : 3, sizeof(uint32_t));
  if (!out->positions || !out->indices) goto out;
  J.pos = out->positions;
  J.idx = out->indices;
  orf_parallel_for(threads, rows, 64, emit_worker, &J);
  out->vertex_count = nv;
  out->face_count = nt;
  rc = ORF_OK;
out:
  if (rc) orf_mesh_free(out);
  orf_free(J.data);
  orf_free(J.seg);
  orf_free(J.tri);
  orf_inflate_axes_free(&ax);
  return rc;
}

size_t orf_fieldgrid_device_bytes(int nx, int ny, int nz, size_t canvas_px, size_t max_faces,
                                  orf_precision prec) {
  size_t points = (size_t)nx * ny * nz, rows = (size_t)ny * nz;
  size_t field = points * orf_fg_value_size((int)prec);
  size_t inputs = 2 * canvas_px * sizeof(float) + (size_t)(2 * nx + 2 * nz + ny) * 4 + 4096;
  size_t counts = 4 * rows * sizeof(uint64_t);
  size_t scan_temp = 2 * counts + ((size_t)1 << 20); /* CUB's temporary storage, generously */
  /* a closed mesh has V = F/2 + 2 per component, and a component at
   * least 8 faces: V <= 3F/4 */
  size_t mesh = max_faces * 3 * sizeof(uint32_t) + (max_faces / 4 * 3 + 8) * 3 * sizeof(float);
  size_t slack = (size_t)1 << 20; /* the pool's rounding of each allocation */
  return field + inputs + counts + scan_temp + mesh + slack;
}
