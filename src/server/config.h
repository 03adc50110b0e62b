/*
 * config.h - `orfeas serve` options, each with its ORFEAS_* environment
 * variable (the option wins over the variable, the variable over the
 * default).  --help lists them with their defaults.
 *
 *   --host ORFEAS_HOST (127.0.0.1)         --port ORFEAS_PORT (5000; 0 = any free port)
 *   --data-dir ORFEAS_DATA_DIR (./orfeas-data)
 *   --workers ORFEAS_WORKERS (2)            --queue-max ORFEAS_QUEUE_MAX (16)
 *   --cache-mem-mb ORFEAS_CACHE_MEM_MB (256) --cache-disk-mb ORFEAS_CACHE_DISK_MB (2048)
 *   --cache-ttl ORFEAS_CACHE_TTL (3600 s)   --max-upload-mb ORFEAS_MAX_UPLOAD_MB (50)
 *   --cache-scrub-mb-s ORFEAS_CACHE_SCRUB_MB_S (4)
 *   --admin-token ORFEAS_ADMIN_TOKEN (none)
 *   --engine-threads ORFEAS_ENGINE_THREADS (cores / workers, at least 1)
 *   --connection-timeout ORFEAS_CONNECTION_TIMEOUT (30 s)
 *   --memory-budget-gb ORFEAS_MEMORY_BUDGET_GB (0 = total - reserves)
 *   --reserved-system-gb (2.0)  --reserved-cache-gb (1.0)  --sim-device (none)
 *   --monitor-interval (5 s)  --precision-fp32-gb (10)  --precision-fp16-gb (6)
 *   --web-root ORFEAS_WEB_ROOT (web/ beside the binary)
 *   --max-connections (1024)  --max-connections-per-ip (0 = none)
 *   --rate-limit (0 = off, requests/s per client)  --rate-burst (20)
 *   --cors-origin (none)  --allow-root (flag; ORFEAS_ALLOW_ROOT=1)
 *   cluster (docs/CLUSTER.md): --redis ORFEAS_REDIS (none: a single node)
 *   --node-id (host name:port)  --advertise-url (http://HOST:PORT)
 *   --job-lease (30 s)  --cluster-token (required with --redis)
 *   --generator NAME=URL (repeatable; ORFEAS_GENERATORS, comma-separated)
 *   --generator-timeout (300 s)  --generator-concurrency (1 per generator)
 */
#ifndef ORF_CONFIG_H
#define ORF_CONFIG_H

#include <stddef.h>
#include <stdio.h>

typedef struct orf_server_config {
  char host[256];
  int port;
  char data_dir[4096];
  int workers, queue_max, engine_threads;
  size_t cache_mem_bytes, cache_disk_bytes, max_upload_bytes;
  double cache_ttl_s;
  double cache_scrub_mb_s; /* disk tier scrub rate, MiB/s; 0: no scrubber */
  char admin_token[256];   /* "" = none */
  int connection_timeout_s;
  double min_upload_rate; /* bytes/s a request body keeps up after the timeout; 0 = off */
  /* memory budget (see jobs/jobs.h "Admission" and memory/memsource.h) */
  double memory_budget_gb; /* 0: the device's total minus the reserves */
  double reserved_system_gb, reserved_cache_gb;
  char sim_device[128];      /* "" = none */
  double monitor_interval_s; /* 0 = no monitor thread */
  double precision_fp32_gb, precision_fp16_gb;
  char device[8];           /* auto | cpu | cuda: where jobs' marching cubes run */
  char precision[8];        /* auto | fp32 | fp16 | int8: GPU field storage of jobs that do not ask */
  char web_root[4096];      /* "" = web/ beside the binary, if it exists */
  char segment_model[4096]; /* "" = orf_segment_default_model() (models/ beside the binary) */
  /* limits and security (server.c, http/guard.c) */
  int max_connections, max_connections_per_ip; /* per_ip 0 = no limit */
  double rate_limit;                           /* requests/s per client; 0 = off */
  int rate_burst;                              /* bucket size */
  char cors_origin[256];                       /* "" = CORS off */
  int allow_root;                              /* 1: may run as root */
  /* cluster (src/server/cluster, docs/CLUSTER.md) */
  char redis[512];         /* "" = a single node */
  char node_id[128];       /* "" = host name and port */
  char advertise_url[512]; /* "" = http://HOST:PORT */
  double job_lease_s;
  char cluster_token[256];
  /* remote generators (issue 16): "NAME=URL,NAME=URL" ("" = none) */
  char generators[4096];
  double generator_timeout_s; /* one model's deadline */
  int generator_concurrency;  /* jobs in flight per generator */
} orf_server_config;

/* Fills *c from defaults, then the environment, then argv (the arguments
 * after "serve").  Returns 0; 1 when --help was given (help printed to
 * `out`); -1 on a bad option or value, with one line naming it in err. */
int orf_server_config_parse(orf_server_config *c, int argc, char **argv, FILE *out, char *err,
                            size_t err_size);

#endif
