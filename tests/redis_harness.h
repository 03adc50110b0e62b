/*
 * redis_harness.h - a real redis-server (Debian redis-server 7) as a test's
 * peer: started on 127.0.0.1 on a free port, in a temporary directory of
 * its own, with persistence as the test asks, and stopped (SIGTERM, or
 * SIGKILL for a crash) and reaped.  Nothing listens beyond loopback.
 */
#ifndef ORF_REDIS_HARNESS_H
#define ORF_REDIS_HARNESS_H

#include <sys/types.h>

typedef struct tr_redis {
  pid_t pid; /* 0 when not running */
  int port;
  char dir[128]; /* its working directory (the AOF lives here) */
} tr_redis;

/* Starts redis-server (appendonly yes when aof, else no persistence at
 * all) on a free loopback port, or on r->port when it is already set (a
 * restart on the same port), and waits until it answers PING (at most
 * 10 s).  Returns 0, or -1 when redis-server is missing or does not come
 * up (the reason on stderr). */
int tr_redis_start(tr_redis *r, int aof);

/* Stops it: SIGTERM (a clean shutdown, which writes the AOF) or, with
 * crash, SIGKILL; reaps it.  The directory stays for a restart. */
void tr_redis_stop(tr_redis *r, int crash);

/* Removes its directory (after the last stop). */
void tr_redis_cleanup(tr_redis *r);

#endif
