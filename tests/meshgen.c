/*
 * meshgen.c - closed test meshes (see meshgen.h).  Test-only code: uses
 * malloc for scratch, orf_mesh_alloc for the meshes it returns.
 *
 * The icosphere is Loop-style midpoint subdivision of the icosahedron with
 * vertices pushed to the sphere; the marching-tetrahedra sphere cuts each
 * lattice cube into the 6 Freudenthal (Kuhn) tetrahedra around its main
 * diagonal, which match across cube faces, and orients every triangle from
 * the exact sign of its tetrahedron's lattice determinant.
 */
#include "meshgen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mesh.h"

/* ---- growable arrays and an edge -> vertex hash ---------------------- */

typedef struct vec {
  void *data;
  size_t count, cap, elem;
} vec;

static void *vec_push(vec *v) {
  if (v->count == v->cap) {
    size_t cap = v->cap ? 2 * v->cap : 1024;
    void *d = realloc(v->data, cap * v->elem);
    if (!d) return NULL;
    v->data = d;
    v->cap = cap;
  }
  return (char *)v->data + v->elem * v->count++;
}

typedef struct edge_map {
  uint64_t *keys; /* key + 1; 0 = empty */
  uint32_t *vals;
  size_t cap, count;
} edge_map;

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static int map_init(edge_map *h, size_t cap) {
  size_t c = 1024;
  while (c < cap)
    c *= 2;
  h->keys = calloc(c, sizeof *h->keys);
  h->vals = malloc(c * sizeof *h->vals);
  h->cap = c;
  h->count = 0;
  return h->keys && h->vals ? 0 : -1;
}

static void map_free(edge_map *h) {
  free(h->keys);
  free(h->vals);
  memset(h, 0, sizeof *h);
}

/* Returns the slot of key (found or empty). */
static size_t map_slot(const edge_map *h, uint64_t key) {
  size_t i = mix64(key) & (h->cap - 1);
  while (h->keys[i] && h->keys[i] != key + 1)
    i = (i + 1) & (h->cap - 1);
  return i;
}

static int map_grow(edge_map *h) {
  edge_map n;
  if (map_init(&n, 2 * h->cap)) {
    map_free(&n);
    return -1;
  }
  for (size_t i = 0; i < h->cap; i++) {
    if (!h->keys[i]) continue;
    size_t s = map_slot(&n, h->keys[i] - 1);
    n.keys[s] = h->keys[i];
    n.vals[s] = h->vals[i];
  }
  n.count = h->count;
  map_free(h);
  *h = n;
  return 0;
}

static uint64_t edge_key(uint32_t a, uint32_t b) {
  return a < b ? (uint64_t)a << 32 | b : (uint64_t)b << 32 | a;
}

/* ---- icosphere ------------------------------------------------------- */

int mg_icosphere(orf_mesh *m, int subdiv, float radius) {
  const double t = (1.0 + sqrt(5.0)) / 2.0;
  const double base_v[12][3] = {{-1, t, 0},  {1, t, 0},  {-1, -t, 0}, {1, -t, 0}, {0, -1, t},  {0, 1, t},
                                {0, -1, -t}, {0, 1, -t}, {t, 0, -1},  {t, 0, 1},  {-t, 0, -1}, {-t, 0, 1}};
  const uint32_t base_f[20][3] = {{0, 11, 5}, {0, 5, 1},  {0, 1, 7},   {0, 7, 10}, {0, 10, 11},
                                  {1, 5, 9},  {5, 11, 4}, {11, 10, 2}, {10, 7, 6}, {7, 1, 8},
                                  {3, 9, 4},  {3, 4, 2},  {3, 2, 6},   {3, 6, 8},  {3, 8, 9},
                                  {4, 9, 5},  {2, 4, 11}, {6, 2, 10},  {8, 6, 7},  {9, 8, 1}};
  size_t nf = 20, nv = 12;
  for (int s = 0; s < subdiv; s++) {
    nv += nf * 3 / 2;
    nf *= 4;
  }
  double *pos = malloc(nv * 3 * sizeof *pos);
  uint32_t *idx = malloc(nf * 3 * sizeof *idx), *next = malloc(nf * 3 * sizeof *next);
  edge_map h = {0};
  int rc = -1;
  if (!pos || !idx || !next || map_init(&h, 4 * nf)) goto out;
  for (int v = 0; v < 12; v++) {
    double l = sqrt(base_v[v][0] * base_v[v][0] + base_v[v][1] * base_v[v][1] + base_v[v][2] * base_v[v][2]);
    for (int a = 0; a < 3; a++)
      pos[3 * v + a] = base_v[v][a] / l;
  }
  memcpy(idx, base_f, sizeof base_f);
  size_t cf = 20, cv = 12;
  for (int s = 0; s < subdiv; s++) {
    memset(h.keys, 0, h.cap * sizeof *h.keys);
    for (size_t f = 0; f < cf; f++) {
      uint32_t mid[3];
      for (int k = 0; k < 3; k++) {
        uint32_t a = idx[3 * f + k], b = idx[3 * f + (k + 1) % 3];
        size_t slot = map_slot(&h, edge_key(a, b));
        if (!h.keys[slot]) {
          h.keys[slot] = edge_key(a, b) + 1;
          h.vals[slot] = (uint32_t)cv;
          double p[3], l = 0;
          for (int c = 0; c < 3; c++) {
            p[c] = pos[3 * a + c] + pos[3 * b + c];
            l += p[c] * p[c];
          }
          for (int c = 0; c < 3; c++)
            pos[3 * cv + c] = p[c] / sqrt(l);
          cv++;
        }
        mid[k] = h.vals[slot];
      }
      const uint32_t *t0 = idx + 3 * f;
      uint32_t *o = next + 12 * f;
      uint32_t quad[4][3] = {{t0[0], mid[0], mid[2]},
                             {t0[1], mid[1], mid[0]},
                             {t0[2], mid[2], mid[1]},
                             {mid[0], mid[1], mid[2]}};
      memcpy(o, quad, sizeof quad);
    }
    cf *= 4;
    uint32_t *x = idx;
    idx = next;
    next = x;
  }
  if (orf_mesh_alloc(m, cv, cf, 0)) goto out;
  for (size_t i = 0; i < 3 * cv; i++)
    m->positions[i] = (float)(pos[i] * radius);
  memcpy(m->indices, idx, cf * 3 * sizeof *idx);
  rc = 0;
out:
  free(pos);
  free(idx);
  free(next);
  map_free(&h);
  return rc;
}

/* ---- UV sphere, torus, cube ------------------------------------------ */

int mg_uv_sphere(orf_mesh *m, int stacks, int slices, float radius) {
  if (stacks < 2 || slices < 3) return -1;
  size_t nv = 2 + (size_t)(stacks - 1) * slices, nf = 2 * (size_t)slices * (stacks - 1);
  if (orf_mesh_alloc(m, nv, nf, 0)) return -1;
  const double pi = 3.14159265358979323846;
  float *p = m->positions;
  p[0] = p[1] = 0, p[2] = radius;
  for (int i = 1; i < stacks; i++) {
    double th = pi * i / stacks;
    for (int j = 0; j < slices; j++) {
      double ph = 2 * pi * j / slices;
      float *q = p + 3 * (1 + (size_t)(i - 1) * slices + j);
      q[0] = (float)(radius * sin(th) * cos(ph));
      q[1] = (float)(radius * sin(th) * sin(ph));
      q[2] = (float)(radius * cos(th));
    }
  }
  float *s = p + 3 * (nv - 1);
  s[0] = s[1] = 0, s[2] = -radius;
  uint32_t *o = m->indices;
#define RING(i, j) ((uint32_t)(1 + (size_t)((i)-1) * slices + (size_t)((j) % slices)))
  for (int j = 0; j < slices; j++) {
    *o++ = 0, *o++ = RING(1, j), *o++ = RING(1, j + 1);
  }
  for (int i = 1; i < stacks - 1; i++)
    for (int j = 0; j < slices; j++) {
      uint32_t a = RING(i, j), b = RING(i + 1, j), c = RING(i + 1, j + 1), d = RING(i, j + 1);
      *o++ = a, *o++ = b, *o++ = c;
      *o++ = a, *o++ = c, *o++ = d;
    }
  for (int j = 0; j < slices; j++) {
    *o++ = (uint32_t)(nv - 1), *o++ = RING(stacks - 1, j + 1), *o++ = RING(stacks - 1, j);
  }
#undef RING
  return 0;
}

int mg_torus(orf_mesh *m, float R, float r, int nu, int nv) {
  if (nu < 3 || nv < 3) return -1;
  if (orf_mesh_alloc(m, (size_t)nu * nv, 2 * (size_t)nu * nv, 0)) return -1;
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < nu; i++)
    for (int j = 0; j < nv; j++) {
      double u = 2 * pi * i / nu, v = 2 * pi * j / nv;
      float *q = m->positions + 3 * ((size_t)i * nv + j);
      q[0] = (float)((R + r * cos(v)) * cos(u));
      q[1] = (float)((R + r * cos(v)) * sin(u));
      q[2] = (float)(r * sin(v));
    }
  uint32_t *o = m->indices;
  for (int i = 0; i < nu; i++)
    for (int j = 0; j < nv; j++) {
      uint32_t a = (uint32_t)(i * nv + j), b = (uint32_t)(((i + 1) % nu) * nv + j),
               c = (uint32_t)(((i + 1) % nu) * nv + (j + 1) % nv), d = (uint32_t)(i * nv + (j + 1) % nv);
      *o++ = a, *o++ = b, *o++ = c;
      *o++ = a, *o++ = c, *o++ = d;
    }
  return 0;
}

int mg_cube(orf_mesh *m, int n, float half) {
  if (n < 1) return -1;
  size_t side = (size_t)n + 1, nl = side * side * side;
  uint32_t *id = malloc(nl * sizeof *id);
  if (!id) return -1;
  memset(id, 0xff, nl * sizeof *id);
  size_t nv = 0;
  for (size_t i = 0; i < nl; i++) {
    size_t x = i / (side * side), y = i / side % side, z = i % side;
    if (x == 0 || y == 0 || z == 0 || x == (size_t)n || y == (size_t)n || z == (size_t)n)
      id[i] = (uint32_t)nv++;
  }
  if (orf_mesh_alloc(m, nv, 12 * (size_t)n * n, 0)) {
    free(id);
    return -1;
  }
  for (size_t i = 0; i < nl; i++) {
    if (id[i] == UINT32_MAX) continue;
    size_t c[3] = {i / (side * side), i / side % side, i % side};
    for (int a = 0; a < 3; a++)
      m->positions[3 * (size_t)id[i] + a] = -half + 2 * half * (float)c[a] / n;
  }
  uint32_t *o = m->indices;
  for (int a = 0; a < 3; a++) {
    int b = (a + 1) % 3, cc = (a + 2) % 3;
    for (int s = 0; s < 2; s++)
      for (int u = 0; u < n; u++)
        for (int v = 0; v < n; v++) {
          uint32_t q[4];
          const int du[4] = {0, 1, 1, 0}, dv[4] = {0, 0, 1, 1};
          for (int k = 0; k < 4; k++) {
            size_t c[3];
            c[a] = s ? (size_t)n : 0;
            c[b] = (size_t)(u + du[k]);
            c[cc] = (size_t)(v + dv[k]);
            q[k] = id[(c[0] * side + c[1]) * side + c[2]];
          }
          /* (b, c) is right-handed about +a: counter-clockwise from outside
           * on the + side, reversed on the - side */
          if (s) {
            *o++ = q[0], *o++ = q[1], *o++ = q[2];
            *o++ = q[0], *o++ = q[2], *o++ = q[3];
          } else {
            *o++ = q[0], *o++ = q[2], *o++ = q[1];
            *o++ = q[0], *o++ = q[3], *o++ = q[2];
          }
        }
  }
  free(id);
  return 0;
}

/* ---- composites ------------------------------------------------------ */

int mg_from_arrays(orf_mesh *m, const float *positions, size_t nv, const uint32_t *indices, size_t nf,
                   const uint8_t *colors) {
  if (orf_mesh_alloc(m, nv, nf, colors != NULL)) return -1;
  if (nv) memcpy(m->positions, positions, nv * 3 * sizeof(float));
  if (nf) memcpy(m->indices, indices, nf * 3 * sizeof(uint32_t));
  if (colors && nv) memcpy(m->colors, colors, nv * 3);
  return 0;
}

int mg_concat(orf_mesh *dst, const orf_mesh *a, const orf_mesh *b) {
  int colors = a->colors && b->colors;
  if (orf_mesh_alloc(dst, a->vertex_count + b->vertex_count, a->face_count + b->face_count, colors))
    return -1;
  memcpy(dst->positions, a->positions, a->vertex_count * 3 * sizeof(float));
  memcpy(dst->positions + 3 * a->vertex_count, b->positions, b->vertex_count * 3 * sizeof(float));
  memcpy(dst->indices, a->indices, a->face_count * 3 * sizeof(uint32_t));
  for (size_t i = 0; i < 3 * b->face_count; i++)
    dst->indices[3 * a->face_count + i] = b->indices[i] + (uint32_t)a->vertex_count;
  if (colors) {
    memcpy(dst->colors, a->colors, a->vertex_count * 3);
    memcpy(dst->colors + 3 * a->vertex_count, b->colors, b->vertex_count * 3);
  }
  return 0;
}

int mg_two_spheres(orf_mesh *m, int subdiv, float radius, float gap) {
  orf_mesh a = {0}, b = {0};
  if (mg_icosphere(&a, subdiv, radius) || mg_icosphere(&b, subdiv, radius)) {
    orf_mesh_free(&a);
    orf_mesh_free(&b);
    return -1;
  }
  float one[3] = {1, 1, 1}, left[3] = {-(radius + gap / 2), 0, 0}, right[3] = {radius + gap / 2, 0, 0};
  orf_mesh_transform(&a, one, left);
  orf_mesh_transform(&b, one, right);
  int rc = mg_concat(m, &a, &b);
  orf_mesh_free(&a);
  orf_mesh_free(&b);
  return rc;
}

int mg_noisy_sphere(orf_mesh *m, int subdiv, float radius, float amplitude, uint32_t seed) {
  if (mg_icosphere(m, subdiv, radius)) return -1;
  for (size_t v = 0; v < m->vertex_count; v++) {
    uint64_t h = mix64((uint64_t)seed << 32 | (uint64_t)v);
    double u = (double)(h >> 11) / (double)(1ULL << 53) * 2.0 - 1.0;
    float *p = m->positions + 3 * v;
    double s = 1.0 + amplitude * u;
    for (int a = 0; a < 3; a++)
      p[a] = (float)(p[a] * s);
  }
  return 0;
}

void mg_radius_stats(const orf_mesh *m, const float centre[3], double *mean, double *stddev) {
  double s = 0, s2 = 0;
  for (size_t v = 0; v < m->vertex_count; v++) {
    const float *p = m->positions + 3 * v;
    double dx = p[0] - centre[0], dy = p[1] - centre[1], dz = p[2] - centre[2];
    double r = sqrt(dx * dx + dy * dy + dz * dz);
    s += r;
    s2 += r * r;
  }
  double n = m->vertex_count ? (double)m->vertex_count : 1;
  *mean = s / n;
  double var = s2 / n - (*mean) * (*mean);
  *stddev = var > 0 ? sqrt(var) : 0;
}

/* ---- marching tetrahedra sphere -------------------------------------- */

typedef struct mt {
  int n;
  double h, lo, c[3], r;
  edge_map map;
  vec pos, tri; /* float[3], uint32[3] */
} mt;

static double mt_field(const mt *s, int i, int j, int k) {
  double x = s->lo + i * s->h - s->c[0], y = s->lo + j * s->h - s->c[1], z = s->lo + k * s->h - s->c[2];
  return sqrt(x * x + y * y + z * z) - s->r;
}

/* Vertex on the lattice edge a-b (point ids), where the field crosses 0. */
static int mt_vertex(mt *s, uint32_t a, uint32_t b, uint32_t *out) {
  if (a > b) {
    uint32_t x = a;
    a = b;
    b = x;
  }
  uint64_t key = (uint64_t)a << 32 | b;
  size_t slot = map_slot(&s->map, key);
  if (s->map.keys[slot]) {
    *out = s->map.vals[slot];
    return 0;
  }
  if (2 * (s->map.count + 1) > s->map.cap) {
    if (map_grow(&s->map)) return -1;
    slot = map_slot(&s->map, key);
  }
  size_t side = (size_t)s->n + 1;
  int pa[3] = {(int)(a / (side * side)), (int)(a / side % side), (int)(a % side)};
  int pb[3] = {(int)(b / (side * side)), (int)(b / side % side), (int)(b % side)};
  double fa = mt_field(s, pa[0], pa[1], pa[2]), fb = mt_field(s, pb[0], pb[1], pb[2]);
  double t = fa / (fa - fb);
  if (t < 1e-3) t = 1e-3; /* as iso-surface extractors do: no coincident vertices */
  if (t > 1 - 1e-3) t = 1 - 1e-3;
  float *p = vec_push(&s->pos);
  if (!p) return -1;
  for (int q = 0; q < 3; q++)
    p[q] = (float)(s->lo + s->h * (pa[q] + t * (pb[q] - pa[q])));
  s->map.keys[slot] = key + 1;
  s->map.vals[slot] = (uint32_t)(s->pos.count - 1);
  s->map.count++;
  *out = s->map.vals[slot];
  return 0;
}

static int mt_tri(mt *s, uint32_t a, uint32_t b, uint32_t c) {
  uint32_t *t = vec_push(&s->tri);
  if (!t) return -1;
  t[0] = a, t[1] = b, t[2] = c;
  return 0;
}

static long det3(const int *o, const int *x, const int *y, const int *z) {
  long u[3], v[3], w[3];
  for (int q = 0; q < 3; q++)
    u[q] = x[q] - o[q], v[q] = y[q] - o[q], w[q] = z[q] - o[q];
  return u[0] * (v[1] * w[2] - v[2] * w[1]) - u[1] * (v[0] * w[2] - v[2] * w[0]) +
         u[2] * (v[0] * w[1] - v[1] * w[0]);
}

/* One tetrahedron: lattice coordinates g[4], point ids id[4], inside flags. */
static int mt_tet(mt *s, int g[4][3], const uint32_t id[4], const int in[4]) {
  int ni = in[0] + in[1] + in[2] + in[3];
  if (ni == 0 || ni == 4) return 0;
  int I[4], O[4], a = 0, b = 0;
  for (int k = 0; k < 4; k++) {
    if (in[k])
      I[a++] = k;
    else
      O[b++] = k;
  }
  uint32_t p[4];
  if (ni == 1) {
    int x = I[0], u = O[0], v = O[1], w = O[2];
    if (det3(g[x], g[u], g[v], g[w]) < 0) {
      int t = v;
      v = w;
      w = t;
    }
    if (mt_vertex(s, id[x], id[u], &p[0]) || mt_vertex(s, id[x], id[v], &p[1]) ||
        mt_vertex(s, id[x], id[w], &p[2]))
      return -1;
    return mt_tri(s, p[0], p[1], p[2]);
  }
  if (ni == 3) {
    int o = O[0], u = I[0], v = I[1], w = I[2];
    if (det3(g[o], g[u], g[v], g[w]) > 0) {
      int t = v;
      v = w;
      w = t;
    }
    if (mt_vertex(s, id[o], id[u], &p[0]) || mt_vertex(s, id[o], id[v], &p[1]) ||
        mt_vertex(s, id[o], id[w], &p[2]))
      return -1;
    return mt_tri(s, p[0], p[1], p[2]);
  }
  int ia = I[0], ib = I[1], oc = O[0], od = O[1];
  if (det3(g[ia], g[ib], g[oc], g[od]) < 0) {
    int t = oc;
    oc = od;
    od = t;
  }
  /* quad ac, ad, bd, bc; det(b-a, c-a, d-a) > 0 orients both halves out */
  if (mt_vertex(s, id[ia], id[oc], &p[0]) || mt_vertex(s, id[ia], id[od], &p[1]) ||
      mt_vertex(s, id[ib], id[od], &p[2]) || mt_vertex(s, id[ib], id[oc], &p[3]))
    return -1;
  if (mt_tri(s, p[0], p[1], p[2])) return -1;
  return mt_tri(s, p[0], p[2], p[3]);
}

int mg_mt_sphere(orf_mesh *m, int n, float radius) {
  mt s = {0};
  s.n = n;
  s.r = radius;
  s.lo = -1.2 * radius;
  s.h = 2.4 * radius / n;
  s.c[0] = 0.0123 * s.h, s.c[1] = 0.0371 * s.h, s.c[2] = -0.0517 * s.h;
  s.pos.elem = 3 * sizeof(float);
  s.tri.elem = 3 * sizeof(uint32_t);
  int rc = -1;
  if (map_init(&s.map, 1 << 16)) goto out;
  /* the 6 tetrahedra around the diagonal 0-7 of a cube (corner bits x|y<<1|z<<2) */
  static const int tets[6][4] = {{0, 1, 3, 7}, {0, 1, 5, 7}, {0, 2, 3, 7},
                                 {0, 2, 6, 7}, {0, 4, 5, 7}, {0, 4, 6, 7}};
  size_t side = (size_t)n + 1;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++)
      for (int k = 0; k < n; k++) {
        int g[8][3], in[8], any_in = 0, any_out = 0;
        uint32_t id[8];
        for (int c = 0; c < 8; c++) {
          g[c][0] = i + (c & 1), g[c][1] = j + (c >> 1 & 1), g[c][2] = k + (c >> 2 & 1);
          id[c] = (uint32_t)(((size_t)g[c][0] * side + (size_t)g[c][1]) * side + (size_t)g[c][2]);
          in[c] = mt_field(&s, g[c][0], g[c][1], g[c][2]) < 0;
          any_in |= in[c];
          any_out |= !in[c];
        }
        if (!any_in || !any_out) continue;
        for (int t = 0; t < 6; t++) {
          int tg[4][3], tin[4];
          uint32_t tid[4];
          for (int q = 0; q < 4; q++) {
            memcpy(tg[q], g[tets[t][q]], sizeof tg[q]);
            tid[q] = id[tets[t][q]];
            tin[q] = in[tets[t][q]];
          }
          if (mt_tet(&s, tg, tid, tin)) goto out;
        }
      }
  if (orf_mesh_alloc(m, s.pos.count, s.tri.count, 0)) goto out;
  memcpy(m->positions, s.pos.data, s.pos.count * s.pos.elem);
  memcpy(m->indices, s.tri.data, s.tri.count * s.tri.elem);
  rc = 0;
out:
  free(s.pos.data);
  free(s.tri.data);
  map_free(&s.map);
  return rc;
}
