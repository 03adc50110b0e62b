/*
 * cache.c - the request deduplication cache (cache.h): the memory tier and
 * the public functions; the disk tier is in cache_disk.c, the keys and
 * the index both tiers keep them in are key.c's and index.c's.
 *
 * The memory tier is a byte-bounded LRU cache (the policy of memcached and
 * Redis's allkeys-lru, done exactly with a hash table threaded by a doubly
 * linked list) with a time to live checked on access, and on a few of the
 * least recently used entries at each put.  Each entry costs its payload
 * plus ENTRY_OVERHEAD, an estimate of the bookkeeping around it.  Payloads
 * are immutable blobs with an atomic reference count, so an entry that is
 * evicted or replaced stays readable by whoever holds it until released.
 *
 * Memory accounting: every allocation and free of the cache (and of its
 * blobs, whichever thread releases them) is charged to the orf_memtrack
 * that was current on the thread that called orf_cache_open() (NULL: none),
 * never to the caller's: a job worker that puts its result must not see
 * the cache's memory as its own.  That tracker must outlive the cache and
 * every blob.  It also lets a test make the cache's Nth allocation fail.
 *
 * Locking: one mutex guards the memory index and the counters; copies,
 * disk I/O and checksums run outside it (the disk tier has its own lock).
 */
#include "cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache_disk.h"
#include "index.h"
#include "key.h"
#include "orfeas.h"
#include "util.h"

typedef struct blob_impl {
  orf_blob pub; /* first: orf_blob * and blob_impl * convert */
  atomic_size_t refs;
  orf_memtrack *track; /* charged with this block */
  /* payload follows */
} blob_impl;

typedef struct mem_entry {
  orf_cache__node node; /* first: the index hands out its link (key.h) */
  blob_impl *blob;      /* one reference, the cache's */
  double born;          /* monotonic seconds when stored */
  size_t cost;          /* payload + ENTRY_OVERHEAD */
} mem_entry;

/* the entry, the blob header, two allocator headers, a hash slot */
#define ENTRY_OVERHEAD (sizeof(mem_entry) + sizeof(blob_impl) + 2 * 16 + sizeof(void *))
/* least recently used entries checked for expiry at each put */
#define EXPIRE_SCAN 8

struct orf_cache {
  pthread_mutex_t mu;
  orf_memtrack *track;
  orf_index ix;
  size_t bytes, max_bytes;
  double ttl_s;
  uint64_t hits, misses, evictions, coalesced;
  orf_cache_disk *disk;  /* NULL: memory only */
  size_t disk_max_bytes; /* as configured */
  int disk_failed;       /* a dir was configured but is unusable */
  char disk_why[128];    /* why, when disk_failed */
};

/* ---- blobs ----------------------------------------------------------- */

/* A blob of `size` payload bytes with one reference, charged to track
 * (which must be current). */
static blob_impl *blob_new(orf_memtrack *track, size_t size) {
  if (size > SIZE_MAX - sizeof(blob_impl)) return NULL;
  blob_impl *b = orf_malloc(sizeof *b + size);
  if (!b) return NULL;
  b->pub.data = (const uint8_t *)(b + 1);
  b->pub.size = size;
  atomic_init(&b->refs, 1);
  b->track = track;
  return b;
}

/* Adds a reference; b stays valid until every reference is released. */
void orf_blob_retain(orf_blob *b) {
  if (b) atomic_fetch_add_explicit(&((blob_impl *)b)->refs, 1, memory_order_relaxed);
}

/* Drops a reference; the last one frees the blob (charged back to the
 * tracker it was allocated under, whatever the thread). */
void orf_blob_release(orf_blob *b) {
  if (!b) return;
  blob_impl *bi = (blob_impl *)b;
  if (atomic_fetch_sub_explicit(&bi->refs, 1, memory_order_acq_rel) == 1) {
    orf_memtrack *old = orf_memtrack_set(bi->track);
    orf_free(bi);
    orf_memtrack_set(old);
  }
}

/* ---- memory tier (callers hold c->mu unless said otherwise) ----------- */

static int expired(const orf_cache *c, const mem_entry *e, double now) {
  return c->ttl_s > 0 && now - e->born > c->ttl_s;
}

/* Unindexes e and pushes it on *dead (chained through its link's hnext)
 * to be freed after the lock is dropped. */
static void detach(orf_cache *c, mem_entry *e, mem_entry **dead) {
  orf_index_remove(&c->ix, &e->node.link);
  c->bytes -= e->cost;
  e->node.link.hnext = (orf_index_node *)*dead; /* the link is the first member */
  *dead = e;
}

/* Frees detached entries; caller does not hold c->mu; c->track current. */
static void free_dead(mem_entry *dead) {
  while (dead) {
    mem_entry *next = (mem_entry *)dead->node.link.hnext;
    orf_blob_release(&dead->blob->pub);
    orf_free(dead);
    dead = next;
  }
}

/* Makes room for `cost` more bytes, least recently used first. */
static void evict_for(orf_cache *c, size_t cost, mem_entry **dead) {
  while (c->bytes + cost > c->max_bytes) {
    mem_entry *o = (mem_entry *)orf_index_oldest(&c->ix);
    if (!o) break;
    detach(c, o, dead);
    c->evictions++;
  }
}

/* Drops expired entries among the least recently used few. */
static void expire_some(orf_cache *c, double now, mem_entry **dead) {
  if (c->ttl_s <= 0) return;
  orf_index_node *n = c->ix.lru.prev;
  for (int i = 0; i < EXPIRE_SCAN && n != &c->ix.lru; i++) {
    orf_index_node *prev = n->prev;
    if (expired(c, (mem_entry *)n, now)) {
      detach(c, (mem_entry *)n, dead);
      c->evictions++;
    }
    n = prev;
  }
}

/* Whether an entry of `payload` bytes may live in memory; sets *cost. */
static int fits(const orf_cache *c, size_t payload, size_t *cost) {
  if (payload > SIZE_MAX - ENTRY_OVERHEAD) return 0;
  *cost = payload + ENTRY_OVERHEAD;
  return *cost <= c->max_bytes;
}

/* Indexes e (its key, blob and cost set), replacing any entry of its key. */
static void insert(orf_cache *c, mem_entry *e, double now, mem_entry **dead) {
  orf_index_node *old = orf_index_find(&c->ix, e->node.key);
  if (old) detach(c, (mem_entry *)old, dead);
  expire_some(c, now, dead);
  evict_for(c, e->cost, dead);
  e->born = now;
  orf_index_insert(&c->ix, &e->node.link);
  c->bytes += e->cost;
}

/* ---- public ---------------------------------------------------------- */

/* Opens the cache; the tracker current on this thread (may be NULL) is
 * charged with all its memory from now on and must outlive it and every
 * blob it hands out.  *out is freed with orf_cache_close(). */
int orf_cache_open(orf_cache **out, const orf_cache_config *cfg) {
  if (!out || !cfg) return ORF_EINVAL;
  *out = NULL;
  orf_memtrack *track = orf_memtrack_get();
  orf_cache *c = orf_calloc(1, sizeof *c);
  if (!c) return ORF_ENOMEM;
  if (orf_index_init(&c->ix, ORF_CACHE_KEY_OFFSET)) {
    orf_free(c);
    return ORF_ENOMEM;
  }
  c->track = track;
  c->max_bytes = cfg->mem_max_bytes;
  c->ttl_s = cfg->ttl_s > 0 ? cfg->ttl_s : 0;
  c->disk_max_bytes = cfg->disk_max_bytes;
  if (cfg->dir && cfg->dir[0]) {
    if (orf_cache_disk_open(&c->disk, cfg->dir, cfg->disk_max_bytes, c->disk_why, sizeof c->disk_why)) {
      orf_index_fini(&c->ix);
      orf_free(c);
      return ORF_ENOMEM;
    }
    c->disk_failed = c->disk == NULL;
    if (c->disk && orf_cache_disk_scrub_start(c->disk, cfg->scrub_bytes_per_s)) {
      orf_cache_disk_close(c->disk);
      orf_index_fini(&c->ix);
      orf_free(c);
      return ORF_ENOMEM;
    }
  }
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return ORF_OK;
}

/* Frees the cache; blobs still held stay valid until released. */
void orf_cache_close(orf_cache *c) {
  if (!c) return;
  orf_memtrack *old = orf_memtrack_set(c->track);
  mem_entry *dead = NULL;
  orf_index_node *n;
  while ((n = orf_index_oldest(&c->ix)))
    detach(c, (mem_entry *)n, &dead);
  free_dead(dead);
  orf_index_fini(&c->ix);
  orf_cache_disk_close(c->disk);
  pthread_mutex_destroy(&c->mu);
  orf_free(c);
  orf_memtrack_set(old);
}

/* Stores a copy of data under (hash, name): disk first (when configured;
 * a failed write is only recorded), then memory when it fits in
 * mem_max_bytes.  ORF_OK, ORF_EINVAL (bad key, or data NULL with size > 0)
 * or ORF_ENOMEM (nothing changed). */
int orf_cache_put(orf_cache *c, const char *hash, const char *name, const void *data, size_t size) {
  char key[ORF_CACHE_KEY_SIZE];
  if (!c || orf_cache__make_key(key, hash, name) || (!data && size)) return ORF_EINVAL;
  orf_memtrack *old_track = orf_memtrack_set(c->track);
  int rc = ORF_OK;
  size_t cost = 0;
  int keep = fits(c, size, &cost);
  blob_impl *b = NULL;
  mem_entry *e = NULL;
  if (keep) {
    b = blob_new(c->track, size);
    e = orf_malloc(sizeof *e);
    if (!b || !e) {
      rc = ORF_ENOMEM;
      goto out;
    }
    if (size) memcpy(b + 1, data, size);
    memset(e, 0, sizeof *e);
    memcpy(e->node.key, key, sizeof key);
    e->blob = b;
    e->cost = cost;
  }
  if (c->disk && orf_cache_disk_put(c->disk, key, data, size) == ORF_ENOMEM) {
    rc = ORF_ENOMEM;
    goto out;
  }

  mem_entry *dead = NULL;
  double now = orf_now_mono();
  pthread_mutex_lock(&c->mu);
  if (keep) {
    insert(c, e, now, &dead);
  } else {
    /* too big for memory: only drop an older version */
    orf_index_node *o = orf_index_find(&c->ix, key);
    if (o) detach(c, (mem_entry *)o, &dead);
    expire_some(c, now, &dead);
  }
  pthread_mutex_unlock(&c->mu);
  free_dead(dead);
  b = NULL;
  e = NULL;
out:
  if (b) orf_blob_release(&b->pub);
  orf_free(e);
  orf_memtrack_set(old_track);
  return rc;
}

/* Memory first (an expired entry is dropped), then disk: a disk entry is
 * verified on first use and kept in memory when it fits.  *blob is a new
 * reference.  Counts a hit or miss when count != 0 (errors count nothing).
 * An entry found corrupt is deleted and reported as ORF_SRV_ENOTFOUND. */
int orf_cache_get(orf_cache *c, const char *hash, const char *name, int count, orf_blob **blob) {
  char key[ORF_CACHE_KEY_SIZE];
  if (blob) *blob = NULL;
  if (!c || !blob || orf_cache__make_key(key, hash, name)) return ORF_EINVAL;
  orf_memtrack *old_track = orf_memtrack_set(c->track);
  mem_entry *dead = NULL;
  int rc = ORF_OK;

  double now = orf_now_mono();
  pthread_mutex_lock(&c->mu);
  mem_entry *e = (mem_entry *)orf_index_find(&c->ix, key);
  if (e && expired(c, e, now)) {
    detach(c, e, &dead);
    c->evictions++;
    e = NULL;
  }
  if (e) {
    orf_index_touch(&c->ix, &e->node.link);
    orf_blob_retain(&e->blob->pub);
    *blob = &e->blob->pub;
    if (count) c->hits++;
  } else if (!c->disk) {
    if (count) c->misses++;
    rc = ORF_SRV_ENOTFOUND;
  }
  pthread_mutex_unlock(&c->mu);
  if (*blob || rc != ORF_OK) goto out;

  void *block;
  size_t size;
  rc = orf_cache_disk_load(c->disk, key, sizeof(blob_impl), &block, &size);
  if (rc == ORF_SRV_ECORRUPT) rc = ORF_SRV_ENOTFOUND;
  if (rc != ORF_OK) {
    if (rc == ORF_SRV_ENOTFOUND && count) {
      pthread_mutex_lock(&c->mu);
      c->misses++;
      pthread_mutex_unlock(&c->mu);
    }
    goto out;
  }
  blob_impl *b = block;
  b->pub.data = (const uint8_t *)(b + 1);
  b->pub.size = size;
  atomic_init(&b->refs, 1);
  b->track = c->track;

  size_t cost = 0;
  /* no room for the entry record: served all the same, just not kept */
  e = fits(c, size, &cost) ? orf_malloc(sizeof *e) : NULL;
  if (e) {
    memset(e, 0, sizeof *e);
    memcpy(e->node.key, key, sizeof key);
    e->cost = cost;
  }
  now = orf_now_mono();
  pthread_mutex_lock(&c->mu);
  mem_entry *other = (mem_entry *)orf_index_find(&c->ix, key);
  if (other && !expired(c, other, now)) {
    /* another thread stored it meanwhile: serve that one */
    orf_index_touch(&c->ix, &other->node.link);
    orf_blob_retain(&other->blob->pub);
    *blob = &other->blob->pub;
  } else {
    if (e) {
      orf_blob_retain(&b->pub);
      e->blob = b;
      insert(c, e, now, &dead);
      e = NULL;
    }
    *blob = &b->pub;
    b = NULL;
  }
  if (count) c->hits++;
  pthread_mutex_unlock(&c->mu);
  if (b) orf_blob_release(&b->pub);
  orf_free(e);
out:
  free_dead(dead);
  orf_memtrack_set(old_track);
  return rc;
}

/* Disk only: a descriptor on the verified file; see cache.h.  Also
 * ORF_ENOMEM when the checksum context cannot be allocated. */
int orf_cache_open_fd(orf_cache *c, const char *hash, const char *name, int *fd, off_t *offset,
                      size_t *size) {
  char key[ORF_CACHE_KEY_SIZE];
  if (!c || !fd || !offset || !size || orf_cache__make_key(key, hash, name)) return ORF_EINVAL;
  *fd = -1;
  *offset = 0;
  *size = 0;
  if (!c->disk) return ORF_SRV_ENOTFOUND;
  orf_memtrack *old_track = orf_memtrack_set(c->track);
  int rc = orf_cache_disk_open_fd(c->disk, key, fd, offset, size);
  orf_memtrack_set(old_track);
  return rc == ORF_SRV_ECORRUPT ? ORF_SRV_ENOTFOUND : rc;
}

/* 1 when (hash, name) is in memory (unexpired) or on disk, else 0; name
 * NULL: any entry of hash.  A bad hash or name: 0.  Counts nothing. */
int orf_cache_has(orf_cache *c, const char *hash, const char *name) {
  if (!c || !orf_cache__valid_hash(hash) || (name && !orf_cache__valid_name(name))) return 0;
  int found = 0;
  double now = orf_now_mono();
  pthread_mutex_lock(&c->mu);
  if (name) {
    char key[ORF_CACHE_KEY_SIZE];
    orf_cache__make_key(key, hash, name);
    mem_entry *e = (mem_entry *)orf_index_find(&c->ix, key);
    found = e && !expired(c, e, now);
  } else {
    for (orf_index_node *n = c->ix.lru.next; n != &c->ix.lru && !found; n = n->next)
      found = memcmp(orf_cache__node_of(n)->key, hash, ORF_CACHE_HASH_LEN) == 0 &&
              !expired(c, (mem_entry *)n, now);
  }
  pthread_mutex_unlock(&c->mu);
  if (!found && c->disk) found = orf_cache_disk_has(c->disk, hash, name);
  return found;
}

void orf_cache_note_lookup(orf_cache *c, int hit) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  if (hit)
    c->hits++;
  else
    c->misses++;
  pthread_mutex_unlock(&c->mu);
}

void orf_cache_note_coalesced(orf_cache *c) {
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  c->coalesced++;
  pthread_mutex_unlock(&c->mu);
}

/* Empties both tiers; *removed (may be NULL) gets the distinct keys
 * removed.  Entries put while it runs may or may not survive.  ORF_OK. */
int orf_cache_clear(orf_cache *c, size_t *removed) {
  if (removed) *removed = 0;
  if (!c) return ORF_EINVAL;
  orf_memtrack *old_track = orf_memtrack_set(c->track);
  mem_entry *dead = NULL;
  size_t n = 0;
  pthread_mutex_lock(&c->mu);
  orf_index_node *o;
  while ((o = orf_index_oldest(&c->ix))) {
    detach(c, (mem_entry *)o, &dead);
    n++;
  }
  pthread_mutex_unlock(&c->mu);
  if (c->disk) {
    /* keys in both tiers count once */
    for (mem_entry *e = dead; e; e = (mem_entry *)e->node.link.hnext)
      orf_cache_disk_remove(c->disk, e->node.key);
    n += orf_cache_disk_clear(c->disk);
  }
  free_dead(dead);
  orf_memtrack_set(old_track);
  if (removed) *removed = n;
  return ORF_OK;
}

/* A snapshot of both tiers (not atomic across them).  evictions counts
 * memory evictions (LRU and TTL) and disk evictions; disk_ok is 1 when no
 * dir was configured, 0 when it was and cannot be used. */
void orf_cache_stats_get(orf_cache *c, orf_cache_stats *st) {
  memset(st, 0, sizeof *st);
  if (!c) return;
  pthread_mutex_lock(&c->mu);
  st->entries = c->ix.count;
  st->bytes = c->bytes;
  st->max_bytes = c->max_bytes;
  st->hits = c->hits;
  st->misses = c->misses;
  st->evictions = c->evictions;
  st->coalesced = c->coalesced;
  st->ttl_s = c->ttl_s;
  pthread_mutex_unlock(&c->mu);
  st->disk_max_bytes = c->disk_max_bytes;
  st->disk_ok = !c->disk_failed;
  if (c->disk_failed) snprintf(st->last_disk_error, sizeof st->last_disk_error, "%s", c->disk_why);
  if (c->disk) {
    orf_cache_disk_stats ds;
    orf_cache_disk_stats_get(c->disk, &ds);
    st->disk_entries = ds.entries;
    st->disk_bytes = ds.bytes;
    st->evictions += ds.evictions;
    st->corrupt = ds.corrupt;
    st->scrub_checked = ds.scrub_checked;
    st->scrub_damaged = ds.scrub_damaged;
    st->disk_ok = ds.ok;
    memcpy(st->last_disk_error, ds.last_error, sizeof st->last_disk_error);
  }
}
