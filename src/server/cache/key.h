/*
 * key.h - the cache's keys, shared by its two tiers (cache.c, cache_disk.c):
 * the checks that make a (hash, name) pair safe as two path components,
 * the "hash/name" text both tiers index by, and the node that carries it
 * into their index (index.h).
 *
 * Not part of the server's interface: only the cache's files include this.
 */
#ifndef ORF_CACHE_KEY_H
#define ORF_CACHE_KEY_H

#include <stddef.h>

#include "index.h"

#define ORF_CACHE_HASH_LEN 64
#define ORF_CACHE_NAME_MAX 64
/* "hash/name" and its NUL */
#define ORF_CACHE_KEY_SIZE (ORF_CACHE_HASH_LEN + 1 + ORF_CACHE_NAME_MAX + 1)

/* Embedded as the first member of each tier's entry: the index hands out
 * links, which are the node, which is the entry. */
typedef struct orf_cache__node {
  orf_index_node link;          /* first */
  char key[ORF_CACHE_KEY_SIZE]; /* "hash/name" */
} orf_cache__node;

/* Where a node's key lies from its link (orf_index_init's key_offset). */
#define ORF_CACHE_KEY_OFFSET ((ptrdiff_t)offsetof(orf_cache__node, key))

/* The node of an index link. */
static inline orf_cache__node *orf_cache__node_of(orf_index_node *n) { return (orf_cache__node *)n; }

/* 1 when hash is exactly 64 characters of [0-9a-f], else 0 (NULL: 0). */
int orf_cache__valid_hash(const char *hash);

/* 1 when name matches [a-z0-9_.]{1,64}, does not start with '.' and holds
 * no "..", else 0 (NULL: 0).  Such a name is one path component that can
 * never be "." or ".." or a temporary file's name. */
int orf_cache__valid_name(const char *name);

/* Writes "hash/name" into key.  Returns ORF_OK or ORF_EINVAL (bad hash or
 * name; key is then untouched). */
int orf_cache__make_key(char key[ORF_CACHE_KEY_SIZE], const char *hash, const char *name);

#endif
