/*
 * mesh.c - allocation, bounds, transforms, normals and compaction of
 * orf_mesh (see mesh.h).  Meshes the engine makes are allocated here with
 * orf_malloc so they count against the job that made them.
 */
#include "mesh.h"

#include <math.h>
#include <string.h>

#include "alloc.h"

void orf_mesh_free(orf_mesh *m) {
  if (!m) return;
  orf_free(m->positions);
  orf_free(m->colors);
  orf_free(m->indices);
  memset(m, 0, sizeof *m);
}

int orf_mesh_alloc(orf_mesh *m, size_t vertices, size_t faces, int with_colors) {
  memset(m, 0, sizeof *m);
  m->positions = orf_malloc_array(vertices ? vertices : 1, 3 * sizeof(float));
  m->indices = orf_malloc_array(faces ? faces : 1, 3 * sizeof(uint32_t));
  if (with_colors) m->colors = orf_malloc_array(vertices ? vertices : 1, 3);
  if (!m->positions || !m->indices || (with_colors && !m->colors)) {
    orf_mesh_free(m);
    return ORF_ENOMEM;
  }
  m->vertex_count = vertices;
  m->face_count = faces;
  return ORF_OK;
}

int orf_mesh_copy(orf_mesh *dst, const orf_mesh *src) {
  int rc = orf_mesh_alloc(dst, src->vertex_count, src->face_count, src->colors != NULL);
  if (rc) return rc;
  memcpy(dst->positions, src->positions, src->vertex_count * 3 * sizeof(float));
  memcpy(dst->indices, src->indices, src->face_count * 3 * sizeof(uint32_t));
  if (src->colors) memcpy(dst->colors, src->colors, src->vertex_count * 3);
  return ORF_OK;
}

void orf_mesh_bounds(const orf_mesh *m, float min[3], float max[3]) {
  for (int a = 0; a < 3; a++)
    min[a] = max[a] = 0;
  for (size_t v = 0; v < m->vertex_count; v++) {
    const float *p = m->positions + 3 * v;
    for (int a = 0; a < 3; a++) {
      if (v == 0 || p[a] < min[a]) min[a] = p[a];
      if (v == 0 || p[a] > max[a]) max[a] = p[a];
    }
  }
}

void orf_mesh_transform(orf_mesh *m, const float scale[3], const float offset[3]) {
  for (size_t v = 0; v < m->vertex_count; v++) {
    float *p = m->positions + 3 * v;
    for (int a = 0; a < 3; a++)
      p[a] = p[a] * scale[a] + offset[a];
  }
}

void orf_mesh_vertex_normals(const orf_mesh *m, float *normals) {
  memset(normals, 0, m->vertex_count * 3 * sizeof(float));
  for (size_t f = 0; f < m->face_count; f++) {
    const uint32_t *t = m->indices + 3 * f;
    const float *a = m->positions + 3 * t[0], *b = m->positions + 3 * t[1], *c = m->positions + 3 * t[2];
    float u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
    float w[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    /* the cross product's length is twice the area: area weighting for free */
    float n[3] = {u[1] * w[2] - u[2] * w[1], u[2] * w[0] - u[0] * w[2], u[0] * w[1] - u[1] * w[0]};
    for (int k = 0; k < 3; k++)
      for (int a = 0; a < 3; a++)
        normals[3 * t[k] + a] += n[a];
  }
  for (size_t v = 0; v < m->vertex_count; v++) {
    float *n = normals + 3 * v;
    /* in double: the squares of tiny (subnormal-range) components underflow
     * in float and leave a "unit" normal visibly short (found by fuzz_export) */
    double len = sqrt((double)n[0] * n[0] + (double)n[1] * n[1] + (double)n[2] * n[2]);
    if (len > 0 && isfinite(len)) {
      n[0] = (float)(n[0] / len);
      n[1] = (float)(n[1] / len);
      n[2] = (float)(n[2] / len);
    } else {
      n[0] = n[1] = 0;
      n[2] = 1;
    }
  }
}

int orf_mesh_compact(orf_mesh *m) {
  uint32_t *remap = orf_malloc_array(m->vertex_count ? m->vertex_count : 1, sizeof *remap);
  if (!remap) return ORF_ENOMEM;
  memset(remap, 0xff, m->vertex_count * sizeof *remap);
  for (size_t i = 0; i < 3 * m->face_count; i++)
    remap[m->indices[i]] = 0;
  uint32_t next = 0;
  for (size_t v = 0; v < m->vertex_count; v++) {
    if (remap[v] == UINT32_MAX) continue;
    remap[v] = next;
    memmove(m->positions + 3 * (size_t)next, m->positions + 3 * v, 3 * sizeof(float));
    if (m->colors) memmove(m->colors + 3 * (size_t)next, m->colors + 3 * v, 3);
    next++;
  }
  for (size_t i = 0; i < 3 * m->face_count; i++)
    m->indices[i] = remap[m->indices[i]];
  m->vertex_count = next;
  orf_free(remap);
  return ORF_OK;
}

size_t orf_mesh_components(const orf_mesh *m) {
  if (!m->face_count) return 0;
  uint32_t *parent = orf_malloc_array(m->vertex_count, sizeof *parent);
  if (!parent) return 0;
  for (size_t v = 0; v < m->vertex_count; v++)
    parent[v] = (uint32_t)v;
  for (size_t f = 0; f < m->face_count; f++) {
    const uint32_t *t = m->indices + 3 * f;
    for (int k = 1; k < 3; k++) {
      orf_uf_union(parent, t[0], t[k]);
    }
  }
  size_t n = 0;
  uint8_t *used = orf_calloc(m->vertex_count, 1);
  if (!used) {
    orf_free(parent);
    return 0;
  }
  for (size_t i = 0; i < 3 * m->face_count; i++)
    used[m->indices[i]] = 1;
  for (size_t v = 0; v < m->vertex_count; v++)
    n += used[v] && orf_uf_find(parent, (uint32_t)v) == v;
  orf_free(used);
  orf_free(parent);
  return n;
}
