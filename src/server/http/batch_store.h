/*
 * batch_store.h - the batches of POST /api/v1/batch (routes_batch.c): what
 * each one submitted, kept in memory for GET /api/v1/batch/<id>.  A batch
 * records, per image, its name, its job's id and its request hash (or the
 * reason it was refused before any job); the jobs themselves are the job
 * manager's, and their results the cache's, so a batch holds no result.
 * Batches are kept for keep_s seconds, at most max of them (past that the
 * oldest goes first).  An image the job queue had no room for is held
 * here (at most held_max bytes of them in all) until a later
 * http_batches_feed submits it.  Thread-safe.
 */
#ifndef ORF_HTTP_BATCH_STORE_H
#define ORF_HTTP_BATCH_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

#define HTTP_BATCH_MAX_ITEMS 100 /* images in one batch, at most */

typedef struct http_batch_item {
  char name[96];             /* the image's file name as sent (or "image-<n>") */
  char job_id[33];           /* its job, "" when none (cached at submit, or refused) */
  char hash[65];             /* its request hash, "" when refused before one */
  int cached;                /* complete from the cache when submitted */
  int error;                 /* refused at submit: the ORF_E* / ORF_SRV_E* code; else 0 */
  char message[160];         /* the refusal's sentence */
  int held;                  /* waiting for room in the job queue: its image is held */
  size_t held_off, held_len; /* where in the batch's held images */
} http_batch_item;

typedef struct http_batch {
  char id[33]; /* 32 hex */
  orf_format format;
  double created; /* orf_now_mono() */
  /* what the held images are submitted with */
  orf_params params;
  char precision[8];
  char generator[32]; /* "" the engine */
  long long seed;
  int steps, seed_given, steps_given;
  size_t n;
  http_batch_item items[HTTP_BATCH_MAX_ITEMS];
} http_batch;

typedef struct http_batches http_batches;

/* A store keeping at most max batches for keep_s seconds each: ORF_OK with
 * *out, or ORF_ENOMEM. */
int http_batches_create(http_batches **out, size_t max, double keep_s, size_t held_max);
void http_batches_free(http_batches *s);

/* Keeps a copy of *b (its id already set) and takes over held (malloc'd,
 * held_len bytes: the held items' images; may be NULL); the oldest batch
 * is dropped when the store is full.  When the held images would pass
 * held_max, they are not kept: their items (in *b too) fail with
 * ORF_SRV_EQUEUEFULL.  ORF_OK or ORF_ENOMEM. */
int http_batches_put(http_batches *s, http_batch *b, uint8_t *held, size_t held_len);

/* For each held item of batch id, in order, feed(ctx, batch, item, image,
 * size) under the store's lock: 0 when it is done with it (submitted or
 * failed: the item updated), 1 to stop (no room yet).  The held images
 * are freed once none is left.  1 when the batch is there, else 0. */
typedef int (*http_batch_feed_fn)(void *ctx, const http_batch *b, http_batch_item *it, const uint8_t *image,
                                  size_t size);
int http_batches_feed(http_batches *s, const char *id, http_batch_feed_fn feed, void *ctx);

/* A copy of the batch of that id into *out: 1, or 0 when there is none
 * (never was, or expired). */
int http_batches_get(http_batches *s, const char *id, http_batch *out);

#endif
