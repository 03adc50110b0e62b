/*
 * monitor.c - the memory monitor (monitor.h): one POSIX thread that takes a
 * reading of the memory sources and of the job budget every interval, keeps
 * the latest snapshot for /api/v1/gpu/stats and the last `capacity` budget
 * points in a ring buffer (its `history`), and logs memory pressure.
 *
 * The thread sleeps in pthread_cond_timedwait on CLOCK_MONOTONIC (so a
 * change of the wall clock neither stalls nor hurries it) until the next
 * deadline, and orf_monitor_stop signals the condition, so stopping takes
 * no longer than a sample in progress, whatever the interval.  Deadlines
 * advance by the interval from the previous one (a steady rate), skipping
 * ahead when a sample ran past the next one.  Readings are taken with the
 * lock released (NVML may take milliseconds); only copying them in is done
 * under it, so a stats request never waits for a reading.
 *
 * Pressure warnings follow a two-level hysteresis: a level (80% or 90% of
 * the budget in use) fires once when the usage reaches it from below and is
 * re-armed when the usage falls back under it.  A sample that reaches both
 * at once logs one event, for the higher level.  Only the sampling thread
 * touches this state (the first sample is taken in start, before the thread
 * exists).
 */
#include "monitor.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "memsource_int.h"
#include "orfeas.h"
#include "util.h"

/* The longest interval accepted: a day (and a deadline that fits time_t). */
#define MAX_INTERVAL_S 86400.0

/* Fractions of the budget in use that log a warning when reached. */
static const double kLevels[] = {0.8, 0.9};
#define LEVEL_COUNT (sizeof kLevels / sizeof kLevels[0])

struct orf_monitor {
  orf_memsources *src; /* the caller's, outlives the monitor */
  orf_budget_read_fn read;
  void *ctx;
  double interval_s;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t wake; /* CLOCK_MONOTONIC; signalled by stop */
  /* Under mu: */
  int stopping;
  orf_mem_snapshot latest;
  orf_mem_point *ring; /* capacity points; the oldest at head when full */
  size_t capacity, head, count;
  /* The sampling thread's alone: */
  int above[LEVEL_COUNT]; /* 1 while usage is at or over kLevels[i] */
};

static void timespec_add(struct timespec *t, double s) {
  double whole = floor(s);
  t->tv_sec += (time_t)whole;
  t->tv_nsec += (long)((s - whole) * 1e9);
  if (t->tv_nsec >= 1000000000L) t->tv_sec++, t->tv_nsec -= 1000000000L;
}

static int timespec_before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Logs memory_pressure when usage reaches a level from below; re-arms the
 * levels it is under. */
static void check_pressure(orf_monitor *m, double in_use, double budget) {
  double ratio = budget > 0 ? in_use / budget : 0;
  int crossed = -1;
  for (size_t i = 0; i < LEVEL_COUNT; i++) {
    if (ratio >= kLevels[i]) {
      if (!m->above[i]) crossed = (int)i;
      m->above[i] = 1;
    } else {
      m->above[i] = 0;
    }
  }
  if (crossed < 0) return;
  orf_log_json("warn", "memory_pressure",
               json_pack("{s:i, s:f, s:f, s:f}", "threshold_percent", (int)lround(kLevels[crossed] * 100),
                         "usage_percent", round(ratio * 1000) / 10, "in_use_gb", in_use / ORF_GB, "budget_gb",
                         budget / ORF_GB));
}

/* Takes one reading of the sources and the budget and stores it. */
static void sample(orf_monitor *m) {
  orf_mem_snapshot snap;
  struct timespec now;
  double in_use = 0, budget = 0;
  orf_memsources_sample(m->src, &snap);
  m->read(m->ctx, &in_use, &budget);
  if (!(in_use >= 0)) in_use = 0;
  if (!(budget >= 0)) budget = 0;
  clock_gettime(CLOCK_REALTIME, &now);
  orf_mem_point p = {
      .t = (double)now.tv_sec + now.tv_nsec / 1e9,
      .in_use_gb = in_use / ORF_GB,
      .available_gb = budget > in_use ? (budget - in_use) / ORF_GB : 0,
  };
  pthread_mutex_lock(&m->mu);
  m->latest = snap;
  if (m->count < m->capacity) {
    m->ring[(m->head + m->count++) % m->capacity] = p;
  } else {
    m->ring[m->head] = p;
    m->head = (m->head + 1) % m->capacity;
  }
  pthread_mutex_unlock(&m->mu);
  check_pressure(m, in_use, budget);
}

static void *monitor_main(void *arg) {
  orf_monitor *m = arg;
  struct timespec next, now;
  clock_gettime(CLOCK_MONOTONIC, &next);
  timespec_add(&next, m->interval_s);
  pthread_mutex_lock(&m->mu);
  while (!m->stopping) {
    pthread_cond_timedwait(&m->wake, &m->mu, &next);
    if (m->stopping) break;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (timespec_before(&now, &next)) continue; /* woken early (spuriously) */
    pthread_mutex_unlock(&m->mu);
    sample(m);
    pthread_mutex_lock(&m->mu);
    timespec_add(&next, m->interval_s);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (timespec_before(&next, &now)) { /* fell behind: no burst of catch-up samples */
      next = now;
      timespec_add(&next, m->interval_s);
    }
  }
  pthread_mutex_unlock(&m->mu);
  return NULL;
}

/* Contract: see monitor.h.  src, read and ctx stay the caller's and must
 * outlive the monitor; read is called on the monitor's thread (and once on
 * the caller's, in start).  0 < interval_s <= 86400 and capacity >= 1, else
 * ORF_EINVAL; *out is set only on ORF_OK and freed by orf_monitor_stop. */
int orf_monitor_start(orf_monitor **out, orf_memsources *src, orf_budget_read_fn read, void *ctx,
                      double interval_s, size_t capacity) {
  if (!out) return ORF_EINVAL;
  *out = NULL;
  if (!src || !read || !isfinite(interval_s) || interval_s <= 0 || interval_s > MAX_INTERVAL_S ||
      capacity == 0)
    return ORF_EINVAL;
  orf_monitor *m = orf_calloc(1, sizeof *m);
  if (!m) return ORF_ENOMEM;
  m->ring = orf_calloc(capacity, sizeof *m->ring);
  if (!m->ring) goto out_free;
  m->src = src, m->read = read, m->ctx = ctx;
  m->interval_s = interval_s;
  m->capacity = capacity;
  if (orf_cond_init_mono(&m->wake) != 0) goto out_free;
  if (pthread_mutex_init(&m->mu, NULL) != 0) goto out_destroy_cond;
  sample(m);
  if (pthread_create(&m->thread, NULL, monitor_main, m) != 0) goto out_destroy_mutex;
  *out = m;
  return ORF_OK;

out_destroy_mutex:
  pthread_mutex_destroy(&m->mu);
out_destroy_cond:
  pthread_cond_destroy(&m->wake);
out_free:
  orf_free(m->ring);
  orf_free(m);
  return ORF_ENOMEM;
}

/* Contract: see monitor.h.  Waits for a sample in progress, joins the
 * thread and frees everything; NULL does nothing. */
void orf_monitor_stop(orf_monitor *m) {
  if (!m) return;
  orf_thread_stop(m->thread, &m->mu, &m->wake, &m->stopping);
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->wake);
  orf_free(m->ring);
  orf_free(m);
}

/* Contract: see monitor.h; *out is a copy. */
void orf_monitor_latest(orf_monitor *m, orf_mem_snapshot *out) {
  pthread_mutex_lock(&m->mu);
  *out = m->latest;
  pthread_mutex_unlock(&m->mu);
}

/* Contract: see monitor.h.  When more than max points are kept, the most
 * recent max are copied (still oldest first). */
size_t orf_monitor_history(orf_monitor *m, orf_mem_point *out, size_t max) {
  pthread_mutex_lock(&m->mu);
  size_t n = m->count < max ? m->count : max;
  size_t skip = m->count - n;
  for (size_t i = 0; i < n; i++)
    out[i] = m->ring[(m->head + skip + i) % m->capacity];
  pthread_mutex_unlock(&m->mu);
  return n;
}
