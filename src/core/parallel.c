/*
 * parallel.c - fork-join loops with pthreads (see parallel.h).
 */
#include "parallel.h"

#include <pthread.h>
#include <unistd.h>

#include "alloc.h"

#define MAX_THREADS 256

typedef struct task {
  orf_range_fn fn;
  void *ctx;
  size_t begin, end;
  int worker;
  orf_memtrack *track;
} task;

static void *run_task(void *arg) {
  task *t = arg;
  orf_memtrack_set(t->track);
  t->fn(t->ctx, t->begin, t->end, t->worker);
  return NULL;
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
  pthread_t tids[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  orf_memtrack *track = orf_memtrack_get();
  for (int i = 0; i < chunks; i++) {
    tasks[i] =
        (task){fn, ctx, n * (size_t)i / (size_t)chunks, n * (size_t)(i + 1) / (size_t)chunks, i, track};
  }
  for (int i = 1; i < chunks; i++)
    started[i] = pthread_create(&tids[i], NULL, run_task, &tasks[i]) == 0;
  run_task(&tasks[0]);
  for (int i = 1; i < chunks; i++) {
    if (started[i])
      pthread_join(tids[i], NULL);
    else
      run_task(&tasks[i]);
  }
  return chunks;
}
