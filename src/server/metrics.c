/*
 * metrics.c - the server's Prometheus metrics (see metrics.h), rendered in
 * the text exposition format 0.0.4 (prometheus.io/docs/instrumenting/
 * exposition_formats): a `# HELP` and a `# TYPE` line for every family,
 * counters named *_total, histograms as cumulative `_bucket{le=...}` series
 * ending in le="+Inf", then `_sum` and `_count`.
 *
 * Every label takes its values from a fixed set (routes of orf_route,
 * methods GET/POST/DELETE/OTHER, status codes 100..599 or "other", the
 * engine's stage names, three job outcomes), so the number of series is
 * bounded whatever clients send.  Updates are lock-free: each counter and
 * each histogram bucket is an atomic 64-bit integer, and histogram sums are
 * kept in integer nanoseconds so they too are a single atomic add.  A
 * histogram stores per-bucket (non-cumulative) counts and derives both the
 * cumulative buckets and `_count` from one read of them at render time, so
 * the +Inf bucket always equals `_count` even while requests are counted.
 */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orfeas.h"

enum { M_GET, M_POST, M_DELETE, M_OTHER, M_COUNT };
/* Status slot 0 is "other" (a code outside 100..599); slot s is status s. */
enum { STATUS_MIN = 100, STATUS_SLOTS = 600 };
enum { JOB_COMPLETE, JOB_FAILED, JOB_CANCELLED, JOB_COUNT };

static const char *const kRouteNames[] = {
    "health",      "ready",   "generate",     "progressive",   "jobs",           "job_status",
    "job_events",  "results", "gpu_stats",    "cache_stats",   "cache_clear",    "metrics",
    "params",      "mask",    "openapi",      "static",        "repair",         "repair_progressive",
    "repair_jobs", "internal", "batch",   "batch_status", "compat_orfeas", "compat_hunyuan", "other",
};
_Static_assert(sizeof kRouteNames / sizeof kRouteNames[0] == ORF_ROUTE_COUNT, "a name for every orf_route");
static const char *const kMethodNames[M_COUNT] = {"GET", "POST", "DELETE", "OTHER"};
static const char *const kJobNames[JOB_COUNT] = {"complete", "failed", "cancelled"};
#define PHASE_COUNT 2
static const char *const kPhaseNames[PHASE_COUNT] = {"headers", "body"};

/* Bucket upper bounds, as numbers (to place observations) and as the text
 * the `le` label shows. */
#define HTTP_BUCKETS 15
static const double kHttpLe[HTTP_BUCKETS] = {.001, .0025, .005, .01, .025, .05, .1, .25,
                                             .5,   1,     2.5,  5,   10,   30,  60};
static const char *const kHttpLeText[HTTP_BUCKETS] = {"0.001", "0.0025", "0.005", "0.01", "0.025",
                                                      "0.05",  "0.1",    "0.25",  "0.5",  "1",
                                                      "2.5",   "5",      "10",    "30",   "60"};
#define STAGE_BUCKETS 11
static const double kStageLe[STAGE_BUCKETS] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
static const char *const kStageLeText[STAGE_BUCKETS] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                                        "0.5",   "1",    "2.5",   "5",    "10"};

/* Observations longer than this (about 31 years) are counted as this long,
 * so that the nanosecond sum cannot overflow for centuries of traffic. */
#define MAX_OBSERVED_S 1e9

typedef struct histogram {
  atomic_uint_fast64_t bucket[HTTP_BUCKETS + 1]; /* per bucket; the last is (largest le, +Inf) */
  atomic_uint_fast64_t sum_ns;
} histogram;

struct orf_metrics {
  atomic_uint_fast64_t requests[ORF_ROUTE_COUNT][M_COUNT][STATUS_SLOTS];
  histogram http[ORF_ROUTE_COUNT];
  histogram stage[ORF_STAGE_COUNT];
  atomic_uint_fast64_t jobs[JOB_COUNT];
  atomic_uint_fast64_t timed_out[PHASE_COUNT];
};

const char *orf_route_name(orf_route r) {
  return (unsigned)r < ORF_ROUTE_COUNT ? kRouteNames[r] : kRouteNames[ORF_ROUTE_OTHER];
}

/* Contract: a zeroed registry from orf_calloc (atomics of all-zero bytes
 * are zero on every platform we build for); NULL when out of memory. */
orf_metrics *orf_metrics_create(void) { return orf_calloc(1, sizeof(orf_metrics)); }

void orf_metrics_free(orf_metrics *m) { orf_free(m); }

static int method_index(const char *method) {
  if (!method) return M_OTHER;
  for (int i = 0; i < M_OTHER; i++)
    if (strcmp(method, kMethodNames[i]) == 0) return i;
  return M_OTHER;
}

/* Counts one observation of `seconds` into h, whose bounds are le[0..n). */
static void observe(histogram *h, const double *le, int n, double seconds) {
  if (!(seconds > 0)) seconds = 0; /* also NaN */
  if (seconds > MAX_OBSERVED_S) seconds = MAX_OBSERVED_S;
  int b = 0;
  while (b < n && seconds > le[b])
    b++;
  atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_ns, (uint_fast64_t)llround(seconds * 1e9), memory_order_relaxed);
}

/* Contract: counts one finished request under (route, method, status) and
 * its duration under route.  An unknown route counts as "other", a method
 * other than GET/POST/DELETE as "OTHER", a status outside 100..599 as
 * "other".  NULL m does nothing. */
void orf_metrics_request(orf_metrics *m, orf_route route, const char *method, int status, double seconds) {
  if (!m) return;
  if ((unsigned)route >= ORF_ROUTE_COUNT) route = ORF_ROUTE_OTHER;
  int slot = status >= STATUS_MIN && status < STATUS_SLOTS ? status : 0;
  atomic_fetch_add_explicit(&m->requests[route][method_index(method)][slot], 1, memory_order_relaxed);
  observe(&m->http[route], kHttpLe, HTTP_BUCKETS, seconds);
}

/* Contract: counts the time to stage `stage` (orf_stage); other values are
 * ignored. */
void orf_metrics_stage(orf_metrics *m, int stage, double seconds) {
  if (!m || stage < 0 || stage >= ORF_STAGE_COUNT) return;
  observe(&m->stage[stage], kStageLe, STAGE_BUCKETS, seconds);
}

/* Adds one to the counter of `name` among the n names; an unknown name is
 * ignored (it would be a bug of the caller). */
static void count_named(atomic_uint_fast64_t *counters, const char *const *names, int n, const char *name) {
  if (!name) return;
  for (int i = 0; i < n; i++)
    if (strcmp(name, names[i]) == 0) {
      atomic_fetch_add_explicit(&counters[i], 1, memory_order_relaxed);
      return;
    }
}

/* Contract: counts a job ending "complete", "failed" or "cancelled". */
void orf_metrics_job(orf_metrics *m, const char *status) {
  if (m) count_named(m->jobs, kJobNames, JOB_COUNT, status);
}

/* Contract: counts a connection closed in phase "headers" or "body". */
void orf_metrics_timed_out(orf_metrics *m, const char *phase) {
  if (m) count_named(m->timed_out, kPhaseNames, PHASE_COUNT, phase);
}

/* ---- rendering ---------------------------------------------------------- */

/* A growing text buffer from malloc (the rendered text is handed out to be
 * released with free(), as metrics.h says).  The first failure sets
 * `failed` and later appends do nothing. */
typedef struct text {
  char *data;
  size_t len, cap;
  int failed;
} text;

static void text_reserve(text *t, size_t extra) {
  if (t->failed || t->len + extra + 1 <= t->cap) return;
  size_t cap = t->cap ? t->cap : 4096;
  while (cap < t->len + extra + 1)
    cap *= 2;
  char *p = realloc(t->data, cap);
  if (!p) {
    t->failed = 1;
    return;
  }
  t->data = p;
  t->cap = cap;
}

static void text_append(text *t, const char *s, size_t n) {
  text_reserve(t, n);
  if (t->failed) return;
  memcpy(t->data + t->len, s, n);
  t->len += n;
  t->data[t->len] = '\0';
}

static void text_puts(text *t, const char *s) { text_append(t, s, strlen(s)); }

static void text_printf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_printf(text *t, const char *fmt, ...) {
  char small[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof small, fmt, ap);
  va_end(ap);
  if (n < 0) {
    t->failed = 1;
    return;
  }
  if ((size_t)n < sizeof small) {
    text_append(t, small, (size_t)n);
    return;
  }
  text_reserve(t, (size_t)n);
  if (t->failed) return;
  va_start(ap, fmt);
  vsnprintf(t->data + t->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  t->len += (size_t)n;
}

/* A label value, escaped as the format asks: backslash, double quote and
 * line feed become \\, \" and \n. */
static void text_label_value(text *t, const char *v) {
  for (; *v; v++) {
    if (*v == '\\')
      text_puts(t, "\\\\");
    else if (*v == '"')
      text_puts(t, "\\\"");
    else if (*v == '\n')
      text_puts(t, "\\n");
    else
      text_append(t, v, 1);
  }
}

/* `name{key="value"` - the opening of a sample with one escaped label;
 * the caller closes the braces (possibly after more labels). */
static void text_series(text *t, const char *name, const char *key, const char *value) {
  text_printf(t, "orfeas_%s{%s=\"", name, key);
  text_label_value(t, value);
  text_puts(t, "\"");
}

static void text_family(text *t, const char *name, const char *type, const char *help) {
  text_printf(t, "# HELP orfeas_%s %s\n# TYPE orfeas_%s %s\n", name, help, name, type);
}

/* Nanoseconds as decimal seconds, exactly, without trailing zeros. */
static void text_seconds(text *t, uint64_t ns) {
  char frac[16];
  snprintf(frac, sizeof frac, "%09llu", (unsigned long long)(ns % 1000000000u));
  size_t n = 9;
  while (n > 0 && frac[n - 1] == '0')
    n--;
  frac[n] = '\0';
  text_printf(t, "%llu%s%s", (unsigned long long)(ns / 1000000000u), n ? "." : "", frac);
}

/* The series of one histogram labelled key=value. */
static void text_histogram(text *t, const char *name, const char *key, const char *value, histogram *h,
                           const char *const *le_text, int n) {
  uint64_t cumulative = 0;
  char bucket[96];
  snprintf(bucket, sizeof bucket, "%s_bucket", name);
  for (int b = 0; b <= n; b++) {
    cumulative += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
    text_series(t, bucket, key, value);
    text_printf(t, ",le=\"%s\"} %llu\n", b < n ? le_text[b] : "+Inf", (unsigned long long)cumulative);
  }
  char sum[96];
  snprintf(sum, sizeof sum, "%s_sum", name);
  text_series(t, sum, key, value);
  text_puts(t, "} ");
  text_seconds(t, atomic_load_explicit(&h->sum_ns, memory_order_relaxed));
  char count[96];
  snprintf(count, sizeof count, "%s_count", name);
  text_puts(t, "\n");
  text_series(t, count, key, value);
  text_printf(t, "} %llu\n", (unsigned long long)cumulative);
}

static void text_gauge(text *t, const char *name, const char *type, const char *help, const char *value) {
  text_family(t, name, type, help);
  text_printf(t, "orfeas_%s %s\n", name, value);
}

static void text_gauge_u(text *t, const char *name, const char *type, const char *help, uint64_t v) {
  char s[32];
  snprintf(s, sizeof s, "%llu", (unsigned long long)v);
  text_gauge(t, name, type, help, s);
}

/* Contract: renders every family into a new malloc'd string (*out, the
 * caller free()s it) of *len bytes plus a NUL.  g may be NULL (gauges 0).
 * Returns ORF_OK or ORF_ENOMEM (*out then NULL). */
int orf_metrics_render(orf_metrics *m, const orf_metrics_gauges *g, char **out, size_t *len) {
  static const orf_metrics_gauges zero;
  if (!g) g = &zero;
  *out = NULL;
  if (len) *len = 0;
  text t = {0};

  text_family(&t, "http_requests_total", "counter", "HTTP requests answered, by route, method and status.");
  for (int r = 0; m && r < ORF_ROUTE_COUNT; r++)
    for (int k = 0; k < M_COUNT; k++)
      for (int s = 0; s < STATUS_SLOTS; s++) {
        uint64_t v = atomic_load_explicit(&m->requests[r][k][s], memory_order_relaxed);
        if (!v) continue;
        char status[16];
        if (s)
          snprintf(status, sizeof status, "%d", s);
        else
          snprintf(status, sizeof status, "other");
        text_series(&t, "http_requests_total", "route", kRouteNames[r]);
        text_puts(&t, ",method=\"");
        text_label_value(&t, kMethodNames[k]);
        text_puts(&t, "\",status=\"");
        text_label_value(&t, status);
        text_printf(&t, "\"} %llu\n", (unsigned long long)v);
      }

  text_family(&t, "http_request_duration_seconds", "histogram",
              "Time from a request's arrival to its completion, by route.");
  for (int r = 0; m && r < ORF_ROUTE_COUNT; r++)
    text_histogram(&t, "http_request_duration_seconds", "route", kRouteNames[r], &m->http[r], kHttpLeText,
                   HTTP_BUCKETS);

  text_family(&t, "stage_duration_seconds", "histogram",
              "Time from a job's start to the end of each stage (cumulative).");
  for (int s = 0; m && s < ORF_STAGE_COUNT; s++)
    text_histogram(&t, "stage_duration_seconds", "stage", orf_stage_name((orf_stage)s), &m->stage[s],
                   kStageLeText, STAGE_BUCKETS);

  text_family(&t, "jobs_total", "counter", "Jobs finished, by outcome.");
  for (int j = 0; m && j < JOB_COUNT; j++) {
    text_series(&t, "jobs_total", "status", kJobNames[j]);
    text_printf(&t, "} %llu\n", (unsigned long long)atomic_load_explicit(&m->jobs[j], memory_order_relaxed));
  }

  text_family(&t, "connections_timed_out_total", "counter",
              "Connections closed for sending their request headers or body too slowly.");
  for (int p = 0; m && p < PHASE_COUNT; p++) {
    text_series(&t, "connections_timed_out_total", "phase", kPhaseNames[p]);
    text_printf(&t, "} %llu\n",
                (unsigned long long)atomic_load_explicit(&m->timed_out[p], memory_order_relaxed));
  }

  text_gauge_u(&t, "queue_depth", "gauge", "Jobs waiting in the queue.", g->queue_depth);
  text_gauge_u(&t, "running_jobs", "gauge", "Jobs running now.", g->running_jobs);
  text_gauge_u(&t, "cache_hits_total", "counter", "Cache lookups answered from the cache.", g->cache_hits);
  text_gauge_u(&t, "cache_misses_total", "counter", "Cache lookups not found.", g->cache_misses);
  text_gauge_u(&t, "cache_evictions_total", "counter", "Cache entries evicted (bytes bound or TTL).",
               g->cache_evictions);
  text_gauge_u(&t, "cache_coalesced_total", "counter",
               "Requests that joined a running identical computation.", g->cache_coalesced);
  text_gauge_u(&t, "cache_scrub_checked_total", "counter",
               "Disk cache files the scrubber re-read against their checksums.", g->cache_scrub_checked);
  text_gauge_u(&t, "cache_scrub_damaged_total", "counter",
               "Disk cache files the scrubber found damaged (deleted).", g->cache_scrub_damaged);
  text_gauge_u(&t, "cache_bytes", "gauge", "Bytes held by the memory tier of the cache.", g->cache_bytes);
  text_gauge_u(&t, "cache_entries", "gauge", "Entries in the memory tier of the cache.", g->cache_entries);
  text_gauge_u(&t, "cache_disk_bytes", "gauge", "Bytes held by the disk tier of the cache.",
               g->cache_disk_bytes);
  char up[64];
  double uptime = isfinite(g->uptime_s) && g->uptime_s > 0 ? g->uptime_s : 0;
  snprintf(up, sizeof up, "%.3f", uptime);
  text_gauge(&t, "uptime_seconds", "gauge", "Seconds since the server started.", up);
  text_gauge_u(&t, "memory_budget_bytes", "gauge", "Memory jobs may hold at once (0: no budget).",
               g->budget_bytes);
  text_gauge_u(&t, "memory_in_use_bytes", "gauge", "Memory held by running jobs (their estimates).",
               g->budget_in_use_bytes);
  text_gauge_u(&t, "memory_device_available_bytes", "gauge",
               "Available memory of the budget device at the last sample.", g->device_available_bytes);
  text_gauge_u(&t, "segment_runs_total", "counter", "Times the segmentation network ran.", g->segment_runs);
  text_gauge_u(&t, "segment_cache_hits_total", "counter",
               "Mattes of the segmentation network served from its cache (or a run in flight).",
               g->segment_hits);
  text_gauge_u(&t, "segment_cache_bytes", "gauge", "Bytes held by the segmentation network's matte cache.",
               g->segment_cache_bytes);

  if (t.failed || !t.data) {
    free(t.data);
    return ORF_ENOMEM;
  }
  *out = t.data;
  if (len) *len = t.len;
  return ORF_OK;
}
