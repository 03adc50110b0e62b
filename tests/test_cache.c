/*
 * test_cache.c - the request deduplication cache (src/server/cache/cache.h):
 * memory tier (round trip, LRU by bytes, TTL, blob lifetime, hit/miss
 * counting), disk tier (restart, truncated and altered files, crash
 * leftovers, eviction, zero-copy descriptors, unwritable directories,
 * write failures), key checks, clear, threads, and allocation failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cache/cache.h"
#include "orfeas.h"
#include "testutil.h"

#define HDR 48

/* ---- helpers --------------------------------------------------------- */

/* A distinct valid hash for each i, spread over prefix directories. */
static void mkhash(char out[65], unsigned i) {
  snprintf(out, 65, "%02x%06x", (i * 37u) & 255u, i);
  for (int j = 8; j < 64; j++)
    out[j] = "0123456789abcdef"[(i * 7u + (unsigned)j * 3u) & 15u];
  out[64] = '\0';
}

static void fill(uint8_t *buf, size_t size, unsigned seed) {
  uint32_t x = seed * 2654435761u + 1u;
  for (size_t i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    buf[i] = (uint8_t)x;
  }
}

static uint8_t *make_data(size_t size, unsigned seed) {
  uint8_t *p = malloc(size ? size : 1);
  assert_non_null(p);
  fill(p, size, seed);
  return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(path);
  return 0;
}

static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static char *make_tmpdir(void) {
  char *d = strdup("/tmp/orf_cache_test_XXXXXX");
  assert_non_null(mkdtemp(d));
  return d;
}

static void entry_path(char *out, size_t size, const char *dir, const char *hash, const char *name) {
  snprintf(out, size, "%s/%.2s/%s/%s", dir, hash, hash, name);
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

/* Files (not directories) anywhere under dir. */
static int count_files_cb_n;
static int count_files_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)path;
  (void)st;
  (void)ftw;
  if (flag == FTW_F || flag == FTW_SL) count_files_cb_n++;
  return 0;
}
static int count_files(const char *dir) {
  count_files_cb_n = 0;
  nftw(dir, count_files_cb, 16, FTW_PHYS);
  return count_files_cb_n;
}

static orf_cache *open_cache(const char *dir, size_t mem, size_t disk, double ttl) {
  orf_cache_config cfg = {.dir = dir, .mem_max_bytes = mem, .disk_max_bytes = disk, .ttl_s = ttl};
  orf_cache *c = NULL;
  assert_int_equal(orf_cache_open(&c, &cfg), ORF_OK);
  assert_non_null(c);
  return c;
}

static void stats(orf_cache *c, orf_cache_stats *st) { orf_cache_stats_get(c, st); }

/* Asserts that (hash, name) reads back exactly data. */
static void expect_entry(orf_cache *c, const char *hash, const char *name, const uint8_t *data, size_t size) {
  orf_blob *b = NULL;
  assert_int_equal(orf_cache_get(c, hash, name, 0, &b), ORF_OK);
  assert_non_null(b);
  assert_int_equal(b->size, size);
  assert_memory_equal(b->data, data, size);
  orf_blob_release(b);
}

static void expect_miss(orf_cache *c, const char *hash, const char *name) {
  orf_blob *b = (orf_blob *)1;
  assert_int_equal(orf_cache_get(c, hash, name, 0, &b), ORF_SRV_ENOTFOUND);
  assert_null(b);
}

/* ---- memory tier ----------------------------------------------------- */

static void test_put_get_memory(void **state) {
  (void)state;
  orf_cache *c = open_cache(NULL, 1 << 20, 0, 0);
  char h[65];
  mkhash(h, 1);
  uint8_t *d1 = make_data(1000, 1), *d2 = make_data(700, 2);
  assert_int_equal(orf_cache_put(c, h, "meta.json", d1, 1000), ORF_OK);
  expect_entry(c, h, "meta.json", d1, 1000);
  assert_true(orf_cache_has(c, h, "meta.json"));
  assert_true(orf_cache_has(c, h, NULL));
  assert_false(orf_cache_has(c, h, "other.ply"));

  /* the stored copy is the cache's own */
  orf_blob *old = NULL;
  assert_int_equal(orf_cache_get(c, h, "meta.json", 0, &old), ORF_OK);
  d1[0] ^= 0xff;
  assert_int_not_equal(old->data[0], d1[0]);
  d1[0] ^= 0xff;

  /* a put replaces; a holder of the old blob keeps its bytes */
  assert_int_equal(orf_cache_put(c, h, "meta.json", d2, 700), ORF_OK);
  expect_entry(c, h, "meta.json", d2, 700);
  assert_int_equal(old->size, 1000);
  assert_memory_equal(old->data, d1, 1000);
  orf_blob_release(old);

  /* zero-byte entries are entries */
  assert_int_equal(orf_cache_put(c, h, "empty", NULL, 0), ORF_OK);
  expect_entry(c, h, "empty", d1, 0);

  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.entries, 2);
  assert_true(st.bytes >= 700 && st.bytes <= st.max_bytes);
  assert_int_equal(st.max_bytes, 1 << 20);
  assert_int_equal(st.disk_ok, 1);
  assert_string_equal(st.last_disk_error, "");
  orf_cache_close(c);
  free(d1);
  free(d2);
}

static void test_lru_eviction(void **state) {
  (void)state;
  /* room for three 3000-byte entries and their overhead, not four */
  orf_cache *c = open_cache(NULL, 10000, 0, 0);
  char h[4][65];
  uint8_t *d[4];
  for (unsigned i = 0; i < 4; i++) {
    mkhash(h[i], 10 + i);
    d[i] = make_data(3000, i);
  }
  for (int i = 0; i < 3; i++)
    assert_int_equal(orf_cache_put(c, h[i], "final_optimized.ply", d[i], 3000), ORF_OK);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.entries, 3);
  assert_int_equal(st.evictions, 0);
  assert_true(st.bytes >= 9000 && st.bytes <= 10000);

  /* 0 becomes the most recently used: 1 is the one to go */
  expect_entry(c, h[0], "final_optimized.ply", d[0], 3000);
  assert_int_equal(orf_cache_put(c, h[3], "final_optimized.ply", d[3], 3000), ORF_OK);
  stats(c, &st);
  assert_int_equal(st.entries, 3);
  assert_int_equal(st.evictions, 1);
  assert_true(st.bytes <= 10000);
  expect_miss(c, h[1], "final_optimized.ply");
  expect_entry(c, h[0], "final_optimized.ply", d[0], 3000);
  expect_entry(c, h[2], "final_optimized.ply", d[2], 3000);
  expect_entry(c, h[3], "final_optimized.ply", d[3], 3000);

  /* larger than the whole tier: not kept, nothing evicted for it */
  uint8_t *big = make_data(20000, 99);
  assert_int_equal(orf_cache_put(c, h[1], "big.ply", big, 20000), ORF_OK);
  expect_miss(c, h[1], "big.ply");
  stats(c, &st);
  assert_int_equal(st.entries, 3);
  assert_int_equal(st.evictions, 1);
  free(big);
  for (int i = 0; i < 4; i++)
    free(d[i]);
  orf_cache_close(c);
}

static void test_ttl_expiry(void **state) {
  (void)state;
  char h[65];
  mkhash(h, 20);
  uint8_t *d = make_data(500, 20);
  struct timespec nap = {0, 300 * 1000 * 1000};

  orf_cache *c = open_cache(NULL, 1 << 20, 0, 0.2);
  assert_int_equal(orf_cache_put(c, h, "meta.json", d, 500), ORF_OK);
  expect_entry(c, h, "meta.json", d, 500);
  nanosleep(&nap, NULL);
  assert_false(orf_cache_has(c, h, "meta.json"));
  expect_miss(c, h, "meta.json");
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.bytes, 0);
  assert_int_equal(st.evictions, 1);
  assert_true(st.ttl_s > 0.19 && st.ttl_s < 0.21);
  orf_cache_close(c);

  /* the TTL is the memory tier's: the disk copy serves again */
  char *dir = make_tmpdir();
  c = open_cache(dir, 1 << 20, 1 << 20, 0.2);
  assert_int_equal(orf_cache_put(c, h, "meta.json", d, 500), ORF_OK);
  nanosleep(&nap, NULL);
  expect_entry(c, h, "meta.json", d, 500);
  stats(c, &st);
  assert_int_equal(st.entries, 1);
  assert_int_equal(st.evictions, 1);
  orf_cache_close(c);

  /* no TTL: nothing expires */
  c = open_cache(NULL, 1 << 20, 0, 0);
  assert_int_equal(orf_cache_put(c, h, "meta.json", d, 500), ORF_OK);
  nanosleep(&nap, NULL);
  expect_entry(c, h, "meta.json", d, 500);
  orf_cache_close(c);
  rm_rf(dir);
  free(dir);
  free(d);
}

static void test_blob_outlives_eviction(void **state) {
  (void)state;
  orf_cache *c = open_cache(NULL, 5000, 0, 0);
  char a[65], b[65];
  mkhash(a, 30);
  mkhash(b, 31);
  uint8_t *da = make_data(3000, 30), *db = make_data(3000, 31);
  assert_int_equal(orf_cache_put(c, a, "x.ply", da, 3000), ORF_OK);
  orf_blob *held = NULL;
  assert_int_equal(orf_cache_get(c, a, "x.ply", 1, &held), ORF_OK);
  orf_blob_retain(held);
  assert_int_equal(orf_cache_put(c, b, "x.ply", db, 3000), ORF_OK); /* evicts a */
  expect_miss(c, a, "x.ply");
  size_t removed = 0;
  assert_int_equal(orf_cache_clear(c, &removed), ORF_OK);
  assert_int_equal(removed, 1);
  orf_cache_close(c); /* even the cache is gone */
  assert_int_equal(held->size, 3000);
  assert_memory_equal(held->data, da, 3000);
  orf_blob_release(held);
  assert_memory_equal(held->data, da, 3000); /* the second reference */
  orf_blob_release(held);
  free(da);
  free(db);
}

static void test_hit_miss_counting(void **state) {
  (void)state;
  orf_cache *c = open_cache(NULL, 1 << 20, 0, 0);
  char h[65], g[65];
  mkhash(h, 40);
  mkhash(g, 41);
  uint8_t *d = make_data(100, 40);
  assert_int_equal(orf_cache_put(c, h, "meta.json", d, 100), ORF_OK);
  orf_blob *b;
  for (int i = 0; i < 3; i++) {
    assert_int_equal(orf_cache_get(c, h, "meta.json", 1, &b), ORF_OK);
    orf_blob_release(b);
  }
  assert_int_equal(orf_cache_get(c, g, "meta.json", 1, &b), ORF_SRV_ENOTFOUND);
  assert_int_equal(orf_cache_get(c, h, "meta.json", 0, &b), ORF_OK); /* not counted */
  orf_blob_release(b);
  assert_int_equal(orf_cache_get(c, g, "meta.json", 0, &b), ORF_SRV_ENOTFOUND);
  assert_int_equal(orf_cache_get(c, g, "../x", 1, &b), ORF_EINVAL); /* errors count nothing */
  assert_true(orf_cache_has(c, h, "meta.json"));                    /* neither does has */
  assert_false(orf_cache_has(c, g, "meta.json"));
  orf_cache_note_coalesced(c);
  orf_cache_note_coalesced(c);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.hits, 3);
  assert_int_equal(st.misses, 1);
  assert_int_equal(st.coalesced, 2);
  orf_cache_close(c);
  free(d);
}

/* ---- disk tier ------------------------------------------------------- */

static void test_disk_restart(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[3][65];
  const char *names[3] = {"meta.json", "final_optimized.ply", "rough_mesh.ply"};
  size_t sizes[3] = {321, 100000, 1};
  uint8_t *d[3];
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 22, 3600);
  for (unsigned i = 0; i < 3; i++) {
    mkhash(h[i], 50 + i);
    d[i] = make_data(sizes[i], 50 + i);
    assert_int_equal(orf_cache_put(c, h[i], names[i], d[i], sizes[i]), ORF_OK);
  }
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.disk_entries, 3);
  assert_int_equal(st.disk_bytes, 3 * HDR + 321 + 100000 + 1);
  assert_int_equal(st.disk_ok, 1);
  orf_cache_close(c);

  /* the file format of cache_disk.h */
  char path[512];
  entry_path(path, sizeof path, dir, h[1], names[1]);
  size_t fsize = 0;
  uint8_t *raw = tu_read_file(path, &fsize);
  assert_non_null(raw);
  assert_int_equal(fsize, HDR + 100000);
  assert_memory_equal(raw, "ORFCACH1", 8);
  uint64_t le = 0;
  for (int i = 7; i >= 0; i--)
    le = (le << 8) | raw[8 + i];
  assert_int_equal(le, 100000);
  assert_memory_equal(raw + HDR, d[1], 100000);
  free(raw);

  c = open_cache(dir, 1 << 20, 1 << 22, 3600);
  stats(c, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.disk_entries, 3);
  assert_int_equal(st.corrupt, 0);
  for (int i = 0; i < 3; i++) {
    assert_true(orf_cache_has(c, h[i], names[i]));
    orf_blob *b = NULL;
    assert_int_equal(orf_cache_get(c, h[i], names[i], 1, &b), ORF_OK);
    assert_int_equal(b->size, sizes[i]);
    assert_memory_equal(b->data, d[i], sizes[i]);
    orf_blob_release(b);
  }
  stats(c, &st);
  assert_int_equal(st.hits, 3);
  assert_int_equal(st.entries, 3); /* now in memory too */
  assert_int_equal(st.corrupt, 0);
  orf_cache_close(c);
  for (int i = 0; i < 3; i++)
    free(d[i]);
  rm_rf(dir);
  free(dir);
}

static void test_disk_truncated(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[65], path[512];
  mkhash(h, 60);
  uint8_t *d = make_data(10000, 60);
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 22, 0);
  assert_int_equal(orf_cache_put(c, h, "final_optimized.glb", d, 10000), ORF_OK);
  orf_cache_close(c);
  entry_path(path, sizeof path, dir, h, "final_optimized.glb");
  assert_int_equal(truncate(path, (HDR + 10000) / 2), 0);

  c = open_cache(dir, 1 << 20, 1 << 22, 0);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.corrupt, 1);
  assert_int_equal(st.disk_entries, 0);
  assert_false(exists(path));
  assert_false(orf_cache_has(c, h, "final_optimized.glb"));
  orf_blob *b = NULL;
  assert_int_equal(orf_cache_get(c, h, "final_optimized.glb", 1, &b), ORF_SRV_ENOTFOUND);
  assert_null(b);
  stats(c, &st);
  assert_int_equal(st.misses, 1);
  orf_cache_close(c);
  free(d);
  rm_rf(dir);
  free(dir);
}

static void flip_byte(const char *path, off_t off) {
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  uint8_t x;
  assert_int_equal(pread(fd, &x, 1, off), 1);
  x ^= 0x5a;
  assert_int_equal(pwrite(fd, &x, 1, off), 1);
  close(fd);
}

static void test_disk_flipped_byte(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h1[65], h2[65], h3[65], p1[512], p2[512];
  mkhash(h1, 70);
  mkhash(h2, 71);
  mkhash(h3, 72);
  uint8_t *d = make_data(50000, 70);
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 22, 0);
  assert_int_equal(orf_cache_put(c, h1, "final_optimized.ply", d, 50000), ORF_OK);
  assert_int_equal(orf_cache_put(c, h2, "final_optimized.ply", d, 50000), ORF_OK);
  assert_int_equal(orf_cache_put(c, h3, "final_optimized.ply", d, 50000), ORF_OK);
  orf_cache_close(c);
  entry_path(p1, sizeof p1, dir, h1, "final_optimized.ply");
  entry_path(p2, sizeof p2, dir, h2, "final_optimized.ply");
  flip_byte(p1, HDR + 40000);
  flip_byte(p2, HDR + 7);

  c = open_cache(dir, 1 << 20, 1 << 22, 0);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.corrupt, 0); /* same size: the scan cannot tell */
  assert_int_equal(st.disk_entries, 3);

  /* first use through get */
  expect_miss(c, h1, "final_optimized.ply");
  assert_false(exists(p1));
  stats(c, &st);
  assert_int_equal(st.corrupt, 1);
  assert_int_equal(st.disk_entries, 2);
  assert_int_equal(st.entries, 0); /* never served, never kept */

  /* first use through open_fd */
  int fd = -1;
  off_t off;
  size_t size;
  assert_int_equal(orf_cache_open_fd(c, h2, "final_optimized.ply", &fd, &off, &size), ORF_SRV_ENOTFOUND);
  assert_false(exists(p2));
  stats(c, &st);
  assert_int_equal(st.corrupt, 2);
  assert_int_equal(st.disk_entries, 1);

  /* the intact one passes its checksum */
  expect_entry(c, h3, "final_optimized.ply", d, 50000);
  assert_int_equal(orf_cache_open_fd(c, h3, "final_optimized.ply", &fd, &off, &size), ORF_OK);
  close(fd);
  stats(c, &st);
  assert_int_equal(st.corrupt, 2);
  orf_cache_close(c);
  free(d);
  rm_rf(dir);
  free(dir);
}

static void test_disk_garbage_removed(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[65], g[65], path[512], edir[512];
  mkhash(h, 80);
  mkhash(g, 81);
  uint8_t *d = make_data(2000, 80);
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 22, 0);
  assert_int_equal(orf_cache_put(c, h, "meta.json", d, 2000), ORF_OK);
  orf_cache_close(c);

  snprintf(edir, sizeof edir, "%s/%.2s/%s", dir, h, h);
  char tmpf[1024], junk[1024], upper[1024], badmagic[1024], stray[1024], orphan_dir[512], orphan[1024],
      keep[1024];
  snprintf(tmpf, sizeof tmpf, "%s/.final_optimized.ply.tmp.123.456", edir); /* crash mid-write */
  snprintf(junk, sizeof junk, "%s/junk", edir);                             /* valid name, no header */
  snprintf(upper, sizeof upper, "%s/BAD", edir);                            /* not an entry name */
  snprintf(badmagic, sizeof badmagic, "%s/x.ply", edir);                    /* right size, wrong magic */
  snprintf(stray, sizeof stray, "%s/%.2s/stray", dir, h);                   /* file at level 1 */
  snprintf(orphan_dir, sizeof orphan_dir, "%s/%.2s/%s", dir, g, g);
  snprintf(orphan, sizeof orphan, "%s/final_optimized.glb.tmp.9.9", orphan_dir);
  snprintf(keep, sizeof keep, "%s/README", dir); /* not in the cache's tree */
  uint8_t hdr[HDR + 10];
  memset(hdr, 0, sizeof hdr);
  memcpy(hdr, "ORFCACH1", 8);
  hdr[8] = 10;
  assert_int_equal(tu_write_file(tmpf, hdr, sizeof hdr), 0);
  assert_int_equal(tu_write_file(junk, "garbage garbage garbage garbage garbage garbage", 47), 0);
  assert_int_equal(tu_write_file(upper, hdr, sizeof hdr), 0);
  memcpy(hdr, "ORFCACH2", 8);
  assert_int_equal(tu_write_file(badmagic, hdr, sizeof hdr), 0);
  assert_int_equal(tu_write_file(stray, "x", 1), 0);
  char mk[512];
  snprintf(mk, sizeof mk, "%s/%.2s", dir, g);
  mkdir(mk, 0755);
  assert_int_equal(mkdir(orphan_dir, 0755), 0);
  assert_int_equal(tu_write_file(orphan, "partial", 7), 0);
  assert_int_equal(tu_write_file(keep, "hello", 5), 0);

  c = open_cache(dir, 1 << 20, 1 << 22, 0);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.corrupt, 6);
  assert_int_equal(st.disk_entries, 1);
  assert_false(exists(tmpf));
  assert_false(exists(junk));
  assert_false(exists(upper));
  assert_false(exists(badmagic));
  assert_false(exists(stray));
  assert_false(exists(orphan));
  assert_false(exists(orphan_dir)); /* emptied directories go too */
  assert_true(exists(keep));
  entry_path(path, sizeof path, dir, h, "meta.json");
  assert_true(exists(path));
  expect_entry(c, h, "meta.json", d, 2000);
  orf_cache_close(c);
  free(d);
  rm_rf(dir);
  free(dir);
}

static void test_disk_eviction(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[4][65], path[512];
  uint8_t *d = make_data(1000, 90);
  /* memory keeps nothing: every get goes to disk */
  orf_cache *c = open_cache(dir, 0, 3 * (HDR + 1000) + 100, 0);
  for (unsigned i = 0; i < 4; i++)
    mkhash(h[i], 90 + i);
  for (int i = 0; i < 3; i++)
    assert_int_equal(orf_cache_put(c, h[i], "final_optimized.ply", d, 1000), ORF_OK);
  /* using 0 makes 1 the least recently used */
  int fd;
  off_t off;
  size_t size;
  assert_int_equal(orf_cache_open_fd(c, h[0], "final_optimized.ply", &fd, &off, &size), ORF_OK);
  close(fd);
  assert_int_equal(orf_cache_put(c, h[3], "final_optimized.ply", d, 1000), ORF_OK);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.disk_entries, 3);
  assert_int_equal(st.disk_bytes, 3 * (HDR + 1000));
  assert_int_equal(st.evictions, 1);
  entry_path(path, sizeof path, dir, h[1], "final_optimized.ply");
  assert_false(exists(path));
  expect_miss(c, h[1], "final_optimized.ply");
  expect_entry(c, h[0], "final_optimized.ply", d, 1000);
  expect_entry(c, h[2], "final_optimized.ply", d, 1000);
  expect_entry(c, h[3], "final_optimized.ply", d, 1000);

  /* an entry larger than the whole disk tier is not written */
  uint8_t *big = make_data(5000, 99);
  assert_int_equal(orf_cache_put(c, h[1], "big.ply", big, 5000), ORF_OK);
  entry_path(path, sizeof path, dir, h[1], "big.ply");
  assert_false(exists(path));
  stats(c, &st);
  assert_int_equal(st.disk_entries, 3);
  assert_int_equal(st.disk_ok, 1);
  orf_cache_close(c);
  free(big);
  free(d);
  rm_rf(dir);
  free(dir);
}

static void test_disk_scan_evicts_oldest(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[3][65], p[3][512];
  uint8_t *d = make_data(1000, 100);
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 20, 0);
  for (unsigned i = 0; i < 3; i++) {
    mkhash(h[i], 100 + i);
    assert_int_equal(orf_cache_put(c, h[i], "meta.json", d, 1000), ORF_OK);
    entry_path(p[i], sizeof p[i], dir, h[i], "meta.json");
  }
  orf_cache_close(c);
  /* last uses: 1 oldest, then 2, then 0 */
  time_t now = time(NULL);
  const int age[3] = {100, 300, 200};
  for (int i = 0; i < 3; i++) {
    struct timespec ts[2] = {{now - age[i], 0}, {now - age[i], 0}};
    assert_int_equal(utimensat(AT_FDCWD, p[i], ts, 0), 0);
  }
  c = open_cache(dir, 1 << 20, 2 * (HDR + 1000) + 10, 0);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.disk_entries, 2);
  assert_int_equal(st.evictions, 1);
  assert_false(exists(p[1]));
  assert_true(exists(p[0]));
  assert_true(exists(p[2]));
  orf_cache_close(c);
  free(d);
  rm_rf(dir);
  free(dir);
}

/* A file verified once (served, or written by this process) and altered
 * afterwards is verified again before it is used: the next open_fd finds
 * the damage instead of handing out the file (issue 19: a flipped byte was
 * served as 200 until a restart). */
static void test_disk_altered_after_verified(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[65], p[512];
  mkhash(h, 75);
  uint8_t *d = make_data(60000, 75);
  orf_cache *c = open_cache(dir, 0, 1 << 22, 0); /* no memory tier: the disk is all there is */
  assert_int_equal(orf_cache_put(c, h, "final_optimized.ply", d, 60000), ORF_OK);
  int fd = -1;
  off_t off;
  size_t size;
  for (int round = 0; round < 2; round++) { /* written, then verified on use */
    assert_int_equal(orf_cache_open_fd(c, h, "final_optimized.ply", &fd, &off, &size), ORF_OK);
    close(fd);
  }
  entry_path(p, sizeof p, dir, h, "final_optimized.ply");
  flip_byte(p, HDR + 40000);
  assert_int_equal(orf_cache_open_fd(c, h, "final_optimized.ply", &fd, &off, &size), ORF_SRV_ENOTFOUND);
  assert_false(exists(p));
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.corrupt, 1);
  /* and through get */
  assert_int_equal(orf_cache_put(c, h, "meta.json", d, 60000), ORF_OK);
  expect_entry(c, h, "meta.json", d, 60000);
  entry_path(p, sizeof p, dir, h, "meta.json");
  flip_byte(p, HDR + 3);
  expect_miss(c, h, "meta.json");
  stats(c, &st);
  assert_int_equal(st.corrupt, 2);
  orf_cache_close(c);
  free(d);
  rm_rf(dir);
  free(dir);
}

/* The scrubber reads every file in the background and deletes a damaged
 * one that nobody asked for, counting it; intact files stay. */
static void test_disk_scrubber(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h1[65], h2[65], p1[512];
  mkhash(h1, 76);
  mkhash(h2, 77);
  uint8_t *d = make_data(30000, 76);
  orf_cache *c = open_cache(dir, 0, 1 << 22, 0);
  assert_int_equal(orf_cache_put(c, h1, "final_optimized.ply", d, 30000), ORF_OK);
  assert_int_equal(orf_cache_put(c, h2, "final_optimized.ply", d, 30000), ORF_OK);
  orf_cache_close(c);
  entry_path(p1, sizeof p1, dir, h1, "final_optimized.ply");
  flip_byte(p1, HDR + 20000);
  orf_cache_config cfg = {.dir = dir, .disk_max_bytes = 1 << 22, .scrub_bytes_per_s = 64 << 20};
  assert_int_equal(orf_cache_open(&c, &cfg), ORF_OK);
  orf_cache_stats st;
  for (int i = 0; i < 500; i++) { /* the first pass starts at once: 5 s is ample */
    stats(c, &st);
    if (st.scrub_checked >= 2) break;
    usleep(10000);
  }
  assert_true(st.scrub_checked >= 2);
  assert_int_equal(st.scrub_damaged, 1);
  assert_int_equal(st.corrupt, 1);
  assert_false(exists(p1));
  assert_int_equal(st.disk_entries, 1);
  int fd;
  off_t off;
  size_t size;
  assert_int_equal(orf_cache_open_fd(c, h2, "final_optimized.ply", &fd, &off, &size), ORF_OK);
  close(fd);
  orf_cache_close(c);
  free(d);
  rm_rf(dir);
  free(dir);
}

static void test_open_fd(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[65], g[65];
  mkhash(h, 110);
  mkhash(g, 111);
  uint8_t *d = make_data(70000, 110);
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 22, 0);
  assert_int_equal(orf_cache_put(c, h, "final_optimized.glb", d, 70000), ORF_OK);
  for (int round = 0; round < 2; round++) {
    int fd = -1;
    off_t off = -1;
    size_t size = 0;
    assert_int_equal(orf_cache_open_fd(c, h, "final_optimized.glb", &fd, &off, &size), ORF_OK);
    assert_true(fd >= 0);
    assert_int_equal(size, 70000);
    uint8_t *buf = malloc(size);
    assert_int_equal(pread(fd, buf, size, off), (ssize_t)size);
    assert_memory_equal(buf, d, size);
    struct stat sb;
    assert_int_equal(fstat(fd, &sb), 0);
    assert_int_equal(sb.st_size, off + (off_t)size);
    assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    free(buf);
    close(fd);
    /* second round: after a restart, i.e. verified before the fd is given */
    orf_cache_close(c);
    c = open_cache(dir, 1 << 20, 1 << 22, 0);
  }
  int fd;
  off_t off;
  size_t size;
  assert_int_equal(orf_cache_open_fd(c, g, "final_optimized.glb", &fd, &off, &size), ORF_SRV_ENOTFOUND);
  assert_int_equal(orf_cache_open_fd(c, h, "../final_optimized.glb", &fd, &off, &size), ORF_EINVAL);
  orf_cache_close(c);

  /* memory only: nothing to hand out */
  c = open_cache(NULL, 1 << 20, 0, 0);
  assert_int_equal(orf_cache_put(c, h, "final_optimized.glb", d, 70000), ORF_OK);
  assert_int_equal(orf_cache_open_fd(c, h, "final_optimized.glb", &fd, &off, &size), ORF_SRV_ENOTFOUND);
  orf_cache_close(c);
  free(d);
  rm_rf(dir);
  free(dir);
}

static void check_memory_only(const char *dir) {
  char h[65];
  mkhash(h, 120);
  uint8_t *d = make_data(4000, 120);
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 20, 0);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.disk_ok, 0);
  assert_true(strlen(st.last_disk_error) > 0);
  assert_int_equal(orf_cache_put(c, h, "meta.json", d, 4000), ORF_OK);
  expect_entry(c, h, "meta.json", d, 4000);
  stats(c, &st);
  assert_int_equal(st.disk_ok, 0);
  assert_int_equal(st.disk_entries, 0);
  assert_int_equal(st.entries, 1);
  assert_true(strlen(st.last_disk_error) > 0);
  int fd;
  off_t off;
  size_t size;
  assert_int_equal(orf_cache_open_fd(c, h, "meta.json", &fd, &off, &size), ORF_SRV_ENOTFOUND);
  orf_cache_close(c);
  free(d);
}

static void test_unwritable_dir(void **state) {
  (void)state;
  /* tests run as root, where permissions stop nothing: use paths where
   * mkdir itself fails */
  check_memory_only("/proc/orfeas-cache-test/data");
  char *tmp = make_tmpdir();
  char file[512], sub[512];
  snprintf(file, sizeof file, "%s/a-file", tmp);
  snprintf(sub, sizeof sub, "%s/a-file/data", tmp);
  assert_int_equal(tu_write_file(file, "x", 1), 0);
  check_memory_only(sub);
  orf_cache_stats st;
  orf_cache *c = open_cache(sub, 1 << 20, 1 << 20, 0);
  stats(c, &st);
  assert_non_null(strstr(st.last_disk_error, "Not a directory"));
  orf_cache_close(c);
  rm_rf(tmp);
  free(tmp);
}

static void test_disk_write_failure_recovers(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[65], g[65], path[512];
  mkhash(h, 130);
  mkhash(g, 131);
  uint8_t *small = make_data(100, 130), *big = make_data(200000, 131);
  orf_memtrack t = {0};
  orf_memtrack *old_track = orf_memtrack_set(&t);
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 22, 0); /* charges t from now on */
  orf_memtrack_set(old_track);
  assert_int_equal(orf_cache_put(c, h, "final_optimized.ply", small, 100), ORF_OK);
  entry_path(path, sizeof path, dir, h, "final_optimized.ply");
  assert_true(exists(path));

  /* a file size limit makes the next write fail (EFBIG), as a full disk would */
  struct rlimit old, lim;
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  lim = old;
  lim.rlim_cur = 65536;
  void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
  int rc = orf_cache_put(c, h, "final_optimized.ply", big, 200000);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_sig);
  assert_int_equal(rc, ORF_OK);

  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.disk_ok, 0);
  assert_non_null(strstr(st.last_disk_error, "write"));
  assert_int_equal(st.disk_entries, 0); /* the older version is not left to be served */
  assert_false(exists(path));
  assert_int_equal(count_files(dir), 0); /* nor the temporary file */
  expect_entry(c, h, "final_optimized.ply", big, 200000);

  /* the next good write clears the condition */
  assert_int_equal(orf_cache_put(c, g, "meta.json", small, 100), ORF_OK);
  stats(c, &st);
  assert_int_equal(st.disk_ok, 1);
  assert_int_equal(st.disk_entries, 1);
  orf_cache_close(c);
  assert_int_equal(atomic_load(&t.current), 0); /* the failed write leaked nothing */
  free(small);
  free(big);
  rm_rf(dir);
  free(dir);
}

static void test_bad_keys(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 20, 0);
  char h[65], h63[64], h65[66], hup[65];
  mkhash(h, 140);
  memcpy(h63, h, 63);
  h63[63] = '\0';
  memcpy(h65, h, 64);
  h65[64] = 'a';
  h65[65] = '\0';
  memcpy(hup, h, 65);
  hup[10] = 'A';
  const char *bad_hashes[] = {h63, h65, hup, "../../../../etc", "", NULL};
  const char *bad_names[] = {
      "../x",      "..",
      "a/b",       "/etc/passwd",
      "Meta.json", "",
      ".hidden",   "a..b",
      "a b",       "x\\y",
      NULL,        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}; /* 65 */
  uint8_t x = 1;
  orf_blob *b;
  int fd;
  off_t off;
  size_t size;
  for (size_t i = 0; i < sizeof bad_hashes / sizeof *bad_hashes; i++) {
    assert_int_equal(orf_cache_put(c, bad_hashes[i], "meta.json", &x, 1), ORF_EINVAL);
    assert_int_equal(orf_cache_get(c, bad_hashes[i], "meta.json", 1, &b), ORF_EINVAL);
    assert_int_equal(orf_cache_open_fd(c, bad_hashes[i], "meta.json", &fd, &off, &size), ORF_EINVAL);
    assert_false(orf_cache_has(c, bad_hashes[i], "meta.json"));
  }
  for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
    assert_int_equal(orf_cache_put(c, h, bad_names[i], &x, 1), ORF_EINVAL);
    assert_int_equal(orf_cache_get(c, h, bad_names[i], 1, &b), ORF_EINVAL);
    assert_int_equal(orf_cache_open_fd(c, h, bad_names[i], &fd, &off, &size), ORF_EINVAL);
    if (bad_names[i]) assert_false(orf_cache_has(c, h, bad_names[i]));
  }
  /* the edges that are fine: 64 characters, dots inside, digits, '_' */
  char n64[65];
  for (int i = 0; i < 64; i++)
    n64[i] = "a.b_0123456789"[i % 14];
  n64[64] = '\0';
  assert_int_equal(orf_cache_put(c, h, n64, &x, 1), ORF_OK);
  assert_int_equal(orf_cache_put(c, h, "a.", &x, 1), ORF_OK);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.entries, 2);
  assert_int_equal(st.disk_entries, 2);
  assert_int_equal(st.hits + st.misses, 0);
  assert_int_equal(count_files(dir), 2); /* nothing written anywhere else */
  orf_cache_close(c);
  rm_rf(dir);
  free(dir);
}

static void test_clear(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[6][65];
  uint8_t *d = make_data(3000, 150);
  orf_cache *c = open_cache(dir, 1 << 20, 1 << 22, 0);
  for (unsigned i = 0; i < 6; i++)
    mkhash(h[i], 150 + i);
  for (int i = 0; i < 5; i++)
    assert_int_equal(orf_cache_put(c, h[i], "final_optimized.ply", d, 3000), ORF_OK);
  orf_cache_close(c);
  /* restart: 5 on disk; 2 loaded into memory as well, 1 new in both */
  c = open_cache(dir, 1 << 20, 1 << 22, 0);
  expect_entry(c, h[0], "final_optimized.ply", d, 3000);
  expect_entry(c, h[1], "final_optimized.ply", d, 3000);
  assert_int_equal(orf_cache_put(c, h[5], "meta.json", d, 100), ORF_OK);
  orf_cache_stats st;
  stats(c, &st);
  assert_int_equal(st.entries, 3);
  assert_int_equal(st.disk_entries, 6);
  size_t removed = 0;
  assert_int_equal(orf_cache_clear(c, &removed), ORF_OK);
  assert_int_equal(removed, 6);
  stats(c, &st);
  assert_int_equal(st.entries, 0);
  assert_int_equal(st.bytes, 0);
  assert_int_equal(st.disk_entries, 0);
  assert_int_equal(st.disk_bytes, 0);
  for (int i = 0; i < 6; i++)
    assert_false(orf_cache_has(c, h[i], NULL));
  expect_miss(c, h[0], "final_optimized.ply");
  /* no files, no directories left */
  DIR *dd = opendir(dir);
  assert_non_null(dd);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(dd)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(dd);
  assert_int_equal(n, 0);
  /* and it still works afterwards */
  assert_int_equal(orf_cache_put(c, h[0], "meta.json", d, 10), ORF_OK);
  expect_entry(c, h[0], "meta.json", d, 10);
  assert_int_equal(orf_cache_clear(c, &removed), ORF_OK);
  assert_int_equal(removed, 1);
  orf_cache_close(c);

  /* memory only */
  c = open_cache(NULL, 1 << 20, 0, 0);
  assert_int_equal(orf_cache_put(c, h[0], "a", d, 10), ORF_OK);
  assert_int_equal(orf_cache_put(c, h[1], "a", d, 10), ORF_OK);
  assert_int_equal(orf_cache_clear(c, &removed), ORF_OK);
  assert_int_equal(removed, 2);
  orf_cache_close(c);
  free(d);
  rm_rf(dir);
  free(dir);
}

/* ---- threads --------------------------------------------------------- */

#define MT_KEYS 24
#define MT_THREADS 4

typedef struct mt_arg {
  orf_cache *c;
  char (*hashes)[65];
  uint8_t **data;
  size_t *sizes;
  unsigned seed;
  double until;
  uint64_t counted, hits, misses, bad, puts, errors;
} mt_arg;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *mt_worker(void *p) {
  mt_arg *a = p;
  unsigned r = a->seed;
  while (now_s() < a->until) {
    r = r * 1103515245u + 12345u;
    unsigned k = (r >> 8) % MT_KEYS, op = (r >> 20) % 10;
    const char *name = (k & 1) ? "final_optimized.ply" : "meta.json";
    if (op < 3) {
      if (orf_cache_put(a->c, a->hashes[k], name, a->data[k], a->sizes[k]) != ORF_OK) a->errors++;
      a->puts++;
    } else if (op < 8) {
      orf_blob *b = NULL;
      int count = op != 7;
      int rc = orf_cache_get(a->c, a->hashes[k], name, count, &b);
      if (rc == ORF_OK) {
        if (b->size != a->sizes[k] || memcmp(b->data, a->data[k], b->size) != 0) a->bad++;
        orf_blob_release(b);
        if (count) a->hits++;
      } else if (rc == ORF_SRV_ENOTFOUND) {
        if (count) a->misses++;
      } else {
        a->errors++;
      }
      a->counted += count;
    } else if (op == 8) {
      int fd;
      off_t off;
      size_t size;
      if (orf_cache_open_fd(a->c, a->hashes[k], name, &fd, &off, &size) == ORF_OK) {
        uint8_t *buf = malloc(size + 1);
        if (size != a->sizes[k] || pread(fd, buf, size, off) != (ssize_t)size ||
            memcmp(buf, a->data[k], size) != 0)
          a->bad++;
        free(buf);
        close(fd);
      }
    } else {
      orf_cache_stats st;
      orf_cache_stats_get(a->c, &st);
      if (st.bytes > st.max_bytes || st.disk_bytes > st.disk_max_bytes) a->bad++;
      (void)orf_cache_has(a->c, a->hashes[k], NULL);
    }
  }
  return NULL;
}

static void test_concurrent(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char hashes[MT_KEYS][65];
  uint8_t *data[MT_KEYS];
  size_t sizes[MT_KEYS];
  for (unsigned i = 0; i < MT_KEYS; i++) {
    mkhash(hashes[i], 200 + i);
    sizes[i] = 1000 + (i * 997u) % 9000;
    data[i] = make_data(sizes[i], 200 + i);
  }
  /* bounds well under the working set: evictions on both tiers */
  const size_t mem_max = 40000, disk_max = 80000;
  orf_cache *c = open_cache(dir, mem_max, disk_max, 0.05);
  mt_arg args[MT_THREADS];
  pthread_t th[MT_THREADS];
  double until = now_s() + 0.5;
  for (int t = 0; t < MT_THREADS; t++) {
    args[t] = (mt_arg){c, hashes, data, sizes, 17u + (unsigned)t * 7919u, until, 0, 0, 0, 0, 0, 0};
    assert_int_equal(pthread_create(&th[t], NULL, mt_worker, &args[t]), 0);
  }
  uint64_t counted = 0, hits = 0, misses = 0, bad = 0, puts = 0, errors = 0;
  for (int t = 0; t < MT_THREADS; t++) {
    pthread_join(th[t], NULL);
    counted += args[t].counted;
    hits += args[t].hits;
    misses += args[t].misses;
    bad += args[t].bad;
    puts += args[t].puts;
    errors += args[t].errors;
  }
  orf_cache_stats st;
  stats(c, &st);
  print_message("concurrent: %llu puts, %llu counted gets (%llu hits), %llu evictions, %zu on disk\n",
                (unsigned long long)puts, (unsigned long long)counted, (unsigned long long)hits,
                (unsigned long long)st.evictions, st.disk_entries);
  assert_int_equal(bad, 0);
  assert_int_equal(errors, 0);
  assert_true(puts > 0);
  assert_int_equal(st.hits, hits);
  assert_int_equal(st.misses, misses);
  assert_int_equal(st.hits + st.misses, counted);
  assert_true(st.bytes <= mem_max);
  assert_true(st.disk_bytes <= disk_max);
  assert_true(st.entries <= MT_KEYS && st.disk_entries <= MT_KEYS);
  assert_int_equal(st.corrupt, 0);
  assert_int_equal(st.disk_ok, 1);
  size_t disk_entries = st.disk_entries;
  orf_cache_close(c);

  /* what the threads left on disk is intact: no temp files, all valid */
  c = open_cache(dir, mem_max, disk_max, 0);
  stats(c, &st);
  assert_int_equal(st.corrupt, 0);
  assert_int_equal(st.disk_entries, disk_entries);
  assert_int_equal(count_files(dir), (int)disk_entries);
  for (unsigned k = 0; k < MT_KEYS; k++) {
    const char *name = (k & 1) ? "final_optimized.ply" : "meta.json";
    if (orf_cache_has(c, hashes[k], name)) expect_entry(c, hashes[k], name, data[k], sizes[k]);
  }
  stats(c, &st);
  assert_int_equal(st.corrupt, 0);
  orf_cache_close(c);
  for (int i = 0; i < MT_KEYS; i++)
    free(data[i]);
  rm_rf(dir);
  free(dir);
}

/* ---- allocation failures --------------------------------------------- */

/* Makes the Nth allocation of op fail for N = 1, 2, ... until op succeeds
 * untouched; each time the cache must answer ORF_ENOMEM (or succeed),
 * stay consistent, and give all its memory back when closed. */
static void test_alloc_failure(void **state) {
  (void)state;
  char *dir = make_tmpdir();
  char h[65], g[65];
  mkhash(h, 300);
  mkhash(g, 301);
  uint8_t *d = make_data(5000, 300);
  int saw_enomem_put = 0, saw_enomem_get = 0;

  /* put, memory and disk */
  for (long n = 1; n < 100; n++) {
    orf_memtrack t = {0};
    orf_memtrack *old = orf_memtrack_set(&t);
    orf_cache *c = open_cache(dir, 1 << 20, 1 << 22, 0); /* charges t from now on */
    orf_memtrack_set(old);
    atomic_store(&t.fail_after, n);
    int rc = orf_cache_put(c, h, "meta.json", d, 5000);
    int untouched = atomic_load(&t.fail_after) > 0;
    atomic_store(&t.fail_after, 0);
    if (rc == ORF_ENOMEM) {
      saw_enomem_put = 1;
      /* nothing stored, in either tier */
      assert_false(orf_cache_has(c, h, "meta.json"));
    } else {
      assert_int_equal(rc, ORF_OK);
      expect_entry(c, h, "meta.json", d, 5000);
    }
    size_t removed;
    orf_cache_clear(c, &removed);
    orf_cache_close(c);
    assert_int_equal(atomic_load(&t.current), 0);
    if (untouched) break;
  }

  /* get: from disk into memory after a restart, and from memory */
  orf_cache *c0 = open_cache(dir, 1 << 20, 1 << 22, 0);
  assert_int_equal(orf_cache_put(c0, g, "final_optimized.ply", d, 5000), ORF_OK);
  orf_cache_close(c0);
  for (long n = 1; n < 100; n++) {
    orf_memtrack t = {0};
    orf_memtrack *old = orf_memtrack_set(&t);
    orf_cache *c = open_cache(dir, 1 << 20, 1 << 22, 0); /* charges t from now on */
    orf_memtrack_set(old);
    atomic_store(&t.fail_after, n);
    orf_blob *b = NULL;
    int rc = orf_cache_get(c, g, "final_optimized.ply", 1, &b);
    int untouched = atomic_load(&t.fail_after) > 0;
    atomic_store(&t.fail_after, 0);
    if (rc == ORF_ENOMEM) {
      saw_enomem_get = 1;
      assert_null(b);
    } else {
      assert_int_equal(rc, ORF_OK);
      assert_int_equal(b->size, 5000);
      assert_memory_equal(b->data, d, 5000);
      orf_blob_release(b);
    }
    /* the entry is still good afterwards */
    expect_entry(c, g, "final_optimized.ply", d, 5000);
    orf_cache_stats st;
    stats(c, &st);
    assert_int_equal(st.corrupt, 0);
    assert_int_equal(st.disk_entries, 1);
    orf_cache_close(c);
    assert_int_equal(atomic_load(&t.current), 0);
    if (untouched) break;
  }

  /* open, scanning a populated directory */
  int saw_enomem_open = 0;
  for (long n = 1; n < 100; n++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, n);
    orf_memtrack *old = orf_memtrack_set(&t);
    orf_cache_config cfg = {.dir = dir, .mem_max_bytes = 1 << 20, .disk_max_bytes = 1 << 22};
    orf_cache *c = NULL;
    int rc = orf_cache_open(&c, &cfg);
    orf_memtrack_set(old);
    int untouched = atomic_load(&t.fail_after) > 0;
    atomic_store(&t.fail_after, 0);
    if (rc == ORF_ENOMEM) {
      saw_enomem_open = 1;
      assert_null(c);
    } else {
      assert_int_equal(rc, ORF_OK);
      expect_entry(c, g, "final_optimized.ply", d, 5000);
      orf_cache_close(c);
    }
    assert_int_equal(atomic_load(&t.current), 0);
    if (untouched) break;
  }
  assert_true(saw_enomem_open);

  /* the cache's memory is charged to the tracker it was opened under, not
   * to the caller's: a blob released on a thread with another tracker (or
   * none) does not disturb either */
  orf_memtrack mine = {0}, job = {0};
  orf_memtrack *old = orf_memtrack_set(&mine);
  orf_cache *c = open_cache(NULL, 1 << 20, 0, 0);
  orf_memtrack_set(&job);
  int rc_put = orf_cache_put(c, h, "meta.json", d, 5000);
  orf_blob *b = NULL;
  int rc_get = orf_cache_get(c, h, "meta.json", 0, &b);
  orf_memtrack_set(old);
  assert_int_equal(rc_put, ORF_OK);
  assert_int_equal(rc_get, ORF_OK);
  assert_int_equal(atomic_load(&job.current), 0);
  assert_true(atomic_load(&mine.current) >= 5000);
  orf_cache_close(c);
  orf_blob_release(b); /* on a thread with no tracker */
  assert_int_equal(atomic_load(&mine.current), 0);
  assert_int_equal(atomic_load(&job.current), 0);

  assert_true(saw_enomem_put);
  assert_true(saw_enomem_get);
  free(d);
  rm_rf(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get_memory),
      cmocka_unit_test(test_lru_eviction),
      cmocka_unit_test(test_ttl_expiry),
      cmocka_unit_test(test_blob_outlives_eviction),
      cmocka_unit_test(test_hit_miss_counting),
      cmocka_unit_test(test_disk_restart),
      cmocka_unit_test(test_disk_truncated),
      cmocka_unit_test(test_disk_flipped_byte),
      cmocka_unit_test(test_disk_altered_after_verified),
      cmocka_unit_test(test_disk_scrubber),
      cmocka_unit_test(test_disk_garbage_removed),
      cmocka_unit_test(test_disk_eviction),
      cmocka_unit_test(test_disk_scan_evicts_oldest),
      cmocka_unit_test(test_open_fd),
      cmocka_unit_test(test_unwritable_dir),
      cmocka_unit_test(test_disk_write_failure_recovers),
      cmocka_unit_test(test_bad_keys),
      cmocka_unit_test(test_clear),
      cmocka_unit_test(test_concurrent),
      cmocka_unit_test(test_alloc_failure),
  };
  return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
