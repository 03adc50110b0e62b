/*
 * index.h - an intrusive index of records by string key: a chained hash
 * table (FNV-1a, a power of two of slots, doubled as it fills) threaded
 * with a recency list, most recently used first, as in memcached's item
 * LRU.  The server keeps every table of its own in one: both tiers of the
 * cache (cache.c, cache_disk.c: keys "hash/name", the list is their
 * eviction order) and the job manager (../jobs/jobs.c: jobs by request
 * hash and by id; nothing touches them, so the list is their order of
 * arrival).
 *
 * Intrusive: the caller embeds an orf_index_node in its own record and
 * keeps the key, a NUL-terminated string, at a fixed distance from that
 * node, given once to orf_index_init() (the key_offset of the Linux
 * kernel's rhashtable); nothing is copied, and the index allocates only its
 * array of slots.  The caller owns its records: the index never frees one.
 * Not thread-safe: each user holds its own lock around every call.
 */
#ifndef ORF_INDEX_H
#define ORF_INDEX_H

#include <stddef.h>
#include <stdint.h>

typedef struct orf_index_node {
  struct orf_index_node *hnext;       /* hash chain */
  struct orf_index_node *prev, *next; /* recency list; both NULL while not indexed */
  uint64_t h;                         /* hash of the key */
} orf_index_node;

typedef struct orf_index {
  orf_index_node **slots; /* cap chains */
  size_t cap, count;
  ptrdiff_t key_offset; /* from a node to its key */
  orf_index_node lru;   /* sentinel: lru.next most recently used, lru.prev least */
} orf_index;

/* Allocates the first slots; every node's key lies key_offset bytes from
 * the node (offsetof(record, key) - offsetof(record, node)).  Returns
 * ORF_OK or ORF_ENOMEM. */
int orf_index_init(orf_index *ix, ptrdiff_t key_offset);

/* Frees the slots; the records are the caller's. */
void orf_index_fini(orf_index *ix);

/* The key of node n. */
static inline const char *orf_index_key(const orf_index *ix, const orf_index_node *n) {
  return (const char *)n + ix->key_offset;
}

/* 1 while n is in an index (a node zeroed before its first insert is not). */
static inline int orf_index_linked(const orf_index_node *n) { return n->prev != NULL; }

/* The node of key, or NULL. */
orf_index_node *orf_index_find(orf_index *ix, const char *key);

/* Links n (its key set, and absent from ix) as the most recently used.
 * Never fails: when the table cannot grow, chains get longer. */
void orf_index_insert(orf_index *ix, orf_index_node *n);

/* Unlinks n; the record is the caller's again. */
void orf_index_remove(orf_index *ix, orf_index_node *n);

/* Makes n the most recently used. */
void orf_index_touch(orf_index *ix, orf_index_node *n);

/* The least recently used node, NULL when empty. */
orf_index_node *orf_index_oldest(orf_index *ix);

#endif
