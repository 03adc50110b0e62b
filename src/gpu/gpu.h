/*
 * gpu.h - the engine's stored-field path (fieldgrid.h), as the pipeline and
 * the tests call it: on the GPU (cuda_engine.cu, built only when nvcc is
 * found; cuda_none.c otherwise) and on the host (fieldgrid_ref.c, the
 * reference the GPU's output is compared with byte for byte).
 */
#ifndef ORF_GPU_H
#define ORF_GPU_H

#include <stdatomic.h>
#include <stddef.h>

#include "fieldgrid.h"
#include "inflate.h"
#include "orfeas.h"

/* Non-zero when this build has the CUDA path and a usable device. */
int orf_gpu_usable(void);

/* What one GPU extraction took: the most device memory it held at once,
 * and the device time of each step (CUDA events). */
typedef struct orf_gpu_stats {
  size_t device_peak;
  float ms_eval, ms_count, ms_emit, ms_copy;
} orf_gpu_stats;

/* orf_inflate_mesh() on the GPU: stores the field at `prec`, extracts the
 * mesh there and copies it into *out (engine memory; no colours).  With
 * ORF_PRECISION_FP32 the mesh is byte-identical to orf_inflate_mesh()'s.
 * *st (never NULL) is filled, on error too.  Returns
 * ORF_OK, ORF_ENOMEM (host or device memory: the job fails with 507),
 * ORF_ECANCELED, ORF_ENODEVICE (no usable device) or ORF_EINTERNAL (a
 * CUDA error other than out of memory, logged to stderr).  On error *out is
 * empty and no device memory stays held. */
int orf_gpu_inflate_mesh(const orf_inflate *f, int grid, orf_precision prec, atomic_int *cancel,
                         orf_mesh *out, orf_gpu_stats *st);

/* The stored grid of inflate's field sampled at `grid` cells, as both
 * drivers above use it: allocates *ax (orf_inflate_axes_build; free with
 * orf_inflate_axes_free) and fills *src (f's 2-D fields and *ax's tables)
 * and *g (dimensions, placement, prec; data NULL).  ORF_OK or ORF_ENOMEM. */
int orf_fieldgrid_setup(const orf_inflate *f, int grid, orf_precision prec, orf_inflate_axes *ax,
                        orf_fg_src *src, orf_fg_grid *g);

/* Test hook: device bytes all jobs together may hold before an allocation
 * fails as out of memory (0: no cap).  A no-op without CUDA. */
void orf_gpu_set_test_cap(size_t bytes);

/* The same computation on the host, single pass over a stored grid in host
 * memory, threaded over rows: the reference for the GPU's output (tests,
 * bench).  Returns ORF_OK, ORF_ENOMEM or ORF_EINVAL (grid too large). */
int orf_fieldgrid_mesh_host(const orf_inflate *f, int grid, orf_precision prec, int threads, orf_mesh *out);

/* The device memory orf_gpu_inflate_mesh() takes for a grid of nx*ny*nz
 * points, a canvas of canvas_px pixels and at most max_faces faces. */
size_t orf_fieldgrid_device_bytes(int nx, int ny, int nz, size_t canvas_px, size_t max_faces,
                                  orf_precision prec);

#endif
