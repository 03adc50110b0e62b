/*
 * upload_store.c - the original ORFEAS API's uploads in memory (contract
 * in upload_store.h): a list, newest last, under one mutex; expired
 * entries and, past a bound, the oldest are dropped when one is added.
 */
#include "upload_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct entry {
  http_upload u;
  uint8_t *image;
  size_t size;
  double created;
  struct entry *next;
} entry;

struct http_uploads {
  pthread_mutex_t mu;
  entry *head, *tail; /* oldest first */
  size_t n, bytes, max, max_bytes;
  double keep_s;
};

int http_uploads_create(http_uploads **out, size_t max, size_t max_bytes, double keep_s) {
  http_uploads *s = calloc(1, sizeof *s);
  if (!s) return ORF_ENOMEM;
  pthread_mutex_init(&s->mu, NULL);
  s->max = max ? max : 1;
  s->max_bytes = max_bytes;
  s->keep_s = keep_s;
  *out = s;
  return ORF_OK;
}

static void drop_oldest(http_uploads *s) {
  entry *e = s->head;
  s->head = e->next;
  if (!s->head) s->tail = NULL;
  s->n--;
  s->bytes -= e->size;
  free(e->image);
  free(e);
}

void http_uploads_free(http_uploads *s) {
  if (!s) return;
  while (s->head)
    drop_oldest(s);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

int http_uploads_put(http_uploads *s, const http_upload *u, const uint8_t *image, size_t size) {
  if (size > s->max_bytes) return ORF_ETOOLARGE;
  entry *e = calloc(1, sizeof *e);
  if (!e || !(e->image = malloc(size ? size : 1))) {
    free(e);
    return ORF_ENOMEM;
  }
  e->u = *u;
  memcpy(e->image, image, size);
  e->size = size;
  e->created = orf_now_mono();
  pthread_mutex_lock(&s->mu);
  while (s->head &&
         (s->n >= s->max || s->bytes + size > s->max_bytes || e->created - s->head->created > s->keep_s))
    drop_oldest(s);
  if (s->tail)
    s->tail->next = e;
  else
    s->head = e;
  s->tail = e;
  s->n++;
  s->bytes += size;
  pthread_mutex_unlock(&s->mu);
  return ORF_OK;
}

/* The live entry of id, under the lock, or NULL. */
static entry *find(http_uploads *s, const char *id) {
  double now = orf_now_mono();
  for (entry *e = s->head; e; e = e->next)
    if (!strcmp(e->u.id, id)) return now - e->created <= s->keep_s ? e : NULL;
  return NULL;
}

int http_uploads_get(http_uploads *s, const char *id, http_upload *u, uint8_t **image, size_t *size) {
  pthread_mutex_lock(&s->mu);
  entry *e = find(s, id);
  int ok = e != NULL;
  if (e) {
    *u = e->u;
    if (image) {
      *image = malloc(e->size ? e->size : 1);
      if (*image) {
        memcpy(*image, e->image, e->size);
        *size = e->size;
      } else {
        ok = 0;
      }
    }
  }
  pthread_mutex_unlock(&s->mu);
  return ok;
}

int http_uploads_update(http_uploads *s, const http_upload *u) {
  pthread_mutex_lock(&s->mu);
  entry *e = find(s, u->id);
  if (e) e->u = *u;
  pthread_mutex_unlock(&s->mu);
  return e != NULL;
}
