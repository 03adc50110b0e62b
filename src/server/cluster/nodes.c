/*
 * nodes.c - the node registry: each node's hash node:<id> (its advertise
 * URL, queued and running counts, memory budget figures, when it was last
 * seen) written by its heartbeat thread every lease/3 with an expiry of
 * three leases, and the set `nodes` of every id ever seen (ids whose hash
 * has expired are dropped from it when the list is read).  A node that
 * stops cleanly removes itself; one that dies disappears after 3 leases.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"

/* node:<id> into key. */
static void node_key(char *key, size_t n, const char *id) { snprintf(key, n, CL_PREFIX "node:%s", id); }

void cl_nodes_beat(orf_cluster *c, orf_redis *r) {
  size_t queued = 0, running = 0;
  orf_jobs_counts(c->cfg.jobs, &queued, &running);
  double in_use = 0, budget = 0;
  orf_jobs_budget(c->cfg.jobs, &in_use, &budget);
  char key[200];
  node_key(key, sizeof key, c->node_id);
  char q[24], run[24], use[32], bud[32], seen[24];
  snprintf(q, sizeof q, "%zu", queued);
  snprintf(run, sizeof run, "%zu", running);
  snprintf(use, sizeof use, "%.0f", in_use);
  snprintf(bud, sizeof bud, "%.0f", budget);
  snprintf(seen, sizeof seen, "%lld", cl_now_ms());
  redisReply *rep = orf_redis_command(r, 0, "HSET %s url %s queued %s running %s budget_in_use %s budget %s seen %s",
                                      key, c->advertise, q, run, use, bud, seen);
  cl_note(c, r, rep);
  if (!rep) return;
  freeReplyObject(rep);
  rep = orf_redis_command(r, 0, "PEXPIRE %s %d", key, 3 * c->lease_ms);
  if (rep) freeReplyObject(rep);
  rep = orf_redis_command(r, 0, "SADD %s %s", CL_NODES, c->node_id);
  if (rep) freeReplyObject(rep);
}

void cl_nodes_leave(orf_cluster *c, orf_redis *r) {
  char key[200];
  node_key(key, sizeof key, c->node_id);
  redisReply *rep = orf_redis_command(r, 0, "DEL %s", key);
  if (rep) freeReplyObject(rep);
  rep = orf_redis_command(r, 0, "SREM %s %s", CL_NODES, c->node_id);
  if (rep) freeReplyObject(rep);
}

static json_int_t number(const redisReply *h, const char *name) {
  const char *v = cl_hash_field(h, name);
  return v ? (json_int_t)strtoll(v, NULL, 10) : 0;
}

json_t *cl_nodes_list(orf_cluster *c) {
  redisReply *ids = cl_cmd(c, "SMEMBERS %s", CL_NODES);
  if (!ids || ids->type != REDIS_REPLY_ARRAY) {
    if (ids) freeReplyObject(ids);
    return NULL;
  }
  json_t *list = json_array();
  long long now = cl_now_ms();
  for (size_t i = 0; i < ids->elements; i++) {
    const char *id = ids->element[i]->str;
    if (!id) continue;
    char key[200];
    node_key(key, sizeof key, id);
    redisReply *h = cl_cmd(c, "HGETALL %s", key);
    if (h && h->type == REDIS_REPLY_ARRAY && h->elements == 0) {
      redisReply *gone = cl_cmd(c, "SREM %s %s", CL_NODES, id); /* expired: dead for 3 leases */
      if (gone) freeReplyObject(gone);
    } else if (h && h->type == REDIS_REPLY_ARRAY) {
      const char *url = cl_hash_field(h, "url");
      json_array_append_new(
          list, json_pack("{s:s, s:s, s:I, s:I, s:f, s:b}", "id", id, "url", url ? url : "", "queued",
                          number(h, "queued"), "running", number(h, "running"), "last_seen_s",
                          (double)(now - number(h, "seen")) / 1000.0, "self", !strcmp(id, c->node_id)));
    }
    if (h) freeReplyObject(h);
  }
  freeReplyObject(ids);
  return list;
}

int cl_nodes_url(orf_cluster *c, const char *node, char *url, size_t n) {
  char key[200];
  node_key(key, sizeof key, node);
  redisReply *rep = cl_cmd(c, "HGET %s url", key);
  int ok = rep && rep->type == REDIS_REPLY_STRING && rep->len < n;
  if (ok) memcpy(url, rep->str, rep->len + 1);
  if (rep) freeReplyObject(rep);
  return ok ? 0 : -1;
}
