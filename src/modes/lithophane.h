/*
 * lithophane.h - the `lithophane` mode: a plate whose thickness follows the
 * image's darkness between min_mm and max_mm, framed by border_mm at full
 * thickness, flat or wrapped into a closed ring around the Z axis (the
 * picture on the outside, a smooth inner wall a lamp can sit in).
 *
 * The luminance-to-thickness map is transmittance-aware: light through a
 * plate falls off as T(t) = exp(-k t) (Beer-Lambert), so the plate is made
 * to let through light in proportion to the picture's relative luminance
 * Y (linear light, imagefield.h):
 *     T(t) = T(max) + Y (T(min) - T(max)),   t = -ln(T) / k,
 * which gives t = max_mm for black, t = min_mm for white, and a backlit
 * brightness that is linear in the picture's luminance rather than in its
 * thickness.  k = ln 2 per mm (half the light through each millimetre),
 * the default of Cura's image importer ("translucency" colour model,
 * transmittance of 1 mm = 50%) for white PLA.  `invert` uses 1 - Y.
 */
#ifndef ORF_LITHOPHANE_H
#define ORF_LITHOPHANE_H

#include "modes.h"

/* Light through one millimetre of plate: k in T(t) = exp(-k t), per mm. */
#define ORF_LITHO_K 0.69314718055994531

/* The thickness (mm) for relative luminance y in [0, 1] (see above). */
double orf_litho_thickness(double y, double min_mm, double max_mm);

/* See orf_modes_prepare / orf_modes_mesh. */
int orf_lithophane_prepare(const orf_image *img, int threads, orf_modefield *f);
int orf_lithophane_mesh(const orf_modefield *f, int grid, orf_mesh *out);

#endif
