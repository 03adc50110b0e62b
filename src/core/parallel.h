/*
 * parallel.h - fork-join loops over index ranges.
 *
 * The heavy steps of the engine split their work with orf_parallel_for().
 * Work is cut into contiguous chunks by index only, so a step whose chunks
 * write disjoint outputs gives the same bytes whatever the thread count.
 * Threads are started per call (a few tens of microseconds each, small next
 * to the steps that use them) so that a job owns no threads between steps.
 */
#ifndef ORF_PARALLEL_H
#define ORF_PARALLEL_H

#include <stdatomic.h>
#include <stddef.h>

/* Body of a loop: handles indices [begin, end) as worker `worker`
 * (0 <= worker < the number of chunks). */
typedef void (*orf_range_fn)(void *ctx, size_t begin, size_t end, int worker);

/* Runs fn over [0, n) split into at most `threads` contiguous chunks of at
 * least `min_chunk` indices, the calling thread taking the first.  Worker
 * threads inherit the caller's memory accounting.  Returns the number of
 * chunks used (>= 1 when n > 0, 0 when n == 0).  If a thread cannot be
 * started its chunk runs on the caller: the result is the same. */
int orf_parallel_for(int threads, size_t n, size_t min_chunk, orf_range_fn fn, void *ctx);

/* The number of chunks orf_parallel_for() would use, to size per-worker
 * scratch before the call. */
int orf_parallel_chunks(int threads, size_t n, size_t min_chunk);

/* Online cores (at least 1). */
int orf_cpu_count(void);

/* Non-zero when *cancel is set; NULL never cancels. */
static inline int orf_cancelled(atomic_int *cancel) { return cancel && atomic_load(cancel) != 0; }

#endif
