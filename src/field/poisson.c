/*
 * poisson.c - cascadic multigrid solve of -laplace(h) = 4 on a mask
 * (see poisson.h).
 *
 * Level 0 is the input grid; level l+1 halves it, a coarse pixel being inside
 * when at least two of its four children are.  Nested iteration first: the
 * coarsest level (at most 48 pixels a side) is relaxed to convergence and
 * every finer level starts from the bilinear prolongation of the coarser
 * solution.  Then V-cycles on level 0 correct the low frequencies that the
 * coarse domains got wrong.  The equation at spacing s (in level-0 pixels)
 * is h = (sum of the 4 neighbours + s^2 f) / 4, f = 4 at level 0.
 */
#include "poisson.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "orfeas.h"
#include "parallel.h"

#define MAX_LEVELS 12
#define COARSE_SIDE 48
#define FINE_SWEEPS 8
#define COARSE_SWEEPS 200
/* The coarsest level is relaxed until a sweep moves no pixel by more than
 * COARSE_TOL of the solution's largest value (relax_coarse).  It was 200
 * sweeps every time, in the nested solve and in each of the 6 V-cycles:
 * 1,400 sweeps of a 48-pixel level that was most of a small solve.
 * Measured (callgrind, instructions of orf_poisson_solve; the largest
 * difference of sqrt(h) from a solve with 2,000 sweeps, relative to its
 * largest value): two discs and a bar on a 192-pixel canvas (the
 * previews' field of a logo) 78.9M -> 44.0M instructions, 1.6e-6 -> 1.6e-6;
 * a full 192 square 161.5M -> 140.9M, 2.0e-6 -> 1.2e-5; a noise mask
 * 134.5M -> 120.3M, 1.1e-6 -> 8.2e-7; on 594-pixel canvases (the work
 * image at q7, whose coarsest level is 38 pixels) 1 to 5% fewer, errors
 * 4e-6 to 1.2e-5 either way.  1e-5 had errors up to 1.1e-4, 1e-7 saved
 * little. */
#define COARSE_TOL 1e-6f
#define VCYCLES 6
#define OMEGA 1.8f
/* Pixels from which a level's sweeps, prolongation and restriction run on
 * the job's threads, by rows (a colour's pixels, and each output pixel of
 * the others, are computed on their own, so the result does not depend on
 * the thread count).  Below it a thread costs more than it saves.  The
 * prolongation and restriction ran on one thread before, a third of the
 * solve (callgrind, samples/heart.png at q7). */
#define PARALLEL_PIXELS 16384

typedef struct level {
  uint32_t w, h;
  float s2; /* spacing^2, in level-0 pixels */
  uint8_t *mask;
  float *val; /* the solution (level 0) or the correction (coarser levels) */
  float *rhs; /* right-hand side; NULL at level 0 where it is 4 everywhere */
  float *res; /* scratch: residual */
} level;

/* One colour of a red-black SOR sweep of lv over rows [begin, end); with
 * `track` (a constant where it is inlined, so the other sweeps pay
 * nothing for it), the largest change and |value| into *maxd, *maxv. */
static inline void sweep(level *lv, int color, float omega, size_t begin, size_t end, int track, float *maxd,
                         float *maxv) {
  uint32_t w = lv->w;
  float *v = lv->val;
  const uint8_t *m = lv->mask;
  for (size_t y = begin; y < end; y++) {
    if (y == 0 || y + 1 >= lv->h) continue;
    size_t row = y * w;
    for (uint32_t x = 1 + (uint32_t)((y + (size_t)color + 1) & 1); x + 1 < w; x += 2) {
      size_t i = row + x;
      if (!m[i]) continue;
      float f = lv->rhs ? lv->rhs[i] : 4.0f;
      float gs = 0.25f * (v[i - 1] + v[i + 1] + v[i - w] + v[i + w] + lv->s2 * f);
      float d = omega * (gs - v[i]);
      v[i] += d;
      if (track) {
        d = fabsf(d);
        float a = fabsf(v[i]);
        if (d > *maxd) *maxd = d;
        if (a > *maxv) *maxv = a;
      }
    }
  }
}

typedef struct sweep_ctx {
  level *lv;
  int color;
  float omega;
} sweep_ctx;

/* Rows [begin, end) of one colour of relax(). */
static void sweep_rows(void *arg, size_t begin, size_t end, int worker) {
  (void)worker;
  sweep_ctx *c = arg;
  sweep(c->lv, c->color, c->omega, begin, end, 0, NULL, NULL);
}

/* Red-black SOR sweeps of the coarsest level (at most COARSE_SIDE a side
 * but for a canvas under 16 pixels across: on this thread) until a sweep
 * moves no pixel by more than `tol`, COARSE_SWEEPS at most.  tol == 0 (the
 * nested solve, from zero, where this level's values are the solution)
 * stops at COARSE_TOL of the level's own largest value; the V-cycles pass
 * COARSE_TOL of level 0's, since a correction is wanted to the solution's
 * precision, not its own. */
static void relax_coarse(level *lv, float tol) {
  for (int s = 0; s < COARSE_SWEEPS; s++) {
    float maxd = 0, maxv = 0;
    for (int color = 0; color < 2; color++)
      sweep(lv, color, OMEGA, 0, lv->h, 1, &maxd, &maxv);
    if (maxd <= (tol > 0 ? tol : COARSE_TOL * maxv)) return;
  }
}

/* `sweeps` red-black SOR sweeps.  Over-relaxation (OMEGA) is used in the
 * V-cycles too: with the coarse masks only approximating the fine domain,
 * plain Gauss-Seidel smoothing converged worse on a 512-pixel disc
 * (measured: 4.0% vs 1.7% of R^2 after 4 cycles). */
static void relax(level *lv, int sweeps, float omega, int threads) {
  int t = (size_t)lv->w * lv->h > PARALLEL_PIXELS ? threads : 1;
  for (int s = 0; s < sweeps; s++) {
    for (int color = 0; color < 2; color++) {
      sweep_ctx c = {lv, color, omega};
      orf_parallel_for(t, lv->h, 16, sweep_rows, &c);
    }
  }
}

typedef struct grid_ctx {
  const level *coarse;
  level *fine;
  int add;
} grid_ctx;

/* Rows [begin, end) of prolong(). */
static void prolong_rows(void *arg, size_t begin, size_t end, int worker) {
  (void)worker;
  const grid_ctx *g = arg;
  const level *coarse = g->coarse;
  level *fine = g->fine;
  int add = g->add;
  for (uint32_t y = (uint32_t)begin; y < end; y++) {
    float fy = ((float)y + 0.5f) * 0.5f - 0.5f;
    int y0 = fy < 0 ? 0 : (int)fy;
    if (y0 > (int)coarse->h - 2) y0 = (int)coarse->h - 2;
    float ty = fy - (float)y0;
    ty = ty < 0 ? 0 : ty > 1 ? 1 : ty;
    for (uint32_t x = 0; x < fine->w; x++) {
      size_t i = (size_t)y * fine->w + x;
      if (!fine->mask[i]) {
        fine->val[i] = 0;
        continue;
      }
      float fx = ((float)x + 0.5f) * 0.5f - 0.5f;
      int x0 = fx < 0 ? 0 : (int)fx;
      if (x0 > (int)coarse->w - 2) x0 = (int)coarse->w - 2;
      float tx = fx - (float)x0;
      tx = tx < 0 ? 0 : tx > 1 ? 1 : tx;
      const float *r0 = coarse->val + (size_t)y0 * coarse->w, *r1 = r0 + coarse->w;
      float a = r0[x0] + tx * (r0[x0 + 1] - r0[x0]);
      float b = r1[x0] + tx * (r1[x0 + 1] - r1[x0]);
      fine->val[i] = (add ? fine->val[i] : 0.0f) + a + ty * (b - a);
    }
  }
}

/* Bilinear prolongation of coarse onto the inside pixels of fine: written
 * (add == 0, the start of nested iteration) or added (a correction). */
static void prolong(const level *coarse, level *fine, int add, int threads) {
  grid_ctx g = {coarse, fine, add};
  int t = (size_t)fine->w * fine->h > PARALLEL_PIXELS ? threads : 1;
  orf_parallel_for(t, fine->h, 16, prolong_rows, &g);
}

/* Rows [begin, end) of the fine level's residual. */
static void residual_rows(void *arg, size_t begin, size_t end, int worker) {
  (void)worker;
  level *f = ((grid_ctx *)arg)->fine;
  uint32_t w = f->w;
  for (uint32_t y = (uint32_t)begin; y < end; y++) {
    for (uint32_t x = 0; x < w; x++) {
      size_t i = (size_t)y * w + x;
      float r = 0;
      if (f->mask[i] && x > 0 && y > 0 && x + 1 < w && y + 1 < f->h) {
        const float *v = f->val;
        float rhs = f->rhs ? f->rhs[i] : 4.0f;
        r = rhs - (4 * v[i] - v[i - 1] - v[i + 1] - v[i - w] - v[i + w]) / f->s2;
      }
      f->res[i] = r;
    }
  }
}

/* Residual f - A v of level l, restricted (average of the 2x2 children) to
 * the right-hand side of level l + 1, whose correction starts at zero. */
static void restrict_residual(level *f, level *c, int threads) {
  uint32_t w = f->w;
  grid_ctx g = {NULL, f, 0};
  orf_parallel_for((size_t)w * f->h > PARALLEL_PIXELS ? threads : 1, f->h, 16, residual_rows, &g);
  for (uint32_t y = 0; y < c->h; y++) {
    for (uint32_t x = 0; x < c->w; x++) {
      float sum = 0;
      for (uint32_t dy = 0; dy < 2; dy++)
        for (uint32_t dx = 0; dx < 2; dx++) {
          uint32_t fx = 2 * x + dx, fy = 2 * y + dy;
          if (fx < w && fy < f->h) sum += f->res[(size_t)fy * w + fx];
        }
      size_t i = (size_t)y * c->w + x;
      c->rhs[i] = c->mask[i] ? 0.25f * sum : 0;
      c->val[i] = 0;
    }
  }
}

/* One V(2,2) cycle from level l down (W. Briggs, V. Henson, S. McCormick,
 * "A Multigrid Tutorial", 2nd ed., SIAM 2000, ch. 3). */
static void vcycle(level *lv, int l, int n, float tol, int threads) {
  if (l == n - 1) {
    relax_coarse(&lv[l], tol);
    return;
  }
  relax(&lv[l], 2, OMEGA, threads);
  restrict_residual(&lv[l], &lv[l + 1], threads);
  vcycle(lv, l + 1, n, tol, threads);
  prolong(&lv[l + 1], &lv[l], 1, threads);
  relax(&lv[l], 2, OMEGA, threads);
}

int orf_poisson_solve(const uint8_t *mask, uint32_t w, uint32_t hgt, float *h, int threads,
                      atomic_int *cancel) {
  level lv[MAX_LEVELS];
  int n = 1, rc = ORF_OK;
  memset(lv, 0, sizeof lv);
  lv[0] = (level){w, hgt, 1.0f, (uint8_t *)mask, h, NULL, NULL};
  lv[0].res = orf_malloc_array((size_t)w * hgt, sizeof(float));
  if (!lv[0].res) return ORF_ENOMEM;
  /* The pyramid of masks: a coarse pixel is inside when two of its four
   * children are. */
  while (n < MAX_LEVELS && (lv[n - 1].w > COARSE_SIDE || lv[n - 1].h > COARSE_SIDE) && lv[n - 1].w >= 8 &&
         lv[n - 1].h >= 8) {
    level *f = &lv[n - 1], *c = &lv[n];
    c->w = (f->w + 1) / 2;
    c->h = (f->h + 1) / 2;
    c->s2 = f->s2 * 4;
    size_t cn = (size_t)c->w * c->h;
    c->mask = orf_calloc(cn, 1);
    c->val = orf_calloc(cn, sizeof(float));
    c->rhs = orf_calloc(cn, sizeof(float));
    c->res = orf_calloc(cn, sizeof(float));
    n++;
    if (!c->mask || !c->val || !c->rhs || !c->res) {
      rc = ORF_ENOMEM;
      goto out;
    }
    for (uint32_t y = 0; y < c->h; y++) {
      for (uint32_t x = 0; x < c->w; x++) {
        int count = 0;
        for (uint32_t dy = 0; dy < 2; dy++)
          for (uint32_t dx = 0; dx < 2; dx++) {
            uint32_t fx = 2 * x + dx, fy = 2 * y + dy;
            if (fx < f->w && fy < f->h) count += f->mask[(size_t)fy * f->w + fx] != 0;
          }
        c->mask[(size_t)y * c->w + x] = count >= 2;
      }
    }
  }
  /* Nested iteration: the problem itself (rhs 4) on each level from the
   * coarsest up, each started from the coarser solution. */
  for (int l = n - 1; l >= 1; l--) {
    for (size_t i = 0; i < (size_t)lv[l].w * lv[l].h; i++)
      lv[l].rhs[i] = lv[l].mask[i] ? 4.0f : 0;
    if (l == n - 1)
      memset(lv[l].val, 0, (size_t)lv[l].w * lv[l].h * sizeof(float));
    else
      prolong(&lv[l + 1], &lv[l], 0, threads);
    if (l == n - 1)
      relax_coarse(&lv[l], 0);
    else
      relax(&lv[l], FINE_SWEEPS, OMEGA, threads);
  }
  if (n > 1)
    prolong(&lv[1], &lv[0], 0, threads);
  else
    memset(h, 0, (size_t)w * hgt * sizeof(float));
  /* Then V-cycles on level 0 remove what the coarse domains got wrong. */
  float hmax = 0;
  for (size_t i = 0; i < (size_t)w * hgt; i++)
    if (h[i] > hmax) hmax = h[i];
  for (int c = 0; c < VCYCLES; c++) {
    if (orf_cancelled(cancel)) {
      rc = ORF_ECANCELED;
      goto out;
    }
    vcycle(lv, 0, n, COARSE_TOL * hmax, threads);
  }
  /* The discrete solution is at least 1 on every inside pixel (each is the
   * mean of non-negative neighbours plus 1); the coarse corrections can
   * undershoot that on features thinner than a coarse pixel, so restore it. */
  for (size_t i = 0; i < (size_t)w * hgt; i++)
    if (mask[i] && h[i] < 1.0f) h[i] = 1.0f;
out:
  orf_free(lv[0].res);
  for (int l = 1; l < n; l++) {
    orf_free(lv[l].mask);
    orf_free(lv[l].val);
    orf_free(lv[l].rhs);
    orf_free(lv[l].res);
  }
  return rc;
}
