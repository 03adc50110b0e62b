/*
 * batch_store.c - the batches of POST /api/v1/batch in memory (contract in
 * batch_store.h): a ring of at most `max` slots under one mutex, each a
 * copy of a batch's record and its items (a few hundred bytes an image);
 * a slot past keep_s seconds is empty to a reader.
 */
#include "batch_store.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct http_batches {
  pthread_mutex_t mu;
  http_batch **slots; /* max slots, NULL when empty */
  size_t max, next;   /* next: the slot the next batch takes (the oldest) */
  double keep_s;
};

int http_batches_create(http_batches **out, size_t max, double keep_s) {
  http_batches *s = calloc(1, sizeof *s);
  if (!s || !(s->slots = calloc(max ? max : 1, sizeof *s->slots))) {
    free(s);
    return ORF_ENOMEM;
  }
  pthread_mutex_init(&s->mu, NULL);
  s->max = max ? max : 1;
  s->keep_s = keep_s;
  *out = s;
  return ORF_OK;
}

void http_batches_free(http_batches *s) {
  if (!s) return;
  for (size_t i = 0; i < s->max; i++)
    free(s->slots[i]);
  free(s->slots);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

int http_batches_put(http_batches *s, const http_batch *b) {
  size_t n = b->n < HTTP_BATCH_MAX_ITEMS ? b->n : HTTP_BATCH_MAX_ITEMS;
  size_t size = offsetof(http_batch, items) + n * sizeof b->items[0]; /* its items only */
  http_batch *copy = malloc(size);
  if (!copy) return ORF_ENOMEM;
  memcpy(copy, b, size);
  copy->n = n;
  pthread_mutex_lock(&s->mu);
  free(s->slots[s->next]);
  s->slots[s->next] = copy;
  s->next = (s->next + 1) % s->max;
  pthread_mutex_unlock(&s->mu);
  return ORF_OK;
}

int http_batches_get(http_batches *s, const char *id, http_batch *out) {
  int found = 0;
  double now = orf_now_mono();
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->max && !found; i++) {
    http_batch *b = s->slots[i];
    if (b && !strcmp(b->id, id) && now - b->created <= s->keep_s) {
      memcpy(out, b, offsetof(http_batch, items) + b->n * sizeof b->items[0]);
      found = 1;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return found;
}
