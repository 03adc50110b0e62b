/*
 * test_log.c - structured logs (log.h): every line parses as one JSON
 * object (jansson) with its fields, strings that need escaping (quotes,
 * backslashes, newlines, control characters, UTF-8, invalid UTF-8) come
 * back as they went in (invalid bytes as U+FFFD), the timestamp is ISO 8601
 * UTC with milliseconds, over-long values are cut without breaking the
 * line, four threads logging at once produce whole lines only, and request
 * ids are 32 distinct hex digits.
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

#include "log.h"

/* Logging goes to a fresh temporary file (O_APPEND) for each test. */
typedef struct sink {
  char path[64];
  int fd;
} sink;

static int sink_open(void **state) {
  sink *s = calloc(1, sizeof *s);
  if (!s) return -1;
  strcpy(s->path, "/tmp/orf_log_XXXXXX");
  int fd = mkstemp(s->path);
  if (fd < 0) return -1;
  close(fd);
  s->fd = open(s->path, O_WRONLY | O_APPEND);
  if (s->fd < 0) return -1;
  orf_log_set_fd(s->fd);
  *state = s;
  return 0;
}

static int sink_close(void **state) {
  sink *s = *state;
  orf_log_set_fd(2);
  close(s->fd);
  unlink(s->path);
  free(s);
  return 0;
}

/* The lines logged so far, each parsed; *n gets their count.  Fails the
 * test on a line that is not a JSON object. */
static json_t **read_lines(sink *s, size_t *n) {
  FILE *f = fopen(s->path, "r");
  assert_non_null(f);
  json_t **out = NULL;
  size_t count = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    if (len == 0 || line[len - 1] != '\n') fail_msg("unterminated line: %s", line);
    json_error_t e;
    json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &e);
    if (!j || !json_is_object(j)) fail_msg("line %zu is not a JSON object (%s): %s", count + 1, e.text, line);
    out = realloc(out, (count + 1) * sizeof *out);
    assert_non_null(out);
    out[count++] = j;
  }
  free(line);
  fclose(f);
  *n = count;
  return out;
}

static void free_lines(json_t **lines, size_t n) {
  for (size_t i = 0; i < n; i++)
    json_decref(lines[i]);
  free(lines);
}

static const char *str(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!json_is_string(v)) fail_msg("field %s missing or not a string", key);
  return json_string_value(v);
}

/* "2026-11-27T00:00:00.123Z", within a minute of now. */
static void check_ts(const char *ts) {
  assert_int_equal(strlen(ts), 24);
  int y, mo, d, h, mi, sec, ms;
  char z;
  assert_int_equal(sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &y, &mo, &d, &h, &mi, &sec, &ms, &z), 8);
  assert_int_equal(z, 'Z');
  assert_true(ts[4] == '-' && ts[7] == '-' && ts[10] == 'T' && ts[13] == ':' && ts[16] == ':' &&
              ts[19] == '.');
  struct tm tm = {
      .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
  time_t t = timegm(&tm);
  assert_true(labs((long)(t - time(NULL))) < 60);
}

static void test_event_fields(void **state) {
  sink *s = *state;
  orf_log_event("info", "listening", "\"port\":5000,\"host\":\"127.0.0.1\"");
  orf_log_event("warn", "no_fields", NULL);
  orf_log_event(NULL, "empty_fields", "");
  size_t n;
  json_t **l = read_lines(s, &n);
  assert_int_equal(n, 3);
  check_ts(str(l[0], "ts"));
  assert_string_equal(str(l[0], "level"), "info");
  assert_string_equal(str(l[0], "event"), "listening");
  assert_int_equal(json_integer_value(json_object_get(l[0], "port")), 5000);
  assert_string_equal(str(l[0], "host"), "127.0.0.1");
  assert_int_equal(json_object_size(l[0]), 5);
  assert_string_equal(str(l[1], "level"), "warn");
  assert_int_equal(json_object_size(l[1]), 3);
  assert_string_equal(str(l[2], "level"), "info");
  assert_string_equal(str(l[2], "event"), "empty_fields");
  /* The first key is the timestamp (jansson keeps insertion order). */
  assert_string_equal(json_object_iter_key(json_object_iter(l[1])), "ts");
  free_lines(l, n);
}

static void test_access_fields(void **state) {
  sink *s = *state;
  orf_log_access("0123456789abcdef0123456789abcdef", "POST", "generate", "/api/v1/generate?quality=3", 200,
                 1234, 12.3456);
  orf_log_access(NULL, "GET", "other", "/x", 404, 0, 0.0 / 0.0);
  size_t n;
  json_t **l = read_lines(s, &n);
  assert_int_equal(n, 2);
  check_ts(str(l[0], "ts"));
  assert_string_equal(str(l[0], "level"), "info");
  assert_string_equal(str(l[0], "event"), "access");
  assert_string_equal(str(l[0], "request_id"), "0123456789abcdef0123456789abcdef");
  assert_string_equal(str(l[0], "method"), "POST");
  assert_string_equal(str(l[0], "route"), "generate");
  assert_string_equal(str(l[0], "path"), "/api/v1/generate?quality=3");
  assert_int_equal(json_integer_value(json_object_get(l[0], "status")), 200);
  assert_int_equal(json_integer_value(json_object_get(l[0], "bytes")), 1234);
  assert_true(json_is_real(json_object_get(l[0], "duration_ms")));
  assert_float_equal(json_real_value(json_object_get(l[0], "duration_ms")), 12.346, 1e-9);
  assert_true(json_is_null(json_object_get(l[1], "request_id")));
  assert_float_equal(json_number_value(json_object_get(l[1], "duration_ms")), 0, 0);
  free_lines(l, n);
}

static void test_escaping(void **state) {
  sink *s = *state;
  static const char *const values[] = {
      "say \"hi\"",
      "back\\slash",
      "two\nlines\r\n",
      "tab\there",
      "\x01\x02\x1f\x7f bell\a",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", /* café € 😀 */
      "</script>",
      "{\"injected\":1}",
      "",
  };
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
    orf_log_access(values[i], values[i], values[i], values[i], 200, i, 1);
  orf_log_event(values[0], values[2], NULL);
  size_t n;
  json_t **l = read_lines(s, &n);
  assert_int_equal(n, sizeof values / sizeof values[0] + 1);
  for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
    assert_string_equal(str(l[i], "request_id"), values[i]);
    assert_string_equal(str(l[i], "method"), values[i]);
    assert_string_equal(str(l[i], "route"), values[i]);
    assert_string_equal(str(l[i], "path"), values[i]);
    assert_int_equal(json_integer_value(json_object_get(l[i], "bytes")), i);
  }
  assert_string_equal(str(l[n - 1], "level"), values[0]);
  assert_string_equal(str(l[n - 1], "event"), values[2]);
  free_lines(l, n);
}

/* Bytes that are not UTF-8 become U+FFFD; the valid ones around survive. */
static void test_invalid_utf8(void **state) {
  sink *s = *state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"a\xff"
       "b",
       "a\xef\xbf\xbd"
       "b"},
      {"\xc3", "\xef\xbf\xbd"},                                                   /* cut sequence */
      {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},                                   /* overlong '/' */
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},                   /* surrogate */
      {"\xf4\x90\x80\x80x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx"}, /* past U+10FFFF */
      {"ok\xc3\xa9\x80", "ok\xc3\xa9\xef\xbf\xbd"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    orf_log_access("id", "GET", "other", cases[i].in, 400, 0, 0);
  size_t n;
  json_t **l = read_lines(s, &n);
  assert_int_equal(n, sizeof cases / sizeof cases[0]);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(str(l[i], "path"), cases[i].out);
  free_lines(l, n);
}

/* Over-long values are cut (names to 128 bytes, paths to 2048) without
 * disturbing the fields after them; fields that do not fit are left out
 * and flagged; control characters in fields cannot split the line. */
static void test_long_values(void **state) {
  sink *s = *state;
  size_t big = 20000;
  char *v = malloc(big + 1);
  assert_non_null(v);
  for (size_t i = 0; i < big; i++)
    v[i] = i % 7 == 0 ? '"' : (char)('a' + i % 26);
  v[big] = '\0';
  orf_log_access(v, "GET", "other", v, 414, 0, 1);
  orf_log_event("info", v, NULL);
  /* Multi-byte characters are cut at a boundary. */
  for (size_t i = 0; i + 4 <= big; i += 4)
    memcpy(v + i, "\xf0\x9f\x98\x80", 4);
  orf_log_access("id", "GET", "other", v, 414, 0, 1);
  /* "blob":"xxx...x" of 20000 bytes */
  char *fields = malloc(big + 1);
  assert_non_null(fields);
  memset(fields, 'x', big);
  memcpy(fields, "\"blob\":\"", 8);
  fields[big - 1] = '"';
  fields[big] = '\0';
  orf_log_event("info", "big_fields", fields);
  orf_log_event("info", "newline_fields", "\"a\":1,\n\"b\":\"x\ny\"");
  size_t n;
  json_t **l = read_lines(s, &n);
  assert_int_equal(n, 5);
  const char *id = str(l[0], "request_id");
  assert_true(strlen(id) > 90 && strlen(id) <= 128);
  assert_int_equal(strncmp(id, "\"bcdef", 6), 0);
  assert_string_equal(id + strlen(id) - 3, "...");
  assert_string_equal(str(l[0], "method"), "GET");
  assert_string_equal(str(l[0], "route"), "other");
  const char *path = str(l[0], "path");
  assert_true(strlen(path) > 1500 && strlen(path) <= 2048);
  assert_int_equal(json_integer_value(json_object_get(l[0], "status")), 414);
  assert_true(strlen(str(l[1], "event")) <= 128);
  path = str(l[2], "path");
  assert_string_equal(path + strlen(path) - 3, "...");
  assert_int_equal((strlen(path) - 3) % 4, 0); /* whole emoji only */
  assert_true(json_is_true(json_object_get(l[3], "truncated")));
  assert_null(json_object_get(l[3], "blob"));
  assert_string_equal(str(l[3], "event"), "big_fields");
  assert_int_equal(json_integer_value(json_object_get(l[4], "a")), 1);
  assert_string_equal(str(l[4], "b"), "x y");
  free_lines(l, n);
  free(fields);
  free(v);
}

/* ---- threads ----------------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 2000 };

static void *logger(void *arg) {
  int t = (int)(intptr_t)arg;
  char path[600], fields[64];
  for (int i = 0; i < PER_THREAD; i++) {
    /* Lines of varying length, some long, so partial writes would show. */
    int len = snprintf(path, sizeof path, "/t%d/%d/", t, i);
    for (int k = 0; k < (i * 37) % 500; k++)
      path[len++] = (char)('a' + (k + t) % 26);
    path[len] = '\0';
    if (i % 2) {
      orf_log_access("id", "GET", "other", path, 200, (size_t)i, t);
    } else {
      snprintf(fields, sizeof fields, "\"thread\":%d,\"i\":%d", t, i);
      orf_log_event("info", "tick", fields);
    }
  }
  return NULL;
}

static void test_threads_whole_lines(void **state) {
  sink *s = *state;
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++)
    assert_int_equal(pthread_create(&th[t], NULL, logger, (void *)(intptr_t)t), 0);
  for (int t = 0; t < THREADS; t++)
    pthread_join(th[t], NULL);
  size_t n;
  json_t **l = read_lines(s, &n); /* fails on any broken line */
  assert_int_equal(n, THREADS * PER_THREAD);
  static int seen[THREADS][PER_THREAD];
  memset(seen, 0, sizeof seen);
  for (size_t i = 0; i < n; i++) {
    int t, k;
    if (strcmp(str(l[i], "event"), "tick") == 0) {
      t = (int)json_integer_value(json_object_get(l[i], "thread"));
      k = (int)json_integer_value(json_object_get(l[i], "i"));
    } else {
      assert_int_equal(sscanf(str(l[i], "path"), "/t%d/%d/", &t, &k), 2);
      assert_int_equal(json_integer_value(json_object_get(l[i], "bytes")), k);
    }
    assert_true(t >= 0 && t < THREADS && k >= 0 && k < PER_THREAD);
    seen[t][k]++;
  }
  for (int t = 0; t < THREADS; t++)
    for (int k = 0; k < PER_THREAD; k++)
      assert_int_equal(seen[t][k], 1);
  free_lines(l, n);
}

/* Through a pipe too (what stderr often is): lines arrive whole. */
static void test_pipe(void **state) {
  (void)state;
  int p[2];
  assert_int_equal(pipe(p), 0);
  orf_log_set_fd(p[1]);
  orf_log_event("error", "boom", "\"code\":\"bad_image\"");
  orf_log_set_fd(2);
  close(p[1]);
  char buf[1024];
  ssize_t got = read(p[0], buf, sizeof buf - 1);
  close(p[0]);
  assert_true(got > 0);
  buf[got] = '\0';
  assert_int_equal(buf[got - 1], '\n');
  assert_ptr_equal(strchr(buf, '\n'), buf + got - 1); /* one line */
  json_t *j = json_loads(buf, 0, NULL);
  assert_non_null(j);
  assert_string_equal(json_string_value(json_object_get(j, "code")), "bad_image");
  assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
  json_decref(j);
}

static void test_request_id(void **state) {
  (void)state;
  enum { N = 1000 };
  static char ids[N][33];
  for (int i = 0; i < N; i++) {
    memset(ids[i], 'Z', sizeof ids[i]);
    orf_request_id(ids[i]);
    assert_int_equal(strlen(ids[i]), 32);
    assert_int_equal(strspn(ids[i], "0123456789abcdef"), 32);
    for (int k = 0; k < i; k++)
      assert_string_not_equal(ids[i], ids[k]);
  }
  /* All 16 digits appear at every position over 1000 ids (random, not a counter). */
  for (int pos = 0; pos < 32; pos++) {
    int mask = 0;
    for (int i = 0; i < N; i++)
      mask |= 1 << (ids[i][pos] <= '9' ? ids[i][pos] - '0' : ids[i][pos] - 'a' + 10);
    assert_int_equal(mask, 0xffff);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_event_fields, sink_open, sink_close),
      cmocka_unit_test_setup_teardown(test_access_fields, sink_open, sink_close),
      cmocka_unit_test_setup_teardown(test_escaping, sink_open, sink_close),
      cmocka_unit_test_setup_teardown(test_invalid_utf8, sink_open, sink_close),
      cmocka_unit_test_setup_teardown(test_long_values, sink_open, sink_close),
      cmocka_unit_test_setup_teardown(test_threads_whole_lines, sink_open, sink_close),
      cmocka_unit_test(test_pipe),
      cmocka_unit_test(test_request_id),
  };
  return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
