/*
 * simplify.c - decimation to a face budget with a topology guarantee (see
 * simplify.h): meshoptimizer's quadric edge-collapse simplifier (Garland and
 * Heckbert, "Surface Simplification Using Quadric Error Metrics",
 * SIGGRAPH 1997), then orf_mesh_check on every result.
 *
 * meshopt_simplify (0.18) does not test the link condition of an edge
 * collapse (T. Dey et al., "Topology Preserving Edge Contraction", 1999) and
 * accepts a collapse whose new face normal is zero.  On closed meshes that
 * leaves (measured on icospheres, UV and marching-tetrahedra spheres, a
 * torus, a cube, a flat ellipsoid; see tests/test_simplify.c):
 *  - pockets: tiny closed sheets - two faces back to back on a valence-2
 *    vertex, or a tetrahedron - hanging on an edge that then has four faces
 *    or touching the surface at one vertex (218 non-manifold edges already
 *    at 50% of a 327,680-face icosphere, in every budget of docs/ENGINE.md's F(q));
 *  - needles: zero-area faces along sharp edges, where a face was folded
 *    flat onto three collinear vertices (hundreds on a cube at 5k faces),
 *    and slivers under the degenerate area (one in a 947k-face
 *    marching-tetrahedra sphere at 250k);
 *  - caps on flat ground: a vertex left within 1e-6 of the longest edge's
 *    length of that edge (hundreds in a relief plate's plateaus), far above
 *    the degenerate area but so thin that the float facet normal a slicer
 *    computes is off by more than admesh's tolerance ("Normals fixed" on
 *    samples/heart.png as a lithophane at q4, a cutout relief at q7, q9).
 * So each attempt is:
 *  1. meshopt_simplify towards the goal with an unbounded error
 *     (target_error = FLT_MAX: a budget is a budget; with 1e-2 it stops at
 *     its error bound, e.g. at ~400 faces for a 20k sphere asked for 40);
 *  2. repair: drop the pockets - sheets (faces joined across edges that have
 *     exactly two opposite half-edges) of at most POCKET_FACES faces that
 *     share a vertex with another sheet - then remove each sliver (a face
 *     degenerate, or whose smallest altitude is under SLIVER_RATIO of its
 *     longest edge) after Botsch and Kobbelt: flip a cap's longest edge
 *     with its neighbour, or else collapse a needle's shortest edge (link
 *     condition checked, every changed face non-degenerate, facing the way
 *     it did and made no sliver);
 *  3. accept only if orf_mesh_check finds the result as closed and as
 *     manifold as the input, with the same Euler characteristic, component
 *     count and sign of volume - the repairs are never trusted blindly;
 *  4. otherwise back off: aim halfway between the failed goal and the last
 *     accepted mesh, simplifying from that accepted mesh; after an accepted
 *     step aim at the budget again.  At most MAX_TRIES attempts; if none is
 *     accepted the input is kept.
 * With the repairs every shape above reaches every budget on the first
 * attempt; the back-off remains the guarantee.
 * The accepted indices are then compacted (orf_mesh_compact): unused
 * vertices go, colours follow their vertices.
 *
 * Memory: meshoptimizer's allocator is routed (once, pthread_once) through
 * callbacks that serve each meshopt_simplify call from one arena taken
 * with orf_malloc before the call, so its memory counts against the job and
 * an allocation failure (or an injected one) surfaces here as ORF_ENOMEM
 * instead of inside the library, which cannot handle NULL.  The arena is
 * found through a thread-local pointer, set only around the call, in the
 * same way as the allocator's job accounting.  Outside an arena (another
 * caller of meshoptimizer) blocks come from orf_malloc, and from malloc if
 * that fails, so the library never sees NULL.
 */
#include "simplify.h"

#include <float.h>
#include <math.h>
#include <meshoptimizer.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "adjacency.h"
#include "alloc.h"
#include "mesh.h"
#include "parallel.h"

/* Attempts of meshopt_simplify per call; per piece of orf_mesh_fit_budget
 * (close_handles), fewer: there a piece that fails three times is one that
 * meshoptimizer keeps folding into fins (a noise mask's piece of genus
 * 300), whose further halfway goals each cost a full pass and gained 4% of
 * its faces at most (tests/hostile.c); the caller meshes it coarser. */
#define MAX_TRIES 8
#define MAX_TRIES_PIECE 3

/* Largest sheet dropped as a pocket. */
#define POCKET_FACES 16

/* Passes over the degenerate faces (each fixes all it can, in order). */
#define FIX_PASSES 8

/* Smallest altitude over longest edge under which a face is a sliver (a
 * needle or a cap) and is repaired.  A float cross product of two edges of
 * a face - the facet normal a slicer or admesh computes from an STL - has
 * an error of about 3 x 2^-24 over the sine of the angle between them,
 * which this ratio bounds from below: at 1e-3 the error stays under 2e-4
 * per component, five times under admesh's 1e-3 tolerance ("Normals
 * fixed"); meshoptimizer's caps on flat ground measured 1e-6 and less. */
#define SLIVER_RATIO 1e-3

/* Largest fan walked around one vertex by a flip or a collapse. */
#define MAX_VALENCE 256

/* ---- meshoptimizer's memory ------------------------------------------- */

/* meshopt_simplify 0.18 takes at most 24 bytes per index and 92.4 per
 * vertex (measured: 38.7 MB for 983,040 indices over 163,842 vertices,
 * +106 MB for 1.15 M more vertices); the arena allows 28 and 112.  Should a
 * different build need more, the rest comes from orf_malloc. */
#define ARENA_PER_INDEX 28
#define ARENA_PER_VERTEX 112
#define ARENA_SLACK 4096
#define ALIGN 16

typedef struct arena {
  unsigned char *base;
  size_t size, top;
} arena;

static _Thread_local arena *tls_arena;

/* Blocks not in an arena carry a header saying who allocated them. */
enum { FROM_ORF = 1, FROM_LIBC = 2 };

static void *mo_allocate(size_t size) {
  arena *a = tls_arena;
  size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
  if (a && need >= size && a->size - a->top >= need) {
    void *p = a->base + a->top;
    a->top += need;
    return p;
  }
  if (size > SIZE_MAX - ALIGN) abort();
  unsigned char *p = orf_malloc(size + ALIGN);
  int from = FROM_ORF;
  if (!p) {
    /* meshoptimizer dereferences what it gets: NULL is not an option */
    p = malloc(size + ALIGN);
    from = FROM_LIBC;
    if (!p) abort();
  }
  memcpy(p, &from, sizeof from);
  return p + ALIGN;
}

/* meshoptimizer frees in stack order, so an arena block pops the arena. */
static void mo_deallocate(void *ptr) {
  arena *a = tls_arena;
  unsigned char *p = ptr;
  if (!p) return;
  if (a && p >= a->base && p < a->base + a->size) {
    a->top = (size_t)(p - a->base);
    return;
  }
  int from;
  memcpy(&from, p - ALIGN, sizeof from);
  if (from == FROM_ORF)
    orf_free(p - ALIGN);
  else
    free(p - ALIGN);
}

static pthread_once_t allocator_once = PTHREAD_ONCE_INIT;

static void set_allocator(void) { meshopt_setAllocator(mo_allocate, mo_deallocate); }

/* meshopt_simplify from src (nf faces) into dst, towards goal faces, with
 * its scratch in an arena.  Returns the faces written, or SIZE_MAX when the
 * arena cannot be had. */
static size_t simplify_once(uint32_t *dst, const uint32_t *src, size_t nf, const orf_mesh *m, size_t goal,
                            unsigned options) {
  if (nf > (SIZE_MAX - ARENA_SLACK - m->vertex_count * ARENA_PER_VERTEX) / (3 * ARENA_PER_INDEX))
    return SIZE_MAX;
  arena a = {0};
  a.size = 3 * nf * ARENA_PER_INDEX + m->vertex_count * ARENA_PER_VERTEX + ARENA_SLACK;
  a.base = orf_malloc(a.size);
  if (!a.base) return SIZE_MAX;
  /* orf_malloc's blocks are 16-byte aligned (malloc's, past a 16-byte header) */
  arena *old = tls_arena;
  tls_arena = &a;
  size_t n = meshopt_simplify(dst, src, 3 * nf, m->positions, m->vertex_count, 3 * sizeof(float), 3 * goal,
                              FLT_MAX, options, NULL);
  tls_arena = old;
  orf_free(a.base);
  return n / 3;
}

/* ---- repair and acceptance ---------------------------------------------- */

/* Drops the pockets of idx (*nf faces over m's vertices): the "sheets" of
 * at most POCKET_FACES faces - faces joined across edges that have exactly
 * two faces in opposite directions - that share a vertex with another
 * sheet.  A part of a mesh (simplify_part) keeps every sheet with a vertex
 * on an open edge: its border, locked, where a few faces of the part may
 * hang on the rest of the mesh.  Returns ORF_OK or ORF_ENOMEM (idx then
 * unchanged). */
static int drop_pockets(uint32_t *idx, size_t *nf, const orf_mesh *m, int part) {
  size_t n = *nf, nv = m->vertex_count;
  orf_mesh view = {m->positions, NULL, idx, nv, n};
  orf_edges e;
  int rc = orf_edges_build(&e, &view);
  if (rc) return rc;
  uint32_t *sheet = orf_malloc_array(n ? n : 1, sizeof *sheet);
  uint32_t *size = orf_calloc(n ? n : 1, sizeof *size);
  uint32_t *owner = orf_malloc_array(nv ? nv : 1, sizeof *owner);
  uint8_t *touch = orf_calloc(n ? n : 1, 1);
  uint8_t *shared = orf_calloc(nv ? nv : 1, 1);
  if (!sheet || !size || !owner || !touch || !shared) {
    rc = ORF_ENOMEM;
    goto out_free;
  }
  for (size_t f = 0; f < n; f++)
    sheet[f] = (uint32_t)f;
  for (size_t i = 0; i < e.edge_count; i++) {
    if (e.first[i + 1] - e.first[i] != 2) continue;
    uint32_t h0 = e.half[e.first[i]], h1 = e.half[e.first[i] + 1], a0, b0, a1, b1;
    orf_half_ends(&view, h0, &a0, &b0);
    orf_half_ends(&view, h1, &a1, &b1);
    if (a0 == b1) orf_uf_union(sheet, h0 / 3, h1 / 3);
  }
  memset(owner, 0xff, nv * sizeof *owner);
  for (size_t f = 0; f < n; f++) {
    uint32_t s = orf_uf_find(sheet, (uint32_t)f);
    sheet[f] = s; /* from here on sheet[] holds the roots */
    size[s]++;
    for (int k = 0; k < 3; k++) {
      uint32_t v = idx[3 * f + k];
      if (owner[v] == UINT32_MAX)
        owner[v] = s;
      else if (owner[v] != s)
        shared[v] = 1;
    }
  }
  for (size_t f = 0; f < n; f++)
    for (int k = 0; k < 3; k++)
      if (shared[idx[3 * f + k]]) touch[sheet[f]] = 1;
  if (part) { /* shared[v] |= 2 on an open edge; touch[s] |= 2 for a sheet with one */
    for (size_t i = 0; i < e.edge_count; i++)
      if (e.first[i + 1] - e.first[i] == 1) {
        uint32_t a, b;
        orf_half_ends(&view, e.half[e.first[i]], &a, &b);
        shared[a] |= 2, shared[b] |= 2;
      }
    for (size_t f = 0; f < n; f++)
      for (int k = 0; k < 3; k++)
        if (shared[idx[3 * f + k]] & 2) touch[sheet[f]] |= 2;
  }
  size_t out = 0;
  for (size_t f = 0; f < n; f++) {
    uint32_t s = sheet[f];
    if (touch[s] == 1 && size[s] <= POCKET_FACES) continue;
    memmove(idx + 3 * out, idx + 3 * f, 3 * sizeof *idx);
    out++;
  }
  *nf = out;
  rc = ORF_OK;
out_free:
  orf_edges_free(&e);
  orf_free(sheet);
  orf_free(size);
  orf_free(owner);
  orf_free(touch);
  orf_free(shared);
  return rc;
}

static void face_normal(const float *pos, uint32_t a, uint32_t b, uint32_t c, double n[3]) {
  double u[3], w[3];
  for (int k = 0; k < 3; k++) {
    u[k] = (double)pos[3 * (size_t)b + k] - pos[3 * (size_t)a + k];
    w[k] = (double)pos[3 * (size_t)c + k] - pos[3 * (size_t)a + k];
  }
  n[0] = u[1] * w[2] - u[2] * w[1];
  n[1] = u[2] * w[0] - u[0] * w[2];
  n[2] = u[0] * w[1] - u[1] * w[0];
}

static inline double dot3(const double *a, const double *b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static double dist2(const float *pos, uint32_t a, uint32_t b) {
  double s = 0;
  for (int k = 0; k < 3; k++) {
    double d = (double)pos[3 * (size_t)a + k] - pos[3 * (size_t)b + k];
    s += d * d;
  }
  return s;
}

/* Quality of the face (a, b, c): twice its area over its longest edge
 * squared, i.e. its smallest altitude over its longest edge (0 for a
 * segment or a point, sqrt(3)/2 for an equilateral face).  It bounds the
 * sine of every angle of the face from below, so it says how well a float
 * cross product of two of its edges (a slicer's facet normal) is
 * conditioned.  *area gets the face's area. */
static double face_quality(const float *pos, uint32_t a, uint32_t b, uint32_t c, double *area) {
  double n[3];
  face_normal(pos, a, b, c, n);
  double l = dist2(pos, a, b), l1 = dist2(pos, b, c), l2 = dist2(pos, c, a);
  if (l1 > l) l = l1;
  if (l2 > l) l = l2;
  double twice = sqrt(dot3(n, n));
  *area = 0.5 * twice;
  return l > 0 ? twice / l : 0;
}

/* Whether a face of that quality and area is a sliver: degenerate (area at
 * or under eps, or NaN), or a needle or a cap (quality under SLIVER_RATIO). */
static inline int sliver(double quality, double area, double eps) {
  return !(area > eps) || !(quality >= SLIVER_RATIO);
}

/* Whether the face (a, b, c) is not degenerate, faces the way `was` (a
 * normal) does, and has a quality of at least min_q (*q gets it). */
static int face_ok(const float *pos, uint32_t a, uint32_t b, uint32_t c, const double was[3], double eps,
                   double min_q, double *q) {
  double n[3], area;
  face_normal(pos, a, b, c, n);
  *q = face_quality(pos, a, b, c, &area);
  return area > eps && dot3(n, was) > 0 && *q >= min_q;
}

/* Half-edges: corner k of face f is 3f+k, running from idx[3f+k] to the
 * next corner's vertex; opp[h] is its twin, UINT32_MAX when it has none. */
static inline uint32_t next_half(uint32_t h) { return h % 3 == 2 ? h - 2 : h + 1; }
static inline uint32_t prev_half(uint32_t h) { return h % 3 == 0 ? h + 2 : h - 1; }

/* Collects into out (at most cap) the half-edges leaving the vertex that
 * h0 leaves, walking its fan through the twins.  Returns their count, or 0
 * when the fan is open, non-manifold or larger than cap. */
static size_t fan(const uint32_t *opp, uint32_t h0, uint32_t *out, size_t cap) {
  size_t n = 0;
  uint32_t h = h0;
  do {
    if (n == cap) return 0;
    out[n++] = h;
    uint32_t o = opp[prev_half(h)];
    if (o == UINT32_MAX) return 0;
    h = o;
  } while (h != h0);
  return n;
}

/* Flips the edge of half-edge h (a->b, the longest edge of the sliver
 * (a, b, c)) with its twin's face (b, a, d) into (c, a, d), (c, d, b) - the
 * cure of a cap, c lying near a-b, so the surface moves by no more than c's
 * distance to a-b - if that is a valid flip that improves the pair: every
 * twin around known, no edge c-d yet (the link condition of a flip), both
 * new faces not degenerate and facing as (b, a, d) did, and fewer slivers
 * among them than before, or as many with a better worst quality (so
 * repeated flips cannot cycle).  Returns whether it flipped. */
static int try_flip(uint32_t *idx, uint32_t *opp, const float *pos, uint32_t h, double eps, uint8_t *dirty) {
  uint32_t g = opp[h];
  if (g == UINT32_MAX) return 0;
  uint32_t h1 = next_half(h), h2 = prev_half(h), g1 = next_half(g), g2 = prev_half(g);
  uint32_t a = idx[h], b = idx[h1], c = idx[h2], d = idx[g2];
  if (h / 3 == g / 3 || c == d || idx[g] != b || idx[g1] != a) return 0;
  uint32_t o_ca = opp[h2], o_bc = opp[h1], o_ad = opp[g1], o_db = opp[g2];
  if (o_ca == UINT32_MAX || o_bc == UINT32_MAX || o_ad == UINT32_MAX || o_db == UINT32_MAX) return 0;
  uint32_t ring[MAX_VALENCE];
  size_t n = fan(opp, h2, ring, MAX_VALENCE);
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (idx[next_half(ring[i])] == d) return 0;
  double was[3], area0, area1, q2, q3;
  face_normal(pos, b, a, d, was);
  double q0 = face_quality(pos, a, b, c, &area0), q1 = face_quality(pos, b, a, d, &area1);
  if (!face_ok(pos, c, a, d, was, eps, 0, &q2) || !face_ok(pos, c, d, b, was, eps, 0, &q3)) return 0;
  int before = sliver(q0, area0, eps) + sliver(q1, area1, eps);
  int after = !(q2 >= SLIVER_RATIO) + !(q3 >= SLIVER_RATIO);
  if (after > before || (after == before && !(fmin(q2, q3) > fmin(q0, q1)))) return 0;
  /* face of h = (c, a, d): c->a, a->d, d->c; face of g = (c, d, b) */
  uint32_t f0 = h - h % 3, g0 = g - g % 3;
  idx[f0] = c, idx[f0 + 1] = a, idx[f0 + 2] = d;
  idx[g0] = c, idx[g0 + 1] = d, idx[g0 + 2] = b;
  opp[f0] = o_ca, opp[o_ca] = f0;
  opp[f0 + 1] = o_ad, opp[o_ad] = f0 + 1;
  opp[f0 + 2] = g0, opp[g0] = f0 + 2;
  opp[g0 + 1] = o_db, opp[o_db] = g0 + 1;
  opp[g0 + 2] = o_bc, opp[o_bc] = g0 + 2;
  dirty[f0 / 3] = dirty[g0 / 3] = 1;
  return 1;
}

/* Collapses the edge of half-edge h (x->y, in face (x, y, a), twin face
 * (y, x, b)) by moving x onto y: both faces go (left collapsed, all three
 * indices y), x's other faces take y, and the twins close up over them.
 * Only a valid collapse is done: every twin around known, x and y sharing
 * no neighbour but a and b (the link condition: T. Dey et al., "Topology
 * Preserving Edge Contraction", 1999), every moved face not degenerate,
 * still facing the way it did, and none that was not a sliver made one: so
 * every collapse lowers the number of slivers.  Returns whether it collapsed. */
static int try_collapse(uint32_t *idx, uint32_t *opp, const float *pos, uint32_t h, double eps,
                        uint8_t *dirty) {
  uint32_t g = opp[h];
  if (g == UINT32_MAX) return 0;
  uint32_t h1 = next_half(h), h2 = prev_half(h), g1 = next_half(g), g2 = prev_half(g);
  uint32_t x = idx[h], y = idx[h1], a = idx[h2], b = idx[g2];
  if (h / 3 == g / 3 || a == b || idx[g] != y || idx[g1] != x) return 0;
  uint32_t o1 = opp[h1], o2 = opp[h2], o3 = opp[g1], o4 = opp[g2];
  if (o1 == UINT32_MAX || o2 == UINT32_MAX || o3 == UINT32_MAX || o4 == UINT32_MAX) return 0;
  uint32_t rx[MAX_VALENCE], ry[MAX_VALENCE];
  size_t nx = fan(opp, h, rx, MAX_VALENCE), ny = fan(opp, g, ry, MAX_VALENCE);
  if (!nx || !ny) return 0;
  size_t common = 0;
  for (size_t i = 0; i < nx; i++)
    for (size_t j = 0; j < ny; j++)
      common += idx[next_half(rx[i])] == idx[next_half(ry[j])];
  if (common != 2) return 0;
  /* x's faces other than the two that go: (x, p, q) becomes (y, p, q) */
  for (size_t i = 0; i < nx; i++) {
    uint32_t e = rx[i];
    if (e / 3 == h / 3 || e / 3 == g / 3) continue;
    uint32_t p = idx[next_half(e)], q = idx[prev_half(e)];
    double was[3], area, q_was = face_quality(pos, x, p, q, &area), q_new;
    face_normal(pos, x, p, q, was);
    if (!face_ok(pos, y, p, q, was, eps, q_was >= SLIVER_RATIO ? SLIVER_RATIO : 0, &q_new)) return 0;
  }
  for (size_t i = 0; i < nx; i++) {
    idx[rx[i]] = y;
    dirty[rx[i] / 3] = 1;
  }
  /* the faces across y-a and a-x (now a-y) become twins, and so do those
   * across x-b (now y-b) and b-y */
  opp[o1] = o2, opp[o2] = o1;
  opp[o3] = o4, opp[o4] = o3;
  uint32_t f0 = h - h % 3, g0 = g - g % 3;
  for (int k = 0; k < 3; k++) {
    idx[f0 + k] = idx[g0 + k] = y;
    opp[f0 + k] = opp[g0 + k] = UINT32_MAX;
  }
  return 1;
}

static inline int collapsed(const uint32_t *t) { return t[0] == t[1] || t[1] == t[2] || t[2] == t[0]; }

/* Whether face f of idx is a sliver (see sliver()); collapsed faces are not
 * (they are on their way out). */
static int face_is_sliver(const uint32_t *idx, const float *pos, size_t f, double eps) {
  const uint32_t *t = idx + 3 * f;
  if (collapsed(t)) return 0;
  double area, q = face_quality(pos, t[0], t[1], t[2], &area);
  return sliver(q, area, eps);
}

/* Removes the slivers of idx (*nf faces over m's vertices) that a flip or a
 * collapse can, after M. Botsch and L. Kobbelt, "A Robust Procedure to
 * Eliminate Degenerate Faces from Triangle Meshes" (VMV 2001; also Botsch
 * et al., "Polygon Mesh Processing", 2010, ch. 6): a sliver is a degenerate
 * face, or a face whose smallest altitude is under SLIVER_RATIO of its
 * longest edge - a cap (one angle near 180 degrees: a vertex near the
 * opposite edge; meshoptimizer 0.18 leaves them on flat ground, and folds
 * faces flat along sharp edges, as it accepts a collapse whose new normal
 * is zero) or a needle (one edge much shorter than the others).  A cap is
 * cured by flipping its longest edge, a needle by collapsing its shortest
 * edge; so each sliver is flipped across its longest edge if that helps
 * (try_flip), or else has its edges collapsed, shortest first.  Twins come
 * from the edge structure (edges of exactly two opposite half-edges); the
 * fixes run one after another in face order, keeping the twins up to date,
 * in passes until one fixes nothing; collapsed faces are then dropped.
 * Returns ORF_OK or ORF_ENOMEM. */
static int fix_degenerate(uint32_t *idx, size_t *nf, const orf_mesh *m, double eps) {
  size_t n = *nf;
  const float *pos = m->positions;
  size_t nd = 0;
  for (size_t f = 0; f < n && !nd; f++)
    nd += face_is_sliver(idx, pos, f, eps);
  if (!nd) return ORF_OK;
  orf_mesh view = {m->positions, NULL, idx, m->vertex_count, n};
  orf_edges e;
  int rc = orf_edges_build(&e, &view);
  if (rc) return rc;
  uint32_t *opp = orf_malloc_array(3 * n, sizeof *opp);
  if (!opp) {
    orf_edges_free(&e);
    return ORF_ENOMEM;
  }
  memset(opp, 0xff, 3 * n * sizeof *opp);
  for (size_t i = 0; i < e.edge_count; i++) {
    if (e.first[i + 1] - e.first[i] != 2) continue;
    uint32_t h0 = e.half[e.first[i]], h1 = e.half[e.first[i] + 1];
    if (idx[h0] == idx[h1]) continue; /* same direction: no twins */
    opp[h0] = h1;
    opp[h1] = h0;
  }
  orf_edges_free(&e);
  /* dirty[f]: face f may be a sliver - not yet looked at, or changed by a
   * fix since it was found not to be one (a face's quality depends on its
   * indices alone, positions never move), so a pass looks again only at
   * those: the same fixes in the same order as looking at every face, where
   * the passes of a mesh with an unfixable sliver took 8 full scans */
  uint8_t *dirty = orf_malloc_array(n, 1);
  if (!dirty) {
    orf_free(opp);
    return ORF_ENOMEM;
  }
  memset(dirty, 1, n);
  size_t removed = 0;
  for (int pass = 0; pass < FIX_PASSES; pass++) {
    size_t fixes = 0;
    for (size_t f = 0; f < n; f++) {
      if (!dirty[f]) continue;
      if (!face_is_sliver(idx, pos, f, eps)) {
        dirty[f] = 0;
        continue;
      }
      uint32_t h = 3 * (uint32_t)f;
      double l[3] = {dist2(pos, idx[h], idx[h + 1]), dist2(pos, idx[h + 1], idx[h + 2]),
                     dist2(pos, idx[h + 2], idx[h])};
      uint32_t order[3] = {0, 1, 2}; /* corners by the length of their edge, longest first */
      for (int x = 0; x < 2; x++)
        for (int y = 0; y < 2 - x; y++)
          if (l[order[y]] < l[order[y + 1]]) {
            uint32_t t = order[y];
            order[y] = order[y + 1];
            order[y + 1] = t;
          }
      int done = try_flip(idx, opp, pos, h + order[0], eps, dirty);
      for (int k = 2; k >= 0 && !done; k--) {
        uint32_t he = h + order[k];
        done = try_collapse(idx, opp, pos, he, eps, dirty) ||
               (opp[he] != UINT32_MAX && try_collapse(idx, opp, pos, opp[he], eps, dirty));
        removed += done ? 2 : 0;
      }
      fixes += done;
    }
    if (!fixes) break;
  }
  if (removed) {
    size_t out = 0;
    for (size_t f = 0; f < n; f++) {
      if (collapsed(idx + 3 * f)) continue;
      memmove(idx + 3 * out, idx + 3 * f, 3 * sizeof *idx);
      out++;
    }
    *nf = out;
  }
  orf_free(opp);
  orf_free(dirty);
  return ORF_OK;
}

/* Repairs what meshoptimizer leaves: drops pockets, then flips or
 * collapses degenerate faces away.  orf_mesh_check judges the result.
 * Returns ORF_OK or ORF_ENOMEM. */
static int repair(uint32_t *idx, size_t *nf, const orf_mesh *m, double eps, int part) {
  int rc = drop_pockets(idx, nf, m, part);
  if (!rc) rc = fix_degenerate(idx, nf, m, eps);
  return rc;
}

/* Whether a result r keeps what the input report in guaranteed; with
 * close_handles, a connected closed input may come back with fewer
 * handles (a higher, even Euler characteristic up to 2). */
static int acceptable(const orf_mesh_report *r, const orf_mesh_report *in, int close_handles) {
  if (in->watertight && !r->watertight) return 0;
  if (in->manifold && !r->manifold) return 0;
  if (r->components != in->components) return 0;
  if (r->euler != in->euler && !(close_handles && in->components == 1 && r->watertight &&
                                 r->euler > in->euler && r->euler <= 2 && (r->euler - in->euler) % 2 == 0))
    return 0;
  if (in->volume > 0 && !(r->volume > 0)) return 0;
  return 1;
}

/* ---- pinches ------------------------------------------------------------ */

/* The vertices of a simplification: the input's, then those split off
 * pinches (split_pinches), each a copy of an input vertex (origin). */
typedef struct grown {
  float *pos;       /* the input's positions until the first split, then owned */
  uint32_t *origin; /* input vertex of each appended vertex */
  size_t n, cap;    /* vertices; capacity of pos once owned (0 before) */
  size_t base;      /* the input's vertex count */
} grown;

/* Appends a copy of vertex v to g.  Returns its index, or UINT32_MAX when
 * memory runs out. */
static uint32_t grow(grown *g, uint32_t v) {
  if (!g->cap || g->n == g->cap) {
    size_t cap = g->cap ? 2 * g->cap : g->base + g->base / 8 + 64;
    if (cap > UINT32_MAX - 1) return UINT32_MAX;
    float *pos = orf_malloc_array(cap, 3 * sizeof *pos);
    uint32_t *origin = orf_malloc_array(cap - g->base, sizeof *origin);
    if (!pos || !origin) {
      orf_free(pos);
      orf_free(origin);
      return UINT32_MAX;
    }
    memcpy(pos, g->pos, g->n * 3 * sizeof *pos);
    if (g->origin) memcpy(origin, g->origin, (g->n - g->base) * sizeof *origin);
    if (g->cap) orf_free(g->pos);
    orf_free(g->origin);
    g->pos = pos, g->origin = origin, g->cap = cap;
  }
  memcpy(g->pos + 3 * g->n, g->pos + 3 * (size_t)v, 3 * sizeof(float));
  g->origin[g->n - g->base] = v < g->base ? v : g->origin[v - g->base];
  return (uint32_t)g->n++;
}

/* Most faces on one edge that split_pinches pairs. */
#define MAX_FIN 16

/* Pairs the n half-edges h[] of one edge (n/2 each way, n <= MAX_FIN):
 * pair[k] for each a->b half-edge k is the b->a half-edge whose face
 * closes the same solid wedge around the edge.  Seen down the edge (d = b
 * - a), each face is a ray from the edge towards its third vertex, and an
 * outward face a->b has its normal d x r a quarter turn anticlockwise of
 * its ray r, so its solid lies clockwise of it: its partner is the next ray
 * clockwise, which must run b->a.  Returns 0 when the rays do not
 * alternate so (no pairing). */
static int pair_around_edge(const uint32_t *idx, const float *pos, const uint32_t *h, uint32_t n,
                            uint32_t *pair) {
  uint32_t a = idx[h[0]], b = idx[next_half(h[0])];
  double d[3], u[3], v[3], len = 0;
  for (int k = 0; k < 3; k++) {
    d[k] = (double)pos[3 * (size_t)b + k] - pos[3 * (size_t)a + k];
    len += d[k] * d[k];
  }
  if (!(len > 0)) return 0;
  /* u: d x (the axis least along d), v = d x u */
  int ax = fabs(d[0]) <= fabs(d[1]) && fabs(d[0]) <= fabs(d[2]) ? 0 : fabs(d[1]) <= fabs(d[2]) ? 1 : 2;
  double e[3] = {ax == 0, ax == 1, ax == 2};
  u[0] = d[1] * e[2] - d[2] * e[1], u[1] = d[2] * e[0] - d[0] * e[2], u[2] = d[0] * e[1] - d[1] * e[0];
  v[0] = d[1] * u[2] - d[2] * u[1], v[1] = d[2] * u[0] - d[0] * u[2], v[2] = d[0] * u[1] - d[1] * u[0];
  double angle[MAX_FIN];
  uint32_t order[MAX_FIN];
  for (uint32_t k = 0; k < n; k++) {
    uint32_t c = idx[prev_half(h[k])];
    double r[3];
    for (int q = 0; q < 3; q++)
      r[q] = (double)pos[3 * (size_t)c + q] - pos[3 * (size_t)a + q];
    angle[k] = atan2(dot3(r, v), dot3(r, u));
    order[k] = k;
  }
  for (uint32_t i = 1; i < n; i++) /* by angle, then index: deterministic */
    for (uint32_t j = i; j > 0 && (angle[order[j - 1]] > angle[order[j]] ||
                                   (angle[order[j - 1]] == angle[order[j]] && order[j - 1] > order[j]));
         j--) {
      uint32_t t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  for (uint32_t i = 0; i < n; i++) {
    uint32_t k = order[i];
    if (idx[h[k]] != a) continue;
    uint32_t o = order[(i + n - 1) % n];
    if (idx[h[o]] == a) return 0;
    pair[k] = o;
  }
  return 1;
}

/* Pairs the n half-edges h[] of the edge a-b (n/2 each way, n <= MAX_FIN)
 * by walking the faces around its ends, where pair_around_edge cannot (the
 * rays do not alternate: meshoptimizer folded a sheet over, so the angles
 * say nothing).  From the face of an a->b half-edge, the walk turns around
 * a across the face's other edge at a, face by face through edges of two
 * opposite faces (opp), until it comes back to the edge a-b in a b->a face:
 * the face that closes the same sheet on that side.  The walk around b,
 * across the face's other edge at b, must end in the same face, and no two
 * a->b half-edges may end in one: then each sheet along the edge is its own
 * pair.  Returns 0 otherwise (no pairing). */
static int pair_by_walk(const uint32_t *idx, const uint32_t *opp, const uint32_t *h, uint32_t n,
                        uint32_t *pair) {
  uint32_t a = idx[h[0]], b = idx[next_half(h[0])];
  uint32_t taken = 0; /* bit per b->a half-edge already paired */
  for (uint32_t k = 0; k < n; k++) {
    if (idx[h[k]] != a) continue;
    uint32_t end_a = UINT32_MAX, end_b = UINT32_MAX, x = h[k];
    for (int step = 0; step < MAX_VALENCE && end_a == UINT32_MAX; step++) {
      uint32_t y = prev_half(x); /* into a */
      if (step && idx[y] == b)
        end_a = y;
      else if ((x = opp[y]) == UINT32_MAX)
        return 0;
    }
    x = next_half(h[k]); /* out of b */
    for (int step = 0; step < MAX_VALENCE && end_b == UINT32_MAX; step++) {
      if (step && idx[next_half(x)] == a)
        end_b = x;
      else {
        uint32_t y = opp[x];
        if (y == UINT32_MAX) return 0;
        x = next_half(y);
      }
    }
    if (end_a == UINT32_MAX || end_a != end_b) return 0;
    uint32_t o = 0;
    while (o < n && h[o] != end_a)
      o++;
    if (o == n || idx[h[o]] != b || (taken >> o & 1u)) return 0;
    taken |= 1u << o;
    pair[k] = o;
  }
  return 1;
}

/* opp[h] gets the twin of half-edge h across an edge of exactly two
 * opposite faces (0xffffffff where there is none): the pairs
 * pair_by_walk walks over. */
static void twin_halves(const orf_edges *e, const uint32_t *idx, size_t nf, uint32_t *opp) {
  memset(opp, 0xff, 3 * nf * sizeof *opp);
  for (size_t i = 0; i < e->edge_count; i++) {
    if (e->first[i + 1] - e->first[i] != 2) continue;
    uint32_t h0 = e->half[e->first[i]], h1 = e->half[e->first[i] + 1];
    if (idx[h0] == idx[h1]) continue;
    opp[h0] = h1;
    opp[h1] = h0;
  }
}

/* Splits the singular vertices of idx (nf faces over g's vertices) where
 * meshoptimizer has collapsed a tunnel to a point (a pinch: a vertex whose
 * faces form more than one fan) or to an edge (an edge of four or more
 * faces, as many each way).  The half-edges of such an edge are paired
 * around it (pair_around_edge), and the faces' corners are joined across every pair and every edge of
 * two opposite faces, as orf_mesh_check joins them into fans; then each
 * vertex gets a copy of itself for each fan but the first, so each fan has
 * its own vertex.  On a pinch or a pinched edge that gives a closed
 * manifold with one handle fewer; the caller checks it all the same.  The
 * first fan of a vertex is the one of its first corner, so the result
 * depends on the faces' order only.  *split gets the copies.  Returns
 * ORF_OK or ORF_ENOMEM. */
static int split_pinches(uint32_t *idx, size_t nf, grown *g, size_t *split) {
  *split = 0;
  orf_mesh view = {g->pos, NULL, idx, g->n, nf};
  orf_edges e;
  int rc = orf_edges_build(&e, &view);
  if (rc) return rc;
  uint32_t *corner = orf_malloc_array(nf ? 3 * nf : 1, sizeof *corner);
  uint32_t *copy = orf_malloc_array(nf ? 3 * nf : 1, sizeof *copy);
  uint32_t *fan0 = orf_malloc_array(g->n ? g->n : 1, sizeof *fan0);
  uint32_t *opp = orf_malloc_array(nf ? 3 * nf : 1, sizeof *opp);
  if (!corner || !copy || !fan0 || !opp) {
    rc = ORF_ENOMEM;
    goto out_free;
  }
  for (size_t c = 0; c < 3 * nf; c++)
    corner[c] = (uint32_t)c;
  memset(copy, 0xff, 3 * nf * sizeof *copy);
  memset(fan0, 0xff, g->n * sizeof *fan0);
  twin_halves(&e, idx, nf, opp); /* for pair_by_walk */
  for (size_t i = 0; i < e.edge_count; i++) {
    const uint32_t *h = e.half + e.first[i];
    uint32_t n = e.first[i + 1] - e.first[i];
    uint32_t a = idx[h[0]], fwd = 0;
    for (uint32_t k = 0; k < n; k++)
      fwd += idx[h[k]] == a;
    if (n < 2 || n > MAX_FIN || 2 * fwd != n) continue;
    uint32_t pair[MAX_FIN];
    if (n == 2) {
      pair[0] = 1;
    } else if (!pair_around_edge(idx, g->pos, h, n, pair) && !pair_by_walk(idx, opp, h, n, pair)) {
      continue;
    }
    /* the corner of a in an a->b half-edge's face is the half-edge itself,
     * of b the next; in a b->a half-edge's face b is the half-edge, a the
     * next */
    for (uint32_t k = 0; k < n; k++) {
      if (idx[h[k]] != a) continue;
      uint32_t o = h[pair[k]];
      orf_uf_union(corner, h[k], next_half(o));
      orf_uf_union(corner, next_half(h[k]), o);
    }
  }
  for (size_t c = 0; c < 3 * nf; c++) {
    const uint32_t *t = idx + 3 * (c / 3);
    if (collapsed(t)) continue;
    uint32_t v = idx[c], root = orf_uf_find(corner, (uint32_t)c);
    if (fan0[v] == UINT32_MAX) fan0[v] = root;
    if (fan0[v] == root) continue;
    if (copy[root] == UINT32_MAX) {
      copy[root] = grow(g, v);
      if (copy[root] == UINT32_MAX) {
        rc = ORF_ENOMEM;
        goto out_free;
      }
      (*split)++;
    }
    idx[c] = copy[root];
  }
  rc = ORF_OK;
out_free:
  orf_edges_free(&e);
  orf_free(corner);
  orf_free(copy);
  orf_free(fan0);
  orf_free(opp);
  return rc;
}

/* Most fins flip_fins() mends in one mesh. */
#define MAX_FINS 64

/* Whether the edge lo-hi (lo < hi) is in e (built from idx). */
static int has_edge(const orf_edges *e, const uint32_t *idx, uint32_t lo, uint32_t hi) {
  size_t a = 0, b = e->edge_count;
  while (a < b) {
    size_t mid = a + (b - a) / 2;
    uint32_t h = e->half[e->first[mid]], x = idx[h], y = idx[next_half(h)];
    uint32_t l = x < y ? x : y, u = x < y ? y : x;
    if (l < lo || (l == lo && u < hi))
      a = mid + 1;
    else
      b = mid;
  }
  if (a == e->edge_count) return 0;
  uint32_t h = e->half[e->first[a]], x = idx[h], y = idx[next_half(h)];
  return (x < y ? x : y) == lo && (x < y ? y : x) == hi;
}

/* Mends the fins split_pinches leaves: an edge a-b of four faces, two each
 * way, whose sheets cannot be pulled apart because a and b each have one
 * fan (the sheets join again around both ends: meshoptimizer folded a
 * surface onto itself along the edge, without the link condition).  No
 * vertex split separates them, but flipping the edge in one sheet does: of
 * the pair (a, b, c), (b, a, d) that closes one sheet (pair_around_edge,
 * else pair_by_walk), the faces become (c, a, d), (c, d, b), so a-b keeps
 * the other sheet's two faces and c-d is a new edge of two.  A flip is
 * done only where c-d is no edge yet (nor one made by an earlier flip) and
 * both new faces are neither degenerate nor slivers, trying the first
 * sheet, then the second; the caller checks the result all the same.
 * Measured on the noise mask of tests/hostile.c at q7 (grid 165, one piece
 * of genus 321): every attempt had 4 to 7 such edges left after the
 * pinches were split, and was rejected for them.  *done gets the flips.
 * Returns ORF_OK or ORF_ENOMEM. */
static int flip_fins(uint32_t *idx, size_t nf, const float *pos, size_t nv, double eps, size_t *done) {
  *done = 0;
  orf_mesh view = {(float *)pos, NULL, idx, nv, nf};
  orf_edges e;
  int rc = orf_edges_build(&e, &view);
  if (rc) return rc;
  uint32_t fins[MAX_FINS], made[2 * MAX_FINS], touched[4 * MAX_FINS];
  size_t nfins = 0, nmade = 0, ntouched = 0;
  for (size_t i = 0; i < e.edge_count && nfins < MAX_FINS; i++)
    if (e.first[i + 1] - e.first[i] == 4) fins[nfins++] = (uint32_t)i;
  uint32_t *opp = NULL;
  if (nfins && !(opp = orf_malloc_array(3 * nf, sizeof *opp))) {
    orf_edges_free(&e);
    return ORF_ENOMEM;
  }
  if (opp) twin_halves(&e, idx, nf, opp);
  for (size_t i = 0; i < nfins; i++) {
    const uint32_t *h = e.half + e.first[fins[i]];
    uint32_t a = idx[h[0]], fwd = 0, pair[4];
    for (int k = 0; k < 4; k++)
      fwd += idx[h[k]] == a;
    if (fwd != 2) continue;
    int stale = 0; /* a face of this edge was changed by an earlier flip */
    for (int k = 0; k < 4; k++)
      for (size_t t = 0; t < ntouched; t++)
        stale |= touched[t] == h[k] / 3;
    if (stale || (!pair_around_edge(idx, pos, h, 4, pair) && !pair_by_walk(idx, opp, h, 4, pair))) continue;
    for (int k = 0; k < 4; k++) {
      if (idx[h[k]] != a) continue;
      uint32_t hf = h[k], hb = h[pair[k]], b = idx[next_half(hf)];
      uint32_t c = idx[prev_half(hf)], d = idx[prev_half(hb)];
      uint32_t lo = c < d ? c : d, hi = c < d ? d : c;
      if (c == d || has_edge(&e, idx, lo, hi)) continue;
      int dup = 0;
      for (size_t t = 0; t < nmade; t += 2)
        dup |= made[t] == lo && made[t + 1] == hi;
      double q0, q1, area0, area1;
      q0 = face_quality(pos, c, a, d, &area0);
      q1 = face_quality(pos, c, d, b, &area1);
      if (dup || sliver(q0, area0, eps) || sliver(q1, area1, eps)) continue;
      uint32_t f0 = hf - hf % 3, g0 = hb - hb % 3;
      idx[f0] = c, idx[f0 + 1] = a, idx[f0 + 2] = d;
      idx[g0] = c, idx[g0 + 1] = d, idx[g0 + 2] = b;
      made[nmade++] = lo, made[nmade++] = hi;
      touched[ntouched++] = f0 / 3, touched[ntouched++] = g0 / 3;
      (*done)++;
      break;
    }
  }
  orf_free(opp);
  orf_edges_free(&e);
  return ORF_OK;
}

/* ---- slabs: one piece simplified in parallel ---------------------------- */

/* A piece of at least SLAB_MIN_FACES faces is cut into about one slab per
 * SLAB_FACES faces (at most MAX_SLABS), by the position of each face along
 * the piece's longest axis (HIST_BINS bins, cut where the faces split
 * evenly).  The count depends on the faces alone, never on the threads, so
 * the bytes are the same for any thread count. */
#define SLAB_MIN_FACES ORF_SIMPLIFY_SLAB_FACES
#define SLAB_FACES 32000
#define MAX_SLABS 8
#define HIST_BINS 4096

/* Simplifies part of a mesh - n faces `faces` over the vertices of pos,
 * whose open edges are its border with the rest - towards goal faces, the
 * border locked (meshopt_SimplifyLockBorder: vertices on an open edge never
 * move, and the repair neither flips nor collapses there), into out (room
 * for n faces, over the same vertices).  map (one entry per vertex of pos,
 * all UINT32_MAX) is scratch, left as it was found.  *got gets the faces
 * written.  Returns ORF_OK or ORF_ENOMEM. */
static int simplify_part(const uint32_t *faces, size_t n, const float *pos, size_t goal, double eps,
                         uint32_t *map, uint32_t *out, size_t *got) {
  *got = 0;
  if (!n) return ORF_OK;
  uint32_t *local = orf_malloc_array(n, 3 * sizeof *local);
  uint32_t *verts = orf_malloc_array(3 * n, sizeof *verts);
  uint32_t *dst = orf_malloc_array(n, 3 * sizeof *dst);
  float *lpos = NULL;
  int rc = ORF_ENOMEM;
  if (!local || !verts || !dst) goto out_free;
  size_t nl = 0;
  for (size_t i = 0; i < 3 * n; i++) {
    uint32_t v = faces[i];
    if (map[v] == UINT32_MAX) verts[nl] = v, map[v] = (uint32_t)nl++;
    local[i] = map[v];
  }
  if (!(lpos = orf_malloc_array(nl, 3 * sizeof *lpos))) goto out_reset;
  for (size_t i = 0; i < nl; i++)
    memcpy(lpos + 3 * i, pos + 3 * (size_t)verts[i], 3 * sizeof *lpos);
  orf_mesh lm = {lpos, NULL, NULL, nl, 0};
  size_t k = simplify_once(dst, local, n, &lm, goal, meshopt_SimplifyLockBorder);
  if (k == SIZE_MAX) goto out_reset;
  if ((rc = repair(dst, &k, &lm, eps, 1))) goto out_reset;
  for (size_t i = 0; i < 3 * k; i++)
    out[i] = verts[dst[i]];
  *got = k;
  rc = ORF_OK;
out_reset:
  for (size_t i = 0; i < nl; i++)
    map[verts[i]] = UINT32_MAX;
out_free:
  orf_free(local);
  orf_free(verts);
  orf_free(dst);
  orf_free(lpos);
  return rc;
}

typedef struct slab_work {
  const uint32_t *face; /* the faces, grouped by slab: slab s is face[first[s] .. first[s+1]) */
  const uint32_t *first;
  const size_t *goal; /* per slab */
  const float *pos;
  size_t nv;
  double eps;
  uint32_t *out; /* slab s writes its faces at out + 3 first[s] */
  size_t *got;   /* per slab */
  int *rc;       /* per slab */
  int count;
  atomic_int next;
} slab_work;

static void slab_worker(void *ctx, size_t begin, size_t end, int worker) {
  (void)begin, (void)end, (void)worker;
  slab_work *w = ctx;
  uint32_t *map = orf_malloc_array(w->nv, sizeof *map);
  if (map) memset(map, 0xff, w->nv * sizeof *map);
  for (;;) {
    int s = atomic_fetch_add(&w->next, 1);
    if (s >= w->count) break;
    size_t b = w->first[s], n = w->first[s + 1] - b;
    w->rc[s] =
        map ? simplify_part(w->face + 3 * b, n, w->pos, w->goal[s], w->eps, map, w->out + 3 * b, &w->got[s])
            : ORF_ENOMEM;
  }
  orf_free(map);
}

/* One attempt of meshopt_simplify on a large piece, in parallel: src (nf
 * faces over nv vertices of pos) towards goal faces into dst (room for
 * nf).  The piece is cut into slabs (above); each slab is simplified on its
 * own (simplify_part) with the vertices it shares with another slab - the
 * seams - locked, by `threads` workers.  The seams, left at the input's
 * density, are then simplified in one more part: the faces within two
 * rings of a seam vertex, whose outer rim (already simplified) is locked.
 * The slabs aim at goal plus the faces that part is expected to remove
 * (two per seam vertex collapsed, at the piece's ratio), so the seams end
 * at about the density of the rest.  The slabs' repairs have run; the
 * caller checks the whole.  Returns the faces written, or SIZE_MAX when
 * memory runs out.
 * Measured on samples/heart.png's final mesh at q7 (159k faces to 80k, 4
 * slabs of 40k, 1,573 seam vertices, a band of 9.8k faces), by callgrind:
 * 688 M instructions on one thread against 650 M for one pass over the
 * whole, but on two threads the longest thread runs about 445 M (the
 * slabs' meshoptimizer and repairs split evenly; the band, the setup and
 * the check stay serial).  The result is as close to the 159k-face mesh as
 * one pass's (sampled over its vertices: mean 0.0079 against 0.0082 cells,
 * 99th percentile 0.067 against 0.069, largest 0.18 against 0.17).  The
 * slabs do not spend the budget where one pass would: each keeps its share
 * of faces (the heart's four: 52, 49, 48, 53% against 47, 42, 44, 69% in
 * one pass), so a flat plateau in a slab keeps more faces than one pass
 * leaves it, at no loss of accuracy by the figures above. */
static size_t simplify_slabs(uint32_t *dst, const uint32_t *src, size_t nf, const float *pos, size_t nv,
                             size_t goal, double eps, int threads) {
  int nslabs = (int)(nf / SLAB_FACES);
  if (nslabs > MAX_SLABS) nslabs = MAX_SLABS;
  size_t result = SIZE_MAX;
  uint16_t *key = orf_malloc_array(nf, sizeof *key);
  uint8_t *slab_of = orf_malloc_array(nf, 1);
  uint8_t *vslab = orf_malloc_array(nv, 1); /* first slab of a vertex; 0xfe: on a seam */
  uint32_t *face = orf_malloc_array(nf, 3 * sizeof *face);
  uint32_t *mid = orf_malloc_array(nf, 3 * sizeof *mid);
  uint32_t *map = orf_malloc_array(nv, sizeof *map);
  uint32_t first[MAX_SLABS + 1] = {0}, hist[HIST_BINS] = {0}, cut[MAX_SLABS];
  size_t goals[MAX_SLABS], got[MAX_SLABS];
  int rcs[MAX_SLABS];
  if (!key || !slab_of || !vslab || !face || !mid || !map) goto out_free;

  /* the longest axis of the piece's box, and each face's place along it */
  float lo[3] = {FLT_MAX, FLT_MAX, FLT_MAX}, hi[3] = {-FLT_MAX, -FLT_MAX, -FLT_MAX};
  for (size_t i = 0; i < 3 * nf; i++)
    for (int a = 0; a < 3; a++) {
      float x = pos[3 * (size_t)src[i] + a];
      lo[a] = x < lo[a] ? x : lo[a];
      hi[a] = x > hi[a] ? x : hi[a];
    }
  int axis = 0;
  for (int a = 1; a < 3; a++)
    if (hi[a] - lo[a] > hi[axis] - lo[axis]) axis = a;
  float scale = hi[axis] > lo[axis] ? (float)HIST_BINS / (3 * (hi[axis] - lo[axis])) : 0;
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = src + 3 * f;
    float x = pos[3 * (size_t)t[0] + axis] + pos[3 * (size_t)t[1] + axis] + pos[3 * (size_t)t[2] + axis];
    int bin = (int)((x - 3 * lo[axis]) * scale);
    bin = bin < 0 ? 0 : bin >= HIST_BINS ? HIST_BINS - 1 : bin;
    key[f] = (uint16_t)bin;
    hist[bin]++;
  }
  /* cut[s]: the first bin of slab s + 1, where the faces pass (s+1)/n */
  size_t seen = 0;
  int s = 0;
  for (int bin = 0; bin < HIST_BINS && s < nslabs - 1; bin++) {
    seen += hist[bin];
    while (s < nslabs - 1 && seen * (size_t)nslabs >= nf * (size_t)(s + 1))
      cut[s++] = (uint32_t)bin + 1;
  }
  while (s < nslabs - 1)
    cut[s++] = HIST_BINS;
  memset(vslab, 0xff, nv);
  for (size_t f = 0; f < nf; f++) {
    int k = 0;
    while (k < nslabs - 1 && key[f] >= cut[k])
      k++;
    slab_of[f] = (uint8_t)k;
    first[k + 1]++;
    for (int c = 0; c < 3; c++) {
      uint32_t v = src[3 * f + c];
      if (vslab[v] == 0xff)
        vslab[v] = (uint8_t)k;
      else if (vslab[v] != k)
        vslab[v] = 0xfe;
    }
  }
  for (int k = 0; k < nslabs; k++)
    first[k + 1] += first[k];
  {
    uint32_t fill[MAX_SLABS];
    memcpy(fill, first, sizeof fill);
    for (size_t f = 0; f < nf; f++)
      memcpy(face + 3 * (size_t)fill[slab_of[f]]++, src + 3 * f, 3 * sizeof *face);
  }
  size_t seam = 0;
  for (size_t v = 0; v < nv; v++)
    seam += vslab[v] == 0xfe;
  double ratio = (double)goal / (double)nf;
  double goal1 = (double)goal + 2.0 * (double)seam * (1 - ratio);
  for (int k = 0; k < nslabs; k++)
    goals[k] = (size_t)(goal1 * (double)(first[k + 1] - first[k]) / (double)nf);

  slab_work w = {face, first, goals, pos, nv, eps, mid, got, rcs, nslabs, 0};
  orf_parallel_for(threads, (size_t)orf_parallel_chunks(threads, (size_t)nslabs, 1), 1, slab_worker, &w);
  size_t total = 0;
  for (int k = 0; k < nslabs; k++) {
    if (rcs[k]) goto out_free;
    total += got[k];
  }

  /* the band: the faces of the slabs' results that touch a seam vertex
   * (0xfe) or a vertex of such a face (marked 0xfd), gathered into face[] */
  size_t nb = 0, nrest = 0;
  uint32_t *band = face, *rest = dst;
  for (int k = 0; k < nslabs; k++)
    for (size_t i = first[k]; i < first[k] + got[k]; i++) {
      const uint32_t *t = mid + 3 * i;
      if (vslab[t[0]] != 0xfe && vslab[t[1]] != 0xfe && vslab[t[2]] != 0xfe) continue;
      for (int c = 0; c < 3; c++)
        if (vslab[t[c]] != 0xfe) vslab[t[c]] = 0xfd;
    }
  for (int k = 0; k < nslabs; k++)
    for (size_t i = first[k]; i < first[k] + got[k]; i++) {
      const uint32_t *t = mid + 3 * i;
      int in = 0;
      for (int c = 0; c < 3; c++)
        in |= vslab[t[c]] >= 0xfd;
      if (in)
        memcpy(band + 3 * nb++, t, 3 * sizeof *t);
      else
        memcpy(rest + 3 * nrest++, t, 3 * sizeof *t);
    }
  size_t band_goal = total > goal ? (nb > total - goal ? nb - (total - goal) : 0) : nb;
  if (band_goal < nb / 4) band_goal = nb / 4;
  size_t kb = nb;
  if (band_goal < nb) {
    memset(map, 0xff, nv * sizeof *map);
    if (simplify_part(band, nb, pos, band_goal, eps, map, rest + 3 * nrest, &kb)) goto out_free;
  } else {
    memcpy(rest + 3 * nrest, band, nb * 3 * sizeof *band);
  }
  result = nrest + kb;
out_free:
  orf_free(key);
  orf_free(slab_of);
  orf_free(vslab);
  orf_free(face);
  orf_free(mid);
  orf_free(map);
  return result;
}

/* ---- the public functions ----------------------------------------------- */

/* See simplify.h. */
int orf_mesh_fix_degenerate(orf_mesh *m) {
  size_t nf = m->face_count;
  int rc = fix_degenerate(m->indices, &nf, m, orf_degenerate_area(m));
  if (rc) return rc;
  if (nf == m->face_count) return ORF_OK;
  m->face_count = nf;
  return orf_mesh_compact(m);
}

/* See simplify.h.  Also returns ORF_EINVAL (*m unchanged) for an index >=
 * vertex_count.  On success *m owns new arrays when it was reduced. */
int orf_mesh_simplify(orf_mesh *m, size_t target_faces) {
  if (m->face_count <= target_faces) return ORF_OK;
  orf_mesh_report in;
  int rc = orf_mesh_check(m, &in);
  if (rc) return rc;
  return orf_mesh_simplify_known(m, target_faces, &in);
}

/* See simplify.h. */
int orf_mesh_simplify_known(orf_mesh *m, size_t target_faces, const orf_mesh_report *known) {
  return orf_mesh_simplify_piece(m, target_faces, known, 0, 0);
}

/* See simplify.h. */
int orf_mesh_simplify_piece(orf_mesh *m, size_t target_faces, const orf_mesh_report *known, int close_handles,
                            int threads) {
  if (m->face_count <= target_faces) return ORF_OK;
  for (size_t i = 0; i < 3 * m->face_count; i++)
    if (m->indices[i] >= m->vertex_count) return ORF_EINVAL;
  pthread_once(&allocator_once, set_allocator);
  orf_mesh_report in = *known, r;
  int rc;

  size_t nf = m->face_count;
  double eps = orf_degenerate_area(m);
  grown g = {m->positions, NULL, m->vertex_count, 0, m->vertex_count};
  uint32_t *best = orf_malloc_array(nf, 3 * sizeof *best);
  uint32_t *work = orf_malloc_array(nf, 3 * sizeof *work);
  if (!best || !work) {
    rc = ORF_ENOMEM;
    goto out_free;
  }
  memcpy(best, m->indices, nf * 3 * sizeof *best);
  size_t best_nf = nf, goal = target_faces;
  int max_tries = close_handles ? MAX_TRIES_PIECE : MAX_TRIES;
  for (int tries = 0; tries < max_tries && best_nf > target_faces; tries++) {
    orf_mesh verts = {g.pos, NULL, NULL, g.n, 0};
    int slabs = threads > 0 && best_nf >= SLAB_MIN_FACES;
    size_t got = slabs ? simplify_slabs(work, best, best_nf, g.pos, g.n, goal, eps, threads)
                       : simplify_once(work, best, best_nf, &verts, goal, 0);
    if (got == SIZE_MAX) {
      rc = ORF_ENOMEM;
      goto out_free;
    }
    if (got >= best_nf) break; /* meshoptimizer can go no further */
    /* the slabs' parts are repaired already but for slivers on a locked
     * seam, which a last pass over the whole mends (it only looks at every
     * face when there are none); the pockets of the whole are dropped only
     * when its check fails (one on a seam) */
    if ((rc = slabs ? fix_degenerate(work, &got, &verts, eps) : repair(work, &got, &verts, eps, 0)))
      goto out_free;
    orf_mesh view = {g.pos, NULL, work, g.n, got};
    rc = orf_mesh_check(&view, &r);
    if (rc) goto out_free;
    if (slabs && !acceptable(&r, &in, close_handles)) {
      if ((rc = repair(work, &got, &verts, eps, 0))) goto out_free;
      view.face_count = got;
      if ((rc = orf_mesh_check(&view, &r))) goto out_free;
    }
    /* A tunnel collapsed to a point (a pinch: two fans on one vertex) is a
     * handle closed: split it, where handles may close.  On noise masks
     * (tests/hostile.c) nearly every attempt at a piece of genus 150 had
     * pinched points or edges, so the back-off failed and the stage was
     * meshed again coarser, twice: 8.2 s for a q7 job. */
    if (close_handles && !acceptable(&r, &in, close_handles) &&
        (r.nonmanifold_vertices || r.nonmanifold_edges)) {
      size_t split;
      if ((rc = split_pinches(work, got, &g, &split))) goto out_free;
      view = (orf_mesh){g.pos, NULL, work, g.n, got};
      if (split && (rc = orf_mesh_check(&view, &r))) goto out_free;
      size_t flipped = 0;
      if (r.nonmanifold_edges && (rc = flip_fins(work, got, g.pos, g.n, eps, &flipped))) goto out_free;
      if (flipped && (rc = orf_mesh_check(&view, &r))) goto out_free;
    }
    if (acceptable(&r, &in, close_handles)) {
      memcpy(best, work, got * 3 * sizeof *best);
      best_nf = got;
      goal = target_faces;
    } else {
      goal += (best_nf - goal) / 2;
      if (goal >= best_nf) break;
    }
  }

  if (best_nf < nf) {
    orf_mesh out;
    rc = orf_mesh_alloc(&out, g.n, best_nf, m->colors != NULL);
    if (rc) goto out_free;
    memcpy(out.positions, g.pos, g.n * 3 * sizeof(float));
    if (m->colors) {
      memcpy(out.colors, m->colors, m->vertex_count * 3);
      for (size_t v = g.base; v < g.n; v++)
        memcpy(out.colors + 3 * v, m->colors + 3 * (size_t)g.origin[v - g.base], 3);
    }
    memcpy(out.indices, best, best_nf * 3 * sizeof *best);
    rc = orf_mesh_compact(&out);
    if (rc) {
      orf_mesh_free(&out);
      goto out_free;
    }
    /* give back what compaction freed; a failed shrink keeps the block */
    float *p = orf_realloc(out.positions, out.vertex_count * 3 * sizeof(float));
    if (p) out.positions = p;
    if (out.colors) {
      uint8_t *c = orf_realloc(out.colors, out.vertex_count * 3);
      if (c) out.colors = c;
    }
    orf_mesh_free(m);
    *m = out;
  }
  rc = ORF_OK;

out_free:
  if (g.cap) orf_free(g.pos);
  orf_free(g.origin);
  orf_free(best);
  orf_free(work);
  return rc;
}
