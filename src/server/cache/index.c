/*
 * index.c - the intrusive index of records by key (contract in index.h):
 * chained hashing with FNV-1a over the key, a power of two of slots
 * doubled when the table holds as many nodes as slots (mean chain length
 * at most one), and a doubly linked recency list through a sentinel.
 */
#include "index.h"

#include <string.h>

#include "orfeas.h"

#define INDEX_FIRST_CAP 64

/* FNV-1a, 64 bits: keys are short and not chosen by an attacker in bulk
 * (a client controls only the image bytes behind a SHA-256, and job ids
 * are random). */
static uint64_t key_hash(const char *key) {
  uint64_t h = 1469598103934665603ull;
  for (const unsigned char *p = (const unsigned char *)key; *p; p++)
    h = (h ^ *p) * 1099511628211ull;
  return h;
}

int orf_index_init(orf_index *ix, ptrdiff_t key_offset) {
  ix->slots = orf_calloc(INDEX_FIRST_CAP, sizeof *ix->slots);
  if (!ix->slots) return ORF_ENOMEM;
  ix->cap = INDEX_FIRST_CAP;
  ix->count = 0;
  ix->key_offset = key_offset;
  ix->lru.prev = ix->lru.next = &ix->lru;
  return ORF_OK;
}

void orf_index_fini(orf_index *ix) {
  orf_free(ix->slots);
  ix->slots = NULL;
  ix->cap = ix->count = 0;
}

orf_index_node *orf_index_find(orf_index *ix, const char *key) {
  uint64_t h = key_hash(key);
  for (orf_index_node *n = ix->slots[h & (ix->cap - 1)]; n; n = n->hnext)
    if (n->h == h && strcmp(orf_index_key(ix, n), key) == 0) return n;
  return NULL;
}

static void index_grow(orf_index *ix) {
  size_t cap = ix->cap * 2;
  orf_index_node **slots = orf_calloc(cap, sizeof *slots);
  if (!slots) return; /* longer chains, still correct */
  for (size_t i = 0; i < ix->cap; i++) {
    orf_index_node *n = ix->slots[i];
    while (n) {
      orf_index_node *next = n->hnext;
      n->hnext = slots[n->h & (cap - 1)];
      slots[n->h & (cap - 1)] = n;
      n = next;
    }
  }
  orf_free(ix->slots);
  ix->slots = slots;
  ix->cap = cap;
}

static void lru_link_front(orf_index *ix, orf_index_node *n) {
  n->prev = &ix->lru;
  n->next = ix->lru.next;
  ix->lru.next->prev = n;
  ix->lru.next = n;
}

static void lru_unlink(orf_index_node *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = NULL;
}

void orf_index_insert(orf_index *ix, orf_index_node *n) {
  if (ix->count >= ix->cap) index_grow(ix);
  n->h = key_hash(orf_index_key(ix, n));
  size_t s = n->h & (ix->cap - 1);
  n->hnext = ix->slots[s];
  ix->slots[s] = n;
  ix->count++;
  lru_link_front(ix, n);
}

void orf_index_remove(orf_index *ix, orf_index_node *n) {
  orf_index_node **pp = &ix->slots[n->h & (ix->cap - 1)];
  while (*pp && *pp != n)
    pp = &(*pp)->hnext;
  if (!*pp) return;
  *pp = n->hnext;
  n->hnext = NULL;
  ix->count--;
  lru_unlink(n);
}

void orf_index_touch(orf_index *ix, orf_index_node *n) {
  if (ix->lru.next == n) return;
  lru_unlink(n);
  lru_link_front(ix, n);
}

orf_index_node *orf_index_oldest(orf_index *ix) { return ix->lru.prev == &ix->lru ? NULL : ix->lru.prev; }
