/*
 * routes_info.c - the endpoints that describe the server: /health, /ready,
 * /metrics, /api/v1/gpu/stats, /api/v1/cache/stats, /api/v1/cache/clear
 * (admin token rules of API.md, compared in constant time) and the page at
 * "/".
 *
 * GPU and memory-budget figures: this build runs the CPU engine and has no
 * memory-budget admission yet (its own issue), so /api/v1/gpu/stats says
 * "available": false and reports the host's memory from /proc/meminfo with
 * the default reserves; in_use_gb counts nothing until admission exists.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "http_int.h"
#include "srv_error.h"

#define GB (1024.0 * 1024.0 * 1024.0)

static double uptime_s(server *srv) { return http_now() - srv->started; }

enum MHD_Result route_health(request *r) {
  orf_cache_stats cs;
  orf_cache_stats_get(r->srv->cache, &cs);
  int draining = atomic_load(&r->srv->draining);
  json_t *j = json_pack("{s:s, s:s, s:f, s:s, s:{s:b}, s:{s:b, s:s}}", "status", draining ? "draining" : "ok",
                        "version", ORF_VERSION, "uptime_s", uptime_s(r->srv), "engine", "cpu", "gpu", "available",
                        0, "disk", "ok", cs.disk_ok, "error", cs.last_disk_error);
  return http_json(r, 200, j);
}

enum MHD_Result route_ready(request *r) {
  int ok = !atomic_load(&r->srv->draining);
  return http_json(r, ok ? 200 : 503, json_pack("{s:b}", "ready", ok));
}

/* Total and available host memory from /proc/meminfo, in bytes. */
static void host_memory(double *total, double *available) {
  *total = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
  *available = *total;
  FILE *f = fopen("/proc/meminfo", "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    unsigned long long kb;
    if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) *available = (double)kb * 1024.0;
  }
  fclose(f);
}

enum MHD_Result route_gpu_stats(request *r) {
  double total, avail;
  host_memory(&total, &avail);
  const double reserved_system = 2.0, reserved_cache = (double)r->srv->cfg.cache_mem_bytes / GB;
  double for_jobs = total / GB - reserved_system - reserved_cache;
  if (for_jobs < 0) for_jobs = 0;
  double free_gb = avail / GB;
  const char *precision = free_gb > 10 ? "fp32" : free_gb > 6 ? "fp16" : "int8";
  size_t queued, running;
  orf_jobs_counts(r->srv->jobs, &queued, &running);
  int batch = (int)(for_jobs / 0.25);
  batch = batch < 1 ? 1 : batch > 32 ? 32 : batch;
  char ts[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json_t *j = json_pack("{s:s, s:{s:b}, s:I, s:I, s:s, s:i, s:{s:s, s:f, s:f, s:f, s:f, s:f}, s:[]}", "timestamp",
                        ts, "gpu", "available", 0, "queue_depth", (json_int_t)queued, "running_jobs",
                        (json_int_t)running, "recommended_precision", precision, "optimal_batch_size", batch,
                        "memory_budget", "device", "cpu", "total_gb", total / GB, "reserved_system_gb",
                        reserved_system, "reserved_cache_gb", reserved_cache, "available_for_jobs_gb", for_jobs,
                        "in_use_gb", 0.0, "history");
  return http_json(r, 200, j);
}

enum MHD_Result route_cache_stats(request *r) {
  orf_cache_stats s;
  orf_cache_stats_get(r->srv->cache, &s);
  double lookups = (double)(s.hits + s.misses);
  json_t *j = json_pack("{s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:f, s:f, s:I, s:{s:I, s:I, s:I, s:b, s:s, s:I}}",
                        "entries", (json_int_t)s.entries, "total_hits", (json_int_t)s.hits, "misses",
                        (json_int_t)s.misses, "hit_ratio", lookups > 0 ? (double)s.hits / lookups : 0.0, "bytes",
                        (json_int_t)s.bytes, "max_bytes", (json_int_t)s.max_bytes, "evictions",
                        (json_int_t)s.evictions, "ttl_seconds", s.ttl_s, "avg_hits_per_entry",
                        s.entries ? (double)s.hits / (double)s.entries : 0.0, "coalesced", (json_int_t)s.coalesced,
                        "disk", "entries", (json_int_t)s.disk_entries, "bytes", (json_int_t)s.disk_bytes,
                        "max_bytes", (json_int_t)s.disk_max_bytes, "ok", s.disk_ok, "error", s.last_disk_error,
                        "corrupt", (json_int_t)s.corrupt);
  return http_json(r, 200, j);
}

enum MHD_Result route_cache_clear(request *r) {
  const char *token = r->srv->cfg.admin_token;
  if (token[0]) {
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7))
      return http_error_code(r, 401, "unauthorized", "this endpoint needs Authorization: Bearer <admin token>",
                             NULL);
    const char *given = auth + 7;
    size_t n = strlen(token);
    /* constant time in the token's length; a length mismatch still compares */
    int same = strlen(given) == n;
    same &= CRYPTO_memcmp(given, token, strlen(given) < n ? strlen(given) : n) == 0;
    if (!same) return http_error_code(r, 403, "forbidden", "wrong admin token", NULL);
  }
  size_t removed = 0;
  int rc = orf_cache_clear(r->srv->cache, &removed);
  if (rc) return http_error(r, rc, NULL, NULL);
  return http_json(r, 200, json_pack("{s:s, s:I}", "status", "cleared", "removed", (json_int_t)removed));
}

enum MHD_Result route_metrics(request *r) {
  orf_metrics_gauges g = {0};
  orf_jobs_counts(r->srv->jobs, &g.queue_depth, &g.running_jobs);
  orf_cache_stats s;
  orf_cache_stats_get(r->srv->cache, &s);
  g.cache_hits = s.hits;
  g.cache_misses = s.misses;
  g.cache_evictions = s.evictions;
  g.cache_coalesced = s.coalesced;
  g.cache_bytes = s.bytes;
  g.cache_entries = s.entries;
  g.cache_disk_bytes = s.disk_bytes;
  g.uptime_s = uptime_s(r->srv);
  char *text;
  size_t len;
  if (orf_metrics_render(r->srv->metrics, &g, &text, &len)) return http_error(r, ORF_ENOMEM, NULL, NULL);
  r->bytes = len;
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  return http_queue(r, 200, resp);
}

/* A plain upload form until the web studio (its own issue) replaces it:
 * it posts to /api/v1/generate?download=1 and the browser saves the file. */
static const char kPage[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>ORFEAS</title></head><body style=\"font-family:sans-serif;max-width:40em;margin:2em auto\">"
    "<h1>ORFEAS</h1><p>Turn a picture into a printable 3D model.</p>"
    "<form method=\"post\" action=\"/api/v1/generate?download=1\" enctype=\"multipart/form-data\">"
    "<p><label>Image (PNG, JPEG, WebP) <input type=\"file\" name=\"image\" accept=\"image/png,image/jpeg,"
    "image/webp\" required></label></p>"
    "<p><label>Format <select name=\"format\"><option>glb</option><option>stl</option><option>obj</option>"
    "<option>ply</option></select></label></p>"
    "<p><label>Quality <input type=\"number\" name=\"quality\" min=\"1\" max=\"10\" value=\"7\"></label></p>"
    "<p><button type=\"submit\">Make the model</button></p></form>"
    "<p>API: <code>POST /api/v1/generate</code>, <code>/api/v1/generate-progressive</code>, "
    "<code>/api/v1/jobs</code>; see shared/spec/API.md.</p></body></html>\n";

enum MHD_Result route_studio(request *r) {
  r->bytes = sizeof kPage - 1;
  struct MHD_Response *resp = MHD_create_response_from_buffer(sizeof kPage - 1, (void *)kPage, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
  MHD_add_response_header(resp, "Cache-Control", "no-cache");
  return http_queue(r, 200, resp);
}
