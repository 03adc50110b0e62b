/*
 * test_limits.c - hardening of `orfeas serve` (issue 7): limits, slow
 * clients, security and faults, on the real binary ($ORFEAS_BIN) started
 * by tests/server_harness.c as for tests/test_server.c (127.0.0.1,
 * --port 0), each test with the options it
 * needs, spoken to with libcurl or, where a misbehaving client is the
 * point, with raw sockets.
 *
 *  - limits: the per-client rate limit (429 rate_limited, Retry-After,
 *    probes exempt), the connection limits (total and per address, the
 *    second from 127.0.0.2 as another client), bodies cut off while
 *    reading (a chunked body without end, a declared huge length);
 *  - slow clients: stalled headers and stalled bodies are closed after
 *    --connection-timeout while normal clients are served meanwhile, and
 *    so are headers trickled a byte at a time (never idle, but not complete
 *    within the timeout);
 *  - security: the headers of every response, CORS off unless configured
 *    and then for the one origin, the admin token never in the log, paths
 *    that try to leave the web root or the cache, refusing root;
 *  - faults: kill -9 during bursts of generations, then a restart on the
 *    same data directory (no temporary file, every file whole, the cache's
 *    accounting equal to the files, generation working), and a disk that
 *    cannot be written (a data directory under a regular file; writes that
 *    fail with EFBIG under RLIMIT_FSIZE, the unprivileged stand-in for a
 *    full disk): generation still answers, /health says so, one log event.
 * Loopback only, every request bounded in time; times are only upper
 * bounds on what must happen, never performance figures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "orfeas.h"
#include "server_harness.h"
#include "testutil.h"

static char tmp[] = "/tmp/orfeas-limits-XXXXXX";
static uint8_t *disc_png;
static size_t disc_png_n;

/* ---- the server and HTTP (tests/server_harness.h) --------------------------- */

/* Starts a server (ts_start, quietly) with its log at TMP/NAME.log, env and
 * unset as ts_launch has them and fsize its file-size limit.  0 once it
 * listens; -1 when it did not (*status: its wait status when it exited). */
static int srv_start(ts_server *s, const char *name, const char *data, const char *extra, const char *env,
                     const char *unset, long fsize, int *status) {
  char log[600];
  snprintf(log, sizeof log, "%s/%s.log", tmp, name);
  int rc = ts_start(
      s,
      &(ts_launch){
          .data = data, .extra = extra, .log = log, .env = env, .unset = unset, .fsize = fsize, .quiet = 1});
  if (status) *status = s->exit_status;
  return rc;
}

static int srv_stop(ts_server *s, int sig) { return ts_stop(s, sig, 30); }

static void srv_must_start(ts_server *s, const char *name, const char *data, const char *extra) {
  if (srv_start(s, name, data, extra, NULL, NULL, 0, NULL)) {
    ts_log_tail(s);
    fail_msg("the server (%s) did not start", extra ? extra : "");
  }
}

/* One request as a browser or attacker sends it (path as is): method (NULL:
 * GET), path, up to two extra header lines, an optional raw body of type
 * ctype. */
static void http(ts_reply *r, const ts_server *s, const char *method, const char *path, const char *h1,
                 const char *h2, const void *body, size_t len, const char *ctype) {
  ts_http(r, &(ts_request){.srv = s,
                           .method = method,
                           .path = path,
                           .header = h1,
                           .header2 = h2,
                           .body = body,
                           .len = len,
                           .ctype = ctype,
                           .path_as_is = 1});
}

/* GET path, asserting the status; returns the body as JSON. */
static json_t *get_json(const ts_server *s, const char *path, long status) {
  ts_reply r;
  http(&r, s, NULL, path, NULL, NULL, NULL, 0, NULL);
  if (r.status != status) fail_msg("GET %s -> %ld (%s), expected %ld", path, r.status, r.body, status);
  json_t *j = ts_reply_json(&r);
  ts_reply_free(&r);
  return j;
}

/* ---- fixtures ---------------------------------------------------------------------- */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st, (void)flag, (void)f;
  chmod(p, 0700);
  return remove(p);
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(tmp)) return -1;
  const float disc[3] = {60, 60, 40};
  const uint8_t fg[3] = {30, 90, 200}, bg[3] = {255, 255, 255};
  disc_png = tu_discs_png(120, 120, disc, 1, 0, fg, bg, &disc_png_n);
  return disc_png ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  ts_kill_all();
  free(disc_png);
  if (!getenv("ORFEAS_KEEP_TMP")) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static void data_dir(char *out, size_t size, const char *name) { snprintf(out, size, "%s/%s", tmp, name); }

/* POST the disc as a raw PNG to /api/v1/generate?QUERY; returns the status. */
static long generate(const ts_server *s, const char *query, json_t **out) {
  char path[512];
  snprintf(path, sizeof path, "/api/v1/generate?%s", query);
  ts_reply r;
  http(&r, s, "POST", path, NULL, NULL, disc_png, disc_png_n, "image/png");
  if (out) *out = r.status == 200 ? ts_reply_json(&r) : NULL;
  long st = r.status;
  ts_reply_free(&r);
  return st;
}

/* Occurrences of needle in the file at path. */
static int count_in_file(const char *path, const char *needle) {
  size_t n;
  uint8_t *text = tu_read_file(path, &n);
  if (!text) return 0;
  int count = 0;
  for (const char *p = (const char *)text; (p = strstr(p, needle)); p += strlen(needle))
    count++;
  free(text);
  return count;
}

/* ==== 1. limits ========================================================================== */

static void test_rate_limit(void **state) {
  (void)state;
  char data[700];
  data_dir(data, sizeof data, "rate");
  ts_server s;
  srv_must_start(&s, "rate", data, "--rate-limit 2 --rate-burst 3");
  int ok = 0, limited = 0;
  ts_reply r;
  for (int i = 0; i < 10; i++) {
    http(&r, &s, NULL, "/api/v1/params", NULL, NULL, NULL, 0, NULL);
    if (i < 3 && r.status != 200) fail_msg("request %d of the burst -> %ld", i, r.status);
    if (r.status == 200) ok++;
    if (r.status == 429) {
      limited++;
      char v[64];
      if (!ts_header(&r, "Retry-After", v, sizeof v)) fail_msg("429 without Retry-After");
      assert_true(atoi(v) >= 1 && atoi(v) <= 2);
      if (!ts_header(&r, "Content-Type", v, sizeof v) || strncmp(v, "application/json", 16))
        fail_msg("429 is not JSON");
      json_t *j = ts_reply_json(&r);
      assert_string_equal(json_string_value(json_object_get(j, "code")), "rate_limited");
      assert_non_null(json_string_value(json_object_get(j, "error")));
      json_decref(j);
    }
    ts_reply_free(&r);
  }
  assert_true(limited >= 1);
  assert_true(ok >= 3);
  /* the probes are never limited */
  for (int i = 0; i < 8; i++) {
    const char *p = i % 3 == 0 ? "/health" : i % 3 == 1 ? "/ready" : "/metrics";
    http(&r, &s, NULL, p, NULL, NULL, NULL, 0, NULL);
    if (r.status != 200) fail_msg("%s -> %ld while rate limited", p, r.status);
    ts_reply_free(&r);
  }
  /* a generation is limited before its body is read, and another client
   * (127.0.0.2, through a raw socket) is not limited at all */
  http(&r, &s, "POST", "/api/v1/generate?quality=1", NULL, NULL, disc_png, disc_png_n, "image/png");
  assert_int_equal(r.status, 429);
  ts_reply_free(&r);
  int fd = ts_raw_connect(&s, "127.0.0.2");
  ts_raw_send(fd, "GET /api/v1/params HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  char buf[2048];
  assert_int_equal(ts_raw_response(fd, buf, sizeof buf, 10000), 200);
  close(fd);
  /* after Retry-After, the client is let in again */
  ts_sleep_ms(1100);
  http(&r, &s, NULL, "/api/v1/params", NULL, NULL, NULL, 0, NULL);
  assert_int_equal(r.status, 200);
  ts_reply_free(&r);
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
}

/* Over the per-address limit, libmicrohttpd accepts and closes at once;
 * over the total limit it stops accepting, and a connection waits in the
 * listen backlog until a slot is free. */
static void test_connection_limits(void **state) {
  (void)state;
  char data[700];
  data_dir(data, sizeof data, "conn");
  ts_server s;
  srv_must_start(&s, "conn", data, "--max-connections-per-ip 3");
  int fds[8], closed = 0;
  for (int i = 0; i < 5; i++)
    fds[i] = ts_raw_connect(&s, NULL);
  for (int i = 0; i < 5; i++)
    closed += ts_raw_closed(fds[i], i == 0 ? 1000 : 100);
  if (closed < 2) fail_msg("5 connections from one address, limit 3: %d closed by the server", closed);
  /* another address is still served */
  int fd = ts_raw_connect(&s, "127.0.0.2");
  ts_raw_send(fd, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  char buf[2048];
  assert_int_equal(ts_raw_response(fd, buf, sizeof buf, 10000), 200);
  close(fd);
  for (int i = 0; i < 5; i++)
    close(fds[i]);
  assert_int_equal(srv_stop(&s, SIGTERM), 0);

  srv_must_start(&s, "conn-total", data, "--max-connections 4");
  for (int i = 0; i < 4; i++) /* idle: they hold the four slots */
    fds[i] = ts_raw_connect(&s, i % 2 ? "127.0.0.3" : NULL);
  ts_sleep_ms(300);
  fd = ts_raw_connect(&s, "127.0.0.4");
  ts_raw_send(fd, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  int st = ts_raw_response(fd, buf, sizeof buf, 1500);
  if (st != 0) fail_msg("a fifth connection was answered (%d) while four held the limit of 4", st);
  for (int i = 0; i < 4; i++)
    close(fds[i]);
  st = ts_raw_response(fd, buf, sizeof buf, 10000);
  if (st != 200) fail_msg("the waiting connection -> %d once the slots were free", st);
  close(fd);
  json_decref(get_json(&s, "/health", 200));
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
}

/* A chunked body that never ends, and a declared length far past the
 * limit: neither is read for ever. */
static void test_body_cut_off(void **state) {
  (void)state;
  char data[700];
  data_dir(data, sizeof data, "body");
  ts_server s;
  srv_must_start(&s, "body", data, "--max-upload-mb 1");
  int fd = ts_raw_connect(&s, NULL);
  ts_raw_send(fd, "POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n");
  static char chunk[65536 + 16];
  int hl = snprintf(chunk, sizeof chunk, "%x\r\n", 65536);
  memset(chunk + hl, 'x', 65536);
  memcpy(chunk + hl + 65536, "\r\n", 2);
  size_t chunk_n = (size_t)hl + 65536 + 2, sent = 0;
  const size_t give_up = (size_t)256 << 20;
  while (sent < give_up) {
    ssize_t k = send(fd, chunk, chunk_n, MSG_NOSIGNAL);
    if (k <= 0) break;
    sent += (size_t)k;
  }
  close(fd);
  /* 1 MiB limit + 4 MiB drained + socket buffers; the server read far less
   * than the 256 MiB the client was ready to send */
  if (sent >= (size_t)64 << 20) fail_msg("the server read %zu bytes of an endless chunked body", sent);

  fd = ts_raw_connect(&s, NULL);
  ts_raw_send(fd, "POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                  "Content-Length: 1073741824\r\n\r\n");
  char buf[4096];
  double t0 = ts_now_s();
  int st = ts_raw_response(fd, buf, sizeof buf, 10000);
  if (st != 413) fail_msg("a declared 1 GiB body -> %d after %.1f s: %.200s", st, ts_now_s() - t0, buf);
  assert_non_null(strstr(buf, "too_large"));
  close(fd);
  json_decref(get_json(&s, "/health", 200));
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
}

/* ==== 2. slow clients ======================================================================= */

static void test_slow_clients(void **state) {
  (void)state;
  char data[700];
  data_dir(data, sizeof data, "slow");
  ts_server s;
  srv_must_start(&s, "slow", data, "--connection-timeout 2");
  enum { N = 8 };
  int fds[N];
  for (int i = 0; i < N; i++) {
    fds[i] = ts_raw_connect(&s, NULL);
    if (i % 2 == 0) /* headers that stop half-way */
      ts_raw_send(fds[i], "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    else /* a body that stops half-way */
      ts_raw_send(fds[i], "POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                          "Content-Length: 100000\r\n\r\n\x89PNG\r\n\x1a\n0123456789");
  }
  /* and four that trickle their headers a byte at a time */
  int trickle[4];
  const char *slow =
      "GET /health HTTP/1.1\r\nHost: x\r\nX-Trickle: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  for (int i = 0; i < 4; i++)
    trickle[i] = ts_raw_connect(&s, NULL);
  double t0 = ts_now_s();
  /* meanwhile, normal clients are served at once, and the stalled
   * connections are still open (they have not timed out yet) */
  for (int i = 0; i < 4; i++) {
    for (int k = 0; k < 4; k++)
      send(trickle[k], slow + i, 1, MSG_NOSIGNAL);
    json_decref(get_json(&s, "/health", 200));
    json_decref(get_json(&s, "/api/v1/params", 200));
  }
  if (ts_now_s() - t0 < 1.5)
    for (int i = 0; i < N; i++)
      if (ts_raw_closed(fds[i], 0)) fail_msg("stalled connection %d closed before its timeout", i);
  /* every stalled connection is closed once the 2 s have passed, and so is
   * every trickling one, although it was never idle (a byte each 200 ms):
   * its headers were not complete in time */
  int open_stalled = N, open_trickles = 4;
  for (int step = 4; (open_stalled || open_trickles) && step < 44; step++) {
    ts_sleep_ms(200);
    open_stalled = open_trickles = 0;
    for (int i = 0; i < N; i++) {
      if (fds[i] < 0) continue;
      if (ts_raw_closed(fds[i], 0)) {
        close(fds[i]);
        fds[i] = -1;
      } else {
        open_stalled++;
      }
    }
    for (int k = 0; k < 4; k++) {
      if (trickle[k] < 0) continue;
      if (ts_raw_closed(trickle[k], 0) || send(trickle[k], slow + step, 1, MSG_NOSIGNAL) < 0) {
        close(trickle[k]);
        trickle[k] = -1;
      } else {
        open_trickles++;
      }
    }
  }
  if (open_stalled) fail_msg("%d stalled connections still open after 8 s", open_stalled);
  if (open_trickles) fail_msg("%d connections trickling their headers still open after 8 s", open_trickles);
  assert_true(ts_now_s() - t0 > 1.5); /* not before the timeout */
  json_decref(get_json(&s, "/health", 200));
  /* the trickles were never idle: the header deadline closed them */
  double headers = ts_get_metric(&s, "orfeas_connections_timed_out_total", "phase=\"headers\"");
  if (headers < 4) fail_msg("connections_timed_out_total{phase=\"headers\"} is %.0f, expected >= 4", headers);
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
}

/* A body that trickles (a byte each 200 ms: never idle) is cut off soon
 * after --connection-timeout, while a slow but steady upload that keeps
 * above --min-upload-rate finishes although it lasts longer than the
 * timeout, and is answered.  The trickles are never idle, so only the body
 * deadline can close them, and the metric counts exactly them. */
static void test_slow_bodies(void **state) {
  (void)state;
  char data[700];
  data_dir(data, sizeof data, "slowbody");
  /* the steady upload below sends a photo's PNG in 8 pieces, one each
   * 400 ms (3.2 s in all): the minimum rate is a quarter of its rate, and
   * still far above the trickle's 5 B/s */
  size_t png_n;
  uint8_t *png = tu_photo_png(192, &png_n);
  assert_non_null(png);
  int rate = (int)(png_n / 3.2 / 4);
  assert_true(rate > 500);
  char opts[128];
  snprintf(opts, sizeof opts, "--connection-timeout 2 --min-upload-rate %d", rate);
  ts_server s;
  srv_must_start(&s, "slowbody", data, opts);
  enum { T = 4, PIECES = 8 };
  int trickle[T];
  for (int i = 0; i < T; i++) {
    trickle[i] = ts_raw_connect(&s, NULL);
    assert_int_equal(ts_raw_send(trickle[i],
                                 "POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                                 "Content-Length: 100000\r\n\r\n"),
                     0);
  }
  int steady = ts_raw_connect(&s, NULL);
  char head[256];
  snprintf(head, sizeof head,
           "POST /api/v1/generate?quality=1 HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
           "Content-Length: %zu\r\nConnection: close\r\n\r\n",
           png_n);
  assert_int_equal(ts_raw_send(steady, head), 0);
  double t0 = ts_now_s();
  int open_trickles = T;
  size_t sent = 0;
  for (int step = 1; step <= 40 && (open_trickles || sent < png_n); step++) {
    ts_sleep_ms(200);
    if (step % 2 == 0 && sent < png_n) {
      size_t piece = (png_n + PIECES - 1) / PIECES;
      if (piece > png_n - sent) piece = png_n - sent;
      if (send(steady, png + sent, piece, MSG_NOSIGNAL) != (ssize_t)piece)
        fail_msg("the steady upload was cut off after %zu of %zu bytes (%.1f s)", sent, png_n,
                 ts_now_s() - t0);
      sent += piece;
    }
    open_trickles = 0;
    for (int k = 0; k < T; k++) {
      if (trickle[k] < 0) continue;
      if (ts_raw_closed(trickle[k], 0) || send(trickle[k], "x", 1, MSG_NOSIGNAL) < 0) {
        if (ts_now_s() - t0 < 1.5) fail_msg("a trickling body was closed before the timeout");
        close(trickle[k]);
        trickle[k] = -1;
      } else {
        open_trickles++;
      }
    }
  }
  if (open_trickles) fail_msg("%d trickling bodies still open after 8 s", open_trickles);
  assert_int_equal(sent, png_n);
  assert_true(ts_now_s() - t0 > 3); /* it outlasted the timeout */
  char buf[4096];
  int status = ts_raw_response(steady, buf, sizeof buf, 60000);
  if (status != 200) fail_msg("the steady upload got \"%.200s\"", buf);
  close(steady);
  free(png);
  double body = ts_get_metric(&s, "orfeas_connections_timed_out_total", "phase=\"body\"");
  if (body != T) fail_msg("connections_timed_out_total{phase=\"body\"} is %.0f, expected %d", body, T);
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
}

/* ==== 3. security ============================================================================= */

static void expect_security_headers(const ts_reply *r, const char *what) {
  static const char *const want[][2] = {
      {"X-Content-Type-Options", "nosniff"},
      {"Referrer-Policy", "no-referrer"},
      {"X-Frame-Options", "DENY"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
      {"Content-Security-Policy", "default-src 'self'"},
  };
  char v[512];
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    if (!ts_header(r, want[i][0], v, sizeof v)) fail_msg("%s (%ld): no %s", what, r->status, want[i][0]);
    if (strncmp(v, want[i][1], strlen(want[i][1])))
      fail_msg("%s: %s is \"%s\", expected \"%s\"", what, want[i][0], v, want[i][1]);
  }
}

static void test_security_headers_and_cors(void **state) {
  (void)state;
  char data[700];
  data_dir(data, sizeof data, "sec");
  ts_server s;
  srv_must_start(&s, "sec", data,
                 "--cors-origin https://studio.example:8443 --rate-limit 1000 --rate-burst 1000");
  json_t *g = NULL;
  assert_int_equal(generate(&s, "quality=1&size_mm=30", &g), 200);
  char result[300];
  snprintf(result, sizeof result, "%s", json_string_value(json_object_get(g, "download_url")));
  json_decref(g);
  /* every kind of response: JSON, text, HTML, a mesh, errors */
  const char *paths[][2] = {{"GET", "/health"},        {"GET", "/metrics"},         {"GET", "/"},
                            {"GET", result},           {"GET", "/no/such/thing"},   {"POST", "/health"},
                            {"GET", "/api/v1/params"}, {"DELETE", "/api/v1/jobs/x"}};
  ts_reply r;
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    http(&r, &s, paths[i][0], paths[i][1], "Origin: https://studio.example:8443", NULL, NULL, 0, NULL);
    char what[400], v[256];
    snprintf(what, sizeof what, "%s %s", paths[i][0], paths[i][1]);
    expect_security_headers(&r, what);
    if (!ts_header(&r, "Access-Control-Allow-Origin", v, sizeof v) ||
        strcmp(v, "https://studio.example:8443"))
      fail_msg("%s from the configured origin: no Access-Control-Allow-Origin", what);
    if (!ts_header(&r, "Vary", v, sizeof v) || !strstr(v, "Origin")) fail_msg("%s: no Vary: Origin", what);
    ts_reply_free(&r);
  }
  /* the one exception (README): libmicrohttpd's own pages for requests it
   * cannot parse; they must hold nothing of the request */
  static const char *const unparsable[] = {
      "GET /<script>alert(1)</script> HTTP/7.1\r\nHost: x\r\n\r\n",
      "GET /<script>alert(1)</script> HTTP/1.1\r\nX <script>alert(1)</script>\r\n\r\n",
      "POST /api/v1/generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n<script>\r\n"};
  for (size_t i = 0; i < sizeof unparsable / sizeof *unparsable; i++) {
    int fd = ts_raw_connect(&s, NULL);
    assert_int_equal(ts_raw_send(fd, unparsable[i]), 0);
    char buf[4096];
    size_t n = 0; /* the whole answer: libmicrohttpd closes after it */
    for (ssize_t k; n < sizeof buf - 1 && (k = recv(fd, buf + n, sizeof buf - 1 - n, 0)) > 0;)
      n += (size_t)k;
    buf[n] = 0;
    int status = 0;
    sscanf(buf, "HTTP/1.%*d %d", &status);
    if (status != 400 && status != 505) fail_msg("unparsable request %zu: \"%.200s\"", i, buf);
    if (strstr(buf, "script")) fail_msg("unparsable request %zu echoed: \"%.300s\"", i, buf);
    close(fd);
  }
  /* another origin gets no CORS header */
  http(&r, &s, NULL, "/health", "Origin: https://evil.example", NULL, NULL, 0, NULL);
  char v[256];
  assert_int_equal(r.status, 200);
  assert_null(ts_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  ts_reply_free(&r);
  /* the preflight */
  http(&r, &s, "OPTIONS", "/api/v1/generate", "Origin: https://studio.example:8443",
       "Access-Control-Request-Method: POST", NULL, 0, NULL);
  assert_int_equal(r.status, 204);
  assert_non_null(ts_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
  assert_non_null(strstr(v, "POST"));
  assert_non_null(ts_header(&r, "Access-Control-Allow-Headers", v, sizeof v));
  assert_non_null(strcasestr(v, "Content-Type"));
  assert_non_null(ts_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  ts_reply_free(&r);
  http(&r, &s, "OPTIONS", "/api/v1/generate", "Origin: https://evil.example",
       "Access-Control-Request-Method: POST", NULL, 0, NULL);
  assert_null(ts_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  assert_null(ts_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
  ts_reply_free(&r);
  assert_int_equal(srv_stop(&s, SIGTERM), 0);

  /* without --cors-origin: no CORS at all, the preflight is not answered */
  srv_must_start(&s, "nocors", data, NULL);
  http(&r, &s, NULL, "/health", "Origin: https://studio.example:8443", NULL, NULL, 0, NULL);
  expect_security_headers(&r, "GET /health (no CORS)");
  assert_null(ts_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  ts_reply_free(&r);
  http(&r, &s, "OPTIONS", "/api/v1/generate", "Origin: https://studio.example:8443",
       "Access-Control-Request-Method: POST", NULL, 0, NULL);
  assert_true(r.status >= 400);
  assert_null(ts_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
  assert_null(ts_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
  ts_reply_free(&r);
  assert_int_equal(srv_stop(&s, SIGTERM), 0);

  /* an origin that is not one (a path, a header injection) is refused at start */
  const char *bad[] = {"--cors-origin https://a.example/path", "--cors-origin *",
                       "--cors-origin ftp://a.example"};
  for (int i = 0; i < 3; i++) {
    int st = -1;
    if (srv_start(&s, "badcors", data, bad[i], NULL, NULL, 0, &st) == 0) fail_msg("started with %s", bad[i]);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
  }
  int st = -1;
  assert_int_equal(
      srv_start(&s, "badcors", data, NULL, "ORFEAS_CORS_ORIGIN=http://a.example\r\nX:", NULL, 0, &st), -1);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

static void test_admin_token_not_logged(void **state) {
  (void)state;
  static const char token[] = "Tok3n-never-in-the-log-91c2";
  char data[700], env[200];
  data_dir(data, sizeof data, "token");
  snprintf(env, sizeof env, "ORFEAS_ADMIN_TOKEN=%s", token);
  ts_server s;
  if (srv_start(&s, "token", data, NULL, env, NULL, 0, NULL)) fail_msg("no start");
  ts_reply r;
  char auth[200];
  /* wrong tokens: empty, a prefix, the token and more, another of equal length */
  const char *wrong[] = {"", "Tok3n", "Tok3n-never-in-the-log-91c2X", "Tok3n-never-in-the-log-91c3"};
  for (int i = 0; i < 4; i++) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", wrong[i]);
    http(&r, &s, "POST", "/api/v1/cache/clear", auth, NULL, NULL, 0, NULL);
    if (r.status != 403) fail_msg("token \"%s\" -> %ld", wrong[i], r.status);
    ts_reply_free(&r);
  }
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  http(&r, &s, "POST", "/api/v1/cache/clear", auth, NULL, NULL, 0, NULL);
  assert_int_equal(r.status, 200);
  ts_reply_free(&r);
  /* a client that puts it in a query string */
  char path[200];
  snprintf(path, sizeof path, "/health?token=%s", token);
  json_decref(get_json(&s, path, 200));
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
  assert_true(count_in_file(s.log, "\"event\":\"access\"") >= 6);
  if (count_in_file(s.log, "Tok3n-never")) fail_msg("the admin token is in the log %s", s.log);
}

/* Paths that try to leave the web root or the cache, plain and encoded. */
static void test_paths_stay_inside(void **state) {
  (void)state;
  char data[700], web[700], secret[760], index[760];
  data_dir(data, sizeof data, "paths");
  data_dir(web, sizeof web, "webroot/site");
  snprintf(secret, sizeof secret, "%s/webroot/secret.txt", tmp);
  snprintf(index, sizeof index, "%s/index.html", web);
  char mk[800];
  snprintf(mk, sizeof mk, "%s/webroot", tmp);
  mkdir(mk, 0755);
  mkdir(web, 0755);
  assert_int_equal(tu_write_file(secret, "TOP-SECRET-CONTENT", 18), 0);
  assert_int_equal(tu_write_file(index, "<!doctype html><title>x</title>", 31), 0);
  char opt[800];
  snprintf(opt, sizeof opt, "--web-root %s", web);
  ts_server s;
  srv_must_start(&s, "paths", data, opt);
  json_t *g;
  assert_int_equal(generate(&s, "quality=1&size_mm=30", &g), 200);
  char hash[65];
  snprintf(hash, sizeof hash, "%s", json_string_value(json_object_get(g, "request_hash")));
  json_decref(g);
  const char *tries[] = {
      "/static/../secret.txt",
      "/static/%2e%2e/secret.txt",
      "/static/%2E%2E/secret.txt",
      "/static/..%2fsecret.txt",
      "/static/..%2Fsecret.txt",
      "/static/%2e%2e%2fsecret.txt",
      "/static/%252e%252e/secret.txt",
      "/static/.%2e/secret.txt",
      "/static/..\\secret.txt",
      "/static/..%5csecret.txt",
      "/static//etc/passwd",
      "/static/%2fetc%2fpasswd",
      "/static/./../secret.txt",
      "/static/x/../../secret.txt",
      "/static/%00../secret.txt",
      "/../secret.txt",
      "/%2e%2e/secret.txt",
      "/api/v1/results/../../../etc/passwd",
      "/api/v1/results/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "/api/v1/results/..%2f..%2f..%2fetc%2fpasswd/final_optimized.ply",
      "/api/v1/results/HASH/../meta.json",
      "/api/v1/results/HASH/%2e%2e%2f%2e%2e%2fcache",
      "/api/v1/results/HASH/..%2fmeta.json",
      "/api/v1/results/HASH%2f..%2f..%2f..%2fetc%2fpasswd/final_optimized.ply",
  };
  for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
    char path[400];
    const char *h = strstr(tries[i], "HASH");
    if (h)
      snprintf(path, sizeof path, "%.*s%s%s", (int)(h - tries[i]), tries[i], hash, h + 4);
    else
      snprintf(path, sizeof path, "%s", tries[i]);
    ts_reply r;
    http(&r, &s, NULL, path, NULL, NULL, NULL, 0, NULL);
    if (r.status != 400 && r.status != 404) fail_msg("%s -> %ld, expected 400 or 404", path, r.status);
    if (r.body && (strstr(r.body, "TOP-SECRET") || strstr(r.body, "root:") || strstr(r.body, "ORFCACH")))
      fail_msg("%s served a file from outside", path);
    ts_reply_free(&r);
  }
  /* the way in still works */
  ts_reply r;
  http(&r, &s, NULL, "/", NULL, NULL, NULL, 0, NULL);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "<title>x</title>"));
  ts_reply_free(&r);
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
}

static void test_refuses_root(void **state) {
  (void)state;
  if (geteuid() != 0) {
    print_message("not root: the refusal cannot be seen here\n");
    skip();
  }
  char data[700];
  data_dir(data, sizeof data, "root");
  ts_server s;
  int st = -1;
  if (srv_start(&s, "root-refused", data, NULL, NULL, "ORFEAS_ALLOW_ROOT", 0, &st) == 0)
    fail_msg("the server started as root without --allow-root");
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 2);
  assert_true(count_in_file(s.log, "refusing to run as root") == 1);
  st = -1;
  assert_int_equal(srv_start(&s, "root-refused0", data, NULL, "ORFEAS_ALLOW_ROOT=0", NULL, 0, &st), -1);
  assert_int_equal(WEXITSTATUS(st), 2);
  /* told to: it runs, and says so once */
  if (srv_start(&s, "root-flag", data, "--allow-root", NULL, "ORFEAS_ALLOW_ROOT", 0, NULL))
    fail_msg("no start");
  json_decref(get_json(&s, "/health", 200));
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
  assert_int_equal(count_in_file(s.log, "\"event\":\"running_as_root\""), 1);
  if (srv_start(&s, "root-env", data, NULL, "ORFEAS_ALLOW_ROOT=1", NULL, 0, NULL)) fail_msg("no start");
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
  assert_int_equal(count_in_file(s.log, "\"event\":\"running_as_root\""), 1);
}

/* ==== 4. faults ============================================================================== */

typedef struct walk {
  int files, tmp_files, bad_files;
  uint64_t bytes;
  char hashes[64][65];
  int nhashes;
} walk;

static walk W;

/* Checks one cache file as cache_disk.h describes it: magic, payload size
 * equal to the file's, SHA-256 of the payload. */
static int file_whole(const char *path, size_t size) {
  size_t n;
  uint8_t *b = tu_read_file(path, &n);
  if (!b) return 0;
  int ok = n == size && n >= 48 && !memcmp(b, "ORFCACH1", 8);
  uint64_t payload = 0;
  for (int i = 7; ok && i >= 0; i--)
    payload = (payload << 8) | b[8 + i];
  ok = ok && payload == n - 48;
  if (ok) {
    uint8_t md[32];
    unsigned len = 32;
    ok = EVP_Digest(b + 48, n - 48, md, &len, EVP_sha256(), NULL) && !memcmp(md, b + 16, 32);
  }
  free(b);
  return ok;
}

static int walk_entry(const char *p, const struct stat *st, int flag, struct FTW *f) {
  if (flag == FTW_D && f->level == 2 && W.nhashes < 64) {
    snprintf(W.hashes[W.nhashes++], 65, "%s", p + f->base);
    return 0;
  }
  if (flag != FTW_F) return 0;
  if (strstr(p + f->base, ".tmp.")) {
    W.tmp_files++;
    return 0;
  }
  W.files++;
  W.bytes += (uint64_t)st->st_size;
  if (!file_whole(p, (size_t)st->st_size)) W.bad_files++;
  return 0;
}

static void walk_cache(const char *data) {
  memset(&W, 0, sizeof W);
  char dir[800];
  snprintf(dir, sizeof dir, "%s/cache", data);
  nftw(dir, walk_entry, 16, FTW_PHYS);
}

/* Starts n generations at once (curl multi) and lets them run for ms
 * milliseconds before the caller kills the server. */
static void burst(const ts_server *s, int round, int n, int ms) {
  CURLM *m = curl_multi_init();
  CURL *h[16];
  struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: image/png");
  for (int i = 0; i < n; i++) {
    char url[300];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/generate?quality=%d&size_mm=%d", s->port, 1 + i % 3,
             20 + round * 16 + i);
    h[i] = curl_easy_init();
    curl_easy_setopt(h[i], CURLOPT_URL, url);
    curl_easy_setopt(h[i], CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h[i], CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h[i], CURLOPT_POSTFIELDS, disc_png);
    curl_easy_setopt(h[i], CURLOPT_POSTFIELDSIZE, (long)disc_png_n);
    curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hl);
    FILE *null = fopen("/dev/null", "w");
    curl_easy_setopt(h[i], CURLOPT_WRITEDATA, null);
    curl_easy_setopt(h[i], CURLOPT_PRIVATE, null);
    curl_multi_add_handle(m, h[i]);
  }
  double t0 = ts_now_s();
  int running = 1;
  while (running && (ts_now_s() - t0) * 1e3 < ms) {
    curl_multi_perform(m, &running);
    curl_multi_poll(m, NULL, 0, 10, NULL);
  }
  kill(s->pid, SIGKILL);
  for (int i = 0; i < n; i++) {
    FILE *null;
    curl_easy_getinfo(h[i], CURLINFO_PRIVATE, (char **)&null);
    curl_multi_remove_handle(m, h[i]);
    curl_easy_cleanup(h[i]);
    fclose(null);
  }
  curl_slist_free_all(hl);
  curl_multi_cleanup(m);
}

static void test_kill9_restart(void **state) {
  (void)state;
  char data[700];
  data_dir(data, sizeof data, "kill");
  unsigned seed = (unsigned)time(NULL);
  print_message("kill -9 moments from seed %u\n", seed);
  ts_server s;
  int tmp_seen = 0;
  for (int round = 0; round < 5; round++) {
    srv_must_start(&s, "kill", data, "--workers 2 --queue-max 32");
    /* after a restart: nothing temporary, every file whole, the counts right */
    walk_cache(data);
    if (W.tmp_files || W.bad_files)
      fail_msg("round %d, after restart: %d temporary and %d broken files", round, W.tmp_files, W.bad_files);
    json_t *st = get_json(&s, "/api/v1/cache/stats", 200);
    json_t *disk = json_object_get(st, "disk");
    json_int_t entries = json_integer_value(json_object_get(disk, "entries"));
    json_int_t bytes = json_integer_value(json_object_get(disk, "bytes"));
    json_decref(st);
    if (entries != W.files || (uint64_t)bytes != W.bytes)
      fail_msg("round %d: the cache counts %lld entries / %lld bytes, the disk holds %d / %llu", round,
               (long long)entries, (long long)bytes, W.files, (unsigned long long)W.bytes);
    /* whatever is served of what the killed servers left is whole */
    for (int i = 0; i < W.nhashes; i++) {
      char path[300];
      snprintf(path, sizeof path, "/api/v1/results/%s/final_optimized.ply", W.hashes[i]);
      ts_reply r;
      http(&r, &s, NULL, path, NULL, NULL, NULL, 0, NULL);
      if (r.status == 200) {
        orf_mesh mesh;
        memset(&mesh, 0, sizeof mesh);
        if (orf_mesh_read_ply((const uint8_t *)r.body, r.len, &mesh) != ORF_OK)
          fail_msg("round %d: %s served a broken PLY (%zu bytes)", round, path, r.len);
        orf_mesh_free(&mesh);
      } else if (r.status != 404) {
        fail_msg("round %d: %s -> %ld", round, path, r.status);
      }
      ts_reply_free(&r);
    }
    /* kill -9 at a random moment of a burst of generations */
    int ms = 100 + (int)(rand_r(&seed) % 1400);
    burst(&s, round, 6, ms);
    ts_stop(&s, SIGKILL, 30); /* reaps it */
    walk_cache(data);
    tmp_seen += W.tmp_files;
  }
  print_message("temporary files left by the kills (removed at restart): %d\n", tmp_seen);
  /* and it generates again, and serves a previous result from the disk */
  srv_must_start(&s, "kill", data, "--workers 2");
  json_t *g;
  assert_int_equal(generate(&s, "quality=1&size_mm=99", &g), 200);
  json_decref(g);
  walk_cache(data);
  assert_int_equal(W.tmp_files + W.bad_files, 0);
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
}

/* Generation with a disk that cannot be written: results come from memory,
 * /health says why, one log event. */
static void check_no_disk(ts_server *s, const char *what) {
  for (int i = 0; i < 3; i++) {
    char q[64];
    snprintf(q, sizeof q, "quality=1&size_mm=%d", 30 + i);
    json_t *g;
    if (generate(s, q, &g) != 200) fail_msg("%s: generation %d failed", what, i);
    char url[300];
    snprintf(url, sizeof url, "%s", json_string_value(json_object_get(g, "download_url")));
    json_decref(g);
    ts_reply r;
    http(&r, s, NULL, url, NULL, NULL, NULL, 0, NULL);
    if (r.status != 200 || r.len < 20 || memcmp(r.body, "glTF", 4))
      fail_msg("%s: %s -> %ld (%zu bytes)", what, url, r.status, r.len);
    ts_reply_free(&r);
  }
  json_t *h = get_json(s, "/health", 200);
  json_t *disk = json_object_get(h, "disk");
  if (!json_is_false(json_object_get(disk, "ok")))
    fail_msg("%s: /health says the disk is fine: %s", what, json_dumps(h, JSON_COMPACT));
  const char *err = json_string_value(json_object_get(disk, "error"));
  if (!err || !err[0]) fail_msg("%s: /health gives no reason", what);
  print_message("%s: /health disk error \"%s\"\n", what, err);
  json_decref(h);
}

static void test_disk_unwritable(void **state) {
  (void)state;
  /* a data directory whose parent is a regular file: cannot be created */
  char file[700], data[760];
  data_dir(file, sizeof file, "plainfile");
  assert_int_equal(tu_write_file(file, "x", 1), 0);
  snprintf(data, sizeof data, "%s/data", file);
  ts_server s;
  srv_must_start(&s, "nodir", data, NULL);
  check_no_disk(&s, "data dir under a file");
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
  assert_int_equal(count_in_file(s.log, "\"event\":\"disk_unavailable\""), 1);

  /* every write fails (EFBIG under RLIMIT_FSIZE, as a full disk would):
   * three generations, several files each, one event */
  data_dir(data, sizeof data, "full");
  if (srv_start(&s, "full", data, NULL, NULL, NULL, 40, NULL)) {
    ts_log_tail(&s);
    fail_msg("no start under RLIMIT_FSIZE");
  }
  check_no_disk(&s, "writes failing");
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
  int events = count_in_file(s.log, "\"event\":\"disk_write_failed\"");
  if (events != 1) {
    ts_log_tail(&s);
    fail_msg("%d disk_write_failed events, expected 1", events);
  }
  assert_true(count_in_file(s.log, "File too large") >= 1);
  /* the same data dir with room again: writes work and it says so */
  srv_must_start(&s, "full2", data, NULL);
  json_t *g;
  assert_int_equal(generate(&s, "quality=1&size_mm=77", &g), 200);
  json_decref(g);
  json_t *h = get_json(&s, "/health", 200);
  assert_true(json_is_true(json_object_get(json_object_get(h, "disk"), "ok")));
  json_decref(h);
  assert_int_equal(srv_stop(&s, SIGTERM), 0);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_ALL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rate_limit),
      cmocka_unit_test(test_connection_limits),
      cmocka_unit_test(test_body_cut_off),
      cmocka_unit_test(test_slow_clients),
      cmocka_unit_test(test_slow_bodies),
      cmocka_unit_test(test_security_headers_and_cors),
      cmocka_unit_test(test_admin_token_not_logged),
      cmocka_unit_test(test_paths_stay_inside),
      cmocka_unit_test(test_refuses_root),
      cmocka_unit_test(test_kill9_restart),
      cmocka_unit_test(test_disk_unwritable),
  };
  int failed = cmocka_run_group_tests_name("limits", tests, setup, teardown);
  curl_global_cleanup();
  return failed;
}
