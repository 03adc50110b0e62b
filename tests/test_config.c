/*
 * test_config.c - `orfeas serve` options (config.h): defaults, ORFEAS_*
 * environment variables, options winning over variables, both option
 * forms (--name value, --name=value), every range edge of every numeric
 * option (from argv and from the environment), strict number syntax,
 * unknown options and missing values named in the message, and --help
 * listing every option with its variable and default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const char *const kEnv[] = {
    "ORFEAS_HOST",          "ORFEAS_PORT",         "ORFEAS_DATA_DIR",       "ORFEAS_WORKERS",
    "ORFEAS_QUEUE_MAX",     "ORFEAS_CACHE_MEM_MB", "ORFEAS_CACHE_DISK_MB",  "ORFEAS_CACHE_TTL",
    "ORFEAS_MAX_UPLOAD_MB", "ORFEAS_ADMIN_TOKEN",  "ORFEAS_ENGINE_THREADS", "ORFEAS_CONNECTION_TIMEOUT",
};
#define N_ENV (sizeof kEnv / sizeof kEnv[0])

static int clear_env(void **state) {
  (void)state;
  for (size_t i = 0; i < N_ENV; i++)
    unsetenv(kEnv[i]);
  return 0;
}

static int cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (int)n;
}

/* Parses argv (NULL-terminated list) with no help output. */
static int parse(orf_server_config *c, char *err, const char **args) {
  int argc = 0;
  while (args && args[argc])
    argc++;
  return orf_server_config_parse(c, argc, (char **)args, NULL, err, 256);
}

static int parse1(orf_server_config *c, char *err, const char *a) {
  const char *args[] = {a, NULL};
  return parse(c, err, args);
}

static int parse2(orf_server_config *c, char *err, const char *a, const char *b) {
  const char *args[] = {a, b, NULL};
  return parse(c, err, args);
}

static void test_defaults(void **state) {
  (void)state;
  orf_server_config c;
  char err[256] = "x";
  assert_int_equal(parse(&c, err, NULL), 0);
  assert_string_equal(err, "");
  assert_string_equal(c.host, "127.0.0.1");
  assert_int_equal(c.port, 5000);
  assert_string_equal(c.data_dir, "./orfeas-data");
  assert_int_equal(c.workers, 2);
  assert_int_equal(c.queue_max, 16);
  assert_int_equal(c.cache_mem_bytes, (size_t)256 << 20);
  assert_int_equal(c.cache_disk_bytes, (size_t)2048 << 20);
  assert_true(c.cache_ttl_s == 3600.0);
  assert_int_equal(c.max_upload_bytes, (size_t)50 << 20);
  assert_string_equal(c.admin_token, "");
  assert_int_equal(c.connection_timeout_s, 30);
  /* every default comes from the option table, the one --help prints: the
   * body rate was 0 while --help said 1024 when defaults were written twice */
  assert_true(c.min_upload_rate == 1024.0);
  assert_true(c.cache_scrub_mb_s == 4.0);
  assert_true(c.reserved_system_gb == 2.0 && c.reserved_cache_gb == 1.0);
  assert_true(c.monitor_interval_s == 5.0);
  assert_true(c.precision_fp32_gb == 10.0 && c.precision_fp16_gb == 6.0);
  assert_string_equal(c.device, "auto");
  assert_string_equal(c.precision, "auto");
  assert_int_equal(c.max_connections, 1024);
  assert_int_equal(c.max_connections_per_ip, 0);
  assert_true(c.rate_limit == 0.0);
  assert_int_equal(c.rate_burst, 20);
  assert_string_equal(c.web_root, "");
  assert_string_equal(c.cors_origin, "");
  assert_string_equal(c.sim_device, "");
  int expect = cores() / 2;
  assert_int_equal(c.engine_threads, expect < 1 ? 1 : expect);
}

static void test_engine_threads_follow_workers(void **state) {
  (void)state;
  orf_server_config c;
  char err[256];
  assert_int_equal(parse2(&c, err, "--workers", "1"), 0);
  assert_int_equal(c.engine_threads, cores());
  assert_int_equal(parse2(&c, err, "--workers", "64"), 0);
  assert_int_equal(c.engine_threads, cores() / 64 < 1 ? 1 : cores() / 64);
  setenv("ORFEAS_WORKERS", "1", 1);
  assert_int_equal(parse(&c, err, NULL), 0);
  assert_int_equal(c.engine_threads, cores());
  /* An explicit value wins over the formula. */
  assert_int_equal(parse2(&c, err, "--engine-threads", "7"), 0);
  assert_int_equal(c.engine_threads, 7);
  setenv("ORFEAS_ENGINE_THREADS", "5", 1);
  assert_int_equal(parse2(&c, err, "--workers", "64"), 0);
  assert_int_equal(c.engine_threads, 5);
}

static void test_environment(void **state) {
  (void)state;
  setenv("ORFEAS_HOST", "0.0.0.0", 1);
  setenv("ORFEAS_PORT", "8080", 1);
  setenv("ORFEAS_DATA_DIR", "/var/lib/orfeas", 1);
  setenv("ORFEAS_WORKERS", "4", 1);
  setenv("ORFEAS_QUEUE_MAX", "0", 1);
  setenv("ORFEAS_CACHE_MEM_MB", "10", 1);
  setenv("ORFEAS_CACHE_DISK_MB", "0", 1);
  setenv("ORFEAS_CACHE_TTL", "1.5", 1);
  setenv("ORFEAS_MAX_UPLOAD_MB", "3", 1);
  setenv("ORFEAS_ADMIN_TOKEN", "s3cret", 1);
  setenv("ORFEAS_ENGINE_THREADS", "9", 1);
  setenv("ORFEAS_CONNECTION_TIMEOUT", "120", 1);
  orf_server_config c;
  char err[256];
  assert_int_equal(parse(&c, err, NULL), 0);
  assert_string_equal(c.host, "0.0.0.0");
  assert_int_equal(c.port, 8080);
  assert_string_equal(c.data_dir, "/var/lib/orfeas");
  assert_int_equal(c.workers, 4);
  assert_int_equal(c.queue_max, 0);
  assert_int_equal(c.cache_mem_bytes, (size_t)10 << 20);
  assert_int_equal(c.cache_disk_bytes, 0);
  assert_true(c.cache_ttl_s == 1.5);
  assert_int_equal(c.max_upload_bytes, (size_t)3 << 20);
  assert_string_equal(c.admin_token, "s3cret");
  assert_int_equal(c.engine_threads, 9);
  assert_int_equal(c.connection_timeout_s, 120);

  /* An empty variable counts as unset. */
  setenv("ORFEAS_PORT", "", 1);
  assert_int_equal(parse(&c, err, NULL), 0);
  assert_int_equal(c.port, 5000);

  /* A bad variable is named. */
  setenv("ORFEAS_WORKERS", "lots", 1);
  assert_int_equal(parse(&c, err, NULL), -1);
  assert_non_null(strstr(err, "ORFEAS_WORKERS"));
}

static void test_option_beats_env(void **state) {
  (void)state;
  setenv("ORFEAS_PORT", "8080", 1);
  setenv("ORFEAS_HOST", "0.0.0.0", 1);
  setenv("ORFEAS_ADMIN_TOKEN", "from-env", 1);
  orf_server_config c;
  char err[256];
  const char *args[] = {"--port", "9090", "--host=::1", "--admin-token", "from-argv", NULL};
  assert_int_equal(parse(&c, err, args), 0);
  assert_int_equal(c.port, 9090);
  assert_string_equal(c.host, "::1");
  assert_string_equal(c.admin_token, "from-argv");
  /* The last occurrence wins. */
  const char *twice[] = {"--port=1", "--port", "2", NULL};
  assert_int_equal(parse(&c, err, twice), 0);
  assert_int_equal(c.port, 2);
}

static void test_equals_form(void **state) {
  (void)state;
  orf_server_config c;
  char err[256];
  const char *args[] = {"--workers=3",   "--queue-max=100",   "--cache-mem-mb=1",       "--cache-disk-mb=2",
                        "--cache-ttl=0", "--max-upload-mb=7", "--data-dir=/tmp/a=b",    "--engine-threads=2",
                        "--port=0",      "--admin-token=",    "--connection-timeout=1", NULL};
  assert_int_equal(parse(&c, err, args), 0);
  assert_int_equal(c.workers, 3);
  assert_int_equal(c.queue_max, 100);
  assert_int_equal(c.cache_mem_bytes, (size_t)1 << 20);
  assert_int_equal(c.cache_disk_bytes, (size_t)2 << 20);
  assert_true(c.cache_ttl_s == 0);
  assert_int_equal(c.max_upload_bytes, (size_t)7 << 20);
  assert_string_equal(c.data_dir, "/tmp/a=b"); /* only the first '=' splits */
  assert_int_equal(c.engine_threads, 2);
  assert_int_equal(c.port, 0);
  assert_string_equal(c.admin_token, "");
  assert_int_equal(c.connection_timeout_s, 1);
}

/* Every numeric option: min and max accepted (both forms, and through the
 * environment), min - 1 and max + 1 refused with a message naming it. */
static void test_range_edges(void **state) {
  (void)state;
  static const struct {
    const char *name, *env;
    long long min, max;
  } r[] = {
      {"port", "ORFEAS_PORT", 0, 65535},
      {"workers", "ORFEAS_WORKERS", 1, 64},
      {"queue-max", "ORFEAS_QUEUE_MAX", 0, 100000},
      {"cache-mem-mb", "ORFEAS_CACHE_MEM_MB", 0, 1048576},
      {"cache-disk-mb", "ORFEAS_CACHE_DISK_MB", 0, 16777216},
      {"cache-ttl", "ORFEAS_CACHE_TTL", 0, 31536000},
      {"max-upload-mb", "ORFEAS_MAX_UPLOAD_MB", 1, 1024},
      {"engine-threads", "ORFEAS_ENGINE_THREADS", 1, 256},
      {"connection-timeout", "ORFEAS_CONNECTION_TIMEOUT", 1, 3600},
  };
  orf_server_config c;
  char err[256], opt[64], val[32], eq[96];
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
    snprintf(opt, sizeof opt, "--%s", r[i].name);
    long long ok[2] = {r[i].min, r[i].max}, bad[2] = {r[i].min - 1, r[i].max + 1};
    for (int k = 0; k < 2; k++) {
      snprintf(val, sizeof val, "%lld", ok[k]);
      if (parse2(&c, err, opt, val) != 0) fail_msg("%s %s refused: %s", opt, val, err);
      snprintf(eq, sizeof eq, "%s=%s", opt, val);
      if (parse1(&c, err, eq) != 0) fail_msg("%s refused: %s", eq, err);
      setenv(r[i].env, val, 1);
      if (parse(&c, err, NULL) != 0) fail_msg("%s=%s refused: %s", r[i].env, val, err);
      unsetenv(r[i].env);

      snprintf(val, sizeof val, "%lld", bad[k]);
      err[0] = '\0';
      if (parse2(&c, err, opt, val) != -1) fail_msg("%s %s accepted", opt, val);
      if (!strstr(err, opt) || !strstr(err, "range")) fail_msg("message for %s %s: '%s'", opt, val, err);
      setenv(r[i].env, val, 1);
      err[0] = '\0';
      if (parse(&c, err, NULL) != -1) fail_msg("%s=%s accepted", r[i].env, val);
      if (!strstr(err, r[i].env)) fail_msg("message for %s=%s: '%s'", r[i].env, val, err);
      unsetenv(r[i].env);
    }
  }
  /* The values land in the fields, scaled where they are MiB. */
  assert_int_equal(parse2(&c, err, "--cache-disk-mb", "16777216"), 0);
  assert_int_equal(c.cache_disk_bytes, (size_t)16777216 << 20);
  assert_int_equal(parse2(&c, err, "--port", "65535"), 0);
  assert_int_equal(c.port, 65535);
  assert_int_equal(parse2(&c, err, "--cache-ttl", "31536000"), 0);
  assert_true(c.cache_ttl_s == 31536000.0);
  assert_int_equal(parse2(&c, err, "--cache-ttl", "31536000.5"), -1);
}

static void test_strict_numbers(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",    " 5",  "5 ", "+5", "0x10", "1e3", "5.0", "12abc", "abc", "-", "99999999999999999999999",
      "5\n", "--1", "1.", NULL};
  orf_server_config c;
  char err[256];
  for (int i = 0; bad[i]; i++) {
    err[0] = '\0';
    if (parse2(&c, err, "--workers", bad[i]) != -1) fail_msg("--workers '%s' accepted", bad[i]);
    assert_non_null(strstr(err, "--workers"));
  }
  /* The TTL takes a decimal fraction, but no other syntax. */
  assert_int_equal(parse2(&c, err, "--cache-ttl", "0.25"), 0);
  assert_true(c.cache_ttl_s == 0.25);
  static const char *const bad_ttl[] = {"1.", ".5", "1e2", "inf", "nan", "1,5", "-0.5", NULL};
  for (int i = 0; bad_ttl[i]; i++) {
    if (parse2(&c, err, "--cache-ttl", bad_ttl[i]) != -1) fail_msg("--cache-ttl '%s' accepted", bad_ttl[i]);
    assert_non_null(strstr(err, "--cache-ttl"));
  }
  /* A defaulted config after an error still holds sane values. */
  assert_int_equal(parse2(&c, err, "--port", "x"), -1);
  assert_int_equal(c.port, 5000);
}

static void test_strings(void **state) {
  (void)state;
  orf_server_config c;
  char err[256];
  char big[5000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(parse2(&c, err, "--data-dir", big), -1);
  assert_non_null(strstr(err, "--data-dir"));
  big[4095] = '\0'; /* 4095 bytes: fits data_dir[4096] */
  assert_int_equal(parse2(&c, err, "--data-dir", big), 0);
  assert_int_equal(strlen(c.data_dir), 4095);
  big[256] = '\0';
  assert_int_equal(parse2(&c, err, "--host", big), -1);
  assert_non_null(strstr(err, "--host"));
  assert_int_equal(parse2(&c, err, "--admin-token", big), -1);
  assert_non_null(strstr(err, "--admin-token"));
  big[255] = '\0';
  assert_int_equal(parse2(&c, err, "--admin-token", big), 0);
  assert_int_equal(strlen(c.admin_token), 255);
  assert_int_equal(parse2(&c, err, "--host", ""), -1);
  assert_non_null(strstr(err, "--host"));
}

static void test_unknown_and_missing(void **state) {
  (void)state;
  orf_server_config c;
  char err[256];
  assert_int_equal(parse2(&c, err, "--prot", "5000"), -1);
  assert_non_null(strstr(err, "--prot"));
  assert_int_equal(parse1(&c, err, "--port"), -1);
  assert_non_null(strstr(err, "--port"));
  assert_non_null(strstr(err, "value"));
  assert_int_equal(parse1(&c, err, "-p"), -1);
  assert_non_null(strstr(err, "-p"));
  assert_int_equal(parse1(&c, err, "stray"), -1);
  assert_non_null(strstr(err, "stray"));
  assert_int_equal(parse1(&c, err, "--"), -1);
  assert_int_equal(parse1(&c, err, "--=5"), -1);
  assert_int_equal(parse1(&c, err, "--port5000"), -1);
  assert_non_null(strstr(err, "--port5000"));
  /* The first error is the one reported. */
  const char *two[] = {"--bogus", "--workers", "0", NULL};
  assert_int_equal(parse(&c, err, two), -1);
  assert_non_null(strstr(err, "--bogus"));
  assert_null(strstr(err, "--workers"));
  /* A NULL/short err buffer is fine. */
  const char *args[] = {"--nope", NULL};
  assert_int_equal(orf_server_config_parse(&c, 1, (char **)args, NULL, NULL, 0), -1);
  char tiny[4];
  assert_int_equal(orf_server_config_parse(&c, 1, (char **)args, NULL, tiny, sizeof tiny), -1);
  assert_int_equal(strlen(tiny), 3);
}

static void test_help(void **state) {
  (void)state;
  static const char *const opts[][3] = {
      {"--host", "ORFEAS_HOST", "127.0.0.1"},
      {"--port", "ORFEAS_PORT", "5000"},
      {"--data-dir", "ORFEAS_DATA_DIR", "./orfeas-data"},
      {"--workers", "ORFEAS_WORKERS", "2"},
      {"--queue-max", "ORFEAS_QUEUE_MAX", "16"},
      {"--cache-mem-mb", "ORFEAS_CACHE_MEM_MB", "256"},
      {"--cache-disk-mb", "ORFEAS_CACHE_DISK_MB", "2048"},
      {"--cache-ttl", "ORFEAS_CACHE_TTL", "3600"},
      {"--max-upload-mb", "ORFEAS_MAX_UPLOAD_MB", "50"},
      {"--admin-token", "ORFEAS_ADMIN_TOKEN", "none"},
      {"--engine-threads", "ORFEAS_ENGINE_THREADS", "cores / workers"},
      {"--connection-timeout", "ORFEAS_CONNECTION_TIMEOUT", "30"},
  };
  char *buf = NULL;
  size_t size = 0;
  FILE *out = open_memstream(&buf, &size);
  assert_non_null(out);
  orf_server_config c;
  char err[256];
  const char *args[] = {"--port", "1", "--help", NULL};
  assert_int_equal(orf_server_config_parse(&c, 3, (char **)args, out, err, sizeof err), 1);
  fclose(out);
  /* Each option on its own line, with its variable and its default. */
  for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
    char key[64];
    snprintf(key, sizeof key, "  %s ", opts[i][0]);
    const char *line = strstr(buf, key);
    if (!line) fail_msg("--help lacks %s:\n%s", opts[i][0], buf);
    const char *eol = strchr(line, '\n');
    assert_non_null(eol);
    char one[512];
    snprintf(one, sizeof one, "%.*s", (int)(eol - line), line);
    if (!strstr(one, opts[i][1]) || !strstr(one, opts[i][2])) fail_msg("--help line: %s", one);
  }
  free(buf);

  /* --help wins over a bad option, -h works too, output may be NULL. */
  const char *bad[] = {"--bogus", "-h", NULL};
  assert_int_equal(orf_server_config_parse(&c, 2, (char **)bad, NULL, err, sizeof err), 1);
}

/* The options of issue 7: limits, CORS and --allow-root, a flag that
 * takes no value (or =0/=1), also from ORFEAS_ALLOW_ROOT. */
static void test_hardening_options(void **state) {
  (void)state;
  static const char *const vars[] = {"ORFEAS_MAX_CONNECTIONS", "ORFEAS_MAX_CONNECTIONS_PER_IP",
                                     "ORFEAS_RATE_LIMIT",      "ORFEAS_RATE_BURST",
                                     "ORFEAS_CORS_ORIGIN",     "ORFEAS_ALLOW_ROOT"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    unsetenv(vars[i]);
  orf_server_config c;
  char err[256];
  assert_int_equal(parse(&c, err, NULL), 0);
  assert_int_equal(c.max_connections, 1024);
  assert_int_equal(c.max_connections_per_ip, 0);
  assert_true(c.rate_limit == 0);
  assert_int_equal(c.rate_burst, 20);
  assert_string_equal(c.cors_origin, "");
  const char *args[] = {"--allow-root",
                        "--rate-limit",
                        "2.5",
                        "--rate-burst=7",
                        "--max-connections",
                        "9",
                        "--max-connections-per-ip",
                        "3",
                        "--cors-origin",
                        "https://a.example",
                        NULL};
  assert_int_equal(parse(&c, err, args), 0);
  assert_int_equal(c.allow_root, 1);
  assert_true(c.rate_limit == 2.5);
  assert_int_equal(c.rate_burst, 7);
  assert_int_equal(c.max_connections, 9);
  assert_int_equal(c.max_connections_per_ip, 3);
  assert_string_equal(c.cors_origin, "https://a.example");
  /* a flag does not swallow the next argument */
  assert_int_equal(parse2(&c, err, "--allow-root", "--port=7"), 0);
  assert_int_equal(c.allow_root, 1);
  assert_int_equal(c.port, 7);
  assert_int_equal(parse1(&c, err, "--allow-root=0"), 0);
  assert_int_equal(parse1(&c, err, "--allow-root=2"), -1);
  assert_non_null(strstr(err, "--allow-root"));
  assert_int_equal(parse1(&c, err, "--rate-burst=0"), -1);
  assert_int_equal(parse1(&c, err, "--max-connections=0"), -1);
  setenv("ORFEAS_ALLOW_ROOT", "1", 1);
  assert_int_equal(parse(&c, err, NULL), 0);
  assert_int_equal(c.allow_root, 1);
  setenv("ORFEAS_ALLOW_ROOT", "yes", 1);
  assert_int_equal(parse(&c, err, NULL), -1);
  assert_non_null(strstr(err, "ORFEAS_ALLOW_ROOT"));
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    unsetenv(vars[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_defaults, clear_env),
      cmocka_unit_test_setup(test_engine_threads_follow_workers, clear_env),
      cmocka_unit_test_setup(test_environment, clear_env),
      cmocka_unit_test_setup(test_option_beats_env, clear_env),
      cmocka_unit_test_setup(test_equals_form, clear_env),
      cmocka_unit_test_setup(test_range_edges, clear_env),
      cmocka_unit_test_setup(test_strict_numbers, clear_env),
      cmocka_unit_test_setup(test_strings, clear_env),
      cmocka_unit_test_setup(test_unknown_and_missing, clear_env),
      cmocka_unit_test_setup(test_help, clear_env),
      cmocka_unit_test_setup(test_hardening_options, clear_env),
  };
  return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
