/*
 * cuda_job.c - the engine's side of the CUDA path (gpu.h), in C: it builds
 * the grid and axis tables of an inflate stage (inflate.h), hands them to
 * the CUDA driver through cuda_api.h's plain structures, and returns the
 * mesh in engine memory.  Compiled instead of cuda_none.c when the Makefile
 * finds nvcc.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "cuda_api.h"
#include "gpu.h"
#include "parallel.h"

_Static_assert((int)ORF_CUDA_ENOMEM == (int)ORF_ENOMEM && (int)ORF_CUDA_ECANCELED == (int)ORF_ECANCELED &&
                   (int)ORF_CUDA_EINTERNAL == (int)ORF_EINTERNAL,
               "cuda_api.h's codes are orfeas.h's");
_Static_assert((int)ORF_FG_FP32 == (int)ORF_PRECISION_FP32 && (int)ORF_FG_FP16 == (int)ORF_PRECISION_FP16 &&
                   (int)ORF_FG_INT8 == (int)ORF_PRECISION_INT8,
               "fieldgrid.h's precisions are orfeas.h's");

_Static_assert((int)ORF_CUDA_ENODEVICE == (int)ORF_ENODEVICE, "no device");

int orf_gpu_usable(void) {
  size_t a, b, c, d;
  return orf_cuda_probe(NULL, 0, &a, &b, &c, &d);
}

static int job_cancelled(void *ctx) { return orf_cancelled((atomic_int *)ctx); }

static void release(void *p) { orf_free(p); }

int orf_gpu_inflate_mesh(const orf_inflate *f, int grid, orf_precision prec, atomic_int *cancel,
                         orf_mesh *out, orf_gpu_stats *st) {
  memset(out, 0, sizeof *out);
  memset(st, 0, sizeof *st);
  orf_inflate_axes ax;
  orf_cuda_job job;
  memset(&job, 0, sizeof job);
  int rc = orf_fieldgrid_setup(f, grid, prec, &ax, &job.src, &job.grid);
  if (rc) return rc;
  job.rows = f->h;
  job.cancelled = job_cancelled;
  job.ctx = cancel;
  job.alloc = orf_malloc;
  job.release = release;
  rc = orf_cuda_run(&job);
  orf_inflate_axes_free(&ax);
  *st = (orf_gpu_stats){job.device_peak, job.ms_eval, job.ms_count, job.ms_emit, job.ms_copy};
  if (rc == ORF_EINTERNAL) fprintf(stderr, "orfeas: CUDA error: %s\n", job.error);
  if (rc) return rc;
  out->positions = job.positions;
  out->indices = job.indices;
  out->vertex_count = job.vertex_count;
  out->face_count = job.face_count;
  return ORF_OK;
}

void orf_gpu_query(orf_gpu_info *out) {
  memset(out, 0, sizeof *out);
  out->compiled = 1;
  out->index = -1;
  if (orf_cuda_probe(out->name, sizeof out->name, &out->total_bytes, &out->free_bytes, &out->pool_used_bytes,
                     &out->pool_reserved_bytes)) {
    out->available = 1;
    out->index = 0;
  }
}

void orf_gpu_trim(void) { orf_cuda_trim(); }

void orf_gpu_set_test_cap(size_t bytes) { orf_cuda_set_cap(bytes); }
