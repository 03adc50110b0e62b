/*
 * segmenter.c - orf_segmenter (orfeas.h): one loaded network, the lock it
 * runs under, and a memory cache of its mattes, so that the network runs
 * once per distinct image whatever else a request asks (quality, mode,
 * points, the mask preview or a generation).
 *
 * The cache is keyed by the SHA-256 of the image bytes: the network's
 * input depends on nothing else (the image decoded at least the network's
 * side and resized to it, net.cpp).  Entries are side*side bytes, kept
 * most recently used first and dropped from the other end past
 * cache_bytes.  Single flight: the first job that misses inserts a pending
 * entry and runs the network outside the cache's lock; a job that finds
 * the pending entry waits on a condition variable for it, so two requests
 * for one new image run the network once.  A failed run wakes its waiters
 * with its error and leaves nothing cached.  The mattes are the
 * segmenter's (plain malloc, outside any job's accounting); a job gets a
 * copy in its own memory.
 *
 * Previews: the first two stages of a job whose image is not cached yet
 * take the preview network's matte (orf__segment_preview; net.cpp: the
 * side output of U^2-Net's decoder stage 2, about half the work), so that
 * a new photograph's first shape does not wait for the whole network; the
 * refined and final stages take the full matte as before.  A preview is
 * kept in the image's entry (single flight as above) until the full matte
 * replaces it, and counted apart (preview_runs).  Where the full matte is
 * cached, or on its way, the previews use it.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "segment.h"

enum { E_PENDING, E_READY, E_FAILED, E_NONE };
enum { P_NONE, P_PENDING, P_READY };

typedef struct entry {
  uint8_t key[32];
  uint8_t *matte; /* side*side bytes when ready (malloc) */
  int state, rc, waiters;
  uint8_t *preview; /* side*side bytes when pstate is P_READY, until the full matte is */
  int pstate;
  struct entry *prev, *next; /* most recently used first */
} entry;

struct orf_segmenter {
  orf__net *net;
  int side;
  pthread_mutex_t run;  /* the network runs one image at a time */
  pthread_mutex_t lock; /* the cache and the counters */
  pthread_cond_t done;
  entry *head, *tail;
  size_t bytes, count, max_bytes;
  uint64_t runs, hits, failures, previews;
};

int orf_segmenter_create(const char *model_path, int threads, size_t cache_bytes, orf_segmenter **out,
                         char *err, size_t err_size) {
  *out = NULL;
  if (!model_path || !*model_path) {
    if (err && err_size) snprintf(err, err_size, "no segmentation model file was given");
    return ORF_EINVAL;
  }
  orf_segmenter *s = calloc(1, sizeof *s);
  if (!s) {
    if (err && err_size)
      snprintf(err, err_size, "out of memory loading the segmentation model %s", model_path);
    return ORF_ENOMEM;
  }
  int rc = orf__net_load(model_path, threads, &s->net, err, err_size);
  if (rc) {
    free(s);
    return rc;
  }
  s->side = orf__net_side(s->net);
  s->max_bytes = cache_bytes;
  pthread_mutex_init(&s->run, NULL);
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->done, NULL);
  *out = s;
  return ORF_OK;
}

void orf_segmenter_free(orf_segmenter *s) {
  if (!s) return;
  for (entry *e = s->head, *next; e; e = next) {
    next = e->next;
    free(e->matte);
    free(e->preview);
    free(e);
  }
  orf__net_free(s->net);
  pthread_cond_destroy(&s->done);
  pthread_mutex_destroy(&s->lock);
  pthread_mutex_destroy(&s->run);
  free(s);
}

void orf_segmenter_stats_get(orf_segmenter *s, orf_segmenter_stats *out) {
  pthread_mutex_lock(&s->lock);
  *out = (orf_segmenter_stats){s->runs,  s->hits,      s->failures, s->bytes,
                               s->count, s->max_bytes, s->side,     s->previews};
  pthread_mutex_unlock(&s->lock);
}

static void unlink_entry(orf_segmenter *s, entry *e) {
  if (e->prev)
    e->prev->next = e->next;
  else
    s->head = e->next;
  if (e->next)
    e->next->prev = e->prev;
  else
    s->tail = e->prev;
  e->prev = e->next = NULL;
}

static void push_front(orf_segmenter *s, entry *e) {
  e->prev = NULL;
  e->next = s->head;
  if (s->head) s->head->prev = e;
  s->head = e;
  if (!s->tail) s->tail = e;
}

/* Frees e's preview (under the lock). */
static void drop_preview(orf_segmenter *s, entry *e) {
  if (e->pstate == P_READY) s->bytes -= (size_t)s->side * s->side;
  free(e->preview);
  e->preview = NULL;
  e->pstate = P_NONE;
}

/* Drops entry e (not pending, no waiters) from the cache and frees it. */
static void drop(orf_segmenter *s, entry *e) {
  unlink_entry(s, e);
  if (e->state == E_READY) {
    s->bytes -= (size_t)s->side * s->side;
    s->count--;
  }
  drop_preview(s, e);
  free(e->matte);
  free(e);
}

/* A copy of side*side bytes in the calling job's memory. */
static int copy_bytes(const orf_segmenter *s, const uint8_t *from, uint8_t **matte) {
  size_t n = (size_t)s->side * s->side;
  *matte = orf_malloc(n);
  if (!*matte) return ORF_ENOMEM;
  memcpy(*matte, from, n);
  return ORF_OK;
}

/* A copy of a ready entry's matte in the calling job's memory. */
static int copy_out(const orf_segmenter *s, const entry *e, uint8_t **matte) {
  return copy_bytes(s, e->matte, matte);
}

/* Runs the network (or its preview) on the image in data: decoded at
 * least side pixels on its longer side (JPEG in the DCT domain), then
 * net.cpp resizes it. */
static int run_network(orf_segmenter *s, const uint8_t *data, size_t size, const orf_limits *lim, int preview,
                       uint8_t *matte) {
  orf_image img;
  int rc = orf_image_decode(data, size, lim, (uint32_t)s->side, &img);
  if (rc) return rc;
  pthread_mutex_lock(&s->run);
  rc = orf__net_run(s->net, img.rgba, img.width, img.height, preview, matte);
  pthread_mutex_unlock(&s->run);
  orf_image_free(&img);
  return rc;
}

/* Drops e when nothing in it is of use any more: no waiter, nothing
 * running, no matte and no preview (under the lock). */
static void maybe_drop(orf_segmenter *s, entry *e) {
  if (e->waiters || e->state == E_PENDING || e->pstate == P_PENDING) return;
  if (e->state == E_READY || e->pstate == P_READY) return;
  drop(s, e);
}

/* Least recently used out, under the lock: entries with a matte or a
 * preview that no job waits on.  A cache of 0 bytes keeps only what waiters
 * still have to copy. */
static void trim(orf_segmenter *s) {
  for (entry *t = s->tail, *prev; t && s->bytes > s->max_bytes; t = prev) {
    prev = t->prev;
    if (t->waiters || t->state == E_PENDING || t->pstate == P_PENDING) continue;
    if (t->state == E_READY || t->pstate == P_READY) drop(s, t);
  }
}

/* The image's key in the cache: the SHA-256 of its bytes.  Returns 0, or
 * -1 when OpenSSL fails. */
static int image_key(const uint8_t *data, size_t size, uint8_t key[32]) {
  unsigned key_len = 0;
  return EVP_Digest(data, size, key, &key_len, EVP_sha256(), NULL) && key_len == 32 ? 0 : -1;
}

/* The entry of that key, or NULL (under s->lock). */
static entry *find_entry(orf_segmenter *s, const uint8_t key[32]) {
  entry *e = s->head;
  while (e && memcmp(e->key, key, 32))
    e = e->next;
  return e;
}

int orf__segment_matte(orf_segmenter *s, const uint8_t *data, size_t size, const orf_limits *lim,
                       uint8_t **matte, int *side) {
  *matte = NULL;
  *side = s->side;
  uint8_t key[32];
  if (image_key(data, size, key)) return ORF_ENOMEM;
  int rc;
  pthread_mutex_lock(&s->lock);
  entry *e = find_entry(s, key);
  if (e && e->state == E_READY) {
    unlink_entry(s, e);
    push_front(s, e);
    s->hits++;
    rc = copy_out(s, e, matte);
    pthread_mutex_unlock(&s->lock);
    return rc;
  }
  if (e && (e->state == E_PENDING || e->state == E_FAILED)) { /* another job runs the network on it */
    e->waiters++;
    while (e->state == E_PENDING)
      pthread_cond_wait(&s->done, &s->lock);
    e->waiters--;
    if (e->state == E_READY) {
      s->hits++;
      rc = copy_out(s, e, matte);
    } else {
      rc = e->rc;
      maybe_drop(s, e);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
  }
  /* a miss: this job runs the network, others wait for it (an entry with
   * only a preview is taken over) */
  uint8_t *m = malloc((size_t)s->side * s->side);
  if (m && !e && (e = calloc(1, sizeof *e))) {
    memcpy(e->key, key, sizeof key);
    push_front(s, e);
  }
  if (!e || !m) {
    pthread_mutex_unlock(&s->lock);
    free(m);
    return ORF_ENOMEM;
  }
  unlink_entry(s, e);
  push_front(s, e);
  e->state = E_PENDING;
  pthread_mutex_unlock(&s->lock);

  rc = run_network(s, data, size, lim, 0, m);

  pthread_mutex_lock(&s->lock);
  s->runs++;
  if (rc == ORF_OK) {
    e->matte = m;
    e->state = E_READY;
    s->bytes += (size_t)s->side * s->side;
    s->count++;
    drop_preview(s, e);
    rc = copy_out(s, e, matte);
  } else {
    free(m);
    s->failures++;
    /* its waiters get rc; an entry that keeps a preview may run again */
    e->state = e->pstate == P_READY ? E_NONE : E_FAILED;
    e->rc = rc;
  }
  pthread_cond_broadcast(&s->done);
  maybe_drop(s, e);
  trim(s);
  pthread_mutex_unlock(&s->lock);
  if (rc) orf_free(*matte), *matte = NULL;
  return rc;
}

int orf__segment_preview(orf_segmenter *s, const uint8_t *data, size_t size, const orf_limits *lim,
                         uint8_t **matte, int *side, int *full) {
  *full = 1;
  if (!orf__net_has_preview(s->net)) return orf__segment_matte(s, data, size, lim, matte, side);
  *matte = NULL;
  *side = s->side;
  uint8_t key[32];
  if (image_key(data, size, key)) return ORF_ENOMEM;
  int rc;
  pthread_mutex_lock(&s->lock);
  entry *e = find_entry(s, key);
  for (;;) {
    /* the full matte, cached or on its way (the network runs one image at
     * a time: a preview would wait for it all the same) */
    if (e && (e->state == E_READY || e->state == E_PENDING)) {
      pthread_mutex_unlock(&s->lock);
      return orf__segment_matte(s, data, size, lim, matte, side);
    }
    if (!e || e->pstate != P_PENDING) break;
    e->waiters++; /* another job runs the preview */
    pthread_cond_wait(&s->done, &s->lock);
    e->waiters--;
  }
  if (e && e->pstate == P_READY) {
    unlink_entry(s, e);
    push_front(s, e);
    *full = 0;
    rc = copy_bytes(s, e->preview, matte);
    pthread_mutex_unlock(&s->lock);
    return rc;
  }
  /* no preview: this job runs it, others wait for it */
  uint8_t *m = malloc((size_t)s->side * s->side);
  if (!e) {
    if ((e = calloc(1, sizeof *e))) {
      memcpy(e->key, key, sizeof key);
      e->state = E_NONE;
      push_front(s, e);
    }
  }
  if (!e || !m) {
    pthread_mutex_unlock(&s->lock);
    free(m);
    return ORF_ENOMEM;
  }
  e->pstate = P_PENDING;
  pthread_mutex_unlock(&s->lock);

  rc = run_network(s, data, size, lim, 1, m);

  pthread_mutex_lock(&s->lock);
  s->previews++;
  if (rc == ORF_OK && e->state != E_READY) {
    e->preview = m;
    e->pstate = P_READY;
    s->bytes += (size_t)s->side * s->side;
    *full = 0;
    rc = copy_bytes(s, m, matte);
  } else {
    if (rc == ORF_OK) rc = copy_out(s, e, matte); /* the full one came first */
    free(m);
    e->pstate = P_NONE;
  }
  pthread_cond_broadcast(&s->done);
  maybe_drop(s, e);
  trim(s);
  pthread_mutex_unlock(&s->lock);
  if (rc) orf_free(*matte), *matte = NULL;
  return rc;
}

int orf_segment_default_model(char *buf, size_t size) {
  const char *env = getenv("ORFEAS_SEGMENT_MODEL");
  if (env && *env) {
    snprintf(buf, size, "%s", env);
    return access(buf, R_OK) == 0 ? ORF_OK : ORF_EIO;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    snprintf(buf, size, "models/u2netp.onnx");
    return access(buf, R_OK) == 0 ? ORF_OK : ORF_EIO;
  }
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (slash) *slash = 0;
  static const char *const rel[] = {"models/u2netp.onnx", "../share/orfeas/models/u2netp.onnx",
                                    "../models/u2netp.onnx"};
  for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
    snprintf(buf, size, "%s/%s", exe, rel[i]);
    if (access(buf, R_OK) == 0) return ORF_OK;
  }
  snprintf(buf, size, "%s/%s", exe, rel[0]);
  return ORF_EIO;
}

const char *orf_mask_source_name(int source) {
  static const char *const names[] = {"alpha", "color", "frame", "subject"};
  return source >= 0 && source <= 3 ? names[source] : "unknown";
}
