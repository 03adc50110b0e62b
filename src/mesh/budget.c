/*
 * budget.c - a closed mesh brought within its face budget one connected
 * component at a time (see budget.h).
 *
 * Why per component.  Simplifying a mesh of many pieces as one
 * (orf_mesh_simplify on the whole) fails on the photographs whose subject
 * comes out in pieces: meshoptimizer collapses small pieces into pockets
 * that the repair drops, the component count changes, the attempt is
 * rejected and the whole pass is redone at a gentler goal - up to eight
 * passes over 300k faces, and still 97k to 212k faces where 80k were
 * asked (issue 13).  Here:
 *  1. components are labelled (union-find over the faces' vertices), with
 *     their faces, vertices, Euler characteristic V - F/2 (closed
 *     2-manifold: E = 3F/2) and volume (divergence theorem);
 *  2. each needs a floor: ORF_BUDGET_FLOOR_FACES, plus
 *     ORF_BUDGET_HANDLE_FACES per handle, or its own face count when that
 *     is less.  Ordered largest first (volume, then faces, then position),
 *     the components are kept while the sum of their floors fits the
 *     budget: those past that point, the smallest, are dropped.  The
 *     largest is always kept;
 *  3. the budget is shared among the kept ones in proportion to their
 *     faces, none under its floor (water filling: those that would be
 *     under it get their floor, the rest is shared again);
 *  4. each kept component over its share is simplified alone
 *     (orf_mesh_simplify_piece: meshoptimizer, repair, check, back-off), so
 *     a back-off redoes one piece, not the whole mesh.  A piece may lose
 *     handles there: meshoptimizer collapses tunnels narrower than the
 *     result's edges, and holding every one (the old rule) made the
 *     back-off fail on photographs (baboon.jpg at q7: a piece of 151k faces
 *     and 14 handles lost one at every goal under 149k, so the job kept
 *     149k faces where 75k were its share; closing it gave 75k at the first
 *     attempt).  A coarser grid closes the same tunnels; closed, 2-manifold,
 *     one piece and orientation are held all the same;  The pieces are
 *     independent, so they run on `threads` workers that take the next
 *     piece, largest first; each writes only its own slot, and the result
 *     is assembled in component order: the same bytes for any thread count;
 *  5. should a piece stay over its share (the simplifier backed off), it
 *     starts again from its result, at most EXTRA_ROUNDS times; then the
 *     smallest kept pieces are dropped until the total fits; the largest
 *     alone over the budget is ORF_BUDGET_UNREACHABLE (the caller meshes
 *     coarser).
 * A mesh of one component is simplified in place, with no copy.
 */
#include "budget.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "mesh.h"
#include "parallel.h"
#include "simplify.h"

/* Further rounds for the pieces over their share (see the top). */
#define EXTRA_ROUNDS 2

typedef struct piece {
  size_t faces, verts; /* in the input */
  long euler;
  double volume; /* signed, six times */
  size_t need, target;
  int keep, fixed; /* fixed: target settled by the water filling */
  int stuck;       /* the simplifier's last call left it as it was */
  int rc;
  orf_mesh out; /* the kept piece, simplified, its vertices numbered locally */
} piece;

typedef struct order_key {
  double volume;
  size_t faces;
  uint32_t id;
} order_key;

/* Largest first: |volume|, then faces, then the earlier component. */
static int cmp_order(const void *a, const void *b) {
  const order_key *x = a, *y = b;
  if (x->volume != y->volume) return x->volume > y->volume ? -1 : 1;
  if (x->faces != y->faces) return x->faces > y->faces ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

typedef struct work {
  const orf_mesh *m;
  piece *p;
  const uint32_t *order; /* kept components, largest first */
  size_t count;          /* of them */
  const uint32_t *first; /* faces of component c: face[first[c] .. first[c+1]) */
  const uint32_t *face;
  const uint32_t *comp_of; /* component of each vertex */
  uint32_t *local;         /* each vertex's number within its component */
  atomic_size_t next;
} work;

/* Copies component c of w->m into p->out, its vertices renumbered in the
 * order the faces first use them.  Returns ORF_OK or ORF_ENOMEM. */
static int extract(work *w, uint32_t c, piece *p) {
  const orf_mesh *m = w->m;
  int rc = orf_mesh_alloc(&p->out, p->verts, p->faces, m->colors != NULL);
  if (rc) return rc;
  uint32_t nv = 0;
  for (uint32_t i = w->first[c]; i < w->first[c + 1]; i++) {
    const uint32_t *t = m->indices + 3 * (size_t)w->face[i];
    uint32_t *o = p->out.indices + 3 * (size_t)(i - w->first[c]);
    for (int k = 0; k < 3; k++) {
      uint32_t v = t[k];
      if (w->local[v] == UINT32_MAX) {
        memcpy(p->out.positions + 3 * (size_t)nv, m->positions + 3 * (size_t)v, 3 * sizeof(float));
        if (m->colors) memcpy(p->out.colors + 3 * (size_t)nv, m->colors + 3 * (size_t)v, 3);
        w->local[v] = nv++;
      }
      o[k] = w->local[v];
    }
  }
  return ORF_OK;
}

/* Simplifies piece p to its share, its slabs (if it is that large) on
 * `threads` workers. */
static void simplify_one(piece *p, int threads) {
  if (p->rc || p->out.face_count <= p->target) return;
  orf_mesh_report known = {.watertight = 1, .manifold = 1, .components = 1};
  known.euler = p->euler;
  known.volume = p->volume > 0 ? 1 : -1;
  size_t before = p->out.face_count;
  p->rc = orf_mesh_simplify_piece(&p->out, p->target, &known, 1, threads);
  p->stuck = p->out.face_count == before;
}

/* One worker: takes the next kept component, largest first, and simplifies
 * it to its share on this one thread.  Pieces of ORF_SIMPLIFY_SLAB_FACES or
 * more were done before, each on every thread (simplify_one). */
static void simplify_pieces(void *ctx, size_t begin, size_t end, int worker) {
  (void)begin, (void)end, (void)worker;
  work *w = ctx;
  for (;;) {
    size_t i = atomic_fetch_add(&w->next, 1);
    if (i >= w->count) return;
    simplify_one(&w->p[w->order[i]], 1);
  }
}

/* Simplifies the pieces order[0..count) of p over their share: the large
 * ones one after another, each on every thread, then the rest on a worker
 * each.  A piece gives the same bytes whichever way it is done. */
static void simplify_all(piece *p, const uint32_t *order, size_t count, int threads) {
  for (size_t i = 0; i < count; i++)
    if (p[order[i]].out.face_count >= ORF_SIMPLIFY_SLAB_FACES) simplify_one(&p[order[i]], threads);
  work w = {NULL, p, order, count, NULL, NULL, NULL, NULL, 0};
  orf_parallel_for(threads, (size_t)orf_parallel_chunks(threads, count, 1), 1, simplify_pieces, &w);
}

/* Shares budget among the kept pieces of order[0..kept) in proportion to
 * their faces, none under its need (water filling; see the top). */
static void share(piece *p, const uint32_t *order, size_t kept, size_t budget) {
  for (size_t i = 0; i < kept; i++) {
    piece *q = &p[order[i]];
    q->fixed = q->faces <= q->need;
    q->target = q->faces;
  }
  for (;;) {
    size_t left = budget, faces = 0;
    for (size_t i = 0; i < kept; i++) {
      piece *q = &p[order[i]];
      if (q->fixed)
        left -= q->target;
      else
        faces += q->faces;
    }
    int changed = 0;
    for (size_t i = 0; i < kept; i++) {
      piece *q = &p[order[i]];
      if (q->fixed) continue;
      size_t t = (size_t)((double)left * (double)q->faces / (double)faces);
      if (t > q->faces) t = q->faces;
      if (t < q->need) {
        q->target = q->need;
        q->fixed = changed = 1;
      } else {
        q->target = t;
      }
    }
    if (!changed) return;
  }
}

/* Labels the components: comp_of[v] for every vertex a face uses (by the
 * first face using the component), their count in *nc. */
static int label(const orf_mesh *m, uint32_t *comp_of, uint32_t *root_label, size_t *nc) {
  size_t nv = m->vertex_count;
  for (size_t v = 0; v < nv; v++) {
    comp_of[v] = (uint32_t)v;
    root_label[v] = UINT32_MAX;
  }
  for (size_t f = 0; f < m->face_count; f++) {
    const uint32_t *t = m->indices + 3 * f;
    orf_uf_union(comp_of, t[0], t[1]);
    orf_uf_union(comp_of, t[0], t[2]);
  }
  size_t n = 0;
  for (size_t f = 0; f < m->face_count; f++) {
    uint32_t r = orf_uf_find(comp_of, m->indices[3 * f]);
    if (root_label[r] == UINT32_MAX) root_label[r] = (uint32_t)n++;
  }
  for (size_t v = 0; v < nv; v++)
    comp_of[v] = orf_uf_find(comp_of, (uint32_t)v);
  for (size_t v = 0; v < nv; v++)
    comp_of[v] = root_label[comp_of[v]];
  *nc = n;
  return ORF_OK;
}

/* See budget.h. */
int orf_mesh_fit_budget(orf_mesh *m, size_t budget, int threads, orf_budget_stats *st) {
  orf_budget_stats dummy;
  if (!st) st = &dummy;
  memset(st, 0, sizeof *st);
  size_t nv = m->vertex_count, nf = m->face_count;
  if (nf <= budget) return ORF_OK;
  if (nf > UINT32_MAX / 3 || nv > UINT32_MAX - 1) return ORF_EINVAL;
  for (size_t i = 0; i < 3 * nf; i++)
    if (m->indices[i] >= nv) return ORF_EINVAL;

  int rc = ORF_ENOMEM;
  size_t nc = 0;
  piece *p = NULL;
  order_key *keys = NULL;
  uint32_t *order = NULL, *first = NULL, *face = NULL;
  uint32_t *comp_of = orf_malloc_array(nv ? nv : 1, sizeof *comp_of);
  uint32_t *local = orf_malloc_array(nv ? nv : 1, sizeof *local);
  if (!comp_of || !local) goto out_free;
  label(m, comp_of, local, &nc);

  p = orf_calloc(nc ? nc : 1, sizeof *p);
  keys = orf_malloc_array(nc ? nc : 1, sizeof *keys);
  order = orf_malloc_array(nc ? 2 * nc : 1, sizeof *order); /* the kept, then a round's */
  first = orf_calloc(nc + 1, sizeof *first);
  face = orf_malloc_array(nf ? nf : 1, sizeof *face);
  if (!p || !keys || !order || !first || !face) goto out_free;

  /* faces, volume and vertices of each component; faces grouped by it */
  float lo[3], hi[3];
  orf_mesh_bounds(m, lo, hi);
  double centre[3];
  for (int a = 0; a < 3; a++)
    centre[a] = 0.5 * ((double)lo[a] + (double)hi[a]);
  for (size_t f = 0; f < nf; f++) {
    const uint32_t *t = m->indices + 3 * f;
    piece *q = &p[comp_of[t[0]]];
    double x[3][3];
    for (int k = 0; k < 3; k++)
      for (int a = 0; a < 3; a++)
        x[k][a] = (double)m->positions[3 * (size_t)t[k] + a] - centre[a];
    q->volume += x[0][0] * (x[1][1] * x[2][2] - x[1][2] * x[2][1]) -
                 x[0][1] * (x[1][0] * x[2][2] - x[1][2] * x[2][0]) +
                 x[0][2] * (x[1][0] * x[2][1] - x[1][1] * x[2][0]);
    q->faces++;
    first[comp_of[t[0]] + 1]++;
  }
  memset(local, 0, nv * sizeof *local); /* as "seen" flags first */
  for (size_t i = 0; i < 3 * nf; i++) {
    uint32_t v = m->indices[i];
    if (!local[v]) {
      local[v] = 1;
      p[comp_of[v]].verts++;
    }
  }
  for (size_t c = 0; c < nc; c++)
    first[c + 1] += first[c];
  for (size_t f = 0; f < nf; f++)
    face[first[comp_of[m->indices[3 * f]]]++] = (uint32_t)f;
  for (size_t c = nc; c > 0; c--)
    first[c] = first[c - 1];
  first[0] = 0;

  double total_volume = 0;
  for (size_t c = 0; c < nc; c++) {
    piece *q = &p[c];
    q->euler = (long)q->verts - (long)(q->faces / 2);
    long handles = q->euler < 2 ? (2 - q->euler) / 2 : 0;
    q->need = ORF_BUDGET_FLOOR_FACES + (size_t)handles * ORF_BUDGET_HANDLE_FACES;
    if (q->need > q->faces) q->need = q->faces;
    keys[c] = (order_key){fabs(q->volume), q->faces, (uint32_t)c};
    total_volume += fabs(q->volume);
  }
  qsort(keys, nc, sizeof *keys, cmp_order);
  for (size_t c = 0; c < nc; c++)
    order[c] = keys[c].id;

  /* keep the largest, then each next while the floors fit */
  size_t kept = 0, floors = 0;
  while (kept < nc && (kept == 0 || floors + p[order[kept]].need <= budget))
    floors += p[order[kept++]].need;
  share(p, order, kept, budget);
  for (size_t i = 0; i < kept; i++)
    p[order[i]].keep = 1;

  if (nc == 1) {
    /* one piece: in place, no copy */
    orf_mesh_report known = {.watertight = 1, .manifold = 1, .components = 1};
    known.euler = p[0].euler;
    known.volume = p[0].volume > 0 ? 1 : -1;
    rc = orf_mesh_simplify_piece(m, budget, &known, 1, threads);
    if (!rc && m->face_count > budget) rc = ORF_BUDGET_UNREACHABLE;
    st->input_faces = nf;
    st->components = 1;
    st->closed_handles = (size_t)(((long)m->vertex_count - (long)(m->face_count / 2) - p[0].euler) / 2);
    goto out_free;
  }

  memset(local, 0xff, nv * sizeof *local);
  work w = {m, p, order, kept, first, face, comp_of, local, 0};
  /* Every kept piece is copied out first, and the input and the labels
   * freed, before the pieces are simplified: copies, input and the
   * simplifier's scratch together made a job's peak grow (messi5.jpg at q7:
   * 19.0 MB against 18.1 before per-piece simplification). */
  rc = ORF_OK;
  for (size_t i = 0; i < kept && !rc; i++)
    rc = p[order[i]].rc = extract(&w, order[i], &p[order[i]]);
  if (rc) goto out_free;
  int colors = m->colors != NULL;
  orf_mesh_free(m);
  orf_free(face), orf_free(first), orf_free(comp_of), orf_free(local);
  face = first = comp_of = local = NULL;
  simplify_all(p, order, kept, threads);
  rc = ORF_OK;
  for (size_t i = 0; i < kept && !rc; i++)
    rc = p[order[i]].rc;
  if (rc) goto out_free;

  /* Pieces over their share start again from where they got: meshoptimizer
   * goes further from an accepted, smaller mesh than from the original
   * (tests/hostile.c's hairlines at q3: tubes of 26k faces stopped at 14k
   * of their 2.7k, and without these rounds 131 of 132 pieces, 75% of the
   * volume, were dropped to fit).  A piece the last call left as it was
   * is not tried again: the simplifier is deterministic, so it would fail
   * the same way (the noise mask of tests/hostile.c spent two thirds of
   * its 6 s job in such repeats). */
  for (int round = 0; round < EXTRA_ROUNDS; round++) {
    size_t over = 0;
    for (size_t i = 0; i < kept; i++)
      if (p[order[i]].out.face_count > p[order[i]].target && !p[order[i]].stuck)
        order[kept + over++] = order[i];
    if (!over) break;
    simplify_all(p, order + kept, over, threads);
    for (size_t i = 0; i < over && !rc; i++)
      rc = p[order[kept + i]].rc;
    if (rc) goto out_free;
  }

  /* a piece the simplifier could not bring to its share: drop the smallest
   * kept ones until the total fits */
  size_t total = 0, total_verts = 0;
  for (size_t i = 0; i < kept; i++)
    total += p[order[i]].out.face_count;
  while (total > budget && kept > 1) {
    piece *q = &p[order[--kept]];
    total -= q->out.face_count;
    q->keep = 0;
  }
  if (total > budget) {
    st->input_faces = nf;
    rc = ORF_BUDGET_UNREACHABLE;
    goto out_free;
  }

  orf_mesh res;
  for (size_t c = 0; c < nc; c++)
    if (p[c].keep) total_verts += p[c].out.vertex_count;
  if ((rc = orf_mesh_alloc(&res, total_verts, total, colors))) goto out_free;
  size_t vo = 0, fo = 0;
  double dropped = 0;
  for (size_t c = 0; c < nc; c++) {
    piece *q = &p[c];
    if (!q->keep) {
      st->dropped_components++;
      dropped += fabs(q->volume);
      continue;
    }
    memcpy(res.positions + 3 * vo, q->out.positions, 3 * q->out.vertex_count * sizeof(float));
    if (colors) memcpy(res.colors + 3 * vo, q->out.colors, 3 * q->out.vertex_count);
    for (size_t i = 0; i < 3 * q->out.face_count; i++)
      res.indices[3 * fo + i] = q->out.indices[i] + (uint32_t)vo;
    vo += q->out.vertex_count;
    fo += q->out.face_count;
    st->closed_handles +=
        (size_t)(((long)q->out.vertex_count - (long)(q->out.face_count / 2) - q->euler) / 2);
  }
  st->components = nc;
  st->dropped_volume = total_volume > 0 ? dropped / total_volume : 0;
  *m = res;

out_free:
  for (size_t c = 0; p && c < nc; c++)
    orf_mesh_free(&p[c].out);
  orf_free(p);
  orf_free(keys);
  orf_free(order);
  orf_free(first);
  orf_free(face);
  orf_free(comp_of);
  orf_free(local);
  return rc;
}
