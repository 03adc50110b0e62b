/*
 * params.c - the engine's parameters: defaults, strict parsing, the
 * canonical text that request hashes are taken over, and the quality
 * tables of docs/ENGINE.md.
 *
 * One table (kParams) describes every parameter: its name, type, range,
 * the modes it applies to and where it lives in orf_params.  Parsing,
 * validation and the canonical form all read that table, so a parameter is
 * added in one place.  Values out of range are errors that name the
 * parameter; nothing is clamped or ignored.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orfeas.h"

enum { P_INT, P_NUM, P_BOOL, P_ENUM, P_POINTS };
enum { M_INFLATE = 1, M_RELIEF = 2, M_LITHO = 4, M_EXTRUDE = 8, M_ALL = 15 };

typedef struct param_desc {
  const char *name;
  int type;
  size_t offset;              /* into orf_params */
  double min, max;            /* P_INT / P_NUM, inclusive */
  const char *const *choices; /* P_ENUM, NULL-terminated, value = index */
  unsigned modes;             /* M_* where it applies (canonical form) */
  const char *help;           /* one line for people (CLI, studio, API) */
} param_desc;

static const char *const kModes[] = {"inflate", "relief", "lithophane", "extrude", NULL};
static const char *const kFormats[] = {"glb", "stl", "obj", "ply", "3mf", NULL};
static const char *const kStyles[] = {"plain", "realistic", NULL};
static const char *const kBackgrounds[] = {"auto", "alpha", "none", "color", "subject", NULL};
/* One line for each background, in kBackgrounds' order (describe). */
static const char *const kBackgroundHelp[] = {
    "alpha when the image has it, else the colour model when it separates cleanly, else the network",
    "the image's alpha channel",
    "the whole frame",
    "a colour model of the image's border (logos, drawings, plain backgrounds)",
    "a salient-object network, U^2-Net (photographs)",
    NULL};
static const char *const kShapes[] = {"flat", "cylinder", NULL};
static const char *const kTextures[] = {"auto", "on", "off", NULL};
static const char *const kCompress[] = {"none", "meshopt", "draco", NULL};

#define OFF(f) offsetof(orf_params, f)
static const param_desc kParams[] = {
    {"background", P_ENUM, OFF(background), 0, 0, kBackgrounds, M_ALL,
     "how the subject is separated: alpha channel, border colour model, segmentation network, or the whole "
     "frame"},
    {"base_mm", P_NUM, OFF(base_mm), 0.2, 50, NULL, M_RELIEF, "thickness of the plate under the relief, mm"},
    {"bevel_mm", P_NUM, OFF(bevel_mm), 0, 20, NULL, M_EXTRUDE,
     "radius of the rounded top and bottom edges, mm (at most half of depth_mm)"},
    {"border_mm", P_NUM, OFF(border_mm), 0, 50, NULL, M_LITHO,
     "frame around the lithophane at full thickness, mm"},
    {"compress", P_ENUM, OFF(compress), 0, 0, kCompress, 0,
     "compression of a GLB download: none, meshopt (quantised, EXT_meshopt_compression) or draco "
     "(KHR_draco_mesh_compression)"},
    {"cutout", P_BOOL, OFF(cutout), 0, 1, NULL, M_RELIEF, "the plate follows the subject's silhouette"},
    {"depth_mm", P_NUM, OFF(depth_mm), 0.2, 500, NULL, M_EXTRUDE, "extrusion depth (height of the part), mm"},
    {"detail", P_NUM, OFF(detail), 0, 1, NULL, M_INFLATE,
     "relief from the image's shading added to the front (0 = smooth)"},
    {"format", P_ENUM, OFF(format), 0, 0, kFormats, 0, "file format of the download"},
    {"invert", P_BOOL, OFF(invert), 0, 1, NULL, M_RELIEF | M_LITHO,
     "darker is higher (relief) or thinner (lithophane)"},
    {"max_faces", P_INT, OFF(max_faces), 100, 5000000, NULL, M_ALL,
     "face budget of the final mesh (default: F(quality))"},
    {"max_mm", P_NUM, OFF(max_mm), 0.3, 20, NULL, M_LITHO,
     "thickest part of the lithophane (black) and its frame, mm"},
    {"min_mm", P_NUM, OFF(min_mm), 0.4, 10, NULL, M_LITHO,
     "thinnest part of the lithophane (white), mm; at least one 0.4 mm nozzle width"},
    {"mode", P_ENUM, OFF(mode), 0, 0, kModes, M_ALL, "what to make"},
    {"quality", P_INT, OFF(quality), 1, 10, NULL, M_ALL,
     "grid resolution and face budget, 1 (fast) to 10 (fine)"},
    {"relief_mm", P_NUM, OFF(relief_mm), 0.1, 50, NULL, M_RELIEF, "height of the relief above its base, mm"},
    {"shape", P_ENUM, OFF(shape), 0, 0, kShapes, M_LITHO,
     "flat plate, or a closed cylinder with the picture outside"},
    {"size_mm", P_NUM, OFF(size_mm), 1, 1000, NULL, M_ALL, "longest side of the model, mm"},
    {"smooth", P_NUM, OFF(smooth), 0, 20, NULL, M_RELIEF,
     "blur of the relief's height field, pixels of the image"},
    {"style", P_ENUM, OFF(realistic), 0, 0, kStyles, M_ALL,
     "keep the image's colours on the surface (realistic) or not (plain)"},
    {"subject_points", P_POINTS, OFF(point_count), 0, ORF_MAX_POINTS, NULL, M_ALL,
     "corrections of the subject: +x,y keeps the region under a point, -x,y drops it (x, y fractions "
     "0..1 of the width and height), separated by ';'"},
    {"texture", P_ENUM, OFF(texture), 0, 0, kTextures, 0,
     "the picture as a texture: auto where the format holds one (glb, obj, 3mf), on, or off (vertex "
     "colours)"},
    {"thickness", P_NUM, OFF(thickness), 0.05, 2, NULL, M_INFLATE,
     "depth relative to the longest side (1 turns a disc into a sphere)"},
};
#define N_PARAMS (sizeof kParams / sizeof kParams[0])
_Static_assert(N_PARAMS <= 64, "orf_params.given has one bit per parameter");

static const int kResolution[10] = {48, 64, 96, 128, 160, 192, 256, 320, 384, 512};
static const int kFaces[10] = {5000, 10000, 15000, 25000, 40000, 60000, 80000, 120000, 160000, 250000};

int orf_quality_resolution(int q) { return kResolution[q < 1 ? 0 : q > 10 ? 9 : q - 1]; }
int orf_quality_faces(int q) { return kFaces[q < 1 ? 0 : q > 10 ? 9 : q - 1]; }

void orf_params_init(orf_params *p) {
  memset(p, 0, sizeof *p);
  p->mode = ORF_MODE_INFLATE;
  p->quality = 7;
  p->size_mm = 100;
  p->format = ORF_FMT_GLB;
  p->realistic = 1;
  p->background = ORF_BG_AUTO;
  p->thickness = 0.35;
  p->detail = 0.2;
  p->relief_mm = 4;
  p->base_mm = 2;
  p->smooth = 1.0;
  p->min_mm = 0.8;
  p->max_mm = 3.0;
  p->border_mm = 3;
  p->shape = ORF_SHAPE_FLAT;
  p->depth_mm = 5;
  p->bevel_mm = 0.5;
}

static int fail(char *err, size_t err_size, const char *fmt, ...) {
  if (err && err_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
  }
  return ORF_EINVAL;
}

/* The choices of an enum as "a, b or c", for error sentences. */
static void list_choices(const char *const *c, char *out, size_t n) {
  out[0] = 0;
  for (int i = 0; c[i]; i++) {
    size_t len = strlen(out);
    snprintf(out + len, n - len, "%s%s", i == 0 ? "" : c[i + 1] ? ", " : " or ", c[i]);
  }
}

static int parse_number(const char *s, double *out) {
  if (!*s || isspace((unsigned char)*s)) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (*end || errno || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

/* subject_points: entries [+|-]x,y separated by ';' or white space (a
 * query string's '+' arrives as a space: no sign means keep), x and y in
 * 0..1, rounded to 6 decimals, at most ORF_MAX_POINTS.  An empty list
 * clears the points. */
static int parse_points(orf_params *p, const char *value, char *err, size_t err_size) {
  orf_point pts[ORF_MAX_POINTS];
  int n = 0;
  const char *s = value;
  for (;;) {
    while (*s == ';' || isspace((unsigned char)*s))
      s++;
    if (!*s) break;
    if (n == ORF_MAX_POINTS)
      return fail(err, err_size, "subject_points takes at most %d points (got \"%.40s\")", ORF_MAX_POINTS,
                  value);
    int keep = *s != '-';
    if (*s == '+' || *s == '-') s++;
    char *end;
    double xy[2];
    for (int k = 0; k < 2; k++) {
      errno = 0;
      xy[k] = (*s && !isspace((unsigned char)*s)) ? strtod(s, &end) : NAN;
      if (isnan(xy[k]) || end == s || errno || (k == 0 && *end != ','))
        return fail(err, err_size,
                    "subject_points must be a list of +x,y or -x,y separated by ';' (got \"%.40s\")", value);
      s = k == 0 ? end + 1 : end;
    }
    if (*s && *s != ';' && !isspace((unsigned char)*s))
      return fail(err, err_size,
                  "subject_points must be a list of +x,y or -x,y separated by ';' (got \"%.40s\")", value);
    if (!(xy[0] >= 0 && xy[0] <= 1 && xy[1] >= 0 && xy[1] <= 1))
      return fail(err, err_size, "subject_points: x and y must be fractions between 0 and 1 (got \"%.40s\")",
                  value);
    pts[n++] = (orf_point){round(xy[0] * 1e6) / 1e6, round(xy[1] * 1e6) / 1e6, keep};
  }
  p->point_count = n;
  memcpy(p->points, pts, (size_t)n * sizeof pts[0]);
  return ORF_OK;
}

static int set_value(orf_params *p, const param_desc *d, const char *value, char *err, size_t err_size);

int orf_params_set(orf_params *p, const char *name, const char *value, char *err, size_t err_size) {
  if (!name || !value) return fail(err, err_size, "parameter name and value are required");
  if (strcmp(name, "size") == 0) {
    static const char *const sizes[] = {"small", "medium", "large", NULL};
    static const double mm[] = {50, 100, 150};
    for (int i = 0; sizes[i]; i++) {
      if (strcmp(value, sizes[i]) == 0) {
        if (!p->size_mm_set) p->size_mm = mm[i];
        return ORF_OK;
      }
    }
    return fail(err, err_size, "size must be small, medium or large (got \"%.40s\")", value);
  }
  const param_desc *d = NULL;
  for (size_t i = 0; i < N_PARAMS; i++)
    if (strcmp(kParams[i].name, name) == 0) d = &kParams[i];
  if (!d) return fail(err, err_size, "unknown parameter \"%.40s\"", name);
  int rc = set_value(p, d, value, err, err_size);
  if (rc == ORF_OK) p->given |= (uint64_t)1 << (d - kParams);
  return rc;
}

/* Parses value into d's field of *p, strictly (orf_params_set). */
static int set_value(orf_params *p, const param_desc *d, const char *value, char *err, size_t err_size) {
  const char *name = d->name;
  char *field = (char *)p + d->offset;
  double v;
  switch (d->type) {
  case P_POINTS: return parse_points(p, value, err, err_size);
  case P_INT:
    if (parse_number(value, &v) || v != floor(v))
      return fail(err, err_size, "%s must be a whole number (got \"%.40s\")", name, value);
    if (v < d->min || v > d->max)
      return fail(err, err_size, "%s must be between %g and %g (got %.40s)", name, d->min, d->max, value);
    *(int *)field = (int)v;
    return ORF_OK;
  case P_NUM:
    if (parse_number(value, &v))
      return fail(err, err_size, "%s must be a number (got \"%.40s\")", name, value);
    if (v < d->min || v > d->max)
      return fail(err, err_size, "%s must be between %g and %g (got %.40s)", name, d->min, d->max, value);
    *(double *)field = v;
    if (d->offset == OFF(size_mm)) p->size_mm_set = 1;
    return ORF_OK;
  case P_BOOL:
    if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes")) {
      *(int *)field = 1;
      return ORF_OK;
    }
    if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no")) {
      *(int *)field = 0;
      return ORF_OK;
    }
    return fail(err, err_size, "%s must be true or false (got \"%.40s\")", name, value);
  default:
    for (int i = 0; d->choices[i]; i++) {
      if (strcmp(value, d->choices[i]) == 0) {
        *(int *)field = i;
        return ORF_OK;
      }
    }
    char choices[128];
    list_choices(d->choices, choices, sizeof choices);
    return fail(err, err_size, "%s must be %s (got \"%.40s\")", name, choices, value);
  }
}

/* The narrowest line a common printer lays down: a lithophane's thinnest
 * part must hold at least one. */
#define NOZZLE_MM 0.4

int orf_params_validate(const orf_params *p, char *err, size_t err_size) {
  /* the ranges of the table, for values set without orf_params_set */
  unsigned mode_bit = (unsigned)p->mode < 4 ? 1u << p->mode : 0;
  if (!mode_bit) return fail(err, err_size, "mode must be inflate, relief, lithophane or extrude");
  for (size_t i = 0; i < N_PARAMS; i++) {
    const param_desc *d = &kParams[i];
    if (!(p->given >> i & 1) || !d->modes || (d->modes & mode_bit)) continue;
    char modes[64] = "";
    size_t n = 0;
    for (int m = 0; kModes[m]; m++)
      if (d->modes & (1u << m))
        n += (size_t)snprintf(modes + n, sizeof modes - n, "%s%s", n ? " and " : "", kModes[m]);
    return fail(err, err_size, "%s applies to %s only, not to mode %s", d->name, modes, kModes[p->mode]);
  }
  for (size_t i = 0; i < N_PARAMS; i++) {
    const param_desc *d = &kParams[i];
    if (d->type != P_NUM || !(d->modes & mode_bit)) continue;
    double v = *(const double *)((const char *)p + d->offset);
    if (!(v >= d->min && v <= d->max))
      return fail(err, err_size, "%s must be between %g and %g (got %g)", d->name, d->min, d->max, v);
  }
  if (p->point_count < 0 || p->point_count > ORF_MAX_POINTS)
    return fail(err, err_size, "subject_points takes at most %d points (got %d)", ORF_MAX_POINTS,
                p->point_count);
  for (int i = 0; i < p->point_count; i++)
    if (!(p->points[i].x >= 0 && p->points[i].x <= 1 && p->points[i].y >= 0 && p->points[i].y <= 1))
      return fail(err, err_size, "subject_points: x and y must be fractions between 0 and 1 (got %g,%g)",
                  p->points[i].x, p->points[i].y);
  if (p->point_count && p->background == ORF_BG_NONE)
    return fail(err, err_size, "subject_points needs a background that separates a subject (not none)");
  /* rules between parameters: what makes no physical sense is refused */
  double size = p->size_mm;
  switch (p->mode) {
  case ORF_MODE_RELIEF:
    if (p->base_mm + p->relief_mm >= size)
      return fail(err, err_size, "relief_mm plus base_mm (%g mm) must be less than size_mm (%g mm)",
                  p->base_mm + p->relief_mm, size);
    break;
  case ORF_MODE_LITHOPHANE:
    if (p->min_mm < NOZZLE_MM)
      return fail(err, err_size, "min_mm must be at least %g mm, one nozzle width (got %g)", NOZZLE_MM,
                  p->min_mm);
    if (p->min_mm >= p->max_mm)
      return fail(err, err_size, "min_mm must be less than max_mm (got %g and %g)", p->min_mm, p->max_mm);
    if (2 * p->border_mm >= size)
      return fail(err, err_size, "border_mm must be less than half of size_mm (got %g for %g mm)",
                  p->border_mm, size);
    if (p->shape == ORF_SHAPE_CYLINDER && 4 * p->max_mm > size)
      return fail(err, err_size,
                  "max_mm must be at most a quarter of size_mm for a cylinder (got %g for %g mm)", p->max_mm,
                  size);
    if (p->max_mm >= size)
      return fail(err, err_size, "max_mm must be less than size_mm (got %g for %g mm)", p->max_mm, size);
    break;
  case ORF_MODE_EXTRUDE:
    if (p->depth_mm >= size)
      return fail(err, err_size, "depth_mm must be less than size_mm (got %g for %g mm)", p->depth_mm, size);
    if (2 * p->bevel_mm > p->depth_mm)
      return fail(err, err_size, "bevel_mm must be at most half of depth_mm (got %g for %g mm)", p->bevel_mm,
                  p->depth_mm);
    break;
  default: break;
  }
  /* the conversions: what the format can hold */
  if ((unsigned)p->compress > ORF_COMPRESS_DRACO)
    return fail(err, err_size, "compress must be none, meshopt or draco");
  if ((unsigned)p->texture > ORF_TEXTURE_OFF) return fail(err, err_size, "texture must be auto, on or off");
  if (p->compress != ORF_COMPRESS_NONE && p->format != ORF_FMT_GLB)
    return fail(err, err_size, "compress=%s applies to format=glb only (got format=%s)",
                kCompress[p->compress], orf_format_ext(p->format));
  if (p->texture == ORF_TEXTURE_ON) {
    if (!orf_format_holds_texture(p->format))
      return fail(err, err_size, "texture=on needs a format that holds a texture: glb, obj or 3mf (got %s)",
                  orf_format_ext(p->format));
    if (!p->realistic)
      return fail(err, err_size, "texture=on needs style=realistic: a plain model carries no picture");
    if (p->mode == ORF_MODE_LITHOPHANE && p->shape == ORF_SHAPE_CYLINDER)
      return fail(
          err, err_size,
          "texture=on needs a flat lithophane: the picture of shape=cylinder is wrapped, not projected");
  }
  return ORF_OK;
}

size_t orf_params_canonical(const orf_params *p, char *buf, size_t buf_size) {
  unsigned mode_bit = 1u << p->mode;
  size_t len = (size_t)snprintf(buf, buf_size, "engine=%s", ORF_ENGINE_VERSION);
  for (size_t i = 0; i < N_PARAMS; i++) {
    const param_desc *d = &kParams[i];
    if (!(d->modes & mode_bit)) continue;
    const char *field = (const char *)p + d->offset;
    char val[64 * ORF_MAX_POINTS];
    if (d->type == P_POINTS && !p->point_count) continue; /* none: the hash of a request without */
    switch (d->type) {
    case P_POINTS: {
      size_t at = 0;
      for (int k = 0; k < p->point_count && k < ORF_MAX_POINTS; k++)
        at += (size_t)snprintf(val + at, sizeof val - at, "%s%c%.15g,%.15g", k ? ";" : "",
                               p->points[k].keep ? '+' : '-', p->points[k].x, p->points[k].y);
      break;
    }
    case P_INT: snprintf(val, sizeof val, "%d", *(const int *)field); break;
    case P_NUM: { /* the shortest text that reads back as the same double */
      double x = *(const double *)field;
      snprintf(val, sizeof val, "%.15g", x);
      if (strtod(val, NULL) != x) snprintf(val, sizeof val, "%.17g", x);
      break;
    }
    case P_BOOL: snprintf(val, sizeof val, "%s", *(const int *)field ? "true" : "false"); break;
    default: snprintf(val, sizeof val, "%s", d->choices[*(const int *)field]); break;
    }
    if (d->offset == OFF(max_faces) && p->max_faces == 0)
      snprintf(val, sizeof val, "%d", orf_quality_faces(p->quality));
    int n = snprintf(len < buf_size ? buf + len : NULL, len < buf_size ? buf_size - len : 0, "&%s=%s",
                     d->name, val);
    len += (size_t)n;
  }
  return len;
}

const char *orf_mode_name(orf_mode m) { return (unsigned)m < 4 ? kModes[m] : "unknown"; }
/* Appends a JSON string (the table's texts need no escaping beyond this). */
static size_t put(char *buf, size_t size, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t put(char *buf, size_t size, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(len < size ? buf + len : NULL, len < size ? size - len : 0, fmt, ap);
  va_end(ap);
  return len + (size_t)(n > 0 ? n : 0);
}

size_t orf_params_describe(char *buf, size_t size) {
  orf_params d;
  orf_params_init(&d);
  size_t len = put(buf, size, 0,
                   "{\"engine_version\":\"%s\",\"size_presets\":{\"small\":50,\"medium\":100,"
                   "\"large\":150},\"params\":[",
                   ORF_ENGINE_VERSION);
  for (size_t i = 0; i < N_PARAMS; i++) {
    const param_desc *p = &kParams[i];
    const char *field = (const char *)&d + p->offset;
    static const char *const types[] = {"int", "number", "bool", "enum", "points"};
    len = put(buf, size, len, "%s{\"name\":\"%s\",\"type\":\"%s\",\"help\":\"%s\",", i ? "," : "", p->name,
              types[p->type], p->help);
    switch (p->type) {
    case P_INT:
      len = put(buf, size, len, "\"min\":%g,\"max\":%g,\"default\":", p->min, p->max);
      len = p->offset == OFF(max_faces) ? put(buf, size, len, "null")
                                        : put(buf, size, len, "%d", *(const int *)field);
      break;
    case P_NUM:
      len = put(buf, size, len, "\"min\":%g,\"max\":%g,\"default\":%.15g", p->min, p->max,
                *(const double *)field);
      break;
    case P_BOOL: len = put(buf, size, len, "\"default\":%s", *(const int *)field ? "true" : "false"); break;
    case P_POINTS: len = put(buf, size, len, "\"max\":%g,\"default\":\"\"", p->max); break;
    default:
      len = put(buf, size, len, "\"choices\":[");
      for (int c = 0; p->choices[c]; c++)
        len = put(buf, size, len, "%s\"%s\"", c ? "," : "", p->choices[c]);
      len = put(buf, size, len, "],\"default\":\"%s\"", p->choices[*(const int *)field]);
      if (p->choices == kBackgrounds) {
        len = put(buf, size, len, ",\"choice_help\":{");
        for (int c = 0; p->choices[c]; c++)
          len = put(buf, size, len, "%s\"%s\":\"%s\"", c ? "," : "", p->choices[c], kBackgroundHelp[c]);
        len = put(buf, size, len, "}");
      }
    }
    len = put(buf, size, len, ",\"modes\":[");
    int first = 1;
    for (int m = 0; m < 4; m++)
      if (p->modes & (1u << m)) len = put(buf, size, len, "%s\"%s\"", first ? "" : ",", kModes[m]), first = 0;
    len = put(buf, size, len, "]}");
  }
  return put(buf, size, len, "]}");
}

const char *orf_stage_name(orf_stage s) {
  static const char *const names[] = {"voxel_preview", "rough_mesh", "refined_mesh", "final_optimized"};
  return (unsigned)s < ORF_STAGE_COUNT ? names[s] : "unknown";
}

const char *orf_format_ext(orf_format f) { return (unsigned)f < 5 ? kFormats[f] : "bin"; }

int orf_format_holds_texture(orf_format f) {
  return f == ORF_FMT_GLB || f == ORF_FMT_OBJ || f == ORF_FMT_3MF;
}

const char *orf_texture_mode_name(orf_texture_mode t) { return (unsigned)t < 3 ? kTextures[t] : "unknown"; }

int orf_format_from_ext(const char *ext, orf_format *out) {
  for (int i = 0; kFormats[i]; i++) {
    if (strcasecmp(ext, kFormats[i]) == 0) {
      *out = (orf_format)i;
      return ORF_OK;
    }
  }
  return ORF_EINVAL;
}
