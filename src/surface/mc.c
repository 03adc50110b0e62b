/*
 * mc.c - marching cubes (Lorensen and Cline, SIGGRAPH 1987) organised like
 * Flying Edges (Schroeder, Maynard and Geveci, LDAV 2015); see mc.h.
 *
 * The nz-1 layers of cells are cut into contiguous slabs, one per worker.
 * A slab streams its z-slices through two buffers: each slice is evaluated
 * by the callback and classified into bit rows (bit i of a 64-bit word set
 * when point i is inside, value < iso), from which whole words of edge
 * crossings come by xor: x-edges (in ^ in >> 1), y-edges (row j ^ row j+1),
 * z-edges (slice k ^ slice k+1), and whole words of cells that have both
 * inside and outside corners.  Empty stretches of a row (the most of any
 * volume) cost a few word operations per 64 cells: this is Flying Edges'
 * trimming, done with bit masks instead of per-row extents.
 *
 * Every edge crossing is owned by one slice - the x- and y-edges of slice k
 * and the z-edges from k to k+1 - and gets its vertex once.  Vertices are
 * numbered by slice, in the order XY(0), Z(0), XY(1), Z(1), ..., XY(nz-1);
 * within XY(k) row by row, the row's x-edge crossings by increasing x, then
 * its y-edge crossings (to row j+1); within Z(k) row by row by increasing x.
 * A vertex's number is therefore its block's base plus the number of
 * crossings before it in its row (a popcount of the masks) plus the row's
 * start (a per-word prefix sum), so a cell finds the numbers of its twelve
 * edges without any per-edge table.  A slab numbers its vertices from 0 at
 * XY(k0); its last layer also refers to XY(k1), the first block of the next
 * slab, which it numbers as if it went on counting: adding each slab's
 * global base (a prefix sum over slabs) resolves every reference.  Faces
 * come out layer by layer, row by row, cell by cell.  Neither order depends
 * on the slab boundaries, so the output is the same for any thread count.
 *
 * A crossing on edge (a, b) sits at t = (iso - a) / (b - a), clamped to
 * [1e-4, 1 - 1e-4] (NaN goes to 1e-4): a vertex never lands on a grid point,
 * so two vertices never coincide and, with the case table's triangulations,
 * no face degenerates.  (In float, "never on a grid point" holds while
 * origin + spacing * index keeps about 1e-4 of a cell of precision, that is
 * up to about a thousand cells along an axis.)  The case table and why it
 * gives closed 2-manifold surfaces are in mc_tables.c.
 */
#include "mc.h"

#include <stdint.h>
#include <string.h>

#include "alloc.h"
#include "mc_tables.h"
#include "parallel.h"

#define T_MIN 1e-4f
#define T_MAX (1.0f - 1e-4f)
#define MIN_SLAB_LAYERS 4   /* fewer layers per slab are not worth a thread */
#define MAX_DIM (1 << 16)   /* points along one axis */
#define MAX_SLICE (1 << 28) /* points in one slice */

/* One z-slice as a slab holds it.  Rows are W words long. */
typedef struct slice {
  float *val;        /* nx * ny values from the callback */
  uint64_t *in;      /* ny rows: bit i set when point i is inside */
  uint64_t *xm;      /* ny rows: bit i set when x-edge (i, i+1) crosses */
  uint64_t *ym;      /* ny-1 rows: bit i set when y-edge (j, j+1) at i crosses */
  uint32_t *xr, *yr; /* per word of xm / ym: crossings before it in the XY block */
  uint32_t nxy;      /* crossings (vertices) in the XY block */
} slice;

/* What one slab makes: vertices numbered from 0, faces in local numbers. */
typedef struct slab {
  float *pos;          /* 3 floats per vertex */
  size_t nv, cap_v;    /* vertices */
  uint32_t *idx;       /* 3 per face */
  size_t ni, cap_i;    /* index entries */
  size_t vbase, ibase; /* where its vertices and indices go in the mesh */
  int err;
} slab;

typedef struct job {
  const orf_volume *v;
  float iso;
  atomic_int *cancel;
  atomic_int failed; /* set by a slab that failed, so the others stop */
  int W;             /* words per row */
  uint64_t *cellm;   /* W words: bit i set for i < nx-1 (cells, x-edges) */
  int nslabs;
  slab *slabs;
  orf_mesh *out;
} job;

/* ---- growable output ---------------------------------------------------- */

static int reserve_v(slab *s, size_t more) {
  if (s->nv + more <= s->cap_v) return ORF_OK;
  size_t cap = s->cap_v ? s->cap_v : 1024;
  while (cap < s->nv + more)
    cap *= 2;
  float *p = orf_realloc(s->pos, cap * 3 * sizeof(float));
  if (!p) return ORF_ENOMEM;
  s->pos = p;
  s->cap_v = cap;
  return ORF_OK;
}

static int reserve_i(slab *s, size_t more) {
  if (s->ni + more <= s->cap_i) return ORF_OK;
  size_t cap = s->cap_i ? s->cap_i : 4096;
  while (cap < s->ni + more)
    cap *= 2;
  uint32_t *p = orf_realloc(s->idx, cap * sizeof(uint32_t));
  if (!p) return ORF_ENOMEM;
  s->idx = p;
  s->cap_i = cap;
  return ORF_OK;
}

/* ---- classification ---------------------------------------------------- */

/* Bit b of the result set when p[b] < iso, for 64 values.  The compare into
 * bytes vectorises; a multiply gathers each 8 bytes (0 or 1, read as a
 * little-endian word) into 8 bits. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "pack64 reads bytes as a little-endian word");
static uint64_t pack64(const float *p, float iso) {
  uint8_t tmp[64];
  for (int b = 0; b < 64; b++)
    tmp[b] = p[b] < iso;
  uint64_t bits = 0;
  for (int q = 0; q < 8; q++) {
    uint64_t x;
    memcpy(&x, tmp + 8 * q, 8);
    bits |= ((x * 0x0102040810204080ULL) >> 56) << (8 * q);
  }
  return bits;
}

static void classify_row(const float *val, int nx, float iso, uint64_t *out) {
  int w = 0;
  for (; 64 * (w + 1) <= nx; w++)
    out[w] = pack64(val + 64 * w, iso);
  if (64 * w < nx) {
    uint64_t bits = 0;
    for (int b = 0; 64 * w + b < nx; b++)
      bits |= (uint64_t)(val[64 * w + b] < iso) << b;
    out[w] = bits;
  }
}

static inline uint32_t popcount64(uint64_t x) { return x ? (uint32_t)__builtin_popcountll(x) : 0; }

static inline int ctz64(uint64_t x) { return __builtin_ctzll(x); }

/* Evaluates slice k into *s and fills its bit rows, crossings and ranks. */
static void load_slice(const job *J, int k, slice *s) {
  const orf_volume *v = J->v;
  const int nx = v->nx, ny = v->ny, W = J->W;
  v->eval(v->ctx, k, s->val);
  for (int j = 0; j < ny; j++)
    classify_row(s->val + (size_t)j * nx, nx, J->iso, s->in + (size_t)j * W);
  uint32_t rank = 0;
  for (int j = 0; j < ny; j++) {
    const uint64_t *r = s->in + (size_t)j * W;
    uint64_t *xm = s->xm + (size_t)j * W;
    uint32_t *xr = s->xr + (size_t)j * W;
    for (int w = 0; w < W; w++) {
      uint64_t hi = w + 1 < W ? r[w + 1] : 0;
      uint64_t x = (r[w] ^ ((r[w] >> 1) | (hi << 63))) & J->cellm[w];
      xm[w] = x;
      xr[w] = rank;
      rank += popcount64(x);
    }
    if (j + 1 < ny) {
      uint64_t *ym = s->ym + (size_t)j * W;
      uint32_t *yr = s->yr + (size_t)j * W;
      for (int w = 0; w < W; w++) {
        uint64_t y = r[w] ^ r[w + W];
        ym[w] = y;
        yr[w] = rank;
        rank += popcount64(y);
      }
    }
  }
  s->nxy = rank;
}

/* ---- vertices ------------------------------------------------------------ */

static inline float cross_t(float a, float b, float iso) {
  float t = (iso - a) / (b - a);
  return t > T_MIN ? (t < T_MAX ? t : T_MAX) : T_MIN; /* NaN -> T_MIN */
}

static inline void put_vertex(slab *sl, const orf_volume *v, double gx, double gy, double gz) {
  float *p = sl->pos + 3 * sl->nv++;
  p[0] = (float)(v->origin[0] + v->spacing[0] * gx);
  p[1] = (float)(v->origin[1] + v->spacing[1] * gy);
  p[2] = (float)(v->origin[2] + v->spacing[2] * gz);
}

/* Appends the XY block of slice k (s->nxy vertices) in its numbering order. */
static int emit_xy(const job *J, const slice *s, int k, slab *sl) {
  const orf_volume *v = J->v;
  const int nx = v->nx, ny = v->ny, W = J->W;
  if (reserve_v(sl, s->nxy)) return ORF_ENOMEM;
  for (int j = 0; j < ny; j++) {
    const float *row = s->val + (size_t)j * nx;
    const uint64_t *xm = s->xm + (size_t)j * W;
    for (int w = 0; w < W; w++) {
      for (uint64_t m = xm[w]; m; m &= m - 1) {
        int i = 64 * w + ctz64(m);
        put_vertex(sl, v, i + (double)cross_t(row[i], row[i + 1], J->iso), j, k);
      }
    }
    if (j + 1 == ny) break;
    const uint64_t *ym = s->ym + (size_t)j * W;
    for (int w = 0; w < W; w++) {
      for (uint64_t m = ym[w]; m; m &= m - 1) {
        int i = 64 * w + ctz64(m);
        put_vertex(sl, v, i, j + (double)cross_t(row[i], row[i + nx], J->iso), k);
      }
    }
  }
  return ORF_OK;
}

/* Fills the z-edge crossings between slices a (k) and b (k+1) and their
 * ranks; returns their number. */
static uint32_t z_masks(const job *J, const slice *a, const slice *b, uint64_t *zm, uint32_t *zr) {
  size_t n = (size_t)J->v->ny * J->W;
  uint32_t rank = 0;
  for (size_t q = 0; q < n; q++) {
    uint64_t z = a->in[q] ^ b->in[q];
    zm[q] = z;
    zr[q] = rank;
    rank += popcount64(z);
  }
  return rank;
}

static int emit_z(const job *J, const slice *a, const slice *b, const uint64_t *zm, uint32_t nz_cross, int k,
                  slab *sl) {
  const orf_volume *v = J->v;
  const int nx = v->nx, ny = v->ny, W = J->W;
  if (reserve_v(sl, nz_cross)) return ORF_ENOMEM;
  for (int j = 0; j < ny; j++) {
    for (int w = 0; w < W; w++) {
      for (uint64_t m = zm[(size_t)j * W + w]; m; m &= m - 1) {
        int i = 64 * w + ctz64(m);
        size_t q = (size_t)j * nx + i;
        put_vertex(sl, v, i, j, k + (double)cross_t(a->val[q], b->val[q], J->iso));
      }
    }
  }
  return ORF_OK;
}

/* ---- faces --------------------------------------------------------------- */

/* Row words shifted so that bit i holds point i+1. */
static inline uint64_t next_bits(const uint64_t *r, int w, int W) {
  return (r[w] >> 1) | (w + 1 < W ? r[w + 1] << 63 : 0);
}

/* Appends the faces of layer k (between slices a = k and b = k+1).  XY(k)
 * starts at base_a, Z(k) at base_z, XY(k+1) at base_b (local numbers). */
static int emit_faces(const job *J, const slice *a, const slice *b, const uint64_t *zm, const uint32_t *zr,
                      uint32_t base_a, uint32_t base_z, uint32_t base_b, slab *sl) {
  const int ny = J->v->ny, W = J->W;
  for (int j = 0; j + 1 < ny; j++) {
    const size_t r0 = (size_t)j * W, r1 = r0 + W;
    /* the eight crossing masks, in the order of the table's edges 0-3 and
     * then the y- and z-edge rows that give edges 4/5, 6/7, 8/9, 10/11 */
    const uint64_t *m[8] = {a->xm + r0, a->xm + r1, b->xm + r0, b->xm + r1,
                            a->ym + r0, b->ym + r0, zm + r0,    zm + r1};
    const uint32_t *rk[8] = {a->xr + r0, a->xr + r1, b->xr + r0, b->xr + r1,
                             a->yr + r0, b->yr + r0, zr + r0,    zr + r1};
    const uint32_t base[8] = {base_a, base_a, base_b, base_b, base_a, base_b, base_z, base_z};
    const uint64_t *c0 = a->in + r0, *c2 = a->in + r1, *c4 = b->in + r0, *c6 = b->in + r1;
    for (int w = 0; w < W; w++) {
      uint64_t p0 = c0[w], p2 = c2[w], p4 = c4[w], p6 = c6[w];
      uint64_t p1 = next_bits(c0, w, W), p3 = next_bits(c2, w, W);
      uint64_t p5 = next_bits(c4, w, W), p7 = next_bits(c6, w, W);
      uint64_t all = p0 & p1 & p2 & p3 & p4 & p5 & p6 & p7;
      uint64_t any = p0 | p1 | p2 | p3 | p4 | p5 | p6 | p7;
      uint64_t mixed = (any ^ all) & J->cellm[w];
      if (!mixed) continue;
      if (reserve_i(sl, (size_t)3 * ORF_MC_MAX_TRIS * 64)) return ORF_ENOMEM;
      uint64_t mw[8];
      uint32_t r[8];
      for (int q = 0; q < 8; q++) {
        mw[q] = m[q][w];
        r[q] = base[q] + rk[q][w];
      }
      int pos = 0; /* r[q] = number of crossings of mask q below bit pos */
      uint32_t *out = sl->idx + sl->ni;
      do {
        int bit = ctz64(mixed);
        mixed &= mixed - 1;
        if (bit > pos) {
          uint64_t span = (~0ULL << pos) & ((1ULL << bit) - 1);
          for (int q = 0; q < 8; q++)
            r[q] += popcount64(mw[q] & span);
        }
        uint32_t e[12];
        e[0] = r[0];
        e[1] = r[1];
        e[2] = r[2];
        e[3] = r[3];
        for (int q = 0; q < 8; q++)
          r[q] += (uint32_t)(mw[q] >> bit) & 1;
        /* masks 4-7 give an edge at x = i (rank before bit) and x = i+1 */
        e[5] = r[4];
        e[4] = e[5] - ((uint32_t)(mw[4] >> bit) & 1);
        e[7] = r[5];
        e[6] = e[7] - ((uint32_t)(mw[5] >> bit) & 1);
        e[9] = r[6];
        e[8] = e[9] - ((uint32_t)(mw[6] >> bit) & 1);
        e[11] = r[7];
        e[10] = e[11] - ((uint32_t)(mw[7] >> bit) & 1);
        pos = bit + 1;
        unsigned c = (unsigned)((p0 >> bit) & 1) | (unsigned)((p1 >> bit) & 1) << 1 |
                     (unsigned)((p2 >> bit) & 1) << 2 | (unsigned)((p3 >> bit) & 1) << 3 |
                     (unsigned)((p4 >> bit) & 1) << 4 | (unsigned)((p5 >> bit) & 1) << 5 |
                     (unsigned)((p6 >> bit) & 1) << 6 | (unsigned)((p7 >> bit) & 1) << 7;
        const uint8_t *te = orf_mc_tri_edges[c];
        for (int t = 0; t < 3 * orf_mc_tri_count[c]; t++)
          *out++ = e[te[t]];
      } while (mixed);
      sl->ni = (size_t)(out - sl->idx);
    }
  }
  return ORF_OK;
}

/* ---- slabs --------------------------------------------------------------- */

static int stop(job *J) { return orf_cancelled(J->cancel) || atomic_load(&J->failed); }

/* Carves the two slices and the z masks of one slab out of one block: the
 * 64-bit arrays first, then the 32-bit ones, then the values. */
static void *slab_scratch(const job *J, slice *s, uint64_t **zm, uint32_t **zr) {
  const size_t pts = (size_t)J->v->nx * J->v->ny, words = (size_t)J->v->ny * J->W;
  const size_t total = 7 * words * sizeof(uint64_t) + 5 * words * sizeof(uint32_t) + 2 * pts * sizeof(float);
  char *block = orf_malloc(total);
  if (!block) return NULL;
  uint64_t *w64 = (uint64_t *)block;
  uint32_t *w32 = (uint32_t *)(w64 + 7 * words);
  float *f = (float *)(w32 + 5 * words);
  for (int n = 0; n < 2; n++) {
    s[n].in = w64 + (3 * n + 0) * words;
    s[n].xm = w64 + (3 * n + 1) * words;
    s[n].ym = w64 + (3 * n + 2) * words;
    s[n].xr = w32 + (2 * n + 0) * words;
    s[n].yr = w32 + (2 * n + 1) * words;
    s[n].val = f + n * pts;
  }
  *zm = w64 + 6 * words;
  *zr = w32 + 4 * words;
  return block;
}

/* Counts vertices in 64 bits: a slab past 2^32 - 1 cannot be indexed. */
static int add_count(uint64_t *cur, uint32_t n) {
  *cur += n;
  return *cur > UINT32_MAX ? ORF_ENOMEM : ORF_OK;
}

static int run_slab(job *J, int si) {
  const orf_volume *v = J->v;
  const size_t layers = (size_t)v->nz - 1;
  const int k0 = (int)(layers * si / J->nslabs), k1 = (int)(layers * (si + 1) / J->nslabs);
  slab *sl = &J->slabs[si];
  slice s[2];
  uint64_t *zm;
  uint32_t *zr;
  void *scratch = slab_scratch(J, s, &zm, &zr);
  if (!scratch) return ORF_ENOMEM;
  int rc = ORF_OK;
  slice *a = &s[0], *b = &s[1];
  uint64_t cur = 0;
  if (stop(J)) goto out_cancel;
  load_slice(J, k0, a);
  if ((rc = emit_xy(J, a, k0, sl)) || (rc = add_count(&cur, a->nxy))) goto out;
  uint32_t base_a = 0;
  for (int k = k0; k < k1; k++) {
    if (stop(J)) goto out_cancel;
    load_slice(J, k + 1, b);
    uint32_t nzc = z_masks(J, a, b, zm, zr);
    uint32_t base_z = (uint32_t)cur;
    if ((rc = emit_z(J, a, b, zm, nzc, k, sl)) || (rc = add_count(&cur, nzc))) goto out;
    uint32_t base_b = (uint32_t)cur;
    if ((rc = add_count(&cur, b->nxy))) goto out;
    /* XY(k1) belongs to the next slab, except the top slice of the grid */
    if ((k + 1 < k1 || k + 1 == v->nz - 1) && (rc = emit_xy(J, b, k + 1, sl))) goto out;
    if ((rc = emit_faces(J, a, b, zm, zr, base_a, base_z, base_b, sl))) goto out;
    slice *t = a;
    a = b;
    b = t;
    base_a = base_b;
  }
  goto out;
out_cancel:
  rc = ORF_ECANCELED;
out:
  orf_free(scratch);
  return rc;
}

static void slab_worker(void *ctx, size_t begin, size_t end, int worker) {
  (void)worker;
  job *J = ctx;
  for (size_t si = begin; si < end; si++) {
    int rc = run_slab(J, (int)si);
    if (rc) {
      J->slabs[si].err = rc;
      atomic_store(&J->failed, 1);
      return;
    }
  }
}

/* Copies slab si's vertices and faces into the mesh, numbers made global.
 * Slab 0's arrays already are the mesh's (see orf_mc_extract). */
static void gather_worker(void *ctx, size_t begin, size_t end, int worker) {
  (void)worker;
  job *J = ctx;
  for (size_t si = begin; si < end; si++) {
    const slab *sl = &J->slabs[si];
    if (si == 0) continue;
    if (sl->nv) memcpy(J->out->positions + 3 * sl->vbase, sl->pos, sl->nv * 3 * sizeof(float));
    uint32_t *dst = J->out->indices + sl->ibase, base = (uint32_t)sl->vbase;
    for (size_t q = 0; q < sl->ni; q++)
      dst[q] = sl->idx[q] + base;
  }
}

int orf_mc_extract(const orf_volume *v, float iso, int threads, atomic_int *cancel, orf_mesh *out) {
  if (!out) return ORF_EINVAL;
  memset(out, 0, sizeof *out);
  if (!v || !v->eval || v->nx < 2 || v->ny < 2 || v->nz < 2 || v->nx > MAX_DIM || v->ny > MAX_DIM ||
      v->nz > MAX_DIM || (size_t)v->nx * v->ny > MAX_SLICE)
    return ORF_EINVAL;
  if (orf_cancelled(cancel)) return ORF_ECANCELED;

  job J = {.v = v, .iso = iso, .cancel = cancel, .W = (v->nx + 63) / 64, .out = out};
  atomic_init(&J.failed, 0);
  int rc = ORF_ENOMEM;
  J.nslabs = orf_parallel_chunks(threads, (size_t)v->nz - 1, MIN_SLAB_LAYERS);
  J.cellm = orf_calloc((size_t)J.W, sizeof(uint64_t));
  J.slabs = orf_calloc((size_t)J.nslabs, sizeof(slab));
  if (!J.cellm || !J.slabs) goto out_free;
  for (int i = 0; i < v->nx - 1; i++)
    J.cellm[i / 64] |= 1ULL << (i % 64);

  orf_parallel_for(threads, (size_t)J.nslabs, 1, slab_worker, &J);
  /* a slab that stopped because another failed says ORF_ECANCELED: the
   * other's error wins, unless the caller did cancel */
  rc = ORF_OK;
  for (int si = 0; si < J.nslabs; si++) {
    int e = J.slabs[si].err;
    if (e && (rc == ORF_OK || rc == ORF_ECANCELED)) rc = e;
  }
  if (orf_cancelled(cancel)) rc = ORF_ECANCELED;
  if (rc) goto out_free;

  size_t nv = 0, ni = 0;
  for (int si = 0; si < J.nslabs; si++) {
    J.slabs[si].vbase = nv;
    J.slabs[si].ibase = ni;
    nv += J.slabs[si].nv;
    ni += J.slabs[si].ni;
  }
  /* slab 0's arrays grow into the mesh's (large blocks grow in place, by
   * mremap), so with one slab nothing is copied */
  slab *s0 = &J.slabs[0];
  rc = ORF_ENOMEM;
  if (nv > UINT32_MAX || reserve_v(s0, nv - s0->nv + 1) || reserve_i(s0, ni - s0->ni + 3)) goto out_free;
  out->positions = s0->pos;
  out->indices = s0->idx;
  out->vertex_count = nv;
  out->face_count = ni / 3;
  s0->pos = NULL;
  s0->idx = NULL;
  rc = ORF_OK;
  if (J.nslabs > 1) orf_parallel_for(threads, (size_t)J.nslabs, 1, gather_worker, &J);
  /* give back what doubling reserved (if that fails the larger block stays) */
  float *p = orf_realloc(out->positions, (nv + 1) * 3 * sizeof(float));
  if (p) out->positions = p;
  uint32_t *q = orf_realloc(out->indices, (ni + 3) * sizeof(uint32_t));
  if (q) out->indices = q;

out_free:
  if (J.slabs) {
    for (int si = 0; si < J.nslabs; si++) {
      orf_free(J.slabs[si].pos);
      orf_free(J.slabs[si].idx);
    }
  }
  orf_free(J.slabs);
  orf_free(J.cellm);
  return rc;
}
