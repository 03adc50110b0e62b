/*
 * generators.c - the remote generators (contract in generators.h): the
 * table parsed from --generator, each generator's slots (a counter under
 * the table's mutex, waited on with a condition variable), health and
 * counts, and the registry of requests by hash (a ring of REGISTRY_MAX,
 * the oldest overwritten: a request whose job never ran, being joined or
 * cancelled while queued, is forgotten that way).
 */
#include "generators.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hunyuan_client.h"
#include "util.h"

#define REGISTRY_MAX 4096
#define PROBE_TIMEOUT_S 3.0
#define POLL_S 0.5 /* between two /status requests */

typedef struct generator {
  char name[ORF_GENERATOR_NAME_MAX];
  char url[1024];
  int version;     /* 20, 21, 0 unknown */
  int healthy;     /* answered its last check */
  double checked;  /* orf_now_mono() of it, 0: never */
  char error[256]; /* its last failure, "" */
  int in_flight;   /* slots taken */
  unsigned long long ok, failed, cancelled;
  double seconds; /* summed over the finished requests */
} generator;

typedef struct entry {
  char hash[65];
  orf_remote_request rq;
} entry;

struct orf_generators {
  pthread_mutex_t mu;
  pthread_cond_t freed; /* a slot was given back */
  generator *gens;
  int n;
  double timeout_s;
  int concurrency;
  entry *reg;
  size_t next;
};

static int valid_name(const char *s, size_t n) {
  if (n == 0 || n >= ORF_GENERATOR_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '-' || s[i] == '_'))
      return 0;
  return strncmp(s, "geometry", n) || n != 8;
}

/* One "NAME=URL" of the spec into g->gens[g->n]. */
static int parse_one(orf_generators *g, const char *s, size_t n, char *err, size_t err_size) {
  const char *eq = memchr(s, '=', n);
  size_t name_len = eq ? (size_t)(eq - s) : 0, url_len = eq ? n - name_len - 1 : 0;
  if (!eq || !valid_name(s, name_len)) {
    snprintf(err, err_size,
             "--generator: '%.*s' is not NAME=URL with a NAME of letters, digits, - and _ (not \"geometry\")",
             (int)(n < 80 ? n : 80), s);
    return ORF_EINVAL;
  }
  if (url_len >= sizeof g->gens[0].url || (strncmp(eq + 1, "http://", 7) && strncmp(eq + 1, "https://", 8)) ||
      url_len < 8) {
    snprintf(err, err_size, "--generator %.*s: the URL must begin with http:// or https://", (int)name_len,
             s);
    return ORF_EINVAL;
  }
  generator *x = &g->gens[g->n];
  memset(x, 0, sizeof *x);
  snprintf(x->name, sizeof x->name, "%.*s", (int)name_len, s);
  snprintf(x->url, sizeof x->url, "%.*s", (int)url_len, eq + 1);
  while (strlen(x->url) > 8 && x->url[strlen(x->url) - 1] == '/') /* the paths are added */
    x->url[strlen(x->url) - 1] = 0;
  for (int i = 0; i < g->n; i++)
    if (!strcmp(g->gens[i].name, x->name)) {
      snprintf(err, err_size, "--generator: %s is declared twice", x->name);
      return ORF_EINVAL;
    }
  g->n++;
  return ORF_OK;
}

/* Checks x's /health now: its version and health. */
static void probe(orf_generators *g, generator *x) {
  char msg[256] = "";
  int v = orf_hy_probe(x->url, PROBE_TIMEOUT_S, msg, sizeof msg);
  pthread_mutex_lock(&g->mu);
  x->checked = orf_now_mono();
  x->healthy = v != 0;
  if (v) x->version = v;
  snprintf(x->error, sizeof x->error, "%s", v ? "" : msg);
  pthread_mutex_unlock(&g->mu);
}

int orf_generators_create(orf_generators **out, const char *spec, double timeout_s, int concurrency,
                          char *err, size_t err_size) {
  *out = NULL;
  orf_generators *g = calloc(1, sizeof *g);
  size_t slots = 1;
  for (const char *p = spec; *p; p++)
    slots += *p == ',';
  if (!g || !(g->gens = calloc(slots, sizeof *g->gens)) || !(g->reg = calloc(REGISTRY_MAX, sizeof *g->reg))) {
    if (g) free(g->gens);
    free(g);
    return ORF_ENOMEM;
  }
  pthread_mutex_init(&g->mu, NULL);
  orf_cond_init_mono(&g->freed);
  g->timeout_s = timeout_s;
  g->concurrency = concurrency < 1 ? 1 : concurrency;
  for (const char *p = spec; *p;) {
    size_t n = strcspn(p, ",");
    while (n && (*p == ' '))
      p++, n--;
    if (n && parse_one(g, p, n, err, err_size)) {
      orf_generators_free(g);
      return ORF_EINVAL;
    }
    p += n;
    if (*p == ',') p++;
  }
  if (g->n) curl_global_init(CURL_GLOBAL_DEFAULT); /* once, before any worker thread uses libcurl */
  for (int i = 0; i < g->n; i++)
    probe(g, &g->gens[i]);
  *out = g;
  return ORF_OK;
}

void orf_generators_free(orf_generators *g) {
  if (!g) return;
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->freed);
  free(g->gens);
  free(g->reg);
  free(g);
}

int orf_generators_count(const orf_generators *g) { return g ? g->n : 0; }

int orf_generators_find(const orf_generators *g, const char *name) {
  for (int i = 0; g && i < g->n; i++)
    if (!strcmp(g->gens[i].name, name)) return i;
  return -1;
}

const char *orf_generators_name(const orf_generators *g, int index) {
  return g && index >= 0 && index < g->n ? g->gens[index].name : NULL;
}

int orf_generators_register(orf_generators *g, const char *hash, const orf_remote_request *rq) {
  pthread_mutex_lock(&g->mu);
  entry *e = &g->reg[g->next];
  g->next = (g->next + 1) % REGISTRY_MAX;
  memcpy(e->hash, hash, 65);
  e->rq = *rq;
  pthread_mutex_unlock(&g->mu);
  return 1;
}

int orf_generators_lookup(orf_generators *g, const char *hash, orf_remote_request *rq) {
  int found = 0;
  pthread_mutex_lock(&g->mu);
  for (size_t i = 0; i < REGISTRY_MAX && !found; i++)
    if (g->reg[i].hash[0] && !strcmp(g->reg[i].hash, hash)) {
      *rq = g->reg[i].rq;
      found = 1;
    }
  pthread_mutex_unlock(&g->mu);
  return found;
}

void orf_generators_forget(orf_generators *g, const char *hash) {
  pthread_mutex_lock(&g->mu);
  for (size_t i = 0; i < REGISTRY_MAX; i++)
    if (!strcmp(g->reg[i].hash, hash)) g->reg[i].hash[0] = 0;
  pthread_mutex_unlock(&g->mu);
}

typedef struct tick_ctx {
  orf_generator_tick_fn tick;
  void *ctx;
  atomic_int *cancel;
} tick_ctx;

static int on_tick(void *user, double elapsed_s) {
  tick_ctx *t = user;
  return atomic_load(t->cancel) || (t->tick && t->tick(t->ctx, elapsed_s, 0));
}

/* Takes one of x's slots, waiting while all are taken: 0, or -1 when
 * cancelled meanwhile. */
static int take_slot(orf_generators *g, generator *x, atomic_int *cancel, orf_generator_tick_fn tick,
                     void *ctx) {
  double t0 = orf_now_mono();
  pthread_mutex_lock(&g->mu);
  while (x->in_flight >= g->concurrency) {
    pthread_mutex_unlock(&g->mu);
    if (atomic_load(cancel) || (tick && tick(ctx, orf_now_mono() - t0, 1))) return -1;
    pthread_mutex_lock(&g->mu);
    struct timespec until = orf_mono_after(POLL_S);
    if (x->in_flight >= g->concurrency) pthread_cond_timedwait(&g->freed, &g->mu, &until);
  }
  x->in_flight++;
  pthread_mutex_unlock(&g->mu);
  return 0;
}

int orf_generators_run(orf_generators *g, const orf_remote_request *rq, const uint8_t *png, size_t png_size,
                       atomic_int *cancel, orf_generator_tick_fn tick, void *ctx, uint8_t **glb,
                       size_t *glb_size, char *msg, size_t msg_size) {
  *glb = NULL;
  *glb_size = 0;
  if (rq->index < 0 || rq->index >= g->n) return ORF_EINTERNAL;
  generator *x = &g->gens[rq->index];
  if (take_slot(g, x, cancel, tick, ctx)) return ORF_ECANCELED;
  pthread_mutex_lock(&g->mu);
  int known = x->version;
  pthread_mutex_unlock(&g->mu);
  if (!known) probe(g, x); /* down at start, or never asked: its version now */
  orf_hy_request hr = {png, png_size, rq->seed, rq->steps, rq->octree, rq->face_count};
  tick_ctx t = {tick, ctx, cancel};
  double t0 = orf_now_mono();
  char why[300] = "";
  int rc = orf_hy_generate(x->url, &hr, g->timeout_s, POLL_S, on_tick, &t, glb, glb_size, why, sizeof why);
  pthread_mutex_lock(&g->mu);
  x->in_flight--;
  x->seconds += orf_now_mono() - t0;
  if (rc == ORF_OK)
    x->ok++;
  else if (rc == ORF_ECANCELED)
    x->cancelled++;
  else
    x->failed++;
  if (rc == ORF_SRV_EGENERATOR) {
    /* what its answers said of its health: reached (refused, malformed) or not */
    int unreachable = !strncmp(why, "it could not be reached", 23);
    x->healthy = !unreachable;
    x->checked = orf_now_mono();
    snprintf(x->error, sizeof x->error, "%.255s", why);
  } else if (rc == ORF_OK) {
    x->healthy = 1;
    x->checked = orf_now_mono();
    x->error[0] = 0;
  }
  pthread_cond_broadcast(&g->freed);
  pthread_mutex_unlock(&g->mu);
  if (rc == ORF_SRV_EGENERATOR) snprintf(msg, msg_size, "generator %s: %s", rq->name, why);
  return rc;
}

json_t *orf_generators_json(orf_generators *g) {
  json_t *list = json_array();
  if (!g) return list;
  double now = orf_now_mono();
  pthread_mutex_lock(&g->mu);
  for (int i = 0; i < g->n; i++) {
    generator *x = &g->gens[i];
    json_t *o = json_pack("{s:s, s:s, s:b, s:i, s:i}", "name", x->name, "url", x->url, "healthy", x->healthy,
                          "in_flight", x->in_flight, "concurrency", g->concurrency);
    json_object_set_new(o, "version",
                        x->version ? json_string(x->version == 21 ? "2.1" : "2.0") : json_null());
    json_object_set_new(o, "last_check_s_ago", x->checked > 0 ? json_real(now - x->checked) : json_null());
    if (x->error[0]) json_object_set_new(o, "last_error", json_string(x->error));
    json_array_append_new(list, o);
  }
  pthread_mutex_unlock(&g->mu);
  return list;
}

static double seconds_of(const generator *x) { return x->seconds; }
static double in_flight_of(const generator *x) { return x->in_flight; }
static double up_of(const generator *x) { return x->healthy; }

/* One family of series: its HELP and TYPE lines, then one sample per
 * generator (labels: generator, and extra when given). */
static size_t family(const orf_generators *g, char *t, size_t cap, const char *name, const char *type,
                     const char *help, double (*value)(const generator *)) {
  size_t o = (size_t)snprintf(t, cap, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  for (int i = 0; i < g->n; i++)
    o += (size_t)snprintf(t + o, cap - o, "%s{generator=\"%s\"} %.3f\n", name, g->gens[i].name,
                          value(&g->gens[i]));
  return o;
}

int orf_generators_metrics(orf_generators *g, char **text, size_t *len) {
  if (!g || !g->n) return ORF_OK;
  size_t cap = *len + 1024 + (size_t)g->n * 768;
  char *t = realloc(*text, cap);
  if (!t) return ORF_ENOMEM;
  *text = t;
  size_t o = *len;
  pthread_mutex_lock(&g->mu);
  o += (size_t)snprintf(
      t + o, cap - o,
      "# HELP orfeas_generator_requests_total Models asked of each remote generator, by outcome.\n"
      "# TYPE orfeas_generator_requests_total counter\n");
  for (int i = 0; i < g->n; i++) {
    const generator *x = &g->gens[i];
    o += (size_t)snprintf(t + o, cap - o,
                          "orfeas_generator_requests_total{generator=\"%s\",outcome=\"ok\"} %llu\n"
                          "orfeas_generator_requests_total{generator=\"%s\",outcome=\"failed\"} %llu\n"
                          "orfeas_generator_requests_total{generator=\"%s\",outcome=\"cancelled\"} %llu\n",
                          x->name, x->ok, x->name, x->failed, x->name, x->cancelled);
  }
  o += family(g, t + o, cap - o, "orfeas_generator_seconds_total", "counter",
              "Seconds spent waiting on each remote generator.", seconds_of);
  o += family(g, t + o, cap - o, "orfeas_generator_in_flight", "gauge",
              "Requests each remote generator is working on.", in_flight_of);
  o += family(g, t + o, cap - o, "orfeas_generator_up", "gauge",
              "Whether each remote generator answered its last check.", up_of);
  pthread_mutex_unlock(&g->mu);
  *len = o;
  return ORF_OK;
}
