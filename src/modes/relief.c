/*
 * relief.c - the relief mode (see relief.h).
 */
#include "relief.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "extrude.h"
#include "heightfield.h"
#include "imagefield.h"
#include "prism.h"

int orf_relief_prepare(const orf_image *img, const uint8_t *mask, int threads, orf_modefield *f) {
  const orf_params *p = f->p;
  size_t n = (size_t)img->width * img->height;
  f->value = orf_malloc_array(n, sizeof(float));
  if (!f->value) return ORF_ENOMEM;
  orf_field_brightness(img, 0, threads, f->value);
  /* `smooth` is in pixels of the source image; this image may be smaller */
  double k = img->source_width ? (double)img->width / img->source_width : 1.0;
  int rc = orf_field_blur(f->value, img->width, img->height, p->smooth * k, threads);
  if (rc) return rc;
  if (p->invert)
    for (size_t i = 0; i < n; i++)
      f->value[i] = 1.0f - f->value[i];
  if (p->cutout) return orf_extrude_silhouette(img, mask, p->realistic, threads, f);
  uint32_t longest = img->width > img->height ? img->width : img->height;
  f->mm_per_px = p->size_mm / longest;
  f->ox = 0;
  f->oy = img->height;
  if (p->realistic) {
    if (!(f->rgb = orf_malloc_array(n, 3))) return ORF_ENOMEM;
    for (size_t i = 0; i < n; i++)
      memcpy(f->rgb + 3 * i, img->rgba + 4 * i, 3);
  }
  return ORF_OK;
}

static float height_at(const orf_modefield *f, double x, double y) {
  double u = f->ox + x / f->mm_per_px, v = f->oy - y / f->mm_per_px;
  float l = orf_field_sample(f->value, f->w, f->h, u, v);
  return (float)(f->p->base_mm + f->p->relief_mm * l);
}

/* The whole frame: a height-field plate. */
static int plate(const orf_modefield *f, int grid, orf_mesh *out) {
  uint32_t longest = f->w > f->h ? f->w : f->h;
  uint32_t cx = (uint32_t)lround((double)grid * f->w / longest),
           cy = (uint32_t)lround((double)grid * f->h / longest);
  cx = cx < 1 ? 1 : cx;
  cy = cy < 1 ? 1 : cy;
  double wmm = f->w * f->mm_per_px, hmm = f->h * f->mm_per_px;
  float *xs = orf_malloc_array(cx + 1, sizeof(float)), *ys = orf_malloc_array(cy + 1, sizeof(float));
  float *z = orf_malloc_array((size_t)(cx + 1) * (cy + 1), sizeof(float));
  int rc = ORF_ENOMEM;
  if (xs && ys && z) {
    for (uint32_t i = 0; i <= cx; i++)
      xs[i] = (float)(wmm * i / cx);
    for (uint32_t j = 0; j <= cy; j++)
      ys[j] = (float)(hmm * j / cy);
    for (uint32_t j = 0; j <= cy; j++)
      for (uint32_t i = 0; i <= cx; i++)
        z[(size_t)j * (cx + 1) + i] = height_at(f, xs[i], ys[j]);
    rc = orf_hf_plate(xs, cx + 1, ys, cy + 1, z, out);
  }
  orf_free(xs);
  orf_free(ys);
  orf_free(z);
  return rc;
}

/* The silhouette: marching cubes under the height field. */
static int cutout(const orf_modefield *f, int grid, int threads, atomic_int *cancel, orf_mesh *out) {
  orf_prism p = {0};
  int rc = orf_extrude_grid(f, grid, threads, &p);
  if (rc) return rc;
  float *top = orf_malloc_array((size_t)p.nx * p.ny, sizeof(float));
  if (!top) {
    orf_free(p.d);
    return ORF_ENOMEM;
  }
  for (int j = 0; j < p.ny; j++)
    for (int i = 0; i < p.nx; i++)
      top[(size_t)j * p.nx + i] = height_at(f, p.x0 + i * (double)p.h, p.y0 + j * (double)p.h);
  p.top = top;
  orf_prism_levels(&p, (float)(f->p->base_mm + f->p->relief_mm), p.h, 0);
  rc = orf_prism_mesh(&p, threads, cancel, out);
  orf_free(top);
  orf_free(p.d);
  return rc;
}

int orf_relief_mesh(const orf_modefield *f, int grid, int threads, atomic_int *cancel, orf_mesh *out) {
  return f->p->cutout ? cutout(f, grid, threads, cancel, out) : plate(f, grid, out);
}
