/*
 * estimate.c - an upper bound of a job's peak memory, from its parameters
 * and the image header alone, for admission control: the server reserves
 * this many bytes before the job starts.
 *
 * The bound follows the pipeline's allocations (pipeline.c): the decoded
 * image, the working image, the fields of the canvas (inflate.c,
 * poisson.c, the EDT and the mask), and the meshes of the final stage with
 * the smoothing, simplification and checking around them; or, when it is
 * more, the texture made after them (src/texture/).  Mesh sizes are
 * bounded through the surface a silhouette can have at grid N:
 * MC_FACES_PER_CELL2 * N^2 faces, three times what a disc gives and above
 * what the test images with long, ragged outlines give.  Tests compare the
 * bound with the measured peak of real jobs (tests/test_pipeline.c, and
 * tests/test_modes.c for relief, lithophane and extrude, bounded below).
 */
#include <math.h>
#include <stdint.h>

#include "orfeas.h"
#include "texture.h"

#define MC_FACES_PER_CELL2 12  /* marching-cubes faces per N^2 (see above) */
#define BYTES_PER_FACE 220     /* mesh + smoothing + simplifier + checker, at the final stage */
#define CANVAS_BYTES_PER_PX 48 /* fields, EDT, Poisson pyramid and mask scratch per canvas pixel */
#define DECODER_OVERHEAD (8u << 20)

/* The other modes (src/modes/): their fields and the faces of their meshes
 * before simplification at grid N (cells along the longest side, plus
 * the margin of a silhouette grid, which also covers the lines of a
 * lithophane's frame).
 *  - relief plate, lithophane: height-field grids (heightfield.h): 2 faces
 *    a cell on top, a thinned bottom and the walls well under one more, a
 *    ring at least 24 columns around; fields: brightness or thickness, its
 *    blur, colours (IMAGE_FIELD_BYTES_PER_PX of the working image).
 *  - extrude, relief with cutout: marching cubes over the silhouette grid
 *    (prism.h): the caps take at most 4 faces per cell of the footprint
 *    (a relief's top more, where its slopes cross Z levels: 8 in all), the
 *    walls 2 per cell of the outline per Z level, the outline bounded by
 *    OUTLINE_CELLS N (a disc's is pi N, a ragged one longer); fields: the
 *    silhouette's canvas, bounded as inflate's.
 * Memory per face as inflate's (BYTES_PER_FACE).  tests/test_modes.c
 * checks the bound against measured peaks of every mode. */
#define PLATE_FACES_PER_CELL2 3
#define EXTRUDE_FACES_PER_CELL2 4
#define CUTOUT_FACES_PER_CELL2 8
#define OUTLINE_CELLS 16
#define IMAGE_FIELD_BYTES_PER_PX 16

static void mode_bound(const orf_params *p, int grid, double side, uint64_t work, uint64_t canvas,
                       uint64_t *fields, uint64_t *faces) {
  /* a silhouette grid's margin: 2 cells and 3 pixels each side (extrude.c) */
  uint64_t n = (uint64_t)grid + 2 * (3 + (uint64_t)ceil(3.0 * grid / (side > 1 ? side : 1))) + 2;
  double zmax = p->mode == ORF_MODE_EXTRUDE ? p->depth_mm : p->base_mm + p->relief_mm;
  uint64_t levels = (uint64_t)(zmax / p->size_mm * grid) + 4;
  uint64_t walls = 2 * OUTLINE_CELLS * n * levels;
  switch (p->mode) {
  case ORF_MODE_RELIEF:
    *fields = work * IMAGE_FIELD_BYTES_PER_PX + (p->cutout ? canvas * CANVAS_BYTES_PER_PX : 0);
    *faces = p->cutout ? CUTOUT_FACES_PER_CELL2 * n * n + walls : PLATE_FACES_PER_CELL2 * n * n;
    break;
  case ORF_MODE_LITHOPHANE:
    *fields = work * IMAGE_FIELD_BYTES_PER_PX;
    *faces = PLATE_FACES_PER_CELL2 * n * (n + 24);
    break;
  default: *fields = canvas * CANVAS_BYTES_PER_PX; *faces = EXTRUDE_FACES_PER_CELL2 * n * n + walls;
  }
}

/* The segmentation network (src/segment/) runs in OpenCV, outside the
 * engine's allocator, so its share is a measured bound rather than a
 * count: SEG_NET_BYTES for the network's layer buffers (u2netp at 320x320
 * grows the process by 163 MB on its first run, measured as RSS on this
 * machine; its preview network, built for each new image and freed after
 * its run (net.cpp), by 108 MB while it runs: before the full network's
 * first run that is within the 163, after it on top of the full
 * network's kept buffers, which the job did not allocate;
 * tests/test_segment.c checks a job's whole RSS peak against the
 * estimate), and SEG_BYTES_PER_PX per pixel of the working image for the
 * guided filter with a colour guide (about 30 float planes) and the
 * masks around it.  Counted for every job whose subject may come from the
 * network (background auto or subject, a mode that uses the mask), since
 * the image header cannot say whether alpha or the colour model will do. */
#define SEG_NET_BYTES ((uint64_t)200 << 20)
#define SEG_BYTES_PER_PX 160

/* The texture's share (see orf_estimate_peak_bytes): bytes per texel, and
 * per face of the final mesh (positions, colours, indices, normals). */
#define TEXTURE_BYTES_PER_TEXEL 24
#define TEXTURE_BYTES_PER_WORK_PX 8 /* the kept mask, its trusted pixels and their EDT */
#define FINAL_BYTES_PER_FACE 64

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
  if (p->mode != ORF_MODE_INFLATE) mode_bound(p, grid, side, work, canvas, &fields, &faces);
  uint64_t meshes = faces * BYTES_PER_FACE;
  uint64_t total = file_bytes + decode + fields + meshes;
  /* The texture (src/texture/, after the final stage, when the fields are
   * freed): the image decoded again (within `decode`), its crop with a
   * margin of two working pixels a side, TEXTURE_BYTES_PER_TEXEL per texel
   * (the scaled crop, the trusted texels, the EDT's distances and nearest
   * indices, the encoder's buffer) and the working mask's share, beside
   * the final mesh. */
  if (orf_texture_wanted(p)) {
    uint64_t side = ORF_TEXTURE_TEXELS_PER_Q * (uint64_t)(p->quality < 1 ? 1 : p->quality);
    if (side > ORF_TEXTURE_MAX_SIDE) side = ORF_TEXTURE_MAX_SIDE;
    double m = 2.0 * (2.0 * longest / work_side + 1);
    uint64_t crop_px = (uint64_t)((width + m) * (height + m));
    uint64_t texels = side * side < crop_px ? side * side : crop_px;
    uint64_t final_faces = p->max_faces ? (uint64_t)p->max_faces : (uint64_t)orf_quality_faces(p->quality);
    uint64_t tex = decode + 4 * crop_px + TEXTURE_BYTES_PER_TEXEL * texels +
                   TEXTURE_BYTES_PER_WORK_PX * work + final_faces * FINAL_BYTES_PER_FACE;
    if (file_bytes + tex > total) total = file_bytes + tex;
  }
  int masked =
      p->mode == ORF_MODE_INFLATE || p->mode == ORF_MODE_EXTRUDE || (p->mode == ORF_MODE_RELIEF && p->cutout);
  if (masked && (p->background == ORF_BG_AUTO || p->background == ORF_BG_SUBJECT))
    total += SEG_NET_BYTES + SEG_BYTES_PER_PX * work;
  return total > SIZE_MAX ? SIZE_MAX : (size_t)total;
}
