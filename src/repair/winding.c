/*
 * winding.c - the generalized winding number of a triangle soup, fast.
 *
 * The generalized winding number (A. Jacobson, L. Kavan and O. Sorkine-
 * Hornung, "Robust Inside-Outside Segmentation using Generalized Winding
 * Numbers", SIGGRAPH 2013) of a point q is the sum of the signed solid
 * angles its triangles subtend at q, over 4 pi: 1 inside a closed outward
 * surface, 0 outside, and a smooth, harmonic blend where the surface has
 * holes, doubled shells or self-intersections, so thresholding it at 1/2
 * gives a solid from almost anything.  Each solid angle is the formula of
 * A. Van Oosterom and J. Strackee ("The Solid Angle of a Plane Triangle",
 * IEEE TBME 1983): tan(Omega/2) = a.(b x c) / (|a||b||c| + (a.b)|c| +
 * (b.c)|a| + (c.a)|b|).
 *
 * Summing every triangle for every query is O(n m).  Following G. Barill,
 * N. Dickson, R. Schmidt, D. Levin and A. Jacobson ("Fast Winding Numbers
 * for Soups and Clouds", SIGGRAPH 2018), the triangles are put in a
 * bounding-volume tree (median splits on the longest axis of the
 * centroids, leaves of at most LEAF triangles), and each node keeps a
 * Taylor expansion of its triangles' solid angle about its area-weighted
 * centroid p: with r = p - q, g(r) = r / |r|^3, area vectors N_t (area
 * times unit normal), centroids c_t and S_t the mean of (x - p)(x - p)^T
 * over triangle t,
 *   Omega ~= N . g(r) + sum_ij M_ij dg_i/dr_j + 1/2 sum_ijk H_ijk d2g_i/dr_j dr_k
 *         =  N . r / |r|^3 + tr(M) / |r|^3 - 3 r.M.r / |r|^5 + (second order),
 *   N = sum_t N_t,   M = sum_t N_t (c_t - p)^T,   H_ijk = sum_t N_t,i S_t,jk
 * (the zeroth-, first- and second-order terms of their expansion; S_t is
 * exact for a triangle: (sum_v w_v w_v^T + (sum_v w_v)(sum_v w_v)^T) / 12
 * with w_v its corners less p).  A node farther from q than beta times its
 * radius is summed through the expansion, else its children (or, at a
 * leaf, its triangles exactly).  As in the paper, the expansion goes to
 * second order with beta = 2 (ORF_WN_ORDER, ORF_WN_BETA): against the
 * direct sum at random points around a 5,120-face sphere its mean error is
 * 8e-4 and at most 6e-3, where the first order alone with beta = 3 (what
 * this file did before) gave 2.4e-3 and 3.3e-2 in about the same time a
 * point; on a repair's grid it is three times closer to the direct sum
 * and takes 20% to 45% less time (BENCHMARKS.md, bench/bench_repair.c).  The second-order coefficients are kept as floats
 * (18 a node).

 * On a grid (orf_wn_grid_eval), most points are far from the surface,
 * where the field is smooth.  The grid is cut into blocks of BLOCK cells;
 * the winding number is evaluated at the block corners, and a block that
 * no triangle passes within a cell of and whose eight corners
 * lie on the same side of 1/2 with a margin (below 0.45 or above 0.55) is
 * filled by trilinear interpolation, which stays on that side, so marching
 * cubes finds no crossing in it; every other block is evaluated exactly
 * point by point; there, within RAMP cells of a triangle, the step of the
 * winding number is replaced by a signed-distance ramp (side from the
 * winding number, size from the distance to the nearest triangle), so that
 * marching cubes places the surface where the input's is instead of
 * half-way between grid points.  Values are stored quantised to 16 bits over [-1/2, 3/2]
 * (steps of 3e-5), half the memory of floats.
 */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "parallel.h"
#include "repair.h"

#define LEAF 8
#define BLOCK 4
#define STACK 128
#define RAMP 2.0 /* cells of the signed-distance ramp about the surface */

typedef struct wn_node {
  double p[3], r; /* expansion centre (area-weighted centroid), radius */
  double n[3];    /* sum of area vectors */
  double m[9];    /* sum of N_t (c_t - p)^T, row-major */
  float h[18];    /* second order: for each i, the symmetric sum_t N_t,i S_t (xx xy xz yy yz zz) */
  uint32_t a, b;  /* inner: children a, b; leaf (b == NONE): triangles from a, count in cnt */
  uint32_t cnt;
} wn_node;

#define NONE UINT32_MAX

struct orf_wn_tree {
  float *tri; /* 9 floats per triangle, in tree order */
  size_t faces;
  int order;   /* of the expansion on grids (orf_wn_set_expansion) */
  double beta; /* and its distance criterion */
  wn_node *nodes;
  size_t node_count, node_cap;
};

typedef struct build_ctx {
  orf_wn_tree *t;
  const float *src; /* 9 floats per face, input order */
  uint32_t *perm;
  float *key; /* centroid coordinate on the split axis, by face */
} build_ctx;

static void centroid(const float *t, double c[3]) {
  for (int k = 0; k < 3; k++)
    c[k] = ((double)t[k] + t[3 + k] + t[6 + k]) / 3;
}

static void area_vec(const float *t, double n[3]) {
  double u[3], v[3];
  for (int k = 0; k < 3; k++) {
    u[k] = (double)t[3 + k] - t[k];
    v[k] = (double)t[6 + k] - t[k];
  }
  n[0] = 0.5 * (u[1] * v[2] - u[2] * v[1]);
  n[1] = 0.5 * (u[2] * v[0] - u[0] * v[2]);
  n[2] = 0.5 * (u[0] * v[1] - u[1] * v[0]);
}

/* Reorders perm[lo..hi) so that the element of rank k is in place, smaller
 * keys before it, larger after (Hoare's selection with a three-way
 * partition, so runs of equal keys cannot stall it; median-of-three
 * pivots). */
static void select_k(uint32_t *perm, const float *key, size_t lo, size_t hi, size_t k) {
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    float a = key[perm[lo]], b = key[perm[mid]], c = key[perm[hi - 1]];
    float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
    size_t lt = lo, i = lo, gt = hi;
    while (i < gt) {
      float x = key[perm[i]];
      uint32_t t = perm[i];
      if (x < pivot) {
        perm[i++] = perm[lt];
        perm[lt++] = t;
      } else if (x > pivot) {
        perm[i] = perm[--gt];
        perm[gt] = t;
      } else {
        i++;
      }
    }
    if (k < lt)
      hi = lt;
    else if (k >= gt)
      lo = gt;
    else
      return;
  }
}

/* Builds the node for perm[lo..hi) and its subtree; returns its index or
 * NONE when out of memory. */
static uint32_t build_node(build_ctx *b, size_t lo, size_t hi) {
  orf_wn_tree *t = b->t;
  if (t->node_count == t->node_cap) return NONE; /* sized in advance: cannot happen */
  uint32_t id = (uint32_t)t->node_count++;
  wn_node nd = {0};
  double area = 0, cmin[3] = {INFINITY, INFINITY, INFINITY}, cmax[3] = {-INFINITY, -INFINITY, -INFINITY};
  for (size_t i = lo; i < hi; i++) {
    const float *tr = b->src + 9 * (size_t)b->perm[i];
    double c[3], n[3];
    centroid(tr, c);
    area_vec(tr, n);
    double a = sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    area += a;
    for (int k = 0; k < 3; k++) {
      nd.p[k] += a * c[k];
      nd.n[k] += n[k];
      if (c[k] < cmin[k]) cmin[k] = c[k];
      if (c[k] > cmax[k]) cmax[k] = c[k];
    }
  }
  for (int k = 0; k < 3; k++)
    nd.p[k] = area > 0 ? nd.p[k] / area : 0.5 * (cmin[k] + cmax[k]);
  double hs[18] = {0};
  for (size_t i = lo; i < hi; i++) {
    const float *tr = b->src + 9 * (size_t)b->perm[i];
    double c[3], n[3];
    centroid(tr, c);
    area_vec(tr, n);
    for (int r = 0; r < 3; r++)
      for (int s = 0; s < 3; s++)
        nd.m[3 * r + s] += n[r] * (c[s] - nd.p[s]);
    /* S_t, the mean of (x - p)(x - p)^T over the triangle: with w_v its
     * corners less p, (sum_v w_v w_v^T + (sum_v w_v)(sum_v w_v)^T) / 12 */
    double w[3][3], ws[3] = {0, 0, 0}, sm[6];
    for (int v = 0; v < 3; v++)
      for (int k = 0; k < 3; k++) {
        w[v][k] = tr[3 * v + k] - nd.p[k];
        ws[k] += w[v][k];
      }
    static const int kPair[6][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 1}, {1, 2}, {2, 2}};
    for (int e = 0; e < 6; e++) {
      int a = kPair[e][0], b = kPair[e][1];
      sm[e] = (w[0][a] * w[0][b] + w[1][a] * w[1][b] + w[2][a] * w[2][b] + ws[a] * ws[b]) / 12;
    }
    for (int r = 0; r < 3; r++)
      for (int e = 0; e < 6; e++)
        hs[6 * r + e] += n[r] * sm[e];
    for (int v = 0; v < 3; v++) {
      double d2 = 0;
      for (int k = 0; k < 3; k++)
        d2 += (tr[3 * v + k] - nd.p[k]) * (tr[3 * v + k] - nd.p[k]);
      if (d2 > nd.r * nd.r) nd.r = sqrt(d2);
    }
  }
  for (int e = 0; e < 18; e++)
    nd.h[e] = (float)hs[e];
  if (hi - lo <= LEAF) {
    nd.a = (uint32_t)lo;
    nd.b = NONE;
    nd.cnt = (uint32_t)(hi - lo);
    t->nodes[id] = nd;
    return id;
  }
  int axis = 0;
  for (int k = 1; k < 3; k++)
    if (cmax[k] - cmin[k] > cmax[axis] - cmin[axis]) axis = k;
  for (size_t i = lo; i < hi; i++) {
    const float *tr = b->src + 9 * (size_t)b->perm[i];
    b->key[b->perm[i]] = (tr[axis] + tr[3 + axis] + tr[6 + axis]) / 3;
  }
  size_t mid = lo + (hi - lo) / 2;
  select_k(b->perm, b->key, lo, hi, mid);
  t->nodes[id] = nd;
  uint32_t ca = build_node(b, lo, mid);
  if (ca == NONE) return NONE;
  uint32_t cb = build_node(b, mid, hi);
  if (cb == NONE) return NONE;
  t->nodes[id].a = ca;
  t->nodes[id].b = cb;
  return id;
}

static size_t node_bound(size_t faces) {
  /* leaves hold more than LEAF / 2 triangles (median splits of > LEAF) */
  return faces ? 2 * (faces / (LEAF / 2) + 1) : 1;
}

size_t orf_wn_bytes(size_t faces, size_t points) {
  size_t coarse = points / (BLOCK * BLOCK * BLOCK) + 3 * 1024 * 1024;
  return faces * (9 * sizeof(float) * 2 + 2 * sizeof(uint32_t) + sizeof(float)) +
         node_bound(faces) * sizeof(wn_node) + points * sizeof(uint16_t) + coarse * (sizeof(float) + 2);
}

orf_wn_tree *orf_wn_build(const orf_mesh *m) {
  orf_wn_tree *t = orf_calloc(1, sizeof *t);
  if (!t) return NULL;
  size_t nf = m->face_count;
  float *src = orf_malloc_array(9 * (nf ? nf : 1), sizeof *src);
  uint32_t *perm = orf_malloc_array(nf ? nf : 1, sizeof *perm);
  float *key = orf_malloc_array(nf ? nf : 1, sizeof *key);
  t->node_cap = node_bound(nf);
  t->nodes = orf_malloc_array(t->node_cap, sizeof *t->nodes);
  t->tri = orf_malloc_array(9 * (nf ? nf : 1), sizeof *t->tri);
  t->faces = nf;
  t->order = ORF_WN_ORDER;
  t->beta = ORF_WN_BETA;
  int ok = src && perm && key && t->nodes && t->tri;
  if (ok) {
    for (size_t f = 0; f < nf; f++) {
      perm[f] = (uint32_t)f;
      for (int v = 0; v < 3; v++)
        memcpy(src + 9 * f + 3 * v, m->positions + 3 * (size_t)m->indices[3 * f + v], 3 * sizeof(float));
    }
    build_ctx b = {t, src, perm, key};
    if (nf == 0) {
      memset(t->nodes, 0, sizeof *t->nodes);
      t->nodes[0].b = NONE;
      t->node_count = 1;
    } else {
      ok = build_node(&b, 0, nf) != NONE;
    }
    for (size_t i = 0; ok && i < nf; i++)
      memcpy(t->tri + 9 * i, src + 9 * (size_t)perm[i], 9 * sizeof(float));
  }
  orf_free(src);
  orf_free(perm);
  orf_free(key);
  if (!ok) {
    orf_wn_free(t);
    return NULL;
  }
  return t;
}

void orf_wn_free(orf_wn_tree *t) {
  if (!t) return;
  orf_free(t->tri);
  orf_free(t->nodes);
  orf_free(t);
}

/* The signed solid angle of triangle tr seen from q (Van Oosterom and
 * Strackee): positive when q is behind the face (inside). */
static double solid_angle(const float *tr, const double q[3]) {
  double a[3], b[3], c[3];
  for (int k = 0; k < 3; k++) {
    a[k] = tr[k] - q[k];
    b[k] = tr[3 + k] - q[k];
    c[k] = tr[6 + k] - q[k];
  }
  double la = sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
  double lb = sqrt(b[0] * b[0] + b[1] * b[1] + b[2] * b[2]);
  double lc = sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
  double det = a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) +
               a[2] * (b[0] * c[1] - b[1] * c[0]);
  double ab = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  double bc = b[0] * c[0] + b[1] * c[1] + b[2] * c[2];
  double ca = c[0] * a[0] + c[1] * a[1] + c[2] * a[2];
  double den = la * lb * lc + ab * lc + bc * la + ca * lb;
  return 2 * atan2(det, den);
}

/* The second-order term of node nd's expansion at r = p - q: half the
 * sum over i, j, k of H_ijk d^2 g_i / dr_j dr_k, with g(r) = r / |r|^3,
 *   d^2 g_i / dr_j dr_k = -3 (delta_ij r_k + delta_ik r_j + delta_jk r_i) / |r|^5
 *                         + 15 r_i r_j r_k / |r|^7,
 * and H_ijk = sum_t N_t,i S_t,jk symmetric in j, k. */
static double second_order(const wn_node *nd, const double r[3], double i5, double i7) {
  double a = 0, b = 0, c = 0;
  for (int i = 0; i < 3; i++) {
    const float *h = nd->h + 6 * i;
    double m[3][3] = {{h[0], h[1], h[2]}, {h[1], h[3], h[4]}, {h[2], h[4], h[5]}};
    double mr[3];
    for (int j = 0; j < 3; j++)
      mr[j] = m[j][0] * r[0] + m[j][1] * r[1] + m[j][2] * r[2];
    a += mr[i];                          /* sum_k H_iik r_k */
    b += r[i] * (h[0] + h[3] + h[5]);    /* r_i tr(H_i) */
    c += r[i] * (r[0] * mr[0] + r[1] * mr[1] + r[2] * mr[2]); /* r_i r.H_i.r */
  }
  return 0.5 * (-3 * i5 * (2 * a + b) + 15 * i7 * c);
}

double orf_wn_eval(const orf_wn_tree *t, const double q[3], double beta) {
  return orf_wn_eval_order(t, q, beta, ORF_WN_ORDER);
}

void orf_wn_set_expansion(orf_wn_tree *t, int order, double beta) {
  t->order = order;
  t->beta = beta;
}

double orf_wn_eval_order(const orf_wn_tree *t, const double q[3], double beta, int order) {
  uint32_t stack[STACK];
  int top = 0;
  double sum = 0;
  if (!t->faces) return 0;
  stack[top++] = 0;
  while (top) {
    const wn_node *nd = &t->nodes[stack[--top]];
    double r[3] = {nd->p[0] - q[0], nd->p[1] - q[1], nd->p[2] - q[2]};
    double d2 = r[0] * r[0] + r[1] * r[1] + r[2] * r[2];
    if (beta > 0 && d2 > beta * beta * nd->r * nd->r) {
      double d = sqrt(d2), i3 = 1 / (d2 * d), i5 = i3 / d2;
      double rmr = 0;
      for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
          rmr += r[a] * nd->m[3 * a + b] * r[b];
      sum += (nd->n[0] * r[0] + nd->n[1] * r[1] + nd->n[2] * r[2]) * i3 +
             (nd->m[0] + nd->m[4] + nd->m[8]) * i3 - 3 * rmr * i5;
      if (order >= 2) sum += second_order(nd, r, i5, i5 / d2);
    } else if (nd->b == NONE) {
      for (uint32_t i = 0; i < nd->cnt; i++)
        sum += solid_angle(t->tri + 9 * (size_t)(nd->a + i), q);
    } else {
      /* depth is at most log2(faces / 4) + 2, far below STACK */
      stack[top++] = nd->b;
      stack[top++] = nd->a;
    }
  }
  return sum / (4 * M_PI);
}

double orf_wn_direct(const orf_mesh *m, const double q[3]) {
  double sum = 0;
  for (size_t f = 0; f < m->face_count; f++) {
    float tr[9];
    for (int v = 0; v < 3; v++)
      memcpy(tr + 3 * v, m->positions + 3 * (size_t)m->indices[3 * f + v], 3 * sizeof(float));
    sum += solid_angle(tr, q);
  }
  return sum / (4 * M_PI);
}

/* The closest point of triangle tr to p, squared distance (C. Ericson,
 * "Real-Time Collision Detection", 2005, 5.1.5: Voronoi regions of the
 * vertices, edges and face). */
static double tri_dist2(const float *tr, const double p[3]) {
  double a[3], b[3], c[3], ab[3], ac[3], ap[3], bp[3], cp[3], r[3];
  for (int k = 0; k < 3; k++) {
    a[k] = tr[k], b[k] = tr[3 + k], c[k] = tr[6 + k];
    ab[k] = b[k] - a[k], ac[k] = c[k] - a[k], ap[k] = p[k] - a[k];
    bp[k] = p[k] - b[k], cp[k] = p[k] - c[k];
  }
#define DOT(u, v) ((u)[0] * (v)[0] + (u)[1] * (v)[1] + (u)[2] * (v)[2])
  double d1 = DOT(ab, ap), d2 = DOT(ac, ap), d3 = DOT(ab, bp), d4 = DOT(ac, bp), d5 = DOT(ab, cp),
         d6 = DOT(ac, cp);
#undef DOT
  double va = d3 * d6 - d5 * d4, vb = d5 * d2 - d1 * d6, vc = d1 * d4 - d3 * d2;
  if (d1 <= 0 && d2 <= 0) {
    memcpy(r, a, sizeof r);
  } else if (d3 >= 0 && d4 <= d3) {
    memcpy(r, b, sizeof r);
  } else if (vc <= 0 && d1 >= 0 && d3 <= 0) {
    double v = d1 / (d1 - d3);
    for (int k = 0; k < 3; k++)
      r[k] = a[k] + v * ab[k];
  } else if (d6 >= 0 && d5 <= d6) {
    memcpy(r, c, sizeof r);
  } else if (vb <= 0 && d2 >= 0 && d6 <= 0) {
    double w = d2 / (d2 - d6);
    for (int k = 0; k < 3; k++)
      r[k] = a[k] + w * ac[k];
  } else if (va <= 0 && d4 - d3 >= 0 && d5 - d6 >= 0) {
    double w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
    for (int k = 0; k < 3; k++)
      r[k] = b[k] + w * (c[k] - b[k]);
  } else {
    double den = 1 / (va + vb + vc), v = vb * den, w = vc * den;
    for (int k = 0; k < 3; k++)
      r[k] = a[k] + ab[k] * v + ac[k] * w;
  }
  double d = 0;
  for (int k = 0; k < 3; k++)
    d += (p[k] - r[k]) * (p[k] - r[k]);
  return d;
}

double orf_wn_distance(const orf_wn_tree *t, const double q[3]) {
  return orf_wn_distance_within(t, q, INFINITY);
}

double orf_wn_distance_within(const orf_wn_tree *t, const double q[3], double max) {
  uint32_t stack[STACK];
  int top = 0;
  double best = max * max;
  if (!t->faces) return best;
  stack[top++] = 0;
  while (top) {
    const wn_node *nd = &t->nodes[stack[--top]];
    double d2 = 0;
    for (int k = 0; k < 3; k++)
      d2 += (nd->p[k] - q[k]) * (nd->p[k] - q[k]);
    double lower = sqrt(d2) - nd->r;
    if (lower > 0 && lower * lower >= best) continue;
    if (nd->b == NONE) {
      for (uint32_t i = 0; i < nd->cnt; i++) {
        double d = tri_dist2(t->tri + 9 * (size_t)(nd->a + i), q);
        if (d < best) best = d;
      }
    } else {
      /* the nearer child last, so it is searched first */
      const wn_node *A = &t->nodes[nd->a], *B = &t->nodes[nd->b];
      double da = 0, db = 0;
      for (int k = 0; k < 3; k++) {
        da += (A->p[k] - q[k]) * (A->p[k] - q[k]);
        db += (B->p[k] - q[k]) * (B->p[k] - q[k]);
      }
      stack[top++] = da < db ? nd->b : nd->a;
      stack[top++] = da < db ? nd->a : nd->b;
    }
  }
  return sqrt(best);
}

static uint16_t quantise(double w) {
  double u = (w + 0.5) * 0.5;
  if (u < 0) u = 0;
  if (u > 1) u = 1;
  return (uint16_t)lrint(u * 65535);
}

float orf_wn_grid_at(const orf_wn_grid *g, int i, int j, int k) {
  uint16_t v = g->w[((size_t)k * g->ny + j) * g->nx + i];
  return (float)(v / 65535.0 * 2 - 0.5);
}

typedef struct grid_ctx {
  const orf_wn_tree *t;
  orf_wn_grid *g;
  int bx, by, bz; /* blocks along each axis */
  float *coarse;  /* (bx+1)(by+1)(bz+1) corner values */
  uint8_t *flag;  /* per block: 1 a triangle's box touches it, 2 evaluate exactly */
  atomic_int *cancel;
  atomic_size_t evals;
} grid_ctx;

static void point_of(const orf_wn_grid *g, int i, int j, int k, double q[3]) {
  q[0] = g->origin[0] + g->spacing * i;
  q[1] = g->origin[1] + g->spacing * j;
  q[2] = g->origin[2] + g->spacing * k;
}

static void coarse_range(void *ctx, size_t begin, size_t end, int worker) {
  (void)worker;
  grid_ctx *c = ctx;
  size_t cx = (size_t)c->bx + 1, cy = (size_t)c->by + 1;
  for (size_t n = begin; n < end; n++) {
    if (orf_cancelled(c->cancel)) return;
    int i = (int)(n % cx), j = (int)(n / cx % cy), k = (int)(n / (cx * cy));
    double q[3];
    point_of(c->g, i * BLOCK, j * BLOCK, k * BLOCK, q);
    c->coarse[n] = (float)orf_wn_eval_order(c->t, q, c->t->beta, c->t->order);
  }
  atomic_fetch_add(&c->evals, end - begin);
}

static int block_exact(const grid_ctx *c, int bi, int bj, int bk) {
  if (bi < 0 || bj < 0 || bk < 0 || bi >= c->bx || bj >= c->by || bk >= c->bz) return 0;
  return c->flag[((size_t)bk * c->by + bj) * c->bx + bi] == 2;
}

static float coarse_at(const grid_ctx *c, int i, int j, int k) {
  return c->coarse[((size_t)k * (c->by + 1) + j) * (c->bx + 1) + i];
}

/* Fills the points of z-planes [begin, end). */
static void fill_range(void *ctx, size_t begin, size_t end, int worker) {
  (void)worker;
  grid_ctx *c = ctx;
  orf_wn_grid *g = c->g;
  size_t evals = 0;
  for (size_t kk = begin; kk < end; kk++) {
    if (orf_cancelled(c->cancel)) break;
    int k = (int)kk;
    for (int j = 0; j < g->ny; j++)
      for (int i = 0; i < g->nx; i++) {
        int ri = i % BLOCK, rj = j % BLOCK, rk = k % BLOCK;
        int bi = i / BLOCK, bj = j / BLOCK, bk = k / BLOCK;
        double w;
        /* exact when any block holding the point is exact */
        int exact = 0, lattice = !ri && !rj && !rk;
        for (int dk = (rk ? 0 : -1); dk <= 0 && !exact; dk++)
          for (int dj = (rj ? 0 : -1); dj <= 0 && !exact; dj++)
            for (int di = (ri ? 0 : -1); di <= 0 && !exact; di++)
              exact = block_exact(c, bi + di, bj + dj, bk + dk);
        if (lattice || exact) {
          double q[3];
          point_of(g, i, j, k, q);
          if (lattice) {
            w = coarse_at(c, bi, bj, bk);
          } else {
            w = orf_wn_eval_order(c->t, q, c->t->beta, c->t->order);
            evals++;
          }
          /* near the surface the winding number is a step, which marching
           * cubes would cut half-way between grid points (terraces): there
           * it is replaced by a signed distance ramp, the side from w, the
           * size from the distance to the nearest triangle, which puts the
           * crossing where the surface is */
          if (exact) {
            double d = orf_wn_distance_within(c->t, q, RAMP * g->spacing);
            if (d < RAMP * g->spacing) w = 0.5 + (w > 0.5 ? 0.5 : -0.5) * d / (RAMP * g->spacing);
          }
        } else {
          /* trilinear in the block (a point on a face between two
           * interpolated blocks gets the same value from either) */
          if (bi == c->bx) bi--, ri = BLOCK;
          if (bj == c->by) bj--, rj = BLOCK;
          if (bk == c->bz) bk--, rk = BLOCK;
          double u = (double)ri / BLOCK, v = (double)rj / BLOCK, s = (double)rk / BLOCK;
          w = 0;
          for (int corner = 0; corner < 8; corner++) {
            int ox = corner & 1, oy = corner >> 1 & 1, oz = corner >> 2;
            double wt = (ox ? u : 1 - u) * (oy ? v : 1 - v) * (oz ? s : 1 - s);
            w += wt * coarse_at(c, bi + ox, bj + oy, bk + oz);
          }
        }
        g->w[((size_t)k * g->ny + j) * g->nx + i] = quantise(w);
      }
  }
  atomic_fetch_add(&c->evals, evals);
}

int orf_wn_grid_eval(const orf_wn_tree *t, const float lo[3], const float hi[3], double spacing, int threads,
                     atomic_int *cancel, orf_wn_grid *g) {
  memset(g, 0, sizeof *g);
  grid_ctx c = {.t = t, .g = g, .cancel = cancel};
  int *dims[3] = {&c.bx, &c.by, &c.bz};
  for (int a = 0; a < 3; a++) {
    double ext = (double)hi[a] - lo[a];
    int cells = (int)ceil(ext / spacing) + 4; /* two cells of margin on each side */
    *dims[a] = (cells + BLOCK - 1) / BLOCK;
    int n = *dims[a] * BLOCK;
    g->origin[a] = 0.5 * ((double)lo[a] + hi[a]) - 0.5 * n * spacing;
  }
  g->nx = c.bx * BLOCK + 1;
  g->ny = c.by * BLOCK + 1;
  g->nz = c.bz * BLOCK + 1;
  g->spacing = spacing;
  size_t blocks = (size_t)c.bx * c.by * c.bz;
  size_t corners = (size_t)(c.bx + 1) * (c.by + 1) * (c.bz + 1);
  g->w = orf_malloc_array((size_t)g->nx * g->ny * g->nz, sizeof *g->w);
  c.coarse = orf_malloc_array(corners, sizeof *c.coarse);
  c.flag = orf_calloc(blocks, 1);
  int rc = ORF_ENOMEM;
  if (!g->w || !c.coarse || !c.flag) goto out;
  /* blocks touched by a triangle's box, grown by one cell */
  double bs = spacing * BLOCK;
  for (size_t f = 0; f < t->faces; f++) {
    const float *tr = t->tri + 9 * f;
    int b0[3], b1[3];
    for (int a = 0; a < 3; a++) {
      float mn = tr[a], mx = tr[a];
      for (int v = 1; v < 3; v++) {
        if (tr[3 * v + a] < mn) mn = tr[3 * v + a];
        if (tr[3 * v + a] > mx) mx = tr[3 * v + a];
      }
      int lim = *dims[a] - 1;
      b0[a] = (int)floor((mn - spacing - g->origin[a]) / bs);
      b1[a] = (int)floor((mx + spacing - g->origin[a]) / bs);
      b0[a] = b0[a] < 0 ? 0 : b0[a] > lim ? lim : b0[a];
      b1[a] = b1[a] < 0 ? 0 : b1[a] > lim ? lim : b1[a];
    }
    /* a block is touched when the triangle passes within one cell of it
     * (its centre within half its diagonal and a cell of the triangle) */
    double reach = (0.5 * sqrt(3.0) * BLOCK + 1) * spacing;
    for (int k = b0[2]; k <= b1[2]; k++)
      for (int j = b0[1]; j <= b1[1]; j++)
        for (int i = b0[0]; i <= b1[0]; i++) {
          uint8_t *fl = &c.flag[((size_t)k * c.by + j) * c.bx + i];
          if (*fl) continue;
          double q[3] = {g->origin[0] + (i + 0.5) * bs, g->origin[1] + (j + 0.5) * bs,
                         g->origin[2] + (k + 0.5) * bs};
          if (tri_dist2(tr, q) <= reach * reach) *fl = 1;
        }
  }
  orf_parallel_for(threads, corners, 64, coarse_range, &c);
  if (orf_cancelled(cancel)) {
    rc = ORF_ECANCELED;
    goto out;
  }
  for (int k = 0; k < c.bz; k++)
    for (int j = 0; j < c.by; j++)
      for (int i = 0; i < c.bx; i++) {
        size_t b = ((size_t)k * c.by + j) * c.bx + i;
        int lo_side = 1, hi_side = 1;
        for (int corner = 0; corner < 8; corner++) {
          float w = coarse_at(&c, i + (corner & 1), j + (corner >> 1 & 1), k + (corner >> 2));
          lo_side &= w < 0.45f;
          hi_side &= w > 0.55f;
        }
        c.flag[b] = c.flag[b] || !(lo_side || hi_side) ? 2 : 0;
      }
  orf_parallel_for(threads, (size_t)g->nz, 1, fill_range, &c);
  rc = orf_cancelled(cancel) ? ORF_ECANCELED : ORF_OK;
  g->exact_evals = atomic_load(&c.evals);
out:
  orf_free(c.coarse);
  orf_free(c.flag);
  if (rc) orf_wn_grid_free(g);
  return rc;
}

void orf_wn_grid_free(orf_wn_grid *g) {
  orf_free(g->w);
  memset(g, 0, sizeof *g);
}
