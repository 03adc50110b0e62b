/*
 * fuzz_export.c - libFuzzer harness for the five exporters behind
 * orf_export (binary STL, OBJ, binary PLY, GLB, 3MF), each checked by
 * parsing its output back.
 *
 * The input bytes build a valid closed mesh (consistently oriented, every
 * index in range, finite coordinates): either a set of separate
 * tetrahedra, or a latitude/longitude sphere with its vertices displaced.
 * Coordinates come from the bytes either as raw float32 (so extremes,
 * denormals and -0 are reached; non-finite values become 0) or as small
 * offsets; colours are present when the first byte says so.
 *
 * Each format is parsed back, and any mismatch aborts:
 *  - STL (3D Systems' binary layout): 84 + 50 T bytes, the count T, every
 *    vertex bit-identical, normals unit or zero, attribute words zero;
 *  - OBJ: one `v` line per vertex whose numbers read back as the same
 *    floats (and colour bytes), one `f` line per face with the 1-based
 *    indices;
 *  - PLY: orf_mesh_read_ply gives the same mesh, bit for bit;
 *  - GLB (glTF 2.0 "GLB File Format Specification"): header magic, version
 *    and length, a JSON chunk and a BIN chunk 4-byte aligned and filling
 *    the file exactly, the JSON (parsed with jansson) declaring the counts
 *    of the mesh and bufferViews inside the BIN chunk, the positions
 *    converted to metres Y-up, the accessor min/max equal to the bounds of
 *    the written floats, and the indices unchanged.
 *  - 3MF (3MF Consortium core specification): a zip that libzip opens,
 *    holding [Content_Types].xml, _rels/.rels and 3D/3dmodel.model in that
 *    order, the model's <vertex> attributes reading back as the same floats
 *    (strtof) and its <triangle> indices unchanged, one each per vertex and
 *    face; a mesh without faces is refused (ORF_EINVAL).
 * Engine memory must be back to zero after each input.
 */
#include <jansson.h>
#include <zip.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "mesh.h"
#include "orfeas.h"

#define MAX_TETS 64
#define MAX_STACKS 24
#define MAX_SLICES 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
  do {                                                                                                       \
    if (!(cond)) abort();                                                                                    \
  } while (0)

/* ---- reading the input -------------------------------------------------- */

typedef struct reader {
  const uint8_t *p;
  size_t n, pos;
  int raw; /* floats as raw float32 bits, else small offsets */
} reader;

static uint8_t rd_byte(reader *r) { return r->pos < r->n ? r->p[r->pos++] : 0; }

static float rd_float(reader *r) {
  if (!r->raw) return ((int)rd_byte(r) - 128) / 16.0f;
  uint32_t u = 0;
  for (int k = 0; k < 4; k++)
    u |= (uint32_t)rd_byte(r) << (8 * k);
  float f;
  memcpy(&f, &u, sizeof f);
  return isfinite(f) ? f : 0.0f;
}

static uint32_t le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float lef32(const uint8_t *p) {
  uint32_t u = le32(p);
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* ---- building a closed mesh --------------------------------------------- */

/* Separate tetrahedra, four vertices and four outward faces each. */
static int build_tets(orf_mesh *m, reader *r, int colors) {
  size_t k = 1 + rd_byte(r) % MAX_TETS;
  if (orf_mesh_alloc(m, 4 * k, 4 * k, colors)) return -1;
  for (size_t t = 0; t < k; t++) {
    float *p = m->positions + 12 * t;
    for (int i = 0; i < 12; i++)
      p[i] = rd_float(r);
    /* Orientation from the signed volume, so that faces turn outward. */
    double a[3], b[3], c[3];
    for (int i = 0; i < 3; i++) {
      a[i] = (double)p[3 + i] - p[i];
      b[i] = (double)p[6 + i] - p[i];
      c[i] = (double)p[9 + i] - p[i];
    }
    double vol = a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) +
                 a[2] * (b[0] * c[1] - b[1] * c[0]);
    uint32_t v0 = (uint32_t)(4 * t), v1 = v0 + 1, v2 = v0 + 2, v3 = v0 + 3;
    if (vol < 0) { /* swap vertices 1 and 2 */
      uint32_t s = v1;
      v1 = v2;
      v2 = s;
    }
    uint32_t f[12] = {v0, v2, v1, v0, v1, v3, v1, v2, v3, v2, v0, v3};
    memcpy(m->indices + 12 * t, f, sizeof f);
  }
  return 0;
}

/* A latitude/longitude sphere (two poles, stacks - 1 rings of `slices`),
 * each vertex displaced by values from the input. */
static int build_sphere(orf_mesh *m, reader *r, int colors) {
  uint32_t stacks = 2 + rd_byte(r) % (MAX_STACKS - 1), slices = 3 + rd_byte(r) % (MAX_SLICES - 2);
  size_t nv = 2 + (size_t)(stacks - 1) * slices, nf = 2 * (size_t)slices * (stacks - 1);
  if (orf_mesh_alloc(m, nv, nf, colors)) return -1;
  float radius = 1.0f + rd_byte(r);
  for (size_t v = 0; v < nv; v++) {
    double theta, phi;
    if (v == 0 || v == 1) {
      theta = v == 0 ? 0 : M_PI;
      phi = 0;
    } else {
      theta = M_PI * (double)(1 + (v - 2) / slices) / stacks;
      phi = 2 * M_PI * (double)((v - 2) % slices) / slices;
    }
    float base[3] = {(float)(radius * sin(theta) * cos(phi)), (float)(radius * sin(theta) * sin(phi)),
                     (float)(radius * cos(theta))};
    for (int k = 0; k < 3; k++) {
      float d = rd_float(r), x = r->raw ? d : base[k] + d;
      m->positions[3 * v + k] = isfinite(x) ? x : 0.0f;
    }
  }
  uint32_t *f = m->indices;
#define RING(i, j) (2 + (uint32_t)(i)*slices + (uint32_t)((j) % slices))
  for (uint32_t j = 0; j < slices; j++) { /* north cap: pole 0 at +z */
    *f++ = 0, *f++ = RING(0, j), *f++ = RING(0, j + 1);
  }
  for (uint32_t i = 0; i + 1 < stacks - 1; i++) {
    for (uint32_t j = 0; j < slices; j++) {
      uint32_t a = RING(i, j), b = RING(i, j + 1), c = RING(i + 1, j), d = RING(i + 1, j + 1);
      *f++ = a, *f++ = c, *f++ = b;
      *f++ = b, *f++ = c, *f++ = d;
    }
  }
  for (uint32_t j = 0; j < slices; j++) { /* south cap: pole 1 at -z */
    *f++ = 1, *f++ = RING(stacks - 2, j + 1), *f++ = RING(stacks - 2, j);
  }
#undef RING
  CHECK((size_t)(f - m->indices) == 3 * nf);
  return 0;
}

/* ---- parsing each format back ------------------------------------------- */

static void check_stl(const orf_mesh *m, const uint8_t *b, size_t n) {
  CHECK(n == 84 + 50 * m->face_count);
  CHECK(memcmp(b, "solid", 5) != 0);
  CHECK(le32(b + 80) == m->face_count);
  for (size_t f = 0; f < m->face_count; f++) {
    const uint8_t *t = b + 84 + 50 * f;
    double len = 0;
    for (int k = 0; k < 3; k++) {
      float c = lef32(t + 4 * k);
      CHECK(isfinite(c));
      len += (double)c * c;
    }
    CHECK(len == 0 || fabs(len - 1) < 1e-4);
    for (int v = 0; v < 3; v++) {
      const float *p = m->positions + 3 * (size_t)m->indices[3 * f + v];
      CHECK(memcmp(t + 12 + 12 * v, p, 12) == 0); /* little-endian host */
    }
    CHECK(t[48] == 0 && t[49] == 0);
  }
}

static void check_obj(const orf_mesh *m, const uint8_t *b, size_t n) {
  char *text = malloc(n + 1);
  CHECK(text != NULL);
  memcpy(text, b, n);
  text[n] = '\0';
  CHECK(strlen(text) == n); /* no NUL inside */
  size_t nv = 0, nf = 0;
  for (char *line = text; *line;) {
    char *end = strchr(line, '\n');
    CHECK(end != NULL); /* every line ends */
    *end = '\0';
    if (line[0] == 'v' && line[1] == ' ') {
      CHECK(nv < m->vertex_count);
      char *s = line + 2, *e;
      for (int k = 0; k < 3; k++) {
        float x = strtof(s, &e);
        CHECK(e != s);
        CHECK(memcmp(&x, &m->positions[3 * nv + k], sizeof x) == 0);
        s = e;
      }
      for (int k = 0; m->colors && k < 3; k++) {
        double c = strtod(s, &e);
        CHECK(e != s && c >= 0 && c <= 1);
        CHECK((long)lround(c * 255) == m->colors[3 * nv + k]);
        s = e;
      }
      CHECK(*s == '\0');
      nv++;
    } else if (line[0] == 'f' && line[1] == ' ') {
      CHECK(nf < m->face_count);
      char *s = line + 2, *e;
      for (int k = 0; k < 3; k++) {
        unsigned long long i = strtoull(s, &e, 10);
        CHECK(e != s && i == (unsigned long long)m->indices[3 * nf + k] + 1);
        s = e;
      }
      CHECK(*s == '\0');
      nf++;
    } else {
      CHECK(line[0] == '#'); /* comments only */
    }
    line = end + 1;
  }
  CHECK(nv == m->vertex_count && nf == m->face_count);
  free(text);
}

static void check_ply(const orf_mesh *m, const uint8_t *b, size_t n) {
  orf_mesh back;
  CHECK(orf_mesh_read_ply(b, n, &back) == ORF_OK);
  CHECK(back.vertex_count == m->vertex_count && back.face_count == m->face_count);
  CHECK(memcmp(back.positions, m->positions, 12 * m->vertex_count) == 0);
  CHECK(memcmp(back.indices, m->indices, 12 * m->face_count) == 0);
  CHECK((back.colors == NULL) == (m->colors == NULL));
  if (m->colors) CHECK(memcmp(back.colors, m->colors, 3 * m->vertex_count) == 0);
  orf_mesh_free(&back);
}

static size_t json_size(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  CHECK(json_is_integer(v) && json_integer_value(v) >= 0);
  return (size_t)json_integer_value(v);
}

static void check_glb(const orf_mesh *m, const uint8_t *b, size_t n) {
  size_t v = m->vertex_count, f = m->face_count;
  CHECK(n >= 28 && n % 4 == 0);
  CHECK(memcmp(b, "glTF", 4) == 0 && le32(b + 4) == 2 && le32(b + 8) == n);
  size_t jl = le32(b + 12);
  CHECK(memcmp(b + 16, "JSON", 4) == 0 && jl % 4 == 0 && jl > 0 && 20 + jl + 8 <= n);
  size_t bl = le32(b + 20 + jl);
  CHECK(memcmp(b + 24 + jl, "BIN\0", 4) == 0 && bl % 4 == 0 && 28 + jl + bl == n);
  CHECK(bl == (m->colors ? 36 : 24) * v + 12 * f);
  const uint8_t *bin = b + 28 + jl;

  json_error_t err;
  json_t *root = json_loadb((const char *)b + 20, jl, 0, &err);
  CHECK(root != NULL);
  json_t *acc = json_object_get(root, "accessors"), *views = json_object_get(root, "bufferViews");
  CHECK(json_is_array(acc) && json_is_array(views));
  size_t na = json_array_size(acc);
  CHECK(na == (m->colors ? 4u : 3u) && json_array_size(views) == na);
  json_t *buffers = json_object_get(root, "buffers");
  CHECK(json_array_size(buffers) == 1 && json_size(json_array_get(buffers, 0), "byteLength") == bl);
  for (size_t i = 0; i < na; i++) {
    json_t *bv = json_array_get(views, i);
    size_t off = json_size(bv, "byteOffset"), len = json_size(bv, "byteLength");
    CHECK(off % 4 == 0 && off <= bl && len <= bl - off);
    json_t *a = json_array_get(acc, i);
    CHECK(json_size(a, "bufferView") == i);
    CHECK(json_size(a, "count") == (i + 1 == na ? 3 * f : v));
    CHECK(len == (i + 1 == na ? 12 * f : 12 * v));
  }
  /* POSITION: (x, y, z) mm -> (x, z, -y) / 1000 m, bounds exact. */
  json_t *pv = json_array_get(views, 0), *pa = json_array_get(acc, 0);
  const uint8_t *pos = bin + json_size(pv, "byteOffset");
  float lo[3], hi[3];
  for (size_t i = 0; i < v; i++) {
    const float *p = m->positions + 3 * i;
    float q[3] = {(float)(p[0] / 1000.0), (float)(p[2] / 1000.0), (float)(-p[1] / 1000.0)};
    for (int k = 0; k < 3; k++) {
      float w = lef32(pos + 12 * i + 4 * k);
      CHECK(memcmp(&w, &q[k], sizeof w) == 0);
      if (i == 0 || w < lo[k]) lo[k] = w;
      if (i == 0 || w > hi[k]) hi[k] = w;
    }
  }
  json_t *jmin = json_object_get(pa, "min"), *jmax = json_object_get(pa, "max");
  CHECK(json_array_size(jmin) == 3 && json_array_size(jmax) == 3);
  for (int k = 0; k < 3; k++) {
    CHECK((float)json_number_value(json_array_get(jmin, (size_t)k)) == lo[k]);
    CHECK((float)json_number_value(json_array_get(jmax, (size_t)k)) == hi[k]);
  }
  /* NORMAL: finite, unit or zero. */
  const uint8_t *nrm = bin + json_size(json_array_get(views, 1), "byteOffset");
  for (size_t i = 0; i < v; i++) {
    double len = 0;
    for (int k = 0; k < 3; k++) {
      float c = lef32(nrm + 12 * i + 4 * k);
      CHECK(isfinite(c));
      len += (double)c * c;
    }
    CHECK(len == 0 || fabs(len - 1) < 1e-4);
  }
  /* indices */
  const uint8_t *idx = bin + json_size(json_array_get(views, na - 1), "byteOffset");
  for (size_t i = 0; i < 3 * f; i++)
    CHECK(le32(idx + 4 * i) == m->indices[i]);
  json_decref(root);
}

/* Reads `<tag ... name="value"` attributes in order: returns the text after
 * the value and puts the value's start in *value, or NULL. */
static const char *attr(const char *s, const char *name, const char **value) {
  char key[8];
  snprintf(key, sizeof key, " %s=\"", name);
  const char *k = strstr(s, key);
  if (!k) return NULL;
  *value = k + strlen(key);
  return *value;
}

static void check_3mf(const orf_mesh *m, const uint8_t *out, size_t n) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(out, n, 0, &ze);
  CHECK(src != NULL);
  zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
  CHECK(za != NULL);
  static const char *const kParts[3] = {"[Content_Types].xml", "_rels/.rels", "3D/3dmodel.model"};
  CHECK(zip_get_num_entries(za, 0) == 3);
  for (int i = 0; i < 3; i++)
    CHECK(strcmp(zip_get_name(za, (zip_uint64_t)i, 0), kParts[i]) == 0);
  zip_stat_t st;
  CHECK(zip_stat_index(za, 2, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE));
  char *xml = malloc(st.size + 1);
  CHECK(xml != NULL);
  zip_file_t *zf = zip_fopen_index(za, 2, 0);
  CHECK(zf != NULL && zip_fread(zf, xml, st.size) == (zip_int64_t)st.size);
  zip_fclose(zf);
  xml[st.size] = 0;
  CHECK(strstr(xml, "unit=\"millimeter\"") != NULL);
  const char *p = xml, *v;
  for (size_t i = 0; i < m->vertex_count; i++) {
    p = strstr(p, "<vertex ");
    CHECK(p != NULL);
    static const char *const kXyz[3] = {"x", "y", "z"};
    for (int a = 0; a < 3; a++) {
      CHECK((p = attr(p, kXyz[a], &v)) != NULL);
      float f = strtof(v, NULL), want = m->positions[3 * i + (size_t)a];
      CHECK(memcmp(&f, &want, sizeof f) == 0);
    }
  }
  CHECK(strstr(p, "<vertex ") == NULL);
  for (size_t t = 0; t < m->face_count; t++) {
    p = strstr(p, "<triangle ");
    CHECK(p != NULL);
    static const char *const kV[3] = {"v1", "v2", "v3"};
    for (int k = 0; k < 3; k++) {
      CHECK((p = attr(p, kV[k], &v)) != NULL);
      CHECK(strtoul(v, NULL, 10) == m->indices[3 * t + (size_t)k]);
    }
  }
  CHECK(strstr(p, "<triangle ") == NULL);
  free(xml);
  zip_close(za);
}

/* ---- the harness -------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  orf_memtrack track = {0};
  orf_memtrack *old = orf_memtrack_set(&track);
  reader r = {data, size, 0, 0};
  uint8_t flags = rd_byte(&r);
  int colors = flags & 1;
  r.raw = (flags >> 1) & 1;

  orf_mesh m = {0};
  int rc = (flags & 4) ? build_sphere(&m, &r, colors) : build_tets(&m, &r, colors);
  if (rc) goto out; /* out of memory: nothing to check */
  if (colors)
    for (size_t i = 0; i < 3 * m.vertex_count; i++)
      m.colors[i] = rd_byte(&r);

  /* The mesh is what it claims: closed and consistently oriented. */
  orf_mesh_report rep;
  CHECK(orf_mesh_check(&m, &rep) == ORF_OK);
  CHECK(rep.boundary_edges == 0 && rep.misoriented_edges == 0 && rep.nonmanifold_edges == 0);

  static const orf_format formats[] = {ORF_FMT_STL, ORF_FMT_OBJ, ORF_FMT_PLY, ORF_FMT_GLB, ORF_FMT_3MF};
  for (size_t k = 0; k < sizeof formats / sizeof *formats; k++) {
    uint8_t *out, *again;
    size_t n, n2;
    if (formats[k] == ORF_FMT_3MF && m.face_count == 0) {
      CHECK(orf_export(&m, formats[k], &out, &n) == ORF_EINVAL);
      continue;
    }
    CHECK(orf_export(&m, formats[k], &out, &n) == ORF_OK);
    switch (formats[k]) {
    case ORF_FMT_STL: check_stl(&m, out, n); break;
    case ORF_FMT_OBJ: check_obj(&m, out, n); break;
    case ORF_FMT_PLY: check_ply(&m, out, n); break;
    case ORF_FMT_3MF: check_3mf(&m, out, n); break;
    default: check_glb(&m, out, n); break;
    }
    /* The same mesh gives the same bytes. */
    CHECK(orf_export(&m, formats[k], &again, &n2) == ORF_OK);
    CHECK(n2 == n && memcmp(out, again, n) == 0);
    orf_buffer_free(again);
    orf_buffer_free(out);
  }
out:
  orf_mesh_free(&m);
  orf_memtrack_set(old);
  CHECK(atomic_load(&track.current) == 0);
  return 0;
}
