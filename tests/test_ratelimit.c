/*
 * test_ratelimit.c - the per-client token buckets of src/server/http/ratelimit.h
 * with explicit times: a burst then refusals with the right retry time,
 * refill at the configured rate, clients independent of each other, an
 * IPv6 /64 counted as one client and IPv4-mapped addresses as IPv4, the
 * table's size fixed under a flood of distinct clients (idle clients are
 * the ones forgotten, an active one keeps its state), bad arguments, and
 * several threads taking tokens at once (the total granted is exact).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include "orfeas.h"
#include "http/ratelimit.h"

static struct sockaddr_in v4(uint32_t host_order) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(host_order);
  return a;
}

static struct sockaddr_in6 v6(const char *text) {
  struct sockaddr_in6 a;
  memset(&a, 0, sizeof a);
  a.sin6_family = AF_INET6;
  assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
  return a;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void test_burst_then_refill(void **state) {
  (void)state;
  orf_ratelimit *rl;
  assert_int_equal(orf_ratelimit_create(&rl, 2.0, 3.0, 64), ORF_OK);
  struct sockaddr_in a = v4(0x0a000001);
  double retry = -1;
  for (int i = 0; i < 3; i++)
    assert_int_equal(orf_ratelimit_take(rl, SA(a), 100.0, &retry), 1);
  assert_int_equal(orf_ratelimit_take(rl, SA(a), 100.0, &retry), 0);
  assert_true(retry > 0.49 && retry < 0.51); /* one token at 2/s */
  /* a quarter of a second later: half a token, still refused, 0.25 s to go */
  assert_int_equal(orf_ratelimit_take(rl, SA(a), 100.25, &retry), 0);
  assert_true(retry > 0.24 && retry < 0.26);
  assert_int_equal(orf_ratelimit_take(rl, SA(a), 100.5, &retry), 1);
  assert_int_equal(orf_ratelimit_take(rl, SA(a), 100.5, &retry), 0);
  /* a long pause fills the bucket to burst, not beyond */
  for (int i = 0; i < 3; i++)
    assert_int_equal(orf_ratelimit_take(rl, SA(a), 1000.0, NULL), 1);
  assert_int_equal(orf_ratelimit_take(rl, SA(a), 1000.0, NULL), 0);
  /* a steady 2/s is always let in */
  for (int i = 1; i <= 20; i++)
    assert_int_equal(orf_ratelimit_take(rl, SA(a), 1000.0 + 0.5 * i, NULL), 1);
  assert_int_equal(orf_ratelimit_clients(rl), 1);
  orf_ratelimit_free(rl);
}

static void test_clients_apart(void **state) {
  (void)state;
  orf_ratelimit *rl;
  assert_int_equal(orf_ratelimit_create(&rl, 1.0, 1.0, 64), ORF_OK);
  struct sockaddr_in a = v4(0x0a000001), b = v4(0x0a000002);
  assert_int_equal(orf_ratelimit_take(rl, SA(a), 5.0, NULL), 1);
  assert_int_equal(orf_ratelimit_take(rl, SA(a), 5.0, NULL), 0);
  assert_int_equal(orf_ratelimit_take(rl, SA(b), 5.0, NULL), 1);
  /* one IPv6 /64 is one client; another /64 is another */
  struct sockaddr_in6 x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff::9"), z = v6("2001:db8:1:3::1");
  assert_int_equal(orf_ratelimit_take(rl, SA(x), 5.0, NULL), 1);
  assert_int_equal(orf_ratelimit_take(rl, SA(y), 5.0, NULL), 0);
  assert_int_equal(orf_ratelimit_take(rl, SA(z), 5.0, NULL), 1);
  /* ::ffff:10.0.0.1 is a */
  struct sockaddr_in6 m = v6("::ffff:10.0.0.1");
  assert_int_equal(orf_ratelimit_take(rl, SA(m), 5.0, NULL), 0);
  assert_int_equal(orf_ratelimit_clients(rl), 4);
  /* other families and NULL are never limited */
  struct sockaddr un = {.sa_family = AF_UNIX};
  for (int i = 0; i < 5; i++) {
    assert_int_equal(orf_ratelimit_take(rl, &un, 5.0, NULL), 1);
    assert_int_equal(orf_ratelimit_take(rl, NULL, 5.0, NULL), 1);
  }
  orf_ratelimit_free(rl);
}

/* 100000 distinct clients through a table of 256: its size never grows,
 * and a client that keeps coming keeps its (empty) bucket because the
 * others are idle by the time they would be replaced. */
static void test_bounded_table(void **state) {
  (void)state;
  orf_ratelimit *rl;
  assert_int_equal(orf_ratelimit_create(&rl, 10.0, 2.0, 256), ORF_OK);
  size_t cap = orf_ratelimit_capacity(rl);
  assert_true(cap >= 256 && cap <= 512);
  struct sockaddr_in hot = v4(0xc0a80001);
  double t = 0;
  assert_int_equal(orf_ratelimit_take(rl, SA(hot), t, NULL), 1);
  assert_int_equal(orf_ratelimit_take(rl, SA(hot), t, NULL), 1);
  for (uint32_t i = 0; i < 100000; i++) {
    t += 0.005; /* each flood client comes once: 0.1 s later it is idle (full) again */
    struct sockaddr_in c = v4(0x0b000000 + i);
    orf_ratelimit_take(rl, SA(c), t, NULL);
    assert_true(orf_ratelimit_clients(rl) <= cap);
    if (i % 10 == 0) {
      /* the hot client is seen every 50 ms: 0.5 token refilled each time, so
       * it is refused every other time - it was never forgotten (a fresh
       * bucket would let it in twice in a row) */
      int a1 = orf_ratelimit_take(rl, SA(hot), t, NULL);
      int a2 = orf_ratelimit_take(rl, SA(hot), t, NULL);
      assert_false(a1 && a2);
    }
  }
  assert_int_equal(orf_ratelimit_clients(rl), cap);
  orf_ratelimit_free(rl);
}

static void test_bad_arguments(void **state) {
  (void)state;
  orf_ratelimit *rl = (orf_ratelimit *)1;
  assert_int_equal(orf_ratelimit_create(&rl, 0.0, 5.0, 16), ORF_EINVAL);
  assert_null(rl);
  assert_int_equal(orf_ratelimit_create(&rl, 1.0, 0.5, 16), ORF_EINVAL);
  assert_int_equal(orf_ratelimit_create(&rl, -1.0, 5.0, 16), ORF_EINVAL);
  assert_int_equal(orf_ratelimit_create(&rl, 1.0 / 0.0, 5.0, 16), ORF_EINVAL);
  assert_int_equal(orf_ratelimit_create(&rl, 1.0, 5.0, 0), ORF_OK); /* one set at least */
  assert_true(orf_ratelimit_capacity(rl) >= 1);
  orf_ratelimit_free(rl);
  orf_ratelimit_free(NULL);
  /* a NULL limiter limits nothing */
  struct sockaddr_in a = v4(1);
  assert_int_equal(orf_ratelimit_take(NULL, SA(a), 0, NULL), 1);
}

typedef struct taker {
  orf_ratelimit *rl;
  int granted;
} taker;

static void *take_many(void *arg) {
  taker *t = arg;
  struct sockaddr_in a = v4(0x0a0a0a0a);
  for (int i = 0; i < 20000; i++)
    t->granted += orf_ratelimit_take(t->rl, SA(a), 50.0, NULL);
  return NULL;
}

/* Four threads, one client, one instant: exactly `burst` tokens granted. */
static void test_threads_exact(void **state) {
  (void)state;
  orf_ratelimit *rl;
  assert_int_equal(orf_ratelimit_create(&rl, 1.0, 1000.0, 64), ORF_OK);
  pthread_t th[4];
  taker tk[4];
  for (int i = 0; i < 4; i++) {
    tk[i] = (taker){rl, 0};
    assert_int_equal(pthread_create(&th[i], NULL, take_many, &tk[i]), 0);
  }
  int total = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    total += tk[i].granted;
  }
  assert_int_equal(total, 1000);
  orf_ratelimit_free(rl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_burst_then_refill), cmocka_unit_test(test_clients_apart),
      cmocka_unit_test(test_bounded_table),     cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_threads_exact),
  };
  return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
