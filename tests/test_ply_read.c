/*
 * test_ply_read.c - orf_mesh_read_ply, the inverse of the PLY writer:
 * exact round trips (positions bit for bit, colours, indices) with and
 * without colours, comments and type aliases accepted; and refusals of
 * everything else on untrusted input: ASCII and big-endian PLY, other
 * properties, faces of 4 vertices, indices out of range, every truncated
 * length, trailing bytes, non-finite coordinates, huge counts in the header
 * (refused without allocating them: checked with the allocator's peak), and
 * random garbage and mutations (no crash, no leak, *out empty on error).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "meshgen.h"
#include "orfeas.h"

/* An icosphere (subdiv 2: 162 vertices, 320 faces) with colours from the
 * vertex index when asked. */
static void make_mesh(orf_mesh *m, int colors) {
  assert_int_equal(mg_icosphere(m, 2, 17.25f), 0);
  if (colors) {
    m->colors = orf_malloc(3 * m->vertex_count);
    assert_non_null(m->colors);
    for (size_t v = 0; v < m->vertex_count; v++) {
      m->colors[3 * v + 0] = (uint8_t)(v * 7);
      m->colors[3 * v + 1] = (uint8_t)(255 - v);
      m->colors[3 * v + 2] = (uint8_t)(v * v);
    }
  }
}

static int is_empty(const orf_mesh *m) {
  return !m->positions && !m->colors && !m->indices && m->vertex_count == 0 && m->face_count == 0;
}

static void assert_same_mesh(const orf_mesh *a, const orf_mesh *b) {
  assert_int_equal(a->vertex_count, b->vertex_count);
  assert_int_equal(a->face_count, b->face_count);
  assert_memory_equal(a->positions, b->positions, 3 * sizeof(float) * a->vertex_count);
  assert_memory_equal(a->indices, b->indices, 3 * sizeof(uint32_t) * a->face_count);
  assert_int_equal(a->colors != NULL, b->colors != NULL);
  if (a->colors) assert_memory_equal(a->colors, b->colors, 3 * a->vertex_count);
}

/* Exports m as PLY into a malloc'd copy (so tests may edit it). */
static uint8_t *export_ply(const orf_mesh *m, size_t *size) {
  uint8_t *buf = NULL;
  assert_int_equal(orf_export(m, ORF_FMT_PLY, &buf, size), ORF_OK);
  uint8_t *copy = malloc(*size + 64);
  assert_non_null(copy);
  memcpy(copy, buf, *size);
  orf_buffer_free(buf);
  return copy;
}

/* Where the binary body starts. */
static size_t body_offset(const uint8_t *ply, size_t size) {
  const char *e = memmem(ply, size, "end_header\n", 11);
  assert_non_null(e);
  return (size_t)(e - (const char *)ply) + 11;
}

static void expect_invalid(const uint8_t *data, size_t size) {
  orf_mesh out;
  memset(&out, 0x5a, sizeof out);
  assert_int_equal(orf_mesh_read_ply(data, size, &out), ORF_EINVAL);
  assert_true(is_empty(&out));
}

/* A file made of header text followed by `body` bytes. */
static uint8_t *with_header(const char *header, const uint8_t *body, size_t body_size, size_t *size) {
  size_t h = strlen(header);
  uint8_t *p = malloc(h + body_size + 1);
  assert_non_null(p);
  memcpy(p, header, h);
  if (body_size) memcpy(p + h, body, body_size);
  *size = h + body_size;
  return p;
}

static void round_trip(int colors) {
  orf_mesh m, back;
  make_mesh(&m, colors);
  size_t size;
  uint8_t *ply = export_ply(&m, &size);
  assert_int_equal(orf_mesh_read_ply(ply, size, &back), ORF_OK);
  assert_same_mesh(&m, &back);
  /* And the reader's mesh exports to the same bytes. */
  uint8_t *again;
  size_t again_size;
  assert_int_equal(orf_export(&back, ORF_FMT_PLY, &again, &again_size), ORF_OK);
  assert_int_equal(again_size, size);
  assert_memory_equal(again, ply, size);
  orf_buffer_free(again);
  orf_mesh_free(&back);
  orf_mesh_free(&m);
  free(ply);
}

static void test_round_trip_plain(void **state) {
  (void)state;
  round_trip(0);
}

static void test_round_trip_colors(void **state) {
  (void)state;
  round_trip(1);
}

/* Special floats that are finite survive bit for bit. */
static void test_round_trip_exact_floats(void **state) {
  (void)state;
  const float pos[] = {0.0f, -0.0f,  1e-45f, 3.4028235e38f, -3.4028235e38f, 1.17549435e-38f,
                       0.1f, -7.75f, 1e7f};
  const uint32_t idx[] = {0, 1, 2, 2, 1, 0};
  const uint8_t col[] = {0, 255, 128, 1, 2, 3, 254, 253, 252};
  orf_mesh m, back;
  assert_int_equal(mg_from_arrays(&m, pos, 3, idx, 2, col), 0);
  size_t size;
  uint8_t *ply = export_ply(&m, &size);
  assert_int_equal(orf_mesh_read_ply(ply, size, &back), ORF_OK);
  assert_same_mesh(&m, &back);
  orf_mesh_free(&back);
  orf_mesh_free(&m);
  free(ply);
}

static const uint8_t kTriangle[] = {
    0, 0, 0,    0,    0, 0, 0,    0,    0, 0, 0, 0,    /* (0,0,0) */
    0, 0, 0x80, 0x3f, 0, 0, 0,    0,    0, 0, 0, 0,    /* (1,0,0) */
    0, 0, 0,    0,    0, 0, 0x80, 0x3f, 0, 0, 0, 0,    /* (0,1,0) */
    3, 0, 0,    0,    0, 1, 0,    0,    0, 2, 0, 0, 0, /* face 0 1 2 */
};

static const char kTriangleHeader[] = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
                                      "property float x\nproperty float y\nproperty float z\n"
                                      "element face 1\nproperty list uchar uint vertex_indices\nend_header\n";

/* Comment and obj_info lines and the sized type names are read too. */
static void test_accepts_variants(void **state) {
  (void)state;
  static const char *const headers[] = {
      kTriangleHeader,
      "ply\ncomment first\nformat binary_little_endian 1.0\nobj_info x\nelement vertex 3\n"
      "property float32 x\nproperty float32 y\ncomment mid\nproperty float32 z\n"
      "element face 1\nproperty list uint8 uint32 vertex_index\ncomment last\nend_header\n",
      "ply\nformat  binary_little_endian\t1.0\nelement vertex 3\n"
      "property float x\nproperty float y\nproperty float z\n"
      "element face 1\nproperty list uchar uint vertex_indices \nend_header\n",
      NULL};
  for (int i = 0; headers[i]; i++) {
    size_t size;
    uint8_t *p = with_header(headers[i], kTriangle, sizeof kTriangle, &size);
    orf_mesh m;
    if (orf_mesh_read_ply(p, size, &m) != ORF_OK) fail_msg("header %d refused", i);
    assert_int_equal(m.vertex_count, 3);
    assert_int_equal(m.face_count, 1);
    assert_null(m.colors);
    assert_true(m.positions[3] == 1.0f && m.positions[7] == 1.0f);
    assert_int_equal(m.indices[0], 0);
    assert_int_equal(m.indices[1], 1);
    assert_int_equal(m.indices[2], 2);
    orf_mesh_free(&m);
    free(p);
  }
}

static void test_refuses_other_layouts(void **state) {
  (void)state;
  static const char *const headers[] = {
      /* ASCII and big-endian */
      "ply\nformat ascii 1.0\nelement vertex 3\nproperty float x\nproperty float y\nproperty float z\n"
      "element face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      "ply\nformat binary_big_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 2.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      /* other property types, orders, extra properties */
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty double x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float y\nproperty float x\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nproperty float nx\nelement face 1\nproperty list uchar uint "
      "vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nproperty uchar red\nproperty uchar green\n"
      "element face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list ushort uint vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nproperty uchar flags\n"
      "end_header\n",
      /* elements: face first, extra element, missing face */
      "ply\nformat binary_little_endian 1.0\nelement face 1\nproperty list uchar uint vertex_indices\n"
      "element vertex 3\nproperty float x\nproperty float y\nproperty float z\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nelement edge "
      "0\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nend_header\n",
      /* counts */
      "ply\nformat binary_little_endian 1.0\nelement vertex -3\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3x\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      /* magic and line endings */
      "PLY\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nend_header\n",
      "ply\r\nformat binary_little_endian 1.0\r\nelement vertex 3\r\nproperty float x\r\nproperty float y\r\n"
      "property float z\r\nelement face 1\r\nproperty list uchar uint vertex_indices\r\nend_header\r\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\nproperty float y\n"
      "property float z\nelement face 1\nproperty list uchar uint vertex_indices\nend_header",
      NULL};
  for (int i = 0; headers[i]; i++) {
    size_t size;
    uint8_t *p = with_header(headers[i], kTriangle, sizeof kTriangle, &size);
    orf_mesh m;
    memset(&m, 0x5a, sizeof m);
    if (orf_mesh_read_ply(p, size, &m) != ORF_EINVAL) fail_msg("header %d accepted", i);
    assert_true(is_empty(&m));
    free(p);
  }
  /* A NUL inside the header. */
  size_t size;
  uint8_t *p = with_header(kTriangleHeader, kTriangle, sizeof kTriangle, &size);
  p[30] = '\0';
  expect_invalid(p, size);
  free(p);
  expect_invalid(NULL, 0);
}

/* The same triangle file with one face record edited. */
static void test_refuses_bad_faces(void **state) {
  (void)state;
  size_t size;
  uint8_t *p = with_header(kTriangleHeader, kTriangle, sizeof kTriangle, &size);
  size_t face = size - 13;
  orf_mesh m;
  assert_int_equal(orf_mesh_read_ply(p, size, &m), ORF_OK);
  orf_mesh_free(&m);
  p[face] = 4; /* a quad (the record sizes no longer match either) */
  expect_invalid(p, size);
  p[face] = 2;
  expect_invalid(p, size);
  p[face] = 3;
  p[face + 5] = 3; /* index == vertex count */
  expect_invalid(p, size);
  p[face + 5] = 1;
  p[face + 12] = 0x80; /* index 2 + 2^31 */
  expect_invalid(p, size);
  p[face + 12] = 0;
  assert_int_equal(orf_mesh_read_ply(p, size, &m), ORF_OK);
  orf_mesh_free(&m);
  free(p);

  /* A real quad: count 4 and four indices, the header count matching. */
  static const char quad_header[] = "ply\nformat binary_little_endian 1.0\nelement vertex 3\n"
                                    "property float x\nproperty float y\nproperty float z\n"
                                    "element face 1\nproperty list uchar uint vertex_indices\nend_header\n";
  uint8_t body[sizeof kTriangle + 4];
  memcpy(body, kTriangle, sizeof kTriangle);
  body[36] = 4;
  memset(body + sizeof kTriangle, 0, 4);
  p = with_header(quad_header, body, sizeof body, &size);
  expect_invalid(p, size);
  free(p);
}

/* Every prefix of a valid file, and the file with a byte more. */
static void test_refuses_truncated(void **state) {
  (void)state;
  for (int colors = 0; colors < 2; colors++) {
    orf_mesh m;
    assert_int_equal(mg_icosphere(&m, 1, 3.0f), 0);
    if (colors) {
      m.colors = orf_calloc(3, m.vertex_count);
      assert_non_null(m.colors);
    }
    size_t size;
    uint8_t *ply = export_ply(&m, &size);
    for (size_t n = 0; n < size; n++) {
      uint8_t *cut = malloc(n ? n : 1); /* exact size, so ASan sees any overread */
      assert_non_null(cut);
      memcpy(cut, ply, n);
      expect_invalid(cut, n);
      free(cut);
    }
    ply[size] = 0;
    expect_invalid(ply, size + 1);
    orf_mesh back;
    assert_int_equal(orf_mesh_read_ply(ply, size, &back), ORF_OK);
    orf_mesh_free(&back);
    orf_mesh_free(&m);
    free(ply);
  }
}

static void test_refuses_non_finite(void **state) {
  (void)state;
  const float inf = INFINITY, nan_ = NAN;
  size_t size;
  uint8_t *p = with_header(kTriangleHeader, kTriangle, sizeof kTriangle, &size);
  size_t body = size - sizeof kTriangle;
  memcpy(p + body + 16, &inf, 4);
  expect_invalid(p, size);
  memcpy(p + body + 16, &nan_, 4);
  expect_invalid(p, size);
  free(p);
}

/* Headers that claim enormous counts: refused before any allocation. */
static void test_refuses_huge_counts(void **state) {
  (void)state;
  static const char *const headers[] = {
      "ply\nformat binary_little_endian 1.0\nelement vertex 1000000000000000\nproperty float x\n"
      "property float y\nproperty float z\nelement face 1\nproperty list uchar uint "
      "vertex_indices\nend_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 4294967295\nproperty float x\n"
      "property float y\nproperty float z\nelement face 4294967295\nproperty list uchar uint vertex_indices\n"
      "end_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\n"
      "property float y\nproperty float z\nelement face 1000000000\nproperty list uchar uint vertex_indices\n"
      "end_header\n",
      "ply\nformat binary_little_endian 1.0\nelement vertex 99999999999999999999999999999\nproperty float x\n"
      "property float y\nproperty float z\nelement face 1\nproperty list uchar uint "
      "vertex_indices\nend_header\n",
      NULL};
  orf_memtrack track = {0};
  orf_memtrack *old = orf_memtrack_set(&track);
  for (int i = 0; headers[i]; i++) {
    size_t size;
    uint8_t *p = with_header(headers[i], kTriangle, sizeof kTriangle, &size);
    orf_mesh m;
    assert_int_equal(orf_mesh_read_ply(p, size, &m), ORF_EINVAL);
    assert_true(is_empty(&m));
    free(p);
  }
  assert_int_equal(atomic_load(&track.peak), 0);
  /* The accounting does see what a real read allocates. */
  size_t size;
  uint8_t *p = with_header(kTriangleHeader, kTriangle, sizeof kTriangle, &size);
  orf_mesh m;
  assert_int_equal(orf_mesh_read_ply(p, size, &m), ORF_OK);
  assert_true(atomic_load(&track.peak) >= 3 * 12 + 12);
  orf_mesh_free(&m);
  assert_int_equal(atomic_load(&track.current), 0);
  free(p);
  orf_memtrack_set(old);
}

static void test_out_of_memory(void **state) {
  (void)state;
  orf_mesh m;
  make_mesh(&m, 1);
  size_t size;
  uint8_t *ply = export_ply(&m, &size);
  orf_mesh_free(&m);
  for (long n = 1; n <= 3; n++) {
    orf_memtrack track = {0};
    atomic_store(&track.fail_after, n);
    orf_memtrack *old = orf_memtrack_set(&track);
    orf_mesh out;
    assert_int_equal(orf_mesh_read_ply(ply, size, &out), ORF_ENOMEM);
    assert_true(is_empty(&out));
    assert_int_equal(atomic_load(&track.current), 0);
    orf_memtrack_set(old);
  }
  free(ply);
}

/* xorshift32 */
static uint32_t rnd(uint32_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 17;
  *s ^= *s << 5;
  return *s;
}

static void check_result(int rc, orf_mesh *m) {
  if (rc == ORF_OK) {
    for (size_t i = 0; i < 3 * m->face_count; i++)
      assert_true(m->indices[i] < m->vertex_count);
    for (size_t i = 0; i < 3 * m->vertex_count; i++)
      assert_true(isfinite(m->positions[i]));
    orf_mesh_free(m);
  } else {
    assert_int_equal(rc, ORF_EINVAL);
    assert_true(is_empty(m));
  }
}

static void test_garbage(void **state) {
  (void)state;
  uint32_t seed = 0x9e3779b9u;
  orf_memtrack track = {0};
  orf_memtrack *old = orf_memtrack_set(&track);
  /* Pure noise, and noise after a valid magic line. */
  for (int i = 0; i < 2000; i++) {
    size_t n = rnd(&seed) % 600;
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t k = 0; k < n; k++)
      p[k] = (uint8_t)rnd(&seed);
    if (i % 2 && n >= 4) memcpy(p, "ply\n", 4);
    orf_mesh m;
    check_result(orf_mesh_read_ply(p, n, &m), &m);
    free(p);
  }
  /* Mutations of a valid file: bytes flipped in the header and the body. */
  orf_mesh src;
  make_mesh(&src, 1);
  size_t size;
  uint8_t *ply = export_ply(&src, &size);
  orf_mesh_free(&src);
  size_t header = body_offset(ply, size);
  uint8_t *p = malloc(size);
  assert_non_null(p);
  int accepted = 0;
  for (int i = 0; i < 3000; i++) {
    memcpy(p, ply, size);
    int edits = 1 + (int)(rnd(&seed) % 4);
    for (int e = 0; e < edits; e++) {
      size_t at = i % 2 ? rnd(&seed) % header : header + rnd(&seed) % (size - header);
      p[at] = (uint8_t)rnd(&seed);
    }
    orf_mesh m;
    int rc = orf_mesh_read_ply(p, size, &m);
    accepted += rc == ORF_OK;
    check_result(rc, &m);
  }
  assert_true(accepted > 0); /* body edits of colours or coordinates stay valid */
  assert_int_equal(atomic_load(&track.current), 0);
  free(p);
  free(ply);
  orf_memtrack_set(old);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_plain),
      cmocka_unit_test(test_round_trip_colors),
      cmocka_unit_test(test_round_trip_exact_floats),
      cmocka_unit_test(test_accepts_variants),
      cmocka_unit_test(test_refuses_other_layouts),
      cmocka_unit_test(test_refuses_bad_faces),
      cmocka_unit_test(test_refuses_truncated),
      cmocka_unit_test(test_refuses_non_finite),
      cmocka_unit_test(test_refuses_huge_counts),
      cmocka_unit_test(test_out_of_memory),
      cmocka_unit_test(test_garbage),
  };
  return cmocka_run_group_tests_name("ply_read", tests, NULL, NULL);
}
