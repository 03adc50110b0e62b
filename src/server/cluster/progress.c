/*
 * progress.c - following a job's progress from any node (docs/CLUSTER.md
 * "Progress"): the worker running a job appends each stage event to the
 * Redis Stream progress:<hash> (queue.c); here, each stream a client of
 * this node follows is a watch, and one follower thread per node reads
 * every watched stream with one blocking XREAD (finite block) from the last
 * entry each watch has, appends what arrives to the watches and wakes
 * their waiters.  Streams, not Pub/Sub: an entry written while a reader was
 * away (a reconnect, a Redis restart with its append-only file) is still
 * there; the entry id is the SSE id, and a watch opened after a given id
 * (Last-Event-ID) resumes after it.
 *
 * A watch whose job vanished from Redis (its job:<hash> gone: a Redis
 * restarted without persistence, or expired) ends with a job_lost error
 * event after two leases without news, so a client never waits for ever.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_int.h"
#include "util.h"

#define XREAD_BLOCK_MS 250
#define MAX_STREAMS 256 /* streams one XREAD reads at most; the rest wait for the next round */

struct cl_watch {
  orf_cluster *c;
  int refs; /* c->wmu */
  char hash[65];
  char last_id[48]; /* the last entry it has ("0": none) */
  char **events, **ids;
  size_t n, cap;
  int done;
  double last_news;
  orf_job_wake_fn fn; /* the armed wake-up, or NULL */
  void *ctx;
  size_t have;
  cl_watch *next;
};

/* orf_cluster_watch is a cl_watch. */
struct orf_cluster_watch;

static cl_watch *W(orf_cluster_watch *w) { return (cl_watch *)w; }

/* Parses a stream id "ms-seq" (a bare "0" is 0-0). */
static void parse_id(const char *s, unsigned long long *ms, unsigned long long *seq) {
  char *end;
  *ms = strtoull(s, &end, 10);
  *seq = *end == '-' ? strtoull(end + 1, NULL, 10) : 0;
}

/* 1 when stream id a comes after b. */
static int id_after(const char *a, const char *b) {
  unsigned long long am, as, bm, bs;
  parse_id(a, &am, &as);
  parse_id(b, &bm, &bs);
  return am > bm || (am == bm && as > bs);
}

static int valid_id(const char *s) {
  if (!s || !*s || strlen(s) > 40) return 0;
  size_t dashes = 0;
  for (const char *p = s; *p; p++) {
    if (*p == '-') dashes++;
    else if (*p < '0' || *p > '9') return 0;
  }
  return dashes <= 1 && s[0] != '-' && s[strlen(s) - 1] != '-';
}

orf_cluster_watch *orf_cluster_watch_open(orf_cluster *c, const char *hash, const char *after) {
  cl_watch *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->c = c;
  w->refs = 1;
  snprintf(w->hash, sizeof w->hash, "%s", hash);
  snprintf(w->last_id, sizeof w->last_id, "%s", valid_id(after) ? after : "0");
  w->last_news = orf_now_mono();
  pthread_mutex_lock(&c->wmu);
  w->next = c->watches;
  c->watches = w;
  pthread_cond_broadcast(&c->wcv);
  pthread_mutex_unlock(&c->wmu);
  return (orf_cluster_watch *)w;
}

static void free_watch(cl_watch *w) {
  for (size_t i = 0; i < w->n; i++) {
    free(w->events[i]);
    free(w->ids[i]);
  }
  free(w->events);
  free(w->ids);
  free(w);
}

/* Drops a reference (c->wmu held); the last one unlinks and frees. */
static void unref_locked(cl_watch *w) {
  if (--w->refs > 0) return;
  for (cl_watch **p = &w->c->watches; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  free_watch(w);
}

void orf_cluster_watch_release(orf_cluster_watch *ow) {
  cl_watch *w = W(ow);
  if (!w) return;
  orf_cluster *c = w->c;
  pthread_mutex_lock(&c->wmu);
  w->fn = NULL;
  unref_locked(w);
  pthread_mutex_unlock(&c->wmu);
}

const char *orf_cluster_watch_event(orf_cluster_watch *ow, size_t i, const char **entry_id) {
  cl_watch *w = W(ow);
  pthread_mutex_lock(&w->c->wmu);
  const char *ev = i < w->n ? w->events[i] : NULL;
  if (entry_id) *entry_id = i < w->n ? w->ids[i] : NULL;
  pthread_mutex_unlock(&w->c->wmu);
  return ev;
}

int orf_cluster_watch_done(orf_cluster_watch *ow, size_t *events) {
  cl_watch *w = W(ow);
  pthread_mutex_lock(&w->c->wmu);
  int done = w->done;
  if (events) *events = w->n;
  pthread_mutex_unlock(&w->c->wmu);
  return done;
}

/* The wake-up is called with c->wmu held (it only resumes a connection). */
int orf_cluster_watch_wait(orf_cluster_watch *ow, size_t have, orf_job_wake_fn fn, void *ctx) {
  cl_watch *w = W(ow);
  pthread_mutex_lock(&w->c->wmu);
  int ready = w->n > have || w->done;
  if (!ready) {
    w->fn = fn;
    w->ctx = ctx;
    w->have = have;
  }
  pthread_mutex_unlock(&w->c->wmu);
  return ready;
}

void orf_cluster_watch_unwait(orf_cluster_watch *ow, void *ctx) {
  cl_watch *w = W(ow);
  pthread_mutex_lock(&w->c->wmu);
  if (w->ctx == ctx) w->fn = NULL;
  pthread_mutex_unlock(&w->c->wmu);
}

/* Fires w's wake-up if it is due (c->wmu held). */
static void fire_locked(cl_watch *w) {
  if (w->fn && (w->n > w->have || w->done)) {
    orf_job_wake_fn fn = w->fn;
    w->fn = NULL;
    fn(w->ctx);
  }
}

/* Appends an event with its entry id (c->wmu held); the last event of a
 * job (status complete or error) ends the watch. */
static void append_locked(cl_watch *w, const char *id, const char *event, size_t len) {
  if (w->done || !id_after(id, w->last_id)) return;
  if (w->n == w->cap) {
    size_t cap = w->cap ? 2 * w->cap : 8;
    char **e = realloc(w->events, cap * sizeof *e);
    if (!e) return;
    w->events = e;
    char **i = realloc(w->ids, cap * sizeof *i);
    if (!i) return;
    w->ids = i;
    w->cap = cap;
  }
  char *text = strndup(event, len), *eid = strdup(id);
  if (!text || !eid) {
    free(text);
    free(eid);
    return;
  }
  w->events[w->n] = text;
  w->ids[w->n++] = eid;
  snprintf(w->last_id, sizeof w->last_id, "%s", id);
  w->last_news = orf_now_mono();
  if (strstr(text, "\"status\":\"complete\"") || strstr(text, "\"status\":\"error\"")) w->done = 1;
  fire_locked(w);
}

/* Ends every watch of hash with the error event of a lost job. */
static void lose_locked(orf_cluster *c, const char *hash) {
  static const char ev[] = "{\"status\":\"error\",\"error\":\"the job was lost: the cluster's shared store no "
                           "longer knows it (Redis restarted without persistence, or the job expired); submit it "
                           "again\",\"code\":\"job_lost\"}";
  for (cl_watch *w = c->watches; w; w = w->next)
    if (!w->done && !strcmp(w->hash, hash)) {
      char id[48];
      unsigned long long ms, seq;
      parse_id(w->last_id, &ms, &seq);
      snprintf(id, sizeof id, "%llu-%llu", ms, seq + 1);
      append_locked(w, id, ev, sizeof ev - 1);
      w->done = 1;
      fire_locked(w);
    }
}

/* One round of the follower on r: XREAD of the watched streams, each from
 * the earliest last id of its watches.  -1 when Redis did not answer. */
static int follow_round(orf_cluster *c, orf_redis *r) {
  char keys[MAX_STREAMS][100], ids[MAX_STREAMS][48];
  int n = 0;
  pthread_mutex_lock(&c->wmu);
  for (cl_watch *w = c->watches; w && n < MAX_STREAMS; w = w->next) {
    if (w->done) continue;
    char key[100];
    snprintf(key, sizeof key, CL_PREFIX "progress:%s", w->hash);
    int k = 0;
    while (k < n && strcmp(keys[k], key))
      k++;
    if (k == n) {
      memcpy(keys[n], key, sizeof key);
      snprintf(ids[n++], sizeof ids[0], "%s", w->last_id);
    } else if (id_after(ids[k], w->last_id)) {
      snprintf(ids[k], sizeof ids[0], "%s", w->last_id);
    }
  }
  if (n == 0) {
    struct timespec ts = orf_mono_after(XREAD_BLOCK_MS / 1000.0);
    if (!atomic_load(&c->stopping)) pthread_cond_timedwait(&c->wcv, &c->wmu, &ts);
    pthread_mutex_unlock(&c->wmu);
    return 0;
  }
  pthread_mutex_unlock(&c->wmu);
  const char *argv[6 + 2 * MAX_STREAMS];
  size_t len[6 + 2 * MAX_STREAMS];
  char block[16];
  snprintf(block, sizeof block, "%d", XREAD_BLOCK_MS);
  int a = 0;
  argv[a++] = "XREAD", argv[a++] = "COUNT", argv[a++] = "64", argv[a++] = "BLOCK", argv[a++] = block,
  argv[a++] = "STREAMS";
  for (int i = 0; i < n; i++)
    argv[a++] = keys[i];
  for (int i = 0; i < n; i++)
    argv[a++] = ids[i];
  for (int i = 0; i < a; i++)
    len[i] = strlen(argv[i]);
  redisReply *rep = orf_redis_command_argv(r, XREAD_BLOCK_MS, a, argv, len);
  cl_note(c, r, rep);
  if (!rep) return -1;
  pthread_mutex_lock(&c->wmu);
  for (size_t s = 0; rep->type == REDIS_REPLY_ARRAY && s < rep->elements; s++) {
    const redisReply *st = rep->element[s];
    if (st->type != REDIS_REPLY_ARRAY || st->elements != 2 || !st->element[0]->str) continue;
    const char *hash = st->element[0]->str + strlen(CL_PREFIX "progress:");
    const redisReply *entries = st->element[1];
    for (size_t e = 0; entries->type == REDIS_REPLY_ARRAY && e < entries->elements; e++) {
      const redisReply *en = entries->element[e];
      if (en->type != REDIS_REPLY_ARRAY || en->elements != 2 || !en->element[0]->str) continue;
      const redisReply *f = en->element[1];
      for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
        if (!f->element[i]->str || strcmp(f->element[i]->str, "event") || !f->element[i + 1]->str) continue;
        for (cl_watch *w = c->watches; w; w = w->next)
          if (!strcmp(w->hash, hash))
            append_locked(w, en->element[0]->str, f->element[i + 1]->str, f->element[i + 1]->len);
      }
    }
  }
  pthread_mutex_unlock(&c->wmu);
  freeReplyObject(rep);
  return 0;
}

/* Watches without news for two leases: is their job still known? */
static void check_quiet(orf_cluster *c, orf_redis *r) {
  char hashes[16][65];
  int n = 0;
  double now = orf_now_mono();
  pthread_mutex_lock(&c->wmu);
  for (cl_watch *w = c->watches; w && n < 16; w = w->next)
    if (!w->done && now - w->last_news > 2.0 * c->lease_ms / 1000.0) {
      memcpy(hashes[n++], w->hash, 65);
      w->last_news = now; /* checked again two leases later */
    }
  pthread_mutex_unlock(&c->wmu);
  for (int i = 0; i < n; i++) {
    redisReply *rep = orf_redis_command(r, 0, "EXISTS " CL_PREFIX "job:%s", hashes[i]);
    cl_note(c, r, rep);
    if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer == 0) {
      pthread_mutex_lock(&c->wmu);
      lose_locked(c, hashes[i]);
      pthread_mutex_unlock(&c->wmu);
    }
    if (rep) freeReplyObject(rep);
  }
}

void *cl_follower_main(void *arg) {
  orf_cluster *c = arg;
  orf_redis *r = orf_redis_open(&c->url, CL_TIMEOUT_MS);
  double next_check = orf_now_mono() + 1.0;
  while (r && !atomic_load(&c->stopping)) {
    if (follow_round(c, r) < 0) {
      for (int i = 0; i < 5 && !atomic_load(&c->stopping); i++)
        usleep(50000);
      continue;
    }
    if (orf_now_mono() >= next_check) {
      check_quiet(c, r);
      next_check = orf_now_mono() + 1.0;
    }
  }
  orf_redis_close(r);
  return NULL;
}

void cl_watches_stop(orf_cluster *c) {
  pthread_mutex_lock(&c->wmu);
  for (cl_watch *w = c->watches; w; w = w->next) {
    w->done = 1;
    fire_locked(w);
  }
  pthread_mutex_unlock(&c->wmu);
}
