/*
 * cuda_none.c - the GPU entry points of a build without nvcc (the Makefile
 * compiles this file instead of cuda_engine.cu): no device is ever usable,
 * so ORF_DEVICE_AUTO runs on the CPU and ORF_DEVICE_CUDA is refused.
 */
#include <string.h>

#include "gpu.h"

int orf_gpu_usable(void) { return 0; }

int orf_gpu_inflate_mesh(const orf_inflate *f, int grid, orf_precision prec, atomic_int *cancel,
                         orf_mesh *out, orf_gpu_stats *st) {
  (void)f, (void)grid, (void)prec, (void)cancel;
  memset(out, 0, sizeof *out);
  memset(st, 0, sizeof *st);
  return ORF_ENODEVICE;
}

void orf_gpu_query(orf_gpu_info *out) {
  memset(out, 0, sizeof *out);
  out->index = -1;
}

void orf_gpu_trim(void) {}

void orf_gpu_set_test_cap(size_t bytes) { (void)bytes; }
