/*
 * ratelimit.c - per-client token buckets (ratelimit.h) in a fixed,
 * set-associative table: a client's key hashes to one set of WAYS slots,
 * as a CPU cache maps an address to one set of lines, so a lookup or an
 * insertion touches WAYS slots at most and memory never grows.  Within a
 * set the replacement is: an empty slot, else a slot whose bucket is full
 * again (an idle client, forgetting it is exact), else the least recently
 * seen client.  The hash is a 64-bit mix (the finaliser of MurmurHash3 /
 * splitmix64) keyed with a random seed taken at creation, so a client
 * cannot pick addresses that fall in one set of a table it cannot see.
 * No library does this small table; it is written here.
 *
 * Buckets are kept lazily (as in the GCRA / "virtual scheduling" form of
 * the token bucket): a slot stores the tokens at its last use and the time
 * of that use; the refill since then is computed on the next request.
 */
#include "ratelimit.h"

#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "orfeas.h"

#define WAYS 8

typedef struct slot {
  uint64_t k0, k1; /* the client; k0 == 0: empty */
  double tokens;   /* at `last` */
  double last;     /* monotonic seconds of the last request */
} slot;

struct orf_ratelimit {
  pthread_mutex_t mu;
  double rate, burst;
  uint64_t seed;
  size_t nsets; /* a power of two */
  size_t used;  /* slots holding a client */
  slot *slots;  /* nsets * WAYS */
};

static uint64_t mix64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

int orf_ratelimit_create(orf_ratelimit **out, double rate, double burst, size_t clients) {
  *out = NULL;
  if (!(rate > 0) || !isfinite(rate) || !(burst >= 1) || !isfinite(burst)) return ORF_EINVAL;
  size_t nsets = 1;
  while (nsets * WAYS < clients && nsets < ((size_t)1 << 24))
    nsets *= 2;
  orf_ratelimit *rl = orf_calloc(1, sizeof *rl);
  if (!rl) return ORF_ENOMEM;
  rl->slots = orf_calloc(nsets * WAYS, sizeof *rl->slots);
  if (!rl->slots) {
    orf_free(rl);
    return ORF_ENOMEM;
  }
  uint64_t seed = 0;
  if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
    struct timespec ts; /* no entropy yet (early boot): the clock will do */
    clock_gettime(CLOCK_REALTIME, &ts);
    seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
  }
  rl->seed = seed;
  rl->rate = rate;
  rl->burst = burst;
  rl->nsets = nsets;
  pthread_mutex_init(&rl->mu, NULL);
  *out = rl;
  return ORF_OK;
}

void orf_ratelimit_free(orf_ratelimit *rl) {
  if (!rl) return;
  pthread_mutex_destroy(&rl->mu);
  orf_free(rl->slots);
  orf_free(rl);
}

/* The key of a client address: (4, IPv4) or (6, the /64 prefix); 0 when
 * the address is of another family. */
static int client_key(const struct sockaddr *addr, uint64_t *k0, uint64_t *k1) {
  if (!addr) return 0;
  if (addr->sa_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
    *k0 = 4;
    *k1 = a->sin_addr.s_addr;
    return 1;
  }
  if (addr->sa_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      uint32_t v4;
      memcpy(&v4, a->sin6_addr.s6_addr + 12, 4);
      *k0 = 4;
      *k1 = v4;
      return 1;
    }
    *k0 = 6;
    memcpy(k1, a->sin6_addr.s6_addr, 8);
    return 1;
  }
  return 0;
}

/* The bucket's tokens at time now. */
static double tokens_at(const orf_ratelimit *rl, const slot *s, double now) {
  double t = s->tokens + (now > s->last ? now - s->last : 0) * rl->rate;
  return t < rl->burst ? t : rl->burst;
}

int orf_ratelimit_take(orf_ratelimit *rl, const struct sockaddr *addr, double now, double *retry_s) {
  uint64_t k0, k1;
  if (retry_s) *retry_s = 0;
  if (!rl || !client_key(addr, &k0, &k1)) return 1;
  size_t set = (size_t)(mix64(k1 ^ mix64(k0 ^ rl->seed)) & (rl->nsets - 1));
  pthread_mutex_lock(&rl->mu);
  slot *ways = rl->slots + set * WAYS, *s = NULL, *victim = NULL;
  for (int i = 0; i < WAYS && !s; i++)
    if (ways[i].k0 == k0 && ways[i].k1 == k1) s = &ways[i];
  if (!s) {
    for (int i = 0; i < WAYS && !victim; i++)
      if (ways[i].k0 == 0) victim = &ways[i];
    for (int i = 0; i < WAYS && !victim; i++)
      if (tokens_at(rl, &ways[i], now) >= rl->burst) victim = &ways[i]; /* idle: forgetting it is exact */
    if (!victim) { /* a flood: the least recently seen goes */
      victim = &ways[0];
      for (int i = 1; i < WAYS; i++)
        if (ways[i].last < victim->last) victim = &ways[i];
    }
    if (victim->k0 == 0) rl->used++;
    s = victim;
    s->k0 = k0;
    s->k1 = k1;
    s->tokens = rl->burst;
    s->last = now;
  }
  double t = tokens_at(rl, s, now);
  if (now > s->last) s->last = now;
  int ok = t >= 1.0;
  s->tokens = ok ? t - 1.0 : t;
  if (!ok && retry_s) *retry_s = (1.0 - t) / rl->rate;
  pthread_mutex_unlock(&rl->mu);
  return ok;
}

size_t orf_ratelimit_clients(orf_ratelimit *rl) {
  pthread_mutex_lock(&rl->mu);
  size_t n = rl->used;
  pthread_mutex_unlock(&rl->mu);
  return n;
}

size_t orf_ratelimit_capacity(orf_ratelimit *rl) { return rl->nsets * WAYS; }
