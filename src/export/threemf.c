/*
 * threemf.c - 3MF writer (3MF Consortium, "3MF Core Specification" 1.3, and
 * its "Materials and Properties Extension" 1.2 for colour): an OPC package,
 * that is a zip (written with libzip) holding three parts, in this order:
 *
 *   [Content_Types].xml  the content types of .rels and .model parts
 *   _rels/.rels          the relationship "3dmodel" to /3D/3dmodel.model
 *   3D/3dmodel.model     <model unit="millimeter">: one object of type
 *                        "model" with one <mesh> (<vertices>, <triangles>),
 *                        one build <item>
 *
 * Units and axes: 3MF is Z up and the unit is declared, so the engine's
 * millimetres go in as they are, and its counter-clockwise winding (outward
 * normals by the right-hand rule) is the winding 3MF asks for.
 *
 * Numbers: coordinates are printed with %.9g, enough digits for every float
 * to read back as the same float32 (and what obj.c does); indices are plain
 * decimal integers.
 *
 * Colour (style=realistic, m->colors set): a colour group of the materials
 * extension (<m:colorgroup>, sRGB "#RRGGBB" like the mesh's bytes), referenced
 * by the object (pid, pindex 0, which the core specification requires once
 * any triangle carries a property) and by each triangle through p1, p2, p3,
 * the colour of each of its corners (only p1 when the three are equal, which
 * the specification reads as the whole triangle in that colour).  Vertex
 * colours are quantised to 5 bits a channel (round(c * 31 / 255), written back
 * as round(q * 255 / 31): at most 4 levels of 255 off, below what a print
 * or a screen shows) so that the group stays bounded (at most 32768 entries,
 * in practice a few thousand) however many vertices the mesh has; the group
 * lists the colours used in the order of the first vertex that uses each.
 * Readers without the extension (PrusaSlicer among them) ignore it and read
 * the mesh; the extension is therefore not in `requiredextensions`.
 *
 * Texture (orf_export_textured with a texture): the extension's
 * <m:texture2d> (the image as the part /3D/Textures/texture.jpg or .png,
 * clamped at its edges, with its content type in [Content_Types].xml and
 * the 3D Texture relationship from the model part in
 * 3D/_rels/3dmodel.model.rels, as the specification asks) and one
 * <m:texture2dgroup> holding a <m:tex2coord> per vertex, from the
 * texture's projection with v counted up from the bottom (3MF's origin is
 * the image's lower left: v = 1 - glTF's v).  Triangles reference their
 * corners' coordinates by the vertex indices (p1 p2 p3 = v1 v2 v3).  No
 * colour group then: one property group per object.
 *
 * Determinism: the XML is built by hand in a fixed order (no XML library's
 * formatting choices), the parts go into the zip in a fixed order with
 * fixed times (zip.c).
 *
 * Memory: the XML is built in engine memory (orf_buf) and handed to
 * zip.c, which zips without copying it (libzip's own buffers are outside
 * the job's accounting, see there).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "export.h"

#define QBITS 5                    /* bits a channel in the colour group */
#define QLEVELS ((1 << QBITS) - 1) /* 31: the top quantised level */
#define QKEYS (1u << (3 * QBITS))  /* 32768 possible quantised colours */
#define MAX_LINE 160               /* the longest XML line below is < 120 */

static const char kContentTypes[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\n"
    "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\n"
    "<Default Extension=\"model\" ContentType=\"application/vnd.ms-package.3dmanufacturing-3dmodel+xml\"/>\n"
    "</Types>\n";

static const char kContentTypesJpeg[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\n"
    "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\n"
    "<Default Extension=\"model\" ContentType=\"application/vnd.ms-package.3dmanufacturing-3dmodel+xml\"/>\n"
    "<Default Extension=\"jpg\" ContentType=\"image/jpeg\"/>\n"
    "</Types>\n";

static const char kContentTypesPng[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\">\n"
    "<Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/>\n"
    "<Default Extension=\"model\" ContentType=\"application/vnd.ms-package.3dmanufacturing-3dmodel+xml\"/>\n"
    "<Default Extension=\"png\" ContentType=\"image/png\"/>\n"
    "</Types>\n";

static const char kRels[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\n"
    "<Relationship Target=\"/3D/3dmodel.model\" Id=\"rel0\" "
    "Type=\"http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel\"/>\n"
    "</Relationships>\n";

/* The model part's relationship to its texture (%s: the extension). */
#define MODEL_RELS_FMT                                                                                       \
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                                             \
  "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">\n"                 \
  "<Relationship Target=\"/3D/Textures/texture.%s\" Id=\"rel1\" "                                            \
  "Type=\"http://schemas.microsoft.com/3dmanufacturing/2013/01/3dtexture\"/>\n"                              \
  "</Relationships>\n"

/* The 15-bit key of a colour quantised to QBITS a channel. */
static uint32_t colour_key(const uint8_t *c) {
  uint32_t key = 0;
  for (int k = 0; k < 3; k++)
    key = (key << QBITS) | (uint32_t)((c[k] * QLEVELS + 127) / 255);
  return key;
}

/* Appends one formatted line (shorter than MAX_LINE) to *b. */
static void __attribute__((format(printf, 2, 3))) put_line(orf_buf *b, const char *fmt, ...) {
  char line[MAX_LINE];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0 || n >= (int)sizeof line) {
    b->failed = 1; /* cannot happen for the formats below */
    return;
  }
  orf_buf_append(b, line, (size_t)n);
}

/* Writes ` name="n"` at s; returns the end. */
static char *put_attr(char *s, const char *name, uint64_t n) {
  size_t len = strlen(name);
  *s++ = ' ';
  memcpy(s, name, len);
  s += len;
  *s++ = '=';
  *s++ = '"';
  s = orf_put_uint(s, n);
  *s++ = '"';
  return s;
}

/* The colour group: slot[key] = 1 + palette index of each quantised colour
 * used by a vertex (0: unused), palette in the order of first use.  Appends
 * the <m:colorgroup> element to *x.  ORF_OK or ORF_ENOMEM. */
static int put_colour_group(const orf_mesh *m, uint32_t *slot, orf_buf *x) {
  uint16_t *palette = orf_malloc_array(QKEYS, sizeof *palette);
  if (!palette) return ORF_ENOMEM;
  uint32_t used = 0;
  for (size_t v = 0; v < m->vertex_count; v++) {
    uint32_t key = colour_key(m->colors + 3 * v);
    if (!slot[key]) {
      palette[used] = (uint16_t)key;
      slot[key] = ++used;
    }
  }
  orf_buf_printf(x, "<m:colorgroup id=\"1\">\n");
  for (uint32_t i = 0; i < used; i++) {
    unsigned q[3] = {palette[i] >> (2 * QBITS), (palette[i] >> QBITS) & QLEVELS, palette[i] & QLEVELS};
    put_line(x, "<m:color color=\"#%02X%02X%02X\"/>\n", (q[0] * 255 + QLEVELS / 2) / QLEVELS,
             (q[1] * 255 + QLEVELS / 2) / QLEVELS, (q[2] * 255 + QLEVELS / 2) / QLEVELS);
  }
  orf_buf_printf(x, "</m:colorgroup>\n");
  orf_free(palette);
  return ORF_OK;
}

/* Appends the texture2d and the texture2dgroup (a tex2coord per vertex,
 * v counted up) of t to *x. */
static void put_texture_group(const orf_mesh *m, const orf_texture *t, orf_buf *x) {
  orf_buf_printf(x,
                 "<m:texture2d id=\"1\" path=\"/3D/Textures/texture.%s\" contenttype=\"%s\" "
                 "tilestyleu=\"clamp\" tilestylev=\"clamp\" filter=\"auto\"/>\n"
                 "<m:texture2dgroup id=\"2\" texid=\"1\">\n",
                 orf_texture_ext(t), t->mime);
  for (size_t v = 0; v < m->vertex_count; v++) {
    float uv[2];
    orf_texture_project(t, m->positions + 3 * v, uv);
    put_line(x, "<m:tex2coord u=\"%.9g\" v=\"%.9g\"/>\n", uv[0], 1.0f - uv[1]);
  }
  orf_buf_printf(x, "</m:texture2dgroup>\n");
}

/* Appends 3D/3dmodel.model for *m (with the texture t, or NULL) to *x.
 * ORF_OK or ORF_ENOMEM. */
static int put_model(const orf_mesh *m, const orf_texture *t, orf_buf *x) {
  int colours = m->colors != NULL && !t;
  uint32_t *slot = NULL;
  /* a typical size, so that big meshes do not grow the buffer many times */
  if (orf_buf_reserve(x, 1024 + (t ? 112 : 64) * m->vertex_count + (colours || t ? 72 : 48) * m->face_count))
    return ORF_ENOMEM;
  orf_buf_printf(x,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<model unit=\"millimeter\" xml:lang=\"en-US\" "
                 "xmlns=\"http://schemas.microsoft.com/3dmanufacturing/core/2015/02\"%s>\n"
                 "<metadata name=\"Application\">ORFEAS %s</metadata>\n"
                 "<resources>\n",
                 colours || t ? " xmlns:m=\"http://schemas.microsoft.com/3dmanufacturing/material/2015/02\""
                              : "",
                 ORF_VERSION);
  /* the object's id follows its property groups' */
  int object = 2;
  if (t) {
    put_texture_group(m, t, x);
    orf_buf_printf(x, "<object id=\"3\" type=\"model\" pid=\"2\" pindex=\"0\">\n");
    object = 3;
  } else if (colours) {
    slot = orf_calloc(QKEYS, sizeof *slot);
    if (!slot || put_colour_group(m, slot, x)) {
      orf_free(slot);
      return ORF_ENOMEM;
    }
    orf_buf_printf(x, "<object id=\"2\" type=\"model\" pid=\"1\" pindex=\"0\">\n");
  } else {
    orf_buf_printf(x, "<object id=\"2\" type=\"model\">\n");
  }
  orf_buf_printf(x, "<mesh>\n<vertices>\n");
  for (size_t v = 0; v < m->vertex_count; v++) {
    const float *p = m->positions + 3 * v;
    put_line(x, "<vertex x=\"%.9g\" y=\"%.9g\" z=\"%.9g\"/>\n", p[0], p[1], p[2]);
  }
  orf_buf_printf(x, "</vertices>\n<triangles>\n");
  for (size_t f = 0; f < m->face_count; f++) {
    if (orf_buf_reserve(x, MAX_LINE)) break;
    static const char *const kV[3] = {"v1", "v2", "v3"}, *const kP[3] = {"p1", "p2", "p3"};
    const uint32_t *tri = m->indices + 3 * f;
    char *s = (char *)x->data + x->len, *start = s;
    memcpy(s, "<triangle", 9);
    s += 9;
    for (int k = 0; k < 3; k++)
      s = put_attr(s, kV[k], tri[k]);
    if (t) {
      for (int k = 0; k < 3; k++)
        s = put_attr(s, kP[k], tri[k]);
    } else if (colours) {
      uint32_t p[3];
      for (int k = 0; k < 3; k++)
        p[k] = slot[colour_key(m->colors + 3 * (size_t)tri[k])] - 1;
      int corners = p[0] == p[1] && p[1] == p[2] ? 1 : 3;
      for (int k = 0; k < corners; k++)
        s = put_attr(s, kP[k], p[k]);
    }
    memcpy(s, "/>\n", 3);
    s += 3;
    x->len += (size_t)(s - start);
  }
  orf_buf_printf(x,
                 "</triangles>\n</mesh>\n</object>\n</resources>\n"
                 "<build>\n<item objectid=\"%d\"/>\n</build>\n</model>\n",
                 object);
  orf_free(slot);
  return x->failed ? ORF_ENOMEM : ORF_OK;
}

/* Contract: appends the 3MF package of *m (a mesh orf_export() accepts) to
 * *out, with the texture t (an image orf_export_textured accepts) or, t
 * NULL, a colour group where m->colors is set.  ORF_EINVAL for a mesh
 * without faces, ORF_ENOMEM when memory runs out, ORF_EINTERNAL when
 * libzip fails otherwise; on error what was appended to *out stays for the
 * caller to free, and all scratch (the XML, libzip's buffers) is freed. */
int orf_write_3mf(const orf_mesh *m, const orf_texture *t, orf_buf *out) {
  if (m->face_count == 0 || m->vertex_count == 0 || m->vertex_count > UINT32_MAX) return ORF_EINVAL;
  if (m->face_count > SIZE_MAX / 128 || m->vertex_count > SIZE_MAX / 128) return ORF_EINVAL;
  if (t && !orf_texture_ext(t)) return ORF_EINVAL;
  orf_buf model = {0};
  char rels[512], image[32];
  int rc = put_model(m, t, &model);
  if (!rc) {
    orf_zip_part parts[5] = {
        {"[Content_Types].xml", kContentTypes, sizeof kContentTypes - 1, 0},
        {"_rels/.rels", kRels, sizeof kRels - 1, 0},
        {"3D/3dmodel.model", model.data, model.len, 0},
    };
    size_t n = 3;
    if (t) {
      int png = !strcmp(orf_texture_ext(t), "png");
      parts[0].data = png ? kContentTypesPng : kContentTypesJpeg;
      parts[0].len = png ? sizeof kContentTypesPng - 1 : sizeof kContentTypesJpeg - 1;
      int len = snprintf(rels, sizeof rels, MODEL_RELS_FMT, orf_texture_ext(t));
      snprintf(image, sizeof image, "3D/Textures/texture.%s", orf_texture_ext(t));
      parts[n++] = (orf_zip_part){"3D/_rels/3dmodel.model.rels", rels, (size_t)len, 0};
      parts[n++] = (orf_zip_part){image, t->data, t->size, 1};
    }
    rc = orf_zip_write(parts, n, out);
  }
  orf_buf_free(&model);
  return rc;
}
