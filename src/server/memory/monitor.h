/*
 * monitor.h - a thread that samples the memory sources every interval into
 * a ring buffer (the `history` of /api/v1/gpu/stats), logs a warning when
 * the budget in use crosses 80% and 90% (once per crossing, again after it
 * drops back under), and stops cleanly.  The latest sample is kept for the
 * stats endpoint so a request never waits for NVML.
 */
#ifndef ORF_MONITOR_H
#define ORF_MONITOR_H

#include <stddef.h>

#include "memsource.h"

typedef struct orf_monitor orf_monitor;

typedef struct orf_mem_point {
  double t;            /* seconds since the Unix epoch */
  double in_use_gb;    /* budget in use by jobs */
  double available_gb; /* budget left for jobs */
} orf_mem_point;

/* Figures of the budget the monitor reads at each sample (jobs/jobs.c's). */
typedef void (*orf_budget_read_fn)(void *ctx, double *in_use_bytes, double *budget_bytes);

/* Starts sampling every interval_s seconds (> 0), keeping the last
 * `capacity` points.  Takes a first sample before it returns.  Returns
 * ORF_OK, ORF_EINVAL or ORF_ENOMEM. */
int orf_monitor_start(orf_monitor **out, orf_memsources *src, orf_budget_read_fn read, void *ctx,
                      double interval_s, size_t capacity);

/* Stops the thread (waking it at once) and frees the monitor. */
void orf_monitor_stop(orf_monitor *m);

/* The latest snapshot of the sources. */
void orf_monitor_latest(orf_monitor *m, orf_mem_snapshot *out);

/* Copies up to max points, oldest first; returns how many. */
size_t orf_monitor_history(orf_monitor *m, orf_mem_point *out, size_t max);

#endif
