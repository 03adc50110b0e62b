/*
 * test_monitor.c - the memory monitor (src/server/memory/monitor.h): arguments
 * are checked; the first sample is taken before start returns; the ring
 * keeps the last `capacity` points oldest first with increasing times and
 * the budget callback's figures; the latest snapshot is the sources';
 * memory_pressure warnings fire once per upward crossing of 80% and 90%
 * and re-arm below; stop wakes the thread at once even with a long
 * interval; allocation failures in start give ORF_ENOMEM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "log.h"
#include "memory/memsource.h"
#include "memory/monitor.h"
#include "orfeas.h"

#define GB 1073741824.0

/* ---- helpers --------------------------------------------------------- */

/* The budget the callback reports: set by the test, read on the monitor's
 * thread. */
typedef struct budget {
  pthread_mutex_t mu;
  double in_use, total;
  int calls;
} budget;

static void budget_init(budget *b, double in_use_gb, double total_gb) {
  pthread_mutex_init(&b->mu, NULL);
  b->in_use = in_use_gb * GB;
  b->total = total_gb * GB;
  b->calls = 0;
}

static void budget_set(budget *b, double in_use_gb) {
  pthread_mutex_lock(&b->mu);
  b->in_use = in_use_gb * GB;
  pthread_mutex_unlock(&b->mu);
}

static int budget_calls(budget *b) {
  pthread_mutex_lock(&b->mu);
  int n = b->calls;
  pthread_mutex_unlock(&b->mu);
  return n;
}

static void read_budget(void *ctx, double *in_use_bytes, double *budget_bytes) {
  budget *b = ctx;
  pthread_mutex_lock(&b->mu);
  *in_use_bytes = b->in_use;
  *budget_bytes = b->total;
  b->calls++;
  pthread_mutex_unlock(&b->mu);
}

static double now_s(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static orf_memsources *open_sim(void) {
  orf_memsources *src = NULL;
  char err[128];
  assert_int_equal(orf_memsources_open(&src, "H100-sim:80:8", err, sizeof err), ORF_OK);
  return src;
}

/* Waits (up to 10 s) until the newest `n` points all show in_use_gb. */
static void wait_for_samples(orf_monitor *m, double in_use_gb, size_t n) {
  orf_mem_point p[64];
  double deadline = now_s(CLOCK_MONOTONIC) + 10;
  for (;;) {
    size_t got = orf_monitor_history(m, p, n);
    size_t same = 0;
    for (size_t i = 0; i < got; i++)
      same += p[i].in_use_gb == in_use_gb;
    if (got == n && same == n) return;
    if (now_s(CLOCK_MONOTONIC) > deadline) fail_msg("no %zu samples at %.1f GB in 10 s", n, in_use_gb);
    sleep_s(0.005);
  }
}

/* Log lines go to a temporary file while `fd` is set. */
typedef struct sink {
  char path[64];
  int fd;
} sink;

static void sink_open(sink *s) {
  strcpy(s->path, "/tmp/orf_monlog_XXXXXX");
  int fd = mkstemp(s->path);
  assert_true(fd >= 0);
  close(fd);
  s->fd = open(s->path, O_WRONLY | O_APPEND);
  assert_true(s->fd >= 0);
  orf_log_set_fd(s->fd);
}

static void sink_close(sink *s) {
  orf_log_set_fd(2);
  close(s->fd);
  unlink(s->path);
}

/* The threshold_percent of every memory_pressure line logged so far, in
 * order, into out (at most max); returns how many.  Every line must be a
 * JSON object, and each memory_pressure event a "warn". */
static size_t pressure_events(sink *s, int *out, size_t max) {
  FILE *f = fopen(s->path, "r");
  assert_non_null(f);
  char line[4096];
  size_t n = 0;
  while (fgets(line, sizeof line, f)) {
    json_error_t e;
    json_t *o = json_loads(line, 0, &e);
    if (!o) fail_msg("log line is not JSON: %s", line);
    const char *event = json_string_value(json_object_get(o, "event"));
    if (event && strcmp(event, "memory_pressure") == 0) {
      assert_string_equal(json_string_value(json_object_get(o, "level")), "warn");
      assert_true(json_is_number(json_object_get(o, "usage_percent")));
      assert_true(json_is_number(json_object_get(o, "budget_gb")));
      assert_true(json_is_number(json_object_get(o, "in_use_gb")));
      if (n < max) out[n] = (int)json_integer_value(json_object_get(o, "threshold_percent"));
      n++;
    }
    json_decref(o);
  }
  fclose(f);
  return n;
}

/* ---- tests ----------------------------------------------------------- */

static void test_bad_arguments(void **state) {
  (void)state;
  orf_memsources *src = open_sim();
  budget b;
  budget_init(&b, 0, 10);
  orf_monitor *m = (orf_monitor *)&b;
  assert_int_equal(orf_monitor_start(&m, NULL, read_budget, &b, 1, 4), ORF_EINVAL);
  assert_null(m);
  assert_int_equal(orf_monitor_start(&m, src, NULL, &b, 1, 4), ORF_EINVAL);
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, 0, 4), ORF_EINVAL);
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, -1, 4), ORF_EINVAL);
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, 0.0 / 0.0, 4), ORF_EINVAL);
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, 1.0 / 0.0, 4), ORF_EINVAL);
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, 1e9, 4), ORF_EINVAL);
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, 1, 0), ORF_EINVAL);
  assert_int_equal(orf_monitor_start(NULL, src, read_budget, &b, 1, 4), ORF_EINVAL);
  assert_null(m);
  assert_int_equal(budget_calls(&b), 0);
  orf_monitor_stop(NULL);
  orf_memsources_close(src);
}

/* The first sample is in place when start returns; the latest snapshot is
 * the sources'. */
static void test_first_sample(void **state) {
  (void)state;
  orf_memsources *src = open_sim();
  budget b;
  budget_init(&b, 3, 10);
  orf_monitor *m = NULL;
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, 10, 8), ORF_OK);
  assert_int_equal(budget_calls(&b), 1);
  orf_mem_point p[8];
  assert_int_equal(orf_monitor_history(m, p, 8), 1);
  assert_true(p[0].in_use_gb == 3);
  assert_true(p[0].available_gb == 7);
  double now = now_s(CLOCK_REALTIME);
  assert_true(p[0].t <= now && p[0].t > now - 60);
  orf_mem_snapshot s;
  orf_monitor_latest(m, &s);
  assert_int_equal(s.gpu_available, 1);
  assert_string_equal(s.gpu[0].name, "H100-sim");
  assert_true(s.gpu[0].total_gb == 80);
  assert_true(s.host_total_gb > 0);
  assert_int_equal(orf_monitor_history(m, p, 0), 0);
  orf_monitor_stop(m);
  orf_memsources_close(src);
}

/* Interval 0.05 s, capacity 5: after 0.4 s (about 9 samples) the history
 * holds the last 5, oldest first, with the callback's figures; a smaller
 * max gives the newest points. */
static void test_ring(void **state) {
  (void)state;
  orf_memsources *src = open_sim();
  budget b;
  budget_init(&b, 2.5, 10);
  orf_monitor *m = NULL;
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, 0.05, 5), ORF_OK);
  sleep_s(0.4);
  int calls = budget_calls(&b);
  assert_true(calls >= 5);
  budget_set(&b, 4); /* the points after it show it */
  while (budget_calls(&b) < calls + 2)
    sleep_s(0.01);
  orf_mem_point p[10], q[2];
  size_t n = orf_monitor_history(m, p, 10);
  size_t k = orf_monitor_history(m, q, 2);
  orf_monitor_stop(m);
  assert_int_equal(n, 5);
  assert_int_equal(k, 2);
  for (size_t i = 1; i < n; i++)
    assert_true(p[i].t > p[i - 1].t);
  for (size_t i = 0; i < n; i++) {
    assert_true(p[i].in_use_gb == 2.5 || p[i].in_use_gb == 4);
    assert_true(p[i].in_use_gb + p[i].available_gb == 10);
  }
  assert_true(p[4].in_use_gb == 4);
  /* the two newest; stopped monitors take no more samples, but q was read
   * before stop and may be one sample newer than p */
  assert_true(q[0].t >= p[3].t);
  assert_true(q[1].t > q[0].t);
  orf_memsources_close(src);
}

/* in_use at 85%, 95%, 50%, 95% of the budget (several samples each):
 * warnings at 80, at 90, none, at 90 - once per crossing. */
static void test_pressure_warnings(void **state) {
  (void)state;
  sink s;
  sink_open(&s);
  orf_memsources *src = open_sim();
  budget b;
  budget_init(&b, 0, 100);
  orf_monitor *m = NULL;
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, 0.01, 64), ORF_OK);
  int ev[8];
  static const double steps[] = {85, 95, 50, 95, 79.9};
  static const size_t expect_after[] = {1, 2, 2, 3, 3};
  for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
    budget_set(&b, steps[i]);
    wait_for_samples(m, steps[i], 4);
    assert_int_equal(pressure_events(&s, ev, 8), expect_after[i]);
  }
  orf_monitor_stop(m);
  assert_int_equal(pressure_events(&s, ev, 8), 3);
  assert_int_equal(ev[0], 80);
  assert_int_equal(ev[1], 90);
  assert_int_equal(ev[2], 90);

  /* the first sample, in start, warns too; a zero budget never does */
  budget high, zero;
  budget_init(&high, 92, 100);
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &high, 10, 4), ORF_OK);
  assert_int_equal(pressure_events(&s, ev, 8), 4);
  assert_int_equal(ev[3], 90);
  orf_monitor_stop(m);
  budget_init(&zero, 5, 0);
  assert_int_equal(orf_monitor_start(&m, src, read_budget, &zero, 10, 4), ORF_OK);
  orf_monitor_stop(m);
  assert_int_equal(pressure_events(&s, ev, 8), 4);
  sink_close(&s);
  orf_memsources_close(src);
}

/* Stop wakes the thread: with a 10 s interval it returns at once (bound
 * 2 s, for slow sanitizer builds: a correctness bound, not a benchmark). */
static void test_stop_is_prompt(void **state) {
  (void)state;
  orf_memsources *src = open_sim();
  budget b;
  budget_init(&b, 1, 10);
  for (int i = 0; i < 3; i++) {
    orf_monitor *m = NULL;
    assert_int_equal(orf_monitor_start(&m, src, read_budget, &b, 10, 4), ORF_OK);
    sleep_s(0.05 * i);
    double t0 = now_s(CLOCK_MONOTONIC);
    orf_monitor_stop(m);
    double took = now_s(CLOCK_MONOTONIC) - t0;
    if (took >= 2.0) fail_msg("stop took %.3f s", took);
  }
  assert_int_equal(budget_calls(&b), 3); /* only the first samples */
  orf_memsources_close(src);
}

/* Failing the Nth allocation of start gives ORF_ENOMEM with nothing set
 * and nothing kept, until start succeeds. */
static void test_start_alloc_failure(void **state) {
  (void)state;
  orf_memsources *src = open_sim();
  budget b;
  budget_init(&b, 1, 10);
  int saw_enomem = 0, started = 0;
  for (long n = 1; n < 10 && !started; n++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, n);
    orf_memtrack *old = orf_memtrack_set(&t);
    orf_monitor *m = NULL;
    int rc = orf_monitor_start(&m, src, read_budget, &b, 10, 16);
    if (rc == ORF_ENOMEM) {
      saw_enomem = 1;
      assert_null(m);
      assert_int_equal(atomic_load(&t.current), 0);
    } else {
      assert_int_equal(rc, ORF_OK);
      orf_monitor_stop(m);
      assert_int_equal(atomic_load(&t.current), 0);
      started = 1;
    }
    orf_memtrack_set(old);
  }
  assert_true(saw_enomem);
  assert_true(started);
  orf_memsources_close(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_arguments),  cmocka_unit_test(test_first_sample),
      cmocka_unit_test(test_ring),           cmocka_unit_test(test_pressure_warnings),
      cmocka_unit_test(test_stop_is_prompt), cmocka_unit_test(test_start_alloc_failure),
  };
  return cmocka_run_group_tests_name("monitor", tests, NULL, NULL);
}
