/*
 * cluster.c - the cluster layer's life (cluster.h): start and stop, the
 * connection request threads share (one, under a mutex: their commands are
 * short and bounded by CL_TIMEOUT_MS), the node's heartbeat thread (its
 * registry entry every lease/3, the consumer group checked), the "cluster"
 * object of /health and the orfeas_cluster_* metrics.
 *
 * Each long-lived thread (heartbeat, each worker, the follower) holds a
 * connection of its own (redis.h: not for two threads), so a worker's
 * blocking XREADGROUP never delays a request.
 */
#include "cluster_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

long long cl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *cl_hash_field(const redisReply *h, const char *name) {
  for (size_t i = 0; h && h->type == REDIS_REPLY_ARRAY && i + 1 < h->elements; i += 2)
    if (h->element[i]->str && !strcmp(h->element[i]->str, name)) return h->element[i + 1]->str;
  return NULL;
}

int cl_is_error(const redisReply *rep, const char *prefix) {
  return rep && rep->type == REDIS_REPLY_ERROR && rep->str && !strncmp(rep->str, prefix, strlen(prefix));
}

/* Records up/down after a command on c->r (mu held). */
static void note_locked(orf_cluster *c, const redisReply *rep) {
  atomic_store(&c->up, rep != NULL);
  if (!rep) snprintf(c->last_error, sizeof c->last_error, "%s", orf_redis_error(c->r));
  c->checked_at = orf_now_mono();
}

void cl_note(orf_cluster *c, orf_redis *r, const redisReply *rep) {
  if (rep && atomic_load(&c->up)) return;
  pthread_mutex_lock(&c->mu);
  atomic_store(&c->up, rep != NULL);
  if (!rep) snprintf(c->last_error, sizeof c->last_error, "%s", orf_redis_error(r));
  pthread_mutex_unlock(&c->mu);
}

/* A command on the shared connection that fails on a connection that was
 * up is sent once more on a new one: after a Redis restart the old socket
 * fails its first command before anything reached the new server (the
 * commands sent this way are reads, or scripts guarded by SET NX and owner
 * checks, so a repeat does no harm). */
redisReply *cl_cmd(orf_cluster *c, const char *fmt, ...) {
  pthread_mutex_lock(&c->mu);
  redisReply *rep = NULL;
  for (int attempt = 0; attempt < 2 && !rep; attempt++) {
    int was_connected = orf_redis_connected(c->r);
    va_list ap;
    va_start(ap, fmt);
    rep = orf_redis_vcommand(c->r, 0, fmt, ap);
    va_end(ap);
    if (!was_connected) break;
  }
  note_locked(c, rep);
  pthread_mutex_unlock(&c->mu);
  return rep;
}

redisReply *cl_cmd_argv(orf_cluster *c, int argc, const char **argv, const size_t *len) {
  pthread_mutex_lock(&c->mu);
  redisReply *rep = NULL;
  for (int attempt = 0; attempt < 2 && !rep; attempt++) {
    int was_connected = orf_redis_connected(c->r);
    rep = orf_redis_command_argv(c->r, 0, argc, argv, len);
    if (!was_connected) break;
  }
  note_locked(c, rep);
  pthread_mutex_unlock(&c->mu);
  return rep;
}

void cl_ensure_group(orf_cluster *c, orf_redis *r) {
  redisReply *rep = orf_redis_command(r, 0, "XGROUP CREATE %s %s 0 MKSTREAM", CL_JOBS, CL_GROUP);
  cl_note(c, r, rep);
  if (rep && rep->type == REDIS_REPLY_STATUS) /* it was missing: a first start, or a Redis that lost it */
    orf_log_json("info", "cluster_group_created", json_pack("{s:s}", "node", c->node_id));
  if (rep) freeReplyObject(rep);
}

/* Sleeps up to ms, in steps, returning early when the cluster stops. */
static void nap(orf_cluster *c, int ms) {
  for (int t = 0; t < ms && !atomic_load(&c->stopping); t += 50)
    usleep(50000);
}

/* The heartbeat thread: the node's registry entry every lease/3, and the
 * consumer group checked (a Redis restarted without persistence lost it;
 * the workers recreate it too, on NOGROUP). */
static void *beat_main(void *arg) {
  orf_cluster *c = arg;
  orf_redis *r = orf_redis_open(&c->url, CL_TIMEOUT_MS);
  while (r && !atomic_load(&c->stopping)) {
    cl_nodes_beat(c, r);
    if (orf_redis_connected(r)) cl_ensure_group(c, r);
    nap(c, c->lease_ms / 3 > 200 ? c->lease_ms / 3 : 200);
  }
  if (r) cl_nodes_leave(c, r);
  orf_redis_close(r);
  return NULL;
}

int orf_cluster_up(orf_cluster *c) {
  pthread_mutex_lock(&c->mu);
  if (orf_now_mono() - c->checked_at > 1.0) {
    redisReply *rep = NULL;
    for (int attempt = 0; attempt < 2 && !rep; attempt++) { /* a stale socket first, as in cl_cmd */
      int was_connected = orf_redis_connected(c->r);
      rep = orf_redis_command(c->r, 0, "PING");
      if (!was_connected) break;
    }
    note_locked(c, rep);
    if (rep) freeReplyObject(rep);
  }
  int up = atomic_load(&c->up);
  pthread_mutex_unlock(&c->mu);
  return up;
}

const char *orf_cluster_error(orf_cluster *c, char *buf, size_t n) {
  pthread_mutex_lock(&c->mu);
  snprintf(buf, n, "the cluster's shared store (Redis) cannot be reached: %s; retry in a few seconds",
           c->last_error[0] ? c->last_error : "no answer");
  pthread_mutex_unlock(&c->mu);
  return buf;
}

const char *orf_cluster_node_id(const orf_cluster *c) { return c->node_id; }

json_t *orf_cluster_status_json(orf_cluster *c) {
  int up = orf_cluster_up(c);
  json_t *j = json_pack("{s:b, s:s, s:s, s:f}", "redis_reachable", up, "node_id", c->node_id, "advertise_url",
                        c->advertise, "job_lease_s", c->lease_ms / 1000.0);
  json_t *nodes = up ? cl_nodes_list(c) : NULL;
  json_object_set_new(j, "nodes", nodes ? nodes : json_array());
  long depth = up ? cl_queue_depth(c) : -1;
  json_object_set_new(j, "queue_depth", depth >= 0 ? json_integer(depth) : json_null());
  json_object_set_new(j, "dead_lettered", json_integer((json_int_t)atomic_load(&c->dead_lettered)));
  if (!up) {
    char buf[700];
    json_object_set_new(j, "error", json_string(orf_cluster_error(c, buf, sizeof buf)));
  }
  return j;
}

/* Appends printf-formatted text to *out. */
static void append(char **out, size_t *len, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  char *grown = realloc(*out, *len + (size_t)n + 1);
  if (!grown) return;
  memcpy(grown + *len, line, (size_t)n + 1);
  *out = grown;
  *len += (size_t)n;
}

void orf_cluster_metrics(orf_cluster *c, char **out, size_t *len) {
  int up = orf_cluster_up(c);
  long depth = up ? cl_queue_depth(c) : -1;
  json_t *nodes = up ? cl_nodes_list(c) : NULL;
  const struct {
    const char *name, *help;
    long long v;
  } gauges[] = {{"redis_up", "1 while this node reaches the cluster's Redis.", up},
                {"nodes_alive", "Nodes of the cluster seen alive (registry entries not expired).",
                 (long long)json_array_size(nodes)},
                {"queue_depth", "Jobs waiting in the cluster's shared queue (-1: Redis unreachable).", depth}};
  json_decref(nodes);
  for (size_t i = 0; i < sizeof gauges / sizeof gauges[0]; i++)
    append(out, len, "# HELP orfeas_cluster_%s %s\n# TYPE orfeas_cluster_%s gauge\norfeas_cluster_%s %lld\n",
           gauges[i].name, gauges[i].help, gauges[i].name, gauges[i].name, gauges[i].v);
  const struct {
    const char *name, *help;
    atomic_ullong *v;
  } counters[] = {
      {"dead_lettered", "Jobs this node moved to the dead letter stream.", &c->dead_lettered},
      {"taken_over", "Jobs this node took over after their lease lapsed.", &c->taken_over},
      {"fetched", "Results this node fetched from the node holding them.", &c->fetched},
      {"fetch_failed", "Results this node could not fetch (holder gone or file not matching).", &c->fetch_failed},
      {"recomputed", "Jobs this node queued again because their holder was gone.", &c->recomputed},
      {"jobs_run", "Jobs from the shared queue this node ran.", &c->jobs_run}};
  for (size_t i = 0; i < sizeof counters / sizeof counters[0]; i++)
    append(out, len,
           "# HELP orfeas_cluster_%s_total %s\n# TYPE orfeas_cluster_%s_total counter\norfeas_cluster_%s_total "
           "%llu\n",
           counters[i].name, counters[i].help, counters[i].name, counters[i].name,
           (unsigned long long)atomic_load(counters[i].v));
}

/* A copy of s into dst (n bytes): -1 when it does not fit. */
static int copy_str(char *dst, size_t n, const char *s) {
  if (!s) s = "";
  if (strlen(s) >= n) return -1;
  memcpy(dst, s, strlen(s) + 1);
  return 0;
}

static int fail(char *err, size_t n, const char *msg) {
  if (err && n) snprintf(err, n, "%s", msg);
  return ORF_EINVAL;
}

void orf_cluster_drain(orf_cluster *c) {
  atomic_store(&c->draining, 1);
  for (int i = 0; i < c->n_workers; i++)
    pthread_join(c->workers[i], NULL);
  c->n_workers = 0;
}

/* Stops and joins what started (c->stopping set first). */
static void join_threads(orf_cluster *c) {
  atomic_store(&c->stopping, 1);
  pthread_mutex_lock(&c->wmu);
  pthread_cond_broadcast(&c->wcv);
  pthread_mutex_unlock(&c->wmu);
  for (int i = 0; i < c->n_workers; i++)
    pthread_join(c->workers[i], NULL);
  c->n_workers = 0;
  if (c->follower_started) pthread_join(c->follower, NULL);
  c->follower_started = 0;
  if (c->beat_started) pthread_join(c->beat, NULL);
  c->beat_started = 0;
}

int orf_cluster_start(orf_cluster **out, const orf_cluster_config *cfg, char *err, size_t err_size) {
  *out = NULL;
  orf_cluster *c = calloc(1, sizeof *c);
  if (!c) return fail(err, err_size, "out of memory");
  c->cfg = *cfg;
  if (orf_redis_parse_url(cfg->redis_url, &c->url, err, err_size)) {
    free(c);
    return ORF_EINVAL;
  }
  if (!cfg->token || strlen(cfg->token) < 16) {
    free(c);
    return fail(err, err_size,
                "--cluster-token (ORFEAS_CLUSTER_TOKEN) is required with --redis: the same secret of at least 16 "
                "characters on every node");
  }
  char host[256];
  if (gethostname(host, sizeof host)) snprintf(host, sizeof host, "node");
  host[sizeof host - 1] = 0;
  char def_id[300], def_url[400];
  snprintf(def_id, sizeof def_id, "%.200s:%d", host, cfg->port);
  snprintf(def_url, sizeof def_url, "http://%.256s:%d", cfg->host, cfg->port);
  if (copy_str(c->node_id, sizeof c->node_id, cfg->node_id && *cfg->node_id ? cfg->node_id : def_id) ||
      copy_str(c->advertise, sizeof c->advertise,
               cfg->advertise_url && *cfg->advertise_url ? cfg->advertise_url : def_url) ||
      copy_str(c->token, sizeof c->token, cfg->token) || copy_str(c->redis_url, sizeof c->redis_url, cfg->redis_url)) {
    free(c);
    return fail(err, err_size, "--node-id, --advertise-url or --cluster-token is too long");
  }
  if (strncmp(c->advertise, "http://", 7)) {
    free(c);
    return fail(err, err_size, "--advertise-url must be an http:// URL other nodes reach this one at");
  }
  for (const char *p = c->node_id; *p; p++)
    if (*p <= ' ' || *p == '"' || *p == '\\' || *p >= 0x7f) {
      free(c);
      return fail(err, err_size, "--node-id must be printable ASCII without spaces, quotes or backslashes");
    }
  c->lease_ms = (int)(cfg->lease_s * 1000);
  if (c->lease_ms < 500) c->lease_ms = 500;
  const char *hook = getenv("ORFEAS_TEST_CLUSTER_ABANDON_BYTES");
  c->abandon_bytes = hook && *hook ? atol(hook) : 0;
  pthread_mutex_init(&c->mu, NULL);
  pthread_mutex_init(&c->wmu, NULL);
  orf_cond_init_mono(&c->wcv);
  c->r = orf_redis_open(&c->url, CL_TIMEOUT_MS);
  c->workers = calloc((size_t)(cfg->workers > 0 ? cfg->workers : 1), sizeof *c->workers);
  if (!c->r || !c->workers) {
    orf_cluster_stop(c);
    return fail(err, err_size, "out of memory");
  }
  atomic_store(&c->up, orf_redis_connected(c->r));
  if (!atomic_load(&c->up))
    snprintf(c->last_error, sizeof c->last_error, "%s", orf_redis_error(c->r));
  c->checked_at = orf_now_mono();
  int ok = !pthread_create(&c->beat, NULL, beat_main, c);
  c->beat_started = ok;
  if (ok) ok = !pthread_create(&c->follower, NULL, cl_follower_main, c);
  c->follower_started = ok && c->beat_started;
  for (int i = 0; ok && i < (cfg->workers > 0 ? cfg->workers : 1); i++) {
    ok = !pthread_create(&c->workers[i], NULL, cl_worker_main, c);
    if (ok) c->n_workers++;
  }
  if (!ok) {
    orf_cluster_stop(c);
    return fail(err, err_size, "cannot start the cluster's threads");
  }
  *out = c;
  return ORF_OK;
}

void orf_cluster_stop(orf_cluster *c) {
  if (!c) return;
  join_threads(c);
  cl_watches_stop(c);
  orf_redis_close(c->r);
  pthread_mutex_destroy(&c->mu);
  pthread_mutex_destroy(&c->wmu);
  pthread_cond_destroy(&c->wcv);
  free(c->workers);
  free(c);
}

int orf_cluster_token_ok(const orf_cluster *c, const char *token) {
  if (!token) return 0;
  size_t a = strlen(c->token), b = strlen(token);
  unsigned char diff = (unsigned char)(a != b);
  for (size_t i = 0; i < a; i++)
    diff |= (unsigned char)(c->token[i] ^ (i < b ? token[i] : 0));
  return diff == 0;
}
