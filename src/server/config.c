/*
 * config.c - the options of `orfeas serve` (see config.h): built-in
 * defaults, then ORFEAS_* environment variables, then command-line
 * options, in that order of precedence (the twelve-factor convention of
 * configuration in the environment, with flags for one-off overrides).
 *
 * One table (kOptions) describes every option - its name, variable, type,
 * range, default and help line - and the defaults, parsing, the environment
 * and --help all read it, so an option (and its default) is written in one
 * place.  Parsing is strict: an
 * integer is an optional '-' and decimal digits, nothing else (no spaces,
 * '+', hex, exponent or trailing text); the TTL may also have a decimal
 * fraction.  A value out of range is an error naming the option or
 * variable, never clamped.  An environment variable set to "" counts as
 * unset.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { K_STR, K_INT, K_MB, K_REAL, K_FLAG }; /* K_FLAG: an int 0..1, "--name" alone means 1 */
enum { HELP_WIDTH = 28 };

typedef struct opt_desc {
  const char *name;    /* without the leading "--" */
  const char *env;     /* ORFEAS_* */
  const char *metavar; /* what --help shows as the value */
  int kind;
  size_t offset; /* into orf_server_config */
  size_t size;   /* K_STR: the field's size */
  long long min, max;
  const char *def; /* the default, as a value would be given ("": none; set_defaults) */
  const char *help;
} opt_desc;

#define OFF(f) offsetof(orf_server_config, f)
#define STR(f) K_STR, OFF(f), sizeof(((orf_server_config *)0)->f)
static const opt_desc kOptions[] = {
    {"host", "ORFEAS_HOST", "ADDR", STR(host), 0, 0, "127.0.0.1", "address to listen on"},
    {"port", "ORFEAS_PORT", "N", K_INT, OFF(port), 0, 0, 65535, "5000",
     "TCP port; 0 = any free port (printed)"},
    {"data-dir", "ORFEAS_DATA_DIR", "DIR", STR(data_dir), 0, 0, "./orfeas-data", "the cache on disk"},
    {"workers", "ORFEAS_WORKERS", "N", K_INT, OFF(workers), 0, 1, 64, "2", "jobs running at once"},
    {"queue-max", "ORFEAS_QUEUE_MAX", "N", K_INT, OFF(queue_max), 0, 0, 100000, "16",
     "jobs waiting at most (then 429)"},
    {"cache-mem-mb", "ORFEAS_CACHE_MEM_MB", "MB", K_MB, OFF(cache_mem_bytes), 0, 0, 1048576, "256",
     "memory tier of the cache, MiB"},
    {"cache-disk-mb", "ORFEAS_CACHE_DISK_MB", "MB", K_MB, OFF(cache_disk_bytes), 0, 0, 16777216, "2048",
     "disk tier of the cache, MiB"},
    {"cache-ttl", "ORFEAS_CACHE_TTL", "S", K_REAL, OFF(cache_ttl_s), 0, 0, 31536000, "3600",
     "memory tier time to live, seconds; 0 = none"},
    {"cache-scrub-mb-s", "ORFEAS_CACHE_SCRUB_MB_S", "MB/S", K_REAL, OFF(cache_scrub_mb_s), 0, 0, 100000, "4",
     "MiB/s at which the disk tier's files are re-read against their checksums; 0 = off"},
    {"max-upload-mb", "ORFEAS_MAX_UPLOAD_MB", "MB", K_MB, OFF(max_upload_bytes), 0, 1, 1024, "50",
     "largest request body, MiB"},
    {"admin-token", "ORFEAS_ADMIN_TOKEN", "TOKEN", STR(admin_token), 0, 0, "",
     "bearer token for POST /api/v1/cache/clear"},
    {"engine-threads", "ORFEAS_ENGINE_THREADS", "N", K_INT, OFF(engine_threads), 0, 1, 256, "",
     "threads each job uses"},
    {"connection-timeout", "ORFEAS_CONNECTION_TIMEOUT", "S", K_INT, OFF(connection_timeout_s), 0, 1, 3600,
     "30", "seconds an idle connection is kept, and to send a request's headers"},
    {"min-upload-rate", "ORFEAS_MIN_UPLOAD_RATE", "B/S", K_REAL, OFF(min_upload_rate), 0, 0, 1e9, "1024",
     "bytes/s a request body must keep up (its deadline: the timeout + 1 s per B/S bytes); 0 = off"},
    {"web-root", "ORFEAS_WEB_ROOT", "DIR", STR(web_root), 0, 0, "",
     "the web studio's files (served at / and /static/)"},
    {"segment-model", "ORFEAS_SEGMENT_MODEL", "PATH", STR(segment_model), 0, 0, "",
     "the segmentation network (ONNX, 1x3xSxS in, saliency out) that finds subjects in photographs; none: "
     "without one"},
    {"memory-budget-gb", "ORFEAS_MEMORY_BUDGET_GB", "GB", K_REAL, OFF(memory_budget_gb), 0, 0, 1000000, "0",
     "memory for jobs; 0 = device total - reserves"},
    {"reserved-system-gb", "ORFEAS_RESERVED_SYSTEM_GB", "GB", K_REAL, OFF(reserved_system_gb), 0, 0, 1000000,
     "2.0", "kept back for the system"},
    {"reserved-cache-gb", "ORFEAS_RESERVED_CACHE_GB", "GB", K_REAL, OFF(reserved_cache_gb), 0, 0, 1000000,
     "1.0", "kept back for the result cache's memory tier"},
    {"sim-device", "ORFEAS_SIM_DEVICE", "NAME:GB[:USED]", STR(sim_device), 0, 0, "",
     "simulated device the budget is taken from"},
    {"monitor-interval", "ORFEAS_MONITOR_INTERVAL", "S", K_REAL, OFF(monitor_interval_s), 0, 0, 86400, "5",
     "seconds between memory samples"},
    {"precision-fp32-gb", "ORFEAS_PRECISION_FP32_GB", "GB", K_REAL, OFF(precision_fp32_gb), 0, 0, 1000000,
     "10", "free budget above which fp32 is recommended"},
    {"precision-fp16-gb", "ORFEAS_PRECISION_FP16_GB", "GB", K_REAL, OFF(precision_fp16_gb), 0, 0, 1000000,
     "6", "free budget above which fp16 is recommended (else int8)"},
    {"device", "ORFEAS_DEVICE", "auto|cpu|cuda", STR(device), 0, 0, "auto",
     "where jobs run their field and marching cubes: cuda needs a usable GPU, auto uses one when present"},
    {"precision", "ORFEAS_PRECISION", "auto|fp32|fp16|int8", STR(precision), 0, 0, "auto",
     "GPU field storage for jobs that do not ask; auto follows the free budget"},
    /* limits and security (issue 7) */
    {"max-connections", "ORFEAS_MAX_CONNECTIONS", "N", K_INT, OFF(max_connections), 0, 1, 1000000, "1024",
     "open connections at most"},
    {"max-connections-per-ip", "ORFEAS_MAX_CONNECTIONS_PER_IP", "N", K_INT, OFF(max_connections_per_ip), 0, 0,
     1000000, "0", "open connections per client address; 0 = no limit"},
    {"rate-limit", "ORFEAS_RATE_LIMIT", "R", K_REAL, OFF(rate_limit), 0, 0, 1000000, "0",
     "requests/s per client address (429 past it); 0 = off"},
    {"rate-burst", "ORFEAS_RATE_BURST", "N", K_INT, OFF(rate_burst), 0, 1, 1000000, "20",
     "requests a client may make at once under --rate-limit"},
    {"cors-origin", "ORFEAS_CORS_ORIGIN", "ORIGIN", STR(cors_origin), 0, 0, "",
     "the one origin allowed cross-origin requests (CORS)"},
    {"allow-root", "ORFEAS_ALLOW_ROOT", "", K_FLAG, OFF(allow_root), 0, 0, 1, "0",
     "run even as root (refused otherwise)"},
    /* cluster (issue 14, docs/CLUSTER.md) */
    {"redis", "ORFEAS_REDIS", "URL", STR(redis), 0, 0, "",
     "redis://[[user]:password@]host[:port][/db] shared by the nodes of a cluster; none: a single node"},
    {"node-id", "ORFEAS_NODE_ID", "ID", STR(node_id), 0, 0, "", "this node's name in the cluster"},
    {"advertise-url", "ORFEAS_ADVERTISE_URL", "URL", STR(advertise_url), 0, 0, "",
     "how the other nodes reach this one (http://host:port)"},
    {"job-lease", "ORFEAS_JOB_LEASE", "S", K_REAL, OFF(job_lease_s), 0, 1, 3600, "30",
     "seconds a cluster job may go without a heartbeat before another node takes it over"},
    {"cluster-token", "ORFEAS_CLUSTER_TOKEN", "TOKEN", STR(cluster_token), 0, 0, "",
     "shared secret of the nodes' internal routes (required with --redis)"},
    /* remote generators (issue 16, generator/generators.h) */
    {"generator", "ORFEAS_GENERATORS", "NAME=URL", STR(generators), 0, 0, "",
     "a Hunyuan3D-2 API server requests may choose with generator=NAME (repeatable; the variable holds "
     "several, separated by commas)"},
    {"generator-timeout", "ORFEAS_GENERATOR_TIMEOUT", "S", K_REAL, OFF(generator_timeout_s), 0, 1, 86400,
     "300", "seconds a remote generator has for one model"},
    {"generator-concurrency", "ORFEAS_GENERATOR_CONCURRENCY", "N", K_INT, OFF(generator_concurrency), 0, 1,
     1024, "1", "jobs in flight at once per remote generator (the rest wait)"},
};
#define N_OPTIONS (sizeof kOptions / sizeof kOptions[0])

static void set_err(char *err, size_t err_size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_size, const char *fmt, ...) {
  if (!err || !err_size) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, err_size, fmt, ap);
  va_end(ap);
}

/* Strict decimal: -?[0-9]+ and, when fraction is allowed, (\.[0-9]+)?.
 * Returns 0 and *v, or -1 (malformed) or -2 (too large to hold). */
static int parse_number(const char *s, int fraction, double *v) {
  const char *p = s;
  if (*p == '-') p++;
  if (*p < '0' || *p > '9') return -1;
  while (*p >= '0' && *p <= '9')
    p++;
  if (fraction && *p == '.') {
    p++;
    if (*p < '0' || *p > '9') return -1;
    while (*p >= '0' && *p <= '9')
      p++;
  }
  if (*p) return -1;
  errno = 0;
  if (fraction) {
    *v = strtod(s, NULL);
  } else {
    long long n = strtoll(s, NULL, 10);
    if (errno == ERANGE) return -2;
    *v = (double)n;
  }
  return errno == ERANGE ? -2 : 0;
}

/* Sets option o of *c from text v; `who` names the source in messages
 * ("--port" or "ORFEAS_PORT").  Returns 0 or -1 with err set. */
static int apply(orf_server_config *c, const opt_desc *o, const char *who, const char *v, char *err,
                 size_t err_size) {
  char *field = (char *)c + o->offset;
  if (o->kind == K_STR) {
    size_t n = strlen(v);
    if (n >= o->size) {
      set_err(err, err_size, "%s: value longer than %zu bytes", who, o->size - 1);
      return -1;
    }
    if (n == 0 && strcmp(o->name, "admin-token") != 0 && strcmp(o->name, "sim-device") != 0 &&
        strcmp(o->name, "web-root") != 0 && strcmp(o->name, "cors-origin") != 0) {
      set_err(err, err_size, "%s: value must not be empty", who);
      return -1;
    }
    memcpy(field, v, n + 1);
    return 0;
  }
  double x;
  int rc = parse_number(v, o->kind == K_REAL, &x);
  if (rc == -1) {
    set_err(err, err_size, "%s: '%.64s' is not %s", who, v, o->kind == K_REAL ? "a number" : "an integer");
    return -1;
  }
  if (rc == -2 || x < (double)o->min || x > (double)o->max) {
    set_err(err, err_size, "%s: '%.64s' is out of range %lld..%lld", who, v, o->min, o->max);
    return -1;
  }
  switch (o->kind) {
  case K_INT:
  case K_FLAG: *(int *)field = (int)x; break;
  case K_MB: *(size_t *)field = (size_t)x << 20; break;
  case K_REAL: *(double *)field = x; break;
  }
  return 0;
}

/* Every option's default, from the table: the one place defaults are
 * written.  An empty default leaves the field empty (or 0); engine_threads
 * is derived from the cores once the workers are known (parse). */
static void set_defaults(orf_server_config *c) {
  memset(c, 0, sizeof *c);
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (kOptions[i].def[0] && apply(c, &kOptions[i], "default", kOptions[i].def, NULL, 0))
      abort(); /* a default outside its own range: a bug of the table, caught by any test */
}

/* The default as --help shows it. */
static const char *shown_default(const opt_desc *o) {
  if (o->offset == OFF(engine_threads)) return "cores / workers, at least 1";
  if (o->offset == OFF(web_root)) return "web/ beside the binary";
  if (o->offset == OFF(segment_model)) return "models/u2netp.onnx beside the binary";
  if (o->kind == K_FLAG) return o->def[0] == '1' ? "on" : "off";
  return o->def[0] ? o->def : "none";
}

static const opt_desc *find_option(const char *name, size_t len) {
  for (size_t i = 0; i < N_OPTIONS; i++)
    if (strlen(kOptions[i].name) == len && strncmp(kOptions[i].name, name, len) == 0) return &kOptions[i];
  return NULL;
}

static int online_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

static void print_help(FILE *out) {
  if (!out) return;
  fprintf(out, "usage: orfeas serve [options]\n\n"
               "Each option may also be set by its environment variable; the option wins.\n"
               "Values: --name value or --name=value.\n\n");
  for (size_t i = 0; i < N_OPTIONS; i++) {
    const opt_desc *o = &kOptions[i];
    char left[64];
    snprintf(left, sizeof left, "--%s %s", o->name, o->metavar);
    fprintf(out, "  %-*s %-26s %s (default %s", HELP_WIDTH, left, o->env, o->help, shown_default(o));
    if (o->offset == OFF(engine_threads)) fprintf(out, "; %d cores here", online_cores());
    if (o->kind != K_STR) fprintf(out, "; %lld..%lld", o->min, o->max);
    fprintf(out, ")\n");
  }
  fprintf(out, "  %-*s %-26s %s\n", HELP_WIDTH, "--help", "", "print this help and exit");
}

/* Contract: see config.h.  *c always ends up fully set (defaults where
 * nothing valid was given).  --help (or -h) anywhere wins over errors in
 * other arguments: it prints the help to `out` (may be NULL) and returns 1.
 * Otherwise the first error found is reported (environment before argv). */
int orf_server_config_parse(orf_server_config *c, int argc, char **argv, FILE *out, char *err,
                            size_t err_size) {
  int failed = 0, threads_given = 0, help = 0, generator_given = 0;
  set_defaults(c);
  if (err && err_size) err[0] = '\0';

  for (size_t i = 0; i < N_OPTIONS; i++) {
    const char *v = getenv(kOptions[i].env);
    if (!v || !*v) continue;
    if (apply(c, &kOptions[i], kOptions[i].env, v, failed ? NULL : err, err_size)) {
      failed = 1;
      continue;
    }
    if (kOptions[i].offset == OFF(engine_threads)) threads_given = 1;
  }

  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      help = 1;
      continue;
    }
    const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a + 2, '=') : NULL;
    size_t name_len = strncmp(a, "--", 2) == 0 ? (eq ? (size_t)(eq - a - 2) : strlen(a + 2)) : 0;
    const opt_desc *o = name_len ? find_option(a + 2, name_len) : NULL;
    if (!o) {
      if (!failed)
        set_err(err, err_size, "%s '%.64s'",
                strncmp(a, "-", 1) == 0 ? "unknown option" : "unexpected argument", a);
      failed = 1;
      continue;
    }
    char who[48];
    snprintf(who, sizeof who, "--%s", o->name);
    const char *v = eq ? eq + 1 : NULL;
    if (!v && o->kind == K_FLAG) v = "1";
    if (!v) {
      if (i + 1 >= argc) {
        if (!failed) set_err(err, err_size, "%s needs a value", who);
        failed = 1;
        continue;
      }
      v = argv[++i];
    }
    if (o->offset == OFF(generators) && generator_given++) { /* repeatable: each one added */
      size_t have = strlen(c->generators), n = strlen(v);
      if (have + 1 + n >= sizeof c->generators) {
        if (!failed)
          set_err(err, err_size, "%s: the generators take more than %zu bytes", who,
                  sizeof c->generators - 1);
        failed = 1;
        continue;
      }
      c->generators[have] = ',';
      memcpy(c->generators + have + 1, v, n + 1);
      continue;
    }
    if (apply(c, o, who, v, failed ? NULL : err, err_size)) {
      failed = 1;
      continue;
    }
    if (o->offset == OFF(engine_threads)) threads_given = 1;
  }

  if (!threads_given) {
    int t = online_cores() / (c->workers > 0 ? c->workers : 1);
    c->engine_threads = t < 1 ? 1 : t > 256 ? 256 : t;
  }
  if (help) {
    print_help(out);
    return 1;
  }
  return failed ? -1 : 0;
}
