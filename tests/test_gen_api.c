/*
 * test_gen_api.c - the routes of issue 16 against the real `orfeas serve`
 * (tests/server_harness.c: 127.0.0.1, --port 0, a temporary data dir):
 *  - "batch": POST /api/v1/batch with five images, one corrupt (four
 *    models and one failed job with its error, the zip of four models, the
 *    same batch again answered from the cache), a zip as the body, and the
 *    batch's refusals;
 *  - "compat_orfeas": the original ORFEAS API (upload-image, generate-3d,
 *    job-status, download) and its error shapes.
 * No wall-clock limit is asserted; every wait is bounded and generous.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "orfeas.h"
#include "server_harness.h"
#include "testutil.h"

static char tmp[] = "/tmp/orfeas-genapi-XXXXXX";
static ts_server S;
static uint8_t *img[4];
static size_t img_n[4];

/* Four different discs on white: four different requests. */
static int make_images(void) {
  if (!mkdtemp(tmp)) return -1;
  const uint8_t fg[3] = {40, 90, 200}, bg[3] = {255, 255, 255};
  for (int i = 0; i < 4; i++) {
    const float disc[3] = {60, 60, 30.0f + 6.0f * (float)i};
    if (!(img[i] = tu_discs_png(120, 120, disc, 1, 0, fg, bg, &img_n[i]))) return -1;
  }
  return 0;
}

static int start(const char *name, const char *extra) {
  char data[600], log[600];
  snprintf(data, sizeof data, "%s/data-%s", tmp, name);
  snprintf(log, sizeof log, "%s/%s.log", tmp, name);
  return ts_start(&S, &(ts_launch){.data = data, .extra = extra, .log = log});
}

static int setup_batch(void **state) {
  (void)state;
  if (make_images()) return -1;
  ts_default_server = &S;
  return start("batch", "--workers 2 --queue-max 16");
}

static int teardown(void **state) {
  (void)state;
  ts_stop_clean(&S);
  ts_kill_all();
  return 0;
}

static const char *str(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  if (!s) fail_msg("\"%s\" is missing or not a string in %s", key, json_dumps(o, JSON_COMPACT));
  return s;
}

static json_int_t integer(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) fail_msg("\"%s\" is missing or not an integer", key);
  return json_integer_value(v);
}

/* ---- a multipart body of several image parts ------------------------------- */

typedef struct part {
  const char *name, *filename;
  const void *data;
  size_t len;
} part;

#define BOUNDARY "orfeas-test-boundary-16"

/* The multipart/form-data body of the parts (malloc'd; *len its size). */
static uint8_t *multipart(const part *parts, int n, size_t *len) {
  size_t cap = 4096;
  for (int i = 0; i < n; i++)
    cap += parts[i].len + 256;
  uint8_t *b = malloc(cap);
  size_t o = 0;
  for (int i = 0; i < n; i++) {
    o += (size_t)snprintf((char *)b + o, cap - o,
                          "--" BOUNDARY "\r\nContent-Disposition: form-data; name=\"%s\"%s%s%s\r\n%s\r\n",
                          parts[i].name, parts[i].filename ? "; filename=\"" : "",
                          parts[i].filename ? parts[i].filename : "", parts[i].filename ? "\"" : "",
                          parts[i].filename ? "Content-Type: application/octet-stream\r\n" : "");
    memcpy(b + o, parts[i].data, parts[i].len);
    o += parts[i].len;
    memcpy(b + o, "\r\n", 2);
    o += 2;
  }
  o += (size_t)snprintf((char *)b + o, cap - o, "--" BOUNDARY "--\r\n");
  *len = o;
  return b;
}

static void post_multipart(ts_reply *r, const char *path, const part *parts, int n) {
  size_t len;
  uint8_t *body = multipart(parts, n, &len);
  ts_http(r, &(ts_request){.method = "POST",
                           .path = path,
                           .ctype = "multipart/form-data; boundary=" BOUNDARY,
                           .body = body,
                           .len = len});
  free(body);
}

/* ---- batch ------------------------------------------------------------------- */

/* Polls GET /api/v1/batch/<id> until its status is "complete". */
static json_t *wait_batch(const char *id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/batch/%s", id);
  return ts_wait_status(path, "complete", "running", 300);
}

/* The five parts: four images and a PNG cut in half (its header is whole,
 * so it is a job that fails in decoding). */
static json_t *post_five(void) {
  part parts[5] = {{"image", "a.png", img[0], img_n[0]},
                   {"image", "b.png", img[1], img_n[1]},
                   {"image", "broken.png", img[2], img_n[2] / 2},
                   {"image", "c.png", img[2], img_n[2]},
                   {"image", "d.png", img[3], img_n[3]}};
  ts_reply r;
  post_multipart(&r, "/api/v1/batch?format=stl&quality=2&style=plain", parts, 5);
  TS_EXPECT_STATUS(&r, 202);
  json_t *j = ts_reply_json(&r);
  char want[128];
  snprintf(want, sizeof want, "/api/v1/batch/%s", str(j, "batch_id"));
  ts_expect_header(&r, "Location", want);
  assert_string_equal(str(j, "status_url"), want);
  assert_int_equal(integer(j, "count"), 5);
  ts_reply_free(&r);
  return j;
}

static void test_batch_five(void **state) {
  (void)state;
  json_t *sub = post_five();
  json_t *jobs = json_object_get(sub, "jobs");
  assert_int_equal(json_array_size(jobs), 5);
  for (size_t i = 0; i < 5; i++) { /* each entry is a job of /api/v1/jobs */
    json_t *e = json_array_get(jobs, i);
    char path[128];
    snprintf(path, sizeof path, "/api/v1/jobs/%s", str(e, "job_id"));
    assert_string_equal(str(e, "status_url"), path);
    ts_reply r;
    ts_get(&r, path);
    TS_EXPECT_STATUS(&r, 200);
    ts_reply_free(&r);
  }
  assert_string_equal(str(json_array_get(jobs, 2), "name"), "broken.png");
  json_t *done = wait_batch(str(sub, "batch_id"));
  assert_int_equal(integer(done, "complete"), 4);
  assert_int_equal(integer(done, "failed"), 1);
  json_t *broken = json_array_get(json_object_get(done, "jobs"), 2);
  assert_string_equal(str(broken, "status"), "failed");
  assert_true(strlen(str(broken, "error")) > 0);
  assert_string_equal(str(broken, "code"), "bad_image");
  /* a model of the batch, as its download_url serves it */
  ts_reply r;
  ts_get(&r, str(json_array_get(json_object_get(done, "jobs"), 0), "download_url"));
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "model/stl");
  ts_reply_free(&r);
  /* the zip: four STL models */
  ts_get(&r, str(done, "zip_url"));
  TS_EXPECT_STATUS(&r, 200);
  ts_expect_header_prefix(&r, "Content-Type", "application/zip");
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(r.body, r.len, 0, &ze);
  zip_t *za = zip_open_from_source(src, ZIP_RDONLY, &ze);
  assert_non_null(za);
  assert_int_equal(zip_get_num_entries(za, 0), 4);
  for (zip_int64_t i = 0; i < 4; i++) {
    zip_stat_t st;
    assert_int_equal(zip_stat_index(za, (zip_uint64_t)i, 0, &st), 0);
    assert_non_null(strstr(st.name, ".stl"));
    assert_null(strstr(st.name, "broken"));
    assert_true(st.size > 84);
  }
  zip_discard(za);
  zip_error_fini(&ze);
  ts_reply_free(&r);
  json_decref(done);
  json_decref(sub);

  /* the same batch again: the four models come from the cache */
  sub = post_five();
  jobs = json_object_get(sub, "jobs");
  for (size_t i = 0; i < 5; i++) {
    json_t *e = json_array_get(jobs, i);
    if (i == 2) {
      assert_false(json_is_true(json_object_get(e, "cached"))); /* a failure is never cached */
      continue;
    }
    assert_true(json_is_true(json_object_get(e, "cached")));
    assert_string_equal(str(e, "status"), "complete");
    assert_non_null(json_object_get(e, "download_url"));
  }
  done = wait_batch(str(sub, "batch_id"));
  assert_int_equal(integer(done, "complete"), 4);
  json_decref(done);
  json_decref(sub);
}

/* A zip of images as the raw body: its images (a text file and a folder
 * entry skipped), and a part that is no image failing its own entry. */
static void test_batch_zip_and_refusals(void **state) {
  (void)state;
  const char *names[] = {"in/one.png", "in/two.png", "in/readme.txt"};
  const uint8_t *data[] = {img[0], img[1], (const uint8_t *)"hello"};
  size_t lens[] = {img_n[0], img_n[1], 5};
  uint8_t *zip;
  size_t zip_n;
  assert_int_equal(orf_zip_files(names, data, lens, 3, &zip, &zip_n), ORF_OK);
  ts_reply r;
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/batch?quality=2&style=plain",
                            .ctype = "application/zip",
                            .body = zip,
                            .len = zip_n});
  TS_EXPECT_STATUS(&r, 202);
  json_t *j = ts_reply_json(&r);
  assert_int_equal(integer(j, "count"), 2);
  assert_string_equal(str(json_array_get(json_object_get(j, "jobs"), 0), "name"), "one.png");
  json_t *done = wait_batch(str(j, "batch_id"));
  assert_int_equal(integer(done, "complete"), 2);
  assert_string_equal(str(done, "format"), "glb");
  json_decref(done);
  json_decref(j);
  ts_reply_free(&r);

  /* a multipart part that is no image: its entry fails at once, the other runs */
  part parts[2] = {{"image", "notes.png", "not an image at all", 19}, {"image", "a.png", img[0], img_n[0]}};
  post_multipart(&r, "/api/v1/batch?quality=2&style=plain", parts, 2);
  TS_EXPECT_STATUS(&r, 202);
  j = ts_reply_json(&r);
  json_t *bad = json_array_get(json_object_get(j, "jobs"), 0);
  assert_string_equal(str(bad, "status"), "failed");
  assert_string_equal(str(bad, "code"), "bad_image");
  assert_null(json_object_get(bad, "job_id"));
  json_decref(wait_batch(str(j, "batch_id")));
  json_decref(j);
  ts_reply_free(&r);

  /* refusals: no image, a bad parameter, a zip with no image, no such batch, a wrong method */
  post_multipart(&r, "/api/v1/batch", NULL, 0);
  ts_expect_error(&r, 400, "missing_image", NULL);
  ts_reply_free(&r);
  post_multipart(&r, "/api/v1/batch?quality=11", parts + 1, 1);
  ts_expect_error(&r, 422, "invalid_param", "quality");
  ts_reply_free(&r);
  const char *txt[] = {"readme.txt"};
  uint8_t *zip2;
  size_t zip2_n;
  assert_int_equal(orf_zip_files(txt, data + 2, lens + 2, 1, &zip2, &zip2_n), ORF_OK);
  ts_http(&r, &(ts_request){.method = "POST",
                            .path = "/api/v1/batch",
                            .ctype = "application/zip",
                            .body = zip2,
                            .len = zip2_n});
  ts_expect_error(&r, 400, "missing_image", NULL);
  ts_reply_free(&r);
  ts_get(&r, "/api/v1/batch/0123456789abcdef0123456789abcdef");
  ts_expect_error(&r, 404, "not_found", NULL);
  ts_reply_free(&r);
  ts_get(&r, "/api/v1/batch/0123456789abcdef0123456789abcdef/results.zip");
  ts_expect_error(&r, 404, "not_found", NULL);
  ts_reply_free(&r);
  ts_get(&r, "/api/v1/batch");
  TS_EXPECT_STATUS(&r, 405);
  ts_reply_free(&r);
  orf_buffer_free(zip);
  orf_buffer_free(zip2);
}

/* A batch larger than the queue (one worker, a queue of one): the images
 * without room wait in the batch ("waiting") and are submitted as room
 * frees up, while the batch is asked for; all five end complete. */
static void test_batch_waits_for_room(void **state) {
  (void)state;
  const uint8_t fg[3] = {200, 40, 90}, bg[3] = {255, 255, 255};
  const float disc[3] = {60, 60, 45};
  size_t fifth_n;
  uint8_t *fifth = tu_discs_png(120, 120, disc, 1, 0, fg, bg, &fifth_n);
  part parts[5] = {{"image", "a.png", img[0], img_n[0]},
                   {"image", "b.png", img[1], img_n[1]},
                   {"image", "c.png", img[2], img_n[2]},
                   {"image", "d.png", img[3], img_n[3]},
                   {"image", "e.png", fifth, fifth_n}};
  ts_reply r;
  post_multipart(&r, "/api/v1/batch?quality=6&style=plain", parts, 5);
  free(fifth);
  TS_EXPECT_STATUS(&r, 202);
  json_t *j = ts_reply_json(&r);
  int waiting = 0;
  for (size_t i = 0; i < 5; i++) {
    json_t *e = json_array_get(json_object_get(j, "jobs"), i);
    if (!strcmp(str(e, "status"), "waiting")) {
      waiting++;
      assert_null(json_object_get(e, "job_id"));
    }
  }
  assert_true(waiting >= 1); /* one runs, one is queued: the others have no room */
  json_t *done = wait_batch(str(j, "batch_id"));
  assert_int_equal(integer(done, "complete"), 5);
  for (size_t i = 0; i < 5; i++) /* each became a job of its own */
    assert_non_null(json_object_get(json_array_get(json_object_get(done, "jobs"), i), "job_id"));
  json_decref(done);
  json_decref(j);
  ts_reply_free(&r);
}

static int setup_small_queue(void **state) {
  (void)state;
  ts_default_server = &S;
  return start("small-queue", "--workers 1 --queue-max 1");
}

int main(void) {
  const struct CMUnitTest batch[] = {
      cmocka_unit_test(test_batch_five),
      cmocka_unit_test(test_batch_zip_and_refusals),
  };
  int failed = cmocka_run_group_tests_name("batch", batch, setup_batch, teardown);
  const struct CMUnitTest small[] = {cmocka_unit_test(test_batch_waits_for_room)};
  failed += cmocka_run_group_tests_name("batch_small_queue", small, setup_small_queue, teardown);
  ts_kill_all();
  return failed;
}
