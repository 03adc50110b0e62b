/*
 * parallel.c - fork-join loops with pthreads (see parallel.h).
 */
#include "parallel.h"

#include <pthread.h>
#include <unistd.h>

#include "alloc.h"

#define MAX_THREADS 256

/* A pool of worker threads, started when a loop first asks for them and
 * kept for the process's life.  Starting and joining a thread per chunk (as
 * before) cost about 40 us a call on the 2-core development machine, and a
 * job makes 250 to 330 such calls (the Poisson solver's sweeps, Taubin's
 * steps, marching cubes' slabs): about 12 ms of a quality-7 job whose
 * final stage is to take 150.  A queued chunk wakes a parked worker
 * instead.  The caller runs its first chunk, then any of its chunks still
 * queued (so a call never waits on a pool busy with other jobs' chunks,
 * and a loop inside a chunk cannot deadlock), then waits for the rest.
 * Chunks are cut as before, by index alone: the same bytes for any thread
 * count and any pool. */
typedef struct group {
  int pending; /* chunks of one call not yet done (under pool.mu) */
} group;

typedef struct task {
  orf_range_fn fn;
  void *ctx;
  size_t begin, end;
  int worker;
  orf_memtrack *track;
  group *g;
  struct task *next;
} task;

static struct {
  pthread_mutex_t mu;
  pthread_cond_t work, done;
  task *head, *tail;
  int workers;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0};

/* Runs t with its caller's memory accounting. */
static void run_task(task *t) {
  orf_memtrack *old = orf_memtrack_get();
  orf_memtrack_set(t->track);
  t->fn(t->ctx, t->begin, t->end, t->worker);
  orf_memtrack_set(old);
}

/* Takes the first queued task (of group g, or of any when g is NULL);
 * under pool.mu. */
static task *take(group *g) {
  task *prev = NULL;
  for (task *t = pool.head; t; prev = t, t = t->next) {
    if (g && t->g != g) continue;
    if (prev)
      prev->next = t->next;
    else
      pool.head = t->next;
    if (pool.tail == t) pool.tail = prev;
    return t;
  }
  return NULL;
}

static void *worker_main(void *arg) {
  (void)arg;
  pthread_mutex_lock(&pool.mu);
  for (;;) {
    task *t;
    while (!(t = take(NULL)))
      pthread_cond_wait(&pool.work, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
    run_task(t);
    pthread_mutex_lock(&pool.mu);
    if (--t->g->pending == 0) pthread_cond_broadcast(&pool.done);
  }
  return NULL;
}

/* fork() copies the pool's memory but not its threads: the child starts
 * with an empty pool of its own (tests/jobcheck.c runs a job in a child;
 * src/repair/isolate.c parses in one).  The parent holds the lock across
 * the fork, so the child's copy is never taken mid-change. */
static void fork_prepare(void) { pthread_mutex_lock(&pool.mu); }
static void fork_parent(void) { pthread_mutex_unlock(&pool.mu); }
static void fork_child(void) {
  pthread_mutex_init(&pool.mu, NULL);
  pthread_cond_init(&pool.work, NULL);
  pthread_cond_init(&pool.done, NULL);
  pool.head = pool.tail = NULL;
  pool.workers = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

/* Starts workers until there are n (at most MAX_THREADS - 1); under
 * pool.mu.  A worker that cannot be started is not: callers run their own
 * chunks. */
static void grow(int n) {
  if (n > MAX_THREADS - 1) n = MAX_THREADS - 1;
  while (pool.workers < n) {
    pthread_t tid;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr)) return;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, worker_main, NULL);
    pthread_attr_destroy(&attr);
    if (rc) return;
    pool.workers++;
  }
}

int orf_cpu_count(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : (n > MAX_THREADS ? MAX_THREADS : (int)n);
}

int orf_parallel_chunks(int threads, size_t n, size_t min_chunk) {
  if (n == 0) return 0;
  if (threads <= 0) threads = orf_cpu_count();
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (min_chunk < 1) min_chunk = 1;
  size_t by_size = (n + min_chunk - 1) / min_chunk;
  return by_size < (size_t)threads ? (int)by_size : threads;
}

int orf_parallel_for(int threads, size_t n, size_t min_chunk, orf_range_fn fn, void *ctx) {
  int chunks = orf_parallel_chunks(threads, n, min_chunk);
  if (chunks <= 1) {
    if (chunks == 1) fn(ctx, 0, n, 0);
    return chunks;
  }
  task tasks[MAX_THREADS];
  group g = {chunks - 1};
  orf_memtrack *track = orf_memtrack_get();
  for (int i = 0; i < chunks; i++)
    tasks[i] = (task){fn, ctx, n * (size_t)i / (size_t)chunks, n * (size_t)(i + 1) / (size_t)chunks, i, track,
                      &g, NULL};
  pthread_once(&atfork_once, register_atfork);
  pthread_mutex_lock(&pool.mu);
  grow(chunks - 1);
  for (int i = 1; i < chunks; i++) {
    if (pool.tail)
      pool.tail->next = &tasks[i];
    else
      pool.head = &tasks[i];
    pool.tail = &tasks[i];
  }
  if (chunks == 2)
    pthread_cond_signal(&pool.work);
  else
    pthread_cond_broadcast(&pool.work);
  pthread_mutex_unlock(&pool.mu);
  fn(ctx, tasks[0].begin, tasks[0].end, 0);
  pthread_mutex_lock(&pool.mu);
  while (g.pending > 0) {
    task *t = take(&g);
    if (t) {
      pthread_mutex_unlock(&pool.mu);
      run_task(t);
      pthread_mutex_lock(&pool.mu);
      g.pending--;
    } else {
      pthread_cond_wait(&pool.done, &pool.mu);
    }
  }
  pthread_mutex_unlock(&pool.mu);
  return chunks;
}
