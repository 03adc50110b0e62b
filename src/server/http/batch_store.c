/*
 * batch_store.c - the batches of POST /api/v1/batch in memory (contract in
 * batch_store.h): a ring of at most `max` slots under one mutex, each a
 * copy of a batch's record and its items (a few hundred bytes an image)
 * and the images still held for room in the job queue; a slot past keep_s
 * seconds is empty to a reader.
 */
#include "batch_store.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct slot {
  http_batch *b;
  uint8_t *held; /* the held items' images, or NULL */
  size_t held_len;
} slot;

struct http_batches {
  pthread_mutex_t mu;
  slot *slots;      /* max slots, b NULL when empty */
  size_t max, next; /* next: the slot the next batch takes (the oldest) */
  double keep_s;
  size_t held, held_max; /* bytes of held images in all, and their bound */
};

static void empty_slot(http_batches *s, slot *x) {
  free(x->b);
  free(x->held);
  s->held -= x->held_len;
  memset(x, 0, sizeof *x);
}

int http_batches_create(http_batches **out, size_t max, double keep_s, size_t held_max) {
  http_batches *s = calloc(1, sizeof *s);
  if (!s || !(s->slots = calloc(max ? max : 1, sizeof *s->slots))) {
    free(s);
    return ORF_ENOMEM;
  }
  s->held_max = held_max;
  pthread_mutex_init(&s->mu, NULL);
  s->max = max ? max : 1;
  s->keep_s = keep_s;
  *out = s;
  return ORF_OK;
}

void http_batches_free(http_batches *s) {
  if (!s) return;
  for (size_t i = 0; i < s->max; i++)
    empty_slot(s, &s->slots[i]);
  free(s->slots);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

int http_batches_put(http_batches *s, http_batch *b, uint8_t *held, size_t held_len) {
  size_t n = b->n < HTTP_BATCH_MAX_ITEMS ? b->n : HTTP_BATCH_MAX_ITEMS;
  size_t size = offsetof(http_batch, items) + n * sizeof b->items[0]; /* its items only */
  http_batch *copy = malloc(size);
  if (!copy) {
    free(held);
    return ORF_ENOMEM;
  }
  pthread_mutex_lock(&s->mu);
  empty_slot(s, &s->slots[s->next]);
  if (held &&
      s->held + held_len > s->held_max) { /* no room to hold them: they fail as the queue refused them */
    for (size_t i = 0; i < n; i++)
      if (b->items[i].held) {
        b->items[i].held = 0;
        b->items[i].error = ORF_SRV_EQUEUEFULL;
        snprintf(b->items[i].message, sizeof b->items[i].message, "%s", orf_strerror(ORF_SRV_EQUEUEFULL));
      }
    free(held);
    held = NULL;
    held_len = 0;
  }
  memcpy(copy, b, size);
  copy->n = n;
  s->slots[s->next] = (slot){copy, held, held_len};
  s->held += held_len;
  s->next = (s->next + 1) % s->max;
  pthread_mutex_unlock(&s->mu);
  return ORF_OK;
}

/* The live slot of id, under the lock, or NULL. */
static slot *find(http_batches *s, const char *id) {
  double now = orf_now_mono();
  for (size_t i = 0; i < s->max; i++) {
    slot *x = &s->slots[i];
    if (x->b && !strcmp(x->b->id, id) && now - x->b->created <= s->keep_s) return x;
  }
  return NULL;
}

int http_batches_feed(http_batches *s, const char *id, http_batch_feed_fn feed, void *ctx) {
  pthread_mutex_lock(&s->mu);
  slot *x = find(s, id);
  int left = 0;
  for (size_t i = 0; x && x->held && i < x->b->n; i++) {
    http_batch_item *it = &x->b->items[i];
    if (!it->held) continue;
    if (left || feed(ctx, x->b, it, x->held + it->held_off, it->held_len)) {
      left = 1;
      continue;
    }
    it->held = 0;
  }
  if (x && x->held && !left) { /* every held image is submitted */
    free(x->held);
    s->held -= x->held_len;
    x->held = NULL;
    x->held_len = 0;
  }
  pthread_mutex_unlock(&s->mu);
  return x != NULL;
}

int http_batches_get(http_batches *s, const char *id, http_batch *out) {
  pthread_mutex_lock(&s->mu);
  slot *x = find(s, id);
  if (x) memcpy(out, x->b, offsetof(http_batch, items) + x->b->n * sizeof x->b->items[0]);
  pthread_mutex_unlock(&s->mu);
  return x != NULL;
}
