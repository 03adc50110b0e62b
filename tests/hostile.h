/*
 * hostile.h - test images whose subject is ragged, in many pieces or thin
 * (issue 13): the masks that break a face budget.  Each is an RGBA PNG
 * whose alpha is the subject (background alpha 0), so the engine's mask is
 * exactly what is drawn, with a colour gradient over the subject; and the
 * check of every stage's budget on them.  Shared by tests/test_budget.c,
 * tests/test_hostile.c and bench/bench_budget.c.
 */
#ifndef ORF_HOSTILE_H
#define ORF_HOSTILE_H

#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

typedef enum hi_kind {
  HI_NOISE,     /* every pixel in or out at random, half of them in */
  HI_BLOBS,     /* value noise thresholded: clusters of every size */
  HI_SPECKS,    /* one disc among about 590 specks of radius 3-5 px (at 384) */
  HI_COMB,      /* a bar with teeth 2 px wide, 2 px apart */
  HI_TEXT,      /* "ORFEAS 3D" in a 5x7 font, 2 to 5 px a dot */
  HI_HAIRLINES, /* 1 px diagonal lines and rings */
  HI_LACE,      /* a disc pierced by a lattice of small holes: high genus */
  HI_CHECKER,   /* 2 px squares touching at their corners */
  HI_COUNT
} hi_kind;

/* The image's short name ("noise", "specks", ...). */
const char *hi_name(hi_kind k);

/* The n x n RGBA pixels of image k (deterministic), malloc'd. */
uint8_t *hi_rgba(hi_kind k, uint32_t n);

/* Image k encoded as an RGBA PNG (*size bytes), malloc'd. */
uint8_t *hi_png(hi_kind k, uint32_t n, size_t *size);

/* What a job handed out: each stage's faces and grid, and how many stages. */
typedef struct hi_seen {
  size_t faces[ORF_STAGE_COUNT];
  int grid[ORF_STAGE_COUNT];
  int count;
} hi_seen;

/* One job of img on the CPU with `threads` threads, its stages recorded in
 * *s: orf_generate's result. */
int hi_run(const uint8_t *img, size_t size, const orf_params *p, int threads, orf_result *res, hi_seen *s);

/* Runs image k (n x n) at qualities 3, 7 and 10 in every mode (inflate,
 * relief, relief with cutout, lithophane, extrude) with 2 threads and
 * again with 1, printing a line per job, and checks: the job succeeds
 * (hairlines in the silhouette modes may fail with ORF_ETOOTHIN, with both
 * thread counts), every stage's mesh is within orf_stage_face_budget(),
 * the final mesh is closed, 2-manifold, outward, with no degenerate or
 * duplicate face (orf_mesh_check), and both thread counts give the same
 * bytes and the same dropped pieces.  Returns 0, or -1 at the first job
 * that did not (why says which and how).  Reports rather than asserts, as
 * jobcheck.h does, so the test that calls it names what it ran. */
int hi_check_image(hi_kind k, uint32_t n, char *why, size_t why_len);

#endif
