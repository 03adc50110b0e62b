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

/* Rows of the bottom in column i: every 2^level-th row and the last, the
 * level growing by one a column from each side up to where only the first
 * and last rows remain. */
static uint32_t bottom_level(uint32_t i, uint32_t nx, uint32_t ny) {
  uint32_t lev = i < nx - 1 - i ? i : nx - 1 - i, top = 0;
  while (top < 31 && (1u << top) < ny - 1)
    top++;
  return lev < top ? lev : top;
}

static inline int bottom_has(uint32_t j, uint32_t lev, uint32_t ny) {
  return j == ny - 1 || (j & ((1u << lev) - 1)) == 0;
}

int orf_hf_plate(const float *xs, uint32_t nx, const float *ys, uint32_t ny, const float *z, orf_mesh *out) {
  memset(out, 0, sizeof *out);
  if (nx < 2 || ny < 2 || (uint64_t)nx * ny > (1u << 30)) return ORF_EINVAL;
  size_t n = (size_t)nx * ny, cells = (size_t)(nx - 1) * (ny - 1);
  size_t perim = 2 * (size_t)(nx - 1) + 2 * (size_t)(ny - 1);
  /* bottom vertices, column by column: first[i] is column i's first */
  uint32_t *first = orf_malloc_array((size_t)nx + 1, sizeof(uint32_t));
  if (!first) return ORF_ENOMEM;
  size_t nb = 0, bottom_faces = 0;
  for (uint32_t i = 0; i < nx; i++) {
    first[i] = (uint32_t)(n + nb);
    uint32_t lev = bottom_level(i, nx, ny);
    for (uint32_t j = 0; j < ny; j++)
      nb += (size_t)bottom_has(j, lev, ny);
  }
  first[nx] = (uint32_t)(n + nb);
  for (uint32_t i = 0; i + 1 < nx; i++)
    bottom_faces += (size_t)(first[i + 2] - first[i]) - 2;
  int rc = orf_mesh_alloc(out, n + nb, 2 * cells + bottom_faces + 2 * perim, 0);
  if (rc) {
    orf_free(first);
    return rc;
  }
  float *p = out->positions;
  for (uint32_t j = 0; j < ny; j++)
    for (uint32_t i = 0; i < nx; i++) {
      float *t = p + 3 * ((size_t)j * nx + i);
      t[0] = xs[i], t[1] = ys[j], t[2] = z[(size_t)j * nx + i];
    }
  for (uint32_t i = 0; i < nx; i++) {
    uint32_t lev = bottom_level(i, nx, ny), v = first[i];
    for (uint32_t j = 0; j < ny; j++)
      if (bottom_has(j, lev, ny)) {
        float *b = p + 3 * (size_t)v++;
        b[0] = xs[i], b[1] = ys[j], b[2] = 0;
      }
  }
  uint32_t *f = out->indices;
  for (uint32_t j = 0; j + 1 < ny; j++)
    for (uint32_t i = 0; i + 1 < nx; i++) {
      uint32_t a = j * nx + i, b = a + 1, c = a + nx + 1, d = a + nx;
      f = quad(f, a, b, c, d, pick_ac(z[a], z[b], z[c], z[d]));
    }
  /* the bottom, seen from below: each pair of columns zipped in y order
   * (two parallel lines, so no face is degenerate or folded) */
  for (uint32_t i = 0; i + 1 < nx; i++) {
    uint32_t la = bottom_level(i, nx, ny), lb = bottom_level(i + 1, nx, ny);
    uint32_t a = first[i], b = first[i + 1], ja = 0, jb = 0;
    while (a + 1 < first[i + 1] || b + 1 < first[i + 2]) {
      uint32_t na = ja + 1, nb2 = jb + 1;
      while (na < ny && !bottom_has(na, la, ny))
        na++;
      while (nb2 < ny && !bottom_has(nb2, lb, ny))
        nb2++;
      if (b + 1 >= first[i + 2] || (a + 1 < first[i + 1] && na <= nb2)) {
        f[0] = a, f[1] = a + 1, f[2] = b;
        a++, ja = na;
      } else {
        f[0] = a, f[1] = b + 1, f[2] = b;
        b++, jb = nb2;
      }
      f += 3;
    }
  }
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
    /* the bottom vertex under top vertex (i, j) of the perimeter */
    uint32_t ni = next % nx, nj = next / nx;
    uint32_t bk = j == 0 ? first[i] : j == ny - 1 ? first[i + 1] - 1 : first[i] + j;
    uint32_t bn = nj == 0 ? first[ni] : nj == ny - 1 ? first[ni + 1] - 1 : first[ni] + nj;
    /* outside is on the right of the walk: B_k B_next T_next T_k */
    f = quad(f, bk, bn, next, k, 1);
    k = next;
  }
  orf_free(first);
  return ORF_OK;
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
  for (uint32_t i = 0; i < nt; i++) {
    uint32_t i1 = i + 1 == nt ? 0 : i + 1;
    for (uint32_t j = 0; j + 1 < nz; j++) {
      uint32_t a = j * nt + i, b = j * nt + i1, c = b + nt, d = a + nt;
      f = quad(f, a, b, c, d, pick_ac(t[a], t[b], t[c], t[d]));
    }
    uint32_t ob = i, ob1 = i1, ot = (nz - 1) * nt + i, ot1 = (nz - 1) * nt + i1;
    f = quad(f, lo + i, hi + i, hi + i1, lo + i1, 1); /* inner wall, facing the axis */
    f = quad(f, ob, lo + i, lo + i1, ob1, 1);         /* bottom rim, facing down */
    f = quad(f, ot, ot1, hi + i1, hi + i, 1);         /* top rim, facing up */
  }
  return ORF_OK;
}
