/*
 * test_export.c - the mesh writers (binary STL, OBJ, binary PLY, GLB) and
 * orf_export / orf_export_file.  Every file is parsed back here by a small
 * reader of its own and compared with the mesh: counts, coordinates,
 * colours, indices, normals, and for GLB the container, the JSON (read with
 * jansson) and the mm Z-up -> m Y-up conversion.  Also: determinism, atomic
 * file writing, error codes and out-of-memory paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <meshoptimizer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "export.h"
#include "mesh.h"
#include "orfeas.h"
#include "testutil.h"

/* ---- meshes ------------------------------------------------------------ */

/* The box [-5,15] x [-10,20] x [0,40] mm: asymmetric so that an axis swap
 * shows.  Faces counter-clockwise seen from outside. */
static const float box_lo[3] = {-5, -10, 0}, box_hi[3] = {15, 20, 40};

static void make_cube(orf_mesh *m, int colors) {
  assert_int_equal(orf_mesh_alloc(m, 8, 12, colors), ORF_OK);
  for (int v = 0; v < 8; v++) {
    m->positions[3 * v + 0] = (v & 1) ? box_hi[0] : box_lo[0];
    m->positions[3 * v + 1] = (v & 2) ? box_hi[1] : box_lo[1];
    m->positions[3 * v + 2] = (v & 4) ? box_hi[2] : box_lo[2];
    if (colors) {
      m->colors[3 * v + 0] = (uint8_t)(v * 36);
      m->colors[3 * v + 1] = (uint8_t)(255 - v * 30);
      m->colors[3 * v + 2] = (uint8_t)(v == 3 ? 1 : v * 7);
    }
  }
  static const uint32_t f[36] = {0, 2, 3, 0, 3, 1,  /* z- */
                                 4, 5, 7, 4, 7, 6,  /* z+ */
                                 0, 1, 5, 0, 5, 4,  /* y- */
                                 2, 6, 7, 2, 7, 3,  /* y+ */
                                 0, 4, 6, 0, 6, 2,  /* x- */
                                 1, 3, 7, 1, 7, 5}; /* x+ */
  memcpy(m->indices, f, sizeof f);
}

/* Signed volume (positive when faces are oriented outward). */
static double signed_volume(const float *pos, const uint32_t *idx, size_t faces) {
  double vol = 0;
  for (size_t f = 0; f < faces; f++) {
    const float *a = pos + 3 * idx[3 * f], *b = pos + 3 * idx[3 * f + 1], *c = pos + 3 * idx[3 * f + 2];
    vol += (a[0] * ((double)b[1] * c[2] - (double)b[2] * c[1]) -
            a[1] * ((double)b[0] * c[2] - (double)b[2] * c[0]) +
            a[2] * ((double)b[0] * c[1] - (double)b[1] * c[0])) /
           6.0;
  }
  return vol;
}

/* An icosahedron subdivided `level` times, projected on a sphere of radius
 * r mm around `centre`; colours from the direction when asked. */
static const float sphere_c[3] = {3, -7, 25};
static const float sphere_r = 12.5f;

typedef struct {
  float *p;
  uint32_t *t;
  size_t nv, nf, cap_v, cap_f;
  uint32_t *edge_a, *edge_b, *edge_mid;
  size_t ne;
} growing;

static uint32_t add_vertex(growing *g, const double d[3]) {
  double len = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  for (int k = 0; k < 3; k++)
    g->p[3 * g->nv + k] = (float)(d[k] / len);
  return (uint32_t)g->nv++;
}

static uint32_t midpoint(growing *g, uint32_t a, uint32_t b) {
  uint32_t lo = a < b ? a : b, hi = a < b ? b : a;
  for (size_t e = 0; e < g->ne; e++)
    if (g->edge_a[e] == lo && g->edge_b[e] == hi) return g->edge_mid[e];
  double d[3];
  for (int k = 0; k < 3; k++)
    d[k] = ((double)g->p[3 * a + k] + g->p[3 * b + k]) / 2;
  uint32_t m = add_vertex(g, d);
  g->edge_a[g->ne] = lo;
  g->edge_b[g->ne] = hi;
  g->edge_mid[g->ne++] = m;
  return m;
}

static void make_icosphere(orf_mesh *m, int level, int colors) {
  size_t nf = 20, nv = 12;
  for (int l = 0; l < level; l++) {
    nv += nf * 3 / 2;
    nf *= 4;
  }
  growing g = {0};
  g.p = malloc(nv * 3 * sizeof(float));
  g.t = malloc(nf * 3 * sizeof(uint32_t));
  g.edge_a = malloc(nf * 3 * sizeof(uint32_t));
  g.edge_b = malloc(nf * 3 * sizeof(uint32_t));
  g.edge_mid = malloc(nf * 3 * sizeof(uint32_t));
  assert_true(g.p && g.t && g.edge_a && g.edge_b && g.edge_mid);
  const double t = (1 + sqrt(5.0)) / 2;
  const double ico_v[12][3] = {{-1, t, 0},  {1, t, 0},  {-1, -t, 0}, {1, -t, 0}, {0, -1, t},  {0, 1, t},
                               {0, -1, -t}, {0, 1, -t}, {t, 0, -1},  {t, 0, 1},  {-t, 0, -1}, {-t, 0, 1}};
  const uint32_t ico_f[60] = {0, 11, 5,  0, 5,  1, 0, 1, 7, 0, 7,  10, 0, 10, 11, 1, 5, 9, 5, 11,
                              4, 11, 10, 2, 10, 7, 6, 7, 1, 8, 3,  9,  4, 3,  4,  2, 3, 2, 6, 3,
                              6, 8,  3,  8, 9,  4, 9, 5, 2, 4, 11, 6,  2, 10, 8,  6, 7, 9, 8, 1};
  for (int i = 0; i < 12; i++)
    add_vertex(&g, ico_v[i]);
  memcpy(g.t, ico_f, sizeof ico_f);
  g.nf = 20;
  for (int l = 0; l < level; l++) {
    uint32_t *nt = malloc(g.nf * 4 * 3 * sizeof(uint32_t));
    assert_non_null(nt);
    g.ne = 0;
    for (size_t f = 0; f < g.nf; f++) {
      uint32_t a = g.t[3 * f], b = g.t[3 * f + 1], c = g.t[3 * f + 2];
      uint32_t ab = midpoint(&g, a, b), bc = midpoint(&g, b, c), ca = midpoint(&g, c, a);
      uint32_t q[12] = {a, ab, ca, b, bc, ab, c, ca, bc, ab, bc, ca};
      memcpy(nt + 12 * f, q, sizeof q);
    }
    memcpy(g.t, nt, g.nf * 4 * 3 * sizeof(uint32_t));
    g.nf *= 4;
    free(nt);
  }
  assert_int_equal(g.nv, nv);
  assert_int_equal(orf_mesh_alloc(m, nv, nf, colors), ORF_OK);
  for (size_t v = 0; v < nv; v++) {
    for (int k = 0; k < 3; k++)
      m->positions[3 * v + k] = sphere_c[k] + sphere_r * g.p[3 * v + k];
    if (colors)
      for (int k = 0; k < 3; k++)
        m->colors[3 * v + k] = (uint8_t)lrint((g.p[3 * v + k] + 1) * 127.5);
  }
  memcpy(m->indices, g.t, nf * 3 * sizeof(uint32_t));
  free(g.p);
  free(g.t);
  free(g.edge_a);
  free(g.edge_b);
  free(g.edge_mid);
  /* the icosahedron above is wound outward */
  assert_true(signed_volume(m->positions, m->indices, m->face_count) > 0);
}

/* ---- little readers ----------------------------------------------------- */

static uint32_t rd_u32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static float rd_f32(const uint8_t *p) {
  uint32_t u = rd_u32(p);
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static int same_float(float a, float b) { return memcmp(&a, &b, 4) == 0; }

static int contains(const uint8_t *d, size_t size, const char *s) {
  return memmem(d, size, s, strlen(s)) != NULL;
}

static void export_ok(const orf_mesh *m, orf_format f, uint8_t **data, size_t *size) {
  assert_int_equal(orf_export(m, f, data, size), ORF_OK);
  assert_non_null(*data);
  assert_true(*size > 0);
}

/* ---- STL ---------------------------------------------------------------- */

static void check_stl(const orf_mesh *m, const uint8_t *d, size_t size, const float centre[3]) {
  size_t t = m->face_count;
  assert_int_equal(size, 84 + 50 * t);
  assert_true(strncmp((const char *)d, "solid", 5) != 0);
  assert_memory_equal(d, "ORFEAS", 6);
  assert_int_equal(rd_u32(d + 80), t);
  for (size_t f = 0; f < t; f++) {
    const uint8_t *r = d + 84 + 50 * f;
    float n[3], p[3][3];
    for (int k = 0; k < 3; k++)
      n[k] = rd_f32(r + 4 * k);
    for (int v = 0; v < 3; v++)
      for (int k = 0; k < 3; k++) {
        p[v][k] = rd_f32(r + 12 + 12 * v + 4 * k);
        assert_true(same_float(p[v][k], m->positions[3 * m->indices[3 * f + v] + k]));
      }
    assert_int_equal(r[48] | r[49] << 8, 0);
    double len = sqrt((double)n[0] * n[0] + (double)n[1] * n[1] + (double)n[2] * n[2]);
    assert_true(fabs(len - 1) < 1e-6);
    /* outward: the normal points away from the centre of a convex solid */
    double out = 0;
    for (int k = 0; k < 3; k++)
      out += n[k] * ((p[0][k] + p[1][k] + p[2][k]) / 3 - centre[k]);
    assert_true(out > 0);
    /* and agrees with the winding */
    double u[3], w[3];
    for (int k = 0; k < 3; k++)
      u[k] = p[1][k] - p[0][k], w[k] = p[2][k] - p[0][k];
    double c[3] = {u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]};
    double cl = sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
    for (int k = 0; k < 3; k++)
      assert_true(fabs(c[k] / cl - n[k]) < 1e-6);
  }
}

static void test_stl(void **state) {
  (void)state;
  orf_mesh m;
  uint8_t *d;
  size_t size;
  const float box_c[3] = {(box_lo[0] + box_hi[0]) / 2, (box_lo[1] + box_hi[1]) / 2,
                          (box_lo[2] + box_hi[2]) / 2};
  make_cube(&m, 1);
  assert_true(signed_volume(m.positions, m.indices, m.face_count) > 0);
  export_ok(&m, ORF_FMT_STL, &d, &size);
  check_stl(&m, d, size, box_c);
  /* the cube's normals are exactly the axes */
  for (size_t f = 0; f < 12; f++) {
    const uint8_t *r = d + 84 + 50 * f;
    int axis = 2 - (int)(f / 4); /* z, y, x */
    float sign = (f / 2) % 2 ? 1.0f : -1.0f;
    for (int k = 0; k < 3; k++)
      assert_true(rd_f32(r + 4 * k) == (k == axis ? sign : 0.0f));
  }
  orf_buffer_free(d);
  orf_mesh_free(&m);

  make_icosphere(&m, 2, 0);
  export_ok(&m, ORF_FMT_STL, &d, &size);
  check_stl(&m, d, size, sphere_c);
  orf_buffer_free(d);

  /* a degenerate face (two equal corners) gets the normal (0, 0, 0) */
  m.indices[1] = m.indices[0];
  export_ok(&m, ORF_FMT_STL, &d, &size);
  for (int k = 0; k < 3; k++)
    assert_true(rd_f32(d + 84 + 4 * k) == 0.0f);
  orf_buffer_free(d);
  orf_mesh_free(&m);
}

/* ---- OBJ ---------------------------------------------------------------- */

static void check_obj(const orf_mesh *m, const uint8_t *d, size_t size) {
  char *text = malloc(size + 1);
  assert_non_null(text);
  memcpy(text, d, size);
  text[size] = 0;
  assert_true(size > 0 && text[size - 1] == '\n');
  assert_true(strncmp(text, "# ORFEAS " ORF_VERSION, strlen("# ORFEAS " ORF_VERSION)) == 0);
  size_t nv = 0, nf = 0;
  char *save = NULL;
  for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') {
      assert_int_equal(nv + nf, 0); /* comments only at the top */
      continue;
    }
    char *end;
    if (line[0] == 'v' && line[1] == ' ') {
      assert_true(nv < m->vertex_count);
      assert_int_equal(nf, 0);
      char *s = line + 2;
      for (int k = 0; k < 3; k++) {
        float x = strtof(s, &end);
        assert_true(end != s);
        /* %.9g reads back as the very same float */
        assert_true(same_float(x, m->positions[3 * nv + k]));
        s = end;
      }
      if (m->colors) {
        for (int k = 0; k < 3; k++) {
          double c = strtod(s, &end);
          assert_true(end != s);
          assert_true(c >= 0 && c <= 1);
          assert_int_equal(lrint(c * 255), m->colors[3 * nv + k]);
          assert_true(fabs(c - m->colors[3 * nv + k] / 255.0) < 1e-4);
          s = end;
        }
      }
      assert_int_equal(*s, 0);
      nv++;
    } else if (line[0] == 'f' && line[1] == ' ') {
      assert_true(nf < m->face_count);
      char *s = line + 2;
      for (int k = 0; k < 3; k++) {
        unsigned long i = strtoul(s, &end, 10);
        assert_true(end != s);
        assert_int_equal(i, (unsigned long)m->indices[3 * nf + k] + 1);
        s = end;
      }
      assert_int_equal(*s, 0);
      nf++;
    } else {
      fail_msg("unexpected OBJ line: %s", line);
    }
  }
  assert_int_equal(nv, m->vertex_count);
  assert_int_equal(nf, m->face_count);
  free(text);
}

static void test_obj(void **state) {
  (void)state;
  for (int colors = 0; colors < 2; colors++) {
    orf_mesh m;
    uint8_t *d;
    size_t size;
    make_cube(&m, colors);
    /* values that need all nine digits, and tiny / huge ones */
    m.positions[0] = 0.1f;
    m.positions[1] = -123.456787f;
    m.positions[2] = 1e-7f;
    m.positions[3] = 987654.3f;
    export_ok(&m, ORF_FMT_OBJ, &d, &size);
    check_obj(&m, d, size);
    assert_true(contains(d, size, "\nv 0.100000001 -123.456787 1.00000001e-07"));
    orf_buffer_free(d);
    orf_mesh_free(&m);

    make_icosphere(&m, 3, colors);
    export_ok(&m, ORF_FMT_OBJ, &d, &size);
    check_obj(&m, d, size);
    orf_buffer_free(d);
    orf_mesh_free(&m);
  }
}

/* ---- PLY ---------------------------------------------------------------- */

static void check_ply(const orf_mesh *m, const uint8_t *d, size_t size) {
  char expect[1024];
  int n = snprintf(expect, sizeof expect,
                   "ply\nformat binary_little_endian 1.0\ncomment ORFEAS " ORF_VERSION
                   ", millimetres, Z up\nelement vertex %zu\nproperty float x\nproperty float y\n"
                   "property float z\n%selement face %zu\nproperty list uchar uint vertex_indices\n"
                   "end_header\n",
                   m->vertex_count,
                   m->colors ? "property uchar red\nproperty uchar green\nproperty uchar blue\n" : "",
                   m->face_count);
  assert_true(n > 0 && (size_t)n < sizeof expect);
  assert_true(size >= (size_t)n);
  assert_memory_equal(d, expect, (size_t)n);
  size_t vs = m->colors ? 15 : 12;
  assert_int_equal(size, (size_t)n + vs * m->vertex_count + 13 * m->face_count);
  const uint8_t *p = d + n;
  for (size_t v = 0; v < m->vertex_count; v++, p += vs) {
    for (int k = 0; k < 3; k++)
      assert_true(same_float(rd_f32(p + 4 * k), m->positions[3 * v + k]));
    if (m->colors) assert_memory_equal(p + 12, m->colors + 3 * v, 3);
  }
  for (size_t f = 0; f < m->face_count; f++, p += 13) {
    assert_int_equal(p[0], 3);
    for (int k = 0; k < 3; k++)
      assert_int_equal(rd_u32(p + 1 + 4 * k), m->indices[3 * f + k]);
  }
  assert_ptr_equal(p, d + size);
}

static void test_ply(void **state) {
  (void)state;
  for (int colors = 0; colors < 2; colors++) {
    orf_mesh m;
    uint8_t *d;
    size_t size;
    make_cube(&m, colors);
    export_ok(&m, ORF_FMT_PLY, &d, &size);
    check_ply(&m, d, size);
    orf_buffer_free(d);
    orf_mesh_free(&m);
    make_icosphere(&m, 2, colors);
    export_ok(&m, ORF_FMT_PLY, &d, &size);
    check_ply(&m, d, size);
    orf_buffer_free(d);
    orf_mesh_free(&m);
  }
}

/* ---- GLB ---------------------------------------------------------------- */

static json_t *jget(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!v) fail_msg("missing JSON key %s", key);
  return v;
}
static json_int_t jint(json_t *o, const char *key) {
  json_t *v = jget(o, key);
  assert_true(json_is_integer(v));
  return json_integer_value(v);
}

static double srgb_to_linear_ref(int c) {
  double s = c / 255.0;
  return s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4);
}

/* The accessor `a`'s data in the BIN chunk; checks its view's alignment and bounds. */
static const uint8_t *accessor_data(json_t *root, const uint8_t *bin, size_t bin_len, json_int_t a,
                                    int component, const char *type, size_t count, int target) {
  json_t *acc = json_array_get(jget(root, "accessors"), (size_t)a);
  assert_non_null(acc);
  assert_int_equal(jint(acc, "componentType"), component);
  assert_string_equal(json_string_value(jget(acc, "type")), type);
  assert_int_equal(jint(acc, "count"), count);
  json_int_t acc_off = json_object_get(acc, "byteOffset") ? jint(acc, "byteOffset") : 0;
  json_t *view = json_array_get(jget(root, "bufferViews"), (size_t)jint(acc, "bufferView"));
  assert_non_null(view);
  assert_int_equal(jint(view, "buffer"), 0);
  assert_int_equal(jint(view, "target"), target);
  assert_null(json_object_get(view, "byteStride")); /* tightly packed */
  json_int_t off = jint(view, "byteOffset") + acc_off, len = jint(view, "byteLength");
  assert_int_equal(off % 4, 0);
  int ncomp = strcmp(type, "VEC3") == 0 ? 3 : 1;
  assert_true((size_t)len >= count * ncomp * 4);
  assert_true((size_t)(off + len) <= bin_len);
  return bin + off;
}

static void check_glb(const orf_mesh *m, const uint8_t *d, size_t size, const float centre_mm[3]) {
  /* container */
  assert_true(size >= 28);
  assert_memory_equal(d, "glTF", 4);
  assert_int_equal(rd_u32(d + 4), 2);
  assert_int_equal(rd_u32(d + 8), size);
  uint32_t jlen = rd_u32(d + 12);
  assert_memory_equal(d + 16, "JSON", 4);
  assert_int_equal(jlen % 4, 0);
  assert_true(20 + (size_t)jlen + 8 <= size);
  const uint8_t *bhead = d + 20 + jlen;
  uint32_t blen = rd_u32(bhead);
  assert_memory_equal(bhead + 4, "BIN\0", 4);
  assert_int_equal(blen % 4, 0);
  assert_int_equal(20 + (size_t)jlen + 8 + blen, size);
  const uint8_t *bin = bhead + 8;

  json_error_t err;
  json_t *root = json_loadb((const char *)d + 20, jlen, 0, &err);
  if (!root) fail_msg("GLB JSON does not parse: %s", err.text);
  json_t *asset = jget(root, "asset");
  assert_string_equal(json_string_value(jget(asset, "version")), "2.0");
  assert_string_equal(json_string_value(jget(asset, "generator")), "ORFEAS " ORF_VERSION);
  json_t *buffer = json_array_get(jget(root, "buffers"), 0);
  assert_int_equal(json_array_size(jget(root, "buffers")), 1);
  assert_true(jint(buffer, "byteLength") <= blen && blen - jint(buffer, "byteLength") < 4);
  assert_int_equal(jint(root, "scene"), 0);
  json_t *node = json_array_get(jget(root, "nodes"), 0);
  assert_int_equal(jint(node, "mesh"), 0);
  assert_int_equal(json_array_size(jget(root, "meshes")), 1);
  json_t *prims = jget(json_array_get(jget(root, "meshes"), 0), "primitives");
  assert_int_equal(json_array_size(prims), 1);
  json_t *prim = json_array_get(prims, 0);
  assert_int_equal(jint(prim, "mode"), 4);
  json_t *mat = json_array_get(jget(root, "materials"), jint(prim, "material"));
  assert_non_null(mat);
  json_t *pbr = jget(mat, "pbrMetallicRoughness");
  assert_true(json_number_value(jget(pbr, "metallicFactor")) == 0);
  json_t *attrs = jget(prim, "attributes");
  size_t nv = m->vertex_count;

  /* POSITION: converted, with exact bounds */
  const uint8_t *pos = accessor_data(root, bin, blen, jint(attrs, "POSITION"), 5126, "VEC3", nv, 34962);
  json_t *acc = json_array_get(jget(root, "accessors"), jint(attrs, "POSITION"));
  float mn[3], mx[3];
  for (int k = 0; k < 3; k++) {
    mn[k] = INFINITY;
    mx[k] = -INFINITY;
  }
  float *q = malloc(nv * 3 * sizeof(float));
  assert_non_null(q);
  for (size_t v = 0; v < nv; v++) {
    const float *p = m->positions + 3 * v;
    const double want[3] = {p[0] / 1000.0, p[2] / 1000.0, -p[1] / 1000.0};
    for (int k = 0; k < 3; k++) {
      q[3 * v + k] = rd_f32(pos + 12 * v + 4 * k);
      assert_true(fabs(q[3 * v + k] - want[k]) <= 1e-7 * fmax(1, fabs(want[k])));
      mn[k] = fminf(mn[k], q[3 * v + k]);
      mx[k] = fmaxf(mx[k], q[3 * v + k]);
    }
  }
  for (int k = 0; k < 3; k++) {
    json_t *jmin = json_array_get(jget(acc, "min"), k), *jmax = json_array_get(jget(acc, "max"), k);
    assert_true(json_is_number(jmin) && json_is_number(jmax));
    assert_true((float)json_number_value(jmin) == mn[k]);
    assert_true((float)json_number_value(jmax) == mx[k]);
  }

  /* indices: the mesh's, unchanged (the rotation keeps the winding) */
  json_int_t ia = jint(prim, "indices");
  const uint8_t *idx = accessor_data(root, bin, blen, ia, 5125, "SCALAR", 3 * m->face_count, 34963);
  for (size_t i = 0; i < 3 * m->face_count; i++)
    assert_int_equal(rd_u32(idx + 4 * i), m->indices[i]);
  assert_true(signed_volume(q, m->indices, m->face_count) > 0);

  /* NORMAL: unit, outward from the centre (converted as the positions) */
  const float cq[3] = {centre_mm[0] / 1000, centre_mm[2] / 1000, -centre_mm[1] / 1000};
  const uint8_t *nrm = accessor_data(root, bin, blen, jint(attrs, "NORMAL"), 5126, "VEC3", nv, 34962);
  for (size_t v = 0; v < nv; v++) {
    double n[3], len = 0, out = 0;
    for (int k = 0; k < 3; k++) {
      n[k] = rd_f32(nrm + 12 * v + 4 * k);
      len += n[k] * n[k];
      out += n[k] * (q[3 * v + k] - cq[k]);
    }
    assert_true(fabs(sqrt(len) - 1) < 1e-5);
    assert_true(out > 0);
  }

  /* COLOR_0 exactly when the mesh has colours, linear */
  json_t *jc = json_object_get(attrs, "COLOR_0");
  if (!m->colors) {
    assert_null(jc);
  } else {
    assert_non_null(jc);
    const uint8_t *col = accessor_data(root, bin, blen, json_integer_value(jc), 5126, "VEC3", nv, 34962);
    for (size_t i = 0; i < 3 * nv; i++) {
      float c = rd_f32(col + 4 * i);
      assert_true(c >= 0 && c <= 1);
      assert_true(fabs(c - srgb_to_linear_ref(m->colors[i])) < 1e-6);
    }
  }
  free(q);
  json_decref(root);
}

static void test_glb(void **state) {
  (void)state;
  const float box_c[3] = {(box_lo[0] + box_hi[0]) / 2, (box_lo[1] + box_hi[1]) / 2,
                          (box_lo[2] + box_hi[2]) / 2};
  for (int colors = 0; colors < 2; colors++) {
    orf_mesh m;
    uint8_t *d;
    size_t size;
    make_cube(&m, colors);
    export_ok(&m, ORF_FMT_GLB, &d, &size);
    check_glb(&m, d, size, box_c);
    /* the cube's bounds, converted: x, z, -y in metres */
    assert_true(contains(d, size, "\"min\":[-0.00499999989,0,-0.0199999996]"));
    assert_true(contains(d, size, "\"max\":[0.0149999997,0.0399999991,0.00999999978]"));
    orf_buffer_free(d);
    orf_mesh_free(&m);
    make_icosphere(&m, 3, colors);
    export_ok(&m, ORF_FMT_GLB, &d, &size);
    check_glb(&m, d, size, sphere_c);
    orf_buffer_free(d);
    orf_mesh_free(&m);
  }
}

/* ---- all formats ---------------------------------------------------------- */

static const orf_format all_formats[4] = {ORF_FMT_GLB, ORF_FMT_STL, ORF_FMT_OBJ, ORF_FMT_PLY};

static int cmp_tri(const void *x, const void *y) { return memcmp(x, y, 3 * sizeof(uint32_t)); }

/* A compressed GLB (glb_meshopt.c) decoded with meshoptimizer's decoders
 * and compared with the mesh: the same triangles with the same winding,
 * positions within half a quantisation step (the bound orfeas.h states),
 * normals within 1/254, colours within 16-bit rounding, and much smaller
 * than the plain GLB.  Also the document's shape: both extensions
 * required, the fallback buffer without data, POSITION bounds in the
 * quantised units. */
static void check_glb_meshopt(const orf_mesh *m, const uint8_t *d, size_t size, size_t plain_size) {
  assert_true(size >= 28);
  assert_memory_equal(d, "glTF", 4);
  assert_int_equal(rd_u32(d + 8), size);
  uint32_t jlen = rd_u32(d + 12);
  const uint8_t *bhead = d + 20 + jlen, *bin = bhead + 8;
  uint32_t blen = rd_u32(bhead);
  assert_int_equal(20 + (size_t)jlen + 8 + blen, size);
  json_error_t err;
  json_t *root = json_loadb((const char *)d + 20, jlen, 0, &err);
  if (!root) fail_msg("GLB JSON does not parse: %s", err.text);
  json_t *req = jget(root, "extensionsRequired");
  assert_int_equal(json_array_size(req), 2);
  assert_string_equal(json_string_value(json_array_get(req, 0)), "EXT_meshopt_compression");
  assert_string_equal(json_string_value(json_array_get(req, 1)), "KHR_mesh_quantization");
  json_t *bufs = jget(root, "buffers");
  assert_int_equal(json_array_size(bufs), 2);
  assert_int_equal(jint(json_array_get(bufs, 0), "byteLength"), blen);
  assert_null(json_object_get(json_array_get(bufs, 1), "uri"));
  assert_true(json_is_true(
      jget(jget(jget(json_array_get(bufs, 1), "extensions"), "EXT_meshopt_compression"), "fallback")));
  json_t *node = json_array_get(jget(root, "nodes"), 0);
  double t[3], sc = json_number_value(json_array_get(jget(node, "scale"), 0));
  for (int k = 0; k < 3; k++)
    t[k] = json_number_value(json_array_get(jget(node, "translation"), k));
  json_t *prim = json_array_get(jget(json_array_get(jget(root, "meshes"), 0), "primitives"), 0);
  json_t *attrs = jget(prim, "attributes");

  /* decodes accessor a's view into a new array of count * stride bytes */
  size_t nv = 0;
  uint8_t *streams[4] = {0};
  const char *names[4] = {"POSITION", "NORMAL", "COLOR_0", NULL};
  for (int s = 0; s < 4; s++) {
    json_int_t a;
    if (names[s]) {
      json_t *ja = json_object_get(attrs, names[s]);
      if (!ja) continue;
      a = json_integer_value(ja);
    } else {
      a = jint(prim, "indices");
    }
    json_t *acc = json_array_get(jget(root, "accessors"), (size_t)a);
    json_t *view = json_array_get(jget(root, "bufferViews"), (size_t)jint(acc, "bufferView"));
    assert_int_equal(jint(view, "buffer"), 1);
    json_t *ext = jget(jget(view, "extensions"), "EXT_meshopt_compression");
    size_t count = (size_t)jint(ext, "count"), stride = (size_t)jint(ext, "byteStride");
    size_t off = (size_t)jint(ext, "byteOffset"), len = (size_t)jint(ext, "byteLength");
    assert_int_equal(count, jint(acc, "count"));
    assert_true(off + len <= blen);
    assert_int_equal(jint(view, "byteLength"), count * stride);
    streams[s] = malloc(count * stride);
    assert_non_null(streams[s]);
    const char *mode = json_string_value(jget(ext, "mode"));
    if (names[s]) {
      assert_string_equal(mode, "ATTRIBUTES");
      assert_int_equal(meshopt_decodeVertexBuffer(streams[s], count, stride, bin + off, len), 0);
      nv = count;
    } else {
      assert_string_equal(mode, "TRIANGLES");
      assert_int_equal(count, 3 * m->face_count);
      assert_int_equal(meshopt_decodeIndexBuffer(streams[s], count, stride, bin + off, len), 0);
    }
  }
  assert_int_equal(nv, m->vertex_count);
  assert_int_equal(!!streams[2], !!m->colors);

  /* each decoded vertex is the original vertex it dequantises nearest to
   * (the sphere's vertices are thousands of steps apart) */
  float *normals = malloc(3 * m->vertex_count * sizeof(float));
  int *orig = malloc(nv * sizeof(int));
  assert_true(normals && orig);
  orf_mesh_vertex_normals(m, normals);
  const uint16_t *qp = (const uint16_t *)streams[0];
  double worst = 0;
  for (size_t i = 0; i < nv; i++) {
    double p[3] = {t[0] + sc * qp[4 * i], t[1] + sc * qp[4 * i + 1], t[2] + sc * qp[4 * i + 2]};
    double best = INFINITY;
    orig[i] = -1;
    for (size_t v = 0; v < m->vertex_count; v++) {
      const float *o = m->positions + 3 * v;
      double g[3] = {o[0] / 1000.0, o[2] / 1000.0, -o[1] / 1000.0}, e = 0;
      for (int k = 0; k < 3; k++)
        e = fmax(e, fabs(p[k] - g[k]));
      if (e < best) best = e, orig[i] = (int)v;
    }
    worst = fmax(worst, best);
    const int8_t *n = (const int8_t *)streams[1] + 4 * i;
    const float *on = normals + 3 * orig[i], g[3] = {on[0], on[2], -on[1]};
    for (int k = 0; k < 3; k++)
      assert_true(fabs(n[k] / 127.0 - g[k]) <= 1 / 254.0 + 1e-6);
    if (streams[2]) {
      const uint16_t *c = (const uint16_t *)streams[2] + 4 * i;
      for (int k = 0; k < 3; k++)
        assert_true(fabs(c[k] / 65535.0 - srgb_to_linear_ref(m->colors[3 * orig[i] + k])) <= 1e-4);
    }
  }
  printf("  meshopt GLB: %zu bytes (plain %zu, %.1f%%), worst position error %.3g m, step %.3g m\n", size,
         plain_size, 100.0 * size / plain_size, worst, sc);
  assert_true(worst <= sc / 2 * 1.001 + 1e-9);
  assert_true(size * 3 < plain_size);

  /* the same triangles, winding kept: each as its original indices rotated
   * to start at the smallest, sorted, against the mesh's */
  size_t nf = m->face_count;
  uint32_t *a = malloc(3 * nf * sizeof *a), *b = malloc(3 * nf * sizeof *b);
  assert_true(a && b);
  const uint32_t *di = (const uint32_t *)streams[3];
  for (size_t f = 0; f < nf; f++) {
    uint32_t x[3] = {(uint32_t)orig[di[3 * f]], (uint32_t)orig[di[3 * f + 1]], (uint32_t)orig[di[3 * f + 2]]};
    const uint32_t *y = m->indices + 3 * f;
    int r = x[1] < x[0] && x[1] < x[2] ? 1 : x[2] < x[0] && x[2] < x[1] ? 2 : 0;
    int ry = y[1] < y[0] && y[1] < y[2] ? 1 : y[2] < y[0] && y[2] < y[1] ? 2 : 0;
    for (int k = 0; k < 3; k++) {
      a[3 * f + k] = x[(r + k) % 3];
      b[3 * f + k] = y[(ry + k) % 3];
    }
  }
  qsort(a, nf, 3 * sizeof *a, cmp_tri);
  qsort(b, nf, 3 * sizeof *b, cmp_tri);
  assert_memory_equal(a, b, 3 * nf * sizeof *a);
  free(a);
  free(b);
  free(orig);
  free(normals);
  for (int s = 0; s < 4; s++)
    free(streams[s]);
  json_decref(root);
}

/* *m's GLB compressed with c into *d (*size bytes), the same bytes twice;
 * no other format holds c. */
static void export_compressed(const orf_mesh *m, orf_compress c, uint8_t **d, size_t *size) {
  uint8_t *d2;
  size_t size2;
  assert_int_equal(orf_export_compressed(m, ORF_FMT_GLB, c, d, size), ORF_OK);
  assert_int_equal(orf_export_compressed(m, ORF_FMT_GLB, c, &d2, &size2), ORF_OK);
  assert_int_equal(*size, size2);
  assert_memory_equal(*d, d2, size2);
  orf_buffer_free(d2);
  for (int i = 0; i < 4; i++)
    if (all_formats[i] != ORF_FMT_GLB) {
      assert_int_equal(orf_export_compressed(m, all_formats[i], c, &d2, &size2), ORF_EINVAL);
      assert_null(d2);
    }
}

static void test_glb_meshopt(void **state) {
  (void)state;
  for (int colors = 0; colors < 2; colors++) {
    orf_mesh m;
    make_icosphere(&m, 4, colors);
    uint8_t *plain, *d, *d2;
    size_t plain_size, size, size2;
    export_ok(&m, ORF_FMT_GLB, &plain, &plain_size);
    export_compressed(&m, ORF_COMPRESS_MESHOPT, &d, &size);
    check_glb_meshopt(&m, d, size, plain_size);
    /* NONE is orf_export's bytes */
    assert_int_equal(orf_export_compressed(&m, ORF_FMT_GLB, ORF_COMPRESS_NONE, &d2, &size2), ORF_OK);
    assert_int_equal(size2, plain_size);
    assert_memory_equal(d2, plain, size2);
    orf_buffer_free(d2);
    if (getenv("ORF_KEEP_GLB")) {
      FILE *f = fopen(colors ? "/tmp/meshopt_c.glb" : "/tmp/meshopt.glb", "wb");
      fwrite(d, 1, size, f);
      fclose(f);
    }
    orf_buffer_free(d);
    orf_buffer_free(plain);
    orf_mesh_free(&m);
  }
  assert_string_equal(orf_compress_name(ORF_COMPRESS_MESHOPT), "meshopt");
  assert_string_equal(orf_compress_name(ORF_COMPRESS_NONE), "none");
}

/* The Draco GLB (glb_draco.c, draco.cpp): KHR_draco_mesh_compression
 * required, the primitive's accessors without buffer views (counts of the
 * decoded mesh: every vertex and face), its buffer view inside the BIN
 * chunk, COLOR_0 where the mesh has colours; the decoded positions' bounds
 * (which draco.cpp reads back from the decoder) within half a quantisation
 * step (14 bits over the longest side) of the uncompressed mesh's; smaller
 * than the plain GLB; the same bytes twice; GLB only (export_compressed). */
static void test_glb_draco(void **state) {
  (void)state;
  for (int colors = 0; colors < 2; colors++) {
    orf_mesh m;
    make_icosphere(&m, 4, colors);
    uint8_t *plain, *d;
    size_t plain_size, size;
    export_ok(&m, ORF_FMT_GLB, &plain, &plain_size);
    export_compressed(&m, ORF_COMPRESS_DRACO, &d, &size);
    assert_memory_equal(d, "glTF", 4);
    assert_int_equal(rd_u32(d + 8), size);
    uint32_t jlen = rd_u32(d + 12), blen = rd_u32(d + 20 + jlen);
    assert_int_equal(20 + (size_t)jlen + 8 + blen, size);
    json_error_t err;
    json_t *root = json_loadb((const char *)d + 20, jlen, 0, &err);
    if (!root) fail_msg("GLB JSON does not parse: %s", err.text);
    json_t *req = jget(root, "extensionsRequired");
    assert_int_equal(json_array_size(req), 1);
    assert_string_equal(json_string_value(json_array_get(req, 0)), "KHR_draco_mesh_compression");
    json_t *prim = json_array_get(jget(json_array_get(jget(root, "meshes"), 0), "primitives"), 0);
    json_t *ext = jget(jget(prim, "extensions"), "KHR_draco_mesh_compression");
    json_t *view = json_array_get(jget(root, "bufferViews"), jint(ext, "bufferView"));
    assert_true(jint(view, "byteOffset") + jint(view, "byteLength") <= blen);
    json_t *attrs = jget(ext, "attributes");
    assert_int_equal(json_object_size(attrs), colors ? 3 : 2);
    assert_int_equal(json_object_get(jget(prim, "attributes"), "COLOR_0") != NULL, colors);
    json_t *acc = jget(root, "accessors");
    for (size_t i = 0; i < json_array_size(acc); i++)
      assert_null(json_object_get(json_array_get(acc, i), "bufferView"));
    json_t *pa = json_array_get(acc, jint(jget(prim, "attributes"), "POSITION"));
    assert_int_equal(jint(pa, "count"), m.vertex_count);
    assert_int_equal(jint(json_array_get(acc, jint(prim, "indices")), "count"), 3 * m.face_count);
    float lo[3], hi[3];
    for (size_t i = 0; i < m.vertex_count; i++) {
      float q[3];
      orf_glb_position(m.positions + 3 * i, q);
      for (int a = 0; a < 3; a++) {
        if (!i || q[a] < lo[a]) lo[a] = q[a];
        if (!i || q[a] > hi[a]) hi[a] = q[a];
      }
    }
    double ext_m = fmax(hi[0] - lo[0], fmax(hi[1] - lo[1], hi[2] - lo[2]));
    double half = ext_m / ((1 << ORF_DRACO_POSITION_BITS) - 1) / 2, worst = 0;
    for (int a = 0; a < 3; a++) {
      worst = fmax(worst, fabs(json_number_value(json_array_get(jget(pa, "min"), a)) - lo[a]));
      worst = fmax(worst, fabs(json_number_value(json_array_get(jget(pa, "max"), a)) - hi[a]));
    }
    print_message("draco (colours %d): %zu bytes, plain %zu; bounds within %.3g m (half a step %.3g m)\n",
                  colors, size, plain_size, worst, half);
    assert_true(worst <= half * 1.001 + 1e-9);
    assert_true(size < plain_size / 3);
    json_decref(root);
    orf_buffer_free(d);
    orf_buffer_free(plain);
    orf_mesh_free(&m);
  }
  assert_string_equal(orf_compress_name(ORF_COMPRESS_DRACO), "draco");
}

static void test_deterministic(void **state) {
  (void)state;
  for (int colors = 0; colors < 2; colors++) {
    orf_mesh m, c;
    make_icosphere(&m, 3, colors);
    assert_int_equal(orf_mesh_copy(&c, &m), ORF_OK);
    for (int i = 0; i < 4; i++) {
      uint8_t *a, *b;
      size_t na, nb;
      export_ok(&m, all_formats[i], &a, &na);
      export_ok(&c, all_formats[i], &b, &nb);
      assert_int_equal(na, nb);
      assert_memory_equal(a, b, na);
      orf_buffer_free(a);
      orf_buffer_free(b);
    }
    orf_mesh_free(&m);
    orf_mesh_free(&c);
  }
}

static void test_invalid(void **state) {
  (void)state;
  orf_mesh m;
  uint8_t *d = (uint8_t *)&m;
  size_t size = 7;
  make_cube(&m, 1);
  size_t faces = m.face_count;
  m.face_count = 0;
  for (int i = 0; i < 4; i++) {
    assert_int_equal(orf_export(&m, all_formats[i], &d, &size), ORF_EINVAL);
    assert_null(d);
    assert_int_equal(size, 0);
  }
  assert_int_equal(orf_export(&m, ORF_FMT_3MF, &d, &size), ORF_EINVAL);
  /* the writers refuse it too when called directly */
  orf_buf b = {0};
  assert_int_equal(orf_write_stl(&m, &b), ORF_EINVAL);
  assert_int_equal(orf_write_obj(&m, NULL, NULL, &b), ORF_EINVAL);
  assert_int_equal(orf_write_ply(&m, &b), ORF_EINVAL);
  assert_int_equal(orf_write_glb(&m, NULL, &b), ORF_EINVAL);
  assert_int_equal(b.len, 0);
  orf_buf_free(&b);
  m.face_count = faces;

  assert_int_equal(orf_export(&m, (orf_format)99, &d, &size), ORF_EINVAL);
  assert_int_equal(orf_export(&m, ORF_FMT_STL, NULL, &size), ORF_EINVAL);
  assert_int_equal(orf_export(NULL, ORF_FMT_STL, &d, &size), ORF_EINVAL);
  m.indices[5] = 8; /* out of range */
  assert_int_equal(orf_export(&m, ORF_FMT_GLB, &d, &size), ORF_EINVAL);
  m.indices[5] = 1;
  m.positions[4] = NAN;
  assert_int_equal(orf_export(&m, ORF_FMT_GLB, &d, &size), ORF_EINVAL);
  m.positions[4] = INFINITY;
  assert_int_equal(orf_export(&m, ORF_FMT_OBJ, &d, &size), ORF_EINVAL);
  m.positions[4] = 0;
  export_ok(&m, ORF_FMT_GLB, &d, &size);
  orf_buffer_free(d);
  orf_mesh_free(&m);
}

/* Number of entries of a directory (without . and ..). */
static int dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* Every allocation of every writer may fail: the result is ORF_ENOMEM with
 * nothing left allocated, and the export works once memory is there. */
static void test_out_of_memory(void **state) {
  (void)state;
  orf_mesh m;
  make_icosphere(&m, 2, 1);
  for (int i = 0; i < 4; i++) {
    int failures = 0;
    for (long k = 1;; k++) {
      orf_memtrack t = {0};
      atomic_store(&t.fail_after, k);
      orf_memtrack *old = orf_memtrack_set(&t);
      uint8_t *d = NULL;
      size_t size = 0;
      int rc = orf_export(&m, all_formats[i], &d, &size);
      if (rc == ORF_OK) orf_buffer_free(d);
      orf_memtrack_set(old);
      assert_int_equal(atomic_load(&t.current), 0);
      if (rc == ORF_OK) break;
      assert_int_equal(rc, ORF_ENOMEM);
      assert_null(d);
      failures++;
      assert_true(k < 100);
    }
    assert_true(failures >= 1);
  }
  /* orf_export_file: a failure leaves no file, temporary or final */
  char dir[] = "/tmp/orf_test_export_XXXXXX", path[256];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/model.stl", dir);
  for (long k = 1;; k++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, k);
    orf_memtrack *old = orf_memtrack_set(&t);
    int rc = orf_export_file(&m, ORF_FMT_STL, path);
    orf_memtrack_set(old);
    assert_int_equal(atomic_load(&t.current), 0);
    if (rc == ORF_OK) break;
    assert_int_equal(rc, ORF_ENOMEM);
    assert_int_equal(dir_entries(dir), 0);
    assert_true(k < 100);
  }
  assert_int_equal(dir_entries(dir), 1);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
  orf_mesh_free(&m);
}

/* ---- files ---------------------------------------------------------------- */

static void test_export_file(void **state) {
  (void)state;
  char dir[] = "/tmp/orf_test_export_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/model.glb", dir);
  orf_mesh m;
  make_icosphere(&m, 2, 1);
  for (int i = 0; i < 4; i++) {
    /* the same path each time: later exports replace the file */
    assert_int_equal(orf_export_file(&m, all_formats[i], path), ORF_OK);
    uint8_t *want, *got;
    size_t nwant, ngot;
    export_ok(&m, all_formats[i], &want, &nwant);
    got = tu_read_file(path, &ngot);
    assert_non_null(got);
    assert_int_equal(ngot, nwant);
    assert_memory_equal(got, want, nwant);
    free(got);
    orf_buffer_free(want);
    assert_int_equal(dir_entries(dir), 1); /* no temporary file left */
  }

  /* errors leave nothing behind and do not touch an existing file */
  struct stat before, after;
  assert_int_equal(stat(path, &before), 0);
  orf_mesh empty = m;
  empty.face_count = 0;
  assert_int_equal(orf_export_file(&empty, ORF_FMT_STL, path), ORF_EINVAL);
  assert_int_equal(orf_export_file(&empty, ORF_FMT_3MF, path), ORF_EINVAL);
  assert_int_equal(stat(path, &after), 0);
  assert_int_equal(after.st_size, before.st_size);
  assert_int_equal(dir_entries(dir), 1);

  /* rename onto a directory fails after the temporary file was written:
   * it must be removed */
  char sub[300];
  snprintf(sub, sizeof sub, "%s/sub", dir);
  assert_int_equal(mkdir(sub, 0700), 0);
  assert_int_equal(orf_export_file(&m, ORF_FMT_PLY, sub), ORF_EIO);
  assert_int_equal(dir_entries(dir), 2);
  assert_int_equal(dir_entries(sub), 0);
  assert_int_equal(rmdir(sub), 0);

  /* unwritable or missing directories */
  assert_int_equal(orf_export_file(&m, ORF_FMT_STL, "/proc/orf_test_export.stl"), ORF_EIO);
  assert_int_equal(access("/proc/orf_test_export.stl", F_OK), -1);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/no/such/dir/model.stl", dir);
  assert_int_equal(orf_export_file(&m, ORF_FMT_STL, missing), ORF_EIO);
  assert_int_equal(dir_entries(dir), 1);
  assert_int_equal(orf_export_file(&m, ORF_FMT_STL, ""), ORF_EINVAL);
  assert_int_equal(orf_export_file(&m, ORF_FMT_STL, NULL), ORF_EINVAL);

  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
  orf_mesh_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stl),           cmocka_unit_test(test_obj),
      cmocka_unit_test(test_ply),           cmocka_unit_test(test_glb),
      cmocka_unit_test(test_glb_meshopt),   cmocka_unit_test(test_glb_draco),
      cmocka_unit_test(test_deterministic), cmocka_unit_test(test_invalid),
      cmocka_unit_test(test_out_of_memory), cmocka_unit_test(test_export_file),
  };
  return cmocka_run_group_tests_name("export", tests, NULL, NULL);
}
