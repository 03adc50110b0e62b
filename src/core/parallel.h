/*
 * parallel.h - fork-join loops over index ranges.
 *
 * The heavy steps of the engine split their work with orf_parallel_for().
 * Work is cut into contiguous chunks by index only, so a step whose chunks
 * write disjoint outputs gives the same bytes whatever the thread count.
 * The chunks run on a pool of worker threads started on first use and kept
 * for the process's life (parallel.c says why); the caller runs the first
 * chunk, and any of its chunks no worker has taken yet.
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
 * threads take the caller's memory accounting for its chunks.  Returns the
 * number of chunks used (>= 1 when n > 0, 0 when n == 0).  If no worker
 * can be started the chunks run on the caller: the result is the same.
 * Safe to call from several threads at once, and from inside a chunk. */
int orf_parallel_for(int threads, size_t n, size_t min_chunk, orf_range_fn fn, void *ctx);

/* The number of chunks orf_parallel_for() would use, to size per-worker
 * scratch before the call. */
int orf_parallel_chunks(int threads, size_t n, size_t min_chunk);

/* Online cores (at least 1). */
int orf_cpu_count(void);

/* Non-zero when *cancel is set; NULL never cancels. */
static inline int orf_cancelled(atomic_int *cancel) { return cancel && atomic_load(cancel) != 0; }

#endif
