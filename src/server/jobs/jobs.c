/*
 * jobs.c - the job manager (contract in jobs.h): a bounded first-in-first-
 * out queue served by a fixed pool of worker threads, with single flight
 * (one computation per request hash, as in Go's golang.org/x/sync/
 * singleflight) and one-shot wake-ups in the style of a condition variable
 * that calls back instead of blocking, so the HTTP layer can suspend a
 * connection rather than hold a thread per waiting client.
 *
 * Structure.  This file is the manager: the queue, admission, single
 * flight, each job's state, events and waiters, the same for both kinds of
 * job (a generation, a repair: only the input a job copies and the stage
 * table its progress comes from differ).  A job's run of the engine,
 * and the way its stages and meta.json go into the cache, are run.c's: a
 * worker calls it with no lock held and hands it publish_stage.  The
 * manager (orf_jobs) owns a mutex that guards its queue, its two tables
 * (active jobs by hash, every findable job by id: the server's one index,
 * ../cache/index.h, keyed by each job's hash and id, its two nodes inside
 * the job), the list of finished jobs kept for keep_finished_s, and each
 * job's interest count.  Each job has a mutex of its own for its events,
 * state and waiters.  Lock order: manager, then job.  A job's status is
 * written with both held, so either is enough to read it.  Callbacks run
 * with no lock held: whoever makes waiters ready collects them under the
 * job's lock and calls them after releasing every lock - a worker for
 * stage events and endings, the thread of orf_job_release /
 * orf_jobs_cancel / orf_jobs_free when that call ends a queued job - so a
 * wake-up must be quick (it holds that thread).
 *
 * Admission (jobs.h's contract).  A job holds its estimate from the moment
 * a worker takes it until it ends; in_use is the sum of those held.  There
 * are two of each, one per memory with a budget (the budget device's, and
 * the host's beside a GPU), and a job fits when it fits in both.  The
 * rule of the pick (pick_locked) is first fit with a bounded bypass, as in
 * backfilling batch schedulers (EASY backfilling, Lifka 1995): the head of
 * the queue starts when it fits; if it does not, the first later job that
 * fits may start instead, which counts as one overtake of the head; after
 * max_overtakes of them nothing passes the head, and idle workers wait on
 * work_cv until releases make it fit.  Since submit refuses any job larger
 * than the whole budget, the head always fits once in_use falls to 0, so
 * nothing waits for ever.  work_cv is broadcast whenever the pick's answer
 * may have changed: a job queued, a job ended (estimate released, or a
 * queued job cancelled - it may have been the head that blocked the rest).
 * orf_jobs_batch() runs the same pick on a copy of the figures.
 *
 * Decisions where jobs.h is silent: orf_jobs_cancel() cancels the
 * computation even when other requests share it (the id names the shared
 * job); a running job that is cancelled leaves single flight at once; a
 * hash that is not 64 lowercase hex digits is ORF_EINVAL; if getrandom(2)
 * fails, submit returns ORF_EIO.  An estimate over the budget is refused
 * with ORF_SRV_ETOOBIG even when the hash would join a job (same hash, same
 * work); a join adds no estimate of its own.  budget_bytes is rounded down
 * to whole bytes; NaN is ORF_EINVAL, a negative budget means none.  in_use
 * is kept without a budget too (orf_jobs_budget reports it).
 *
 * Memory at rest.  Finished jobs keep only their record and events, within
 * keep_finished_max jobs and keep_finished_bytes bytes (about 2 KiB a
 * job, most of it the room for an error event with the engine's reason:
 * 4096 hold about 8 MiB, under the 16 MiB default); and a worker trims
 * the heap once the manager has been idle for TRIM_DELAY_S (trim_heap), so
 * RSS after a burst of jobs returns to what it was before.
 *
 * Lifetimes.  A job (struct job) is reference counted: one reference for
 * the manager while the job is in the id table, one per handle.  A handle
 * (orf_job) is what submit and find return: it says whether it carries an
 * interest, which is how orf_job_release() knows whether releasing may
 * cancel.  Every job also holds a reference on the manager's shared core,
 * so a job released after orf_jobs_free() can still take the manager's
 * lock (the core is freed with its last job).
 */
#include "orfeas.h"
#include "jobs.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cache/index.h"
#include "job_events.h"
#include "run.h"
#include "util.h"

#define KEEP_FINISHED_MAX 4096          /* default keep_finished_max */
#define KEEP_FINISHED_BYTES (16u << 20) /* default keep_finished_bytes */
#define MAX_EVENTS 128                  /* 3 stages, status lines, a final one */
#define ERR_EVENT_CAP 768               /* the error event lives inside the job (a 256-byte reason, escaped) */
#define RATE_WINDOW_S 60.0              /* orf_jobs_retry_after looks this far back */
#define RATE_RING 256                   /* finish times remembered for it */
#define RETRY_MAX_S 300
#define BATCH_MAX 32     /* orf_jobs_batch's ceiling */
#define TRIM_DELAY_S 1.0 /* the heap is trimmed this long after the queue went idle */

/* Bytes a job holds while it runs in each memory the manager admits by:
 * MEM_BUDGET, the budget device's (the GPU's when jobs run there, else the
 * host's), and MEM_HOST, the host's beside a GPU (host_budget_bytes). */
enum { MEM_BUDGET, MEM_HOST, MEM_KINDS };
typedef struct mem {
  size_t b[MEM_KINDS];
} mem;

typedef struct job job;
typedef struct waiter waiter;

/* One armed orf_job_wait(). */
struct waiter {
  orf_job_wake_fn fn;
  void *ctx;
  size_t have;
  pthread_t firer;   /* the thread calling fn, once firing */
  job *owner;        /* the job whose armed or firing list holds it */
  waiter *next;      /* in that list */
  waiter *fire_next; /* in the batch being fired */
};

/* What a job computes, as submitted (the data is the submitter's). */
typedef struct job_input {
  orf_job_kind kind;
  const uint8_t *data; /* the image, or the mesh file */
  size_t size;
  const orf_params *params;        /* a generation's */
  orf_precision prec;              /* a generation's */
  const orf_repair_params *repair; /* a repair's */
  const char *hint;                /* a repair's, or NULL */
} job_input;

struct job {
  orf_jobs *js;
  atomic_size_t refs;
  char id[33], hash[65];
  orf_job_kind kind;
  orf_params params;        /* a generation's (zeros for a repair) */
  orf_precision prec;       /* GPU field storage */
  orf_repair_params repair; /* a repair's */
  char hint[16];            /* a repair's file extension, "" for none */
  uint8_t *image;           /* the job's copy of its input; freed when it has run or ended */
  size_t image_size;
  atomic_int cancel; /* the engine's cancel flag */
  mem estimate;      /* peak bytes stated at submit; held while running */

  /* Guarded by js->mu. */
  int overtaken;          /* later jobs started before it while it was the head */
  int sim;                /* orf_jobs_batch's mark: would start in the simulation */
  int interests;          /* handles from submit not yet released */
  int kept;               /* keep = 1: held by the manager until it ends or is cancelled */
  orf_index_node by_hash; /* in js->by_hash while linked (single flight joins it) */
  orf_index_node by_id;   /* in js->by_id while findable */
  job *q_prev, *q_next, *fin_next;
  double finished_at;
  size_t kept_bytes; /* what it holds while finished (record and events) */

  /* Guarded by mu (status also by js->mu when written). */
  pthread_mutex_t mu;
  pthread_cond_t cv; /* a firing waiter has returned */
  orf_job_status status;
  int progress, stage, error;
  char *events[MAX_EVENTS];
  size_t n_events;
  char err_event[ERR_EVENT_CAP];
  waiter *armed, *firing;
};

struct orf_job {
  job *j;
  int interest;
};

struct orf_jobs {
  orf_jobs_config cfg;
  atomic_size_t refs; /* the owner's, plus one per job alive */
  pthread_mutex_t mu;
  pthread_cond_t work_cv; /* the pick may have changed, or the manager stops */
  pthread_cond_t idle_cv; /* nothing is queued or running any more */
  pthread_t *threads;
  int n_threads;
  job *q_head, *q_tail;
  size_t queued, running;
  mem in_use;                /* sum of the estimates of running jobs */
  int has_budget[MEM_KINDS]; /* budget_bytes / host_budget_bytes > 0 */
  size_t budget[MEM_KINDS];  /* those rounded down, where has_budget */
  int max_overtakes;         /* the config's, 8 when <= 0 */
  orf_index by_hash, by_id;  /* of job.by_hash (key: hash), job.by_id (key: id) */
  job *fin_head, *fin_tail;  /* finished jobs, oldest first */
  size_t n_finished;
  size_t finished_bytes; /* sum of their kept_bytes */
  size_t keep_max;       /* cfg.keep_finished_max, or its default */
  size_t keep_bytes;     /* cfg.keep_finished_bytes, or its default */
  int draining, stopping;
  double started;
  double done_at[RATE_RING]; /* ring of finish times */
  size_t n_done;
  double trim_at; /* when to trim the heap if still idle (0: no trim pending) */
};

/* The job of its by_hash or by_id node, or NULL for NULL. */
static job *job_of_hash(orf_index_node *n) { return n ? (job *)((char *)n - offsetof(job, by_hash)) : NULL; }
static job *job_of_id(orf_index_node *n) { return n ? (job *)((char *)n - offsetof(job, by_id)) : NULL; }
/* Where each index finds a job's key from the job's node. */
#define HASH_KEY_OFFSET ((ptrdiff_t)offsetof(job, hash) - (ptrdiff_t)offsetof(job, by_hash))
#define ID_KEY_OFFSET ((ptrdiff_t)offsetof(job, id) - (ptrdiff_t)offsetof(job, by_id))

static int finished(orf_job_status s) { return s >= ORF_JOB_COMPLETE; }

const char *orf_job_status_name(orf_job_status s) {
  switch (s) {
  case ORF_JOB_QUEUED: return "queued";
  case ORF_JOB_RUNNING: return "running";
  case ORF_JOB_COMPLETE: return "complete";
  case ORF_JOB_FAILED: return "failed";
  case ORF_JOB_CANCELLED: return "cancelled";
  }
  return "unknown";
}

/* ---- reference counts ------------------------------------------------ */

static void jobs_unref(orf_jobs *js) {
  if (atomic_fetch_sub(&js->refs, 1) != 1) return;
  pthread_mutex_destroy(&js->mu);
  pthread_cond_destroy(&js->work_cv);
  pthread_cond_destroy(&js->idle_cv);
  orf_index_fini(&js->by_hash);
  orf_index_fini(&js->by_id);
  orf_free(js->threads);
  orf_free(js);
}

static void job_ref(job *j) { atomic_fetch_add(&j->refs, 1); }

static void free_waiters(waiter *w) {
  while (w) {
    waiter *next = w->next;
    orf_free(w);
    w = next;
  }
}

static void job_unref(job *j) {
  if (!j || atomic_fetch_sub(&j->refs, 1) != 1) return;
  for (size_t i = 0; i < j->n_events; i++)
    if (j->events[i] != j->err_event) orf_free(j->events[i]);
  free_waiters(j->armed);
  free_waiters(j->firing);
  orf_free(j->image);
  pthread_mutex_destroy(&j->mu);
  pthread_cond_destroy(&j->cv);
  orf_jobs *js = j->js;
  orf_free(j);
  jobs_unref(js);
}

/* Drops a chain of jobs linked by fin_next (taken out of the manager). */
static void unref_chain(job *j) {
  while (j) {
    job *next = j->fin_next;
    job_unref(j);
    j = next;
  }
}

/* ---- tables and queue (js->mu held) ---------------------------------- */

static job *hash_find(orf_jobs *js, const char *hash) {
  return job_of_hash(orf_index_find(&js->by_hash, hash));
}

/* Leaves single flight (nothing when it already has). */
static void hash_remove(orf_jobs *js, job *j) {
  if (orf_index_linked(&j->by_hash)) orf_index_remove(&js->by_hash, &j->by_hash);
}

static job *id_find(orf_jobs *js, const char *id) { return job_of_id(orf_index_find(&js->by_id, id)); }

static void queue_push(orf_jobs *js, job *j) {
  j->q_next = NULL;
  j->q_prev = js->q_tail;
  if (js->q_tail)
    js->q_tail->q_next = j;
  else
    js->q_head = j;
  js->q_tail = j;
  js->queued++;
}

static void queue_unlink(orf_jobs *js, job *j) {
  if (j->q_prev)
    j->q_prev->q_next = j->q_next;
  else
    js->q_head = j->q_next;
  if (j->q_next)
    j->q_next->q_prev = j->q_prev;
  else
    js->q_tail = j->q_prev;
  j->q_prev = j->q_next = NULL;
  js->queued--;
}

/* ---- admission (js->mu held) ------------------------------------------ */

/* Whether a job of `estimate` fits beside `use` held, in every memory
 * that has a budget. */
static int fits(const orf_jobs *js, const mem *use, const mem *estimate) {
  for (int k = 0; k < MEM_KINDS; k++)
    if (js->has_budget[k] &&
        !(estimate->b[k] <= js->budget[k] && use->b[k] <= js->budget[k] - estimate->b[k]))
      return 0;
  return 1;
}

/* use += d, or use -= d with sign -1. */
static void mem_add(mem *use, const mem *d, int sign) {
  for (int k = 0; k < MEM_KINDS; k++)
    use->b[k] = sign > 0 ? use->b[k] + d->b[k] : use->b[k] - d->b[k];
}

/* The job a worker should start now, or NULL: the head if it fits, else
 * the first later job that fits while the head has been overtaken fewer
 * than max_overtakes times (counting this one). */
static job *pick_locked(orf_jobs *js) {
  job *head = js->q_head;
  if (!head || fits(js, &js->in_use, &head->estimate)) return head;
  if (head->overtaken >= js->max_overtakes) return NULL;
  for (job *j = head->q_next; j; j = j->q_next)
    if (fits(js, &js->in_use, &j->estimate)) {
      head->overtaken++;
      return j;
    }
  return NULL;
}

/* Room for one more job: the queue holds at most queue_max jobs beyond
 * those an idle worker is about to take. */
static int has_room(const orf_jobs *js) {
  return js->queued + js->running < (size_t)js->cfg.queue_max + (size_t)js->cfg.workers;
}

/* Takes finished jobs past their time (or past the cap) out of the
 * manager; returns them as a fin_next chain whose references the caller
 * drops after unlocking. */
static job *prune_locked(orf_jobs *js) {
  double now = orf_now_mono();
  job *dropped = NULL, **tail = &dropped;
  while (js->fin_head && (js->n_finished > js->keep_max || js->finished_bytes > js->keep_bytes ||
                          now - js->fin_head->finished_at >= js->cfg.keep_finished_s)) {
    job *j = js->fin_head;
    js->fin_head = j->fin_next;
    if (!js->fin_head) js->fin_tail = NULL;
    js->n_finished--;
    js->finished_bytes -= j->kept_bytes;
    orf_index_remove(&js->by_id, &j->by_id);
    j->fin_next = NULL;
    *tail = j;
    tail = &j->fin_next;
  }
  return dropped;
}

/* ---- waiters --------------------------------------------------------- */

/* Moves the armed waiters that may fire now (j->mu held) to the job's
 * firing list and onto *batch, taking a job reference for each. */
static void collect_ready(job *j, waiter **batch) {
  int done = finished(j->status);
  waiter **p = &j->armed;
  while (*p) {
    waiter *w = *p;
    if (!done && j->n_events <= w->have) {
      p = &w->next;
      continue;
    }
    *p = w->next;
    w->next = j->firing;
    j->firing = w;
    w->firer = pthread_self();
    w->fire_next = *batch;
    *batch = w;
    job_ref(j);
  }
}

/* Calls each waiter of the batch (no lock held), then retires it and wakes
 * any orf_job_unwait() waiting for it to return. */
static void fire_batch(waiter *w) {
  while (w) {
    waiter *next = w->fire_next;
    job *j = w->owner;
    w->fn(w->ctx);
    pthread_mutex_lock(&j->mu);
    for (waiter **p = &j->firing; *p; p = &(*p)->next)
      if (*p == w) {
        *p = w->next;
        break;
      }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    orf_free(w);
    job_unref(j);
    w = next;
  }
}

/* ---- ending jobs ------------------------------------------------------ */

/* Ends job j (js->mu held): leaves single flight, publishes its last event
 * (final_event, or the error event of err with reason as its sentence
 * when not NULL or empty), sets its status, joins the
 * finished list, and adds its ready waiters to *batch.  The caller has
 * already taken it out of the queue or the running count. */
static void finish_locked(orf_jobs *js, job *j, orf_job_status status, int err, const char *reason,
                          char *final_event, waiter **batch) {
  hash_remove(js, j);
  pthread_mutex_lock(&j->mu);
  if (!final_event) {
    orf_jobev_error(j->err_event, sizeof j->err_event, err, reason);
    final_event = j->err_event;
  }
  j->events[j->n_events++] = final_event;
  j->kept_bytes = sizeof *j;
  for (size_t i = 0; i < j->n_events; i++)
    if (j->events[i] != j->err_event) j->kept_bytes += strlen(j->events[i]) + 1;
  j->status = status;
  j->error = status == ORF_JOB_FAILED ? err : 0;
  if (status == ORF_JOB_COMPLETE) {
    j->progress = 100;
    j->stage = orf_job_stage_count(j->kind) - 1;
  }
  collect_ready(j, batch);
  pthread_mutex_unlock(&j->mu);
  orf_free(j->image);
  j->image = NULL;
  j->kept = 0;
  j->finished_at = orf_now_mono();
  j->fin_next = NULL;
  if (js->fin_tail)
    js->fin_tail->fin_next = j;
  else
    js->fin_head = j;
  js->fin_tail = j;
  js->n_finished++;
  js->finished_bytes += j->kept_bytes;
  js->done_at[js->n_done++ % RATE_RING] = j->finished_at;
  if (js->cfg.metrics) orf_metrics_job(js->cfg.metrics, orf_job_status_name(status));
  pthread_cond_broadcast(&js->work_cv); /* an estimate released, or a queued job gone */
  if (js->queued + js->running == 0) {  /* idle: trim the heap soon (trim_heap) */
    pthread_cond_broadcast(&js->idle_cv);
    js->trim_at = orf_now_mono() + TRIM_DELAY_S;
  }
}

/* Cancels j (js->mu held): a queued job ends now, a running one is told to
 * stop and leaves single flight at once, so that a new request for the same
 * hash starts afresh instead of joining a job about to end "cancelled". */
static void cancel_locked(orf_jobs *js, job *j, waiter **batch) {
  j->kept = 0;
  if (j->status == ORF_JOB_QUEUED) {
    queue_unlink(js, j);
    finish_locked(js, j, ORF_JOB_CANCELLED, ORF_ECANCELED, NULL, NULL, batch);
  } else if (j->status == ORF_JOB_RUNNING) {
    atomic_store(&j->cancel, 1);
    hash_remove(js, j);
  }
}

/* ---- running a job (worker thread, no lock held) ---------------------- */

/* Appends a stage event and wakes the waiters it satisfies
 * (orf_jobs__publish_fn; ctx is the job). */
static void publish_stage(void *ctx, char *event, int s) {
  job *j = ctx;
  waiter *batch = NULL;
  pthread_mutex_lock(&j->mu);
  j->events[j->n_events++] = event;
  j->progress = orf_job_stage_progress(j->kind, s);
  j->stage = s;
  collect_ready(j, &batch);
  pthread_mutex_unlock(&j->mu);
  fire_batch(batch);
}

/* Runs j's generation or repair (run.c): its stages into the cache and
 * out as events; a failure's reason, if the engine gave one, into msg. */
static int run_job(orf_jobs *js, job *j, char **final_event, char *msg, size_t msg_size) {
  const orf_jobs__run run = {.cfg = &js->cfg,
                             .hash = j->hash,
                             .kind = j->kind,
                             .image = j->image,
                             .image_size = j->image_size,
                             .params = &j->params,
                             .prec = j->prec,
                             .repair = &j->repair,
                             .hint = j->hint[0] ? j->hint : NULL,
                             .cancel = &j->cancel,
                             .publish = publish_stage,
                             .ctx = j};
  return orf_jobs__run_engine(&run, final_event, msg, msg_size);
}

/* Gives the heap memory that jobs freed back to the system (a worker calls
 * it TRIM_DELAY_S after the last queued or running job has ended - run to
 * its end or cancelled while queued, finish_locked sets trim_at - if no job
 * came meanwhile).  glibc keeps what free() returns in its arenas (one per
 * thread that allocates, up to 8 per core) and only hands back the top of a
 * heap; a job's large temporary buffers (fields, meshes), and the HTTP
 * threads' response buffers, freed between live blocks stay resident.
 * Measured (bench/bench_mixed.sh, 64 connections, 2 x 30 s, 2 cores): 10 s
 * after each round the server's RSS was 121.8 MiB before, 179.1 and 174.6
 * MiB after, while malloc reported only 66.0 and 67.3 MiB in use (64 MiB of
 * it the cache's memory tier); malloc_trim(0) brought RSS to 113.9 and
 * 115.6 MiB.  The delay lets the requests of the last job finish (their
 * buffers are freed after the job ends); trimming right at the end of the
 * last job left 24 MiB untrimmed in one short run of tests/test_mixed_load.sh.
 * Trimming only when idle leaves a busy server its warm heap, and costs a few
 * milliseconds against jobs of hundreds.  mallopt(M_MMAP_THRESHOLD) would
 * return large buffers at each free instead, but fault them in again for
 * every job under load.  With other C libraries: nothing.  When jobs run on
 * the GPU, the engine's device pool gives its cached memory back to the
 * driver at the same moment (for other processes), for the same reason: a
 * busy server keeps it for the next job. */
static void trim_heap(const orf_jobs *js) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
  if (js->cfg.device == ORF_DEVICE_CUDA) orf_gpu_trim();
}

/* Waits on work_cv (js->mu held); while the manager is idle with a trim
 * pending, only until the trim is due, then trims (unlocked). */
static void wait_work_locked(orf_jobs *js) {
  if (js->trim_at <= 0 || js->queued + js->running > 0) {
    pthread_cond_wait(&js->work_cv, &js->mu);
    return;
  }
  double now = orf_now_mono();
  if (now >= js->trim_at) {
    js->trim_at = 0;
    pthread_mutex_unlock(&js->mu);
    trim_heap(js);
    pthread_mutex_lock(&js->mu);
    return;
  }
  struct timespec ts = orf_mono_after(js->trim_at - now);
  pthread_cond_timedwait(&js->work_cv, &js->mu, &ts); /* work_cv runs on CLOCK_MONOTONIC */
}

static void *worker_main(void *arg) {
  orf_jobs *js = arg;
  pthread_mutex_lock(&js->mu);
  for (;;) {
    job *j = NULL;
    while (!js->stopping && !(j = pick_locked(js)))
      wait_work_locked(js);
    if (!j) break;
    queue_unlink(js, j);
    js->running++;
    mem_add(&js->in_use, &j->estimate, +1);
    if (js->q_head) pthread_cond_broadcast(&js->work_cv); /* the new head may fit */
    pthread_mutex_lock(&j->mu);
    j->status = ORF_JOB_RUNNING;
    pthread_mutex_unlock(&j->mu);
    pthread_mutex_unlock(&js->mu);

    char *final_event, reason[ERR_EVENT_CAP / 2];
    int rc = run_job(js, j, &final_event, reason, sizeof reason);
    orf_job_status status = rc == ORF_OK          ? ORF_JOB_COMPLETE
                            : rc == ORF_ECANCELED ? ORF_JOB_CANCELLED
                                                  : ORF_JOB_FAILED;
    waiter *batch = NULL;
    pthread_mutex_lock(&js->mu);
    js->running--;
    mem_add(&js->in_use, &j->estimate, -1);
    finish_locked(js, j, status, rc, reason, final_event, &batch);
    job *dropped = prune_locked(js);
    pthread_mutex_unlock(&js->mu);
    fire_batch(batch);
    unref_chain(dropped);
    pthread_mutex_lock(&js->mu);
  }
  pthread_mutex_unlock(&js->mu);
  return NULL;
}

/* ---- the manager ------------------------------------------------------ */

/* Stops and joins the workers (after cancelling what is queued and telling
 * running jobs to stop), then drops the manager's job references. */
static void shutdown_workers(orf_jobs *js) {
  waiter *batch = NULL;
  pthread_mutex_lock(&js->mu);
  js->draining = js->stopping = 1;
  while (js->q_head)
    cancel_locked(js, js->q_head, &batch);
  for (orf_index_node *n = js->by_id.lru.next; n != &js->by_id.lru; n = n->next) {
    job *j = job_of_id(n);
    if (j->status == ORF_JOB_RUNNING) cancel_locked(js, j, &batch); /* leaves by_id alone */
  }
  pthread_cond_broadcast(&js->work_cv);
  pthread_mutex_unlock(&js->mu);
  fire_batch(batch);
  for (int i = 0; i < js->n_threads; i++)
    pthread_join(js->threads[i], NULL);
  js->n_threads = 0;

  job *dropped = NULL;
  pthread_mutex_lock(&js->mu);
  orf_index_node *n;
  while ((n = orf_index_oldest(&js->by_id))) {
    job *j = job_of_id(n);
    orf_index_remove(&js->by_id, n);
    j->fin_next = dropped;
    dropped = j;
  }
  js->fin_head = js->fin_tail = NULL;
  js->n_finished = 0;
  js->finished_bytes = 0;
  pthread_mutex_unlock(&js->mu);
  unref_chain(dropped);
}

int orf_jobs_create(orf_jobs **out, const orf_jobs_config *cfg) {
  if (!out) return ORF_EINVAL;
  *out = NULL;
  if (!cfg || cfg->workers < 1 || cfg->queue_max < 0 || cfg->engine_threads < 1 || !cfg->cache ||
      !(cfg->keep_finished_s >= 0) || isnan(cfg->budget_bytes) || isnan(cfg->host_budget_bytes))
    return ORF_EINVAL;
  orf_jobs *js = orf_calloc(1, sizeof *js);
  if (!js) return ORF_ENOMEM;
  js->threads = orf_calloc((size_t)cfg->workers, sizeof *js->threads);
  if (!js->threads || orf_index_init(&js->by_hash, HASH_KEY_OFFSET) ||
      orf_index_init(&js->by_id, ID_KEY_OFFSET)) {
    orf_index_fini(&js->by_hash); /* calloc'ed: NULL slots where init did not run */
    orf_free(js->threads);
    orf_free(js);
    return ORF_ENOMEM;
  }
  js->cfg = *cfg;
  const double budgets[MEM_KINDS] = {cfg->budget_bytes, cfg->host_budget_bytes};
  for (int k = 0; k < MEM_KINDS; k++) {
    js->has_budget[k] = budgets[k] > 0;
    if (js->has_budget[k]) /* rounded down: in_use + estimate <= budget holds for whole bytes */
      js->budget[k] = budgets[k] >= (double)SIZE_MAX ? SIZE_MAX : (size_t)budgets[k];
  }
  js->max_overtakes = cfg->max_overtakes > 0 ? cfg->max_overtakes : 8;
  js->keep_max = cfg->keep_finished_max > 0 ? (size_t)cfg->keep_finished_max : KEEP_FINISHED_MAX;
  js->keep_bytes = cfg->keep_finished_bytes > 0 ? cfg->keep_finished_bytes : KEEP_FINISHED_BYTES;
  atomic_init(&js->refs, 1);
  pthread_mutex_init(&js->mu, NULL);
  orf_cond_init_mono(&js->work_cv); /* its timed waits (the heap trim) use the monotonic clock */
  pthread_cond_init(&js->idle_cv, NULL);
  js->started = orf_now_mono();
  for (int i = 0; i < cfg->workers; i++) {
    if (pthread_create(&js->threads[i], NULL, worker_main, js)) {
      shutdown_workers(js);
      jobs_unref(js);
      return ORF_ENOMEM;
    }
    js->n_threads++;
  }
  *out = js;
  return ORF_OK;
}

void orf_jobs_drain(orf_jobs *js) {
  pthread_mutex_lock(&js->mu);
  js->draining = 1;
  while (js->queued + js->running > 0)
    pthread_cond_wait(&js->idle_cv, &js->mu);
  pthread_mutex_unlock(&js->mu);
}

void orf_jobs_free(orf_jobs *js) {
  if (!js) return;
  shutdown_workers(js);
  jobs_unref(js);
}

/* Fills a 32-hex-digit id from getrandom(2). */
static int new_id(char id[33]) {
  uint8_t raw[16];
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return ORF_EIO;
    got += (size_t)n;
  }
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    id[2 * i] = hex[raw[i] >> 4];
    id[2 * i + 1] = hex[raw[i] & 15];
  }
  id[32] = '\0';
  return ORF_OK;
}

/* A new queued job holding a copy of its input (one reference: the
 * manager's, taken over when it is inserted). */
static int job_new(orf_jobs *js, const char *hash, const job_input *in, const mem *estimate, job **out) {
  *out = NULL;
  const uint8_t *image = in->data;
  size_t size = in->size;
  job *j = orf_calloc(1, sizeof *j);
  if (!j) return ORF_ENOMEM;
  j->image = orf_malloc(size ? size : 1);
  if (!j->image) {
    orf_free(j);
    return ORF_ENOMEM;
  }
  int rc = new_id(j->id);
  if (rc) {
    orf_free(j->image);
    orf_free(j);
    return rc;
  }
  if (size) memcpy(j->image, image, size);
  j->image_size = size;
  memcpy(j->hash, hash, 65);
  j->kind = in->kind;
  if (in->params) j->params = *in->params;
  if (in->repair) j->repair = *in->repair;
  j->prec = in->prec;
  if (in->hint) snprintf(j->hint, sizeof j->hint, "%s", in->hint);
  j->estimate = *estimate;
  j->js = js;
  atomic_init(&j->refs, 1);
  atomic_init(&j->cancel, 0);
  pthread_mutex_init(&j->mu, NULL);
  pthread_cond_init(&j->cv, NULL);
  j->status = ORF_JOB_QUEUED;
  j->stage = -1;
  atomic_fetch_add(&js->refs, 1);
  *out = j;
  return ORF_OK;
}

/* orf_jobs_submit and orf_jobs_submit_repair: one way of queueing or
 * joining a job, whatever its kind. */
static int submit(orf_jobs *js, const char *hash, const job_input *in, size_t estimate_bytes,
                  size_t host_estimate_bytes, int keep, orf_job **out, int *coalesced) {
  if (out) *out = NULL;
  if (coalesced) *coalesced = 0;
  if (!js || !out || !orf_is_hex(hash, 64) || (!in->data && in->size) ||
      (in->kind == ORF_JOB_REPAIR ? !in->repair : !in->params))
    return ORF_EINVAL;
  const mem estimate = {{estimate_bytes, host_estimate_bytes}}, none = {{0, 0}};
  if (!fits(js, &none, &estimate)) return ORF_SRV_ETOOBIG; /* budgets set at create, never changed */
  orf_job *h = orf_malloc(sizeof *h);
  if (!h) return ORF_ENOMEM;
  h->j = NULL;
  h->interest = 1;
  job *fresh = NULL, *dropped = NULL;
  int rc = ORF_OK, joined = 0;
  pthread_mutex_lock(&js->mu);
  for (;;) {
    if (js->draining) {
      rc = ORF_SRV_EDRAINING;
      break;
    }
    job *j = hash_find(js, hash);
    if (j) { /* single flight: join the queued or running job */
      j->interests++;
      if (keep) j->kept = 1;
      job_ref(j);
      h->j = j;
      joined = 1;
      break;
    }
    if (!has_room(js)) {
      rc = ORF_SRV_EQUEUEFULL;
      break;
    }
    if (!fresh) { /* copy the image unlocked, then look again */
      pthread_mutex_unlock(&js->mu);
      rc = job_new(js, hash, in, &estimate, &fresh);
      pthread_mutex_lock(&js->mu);
      if (rc) break;
      continue;
    }
    while (id_find(js, fresh->id) && (rc = new_id(fresh->id)) == ORF_OK) {
    }
    if (rc) break;
    dropped = prune_locked(js);
    fresh->interests = 1;
    fresh->kept = keep != 0;
    orf_index_insert(&js->by_hash, &fresh->by_hash);
    orf_index_insert(&js->by_id, &fresh->by_id);
    queue_push(js, fresh);
    job_ref(fresh);
    h->j = fresh;
    fresh = NULL;
    pthread_cond_broadcast(&js->work_cv); /* it may fit where the head does not */
    break;
  }
  pthread_mutex_unlock(&js->mu);
  job_unref(fresh);
  unref_chain(dropped);
  if (rc) {
    orf_free(h);
    return rc;
  }
  if (joined) orf_cache_note_coalesced(js->cfg.cache);
  if (coalesced) *coalesced = joined;
  *out = h;
  return ORF_OK;
}

int orf_jobs_submit(orf_jobs *js, const char *hash, const uint8_t *image, size_t size, const orf_params *p,
                    orf_precision prec, size_t estimate_bytes, size_t host_estimate_bytes, int keep,
                    orf_job **out, int *coalesced) {
  const job_input in = {.kind = ORF_JOB_GENERATE, .data = image, .size = size, .params = p, .prec = prec};
  return submit(js, hash, &in, estimate_bytes, host_estimate_bytes, keep, out, coalesced);
}

int orf_jobs_submit_repair(orf_jobs *js, const char *hash, const uint8_t *mesh, size_t size, const char *hint,
                           const orf_repair_params *p, size_t estimate_bytes, size_t host_estimate_bytes,
                           int keep, orf_job **out, int *coalesced) {
  const job_input in = {.kind = ORF_JOB_REPAIR, .data = mesh, .size = size, .repair = p, .hint = hint};
  return submit(js, hash, &in, estimate_bytes, host_estimate_bytes, keep, out, coalesced);
}

orf_job *orf_jobs_find(orf_jobs *js, const char *id) {
  if (!js || !orf_is_hex(id, 32)) return NULL;
  orf_job *h = orf_malloc(sizeof *h);
  if (!h) return NULL;
  pthread_mutex_lock(&js->mu);
  job *dropped = prune_locked(js);
  job *j = id_find(js, id);
  if (j) job_ref(j);
  pthread_mutex_unlock(&js->mu);
  unref_chain(dropped);
  if (!j) {
    orf_free(h);
    return NULL;
  }
  h->j = j;
  h->interest = 0;
  return h;
}

int orf_jobs_cancel(orf_jobs *js, const char *id) {
  if (!js || !orf_is_hex(id, 32)) return ORF_SRV_ENOTFOUND;
  waiter *batch = NULL;
  int rc = ORF_OK;
  pthread_mutex_lock(&js->mu);
  job *dropped = prune_locked(js);
  job *j = id_find(js, id);
  if (!j)
    rc = ORF_SRV_ENOTFOUND;
  else if (finished(j->status))
    rc = ORF_SRV_ECONFLICT;
  else
    cancel_locked(js, j, &batch);
  pthread_mutex_unlock(&js->mu);
  fire_batch(batch);
  unref_chain(dropped);
  return rc;
}

void orf_jobs_finished(orf_jobs *js, size_t *count, size_t *bytes) {
  pthread_mutex_lock(&js->mu);
  job *dropped = prune_locked(js);
  if (count) *count = js->n_finished;
  if (bytes) *bytes = js->finished_bytes;
  pthread_mutex_unlock(&js->mu);
  unref_chain(dropped);
}

int orf_jobs_full(orf_jobs *js) {
  pthread_mutex_lock(&js->mu);
  int full = !has_room(js);
  pthread_mutex_unlock(&js->mu);
  return full;
}

void orf_jobs_counts(orf_jobs *js, size_t *queued, size_t *running) {
  pthread_mutex_lock(&js->mu);
  if (queued) *queued = js->queued;
  if (running) *running = js->running;
  pthread_mutex_unlock(&js->mu);
}

/* One memory's figures (MEM_BUDGET or MEM_HOST). */
static void budget_of(orf_jobs *js, int k, double *in_use_bytes, double *budget_bytes) {
  pthread_mutex_lock(&js->mu);
  if (in_use_bytes) *in_use_bytes = (double)js->in_use.b[k];
  if (budget_bytes) *budget_bytes = js->has_budget[k] ? (double)js->budget[k] : 0.0;
  pthread_mutex_unlock(&js->mu);
}

void orf_jobs_budget(orf_jobs *js, double *in_use_bytes, double *budget_bytes) {
  budget_of(js, MEM_BUDGET, in_use_bytes, budget_bytes);
}

void orf_jobs_host_budget(orf_jobs *js, double *in_use_bytes, double *budget_bytes) {
  budget_of(js, MEM_HOST, in_use_bytes, budget_bytes);
}

/* pick_locked() applied again and again to a copy of in_use and of the
 * head's overtake count, starting nothing: the jobs it would start, in
 * queue order, until it finds none or reaches BATCH_MAX.  Idle workers are
 * not counted: the answer is what the budget admits together. */
int orf_jobs_batch(orf_jobs *js) {
  pthread_mutex_lock(&js->mu);
  for (job *q = js->q_head; q; q = q->q_next)
    q->sim = 0;
  mem use = js->in_use;
  job *head = js->q_head;
  int overtaken = head ? head->overtaken : 0, n = 0;
  while (head && n < BATCH_MAX) {
    job *pick = NULL;
    if (fits(js, &use, &head->estimate))
      pick = head;
    else if (overtaken < js->max_overtakes)
      for (job *q = head->q_next; q && !pick; q = q->q_next)
        if (!q->sim && fits(js, &use, &q->estimate)) pick = q;
    if (!pick) break;
    pick->sim = 1;
    mem_add(&use, &pick->estimate, +1);
    n++;
    if (pick != head) {
      overtaken++;
      continue;
    }
    while (head && head->sim)
      head = head->q_next;
    overtaken = head ? head->overtaken : 0;
  }
  pthread_mutex_unlock(&js->mu);
  return n < 1 ? 1 : n;
}

/* The rate r is the number n of jobs that ended in the last 60 s (queued
 * jobs cancelled included: they free a place too) over the time they span:
 * 60 s, or the manager's age when younger, or - when all RATE_RING
 * remembered finishes are that recent - the time since the oldest of them;
 * never under 1 s.  The answer is the time to clear what is queued and
 * running now at that rate, ceil((queued + running) / r), within [1, 300].
 * r already counts every worker, so it is not divided by the worker count.
 * With no job ended in the last 60 s there is no rate to go by: 1. */
int orf_jobs_retry_after(orf_jobs *js) {
  pthread_mutex_lock(&js->mu);
  double now = orf_now_mono();
  size_t remembered = js->n_done < RATE_RING ? js->n_done : RATE_RING, n = 0;
  double oldest = now;
  for (size_t i = 0; i < remembered; i++) {
    double t = js->done_at[(js->n_done - 1 - i) % RATE_RING];
    if (now - t > RATE_WINDOW_S) break;
    oldest = t;
    n++;
  }
  size_t backlog = js->queued + js->running;
  double span = n == RATE_RING ? now - oldest : fmin(RATE_WINDOW_S, now - js->started);
  pthread_mutex_unlock(&js->mu);
  if (n == 0) return 1;
  double rate = (double)n / fmax(span, 1.0);
  double wait = ceil((double)backlog / rate);
  return wait < 1 ? 1 : wait > RETRY_MAX_S ? RETRY_MAX_S : (int)wait;
}

/* ---- handles ---------------------------------------------------------- */

void orf_job_release(orf_job *h) {
  if (!h) return;
  job *j = h->j;
  if (h->interest) {
    orf_jobs *js = j->js;
    waiter *batch = NULL;
    pthread_mutex_lock(&js->mu);
    if (--j->interests == 0 && !j->kept && !finished(j->status)) cancel_locked(js, j, &batch);
    pthread_mutex_unlock(&js->mu);
    fire_batch(batch);
  }
  orf_free(h);
  job_unref(j);
}

const char *orf_job_id(const orf_job *h) { return h->j->id; }
const char *orf_job_hash(const orf_job *h) { return h->j->hash; }
const orf_params *orf_job_params(const orf_job *h) { return &h->j->params; }
orf_job_kind orf_job_kind_of(const orf_job *h) { return h->j->kind; }
orf_format orf_job_format(const orf_job *h) {
  return h->j->kind == ORF_JOB_REPAIR ? h->j->repair.format : h->j->params.format;
}

void orf_job_get_state(orf_job *h, orf_job_state *st) {
  job *j = h->j;
  orf_jobs *js = j->js;
  pthread_mutex_lock(&js->mu);
  pthread_mutex_lock(&j->mu);
  st->status = j->status;
  st->progress = j->progress;
  st->stage = j->stage;
  st->events = j->n_events;
  st->error = j->error;
  st->position = 0;
  if (j->status == ORF_JOB_QUEUED) {
    size_t pos = 1;
    for (job *q = js->q_head; q && q != j; q = q->q_next)
      pos++;
    st->position = pos;
  }
  pthread_mutex_unlock(&j->mu);
  pthread_mutex_unlock(&js->mu);
}

const char *orf_job_event(orf_job *h, size_t i) {
  job *j = h->j;
  pthread_mutex_lock(&j->mu);
  const char *ev = i < j->n_events ? j->events[i] : NULL;
  pthread_mutex_unlock(&j->mu);
  return ev;
}

/* Arming with a ctx already armed on this job re-arms it (one wake-up per
 * ctx).  Out of memory for the waiter, it returns 1 as if ready: the
 * caller looks at the events and calls again, so no wake-up is lost. */
int orf_job_wait(orf_job *h, size_t have, orf_job_wake_fn fn, void *ctx) {
  job *j = h->j;
  pthread_mutex_lock(&j->mu);
  if (j->n_events > have || finished(j->status)) {
    pthread_mutex_unlock(&j->mu);
    return 1;
  }
  for (waiter *w = j->armed; w; w = w->next)
    if (w->ctx == ctx) {
      w->fn = fn;
      w->have = have;
      pthread_mutex_unlock(&j->mu);
      return 0;
    }
  waiter *w = orf_calloc(1, sizeof *w);
  if (!w) {
    pthread_mutex_unlock(&j->mu);
    return 1;
  }
  w->fn = fn;
  w->ctx = ctx;
  w->have = have;
  w->owner = j;
  w->next = j->armed;
  j->armed = w;
  pthread_mutex_unlock(&j->mu);
  return 0;
}

/* Called from within fn(ctx) itself, it does not wait for that call to
 * return (it would wait for itself). */
void orf_job_unwait(orf_job *h, void *ctx) {
  job *j = h->j;
  pthread_mutex_lock(&j->mu);
  for (waiter **p = &j->armed; *p;) {
    waiter *w = *p;
    if (w->ctx == ctx) {
      *p = w->next;
      orf_free(w);
    } else {
      p = &w->next;
    }
  }
  for (;;) {
    int busy = 0;
    for (waiter *w = j->firing; w && !busy; w = w->next)
      busy = w->ctx == ctx && !pthread_equal(w->firer, pthread_self());
    if (!busy) break;
    pthread_cond_wait(&j->cv, &j->mu);
  }
  pthread_mutex_unlock(&j->mu);
}
