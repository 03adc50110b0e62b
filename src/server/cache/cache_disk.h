/*
 * cache_disk.h - the disk tier of the deduplication cache (cache.h), behind
 * its memory tier; keys are key.h's "hash/name".
 *
 * Disk file format (one file per entry, dir/<hash[0..1]>/<hash>/<name>):
 *   bytes  0..7   magic "ORFCACH1"
 *   bytes  8..15  payload size, uint64 little endian
 *   bytes 16..47  SHA-256 of the payload (FIPS 180-4)
 *   bytes 48..    payload
 * Files are written under ".<name>.tmp.<pid>.<tid>" in the entry's
 * directory (a leading dot, so a temporary name can never be an entry
 * name), fsync'ed, renamed over the final name, then the directory is
 * fsync'ed: the classic write-rename protocol, so a crash leaves either the
 * old entry, the new one, or a temporary file that the next scan removes.
 *
 * Not part of the server's interface: only cache.c includes this.
 */
#ifndef ORF_CACHE_DISK_H
#define ORF_CACHE_DISK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* bytes in front of the payload in a disk file */
#define ORF_CACHE_FILE_HEADER 48

typedef struct orf_cache_disk orf_cache_disk;

typedef struct orf_cache_disk_stats {
  size_t entries, bytes; /* bytes: file sizes, headers included */
  uint64_t evictions, corrupt;
  uint64_t scrub_checked, scrub_damaged; /* files the scrubber read, and found damaged */
  int ok;                                /* 0 after a failed write, until one succeeds */
  char last_error[128];                  /* last failure, "" when none yet */
} orf_cache_disk_stats;

/* Creates dir (and its parents) if missing, scans it: valid entries are
 * indexed (least recently used by file mtime), temporary files and files
 * that are not valid entries are removed (counted as corrupt), then the
 * oldest entries are evicted while over max_bytes.  Cheap checks only
 * (magic, size against the file size); checksums are verified on first
 * use.  When dir cannot be created, opened or written, returns ORF_OK with
 * *out = NULL and the reason in why (the cache runs memory-only).  Returns
 * ORF_OK or ORF_ENOMEM (nothing left allocated). */
int orf_cache_disk_open(orf_cache_disk **out, const char *dir, size_t max_bytes, char *why, size_t why_size);
void orf_cache_disk_close(orf_cache_disk *d);

/* Writes data as key's file (atomically, see above) and indexes it,
 * replacing an older version; evicts least recently used files while over
 * the bound.  A file larger than the bound alone is not written (and an
 * older version is removed).  Returns ORF_OK, ORF_ENOMEM (before touching
 * any file) or ORF_EIO (the failure is recorded in the stats, an older
 * version of key is removed so it cannot be served instead). */
int orf_cache_disk_put(orf_cache_disk *d, const char *key, const void *data, size_t size);

/* Starts the scrubber: a thread that reads every indexed file again, one
 * pass after another, at most bytes_per_s on average, and deletes the ones
 * that fail their checksum; orf_cache_disk_close stops it.  0 or less: no
 * scrubber.  Returns ORF_OK, or ORF_ENOMEM when no thread could start. */
int orf_cache_disk_scrub_start(orf_cache_disk *d, double bytes_per_s);

/* Reads key's payload into a new orf_malloc block of prefix + size bytes,
 * the payload at block + prefix (the caller frees it with orf_free).  The
 * file's checksum is verified on its first use by this process and again
 * whenever the file's identity (device, inode, size, mtime, ctime) is not
 * the one it had when last verified.
 * Returns ORF_OK, ORF_SRV_ENOTFOUND, ORF_SRV_ECORRUPT (the file failed its
 * checks and was deleted) or ORF_ENOMEM. */
int orf_cache_disk_load(orf_cache_disk *d, const char *key, size_t prefix, void **block, size_t *size);

/* A read-only descriptor on key's file, the payload at *offset, *size
 * bytes; verified first as orf_cache_disk_load.  The caller closes *fd.
 * Returns ORF_OK, ORF_SRV_ENOTFOUND, ORF_SRV_ECORRUPT or ORF_ENOMEM. */
int orf_cache_disk_open_fd(orf_cache_disk *d, const char *key, int *fd, off_t *offset, size_t *size);

/* 1 when (hash, name) is indexed; name NULL: any entry of hash. */
int orf_cache_disk_has(orf_cache_disk *d, const char *hash, const char *name);

/* Deletes key's file; returns 1 when it was indexed, else 0. */
int orf_cache_disk_remove(orf_cache_disk *d, const char *key);

/* Deletes every indexed file and the empty entry directories; returns the
 * number of entries removed. */
size_t orf_cache_disk_clear(orf_cache_disk *d);

void orf_cache_disk_stats_get(orf_cache_disk *d, orf_cache_disk_stats *st);

#endif
