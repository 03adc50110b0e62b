/*
 * test_server.c - integration tests of `orfeas serve` (issue 4): the real
 * binary ($ORFEAS_BIN, set by tests/run.sh; default build/orfeas) is started
 * by tests/server_harness.c on 127.0.0.1 with --port 0 and a temporary data
 * directory, and spoken to over HTTP with libcurl, exactly as
 * docs/API.md describes the API: every
 * endpoint, every error status of its table (but 507, which comes with the
 * memory-budget issue), the progressive NDJSON stream and its flushing, the
 * deduplication cache (hits, single flight, restart, a truncated file on
 * disk), jobs with Server-Sent Events and cancellation, a disconnect that
 * cancels, the admin token, request ids, path traversal and SIGTERM
 * draining.  The integration tests of h2o are the model: start the real
 * server, talk to it as a client would.
 *
 * Three groups, each with a server of its own (killed and reaped in the
 * group's teardown whatever happens): "server_api" (most tests, one
 * server), "server_queue" (one worker, a queue of one: 429 and cancel),
 * "server_restart" (servers stopped and started again on one data dir).
 * Loopback only; every request has a CURLOPT_TIMEOUT; no wall-clock time is
 * asserted, only the order of events (the first NDJSON line before the last).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zip.h>

#include "image.h"
#include "orfeas.h"
#include "server_harness.h"
#include "testutil.h"

static const char *const STAGES[4] = {"voxel_preview", "rough_mesh", "refined_mesh", "final_optimized"};
static const char ADMIN_TOKEN[] = "test-admin-token-4";

/* ---- fixtures: temp dir and images --------------------------------------- */

static char tmp[] = "/tmp/orfeas-srvtest-XXXXXX";
static uint8_t *disc_png, *disc_jpg, *disc_webp, *photo_jpg;
static size_t disc_png_n, disc_jpg_n, disc_webp_n, photo_jpg_n;
static int fixtures_ready;

static int make_fixtures(void) {
  if (fixtures_ready) return 0;
  if (!mkdtemp(tmp)) return -1;
  const float disc[3] = {80, 80, 55};
  const uint8_t fg[3] = {200, 60, 40}, bg[3] = {255, 255, 255};
  uint8_t *rgba = tu_discs_rgba(160, 160, disc, 1, 0, fg, bg, 255);
  uint8_t *rgb = tu_rgba_to_rgb(rgba, 160, 160);
  disc_png = tu_png(rgb, 160, 160, 3, 8, &disc_png_n);
  disc_jpg = tu_jpeg(rgb, 160, 160, 92, 0, &disc_jpg_n);
  disc_webp = tu_webp(rgba, 160, 160, 1, &disc_webp_n);
  photo_jpg = tu_photo_jpeg(1024, &photo_jpg_n);
  free(rgba);
  free(rgb);
  if (!disc_png || !disc_jpg || !disc_webp || !photo_jpg) return -1;
  fixtures_ready = 1;
  return 0;
}

static uint32_t crc32_of(const uint8_t *p, size_t n, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* Appends a PNG chunk (length, type, data, CRC) at out + *n. */
static void png_chunk(uint8_t *out, size_t *n, const char *type, const uint8_t *data, uint32_t len) {
  put_be32(out + *n, len);
  memcpy(out + *n + 4, type, 4);
  if (len) memcpy(out + *n + 8, data, len);
  put_be32(out + *n + 8 + len, crc32_of(out + *n + 4, 4 + (size_t)len, 0));
  *n += 12 + (size_t)len;
}

/* A decompression bomb: a well-formed, small PNG whose header says
 * w x h RGB pixels (one stored zlib block of 1000 zero bytes as IDAT).
 * Returns a malloc'd buffer. */
static uint8_t *png_bomb(uint32_t w, uint32_t h, size_t *size) {
  uint8_t *out = calloc(1, 2048);
  size_t n = 8;
  memcpy(out, "\x89PNG\r\n\x1a\n", 8);
  uint8_t ihdr[13] = {0};
  put_be32(ihdr, w);
  put_be32(ihdr + 4, h);
  ihdr[8] = 8, ihdr[9] = 2;
  png_chunk(out, &n, "IHDR", ihdr, 13);
  uint8_t z[2 + 5 + 1000 + 4] = {0x78, 0x01, 0x01, 0xe8, 0x03, 0x17, 0xfc};
  uint32_t a = 1, b = 0; /* Adler-32 of 1000 zeros */
  for (int i = 0; i < 1000; i++)
    b = (b + a) % 65521;
  put_be32(z + 7 + 1000, (b << 16) | a);
  png_chunk(out, &n, "IDAT", z, (uint32_t)sizeof z);
  png_chunk(out, &n, "IEND", NULL, 0);
  *size = n;
  return out;
}

static const uint8_t GIF_1x1[] = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80,
                                  0x00, 0x00, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x21, 0xf9, 0x04,
                                  0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x01,
                                  0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b};

/* ---- the server process (tests/server_harness.h) ----------------------------- */

static ts_server S; /* the current group's main server */

/* Starts a server as ts_start does, with its log at TMP/LOGNAME.log and the
 * environment variables "K=V K=V" in env (may be NULL).  0 or -1. */
static int server_start_env(ts_server *s, const char *data, const char *extra, const char *logname,
                            const char *env) {
  char log[600];
  snprintf(log, sizeof log, "%s/%s.log", tmp, logname);
  return ts_start(s, &(ts_launch){.data = data, .extra = extra, .log = log, .env = env});
}

static int server_start(ts_server *s, const char *data, const char *extra, const char *logname) {
  return server_start_env(s, data, extra, logname, NULL);
}

static int is_hex(const char *s, size_t n) {
  if (!s || strlen(s) != n) return 0;
  for (size_t i = 0; i < n; i++)
    if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f')) return 0;
  return 1;
}

static double num(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!json_is_number(v)) fail_msg("\"%s\" is missing or not a number", key);
  return json_number_value(v);
}

static json_int_t integer(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) fail_msg("\"%s\" is missing or not an integer", key);
  return json_integer_value(v);
}

static const char *str(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  if (!s) fail_msg("\"%s\" is missing or not a string", key);
  return s;
}

/* ---- mesh files ------------------------------------------------------------------ */

static void expect_glb(const ts_reply *r) {
  if (r->len < 20 || memcmp(r->body, "glTF", 4) != 0) fail_msg("%s: not a GLB (%zu bytes)", r->what, r->len);
  uint32_t version, length;
  memcpy(&version, r->body + 4, 4);
  memcpy(&length, r->body + 8, 4);
  assert_int_equal(version, 2);
  assert_int_equal(length, r->len);
}

/* Returns the triangle count of a binary STL. */
static uint32_t expect_stl(const ts_reply *r) {
  if (r->len < 84) fail_msg("%s: STL of %zu bytes", r->what, r->len);
  uint32_t t;
  memcpy(&t, r->body + 80, 4);
  assert_true(t > 0);
  assert_int_equal(r->len, 84 + 50 * (size_t)t);
  assert_true(memcmp(r->body, "solid", 5) != 0);
  return t;
}

/* Returns the face count of a binary PLY as the engine writes it. */
static size_t expect_ply(const ts_reply *r) {
  orf_mesh m;
  memset(&m, 0, sizeof m);
  int rc = orf_mesh_read_ply((const uint8_t *)r->body, r->len, &m);
  if (rc != ORF_OK) fail_msg("%s: not a complete binary PLY (%d, %zu bytes)", r->what, rc, r->len);
  size_t f = m.face_count;
  orf_mesh_free(&m);
  assert_true(f > 0);
  return f;
}

static void count_obj(const ts_reply *r, size_t *v, size_t *f) {
  *v = *f = 0;
  const char *p = r->body;
  while (p && p < r->body + r->len) {
    if (p[0] == 'v' && p[1] == ' ') (*v)++;
    if (p[0] == 'f' && p[1] == ' ') (*f)++;
    p = strchr(p, '\n');
    if (p) p++;
  }
}

/* ---- API helpers --------------------------------------------------------------------- */

static double cache_stat(const char *key) {
  ts_reply r;
  ts_get(&r, "/api/v1/cache/stats");
  TS_EXPECT_STATUS(&r, 200);
  json_t *j = ts_reply_json(&r);
  double v = num(j, key);
  json_decref(j);
  ts_reply_free(&r);
  return v;
}

/* Polls until metric >= target or timeout_s; returns the last value. */
static double wait_metric(const char *name, const char *label, double target, double timeout_s) {
  double t0 = ts_now_s(), v = 0;
  while ((v = ts_get_metric(NULL, name, label)) < target && ts_now_s() - t0 < timeout_s)
    ts_sleep_ms(50);
  return v;
}

/* POSTs the disc PNG to path as multipart/form-data (its `image` part) with
 * the fields "k=v&k=v". */
static void post_disc_form(ts_reply *r, const char *path, const char *fields) {
  ts_http(r, &(ts_request){.method = "POST",
                           .path = path,
                           .multipart = 1,
                           .image = disc_png,
                           .image_len = disc_png_n,
                           .image_type = "image/png",
                           .fields = fields});
}

/* POSTs the disc PNG to path as a raw image/png body. */
static void post_disc_raw(ts_reply *r, const char *path) {
  ts_http(r, &(ts_request){
                 .method = "POST", .path = path, .ctype = "image/png", .body = disc_png, .len = disc_png_n});
}

/* POST /api/v1/generate?QUERY with a raw body; returns the parsed 200
 * response (json_decref it). */
static json_t *generate_raw(const char *query, const void *img, size_t n, const char *type) {
  char path[512];
  snprintf(path, sizeof path, "/api/v1/generate%s%s", query && query[0] ? "?" : "", query ? query : "");
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST", .path = path, .ctype = type, .body = img, .len = n});
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "application/json");
  json_t *j = ts_reply_json(&r);
  ts_reply_free(&r);
  return j;
}

/* Polls GET /api/v1/jobs/<id> until its status is one of `want` ("a|b");
 * returns the last status object. */
static json_t *wait_job(const char *id, const char *want, double timeout_s) {
  char path[256];
  snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
  double t0 = ts_now_s();
  for (;;) {
    ts_reply r;
    ts_get(&r, path);
    TS_EXPECT_STATUS(&r, 200);
    json_t *j = ts_reply_json(&r);
    ts_reply_free(&r);
    const char *st = str(j, "status");
    char w[128];
    snprintf(w, sizeof w, "%s", want);
    for (char *t = strtok(w, "|"); t; t = strtok(NULL, "|"))
      if (strcmp(t, st) == 0) return j;
    if (!strcmp(st, "complete") || !strcmp(st, "failed") || !strcmp(st, "cancelled"))
      fail_msg("job %s ended \"%s\" while waiting for %s: %s", id, st, want,
               json_dumps(j, JSON_COMPACT)); /* (a finished job never changes again) */
    if (ts_now_s() - t0 > timeout_s)
      fail_msg("job %s still \"%s\" after %.0f s (waiting for %s)", id, st, timeout_s, want);
    json_decref(j);
    ts_sleep_ms(20);
  }
}

/* POST /api/v1/jobs?QUERY with a raw JPEG; asserts 202 + Location; writes
 * the job id. */
static void submit_job(const char *query, const void *img, size_t n, char id[128]) {
  char path[512];
  snprintf(path, sizeof path, "/api/v1/jobs?%s", query);
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST", .path = path, .ctype = "image/jpeg", .body = img, .len = n});
  TS_EXPECT_STATUS(&r, 202);
  json_t *j = ts_reply_json(&r);
  snprintf(id, 128, "%s", str(j, "job_id"));
  char want[300];
  snprintf(want, sizeof want, "/api/v1/jobs/%s", id);
  ts_expect_header(&r, "Location", want);
  json_decref(j);
  ts_reply_free(&r);
}

/* ---- group setup / teardown ------------------------------------------------------------- */

static const char *api_opts(void) {
  static char o[512];
  snprintf(
      o, sizeof o,
      "--workers 2 --queue-max 16 --cache-mem-mb 64 --cache-disk-mb 256 --cache-ttl 600 --max-upload-mb 1 "
      "--admin-token %s",
      ADMIN_TOKEN);
  return o;
}

static int setup_api(void **state) {
  (void)state;
  if (make_fixtures() != 0) return -1;
  char data[600];
  snprintf(data, sizeof data, "%s/data-api", tmp);
  return server_start(&S, data, api_opts(), "api");
}

static int setup_queue(void **state) {
  (void)state;
  if (make_fixtures() != 0) return -1;
  char data[600];
  snprintf(data, sizeof data, "%s/data-queue", tmp);
  return server_start(&S, data, "--workers 1 --queue-max 1 --max-upload-mb 4", "queue");
}

static int setup_restart(void **state) {
  (void)state;
  return make_fixtures();
}

static int teardown_group(void **state) {
  (void)state;
  ts_kill_all();
  return 0;
}

/* ---- server_api tests ------------------------------------------------------------------- */

static void test_health(void **state) {
  (void)state;
  ts_reply r;
  ts_get(&r, "/health");
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "application/json");
  json_t *j = ts_reply_json(&r);
  assert_string_equal(str(j, "status"), "ok");
  assert_true(strlen(str(j, "version")) > 0);
  assert_true(num(j, "uptime_s") >= 0);
  const char *eng = str(j, "engine");
  assert_true(strcmp(eng, "cpu") == 0 || strcmp(eng, "cuda") == 0);
  json_t *gpu = json_object_get(j, "gpu");
  assert_true(json_is_object(gpu));
  assert_true(json_is_boolean(json_object_get(gpu, "available")));
  json_decref(j);
  ts_reply_free(&r);
}

static void test_ready(void **state) {
  (void)state;
  ts_reply r;
  ts_get(&r, "/ready");
  TS_EXPECT_STATUS(&r, 200);
  ts_reply_free(&r);
}

static void test_metrics_promtool(void **state) {
  (void)state;
  /* a request of each kind first, so that labelled series exist */
  ts_reply r;
  ts_get(&r, "/health");
  ts_reply_free(&r);
  ts_get(&r, "/api/v1/results/0000/x.glb");
  ts_reply_free(&r);
  ts_get(&r, "/metrics");
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "text/plain");
  const char *names[] = {"orfeas_http_requests_total", "orfeas_http_request_duration_seconds_bucket",
                         "orfeas_queue_depth",         "orfeas_running_jobs",
                         "orfeas_cache_hits_total",    "orfeas_cache_misses_total",
                         "orfeas_cache_bytes",         "orfeas_cache_evictions_total",
                         "orfeas_uptime_seconds"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++)
    if (!strstr(r.body, names[i])) fail_msg("/metrics has no %s", names[i]);
  assert_true(ts_metric(r.body, "orfeas_http_requests_total", "route=\"health\"") >= 1);
  if (access("/usr/bin/promtool", X_OK) == 0) {
    char path[600], cmd[1400];
    snprintf(path, sizeof path, "%s/metrics.txt", tmp);
    assert_int_equal(tu_write_file(path, r.body, r.len), 0);
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s > %s.out 2>&1", path, path);
    int st = system(cmd);
    if (st != 0) {
      char out[1200];
      snprintf(out, sizeof out, "%s.out", path);
      size_t n;
      uint8_t *t = tu_read_file(out, &n);
      fail_msg("promtool check metrics failed (%d): %.1000s", st, t ? (char *)t : "");
    }
  } else {
    print_message("promtool not installed: metrics syntax not checked\n");
  }
  ts_reply_free(&r);
}

static void test_gpu_stats(void **state) {
  (void)state;
  ts_reply r;
  ts_get(&r, "/api/v1/gpu/stats");
  TS_EXPECT_STATUS(&r, 200);
  json_t *j = ts_reply_json(&r);
  const char *ts = str(j, "timestamp");
  int y, mo, d, h, mi, s;
  if (sscanf(ts, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &s) != 6 || y < 2000)
    fail_msg("timestamp \"%s\" is not ISO-8601", ts);
  json_t *gpu = json_object_get(j, "gpu");
  assert_true(json_is_object(gpu));
  json_t *av = json_object_get(gpu, "available");
  assert_true(json_is_boolean(av));
  if (json_is_true(av)) {
    assert_true(json_is_array(json_object_get(gpu, "devices")));
    num(gpu, "total_vram_gb");
  }
  assert_true(integer(j, "queue_depth") >= 0);
  assert_true(integer(j, "running_jobs") >= 0);
  const char *prec = str(j, "recommended_precision");
  assert_true(!strcmp(prec, "fp32") || !strcmp(prec, "fp16") || !strcmp(prec, "int8"));
  json_int_t b = integer(j, "optimal_batch_size");
  assert_true(b >= 1 && b <= 32);
  json_t *mb = json_object_get(j, "memory_budget");
  assert_true(json_is_object(mb));
  const char *dev = str(mb, "device");
  assert_true(!strcmp(dev, "cpu") || !strcmp(dev, "cuda:0"));
  const char *keys[] = {"total_gb", "reserved_system_gb", "reserved_cache_gb", "available_for_jobs_gb",
                        "in_use_gb"};
  for (int i = 0; i < 5; i++)
    assert_true(num(mb, keys[i]) >= 0);
  json_t *hist = json_object_get(j, "history");
  assert_true(json_is_array(hist));
  for (size_t i = 0; i < json_array_size(hist); i++) {
    json_t *e = json_array_get(hist, i);
    num(e, "t");
    num(e, "in_use_gb");
    num(e, "available_gb");
  }
  json_decref(j);
  ts_reply_free(&r);
}

static void test_cache_stats_shape(void **state) {
  (void)state;
  ts_reply r;
  ts_get(&r, "/api/v1/cache/stats");
  TS_EXPECT_STATUS(&r, 200);
  json_t *j = ts_reply_json(&r);
  const char *keys[] = {"entries", "total_hits", "misses", "bytes", "max_bytes", "evictions", "coalesced"};
  for (int i = 0; i < 7; i++)
    assert_true(integer(j, keys[i]) >= 0);
  double hr = num(j, "hit_ratio");
  assert_true(hr >= 0 && hr <= 1);
  assert_true(num(j, "avg_hits_per_entry") >= 0);
  assert_true(integer(j, "max_bytes") > 0);
  assert_float_equal(num(j, "ttl_seconds"), 600.0, 1e-9); /* --cache-ttl 600 */
  json_decref(j);
  ts_reply_free(&r);
}

/* Every field of a generate response, for a job made with format `fmt`,
 * quality q and size_mm (the longest side); returns the hash (copied into hash[65]). */
static void check_generate_fields(json_t *j, const char *fmt, int q, double size_mm, char hash[65]) {
  const char *h = str(j, "request_hash");
  if (!is_hex(h, 64)) fail_msg("request_hash \"%s\" is not 64 lowercase hex digits", h);
  snprintf(hash, 65, "%s", h);
  assert_true(json_is_boolean(json_object_get(j, "cached")));
  assert_string_equal(str(j, "status"), "complete");
  assert_string_equal(str(j, "mode"), "inflate");
  assert_int_equal(integer(j, "quality"), q);
  size_t flen = strcspn(fmt, "?"); /* fmt may carry the URLs' query: glb?compress=meshopt */
  if (strlen(str(j, "format")) != flen || strncmp(str(j, "format"), fmt, flen))
    fail_msg("format \"%s\", expected %.*s", str(j, "format"), (int)flen, fmt);
  json_t *m = json_object_get(j, "mesh");
  assert_true(json_is_object(m));
  json_int_t mv = integer(m, "vertices"), mf = integer(m, "faces");
  assert_true(mv > 0 && mf > 0);
  assert_true(json_is_true(json_object_get(m, "watertight")));
  assert_true(json_is_true(json_object_get(m, "manifold")));
  json_t *bb = json_object_get(m, "bbox_mm");
  assert_int_equal(json_array_size(bb), 3);
  double longest = 0;
  for (size_t i = 0; i < 3; i++) {
    double v = json_number_value(json_array_get(bb, i));
    assert_true(v > 0);
    longest = fmax(longest, v);
  }
  assert_float_equal(longest, size_mm, size_mm * 0.01); /* size_mm on the longest side */
  assert_true(num(m, "volume_mm3") > 0);
  assert_true(num(m, "surface_mm2") > 0);
  json_t *st = json_object_get(j, "stages");
  assert_int_equal(json_array_size(st), 4);
  double prev = -1;
  for (size_t i = 0; i < 4; i++) {
    json_t *s = json_array_get(st, i);
    assert_string_equal(str(s, "stage"), STAGES[i]);
    char url[300];
    snprintf(url, sizeof url, "/api/v1/results/%s/%s.%s", hash, STAGES[i], fmt);
    assert_string_equal(str(s, "url"), url);
    assert_true(integer(s, "vertices") > 0 && integer(s, "faces") > 0);
    double e = num(s, "elapsed_ms");
    assert_true(e >= prev); /* cumulative time to the stage */
    prev = e;
    if (i == 3) {
      assert_int_equal(integer(s, "faces"), mf);
      assert_int_equal(integer(s, "vertices"), mv);
    }
  }
  char dl[300];
  snprintf(dl, sizeof dl, "/api/v1/results/%s/final_optimized.%s", hash, fmt);
  assert_string_equal(str(j, "download_url"), dl);
  json_t *t = json_object_get(j, "timings_ms");
  const char *tk[] = {"decode", "mask", "field", "mesh", "smooth", "simplify", "export", "total"};
  for (int i = 0; i < 8; i++)
    assert_true(num(t, tk[i]) >= 0);
  assert_true(num(t, "total") > 0);
}

static void test_generate_multipart_then_raw_cached(void **state) {
  (void)state;
  ts_reply r;
  post_disc_form(&r, "/api/v1/generate", "quality=4&style=realistic");
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "application/json");
  json_t *j = ts_reply_json(&r);
  ts_reply_free(&r);
  char hash[65];
  check_generate_fields(j, "glb", 4, 100, hash);
  assert_true(json_is_false(json_object_get(j, "cached")));
  ts_reply g1;
  ts_get(&g1, str(j, "download_url"));
  TS_EXPECT_STATUS(&g1, 200);
  expect_glb(&g1);
  json_decref(j);

  double hits0 = cache_stat("total_hits");
  /* the same image and parameters as a raw body: same hash, from the cache */
  j = generate_raw("quality=4&style=realistic", disc_png, disc_png_n, "image/png");
  char hash2[65];
  check_generate_fields(j, "glb", 4, 100, hash2);
  assert_string_equal(hash, hash2);
  if (!json_is_true(json_object_get(j, "cached")))
    fail_msg("a repeated request was not answered from the cache");
  assert_true(cache_stat("total_hits") > hits0);
  ts_reply g2;
  ts_get(&g2, str(j, "download_url"));
  TS_EXPECT_STATUS(&g2, 200);
  assert_int_equal(g1.len, g2.len);
  assert_memory_equal(g1.body, g2.body, g1.len);
  json_decref(j);
  /* ?download=1 gives the same file itself */
  ts_reply g3;
  ts_http(&g3, &(ts_request){.method = "POST",
                             .path = "/api/v1/generate?quality=4&style=realistic&download=1",
                             .ctype = "image/png",
                             .body = disc_png,
                             .len = disc_png_n});
  TS_EXPECT_STATUS(&g3, 200);
  ts_expect_header_prefix(&g3, "Content-Type", "model/gltf-binary");
  expect_glb(&g3);
  assert_int_equal(g1.len, g3.len);
  assert_memory_equal(g1.body, g3.body, g1.len);
  ts_reply_free(&g1);
  ts_reply_free(&g2);
  ts_reply_free(&g3);
}

static void test_generate_input_types(void **state) {
  (void)state;
  json_t *a = generate_raw("quality=2", disc_jpg, disc_jpg_n, "image/jpeg");
  json_t *b = generate_raw("quality=2", disc_webp, disc_webp_n, "image/webp");
  char ha[65], hb[65];
  check_generate_fields(a, "glb", 2, 100, ha);
  check_generate_fields(b, "glb", 2, 100, hb);
  assert_string_not_equal(ha, hb); /* other image bytes, other hash */
  json_decref(a);
  json_decref(b);
  /* format=stl: URLs in that format */
  json_t *c = generate_raw("quality=2&format=stl", disc_jpg, disc_jpg_n, "image/jpeg");
  char hc[65];
  check_generate_fields(c, "stl", 2, 100, hc);
  assert_string_equal(ha, hc); /* the format is a conversion of one cached geometry */
  json_decref(c);
}

static void test_download_stl_and_accept(void **state) {
  (void)state;
  ts_reply r;
  post_disc_raw(&r, "/api/v1/generate?quality=3&format=stl&download=1");
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "model/stl");
  uint32_t t = expect_stl(&r);
  ts_reply_free(&r);
  /* an Accept naming the format's media type does the same */
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate?quality=3&format=stl",
                            .ctype = "image/png",
                            .body = disc_png,
                            .len = disc_png_n,
                            .header = "Accept: model/stl"});
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "model/stl");
  assert_int_equal(expect_stl(&r), t);
  ts_reply_free(&r);
  /* GLB with download=1 over multipart */
  post_disc_form(&r, "/api/v1/generate", "quality=3&download=1");
  TS_EXPECT_STATUS(&r, 200);
  expect_glb(&r);
  ts_reply_free(&r);
}

static void test_missing_and_bad_image(void **state) {
  (void)state;
  ts_reply r;
  /* multipart without an image */
  ts_http(&r,
          &(ts_request){.method = "POST", .path = "/api/v1/generate", .multipart = 1, .fields = "quality=5"});
  ts_expect_error(&r, 400, "missing_image", NULL);
  ts_reply_free(&r);
  /* raw, empty body */
  ts_http(&r, &(ts_request){
                  .method = "POST", .path = "/api/v1/generate", .ctype = "image/png", .body = "", .len = 0});
  ts_expect_error(&r, 400, "missing_image", NULL);
  ts_reply_free(&r);
  /* multipart with an empty image file */
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .multipart = 1,
                            .image = "",
                            .image_len = 0,
                            .image_type = "image/png"});
  TS_EXPECT_STATUS(&r, 400);
  {
    json_t *j = ts_reply_json(&r);
    const char *c = str(j, "code");
    if (strcmp(c, "missing_image") != 0 && strcmp(c, "bad_image") != 0)
      fail_msg("empty image file: code %s", c);
    json_decref(j);
  }
  ts_reply_free(&r);
  /* truncated PNG, raw and multipart; truncated JPEG */
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .ctype = "image/png",
                            .body = disc_png,
                            .len = disc_png_n / 2});
  ts_expect_error(&r, 400, "bad_image", NULL);
  ts_reply_free(&r);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .multipart = 1,
                            .image = disc_png,
                            .image_len = disc_png_n / 2,
                            .image_type = "image/png"});
  ts_expect_error(&r, 400, "bad_image", NULL);
  ts_reply_free(&r);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .ctype = "image/jpeg",
                            .body = photo_jpg,
                            .len = photo_jpg_n / 3});
  ts_expect_error(&r, 400, "bad_image", NULL);
  ts_reply_free(&r);
}

static void test_too_large(void **state) {
  (void)state;
  size_t big_n = 2u << 20; /* 2 MB against --max-upload-mb 1 */
  uint8_t *big = calloc(1, big_n);
  assert_non_null(big);
  memcpy(big, disc_png, disc_png_n);
  ts_reply r;
  ts_http(&r,
          &(ts_request){
              .method = "POST", .path = "/api/v1/generate", .ctype = "image/png", .body = big, .len = big_n});
  ts_expect_error(&r, 413, "too_large", NULL);
  ts_reply_free(&r);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .multipart = 1,
                            .image = big,
                            .image_len = big_n,
                            .image_type = "image/png"});
  ts_expect_error(&r, 413, "too_large", NULL);
  ts_reply_free(&r);
  /* no Content-Length: the limit holds while reading */
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .ctype = "image/png",
                            .body = big,
                            .len = big_n,
                            .chunked = 1});
  ts_expect_error(&r, 413, "too_large", NULL);
  ts_reply_free(&r);
  free(big);
  /* a small PNG whose header says 100000 x 100000 */
  size_t bn;
  uint8_t *bomb = png_bomb(100000, 100000, &bn);
  ts_http(&r,
          &(ts_request){
              .method = "POST", .path = "/api/v1/generate", .ctype = "image/png", .body = bomb, .len = bn});
  ts_expect_error(&r, 413, "too_large", NULL);
  ts_reply_free(&r);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .multipart = 1,
                            .image = bomb,
                            .image_len = bn,
                            .image_type = "image/png"});
  ts_expect_error(&r, 413, "too_large", NULL);
  ts_reply_free(&r);
  free(bomb);
  ts_get(&r, "/health");
  TS_EXPECT_STATUS(&r, 200);
  ts_reply_free(&r);
}

static void test_unsupported_type(void **state) {
  (void)state;
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .ctype = "image/gif",
                            .body = GIF_1x1,
                            .len = sizeof GIF_1x1});
  ts_expect_error(&r, 415, "unsupported_type", NULL);
  ts_reply_free(&r);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .multipart = 1,
                            .image = GIF_1x1,
                            .image_len = sizeof GIF_1x1,
                            .image_type = "image/gif"});
  ts_expect_error(&r, 415, "unsupported_type", NULL);
  ts_reply_free(&r);
  /* a GIF that claims to be a PNG is still a GIF */
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate",
                            .ctype = "image/png",
                            .body = GIF_1x1,
                            .len = sizeof GIF_1x1});
  ts_expect_error(&r, 415, "unsupported_type", NULL);
  ts_reply_free(&r);
}

/* Every printing mode is served over HTTP: closed, manifold meshes whose
 * longest side is size_mm. */
static void test_printing_modes(void **state) {
  (void)state;
  const char *modes[] = {"mode=relief&cutout=true", "mode=lithophane&shape=cylinder", "mode=extrude"};
  for (int i = 0; i < 3; i++) {
    char q[160];
    snprintf(q, sizeof q, "quality=2&size_mm=40&%s", modes[i]);
    json_t *j = generate_raw(q, disc_png, disc_png_n, "image/png");
    json_t *mesh = json_object_get(j, "mesh");
    assert_true(json_is_true(json_object_get(mesh, "watertight")));
    assert_true(json_is_true(json_object_get(mesh, "manifold")));
    assert_true(num(mesh, "volume_mm3") > 0);
    json_t *bbox = json_object_get(mesh, "bbox_mm");
    double longest = 0;
    for (int a = 0; a < 3; a++)
      if (json_real_value(json_array_get(bbox, (size_t)a)) > longest)
        longest = json_real_value(json_array_get(bbox, (size_t)a));
    assert_float_equal(longest, 40.0, 0.05);
    json_decref(j);
  }
}

static void test_invalid_param(void **state) {
  (void)state;
  static const struct {
    const char *query, *param;
  } cases[] = {{"quality=11", "quality"},
               {"quality=0", "quality"},
               {"quality=abc", "quality"},
               {"unknown=1", "unknown"},
               {"format=fbx", "format"},
               {"size_mm=5000", "size_mm"},
               {"thickness=-1", "thickness"},
               /* rules between parameters name the parameter they are about */
               {"mode=lithophane&min_mm=2&max_mm=1", "min_mm"},
               {"mode=lithophane&min_mm=0.3", "min_mm"},
               {"mode=lithophane&border_mm=60", "border_mm"},
               {"mode=extrude&depth_mm=4&bevel_mm=3", "bevel_mm"},
               {"mode=relief&relief_mm=60&base_mm=50", "relief_mm"},
               /* texture and compression where the format cannot hold them */
               {"texture=on&format=stl", "texture"},
               {"compress=meshopt&format=obj", "compress"},
               {"texture=sometimes", "texture"},
               {"compress=zstd", "compress"}};
  ts_reply r;
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char path[256];
    snprintf(path, sizeof path, "/api/v1/generate?%s", cases[i].query);
    ts_http(&r,
            &(ts_request){
                .method = "POST", .path = path, .ctype = "image/png", .body = disc_png, .len = disc_png_n});
    ts_expect_error(&r, 422, "invalid_param", cases[i].param);
    ts_reply_free(&r);
  }
  post_disc_form(&r, "/api/v1/generate", "quality=11");
  ts_expect_error(&r, 422, "invalid_param", "quality");
  ts_reply_free(&r);
  post_disc_form(&r, "/api/v1/generate", "unknown=1");
  ts_expect_error(&r, 422, "invalid_param", "unknown");
  ts_reply_free(&r);
}

/* Parses NDJSON lines (or SSE "data:" events when sse) into up to `max`
 * objects; returns how many. */
static int parse_events(const char *body, int sse, json_t **out, int max) {
  int n = 0;
  for (const char *p = body; p && *p && n < max;) {
    const char *eol = strchr(p, '\n');
    size_t ll = eol ? (size_t)(eol - p) : strlen(p);
    const char *s = p;
    if (sse) {
      if (ll >= 5 && strncmp(p, "data:", 5) == 0) {
        s = p + 5, ll -= 5;
        if (ll && *s == ' ') s++, ll--;
      } else
        ll = 0; /* event:, id:, comments, blank separators */
    }
    while (ll && (s[ll - 1] == '\r'))
      ll--;
    if (ll) {
      json_error_t e;
      out[n] = json_loadb(s, ll, 0, &e);
      if (!out[n]) fail_msg("stream line is not JSON (%s): %.*s", e.text, (int)ll, s);
      n++;
    }
    p = eol ? eol + 1 : NULL;
  }
  return n;
}

/* Checks the four stage objects of a stream (NDJSON or SSE). */
static void check_stage_events(json_t **ev, int n, const char *fmt) {
  if (n != 4) fail_msg("%d stream events, expected 4", n);
  for (int i = 0; i < 4; i++) {
    assert_string_equal(str(ev[i], "stage"), STAGES[i]);
    assert_int_equal(integer(ev[i], "progress"), 25 * (i + 1));
    assert_string_equal(str(ev[i], "status"), i < 3 ? "processing" : "complete");
    json_t *d = json_object_get(ev[i], "data");
    assert_true(json_is_object(d));
    assert_true(integer(d, "vertices") > 0 && integer(d, "faces") > 0);
    num(d, "elapsed_ms");
    const char *url = str(d, "url");
    char suffix[64];
    snprintf(suffix, sizeof suffix, "/%s.%s", STAGES[i], fmt);
    if (strncmp(url, "/api/v1/results/", 16) != 0 || strlen(url) < strlen(suffix) ||
        strcmp(url + strlen(url) - strlen(suffix), suffix) != 0)
      fail_msg("stage url \"%s\" is not /api/v1/results/<hash>%s", url, suffix);
  }
  json_t *d0 = json_object_get(ev[0], "data");
  assert_string_equal(str(d0, "type"), "voxel_grid");
  json_t *dim = json_object_get(d0, "dimensions");
  assert_int_equal(json_array_size(dim), 3);
  for (size_t k = 0; k < 3; k++)
    assert_int_equal(json_integer_value(json_array_get(dim, k)), 32);
  json_t *mesh = json_object_get(ev[3], "mesh");
  if (!mesh) mesh = json_object_get(json_object_get(ev[3], "data"), "mesh");
  if (!json_is_object(mesh)) fail_msg("final_optimized event has no mesh object");
  assert_true(json_is_true(json_object_get(mesh, "watertight")));
}

static void test_progressive_stream(void **state) {
  (void)state;
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate-progressive?quality=10&size_mm=61",
                            .ctype = "image/jpeg",
                            .body = photo_jpg,
                            .len = photo_jpg_n});
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "application/x-ndjson");
  ts_expect_header(&r, "Cache-Control", "no-cache");
  ts_expect_header(&r, "X-Accel-Buffering", "no");
  ts_expect_header(&r, "X-Content-Type-Options", "nosniff");
  json_t *ev[8];
  int n = parse_events(r.body, 0, ev, 8);
  check_stage_events(ev, n, "glb");
  assert_int_equal(r.n_lines, 4);
  /* flushed as produced: the first line came before the last by a good part
   * of the time the server says the last stages took */
  double server_gap = (num(json_object_get(ev[3], "data"), "elapsed_ms") -
                       num(json_object_get(ev[0], "data"), "elapsed_ms")) /
                      1000.0;
  double client_gap = r.t_line[3] - r.t_line[0];
  assert_true(server_gap > 0);
  if (!(client_gap > 0.5 * server_gap))
    fail_msg("lines were not flushed as produced: first and last line %.3f s apart on the client, "
             "%.3f s apart on the server",
             client_gap, server_gap);
  /* the first stage's URL can be fetched */
  ts_reply g;
  ts_get(&g, str(json_object_get(ev[0], "data"), "url"));
  TS_EXPECT_STATUS(&g, 200);
  expect_glb(&g);
  ts_reply_free(&g);
  for (int i = 0; i < n; i++)
    json_decref(ev[i]);
  ts_reply_free(&r);
}

static void test_concurrent_identical(void **state) {
  (void)state;
  enum { N = 10 };
  double done0 = ts_get_metric(NULL, "orfeas_jobs_total", "status=\"complete\"");
  double coal0 = cache_stat("coalesced");
  CURLM *m = curl_multi_init();
  CURL *h[N];
  ts_reply r[N];
  struct curl_slist *hl[N];
  curl_mime *mime[N];
  ts_request q = {.method = "POST",
                  .path = "/api/v1/generate?quality=10&size_mm=62&download=1",
                  .ctype = "image/jpeg",
                  .body = photo_jpg,
                  .len = photo_jpg_n};
  for (int i = 0; i < N; i++) {
    h[i] = curl_easy_init();
    ts_prepare(h[i], &q, &r[i], &hl[i], &mime[i]);
    curl_easy_setopt(h[i], CURLOPT_PRIVATE, &r[i]);
    curl_multi_add_handle(m, h[i]);
  }
  int running = 1;
  double t0 = ts_now_s();
  while (running && ts_now_s() - t0 < TS_REQ_TIMEOUT_S) {
    curl_multi_perform(m, &running);
    if (running) curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(m, &left)))
    if (msg->msg == CURLMSG_DONE) {
      ts_reply *rr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&rr);
      ts_finish(msg->easy_handle, rr, msg->data.result);
    }
  for (int i = 0; i < N; i++) {
    curl_multi_remove_handle(m, h[i]);
    curl_easy_cleanup(h[i]);
    curl_slist_free_all(hl[i]);
    curl_mime_free(mime[i]);
  }
  curl_multi_cleanup(m);
  for (int i = 0; i < N; i++) {
    TS_EXPECT_STATUS(&r[i], 200);
    expect_glb(&r[i]);
    assert_int_equal(r[i].len, r[0].len);
    assert_memory_equal(r[i].body, r[0].body, r[0].len);
  }
  for (int i = 0; i < N; i++)
    ts_reply_free(&r[i]);
  /* computed once */
  double done = wait_metric("orfeas_jobs_total", "status=\"complete\"", done0 + 1, 10);
  ts_sleep_ms(200);
  done = ts_get_metric(NULL, "orfeas_jobs_total", "status=\"complete\"");
  if (done - done0 != 1) fail_msg("%d identical requests ran %.0f computations", N, done - done0);
  double coal = cache_stat("coalesced");
  if (coal - coal0 != N - 1) fail_msg("coalesced went up by %.0f, expected %d", coal - coal0, N - 1);
}

static void test_results_formats(void **state) {
  (void)state;
  json_t *j = generate_raw("quality=3&size_mm=100&thickness=0.4", disc_png, disc_png_n, "image/png");
  char hash[65];
  check_generate_fields(j, "glb", 3, 100, hash);
  size_t faces = (size_t)integer(json_object_get(j, "mesh"), "faces");
  size_t verts = (size_t)integer(json_object_get(j, "mesh"), "vertices");
  size_t rough_faces = (size_t)integer(json_array_get(json_object_get(j, "stages"), 1), "faces");
  json_decref(j);
  static const struct {
    const char *ext, *type;
  } fm[] = {{"glb", "model/gltf-binary"},
            {"stl", "model/stl"},
            {"obj?texture=off", "model/obj"}, /* the OBJ itself: textured, it is a zip */
            {"ply", "application/octet-stream"}};
  char etags[4][256];
  for (int i = 0; i < 4; i++) {
    char path[300];
    snprintf(path, sizeof path, "/api/v1/results/%s/final_optimized.%s", hash, fm[i].ext);
    ts_reply a, b;
    ts_get(&a, path);
    TS_EXPECT_STATUS(&a, 200);
    ts_expect_header_prefix(&a, "Content-Type", fm[i].type);
    ts_expect_header(&a, "Cache-Control", "public, max-age=31536000, immutable");
    char cl[64], et[256], et2[256];
    if (!ts_header(&a, "Content-Length", cl, sizeof cl)) fail_msg("%s: no Content-Length", path);
    assert_int_equal(strtoull(cl, NULL, 10), a.len);
    if (!ts_header(&a, "ETag", et, sizeof et) || !et[0]) fail_msg("%s: no ETag", path);
    snprintf(etags[i], sizeof etags[i], "%s", et);
    if (i == 0) expect_glb(&a);
    if (i == 1) assert_int_equal(expect_stl(&a), faces);
    if (i == 2) {
      size_t v, f;
      count_obj(&a, &v, &f);
      assert_int_equal(v, verts);
      assert_int_equal(f, faces);
    }
    if (i == 3) assert_int_equal(expect_ply(&a), faces);
    ts_get(&b, path); /* again: the same bytes under the same ETag */
    TS_EXPECT_STATUS(&b, 200);
    ts_header(&b, "ETag", et2, sizeof et2);
    assert_string_equal(et, et2);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.body, b.body, a.len);
    ts_reply_free(&b);
    char inm[300];
    snprintf(inm, sizeof inm, "If-None-Match: %s", et);
    ts_http(&b, &(ts_request){.path = path, .header = inm});
    if (b.status != 304)
      print_message("note: If-None-Match on %s gave %ld (304 not required)\n", path, b.status);
    ts_reply_free(&b);
    ts_reply_free(&a);
  }
  for (int i = 0; i < 4; i++)
    for (int k = i + 1; k < 4; k++)
      assert_string_not_equal(etags[i], etags[k]);
  /* an earlier stage in another format */
  char path[300];
  snprintf(path, sizeof path, "/api/v1/results/%s/rough_mesh.stl", hash);
  ts_reply r;
  ts_get(&r, path);
  TS_EXPECT_STATUS(&r, 200);
  assert_int_equal(expect_stl(&r), rough_faces);
  ts_reply_free(&r);
  /* unknown hash 404; malformed 400 */
  ts_get(
      &r,
      "/api/v1/results/0000000000000000000000000000000000000000000000000000000000000000/final_optimized.glb");
  TS_EXPECT_STATUS(&r, 404);
  ts_reply_free(&r);
  ts_get(&r, "/api/v1/results/xyz/final_optimized.glb");
  TS_EXPECT_STATUS(&r, 400);
  ts_reply_free(&r);
  ts_get(
      &r,
      "/api/v1/results/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg/final_optimized.glb");
  TS_EXPECT_STATUS(&r, 400);
  ts_reply_free(&r);
  /* an unknown stage or format of a known hash: not found or refused */
  const char *bad[] = {"bogus_stage.glb", "final_optimized.fbx", "final_optimized", "meta.json"};
  for (int i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "/api/v1/results/%s/%s", hash, bad[i]);
    ts_get(&r, path);
    if (r.status != 400 && r.status != 404 && r.status != 415)
      fail_msg("%s -> %ld, expected 400/404", path, r.status);
    ts_reply_free(&r);
  }
}

/* One variant of a result: GET twice, a conversion made on the first
 * (X-Cache: miss) and served from the cache on the second (hit) with the
 * same bytes; returns the first reply (the caller frees it). */
static void get_variant_twice(ts_reply *a, const char *path, const char *type) {
  ts_reply b;
  ts_get(a, path);
  TS_EXPECT_STATUS(a, 200);
  ts_expect_header_prefix(a, "Content-Type", type);
  ts_expect_header(a, "X-Cache", "miss");
  ts_expect_header(a, "Cache-Control", "public, max-age=31536000, immutable");
  ts_get(&b, path);
  TS_EXPECT_STATUS(&b, 200);
  ts_expect_header(&b, "X-Cache", "hit");
  assert_int_equal(a->len, b.len);
  assert_memory_equal(a->body, b.body, a->len);
  ts_reply_free(&b);
}

/* The body of r as a zip archive (closed by the caller); fails when it is
 * not one. */
static zip_t *open_zip(const ts_reply *r) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(r->body, r->len, 0, &ze);
  zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
  if (!za) fail_msg("%s: not a zip: %s", r->what, zip_error_strerror(&ze));
  zip_error_fini(&ze);
  return za;
}

/* The GLB's JSON chunk as text (malloc'd). */
static char *glb_json(const ts_reply *r) {
  expect_glb(r);
  uint32_t n;
  memcpy(&n, r->body + 12, 4);
  assert_true(20 + (size_t)n <= r->len);
  return strndup(r->body + 20, n);
}

/* Textures and compression from the cache (issue 18): a generation's
 * stages served as every variant - the GLB textured by default (the image
 * and TEXCOORD_0, no COLOR_0), meshopt-compressed (EXT_meshopt_compression
 * and KHR_mesh_quantization, required) or Draco-compressed
 * (KHR_draco_mesh_compression, required), both, neither; an earlier stage
 * with the same texture; the textured OBJ as a zip of OBJ, MTL and image;
 * the textured 3MF - each the same bytes twice, the second a cache hit, and
 * every GLB accepted by the Khronos validator with 0 errors and 0
 * warnings.  The stream's URLs carry compress. */
static void test_results_variants(void **state) {
  (void)state;
  json_t *j = generate_raw("quality=3&size_mm=60&compress=meshopt", photo_jpg, photo_jpg_n, "image/jpeg");
  char hash[65];
  check_generate_fields(j, "glb?compress=meshopt", 3, 60, hash); /* the URLs carry compress */
  json_decref(j);
  static const struct {
    const char *file;
    int textured, meshopt, draco;
  } glb[] = {{"final_optimized.glb", 1, 0, 0},
             {"final_optimized.glb?compress=meshopt", 1, 1, 0},
             {"final_optimized.glb?texture=off", 0, 0, 0},
             {"final_optimized.glb?texture=off&compress=meshopt", 0, 1, 0},
             {"final_optimized.glb?compress=draco", 1, 0, 1},
             {"final_optimized.glb?texture=off&compress=draco", 0, 0, 1},
             {"rough_mesh.glb?compress=meshopt&texture=on", 1, 1, 0}};
  enum { NGLB = sizeof glb / sizeof *glb };
  char files[NGLB][300], path[400];
  const char *names[NGLB];
  size_t bytes[NGLB];
  for (int i = 0; i < NGLB; i++) {
    snprintf(path, sizeof path, "/api/v1/results/%s/%s", hash, glb[i].file);
    ts_reply a;
    get_variant_twice(&a, path, "model/gltf-binary");
    char *text = glb_json(&a);
    assert_int_equal(strstr(text, "\"baseColorTexture\"") != NULL, glb[i].textured);
    assert_int_equal(strstr(text, "\"TEXCOORD_0\"") != NULL, glb[i].textured);
    assert_int_equal(strstr(text, "\"COLOR_0\"") != NULL, !glb[i].textured);
    assert_int_equal(strstr(text, "\"EXT_meshopt_compression\"") != NULL, glb[i].meshopt);
    assert_int_equal(strstr(text, "\"KHR_mesh_quantization\"") != NULL, glb[i].meshopt);
    assert_int_equal(strstr(text, "\"KHR_draco_mesh_compression\"") != NULL, glb[i].draco);
    free(text);
    bytes[i] = a.len;
    snprintf(files[i], sizeof files[i], "%s/variant%d.glb", tmp, i);
    assert_int_equal(tu_write_file(files[i], a.body, a.len), 0);
    names[i] = files[i];
    ts_reply_free(&a);
  }
  print_message("final_optimized.glb: textured %zu bytes, +meshopt %zu, +draco %zu; vertex colours %zu, "
                "+meshopt %zu, +draco %zu\n",
                bytes[0], bytes[1], bytes[4], bytes[2], bytes[3], bytes[5]);
  assert_true(bytes[1] < bytes[0] && bytes[3] < bytes[2] && bytes[4] < bytes[0] && bytes[5] < bytes[2]);
  assert_int_equal(tu_gltf_validate(names, NGLB), NGLB);

  /* the textured OBJ: a zip of the three files; without texture, the OBJ */
  ts_reply a;
  snprintf(path, sizeof path, "/api/v1/results/%s/final_optimized.obj", hash);
  get_variant_twice(&a, path, "application/zip");
  char disp[200];
  assert_non_null(ts_header(&a, "Content-Disposition", disp, sizeof disp));
  assert_non_null(strstr(disp, ".zip\""));
  zip_t *za = open_zip(&a);
  assert_int_equal(zip_get_num_entries(za, 0), 3);
  assert_string_equal(zip_get_name(za, 0, 0), "model.obj");
  assert_string_equal(zip_get_name(za, 1, 0), "model.mtl");
  assert_string_equal(zip_get_name(za, 2, 0), "model.jpg");
  zip_close(za);
  ts_reply_free(&a);
  snprintf(path, sizeof path, "/api/v1/results/%s/final_optimized.obj?texture=off", hash);
  get_variant_twice(&a, path, "model/obj");
  ts_reply_free(&a);
  /* the textured 3MF carries the materials extension's texture */
  snprintf(path, sizeof path, "/api/v1/results/%s/final_optimized.3mf", hash);
  get_variant_twice(&a, path, "model/3mf");
  assert_non_null(memmem(a.body, a.len, "3D/Textures/texture.jpg", 23));
  ts_reply_free(&a);

  /* what a variant cannot be: 422 naming the parameter */
  static const struct {
    const char *file, *param;
  } bad[] = {{"final_optimized.stl?compress=meshopt", "compress"},
             {"final_optimized.stl?texture=on", "texture"},
             {"final_optimized.glb?compress=lz4", "compress"},
             {"final_optimized.glb?texture=maybe", "texture"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(path, sizeof path, "/api/v1/results/%s/%s", hash, bad[i].file);
    ts_get(&a, path);
    ts_expect_error(&a, 422, "invalid_param", bad[i].param);
    ts_reply_free(&a);
  }
  /* a result without a texture (style=plain): auto gives vertex colours, on is refused */
  j = generate_raw("quality=3&size_mm=60&style=plain", photo_jpg, photo_jpg_n, "image/jpeg");
  check_generate_fields(j, "glb", 3, 60, hash);
  json_decref(j);
  snprintf(path, sizeof path, "/api/v1/results/%s/final_optimized.glb?texture=on", hash);
  ts_get(&a, path);
  ts_expect_error(&a, 422, "invalid_param", "texture");
  ts_reply_free(&a);
  snprintf(path, sizeof path, "/api/v1/results/%s/final_optimized.glb", hash);
  get_variant_twice(&a, path, "model/gltf-binary");
  char *text = glb_json(&a);
  assert_null(strstr(text, "\"images\""));
  free(text);
  ts_reply_free(&a);
}

/* 3MF: a job asked in 3MF answers with .3mf URLs, and the result serves as
 * model/3mf: a zip whose model part is in millimetres with the job's
 * triangle count, the same bytes on a second fetch (the package itself is
 * checked part by part in test_threemf). */
static void test_results_3mf(void **state) {
  (void)state;
  json_t *j = generate_raw("quality=3&size_mm=60&format=3mf", disc_png, disc_png_n, "image/png");
  char hash[65], path[300];
  check_generate_fields(j, "3mf", 3, 60, hash);
  size_t faces = (size_t)integer(json_object_get(j, "mesh"), "faces");
  json_decref(j);
  snprintf(path, sizeof path, "/api/v1/results/%s/final_optimized.3mf", hash);
  ts_reply a, b;
  ts_get(&a, path);
  TS_EXPECT_STATUS(&a, 200);
  ts_expect_header_prefix(&a, "Content-Type", "model/3mf");
  if (a.len < 4 || memcmp(a.body, "PK\x03\x04", 4)) fail_msg("%s: not a zip", path);
  zip_t *za = open_zip(&a);
  /* the model, content types, relationships, and the texture with its relationship */
  assert_int_equal(zip_get_num_entries(za, 0), 5);
  zip_stat_t st;
  assert_int_equal(zip_stat(za, "3D/3dmodel.model", 0, &st), 0);
  char *model = calloc(1, st.size + 1);
  zip_file_t *f = zip_fopen(za, "3D/3dmodel.model", 0);
  assert_true(model && f);
  assert_int_equal(zip_fread(f, model, st.size), (zip_int64_t)st.size);
  zip_fclose(f);
  zip_close(za);
  assert_non_null(strstr(model, "unit=\"millimeter\""));
  size_t tris = 0;
  for (const char *p = model; (p = strstr(p, "<triangle ")); p++)
    tris++;
  assert_int_equal(tris, faces);
  free(model);
  ts_get(&b, path);
  TS_EXPECT_STATUS(&b, 200);
  assert_int_equal(a.len, b.len);
  assert_memory_equal(a.body, b.body, a.len);
  ts_reply_free(&b);
  ts_reply_free(&a);
}

static void test_path_traversal(void **state) {
  (void)state;
  char h[65];
  memset(h, 'a', 64);
  h[64] = 0;
  char p[8][300];
  snprintf(p[0], 300, "/api/v1/results/../../etc/passwd");
  snprintf(p[1], 300, "/api/v1/results/../../../../../../etc/passwd/x.glb");
  snprintf(p[2], 300, "/api/v1/results/%s/../../../../../../etc/passwd", h);
  snprintf(p[3], 300, "/api/v1/results/..%%2F..%%2F..%%2F..%%2Fetc%%2Fpasswd/final_optimized.glb");
  snprintf(p[4], 300, "/api/v1/results/..%.62s/final_optimized.ply", h);
  snprintf(p[5], 300, "/api/v1/results/%s/..%%2F..%%2F..%%2F..%%2Fetc%%2Fpasswd", h);
  snprintf(p[6], 300, "/api/v1/results/%s/..%%2f..%%2fmeta.json", h);
  snprintf(p[7], 300, "/api/v1/results/%%2e%%2e/%%2e%%2e/etc/passwd");
  for (int i = 0; i < 8; i++) {
    ts_reply r;
    ts_http(&r, &(ts_request){.path = p[i], .path_as_is = 1});
    if (r.status != 400 && r.status != 404) fail_msg("%s -> %ld, expected 400 or 404", p[i], r.status);
    if (r.body && strstr(r.body, "root:")) fail_msg("%s served /etc/passwd", p[i]);
    ts_reply_free(&r);
  }
}

static void test_jobs_api(void **state) {
  (void)state;
  char id[128];
  submit_job("quality=8&size_mm=63", photo_jpg, photo_jpg_n, id);
  if (!is_hex(id, 32)) print_message("note: job id \"%s\" is not 32 hex digits\n", id);
  /* its events, opened while it is queued or running */
  char path[300];
  snprintf(path, sizeof path, "/api/v1/jobs/%s/events", id);
  ts_reply r;
  ts_get(&r, path);
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "text/event-stream");
  json_t *ev[8];
  int n = parse_events(r.body, 1, ev, 8);
  check_stage_events(ev, n, "glb");
  for (int i = 0; i < n; i++)
    json_decref(ev[i]);
  ts_reply_free(&r);
  /* its status, complete with the result */
  json_t *j = wait_job(id, "complete", 60);
  assert_string_equal(str(j, "job_id"), id);
  assert_int_equal(integer(j, "progress"), 100);
  assert_string_equal(str(j, "stage"), "final_optimized");
  json_t *res = json_object_get(j, "result");
  if (!json_is_object(res)) fail_msg("complete job without a result object");
  char hash[65];
  check_generate_fields(res, "glb", 8, 63, hash);
  ts_reply g;
  ts_get(&g, str(res, "download_url"));
  TS_EXPECT_STATUS(&g, 200);
  expect_glb(&g);
  ts_reply_free(&g);
  json_decref(j);
  /* its events again, after it finished: the whole stream replayed */
  ts_get(&r, path);
  TS_EXPECT_STATUS(&r, 200);
  n = parse_events(r.body, 1, ev, 8);
  check_stage_events(ev, n, "glb");
  for (int i = 0; i < n; i++)
    json_decref(ev[i]);
  ts_reply_free(&r);
  /* DELETE: finished 409, unknown 404 */
  snprintf(path, sizeof path, "/api/v1/jobs/%s", id);
  ts_http(&r, &(ts_request){.method = "DELETE", .path = path});
  TS_EXPECT_STATUS(&r, 409);
  ts_reply_free(&r);
  const char *unknown = "/api/v1/jobs/00000000000000000000000000000000";
  ts_http(&r, &(ts_request){.method = "DELETE", .path = unknown});
  TS_EXPECT_STATUS(&r, 404);
  ts_reply_free(&r);
  ts_get(&r, unknown);
  TS_EXPECT_STATUS(&r, 404);
  ts_reply_free(&r);
  ts_get(&r, "/api/v1/jobs/00000000000000000000000000000000/events");
  TS_EXPECT_STATUS(&r, 404);
  ts_reply_free(&r);
  /* the jobs endpoint takes multipart too, and validates like generate */
  post_disc_form(&r, "/api/v1/jobs", "quality=12");
  ts_expect_error(&r, 422, "invalid_param", "quality");
  ts_reply_free(&r);
  post_disc_form(&r, "/api/v1/jobs", "quality=1");
  TS_EXPECT_STATUS(&r, 202);
  j = ts_reply_json(&r);
  json_decref(wait_job(str(j, "job_id"), "complete", 60));
  json_decref(j);
  ts_reply_free(&r);
}

static void test_disconnect_cancels(void **state) {
  (void)state;
  double cancelled0 = ts_get_metric(NULL, "orfeas_jobs_total", "status=\"cancelled\"");
  double done0 = ts_get_metric(NULL, "orfeas_jobs_total", "status=\"complete\"");
  const char *path = "/api/v1/generate-progressive?quality=10&size_mm=64";
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = path,
                            .ctype = "image/jpeg",
                            .body = photo_jpg,
                            .len = photo_jpg_n,
                            .abort_after_lines = 1});
  TS_EXPECT_STATUS(&r, 200);
  assert_int_equal(r.rc, CURLE_WRITE_ERROR); /* we hung up after the first line */
  assert_true(r.n_lines >= 1);
  assert_non_null(strstr(r.body, "voxel_preview"));
  ts_reply_free(&r);
  double c = wait_metric("orfeas_jobs_total", "status=\"cancelled\"", cancelled0 + 1, 15);
  if (c < cancelled0 + 1) fail_msg("the job of a client that hung up was not cancelled");
  assert_true(ts_get_metric(NULL, "orfeas_jobs_total", "status=\"complete\"") == done0);
  /* nothing of it was cached as final: the same request computes */
  json_t *j = generate_raw("quality=10&size_mm=64", photo_jpg, photo_jpg_n, "image/jpeg");
  assert_true(json_is_false(json_object_get(j, "cached")));
  json_decref(j);
}

static void test_admin_token(void **state) {
  (void)state;
  json_decref(generate_raw("quality=1&size_mm=40", disc_png, disc_png_n, "image/png"));
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST", .path = "/api/v1/cache/clear"});
  TS_EXPECT_STATUS(&r, 401);
  json_decref(ts_reply_json(&r));
  ts_reply_free(&r);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/cache/clear",
                            .header = "Authorization: Bearer wrong-token"});
  TS_EXPECT_STATUS(&r, 403);
  json_decref(ts_reply_json(&r));
  ts_reply_free(&r);
  char auth[200];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", ADMIN_TOKEN);
  ts_http(&r, &(ts_request){.method = "POST", .path = "/api/v1/cache/clear", .header = auth});
  TS_EXPECT_STATUS(&r, 200);
  json_t *j = ts_reply_json(&r);
  assert_string_equal(str(j, "status"), "cleared");
  assert_true(integer(j, "removed") >= 1);
  json_decref(j);
  ts_reply_free(&r);
  assert_true(cache_stat("entries") == 0);
  j = generate_raw("quality=1&size_mm=40", disc_png, disc_png_n, "image/png");
  assert_true(json_is_false(json_object_get(j, "cached")));
  json_decref(j);
}

static void test_request_id_everywhere(void **state) {
  (void)state;
  const char *paths[] = {"/health",
                         "/ready",
                         "/metrics",
                         "/api/v1/gpu/stats",
                         "/api/v1/cache/stats",
                         "/no/such/route",
                         "/api/v1/jobs/00000000000000000000000000000000",
                         "/api/v1/results/xyz/final_optimized.glb"};
  char ids[10][128];
  int n = 0;
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    ts_reply r;
    ts_get(&r, paths[i]);
    assert_true(r.status > 0);
    if (!ts_header(&r, "X-Request-Id", ids[n], sizeof ids[n]) || !ids[n][0])
      fail_msg("%s -> %ld has no X-Request-Id", paths[i], r.status);
    n++;
    ts_reply_free(&r);
  }
  ts_reply r;
  post_disc_raw(&r, "/api/v1/generate?quality=99");
  TS_EXPECT_STATUS(&r, 422);
  if (!ts_header(&r, "X-Request-Id", ids[n], sizeof ids[n]))
    fail_msg("an error response has no X-Request-Id");
  n++;
  ts_reply_free(&r);
  ts_get(&r, "/no/such/route");
  TS_EXPECT_STATUS(&r, 404);
  ts_reply_free(&r);
  for (int i = 0; i < n; i++)
    for (int k = i + 1; k < n; k++)
      if (!strcmp(ids[i], ids[k])) fail_msg("two responses share the request id %s", ids[i]);
}

static void test_web_studio(void **state) {
  (void)state;
  ts_reply r;
  ts_get(&r, "/");
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "text/html");
  ts_reply_free(&r);
}

/* Last of the group: SIGTERM gives exit 0; stdout held one line; stderr
 * is JSON lines, with an access line for the last request id seen; every
 * response of the group had an X-Request-Id. */
static void test_api_shutdown(void **state) {
  (void)state;
  ts_reply h; /* a request of its own, so that the test holds alone too */
  ts_get(&h, "/health");
  TS_EXPECT_STATUS(&h, 200);
  ts_reply_free(&h);
  char rid[128];
  snprintf(rid, sizeof rid, "%s", ts_last_request_id);
  ts_stop_clean(&S);
  if (S.extra_stdout[0]) fail_msg("stdout after the listening line: \"%s\"", S.extra_stdout);
  if (ts_missing_request_ids)
    fail_msg("%d responses had no X-Request-Id (first: %s)", ts_missing_request_ids,
             ts_missing_request_id_what);
  size_t n;
  char *log = (char *)tu_read_file(S.log, &n);
  assert_non_null(log);
  int lines = 0, access_seen = 0;
  for (char *p = log, *eol; p < log + n; p = eol + 1) {
    eol = memchr(p, '\n', (size_t)(log + n - p));
    if (!eol) break;
    json_error_t e;
    json_t *j = json_loadb(p, (size_t)(eol - p), 0, &e);
    if (!j) fail_msg("a server log line is not JSON: %.*s", (int)(eol - p), p);
    if (!json_is_string(json_object_get(j, "ts")) || !json_is_string(json_object_get(j, "level")) ||
        !json_is_string(json_object_get(j, "event")))
      fail_msg("log line without ts/level/event: %.*s", (int)(eol - p), p);
    const char *id = json_string_value(json_object_get(j, "request_id"));
    if (id && !strcmp(id, rid)) access_seen = 1;
    lines++;
    json_decref(j);
  }
  free(log);
  assert_true(lines > 0);
  if (!access_seen) fail_msg("no log line carries the request id %s of the last response", rid);
}

/* ---- server_queue tests -------------------------------------------------------------- */

static void test_queue_full_and_cancel(void **state) {
  (void)state;
  char a[128], b[128];
  submit_job("quality=10&size_mm=71", photo_jpg, photo_jpg_n, a);
  json_decref(wait_job(a, "running", 30));
  submit_job("quality=10&size_mm=72", photo_jpg, photo_jpg_n, b);
  json_t *jb = wait_job(b, "queued|running|complete", 5);
  const char *sb = str(jb, "status");
  if (strcmp(sb, "queued") != 0) fail_msg("second job is \"%s\" while the only worker is busy", sb);
  json_decref(jb);
  /* one running, one queued: the gauges say so */
  ts_reply r;
  ts_get(&r, "/api/v1/gpu/stats");
  TS_EXPECT_STATUS(&r, 200);
  json_t *g = ts_reply_json(&r);
  assert_int_equal(integer(g, "queue_depth"), 1);
  assert_int_equal(integer(g, "running_jobs"), 1);
  json_decref(g);
  ts_reply_free(&r);
  assert_true(ts_get_metric(NULL, "orfeas_queue_depth", NULL) == 1);
  assert_true(ts_get_metric(NULL, "orfeas_running_jobs", NULL) == 1);
  /* the queue is full: 429 with Retry-After, on every generating endpoint */
  const char *paths[] = {"/api/v1/generate?quality=10&size_mm=73", "/api/v1/jobs?quality=10&size_mm=74",
                         "/api/v1/generate-progressive?quality=10&size_mm=75"};
  for (int i = 0; i < 3; i++) {
    ts_http(&r, &(ts_request){.method = "POST",
                              .path = paths[i],
                              .ctype = "image/jpeg",
                              .body = photo_jpg,
                              .len = photo_jpg_n});
    ts_expect_error(&r, 429, "queue_full", NULL);
    char ra[64];
    if (!ts_header(&r, "Retry-After", ra, sizeof ra)) fail_msg("%s: 429 without Retry-After", paths[i]);
    char *end;
    long secs = strtol(ra, &end, 10);
    if (*end || secs < 1) fail_msg("Retry-After \"%s\" is not a number of seconds >= 1", ra);
    ts_reply_free(&r);
  }
  /* cancel the queued job, then the running one */
  char path[300];
  snprintf(path, sizeof path, "/api/v1/jobs/%s", b);
  ts_http(&r, &(ts_request){.method = "DELETE", .path = path});
  TS_EXPECT_STATUS(&r, 200);
  ts_reply_free(&r);
  json_decref(wait_job(b, "cancelled", 5));
  snprintf(path, sizeof path, "/api/v1/jobs/%s", a);
  ts_http(&r, &(ts_request){.method = "DELETE", .path = path});
  TS_EXPECT_STATUS(&r, 200);
  ts_reply_free(&r);
  json_t *ja = wait_job(a, "cancelled|complete", 30);
  if (strcmp(str(ja, "status"), "cancelled") != 0) fail_msg("a running job was not cancelled by DELETE");
  json_decref(ja);
  ts_http(&r, &(ts_request){.method = "DELETE", .path = path});
  TS_EXPECT_STATUS(&r, 409); /* already finished (cancelled) */
  ts_reply_free(&r);
  /* the worker is free again */
  json_t *j = generate_raw("quality=1", disc_png, disc_png_n, "image/png");
  assert_string_equal(str(j, "status"), "complete");
  json_decref(j);
}

static void test_queue_shutdown(void **state) {
  (void)state;
  ts_stop_clean(&S);
}

/* ---- server_restart tests ------------------------------------------------------------ */

static void test_restart_serves_cache(void **state) {
  (void)state;
  char data[600];
  snprintf(data, sizeof data, "%s/data-restart", tmp);
  assert_int_equal(server_start(&S, data, "--workers 2", "restart1"), 0);
  json_t *j = generate_raw("quality=5", disc_png, disc_png_n, "image/png");
  char hash[65], url[300];
  check_generate_fields(j, "glb", 5, 100, hash);
  snprintf(url, sizeof url, "%s", str(j, "download_url"));
  json_decref(j);
  ts_reply a;
  ts_get(&a, url);
  TS_EXPECT_STATUS(&a, 200);
  ts_stop_clean(&S);
  assert_int_equal(server_start(&S, data, "--workers 2", "restart2"), 0);
  ts_reply b;
  ts_get(&b, url);
  TS_EXPECT_STATUS(&b, 200);
  assert_int_equal(a.len, b.len);
  assert_memory_equal(a.body, b.body, a.len);
  j = generate_raw("quality=5", disc_png, disc_png_n, "image/png");
  if (!json_is_true(json_object_get(j, "cached")))
    fail_msg("after a restart the same request was not cached");
  json_decref(j);
  ts_reply_free(&a);
  ts_reply_free(&b);
  ts_stop_clean(&S);
}

static char found_path[4096];
static const char *find_hash, *find_name;
static int find_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)ftw;
  char want[200];
  snprintf(want, sizeof want, "/%s/%s", find_hash, find_name);
  size_t pl = strlen(path), wl = strlen(want);
  if (flag == FTW_F && pl >= wl && strcmp(path + pl - wl, want) == 0) {
    snprintf(found_path, sizeof found_path, "%s", path);
    return 1;
  }
  return 0;
}

/* The path of the disk tier's file of (hash, name) under data, into
 * found_path; fails when there is none. */
static void find_entry(const char *data, const char *hash, const char *name) {
  found_path[0] = 0;
  find_hash = hash;
  find_name = name;
  nftw(data, find_file, 16, FTW_PHYS);
  if (!found_path[0]) fail_msg("no file */%s/%s under %s", hash, name, data);
}

/* A result whose texture is not there yet, as while its job runs (the
 * texture comes after the final stage, meta.json last): made by removing
 * meta.json and the texture from the disk tier of a stopped server.  Then
 * an earlier stage's auto GLB is the vertex-coloured one, sent no-store
 * (its URL will give the textured file), texture=on is refused naming
 * texture, texture=off is immutable; the same request is no cache hit
 * (the result is not whole) and runs again, after which the stage's GLB
 * carries the texture and is immutable. */
static void test_results_before_texture(void **state) {
  (void)state;
  char data[600], path[sizeof found_path + 64];
  snprintf(data, sizeof data, "%s/data-texture", tmp);
  assert_int_equal(server_start(&S, data, "--workers 1", "texture1"), 0);
  json_t *j = generate_raw("quality=3&size_mm=60", photo_jpg, photo_jpg_n, "image/jpeg");
  char hash[65];
  check_generate_fields(j, "glb", 3, 60, hash);
  json_decref(j);
  ts_stop_clean(&S);
  find_entry(data, hash, "meta.json");
  *strrchr(found_path, '/') = 0;
  static const char *const gone[] = {"meta.json", "texture.json", "texture.jpg"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", found_path, gone[i]);
    if (unlink(path)) fail_msg("%s: %s", path, strerror(errno));
  }
  assert_int_equal(server_start(&S, data, "--workers 1", "texture2"), 0);
  ts_reply a;
  snprintf(path, sizeof path, "/api/v1/results/%s/rough_mesh.glb", hash);
  ts_get(&a, path);
  TS_EXPECT_STATUS(&a, 200);
  ts_expect_header(&a, "Cache-Control", "no-store");
  char *text = glb_json(&a);
  assert_null(strstr(text, "\"images\""));
  free(text);
  ts_reply_free(&a);
  snprintf(path, sizeof path, "/api/v1/results/%s/rough_mesh.glb?texture=on", hash);
  ts_get(&a, path);
  ts_expect_error(&a, 422, "invalid_param", "texture");
  ts_reply_free(&a);
  snprintf(path, sizeof path, "/api/v1/results/%s/rough_mesh.glb?texture=off", hash);
  ts_get(&a, path);
  TS_EXPECT_STATUS(&a, 200);
  ts_expect_header(&a, "Cache-Control", "public, max-age=31536000, immutable");
  ts_reply_free(&a);
  j = generate_raw("quality=3&size_mm=60", photo_jpg, photo_jpg_n, "image/jpeg");
  if (json_is_true(json_object_get(j, "cached")))
    fail_msg("a result without its texture was answered from the cache");
  json_decref(j);
  snprintf(path, sizeof path, "/api/v1/results/%s/rough_mesh.glb", hash);
  ts_get(&a, path);
  TS_EXPECT_STATUS(&a, 200);
  ts_expect_header(&a, "Cache-Control", "public, max-age=31536000, immutable");
  text = glb_json(&a);
  assert_non_null(strstr(text, "\"baseColorTexture\""));
  free(text);
  ts_reply_free(&a);
  ts_stop_clean(&S);
}

static void test_truncated_cache_file(void **state) {
  (void)state;
  char data[600];
  snprintf(data, sizeof data, "%s/data-trunc", tmp);
  assert_int_equal(server_start(&S, data, "--workers 2", "trunc1"), 0);
  json_t *j = generate_raw("quality=6", disc_png, disc_png_n, "image/png");
  char hash[65];
  check_generate_fields(j, "glb", 6, 100, hash);
  json_decref(j);
  char ply_url[300];
  snprintf(ply_url, sizeof ply_url, "/api/v1/results/%s/final_optimized.ply", hash);
  ts_reply orig;
  ts_get(&orig, ply_url);
  TS_EXPECT_STATUS(&orig, 200);
  expect_ply(&orig);
  ts_stop_clean(&S);
  /* cut the cached file in half, with the server down */
  find_entry(data, hash, "final_optimized.ply");
  struct stat sb;
  assert_int_equal(stat(found_path, &sb), 0);
  assert_int_equal(truncate(found_path, sb.st_size / 2), 0);
  assert_int_equal(server_start(&S, data, "--workers 2", "trunc2"), 0);
  /* never served truncated */
  ts_reply r;
  ts_get(&r, ply_url);
  if (r.status == 200) {
    expect_ply(&r);
    assert_int_equal(r.len, orig.len);
    assert_memory_equal(r.body, orig.body, orig.len);
  } else if (r.status != 404) {
    fail_msg("GET of a truncated cache entry -> %ld, expected 404 or the complete file", r.status);
  }
  ts_reply_free(&r);
  /* recomputed (or served whole) on request */
  j = generate_raw("quality=6", disc_png, disc_png_n, "image/png");
  char hash2[65];
  check_generate_fields(j, "glb", 6, 100, hash2);
  assert_string_equal(hash, hash2);
  int cached = json_is_true(json_object_get(j, "cached"));
  json_decref(j);
  ts_get(&r, ply_url);
  if (r.status != 200)
    fail_msg("after the truncation, generate answered cached:%s, yet %s -> %ld (%s): the result was neither "
             "recomputed nor whole",
             cached ? "true" : "false", ply_url, r.status, r.body ? r.body : "");
  expect_ply(&r);
  assert_int_equal(r.len, orig.len);
  assert_memory_equal(r.body, orig.body, orig.len);
  ts_reply_free(&r);
  if (cached) print_message("note: the request after truncation said cached:true (bytes were whole)\n");
  ts_reply_free(&orig);
  ts_stop_clean(&S);
}

static void test_drain_on_sigterm(void **state) {
  (void)state;
  char data[600];
  snprintf(data, sizeof data, "%s/data-drain", tmp);
  assert_int_equal(server_start(&S, data, "--workers 1 --queue-max 4", "drain1"), 0);
  char a[128];
  submit_job("quality=10&size_mm=81", photo_jpg, photo_jpg_n, a);
  json_decref(wait_job(a, "running", 30));
  kill(S.pid, SIGTERM);
  /* draining: /ready 503 while the job still runs */
  double t0 = ts_now_s();
  ts_reply r;
  for (;;) {
    ts_get(&r, "/ready");
    if (r.status == 503) break;
    if (r.status != 200)
      fail_msg("/ready after SIGTERM -> %ld (curl: %s)", r.status, curl_easy_strerror(r.rc));
    ts_reply_free(&r);
    if (ts_now_s() - t0 > 10) fail_msg("/ready still 200 10 s after SIGTERM");
    ts_sleep_ms(10);
  }
  ts_reply_free(&r);
  post_disc_raw(&r, "/api/v1/generate?quality=1");
  ts_expect_error(&r, 503, "draining", NULL);
  ts_reply_free(&r);
  post_disc_raw(&r, "/api/v1/jobs?quality=1");
  ts_expect_error(&r, 503, "draining", NULL);
  ts_reply_free(&r);
  /* it finishes the running job and exits 0 */
  ts_stop_clean(&S);
  assert_int_equal(server_start(&S, data, "--workers 1", "drain2"), 0);
  json_t *j = generate_raw("quality=10&size_mm=81", photo_jpg, photo_jpg_n, "image/jpeg");
  if (!json_is_true(json_object_get(j, "cached")))
    fail_msg("the job running at SIGTERM was not finished and stored");
  json_decref(j);
  ts_stop_clean(&S);
}

/* Options from ORFEAS_* variables; an option on the command line wins. */
static void test_env_options(void **state) {
  (void)state;
  char data[600];
  snprintf(data, sizeof data, "%s/data-env", tmp);
  assert_int_equal(
      server_start_env(&S, data, "--cache-ttl 77", "env",
                       "ORFEAS_CACHE_TTL=123 ORFEAS_ADMIN_TOKEN=env-token ORFEAS_MAX_UPLOAD_MB=1"),
      0);
  assert_float_equal(cache_stat("ttl_seconds"), 77.0, 1e-9);
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/cache/clear",
                            .header = "Authorization: Bearer env-token"});
  TS_EXPECT_STATUS(&r, 200);
  ts_reply_free(&r);
  ts_http(&r, &(ts_request){.method = "POST", .path = "/api/v1/cache/clear"});
  TS_EXPECT_STATUS(&r, 401);
  ts_reply_free(&r);
  size_t big_n = 3u << 20;
  uint8_t *big = calloc(1, big_n);
  memcpy(big, disc_png, disc_png_n);
  ts_http(&r,
          &(ts_request){
              .method = "POST", .path = "/api/v1/generate", .ctype = "image/png", .body = big, .len = big_n});
  free(big);
  ts_expect_error(&r, 413, "too_large", NULL);
  ts_reply_free(&r);
  ts_stop_clean(&S);
}

/* `serve --help` lists every option; a bad option is refused. */
static void test_serve_help(void **state) {
  (void)state;
  char cmd[1200], out[8192];
  snprintf(cmd, sizeof cmd, "%s serve --help 2>&1", ts_bin());
  FILE *f = popen(cmd, "r");
  assert_non_null(f);
  size_t n = fread(out, 1, sizeof out - 1, f);
  out[n] = 0;
  int st = pclose(f);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  const char *opts[] = {"--host",          "--port",         "--data-dir",      "--workers",
                        "--queue-max",     "--cache-mem-mb", "--cache-disk-mb", "--cache-ttl",
                        "--max-upload-mb", "--admin-token",  "ORFEAS_PORT",     "ORFEAS_ADMIN_TOKEN"};
  for (size_t i = 0; i < sizeof opts / sizeof *opts; i++)
    if (!strstr(out, opts[i])) fail_msg("serve --help does not mention %s", opts[i]);
  snprintf(cmd, sizeof cmd, "%s serve --port 0 --workers 0 --data-dir %s/data-bad >/dev/null 2>&1", ts_bin(),
           tmp);
  st = system(cmd);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
  snprintf(cmd, sizeof cmd, "%s serve --port 0 --bogus-option --data-dir %s/data-bad >/dev/null 2>&1",
           ts_bin(), tmp);
  st = system(cmd);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);
}

/* --device and --precision.  A bad value stops the server at start (exit
 * 2).  Without a usable GPU, --device cuda is refused at start and auto
 * serves on the CPU: "engine":"cpu", precision_mode not_applicable, and a
 * request's precision does not change its hash (the CPU stores no field).
 * With one (the GPU machine), auto serves on it: "engine":"cuda", the
 * pool's figures in gpu/stats, a precision other than fp32 gives its own
 * hash, and once idle the pool has given its memory back. */
static void test_device_option(void **state) {
  (void)state;
  char cmd[1200], out[4096];
  const char *bad[] = {"--device gpu", "--precision fp64"};
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd,
             "ORFEAS_ALLOW_ROOT=1 %s serve --port 0 %s --data-dir %s/data-dev >/dev/null 2>&1", ts_bin(),
             bad[i], tmp);
    int st = system(cmd);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
  }
  orf_gpu_info gi;
  orf_gpu_query(&gi);
  if (!gi.available) {
    snprintf(cmd, sizeof cmd,
             "ORFEAS_ALLOW_ROOT=1 %s serve --port 0 --device cuda --data-dir %s/data-dev 2>&1 >/dev/null",
             ts_bin(), tmp);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    int st = pclose(f);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 2);
    assert_non_null(strstr(out, "--device cuda"));
  }
  ts_server s;
  char data[600];
  snprintf(data, sizeof data, "%s/data-dev", tmp);
  assert_int_equal(server_start(&s, data, "--device auto --monitor-interval 0", "device"), 0);
  ts_reply r;
  ts_http(&r, &(ts_request){.path = "/health", .srv = &s});
  json_t *j = ts_reply_json(&r);
  assert_string_equal(str(j, "engine"), gi.available ? "cuda" : "cpu");
  assert_int_equal(json_is_true(json_object_get(json_object_get(j, "gpu"), "available")), gi.available);
  json_decref(j);
  ts_reply_free(&r);
  char hash[3][65];
  const char *query[3] = {"/api/v1/generate?quality=3", "/api/v1/generate?quality=3&precision=fp32",
                          "/api/v1/generate?quality=3&precision=int8"};
  for (int i = 0; i < 3; i++) {
    ts_http(&r, &(ts_request){.method = "POST",
                              .path = query[i],
                              .ctype = "image/png",
                              .body = disc_png,
                              .len = disc_png_n,
                              .srv = &s});
    TS_EXPECT_STATUS(&r, 200);
    j = ts_reply_json(&r);
    snprintf(hash[i], sizeof hash[i], "%s", str(j, "request_hash"));
    assert_true(json_is_true(json_object_get(json_object_get(j, "mesh"), "watertight")));
    json_decref(j);
    ts_reply_free(&r);
  }
  assert_string_equal(hash[0], hash[1]);
  if (gi.available)
    assert_string_not_equal(hash[1], hash[2]);
  else
    assert_string_equal(hash[1], hash[2]);
  /* once idle the server trims (jobs.c, a second after the last job) */
  for (double t0 = ts_now_s();;) {
    ts_http(&r, &(ts_request){.path = "/api/v1/gpu/stats", .srv = &s});
    j = ts_reply_json(&r);
    json_t *g = json_object_get(j, "gpu");
    if (!gi.available || num(g, "reserved_gb") == 0 || ts_now_s() - t0 > 10) break;
    json_decref(j);
    ts_reply_free(&r);
    ts_sleep_ms(100);
  }
  const char *mode = str(j, "precision_mode");
  json_t *gpu = json_object_get(j, "gpu");
  if (gi.available) {
    assert_true(!strcmp(mode, "fp32") || !strcmp(mode, "fp16") || !strcmp(mode, "int8"));
    assert_string_equal(str(json_object_get(j, "memory_budget"), "device"), "cuda:0");
    /* every job has ended: the pool holds nothing and has been trimmed */
    assert_true(num(gpu, "allocated_gb") == 0);
    assert_true(num(gpu, "reserved_gb") == 0);
    /* and the host budget beside the GPU holds nothing either */
    json_t *host = json_object_get(json_object_get(j, "memory_budget"), "host");
    assert_true(num(host, "available_for_jobs_gb") > 0);
    assert_true(num(host, "in_use_gb") == 0);
  } else {
    assert_string_equal(mode, "not_applicable");
    assert_null(json_object_get(json_object_get(j, "memory_budget"), "host")); /* the budget is the host's */
  }
  json_decref(j);
  ts_reply_free(&r);
  ts_stop_clean(&s);
}

/* GET /api/v1/params: the engine's parameter table, for clients to build
 * their controls from. */
static void test_params_description(void **state) {
  (void)state;
  ts_reply r;
  ts_get(&r, "/api/v1/params");
  TS_EXPECT_STATUS(&r, 200);
  json_t *d = ts_reply_json(&r);
  json_t *params = json_object_get(d, "params");
  int quality = 0;
  size_t i;
  json_t *p;
  json_array_foreach(params, i, p) {
    if (!strcmp(str(p, "name"), "quality")) {
      quality = 1;
      assert_int_equal(integer(p, "min"), 1);
      assert_int_equal(integer(p, "max"), 10);
    }
  }
  assert_true(quality);
  assert_string_equal(str(json_array_get(json_object_get(d, "server_params"), 0), "name"), "precision");
  json_decref(d);
  ts_reply_free(&r);
}

/* POST /api/v1/mask: the subject as a PNG with the background transparent. */
static void test_mask_preview(void **state) {
  (void)state;
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/mask",
                            .multipart = 1,
                            .image = disc_png,
                            .image_len = disc_png_n,
                            .image_type = "image/png"});
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header(&r, "Content-Type", "image/png");
  ts_expect_header(&r, "X-Mask-Source", "color");
  orf_image img;
  assert_int_equal(orf_image_decode((const uint8_t *)r.body, r.len, NULL, 0, &img), ORF_OK);
  assert_true(img.has_alpha);
  size_t centre = ((size_t)img.height / 2 * img.width + img.width / 2) * 4;
  assert_int_equal(img.rgba[centre + 3], 255); /* the disc */
  assert_int_equal(img.rgba[3], 0);            /* the corner: background */
  orf_image_free(&img);
  ts_reply_free(&r);
  /* a uniform image has no separable subject: the whole frame is used */
  uint8_t grey[64 * 64 * 3];
  memset(grey, 120, sizeof grey);
  size_t n;
  uint8_t *png = tu_png(grey, 64, 64, 3, 8, &n);
  ts_http(&r, &(ts_request){
                  .method = "POST", .path = "/api/v1/mask", .ctype = "image/png", .body = png, .len = n});
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header(&r, "X-Mask-Source", "frame");
  ts_reply_free(&r);
  /* the subject as each mode uses it: extrude refuses that image, relief
   * takes the whole frame even of the disc */
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/mask?mode=extrude",
                            .ctype = "image/png",
                            .body = png,
                            .len = n});
  ts_expect_error(&r, 422, "no_subject", NULL);
  ts_reply_free(&r);
  post_disc_raw(&r, "/api/v1/mask?mode=extrude");
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header(&r, "X-Mask-Source", "color");
  ts_reply_free(&r);
  post_disc_raw(&r, "/api/v1/mask?mode=relief");
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header(&r, "X-Mask-Source", "frame");
  ts_reply_free(&r);
  free(png);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/mask",
                            .ctype = "image/png",
                            .body = disc_png,
                            .len = disc_png_n / 2});
  ts_expect_error(&r, 400, "bad_image", NULL);
  ts_reply_free(&r);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[900];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  assert_int_equal(tu_write_file(path, text, strlen(text)), 0);
}

/* The studio's files from a web root: types, caching, no listing, no way
 * out of the root. */
static void test_static_files(void **state) {
  (void)state;
  char root[700], sub[800], link[800], data[600], extra[800];
  snprintf(root, sizeof root, "%s/webroot", tmp);
  snprintf(sub, sizeof sub, "%s/sub", root);
  mkdir(root, 0755);
  mkdir(sub, 0755);
  write_text(root, "index.html", "<!doctype html><title>studio</title>");
  write_text(root, "app.js", "export const x = 1;");
  write_text(root, "style.css", "body{}");
  write_text(root, ".secret", "no");
  write_text(sub, "note.txt", "hello");
  snprintf(link, sizeof link, "%s/out.txt", root);
  assert_int_equal(symlink("/etc/hostname", link), 0);
  snprintf(data, sizeof data, "%s/data-web", tmp);
  snprintf(extra, sizeof extra, "--web-root %s", root);
  ts_server web;
  assert_int_equal(server_start(&web, data, extra, "web"), 0);
  ts_reply r;
  ts_http(&r, &(ts_request){.path = "/", .srv = &web});
  TS_EXPECT_STATUS(&r, 200);
  assert_non_null(strstr(r.body, "<title>studio</title>"));
  ts_expect_header_prefix(&r, "Content-Type", "text/html");
  ts_expect_header(&r, "Cache-Control", "no-cache");
  char csp[512];
  assert_non_null(ts_header(&r, "Content-Security-Policy", csp, sizeof csp));
  assert_non_null(strstr(csp, "default-src 'self'"));
  assert_non_null(strstr(csp, "script-src 'self'"));
  ts_reply_free(&r);
  const char *ok[][2] = {{"/static/app.js", "text/javascript"},
                         {"/static/style.css", "text/css"},
                         {"/static/sub/note.txt", "text/plain"}};
  for (int i = 0; i < 3; i++) {
    ts_http(&r, &(ts_request){.path = ok[i][0], .srv = &web});
    TS_EXPECT_STATUS(&r, 200);
    ts_expect_header_prefix(&r, "Content-Type", ok[i][1]);
    ts_reply_free(&r);
  }
  const char *refused[] = {"/static/sub",         "/static/sub/",          "/static/.secret",
                           "/static/out.txt",     "/static/../index.html", "/static/sub/../../etc/passwd",
                           "/static//etc/passwd", "/static/missing.js"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    ts_http(&r, &(ts_request){.path = refused[i], .srv = &web, .path_as_is = 1});
    if (r.status == 200) fail_msg("%s was served", refused[i]);
    assert_true(r.status == 404 || r.status == 400);
    ts_reply_free(&r);
  }
  ts_stop_clean(&web);
}

/* The studio's caching: vendor/ files (versioned paths) are immutable;
 * the page's own files are revalidated with an ETag (304 when unchanged, a
 * new tag once the file changes); .svg, .json and .map have their types. */
static void test_static_caching(void **state) {
  (void)state;
  char root[700], vendor[800], data[600], extra[800];
  snprintf(root, sizeof root, "%s/webroot-cache", tmp);
  snprintf(vendor, sizeof vendor, "%s/vendor", root);
  mkdir(root, 0755);
  mkdir(vendor, 0755);
  snprintf(vendor, sizeof vendor, "%s/vendor/lib-1.0", root);
  mkdir(vendor, 0755);
  write_text(root, "index.html", "<!doctype html><title>studio</title>");
  write_text(root, "main.js", "export const version = 1;");
  write_text(root, "logo.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
  write_text(root, "data.json", "{}");
  write_text(root, "main.js.map", "{}");
  write_text(vendor, "lib.js", "export const lib = 1;");
  snprintf(data, sizeof data, "%s/data-web-cache", tmp);
  snprintf(extra, sizeof extra, "--web-root %s", root);
  ts_server web;
  assert_int_equal(server_start(&web, data, extra, "web-cache"), 0);
  ts_reply r;
  const char *types[][2] = {{"/static/logo.svg", "image/svg+xml"},
                            {"/static/data.json", "application/json"},
                            {"/static/main.js.map", "application/json"},
                            {"/static/vendor/lib-1.0/lib.js", "text/javascript"}};
  for (int i = 0; i < 4; i++) {
    ts_http(&r, &(ts_request){.path = types[i][0], .srv = &web});
    TS_EXPECT_STATUS(&r, 200);
    ts_expect_header_prefix(&r, "Content-Type", types[i][1]);
    ts_reply_free(&r);
  }
  ts_http(&r, &(ts_request){.path = "/static/vendor/lib-1.0/lib.js", .srv = &web});
  ts_expect_header(&r, "Cache-Control", "public, max-age=31536000, immutable");
  ts_reply_free(&r);
  char etag[128], inm[200], etag2[128];
  ts_http(&r, &(ts_request){.path = "/static/main.js", .srv = &web});
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header(&r, "Cache-Control", "no-cache");
  assert_non_null(ts_header(&r, "ETag", etag, sizeof etag));
  ts_reply_free(&r);
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  ts_http(&r, &(ts_request){.path = "/static/main.js", .srv = &web, .header = inm});
  TS_EXPECT_STATUS(&r, 304);
  assert_int_equal(r.len, 0);
  ts_reply_free(&r);
  write_text(root, "main.js", "export const version = 22;");
  ts_http(&r, &(ts_request){.path = "/static/main.js", .srv = &web, .header = inm});
  TS_EXPECT_STATUS(&r, 200);
  assert_non_null(strstr(r.body, "version = 22"));
  assert_non_null(ts_header(&r, "ETag", etag2, sizeof etag2));
  assert_string_not_equal(etag, etag2);
  ts_reply_free(&r);
  ts_stop_clean(&web);
}

/* ---- memory budget and admission (simulated device) ------------------------- */

#define GIB (1024.0 * 1024.0 * 1024.0)

/* The estimate admission reserves for the photo at a quality, in GiB. */
static double photo_estimate_gb(int quality) {
  orf_params p;
  orf_params_init(&p);
  p.quality = quality;
  return (double)orf_estimate_peak_bytes(&p, 1024, 1024, photo_jpg_n) / GIB;
}

static int setup_budget(void **state) {
  (void)state;
  if (make_fixtures() != 0) return -1;
  char data[600], extra[400];
  snprintf(data, sizeof data, "%s/data-budget", tmp);
  /* a budget that fits exactly two quality-10 jobs, on a simulated 80 GB
   * device of which 8 GB are used by others; the jobs on the CPU, whose
   * estimates (orf_estimate_peak_bytes) this group's arithmetic uses, also
   * on a machine with a real GPU */
  snprintf(extra, sizeof extra,
           "--workers 3 --queue-max 8 --max-upload-mb 4 --device cpu --sim-device sim-gpu:80:8 "
           "--memory-budget-gb %.6f "
           "--monitor-interval 0.2",
           2.0 * photo_estimate_gb(10) * 1.0005);
  return server_start(&S, data, extra, "budget");
}

/* Three jobs that each need half the budget: two run, the third waits. */
static void test_budget_runs_two_of_three(void **state) {
  (void)state;
  char a[128], b[128], c[128];
  submit_job("quality=10&size_mm=61", photo_jpg, photo_jpg_n, a);
  submit_job("quality=10&size_mm=62", photo_jpg, photo_jpg_n, b);
  submit_job("quality=10&size_mm=63", photo_jpg, photo_jpg_n, c);
  json_decref(wait_job(a, "running", 30));
  json_decref(wait_job(b, "running", 30));
  ts_reply r;
  ts_get(&r, "/api/v1/gpu/stats");
  TS_EXPECT_STATUS(&r, 200);
  json_t *g = ts_reply_json(&r);
  ts_reply_free(&r);
  json_t *third = wait_job(c, "queued|running|complete", 5);
  /* while the first two run, three workers but only two fit */
  if (!strcmp(str(third, "status"), "queued")) {
    assert_int_equal(integer(g, "running_jobs"), 2);
    assert_int_equal(integer(g, "queue_depth"), 1);
    json_t *mb = json_object_get(g, "memory_budget");
    assert_float_equal(num(mb, "in_use_gb"), 2.0 * photo_estimate_gb(10), 0.01);
  } else {
    fail_msg("the third job started while two held the whole budget (status %s)", str(third, "status"));
  }
  json_decref(third);
  json_decref(g);
  json_decref(wait_job(a, "complete", 60));
  json_decref(wait_job(b, "complete", 60));
  json_decref(wait_job(c, "complete", 60));
  ts_get(&r, "/api/v1/gpu/stats");
  g = ts_reply_json(&r);
  assert_float_equal(num(json_object_get(g, "memory_budget"), "in_use_gb"), 0.0, 1e-9);
  json_decref(g);
  ts_reply_free(&r);
}

/* The stats of a simulated device: the shape of docs/API.md with its figures. */
static void test_budget_stats(void **state) {
  (void)state;
  ts_reply r;
  ts_get(&r, "/api/v1/gpu/stats");
  TS_EXPECT_STATUS(&r, 200);
  json_t *g = ts_reply_json(&r);
  json_t *gpu = json_object_get(g, "gpu");
  assert_true(json_is_true(json_object_get(gpu, "available")));
  json_t *dev = json_array_get(json_object_get(gpu, "devices"), 0);
  assert_string_equal(str(dev, "name"), "sim-gpu");
  assert_true(json_is_true(json_object_get(dev, "simulated")));
  assert_float_equal(num(dev, "total_vram_gb"), 80.0, 1e-9);
  assert_float_equal(num(dev, "used_gb"), 8.0, 1e-9);
  assert_float_equal(num(dev, "free_gb"), 72.0, 1e-9);
  assert_string_equal(str(gpu, "precision_mode"), "not_applicable");
  json_t *mb = json_object_get(g, "memory_budget");
  assert_string_equal(str(mb, "device"), "cuda:0");
  assert_float_equal(num(mb, "total_gb"), 80.0, 1e-9);
  assert_float_equal(num(mb, "available_for_jobs_gb"), 2.0 * photo_estimate_gb(10) * 1.0005, 1e-4);
  /* little free budget: int8 by the default thresholds (10 / 6 GB) */
  assert_string_equal(str(g, "recommended_precision"), "int8");
  json_int_t batch = integer(g, "optimal_batch_size");
  assert_true(batch >= 1 && batch <= 32);
  ts_sleep_ms(500); /* the monitor samples every 0.2 s */
  ts_reply_free(&r);
  json_decref(g);
  ts_get(&r, "/api/v1/gpu/stats");
  g = ts_reply_json(&r);
  json_t *h = json_object_get(g, "history");
  assert_true(json_array_size(h) >= 2);
  json_t *p0 = json_array_get(h, 0);
  assert_non_null(json_object_get(p0, "t"));
  assert_non_null(json_object_get(p0, "in_use_gb"));
  assert_non_null(json_object_get(p0, "available_gb"));
  json_decref(g);
  ts_reply_free(&r);
  assert_true(ts_get_metric(NULL, "orfeas_memory_budget_bytes", NULL) > 0);
}

/* A job whose estimate alone exceeds the whole budget: 507 at once. */
static void test_budget_oversized_507(void **state) {
  (void)state;
  ts_server small;
  char data[600];
  snprintf(data, sizeof data, "%s/data-507", tmp);
  assert_int_equal(server_start(&small, data, "--memory-budget-gb 0.001 --max-upload-mb 4", "small"), 0);
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/generate?quality=7",
                            .ctype = "image/jpeg",
                            .body = photo_jpg,
                            .len = photo_jpg_n,
                            .srv = &small});
  ts_expect_error(&r, 507, "insufficient_memory", NULL);
  ts_reply_free(&r);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/jobs?quality=7",
                            .ctype = "image/jpeg",
                            .body = photo_jpg,
                            .len = photo_jpg_n,
                            .srv = &small});
  ts_expect_error(&r, 507, "insufficient_memory", NULL);
  ts_reply_free(&r);
  ts_stop_clean(&small);
}

/* recommended_precision follows the free budget and the configured
 * thresholds; precision= is validated on requests. */
static void test_budget_precision(void **state) {
  (void)state;
  const char *cases[][2] = {
      {"--sim-device big:64:0 --reserved-system-gb 0 --reserved-cache-gb 0", "fp32"},
      {"--sim-device big:64:0 --reserved-system-gb 0 --reserved-cache-gb 0 --precision-fp32-gb 100", "fp16"},
      {"--sim-device big:64:0 --reserved-system-gb 0 --reserved-cache-gb 0 --precision-fp32-gb 100 "
       "--precision-fp16-gb 100",
       "int8"},
  };
  for (int i = 0; i < 3; i++) {
    ts_server s;
    char data[600];
    snprintf(data, sizeof data, "%s/data-prec%d", tmp, i);
    assert_int_equal(server_start(&s, data, cases[i][0], "prec"), 0);
    ts_reply r;
    ts_http(&r, &(ts_request){.path = "/api/v1/gpu/stats", .srv = &s});
    json_t *g = ts_reply_json(&r);
    assert_string_equal(str(g, "recommended_precision"), cases[i][1]);
    assert_float_equal(num(json_object_get(g, "memory_budget"), "available_for_jobs_gb"), 64.0, 1e-9);
    json_decref(g);
    ts_reply_free(&r);
    if (i == 0) {
      ts_http(&r, &(ts_request){.method = "POST",
                                .path = "/api/v1/generate?quality=1&precision=fp64",
                                .ctype = "image/jpeg",
                                .body = photo_jpg,
                                .len = photo_jpg_n,
                                .srv = &s});
      ts_expect_error(&r, 422, "invalid_param", "precision");
      ts_reply_free(&r);
    }
    ts_stop_clean(&s);
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  ts_default_server = &S;
  const struct CMUnitTest api[] = {
      cmocka_unit_test(test_health),
      cmocka_unit_test(test_ready),
      cmocka_unit_test(test_metrics_promtool),
      cmocka_unit_test(test_gpu_stats),
      cmocka_unit_test(test_cache_stats_shape),
      cmocka_unit_test(test_generate_multipart_then_raw_cached),
      cmocka_unit_test(test_generate_input_types),
      cmocka_unit_test(test_download_stl_and_accept),
      cmocka_unit_test(test_missing_and_bad_image),
      cmocka_unit_test(test_too_large),
      cmocka_unit_test(test_unsupported_type),
      cmocka_unit_test(test_invalid_param),
      cmocka_unit_test(test_printing_modes),
      cmocka_unit_test(test_progressive_stream),
      cmocka_unit_test(test_concurrent_identical),
      cmocka_unit_test(test_results_formats),
      cmocka_unit_test(test_results_3mf),
      cmocka_unit_test(test_results_variants),
      cmocka_unit_test(test_path_traversal),
      cmocka_unit_test(test_jobs_api),
      cmocka_unit_test(test_disconnect_cancels),
      cmocka_unit_test(test_admin_token),
      cmocka_unit_test(test_request_id_everywhere),
      cmocka_unit_test(test_static_files), /* its own server: before the tests of S's last request */
      cmocka_unit_test(test_static_caching),
      cmocka_unit_test(test_mask_preview),
      cmocka_unit_test(test_web_studio),
      cmocka_unit_test(test_params_description),
      cmocka_unit_test(test_api_shutdown),
  };
  const struct CMUnitTest queue[] = {
      cmocka_unit_test(test_queue_full_and_cancel),
      cmocka_unit_test(test_queue_shutdown),
  };
  const struct CMUnitTest restart[] = {
      cmocka_unit_test(test_restart_serves_cache),
      cmocka_unit_test(test_truncated_cache_file),
      cmocka_unit_test(test_results_before_texture), /* starts and stops its own server, as these do */
      cmocka_unit_test(test_drain_on_sigterm),
      cmocka_unit_test(test_env_options),
      cmocka_unit_test(test_serve_help),
      cmocka_unit_test(test_device_option),
  };
  const struct CMUnitTest budget[] = {
      cmocka_unit_test(test_budget_stats),
      cmocka_unit_test(test_budget_runs_two_of_three),
      cmocka_unit_test(test_budget_oversized_507),
      cmocka_unit_test(test_budget_precision),
  };
  int failed = 0;
  failed += cmocka_run_group_tests_name("server_api", api, setup_api, teardown_group);
  failed += cmocka_run_group_tests_name("server_budget", budget, setup_budget, teardown_group);
  failed += cmocka_run_group_tests_name("server_queue", queue, setup_queue, teardown_group);
  failed += cmocka_run_group_tests_name("server_restart", restart, setup_restart, teardown_group);
  ts_kill_all();
  if (fixtures_ready) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0) failed++;
  }
  free(disc_png);
  free(disc_jpg);
  free(disc_webp);
  free(photo_jpg);
  curl_global_cleanup();
  return failed ? 1 : 0;
}
