/*
 * cuda_api.h - the boundary between the engine (C) and its CUDA driver
 * (cuda_engine.cu, C++): plain C types only, because orfeas.h uses C11
 * atomics that CUDA C++ cannot read.  cuda_job.c is the only caller; it
 * turns the engine's structures into these and back.
 *
 * Return values are ORF_OK or an ORF_E* code of orfeas.h, repeated here as
 * ORF_CUDA_E* (cuda_job.c checks at compile time that they agree).
 */
#ifndef ORF_CUDA_API_H
#define ORF_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

#include "fieldgrid.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
  ORF_CUDA_OK = 0,
  ORF_CUDA_ENOMEM = -1,
  ORF_CUDA_ENODEVICE = -11,
  ORF_CUDA_ECANCELED = -6,
  ORF_CUDA_EINTERNAL = -9,
};

/* One extraction: the host's 2-D fields and axis tables (src), the grid to
 * store (grid.data is ignored), and how to reach back into the engine. */
typedef struct orf_cuda_job {
  orf_fg_src src;              /* host pointers */
  uint32_t rows;               /* rows of src.height / src.front (canvas height) */
  orf_fg_grid grid;            /* dims, origin, spacing, precision */
  int (*cancelled)(void *ctx); /* non-zero: stop (checked between steps) */
  void *ctx;
  void *(*alloc)(size_t); /* host memory of the result (the engine's allocator) */
  void (*release)(void *);
  /* out */
  float *positions;  /* alloc'd, 3 per vertex */
  uint32_t *indices; /* alloc'd, 3 per face */
  size_t vertex_count, face_count;
  size_t device_peak;                        /* most bytes the job held at once on the device */
  float ms_eval, ms_count, ms_emit, ms_copy; /* device time of each step */
  char error[160];                           /* a CUDA error's text, when ORF_CUDA_EINTERNAL */
} orf_cuda_job;

/* Runs the job on device 0.  ORF_CUDA_OK, ORF_CUDA_ENOMEM (device or host
 * memory), ORF_CUDA_ECANCELED, ORF_CUDA_ENODEVICE (no usable device) or
 * ORF_CUDA_EINTERNAL (see error).  On error nothing stays allocated. */
int orf_cuda_run(orf_cuda_job *job);

/* Device 0 and its pool: 1 when usable (then the other outputs are set),
 * 0 when not.  name may be NULL. */
int orf_cuda_probe(char *name, size_t name_size, size_t *total, size_t *free_bytes, size_t *pool_used,
                   size_t *pool_reserved);

/* Trims the pool to what is in use.  No-op without a device. */
void orf_cuda_trim(void);

/* Test hook: a cap on the device bytes all jobs together may hold (0: no
 * cap).  Past it an allocation fails as out of memory would. */
void orf_cuda_set_cap(size_t bytes);

#ifdef __cplusplus
}
#endif
#endif
