/*
 * redis.h - the cluster's one way to talk to Redis (issue 14): a
 * connection made from a redis:// URL through hiredis
 * (https://github.com/redis/hiredis, Debian libhiredis-dev), with bounded
 * connect and command timeouts and reconnection, so that a Redis that
 * restarts or goes away costs the callers an error they can report, never
 * a hang.
 *
 * The queue, leases, progress streams and result metadata of the cluster
 * are built on this (see docs/CLUSTER.md for the design); nothing else in
 * the server speaks to Redis.
 */
#ifndef ORF_REDIS_H
#define ORF_REDIS_H

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stddef.h>

/* What a redis:// URL names. */
typedef struct orf_redis_url {
  char host[256];
  int port;           /* 6379 when the URL has none */
  int db;             /* 0 when the URL has none */
  char user[128];     /* empty: none (AUTH with the password alone) */
  char password[256]; /* empty: no AUTH */
} orf_redis_url;

/* Parses redis://[[user]:password@]host[:port][/db] into *u.  Returns 0, or
 * -1 with a sentence in err (what is wrong with the URL) for anything else:
 * another scheme, an empty host, a port outside 1..65535, a db outside
 * 0..15, a part too long. */
int orf_redis_parse_url(const char *url, orf_redis_url *u, char *err, size_t err_size);

/* One connection.  Not safe for two threads at once: each thread that
 * talks to Redis holds its own. */
typedef struct orf_redis orf_redis;

/* A connection to u with `timeout_ms` for connecting and for each command
 * (a blocking command's own timeout is added to it by orf_redis_command).
 * Never NULL unless memory runs out; whether it is connected now is
 * orf_redis_connected(), and a command on a connection that is not tries
 * to connect first. */
orf_redis *orf_redis_open(const orf_redis_url *u, int timeout_ms);
void orf_redis_close(orf_redis *r);

/* 1 when the last connect or command left the connection usable. */
int orf_redis_connected(const orf_redis *r);

/* The last error as a sentence for a client or a log ("" when none). */
const char *orf_redis_error(const orf_redis *r);

/* Runs one command (hiredis's format: %s, %b with a length, %d...).
 * `block_ms` is how long the command itself may block on the server
 * (XREADGROUP ... BLOCK n, BLPOP): the socket timeout for this command is
 * timeout_ms plus that.  A connection whose last command failed on I/O, or
 * that never connected, connects again first.  A command that fails on I/O
 * is not retried, since it may have run: the caller repeats what is
 * idempotent.  A reply of type REDIS_REPLY_ERROR is a reply (its text is
 * Redis's), not an I/O error.  Returns the reply (free with
 * freeReplyObject) or NULL with orf_redis_error() set. */
redisReply *orf_redis_command(orf_redis *r, int block_ms, const char *fmt, ...);

/* orf_redis_command with a va_list. */
redisReply *orf_redis_vcommand(orf_redis *r, int block_ms, const char *fmt, va_list ap);

/* The same with the command as argc arguments of argvlen bytes each
 * (binary safe, any count: XREAD over many streams, EVALSHA with a
 * payload). */
redisReply *orf_redis_command_argv(orf_redis *r, int block_ms, int argc, const char **argv,
                                   const size_t *argvlen);

#endif
