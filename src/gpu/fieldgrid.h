/*
 * fieldgrid.h - the stored-field marching cubes that the CUDA path runs,
 * written once for the host and the device (these inline functions compile
 * as C11 for the host reference, fieldgrid_ref.c, and as CUDA C++ for the
 * kernels, cuda_engine.cu), so the two give the same bytes by construction.
 *
 * The inflate field f = y^2 - s^2 G(x, z) (inflate.h) is evaluated at every
 * point of the grid and STORED, as GPU marching cubes needs (classify /
 * prefix-sum / compact / generate: NVIDIA's "Marching Cubes Isosurface"
 * CUDA sample; C. Dyken, G. Ziegler, C. Theobalt and H.-P. Seidel,
 * "High-speed Marching Cubes using HistoPyramids", Computer Graphics Forum
 * 27(8), 2008).  Storage is one of three precisions:
 *  - fp32: f itself.  Every operation is the one mc.c and inflate.c do, in
 *    the same order (the CUDA code is built with --fmad=false so no multiply
 *    and add fuse), so the mesh is byte-identical to the CPU path's.
 *  - fp16: the signed distance in voxels, f / |grad f| / spacing (the
 *    first-order distance of G. Taubin, "Distance approximations for
 *    rasterizing implicit curves", ACM TOG 13(1), 1994), clamped to
 *    +-FG_FP16_CLAMP and rounded to IEEE half (round to nearest even).
 *  - int8: that distance truncated to +-FG_INT8_BAND voxels (a truncated
 *    signed distance field, as in B. Curless and M. Levoy, "A volumetric
 *    method for building complex models from range images", SIGGRAPH 1996)
 *    and quantised mid-rise: code q stands for (q + 1/2) * band / 128, so no
 *    code is zero, the sign is kept exactly, and no crossing lands on a
 *    grid point (a zero level would put many vertices there and leave
 *    faces of no area).
 * Only the sign and the interpolation of the stored value matter to
 * marching cubes, so fp16 and int8 meshes stay closed and 2-manifold; how far
 * they move from fp32 is measured (BENCHMARKS.md).
 *
 * Layout: point (i, j, k) is element (k * nx + i) * ny + j - j, the depth
 * axis, varies fastest, so the threads of a warp, which take neighbouring
 * rows j, read neighbouring words as they walk along x.
 *
 * Output order: exactly mc.c's (see there): vertices by slice k, XY(k) then
 * Z(k); in XY(k) row j's x-edge crossings, then its y-edge crossings; in
 * Z(k) row by row; within a row by increasing x.  One thread takes one row
 * (j, k): it counts the row's crossings and triangles (pass 1), and after a
 * prefix sum over the counts in that order (the vertex segments X(k,j),
 * Y(k,j), Z(k,j) and the triangle rows) it writes them (pass 2), walking x
 * with the same running ranks as mc.c's face loop.
 */
#ifndef ORF_FIELDGRID_H
#define ORF_FIELDGRID_H

#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#define ORF_HD __host__ __device__ __forceinline__
#else
#include <math.h>
#define ORF_HD static inline
#endif

enum { ORF_FG_FP32 = 0, ORF_FG_FP16 = 1, ORF_FG_INT8 = 2 }; /* = orf_precision */

#define FG_FP16_CLAMP 256.0f /* voxels: far enough that no crossing is near */
#define FG_INT8_BAND 4.0f    /* voxels of the truncated distance */
#define FG_T_MIN 1e-4f       /* mc.c's clamp of a crossing along its edge */
#define FG_T_MAX (1.0f - 1e-4f)

/* The 2-D fields and the grid's axis tables (host or device pointers). */
typedef struct orf_fg_src {
  const float *height; /* H, w * h */
  const float *front;  /* G of the front half, w * h */
  uint32_t w;          /* row length of both */
  float s2;            /* s^2 */
  const int32_t *col;  /* nx: canvas column of grid x */
  const float *colt;   /* nx: its bilinear weight */
  const int32_t *row;  /* nz: canvas row of grid z */
  const float *rowt;   /* nz */
  const float *y;      /* ny: depth coordinate of grid y */
} orf_fg_src;

/* The stored grid and how its mesh is placed. */
typedef struct orf_fg_grid {
  int nx, ny, nz;
  float origin[3], spacing[3];
  int precision;    /* ORF_FG_* */
  const void *data; /* nx * ny * nz values of the precision's size */
} orf_fg_grid;

ORF_HD size_t orf_fg_index(const orf_fg_grid *g, int i, int j, int k) {
  return ((size_t)k * (size_t)g->nx + (size_t)i) * (size_t)g->ny + (size_t)j;
}

ORF_HD size_t orf_fg_value_size(int precision) {
  return precision == ORF_FG_FP32 ? 4 : precision == ORF_FG_FP16 ? 2 : 1;
}

/* ---- IEEE half, by hand so host and device round the same way ----------- */

/* float -> half bits, round to nearest even; overflow to infinity, NaN kept. */
ORF_HD uint16_t orf_fg_f2h(float f) {
  union {
    float f;
    uint32_t u;
  } v;
  v.f = f;
  uint32_t sign = (v.u >> 16) & 0x8000u, mag = v.u & 0x7fffffffu;
  if (mag >= 0x7f800000u) return (uint16_t)(sign | 0x7c00u | (mag > 0x7f800000u ? 0x200u : 0));
  if (mag >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504 */
  if (mag < 0x38800000u) {                                   /* half subnormal or zero */
    if (mag < 0x33000000u) return (uint16_t)sign;            /* below half the smallest */
    uint32_t e = mag >> 23, m = (mag & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126u - e; /* 14..24 */
    uint32_t h = m >> shift, rest = m & ((1u << shift) - 1u), half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (h & 1u))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((mag - 0x38000000u) >> 13), rest = mag & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
  return (uint16_t)(sign | h);
}

ORF_HD float orf_fg_h2f(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
  if (e == 0x1fu) {
    u = sign | 0x7f800000u | (m << 13);
  } else if (e) {
    u = sign | ((e + 112u) << 23) | (m << 13);
  } else if (!m) {
    u = sign;
  } else { /* subnormal: normalise */
    e = 113u;
    while (!(m & 0x400u))
      m <<= 1, e--;
    u = sign | (e << 23) | ((m & 0x3ffu) << 13);
  }
  union {
    uint32_t u;
    float f;
  } v;
  v.u = u;
  return v.f;
}

/* ---- the field at one point --------------------------------------------- */

/* inflate.c's lerp2: bilinear in a row-major array of row length w. */
ORF_HD float orf_fg_lerp2(const float *a, uint32_t w, int32_t c, float tx, float ty) {
  float top = a[c] + tx * (a[c + 1] - a[c]);
  float bot = a[w + c] + tx * (a[w + c + 1] - a[w + c]);
  return top + ty * (bot - top);
}

/* Writes the stored value of point (i, j, k) into data (of g's precision),
 * computed as inflate.c's eval_slice computes it; sp is the grid spacing in
 * canvas pixels. */
ORF_HD void orf_fg_eval(const orf_fg_src *s, const orf_fg_grid *g, int i, int j, int k, void *data) {
  size_t r = (size_t)s->row[k] * s->w;
  float ty = s->rowt[k], tx = s->colt[i], y = s->y[j];
  int32_t c = s->col[i];
  const float *src = y < 0 ? s->front + r : s->height + r;
  float gv = s->s2 * orf_fg_lerp2(src, s->w, c, tx, ty);
  float f = y * y - gv;
  size_t at = orf_fg_index(g, i, j, k);
  if (g->precision == ORF_FG_FP32) {
    ((float *)data)[at] = f;
    return;
  }
  /* |grad f|: d/dy = 2y; d/dx and d/dz from the bilinear patch (canvas rows
   * grow towards -z) */
  const float *a = src + c, *b = a + s->w;
  float gx = (a[1] - a[0]) + ty * ((b[1] - b[0]) - (a[1] - a[0]));
  float top = a[0] + tx * (a[1] - a[0]), bot = b[0] + tx * (b[1] - b[0]);
  float gz = top - bot;
  float n2 = 4.0f * y * y + s->s2 * s->s2 * (gx * gx + gz * gz);
  float n = sqrtf(n2);
  float d = f / (n > 1e-12f ? n : 1e-12f) / g->spacing[0]; /* voxels */
  if (g->precision == ORF_FG_FP16) {
    d = d > FG_FP16_CLAMP ? FG_FP16_CLAMP : d < -FG_FP16_CLAMP ? -FG_FP16_CLAMP : d;
    ((uint16_t *)data)[at] = orf_fg_f2h(d);
  } else {
    float q = floorf(d * (128.0f / FG_INT8_BAND));
    q = q > 127.0f ? 127.0f : q < -128.0f ? -128.0f : q;
    ((int8_t *)data)[at] = (int8_t)q;
  }
}

/* The stored value of point (i, j, k) as a float (NaN stays NaN). */
ORF_HD float orf_fg_load(const orf_fg_grid *g, int i, int j, int k) {
  size_t at = orf_fg_index(g, i, j, k);
  if (g->precision == ORF_FG_FP32) return ((const float *)g->data)[at];
  if (g->precision == ORF_FG_FP16) return orf_fg_h2f(((const uint16_t *)g->data)[at]);
  return ((float)((const int8_t *)g->data)[at] + 0.5f) * (FG_INT8_BAND / 128.0f);
}

/* ---- marching cubes over stored rows -------------------------------------- */

/* Where row (j, k)'s counts go: vertex segments in output order, and the
 * triangle row of cell row (j, k). */
ORF_HD size_t orf_fg_seg_x(int ny, int j, int k) { return (size_t)k * 3 * (size_t)ny + 2 * (size_t)j; }
ORF_HD size_t orf_fg_seg_y(int ny, int j, int k) { return (size_t)k * 3 * (size_t)ny + 2 * (size_t)j + 1; }
ORF_HD size_t orf_fg_seg_z(int ny, int j, int k) {
  return (size_t)k * 3 * (size_t)ny + 2 * (size_t)ny + (size_t)j;
}
ORF_HD size_t orf_fg_tri_row(int ny, int j, int k) { return (size_t)k * (size_t)ny + (size_t)j; }

/* mc.c's crossing: t = (iso - a) / (b - a) clamped, NaN to T_MIN; iso = 0. */
ORF_HD float orf_fg_cross_t(float a, float b) {
  float t = (0.0f - a) / (b - a);
  return t > FG_T_MIN ? (t < FG_T_MAX ? t : FG_T_MAX) : FG_T_MIN;
}

/* Inside bits of the four points (i, j, k), (i, j+1, k), (i, j, k+1),
 * (i, j+1, k+1) as bits 0..3 (rows past the grid read as outside). */
ORF_HD unsigned orf_fg_column(const orf_fg_grid *g, int i, int j, int k) {
  unsigned b = orf_fg_load(g, i, j, k) < 0.0f;
  if (j + 1 < g->ny) b |= (unsigned)(orf_fg_load(g, i, j + 1, k) < 0.0f) << 1;
  if (k + 1 < g->nz) {
    b |= (unsigned)(orf_fg_load(g, i, j, k + 1) < 0.0f) << 2;
    if (j + 1 < g->ny) b |= (unsigned)(orf_fg_load(g, i, j + 1, k + 1) < 0.0f) << 3;
  }
  return b;
}

/* Pass 1 for row (j, k): its x-, y- and z-edge crossings into seg (at its
 * three segments) and its cells' triangles into tri (at its triangle row;
 * 0 for the last row or slice).  tri_count is mc_tables.h's table. */
ORF_HD void orf_fg_row_count(const orf_fg_grid *g, int j, int k, const uint8_t *tri_count, uint64_t *seg,
                             uint64_t *tri) {
  const int cells = j + 1 < g->ny && k + 1 < g->nz;
  uint64_t cx = 0, cy = 0, cz = 0, ct = 0;
  unsigned a = orf_fg_column(g, 0, j, k);
  for (int i = 0; i < g->nx; i++) {
    cy += (a ^ (a >> 1)) & 1 & (j + 1 < g->ny);
    cz += (a ^ (a >> 2)) & 1 & (k + 1 < g->nz);
    if (i + 1 == g->nx) break;
    unsigned b = orf_fg_column(g, i + 1, j, k);
    cx += (a ^ b) & 1;
    if (cells) {
      /* corners c = x + 2y + 4z: column bit q is (y = q & 1, z = q >> 1) */
      unsigned c = (a & 1) | (b & 1) << 1 | (a >> 1 & 1) << 2 | (b >> 1 & 1) << 3 | (a >> 2 & 1) << 4 |
                   (b >> 2 & 1) << 5 | (a >> 3 & 1) << 6 | (b >> 3 & 1) << 7;
      ct += tri_count[c];
    }
    a = b;
  }
  seg[orf_fg_seg_x(g->ny, j, k)] = cx;
  seg[orf_fg_seg_y(g->ny, j, k)] = cy;
  seg[orf_fg_seg_z(g->ny, j, k)] = cz;
  tri[orf_fg_tri_row(g->ny, j, k)] = ct;
}

/* mc.c's put_vertex: the position in double, rounded once to float. */
ORF_HD void orf_fg_put(const orf_fg_grid *g, float *pos, uint64_t v, double gx, double gy, double gz) {
  float *p = pos + 3 * v;
  p[0] = (float)(g->origin[0] + g->spacing[0] * gx);
  p[1] = (float)(g->origin[1] + g->spacing[1] * gy);
  p[2] = (float)(g->origin[2] + g->spacing[2] * gz);
}

/* Pass 2 for row (j, k): writes its vertices into pos (3 floats each) and
 * its cells' triangles into idx, numbered by vbase (the exclusive prefix sum
 * of pass 1's seg) and placed by tbase (that of tri).  tri_edges is
 * mc_tables.h's table (rows of max_tris * 3). */
ORF_HD void orf_fg_row_emit(const orf_fg_grid *g, int j, int k, const uint8_t *tri_count,
                            const uint8_t *tri_edges, int max_tris, const uint64_t *vbase,
                            const uint64_t *tbase, float *pos, uint32_t *idx) {
  const int ny = g->ny, hy = j + 1 < ny, hz = k + 1 < g->nz, cells = hy && hz;
  uint64_t vx = vbase[orf_fg_seg_x(ny, j, k)], vy = vbase[orf_fg_seg_y(ny, j, k)];
  uint64_t vz = vbase[orf_fg_seg_z(ny, j, k)];
  /* running ranks of the eight edge rows a cell row touches, in mc.c's
   * order: x-edges of (j,k) (j+1,k) (j,k+1) (j+1,k+1), y-edges of (j,k)
   * (j,k+1), z-edges of (j,k) (j+1,k) */
  uint64_t r[8] = {0};
  uint64_t t = 0;
  if (cells) {
    r[0] = vx;
    r[1] = vbase[orf_fg_seg_x(ny, j + 1, k)];
    r[2] = vbase[orf_fg_seg_x(ny, j, k + 1)];
    r[3] = vbase[orf_fg_seg_x(ny, j + 1, k + 1)];
    r[4] = vy;
    r[5] = vbase[orf_fg_seg_y(ny, j, k + 1)];
    r[6] = vz;
    r[7] = vbase[orf_fg_seg_z(ny, j + 1, k)];
    t = tbase[orf_fg_tri_row(ny, j, k)];
  }
  unsigned a = orf_fg_column(g, 0, j, k);
  float v0 = orf_fg_load(g, 0, j, k);
  for (int i = 0; i < g->nx; i++) {
    /* this row's own vertices at x = i */
    if (hy && ((a ^ (a >> 1)) & 1))
      orf_fg_put(g, pos, vy++, i, j + (double)orf_fg_cross_t(v0, orf_fg_load(g, i, j + 1, k)), k);
    if (hz && ((a ^ (a >> 2)) & 1))
      orf_fg_put(g, pos, vz++, i, j, k + (double)orf_fg_cross_t(v0, orf_fg_load(g, i, j, k + 1)));
    if (i + 1 == g->nx) break;
    unsigned b = orf_fg_column(g, i + 1, j, k);
    float v1 = orf_fg_load(g, i + 1, j, k);
    if ((a ^ b) & 1) orf_fg_put(g, pos, vx++, i + (double)orf_fg_cross_t(v0, v1), j, k);
    if (cells) {
      unsigned c = (a & 1) | (b & 1) << 1 | (a >> 1 & 1) << 2 | (b >> 1 & 1) << 3 | (a >> 2 & 1) << 4 |
                   (b >> 2 & 1) << 5 | (a >> 3 & 1) << 6 | (b >> 3 & 1) << 7;
      /* crossing flags at x = i of the eight edge rows */
      unsigned f[8];
      unsigned xe = a ^ b;
      f[0] = xe & 1;
      f[1] = xe >> 1 & 1;
      f[2] = xe >> 2 & 1;
      f[3] = xe >> 3 & 1;
      f[4] = (a ^ (a >> 1)) & 1;
      f[5] = (a >> 2 ^ (a >> 3)) & 1;
      f[6] = (a ^ (a >> 2)) & 1;
      f[7] = (a >> 1 ^ (a >> 3)) & 1;
      unsigned n = tri_count[c];
      if (n) {
        /* the y- and z-edges at x = i + 1 come next in their rows */
        uint32_t e[12] = {(uint32_t)r[0], (uint32_t)r[1],          (uint32_t)r[2], (uint32_t)r[3],
                          (uint32_t)r[4], (uint32_t)(r[4] + f[4]), (uint32_t)r[5], (uint32_t)(r[5] + f[5]),
                          (uint32_t)r[6], (uint32_t)(r[6] + f[6]), (uint32_t)r[7], (uint32_t)(r[7] + f[7])};
        const uint8_t *te = tri_edges + (size_t)c * (size_t)max_tris * 3;
        uint32_t *o = idx + 3 * t;
        for (unsigned q = 0; q < 3 * n; q++)
          o[q] = e[te[q]];
        t += n;
      }
      for (int q = 0; q < 8; q++)
        r[q] += f[q];
    }
    a = b;
    v0 = v1;
  }
}

#endif
