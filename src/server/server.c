/*
 * server.c - start-up, signals and shutdown of `orfeas serve` (server.h).
 *
 * Order of start, one step a function (orf_server_main at the end reads
 * as the list): check_options (then: no root unless --allow-root, a valid
 * --cors-origin), block_signals, open_stores (metrics, cache in the data
 * dir, rate limiter, memory sources), load_segmenter (the network),
 * choose_device (CPU or GPU), compute_budgets (what jobs may hold),
 * start_jobs (job manager and its workers, memory monitor), start_http
 * (deadline watcher, then libmicrohttpd: its own polling threads, epoll, a
 * pool of two).  SIGTERM and SIGINT are blocked in every thread and taken
 * by the main thread with sigwait(), so no handler runs in the middle of
 * anything.  Shutdown (serve_until_signal): the draining flag (generation
 * requests get 503, /ready 503), then the job manager drains (queued and
 * running jobs finish and wake their waiters), then the daemon gives open
 * connections up to DRAIN_CONNECTIONS_S to finish and stops; then stop()
 * frees everything.
 */
#include "server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/redis.h"
#include "http/batch_store.h"
#include "http/http_int.h"
#include "http/upload_store.h"
#include "generator/generators.h"
#include "log.h"

#define DRAIN_CONNECTIONS_S 5.0
#define HTTP_THREADS 2
#define RATE_CLIENTS 65536                     /* clients the rate limit tracks: 1.5 MiB */
#define SEGMENT_CACHE_BYTES ((size_t)32 << 20) /* the network's mattes: 327 at 320x320 */

static int resolve(const char *host, int port, struct sockaddr_storage *ss) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV},
                  *res;
  char service[16];
  snprintf(service, sizeof service, "%d", port);
  if (getaddrinfo(host, service, &hints, &res)) return -1;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

/* The monitor's view of the budget (orf_budget_read_fn). */
static void read_budget(void *ctx, double *in_use, double *budget) { orf_jobs_budget(ctx, in_use, budget); }

/* libmicrohttpd's own messages (a client gone mid-stream, ...) as log
 * events, so every line on stderr stays one JSON object. */
static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
    msg[--n] = 0;
  orf_log_json("warn", "http_library", json_pack("{s:s}", "message", msg));
}

/* The first 16 hex digits of the SHA-256 of the model file at path, into
 * id[17], for the request hash (http_request_hash).  0, or -1 when the file
 * cannot be read. */
static int model_id(const char *path, char id[17]) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
  unsigned char buf[65536], md[32];
  size_t n;
  while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
    ok = EVP_DigestUpdate(ctx, buf, n);
  ok = ok && !ferror(f) && EVP_DigestFinal_ex(ctx, md, NULL);
  EVP_MD_CTX_free(ctx);
  fclose(f);
  for (int i = 0; ok && i < 8; i++)
    snprintf(id + 2 * i, 3, "%02x", md[i]);
  return ok ? 0 : -1;
}

/* An internal error of libmicrohttpd: say what it was, as a log event,
 * before the process aborts as the library requires. */
static void mhd_panic(void *cls, const char *file, unsigned int line, const char *reason) {
  (void)cls;
  orf_log_json("error", "http_library_panic",
               json_pack("{s:s, s:i, s:s}", "file", file ? file : "", "line", (int)line, "reason",
                         reason ? reason : ""));
  abort();
}

/* ---- start-up, step by step: each returns 0 to go on, or the exit
 * status (2: a bad option or setting, said on stderr; 1: the server cannot
 * start, logged) ---- */

/* The options, and what they must be beyond their parsing: not root unless
 * allowed, a CORS origin that is one.  -1 to go on; 0 after --help. */
static int check_options(server *srv, int argc, char **argv) {
  char err[256];
  int rc = orf_server_config_parse(&srv->cfg, argc, argv, stdout, err, sizeof err);
  if (rc == 1) return 0;
  if (rc) {
    fprintf(stderr, "orfeas serve: %s\n", err);
    return 2;
  }
  if (geteuid() == 0 && !srv->cfg.allow_root) {
    fprintf(stderr, "orfeas serve: refusing to run as root: run it as an unprivileged user "
                    "(or pass --allow-root, ORFEAS_ALLOW_ROOT=1, if you mean it)\n");
    return 2;
  }
  if (srv->cfg.cors_origin[0] && !http_cors_origin_valid(srv->cfg.cors_origin)) {
    fprintf(stderr, "orfeas serve: --cors-origin: '%.64s' is not an origin (http[s]://host[:port])\n",
            srv->cfg.cors_origin);
    return 2;
  }
  if (srv->cfg.redis[0]) { /* the cluster's settings, before anything starts */
    orf_redis_url u;
    if (orf_redis_parse_url(srv->cfg.redis, &u, err, sizeof err)) {
      fprintf(stderr, "orfeas serve: --redis: %s\n", err);
      return 2;
    }
    if (strlen(srv->cfg.cluster_token) < 16) {
      fprintf(stderr, "orfeas serve: --cluster-token (ORFEAS_CLUSTER_TOKEN) is required with --redis: the same "
                      "secret of at least 16 characters on every node\n");
      return 2;
    }
    /* A cluster job carries the engine's parameters only (docs/CLUSTER.md):
     * a remote generator's job run by another node would be the engine's. */
    if (srv->cfg.generators[0]) {
      fprintf(stderr, "orfeas serve: --generator (ORFEAS_GENERATORS) cannot be used with --redis yet: a cluster's "
                      "shared jobs run on the geometry engine; serve remote generators from a node without "
                      "--redis\n");
      return 2;
    }
  }
  if (geteuid() == 0)
    orf_log_json(
        "warn", "running_as_root",
        json_pack("{s:s}", "message", "running as root, allowed by --allow-root or ORFEAS_ALLOW_ROOT"));
  return -1;
}

/* SIGTERM and SIGINT blocked in this thread and every thread started after
 * it (the main thread takes them with sigwait); no SIGPIPE. */
static void block_signals(sigset_t *sigs) {
  sigemptyset(sigs);
  sigaddset(sigs, SIGTERM);
  sigaddset(sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, sigs, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* Metrics, the cache (memory, and disk under the data dir), the rate
 * limiter, the memory sources. */
static int open_stores(server *srv) {
  srv->metrics = orf_metrics_create();
  char cache_dir[4200];
  snprintf(cache_dir, sizeof cache_dir, "%s/cache", srv->cfg.data_dir);
  orf_cache_config cc = {cache_dir, srv->cfg.cache_mem_bytes, srv->cfg.cache_disk_bytes, srv->cfg.cache_ttl_s,
                         srv->cfg.cache_scrub_mb_s * 1048576.0};
  if (!srv->metrics || orf_cache_open(&srv->cache, &cc) || http_batches_start(srv) ||
      http_uploads_start(srv) ||
      (srv->cfg.rate_limit > 0 &&
       orf_ratelimit_create(&srv->ratelimit, srv->cfg.rate_limit, srv->cfg.rate_burst, RATE_CLIENTS))) {
    orf_log_json("error", "start_failed", json_pack("{s:s}", "reason", "out of memory"));
    return 1;
  }
  orf_cache_stats cst;
  orf_cache_stats_get(srv->cache, &cst);
  if (!cst.disk_ok) /* the cache runs from memory only; /health says so too */
    orf_log_json("error", "disk_unavailable",
                 json_pack("{s:s, s:s}", "error", cst.last_disk_error, "data_dir", srv->cfg.data_dir));
  char err[256];
  if (orf_memsources_open(&srv->mem, srv->cfg.sim_device[0] ? srv->cfg.sim_device : NULL, err, sizeof err)) {
    fprintf(stderr, "orfeas serve: --sim-device: %s\n", err);
    return 2;
  }
  return 0;
}

/* The segmentation network: a server without its model (missing,
 * unreadable, malformed) does not start; "none" runs without one
 * (background=auto stops at the colour model, subject fails). */
static int load_segmenter(server *srv) {
  char model[4096], err[256];
  if (srv->cfg.segment_model[0])
    snprintf(model, sizeof model, "%s", srv->cfg.segment_model);
  else
    orf_segment_default_model(model, sizeof model);
  if (!strcmp(model, "none")) {
    orf_log_event("warn", "no_segment_model",
                  "\"message\":\"--segment-model none: photographs are separated by the colour model only\"");
  } else if (orf_segmenter_create(model, srv->cfg.engine_threads, SEGMENT_CACHE_BYTES, &srv->segmenter, err,
                                  sizeof err)) {
    fprintf(stderr, "orfeas serve: %s (set --segment-model or ORFEAS_SEGMENT_MODEL)\n", err);
    return 2;
  } else if (model_id(model, srv->segment_model_id)) {
    fprintf(stderr, "orfeas serve: cannot read the segmentation model %s to hash it\n", model);
    return 2;
  }
  return 0;
}

/* The engine's device: cuda needs a usable GPU; auto takes one when
 * present.  On it, admission is by GPU memory. */
static int choose_device(server *srv) {
  orf_device want;
  orf_precision prec;
  if (orf_device_from_name(srv->cfg.device, &want) ||
      (strcmp(srv->cfg.precision, "auto") && orf_precision_from_name(srv->cfg.precision, &prec))) {
    fprintf(stderr,
            "orfeas serve: --device must be auto, cpu or cuda and --precision auto, fp32, fp16 or int8\n");
    return 2;
  }
  orf_gpu_info gi;
  orf_gpu_query(&gi);
  if (want == ORF_DEVICE_CUDA && !gi.available) {
    fprintf(stderr, "orfeas serve: --device cuda: %s\n",
            gi.compiled ? "no usable CUDA device" : "this build has no CUDA (nvcc was not found)");
    return 2;
  }
  srv->engine_device = want != ORF_DEVICE_CPU && gi.available ? ORF_DEVICE_CUDA : ORF_DEVICE_CPU;
  if (srv->engine_device == ORF_DEVICE_CUDA) orf_memsources_use_engine_gpu(srv->mem);
  orf_log_json("info", "engine",
               json_pack("{s:s, s:s, s:b}", "device", orf_device_name(srv->engine_device), "gpu",
                         gi.available ? gi.name : "", "cuda_compiled", gi.compiled));
  return 0;
}

/* The memory the jobs may hold, in bytes, and what it came from. */
typedef struct budgets {
  double total, external; /* the budget device's total, and what others use of it */
  double jobs;            /* the budget of the device jobs run on */
  double host;            /* the host budget beside a GPU; 0: none */
} budgets;

/* The budget: explicit, or the device's total less what others use and
 * the two reserves (the cache's memory tier lives in its own reserve). */
static void compute_budgets(server *srv, budgets *b) {
  orf_mem_snapshot snap;
  orf_memsources_sample(srv->mem, &snap);
  orf_memsources_budget_base(srv->mem, &snap, &b->total, &b->external);
  srv->device_total_bytes = b->total;
  const double reserves = (srv->cfg.reserved_system_gb + srv->cfg.reserved_cache_gb) * ORF_GIB;
  b->jobs =
      srv->cfg.memory_budget_gb > 0 ? srv->cfg.memory_budget_gb * ORF_GIB : b->total - b->external - reserves;
  if (b->jobs < 1) b->jobs = 1; /* nothing fits: every job is refused with 507, and says why */
  /* Jobs on the GPU also hold host memory (the image, the meshes and their
   * simplification; relief, lithophane and extrude run wholly there): it
   * gets a budget of its own, the host's total less the two reserves. */
  b->host = 0;
  if (srv->engine_device == ORF_DEVICE_CUDA) {
    b->host = snap.host_total_gb * ORF_GIB - reserves;
    if (b->host < 1) b->host = 1;
  }
}

/* The remote generators of --generator (each one's /health asked once). */
static int start_generators(server *srv) {
  char err[256];
  int rc = orf_generators_create(&srv->generators, srv->cfg.generators, srv->cfg.generator_timeout_s,
                                 srv->cfg.generator_concurrency, err, sizeof err);
  if (rc == ORF_EINVAL) {
    fprintf(stderr, "orfeas serve: %s\n", err);
    return 2;
  }
  if (rc) {
    orf_log_json("error", "start_failed", json_pack("{s:s}", "reason", "out of memory"));
    return 1;
  }
  if (orf_generators_count(srv->generators))
    orf_log_json("info", "generators",
                 json_pack("{s:o}", "generators", orf_generators_json(srv->generators)));
  return 0;
}

/* The job manager (its workers) within the budgets, then the memory
 * monitor that samples them. */
static int start_jobs(server *srv, const budgets *b) {
  orf_jobs_config jc = {.workers = srv->cfg.workers,
                        .queue_max = srv->cfg.queue_max,
                        .engine_threads = srv->cfg.engine_threads,
                        .keep_finished_s = 3600.0,
                        .limits = srv->limits,
                        .cache = srv->cache,
                        .metrics = srv->metrics,
                        .budget_bytes = b->jobs,
                        .host_budget_bytes = b->host,
                        .device = srv->engine_device,
                        .segmenter = srv->segmenter,
                        .generators =
                            srv->generators}; /* finished jobs: 4096 and 16 MiB at most (jobs/jobs.c) */
  if (orf_jobs_create(&srv->jobs, &jc)) {
    orf_log_json("error", "start_failed", json_pack("{s:s}", "reason", "cannot start the job workers"));
    return 1;
  }
  orf_log_json("info", "memory_budget",
               json_pack("{s:s, s:f, s:f, s:f, s:f}", "device", orf_memsources_budget_device(srv->mem),
                         "device_total_gb", b->total / ORF_GIB, "external_gb", b->external / ORF_GIB,
                         "budget_gb", b->jobs / ORF_GIB, "host_budget_gb", b->host / ORF_GIB));
  if (srv->cfg.monitor_interval_s > 0 &&
      orf_monitor_start(&srv->monitor, srv->mem, read_budget, srv->jobs, srv->cfg.monitor_interval_s, 720)) {
    orf_log_json("error", "start_failed", json_pack("{s:s}", "reason", "cannot start the memory monitor"));
    return 1;
  }
  return 0;
}

/* The deadline watcher, then libmicrohttpd listening on --host and --port;
 * says where on stdout (the tests and scripts read that line). */
static int start_http(server *srv) {
  struct sockaddr_storage addr;
  if (resolve(srv->cfg.host, srv->cfg.port, &addr)) {
    fprintf(stderr, "orfeas serve: cannot use host %s\n", srv->cfg.host);
    return 2;
  }
  unsigned flags =
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  if (http_deadlines_start(&srv->deadlines, srv->cfg.connection_timeout_s, srv->cfg.min_upload_rate,
                           srv->metrics)) {
    orf_log_json("error", "start_failed", json_pack("{s:s}", "reason", "cannot start the deadline watcher"));
    return 1;
  }
  /* libmicrohttpd splits the connection limit between its threads */
  unsigned threads = srv->cfg.max_connections < HTTP_THREADS ? 1u : (unsigned)HTTP_THREADS;
  srv->daemon = MHD_start_daemon(
      flags, (uint16_t)srv->cfg.port, NULL, NULL, http_on_request, srv, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
      NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, threads,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->cfg.connection_timeout_s, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned)srv->cfg.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      (unsigned)srv->cfg.max_connections_per_ip, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
      MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION, http_on_connection,
      srv, MHD_OPTION_URI_LOG_CALLBACK, http_on_uri, NULL, MHD_OPTION_END);
  if (!srv->daemon) {
    orf_log_json("error", "start_failed",
                 json_pack("{s:s, s:s, s:i}", "reason", "cannot listen", "host", srv->cfg.host, "port",
                           srv->cfg.port));
    return 1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  int port = info ? info->port : srv->cfg.port;
  printf("orfeas listening on http://%s:%d\n", srv->cfg.host, port);
  fflush(stdout);
  orf_log_json("info", "listening",
               json_pack("{s:s, s:i, s:i, s:i, s:s}", "host", srv->cfg.host, "port", port, "workers",
                         srv->cfg.workers, "queue_max", srv->cfg.queue_max, "data_dir", srv->cfg.data_dir));
  return 0;
}

/* With --redis: joins the cluster (src/server/cluster) once the port is
 * known (the default node id and advertise URL name it).  Until then the
 * routes that need the cluster answer 503. */
static int start_cluster(server *srv) {
  if (!srv->cfg.redis[0]) return 0;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
  orf_cluster_config cc = {.redis_url = srv->cfg.redis,
                           .node_id = srv->cfg.node_id,
                           .advertise_url = srv->cfg.advertise_url,
                           .token = srv->cfg.cluster_token,
                           .lease_s = srv->cfg.job_lease_s,
                           .workers = srv->cfg.workers,
                           .queue_max = srv->cfg.queue_max,
                           .image_max_bytes = srv->cfg.max_upload_bytes,
                           .host = srv->cfg.host,
                           .port = info ? info->port : srv->cfg.port,
                           .jobs = srv->jobs,
                           .cache = srv->cache};
  char err[300];
  orf_cluster *c;
  if (orf_cluster_start(&c, &cc, err, sizeof err)) {
    fprintf(stderr, "orfeas serve: %s\n", err);
    return 2;
  }
  atomic_store(&srv->cluster, c);
  orf_log_json("info", "cluster_joined",
               json_pack("{s:s, s:b}", "node_id", orf_cluster_node_id(c), "redis_reachable", orf_cluster_up(c)));
  return 0;
}

/* Every step of the start, in order, until one fails. */
static int start(server *srv) {
  MHD_set_panic_func(mhd_panic, NULL);
  srv->started = orf_now_mono();
  http_static_init(srv);
  orf_limits_init(&srv->limits);
  srv->limits.max_file_bytes = srv->cfg.max_upload_bytes;
  int status;
  if ((status = open_stores(srv)) || (status = start_generators(srv)) || (status = load_segmenter(srv)) ||
      (status = choose_device(srv)))
    return status;
  budgets b;
  compute_budgets(srv, &b);
  if ((status = start_jobs(srv, &b)) || (status = start_http(srv)) || (status = start_cluster(srv))) return status;
  return 0;
}

/* Waits for SIGTERM or SIGINT, then drains: the draining flag (generation
 * requests get 503, /ready 503), the job manager's queued and running jobs
 * finish, open connections get up to DRAIN_CONNECTIONS_S, the daemon and
 * the deadline watcher stop. */
static void serve_until_signal(server *srv, const sigset_t *sigs) {
  int sig;
  sigwait(sigs, &sig);
  atomic_store(&srv->draining, 1);
  orf_log_json("info", "draining", json_pack("{s:s}", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
  orf_cluster *cluster = atomic_load(&srv->cluster);
  if (cluster) orf_cluster_drain(cluster); /* no new job from the shared queue; the running ones finish */
  orf_jobs_drain(srv->jobs);
  /* Open connections get a moment to finish; new ones are still accepted
   * (and told 503 draining) rather than quiescing the daemon, a path of
   * libmicrohttpd's that can panic with a thread pool on epoll. */
  for (double t0 = orf_now_mono(); orf_now_mono() - t0 < DRAIN_CONNECTIONS_S;) {
    const union MHD_DaemonInfo *c = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    if (!c || c->num_connections == 0) break;
    usleep(20000);
  }
  MHD_stop_daemon(srv->daemon);
  srv->daemon = NULL;
  http_deadlines_stop(srv->deadlines);
  srv->deadlines = NULL;
  orf_log_json("info", "stopped", NULL);
}

/* Frees whatever was started, in the reverse order. */
static void stop(server *srv) {
  if (srv->daemon) MHD_stop_daemon(srv->daemon);
  http_deadlines_stop(srv->deadlines);
  if (srv->monitor) orf_monitor_stop(srv->monitor);
  orf_cluster_stop(atomic_load(&srv->cluster));
  if (srv->jobs) orf_jobs_free(srv->jobs);
  orf_generators_free(srv->generators);
  orf_segmenter_free(srv->segmenter);
  if (srv->mem) orf_memsources_close(srv->mem);
  if (srv->cache) orf_cache_close(srv->cache);
  if (srv->metrics) orf_metrics_free(srv->metrics);
  orf_ratelimit_free(srv->ratelimit);
  http_batches_free(srv->batches);
  http_uploads_free(srv->uploads);
}

int orf_server_main(int argc, char **argv) {
  server srv;
  memset(&srv, 0, sizeof srv);
  int status = check_options(&srv, argc, argv);
  if (status >= 0) return status;
  sigset_t sigs;
  block_signals(&sigs);
  status = start(&srv);
  if (status == 0) serve_until_signal(&srv, &sigs);
  stop(&srv);
  return status;
}
