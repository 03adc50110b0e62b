/*
 * routes_info.c - the endpoints that describe the server: /health, /ready,
 * /metrics, /api/v1/gpu/stats, /api/v1/cache/stats, /api/v1/cache/clear
 * (admin token rules of docs/API.md, compared in constant time) and the page at
 * "/".
 *
 * GPU and memory figures come from the memory sources (memory/memsource.h: NVML,
 * the host with its cgroup limit, or a simulated device) through the
 * monitor's latest sample, and from the job manager's budget.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "generator/generators.h"
#include "http_int.h"

static double uptime_s(server *srv) { return orf_now_mono() - srv->started; }

/* The "cluster" object of a cluster node (--redis): routes_cluster.c's
 * orf_cluster_status_json, or a joining node's. */
static void add_cluster(request *r, json_t *j) {
  if (!http_cluster_mode(r->srv)) return;
  orf_cluster *c = atomic_load(&r->srv->cluster);
  json_object_set_new(j, "cluster",
                      c ? orf_cluster_status_json(c) : json_pack("{s:b, s:s}", "redis_reachable", 0, "error",
                                                                 "this node is still joining the cluster"));
}

enum MHD_Result route_health(request *r) {
  orf_cache_stats cs;
  orf_cache_stats_get(r->srv->cache, &cs);
  int draining = atomic_load(&r->srv->draining);
  int cuda = r->srv->engine_device == ORF_DEVICE_CUDA;
  json_t *j = json_pack("{s:s, s:s, s:f, s:s, s:{s:b}, s:{s:b, s:s}}", "status", draining ? "draining" : "ok",
                        "version", ORF_VERSION, "uptime_s", uptime_s(r->srv), "engine", cuda ? "cuda" : "cpu",
                        "gpu", "available", cuda, "disk", "ok", cs.disk_ok, "error", cs.last_disk_error);
  add_cluster(r, j);
  json_object_set_new(j, "generators", orf_generators_json(r->srv->generators));
  return http_json(r, 200, j);
}

/* GET /ready: 200 while new work would be taken; 503 with the reason
 * while the server is draining or its job queue is full, so that a load
 * balancer sends new work elsewhere. */
enum MHD_Result route_ready(request *r) {
  const char *reason = atomic_load(&r->srv->draining) ? "draining"
                       : orf_jobs_full(r->srv->jobs)  ? "queue_full"
                                                      : NULL;
  orf_cluster *c = atomic_load(&r->srv->cluster);
  if (!reason && http_cluster_mode(r->srv) && (!c || !orf_cluster_up(c))) {
    char buf[800];
    return http_json(r, 503,
                     json_pack("{s:b, s:s, s:s}", "ready", 0, "reason", "cluster_unavailable", "error",
                               c ? orf_cluster_error(c, buf, sizeof buf) : "this node is still joining the cluster"));
  }
  if (!reason) return http_json(r, 200, json_pack("{s:b}", "ready", 1));
  int err = !strcmp(reason, "draining") ? ORF_SRV_EDRAINING : ORF_SRV_EQUEUEFULL;
  return http_json(
      r, 503, json_pack("{s:b, s:s, s:s}", "ready", 0, "reason", reason, "error", http_error_sentence(err)));
}

/* The monitor's latest sample, or a fresh one when there is no monitor. */
static void latest_snapshot(server *srv, orf_mem_snapshot *snap) {
  if (srv->monitor)
    orf_monitor_latest(srv->monitor, snap);
  else
    orf_memsources_sample(srv->mem, snap);
}

static json_t *device_json(const orf_gpu_device *d) {
  json_t *j = json_pack("{s:i, s:s, s:f, s:f, s:f}", "index", d->index, "name", d->name, "total_vram_gb",
                        d->total_gb, "used_gb", d->used_gb, "free_gb", d->free_gb);
  json_object_set_new(j, "utilization_percent",
                      d->utilization_percent >= 0 ? json_integer(d->utilization_percent) : json_null());
  json_object_set_new(j, "temperature_c",
                      d->temperature_c >= 0 ? json_integer(d->temperature_c) : json_null());
  if (d->simulated) json_object_set_new(j, "simulated", json_true());
  return j;
}

/* Precision: the CUDA path stores the 3-D field in fp32, fp16 or int8
 * (src/gpu/fieldgrid.h); on the CPU no field is stored, so there
 * "precision_mode" is "not_applicable".  On the GPU it is the server's
 * --precision ("auto" follows the recommendation, which follows the free
 * budget with the configured thresholds).  allocated_gb and reserved_gb
 * are the engine's device pool (what jobs hold, and what the pool keeps
 * from the driver) when jobs run on the GPU, and memory_budget.host is
 * then the host budget beside it (jobs/jobs.h "Admission"). */
enum MHD_Result route_gpu_stats(request *r) {
  server *srv = r->srv;
  orf_mem_snapshot snap;
  latest_snapshot(srv, &snap);
  double in_use, budget;
  orf_jobs_budget(srv->jobs, &in_use, &budget);
  const char *precision = orf_precision_name(http_recommended_precision(srv));
  int cuda = srv->engine_device == ORF_DEVICE_CUDA;
  const char *mode = cuda ? orf_precision_name(http_precision_of(srv, srv->cfg.precision)) : "not_applicable";
  orf_gpu_info pool = {0};
  if (cuda) orf_gpu_query(&pool);
  size_t queued, running;
  orf_jobs_counts(srv->jobs, &queued, &running);
  const char *device = orf_memsources_budget_device(srv->mem);
  json_t *gpu;
  if (snap.gpu_available) {
    json_t *devs = json_array();
    double total = 0, used = 0, avail = 0;
    for (int i = 0; i < snap.gpu_count; i++) {
      json_array_append_new(devs, device_json(&snap.gpu[i]));
      total += snap.gpu[i].total_gb;
      used += snap.gpu[i].used_gb;
      avail += snap.gpu[i].free_gb;
    }
    int on_gpu = strcmp(device, "cpu") != 0;
    /* the engine's pool when jobs run on the GPU; with a simulated device
     * what admission holds */
    double allocated = cuda ? pool.pool_used_bytes / ORF_GIB : on_gpu ? in_use / ORF_GIB : 0.0;
    double reserved = cuda ? pool.pool_reserved_bytes / ORF_GIB : 0.0;
    gpu =
        json_pack("{s:b, s:o, s:f, s:f, s:f, s:f, s:f, s:s}", "available", 1, "devices", devs,
                  "total_vram_gb", total, "allocated_gb", allocated, "reserved_gb", reserved, "available_gb",
                  avail, "usage_percent", total > 0 ? 100.0 * used / total : 0.0, "precision_mode", mode);
  } else {
    gpu = json_pack("{s:b}", "available", 0);
  }
  orf_mem_point pts[720];
  size_t n = srv->monitor ? orf_monitor_history(srv->monitor, pts, 720) : 0;
  json_t *history = json_array();
  for (size_t i = 0; i < n; i++)
    json_array_append_new(history, json_pack("{s:f, s:f, s:f}", "t", pts[i].t, "in_use_gb", pts[i].in_use_gb,
                                             "available_gb", pts[i].available_gb));
  char ts[32];
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
  json_t *j = json_pack(
      "{s:s, s:o, s:I, s:I, s:s, s:i, s:{s:s, s:f, s:f, s:f, s:f, s:f}, s:o, s:s}", "timestamp", ts, "gpu",
      gpu, "queue_depth", (json_int_t)queued, "running_jobs", (json_int_t)running, "recommended_precision",
      precision, "optimal_batch_size", orf_jobs_batch(srv->jobs), "memory_budget", "device", device,
      "total_gb", srv->device_total_bytes / ORF_GIB, "reserved_system_gb", srv->cfg.reserved_system_gb,
      "reserved_cache_gb", srv->cfg.reserved_cache_gb, "available_for_jobs_gb", budget / ORF_GIB, "in_use_gb",
      in_use / ORF_GIB, "history", history, "precision_mode", mode);
  double host_in_use, host_budget;
  orf_jobs_host_budget(srv->jobs, &host_in_use, &host_budget);
  if (host_budget > 0) /* jobs run on the GPU: the host memory they hold beside it */
    json_object_set_new(json_object_get(j, "memory_budget"), "host",
                        json_pack("{s:f, s:f}", "available_for_jobs_gb", host_budget / ORF_GIB, "in_use_gb",
                                  host_in_use / ORF_GIB));
  add_cluster(r, j);
  json_object_set_new(j, "generators", orf_generators_json(srv->generators));
  return http_json(r, 200, j);
}

enum MHD_Result route_cache_stats(request *r) {
  orf_cache_stats s;
  orf_cache_stats_get(r->srv->cache, &s);
  double lookups = (double)(s.hits + s.misses);
  json_t *j = json_pack(
      "{s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:f, s:f, s:I, s:{s:I, s:I, s:I, s:b, s:s, s:I, s:{s:I, s:I}}}",
      "entries", (json_int_t)s.entries, "total_hits", (json_int_t)s.hits, "misses", (json_int_t)s.misses,
      "hit_ratio", lookups > 0 ? (double)s.hits / lookups : 0.0, "bytes", (json_int_t)s.bytes, "max_bytes",
      (json_int_t)s.max_bytes, "evictions", (json_int_t)s.evictions, "ttl_seconds", s.ttl_s,
      "avg_hits_per_entry", s.entries ? (double)s.hits / (double)s.entries : 0.0, "coalesced",
      (json_int_t)s.coalesced, "disk", "entries", (json_int_t)s.disk_entries, "bytes",
      (json_int_t)s.disk_bytes, "max_bytes", (json_int_t)s.disk_max_bytes, "ok", s.disk_ok, "error",
      s.last_disk_error, "corrupt", (json_int_t)s.corrupt, "scrub", "checked", (json_int_t)s.scrub_checked,
      "damaged", (json_int_t)s.scrub_damaged);
  return http_json(r, 200, j);
}

enum MHD_Result route_cache_clear(request *r) {
  const char *token = r->srv->cfg.admin_token;
  if (token[0]) {
    const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7))
      return http_error_code(r, 401, "unauthorized",
                             "this endpoint needs Authorization: Bearer <admin token>", NULL);
    /* Compared as SHA-256 digests with CRYPTO_memcmp: the time depends on
     * neither the bytes nor the length of the token, so it leaks neither a
     * matching prefix nor the token's length. */
    const char *given = auth + 7;
    unsigned char want_md[32], given_md[32];
    unsigned int len = 32;
    int same = EVP_Digest(token, strlen(token), want_md, &len, EVP_sha256(), NULL) &&
               EVP_Digest(given, strlen(given), given_md, &len, EVP_sha256(), NULL) &&
               CRYPTO_memcmp(want_md, given_md, 32) == 0;
    if (!same) return http_error_code(r, 403, "forbidden", "wrong admin token", NULL);
  }
  size_t removed = 0;
  int rc = orf_cache_clear(r->srv->cache, &removed);
  orf_gpu_trim(); /* and the device memory the engine's pool keeps cached */
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
  g.cache_scrub_checked = s.scrub_checked;
  g.cache_scrub_damaged = s.scrub_damaged;
  g.uptime_s = uptime_s(r->srv);
  if (r->srv->segmenter) {
    orf_segmenter_stats ss;
    orf_segmenter_stats_get(r->srv->segmenter, &ss);
    g.segment_runs = ss.runs;
    g.segment_hits = ss.hits;
    g.segment_cache_bytes = ss.cache_bytes;
  }
  double in_use, budget;
  orf_jobs_budget(r->srv->jobs, &in_use, &budget);
  g.budget_bytes = (uint64_t)budget;
  g.budget_in_use_bytes = (uint64_t)in_use;
  orf_mem_snapshot snap;
  latest_snapshot(r->srv, &snap);
  double total, external;
  orf_memsources_budget_base(r->srv->mem, &snap, &total, &external);
  g.device_available_bytes =
      (uint64_t)(snap.gpu_available && strcmp(orf_memsources_budget_device(r->srv->mem), "cpu")
                     ? snap.gpu[0].free_gb * ORF_GIB
                     : snap.host_available_gb * ORF_GIB);
  char *text;
  size_t len;
  if (orf_metrics_render(r->srv->metrics, &g, &text, &len)) return http_error(r, ORF_ENOMEM, NULL, NULL);
  orf_cluster *c = atomic_load(&r->srv->cluster);
  if (c) orf_cluster_metrics(c, &text, &len);
  if (orf_generators_metrics(r->srv->generators, &text, &len)) {
    free(text);
    return http_error(r, ORF_ENOMEM, NULL, NULL);
  }
  r->bytes = len;
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
  MHD_add_response_header(resp, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  return http_queue(r, 200, resp);
}

/* GET /api/v1/params: the engine's own description of its parameters
 * (orf_params_describe), so a client builds its controls from the table the
 * server validates with, plus the server's parameters. */
enum MHD_Result route_params(request *r) {
  size_t n = orf_params_describe(NULL, 0);
  char *text = malloc(n + 1);
  if (!text) return http_error(r, ORF_ENOMEM, NULL, NULL);
  orf_params_describe(text, n + 1);
  json_t *j = json_loads(text, 0, NULL);
  free(text);
  if (!j) return http_error(r, ORF_EINTERNAL, "the parameter description is not JSON", NULL);
  json_object_set_new(j, "server_params",
                      json_pack("[{s:s, s:s, s:s, s:[s,s,s,s], s:s}, {s:s, s:s, s:s, s:b}]", "name",
                                "precision", "type", "enum", "help",
                                "GPU field storage (fp32 gives the CPU's mesh; fp16 and int8 take half and a "
                                "quarter of the memory); auto follows the free memory; the CPU ignores it",
                                "choices", "auto", "fp32", "fp16", "int8", "default", "auto", "name",
                                "download", "type", "bool", "help",
                                "answer with the file itself instead of JSON", "default", 0));
  json_t *gp = http_generator_server_params(r->srv);
  json_array_extend(json_object_get(j, "server_params"), gp);
  json_decref(gp);
  return http_json(r, 200, j);
}

/* A plain upload form until the web studio (its own issue) replaces it:
 * it posts to /api/v1/generate?download=1 and the browser saves the file. */
static const char kPage[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>ORFEAS</title></head><body>"
    "<h1>ORFEAS</h1><p>Turn a picture into a printable 3D model.</p>"
    "<form method=\"post\" action=\"/api/v1/generate?download=1\" enctype=\"multipart/form-data\">"
    "<p><label>Image (PNG, JPEG, WebP) <input type=\"file\" name=\"image\" accept=\"image/png,image/jpeg,"
    "image/webp\" required></label></p>"
    "<p><label>Format <select name=\"format\"><option>glb</option><option>stl</option><option>obj</option>"
    "<option>ply</option><option>3mf</option></select></label></p>"
    "<p><label>Quality <input type=\"number\" name=\"quality\" min=\"1\" max=\"10\" value=\"7\"></label></p>"
    "<p><button type=\"submit\">Make the model</button></p></form>"
    "<p>API: <code>POST /api/v1/generate</code>, <code>/api/v1/generate-progressive</code>, "
    "<code>/api/v1/jobs</code>; the whole contract: <a href=\"/api/v1/openapi.json\">OpenAPI "
    "description</a> (docs/API.md and docs/openapi.yaml in the repository).</p></body></html>\n";

enum MHD_Result route_studio(request *r) {
  r->bytes = sizeof kPage - 1;
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(sizeof kPage - 1, (void *)kPage, MHD_RESPMEM_PERSISTENT);
  MHD_add_response_header(resp, "Content-Type", "text/html; charset=utf-8");
  MHD_add_response_header(resp, "Cache-Control", "no-cache");
  return http_queue(r, 200, resp);
}

/* docs/openapi.yaml as JSON, generated into the build (scripts/embed_openapi.py). */
extern const char orf_openapi_json[];
extern const size_t orf_openapi_json_len;

enum MHD_Result route_openapi(request *r) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(orf_openapi_json_len, (void *)orf_openapi_json, MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  r->bytes = orf_openapi_json_len;
  MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "Cache-Control", "no-cache");
  return http_queue(r, 200, resp);
}
