/*
 * simplify.c - decimation to a face budget with a topology guarantee (see
 * simplify.h): meshoptimizer's quadric edge-collapse simplifier (Garland and
 * Heckbert, "Surface Simplification Using Quadric Error Metrics",
 * SIGGRAPH 1997), then orf_mesh_check on every result.
 *
 * meshopt_simplify (0.18) does not test the link condition of an edge
 * collapse (T. Dey et al., "Topology Preserving Edge Contraction", 1999), so
 * on a closed mesh it can leave "fins": a vertex of valence two whose two
 * faces are the same triangle back to back, hanging on an edge that then
 * has four faces (seen already at 50% of a 327k-face icosphere), and
 * sometimes such a pair touching the rest at a vertex only.  So:
 *  1. meshopt_simplify towards the budget with an unbounded error
 *     (target_error = FLT_MAX: a budget is a budget; with 1e-2 it stops
 *     short on smooth shapes, e.g. at ~400 faces for a 20k sphere asked
 *     for 40);
 *  2. repair: drop every pair of faces with the same three vertices in
 *     opposite orientations (a fin or a pillow: zero volume, no area the
 *     surface needs);
 *  3. accept the result only if orf_mesh_check says it is as closed and as
 *     manifold as the input, with the same Euler characteristic, component
 *     count and sign of volume;
 *  4. otherwise back off: aim halfway between the failed goal and the last
 *     accepted mesh, and simplify from that accepted mesh; after an
 *     accepted step aim at the budget again.  At most MAX_TRIES attempts;
 *     if none is accepted the input is kept.
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
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include "adjacency.h"
#include "alloc.h"
#include "mesh.h"

/* Attempts of meshopt_simplify per call. */
#define MAX_TRIES 8

/* Largest sheet dropped as a pocket. */
#define POCKET_FACES 16

/* Rounds of needle flips after each simplification. */
#define FLIP_ROUNDS 32

/* ---- meshoptimizer's memory ------------------------------------------- */

/* meshopt_simplify 0.18 takes at most ~39.4 bytes per index plus a hash
 * table of under 2.5 x 4 bytes per vertex (measured: 39.40 B/index on
 * icospheres, 39.26 on UV spheres); the arena allows 48 + 64 and 16-byte
 * alignment of its ~15 blocks. */
#define ARENA_PER_INDEX 48
#define ARENA_PER_VERTEX 64
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
static size_t simplify_once(uint32_t *dst, const uint32_t *src, size_t nf, const orf_mesh *m, size_t goal) {
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
                              FLT_MAX, 0, NULL);
  tls_arena = old;
  orf_free(a.base);
  return n / 3;
}

/* ---- repair and acceptance ---------------------------------------------- */

static inline uint32_t uf_find(uint32_t *p, uint32_t x) {
  while (p[x] != x) {
    p[x] = p[p[x]];
    x = p[x];
  }
  return x;
}

static inline void uf_union(uint32_t *p, uint32_t a, uint32_t b) {
  a = uf_find(p, a);
  b = uf_find(p, b);
  if (a < b)
    p[b] = a;
  else if (b < a)
    p[a] = b;
}

static size_t pocket_max(void) {
  const char *s = getenv("POCKET_MAX");
  return s ? (size_t)atoi(s) : POCKET_FACES;
}

/* Drops the pockets of idx (*nf faces over m's vertices): the "sheets" of
 * at most POCKET_FACES faces - faces joined across edges that have exactly
 * two faces in opposite directions - that share a vertex with another
 * sheet.  Returns ORF_OK or ORF_ENOMEM (idx then unchanged). */
static int drop_pockets(uint32_t *idx, size_t *nf, const orf_mesh *m) {
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
  for (size_t f = 0; f < n; f++) sheet[f] = (uint32_t)f;
  for (size_t i = 0; i < e.edge_count; i++) {
    if (e.first[i + 1] - e.first[i] != 2) continue;
    uint32_t h0 = e.half[e.first[i]], h1 = e.half[e.first[i] + 1], a0, b0, a1, b1;
    orf_half_ends(&view, h0, &a0, &b0);
    orf_half_ends(&view, h1, &a1, &b1);
    if (a0 == b1) uf_union(sheet, h0 / 3, h1 / 3);
  }
  memset(owner, 0xff, nv * sizeof *owner);
  for (size_t f = 0; f < n; f++) {
    uint32_t s = uf_find(sheet, (uint32_t)f);
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
  size_t out = 0, limit = pocket_max();
  for (size_t f = 0; f < n; f++) {
    uint32_t s = sheet[f];
    if (touch[s] && size[s] <= limit) continue;
    memmove(idx + 3 * out, idx + 3 * f, 3 * sizeof *idx);
    out++;
  }
  if (getenv("SIMP_DEBUG")) {
    size_t hist[8] = {0};
    for (size_t f = 0; f < n; f++) if (sheet[f] == f && touch[f]) { size_t b = 0, z = size[f]; while (z > 1 && b < 7) { z /= 2; b++; } hist[b]++; }
    fprintf(stderr, "pockets:");
    for (int b = 0; b < 8; b++) fprintf(stderr, " <%d:%zu", 2 << b, hist[b]);
    fprintf(stderr, " dropped %zu faces\n", n - out);
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

/* Whether v is in the ascending one-ring of u. */
static int adjacent(const orf_neighbors *n, uint32_t u, uint32_t v) {
  uint32_t lo = n->start[u], hi = n->start[u + 1];
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (n->nbr[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n->start[u + 1] && n->nbr[lo] == v;
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

/* One round of needle flips on idx (nf faces over m's vertices): a
 * degenerate face (a, b, c) whose neighbour across a-b, (b, a, d), is not
 * degenerate becomes (c, a, d), (c, d, b) - the same surface when c lies on
 * a-b, which is required: both new faces must be non-degenerate and face
 * the way (b, a, d) did, and c-d must not be an edge already (the link
 * condition of a flip).  Flips of one round touch disjoint vertices, so the
 * edge structure built at its start stays valid.  *flips gets their count.
 * Returns ORF_OK or ORF_ENOMEM. */
static int flip_round(uint32_t *idx, size_t nf, const orf_mesh *m, double eps, size_t *flips) {
  orf_mesh view = {m->positions, NULL, idx, m->vertex_count, nf};
  orf_edges e;
  orf_neighbors n;
  *flips = 0;
  int rc = orf_edges_build(&e, &view);
  if (rc) return rc;
  rc = orf_neighbors_build(&n, &e, &view);
  uint8_t *touched = orf_calloc(m->vertex_count ? m->vertex_count : 1, 1);
  uint8_t *changed = orf_calloc(nf ? nf : 1, 1);
  if (rc || !touched || !changed) {
    rc = ORF_ENOMEM;
    goto out_free;
  }
  for (size_t i = 0; i < e.edge_count; i++) {
    if (e.first[i + 1] - e.first[i] != 2) continue;
    uint32_t h[2] = {e.half[e.first[i]], e.half[e.first[i] + 1]};
    if (changed[h[0] / 3] || changed[h[1] / 3]) continue;
    for (int side = 0; side < 2; side++) {
      uint32_t hn = h[side], hg = h[1 - side], fn = hn / 3, fg = hg / 3;
      if (orf_face_area(&view, fn) > eps || !(orf_face_area(&view, fg) > eps)) continue;
      uint32_t a, b, b2, a2;
      orf_half_ends(&view, hn, &a, &b);
      orf_half_ends(&view, hg, &b2, &a2);
      if (a != a2 || b != b2) continue; /* misoriented: not ours to fix */
      uint32_t c = idx[3 * (size_t)fn + (hn % 3 + 2) % 3], d = idx[3 * (size_t)fg + (hg % 3 + 2) % 3];
      if (c == d || touched[a] || touched[b] || touched[c] || touched[d] || adjacent(&n, c, d)) continue;
      double ng[3], n1[3], n2[3];
      face_normal(m->positions, b, a, d, ng);
      face_normal(m->positions, c, a, d, n1);
      face_normal(m->positions, c, d, b, n2);
      double l1 = sqrt(n1[0] * n1[0] + n1[1] * n1[1] + n1[2] * n1[2]);
      double l2 = sqrt(n2[0] * n2[0] + n2[1] * n2[1] + n2[2] * n2[2]);
      if (!(0.5 * l1 > eps) || !(0.5 * l2 > eps)) continue;
      if (!(ng[0] * n1[0] + ng[1] * n1[1] + ng[2] * n1[2] > 0) ||
          !(ng[0] * n2[0] + ng[1] * n2[1] + ng[2] * n2[2] > 0))
        continue;
      uint32_t *tn = idx + 3 * (size_t)fn, *tg = idx + 3 * (size_t)fg;
      tn[0] = c, tn[1] = a, tn[2] = d;
      tg[0] = c, tg[1] = d, tg[2] = b;
      touched[a] = touched[b] = touched[c] = touched[d] = 1;
      changed[fn] = changed[fg] = 1;
      (*flips)++;
      break;
    }
  }
  rc = ORF_OK;
out_free:
  orf_edges_free(&e);
  orf_neighbors_free(&n);
  orf_free(touched);
  orf_free(changed);
  return rc;
}

/* Repairs what meshoptimizer leaves: drops pockets, then flips needles
 * (a few rounds, while any flip happens).  orf_mesh_check judges the
 * result.  Returns ORF_OK or ORF_ENOMEM. */
static int repair(uint32_t *idx, size_t *nf, const orf_mesh *m, double eps) {
  int rc = drop_pockets(idx, nf, m);
  for (int round = 0; !rc && round < FLIP_ROUNDS; round++) {
    size_t flips;
    rc = flip_round(idx, *nf, m, eps, &flips);
    if (getenv("SIMP_DEBUG")) fprintf(stderr, "flip round %d: %zu\n", round, flips);
    if (!flips) break;
  }
  return rc;
}

/* Whether a result r keeps what the input report in guaranteed. */
static int acceptable(const orf_mesh_report *r, const orf_mesh_report *in) {
  if (in->watertight && !r->watertight) return 0;
  if (in->manifold && !r->manifold) return 0;
  if (r->euler != in->euler || r->components != in->components) return 0;
  if (in->volume > 0 && !(r->volume > 0)) return 0;
  return 1;
}

/* ---- the public function ------------------------------------------------ */

int orf_mesh_simplify(orf_mesh *m, size_t target_faces) {
  if (m->face_count <= target_faces) return ORF_OK;
  pthread_once(&allocator_once, set_allocator);
  orf_mesh_report in, r;
  int rc = orf_mesh_check(m, &in);
  if (rc) return rc;

  size_t nf = m->face_count;
  double eps = orf_degenerate_area(m);
  uint32_t *best = orf_malloc_array(nf, 3 * sizeof *best);
  uint32_t *work = orf_malloc_array(nf, 3 * sizeof *work);
  if (!best || !work) {
    rc = ORF_ENOMEM;
    goto out_free;
  }
  memcpy(best, m->indices, nf * 3 * sizeof *best);
  size_t best_nf = nf, goal = target_faces;
  for (int tries = 0; tries < MAX_TRIES && best_nf > target_faces; tries++) {
    size_t got = simplify_once(work, best, best_nf, m, goal);
    if (got == SIZE_MAX) {
      rc = ORF_ENOMEM;
      goto out_free;
    }
    if (got >= best_nf) break; /* meshoptimizer can go no further */
    rc = repair(work, &got, m, eps);
    if (rc) goto out_free;
    orf_mesh view = {m->positions, NULL, work, m->vertex_count, got};
    rc = orf_mesh_check(&view, &r);
    if (rc) goto out_free;
    if (getenv("SIMP_DEBUG")) fprintf(stderr, "try %d goal %zu got %zu wt %d mf %d bnd %zu nme %zu mis %zu nmv %zu deg %zu dup %zu euler %ld comp %zu\n", tries, goal, got, r.watertight, r.manifold, r.boundary_edges, r.nonmanifold_edges, r.misoriented_edges, r.nonmanifold_vertices, r.degenerate_faces, r.duplicate_faces, r.euler, r.components);
    if (acceptable(&r, &in)) {
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
    rc = orf_mesh_alloc(&out, m->vertex_count, best_nf, m->colors != NULL);
    if (rc) goto out_free;
    memcpy(out.positions, m->positions, m->vertex_count * 3 * sizeof(float));
    if (m->colors) memcpy(out.colors, m->colors, m->vertex_count * 3);
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
  orf_free(best);
  orf_free(work);
  return rc;
}
