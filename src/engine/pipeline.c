/*
 * pipeline.c - orf_generate(): one image through every stage of docs/ENGINE.md.
 *
 *   bytes --decode--> pixels --mask--> subject --fields--> H, G, colours
 *         --marching cubes--> mesh --smooth--> --simplify--> --check--> stage
 *
 * The first two stages (voxel_preview at 32 cells, rough_mesh at 64) share a
 * small image (SMALL_SIDE pixels): a JPEG is decoded at 1/2..1/8 scale in
 * the DCT domain, anything else is decoded once and box-filtered down, so
 * the first shape comes in a few milliseconds.  The last two stages share
 * one working image (twice the final grid on its longest side).  Each image
 * gets one mask and one set of fields, which its stages only sample at
 * different grids.  Every stage's mesh is checked
 * (closed, 2-manifold) before it is handed out: a mesh that fails is a bug
 * and fails the job with ORF_EINTERNAL rather than reaching a user.
 *
 * relief, lithophane and extrude (modes.h) run the same stages on the same
 * two images, with their own fields and meshers in place of inflate's, no
 * Taubin smoothing (their height fields are smooth already and their flat
 * faces must stay flat) and their own placement in millimetres; the
 * simplification and the checks are the same.  Where a mode follows the
 * subject's silhouette (extrude, relief with cutout) an image with no
 * separable subject fails with ORF_ENOSUBJECT: the whole-frame fallback
 * that inflate uses would hand back a plain slab that is not what was
 * asked for, so the user is told instead (background=none asks for the
 * whole frame explicitly).
 *
 * The subject comes from src/segment/ (subject.c): alpha, the border
 * colour model, or the segmentation network, decided on the small image
 * and kept for the work image.  The network's matte is fetched once per
 * job from the segmenter's cache (run on a miss), so a cached image costs
 * its guided upsampling only.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>
#include <stdatomic.h>

#include "alloc.h"
#include "budget.h"
#include "gpu.h"
#include "image.h"
#include "inflate.h"
#include "mask.h"
#include "mesh.h"
#include "modes.h"
#include "orfeas.h"
#include "parallel.h"
#include "segment.h"
#include "simplify.h"
#include "smooth.h"
#include "texture.h"

#include <spng.h>

#define SMALL_SIDE 160 /* pixels of the small image: 5 per preview cell */
#define TAUBIN_LAMBDA 0.5f
#define TAUBIN_MU -0.53f

static const int kStageGrid[3] = {32, 64, 128};
static const int kStageSmooth[4] = {0, 4, 6, 8};

/* Face budgets of the first three stages (README.md), held as the final
 * stage's F(q) is (orf_mesh_fit_budget): about 8 faces per cell of the
 * grid's square, above what a clean silhouette gives (samples/heart.png:
 * 4,932, 20,024 and 81,320 faces; a sphere about 6.3 per cell) so only a
 * ragged, many-piece subject is ever reduced. */
static const size_t kStageFaces[3] = {8000, 30000, 120000};

/* The final stage meshes on a grid matched to its budget (see
 * final_grid_of()): one whose mesh has about final_face_ratio() times the
 * budget's faces. */
#define FINAL_FACE_RATIO_INFLATE 0.95
#define FINAL_FACE_RATIO_OTHER 2.0
/* inflate's final grid may be this much coarser than the refined grid or
 * half R(q) (final_grid_of()). */
#define INFLATE_GRID_FLOOR 0.8

typedef struct job {
  const orf_params *p;
  orf_job_opts *o;
  orf_result *res;
  double t0;
  int gpu; /* marching cubes of inflate on the GPU (gpu.h) */
  orf__subject subj;
  const uint8_t *data; /* the image's bytes, for the network's matte */
  size_t size;
  size_t refined_faces; /* of the refined stage's mesh before its budget */
  int refined_grid;     /* the grid that mesh came from */
  size_t unreachable;   /* faces of a stage's mesh that could not be brought within its budget */
  orf_texture_plan tex; /* the texture's mask and projection (src/texture/) */
  int stage_grid;       /* the grid of the last mesh a stage made */
  atomic_int *abort;    /* set by a helper that failed (shared by the job's copies) */
  struct helper *wait;  /* to join before the final stage is handed out */
} job;

/* A stage finished on a thread of its own while the job goes on (see
 * generate()): the previews from the small image's fields, or the refined
 * stage from its marching-cubes mesh.  It works on its own copy of the job
 * (its own timings, added to the job's when it is joined), under the
 * job's memory accounting, and hands its stages out itself, in order. */
typedef struct helper {
  job j;
  orf_result res; /* the helper's timings */
  orf_memtrack *track;
  orf_inflate f; /* previews: the small image's fields (owned) */
  orf_modefield mf;
  int has_mf;
  const orf_inflate *wf; /* refined: the work image's fields (read only) */
  const orf_modefield *wmf;
  orf_mesh mesh; /* refined: its mesh (owned) */
  int grid;
  int refined; /* 0: the previews, 1: the refined stage */
  int rc, started;
  pthread_t tid;
} helper;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* See orfeas.h. */
size_t orf_stage_face_budget(const orf_params *p, orf_stage s) {
  if (s < ORF_STAGE_FINAL_OPTIMIZED) return kStageFaces[s];
  return (size_t)(p->max_faces ? p->max_faces : orf_quality_faces(p->quality));
}

void orf_job_opts_init(orf_job_opts *o) {
  memset(o, 0, sizeof *o);
  orf_limits_init(&o->limits);
}

void orf_result_free(orf_result *r) {
  orf_mesh_free(&r->mesh);
  orf_texture_free(&r->texture);
  memset(r, 0, sizeof *r);
}

/* Scales m so its longest side is size_mm and centres it on the origin. */
static void to_millimetres(orf_mesh *m, double size_mm) {
  float lo[3], hi[3];
  orf_mesh_bounds(m, lo, hi);
  float ext = 0;
  for (int a = 0; a < 3; a++)
    if (hi[a] - lo[a] > ext) ext = hi[a] - lo[a];
  float k = ext > 0 ? (float)(size_mm / ext) : 1.0f;
  float scale[3] = {k, k, k}, offset[3];
  for (int a = 0; a < 3; a++)
    offset[a] = -0.5f * (lo[a] + hi[a]) * k;
  orf_mesh_transform(m, scale, offset);
}

static int helper_join(job *j, helper *h);

/* Smooths, simplifies, colours, scales and checks one stage's mesh, then
 * hands it to the caller.  On success *m is the stage's final mesh. */
static int finish_stage(job *j, const orf_inflate *f, const orf_modefield *mf, orf_mesh *m, orf_stage stage,
                        int grid) {
  orf_timings *t = &j->res->timings;
  int threads = j->o->threads, rc;
  double t1 = now_ms();
  if (!mf && kStageSmooth[stage] &&
      (rc = orf_mesh_smooth_taubin(m, kStageSmooth[stage], TAUBIN_LAMBDA, TAUBIN_MU, threads)))
    return rc;
  double t2 = now_ms();
  t->smooth += t2 - t1;
  /* Every stage within its budget: the final one F(q) or max_faces, the
   * others kStageFaces.  The mesh is closed and 2-manifold by contract
   * (mc.h, modes.h), which orf_mesh_fit_budget relies on; the result is
   * checked below all the same.  ORF_BUDGET_UNREACHABLE goes back to
   * run_stage, which meshes coarser. */
  size_t budget = orf_stage_face_budget(j->p, stage);
  orf_budget_stats bs = {0};
  j->unreachable = 0;
  if ((rc = orf_mesh_fit_budget(m, budget, threads, &bs))) {
    if (rc == ORF_BUDGET_UNREACHABLE) j->unreachable = bs.input_faces;
    return rc;
  }
  if (stage == ORF_STAGE_FINAL_OPTIMIZED) {
    j->res->dropped_components = bs.dropped_components;
    j->res->dropped_volume_share = bs.dropped_volume;
  }
  double t3 = now_ms();
  t->simplify += t3 - t2;
  if (j->p->realistic && (rc = mf ? orf_modes_colorize(mf, m) : orf_inflate_colorize(f, m))) return rc;
  float lo[3], hi[3]; /* before placing: with the placed bounds, the texture's projection */
  orf_mesh_bounds(m, lo, hi);
  if (mf)
    orf_modes_place(mf, m);
  else
    to_millimetres(m, j->p->size_mm);
  if (stage == ORF_STAGE_FINAL_OPTIMIZED) orf_texture_plan_place(&j->tex, f, mf, lo, hi, m);
  orf_mesh_report rep;
  if ((rc = orf_mesh_check(m, &rep))) return rc;
  if (rep.degenerate_faces && (rc = orf_mesh_fix_degenerate(m)) == ORF_OK) rc = orf_mesh_check(m, &rep);
  if (rc) return rc;
  if (!rep.watertight || !rep.manifold || rep.volume <= 0) return ORF_EINTERNAL;
  t->mesh += now_ms() - t3;
  if (stage == ORF_STAGE_FINAL_OPTIMIZED) j->res->report = rep;
  if (stage == ORF_STAGE_FINAL_OPTIMIZED && j->wait && (rc = helper_join(j, j->wait))) return rc;
  if (orf_cancelled(j->o->cancel) || atomic_load(j->abort)) return ORF_ECANCELED;
  if (j->o->on_stage && j->o->on_stage(j->o->user, stage, m, grid, now_ms() - j->t0)) return ORF_ECANCELED;
  return ORF_OK;
}

/* The subject of img as a job of p's mode uses it.  inflate: automatic
 * separation that finds no subject falls back to the whole frame.  Modes
 * that follow the silhouette (extrude, relief with cutout): no fallback
 * (ORF_ENOSUBJECT, see above).  relief and lithophane otherwise: the whole
 * frame, with no mask built (mask->data NULL, source ORF_MASK_FRAME). */
static int subject_mask(const orf_image *img, const orf_params *p, const orf_job_opts *o, orf__subject *st,
                        const uint8_t *data, size_t size, int preview, orf_mask *mask) {
  memset(mask, 0, sizeof *mask);
  if (p->mode != ORF_MODE_INFLATE && !orf_modes_need_mask(p)) {
    mask->source = ORF_MASK_FRAME;
    return ORF_OK;
  }
  int rc = p->background == ORF_BG_NONE ? orf_mask_build(img, ORF_BG_NONE, o->threads, mask)
                                        : orf__subject_mask(st, img, p, p->background, o->segmenter, data,
                                                            size, &o->limits, o->threads, preview, mask);
  if (rc == ORF_ENOSUBJECT && p->mode == ORF_MODE_INFLATE && p->background == ORF_BG_AUTO)
    rc = orf_mask_build(img, ORF_BG_NONE, o->threads, mask);
  return rc;
}

/* The subject mask and the fields of one image size (the preview's or the
 * work's): inflate's into f (mf NULL), or another mode's into mf. */
static int prepare(job *j, const orf_image *img, orf_inflate *f, orf_modefield *mf, int preview) {
  orf_mask mask;
  double t1 = now_ms();
  int rc = subject_mask(img, j->p, j->o, &j->subj, j->data, j->size, preview, &mask);
  if (rc) return rc;
  j->res->mask_source = mask.source;
  double t2 = now_ms();
  j->res->timings.mask += t2 - t1;
  if (mf)
    rc = orf_modes_prepare(j->p, img, mask.data, j->o->threads, mf);
  else
    rc = orf_inflate_build(mask.data, img->rgba, img->width, img->height, j->p->thickness, j->p->detail,
                           j->o->threads, j->o->cancel, f);
  orf_texture_plan_keep_mask(&j->tex, &mask, img->width, img->height); /* kept, or freed */
  j->res->timings.field += now_ms() - t2;
  return rc;
}

/* The final stage's grid: R(q) at most, but no finer than the one whose
 * mesh has about final_face_ratio() x budget faces, predicted from the
 * refined stage's mesh at 128 cells (faces grow as the square of the grid),
 * and no coarser than half R(q) or the refined grid (inflate: see below).
 * Extracting 300k-1.3M faces to decimate them to 80k-250k spent most of a
 * job in meshoptimizer, smoothing and checking faces that were thrown away.
 *
 * inflate: a grid matched to the budget itself (FINAL_FACE_RATIO_INFLATE,
 * a little under 1, so that the mesh usually lands under the budget and
 * is not simplified at all), and no coarser than INFLATE_GRID_FLOOR of the
 * bound above (102 cells at q7), scaled by the refined grid over 128 where
 * the refined stage was meshed coarser to hold its own budget (see
 * below).  A clean subject
 * just over the budget on the refined grid: samples/heart.png at q7 meshes
 * at 123 cells, 75,068 faces, rather than at 128 and trimming 81,320 faces
 * to 80,000 with a whole simplifier pass (40 ms); at q10 at 218 cells,
 * 236,036 faces, rather than simplifying 325k faces to 250k; its q7 mesh
 * lies 0.037 mm on average from the q10 one (0.042 mm for the trimmed
 * one), with no sliver face against 5.  A ragged subject far over the
 * budget is still simplified piece by piece on that floor rather than
 * meshed coarser: a floor of 0.5 for every image saved the noise mask of
 * tests/hostile.c at q7 its 200 ms of simplifying (85 cells, 74,044 faces,
 * rather than 102 cells and 108k faces, one piece of genus 345), but at
 * max_faces=3000 the speck field's disc, meshed at 64 cells and given its
 * share of the budget, came out a third of its width (tests/test_budget.c,
 * test_dropped_reported).  So the floor drops only for a subject so ragged
 * that 128 cells gave more than the refined stage's 120k faces (a clean
 * silhouette gives about 80k there): the refined stage was meshed coarser
 * (stage_mesh), and the floor follows it by the same factor.  The noise
 * mask's refined grid is 100, its floor 80, its final grid the predicted
 * 85: the final stage 366 -> 160 ms cumulative at q7 (bench_budget, 2
 * threads), its peak 30.4 -> 13.5 MB.  The text of tests/hostile.c goes
 * from 102 cells to 96 (72,768 faces, not decimated; rendered, its rows
 * read the same but for the smallest, 2 px dots, unreadable in both).
 * The speck field's refined mesh (69k faces at 128) keeps the floor.
 * inflate's surface is smooth
 * (a height field of the distance transform, Taubin-smoothed), where a
 * decimator has little to gain from choosing where the faces go: measured
 * against the R(q)-cell mesh before decimation (samples/heart.png, q7, 2
 * threads), ratio 2 (the previous rule: a grid of 179 cells, 160k faces
 * decimated) lay 0.031 mm from it on average and 0.237 mm at most (of 100
 * mm), ratio 1 0.042 mm and 0.216 mm, with 5 sliver faces (quality under
 * 1e-2) instead of 324, for 164 ms of CPU instead of 295; fruits.jpg
 * (opencv-doc): 0.066 mm on average against 0.004, the job's CPU 204 ms
 * against 348; the benchmark's 1024 JPEG at q7 187 against 398 ms of CPU
 * (BENCHMARKS.md, issue 13); ratio 1.25 measured no closer.
 *
 * relief, lithophane, extrude: ratio 2 - a decimated mesh of twice the
 * budget, which keeps the faces where the height field steps.  A
 * lithophane's thickness is its picture (transmission exp(-k t)): at
 * ratio 1, fruits.jpg as a lithophane lay 0.73 mm from the full-grid plate
 * at worst (a visible spot of light), at ratio 2 0.04 mm; these modes
 * cost under 180 ms of CPU at q7 either way. */
static double final_face_ratio(const orf_params *p) {
  return p->mode == ORF_MODE_INFLATE ? FINAL_FACE_RATIO_INFLATE : FINAL_FACE_RATIO_OTHER;
}

static int final_grid_of(const job *j) {
  int r = orf_quality_resolution(j->p->quality), refined = j->refined_grid;
  size_t budget = orf_stage_face_budget(j->p, ORF_STAGE_FINAL_OPTIMIZED);
  if (!j->refined_faces) return r;
  double g = refined * sqrt(final_face_ratio(j->p) * (double)budget / (double)j->refined_faces);
  int lo = r / 2 > kStageGrid[ORF_STAGE_REFINED_MESH] ? r / 2 : kStageGrid[ORF_STAGE_REFINED_MESH];
  if (j->p->mode == ORF_MODE_INFLATE) {
    double ragged = refined < kStageGrid[ORF_STAGE_REFINED_MESH]
                        ? (double)refined / kStageGrid[ORF_STAGE_REFINED_MESH]
                        : 1.0;
    lo = (int)(INFLATE_GRID_FLOOR * ragged * lo);
  }
  if (lo > r) lo = r;
  if (g < lo) return lo;
  return g < r ? (int)g : r;
}

/* One try of run_stage at one grid.  A subject narrower than a cell of an
 * early stage's grid (a 20 x 1000 bar at the preview's 32 cells) leaves no
 * surface there: that stage is meshed again on a grid twice as fine, up to
 * the final stage's, so that an image the final grid resolves is not
 * refused for its preview.  One that even the final grid does not resolve
 * is ORF_ETOOTHIN: the image's limit at this quality, said as such, not an
 * invariant that failed. */
static int extract(job *j, const orf_inflate *f, const orf_modefield *mf, int grid, orf_mesh *m) {
  double t1 = now_ms();
  orf_gpu_stats gs = {0};
  int rc = mf       ? orf_modes_mesh(mf, grid, j->o->threads, j->o->cancel, m)
           : j->gpu ? orf_gpu_inflate_mesh(f, grid, j->o->precision, j->o->cancel, m, &gs)
                    : orf_inflate_mesh(f, grid, j->o->threads, j->o->cancel, m);
  if (gs.device_peak > j->o->device_peak_bytes) j->o->device_peak_bytes = gs.device_peak;
  j->res->timings.mesh += now_ms() - t1;
  return rc;
}

/* The grid predicted to give `share` of `budget` faces where `grid` gave
 * `faces` (faces grow as the square of the grid), at least a cell coarser,
 * down to 8 cells. */
static int coarser_grid(int grid, size_t faces, size_t budget, double share) {
  int next = (int)(grid * sqrt(share * (double)budget / (double)faces));
  if (next >= grid) next = grid - 1;
  return next > 8 ? next : 8;
}

/* The marching-cubes mesh of one stage into *m (no faces: too thin even
 * for the final grid), starting at *grid, which gets the grid used. */
static int stage_mesh(job *j, const orf_inflate *f, const orf_modefield *mf, orf_stage stage, int *grid_io,
                      orf_mesh *out) {
  int final_grid = orf_quality_resolution(j->p->quality), grid = *grid_io;
  orf_mesh m;
  int rc;
  for (;;) {
    if ((rc = extract(j, f, mf, grid, &m))) return rc;
    if (m.face_count || grid >= final_grid) break;
    orf_mesh_free(&m);
    grid = 2 * grid < final_grid ? 2 * grid : final_grid;
  }
  /* The previews are not decimated: one whose mesh is over its budget (a
   * ragged, many-piece subject) is meshed again on the grid predicted to
   * give 0.9 x the budget, which costs one more marching cubes (a few ms)
   * where simplifying cost 50 ms (tests/hostile.c's text at 128 cells,
   * 139k faces to 120k) to 1.6 s (the noise mask, 174k faces, whose
   * simplification failed and was meshed coarser all the same).  A grid
   * that leaves no surface keeps the finer mesh, which is simplified. */
  size_t budget = orf_stage_face_budget(j->p, stage);
  while (stage < ORF_STAGE_FINAL_OPTIMIZED && m.face_count > budget && grid > 8) {
    int next = coarser_grid(grid, m.face_count, budget, 0.9);
    orf_mesh c;
    if ((rc = extract(j, f, mf, next, &c))) {
      orf_mesh_free(&m);
      return rc;
    }
    if (!c.face_count) {
      orf_mesh_free(&c);
      break;
    }
    orf_mesh_free(&m);
    m = c;
    grid = next;
  }
  *grid_io = grid;
  *out = m;
  return ORF_OK;
}

/* One try of run_stage: meshes (or takes *first, a mesh already made at
 * grid) and finishes the stage. */
static int mesh_stage(job *j, const orf_inflate *f, const orf_modefield *mf, orf_stage stage, int grid,
                      orf_mesh *first, orf_mesh *keep) {
  orf_mesh m;
  int rc;
  if (first) {
    m = *first;
    memset(first, 0, sizeof *first);
  } else if ((rc = stage_mesh(j, f, mf, stage, &grid, &m))) {
    return rc;
  }
  j->stage_grid = grid;
  rc = m.face_count ? finish_stage(j, f, mf, &m, stage, grid) : ORF_ETOOTHIN;
  if (rc == ORF_OK && keep)
    *keep = m;
  else
    orf_mesh_free(&m);
  return rc;
}

/* One stage's mesh from inflate's fields (mf NULL) or a mode's (mf).  A
 * mesh whose largest piece cannot be brought within the budget
 * (ORF_BUDGET_UNREACHABLE: more handles than the budget has room for, a
 * lace at max_faces=100, or a noise mask whose piece meshoptimizer keeps
 * folding into fins) is meshed again on a coarser grid, where the smallest
 * holes close: the one predicted to give 0.9 x the budget's faces from the
 * faces of the mesh that failed (faces grow as the square of the grid), so
 * that the next one needs little or no simplifying, at least a quarter
 * coarser, down to 8 cells.  Predicting saves tries: the q7 noise image of
 * tests/hostile.c went 165, 123, 92 cells with quarter steps, and 165, 108,
 * 81 when predicted from the faces the simplifier reached; from the failed
 * mesh's faces it goes 165, 81. */
static int run_stage(job *j, const orf_inflate *f, const orf_modefield *mf, orf_stage stage, int grid,
                     orf_mesh *first, orf_mesh *keep) {
  int rc;
  size_t budget = orf_stage_face_budget(j->p, stage);
  while ((rc = mesh_stage(j, f, mf, stage, grid, first, keep)) == ORF_BUDGET_UNREACHABLE &&
         j->stage_grid > 8) {
    first = NULL;
    grid = j->stage_grid;
    double k = j->unreachable > budget ? sqrt(0.9 * (double)budget / (double)j->unreachable) : 0.75;
    int next = (int)(grid * (k < 0.75 ? k : 0.75));
    grid = next > 8 ? next : 8;
  }
  if (first) orf_mesh_free(first);
  return rc == ORF_BUDGET_UNREACHABLE ? ORF_EINTERNAL : rc;
}

static void *helper_main(void *arg) {
  helper *h = arg;
  orf_memtrack_set(h->track);
  if (!h->refined) {
    for (orf_stage s = ORF_STAGE_VOXEL_PREVIEW; s <= ORF_STAGE_ROUGH_MESH && !h->rc; s++)
      h->rc = run_stage(&h->j, &h->f, h->has_mf ? &h->mf : NULL, s, kStageGrid[s], NULL, NULL);
    orf_inflate_free(&h->f);
    orf_modes_free(&h->mf);
  } else {
    h->rc = run_stage(&h->j, h->wf, h->wmf, ORF_STAGE_REFINED_MESH, h->grid, &h->mesh, NULL);
  }
  if (h->rc) atomic_store(h->j.abort, 1);
  orf_memtrack_set(NULL);
  return NULL;
}

/* Starts h (set up by the caller) on a thread of its own, or runs it here
 * when no thread can be had. */
static void helper_start(job *j, helper *h) {
  h->j = *j;
  h->j.res = &h->res;
  h->j.wait = NULL;
  h->track = orf_memtrack_get();
  h->started = 1;
  if (pthread_create(&h->tid, NULL, helper_main, h)) {
    h->started = 0;
    helper_main(h);
    orf_memtrack_set(h->track);
    h->started = 2; /* done, to be merged */
  }
}

/* Waits for h (when started) and adds its timings to the job's.  Returns
 * its result. */
static int helper_join(job *j, helper *h) {
  if (!h->started) return ORF_OK;
  if (h->started == 1) pthread_join(h->tid, NULL);
  h->started = 0;
  orf_timings *t = &j->res->timings, *u = &h->res.timings;
  t->decode += u->decode, t->mask += u->mask, t->field += u->field;
  t->mesh += u->mesh, t->smooth += u->smooth, t->simplify += u->simplify;
  return h->rc;
}

static int generate(job *j, const uint8_t *data, size_t size) {
  const orf_params *p = j->p;
  orf_job_opts *o = j->o;
  orf_image_type type;
  uint32_t w, h;
  int rc = orf_image_probe(data, size, &o->limits, &type, &w, &h);
  if (rc) return rc;
  orf_image src = {0}, small = {0}, work = {0};
  orf_inflate f = {0};
  orf_modefield modefield = {0}, *mf = p->mode == ORF_MODE_INFLATE ? NULL : &modefield;
  int final_grid = orf_quality_resolution(p->quality);
  uint32_t longest = w > h ? w : h;
  uint32_t work_side = (uint32_t)(2 * final_grid);
  if (work_side < 256) work_side = 256;
  if (work_side > longest) work_side = longest;

  /* voxel_preview and rough_mesh: the small image, its mask and fields.
   * With two threads or more (and on the CPU), the two previews are meshed
   * and handed out by a helper thread while this one goes on with the work
   * image, and the refined stage is finished by another while this one
   * meshes the final stage: the finishing of a stage (smoothing, colours,
   * the check, and the caller's callback, which stores the mesh) runs
   * largely on one thread, and the next stage does not need it.  Each
   * stage's mesh is what it was, whatever runs where; stages are still
   * handed out in order (a helper is joined before the next one starts or
   * the final stage is handed out).  samples/heart.png at q7 on 2 threads:
   * BENCHMARKS.md. */
  int overlap = o->threads > 1 && !j->gpu;
  helper pre = {0}, ref = {0};
  double t1 = now_ms();
  if ((rc = orf_image_decode(data, size, &o->limits, type == ORF_IMG_JPEG ? SMALL_SIDE : 0, &src))) goto out;
  if ((rc = orf_image_downscale(&src, SMALL_SIDE, o->threads, &small))) goto out;
  if (type == ORF_IMG_JPEG) orf_image_free(&src);
  j->res->timings.decode += now_ms() - t1;
  if ((rc = prepare(j, &small, &f, mf, 1))) goto out;
  orf_image_free(&small);
  if (overlap) {
    pre.f = f, pre.mf = modefield, pre.has_mf = mf != NULL;
    memset(&f, 0, sizeof f);
    memset(&modefield, 0, sizeof modefield);
    helper_start(j, &pre);
  } else {
    for (orf_stage s = ORF_STAGE_VOXEL_PREVIEW; s <= ORF_STAGE_ROUGH_MESH; s++)
      if ((rc = run_stage(j, &f, mf, s, kStageGrid[s], NULL, NULL))) goto out;
    orf_inflate_free(&f);
    orf_modes_free(&modefield);
  }

  /* refined_mesh and final_optimized: the working image. */
  t1 = now_ms();
  if (type == ORF_IMG_JPEG && (rc = orf_image_decode(data, size, &o->limits, work_side, &src))) goto out;
  if ((rc = orf_image_downscale(&src, work_side, o->threads, &work))) goto out;
  orf_image_free(&src);
  j->res->timings.decode += now_ms() - t1;
  if (atomic_load(j->abort)) goto out;
  if ((rc = prepare(j, &work, &f, mf, 0))) goto out;
  orf_image_free(&work);
  int grid = kStageGrid[ORF_STAGE_REFINED_MESH];
  orf_mesh refined = {0};
  if ((rc = stage_mesh(j, &f, mf, ORF_STAGE_REFINED_MESH, &grid, &refined))) goto out;
  j->refined_faces = refined.face_count, j->refined_grid = grid;
  if ((rc = helper_join(j, &pre))) {
    orf_mesh_free(&refined);
    goto out;
  }
  if (overlap && refined.face_count &&
      refined.face_count <= orf_stage_face_budget(p, ORF_STAGE_REFINED_MESH)) {
    ref.refined = 1, ref.wf = &f, ref.wmf = mf, ref.mesh = refined, ref.grid = grid;
    helper_start(j, &ref);
    j->wait = &ref;
  } else if ((rc = run_stage(j, &f, mf, ORF_STAGE_REFINED_MESH, grid, &refined, NULL))) {
    goto out;
  }
  final_grid = final_grid_of(j);
  rc = run_stage(j, &f, mf, ORF_STAGE_FINAL_OPTIMIZED, final_grid, NULL, &j->res->mesh);
out:;
  /* the helpers' failures come first: what made this thread stop */
  int rc_pre = helper_join(j, &pre), rc_ref = helper_join(j, &ref);
  if (rc_pre || rc_ref) {
    orf_mesh_free(&j->res->mesh);
    rc = rc_pre ? rc_pre : rc_ref;
  }
  j->wait = NULL;
  if (rc == ORF_OK) {
    /* the texture (src/texture/): the image again at its resolution */
    orf_inflate_free(&f);
    orf_modes_free(&modefield);
    t1 = now_ms();
    rc = orf_texture_plan_make(&j->tex, data, size, &o->limits, p->quality, o->threads, o->cancel,
                               &j->res->texture);
    j->res->timings.texture += now_ms() - t1;
  }
  orf_texture_plan_free(&j->tex);
  orf_image_free(&src);
  orf_image_free(&small);
  orf_image_free(&work);
  orf_inflate_free(&f);
  orf_modes_free(&modefield);
  orf_inflate_free(&pre.f);
  orf_modes_free(&pre.mf);
  orf_mesh_free(&ref.mesh);
  return rc;
}

int orf_generate(const uint8_t *data, size_t size, const orf_params *p, orf_job_opts *opts, orf_result *out) {
  memset(out, 0, sizeof *out);
  if (orf_params_validate(p, NULL, 0)) return ORF_EINVAL;
  orf_job_opts defaults;
  if (!opts) {
    orf_job_opts_init(&defaults);
    opts = &defaults;
  }
  if (opts->threads <= 0) opts->threads = orf_cpu_count();
  /* The device: cuda is refused without a usable GPU, auto falls back to
   * the CPU; modes other than inflate run on the CPU either way. */
  int gpu = opts->device != ORF_DEVICE_CPU && orf_gpu_usable();
  if (opts->device == ORF_DEVICE_CUDA && !gpu) return ORF_ENODEVICE;
  gpu = gpu && p->mode == ORF_MODE_INFLATE;
  opts->device_used = gpu ? ORF_DEVICE_CUDA : ORF_DEVICE_CPU;
  opts->device_peak_bytes = 0;
  orf_memtrack track = {0};
  orf_memtrack *prev = orf_memtrack_get();
  /* A caller that set fault injection (tests) keeps its tracker. */
  orf_memtrack *use = prev ? prev : &track;
  if (!prev) orf_memtrack_set(&track);
  size_t base = atomic_load(&use->current);
  atomic_store(&use->peak, base);
  atomic_int abort = 0;
  job j = {p, opts, out, now_ms(), gpu, {0}, data, size, 0, 0, 0, {0}, 0, &abort, NULL};
  orf_texture_plan_init(&j.tex, p);
  int rc = generate(&j, data, size);
  orf__subject_free(&j.subj);
  out->timings.total = now_ms() - j.t0;
  opts->peak_bytes = atomic_load(&use->peak) - base;
  if (rc) orf_result_free(out);
  if (!prev) orf_memtrack_set(NULL);
  return rc;
}

int orf_subject_png(const uint8_t *data, size_t size, const orf_params *p, const orf_job_opts *opts,
                    uint32_t max_side, uint8_t **png, size_t *png_size, int *source) {
  *png = NULL;
  *png_size = 0;
  orf_job_opts o;
  if (opts)
    o = *opts;
  else
    orf_job_opts_init(&o);
  if (o.threads <= 0) o.threads = 1;
  orf_image src = {0}, img = {0}, small = {0};
  orf_mask mask = {0};
  orf__subject st = {0};
  int rc = orf_image_decode(data, size, &o.limits, max_side, &src);
  if (!rc) rc = orf_image_downscale(&src, max_side, o.threads, &img);
  orf_image_free(&src);
  /* the source is decided on the small image, as a job decides it */
  if (!rc) rc = orf_image_downscale(&img, SMALL_SIDE, o.threads, &small);
  if (!rc) rc = subject_mask(&small, p, &o, &st, data, size, 0, &mask);
  orf_mask_free(&mask);
  orf_image_free(&small);
  if (rc == ORF_OK || rc == ORF_ENOSUBJECT) rc = subject_mask(&img, p, &o, &st, data, size, 0, &mask);
  orf__subject_free(&st);
  if (rc) goto out;
  if (source) *source = mask.source;
  /* the image with its background made transparent (none: the whole frame) */
  for (size_t i = 0; mask.data && i < (size_t)img.width * img.height; i++)
    if (!mask.data[i]) img.rgba[4 * i + 3] = 0;
  spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
  rc = ORF_ENOMEM;
  if (!ctx) goto out;
  struct spng_ihdr ihdr = {.width = img.width,
                           .height = img.height,
                           .bit_depth = 8,
                           .color_type = SPNG_COLOR_TYPE_TRUECOLOR_ALPHA};
  spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
  spng_set_ihdr(ctx, &ihdr);
  if (spng_encode_image(ctx, img.rgba, (size_t)img.width * img.height * 4, SPNG_FMT_PNG,
                        SPNG_ENCODE_FINALIZE) == 0) {
    int err = 0;
    size_t n = 0;
    void *out = spng_get_png_buffer(ctx, &n, &err);
    if (out && !err && (*png = orf_malloc(n))) {
      memcpy(*png, out, n);
      *png_size = n;
      rc = ORF_OK;
    }
    free(out);
  }
  spng_ctx_free(ctx);
out:
  orf_mask_free(&mask);
  orf_image_free(&img);
  return rc;
}
