/*
 * cluster.h - several `orfeas serve` nodes as one service through Redis
 * (issue 14; docs/CLUSTER.md is the user's description, keys and flows).
 * The server calls this layer only when --redis is set: srv->cluster is
 * NULL otherwise and every route behaves as a single node does.
 *
 * Files: cluster.c (start, stop, the shared connection, the node's
 * heartbeat thread, /health's object, metrics), nodes.c (the node
 * registry), queue.c (submit, the workers that take jobs from the shared
 * stream, takeover, dead letter), progress.c (per-job progress streams
 * followed from any node), results.c (result metadata, fetching files from
 * their holder, recompute), fetch.c (the internal HTTP client), redis.c
 * (the connection).  cluster_int.h is what they share.
 *
 * Errors a caller gets: ORF_OK; ORF_SRV_EQUEUEFULL (the cluster-wide
 * queue is full); ORF_CLUSTER_EDOWN (Redis cannot be reached: the sentence
 * is orf_cluster_error); ORF_ENOMEM; ORF_EINVAL.
 */
#ifndef ORF_CLUSTER_H
#define ORF_CLUSTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "jobs/jobs.h"
#include "metrics.h"
#include "orfeas.h"

#define ORF_CLUSTER_EDOWN (-1400) /* Redis unreachable (not an engine code: mapped to 503 by the routes) */

typedef struct orf_cluster orf_cluster;

typedef struct orf_cluster_config {
  const char *redis_url;     /* redis://... (required) */
  const char *node_id;       /* this node's name ("" : host name and port) */
  const char *advertise_url; /* how other nodes reach this one ("": http://host:port) */
  const char *token;         /* the internal routes' shared secret (required) */
  double lease_s;            /* a job without a heartbeat this long is taken over */
  int workers;               /* threads taking jobs from the shared queue */
  int queue_max;             /* cluster-wide bound on jobs waiting */
  size_t image_max_bytes;    /* largest input kept in Redis for a takeover or a recompute */
  const char *host;          /* where this node listens (for the defaults) */
  int port;
  orf_jobs *jobs; /* this node's job manager: runs what the workers take */
  orf_cache *cache;
} orf_cluster_config;

/* Connects (a Redis that is down is not an error: the node starts, says so
 * in /health and /ready, and reconnects), registers the node, creates the
 * consumer group and starts the heartbeat, worker and follower threads.
 * Returns ORF_OK with *out, or ORF_EINVAL with a sentence in err (a bad
 * URL, no token). */
int orf_cluster_start(orf_cluster **out, const orf_cluster_config *cfg, char *err, size_t err_size);

/* Stops taking jobs from the shared queue: each worker finishes the job
 * it runs (publishing and acknowledging it) and ends.  For a drain: call
 * before the local job manager is drained. */
void orf_cluster_drain(orf_cluster *c);

/* Stops the threads (a job being run finishes first: the local manager is
 * drained by the caller before), removes the node from the registry. */
void orf_cluster_stop(orf_cluster *c);

/* 1 when the last command to Redis succeeded (checked by a PING when the
 * last one is older than a second). */
int orf_cluster_up(orf_cluster *c);

/* The last Redis error as a sentence for a client ("" when none). */
const char *orf_cluster_error(orf_cluster *c, char *buf, size_t n);

const char *orf_cluster_node_id(const orf_cluster *c);

/* /health's and /api/v1/gpu/stats' "cluster" object: redis up, node id,
 * the nodes alive with their queued and running counts, the queue depth. */
json_t *orf_cluster_status_json(orf_cluster *c);

/* Prometheus lines of the cluster (orfeas_cluster_*), appended to out
 * (a malloc'd text of *len bytes, reallocated). */
void orf_cluster_metrics(orf_cluster *c, char **out, size_t *len);

/* ---- jobs (queue.c) ------------------------------------------------------ */

/* A job's input as the routes read it. */
typedef struct orf_cluster_input {
  orf_job_kind kind;
  const char *hash; /* 64 hex */
  const uint8_t *data;
  size_t size;
  const orf_params *params;        /* a generation's */
  orf_precision prec;
  const orf_repair_params *repair; /* a repair's */
  const char *hint;                /* a repair's, or NULL */
  size_t estimate, host_estimate;
  int recompute; /* 1: the complete result Redis knows could not be fetched (holder gone): compute it again */
} orf_cluster_input;

/* Puts the job of in->hash on the shared queue, or follows the job already
 * queued or running anywhere for that hash, or (unless in->recompute) the
 * job that completed it, whose events are replayed (*coalesced = 1).  job_id gets
 * the job's id (the /api/v1/jobs id, shared by every request that follows
 * it).  Returns ORF_OK, ORF_SRV_EQUEUEFULL, ORF_CLUSTER_EDOWN, ORF_ENOMEM. */
int orf_cluster_submit(orf_cluster *c, const orf_cluster_input *in, char job_id[33], int *coalesced);

/* The request hash of a job id (an /api/v1/jobs id): ORF_OK,
 * ORF_SRV_ENOTFOUND, ORF_CLUSTER_EDOWN. */
int orf_cluster_job_hash(orf_cluster *c, const char *job_id, char hash[65]);

/* A job's state as Redis has it, for GET /api/v1/jobs/<id>: an object
 * {"status","progress","stage","node","deliveries","error"?,"code"?} or
 * NULL (no such job, or Redis down: *down = 1). */
json_t *orf_cluster_job_state(orf_cluster *c, const char *hash, int *down);

/* ---- progress (progress.c) ------------------------------------------------ */

typedef struct orf_cluster_watch orf_cluster_watch;

/* Follows the progress stream of hash from after entry `after` ("0" or
 * NULL: from its start).  NULL when out of memory. */
orf_cluster_watch *orf_cluster_watch_open(orf_cluster *c, const char *hash, const char *after);
void orf_cluster_watch_release(orf_cluster_watch *w);

/* Event i (the job's event JSON text) and its stream entry id, valid while
 * the watch is held; NULL when not yet there. */
const char *orf_cluster_watch_event(orf_cluster_watch *w, size_t i, const char **entry_id);

/* 1 once the last event (complete or error) has arrived. */
int orf_cluster_watch_done(orf_cluster_watch *w, size_t *events);

/* As orf_job_wait / orf_job_unwait (jobs.h): a one-shot wake-up when the
 * watch has more than `have` events or is done; 1 (armed nothing) when it
 * already has. */
int orf_cluster_watch_wait(orf_cluster_watch *w, size_t have, orf_job_wake_fn fn, void *ctx);
void orf_cluster_watch_unwait(orf_cluster_watch *w, void *ctx);

/* ---- results (results.c) --------------------------------------------------- */

/* Makes a complete result of hash that another node holds local: its files
 * fetched from the holder over the internal route, each checked against
 * the SHA-256 in Redis, stored in this node's cache.  ORF_OK (stored, or
 * nothing to do because Redis knows no complete result), ORF_SRV_ENOTFOUND
 * (the holder is gone or gave a file that does not match: the result must
 * be computed again), ORF_CLUSTER_EDOWN. */
int orf_cluster_fetch_result(orf_cluster *c, const char *hash);

/* The holder of hash is gone and a client asked for one of its files:
 * the job is queued again from the input Redis kept (image:<hash> and the
 * job's parameters).  ORF_OK (queued or already running), ORF_SRV_ENOTFOUND
 * (nothing kept), ORF_SRV_EQUEUEFULL, ORF_CLUSTER_EDOWN. */
int orf_cluster_recompute(orf_cluster *c, const char *hash);

/* Whether token is the cluster token (constant time). */
int orf_cluster_token_ok(const orf_cluster *c, const char *token);

#endif
