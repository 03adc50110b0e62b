/*
 * cache.h - the request deduplication cache: results of finished jobs,
 * keyed by request hash (64 hex digits of SHA-256, see docs/API.md
 * "Deduplication") and an entry name ("meta.json", "final_optimized.ply",
 * "final_optimized.glb", ...).
 *
 * Two tiers:
 *  - memory: bounded by bytes (mem_max_bytes), least recently used out
 *    first, entries older than ttl_s dropped (on access and on put);
 *  - disk (when dir is set): one file per entry under
 *    dir/<hash[0..1]>/<hash>/<name>, content-addressed, written atomically
 *    (temporary file, fsync, rename, fsync of the directory) so a crash never
 *    leaves a partial entry under the final name; each file starts with a
 *    fixed header (magic, payload size, SHA-256 of the payload) so a
 *    truncated or altered file is detected, deleted and reported as a miss,
 *    never served; bounded by bytes (disk_max_bytes) with least recently
 *    used eviction; scanned at open so it survives a restart (files that are
 *    not valid entries - leftovers of a crash - are removed).
 * A disk error (full, unwritable) never fails a put: the entry stays in
 * memory, the condition is counted and reported by orf_cache_stats
 * (disk_ok = 0, last_disk_error).
 * Thread-safe: every function may be called from any thread.
 * Memory: everything the cache holds, blobs included, is charged to the
 * orf_memtrack current when orf_cache_open() ran (open it with none set),
 * never to the thread that happens to put or release.
 */
#ifndef ORF_CACHE_H
#define ORF_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct orf_cache orf_cache;

typedef struct orf_cache_config {
  const char *dir;          /* disk tier root, created if missing; NULL: memory only */
  size_t mem_max_bytes;     /* memory tier bound */
  size_t disk_max_bytes;    /* disk tier bound */
  double ttl_s;             /* memory tier time to live; <= 0: no expiry */
  double scrub_bytes_per_s; /* disk tier scrubber's rate (cache_disk.h); <= 0: none */
} orf_cache_config;

/* An immutable cached object, shared by reference count. */
typedef struct orf_blob {
  const uint8_t *data;
  size_t size;
} orf_blob;

typedef struct orf_cache_stats {
  size_t entries, bytes, max_bytes;                /* memory tier */
  size_t disk_entries, disk_bytes, disk_max_bytes; /* disk tier */
  uint64_t hits, misses, evictions, coalesced, corrupt;
  uint64_t scrub_checked, scrub_damaged; /* disk files the scrubber read, and found damaged */
  double ttl_s;
  int disk_ok;               /* 0 after a disk write failed, until one succeeds */
  char last_disk_error[128]; /* "" when none */
} orf_cache_stats;

/* Opens the cache (scanning the disk tier).  On success *out must be freed
 * with orf_cache_close().  A dir that cannot be created or written is not an
 * error: the cache runs memory-only and says so in its stats.  Returns
 * ORF_OK or ORF_ENOMEM. */
int orf_cache_open(orf_cache **out, const orf_cache_config *cfg);
void orf_cache_close(orf_cache *c);

/* Stores a copy of data under (hash, name) in memory and, when configured,
 * on disk; replaces an older entry of that key.  hash must be 64 lowercase
 * hex digits and name match [a-z0-9_.]{1,64} without "..": anything else
 * is ORF_EINVAL (so no key can name a path outside the cache).  Returns
 * ORF_OK (also when only the disk write failed), ORF_EINVAL or ORF_ENOMEM. */
int orf_cache_put(orf_cache *c, const char *hash, const char *name, const void *data, size_t size);

/* Looks (hash, name) up: memory first, then disk (verified against its
 * checksum the first time, then kept in memory).  On success *blob is a
 * new reference the caller releases with orf_blob_release().  Counts a hit
 * or a miss when count is non-zero.  Returns ORF_OK, ORF_SRV_ENOTFOUND
 * (also for an entry found corrupt, which is deleted), ORF_EINVAL or
 * ORF_ENOMEM. */
int orf_cache_get(orf_cache *c, const char *hash, const char *name, int count, orf_blob **blob);

/* For zero-copy serving: a read-only descriptor on the disk file of
 * (hash, name), positioned nowhere, with the payload at *offset and *size
 * bytes long.  The file is verified (checksum) once per process before its
 * first descriptor is handed out.  Counts no hit (the HTTP layer counts
 * with orf_cache_get of meta.json).  The caller closes *fd.  Returns
 * ORF_OK, ORF_SRV_ENOTFOUND (no disk tier, not on disk, or corrupt),
 * ORF_EINVAL, ORF_ENOMEM. */
int orf_cache_open_fd(orf_cache *c, const char *hash, const char *name, int *fd, off_t *offset, size_t *size);

/* Whether (hash, name) exists - any entry of hash when name is NULL -
 * in memory or on disk; counts nothing. */
int orf_cache_has(orf_cache *c, const char *hash, const char *name);

void orf_blob_retain(orf_blob *b);
void orf_blob_release(orf_blob *b);

/* Counts a request-level lookup as a hit or a miss, for a caller that
 * decides what a hit is from several entries (a whole result). */
void orf_cache_note_lookup(orf_cache *c, int hit);

/* Counts a request that joined a running computation (single flight). */
void orf_cache_note_coalesced(orf_cache *c);

/* Removes every entry (memory and disk); *removed gets the number of
 * entries removed (memory and disk entries of the same key count once). */
int orf_cache_clear(orf_cache *c, size_t *removed);

void orf_cache_stats_get(orf_cache *c, orf_cache_stats *st);

#endif
