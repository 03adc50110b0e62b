/*
 * modes.h - the printing modes of docs/ENGINE.md other than inflate: relief,
 * lithophane and extrude (relief.h, lithophane.h, extrude.h), behind one
 * interface the pipeline (pipeline.c) drives stage by stage exactly as it
 * drives inflate:
 *
 *   image (+ subject mask) --prepare--> field --mesh(grid)--> mesh
 *         --simplify (pipeline)--> --colorize--> --place--> --check--> stage
 *
 * A field holds what one image gives (brightness, thickness, the
 * silhouette's distance, colours) and is sampled by every stage's grid.
 * Meshes are built in millimetres from the start ("model" coordinates:
 * X = image right, Y = image up, Z up, resting on z = 0), because the
 * modes' heights and thicknesses are millimetres that a uniform scale
 * would break; orf_modes_place then only corrects the footprint to
 * size_mm exactly (the sub-pixel outline of a silhouette is known only
 * after contouring) and centres it.
 */
#ifndef ORF_MODES_H
#define ORF_MODES_H

#include <stdatomic.h>
#include <stdint.h>

#include "image.h"
#include "orfeas.h"
#include "silhouette.h"

typedef struct orf_modefield {
  const orf_params *p; /* the job's parameters (borrowed) */
  uint32_t w, h;       /* pixels of the image the field was made from */
  float *value; /* w*h: relief height fraction in [0, 1] or lithophane thickness (mm); NULL for extrude */
  uint8_t *rgb; /* w*h*3 colours of a relief plate (realistic); NULL otherwise */
  orf_silhouette sil; /* extrude and relief with cutout; zeroed otherwise */
  double mm_per_px;   /* model millimetres per image pixel */
  double ox, oy;      /* model x = (u - ox) * mm_per_px, y = (oy - v) * mm_per_px for image point (u, v) */
  double r_in;        /* lithophane cylinder: inner radius, mm; 0 for the others */
} orf_modefield;

/* Non-zero when the mode of p follows the subject's silhouette (extrude,
 * relief with cutout): the caller then separates the subject and passes
 * its mask to orf_modes_prepare.  There is no fallback to the whole frame:
 * an image with no separable subject is ORF_ENOSUBJECT (see pipeline.c). */
int orf_modes_need_mask(const orf_params *p);

/* Builds the field of img for p's mode (relief, lithophane or extrude;
 * parameters already validated) into *out.  mask: img->width x
 * img->height bytes (non-zero = subject) when orf_modes_need_mask(p), else
 * NULL.  *out borrows p until orf_modes_free.  Returns ORF_OK,
 * ORF_ENOSUBJECT (an empty mask), ORF_ENOMEM, ORF_EINVAL (a mode that is
 * not one of these); on error *out is zeroed. */
int orf_modes_prepare(const orf_params *p, const orf_image *img, const uint8_t *mask, int threads,
                      orf_modefield *out);

/* Meshes the field at `grid` cells along the model's longest side into
 * *out (model millimetres, no colours): closed, 2-manifold, outward.
 * Returns ORF_OK, ORF_ENOMEM, ORF_ECANCELED, or ORF_ETOOTHIN when a
 * silhouette is too thin for the grid to hold any of it; on error *out is
 * empty. */
int orf_modes_mesh(const orf_modefield *f, int grid, int threads, atomic_int *cancel, orf_mesh *out);

/* Gives every vertex of m (model coordinates) the image colour above it,
 * for the modes that keep colours (relief, extrude); leaves a lithophane
 * plain.  ORF_OK or ORF_ENOMEM. */
int orf_modes_colorize(const orf_modefield *f, orf_mesh *m);

/* Brings m (model coordinates) to its final place: the footprint's longest
 * side (or the height, where that is longest) scaled to size_mm without
 * touching heights and thicknesses (a cylinder's radius is offset instead,
 * keeping its wall thickness), centred on the origin in X and Y, resting on
 * z = 0. */
void orf_modes_place(const orf_modefield *f, orf_mesh *m);

void orf_modes_free(orf_modefield *f);

#endif
