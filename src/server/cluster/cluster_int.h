/*
 * cluster_int.h - what the cluster layer's files share (private to
 * src/server/cluster): the state of orf_cluster, the key names, and the
 * internal functions each file offers the others.
 */
#ifndef ORF_CLUSTER_INT_H
#define ORF_CLUSTER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "cluster.h"
#include "redis.h"

#define CL_PREFIX "orfeas:"
#define CL_GROUP "workers"
#define CL_JOBS CL_PREFIX "jobs"
#define CL_DEAD CL_PREFIX "dead"
#define CL_NODES CL_PREFIX "nodes"
#define CL_MAX_DELIVERIES 3    /* a job delivered more than this goes to the dead letter stream */
#define CL_KEEP_S 3600         /* expiry of job:, image:, progress:, inflight: and jobid: keys */
#define CL_PROGRESS_MAXLEN 64  /* entries a progress stream keeps */
#define CL_TIMEOUT_MS 2000     /* connect and command timeout */
#define CL_BLOCK_MS 1000       /* XREADGROUP's block */

typedef struct cl_watch cl_watch;

struct orf_cluster {
  orf_cluster_config cfg;
  char node_id[128], advertise[512], token[256], redis_url[512];
  orf_redis_url url;
  int lease_ms;
  long abandon_bytes; /* test hook (ORFEAS_TEST_CLUSTER_ABANDON_BYTES): see queue.c */

  pthread_mutex_t mu; /* guards r, the connection of request threads */
  orf_redis *r;
  atomic_int up;
  char last_error[600]; /* guarded by mu */
  double checked_at;    /* when up was last confirmed (mu) */

  atomic_int stopping;
  atomic_int draining; /* workers take no new job (orf_cluster_drain) */
  atomic_uint worker_seq;
  pthread_t beat;
  int beat_started;
  pthread_t *workers;
  int n_workers;
  pthread_t follower;
  int follower_started;

  /* progress.c: the watches this node follows */
  pthread_mutex_t wmu;
  pthread_cond_t wcv;
  cl_watch *watches;

  /* counters (metrics) */
  atomic_ullong dead_lettered, taken_over, fetched, fetch_failed, recomputed, jobs_run;
};

/* Runs one command on the shared connection (request threads), noting
 * whether Redis answered.  NULL when it did not. */
redisReply *cl_cmd(orf_cluster *c, const char *fmt, ...);
redisReply *cl_cmd_argv(orf_cluster *c, int argc, const char **argv, const size_t *len);

/* Notes the outcome of a command on a thread's own connection r (NULL
 * reply: down, with r's error). */
void cl_note(orf_cluster *c, orf_redis *r, const redisReply *rep);

/* The value of field `name` in an HGETALL reply h, or NULL. */
const char *cl_hash_field(const redisReply *h, const char *name);

/* 1 when rep is an error reply whose text starts with prefix. */
int cl_is_error(const redisReply *rep, const char *prefix);

/* Creates the consumer group of the jobs stream (MKSTREAM; BUSYGROUP is
 * fine): after a start or a Redis restart that lost it. */
void cl_ensure_group(orf_cluster *c, orf_redis *r);

/* Wall-clock milliseconds (for "seen" figures other nodes read). */
long long cl_now_ms(void);

/* nodes.c: writes this node's entry (url, counts, seen), expiring after
 * 3 leases; removes it at stop. */
void cl_nodes_beat(orf_cluster *c, orf_redis *r);
void cl_nodes_leave(orf_cluster *c, orf_redis *r);
/* The nodes alive, as a JSON array; NULL when Redis is down. */
json_t *cl_nodes_list(orf_cluster *c);
/* The advertise URL of a live node, into url; -1 when it is gone. */
int cl_nodes_url(orf_cluster *c, const char *node, char *url, size_t n);

/* queue.c: a worker thread's loop (arg: the cluster). */
void *cl_worker_main(void *arg);
/* Jobs waiting (not yet taken by any node); -1 when Redis is down. */
long cl_queue_depth(orf_cluster *c);

/* progress.c: the follower thread's loop. */
void *cl_follower_main(void *arg);
void cl_watches_stop(orf_cluster *c);

/* results.c: records the result of hash held by this node (its files and
 * their SHA-256, first writer wins) before the final event is published.
 * 0, or -1 when a file is missing from the cache. */
int cl_results_record(orf_cluster *c, orf_redis *r, const char *hash);

/* fetch.c: GET url (http://host:port/path) with the cluster token into a
 * malloc'd *body of *len bytes.  Returns the HTTP status, or -1 when the
 * node cannot be reached (refused, timed out, garbled) within timeout_ms. */
int cl_http_get(const char *url, const char *token, int timeout_ms, uint8_t **body, size_t *len);

/* SHA-256 of data as 64 hex digits into out; 0 or -1. */
int cl_sha256_hex(const void *data, size_t n, char out[65]);

#endif
