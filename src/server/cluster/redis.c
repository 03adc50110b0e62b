/*
 * redis.c - the Redis connection of redis.h on hiredis's synchronous API.
 *
 * hiredis does the protocol (RESP) and the socket; what is ours is the URL,
 * the timeouts (a connect timeout, and a per-command socket timeout that
 * allows for the command's own blocking time, so a read never waits on a
 * Redis that is gone for longer than the caller chose) and reconnection
 * with AUTH and SELECT replayed, so a Redis restart heals by itself on the
 * next command.
 */
#include "cluster/redis.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct orf_redis {
  orf_redis_url url;
  int timeout_ms;
  redisContext *c; /* NULL or in error: reconnect before the next command */
  char error[600];
};

static int bad(char *err, size_t n, const char *msg, const char *url) {
  if (err && n) snprintf(err, n, msg, url);
  return -1;
}

/* Copies [s, e) into dst of n bytes; -1 when it does not fit. */
static int copy_part(char *dst, size_t n, const char *s, const char *e) {
  if ((size_t)(e - s) >= n) return -1;
  memcpy(dst, s, (size_t)(e - s));
  dst[e - s] = 0;
  return 0;
}

int orf_redis_parse_url(const char *url, orf_redis_url *u, char *err, size_t err_size) {
  memset(u, 0, sizeof *u);
  u->port = 6379;
  const char *p = url ? url : "";
  if (strncmp(p, "redis://", 8) != 0)
    return bad(err, err_size, "the Redis URL '%s' does not start with redis://", p);
  p += 8;
  const char *at = strchr(p, '@'), *slash = strchr(p, '/');
  if (at && (!slash || at < slash)) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    if (!colon)
      return bad(err, err_size, "the Redis URL '%s' has credentials without a ':' before the password", url);
    if (copy_part(u->user, sizeof u->user, p, colon) ||
        copy_part(u->password, sizeof u->password, colon + 1, at))
      return bad(err, err_size, "the Redis URL '%s' has a user name or password that is too long", url);
    p = at + 1;
  }
  const char *end = p + strcspn(p, "/");
  const char *colon = memchr(p, ':', (size_t)(end - p));
  const char *host_end = colon ? colon : end;
  if (host_end == p) return bad(err, err_size, "the Redis URL '%s' names no host", url);
  if (copy_part(u->host, sizeof u->host, p, host_end))
    return bad(err, err_size, "the Redis URL '%s' has a host name that is too long", url);
  if (colon) {
    char *stop;
    errno = 0;
    long port = strtol(colon + 1, &stop, 10);
    if (stop != end || colon + 1 == end || errno || port < 1 || port > 65535)
      return bad(err, err_size, "the Redis URL '%s' has a port that is not a number from 1 to 65535", url);
    u->port = (int)port;
  }
  if (*end == '/' && end[1]) {
    char *stop;
    errno = 0;
    long db = strtol(end + 1, &stop, 10);
    if (*stop || errno || db < 0 || db > 15)
      return bad(err, err_size, "the Redis URL '%s' has a database that is not a number from 0 to 15", url);
    u->db = (int)db;
  }
  return 0;
}

static struct timeval tv_of(int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  return tv;
}

static void set_error(orf_redis *r, const char *what, const char *detail) {
  snprintf(r->error, sizeof r->error, "Redis at %s:%d %s%s%s", r->url.host, r->url.port, what,
           detail && *detail ? ": " : "", detail ? detail : "");
}

static void drop(orf_redis *r) {
  if (r->c) redisFree(r->c);
  r->c = NULL;
}

/* One command on a connected context, no reconnection: for AUTH and SELECT
 * while connecting. */
static int setup_command(orf_redis *r, const char *what, redisReply *rep) {
  if (!rep) {
    set_error(r, "closed the connection while connecting", r->c->errstr);
    return -1;
  }
  int ok = rep->type != REDIS_REPLY_ERROR;
  if (!ok) set_error(r, what, rep->str);
  freeReplyObject(rep);
  return ok ? 0 : -1;
}

static int connect_now(orf_redis *r) {
  drop(r);
  r->c = redisConnectWithTimeout(r->url.host, r->url.port, tv_of(r->timeout_ms));
  if (!r->c) {
    set_error(r, "could not be reached", "out of memory");
    return -1;
  }
  if (r->c->err) {
    set_error(r, "could not be reached", r->c->errstr);
    drop(r);
    return -1;
  }
  redisSetTimeout(r->c, tv_of(r->timeout_ms));
  if (r->url.password[0]) {
    redisReply *rep = r->url.user[0] ? redisCommand(r->c, "AUTH %s %s", r->url.user, r->url.password)
                                     : redisCommand(r->c, "AUTH %s", r->url.password);
    if (setup_command(r, "refused the password", rep)) {
      drop(r);
      return -1;
    }
  }
  if (r->url.db &&
      setup_command(r, "refused the database number", redisCommand(r->c, "SELECT %d", r->url.db))) {
    drop(r);
    return -1;
  }
  r->error[0] = 0;
  return 0;
}

orf_redis *orf_redis_open(const orf_redis_url *u, int timeout_ms) {
  orf_redis *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->url = *u;
  r->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
  connect_now(r);
  return r;
}

void orf_redis_close(orf_redis *r) {
  if (!r) return;
  drop(r);
  free(r);
}

int orf_redis_connected(const orf_redis *r) { return r->c != NULL; }

const char *orf_redis_error(const orf_redis *r) { return r->error; }

/* Sends one command (run: a formatted or an argv one) with the socket
 * timeout allowing for block_ms, and reconnects first when needed. */
static redisReply *run_command(orf_redis *r, int block_ms, redisReply *(*run)(redisContext *, void *),
                               void *arg) {
  if (!r->c && connect_now(r)) return NULL;
  redisSetTimeout(r->c, tv_of(r->timeout_ms + (block_ms > 0 ? block_ms : 0)));
  redisReply *rep = run(r->c, arg);
  if (block_ms > 0 && rep) redisSetTimeout(r->c, tv_of(r->timeout_ms));
  if (!rep) {
    set_error(r, r->c->err == REDIS_ERR_EOF ? "closed the connection" : "did not answer", r->c->errstr);
    drop(r);
    return NULL;
  }
  r->error[0] = 0;
  return rep;
}

typedef struct fmt_args {
  const char *fmt;
  va_list ap;
} fmt_args;

static redisReply *run_fmt(redisContext *c, void *arg) {
  fmt_args *a = arg;
  return redisvCommand(c, a->fmt, a->ap);
}

redisReply *orf_redis_vcommand(orf_redis *r, int block_ms, const char *fmt, va_list ap) {
  fmt_args a;
  a.fmt = fmt;
  va_copy(a.ap, ap);
  redisReply *rep = run_command(r, block_ms, run_fmt, &a);
  va_end(a.ap);
  return rep;
}

redisReply *orf_redis_command(orf_redis *r, int block_ms, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  redisReply *rep = orf_redis_vcommand(r, block_ms, fmt, ap);
  va_end(ap);
  return rep;
}

typedef struct argv_args {
  int argc;
  const char **argv;
  const size_t *len;
} argv_args;

static redisReply *run_argv(redisContext *c, void *arg) {
  argv_args *a = arg;
  return redisCommandArgv(c, a->argc, a->argv, a->len);
}

redisReply *orf_redis_command_argv(orf_redis *r, int block_ms, int argc, const char **argv,
                                   const size_t *argvlen) {
  argv_args a = {argc, argv, argvlen};
  return run_command(r, block_ms, run_argv, &a);
}
