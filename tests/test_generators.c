/*
 * test_generators.c - ORFEAS's remote generators (issue 16) against stub
 * Hunyuan3D-2 API servers (tests/stub_hunyuan.c, in this process, on
 * loopback), one per contract version and quirk: the repaired result with
 * its guarantees (closed, manifold, the size asked) from a mesh with a hole
 * and a floater and from one with flipped faces, previews before the final
 * stage and status lines while the generator works, the deadline, every
 * failure's status and message (502 generator_failed), no cached failure,
 * the parameters (generator, seed, steps; 422 for what a generator does not
 * take), the request hash apart from the engine's, and the generators in
 * /health, /api/v1/gpu/stats, /api/v1/params and /metrics.
 * No wall-clock limit is asserted; waits are bounded and generous.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "orfeas.h"
#include "server_harness.h"
#include "stub_hunyuan.h"
#include "testutil.h"

static char tmp[] = "/tmp/orfeas-gentest-XXXXXX";
static ts_server S;
static uint8_t *png;
static size_t png_n;

enum { OK20, OK21, FLIP21, SLOW20, ERR404, STUCK, TRUNC, NOTGLB, STATUSERR, N_STUBS };
static stub_hunyuan stubs[N_STUBS];
static const char *const names[N_STUBS] = {"ok20",  "ok21",  "flip21", "slow20",   "err404",
                                           "stuck", "trunc", "notglb", "statuserr"};

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(tmp)) return -1;
  const float disc[3] = {60, 60, 40};
  const uint8_t fg[3] = {200, 60, 40}, bg[3] = {255, 255, 255};
  if (!(png = tu_discs_png(120, 120, disc, 1, 0, fg, bg, &png_n))) return -1;
  struct {
    int version;
    stub_mode mode;
    stub_mesh mesh;
    double delay;
  } cfg[N_STUBS] = {{20, STUB_OK, STUB_MESH_HOLE_FLOATER, 0.3},
                    {21, STUB_OK, STUB_MESH_HOLE_FLOATER, 0.3},
                    {21, STUB_OK, STUB_MESH_FLIPPED, 0.3},
                    {20, STUB_OK, STUB_MESH_HOLE_FLOATER, 1.5},
                    {20, STUB_ERROR404, 0, 0},
                    {20, STUB_STUCK, 0, 0},
                    {21, STUB_TRUNCATED, 0, 0},
                    {20, STUB_NOT_GLB, 0, 0},
                    {21, STUB_STATUS_ERROR, 0, 0}};
  char extra[4096] = "--workers 2 --queue-max 16 --generator-timeout 3 --generator-concurrency 2";
  for (int i = 0; i < N_STUBS; i++) {
    if (stub_hunyuan_start(&stubs[i], cfg[i].version, cfg[i].mode, cfg[i].mesh, cfg[i].delay)) return -1;
    snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " --generator %s=http://127.0.0.1:%d",
             names[i], stubs[i].port);
  }
  /* and one that is not there: a port nothing listens on (the stub's, once stopped) */
  stub_hunyuan gone;
  if (stub_hunyuan_start(&gone, 20, STUB_OK, STUB_MESH_FLIPPED, 0)) return -1;
  int gone_port = gone.port;
  stub_hunyuan_stop(&gone);
  snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " --generator down=http://127.0.0.1:%d/",
           gone_port);
  char data[600], log[600];
  snprintf(data, sizeof data, "%s/data", tmp);
  snprintf(log, sizeof log, "%s/server.log", tmp);
  ts_default_server = &S;
  return ts_start(&S, &(ts_launch){.data = data, .extra = extra, .log = log});
}

static int teardown(void **state) {
  (void)state;
  ts_stop_clean(&S);
  ts_kill_all();
  for (int i = 0; i < N_STUBS; i++)
    stub_hunyuan_stop(&stubs[i]);
  return 0;
}

static json_t *get_json(const char *path) {
  ts_reply r;
  ts_get(&r, path);
  TS_EXPECT_STATUS(&r, 200);
  json_t *j = ts_reply_json(&r);
  ts_reply_free(&r);
  return j;
}

/* The entry of generator `name` in a list of them. */
static json_t *entry(json_t *list, const char *key, const char *name) {
  size_t i;
  json_t *e;
  json_array_foreach(list, i, e) {
    if (!strcmp(json_string_value(json_object_get(e, key)), name)) return e;
  }
  fail_msg("no %s \"%s\" in the list", key, name);
  return NULL;
}

/* POST path?query with the PNG as the raw body. */
static void post_png(ts_reply *r, const char *path, const char *query) {
  char url[512];
  snprintf(url, sizeof url, "%s?%s", path, query);
  ts_http(r, &(ts_request){.method = "POST", .path = url, .ctype = "image/png", .body = png, .len = png_n});
}

static void test_listed(void **state) {
  (void)state;
  json_t *h = get_json("/health");
  json_t *gens = json_object_get(h, "generators");
  assert_int_equal(json_array_size(gens), N_STUBS + 1);
  json_t *e = entry(gens, "name", "ok21");
  assert_string_equal(json_string_value(json_object_get(e, "version")), "2.1");
  assert_true(json_is_true(json_object_get(e, "healthy")));
  e = entry(gens, "name", "ok20");
  assert_string_equal(json_string_value(json_object_get(e, "version")), "2.0");
  assert_true(json_is_true(json_object_get(e, "healthy")));
  e = entry(gens, "name", "down");
  assert_true(json_is_false(json_object_get(e, "healthy")));
  assert_non_null(json_string_value(json_object_get(e, "last_error")));
  json_decref(h);
  json_t *g = get_json("/api/v1/gpu/stats");
  assert_int_equal(json_array_size(json_object_get(g, "generators")), N_STUBS + 1);
  json_decref(g);
  json_t *p = get_json("/api/v1/params");
  json_t *gp = entry(json_object_get(p, "server_params"), "name", "generator");
  json_t *choices = json_object_get(gp, "choices");
  assert_string_equal(json_string_value(json_array_get(choices, 0)), "geometry");
  assert_string_equal(json_string_value(json_array_get(choices, 1)), "ok20");
  entry(json_object_get(p, "server_params"), "name", "seed");
  entry(json_object_get(p, "server_params"), "name", "steps");
  json_decref(p);
}

/* The NDJSON lines of a reply. */
static json_t *lines_of(const ts_reply *r) {
  json_t *all = json_array();
  const char *p = r->body;
  while (p && *p) {
    const char *nl = strchr(p, '\n');
    json_t *j = json_loadb(p, nl ? (size_t)(nl - p) : strlen(p), 0, NULL);
    if (!j) fail_msg("not a JSON line: %.200s", p);
    json_array_append_new(all, j);
    p = nl ? nl + 1 : NULL;
  }
  return all;
}

/* A progressive generation on `gen`: previews first, marked; the final
 * stage the generator's, repaired: closed, manifold, the size asked. */
static void remote_repaired(const char *gen, stub_hunyuan *stub) {
  char query[160];
  snprintf(query, sizeof query, "generator=%s&quality=3&size_mm=50&format=stl&seed=42&steps=8", gen);
  ts_reply r;
  post_png(&r, "/api/v1/generate-progressive", query);
  TS_EXPECT_STATUS(&r, 200);
  json_t *lines = lines_of(&r);
  size_t n = json_array_size(lines);
  assert_true(n >= 2);
  int previews = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    json_t *l = json_array_get(lines, i);
    if (json_object_get(l, "stage")) {
      assert_true(json_is_true(json_object_get(l, "preview")));
      previews++;
    } else { /* a status line */
      assert_string_equal(json_string_value(json_object_get(l, "generator")), gen);
    }
  }
  assert_int_equal(previews, 3);
  json_t *last = json_array_get(lines, n - 1);
  assert_string_equal(json_string_value(json_object_get(last, "stage")), "final_optimized");
  assert_string_equal(json_string_value(json_object_get(last, "status")), "complete");
  assert_string_equal(json_string_value(json_object_get(last, "generator")), gen);
  json_t *mesh = json_object_get(last, "mesh");
  assert_true(json_is_true(json_object_get(mesh, "watertight")));
  assert_true(json_is_true(json_object_get(mesh, "manifold")));
  json_t *bbox = json_object_get(mesh, "bbox_mm");
  double longest = 0;
  for (size_t k = 0; k < 3; k++)
    if (json_number_value(json_array_get(bbox, k)) > longest)
      longest = json_number_value(json_array_get(bbox, k));
  if (!(longest > 49.5 && longest < 50.5))
    fail_msg("longest side %.3f mm, asked 50: %s", longest, json_dumps(mesh, JSON_COMPACT));
  /* the STL itself: binary, its faces */
  ts_reply f;
  ts_get(&f, json_string_value(json_object_get(json_object_get(last, "data"), "url")));
  TS_EXPECT_STATUS(&f, 200);
  assert_true(f.len > 84);
  ts_reply_free(&f);
  /* what the generator was sent: the subject with alpha, the values passed through */
  assert_int_equal(atomic_load(&stub->png_color_type), 6);
  assert_int_equal(atomic_load(&stub->seed), 42);
  assert_int_equal(atomic_load(&stub->steps), 8);
  assert_int_equal(atomic_load(&stub->octree), 96);
  json_decref(lines);
  ts_reply_free(&r);
}

static void test_hole_floater_20(void **state) {
  (void)state;
  remote_repaired("ok20", &stubs[OK20]);
}

static void test_hole_floater_21(void **state) {
  (void)state;
  remote_repaired("ok21", &stubs[OK21]);
}

static void test_flipped_21(void **state) {
  (void)state;
  remote_repaired("flip21", &stubs[FLIP21]);
}

/* A slow generator: status lines with the elapsed time before the model. */
static void test_slow_status_lines(void **state) {
  (void)state;
  ts_reply r;
  post_png(&r, "/api/v1/generate-progressive", "generator=slow20&quality=2");
  TS_EXPECT_STATUS(&r, 200);
  json_t *lines = lines_of(&r);
  int status_lines = 0;
  size_t i;
  json_t *l;
  json_array_foreach(lines, i, l) {
    if (json_object_get(l, "stage")) continue;
    assert_true(json_is_number(json_object_get(l, "elapsed_s")));
    assert_non_null(strstr(json_string_value(json_object_get(l, "message")), "slow20"));
    status_lines++;
  }
  assert_true(status_lines >= 1);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(lines, json_array_size(lines) - 1), "status")),
      "complete");
  json_decref(lines);
  ts_reply_free(&r);
}

/* Each failure: 502 generator_failed naming the generator and saying why;
 * nothing cached (the same request asks the generator again). */
static void expect_failure(const char *gen, const char *why, stub_hunyuan *stub) {
  char query[128];
  snprintf(query, sizeof query, "generator=%s&quality=2", gen);
  for (int round = 0; round < 2; round++) {
    int sends = stub ? atomic_load(&stub->sends) : 0;
    ts_reply r;
    post_png(&r, "/api/v1/generate", query);
    ts_expect_error(&r, 502, "generator_failed", NULL);
    json_t *j = ts_reply_json(&r);
    const char *msg = json_string_value(json_object_get(j, "error"));
    if (!strstr(msg, gen) || !strstr(msg, why)) fail_msg("%s: \"%s\" does not say \"%s\"", gen, msg, why);
    json_decref(j);
    ts_reply_free(&r);
    if (stub) assert_int_equal(atomic_load(&stub->sends), sends + 1); /* asked again: no cached failure */
  }
}

static void test_failures(void **state) {
  (void)state;
  expect_failure("err404", "NETWORK ERROR", &stubs[ERR404]);
  expect_failure("stuck", "did not finish within the 3 s", &stubs[STUCK]);
  expect_failure("trunc", "base64", &stubs[TRUNC]);
  expect_failure("notglb", "not a GLB", &stubs[NOTGLB]);
  expect_failure("statuserr", "CUDA out of memory", &stubs[STATUSERR]);
  expect_failure("down", "could not be reached", NULL);
  /* 2.1 refuses a value out of its range with 422: said as such */
  ts_reply r;
  post_png(&r, "/api/v1/generate", "generator=ok21&steps=50");
  ts_expect_error(&r, 502, "generator_failed", NULL);
  assert_non_null(strstr(r.body, "422"));
  ts_reply_free(&r);
  /* a failure in a progressive stream: its error line */
  post_png(&r, "/api/v1/generate-progressive", "generator=err404&quality=2");
  TS_EXPECT_STATUS(&r, 200);
  json_t *lines = lines_of(&r);
  json_t *last = json_array_get(lines, json_array_size(lines) - 1);
  assert_string_equal(json_string_value(json_object_get(last, "status")), "error");
  assert_string_equal(json_string_value(json_object_get(last, "code")), "generator_failed");
  json_decref(lines);
  ts_reply_free(&r);
  /* counted per generator */
  assert_true(
      ts_get_metric(NULL, "orfeas_generator_requests_total", "generator=\"err404\",outcome=\"failed\"") >= 3);
  assert_true(ts_get_metric(NULL, "orfeas_generator_requests_total", "generator=\"ok20\",outcome=\"ok\"") >=
              1);
}

/* The parameters: seed and steps only with a remote generator, a generator's
 * refusals, an unknown generator. */
static void test_params_refused(void **state) {
  (void)state;
  ts_reply r;
  static const char *const cases[][2] = {{"seed=3", "seed"},
                                         {"generator=geometry&steps=3", "steps"},
                                         {"generator=ok20&thickness=0.5", "thickness"},
                                         {"generator=nope", "generator"},
                                         {"generator=ok20&seed=-1", "seed"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    post_png(&r, "/api/v1/generate", cases[i][0]);
    ts_expect_error(&r, 422, "invalid_param", cases[i][1]);
    ts_reply_free(&r);
  }
}

/* The request hash holds the generator: the engine's result and the
 * generator's are apart, and the generator's is served from the cache. */
static void test_cache_apart(void **state) {
  (void)state;
  json_t *h[4];
  const char *queries[4] = {"quality=2&format=glb", "generator=ok20&quality=2&format=glb",
                            "generator=ok20&quality=2&format=glb", "quality=2&format=stl"};
  for (int i = 0; i < 4; i++) {
    ts_reply r;
    post_png(&r, "/api/v1/generate", queries[i]);
    TS_EXPECT_STATUS(&r, 200);
    h[i] = ts_reply_json(&r);
    ts_reply_free(&r);
  }
  assert_string_not_equal(json_string_value(json_object_get(h[0], "request_hash")),
                          json_string_value(json_object_get(h[1], "request_hash")));
  assert_string_equal(json_string_value(json_object_get(h[1], "request_hash")),
                      json_string_value(json_object_get(h[2], "request_hash")));
  assert_true(json_is_true(json_object_get(h[2], "cached")));
  assert_string_equal(json_string_value(json_object_get(h[1], "generator")), "ok20");
  /* the engine's request again: its own hash, from the cache */
  assert_string_equal(json_string_value(json_object_get(h[0], "request_hash")),
                      json_string_value(json_object_get(h[3], "request_hash")));
  assert_true(json_is_true(json_object_get(h[3], "cached")));
  for (int i = 0; i < 4; i++)
    json_decref(h[i]);
}

/* POSTs body to path (expecting `status`), then polls prefix<the answer's
 * `key`> until its status is `want`; returns that answer. */
static json_t *submit_and_wait(const char *path, const char *ctype, const void *body, size_t len, long status,
                               const char *key, const char *prefix, const char *want, const char *going) {
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST", .path = path, .ctype = ctype, .body = body, .len = len});
  TS_EXPECT_STATUS(&r, status);
  json_t *j = ts_reply_json(&r);
  char poll[200];
  snprintf(poll, sizeof poll, "%s%s", prefix, json_string_value(json_object_get(j, key)));
  json_decref(j);
  ts_reply_free(&r);
  return ts_wait_status(poll, want, going, 120);
}

/* The Hunyuan3D-2 contract served by ORFEAS, with "generator": the shape
 * from the remote generator, seed and steps passed on, the model back as
 * base64 GLB. */
static void test_hunyuan_contract_with_generator(void **state) {
  (void)state;
  char *b64 = malloc(4 * ((png_n + 2) / 3) + 1);
  EVP_EncodeBlock((unsigned char *)b64, png, (int)png_n);
  json_t *req = json_pack("{s:s, s:s, s:i, s:i, s:i}", "image", b64, "generator", "ok21", "seed", 7,
                          "num_inference_steps", 9, "octree_resolution", 128);
  free(b64);
  char *body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  json_t *j = submit_and_wait("/send", "application/json", body, strlen(body), 200, "uid", "/status/",
                              "completed", "processing");
  free(body);
  const char *model = json_string_value(json_object_get(j, "model_base64"));
  assert_non_null(model);
  unsigned char head[16];
  assert_true(EVP_DecodeBlock(head, (const unsigned char *)model, 16) == 12);
  assert_memory_equal(head, "glTF", 4);
  json_decref(j);
  assert_int_equal(atomic_load(&stubs[OK21].seed), 7);
  assert_int_equal(atomic_load(&stubs[OK21].steps), 9);
  assert_int_equal(atomic_load(&stubs[OK21].octree), 128);
}

/* A batch on a remote generator: each image a remote job of its own. */
static void test_batch_on_generator(void **state) {
  (void)state;
  const float disc[3] = {60, 60, 25};
  const uint8_t fg[3] = {20, 160, 40}, bg[3] = {255, 255, 255};
  size_t second_n;
  uint8_t *second = tu_discs_png(120, 120, disc, 1, 0, fg, bg, &second_n);
  const char *names[] = {"one.png", "two.png"};
  const uint8_t *data[] = {png, second};
  size_t lens[] = {png_n, second_n};
  uint8_t *zip;
  size_t zip_n;
  assert_int_equal(orf_zip_files(names, data, lens, 2, &zip, &zip_n), ORF_OK);
  free(second);
  json_t *j = submit_and_wait("/api/v1/batch?generator=ok20&quality=2&format=stl", "application/zip", zip,
                              zip_n, 202, "batch_id", "/api/v1/batch/", "complete", "running");
  orf_buffer_free(zip);
  assert_int_equal(json_integer_value(json_object_get(j, "complete")), 2);
  for (size_t i = 0; i < 2; i++) { /* each a model (the first one may come from the cache) */
    ts_reply f;
    ts_get(&f,
           json_string_value(json_object_get(json_array_get(json_object_get(j, "jobs"), i), "download_url")));
    TS_EXPECT_STATUS(&f, 200);
    ts_expect_header_prefix(&f, "Content-Type", "model/stl");
    ts_reply_free(&f);
  }
  json_decref(j);
}

/* --generator-concurrency 1: two jobs on one slow generator, never both
 * in flight there. */
static stub_hunyuan slow;

static int setup_concurrency(void **state) {
  (void)state;
  if (stub_hunyuan_start(&slow, 20, STUB_OK, STUB_MESH_FLIPPED, 1.5)) return -1;
  char extra[256], data[600], log[600];
  snprintf(extra, sizeof extra, "--workers 2 --generator-concurrency 1 --generator slow=http://127.0.0.1:%d",
           slow.port);
  snprintf(data, sizeof data, "%s/data-conc", tmp);
  snprintf(log, sizeof log, "%s/conc.log", tmp);
  ts_default_server = &S;
  return ts_start(&S, &(ts_launch){.data = data, .extra = extra, .log = log});
}

static int teardown_concurrency(void **state) {
  (void)state;
  ts_stop_clean(&S);
  stub_hunyuan_stop(&slow);
  return 0;
}

static void test_one_slot(void **state) {
  (void)state;
  const float disc[3] = {60, 60, 30};
  const uint8_t fg[3] = {20, 60, 200}, bg[3] = {255, 255, 255};
  size_t other_n;
  uint8_t *other = tu_discs_png(120, 120, disc, 1, 0, fg, bg, &other_n);
  const uint8_t *imgs[2] = {png, other};
  size_t lens[2] = {png_n, other_n};
  char paths[2][128];
  for (int i = 0; i < 2; i++) {
    ts_reply r;
    ts_http(&r, &(ts_request){.method = "POST",
                              .path = "/api/v1/jobs?generator=slow&quality=2",
                              .ctype = "image/png",
                              .body = imgs[i],
                              .len = lens[i]});
    TS_EXPECT_STATUS(&r, 202);
    json_t *j = ts_reply_json(&r);
    snprintf(paths[i], sizeof paths[i], "/api/v1/jobs/%s", json_string_value(json_object_get(j, "job_id")));
    json_decref(j);
    ts_reply_free(&r);
  }
  free(other);
  for (int i = 0; i < 2; i++)
    json_decref(ts_wait_status(paths[i], "complete", "queued|running", 120));
  assert_int_equal(atomic_load(&slow.max_open), 1);
  assert_int_equal(atomic_load(&slow.sends), 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_listed),
      cmocka_unit_test(test_hole_floater_20),
      cmocka_unit_test(test_hole_floater_21),
      cmocka_unit_test(test_flipped_21),
      cmocka_unit_test(test_slow_status_lines),
      cmocka_unit_test(test_failures),
      cmocka_unit_test(test_params_refused),
      cmocka_unit_test(test_cache_apart),
      cmocka_unit_test(test_hunyuan_contract_with_generator),
      cmocka_unit_test(test_batch_on_generator),
  };
  int failed = cmocka_run_group_tests_name("generators", tests, setup, teardown);
  const struct CMUnitTest conc[] = {cmocka_unit_test(test_one_slot)};
  failed +=
      cmocka_run_group_tests_name("generator_concurrency", conc, setup_concurrency, teardown_concurrency);
  ts_kill_all();
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
  if (system(cmd)) failed++;
  return failed;
}
