/*
 * estimate.c - an upper bound of a job's peak memory, from its parameters
 * and the image header alone, for admission control: the server reserves
 * this many bytes before the job starts.
 *
 * The bound follows the pipeline's allocations (pipeline.c): the decoded
 * image, the working image, the fields of the canvas (inflate.c,
 * poisson.c, the EDT and the mask), and the meshes of the final stage with
 * the smoothing, simplification and checking around them.  Mesh sizes are
 * bounded through the surface a silhouette can have at grid N:
 * MC_FACES_PER_CELL2 * N^2 faces, three times what a disc gives and above
 * what the test images with long, ragged outlines give.  Tests compare the
 * bound with the measured peak of real jobs (tests/test_pipeline.c).
 */
#include <stdint.h>

#include "orfeas.h"

#define MC_FACES_PER_CELL2 12  /* marching-cubes faces per N^2 (see above) */
#define BYTES_PER_FACE 220     /* mesh + smoothing + simplifier + checker, at the final stage */
#define CANVAS_BYTES_PER_PX 48 /* fields, EDT, Poisson pyramid and mask scratch per canvas pixel */
#define DECODER_OVERHEAD (8u << 20)

static uint64_t scaled_px(uint32_t w, uint32_t h, uint32_t side) {
  uint32_t longest = w > h ? w : h;
  if (longest <= side) return (uint64_t)w * h;
  double k = (double)side / longest;
  return (uint64_t)((w * k + 1) * (h * k + 1));
}

size_t orf_estimate_peak_bytes(const orf_params *p, uint32_t width, uint32_t height, size_t file_bytes) {
  uint64_t src = (uint64_t)width * height;
  int grid = orf_quality_resolution(p->quality);
  uint32_t work_side = (uint32_t)(2 * grid) < 256 ? 256 : (uint32_t)(2 * grid);
  uint64_t work = scaled_px(width, height, work_side);
  /* canvas: the work image with a margin of 3/32 of its side and 4 px each way */
  uint32_t longest = width > height ? width : height;
  double side = longest < work_side ? longest : work_side;
  double margin = 2 * (3.0 * side / 32.0 + 5);
  double sx = (double)width * side / longest, sy = (double)height * side / longest;
  uint64_t canvas = (uint64_t)((sx + margin) * (sy + margin));
  /* Decoding: full RGBA, a second buffer for EXIF rotation, and libjpeg's
   * whole-image coefficient buffers of a progressive JPEG (about 3 bytes a
   * pixel at 4:4:4). */
  uint64_t decode = src * 4 * 2 + src * 3 + DECODER_OVERHEAD;
  uint64_t fields = canvas * CANVAS_BYTES_PER_PX + work * 4;
  uint64_t faces = (uint64_t)MC_FACES_PER_CELL2 * (uint64_t)grid * (uint64_t)grid;
  uint64_t meshes = faces * BYTES_PER_FACE;
  uint64_t total = file_bytes + decode + fields + meshes;
  return total > SIZE_MAX ? SIZE_MAX : (size_t)total;
}
