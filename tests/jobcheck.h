/*
 * jobcheck.h - checks of whole engine jobs shared by test_pipeline
 * (inflate) and test_modes (relief, lithophane, extrude): that a job whose
 * allocations fail fails cleanly, and that its memory stays under the
 * admission estimate.  Both run orf_generate with 2 threads and report
 * rather than assert, so the caller's test names what it ran.
 */
#ifndef ORF_JOBCHECK_H
#define ORF_JOBCHECK_H

#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

typedef struct jc_sweep {
  int failed, passed; /* runs that failed with ORF_ENOMEM, runs that got past */
  char why[160];      /* what the first bad run did */
} jc_sweep;

/* Runs p's job on the image with its nth engine allocation failing
 * (orf_memtrack), for n = first, first + step, ... below end.  Every run
 * must either succeed with a watertight mesh or fail with ORF_ENOMEM, and
 * leave no engine allocation behind.  Returns 0, or -1 at the first run
 * that did not (s->why says how); s counts the runs either way. */
int jc_allocation_sweep(const uint8_t *img, size_t size, const orf_params *p, long first, long end, long step,
                        jc_sweep *s);

/* Runs p's job in a forked child and prints "label WxH: tracked peak,
 * RSS growth, estimate".  Returns 1 when the job succeeded and both the
 * engine's tracked peak and the child's RSS growth (libraries included)
 * stay at or under orf_estimate_peak_bytes(p, w, h, size), else 0. */
int jc_peak_under_estimate(const uint8_t *img, size_t size, uint32_t w, uint32_t h, const orf_params *p,
                           const char *label);

#endif
