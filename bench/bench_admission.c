/*
 * bench_admission.c - capacity planning with the memory estimate: how many
 * jobs on a 1024x1024 image a 24 GB device admits at once at each quality
 * (budget = 24 GB - 2 GB system reserve - 1 GB cache reserve), next to the
 * original system's fixed limit of 3 concurrent jobs, with the measured peak
 * of one job beside its estimate (the estimate is what admission reserves).
 */
#include <stdio.h>
#include <stdlib.h>

#include "orfeas.h"
#include "testutil.h"

int main(void) {
  const double gib = 1024.0 * 1024.0 * 1024.0, budget = (24.0 - 2.0 - 1.0) * gib;
  size_t size;
  uint8_t *jpg = tu_photo_jpeg(1024, &size);
  printf("quality  estimate_mb  measured_peak_mb  admitted_on_24gb  original_limit\n");
  for (int q = 1; q <= 10; q++) {
    orf_params p;
    orf_params_init(&p);
    p.quality = q;
    size_t est = orf_estimate_peak_bytes(&p, 1024, 1024, size);
    orf_job_opts o;
    orf_job_opts_init(&o);
    orf_result r;
    double peak = orf_generate(jpg, size, &p, &o, &r) == 0 ? (double)o.peak_bytes / 1e6 : -1;
    orf_result_free(&r);
    printf("%7d  %11.1f  %16.1f  %16.0f  %14d\n", q, (double)est / 1e6, peak, budget / (double)est, 3);
  }
  free(jpg);
  return 0;
}
