/*
 * test_threemf.c - the 3MF writer (src/export/threemf.c) against the 3MF
 * Core Specification 1.3 and the Materials extension's colour group.  The
 * package is read back with libzip and its XML with libxml2 (a real parser:
 * well-formedness and namespaces are checked, not just text), then compared
 * with the mesh: the three parts and their content types, the relationship
 * to the model, unit="millimeter", vertex and triangle counts, every
 * coordinate read back as the same float, every index as written and in
 * range, the colour group (each corner's colour within the quantisation
 * step of its vertex colour, p1 alone only for one-colour triangles), fixed
 * zip times and compression, byte-identical output twice and in another
 * time zone, and the out-of-memory and invalid-mesh paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "alloc.h"
#include "export.h"
#include "mesh.h"
#include "meshgen.h"
#include "orfeas.h"
#include "testutil.h"

#define NS_CORE "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
#define NS_MATERIAL "http://schemas.microsoft.com/3dmanufacturing/material/2015/02"
#define NS_TYPES "http://schemas.openxmlformats.org/package/2006/content-types"
#define NS_RELS "http://schemas.openxmlformats.org/package/2006/relationships"
#define REL_3DMODEL "http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"
#define CT_RELS "application/vnd.openxmlformats-package.relationships+xml"
#define CT_MODEL "application/vnd.ms-package.3dmanufacturing-3dmodel+xml"
#define QSTEP_HALF 4.2 /* half of 255/31, the quantisation step of a channel */

/* ---- reading the package back -------------------------------------------- */

static uint8_t *export_3mf(const orf_mesh *m, size_t *size) {
  uint8_t *d = NULL;
  assert_int_equal(orf_export(m, ORF_FMT_3MF, &d, size), ORF_OK);
  assert_non_null(d);
  return d;
}

static zip_t *open_zip(const uint8_t *d, size_t size) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(d, size, 0, &ze);
  assert_non_null(src);
  zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
  if (!za) fail_msg("not a zip: %s", zip_error_strerror(&ze));
  zip_error_fini(&ze);
  return za;
}

/* The whole of entry `name` (NUL-terminated; free()). */
static char *read_part(zip_t *za, const char *name, size_t *len) {
  zip_stat_t st;
  if (zip_stat(za, name, 0, &st)) fail_msg("no part %s", name);
  zip_file_t *f = zip_fopen(za, name, 0);
  assert_non_null(f);
  char *s = malloc(st.size + 1);
  assert_non_null(s);
  assert_int_equal(zip_fread(f, s, st.size), (zip_int64_t)st.size);
  zip_fclose(f);
  s[st.size] = 0;
  if (len) *len = st.size;
  return s;
}

static xmlDoc *parse_part(zip_t *za, const char *name) {
  size_t len;
  char *s = read_part(za, name, &len);
  xmlDoc *doc = xmlReadMemory(s, (int)len, name, NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
  free(s);
  if (!doc) fail_msg("%s is not well-formed XML", name);
  return doc;
}

static int is(const xmlNode *n, const char *name, const char *ns) {
  return n && n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name) && n->ns &&
         !strcmp((const char *)n->ns->href, ns);
}

/* The first child element named `name` in namespace ns (NULL if none). */
static xmlNode *child(const xmlNode *n, const char *name, const char *ns) {
  for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
    if (is(c, name, ns)) return c;
  return NULL;
}

static size_t count_children(const xmlNode *n, const char *name, const char *ns) {
  size_t k = 0;
  for (xmlNode *c = n->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) {
      if (!is(c, name, ns)) fail_msg("unexpected element <%s>", c->name);
      k++;
    }
  return k;
}

/* Attribute `name` (no namespace) as a string; fails when absent.  The
 * returned pointer lives in a static slot: use it before the next call. */
static const char *attr(const xmlNode *n, const char *name) {
  static char value[256];
  xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
  if (!v) fail_msg("<%s> has no %s", n->name, name);
  snprintf(value, sizeof value, "%s", (const char *)v);
  xmlFree(v);
  return value;
}

static int has_attr(const xmlNode *n, const char *name) {
  return xmlHasNsProp(n, (const xmlChar *)name, NULL) != NULL;
}

/* An unsigned decimal attribute (digits only, as the spec's ST_ResourceIndex). */
static unsigned long uattr(const xmlNode *n, const char *name) {
  const char *s = attr(n, name);
  char *end;
  if (!*s || strspn(s, "0123456789") != strlen(s)) fail_msg("%s=\"%s\" is not an index", name, s);
  unsigned long v = strtoul(s, &end, 10);
  return v;
}

/* The model's root after the package checks; *doc to free. */
static xmlNode *model_root(zip_t *za, xmlDoc **doc) {
  *doc = parse_part(za, "3D/3dmodel.model");
  xmlNode *root = xmlDocGetRootElement(*doc);
  assert_true(is(root, "model", NS_CORE));
  assert_string_equal(attr(root, "unit"), "millimeter");
  return root;
}

/* Checks vertices and triangles of the model's one object against *m;
 * returns the object element. */
static xmlNode *check_mesh(xmlNode *root, const orf_mesh *m) {
  xmlNode *res = child(root, "resources", NS_CORE);
  assert_non_null(res);
  xmlNode *obj = child(res, "object", NS_CORE);
  assert_non_null(obj);
  assert_string_equal(attr(obj, "type"), "model");
  xmlNode *mesh = child(obj, "mesh", NS_CORE);
  xmlNode *verts = child(mesh, "vertices", NS_CORE), *tris = child(mesh, "triangles", NS_CORE);
  assert_non_null(verts);
  assert_non_null(tris);
  assert_int_equal(count_children(verts, "vertex", NS_CORE), m->vertex_count);
  assert_int_equal(count_children(tris, "triangle", NS_CORE), m->face_count);
  size_t v = 0;
  for (xmlNode *c = verts->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    static const char *const axes[3] = {"x", "y", "z"};
    for (int k = 0; k < 3; k++) {
      const char *s = attr(c, axes[k]);
      char *end;
      float f = strtof(s, &end);
      if (*end || f != m->positions[3 * v + k])
        fail_msg("vertex %zu %s=\"%s\" reads back as %.9g, not %.9g", v, axes[k], s, f,
                 m->positions[3 * v + k]);
    }
    v++;
  }
  size_t t = 0;
  for (xmlNode *c = tris->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    static const char *const corners[3] = {"v1", "v2", "v3"};
    for (int k = 0; k < 3; k++) {
      unsigned long i = uattr(c, corners[k]);
      assert_true(i < m->vertex_count);
      assert_int_equal(i, m->indices[3 * t + k]);
    }
    t++;
  }
  /* one build item, the object */
  xmlNode *build = child(root, "build", NS_CORE);
  assert_non_null(build);
  assert_int_equal(count_children(build, "item", NS_CORE), 1);
  assert_int_equal(uattr(child(build, "item", NS_CORE), "objectid"), uattr(obj, "id"));
  return obj;
}

/* ---- meshes --------------------------------------------------------------- */

/* Colours that vary over the mesh, from the position (and a hash so that
 * neighbours differ), including the extremes 0 and 255. */
static void paint(orf_mesh *m) {
  m->colors = orf_malloc(3 * m->vertex_count);
  assert_non_null(m->colors);
  for (size_t v = 0; v < m->vertex_count; v++)
    for (int k = 0; k < 3; k++) {
      uint32_t h = (uint32_t)(v * 2654435761u) >> (8 * k);
      m->colors[3 * v + k] = v % 7 == 0 ? (uint8_t)(k * 255 / 2) : (uint8_t)h;
    }
}

/* ---- tests ---------------------------------------------------------------- */

static void test_package(void **state) {
  (void)state;
  orf_mesh m;
  assert_int_equal(mg_icosphere(&m, 2, 20), 0);
  size_t size;
  uint8_t *d = export_3mf(&m, &size);
  zip_t *za = open_zip(d, size);

  /* exactly the three parts, in this order, deflated, at the fixed time */
  static const char *const names[3] = {"[Content_Types].xml", "_rels/.rels", "3D/3dmodel.model"};
  assert_int_equal(zip_get_num_entries(za, 0), 3);
  for (int i = 0; i < 3; i++) {
    zip_stat_t st;
    assert_int_equal(zip_stat_index(za, (zip_uint64_t)i, 0, &st), 0);
    assert_string_equal(st.name, names[i]);
    assert_int_equal(st.comp_method, ZIP_CM_DEFLATE);
    struct tm tm;
    assert_non_null(localtime_r(&st.mtime, &tm));
    assert_int_equal(tm.tm_year, 80);
    assert_int_equal(tm.tm_mon, 0);
    assert_int_equal(tm.tm_mday, 1);
    assert_int_equal(tm.tm_hour, 12);
  }

  /* content types: .rels and .model by extension */
  xmlDoc *doc = parse_part(za, "[Content_Types].xml");
  xmlNode *types = xmlDocGetRootElement(doc);
  assert_true(is(types, "Types", NS_TYPES));
  int seen = 0;
  for (xmlNode *c = types->children; c; c = c->next) {
    if (!is(c, "Default", NS_TYPES)) continue;
    char ext[64];
    snprintf(ext, sizeof ext, "%s", attr(c, "Extension"));
    if (!strcmp(ext, "rels")) {
      assert_string_equal(attr(c, "ContentType"), CT_RELS);
      seen |= 1;
    } else if (!strcmp(ext, "model")) {
      assert_string_equal(attr(c, "ContentType"), CT_MODEL);
      seen |= 2;
    }
  }
  assert_int_equal(seen, 3);
  xmlFreeDoc(doc);

  /* the start part relationship points at the model */
  doc = parse_part(za, "_rels/.rels");
  xmlNode *rels = xmlDocGetRootElement(doc);
  assert_true(is(rels, "Relationships", NS_RELS));
  xmlNode *rel = child(rels, "Relationship", NS_RELS);
  assert_non_null(rel);
  assert_string_equal(attr(rel, "Target"), "/3D/3dmodel.model");
  assert_string_equal(attr(rel, "Type"), REL_3DMODEL);
  assert_true(strlen(attr(rel, "Id")) > 0);
  xmlFreeDoc(doc);

  zip_close(za);
  orf_buffer_free(d);
  orf_mesh_free(&m);
}

/* A plain mesh: geometry exactly, and no colour anywhere. */
static void test_model_plain(void **state) {
  (void)state;
  orf_mesh m;
  /* coordinates that need all nine digits, tiny and negative ones too */
  assert_int_equal(mg_noisy_sphere(&m, 3, 37.123456f, 0.2f, 7), 0);
  m.positions[0] = 1e-7f;
  m.positions[1] = -123456.789f;
  m.positions[2] = 0.1f;
  size_t size;
  uint8_t *d = export_3mf(&m, &size);
  zip_t *za = open_zip(d, size);
  xmlDoc *doc;
  xmlNode *root = model_root(za, &doc);
  xmlNode *obj = check_mesh(root, &m);
  assert_false(has_attr(obj, "pid"));
  assert_null(child(child(root, "resources", NS_CORE), "colorgroup", NS_MATERIAL));
  xmlNode *tris = child(child(obj, "mesh", NS_CORE), "triangles", NS_CORE);
  for (xmlNode *c = tris->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) assert_false(has_attr(c, "p1"));
  xmlFreeDoc(doc);
  zip_close(za);
  orf_buffer_free(d);
  orf_mesh_free(&m);
}

/* A coloured mesh: the colour group and each corner's colour. */
static void test_model_colours(void **state) {
  (void)state;
  orf_mesh m;
  assert_int_equal(mg_icosphere(&m, 3, 15), 0);
  paint(&m);
  size_t size;
  uint8_t *d = export_3mf(&m, &size);
  zip_t *za = open_zip(d, size);
  xmlDoc *doc;
  xmlNode *root = model_root(za, &doc);
  xmlNode *obj = check_mesh(root, &m);

  xmlNode *group = child(child(root, "resources", NS_CORE), "colorgroup", NS_MATERIAL);
  assert_non_null(group);
  unsigned long gid = uattr(group, "id");
  assert_int_equal(uattr(obj, "pid"), gid);
  assert_int_not_equal(uattr(obj, "id"), gid); /* one id space for all resources */
  size_t n = count_children(group, "color", NS_MATERIAL);
  assert_true(n > 1 && n <= 32768);
  uint8_t(*pal)[3] = malloc(n * 3);
  assert_non_null(pal);
  size_t i = 0;
  for (xmlNode *c = group->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    const char *s = attr(c, "color");
    unsigned r, g, b;
    char tail;
    if (strlen(s) != 7 || sscanf(s, "#%2x%2x%2x%c", &r, &g, &b, &tail) != 3) fail_msg("colour \"%s\"", s);
    pal[i][0] = (uint8_t)r, pal[i][1] = (uint8_t)g, pal[i][2] = (uint8_t)b;
    for (size_t k = 0; k < i; k++)
      if (!memcmp(pal[k], pal[i], 3)) fail_msg("colour %s listed twice", s);
    i++;
  }
  assert_true(uattr(obj, "pindex") < n);

  /* every corner's colour is its vertex's, quantised; p1 alone only for
   * a triangle whose corners are one colour */
  xmlNode *tris = child(child(obj, "mesh", NS_CORE), "triangles", NS_CORE);
  size_t t = 0, three = 0;
  for (xmlNode *c = tris->children; c; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    assert_true(!has_attr(c, "pid") || uattr(c, "pid") == gid);
    unsigned long p[3];
    p[0] = uattr(c, "p1");
    if (has_attr(c, "p2")) {
      p[1] = uattr(c, "p2");
      p[2] = uattr(c, "p3");
      three++;
    } else {
      assert_false(has_attr(c, "p3"));
      p[1] = p[2] = p[0];
    }
    for (int k = 0; k < 3; k++) {
      assert_true(p[k] < n);
      const uint8_t *want = m.colors + 3 * m.indices[3 * t + k];
      for (int ch = 0; ch < 3; ch++)
        if (abs((int)pal[p[k]][ch] - want[ch]) > QSTEP_HALF)
          fail_msg("triangle %zu corner %d channel %d: %d for %d", t, k, ch, pal[p[k]][ch], want[ch]);
    }
    t++;
  }
  assert_true(three > 0);
  free(pal);
  xmlFreeDoc(doc);
  zip_close(za);
  orf_buffer_free(d);

  /* a one-colour mesh: one palette entry, every triangle p1 only */
  memset(m.colors, 200, 3 * m.vertex_count);
  d = export_3mf(&m, &size);
  za = open_zip(d, size);
  root = model_root(za, &doc);
  group = child(child(root, "resources", NS_CORE), "colorgroup", NS_MATERIAL);
  assert_int_equal(count_children(group, "color", NS_MATERIAL), 1);
  assert_string_equal(attr(child(group, "color", NS_MATERIAL), "color"), "#C5C5C5"); /* 200 -> q 24 -> 197 */
  tris = child(child(child(child(root, "resources", NS_CORE), "object", NS_CORE), "mesh", NS_CORE),
               "triangles", NS_CORE);
  for (xmlNode *c = tris->children; c; c = c->next)
    if (c->type == XML_ELEMENT_NODE) {
      assert_int_equal(uattr(c, "p1"), 0);
      assert_false(has_attr(c, "p2"));
    }
  xmlFreeDoc(doc);
  zip_close(za);
  orf_buffer_free(d);
  orf_mesh_free(&m);
}

/* The same mesh gives the same bytes: twice, and in another time zone. */
static void test_deterministic(void **state) {
  (void)state;
  orf_mesh m;
  assert_int_equal(mg_torus(&m, 20, 6, 48, 24), 0);
  paint(&m);
  size_t n1, n2, n3;
  uint8_t *a = export_3mf(&m, &n1), *b = export_3mf(&m, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(a, b, n1);
  const char *tz = getenv("TZ");
  char *saved = tz ? strdup(tz) : NULL;
  setenv("TZ", "America/St_Johns", 1); /* a half-hour offset with summer time */
  tzset();
  uint8_t *c = export_3mf(&m, &n3);
  if (saved) {
    setenv("TZ", saved, 1);
    free(saved);
  } else {
    unsetenv("TZ");
  }
  tzset();
  assert_int_equal(n1, n3);
  assert_memory_equal(a, c, n1);
  orf_buffer_free(a);
  orf_buffer_free(b);
  orf_buffer_free(c);
  orf_mesh_free(&m);
}

/* Invalid meshes are refused; every engine allocation may fail, giving
 * ORF_ENOMEM with nothing left allocated; a file export is the same bytes. */
static void test_errors_and_file(void **state) {
  (void)state;
  orf_mesh m;
  assert_int_equal(mg_cube(&m, 2, 10), 0);
  paint(&m);
  orf_buf b = {0};
  size_t faces = m.face_count;
  m.face_count = 0;
  assert_int_equal(orf_write_3mf(&m, NULL, &b), ORF_EINVAL);
  assert_int_equal(b.len, 0);
  m.face_count = faces;

  int failures = 0;
  for (long k = 1;; k++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, k);
    orf_memtrack *old = orf_memtrack_set(&t);
    uint8_t *d = NULL;
    size_t size = 0;
    int rc = orf_export(&m, ORF_FMT_3MF, &d, &size);
    if (rc == ORF_OK) orf_buffer_free(d);
    orf_memtrack_set(old);
    assert_int_equal(atomic_load(&t.current), 0);
    if (rc == ORF_OK) break;
    assert_int_equal(rc, ORF_ENOMEM);
    assert_null(d);
    failures++;
    assert_true(k < 100);
  }
  assert_true(failures >= 3); /* the XML, the colour tables, the output */

  char dir[] = "/tmp/orf_test_threemf_XXXXXX", path[256];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/model.3mf", dir);
  assert_int_equal(orf_export_file(&m, ORF_FMT_3MF, path), ORF_OK);
  size_t want_n, got_n;
  uint8_t *want = export_3mf(&m, &want_n), *got = tu_read_file(path, &got_n);
  assert_non_null(got);
  assert_int_equal(got_n, want_n);
  assert_memory_equal(got, want, want_n);
  free(got);
  orf_buffer_free(want);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
  orf_mesh_free(&m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_package),         cmocka_unit_test(test_model_plain),
      cmocka_unit_test(test_model_colours),   cmocka_unit_test(test_deterministic),
      cmocka_unit_test(test_errors_and_file),
  };
  int rc = cmocka_run_group_tests_name("threemf", tests, NULL, NULL);
  xmlCleanupParser();
  return rc;
}
