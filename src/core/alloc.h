/*
 * alloc.h - the engine's allocator, with per-job accounting.
 *
 * Every heap block the engine owns goes through orf_malloc()/orf_free() so
 * that a job's current and peak bytes are known: the peak is what the
 * memory estimate (orf_estimate_peak_bytes) is tested against, and a test can
 * make the Nth allocation fail.  The counters of the job running on a thread
 * are found through a thread-local pointer that orf_parallel_for() carries to
 * its workers.  Blocks carry a 16-byte header holding their size.
 */
#ifndef ORF_ALLOC_H
#define ORF_ALLOC_H

#include <stdatomic.h>
#include <stddef.h>

typedef struct orf_memtrack {
  atomic_size_t current;  /* bytes live now */
  atomic_size_t peak;     /* most bytes live at once */
  atomic_long fail_after; /* > 0: the allocation that brings it to 0 fails */
} orf_memtrack;

/* Makes t the accounting of the calling thread (NULL: none); returns the old. */
orf_memtrack *orf_memtrack_set(orf_memtrack *t);
orf_memtrack *orf_memtrack_get(void);

/* malloc/calloc/realloc/free with accounting.  NULL on failure (or when
 * fault injection says so); orf_free(NULL) does nothing.  Blocks from these
 * must be freed with orf_free(), never free(). */
void *orf_malloc(size_t size);
void *orf_calloc(size_t count, size_t size);
void *orf_realloc(void *ptr, size_t size);
void orf_free(void *ptr);

/* orf_malloc(count * size), NULL when the product overflows. */
void *orf_malloc_array(size_t count, size_t size);

#endif
