/*
 * extrude.c - the extrude mode (see extrude.h), and the silhouette grid it
 * shares with relief's cutout.
 */
#include "extrude.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "parallel.h"
#include "prism.h"

/* Blur of the signed distance that smooths the mask's pixel staircase into
 * a sub-pixel outline, in pixels of the stage's image (see silhouette.h):
 * about a pixel, enough to join the steps, small enough to keep corners. */
#define OUTLINE_SIGMA 1.0

int orf_extrude_silhouette(const orf_image *img, const uint8_t *mask, int with_colors, int threads,
                           orf_modefield *f) {
  uint32_t longest = img->width > img->height ? img->width : img->height;
  /* the coarsest stage's grid (32 cells) reaches 3 cells past the subject */
  uint32_t pad = (uint32_t)ceil(3.0 * longest / 32.0) + 4;
  int rc = orf_silhouette_build(mask, img, pad, OUTLINE_SIGMA, with_colors, threads, &f->sil);
  if (rc) return rc;
  const orf_silhouette *s = &f->sil;
  uint32_t wpx = s->x1 + 1 - s->x0, hpx = s->y1 + 1 - s->y0;
  f->mm_per_px = f->p->size_mm / (double)(wpx > hpx ? wpx : hpx);
  f->ox = s->x0;
  f->oy = s->y1 + 1.0;
  return ORF_OK;
}

typedef struct grid_job {
  const orf_modefield *f;
  struct orf_prism *p;
} grid_job;

static void grid_rows(void *ctx, size_t j0, size_t j1, int worker) {
  (void)worker;
  const grid_job *g = ctx;
  const orf_modefield *f = g->f;
  const struct orf_prism *p = g->p;
  double k = 1.0 / f->mm_per_px;
  for (size_t j = j0; j < j1; j++) {
    double v = f->oy - (p->y0 + (double)j * p->h) * k;
    for (int i = 0; i < p->nx; i++) {
      double u = f->ox + (p->x0 + (double)i * p->h) * k;
      p->d[j * (size_t)p->nx + (size_t)i] = (float)(orf_silhouette_sdf(&f->sil, u, v) * f->mm_per_px);
    }
  }
}

int orf_extrude_grid(const orf_modefield *f, int grid, int threads, struct orf_prism *p) {
  const orf_silhouette *s = &f->sil;
  double wpx = s->x1 + 1.0 - s->x0, hpx = s->y1 + 1.0 - s->y0, side = wpx > hpx ? wpx : hpx;
  double cell_px = side / grid, h = cell_px * f->mm_per_px;
  /* two cells past the outline, and at least three pixels (the blur) */
  int pad = 2 + (int)ceil(3.0 / cell_px);
  int cx = (int)ceil(wpx / cell_px - 1e-6), cy = (int)ceil(hpx / cell_px - 1e-6);
  p->nx = cx + 2 * pad + 1;
  p->ny = cy + 2 * pad + 1;
  p->h = (float)h;
  p->x0 = (float)(-pad * h);
  p->y0 = (float)(-pad * h);
  p->d = orf_malloc_array((size_t)p->nx * (size_t)p->ny, sizeof(float));
  if (!p->d) return ORF_ENOMEM;
  grid_job g = {f, p};
  orf_parallel_for(threads, (size_t)p->ny, 8, grid_rows, &g);
  return ORF_OK;
}

int orf_extrude_prepare(const orf_image *img, const uint8_t *mask, int threads, orf_modefield *f) {
  return orf_extrude_silhouette(img, mask, f->p->realistic, threads, f);
}

int orf_extrude_mesh(const orf_modefield *f, int grid, int threads, atomic_int *cancel, orf_mesh *out) {
  orf_prism p = {0};
  int rc = orf_extrude_grid(f, grid, threads, &p);
  if (rc) return rc;
  p.depth = (float)f->p->depth_mm;
  p.bevel = (float)f->p->bevel_mm;
  orf_prism_levels(&p, p.depth, p.h, 1);
  rc = orf_prism_mesh(&p, threads, cancel, out);
  orf_free(p.d);
  return rc;
}
