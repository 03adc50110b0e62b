/*
 * cache_disk.c - the disk tier of the deduplication cache (see
 * cache_disk.h for the file format); its keys are key.h's, its index
 * index.h's, both shared with the memory tier.
 *
 * Durability follows the write-temporary / fsync / rename / fsync-directory
 * protocol (as in LevelDB's and Git's object stores): rename(2) is atomic,
 * so a reader sees the old file or the new one, never a mix, and a crash
 * leaves at worst a temporary file, which the scan at open removes.
 * Integrity: a 48-byte header carries the payload size (checked against the
 * file size at every open: catches truncation cheaply) and its SHA-256.
 * The checksum is verified on a file's first use, and again whenever the
 * file's identity - device, inode, size, mtime and ctime, from fstat(2) of
 * the descriptor about to be used - differs from the one it had when it was
 * last verified or written: any write to the file, or a file put in its
 * place, changes its ctime, which no unprivileged process can set back, so
 * a file altered after it was checked is checked again before a byte of it
 * is served (the principle of git's index and rsync's quick check, turned
 * to integrity).  Damage that leaves the identity alone (a bad disk
 * sector, or a write by someone who can also reset the clock) is found by
 * the scrubber: a thread that re-reads every file at a bounded rate
 * (--cache-scrub-mb-s), as ZFS and Btrfs scrubs do.  A file that fails is
 * deleted, never served, and its result computed again when next asked.
 *
 * Every path is relative to a descriptor on the cache root (openat & co.,
 * O_NOFOLLOW), and built only from validated keys, so no path can leave the
 * cache directory.  Locking: one mutex guards the index; file data is
 * written, read and hashed outside it; renames and unlinks happen under it
 * so that the index and the directory tree agree.  Each indexed file has a
 * generation number, so a thread that read a file outside the lock only
 * drops or marks the entry if it has not been replaced meanwhile.  A rmdir
 * of an empty entry directory may race with a writer that just created it:
 * the writer sees ENOENT and creates it again.
 */
#include "cache_disk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "index.h"
#include "key.h"
#include "log.h"
#include "orfeas.h"
#include "util.h"

#define MAGIC "ORFCACH1"
#define HDR ORF_CACHE_FILE_HEADER
/* "ab/<hash>/<name>" and its NUL */
#define REL_SIZE (3 + ORF_CACHE_KEY_SIZE)
/* ".<name>.tmp.<pid>.<tid>" and its NUL */
#define TMP_SIZE (ORF_CACHE_NAME_MAX + 64)
/* a file's mtime is refreshed when it is used this long after the last
 * refresh, so that the LRU order survives a restart without a write per hit */
#define TOUCH_INTERVAL_S 60.0

/* SHA-256 of data (OpenSSL EVP). */
static void sha256(const void *data, size_t size, uint8_t out[32]) {
  unsigned int len = 32;
  static const uint8_t empty = 0;
  if (!EVP_Digest(size ? data : &empty, size, out, &len, EVP_sha256(), NULL)) memset(out, 0, 32);
}

/* ---- disk tier: state ------------------------------------------------- */

/* What fstat(2) says about a file that changes when its bytes do. */
typedef struct file_id {
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime, ctime;
} file_id;

typedef struct disk_entry {
  orf_cache__node node; /* first: the index hands out its link (key.h) */
  uint64_t file_size;   /* header + payload */
  uint64_t gen;         /* changes each time the file is replaced */
  double stamp;         /* last use, wall-clock seconds (mtime at scan) */
  int verified;         /* checksum checked (or written) by this process... */
  file_id id;           /* ...while the file had this identity */
} disk_entry;

struct orf_cache_disk {
  pthread_mutex_t mu;
  int root; /* O_DIRECTORY descriptor of the cache dir */
  orf_index ix;
  size_t bytes, max_bytes;
  uint64_t gen, evictions, corrupt;
  int ok;
  char last_error[128];
  /* the scrubber (orf_cache_disk_scrub_start) */
  pthread_t scrubber;
  int scrubbing, stop; /* stop: under mu, signalled on scrub_cv */
  pthread_cond_t scrub_cv;
  double scrub_bytes_per_s;
  uint64_t scrub_checked, scrub_damaged;
};

static void id_of(const struct stat *st, file_id *id) {
  memset(id, 0, sizeof *id);
  id->dev = st->st_dev;
  id->ino = st->st_ino;
  id->size = st->st_size;
  id->mtime = st->st_mtim;
  id->ctime = st->st_ctim;
}

static int same_id(const file_id *a, const file_id *b) {
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
         a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
         a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* A directory of the cache, relative to its root ("." for the root
 * itself): never through a symbolic link.  A descriptor, or -1 (errno). */
static int open_dir(orf_cache_disk *d, const char *rel) {
  return openat(d->root, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static double now_real(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void put_le64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--)
    v = (v << 8) | p[i];
  return v;
}

/* "ab/<hash>/<name>" for key "<hash>/<name>"; dir_len gets the length of
 * "ab/<hash>". */
static void rel_path(char out[REL_SIZE], const char *key) {
  out[0] = key[0];
  out[1] = key[1];
  out[2] = '/';
  strcpy(out + 3, key);
}
#define REL_DIR_LEN (3 + ORF_CACHE_HASH_LEN)

static void errtext(char *out, size_t size, const char *what, int err) {
  char buf[96];
  const char *s = strerror_r(err, buf, sizeof buf);
  snprintf(out, size, "%s: %s", what, s);
}

/* Why the cache dir is unusable: the reason first, so that a long path is
 * what gets cut. */
static void dir_errtext(char *out, size_t size, const char *what, int err, const char *dir) {
  char buf[96];
  const char *s = strerror_r(err, buf, sizeof buf);
  snprintf(out, size, "%s: %s (%s)", what, s, dir);
}

/* Records a failed disk operation.  Caller holds d->mu.  Returns 1 when
 * the tier was fine until now (the caller then logs it, once, after
 * unlocking: see log_change). */
static int set_error_locked(orf_cache_disk *d, const char *what, int err) {
  int was_ok = d->ok;
  d->ok = 0;
  errtext(d->last_error, sizeof d->last_error, what, err);
  return was_ok;
}

/* Logs a change of the tier's state - the first failure after a good
 * spell, or the first success after failures - so a full disk is one log
 * line, not one per request.  Called without d->mu. */
static void log_change(int failed, const char *error) {
  if (failed)
    orf_log_json("error", "disk_write_failed", json_pack("{s:s}", "error", error));
  else
    orf_log_json("info", "disk_write_recovered", NULL);
}

/* Deletes n's file and unindexes and frees n; removes its directories when
 * they become empty.  Caller holds d->mu. */
static void drop_locked(orf_cache_disk *d, disk_entry *n) {
  char rel[REL_SIZE];
  rel_path(rel, n->node.key);
  unlinkat(d->root, rel, 0);
  rel[REL_DIR_LEN] = '\0';
  unlinkat(d->root, rel, AT_REMOVEDIR); /* fails while not empty: fine */
  rel[2] = '\0';
  unlinkat(d->root, rel, AT_REMOVEDIR);
  orf_index_remove(&d->ix, &n->node.link);
  d->bytes -= n->file_size;
  orf_free(n);
}

/* Evicts least recently used files, never `keep`, while over the bound.
 * Caller holds d->mu. */
static void evict_locked(orf_cache_disk *d, const disk_entry *keep) {
  while (d->bytes > d->max_bytes) {
    disk_entry *o = (disk_entry *)orf_index_oldest(&d->ix);
    if (!o || o == keep) break;
    drop_locked(d, o);
    d->evictions++;
  }
}

/* Drops key's entry if it is still generation gen (it failed a check);
 * counts it as corrupt. */
static void drop_corrupt(orf_cache_disk *d, const char *key, uint64_t gen) {
  pthread_mutex_lock(&d->mu);
  disk_entry *n = (disk_entry *)orf_index_find(&d->ix, key);
  if (n && n->gen == gen) {
    drop_locked(d, n);
    d->corrupt++;
  }
  pthread_mutex_unlock(&d->mu);
}

/* Records that key's file (if still generation gen) matched its checksum
 * while it had identity id (taken before it was read). */
static void mark_verified(orf_cache_disk *d, const char *key, uint64_t gen, const file_id *id) {
  pthread_mutex_lock(&d->mu);
  disk_entry *n = (disk_entry *)orf_index_find(&d->ix, key);
  if (n && n->gen == gen) {
    n->verified = 1;
    n->id = *id;
  }
  pthread_mutex_unlock(&d->mu);
}

static int write_all(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads exactly n bytes at off; -1 on an error or a short file. */
static int read_at(int fd, void *buf, size_t n, off_t off) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = pread(fd, p, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
    off += r;
  }
  return 0;
}

/* Checks the header of an open entry file against its size.  On success
 * *payload gets the payload size and sha the stored checksum. */
static int check_header(int fd, uint64_t *payload, uint8_t sha[32]) {
  struct stat st;
  uint8_t hdr[HDR];
  if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < HDR) return -1;
  if (read_at(fd, hdr, HDR, 0)) return -1;
  if (memcmp(hdr, MAGIC, 8) != 0) return -1;
  uint64_t size = get_le64(hdr + 8);
  if (size != (uint64_t)st.st_size - HDR) return -1;
  *payload = size;
  if (sha) memcpy(sha, hdr + 16, 32);
  return 0;
}

/* ---- disk tier: scan at open ----------------------------------------- */

static int is_hex2(const char *s) { return orf_is_hex(s, 2); }

static int is_dots(const char *s) { return strcmp(s, ".") == 0 || strcmp(s, "..") == 0; }

/* A stream on the cache's directory rel (open_dir: never through a link),
 * or NULL; *dfd is its descriptor, closed with it by closedir(). */
static DIR *open_dir_stream(orf_cache_disk *d, const char *rel, int *dfd) {
  *dfd = open_dir(d, rel);
  if (*dfd < 0) return NULL;
  DIR *dir = fdopendir(*dfd);
  if (!dir) close(*dfd);
  return dir;
}

/* What a scan does with one entry (name in dfd; st, its lstat; arg, the
 * scan's): ORF_OK to go on. */
typedef int (*entry_fn)(orf_cache_disk *d, int dfd, const char *name, const struct stat *st, const char *arg);

/* Calls fn on each entry of the cache's directory rel but "." and ".." (one
 * that cannot be stat'ed is passed over) until one answers other than
 * ORF_OK, then removes rel if it is empty.  Returns that answer (ORF_OK
 * when rel cannot be opened). */
static int walk_dir(orf_cache_disk *d, const char *rel, entry_fn fn, const char *arg) {
  int dfd;
  DIR *dir = open_dir_stream(d, rel, &dfd);
  if (!dir) return ORF_OK;
  int rc = ORF_OK;
  struct dirent *ent;
  struct stat st;
  while (rc == ORF_OK && (ent = readdir(dir)))
    if (!is_dots(ent->d_name) && fstatat(dfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
      rc = fn(d, dfd, ent->d_name, &st, arg);
  closedir(dir);
  unlinkat(d->root, rel, AT_REMOVEDIR); /* only when empty */
  return rc;
}

/* One entry of "ab/<hash>" (arg: the hash): a valid entry file is
 * indexed, anything else that is not a directory removed.  ORF_OK or
 * ORF_ENOMEM. */
static int scan_entry_file(orf_cache_disk *d, int dfd, const char *name, const struct stat *st,
                           const char *hash) {
  if (S_ISDIR(st->st_mode)) return ORF_OK; /* not ours to judge: left alone */
  int valid = 0;
  if (S_ISREG(st->st_mode) && orf_cache__valid_name(name)) {
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    uint64_t payload;
    if (fd >= 0) {
      valid = check_header(fd, &payload, NULL) == 0;
      close(fd);
    }
  }
  if (!valid) {
    unlinkat(dfd, name, 0);
    d->corrupt++;
    return ORF_OK;
  }
  disk_entry *n = orf_malloc(sizeof *n);
  if (!n) return ORF_ENOMEM;
  memset(n, 0, sizeof *n);
  orf_cache__make_key(n->node.key, hash, name);
  n->file_size = (uint64_t)st->st_size;
  n->gen = ++d->gen;
  n->stamp = (double)st->st_mtim.tv_sec + st->st_mtim.tv_nsec * 1e-9;
  orf_index_insert(&d->ix, &n->node.link);
  d->bytes += n->file_size;
  return ORF_OK;
}

/* Indexes the files of "ab/<hash>" (both checked by the caller). */
static int scan_entry_dir(orf_cache_disk *d, const char *ab, const char *hash) {
  char rel[REL_DIR_LEN + 1]; /* "ab/<hash>" */
  memcpy(rel, ab, 2);
  rel[2] = '/';
  memcpy(rel + 3, hash, ORF_CACHE_HASH_LEN + 1);
  return walk_dir(d, rel, scan_entry_file, hash);
}

/* One entry of "ab" (arg: ab): an entry directory is scanned, a stray
 * file removed, any other directory left alone. */
static int scan_prefix_entry(orf_cache_disk *d, int dfd, const char *name, const struct stat *st,
                             const char *ab) {
  if (S_ISDIR(st->st_mode))
    return orf_cache__valid_hash(name) && memcmp(name, ab, 2) == 0 ? scan_entry_dir(d, ab, name) : ORF_OK;
  unlinkat(dfd, name, 0);
  d->corrupt++;
  return ORF_OK;
}

/* Scans "ab": entry directories are indexed, stray files removed. */
static int scan_prefix_dir(orf_cache_disk *d, const char *ab) {
  return walk_dir(d, ab, scan_prefix_entry, ab);
}

static int by_stamp(const void *a, const void *b) {
  const disk_entry *x = *(disk_entry *const *)a, *y = *(disk_entry *const *)b;
  if (x->stamp != y->stamp) return x->stamp < y->stamp ? -1 : 1;
  return strcmp(x->node.key, y->node.key);
}

/* Walks root's two-digit directories only: anything else in the cache dir
 * (a file the operator put there) is left alone. */
static int scan(orf_cache_disk *d) {
  int fd;
  DIR *dir = open_dir_stream(d, ".", &fd);
  if (!dir) return ORF_OK;
  int rc = ORF_OK;
  struct dirent *ent;
  while (rc == ORF_OK && (ent = readdir(dir))) {
    if (is_hex2(ent->d_name)) rc = scan_prefix_dir(d, ent->d_name);
  }
  closedir(dir);
  if (rc != ORF_OK || d->ix.count == 0) return rc;

  /* LRU order from the mtimes: oldest linked first, so it ends last */
  disk_entry **all = orf_malloc_array(d->ix.count, sizeof *all);
  if (!all) return ORF_ENOMEM;
  size_t k = 0;
  for (orf_index_node *n = d->ix.lru.next; n != &d->ix.lru; n = n->next)
    all[k++] = (disk_entry *)n;
  qsort(all, k, sizeof *all, by_stamp);
  for (size_t i = 0; i < k; i++)
    orf_index_touch(&d->ix, &all[i]->node.link);
  orf_free(all);
  evict_locked(d, NULL);
  return ORF_OK;
}

/* mkdir -p for an absolute or relative path; 0 or -1 with errno set. */
static int mkdir_parents(const char *dir) {
  size_t len = strlen(dir);
  char *p = orf_malloc(len + 1);
  if (!p) {
    errno = ENOMEM;
    return -1;
  }
  memcpy(p, dir, len + 1);
  int err = 0;
  for (size_t i = 1; i <= len && err == 0; i++) {
    if (p[i] != '/' && p[i] != '\0') continue;
    char save = p[i];
    p[i] = '\0';
    if (mkdir(p, 0755) && errno != EEXIST) err = errno;
    p[i] = save;
  }
  orf_free(p);
  errno = err;
  return err ? -1 : 0;
}

static void free_all(orf_cache_disk *d) {
  orf_index_node *n = d->ix.lru.next;
  while (n && n != &d->ix.lru) {
    orf_index_node *next = n->next;
    orf_free(n);
    n = next;
  }
  orf_index_fini(&d->ix);
}

int orf_cache_disk_open(orf_cache_disk **out, const char *dir, size_t max_bytes, char *why, size_t why_size) {
  *out = NULL;
  if (why_size) why[0] = '\0';
  if (!dir || !dir[0]) {
    snprintf(why, why_size, "no data directory");
    return ORF_OK;
  }
  if (mkdir_parents(dir)) {
    if (errno == ENOMEM) return ORF_ENOMEM;
    dir_errtext(why, why_size, "mkdir", errno, dir);
    return ORF_OK;
  }
  int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) {
    dir_errtext(why, why_size, "open", errno, dir);
    return ORF_OK;
  }
  if (faccessat(root, ".", W_OK | X_OK, 0)) {
    dir_errtext(why, why_size, "access", errno, dir);
    close(root);
    return ORF_OK;
  }
  orf_cache_disk *d = orf_calloc(1, sizeof *d);
  if (!d) {
    close(root);
    return ORF_ENOMEM;
  }
  if (orf_index_init(&d->ix, ORF_CACHE_KEY_OFFSET)) {
    orf_free(d);
    close(root);
    return ORF_ENOMEM;
  }
  d->root = root;
  d->max_bytes = max_bytes;
  d->ok = 1;
  if (scan(d) != ORF_OK) {
    free_all(d);
    orf_free(d);
    close(root);
    return ORF_ENOMEM;
  }
  pthread_mutex_init(&d->mu, NULL);
  orf_cond_init_mono(&d->scrub_cv);
  *out = d;
  return ORF_OK;
}

void orf_cache_disk_close(orf_cache_disk *d) {
  if (!d) return;
  if (d->scrubbing) orf_thread_stop(d->scrubber, &d->mu, &d->scrub_cv, &d->stop);
  pthread_cond_destroy(&d->scrub_cv);
  free_all(d);
  close(d->root);
  pthread_mutex_destroy(&d->mu);
  orf_free(d);
}

/* ---- disk tier: put -------------------------------------------------- */

/* Creates "ab" and "ab/<hash>" when missing, making each new directory
 * durable (fsync of its parent).  0, or an errno. */
static int make_entry_dirs(orf_cache_disk *d, const char *rel_dir) {
  char ab[3] = {rel_dir[0], rel_dir[1], '\0'};
  if (mkdirat(d->root, ab, 0755) == 0)
    fsync(d->root);
  else if (errno != EEXIST)
    return errno;
  if (mkdirat(d->root, rel_dir, 0755) == 0) {
    int pfd = open_dir(d, ab);
    if (pfd >= 0) {
      fsync(pfd);
      close(pfd);
    }
  } else if (errno != EEXIST) {
    return errno;
  }
  return 0;
}

/* Removes key's entry, if any (its newer version could not be written). */
static void drop_key_locked(orf_cache_disk *d, const char *key) {
  disk_entry *old = (disk_entry *)orf_index_find(&d->ix, key);
  if (old) drop_locked(d, old);
}

int orf_cache_disk_put(orf_cache_disk *d, const char *key, const void *data, size_t size) {
  disk_entry *n = orf_malloc(sizeof *n);
  if (!n) return ORF_ENOMEM;
  memset(n, 0, sizeof *n);
  strcpy(n->node.key, key);
  if (size > d->max_bytes || d->max_bytes - size < HDR) {
    /* bigger than the whole tier: not kept on disk */
    pthread_mutex_lock(&d->mu);
    drop_key_locked(d, key);
    pthread_mutex_unlock(&d->mu);
    orf_free(n);
    return ORF_OK;
  }
  uint8_t hdr[HDR];
  memcpy(hdr, MAGIC, 8);
  put_le64(hdr + 8, size);
  sha256(data, size, hdr + 16);

  char rel[REL_SIZE], tmp[TMP_SIZE];
  rel_path(rel, key);
  const char *name = rel + REL_DIR_LEN + 1;
  rel[REL_DIR_LEN] = '\0'; /* rel is now "ab/<hash>" */
  snprintf(tmp, sizeof tmp, ".%s.tmp.%ld.%ld", name, (long)getpid(), (long)gettid());

  const char *what = "create";
  int err = ENOENT, dfd = -1, fd = -1;
  /* a concurrent eviction may remove the (empty) directory between our
   * mkdir and our create: then create sees ENOENT and we go again */
  for (int attempt = 0; attempt < 8 && fd < 0; attempt++) {
    if ((err = make_entry_dirs(d, rel)) != 0) {
      what = "mkdir";
      if (err == ENOENT) continue;
      goto fail;
    }
    dfd = open_dir(d, rel);
    if (dfd < 0) {
      err = errno;
      what = "open";
      if (err == ENOENT) continue;
      goto fail;
    }
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      err = errno;
      what = "create";
      close(dfd);
      dfd = -1;
      if (err != ENOENT) goto fail;
    }
  }
  if (fd < 0) goto fail;
  if (write_all(fd, hdr, HDR) || write_all(fd, data, size)) {
    err = errno;
    what = "write";
    goto fail_unlink;
  }
  if (fsync(fd)) {
    err = errno;
    what = "fsync";
    goto fail_unlink;
  }
  int cr = close(fd);
  fd = -1;
  if (cr) {
    err = errno;
    what = "close";
    goto fail_unlink;
  }

  pthread_mutex_lock(&d->mu);
  if (renameat(dfd, tmp, dfd, name)) {
    err = errno;
    pthread_mutex_unlock(&d->mu);
    what = "rename";
    goto fail_unlink;
  }
  disk_entry *old = (disk_entry *)orf_index_find(&d->ix, key);
  if (old) {
    orf_index_remove(&d->ix, &old->node.link);
    d->bytes -= old->file_size;
    orf_free(old);
  }
  n->file_size = HDR + (uint64_t)size;
  n->gen = ++d->gen;
  n->stamp = now_real();
  /* written by us from the bytes we hashed: verified as it is now */
  struct stat st;
  n->verified = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (n->verified) id_of(&st, &n->id);
  orf_index_insert(&d->ix, &n->node.link);
  d->bytes += n->file_size;
  int recovered = !d->ok;
  d->ok = 1;
  evict_locked(d, n);
  pthread_mutex_unlock(&d->mu);
  if (recovered) log_change(0, NULL);

  if (fsync(dfd)) {
    err = errno;
    char why[sizeof d->last_error];
    pthread_mutex_lock(&d->mu);
    int newly = set_error_locked(d, "fsync", err);
    memcpy(why, d->last_error, sizeof why);
    pthread_mutex_unlock(&d->mu);
    if (newly) log_change(1, why);
  }
  close(dfd);
  return ORF_OK;

fail_unlink:
  if (fd >= 0) close(fd);
  fd = -1;
  unlinkat(dfd, tmp, 0);
fail:
  if (fd >= 0) close(fd);
  if (dfd >= 0) close(dfd);
  char why[sizeof d->last_error];
  pthread_mutex_lock(&d->mu);
  int newly = set_error_locked(d, what, err);
  memcpy(why, d->last_error, sizeof why);
  drop_key_locked(d, key);
  pthread_mutex_unlock(&d->mu);
  if (newly) log_change(1, why);
  orf_free(n);
  return ORF_EIO;
}

/* ---- disk tier: reads ------------------------------------------------ */

/* Opens key's file under the lock and takes what the reader needs: its
 * generation, and whether its checksum must be verified before use (never
 * verified, or its identity is not the verified one).  use: a read, which
 * counts for the LRU order (touch: the caller refreshes the mtime); 0 for
 * the scrubber, which leaves the order alone and always verifies. */
static int open_entry(orf_cache_disk *d, const char *key, int use, int *fd, uint64_t *gen, int *must_verify,
                      file_id *id, int *touch) {
  char rel[REL_SIZE];
  rel_path(rel, key);
  pthread_mutex_lock(&d->mu);
  disk_entry *n = (disk_entry *)orf_index_find(&d->ix, key);
  if (!n) {
    pthread_mutex_unlock(&d->mu);
    return ORF_SRV_ENOTFOUND;
  }
  *fd = openat(d->root, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (*fd < 0) {
    /* removed behind our back: forget it (other errors, such as running
     * out of descriptors, leave the file alone) */
    if (errno == ENOENT) drop_locked(d, n);
    pthread_mutex_unlock(&d->mu);
    return ORF_SRV_ENOTFOUND;
  }
  *gen = n->gen;
  struct stat st;
  if (fstat(*fd, &st)) {
    close(*fd);
    pthread_mutex_unlock(&d->mu);
    return ORF_SRV_ENOTFOUND;
  }
  id_of(&st, id);
  *must_verify = !use || !n->verified || !same_id(&n->id, id);
  *touch = 0;
  if (use) {
    double now = now_real();
    *touch = now - n->stamp > TOUCH_INTERVAL_S;
    if (*touch) n->stamp = now;
    orf_index_touch(&d->ix, &n->node.link);
  }
  pthread_mutex_unlock(&d->mu);
  return ORF_OK;
}

/* Whether the payload's SHA-256 matches, reading it in pieces.  1 yes,
 * 0 no (or unreadable), -1 out of memory. */
static int verify_stream(int fd, uint64_t payload, const uint8_t want[32]) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return -1;
  int good = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
  uint8_t buf[16384];
  off_t off = HDR;
  while (good && payload) {
    size_t n = payload < sizeof buf ? (size_t)payload : sizeof buf;
    if (read_at(fd, buf, n, off) || EVP_DigestUpdate(ctx, buf, n) != 1) good = 0;
    off += (off_t)n;
    payload -= n;
  }
  uint8_t got[32];
  unsigned int len = 32;
  if (good && EVP_DigestFinal_ex(ctx, got, &len) != 1) good = 0;
  EVP_MD_CTX_free(ctx);
  return good && CRYPTO_memcmp(got, want, 32) == 0;
}

int orf_cache_disk_load(orf_cache_disk *d, const char *key, size_t prefix, void **block, size_t *size) {
  *block = NULL;
  *size = 0;
  int fd, must_verify, touch;
  uint64_t gen, payload;
  uint8_t want[32], got[32];
  file_id id;
  int rc = open_entry(d, key, 1, &fd, &gen, &must_verify, &id, &touch);
  if (rc != ORF_OK) return rc;
  if (check_header(fd, &payload, want) || payload > SIZE_MAX - prefix) goto corrupt;
  uint8_t *buf = orf_malloc((size_t)payload + prefix);
  if (!buf) {
    close(fd);
    return ORF_ENOMEM;
  }
  if (read_at(fd, buf + prefix, (size_t)payload, HDR)) {
    orf_free(buf);
    goto corrupt;
  }
  if (must_verify) {
    sha256(buf + prefix, (size_t)payload, got);
    if (CRYPTO_memcmp(got, want, 32) != 0) {
      orf_free(buf);
      goto corrupt;
    }
    mark_verified(d, key, gen, &id);
  }
  if (touch) futimens(fd, NULL);
  close(fd);
  *block = buf;
  *size = (size_t)payload;
  return ORF_OK;

corrupt:
  close(fd);
  drop_corrupt(d, key, gen);
  return ORF_SRV_ECORRUPT;
}

int orf_cache_disk_open_fd(orf_cache_disk *d, const char *key, int *fd_out, off_t *offset, size_t *size) {
  int fd, must_verify, touch;
  uint64_t gen, payload;
  uint8_t want[32];
  file_id id;
  int rc = open_entry(d, key, 1, &fd, &gen, &must_verify, &id, &touch);
  if (rc != ORF_OK) return rc;
  if (check_header(fd, &payload, want)) goto corrupt;
  if (must_verify) {
    int v = verify_stream(fd, payload, want);
    if (v < 0) {
      close(fd);
      return ORF_ENOMEM;
    }
    if (!v) goto corrupt;
    mark_verified(d, key, gen, &id);
  }
  if (touch) futimens(fd, NULL);
  *fd_out = fd;
  *offset = HDR;
  *size = (size_t)payload;
  return ORF_OK;

corrupt:
  close(fd);
  drop_corrupt(d, key, gen);
  return ORF_SRV_ECORRUPT;
}

/* ---- disk tier: the rest ---------------------------------------------- */

int orf_cache_disk_has(orf_cache_disk *d, const char *hash, const char *name) {
  int found = 0;
  pthread_mutex_lock(&d->mu);
  if (name) {
    char key[ORF_CACHE_KEY_SIZE];
    found = orf_cache__make_key(key, hash, name) == ORF_OK && orf_index_find(&d->ix, key);
  } else {
    for (orf_index_node *n = d->ix.lru.next; n != &d->ix.lru && !found; n = n->next)
      found = memcmp(orf_cache__node_of(n)->key, hash, ORF_CACHE_HASH_LEN) == 0;
  }
  pthread_mutex_unlock(&d->mu);
  return found;
}

int orf_cache_disk_remove(orf_cache_disk *d, const char *key) {
  pthread_mutex_lock(&d->mu);
  disk_entry *n = (disk_entry *)orf_index_find(&d->ix, key);
  if (n) drop_locked(d, n);
  pthread_mutex_unlock(&d->mu);
  return n != NULL;
}

/* Removes empty entry and prefix directories (a writer racing with this
 * recreates its directory, see orf_cache_disk_put). */
static void sweep_empty_dirs(orf_cache_disk *d) {
  int fd, pfd;
  DIR *top = open_dir_stream(d, ".", &fd), *sub;
  if (!top) return;
  struct dirent *ent;
  while ((ent = readdir(top))) {
    if (!is_hex2(ent->d_name) || !(sub = open_dir_stream(d, ent->d_name, &pfd))) continue;
    struct dirent *e2;
    while ((e2 = readdir(sub)))
      if (orf_cache__valid_hash(e2->d_name)) unlinkat(pfd, e2->d_name, AT_REMOVEDIR);
    closedir(sub);
    unlinkat(d->root, ent->d_name, AT_REMOVEDIR);
  }
  closedir(top);
}

size_t orf_cache_disk_clear(orf_cache_disk *d) {
  size_t removed = 0;
  pthread_mutex_lock(&d->mu);
  disk_entry *n;
  while ((n = (disk_entry *)orf_index_oldest(&d->ix))) {
    drop_locked(d, n);
    removed++;
  }
  pthread_mutex_unlock(&d->mu);
  sweep_empty_dirs(d);
  return removed;
}

void orf_cache_disk_stats_get(orf_cache_disk *d, orf_cache_disk_stats *st) {
  pthread_mutex_lock(&d->mu);
  st->entries = d->ix.count;
  st->bytes = d->bytes;
  st->evictions = d->evictions;
  st->corrupt = d->corrupt;
  st->scrub_checked = d->scrub_checked;
  st->scrub_damaged = d->scrub_damaged;
  st->ok = d->ok;
  memcpy(st->last_error, d->last_error, sizeof st->last_error);
  pthread_mutex_unlock(&d->mu);
}

/* ---- disk tier: the scrubber ------------------------------------------ */

/* Waits up to seconds on the scrubber's condition; returns 1 when asked to
 * stop.  Caller holds d->mu. */
static int scrub_wait_locked(orf_cache_disk *d, double seconds) {
  struct timespec until = orf_mono_after(seconds);
  while (!d->stop && pthread_cond_timedwait(&d->scrub_cv, &d->mu, &until) == 0) {
  }
  return d->stop;
}

/* Re-reads key's whole file against its checksum, whatever was verified
 * before; a file that fails is deleted (counted as corrupt and damaged).
 * Returns the bytes read. */
static uint64_t scrub_one(orf_cache_disk *d, const char *key) {
  int fd, must_verify, touch;
  uint64_t gen, payload = 0;
  uint8_t want[32];
  file_id id;
  if (open_entry(d, key, 0, &fd, &gen, &must_verify, &id, &touch) != ORF_OK) return 0;
  int v = check_header(fd, &payload, want) ? 0 : verify_stream(fd, payload, want);
  close(fd);
  if (v < 0) return 0; /* out of memory: try again next pass */
  if (v)
    mark_verified(d, key, gen, &id);
  else
    drop_corrupt(d, key, gen);
  pthread_mutex_lock(&d->mu);
  d->scrub_checked++;
  if (!v) d->scrub_damaged++;
  pthread_mutex_unlock(&d->mu);
  if (!v) {
    json_t *f = json_pack("{s:s}", "key", key);
    orf_log_json("warn", "cache_file_damaged", f);
  }
  return HDR + payload;
}

/* One pass after another over a snapshot of the index, pausing after each
 * file for as long as reading it takes at the configured rate. */
static void *scrub_main(void *arg) {
  orf_cache_disk *d = arg;
  pthread_mutex_lock(&d->mu);
  while (!d->stop) {
    size_t n = d->ix.count, k = 0;
    char(*keys)[ORF_CACHE_KEY_SIZE] = n ? orf_malloc(n * sizeof *keys) : NULL;
    if (keys)
      for (orf_index_node *x = d->ix.lru.next; x != &d->ix.lru && k < n; x = x->next)
        memcpy(keys[k++], orf_cache__node_of(x)->key, ORF_CACHE_KEY_SIZE);
    for (size_t i = 0; i < k && !d->stop; i++) {
      pthread_mutex_unlock(&d->mu);
      uint64_t bytes = scrub_one(d, keys[i]);
      pthread_mutex_lock(&d->mu);
      if (bytes) scrub_wait_locked(d, (double)bytes / d->scrub_bytes_per_s);
    }
    orf_free(keys);
    scrub_wait_locked(d, 1.0); /* between passes, and while the tier is empty */
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

int orf_cache_disk_scrub_start(orf_cache_disk *d, double bytes_per_s) {
  if (!d || bytes_per_s <= 0 || d->scrubbing) return ORF_OK;
  d->scrub_bytes_per_s = bytes_per_s;
  if (pthread_create(&d->scrubber, NULL, scrub_main, d)) return ORF_ENOMEM;
  d->scrubbing = 1;
  return ORF_OK;
}
