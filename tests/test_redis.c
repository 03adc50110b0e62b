/*
 * test_redis.c - the cluster's Redis connection (src/server/cluster/redis.c)
 * against a real redis-server on a loopback port (tests/redis_harness.c):
 * URLs parsed strictly with a sentence for each fault; commands, binary
 * values and a database number; a blocking read that returns when its own
 * block ends, not at the socket timeout; a Redis that is killed gives an
 * error, not a hang, and one that comes back is reconnected to by the next
 * command (its data kept with the append-only file, gone without it);
 * passwords; an address where nothing listens.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/redis.h"
#include "redis_harness.h"

static tr_redis server;

static int group_setup(void **state) {
  (void)state;
  return tr_redis_start(&server, 1);
}

static int group_teardown(void **state) {
  (void)state;
  tr_redis_stop(&server, 0);
  tr_redis_cleanup(&server);
  return 0;
}

static orf_redis *connect_db(int db, const char *auth) {
  char url[256];
  snprintf(url, sizeof url, "redis://%s127.0.0.1:%d/%d", auth ? auth : "", server.port, db);
  orf_redis_url u;
  char err[256];
  assert_int_equal(orf_redis_parse_url(url, &u, err, sizeof err), 0);
  orf_redis *r = orf_redis_open(&u, 2000);
  assert_non_null(r);
  return r;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void expect_reply(redisReply *rep, int type, const char *str) {
  assert_non_null(rep);
  assert_int_equal(rep->type, type);
  if (str) assert_string_equal(rep->str, str);
  freeReplyObject(rep);
}

static void test_urls(void **state) {
  (void)state;
  orf_redis_url u;
  char err[256];
  assert_int_equal(orf_redis_parse_url("redis://cache.local", &u, err, sizeof err), 0);
  assert_string_equal(u.host, "cache.local");
  assert_int_equal(u.port, 6379);
  assert_int_equal(u.db, 0);
  assert_string_equal(u.password, "");
  assert_int_equal(orf_redis_parse_url("redis://bob:s3cret@10.0.0.2:6380/4", &u, err, sizeof err), 0);
  assert_string_equal(u.user, "bob");
  assert_string_equal(u.password, "s3cret");
  assert_string_equal(u.host, "10.0.0.2");
  assert_int_equal(u.port, 6380);
  assert_int_equal(u.db, 4);
  assert_int_equal(orf_redis_parse_url("redis://:pw@h/", &u, err, sizeof err), 0);
  assert_string_equal(u.user, "");
  assert_string_equal(u.password, "pw");
  static const struct {
    const char *url, *says;
  } bad[] = {
      {"http://h:6379", "does not start with redis://"},
      {"redis://", "names no host"},
      {"redis://:6379", "names no host"},
      {"redis://h:0", "port that is not a number"},
      {"redis://h:70000", "port that is not a number"},
      {"redis://h:12ab", "port that is not a number"},
      {"redis://h/16", "database that is not a number"},
      {"redis://h/x", "database that is not a number"},
      {"redis://pw@h", "credentials without a ':'"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    err[0] = 0;
    assert_int_equal(orf_redis_parse_url(bad[i].url, &u, err, sizeof err), -1);
    if (!strstr(err, bad[i].says)) fail_msg("%s: '%s' does not say '%s'", bad[i].url, err, bad[i].says);
  }
  assert_int_equal(orf_redis_parse_url(NULL, &u, err, sizeof err), -1);
}

static void test_commands_and_databases(void **state) {
  (void)state;
  orf_redis *r = connect_db(3, NULL), *r0 = connect_db(0, NULL);
  assert_true(orf_redis_connected(r));
  const char bin[] = {'a', 0, 'b', '\r', '\n'};
  expect_reply(orf_redis_command(r, 0, "SET %s %b", "k", bin, sizeof bin), REDIS_REPLY_STATUS, "OK");
  redisReply *rep = orf_redis_command(r, 0, "GET %s", "k");
  assert_non_null(rep);
  assert_int_equal(rep->type, REDIS_REPLY_STRING);
  assert_int_equal(rep->len, sizeof bin);
  assert_memory_equal(rep->str, bin, sizeof bin);
  freeReplyObject(rep);
  /* database 3's key is not database 0's */
  expect_reply(orf_redis_command(r0, 0, "EXISTS %s", "k"), REDIS_REPLY_INTEGER, NULL);
  rep = orf_redis_command(r0, 0, "EXISTS %s", "k");
  assert_int_equal(rep->integer, 0);
  freeReplyObject(rep);
  /* an error reply is a reply, and the connection stays */
  rep = orf_redis_command(r, 0, "INCR %s", "k");
  assert_non_null(rep);
  assert_int_equal(rep->type, REDIS_REPLY_ERROR);
  freeReplyObject(rep);
  assert_true(orf_redis_connected(r));
  orf_redis_close(r);
  orf_redis_close(r0);
}

/* XREAD BLOCK 1500 with a command timeout of 2000: the socket waits for
 * both, so the read ends by Redis's answer (nil) at about 1.5 s, not by a
 * socket timeout at 2 s, and a blocked read longer than the command
 * timeout alone still works. */
static void test_blocking_read(void **state) {
  (void)state;
  orf_redis_url u;
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", server.port);
  assert_int_equal(orf_redis_parse_url(url, &u, NULL, 0), 0);
  orf_redis *r = orf_redis_open(&u, 500);
  double t0 = now_s();
  redisReply *rep = orf_redis_command(r, 1500, "XREAD BLOCK %d STREAMS %s $", 1500, "empty-stream");
  double took = now_s() - t0;
  if (!rep) fail_msg("blocking read failed: %s", orf_redis_error(r));
  assert_int_equal(rep->type, REDIS_REPLY_NIL);
  freeReplyObject(rep);
  assert_true(took >= 1.4);
  assert_true(orf_redis_connected(r));
  /* the command timeout is back to 500 ms afterwards: a plain command works */
  expect_reply(orf_redis_command(r, 0, "PING"), REDIS_REPLY_STATUS, "PONG");
  orf_redis_close(r);
}

static void test_restart(void **state) {
  (void)state;
  orf_redis *r = connect_db(0, NULL);
  expect_reply(orf_redis_command(r, 0, "SET %s %s", "survives", "yes"), REDIS_REPLY_STATUS, "OK");
  /* a clean stop with the append-only file: the key comes back */
  tr_redis_stop(&server, 0);
  assert_null(orf_redis_command(r, 0, "GET %s", "survives"));
  const char *why = orf_redis_error(r);
  if (!strstr(why, "closed the connection") && !strstr(why, "could not be reached") &&
      !strstr(why, "did not answer"))
    fail_msg("unexpected error: %s", why);
  assert_false(orf_redis_connected(r));
  /* while it is down: an error at once, every time */
  double t0 = now_s();
  assert_null(orf_redis_command(r, 0, "GET %s", "survives"));
  assert_non_null(strstr(orf_redis_error(r), "could not be reached"));
  assert_true(now_s() - t0 < 2.5);
  assert_int_equal(tr_redis_start(&server, 1), 0);
  expect_reply(orf_redis_command(r, 0, "GET %s", "survives"), REDIS_REPLY_STRING, "yes");
  assert_true(orf_redis_connected(r));
  /* killed and restarted without persistence: reconnected, data gone */
  tr_redis_stop(&server, 1);
  assert_int_equal(tr_redis_start(&server, 0), 0);
  assert_null(orf_redis_command(r, 0, "GET %s", "survives")); /* the old socket is dead */
  expect_reply(orf_redis_command(r, 0, "GET %s", "survives"), REDIS_REPLY_NIL, NULL);
  orf_redis_close(r);
  /* back to the group's configuration */
  tr_redis_stop(&server, 0);
  assert_int_equal(tr_redis_start(&server, 1), 0);
}

static void test_password(void **state) {
  (void)state;
  orf_redis *admin = connect_db(0, NULL);
  expect_reply(orf_redis_command(admin, 0, "CONFIG SET requirepass %s", "hunter2"), REDIS_REPLY_STATUS, "OK");
  orf_redis *good = connect_db(0, ":hunter2@");
  assert_true(orf_redis_connected(good));
  expect_reply(orf_redis_command(good, 0, "PING"), REDIS_REPLY_STATUS, "PONG");
  orf_redis *wrong = connect_db(0, ":nope@");
  assert_false(orf_redis_connected(wrong));
  assert_non_null(strstr(orf_redis_error(wrong), "refused the password"));
  assert_null(orf_redis_command(wrong, 0, "PING"));
  orf_redis *none = connect_db(0, NULL);
  redisReply *rep = orf_redis_command(none, 0, "GET %s", "x");
  assert_non_null(rep);
  assert_int_equal(rep->type, REDIS_REPLY_ERROR); /* NOAUTH, Redis's own words */
  freeReplyObject(rep);
  expect_reply(orf_redis_command(good, 0, "CONFIG SET requirepass %s", ""), REDIS_REPLY_STATUS, "OK");
  orf_redis_close(admin);
  orf_redis_close(good);
  orf_redis_close(wrong);
  orf_redis_close(none);
}

static void test_nothing_listening(void **state) {
  (void)state;
  tr_redis other = {0};
  assert_int_equal(tr_redis_start(&other, 0), 0);
  int port = other.port;
  tr_redis_stop(&other, 1);
  tr_redis_cleanup(&other);
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", port);
  orf_redis_url u;
  assert_int_equal(orf_redis_parse_url(url, &u, NULL, 0), 0);
  orf_redis *r = orf_redis_open(&u, 500);
  assert_non_null(r);
  assert_false(orf_redis_connected(r));
  assert_non_null(strstr(orf_redis_error(r), "could not be reached"));
  assert_null(orf_redis_command(r, 0, "PING"));
  orf_redis_close(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_urls),          cmocka_unit_test(test_commands_and_databases),
      cmocka_unit_test(test_blocking_read), cmocka_unit_test(test_restart),
      cmocka_unit_test(test_password),      cmocka_unit_test(test_nothing_listening),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
