/*
 * ply_read.c - reads back the binary little-endian PLY that ply.c writes
 * (Greg Turk's Polygon File Format, Stanford 1994): the server keeps each
 * stage's mesh as PLY and converts it to the format a client asks for.
 *
 * The input is treated as untrusted.  The header is parsed line by line
 * within a bounded window and must declare exactly the layout ply.c
 * writes: element vertex with float x, y, z and optionally uchar red,
 * green, blue, then element face with a uchar-counted list of uint indices
 * (`comment` and `obj_info` lines are skipped; the usual type aliases
 * float32, uint8, uint32 are accepted).  The element counts are checked
 * against the bytes that follow - exactly, with overflow checks - before
 * anything is allocated, so a header that claims 10^15 vertices costs
 * nothing.  Every face must have 3 indices, each below the vertex count,
 * and every coordinate must be finite.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "mesh.h"
#include "orfeas.h"

/* The header must end within this many bytes (ply.c writes about 250). */
#define MAX_HEADER 65536
#define MAX_TOKENS 8

typedef struct header_line {
  const char *tok[MAX_TOKENS];
  size_t len[MAX_TOKENS];
  int n;
} header_line;

/* Splits [s, end) at spaces and tabs into hl; -1 for too many tokens. */
static int split(const char *s, const char *end, header_line *hl) {
  hl->n = 0;
  while (s < end) {
    while (s < end && (*s == ' ' || *s == '\t'))
      s++;
    if (s == end) break;
    if (hl->n == MAX_TOKENS) return -1;
    const char *t = s;
    while (s < end && *s != ' ' && *s != '\t')
      s++;
    hl->tok[hl->n] = t;
    hl->len[hl->n] = (size_t)(s - t);
    hl->n++;
  }
  return 0;
}

static int tok_is(const header_line *hl, int i, const char *word) {
  return i < hl->n && hl->len[i] == strlen(word) && memcmp(hl->tok[i], word, hl->len[i]) == 0;
}

/* Line i is exactly the given words (NULL-terminated list). */
static int line_is(const header_line *hl, const char *const *words) {
  int i = 0;
  for (; words[i]; i++)
    if (!tok_is(hl, i, words[i])) return 0;
  return i == hl->n;
}

/* A decimal count of at most 10 digits <= UINT32_MAX (indices are uint32,
 * and ply.c writes no larger count). */
static int parse_count(const header_line *hl, int i, uint32_t *out) {
  if (i >= hl->n || hl->len[i] == 0 || hl->len[i] > 10) return -1;
  uint64_t v = 0;
  for (size_t k = 0; k < hl->len[i]; k++) {
    char c = hl->tok[i][k];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (uint64_t)(c - '0');
  }
  if (v > UINT32_MAX) return -1;
  *out = (uint32_t)v;
  return 0;
}

static int type_is(const header_line *hl, int i, const char *name, const char *alias) {
  return tok_is(hl, i, name) || tok_is(hl, i, alias);
}

/* `property <float|float32> <axis>` */
static int float_property(const header_line *hl, const char *axis) {
  return hl->n == 3 && tok_is(hl, 0, "property") && type_is(hl, 1, "float", "float32") && tok_is(hl, 2, axis);
}

static int uchar_property(const header_line *hl, const char *channel) {
  return hl->n == 3 && tok_is(hl, 0, "property") && type_is(hl, 1, "uchar", "uint8") &&
         tok_is(hl, 2, channel);
}

/* The layout a header declares. */
typedef struct ply_layout {
  uint32_t vertices, faces;
  int colors;
  size_t header_bytes; /* up to and including "end_header\n" */
} ply_layout;

/* Where the header parser is: each state accepts the next line ply.c writes. */
enum {
  S_MAGIC,
  S_FORMAT,
  S_VERTEX,
  S_X,
  S_Y,
  S_Z,
  S_RED_OR_FACE,
  S_GREEN,
  S_BLUE,
  S_FACE,
  S_LIST,
  S_END,
  S_DONE
};

static int parse_header(const uint8_t *data, size_t size, ply_layout *lay) {
  static const char *const kFormat[] = {"format", "binary_little_endian", "1.0", NULL};
  static const char *const kEnd[] = {"end_header", NULL};
  const char *s = (const char *)data;
  size_t limit = size < MAX_HEADER ? size : MAX_HEADER;
  size_t pos = 0;
  int state = S_MAGIC;
  memset(lay, 0, sizeof *lay);

  while (state != S_DONE) {
    const char *nl = memchr(s + pos, '\n', limit - pos);
    if (!nl) return ORF_EINVAL; /* no end_header within the window */
    const char *line = s + pos, *end = nl;
    pos = (size_t)(nl - s) + 1;
    if (memchr(line, '\0', (size_t)(end - line))) return ORF_EINVAL;
    if (state == S_MAGIC) {
      if (end - line != 3 || memcmp(line, "ply", 3) != 0) return ORF_EINVAL;
      state = S_FORMAT;
      continue;
    }
    header_line hl;
    if (split(line, end, &hl)) return ORF_EINVAL;
    if (tok_is(&hl, 0, "comment") || tok_is(&hl, 0, "obj_info")) continue;
    switch (state) {
    case S_FORMAT:
      if (!line_is(&hl, kFormat)) return ORF_EINVAL;
      state = S_VERTEX;
      break;
    case S_VERTEX:
      if (hl.n != 3 || !tok_is(&hl, 0, "element") || !tok_is(&hl, 1, "vertex") ||
          parse_count(&hl, 2, &lay->vertices))
        return ORF_EINVAL;
      state = S_X;
      break;
    case S_X:
    case S_Y:
    case S_Z:
      if (!float_property(&hl, state == S_X ? "x" : state == S_Y ? "y" : "z")) return ORF_EINVAL;
      state++;
      break;
    case S_RED_OR_FACE:
      if (uchar_property(&hl, "red")) {
        lay->colors = 1;
        state = S_GREEN;
        break;
      }
      state = S_FACE;
      /* fall through */
    case S_FACE:
      if (hl.n != 3 || !tok_is(&hl, 0, "element") || !tok_is(&hl, 1, "face") ||
          parse_count(&hl, 2, &lay->faces))
        return ORF_EINVAL;
      state = S_LIST;
      break;
    case S_GREEN:
    case S_BLUE:
      if (!uchar_property(&hl, state == S_GREEN ? "green" : "blue")) return ORF_EINVAL;
      state++;
      break;
    case S_LIST:
      if (hl.n != 5 || !tok_is(&hl, 0, "property") || !tok_is(&hl, 1, "list") ||
          !type_is(&hl, 2, "uchar", "uint8") || !type_is(&hl, 3, "uint", "uint32") ||
          !(tok_is(&hl, 4, "vertex_indices") || tok_is(&hl, 4, "vertex_index")))
        return ORF_EINVAL;
      state = S_END;
      break;
    case S_END:
      if (!line_is(&hl, kEnd)) return ORF_EINVAL;
      state = S_DONE;
      break;
    default: return ORF_EINVAL;
    }
  }
  lay->header_bytes = pos;
  return ORF_OK;
}

static uint32_t rd_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float rd_f32le(const uint8_t *p) {
  uint32_t u = rd_u32le(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Contract: see orfeas.h.  *out is zeroed first; on success it owns
 * positions, indices and (when the file has them) colours, all from
 * orf_mesh_alloc, to be freed with orf_mesh_free.  The body must be exactly
 * as long as the header says: short data and trailing bytes are both
 * ORF_EINVAL, as are non-finite coordinates. */
int orf_mesh_read_ply(const uint8_t *data, size_t size, orf_mesh *out) {
  memset(out, 0, sizeof *out);
  if (!data) return ORF_EINVAL;
  ply_layout lay;
  int rc = parse_header(data, size, &lay);
  if (rc) return rc;

  /* Counts are < 2^32, so these products fit in 64 bits. */
  const uint64_t vstride = lay.colors ? 15 : 12, fstride = 13;
  uint64_t body = (uint64_t)lay.vertices * vstride + (uint64_t)lay.faces * fstride;
  if (body != (uint64_t)(size - lay.header_bytes)) return ORF_EINVAL;

  orf_mesh m;
  rc = orf_mesh_alloc(&m, lay.vertices, lay.faces, lay.colors);
  if (rc) return rc;
  const uint8_t *p = data + lay.header_bytes;
  for (size_t v = 0; v < lay.vertices; v++, p += vstride) {
    for (int k = 0; k < 3; k++) {
      float x = rd_f32le(p + 4 * k);
      if (!isfinite(x)) goto out_invalid;
      m.positions[3 * v + k] = x;
    }
    if (lay.colors) memcpy(m.colors + 3 * v, p + 12, 3);
  }
  for (size_t f = 0; f < lay.faces; f++, p += fstride) {
    if (p[0] != 3) goto out_invalid;
    for (int k = 0; k < 3; k++) {
      uint32_t i = rd_u32le(p + 1 + 4 * k);
      if (i >= lay.vertices) goto out_invalid;
      m.indices[3 * f + k] = i;
    }
  }
  *out = m;
  return ORF_OK;

out_invalid:
  orf_mesh_free(&m);
  return ORF_EINVAL;
}
