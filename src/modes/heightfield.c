/*
 * heightfield.c - plates and rings over height fields (see heightfield.h).
 */
#include "heightfield.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "mesh.h"

static inline uint32_t *quad(uint32_t *f, uint32_t a, uint32_t b, uint32_t c, uint32_t d, int diag_ac) {
  /* a b c d counter-clockwise seen from outside */
  if (diag_ac) {
    f[0] = a, f[1] = b, f[2] = c;
    f[3] = a, f[4] = c, f[5] = d;
  } else {
    f[0] = a, f[1] = b, f[2] = d;
    f[3] = b, f[4] = c, f[5] = d;
  }
  return f + 6;
}

/* The diagonal a-c when it joins the closer heights (ties: a-c). */
static inline int pick_ac(float za, float zb, float zc, float zd) { return fabsf(za - zc) <= fabsf(zb - zd); }

/* ---- graded rectangles ------------------------------------------------ */

/* A flat rectangle of w x h grid cells (w, h >= 1) triangulated with every
 * point of its border and few inside: column c keeps every 2^level(c)-th
 * row and the last, the level growing by one a column from each side up to
 * where only the first and last rows remain; neighbouring columns are
 * zipped in y order.  Two points of each face lie on one grid line and the
 * third on the next, so no face is degenerate or folded, and no vertex has
 * more than a handful of faces. */
static uint32_t zip_level(uint32_t c, uint32_t w, uint32_t h) {
  uint32_t lev = c < w - c ? c : w - c, top = 0;
  while (top < 31 && (1u << top) < h)
    top++;
  return lev < top ? lev : top;
}

/* The row after j (< h) that column level `lev` keeps. */
static inline uint32_t zip_next(uint32_t j, uint32_t lev, uint32_t h) {
  uint32_t n = (j | ((1u << lev) - 1)) + 1;
  return n < h ? n : h;
}

static size_t zip_faces(uint32_t w, uint32_t h) {
  size_t f = 0;
  for (uint32_t c = 0; c <= w; c++) {
    uint32_t lev = zip_level(c, w, h), rows = ((h - 1) >> lev) + 2; /* rows kept, the last included */
    f += (c == 0 || c == w) ? rows - 1 : 2 * (size_t)(rows - 1);
  }
  return f;
}

/* Writes the faces of the rectangle whose point (c, j) is vertex
 * base + j * stride + c, facing +Z when up, else -Z.  Returns the end. */
static uint32_t *zip_rect(uint32_t *f, uint32_t base, uint32_t stride, uint32_t w, uint32_t h, int up) {
  for (uint32_t c = 0; c < w; c++) {
    uint32_t la = zip_level(c, w, h), lb = zip_level(c + 1, w, h), ja = 0, jb = 0;
    uint32_t a0 = base + c, b0 = a0 + 1;
    while (ja < h || jb < h) {
      uint32_t na = ja < h ? zip_next(ja, la, h) : h, nb = jb < h ? zip_next(jb, lb, h) : h;
      uint32_t a = a0 + ja * stride, b = b0 + jb * stride;
      if (jb == h || (ja < h && na <= nb)) { /* A climbs to na */
        uint32_t a1 = a0 + na * stride;
        f[0] = a, f[1] = up ? b : a1, f[2] = up ? a1 : b;
        ja = na;
      } else { /* B climbs to nb */
        uint32_t b1 = b0 + nb * stride;
        f[0] = a, f[1] = up ? b : b1, f[2] = up ? b1 : b;
        jb = nb;
      }
      f += 3;
    }
  }
  return f;
}

/* ---- plates ------------------------------------------------------------- */

/* Side of the blocks of the top tested for flatness, in cells. */
#define FLAT_BLOCK 16

/* Whether the heights of block (bi, bj) are all equal. */
static int block_flat(const float *z, uint32_t nx, uint32_t i0, uint32_t j0, uint32_t w, uint32_t h) {
  float z0 = z[(size_t)j0 * nx + i0];
  for (uint32_t j = j0; j <= j0 + h; j++)
    for (uint32_t i = i0; i <= i0 + w; i++)
      if (z[(size_t)j * nx + i] != z0) return 0;
  return 1;
}

int orf_hf_plate(const float *xs, uint32_t nx, const float *ys, uint32_t ny, const float *z, orf_mesh *out) {
  memset(out, 0, sizeof *out);
  if (nx < 2 || ny < 2 || (uint64_t)nx * ny > (1u << 29)) return ORF_EINVAL;
  size_t n = (size_t)nx * ny, cells = (size_t)(nx - 1) * (ny - 1);
  size_t perim = 2 * (size_t)(nx - 1) + 2 * (size_t)(ny - 1);
  /* every grid point on top and bottom; compaction drops those unused */
  int rc = orf_mesh_alloc(out, 2 * n, 2 * cells + zip_faces(nx - 1, ny - 1) + 2 * perim, 0);
  if (rc) return rc;
  float *p = out->positions;
  for (uint32_t j = 0; j < ny; j++)
    for (uint32_t i = 0; i < nx; i++) {
      size_t v = (size_t)j * nx + i;
      float *t = p + 3 * v, *b = p + 3 * (n + v);
      t[0] = b[0] = xs[i];
      t[1] = b[1] = ys[j];
      t[2] = z[v];
      b[2] = 0;
    }
  uint32_t *f = out->indices;
  /* the top: flat blocks graded, the rest one quad a cell */
  for (uint32_t j0 = 0; j0 + 1 < ny; j0 += FLAT_BLOCK)
    for (uint32_t i0 = 0; i0 + 1 < nx; i0 += FLAT_BLOCK) {
      uint32_t w = nx - 1 - i0 < FLAT_BLOCK ? nx - 1 - i0 : FLAT_BLOCK;
      uint32_t h = ny - 1 - j0 < FLAT_BLOCK ? ny - 1 - j0 : FLAT_BLOCK;
      if (w > 2 && h > 2 && block_flat(z, nx, i0, j0, w, h)) {
        f = zip_rect(f, j0 * nx + i0, nx, w, h, 1);
        continue;
      }
      for (uint32_t j = j0; j < j0 + h; j++)
        for (uint32_t i = i0; i < i0 + w; i++) {
          uint32_t a = j * nx + i, b = a + 1, c = a + nx + 1, d = a + nx;
          f = quad(f, a, b, c, d, pick_ac(z[a], z[b], z[c], z[d]));
        }
    }
  /* the bottom, seen from below */
  f = zip_rect(f, (uint32_t)n, nx, nx - 1, ny - 1, 0);
  /* walls along the perimeter, walked counter-clockwise seen from above */
  uint32_t k = 0;
  for (size_t s = 0; s < perim; s++) {
    uint32_t i = k % nx, j = k / nx, next;
    if (j == 0 && i + 1 < nx)
      next = k + 1;
    else if (i == nx - 1 && j + 1 < ny)
      next = k + nx;
    else if (j == ny - 1 && i > 0)
      next = k - 1;
    else
      next = k - nx;
    /* outside is on the right of the walk: B_k B_next T_next T_k */
    f = quad(f, (uint32_t)n + k, (uint32_t)n + next, next, k, 1);
    k = next;
  }
  out->face_count = (size_t)(f - out->indices) / 3;
  rc = orf_mesh_compact(out);
  if (rc) orf_mesh_free(out);
  return rc;
}

int orf_hf_ring(const float *theta, uint32_t nt, const float *zs, uint32_t nz, float r_in, const float *t,
                orf_mesh *out) {
  memset(out, 0, sizeof *out);
  if (nt < 3 || nz < 2 || (uint64_t)nt * (nz + 2) > (1u << 30)) return ORF_EINVAL;
  size_t n = (size_t)nt * nz; /* outer vertices; inner ones follow: bottom ring, top ring */
  int rc = orf_mesh_alloc(out, n + 2 * (size_t)nt, 2 * (size_t)nt * (nz - 1) + 6 * (size_t)nt, 0);
  if (rc) return rc;
  float *p = out->positions;
  for (uint32_t i = 0; i < nt; i++) {
    float c = cosf(theta[i]), s = sinf(theta[i]);
    for (uint32_t j = 0; j < nz; j++) {
      float r = r_in + t[(size_t)j * nt + i], *q = p + 3 * ((size_t)j * nt + i);
      q[0] = r * c, q[1] = r * s, q[2] = zs[j];
    }
    float *lo = p + 3 * (n + i), *hi = p + 3 * (n + nt + i);
    lo[0] = hi[0] = r_in * c;
    lo[1] = hi[1] = r_in * s;
    lo[2] = zs[0];
    hi[2] = zs[nz - 1];
  }
  uint32_t *f = out->indices, lo = (uint32_t)n, hi = (uint32_t)n + nt;
  /* the outer wall: blocks of equal thickness graded (each pair of
   * columns is a vertical strip, flat), the rest one quad a cell; the
   * column of cells across the seam (nt - 1 to 0) is never graded */
  for (uint32_t j0 = 0; j0 + 1 < nz; j0 += FLAT_BLOCK)
    for (uint32_t i0 = 0; i0 < nt; i0 += FLAT_BLOCK) {
      uint32_t w = nt - i0 < FLAT_BLOCK ? nt - i0 : FLAT_BLOCK;
      uint32_t h = nz - 1 - j0 < FLAT_BLOCK ? nz - 1 - j0 : FLAT_BLOCK;
      uint32_t wg = i0 + w == nt ? w - 1 : w, from = i0; /* wg: cells before the seam */
      if (wg > 2 && h > 2 && block_flat(t, nt, i0, j0, wg, h)) {
        f = zip_rect(f, j0 * nt + i0, nt, wg, h, 1);
        from = i0 + wg;
      }
      for (uint32_t j = j0; j < j0 + h; j++)
        for (uint32_t i = from; i < i0 + w; i++) {
          uint32_t i1 = i + 1 == nt ? 0 : i + 1;
          uint32_t a = j * nt + i, b = j * nt + i1, c = b + nt, d = a + nt;
          f = quad(f, a, b, c, d, pick_ac(t[a], t[b], t[c], t[d]));
        }
    }
  for (uint32_t i = 0; i < nt; i++) {
    uint32_t i1 = i + 1 == nt ? 0 : i + 1;
    uint32_t ob = i, ob1 = i1, ot = (nz - 1) * nt + i, ot1 = (nz - 1) * nt + i1;
    f = quad(f, lo + i, hi + i, hi + i1, lo + i1, 1); /* inner wall, facing the axis */
    f = quad(f, ob, lo + i, lo + i1, ob1, 1);         /* bottom rim, facing down */
    f = quad(f, ot, ot1, hi + i1, hi + i, 1);         /* top rim, facing up */
  }
  out->face_count = (size_t)(f - out->indices) / 3;
  rc = orf_mesh_compact(out);
  if (rc) orf_mesh_free(out);
  return rc;
}
