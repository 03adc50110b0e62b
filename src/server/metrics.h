/*
 * metrics.h - the server's Prometheus metrics, rendered in the text
 * exposition format (version 0.0.4) for GET /metrics.
 *
 * Counters and histograms are updated lock-free (atomics) from any thread;
 * gauges that belong to other modules (queue depth, running jobs, cache
 * figures) are read from them when rendering, through orf_metrics_gauges.
 * Names (all prefixed orfeas_):
 *   http_requests_total{route,method,status}         counter
 *   http_request_duration_seconds{route}             histogram
 *   stage_duration_seconds{stage}                    histogram (cumulative time to the stage)
 *   jobs_total{status}                               counter (complete, failed, cancelled)
 *   connections_timed_out_total{phase}               counter (headers, body: http/deadline.c)
 *   queue_depth, running_jobs                        gauges
 *   cache_hits_total, cache_misses_total, cache_evictions_total, cache_coalesced_total  counters
 *   cache_scrub_checked_total, cache_scrub_damaged_total  counters
 *   cache_bytes, cache_entries, cache_disk_bytes      gauges
 *   uptime_seconds                                   gauge
 *   memory_budget_bytes, memory_in_use_bytes, memory_device_available_bytes  gauges
 *   segment_runs_total, segment_cache_hits_total      counters (the segmentation network)
 *   segment_cache_bytes                              gauge
 * Routes are a fixed set of names (not raw URLs) so label cardinality is
 * bounded.
 */
#ifndef ORF_METRICS_H
#define ORF_METRICS_H

#include <stddef.h>
#include <stdint.h>

typedef struct orf_metrics orf_metrics;

/* The routes that label HTTP metrics and logs. */
typedef enum {
  ORF_ROUTE_HEALTH,
  ORF_ROUTE_READY,
  ORF_ROUTE_GENERATE,
  ORF_ROUTE_PROGRESSIVE,
  ORF_ROUTE_JOBS,
  ORF_ROUTE_JOB_STATUS,
  ORF_ROUTE_JOB_EVENTS,
  ORF_ROUTE_RESULTS,
  ORF_ROUTE_GPU_STATS,
  ORF_ROUTE_CACHE_STATS,
  ORF_ROUTE_CACHE_CLEAR,
  ORF_ROUTE_METRICS,
  ORF_ROUTE_PARAMS,
  ORF_ROUTE_MASK,
  ORF_ROUTE_OPENAPI,
  ORF_ROUTE_STATIC,
  ORF_ROUTE_REPAIR,
  ORF_ROUTE_REPAIR_PROGRESSIVE,
  ORF_ROUTE_REPAIR_JOBS,
  ORF_ROUTE_INTERNAL, /* a cluster node's files for another (/internal/v1/files/) */
  ORF_ROUTE_BATCH,          /* POST /api/v1/batch */
  ORF_ROUTE_BATCH_STATUS,   /* GET /api/v1/batch/<id>[/results.zip] */
  ORF_ROUTE_COMPAT_ORFEAS,  /* the original ORFEAS API's routes (/api/upload-image, ...) */
  ORF_ROUTE_COMPAT_HUNYUAN, /* the Hunyuan3D-2 API server's routes (/generate, /send, /status/) */
  ORF_ROUTE_OTHER,
  ORF_ROUTE_COUNT
} orf_route;

const char *orf_route_name(orf_route r); /* "health", "generate", ... */

/* Figures owned by other modules, read at render time. */
typedef struct orf_metrics_gauges {
  size_t queue_depth, running_jobs;
  uint64_t cache_hits, cache_misses, cache_evictions, cache_coalesced;
  uint64_t cache_scrub_checked, cache_scrub_damaged;
  size_t cache_bytes, cache_entries, cache_disk_bytes;
  double uptime_s;
  uint64_t budget_bytes, budget_in_use_bytes, device_available_bytes;
  uint64_t segment_runs, segment_hits; /* the segmentation network (src/segment/) */
  size_t segment_cache_bytes;
} orf_metrics_gauges;

/* Returns a new registry or NULL (out of memory). */
orf_metrics *orf_metrics_create(void);
void orf_metrics_free(orf_metrics *m);

/* One finished HTTP request: status code and duration. */
void orf_metrics_request(orf_metrics *m, orf_route route, const char *method, int status, double seconds);

/* A job reached stage s (0..3) `seconds` after it started. */
void orf_metrics_stage(orf_metrics *m, int stage, double seconds);

/* A job ended: status is "complete", "failed" or "cancelled". */
void orf_metrics_job(orf_metrics *m, const char *status);

/* A connection was closed for missing its deadline: phase is "headers" or
 * "body" (http/deadline.c). */
void orf_metrics_timed_out(orf_metrics *m, const char *phase);

/* Renders everything as Prometheus text into a malloc'd NUL-terminated
 * string (*out, free() it), valid for `promtool check metrics`.
 * Returns ORF_OK or ORF_ENOMEM. */
int orf_metrics_render(orf_metrics *m, const orf_metrics_gauges *g, char **out, size_t *len);

#endif
