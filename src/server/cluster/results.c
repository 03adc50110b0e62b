/*
 * results.c - results across nodes (docs/CLUSTER.md "Results"): the node
 * that computed a result records in job:<hash> which node holds its files
 * and the SHA-256 of each (first writer wins: a stale node's late finish
 * of the same content changes nothing); another node asked for it fetches
 * the files from the holder's internal route (at the URL the holder
 * recorded with them), checks each against its SHA-256, stores them in its
 * own cache and serves them as its own.  A holder that does not answer
 * (within 2 s when the registry no longer lists it: dead, or not yet
 * registered again after a Redis restart), or that answers with a file
 * that does not match, makes the result one to compute again.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_int.h"
#include "result_texture.h"
#include "log.h"

#define FETCH_TIMEOUT_MS 10000 /* a holder the registry lists */
#define UNLISTED_TIMEOUT_MS 2000 /* a holder missing from the registry (dead, or not yet registered again) */
#define MAX_FILES 10 /* four stages, a texture image and its description, meta.json, and room */

int cl_sha256_hex(const void *data, size_t n, char out[65]) {
  unsigned char md[32];
  unsigned int mdlen = 0;
  if (!EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) return -1;
  for (int i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", md[i]);
  return 0;
}

/* The file names of a cached result: each stage's PLY from its meta.json,
 * then its texture step (src/server/result_texture.h: the image first,
 * then texture.json, which a result is not whole without), then meta.json
 * itself (stored last when fetched, so a result is whole locally only once
 * every stage and its texture are).  Returns how many, 0 when meta.json
 * is missing or unreadable. */
static int result_files(orf_cache *cache, const char *hash, char names[MAX_FILES][64]) {
  orf_blob *b;
  if (orf_cache_get(cache, hash, "meta.json", 0, &b)) return 0;
  json_t *meta = json_loadb((const char *)b->data, b->size, 0, NULL);
  orf_blob_release(b);
  json_t *stages = json_object_get(meta, "stages");
  int n = 0;
  for (size_t i = 0; i < json_array_size(stages) && n < MAX_FILES - 1; i++) {
    const char *s = json_string_value(json_object_get(json_array_get(stages, i), "stage"));
    if (s) snprintf(names[n++], 64, "%s.ply", s);
  }
  json_decref(meta);
  if (!n) return 0;
  const char *texture[2];
  int nt = orf_result_texture_files(cache, hash, texture);
  for (int i = 0; i < nt && n < MAX_FILES - 1; i++)
    snprintf(names[n++], 64, "%s", texture[i]);
  snprintf(names[n++], 64, "meta.json");
  return n;
}

/* KEYS: job; ARGV: node, its URL, files, then name, sha pairs */
static const char kRecord[] = "if redis.call('HSETNX', KEYS[1], 'holder', ARGV[1]) == 0 then return 0 end\n"
                              "redis.call('HSET', KEYS[1], 'holder_url', ARGV[2], 'files', ARGV[3])\n"
                              "for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], 'sha:' .. ARGV[i], ARGV[i + 1]) end\n"
                              "return 1\n";

int cl_results_record(orf_cluster *c, orf_redis *r, const char *hash) {
  char names[MAX_FILES][64], shas[MAX_FILES][65], files[MAX_FILES * 64] = "", key[100];
  int n = result_files(c->cfg.cache, hash, names);
  if (!n) return -1;
  const char *argv[7 + 2 * MAX_FILES];
  size_t len[7 + 2 * MAX_FILES];
  snprintf(key, sizeof key, CL_PREFIX "job:%s", hash);
  int a = 0;
  argv[a++] = "EVAL", argv[a++] = kRecord, argv[a++] = "1", argv[a++] = key, argv[a++] = c->node_id;
  argv[a++] = c->advertise;
  argv[a++] = files;
  for (int i = 0; i < n; i++) {
    orf_blob *b;
    if (orf_cache_get(c->cfg.cache, hash, names[i], 0, &b)) return -1;
    int bad = cl_sha256_hex(b->data, b->size, shas[i]);
    orf_blob_release(b);
    if (bad) return -1;
    if (i) strcat(files, ",");
    strcat(files, names[i]);
    argv[a++] = names[i], argv[a++] = shas[i];
  }
  for (int i = 0; i < a; i++)
    len[i] = strlen(argv[i]);
  redisReply *rep = orf_redis_command_argv(r, 0, a, argv, len);
  cl_note(c, r, rep);
  int ok = rep && rep->type == REDIS_REPLY_INTEGER;
  if (rep) freeReplyObject(rep);
  return ok ? 0 : -1;
}

/* Fetches and stores the files of a result held at url, each request
 * bounded by timeout_ms. */
static int fetch_files(orf_cluster *c, const char *hash, const redisReply *h, const char *url, int timeout_ms) {
  char files[MAX_FILES * 64];
  snprintf(files, sizeof files, "%s", cl_hash_field(h, "files") ? cl_hash_field(h, "files") : "");
  for (char *save = NULL, *name = strtok_r(files, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
    if (strcmp(name, "meta.json") && orf_cache_has(c->cfg.cache, hash, name)) continue;
    char field[80], path[700], sha[65];
    snprintf(field, sizeof field, "sha:%s", name);
    const char *want = cl_hash_field(h, field);
    snprintf(path, sizeof path, "%s/internal/v1/files/%s/%s", url, hash, name);
    uint8_t *body;
    size_t len;
    int status = cl_http_get(path, c->token, timeout_ms, &body, &len);
    int ok = status == 200 && want && cl_sha256_hex(body, len, sha) == 0 && !strcmp(sha, want) &&
             orf_cache_put(c->cfg.cache, hash, name, body, len) == ORF_OK;
    free(body);
    if (!ok) {
      orf_log_json("warn", "cluster_fetch_failed",
                   json_pack("{s:s, s:s, s:s, s:i}", "hash", hash, "file", name, "holder_url", url, "status", status));
      return -1;
    }
  }
  return 0;
}

int orf_cluster_fetch_result(orf_cluster *c, const char *hash) {
  redisReply *h = cl_cmd(c, "HGETALL " CL_PREFIX "job:%s", hash);
  if (!h) return ORF_CLUSTER_EDOWN;
  const char *state = cl_hash_field(h, "state"), *holder = cl_hash_field(h, "holder"), *url = cl_hash_field(h, "holder_url");
  int rc = ORF_OK;
  if (state && !strcmp(state, "complete") && holder && url) {
    /* The URL the holder recorded: a holder missing from the registry may
     * be one that has not registered again yet (after a Redis restart), so
     * it is still asked, with a shorter timeout. */
    char listed[512];
    int timeout = cl_nodes_url(c, holder, listed, sizeof listed) ? UNLISTED_TIMEOUT_MS : FETCH_TIMEOUT_MS;
    if (!strcmp(holder, c->node_id) || fetch_files(c, hash, h, url, timeout)) {
      rc = ORF_SRV_ENOTFOUND; /* gone, or this node was the holder and lost its files */
      atomic_fetch_add(&c->fetch_failed, 1);
    } else {
      atomic_fetch_add(&c->fetched, 1);
    }
  }
  freeReplyObject(h);
  return rc;
}
