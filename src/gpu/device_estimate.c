/*
 * device_estimate.c - orf_estimate_device_bytes(): the GPU memory an inflate
 * job holds at once on the CUDA path, bounded from its parameters alone, for
 * admission control by GPU memory.  The grid bound follows
 * orf_inflate_axes_build() (inflate.c): the subject's longest side spans
 * `grid` cells, its depth at most thickness + DETAIL_GAIN * detail of that
 * side, and 5 cells of margin on each axis; the faces follow estimate.c's
 * bound of MC_FACES_PER_CELL2 * N^2; the canvas is the final stage's work
 * image (pipeline.c) with inflate's margin.  Stages run one after another
 * and free their memory, so the largest grid counts: the final stage's, or
 * refined_mesh's 128 below quality 5 (measured on an H100: quality 1 took
 * 4.6 MB for its 128-grid refined stage).
 */
#include <math.h>

#include "gpu.h"

#define MC_FACES_PER_CELL2 12 /* as estimate.c */
#define DETAIL_DEPTH 0.08     /* inflate.c's DETAIL_GAIN */
#define REFINED_GRID 128      /* pipeline.c's grid of refined_mesh */

size_t orf_estimate_device_bytes(const orf_params *p, orf_precision prec) {
  if (p->mode != ORF_MODE_INFLATE) return 0;
  int grid = orf_quality_resolution(p->quality);
  if (grid < REFINED_GRID) grid = REFINED_GRID;
  int nxz = grid + 6;
  int ny = (int)ceil(grid * (p->thickness + DETAIL_DEPTH * p->detail)) + 6;
  double work = 2.0 * grid < 256 ? 256 : 2.0 * grid;
  double canvas_side = work + 2 * (3.0 * work / 32.0 + 5);
  size_t canvas = (size_t)(canvas_side * canvas_side);
  size_t faces = (size_t)MC_FACES_PER_CELL2 * (size_t)grid * (size_t)grid;
  return orf_fieldgrid_device_bytes(nxz, ny, nxz, canvas, faces, prec);
}
