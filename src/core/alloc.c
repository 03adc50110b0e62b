/*
 * alloc.c - accounting allocator (see alloc.h).
 *
 * A 16-byte header in front of each block keeps its size, so orf_free()
 * can subtract it from the job's counter without a lookup table.
 */
#include "alloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 16

static _Thread_local orf_memtrack *tls_track;

orf_memtrack *orf_memtrack_set(orf_memtrack *t) {
  orf_memtrack *old = tls_track;
  tls_track = t;
  return old;
}

orf_memtrack *orf_memtrack_get(void) { return tls_track; }

/* Counts `size` more bytes; returns 0 when the allocation must fail. */
static int track_add(size_t size) {
  orf_memtrack *t = tls_track;
  if (!t) return 1;
  if (atomic_load(&t->fail_after) > 0 && atomic_fetch_sub(&t->fail_after, 1) == 1) return 0;
  size_t now = atomic_fetch_add(&t->current, size) + size;
  size_t peak = atomic_load(&t->peak);
  while (now > peak && !atomic_compare_exchange_weak(&t->peak, &peak, now)) {
  }
  return 1;
}

static void track_sub(size_t size) {
  if (tls_track) atomic_fetch_sub(&tls_track->current, size);
}

void *orf_malloc(size_t size) {
  if (size > SIZE_MAX - HEADER) return NULL;
  if (!track_add(size)) return NULL;
  unsigned char *p = malloc(size + HEADER);
  if (!p) {
    track_sub(size);
    return NULL;
  }
  memcpy(p, &size, sizeof size);
  return p + HEADER;
}

void *orf_malloc_array(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  return orf_malloc(count * size);
}

void *orf_calloc(size_t count, size_t size) {
  void *p = orf_malloc_array(count, size);
  if (p) memset(p, 0, count * size);
  return p;
}

void orf_free(void *ptr) {
  if (!ptr) return;
  unsigned char *p = (unsigned char *)ptr - HEADER;
  size_t size;
  memcpy(&size, p, sizeof size);
  track_sub(size);
  free(p);
}

void *orf_realloc(void *ptr, size_t size) {
  if (!ptr) return orf_malloc(size);
  unsigned char *p = (unsigned char *)ptr - HEADER;
  size_t old;
  memcpy(&old, p, sizeof old);
  if (size > SIZE_MAX - HEADER) return NULL;
  if (size > old && !track_add(size - old)) return NULL;
  unsigned char *q = realloc(p, size + HEADER);
  if (!q) {
    if (size > old) track_sub(size - old);
    return NULL;
  }
  if (size < old) track_sub(old - size);
  memcpy(q, &size, sizeof size);
  return q + HEADER;
}
