/*
 * lithophane.c - the lithophane mode (see lithophane.h).
 *
 * Layout, in model millimetres: the picture keeps its aspect; the frame of
 * border_mm goes around it (on a cylinder: along the top and bottom and as
 * a band across the seam).  The grid has a line on each side of the frame
 * and the picture's samples in between; with a frame, the picture's outer
 * ring of samples is at full thickness too, so the frame's inner edge is a
 * step over one cell from max_mm down to the picture.
 *
 * Size: a flat plate's longest side (picture and frame) is size_mm.  A
 * cylinder's picture wraps once around the inner wall (circumference =
 * picture and frame width), its height is picture and frame height, and
 * the larger of height and outer diameter is size_mm (orf_modes_place
 * corrects the diameter exactly by an offset of the radius, which keeps
 * every thickness).
 */
#include "lithophane.h"

#include <math.h>

#include "alloc.h"
#include "heightfield.h"
#include "imagefield.h"

/* A cylinder has at least this many columns around, so that even a coarse
 * preview of a tall picture is round. */
#define MIN_RING_COLUMNS 24

double orf_litho_thickness(double y, double min_mm, double max_mm) {
  double tmin = exp(-ORF_LITHO_K * min_mm), tmax = exp(-ORF_LITHO_K * max_mm);
  y = y < 0 ? 0 : y > 1 ? 1 : y;
  double t = -log(tmax + y * (tmin - tmax)) / ORF_LITHO_K;
  return t < min_mm ? min_mm : t > max_mm ? max_mm : t;
}

int orf_lithophane_prepare(const orf_image *img, int threads, orf_modefield *f) {
  const orf_params *p = f->p;
  size_t n = (size_t)img->width * img->height;
  if (!(f->value = orf_malloc_array(n, sizeof(float)))) return ORF_ENOMEM;
  orf_field_brightness(img, 1, threads, f->value);
  /* thickness through a 4096-entry table of the map (smooth: the step in
   * luminance is far below what 8-bit input resolves) */
  float lut[4097];
  for (int i = 0; i <= 4096; i++)
    lut[i] = (float)orf_litho_thickness(p->invert ? 1 - i / 4096.0 : i / 4096.0, p->min_mm, p->max_mm);
  for (size_t i = 0; i < n; i++) {
    float x = f->value[i] * 4096.0f;
    int k = (int)x;
    k = k < 0 ? 0 : k > 4095 ? 4095 : k;
    f->value[i] = lut[k] + (x - (float)k) * (lut[k + 1] - lut[k]);
  }
  double b = p->border_mm, size = p->size_mm, w = img->width, h = img->height;
  double s;
  if (p->shape == ORF_SHAPE_FLAT) {
    s = (size - 2 * b) / (w > h ? w : h);
  } else {
    s = (size - 2 * b) / h; /* as tall as size_mm, if the diameter allows */
    double r_in = (w * s + 2 * b) / (2 * M_PI);
    if (2 * (r_in + p->max_mm) > size) s = (M_PI * (size - 2 * p->max_mm) - 2 * b) / w;
    f->r_in = (w * s + 2 * b) / (2 * M_PI);
  }
  f->mm_per_px = s;
  f->ox = -b / s;
  f->oy = h + b / s;
  return ORF_OK;
}

/* Grid lines along one side: the frame's outer edge, the picture's
 * `cells` + 1 samples (its first and last on the frame's inner edge), the
 * frame's other edge.  Returns the count. */
static uint32_t lines(float *out, double picture_mm, uint32_t cells, double b) {
  uint32_t n = 0;
  if (b > 0) out[n++] = 0;
  for (uint32_t i = 0; i <= cells; i++)
    out[n++] = (float)(b + picture_mm * i / cells);
  if (b > 0) out[n++] = (float)(picture_mm + 2 * b);
  return n;
}

int orf_lithophane_mesh(const orf_modefield *f, int grid, orf_mesh *out) {
  const orf_params *p = f->p;
  int ring = p->shape == ORF_SHAPE_CYLINDER;
  double b = p->border_mm, wp = f->w * f->mm_per_px, hp = f->h * f->mm_per_px;
  double pitch = (wp > hp ? wp : hp) + 2 * b;
  pitch /= grid;
  uint32_t cx = (uint32_t)lround(wp / pitch), cy = (uint32_t)lround(hp / pitch);
  cx = cx < 1 ? 1 : cx;
  cy = cy < 1 ? 1 : cy;
  if (ring && cx + (b > 0 ? 2 : 0) < MIN_RING_COLUMNS) cx = MIN_RING_COLUMNS - (b > 0 ? 2 : 0);
  float *xs = orf_malloc_array(cx + 3, sizeof(float)), *ys = orf_malloc_array(cy + 3, sizeof(float));
  float *t = orf_malloc_array((size_t)(cx + 3) * (cy + 3), sizeof(float));
  int rc = ORF_ENOMEM;
  if (!xs || !ys || !t) goto out;
  uint32_t nx = lines(xs, wp, cx, b), ny = lines(ys, hp, cy, b);
  uint32_t cols = ring ? nx - 1 : nx; /* a ring's last line is its first */
  float tmax = (float)p->max_mm;
  for (uint32_t j = 0; j < ny; j++) {
    for (uint32_t i = 0; i < cols; i++) {
      int frame = b > 0 && (i <= 1 || i >= nx - 2 || j <= 1 || j >= ny - 2);
      double u = f->ox + xs[i] / f->mm_per_px, v = f->oy - ys[j] / f->mm_per_px;
      t[(size_t)j * cols + i] = frame ? tmax : orf_field_sample(f->value, f->w, f->h, u, v);
    }
  }
  if (!ring) {
    rc = orf_hf_plate(xs, nx, ys, ny, t, out);
  } else {
    double around = xs[nx - 1];
    for (uint32_t i = 0; i < cols; i++)
      xs[i] = (float)(2 * M_PI * xs[i] / around);
    rc = orf_hf_ring(xs, cols, ys, ny, (float)f->r_in, t, out);
  }
out:
  orf_free(xs);
  orf_free(ys);
  orf_free(t);
  return rc;
}
