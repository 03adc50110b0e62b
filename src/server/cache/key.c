/*
 * key.c - the cache's keys (key.h): a hash and a name checked to be safe as
 * path components, joined as "hash/name".
 */
#include "key.h"

#include <string.h>

#include "orfeas.h"
#include "util.h"

int orf_cache__valid_hash(const char *hash) { return orf_is_hex(hash, ORF_CACHE_HASH_LEN); }

int orf_cache__valid_name(const char *name) {
  if (!name || name[0] == '\0' || name[0] == '.') return 0;
  int i = 0;
  for (; name[i]; i++) {
    char ch = name[i];
    if (i >= ORF_CACHE_NAME_MAX) return 0;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.')) return 0;
    if (ch == '.' && name[i + 1] == '.') return 0;
  }
  return 1;
}

int orf_cache__make_key(char key[ORF_CACHE_KEY_SIZE], const char *hash, const char *name) {
  if (!orf_cache__valid_hash(hash) || !orf_cache__valid_name(name)) return ORF_EINVAL;
  memcpy(key, hash, ORF_CACHE_HASH_LEN);
  key[ORF_CACHE_HASH_LEN] = '/';
  strcpy(key + ORF_CACHE_HASH_LEN + 1, name);
  return ORF_OK;
}
