/*
 * test_metrics.c - the Prometheus registry of the server (metrics.h):
 * exact sample lines for counters, gauges and histogram buckets, sums and
 * counts after known updates; bounded label sets (unknown routes, methods,
 * statuses and stages fold into fixed values); lock-free counting from
 * several threads; and, when promtool (Debian package prometheus) is
 * installed, `promtool check metrics` accepting the rendered text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"
#include "orfeas.h"

/* Renders m with gauges g and returns the text (free() it). */
static char *render(orf_metrics *m, const orf_metrics_gauges *g) {
  char *text = NULL;
  size_t len = 0;
  assert_int_equal(orf_metrics_render(m, g, &text, &len), ORF_OK);
  assert_non_null(text);
  assert_int_equal(strlen(text), len);
  assert_true(len > 0 && text[len - 1] == '\n');
  return text;
}

/* Whether `line` is a whole line of text. */
static int has_line(const char *text, const char *line) {
  size_t n = strlen(line);
  for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
    if ((p == text || p[-1] == '\n') && p[n] == '\n') return 1;
  return 0;
}

static void expect_line(const char *text, const char *line) {
  if (!has_line(text, line)) fail_msg("missing line: %s\n---\n%s", line, text);
}

static void expect_no_line(const char *text, const char *line) {
  if (has_line(text, line)) fail_msg("unexpected line: %s", line);
}

/* Lines that start with `prefix`. */
static int count_prefix(const char *text, const char *prefix) {
  int n = 0;
  size_t k = strlen(prefix);
  for (const char *p = text; *p;) {
    if (strncmp(p, prefix, k) == 0) n++;
    const char *nl = strchr(p, '\n');
    if (!nl) break;
    p = nl + 1;
  }
  return n;
}

static void test_route_names(void **state) {
  (void)state;
  assert_string_equal(orf_route_name(ORF_ROUTE_HEALTH), "health");
  assert_string_equal(orf_route_name(ORF_ROUTE_GENERATE), "generate");
  assert_string_equal(orf_route_name(ORF_ROUTE_PROGRESSIVE), "progressive");
  assert_string_equal(orf_route_name(ORF_ROUTE_CACHE_CLEAR), "cache_clear");
  assert_string_equal(orf_route_name(ORF_ROUTE_OTHER), "other");
  assert_string_equal(orf_route_name((orf_route)999), "other");
  /* Every name distinct and a valid label value without escaping. */
  for (int a = 0; a < ORF_ROUTE_COUNT; a++) {
    const char *n = orf_route_name((orf_route)a);
    assert_true(strlen(n) > 0 && strspn(n, "abcdefghijklmnopqrstuvwxyz_") == strlen(n));
    for (int b = 0; b < a; b++)
      assert_string_not_equal(n, orf_route_name((orf_route)b));
  }
}

static void test_families_declared(void **state) {
  (void)state;
  orf_metrics *m = orf_metrics_create();
  assert_non_null(m);
  char *t = render(m, NULL);
  static const char *const fam[][2] = {
      {"http_requests_total", "counter"},
      {"http_request_duration_seconds", "histogram"},
      {"stage_duration_seconds", "histogram"},
      {"jobs_total", "counter"},
      {"connections_timed_out_total", "counter"},
      {"queue_depth", "gauge"},
      {"running_jobs", "gauge"},
      {"cache_hits_total", "counter"},
      {"cache_misses_total", "counter"},
      {"cache_evictions_total", "counter"},
      {"cache_coalesced_total", "counter"},
      {"cache_bytes", "gauge"},
      {"cache_entries", "gauge"},
      {"cache_disk_bytes", "gauge"},
      {"uptime_seconds", "gauge"},
      {"memory_budget_bytes", "gauge"},
      {"memory_in_use_bytes", "gauge"},
      {"memory_device_available_bytes", "gauge"},
  };
  for (size_t i = 0; i < sizeof fam / sizeof fam[0]; i++) {
    char line[160];
    snprintf(line, sizeof line, "# TYPE orfeas_%s %s", fam[i][0], fam[i][1]);
    expect_line(t, line);
    snprintf(line, sizeof line, "# HELP orfeas_%s ", fam[i][0]);
    assert_int_equal(count_prefix(t, line), 1);
  }
  /* Nothing counted yet: zero-valued fixed series, no request series. */
  assert_int_equal(count_prefix(t, "orfeas_http_requests_total{"), 0);
  expect_line(t, "orfeas_jobs_total{status=\"complete\"} 0");
  expect_line(t, "orfeas_connections_timed_out_total{phase=\"body\"} 0");
  expect_line(t, "orfeas_http_request_duration_seconds_bucket{route=\"health\",le=\"+Inf\"} 0");
  expect_line(t, "orfeas_http_request_duration_seconds_count{route=\"health\"} 0");
  expect_line(t, "orfeas_http_request_duration_seconds_sum{route=\"health\"} 0");
  expect_line(t, "orfeas_stage_duration_seconds_count{stage=\"final_optimized\"} 0");
  expect_line(t, "orfeas_uptime_seconds 0.000");
  free(t);
  orf_metrics_free(m);
}

static void test_counters_and_histograms(void **state) {
  (void)state;
  orf_metrics *m = orf_metrics_create();
  assert_non_null(m);
  orf_metrics_request(m, ORF_ROUTE_GENERATE, "POST", 200, 0.5);
  orf_metrics_request(m, ORF_ROUTE_GENERATE, "POST", 200, 1.25);
  orf_metrics_request(m, ORF_ROUTE_GENERATE, "POST", 422, 0.001); /* on the bound: le="0.001" */
  orf_metrics_request(m, ORF_ROUTE_GENERATE, "POST", 200, 100.0); /* past the last bound */
  orf_metrics_request(m, ORF_ROUTE_HEALTH, "GET", 200, 0.0002);
  orf_metrics_request(m, ORF_ROUTE_JOB_STATUS, "DELETE", 409, 0.003);
  orf_metrics_request(m, ORF_ROUTE_HEALTH, "HEAD", 200, 0.0002); /* method folds into OTHER */
  orf_metrics_request(m, ORF_ROUTE_HEALTH, "PATCH", 200, 0.0002);
  orf_metrics_request(m, (orf_route)77, "GET", 404, 0.0002);    /* route folds into other */
  orf_metrics_request(m, ORF_ROUTE_METRICS, "GET", 1234, -1.0); /* status folds into other; time 0 */
  orf_metrics_request(m, ORF_ROUTE_METRICS, NULL, 99, 0.0 / 0.0);
  orf_metrics_stage(m, 0, 0.004);
  orf_metrics_stage(m, 0, 0.02);
  orf_metrics_stage(m, 3, 12.0);
  orf_metrics_stage(m, 4, 1.0);  /* no such stage: ignored */
  orf_metrics_stage(m, -1, 1.0); /* ignored */
  orf_metrics_job(m, "complete");
  orf_metrics_job(m, "complete");
  orf_metrics_job(m, "failed");
  orf_metrics_job(m, "cancelled");
  orf_metrics_job(m, "exploded"); /* ignored */
  orf_metrics_timed_out(m, "headers");
  orf_metrics_timed_out(m, "body");
  orf_metrics_timed_out(m, "body");
  orf_metrics_timed_out(m, "response"); /* ignored */

  orf_metrics_gauges g = {.queue_depth = 3,
                          .running_jobs = 2,
                          .cache_hits = 10,
                          .cache_misses = 4,
                          .cache_evictions = 1,
                          .cache_coalesced = 9,
                          .cache_bytes = 123456789,
                          .cache_entries = 7,
                          .cache_disk_bytes = 5000000000ull,
                          .uptime_s = 12.5,
                          .budget_bytes = 8000000000ull,
                          .budget_in_use_bytes = 1500000000ull,
                          .device_available_bytes = 20000000000ull};
  char *t = render(m, &g);

  expect_line(t, "orfeas_http_requests_total{route=\"generate\",method=\"POST\",status=\"200\"} 3");
  expect_line(t, "orfeas_http_requests_total{route=\"generate\",method=\"POST\",status=\"422\"} 1");
  expect_line(t, "orfeas_http_requests_total{route=\"health\",method=\"GET\",status=\"200\"} 1");
  expect_line(t, "orfeas_http_requests_total{route=\"health\",method=\"OTHER\",status=\"200\"} 2");
  expect_line(t, "orfeas_http_requests_total{route=\"job_status\",method=\"DELETE\",status=\"409\"} 1");
  expect_line(t, "orfeas_http_requests_total{route=\"other\",method=\"GET\",status=\"404\"} 1");
  expect_line(t, "orfeas_http_requests_total{route=\"metrics\",method=\"GET\",status=\"other\"} 1");
  expect_line(t, "orfeas_http_requests_total{route=\"metrics\",method=\"OTHER\",status=\"other\"} 1");
  assert_int_equal(count_prefix(t, "orfeas_http_requests_total{"), 8);

  /* generate: 0.001, 0.5, 1.25, 100 -> cumulative buckets. */
  static const struct {
    const char *le;
    int n;
  } gen[] = {{"0.001", 1}, {"0.0025", 1}, {"0.005", 1}, {"0.01", 1}, {"0.025", 1}, {"0.05", 1},
             {"0.1", 1},   {"0.25", 1},   {"0.5", 2},   {"1", 2},    {"2.5", 3},   {"5", 3},
             {"10", 3},    {"30", 3},     {"60", 3},    {"+Inf", 4}};
  for (size_t i = 0; i < sizeof gen / sizeof gen[0]; i++) {
    char line[160];
    snprintf(line, sizeof line,
             "orfeas_http_request_duration_seconds_bucket{route=\"generate\",le=\"%s\"} %d", gen[i].le,
             gen[i].n);
    expect_line(t, line);
  }
  assert_int_equal(count_prefix(t, "orfeas_http_request_duration_seconds_bucket{route=\"generate\","), 16);
  expect_line(t, "orfeas_http_request_duration_seconds_sum{route=\"generate\"} 101.751");
  expect_line(t, "orfeas_http_request_duration_seconds_count{route=\"generate\"} 4");
  expect_line(t, "orfeas_http_request_duration_seconds_bucket{route=\"health\",le=\"0.001\"} 3");
  expect_line(t, "orfeas_http_request_duration_seconds_sum{route=\"health\"} 0.0006");
  expect_line(t, "orfeas_http_request_duration_seconds_bucket{route=\"job_status\",le=\"0.0025\"} 0");
  expect_line(t, "orfeas_http_request_duration_seconds_bucket{route=\"job_status\",le=\"0.005\"} 1");
  expect_line(t, "orfeas_http_request_duration_seconds_bucket{route=\"metrics\",le=\"0.001\"} 2");
  expect_line(t, "orfeas_http_request_duration_seconds_sum{route=\"metrics\"} 0");

  /* Stages: buckets 0.005 .. 10. */
  expect_line(t, "orfeas_stage_duration_seconds_bucket{stage=\"voxel_preview\",le=\"0.005\"} 1");
  expect_line(t, "orfeas_stage_duration_seconds_bucket{stage=\"voxel_preview\",le=\"0.01\"} 1");
  expect_line(t, "orfeas_stage_duration_seconds_bucket{stage=\"voxel_preview\",le=\"0.025\"} 2");
  expect_line(t, "orfeas_stage_duration_seconds_bucket{stage=\"voxel_preview\",le=\"+Inf\"} 2");
  expect_line(t, "orfeas_stage_duration_seconds_sum{stage=\"voxel_preview\"} 0.024");
  expect_line(t, "orfeas_stage_duration_seconds_count{stage=\"voxel_preview\"} 2");
  expect_line(t, "orfeas_stage_duration_seconds_bucket{stage=\"final_optimized\",le=\"10\"} 0");
  expect_line(t, "orfeas_stage_duration_seconds_bucket{stage=\"final_optimized\",le=\"+Inf\"} 1");
  expect_line(t, "orfeas_stage_duration_seconds_sum{stage=\"final_optimized\"} 12");
  expect_line(t, "orfeas_stage_duration_seconds_count{stage=\"rough_mesh\"} 0");
  assert_int_equal(count_prefix(t, "orfeas_stage_duration_seconds_bucket{stage=\"rough_mesh\","), 12);
  assert_int_equal(count_prefix(t, "orfeas_stage_duration_seconds_count{"), ORF_STAGE_COUNT);

  expect_line(t, "orfeas_connections_timed_out_total{phase=\"headers\"} 1");
  expect_line(t, "orfeas_connections_timed_out_total{phase=\"body\"} 2");
  assert_int_equal(count_prefix(t, "orfeas_connections_timed_out_total{"), 2);
  expect_line(t, "orfeas_jobs_total{status=\"complete\"} 2");
  expect_line(t, "orfeas_jobs_total{status=\"failed\"} 1");
  expect_line(t, "orfeas_jobs_total{status=\"cancelled\"} 1");
  assert_int_equal(count_prefix(t, "orfeas_jobs_total{"), 3);

  expect_line(t, "orfeas_queue_depth 3");
  expect_line(t, "orfeas_running_jobs 2");
  expect_line(t, "orfeas_cache_hits_total 10");
  expect_line(t, "orfeas_cache_misses_total 4");
  expect_line(t, "orfeas_cache_evictions_total 1");
  expect_line(t, "orfeas_cache_coalesced_total 9");
  expect_line(t, "orfeas_cache_bytes 123456789");
  expect_line(t, "orfeas_cache_entries 7");
  expect_line(t, "orfeas_cache_disk_bytes 5000000000");
  expect_line(t, "orfeas_uptime_seconds 12.500");
  expect_line(t, "orfeas_memory_budget_bytes 8000000000");
  expect_line(t, "orfeas_memory_in_use_bytes 1500000000");
  expect_line(t, "orfeas_memory_device_available_bytes 20000000000");
  expect_no_line(t, "orfeas_queue_depth 0");
  free(t);
  orf_metrics_free(m);
}

/* ---- concurrency -------------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 20000 };

static void *hammer(void *arg) {
  orf_metrics *m = arg;
  for (int i = 0; i < PER_THREAD; i++) {
    orf_metrics_request(m, ORF_ROUTE_RESULTS, "GET", 200, 0.002);
    orf_metrics_stage(m, 1, 0.5);
  }
  return NULL;
}

static void test_concurrent_updates(void **state) {
  (void)state;
  orf_metrics *m = orf_metrics_create();
  assert_non_null(m);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, hammer, m), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  char *t = render(m, NULL);
  char line[160];
  snprintf(line, sizeof line,
           "orfeas_http_requests_total{route=\"results\",method=\"GET\",status=\"200\"} %d",
           THREADS * PER_THREAD);
  expect_line(t, line);
  snprintf(line, sizeof line,
           "orfeas_http_request_duration_seconds_bucket{route=\"results\",le=\"0.0025\"} %d",
           THREADS * PER_THREAD);
  expect_line(t, line);
  expect_line(t, "orfeas_http_request_duration_seconds_sum{route=\"results\"} 160");
  expect_line(t, "orfeas_stage_duration_seconds_sum{stage=\"rough_mesh\"} 40000");
  snprintf(line, sizeof line, "orfeas_stage_duration_seconds_count{stage=\"rough_mesh\"} %d",
           THREADS * PER_THREAD);
  expect_line(t, line);
  free(t);
  orf_metrics_free(m);
}

/* ---- promtool ------------------------------------------------------------ */

#define PROMTOOL "/usr/bin/promtool"

/* Runs `promtool check metrics < text`; returns its exit status, or -1
 * when promtool is not installed. */
static int promtool_check(const char *text, char *output, size_t output_size) {
  if (access(PROMTOOL, X_OK) != 0) return -1;
  char in[] = "/tmp/orf_metrics_XXXXXX";
  int fd = mkstemp(in);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
  assert_int_equal(fclose(f), 0);
  char cmd[256];
  snprintf(cmd, sizeof cmd, PROMTOOL " check metrics < %s 2>&1", in);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t n = fread(output, 1, output_size - 1, p);
  output[n] = '\0';
  int st = pclose(p);
  unlink(in);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void test_promtool_accepts(void **state) {
  (void)state;
  orf_metrics *m = orf_metrics_create();
  assert_non_null(m);
  char out[4096];
  char *t = render(m, NULL); /* empty registry */
  int rc = promtool_check(t, out, sizeof out);
  free(t);
  if (rc == -1) {
    orf_metrics_free(m);
    skip(); /* promtool not installed (Debian package prometheus) */
  }
  if (rc != 0) fail_msg("promtool (empty registry) exit %d:\n%s", rc, out);

  for (int r = 0; r < ORF_ROUTE_COUNT; r++)
    orf_metrics_request(m, (orf_route)r, r % 2 ? "GET" : "POST", 200 + r, 0.01 * r);
  orf_metrics_request(m, ORF_ROUTE_OTHER, "BREW", 418, 3);
  orf_metrics_request(m, ORF_ROUTE_OTHER, "GET", 42, 3);
  for (int s = 0; s < ORF_STAGE_COUNT; s++)
    orf_metrics_stage(m, s, 0.3 * (s + 1));
  orf_metrics_job(m, "complete");
  orf_metrics_gauges g = {.queue_depth = 1, .cache_hits = 5, .cache_bytes = 1 << 20, .uptime_s = 99.25};
  t = render(m, &g);
  rc = promtool_check(t, out, sizeof out);
  if (rc != 0) fail_msg("promtool exit %d:\n%s\n---\n%s", rc, out, t);
  free(t);

  /* And it can fail: a counter without _total and without HELP is refused. */
  rc = promtool_check("# TYPE orfeas_bad counter\norfeas_bad 1\n", out, sizeof out);
  assert_int_not_equal(rc, 0);
  orf_metrics_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_route_names),
      cmocka_unit_test(test_families_declared),
      cmocka_unit_test(test_counters_and_histograms),
      cmocka_unit_test(test_concurrent_updates),
      cmocka_unit_test(test_promtool_accepts),
  };
  return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
