/*
 * queue.c - the shared job queue (docs/CLUSTER.md "Submit", "Work",
 * "Takeover"): submit, the worker threads that take jobs from the stream
 * `jobs` through the consumer group `workers` and run them on this node's
 * job manager, the lease heartbeat, takeover of lapsed jobs (XAUTOCLAIM),
 * and the dead letter stream.
 *
 * Every write that depends on who holds a job is one Lua script (atomic in
 * Redis): submit (single flight by SET NX of inflight:<hash>, the
 * cluster-wide queue bound, the job's state, input and image, XADD),
 * heartbeat, publish and finish (each first checks, with XPENDING, that
 * this node is still the entry's consumer: a node that lost its job - it
 * stopped past its lease and another took the job over - writes nothing,
 * so its late finish changes nothing a client sees).  A taken-over job is
 * run again from the start; the events its first run already published are
 * not published twice (job:<hash> `published` counts them).
 *
 * Admission: a node has as many worker threads as --workers, and a worker
 * reads from the stream only while it is free, so a node never takes more
 * than it can run; the job it takes then goes through this node's own job
 * manager, whose memory admission (jobs.h) is unchanged.  While it waits
 * there, its lease is renewed like a running job's.
 *
 * Test hook: ORFEAS_TEST_CLUSTER_ABANDON_BYTES=N makes a worker abandon a
 * job whose input is N bytes long as if its thread had died (no heartbeat,
 * no acknowledgement), for the dead letter test; it is read only from the
 * environment and documented in docs/CLUSTER.md as a test hook.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "cluster_int.h"
#include "log.h"
#include "util.h"

/* The input of a job as the stream's workers read it: the parameters as
 * this build lays them out (every node of a cluster runs the same build;
 * an input of another layout is refused with a sentence). */
typedef struct wire_input {
  char magic[8];
  uint32_t params_size, repair_size;
  int32_t kind, prec;
  uint64_t estimate, host_estimate;
  char hint[16];
  orf_params params;
  orf_repair_params repair;
} wire_input;

static const char kMagic[8] = "ORFCL01";

static const char kSubmit[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur and redis.call('EXISTS', KEYS[4]) == 1 then return {'follow', cur} end\n"
    "if ARGV[9] ~= '1' and redis.call('HGET', KEYS[4], 'state') == 'complete' then\n"
    "  return {'follow', redis.call('HGET', KEYS[4], 'job_id') or ARGV[1]}\n"
    "end\n"
    "local n = redis.call('XLEN', KEYS[2])\n"
    "local ok, p = pcall(redis.call, 'XPENDING', KEYS[2], 'workers')\n"
    "local pend = 0\n"
    "if ok and type(p) == 'table' then pend = p[1] end\n"
    "if n - pend >= tonumber(ARGV[2]) then return {'full', tostring(n - pend)} end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])\n"
    "redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[3])\n"
    "redis.call('DEL', KEYS[4], KEYS[5])\n"
    "redis.call('HSET', KEYS[4], 'state', 'queued', 'job_id', ARGV[1], 'submitted_by', ARGV[6],\n"
    "  'deliveries', '0', 'published', '0', 'progress', '0', 'input', ARGV[5], 'kind', ARGV[8])\n"
    "redis.call('EXPIRE', KEYS[4], ARGV[3])\n"
    "redis.call('SET', KEYS[6], ARGV[7], 'EX', ARGV[3])\n"
    "redis.call('XADD', KEYS[2], '*', 'hash', ARGV[7], 'job', ARGV[1])\n"
    "return {'queued', ARGV[1]}\n";

/* KEYS: jobs, inflight; ARGV: entry, node, keep_s */
static const char kBeat[] =
    "local p = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)\n"
    "if #p == 0 or p[1][2] ~= ARGV[2] then return -1 end\n"
    "redis.call('XCLAIM', KEYS[1], 'workers', ARGV[2], 0, ARGV[1], 'JUSTID')\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[3])\n"
    "return 1\n";

/* KEYS: jobs, progress, job; ARGV: entry, node, index, event, maxlen, keep_s, progress, stage */
static const char kPublish[] =
    "local p = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)\n"
    "if #p == 0 or p[1][2] ~= ARGV[2] then return -1 end\n"
    "local pub = tonumber(redis.call('HGET', KEYS[3], 'published') or '0')\n"
    "if tonumber(ARGV[3]) < pub then return 0 end\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'event', ARGV[4])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[6])\n"
    "redis.call('HSET', KEYS[3], 'published', tonumber(ARGV[3]) + 1, 'progress', ARGV[7], 'stage', ARGV[8])\n"
    "return 1\n";

/* KEYS: jobs, progress, job, inflight, dead; ARGV: entry, node, final event, state, error, code,
 * keep_s, maxlen, http status, dead ('1': into the dead letter stream), deliveries */
static const char kFinish[] =
    "local p = redis.call('XPENDING', KEYS[1], 'workers', ARGV[1], ARGV[1], 1)\n"
    "if #p == 0 or p[1][2] ~= ARGV[2] then return -1 end\n"
    "redis.call('HSET', KEYS[3], 'state', ARGV[4], 'error', ARGV[5], 'code', ARGV[6], 'http_status', ARGV[9],\n"
    "  'finished_by', ARGV[2])\n"
    "if ARGV[4] == 'complete' then redis.call('HSET', KEYS[3], 'progress', '100') end\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[8], '*', 'event', ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[7])\n"
    "if ARGV[10] == '1' then\n"
    "  local h = redis.call('HGET', KEYS[3], 'hash')\n"
    "  redis.call('XADD', KEYS[5], 'MAXLEN', '~', 10000, '*', 'entry', ARGV[1], 'job', redis.call('HGET', KEYS[3], "
    "'job_id') or '', 'node', ARGV[2], 'deliveries', ARGV[11], 'error', ARGV[5])\n"
    "end\n"
    "redis.call('XACK', KEYS[1], 'workers', ARGV[1])\n"
    "redis.call('XDEL', KEYS[1], ARGV[1])\n"
    "if redis.call('GET', KEYS[4]) == redis.call('HGET', KEYS[3], 'job_id') then redis.call('DEL', KEYS[4]) end\n"
    "return 1\n";

/* The keys of one hash. */
typedef struct keys {
  char inflight[100], image[100], job[100], progress[100];
} keys;

static void keys_of(keys *k, const char *hash) {
  snprintf(k->inflight, sizeof k->inflight, CL_PREFIX "inflight:%s", hash);
  snprintf(k->image, sizeof k->image, CL_PREFIX "image:%s", hash);
  snprintf(k->job, sizeof k->job, CL_PREFIX "job:%s", hash);
  snprintf(k->progress, sizeof k->progress, CL_PREFIX "progress:%s", hash);
}

/* EVAL of script with nkeys keys then the arguments (NUL-terminated
 * strings, or with explicit lengths where lens[i] is not 0), on r (NULL:
 * the shared connection). */
static redisReply *eval(orf_cluster *c, orf_redis *r, const char *script, int nkeys, int nargs,
                        const char **args, const size_t *lens) {
  const char *argv[24];
  size_t len[24];
  char nk[8];
  snprintf(nk, sizeof nk, "%d", nkeys);
  argv[0] = "EVAL", argv[1] = script, argv[2] = nk;
  int n = 3;
  for (int i = 0; i < nargs && n < 24; i++, n++) {
    argv[n] = args[i];
    len[n] = lens && lens[i] ? lens[i] : strlen(args[i]);
  }
  for (int i = 0; i < 3; i++)
    len[i] = strlen(argv[i]);
  if (!r) return cl_cmd_argv(c, n, argv, len);
  redisReply *rep = orf_redis_command_argv(r, 0, n, argv, len);
  cl_note(c, r, rep);
  return rep;
}

/* A new job id: 32 hex digits from getrandom(2). */
static int new_job_id(char id[33]) {
  uint8_t raw[16];
  if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return -1;
  for (int i = 0; i < 16; i++)
    snprintf(id + 2 * i, 3, "%02x", raw[i]);
  return 0;
}

/* Submits with an explicit wire input (a request's, or the one Redis kept
 * for a recompute). */
static int submit_wire(orf_cluster *c, const char *hash, const wire_input *w, const uint8_t *data, size_t size,
                       int recompute, char job_id[33], int *coalesced) {
  if (coalesced) *coalesced = 0;
  char id[33];
  if (new_job_id(id)) return ORF_EIO;
  keys k;
  keys_of(&k, hash);
  char jobid_key[100], qmax[24], keep[24], kind[8];
  snprintf(jobid_key, sizeof jobid_key, CL_PREFIX "jobid:%s", id);
  snprintf(qmax, sizeof qmax, "%d", c->cfg.queue_max + (c->cfg.workers > 0 ? c->cfg.workers : 1));
  snprintf(keep, sizeof keep, "%d", CL_KEEP_S);
  snprintf(kind, sizeof kind, "%d", (int)w->kind);
  const char *args[] = {k.inflight, CL_JOBS, k.image,           k.job,           k.progress, jobid_key, id, qmax,
                        keep,       (const char *)data, (const char *)w, c->node_id, hash,       kind,
                        recompute ? "1" : "0"};
  size_t lens[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, size ? size : 0, sizeof *w, 0, 0, 0, 0};
  static const char empty[] = "";
  if (!size) args[9] = empty; /* an empty input is a zero-length string */
  redisReply *rep = eval(c, NULL, kSubmit, 6, 15, args, lens);
  if (!rep) return ORF_CLUSTER_EDOWN;
  int rc = ORF_EINTERNAL;
  if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 && rep->element[0]->str && rep->element[1]->str) {
    const char *what = rep->element[0]->str;
    if (!strcmp(what, "full")) {
      rc = ORF_SRV_EQUEUEFULL;
    } else {
      snprintf(job_id, 33, "%s", rep->element[1]->str);
      if (coalesced) *coalesced = !strcmp(what, "follow");
      rc = ORF_OK;
    }
  } else if (rep->type == REDIS_REPLY_ERROR) {
    orf_log_json("error", "cluster_submit_failed", json_pack("{s:s}", "error", rep->str ? rep->str : ""));
  }
  freeReplyObject(rep);
  return rc;
}

int orf_cluster_submit(orf_cluster *c, const orf_cluster_input *in, char job_id[33], int *coalesced) {
  if (!orf_is_hex(in->hash, 64)) return ORF_EINVAL;
  if (in->size > c->cfg.image_max_bytes) return ORF_SRV_ETOOBIG;
  wire_input w;
  memset(&w, 0, sizeof w);
  memcpy(w.magic, kMagic, sizeof w.magic);
  w.params_size = sizeof w.params;
  w.repair_size = sizeof w.repair;
  w.kind = (int32_t)in->kind;
  w.prec = (int32_t)in->prec;
  w.estimate = in->estimate;
  w.host_estimate = in->host_estimate;
  if (in->hint) snprintf(w.hint, sizeof w.hint, "%s", in->hint);
  if (in->params) w.params = *in->params;
  if (in->repair) w.repair = *in->repair;
  return submit_wire(c, in->hash, &w, in->data, in->size, in->recompute, job_id, coalesced);
}

int orf_cluster_recompute(orf_cluster *c, const char *hash) {
  keys k;
  keys_of(&k, hash);
  redisReply *in = cl_cmd(c, "HGET %s input", k.job);
  if (!in) return ORF_CLUSTER_EDOWN;
  redisReply *img = cl_cmd(c, "GET %s", k.image);
  int rc = ORF_SRV_ENOTFOUND;
  if (img && in->type == REDIS_REPLY_STRING && in->len == sizeof(wire_input) && img->type == REDIS_REPLY_STRING &&
      !memcmp(in->str, kMagic, sizeof kMagic)) {
    wire_input w;
    memcpy(&w, in->str, sizeof w);
    char id[33];
    rc = submit_wire(c, hash, &w, (const uint8_t *)img->str, img->len, 1, id, NULL);
    if (rc == ORF_OK) atomic_fetch_add(&c->recomputed, 1);
  } else if (!img) {
    rc = ORF_CLUSTER_EDOWN;
  }
  freeReplyObject(in);
  if (img) freeReplyObject(img);
  return rc;
}

int orf_cluster_job_hash(orf_cluster *c, const char *job_id, char hash[65]) {
  if (!orf_is_hex(job_id, 32)) return ORF_SRV_ENOTFOUND;
  redisReply *rep = cl_cmd(c, "GET " CL_PREFIX "jobid:%s", job_id);
  if (!rep) return ORF_CLUSTER_EDOWN;
  int ok = rep->type == REDIS_REPLY_STRING && rep->len == 64;
  if (ok) memcpy(hash, rep->str, 65);
  freeReplyObject(rep);
  return ok ? ORF_OK : ORF_SRV_ENOTFOUND;
}

json_t *orf_cluster_job_state(orf_cluster *c, const char *hash, int *down) {
  *down = 0;
  redisReply *h = cl_cmd(c, "HGETALL " CL_PREFIX "job:%s", hash);
  if (!h) {
    *down = 1;
    return NULL;
  }
  json_t *j = NULL;
  const char *state = cl_hash_field(h, "state");
  if (state) {
    const char *stage = cl_hash_field(h, "stage"), *node = cl_hash_field(h, "node"), *kind = cl_hash_field(h, "kind");
    const char *err = cl_hash_field(h, "error"), *code = cl_hash_field(h, "code"), *status = cl_hash_field(h, "http_status");
    j = json_pack("{s:s, s:i, s:s?, s:i, s:i, s:i}", "status", state, "progress",
                  atoi(cl_hash_field(h, "progress") ? cl_hash_field(h, "progress") : "0"), "node", node, "deliveries",
                  atoi(cl_hash_field(h, "deliveries") ? cl_hash_field(h, "deliveries") : "0"), "kind",
                  kind ? atoi(kind) : 0, "http_status", status ? atoi(status) : 0);
    if (stage) json_object_set_new(j, "stage_index", json_integer(atoi(stage)));
    if (err && *err) json_object_set_new(j, "error", json_string(err));
    if (code && *code) json_object_set_new(j, "code", json_string(code));
  }
  freeReplyObject(h);
  return j;
}

long cl_queue_depth(orf_cluster *c) {
  static const char script[] = "local n = redis.call('XLEN', KEYS[1])\n"
                               "local ok, p = pcall(redis.call, 'XPENDING', KEYS[1], 'workers')\n"
                               "if ok and type(p) == 'table' then return n - p[1] end\n"
                               "return n\n";
  const char *args[] = {CL_JOBS};
  redisReply *rep = eval(c, NULL, script, 1, 1, args, NULL);
  long n = rep && rep->type == REDIS_REPLY_INTEGER ? (long)rep->integer : -1;
  if (rep) freeReplyObject(rep);
  return n;
}

/* ---- a worker ------------------------------------------------------------------ */

typedef struct waker {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fired;
} waker;

static void wake(void *ctx) {
  waker *k = ctx;
  pthread_mutex_lock(&k->mu);
  k->fired = 1;
  pthread_cond_signal(&k->cv);
  pthread_mutex_unlock(&k->mu);
}

/* One job taken from the stream: entry id, hash, delivery count. */
typedef struct taken {
  char entry[64], hash[65];
  long deliveries;
} taken;

typedef struct worker {
  orf_cluster *c;
  orf_redis *r;
  int index;
} worker;

/* The finish script for t: final event text, state, error sentence and
 * code, HTTP status, dead letter flag.  1 done, -1 no longer ours, 0 Redis
 * failed. */
static int finish(worker *w, const taken *t, const char *event, const char *state, const char *error,
                  const char *code, int status, int dead) {
  keys k;
  keys_of(&k, t->hash);
  char keep[24], maxlen[24], st[24], deliveries[24];
  snprintf(keep, sizeof keep, "%d", CL_KEEP_S);
  snprintf(maxlen, sizeof maxlen, "%d", CL_PROGRESS_MAXLEN);
  snprintf(st, sizeof st, "%d", status);
  snprintf(deliveries, sizeof deliveries, "%ld", t->deliveries);
  const char *args[] = {CL_JOBS,  k.progress, k.job, k.inflight, CL_DEAD, t->entry,
                        w->c->node_id, event, state, error, code, keep, maxlen, st, dead ? "1" : "0",
                        deliveries};
  redisReply *rep = eval(w->c, w->r, kFinish, 5, 16, args, NULL);
  int rc = !rep ? 0 : rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 ? 1 : -1;
  if (rep && rep->type == REDIS_REPLY_ERROR)
    orf_log_json("warn", "cluster_finish_refused", json_pack("{s:s, s:s}", "hash", t->hash, "error", rep->str));
  if (rep) freeReplyObject(rep);
  return rc;
}

/* Ends t with an error the cluster gives (not the engine's), answered
 * with HTTP status `status` to the clients waiting for it. */
static void fail_job(worker *w, const taken *t, int status, const char *sentence, const char *code, int dead) {
  json_t *ev = json_pack("{s:s, s:s, s:s}", "status", "error", "error", sentence, "code", code);
  char *text = json_dumps(ev, JSON_COMPACT);
  json_decref(ev);
  if (text) finish(w, t, text, "failed", sentence, code, status, dead);
  free(text);
}

/* Moves t, delivered more than CL_MAX_DELIVERIES times, to the dead
 * letter stream and fails it for its followers. */
static void dead_letter(worker *w, const taken *t) {
  char sentence[200];
  snprintf(sentence, sizeof sentence,
           "the job was abandoned by the worker that ran it %ld times (a crash or a hang each time); it was "
           "moved to the dead letter stream and will not be retried",
           t->deliveries - 1);
  fail_job(w, t, 500, sentence, "job_dead_lettered", 1);
  atomic_fetch_add(&w->c->dead_lettered, 1);
  orf_log_json("error", "cluster_dead_letter",
               json_pack("{s:s, s:s, s:I}", "hash", t->hash, "entry", t->entry, "deliveries", (json_int_t)t->deliveries));
}

/* Heartbeat of t: its lease renewed (1), lost to another node (-1), or
 * Redis did not answer (0: tried again at the next beat). */
static int beat(worker *w, const taken *t) {
  keys k;
  keys_of(&k, t->hash);
  char keep[16];
  snprintf(keep, sizeof keep, "%d", CL_KEEP_S);
  const char *args[] = {CL_JOBS, k.inflight, t->entry, w->c->node_id, keep};
  redisReply *rep = eval(w->c, w->r, kBeat, 2, 5, args, NULL);
  int rc = !rep ? 0 : rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 ? 1 : -1;
  if (rep) freeReplyObject(rep);
  return rc;
}

/* Publishes stage event i of t: 1, 0 (already published by an earlier
 * run), -1 (lost), or -2 (Redis did not answer). */
static int publish(worker *w, const taken *t, size_t i, const char *event, int progress, int stage) {
  keys k;
  keys_of(&k, t->hash);
  char idx[24], keep[24], maxlen[24], prog[24], st[24];
  snprintf(idx, sizeof idx, "%zu", i);
  snprintf(keep, sizeof keep, "%d", CL_KEEP_S);
  snprintf(maxlen, sizeof maxlen, "%d", CL_PROGRESS_MAXLEN);
  snprintf(prog, sizeof prog, "%d", progress);
  snprintf(st, sizeof st, "%d", stage);
  const char *args[] = {CL_JOBS, k.progress, k.job, t->entry, w->c->node_id, idx, event, maxlen, keep, prog, st};
  redisReply *rep = eval(w->c, w->r, kPublish, 3, 11, args, NULL);
  int rc = !rep ? -2 : rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -1;
  if (rep) freeReplyObject(rep);
  return rc;
}

/* Reads the job's input: the wire parameters and the image.  0, or -1
 * (gone: expired, or Redis lost it), -2 (Redis down). */
static int read_input(worker *w, const taken *t, wire_input *in, uint8_t **data, size_t *size) {
  keys k;
  keys_of(&k, t->hash);
  redisReply *p = orf_redis_command(w->r, 0, "HGET %s input", k.job);
  redisReply *img = p ? orf_redis_command(w->r, 0, "GET %s", k.image) : NULL;
  cl_note(w->c, w->r, img);
  int rc = !img ? -2 : -1;
  if (img && p->type == REDIS_REPLY_STRING && p->len == sizeof *in && img->type == REDIS_REPLY_STRING &&
      !memcmp(p->str, kMagic, sizeof kMagic)) {
    memcpy(in, p->str, sizeof *in);
    *data = malloc(img->len ? img->len : 1);
    if (*data) {
      memcpy(*data, img->str, img->len);
      *size = img->len;
      rc = in->params_size == sizeof in->params && in->repair_size == sizeof in->repair ? 0 : -3;
    }
  }
  if (p) freeReplyObject(p);
  if (img) freeReplyObject(img);
  return rc;
}

/* Waits (k's cv) until the local job has news or the next heartbeat is due. */
static void wait_news(worker *w, orf_job *j, size_t have, waker *k, double until) {
  pthread_mutex_lock(&k->mu);
  k->fired = 0;
  pthread_mutex_unlock(&k->mu);
  if (orf_job_wait(j, have, wake, k)) return;
  pthread_mutex_lock(&k->mu);
  struct timespec ts = orf_mono_after(until - orf_now_mono() > 0 ? until - orf_now_mono() : 0);
  while (!k->fired && orf_now_mono() < until && !atomic_load(&w->c->stopping))
    pthread_cond_timedwait(&k->cv, &k->mu, &ts);
  pthread_mutex_unlock(&k->mu);
  orf_job_unwait(j, k);
}

/* Runs t on this node's job manager, publishing its stages, renewing its
 * lease, and finishing it (results recorded first). */
static void run_taken(worker *w, const taken *t) {
  orf_cluster *c = w->c;
  if (t->deliveries > CL_MAX_DELIVERIES) {
    dead_letter(w, t);
    return;
  }
  wire_input in;
  uint8_t *data = NULL;
  size_t size = 0;
  int rc = read_input(w, t, &in, &data, &size);
  if (rc == -2) return; /* Redis went away: the entry stays pending and is taken again */
  if (rc) {
    free(data);
    fail_job(w, t, rc == -3 ? 500 : 503,
             rc == -3 ? "the job was submitted by a node of another build; every node of a cluster must run the "
                        "same build"
                      : "the job's input is no longer in the cluster's shared store (expired or lost); submit it "
                        "again",
             rc == -3 ? "cluster_version_mismatch" : "input_expired", 0);
    return;
  }
  keys k;
  keys_of(&k, t->hash);
  char dl[24];
  snprintf(dl, sizeof dl, "%ld", t->deliveries);
  redisReply *rep =
      orf_redis_command(w->r, 0, "HSET %s state running node %s deliveries %s hash %s", k.job, c->node_id, dl, t->hash);
  if (rep) freeReplyObject(rep);
  if (c->abandon_bytes > 0 && (long)size == c->abandon_bytes) {
    orf_log_json("warn", "cluster_test_abandon",
                 json_pack("{s:s, s:I}", "hash", t->hash, "deliveries", (json_int_t)t->deliveries));
    free(data);
    return; /* the test hook: as if this worker had died with the job */
  }
  orf_job *j = NULL;
  int coalesced;
  rc = in.kind == ORF_JOB_REPAIR
           ? orf_jobs_submit_repair(c->cfg.jobs, t->hash, data, size, in.hint[0] ? in.hint : NULL, &in.repair,
                                    in.estimate, in.host_estimate, 1, &j, &coalesced)
           : orf_jobs_submit(c->cfg.jobs, t->hash, data, size, &in.params, (orf_precision)in.prec, in.estimate,
                             in.host_estimate, 1, &j, &coalesced);
  free(data);
  if (rc) {
    fail_job(w, t, orf_errstatus(rc), orf_strerror(rc), orf_errname(rc), 0);
    return;
  }
  atomic_fetch_add(&c->jobs_run, 1);
  waker wk;
  pthread_mutex_init(&wk.mu, NULL);
  orf_cond_init_mono(&wk.cv);
  double beat_every = c->lease_ms / 3000.0, next_beat = orf_now_mono() + beat_every;
  size_t sent = 0;
  int lost = 0;
  orf_job_state st;
  for (;;) {
    orf_job_get_state(j, &st);
    int done = st.status >= ORF_JOB_COMPLETE;
    size_t stages = done ? st.events - 1 : st.events;
    while (!lost && sent < stages) {
      const char *ev = orf_job_event(j, sent);
      json_t *e = json_loads(ev, 0, NULL);
      int prog = (int)json_integer_value(json_object_get(e, "progress"));
      int s = -1;
      const char *name = json_string_value(json_object_get(e, "stage"));
      if (name) orf_job_stage_lookup(name, strlen(name), NULL, &s);
      json_decref(e);
      int p = publish(w, t, sent, ev, prog, s);
      if (p == -2) { /* Redis away: try again in a moment */
        usleep(200000);
        break;
      }
      if (p == -1) lost = 1;
      else sent++;
    }
    if (lost || (done && sent >= stages)) break;
    if (orf_now_mono() >= next_beat) {
      if (beat(w, t) < 0 && orf_redis_connected(w->r)) lost = 1;
      next_beat = orf_now_mono() + beat_every;
      continue;
    }
    wait_news(w, j, st.events, &wk, next_beat);
  }
  if (lost) {
    orf_log_json("warn", "cluster_job_lost",
                 json_pack("{s:s, s:s}", "hash", t->hash, "message",
                           "another node took this job over after its lease lapsed; this node's run is dropped"));
    if (st.status < ORF_JOB_COMPLETE) orf_jobs_cancel(c->cfg.jobs, orf_job_id(j));
  } else {
    const char *final = orf_job_event(j, st.events - 1);
    if (st.status == ORF_JOB_COMPLETE) {
      for (int tries = 0; tries < 20 && !atomic_load(&c->stopping); tries++) {
        if (cl_results_record(c, w->r, t->hash) == 0 && finish(w, t, final, "complete", "", "", 200, 0) != 0) break;
        usleep(250000);
      }
    } else {
      json_t *e = json_loads(final, 0, NULL);
      const char *msg = json_string_value(json_object_get(e, "error"));
      const char *code = json_string_value(json_object_get(e, "code"));
      int err = st.error ? st.error : ORF_ECANCELED;
      for (int tries = 0; tries < 20 && !atomic_load(&c->stopping); tries++)
        if (finish(w, t, final, "failed", msg ? msg : orf_strerror(err), code ? code : orf_errname(err),
                   orf_errstatus(err), 0) != 0)
          break;
        else
          usleep(250000);
      json_decref(e);
    }
  }
  orf_job_release(j);
  pthread_mutex_destroy(&wk.mu);
  pthread_cond_destroy(&wk.cv);
}

/* The first entry of an XREADGROUP or XAUTOCLAIM entry list into t (its
 * hash field); 0, or -1 when there is none or it is malformed (then it is
 * acknowledged and deleted, so it cannot block the queue). */
static int entry_of(worker *w, const redisReply *list, taken *t) {
  if (!list || list->type != REDIS_REPLY_ARRAY || list->elements < 1) return -1;
  const redisReply *e = list->element[0];
  if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 || !e->element[0]->str) return -1;
  snprintf(t->entry, sizeof t->entry, "%s", e->element[0]->str);
  const redisReply *f = e->element[1];
  t->hash[0] = 0;
  for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2)
    if (f->element[i]->str && !strcmp(f->element[i]->str, "hash") && f->element[i + 1]->str)
      snprintf(t->hash, sizeof t->hash, "%s", f->element[i + 1]->str);
  if (!orf_is_hex(t->hash, 64)) {
    redisReply *rep = orf_redis_command(w->r, 0, "XACK %s %s %s", CL_JOBS, CL_GROUP, t->entry);
    if (rep) freeReplyObject(rep);
    rep = orf_redis_command(w->r, 0, "XDEL %s %s", CL_JOBS, t->entry);
    if (rep) freeReplyObject(rep);
    return -1;
  }
  return 0;
}

/* Delivery count of t's entry (XPENDING), 1 when it cannot be read. */
static long deliveries_of(worker *w, const char *entry) {
  redisReply *rep = orf_redis_command(w->r, 0, "XPENDING %s %s %s %s 1", CL_JOBS, CL_GROUP, entry, entry);
  long n = 1;
  if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && rep->element[0]->elements == 4)
    n = (long)rep->element[0]->element[3]->integer;
  if (rep) freeReplyObject(rep);
  return n;
}

/* Takes over one entry whose lease lapsed (idle longer than the lease), if
 * any: 0 with t, else -1. */
static int take_over(worker *w, taken *t) {
  char idle[24];
  snprintf(idle, sizeof idle, "%d", w->c->lease_ms);
  redisReply *rep = orf_redis_command(w->r, 0, "XAUTOCLAIM %s %s %s %s 0-0 COUNT 1", CL_JOBS, CL_GROUP,
                                      w->c->node_id, idle);
  cl_note(w->c, w->r, rep);
  int rc = -1;
  if (cl_is_error(rep, "NOGROUP")) cl_ensure_group(w->c, w->r);
  else if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 && entry_of(w, rep->element[1], t) == 0) {
    t->deliveries = deliveries_of(w, t->entry);
    atomic_fetch_add(&w->c->taken_over, 1);
    orf_log_json("warn", "cluster_takeover",
                 json_pack("{s:s, s:s, s:I}", "hash", t->hash, "entry", t->entry, "deliveries", (json_int_t)t->deliveries));
    rc = 0;
  }
  if (rep) freeReplyObject(rep);
  return rc;
}

/* Reads one new entry (XREADGROUP with a finite block): 0 with t, -1 none,
 * -2 Redis down. */
static int read_new(worker *w, taken *t) {
  redisReply *rep = orf_redis_command(w->r, CL_BLOCK_MS, "XREADGROUP GROUP %s %s COUNT 1 BLOCK %d STREAMS %s >",
                                      CL_GROUP, w->c->node_id, CL_BLOCK_MS, CL_JOBS);
  cl_note(w->c, w->r, rep);
  if (!rep) return -2;
  int rc = -1;
  if (cl_is_error(rep, "NOGROUP")) {
    cl_ensure_group(w->c, w->r);
  } else if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 && rep->element[0]->elements == 2 &&
             entry_of(w, rep->element[0]->element[1], t) == 0) {
    t->deliveries = deliveries_of(w, t->entry);
    rc = 0;
  }
  freeReplyObject(rep);
  return rc;
}

void *cl_worker_main(void *arg) {
  orf_cluster *c = arg;
  worker w = {.c = c, .r = orf_redis_open(&c->url, CL_TIMEOUT_MS)};
  w.index = (int)(atomic_fetch_add(&c->worker_seq, 1) % 8);
  /* takeover checks are spread over the lease between the workers */
  double claim_every = c->lease_ms / 2000.0, next_claim = orf_now_mono() + claim_every * (1.0 + w.index * 0.37);
  while (w.r && !atomic_load(&c->stopping) && !atomic_load(&c->draining)) {
    taken t;
    int rc = -1;
    if (orf_now_mono() >= next_claim) {
      rc = take_over(&w, &t);
      next_claim = orf_now_mono() + claim_every;
    }
    if (rc) rc = read_new(&w, &t);
    if (rc == -2) {
      for (int i = 0; i < 10 && !atomic_load(&c->stopping); i++)
        usleep(50000); /* Redis away: a short pause, then connect again */
      continue;
    }
    if (rc == 0) run_taken(&w, &t);
  }
  orf_redis_close(w.r);
  return NULL;
}
