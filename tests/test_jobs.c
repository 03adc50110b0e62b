/*
 * test_jobs.c - the job manager (src/server/jobs/jobs.h) with the real engine
 * on small generated images: events and cache entries of a complete job,
 * single flight, the bounded queue, interests and cancellation, keep and
 * cancel by id, one-shot wake-ups, drain, free, a bad image, and a stress
 * run from several threads; then memory admission: a budget that fits two
 * jobs, an oversized job, overtaking of the head and its limit, a failed
 * allocation inside a job (fault injection), the batch figure against what
 * the scheduler starts, cancelling a head that blocks the queue, the budget
 * figures, and a stress run under a budget.  Estimates are plain numbers
 * here (multiples of EST bytes): admission only adds them up.
 *
 * To hold a worker still, a test arms a wake-up that blocks (a "gate") on a
 * job: the worker calls it when it publishes the job's next event, and
 * waits there until the test opens the gate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "cache/cache.h"
#include "jobs/jobs.h"
#include "metrics.h"
#include "orfeas.h"
#include "testutil.h"

/* ---- fixtures --------------------------------------------------------- */

static const uint8_t RED[3] = {200, 30, 40}, WHITE[3] = {250, 250, 250};

/* A PNG of one disc of radius r (fraction of the side) on white. */
static uint8_t *disc_png(uint32_t w, float r, size_t *size) {
  float d[3] = {w / 2.0f, w / 2.0f, r * (float)w};
  uint8_t *rgba = tu_discs_rgba(w, w, d, 1, 0, RED, WHITE, 255);
  uint8_t *png = tu_png(rgba, w, w, 4, 8, size);
  free(rgba);
  return png;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct env {
  orf_cache *cache;
  orf_metrics *metrics;
  orf_jobs *js;
  uint8_t *small, *gate_img; /* 128 px and 512 px discs */
  size_t small_size, gate_size;
  orf_params p; /* quality 1 */
  int next_hash;
  double created_lo, created_hi; /* around orf_jobs_create */
} env;

/* Opens a manager with a memory budget and a host budget (0: none),
 * max_overtakes, fail_alloc_after and the caps on finished jobs (0:
 * defaults) as given. */
static void env_open_full(env *e, int workers, int queue_max, double budget, double host_budget,
                          int max_overtakes, long fail_after, int keep_max, size_t keep_bytes) {
  memset(e, 0, sizeof *e);
  orf_cache_config cc = {.mem_max_bytes = 64u << 20};
  assert_int_equal(orf_cache_open(&e->cache, &cc), ORF_OK);
  e->metrics = orf_metrics_create();
  assert_non_null(e->metrics);
  orf_jobs_config jc = {.workers = workers,
                        .queue_max = queue_max,
                        .engine_threads = 1,
                        .keep_finished_s = 60.0,
                        .cache = e->cache,
                        .metrics = e->metrics,
                        .budget_bytes = budget,
                        .host_budget_bytes = host_budget,
                        .max_overtakes = max_overtakes,
                        .fail_alloc_after = fail_after,
                        .device = ORF_DEVICE_CPU,
                        .keep_finished_max = keep_max,
                        .keep_finished_bytes = keep_bytes};
  orf_limits_init(&jc.limits);
  e->created_lo = mono_s();
  assert_int_equal(orf_jobs_create(&e->js, &jc), ORF_OK);
  e->created_hi = mono_s();
  e->small = disc_png(128, 0.35f, &e->small_size);
  e->gate_img = disc_png(512, 0.3f, &e->gate_size);
  orf_params_init(&e->p);
  e->p.quality = 1;
}

static void env_open_adm(env *e, int workers, int queue_max, double budget, int max_overtakes,
                         long fail_after) {
  env_open_full(e, workers, queue_max, budget, 0, max_overtakes, fail_after, 0, 0);
}

static void env_open(env *e, int workers, int queue_max) { env_open_adm(e, workers, queue_max, 0, 0, 0); }

static void env_close(env *e) {
  if (e->js) orf_jobs_free(e->js);
  orf_metrics_free(e->metrics);
  orf_cache_close(e->cache);
  free(e->small);
  free(e->gate_img);
}

/* A fresh request hash: 64 hex digits. */
static void make_hash(env *e, char out[65]) { snprintf(out, 65, "%064x", ++e->next_hash); }

/* Submits a job of those estimates (the budget's memory, the host's). */
static orf_job *submit_cost(env *e, const char *hash, const uint8_t *img, size_t size, size_t estimate,
                            size_t host_estimate, int keep, int *coalesced) {
  orf_job *j = NULL;
  int c = 0;
  assert_int_equal(orf_jobs_submit(e->js, hash, img, size, &e->p, ORF_PRECISION_FP32, estimate, host_estimate,
                                   keep, &j, &c),
                   ORF_OK);
  assert_non_null(j);
  if (coalesced) *coalesced = c;
  return j;
}

static orf_job *submit_est(env *e, const char *hash, const uint8_t *img, size_t size, size_t estimate,
                           int keep, int *coalesced) {
  return submit_cost(e, hash, img, size, estimate, 0, keep, coalesced);
}

static orf_job *submit(env *e, const char *hash, const uint8_t *img, size_t size, int keep, int *coalesced) {
  return submit_est(e, hash, img, size, 0, keep, coalesced);
}

/* The value of one Prometheus series, e.g. orfeas_jobs_total{status="complete"}. */
static double metric(env *e, const char *series) {
  char *text;
  size_t len;
  assert_int_equal(orf_metrics_render(e->metrics, NULL, &text, &len), ORF_OK);
  const char *at = strstr(text, series);
  double v = at ? strtod(at + strlen(series), NULL) : -1;
  free(text);
  return v;
}

/* ---- waiting ----------------------------------------------------------- */

typedef struct wake_sig {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fired;
} wake_sig;

static void signal_init(wake_sig *s) {
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->fired = 0;
}

static void signal_fn(void *ctx) {
  wake_sig *s = ctx;
  pthread_mutex_lock(&s->mu);
  s->fired = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Waits until the job has finished, through orf_job_wait. */
static void wait_done(orf_job *j, orf_job_state *out) {
  wake_sig s;
  signal_init(&s);
  for (;;) {
    orf_job_state st;
    orf_job_get_state(j, &st);
    if (st.status >= ORF_JOB_COMPLETE) {
      if (out) *out = st;
      break;
    }
    s.fired = 0;
    if (orf_job_wait(j, st.events, signal_fn, &s)) continue;
    pthread_mutex_lock(&s.mu);
    while (!s.fired)
      pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
  }
  orf_job_unwait(j, &s); /* nothing armed: a no-op, but it must not hang */
  pthread_mutex_destroy(&s.mu);
  pthread_cond_destroy(&s.cv);
}

/* A wake-up that blocks the thread calling it until opened. */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int entered, open;
  orf_job *job;
} gate;

static void gate_fn(void *ctx) {
  gate *g = ctx;
  pthread_mutex_lock(&g->mu);
  g->entered = 1;
  pthread_cond_broadcast(&g->cv);
  while (!g->open)
    pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

/* The gates armed and not yet destroyed: after a failed test,
 * open_gates() lets their workers go so the next tests can run. */
#define MAX_GATES 16
static gate *g_gates[MAX_GATES];
static int g_ngates;

/* Arms a gate on job j before its next stage event and waits until the
 * worker is held in it (j then still running).  Returns 0 when j got past
 * its third event before the gate could be armed. */
static int gate_arm(gate *g, orf_job *j) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->entered = g->open = 0;
  g->job = j;
  if (g_ngates < MAX_GATES) g_gates[g_ngates++] = g;
  for (;;) {
    orf_job_state st;
    orf_job_get_state(j, &st);
    if (st.events >= 3 || st.status >= ORF_JOB_COMPLETE) return 0;
    if (!orf_job_wait(j, st.events, gate_fn, g)) break;
  }
  pthread_mutex_lock(&g->mu);
  while (!g->entered)
    pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  return 1;
}

static void gate_open(gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static void gate_destroy(gate *g) {
  for (int i = 0; i < g_ngates; i++)
    if (g_gates[i] == g) g_gates[i] = g_gates[--g_ngates];
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
}

static int open_gates(void **state) {
  (void)state;
  while (g_ngates)
    gate_open(g_gates[--g_ngates]);
  return 0;
}

/* Submits a job of those estimates on the 512 px image and holds the
 * worker that runs it. */
static orf_job *held_job_cost(env *e, gate *g, size_t estimate, size_t host_estimate) {
  for (int tries = 0; tries < 5; tries++) {
    char h[65];
    make_hash(e, h);
    orf_job *j = submit_cost(e, h, e->gate_img, e->gate_size, estimate, host_estimate, 0, NULL);
    if (gate_arm(g, j)) return j;
    gate_destroy(g);
    wait_done(j, NULL);
    orf_job_release(j);
  }
  fail_msg("could not hold a worker in a job");
  return NULL;
}

static orf_job *held_job_est(env *e, gate *g, size_t estimate) { return held_job_cost(e, g, estimate, 0); }

/* Submits a job on the 512 px image and holds the (single) worker in it. */
static orf_job *held_job(env *e, gate *g) { return held_job_est(e, g, 0); }

/* ---- tests ------------------------------------------------------------ */

static json_t *event_json(orf_job *j, size_t i) {
  const char *text = orf_job_event(j, i);
  assert_non_null(text);
  json_error_t err;
  json_t *v = json_loads(text, 0, &err);
  if (!v) fail_msg("event %zu is not JSON: %s (%s)", i, text, err.text);
  return v;
}

static long long jint(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  if (!json_is_integer(v)) fail_msg("\"%s\" is not an integer", key);
  return json_integer_value(v);
}

static const char *jstr(json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  if (!s) fail_msg("\"%s\" is not a string", key);
  return s;
}

/* A job runs to "complete": four events in order, then meta.json and the
 * four stage PLYs in the cache, each PLY the mesh its event describes. */
static void test_complete_job(void **state) {
  (void)state;
  env e;
  env_open(&e, 2, 4);
  char h[65];
  make_hash(&e, h);
  int coalesced = -1;
  orf_job *j = submit(&e, h, e.small, e.small_size, 0, &coalesced);
  assert_int_equal(coalesced, 0);
  assert_int_equal(strlen(orf_job_id(j)), 32);
  assert_int_equal(strspn(orf_job_id(j), "0123456789abcdef"), 32);
  assert_string_equal(orf_job_hash(j), h);
  assert_int_equal(orf_job_params(j)->quality, 1);
  orf_job_state st;
  wait_done(j, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  assert_int_equal(st.progress, 100);
  assert_int_equal(st.stage, ORF_STAGE_FINAL_OPTIMIZED);
  assert_int_equal(st.events, 4);
  assert_int_equal(st.position, 0);
  assert_int_equal(st.error, 0);
  assert_null(orf_job_event(j, 4));

  orf_blob *meta_blob;
  assert_int_equal(orf_cache_get(e.cache, h, "meta.json", 0, &meta_blob), ORF_OK);
  json_t *meta = json_loadb((const char *)meta_blob->data, meta_blob->size, 0, NULL);
  assert_non_null(meta);
  orf_blob_release(meta_blob);
  assert_string_equal(jstr(meta, "request_hash"), h);
  assert_string_equal(jstr(meta, "status"), "complete");
  assert_string_equal(jstr(meta, "mode"), "inflate");
  assert_int_equal(jint(meta, "quality"), 1);
  json_t *timings = json_object_get(meta, "timings_ms");
  static const char *const keys[] = {"decode", "mask",     "field",  "mesh",
                                     "smooth", "simplify", "export", "total"};
  for (int k = 0; k < 8; k++)
    assert_true(json_is_number(json_object_get(timings, keys[k])));
  assert_true(json_number_value(json_object_get(timings, "export")) > 0);
  assert_int_equal(json_object_size(timings), 8);
  json_t *stages = json_object_get(meta, "stages");
  assert_int_equal(json_array_size(stages), 4);

  static const char *const names[] = {"voxel_preview", "rough_mesh", "refined_mesh", "final_optimized"};
  static const int grids[] = {32, 64, 128, 48};
  for (int s = 0; s < 4; s++) {
    json_t *ev = event_json(j, (size_t)s);
    assert_string_equal(jstr(ev, "stage"), names[s]);
    assert_int_equal(jint(ev, "progress"), 25 * (s + 1));
    assert_string_equal(jstr(ev, "status"), s == 3 ? "complete" : "processing");
    assert_null(json_object_get(ev, "url"));
    json_t *data = json_object_get(ev, "data");
    if (s == 0) {
      assert_string_equal(jstr(data, "type"), "voxel_grid");
      json_t *dims = json_object_get(data, "dimensions");
      assert_int_equal(json_array_size(dims), 3);
      for (int a = 0; a < 3; a++)
        assert_int_equal(json_integer_value(json_array_get(dims, (size_t)a)), 32);
    } else {
      assert_string_equal(jstr(data, "type"), "mesh");
      assert_int_equal(jint(data, "grid"), grids[s]);
    }
    assert_true(json_is_number(json_object_get(data, "elapsed_ms")));
    long long v = jint(data, "vertices"), f = jint(data, "faces");
    json_t *ms = json_object_get(meta, "stages");
    json_t *mst = json_array_get(ms, (size_t)s);
    assert_string_equal(jstr(mst, "stage"), names[s]);
    assert_int_equal(jint(mst, "vertices"), v);
    assert_int_equal(jint(mst, "faces"), f);
    assert_true(json_equal(json_object_get(mst, "elapsed_ms"), json_object_get(data, "elapsed_ms")));

    char name[64];
    snprintf(name, sizeof name, "%s.ply", names[s]);
    orf_blob *ply;
    assert_int_equal(orf_cache_get(e.cache, h, name, 0, &ply), ORF_OK);
    orf_mesh m;
    assert_int_equal(orf_mesh_read_ply(ply->data, ply->size, &m), ORF_OK);
    orf_blob_release(ply);
    assert_int_equal(m.vertex_count, v);
    assert_int_equal(m.face_count, f);
    orf_mesh_report r;
    assert_int_equal(orf_mesh_check(&m, &r), ORF_OK);
    assert_true(r.watertight && r.manifold);
    if (s == 3) {
      json_t *mesh = json_object_get(ev, "mesh");
      assert_true(json_equal(mesh, json_object_get(meta, "mesh")));
      assert_int_equal(jint(mesh, "vertices"), v);
      assert_int_equal(jint(mesh, "faces"), f);
      assert_true(json_is_true(json_object_get(mesh, "watertight")));
      assert_true(json_is_true(json_object_get(mesh, "manifold")));
      json_t *bbox = json_object_get(mesh, "bbox_mm");
      assert_int_equal(json_array_size(bbox), 3);
      for (int a = 0; a < 3; a++)
        assert_true(fabs(json_number_value(json_array_get(bbox, (size_t)a)) -
                         (r.bbox_max[a] - r.bbox_min[a])) < 0.01);
      assert_true(fabs(json_number_value(json_object_get(mesh, "volume_mm3")) - r.volume) < 0.01 * r.volume);
      assert_true(fabs(json_number_value(json_object_get(mesh, "surface_mm2")) - r.area) < 0.01 * r.area);
    } else {
      assert_null(json_object_get(ev, "mesh"));
    }
    orf_mesh_free(&m);
    json_decref(ev);
  }
  json_decref(meta);
  orf_job_release(j);
  assert_true(metric(&e, "orfeas_jobs_total{status=\"complete\"}") == 1);
  assert_true(metric(&e, "orfeas_stage_duration_seconds_count{stage=\"final_optimized\"}") == 1);
  env_close(&e);
}

typedef struct flight {
  env *e;
  const char *hash;
  pthread_barrier_t *start;
  orf_job *job;
  int coalesced;
} flight;

static void *flight_main(void *arg) {
  flight *f = arg;
  pthread_barrier_wait(f->start);
  orf_job *j = NULL;
  if (orf_jobs_submit(f->e->js, f->hash, f->e->small, f->e->small_size, &f->e->p, ORF_PRECISION_FP32, 0, 0, 0,
                      &j, &f->coalesced) == 0)
    wait_done(j, NULL);
  f->job = j;
  return NULL;
}

/* Ten concurrent identical submits share one computation: one job id,
 * coalesced = 1 for nine of them, the same events, one job counted. */
static void test_single_flight(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 4);
  static gate g;                    /* static: a failed test leaves it to open_gates() */
  orf_job *held = held_job(&e, &g); /* so all ten find the job queued */
  double before = metric(&e, "orfeas_jobs_total{status=\"complete\"}");
  char h[65];
  make_hash(&e, h);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, 10);
  flight f[10];
  pthread_t t[10];
  for (int i = 0; i < 10; i++) {
    f[i] = (flight){&e, h, &start, NULL, -1};
    assert_int_equal(pthread_create(&t[i], NULL, flight_main, &f[i]), 0);
  }
  /* Let the ten submit while the worker is held, then let it go. */
  for (int tries = 0; tries < 2000; tries++) {
    size_t queued, running;
    orf_jobs_counts(e.js, &queued, &running);
    orf_cache_stats cs;
    orf_cache_stats_get(e.cache, &cs);
    if (queued == 1 && cs.coalesced == 9) break;
    usleep(1000);
  }
  gate_open(&g);
  for (int i = 0; i < 10; i++)
    pthread_join(t[i], NULL);
  int coalesced = 0;
  for (int i = 0; i < 10; i++) {
    assert_non_null(f[i].job);
    coalesced += f[i].coalesced;
    assert_string_equal(orf_job_id(f[i].job), orf_job_id(f[0].job));
    orf_job_state st;
    orf_job_get_state(f[i].job, &st);
    assert_int_equal(st.status, ORF_JOB_COMPLETE);
    assert_int_equal(st.events, 4);
    for (size_t k = 0; k < 4; k++)
      assert_string_equal(orf_job_event(f[i].job, k), orf_job_event(f[0].job, k));
  }
  assert_int_equal(coalesced, 9);
  orf_cache_stats cs;
  orf_cache_stats_get(e.cache, &cs);
  assert_int_equal(cs.coalesced, 9);
  wait_done(held, NULL);
  assert_true(metric(&e, "orfeas_jobs_total{status=\"complete\"}") == before + 2); /* held, and the ten */
  for (int i = 0; i < 10; i++)
    orf_job_release(f[i].job);
  orf_job_release(held);
  gate_destroy(&g);
  pthread_barrier_destroy(&start);
  env_close(&e);
}

/* One worker, queue_max 1: with the worker busy, one job queues, the next
 * is refused (a join of the queued hash is not); Retry-After is sane. */
static void test_queue_full(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 1);
  assert_int_equal(orf_jobs_retry_after(e.js), 1); /* no history */
  static gate g;                                   /* static: a failed test leaves it to open_gates() */
  orf_job *a = held_job(&e, &g);
  char hb[65], hc[65];
  make_hash(&e, hb);
  make_hash(&e, hc);
  orf_job *b = submit(&e, hb, e.small, e.small_size, 0, NULL);
  orf_job_state st;
  orf_job_get_state(b, &st);
  assert_int_equal(st.status, ORF_JOB_QUEUED);
  assert_int_equal(st.position, 1);
  assert_int_equal(st.stage, -1);
  assert_int_equal(st.progress, 0);
  orf_job *c = (orf_job *)&c;
  int co = -1;
  assert_int_equal(
      orf_jobs_submit(e.js, hc, e.small, e.small_size, &e.p, ORF_PRECISION_FP32, 0, 0, 0, &c, &co),
      ORF_SRV_EQUEUEFULL);
  assert_null(c);
  assert_int_equal(co, 0);
  orf_job *b2 = submit(&e, hb, e.small, e.small_size, 0, &co);
  assert_int_equal(co, 1);
  size_t queued, running;
  orf_jobs_counts(e.js, &queued, &running);
  assert_int_equal(queued, 1);
  assert_int_equal(running, 1);
  assert_int_equal(orf_jobs_retry_after(e.js), 1); /* still no history */
  gate_open(&g);
  wait_done(b, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  wait_done(a, NULL);
  orf_job_release(a);
  orf_job_release(b);
  orf_job_release(b2);
  gate_destroy(&g);

  env_close(&e);
}

/* Jobs ended in the last 60 s over the manager's age (at least 1 s). */
static double ended(env *e) {
  return metric(e, "orfeas_jobs_total{status=\"complete\"}") +
         metric(e, "orfeas_jobs_total{status=\"failed\"}") +
         metric(e, "orfeas_jobs_total{status=\"cancelled\"}");
}

static int clamp_retry(double v) { return v < 1 ? 1 : v > 300 ? 300 : (int)v; }

/* Retry-After is ceil((queued + running) / rate), rate = jobs ended over
 * the manager's age (under a minute old, at least 1 s). */
static void test_retry_after(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 8);
  char h[65];
  for (int i = 0; i < 2; i++) {
    make_hash(&e, h);
    orf_job *j = submit(&e, h, e.small, e.small_size, 0, NULL);
    wait_done(j, NULL);
    orf_job_release(j);
  }
  static gate g; /* static: a failed test leaves it to open_gates() */
  orf_job *a = held_job(&e, &g);
  orf_job *q[7];
  for (int i = 0; i < 7; i++) {
    make_hash(&e, h);
    q[i] = submit(&e, h, e.small, e.small_size, 0, NULL);
  }
  size_t queued, running;
  orf_jobs_counts(e.js, &queued, &running);
  assert_int_equal(queued + running, 8);
  double n = ended(&e);
  assert_true(n >= 2);
  double t0 = mono_s();
  int r = orf_jobs_retry_after(e.js);
  double t1 = mono_s();
  double span_lo = fmax(t0 - e.created_hi, 1.0), span_hi = fmax(t1 - e.created_lo, 1.0);
  int lo = clamp_retry(ceil(8 * span_lo / n)), hi = clamp_retry(ceil(8 * span_hi / n));
  if (r < lo || r > hi) fail_msg("retry_after %d not in [%d, %d] (%g jobs ended)", r, lo, hi, n);
  assert_true(r >= 2); /* eight in hand, few ended so far: more than 1 s */
  gate_open(&g);
  for (int i = 0; i < 7; i++) {
    wait_done(q[i], NULL);
    orf_job_release(q[i]);
  }
  wait_done(a, NULL);
  orf_job_release(a);
  gate_destroy(&g);
  env_close(&e);
}

/* Releasing the only interest of a running job cancels it; a queued one
 * ends at once; a job with two interests survives the release of one. */
static void test_release_cancels(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 4);
  static gate g; /* static: a failed test leaves it to open_gates() */
  orf_job *a = held_job(&e, &g);
  orf_job *look = orf_jobs_find(e.js, orf_job_id(a)); /* not an interest */
  assert_non_null(look);

  char hq[65], hs[65];
  make_hash(&e, hq);
  make_hash(&e, hs);
  orf_job *q = submit(&e, hq, e.small, e.small_size, 0, NULL);
  orf_job *qlook = orf_jobs_find(e.js, orf_job_id(q));
  orf_job *s1 = submit(&e, hs, e.small, e.small_size, 0, NULL);
  int co;
  orf_job *s2 = submit(&e, hs, e.small, e.small_size, 0, &co);
  assert_int_equal(co, 1);
  orf_job_state st;
  orf_job_get_state(s1, &st);
  assert_int_equal(st.position, 2);

  orf_job_release(q); /* queued, last interest: cancelled now */
  orf_job_get_state(qlook, &st);
  assert_int_equal(st.status, ORF_JOB_CANCELLED);
  assert_int_equal(st.events, 1);
  assert_string_equal(orf_job_event(qlook, 0),
                      "{\"status\":\"error\",\"error\":\"the job was cancelled\",\"code\":\"cancelled\"}");
  orf_job_get_state(s1, &st);
  assert_int_equal(st.position, 1);

  orf_job_release(s2); /* one of two interests: goes on */
  orf_job_release(a);  /* running, last interest: cancelled */
  /* A new request for a's hash does not join the job being cancelled. */
  orf_job *again = submit(&e, orf_job_hash(look), e.small, e.small_size, 0, &co);
  assert_int_equal(co, 0);
  assert_string_not_equal(orf_job_id(again), orf_job_id(look));
  gate_open(&g);
  wait_done(look, &st);
  assert_int_equal(st.status, ORF_JOB_CANCELLED);
  assert_int_equal(st.error, 0);
  assert_true(st.events >= 2);
  json_t *last = event_json(look, st.events - 1);
  assert_string_equal(jstr(last, "status"), "error");
  assert_string_equal(jstr(last, "code"), "cancelled");
  assert_string_equal(jstr(last, "error"), "the job was cancelled");
  json_decref(last);
  wait_done(s1, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  wait_done(again, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  assert_true(metric(&e, "orfeas_jobs_total{status=\"cancelled\"}") == 2);
  orf_job_release(look);
  orf_job_release(qlook);
  orf_job_release(s1);
  orf_job_release(again);
  gate_destroy(&g);
  env_close(&e);
}

/* keep = 1 jobs outlive their handles and can be cancelled by id; cancel
 * answers ECONFLICT for a finished job and ENOTFOUND for an unknown id. */
static void test_keep_and_cancel(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 4);
  static gate g; /* static: a failed test leaves it to open_gates() */
  orf_job *a = held_job(&e, &g);
  char h1[65], h2[65], h3[65], id1[33], id2[33], ida[33];
  make_hash(&e, h1);
  make_hash(&e, h2);
  make_hash(&e, h3);
  /* Joining with keep = 1 keeps a job that was submitted without. */
  int co;
  orf_job *k3 = submit(&e, h3, e.small, e.small_size, 0, NULL);
  orf_job *k3b = submit(&e, h3, e.small, e.small_size, 1, &co);
  assert_int_equal(co, 1);
  orf_job *f3 = orf_jobs_find(e.js, orf_job_id(k3));
  orf_job_release(k3);
  orf_job_release(k3b);
  orf_job *k1 = submit(&e, h1, e.small, e.small_size, 1, NULL);
  orf_job *k2 = submit(&e, h2, e.small, e.small_size, 1, NULL);
  strcpy(id1, orf_job_id(k1));
  strcpy(id2, orf_job_id(k2));
  strcpy(ida, orf_job_id(a));
  orf_job_release(k1);
  orf_job_release(k2);
  orf_job *f1 = orf_jobs_find(e.js, id1);
  assert_non_null(f1);
  orf_job_state st;
  orf_job_get_state(f1, &st);
  assert_int_equal(st.status, ORF_JOB_QUEUED);
  assert_int_equal(orf_jobs_cancel(e.js, id1), ORF_OK);
  orf_job_get_state(f1, &st);
  assert_int_equal(st.status, ORF_JOB_CANCELLED);
  assert_int_equal(orf_jobs_cancel(e.js, id1), ORF_SRV_ECONFLICT);
  assert_int_equal(orf_jobs_cancel(e.js, "00000000000000000000000000000000"), ORF_SRV_ENOTFOUND);
  assert_int_equal(orf_jobs_cancel(e.js, "not an id"), ORF_SRV_ENOTFOUND);
  assert_null(orf_jobs_find(e.js, "00000000000000000000000000000000"));
  assert_null(orf_jobs_find(e.js, "../etc"));

  assert_int_equal(orf_jobs_cancel(e.js, ida), ORF_OK); /* the running one */
  gate_open(&g);
  wait_done(a, &st);
  assert_int_equal(st.status, ORF_JOB_CANCELLED);
  orf_job *f2 = orf_jobs_find(e.js, id2);
  assert_non_null(f2);
  wait_done(f2, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE); /* kept: ran without a handle */
  wait_done(f3, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  orf_job_release(f3);
  assert_int_equal(orf_jobs_cancel(e.js, id2), ORF_SRV_ECONFLICT);
  orf_job_release(f2);
  f2 = orf_jobs_find(e.js, id2); /* finished jobs stay findable */
  assert_non_null(f2);
  orf_job_release(f2);
  orf_job_release(f1);
  orf_job_release(a);
  gate_destroy(&g);
  env_close(&e);
}

typedef struct counter {
  atomic_int n;
} counter;

static void count_fn(void *ctx) { atomic_fetch_add(&((counter *)ctx)->n, 1); }

/* orf_job_wait: 1 when events are there, else exactly one call after the
 * next event; re-arming the same ctx does not double it; unwait disarms. */
static void test_wait_and_unwait(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 4);
  static gate g; /* static: a failed test leaves it to open_gates() */
  orf_job *a = held_job(&e, &g);
  static counter ca, cb, cc; /* static: armed across a failure */
  atomic_store(&ca.n, 0);
  atomic_store(&cb.n, 0);
  atomic_store(&cc.n, 0);
  assert_int_equal(orf_job_wait(a, 0, count_fn, &ca), 1); /* a has an event */
  char hb[65], hc[65];
  make_hash(&e, hb);
  make_hash(&e, hc);
  orf_job *b = submit(&e, hb, e.small, e.small_size, 0, NULL);
  orf_job *c = submit(&e, hc, e.small, e.small_size, 0, NULL);
  assert_int_equal(orf_job_wait(b, 0, count_fn, &cb), 0);
  assert_int_equal(orf_job_wait(b, 0, count_fn, &cb), 0); /* re-armed, not doubled */
  assert_int_equal(orf_job_wait(c, 0, count_fn, &cc), 0);
  orf_job_unwait(c, &cc);
  gate_open(&g);
  orf_job_state st;
  wait_done(b, &st);
  wait_done(c, NULL);
  assert_int_equal(st.events, 4);
  assert_int_equal(atomic_load(&cb.n), 1);
  assert_int_equal(atomic_load(&cc.n), 0);
  assert_int_equal(atomic_load(&ca.n), 0);
  assert_int_equal(orf_job_wait(b, 0, count_fn, &cb), 1);
  assert_int_equal(orf_job_wait(b, 4, count_fn, &cb), 1); /* finished */
  assert_int_equal(atomic_load(&cb.n), 1);
  wait_done(a, NULL);
  orf_job_release(a);
  orf_job_release(b);
  orf_job_release(c);
  gate_destroy(&g);
  env_close(&e);
}

typedef struct slow {
  atomic_int entered, done;
} slow;

static void slow_fn(void *ctx) {
  slow *s = ctx;
  atomic_store(&s->entered, 1);
  usleep(100 * 1000);
  atomic_store(&s->done, 1);
}

/* unwait while the wake-up is running returns only after it has.  The one
 * worker is held by a gated job first, so the job waited on is queued and
 * has no event when the wake-up is armed: the path is exercised every run. */
static void test_unwait_waits_for_callback(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 4);
  static gate g; /* static: a failed test leaves it to open_gates() */
  orf_job *held = held_job(&e, &g);
  char h[65];
  make_hash(&e, h);
  orf_job *j = submit(&e, h, e.small, e.small_size, 0, NULL);
  static slow s; /* static: the callback may outlive a failed test */
  atomic_store(&s.entered, 0);
  atomic_store(&s.done, 0);
  assert_int_equal(orf_job_wait(j, 0, slow_fn, &s), 0); /* queued: armed, not called */
  gate_open(&g);
  while (!atomic_load(&s.entered))
    usleep(500);
  orf_job_unwait(j, &s);
  assert_int_equal(atomic_load(&s.done), 1);
  wait_done(j, NULL);
  wait_done(held, NULL);
  orf_job_release(j);
  orf_job_release(held);
  gate_destroy(&g);
  env_close(&e);
}

/* drain: running and queued jobs finish, later submits are refused. */
static void test_drain(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 4);
  char h1[65], h2[65], h3[65];
  make_hash(&e, h1);
  make_hash(&e, h2);
  make_hash(&e, h3);
  orf_job *a = submit(&e, h1, e.small, e.small_size, 0, NULL);
  orf_job *b = submit(&e, h2, e.small, e.small_size, 0, NULL);
  orf_jobs_drain(e.js);
  orf_job_state st;
  orf_job_get_state(a, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  orf_job_get_state(b, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  orf_job *c = NULL;
  assert_int_equal(
      orf_jobs_submit(e.js, h3, e.small, e.small_size, &e.p, ORF_PRECISION_FP32, 0, 0, 0, &c, NULL),
      ORF_SRV_EDRAINING);
  assert_null(c);
  size_t queued, running;
  orf_jobs_counts(e.js, &queued, &running);
  assert_int_equal(queued + running, 0);
  orf_job_release(a);
  orf_job_release(b);
  env_close(&e);
}

/* A truncated PNG fails the job: status FAILED, one error event. */
static void test_bad_image(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 4);
  char h[65];
  make_hash(&e, h);
  orf_job *j = submit(&e, h, e.small, e.small_size / 2, 0, NULL);
  orf_job_state st;
  wait_done(j, &st);
  assert_int_equal(st.status, ORF_JOB_FAILED);
  assert_int_equal(st.error, ORF_EBADIMAGE);
  assert_int_equal(st.events, 1);
  json_t *ev = event_json(j, 0);
  assert_string_equal(jstr(ev, "status"), "error");
  assert_string_equal(jstr(ev, "code"), "bad_image");
  assert_string_equal(jstr(ev, "error"), orf_strerror(ORF_EBADIMAGE));
  json_decref(ev);
  orf_blob *b;
  assert_int_equal(orf_cache_get(e.cache, h, "meta.json", 0, &b), ORF_SRV_ENOTFOUND);
  assert_true(metric(&e, "orfeas_jobs_total{status=\"failed\"}") == 1);
  orf_job_release(j);
  env_close(&e);
}

typedef struct freer {
  orf_jobs *js;
} freer;

static void *free_main(void *arg) {
  orf_jobs_free(((freer *)arg)->js);
  return NULL;
}

/* orf_jobs_free cancels what is queued and running; handles stay valid. */
static void test_free_cancels(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 4);
  static gate g; /* static: a failed test leaves it to open_gates() */
  orf_job *a = held_job(&e, &g);
  char h[65];
  make_hash(&e, h);
  orf_job *q = submit(&e, h, e.small, e.small_size, 1, NULL);
  freer fr = {e.js};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, free_main, &fr), 0);
  orf_job_state st;
  wait_done(q, &st); /* cancelled by free before it joins the worker */
  assert_int_equal(st.status, ORF_JOB_CANCELLED);
  gate_open(&g);
  pthread_join(t, NULL);
  e.js = NULL;
  orf_job_get_state(a, &st);
  assert_int_equal(st.status, ORF_JOB_CANCELLED);
  assert_non_null(orf_job_event(a, st.events - 1));
  assert_int_equal(orf_job_wait(a, 0, count_fn, NULL), 1);
  orf_job_release(a);
  orf_job_release(q);
  gate_destroy(&g);
  env_close(&e);
}

#define STRESS_HASHES 6
#define STRESS_THREADS 4
#define STRESS_JOBS 30

typedef struct stress {
  env *e;
  uint8_t *img[STRESS_HASHES];
  size_t size[STRESS_HASHES];
  char hash[STRESS_HASHES][65];
  size_t estimate[STRESS_HASHES];
  pthread_mutex_t mu;
  char *final[STRESS_HASHES]; /* the first final event seen per hash */
  atomic_int complete, mismatched, failed;
  atomic_int next;
} stress;

/* The "mesh" object of a final event, as text. */
static char *mesh_text(const char *event) {
  json_t *v = json_loads(event, 0, NULL);
  char *s = v ? json_dumps(json_object_get(v, "mesh"), JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(v);
  return s;
}

static void *stress_main(void *arg) {
  stress *s = arg;
  orf_job *mine[STRESS_JOBS];
  int idx[STRESS_JOBS], n = 0;
  for (int k; (k = atomic_fetch_add(&s->next, 1)) < STRESS_JOBS;) {
    int i = (k * 7) % STRESS_HASHES;
    orf_job *j = NULL;
    if (orf_jobs_submit(s->e->js, s->hash[i], s->img[i], s->size[i], &s->e->p, ORF_PRECISION_FP32,
                        s->estimate[i], 0, k % 3 == 0, &j, NULL)) {
      atomic_fetch_add(&s->failed, 1);
      continue;
    }
    mine[n] = j;
    idx[n++] = i;
    if (k % 2) { /* wait for every other job now, the rest at the end */
      wait_done(j, NULL);
    }
  }
  for (int m = 0; m < n; m++) {
    orf_job_state st;
    wait_done(mine[m], &st);
    if (st.status != ORF_JOB_COMPLETE || st.events != 4) {
      atomic_fetch_add(&s->failed, 1);
    } else {
      char *mesh = mesh_text(orf_job_event(mine[m], 3));
      pthread_mutex_lock(&s->mu);
      if (!s->final[idx[m]])
        s->final[idx[m]] = mesh, mesh = NULL;
      else if (!mesh || strcmp(mesh, s->final[idx[m]]))
        atomic_fetch_add(&s->mismatched, 1);
      pthread_mutex_unlock(&s->mu);
      free(mesh);
      atomic_fetch_add(&s->complete, 1);
    }
    orf_job_release(mine[m]);
  }
  return NULL;
}

/* Thirty jobs of six hashes (estimates est[i]) from four threads: all
 * complete, and the jobs of one hash give the same mesh. */
static void stress_run(env *e, const size_t est[STRESS_HASHES]) {
  stress s;
  memset(&s, 0, sizeof s);
  s.e = e;
  pthread_mutex_init(&s.mu, NULL);
  for (int i = 0; i < STRESS_HASHES; i++) {
    s.img[i] = disc_png(96, 0.2f + 0.04f * (float)i, &s.size[i]);
    s.estimate[i] = est[i];
    make_hash(e, s.hash[i]);
  }
  pthread_t t[STRESS_THREADS];
  for (int i = 0; i < STRESS_THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, stress_main, &s), 0);
  for (int i = 0; i < STRESS_THREADS; i++)
    pthread_join(t[i], NULL);
  assert_int_equal(atomic_load(&s.failed), 0);
  assert_int_equal(atomic_load(&s.mismatched), 0);
  assert_int_equal(atomic_load(&s.complete), STRESS_JOBS);
  orf_cache_stats cs;
  orf_cache_stats_get(e->cache, &cs);
  double jobs = metric(e, "orfeas_jobs_total{status=\"complete\"}");
  assert_true(jobs >= STRESS_HASHES && jobs + (double)cs.coalesced == STRESS_JOBS);
  print_message("stress: %.0f computations for %d jobs (%llu coalesced)\n", jobs, STRESS_JOBS,
                (unsigned long long)cs.coalesced);
  for (int i = 0; i < STRESS_HASHES; i++) {
    free(s.img[i]);
    free(s.final[i]);
  }
  pthread_mutex_destroy(&s.mu);
}

/* Three workers, no budget. */
static void test_stress(void **state) {
  (void)state;
  env e;
  env_open(&e, 3, STRESS_JOBS);
  static const size_t est[STRESS_HASHES] = {0};
  stress_run(&e, est);
  env_close(&e);
}

/* ---- memory admission -------------------------------------------------- */

#define EST ((size_t)100 << 20) /* one unit of estimate, "E" in the comments */

/* Arms a gate on a job that has published nothing yet (queued): it holds
 * the worker that takes the job at its first event.  Returns at once. */
static void gate_arm_queued(gate *g, orf_job *j) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->entered = g->open = 0;
  g->job = j;
  if (g_ngates < MAX_GATES) g_gates[g_ngates++] = g;
  assert_int_equal(orf_job_wait(j, 0, gate_fn, g), 0);
}

static int gate_entered(gate *g) {
  pthread_mutex_lock(&g->mu);
  int in = g->entered;
  pthread_mutex_unlock(&g->mu);
  return in;
}

/* Fails unless j is still queued after `ms` milliseconds more: what should
 * not start is given the time to start wrongly. */
static void assert_stays_queued(orf_job *j, int ms) {
  for (int i = 0; i <= ms; i++) {
    orf_job_state st;
    orf_job_get_state(j, &st);
    if (st.status != ORF_JOB_QUEUED)
      fail_msg("job %s left the queue (%s)", orf_job_id(j), orf_job_status_name(st.status));
    usleep(1000);
  }
}

/* wait_done() for a job that a broken scheduler might never start: fails
 * after 60 s instead of hanging. */
static void wait_done_bounded(orf_job *j, orf_job_state *st) {
  for (int i = 0; i < 60000; i++) {
    orf_job_get_state(j, st);
    if (st->status >= ORF_JOB_COMPLETE) return;
    usleep(1000);
  }
  fail_msg("job %s did not finish within 60 s", orf_job_id(j));
}

static void assert_budget(env *e, double in_use, double budget) {
  double u = -1, b = -1;
  orf_jobs_budget(e->js, &u, &b);
  if (u != in_use || b != budget)
    fail_msg("budget figures %.0f / %.0f, expected %.0f / %.0f", u, b, in_use, budget);
}

/* Budget 2E, three workers, three jobs of E: two run at once, the third
 * waits in the queue (a worker idle) until one of them ends; a join of a
 * running job's hash adds no estimate. */
static void test_budget_two_fit(void **state) {
  (void)state;
  env e;
  env_open_adm(&e, 3, 4, 2.0 * EST, 0, 0);
  assert_budget(&e, 0, 2.0 * EST);
  static gate ga, gb; /* static: a failed test leaves them to open_gates() */
  orf_job *a = held_job_est(&e, &ga, EST);
  orf_job *b = held_job_est(&e, &gb, EST);
  char hc[65];
  make_hash(&e, hc);
  orf_job *c = submit_est(&e, hc, e.small, e.small_size, EST, 0, NULL);
  assert_stays_queued(c, 200);
  size_t queued, running;
  orf_jobs_counts(e.js, &queued, &running);
  assert_int_equal(running, 2);
  assert_int_equal(queued, 1);
  assert_budget(&e, 2.0 * EST, 2.0 * EST);
  assert_int_equal(orf_jobs_batch(e.js), 1); /* none fits: clamped to 1 */
  int co = 0;
  orf_job *a2 = submit_est(&e, orf_job_hash(a), e.small, e.small_size, EST, 0, &co);
  assert_int_equal(co, 1);
  assert_budget(&e, 2.0 * EST, 2.0 * EST);
  orf_job_release(a2); /* a keeps its own interest */
  gate_open(&ga);
  orf_job_state st;
  wait_done(c, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  orf_job_get_state(b, &st);
  assert_int_equal(st.status, ORF_JOB_RUNNING); /* c ran beside b, after a */
  wait_done(a, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  gate_open(&gb);
  wait_done(b, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  assert_budget(&e, 0, 2.0 * EST);
  orf_job_release(a);
  orf_job_release(b);
  orf_job_release(c);
  gate_destroy(&ga);
  gate_destroy(&gb);
  env_close(&e);
}

/* An estimate over the whole budget is refused at once and queues nothing;
 * one of exactly the budget runs. */
static void test_too_big(void **state) {
  (void)state;
  env e;
  env_open_adm(&e, 1, 4, 2.0 * EST, 0, 0);
  char h[65];
  make_hash(&e, h);
  orf_job *j = (orf_job *)&j;
  int co = -1;
  assert_int_equal(
      orf_jobs_submit(e.js, h, e.small, e.small_size, &e.p, ORF_PRECISION_FP32, 2 * EST + 1, 0, 0, &j, &co),
      ORF_SRV_ETOOBIG);
  assert_null(j);
  assert_int_equal(co, 0);
  size_t queued = 9, running = 9;
  orf_jobs_counts(e.js, &queued, &running);
  assert_int_equal(queued + running, 0);
  assert_budget(&e, 0, 2.0 * EST);
  j = submit_est(&e, h, e.small, e.small_size, 2 * EST, 0, &co);
  assert_int_equal(co, 0); /* the refused one left nothing to join */
  orf_job_state st;
  wait_done(j, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  orf_job_release(j);
  env_close(&e);
}

/* A GPU server's two budgets: 4E of device memory, 2E of host memory.  Two
 * held jobs of E each (device and host) fill the host budget, so a third
 * waits although the device has room; a job over either whole budget is
 * refused at once; the host figures come back to 0 when all have ended. */
static void test_host_budget(void **state) {
  (void)state;
  env e;
  env_open_full(&e, 3, 4, 4.0 * EST, 2.0 * EST, 0, 0, 0, 0);
  static gate ga, gb; /* static: a failed test leaves them to open_gates() */
  orf_job *a = held_job_cost(&e, &ga, EST, EST);
  orf_job *b = held_job_cost(&e, &gb, EST, EST);
  char hc[65];
  make_hash(&e, hc);
  orf_job *c = submit_cost(&e, hc, e.small, e.small_size, EST, EST, 0, NULL);
  assert_stays_queued(c, 200);
  double u, bud;
  orf_jobs_budget(e.js, &u, &bud);
  assert_true(u == 2.0 * EST && bud == 4.0 * EST); /* the device has room ... */
  orf_jobs_host_budget(e.js, &u, &bud);
  assert_true(u == 2.0 * EST && bud == 2.0 * EST); /* ... the host has none */
  assert_int_equal(orf_jobs_batch(e.js), 1);       /* none fits: clamped to 1 */
  char h[65];
  make_hash(&e, h);
  orf_job *j = NULL;
  assert_int_equal(orf_jobs_submit(e.js, h, e.small, e.small_size, &e.p, ORF_PRECISION_FP32, EST, 2 * EST + 1,
                                   0, &j, NULL),
                   ORF_SRV_ETOOBIG);
  assert_int_equal(
      orf_jobs_submit(e.js, h, e.small, e.small_size, &e.p, ORF_PRECISION_FP32, 4 * EST + 1, 0, 0, &j, NULL),
      ORF_SRV_ETOOBIG);
  assert_null(j);
  gate_open(&ga);
  orf_job_state st;
  wait_done(c, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  orf_job_get_state(b, &st);
  assert_int_equal(st.status, ORF_JOB_RUNNING); /* c ran beside b, after a */
  gate_open(&gb);
  wait_done(a, &st);
  wait_done(b, &st);
  orf_jobs_host_budget(e.js, &u, &bud);
  assert_true(u == 0 && bud == 2.0 * EST);
  orf_job_release(a);
  orf_job_release(b);
  orf_job_release(c);
  gate_destroy(&ga);
  gate_destroy(&gb);
  env_close(&e);
}

/* Budget 4E (E = E), max_overtakes 2, a 2E job held.  The head H (3E)
 * does not fit; two E jobs behind it fit and start before it; then nothing
 * passes H, though the 2E job behind it would fit; when the held job ends,
 * H starts (the 2E job still waits: H and it do not fit together), then
 * the rest. */
static void test_overtaking(void **state) {
  (void)state;
  env e;
  env_open_adm(&e, 4, 8, 4.0 * EST, 2, 0);
  static gate gg, gh; /* static: a failed test leaves them to open_gates() */
  orf_job *g = held_job_est(&e, &gg, 2 * EST);
  char hh[65], h1[65], h2[65], h3[65];
  make_hash(&e, hh);
  make_hash(&e, h1);
  make_hash(&e, h2);
  make_hash(&e, h3);
  orf_job *head = submit_est(&e, hh, e.small, e.small_size, 3 * EST, 0, NULL);
  gate_arm_queued(&gh, head);
  orf_job *s1 = submit_est(&e, h1, e.small, e.small_size, EST, 0, NULL);
  orf_job *s2 = submit_est(&e, h2, e.small, e.small_size, EST, 0, NULL);
  orf_job *s3 = submit_est(&e, h3, e.small, e.small_size, 2 * EST, 0, NULL);
  orf_job_state st;
  wait_done_bounded(s1, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  wait_done_bounded(s2, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  orf_job_get_state(head, &st);
  assert_int_equal(st.status, ORF_JOB_QUEUED); /* overtaken twice */
  assert_int_equal(st.position, 1);
  /* 2E + 2E fits, but the head has been overtaken max_overtakes times. */
  assert_stays_queued(s3, 200);
  orf_job_get_state(s3, &st);
  assert_int_equal(st.position, 2);
  assert_budget(&e, 2.0 * EST, 4.0 * EST);
  assert_int_equal(orf_jobs_batch(e.js), 1);
  gate_open(&gg);
  for (int i = 0; i < 30000 && !gate_entered(&gh); i++) /* the head starts: no starvation */
    usleep(1000);
  assert_true(gate_entered(&gh));
  wait_done(g, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  assert_stays_queued(s3, 50); /* 3E + 2E does not fit */
  assert_budget(&e, 3.0 * EST, 4.0 * EST);
  gate_open(&gh);
  wait_done(head, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  wait_done(s3, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  assert_budget(&e, 0, 4.0 * EST);
  orf_job *all[] = {g, head, s1, s2, s3};
  for (int i = 0; i < 5; i++)
    orf_job_release(all[i]);
  gate_destroy(&gg);
  gate_destroy(&gh);
  env_close(&e);
}

/* Cancelling the head that holds the queue back lets the job behind it
 * start at once: budget 2E, E held, the head (2E) overtaken once already
 * (max_overtakes 1), an E job waiting behind it; releasing the head's only
 * interest cancels it, and the E job runs while E is still held. */
static void test_cancel_head(void **state) {
  (void)state;
  env e;
  env_open_adm(&e, 3, 8, 2.0 * EST, 1, 0);
  static gate g; /* static: a failed test leaves it to open_gates() */
  orf_job *held = held_job_est(&e, &g, EST);
  char hh[65], h1[65], h2[65];
  make_hash(&e, hh);
  make_hash(&e, h1);
  make_hash(&e, h2);
  orf_job *head = submit_est(&e, hh, e.small, e.small_size, 2 * EST, 0, NULL);
  orf_job *s1 = submit_est(&e, h1, e.small, e.small_size, EST, 0, NULL);
  orf_job_state st;
  wait_done_bounded(s1, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  orf_job *s2 = submit_est(&e, h2, e.small, e.small_size, EST, 0, NULL);
  assert_stays_queued(s2, 100);
  orf_job_release(head);
  wait_done_bounded(s2, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  orf_job_get_state(held, &st);
  assert_int_equal(st.status, ORF_JOB_RUNNING);
  gate_open(&g);
  wait_done(held, NULL);
  assert_budget(&e, 0, 2.0 * EST);
  orf_job_release(held);
  orf_job_release(s1);
  orf_job_release(s2);
  gate_destroy(&g);
  env_close(&e);
}

static int noop_stage(void *user, orf_stage s, const orf_mesh *m, int grid, double elapsed_ms) {
  (void)user, (void)s, (void)m, (void)grid, (void)elapsed_ms;
  return 0;
}

/* The engine allocations of one generation of img (one thread, as the
 * manager's jobs run), counted through a tracker's fail_after. */
static long count_allocs(env *e, const uint8_t *img, size_t size) {
  const long start = 1L << 40;
  orf_memtrack t = {0};
  atomic_store(&t.fail_after, start);
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.device = ORF_DEVICE_CPU; /* as the manager runs them here (jobs_config.device) */
  o.threads = 1;
  o.on_stage = noop_stage;
  orf_limits_init(&o.limits);
  orf_params p = e->p;
  p.texture = ORF_TEXTURE_AUTO; /* the manager's jobs make the texture where one is wanted (jobs/run.c) */
  orf_memtrack *prev = orf_memtrack_set(&t);
  orf_result r;
  int rc = orf_generate(img, size, &p, &o, &r);
  orf_memtrack_set(prev);
  assert_int_equal(rc, ORF_OK);
  orf_result_free(&r);
  return start - atomic_load(&t.fail_after);
}

/* fail_alloc_after = N, with N past the allocations of the small image's
 * job but within the 512 px image's: the large job fails FAILED/ORF_ENOMEM
 * ("insufficient_memory") and releases its estimate; the small job after
 * it completes; a second large job fails too (the count is per job). */
static void test_fail_alloc(void **state) {
  (void)state;
  env probe;
  env_open(&probe, 1, 0);
  long n_small = count_allocs(&probe, probe.small, probe.small_size);
  long n_large = count_allocs(&probe, probe.gate_img, probe.gate_size);
  env_close(&probe);
  print_message("engine allocations: %ld (128 px), %ld (512 px)\n", n_small, n_large);
  if (n_large <= n_small) fail_msg("the 512 px job makes no more allocations than the 128 px one");
  env e;
  env_open_adm(&e, 1, 4, 2.0 * EST, 0, n_small + 1);
  for (int round = 0; round < 2; round++) {
    char hl[65], hs[65];
    make_hash(&e, hl);
    make_hash(&e, hs);
    orf_job *large = submit_est(&e, hl, e.gate_img, e.gate_size, 2 * EST, 0, NULL);
    orf_job *small = submit_est(&e, hs, e.small, e.small_size, 2 * EST, 0, NULL);
    orf_job_state st;
    wait_done(large, &st);
    assert_int_equal(st.status, ORF_JOB_FAILED);
    assert_int_equal(st.error, ORF_ENOMEM);
    json_t *ev = event_json(large, st.events - 1);
    assert_string_equal(jstr(ev, "status"), "error");
    assert_string_equal(jstr(ev, "code"), "insufficient_memory");
    json_decref(ev);
    orf_blob *b;
    assert_int_equal(orf_cache_get(e.cache, hl, "meta.json", 0, &b), ORF_SRV_ENOTFOUND);
    wait_done(small, &st);
    assert_int_equal(st.status, ORF_JOB_COMPLETE);
    assert_int_equal(st.events, 4);
    assert_budget(&e, 0, 2.0 * EST);
    orf_job_release(large);
    orf_job_release(small);
  }
  assert_true(metric(&e, "orfeas_jobs_total{status=\"failed\"}") == 2);
  assert_true(metric(&e, "orfeas_jobs_total{status=\"complete\"}") == 2);
  env_close(&e);
}

/* Budget 4E, four workers held by jobs of no estimate, five jobs queued
 * (E, 2E, 2E, E, E): orf_jobs_batch says 3 (E + 2E, then the second 2E does
 * not fit and the next E overtakes it), and once the workers are free the
 * scheduler starts exactly those three. */
static void test_batch(void **state) {
  (void)state;
  env e;
  env_open_adm(&e, 4, 8, 4.0 * EST, 0, 0);
  assert_int_equal(orf_jobs_batch(e.js), 1); /* empty queue */
  static gate gz[4], gq[5];                  /* static: a failed test leaves them to open_gates() */
  orf_job *z[4], *q[5];
  for (int i = 0; i < 4; i++)
    z[i] = held_job_est(&e, &gz[i], 0);
  static const size_t units[5] = {1, 2, 2, 1, 1};
  static const int starts[5] = {1, 1, 0, 1, 0};
  for (int i = 0; i < 5; i++) {
    char h[65];
    make_hash(&e, h);
    q[i] = submit_est(&e, h, e.small, e.small_size, units[i] * EST, 0, NULL);
    gate_arm_queued(&gq[i], q[i]);
  }
  int batch = orf_jobs_batch(e.js);
  assert_int_equal(batch, 3);
  for (int i = 0; i < 4; i++)
    gate_open(&gz[i]);
  int entered = 0;
  for (int t = 0; t < 30000 && entered < batch; t++) {
    entered = 0;
    for (int i = 0; i < 5; i++)
      entered += gate_entered(&gq[i]);
    if (entered < batch) usleep(1000);
  }
  for (int i = 0; i < 4; i++)
    wait_done(z[i], NULL);
  assert_stays_queued(q[2], 200);
  assert_stays_queued(q[4], 0);
  for (int i = 0; i < 5; i++)
    if (gate_entered(&gq[i]) != starts[i]) fail_msg("queued job %d: started %d", i, gate_entered(&gq[i]));
  size_t queued, running;
  orf_jobs_counts(e.js, &queued, &running);
  assert_int_equal(running, 3);
  assert_int_equal(queued, 2);
  assert_budget(&e, 4.0 * EST, 4.0 * EST);
  assert_int_equal(orf_jobs_batch(e.js), 1);
  for (int i = 0; i < 5; i++)
    gate_open(&gq[i]);
  for (int i = 0; i < 5; i++) {
    orf_job_state st;
    wait_done(q[i], &st);
    assert_int_equal(st.status, ORF_JOB_COMPLETE);
  }
  assert_budget(&e, 0, 4.0 * EST);
  for (int i = 0; i < 4; i++) {
    orf_job_release(z[i]);
    gate_destroy(&gz[i]);
  }
  for (int i = 0; i < 5; i++) {
    orf_job_release(q[i]);
    gate_destroy(&gq[i]);
  }
  env_close(&e);
}

/* Without a budget: the budget figure is 0, in_use still sums the running
 * jobs' estimates (any size is admitted), and the batch figure is the
 * queue's length clamped to 32. */
static void test_budget_figures(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 40);
  assert_budget(&e, 0, 0);
  static gate g; /* static: a failed test leaves it to open_gates() */
  orf_job *a = held_job_est(&e, &g, (size_t)1 << 50);
  assert_budget(&e, (double)((size_t)1 << 50), 0);
  orf_job *q[40];
  for (int i = 0; i < 40; i++) {
    char h[65];
    make_hash(&e, h);
    q[i] = submit_est(&e, h, e.small, e.small_size, (size_t)1 << 50, 0, NULL);
    if (i == 4) assert_int_equal(orf_jobs_batch(e.js), 5);
  }
  assert_int_equal(orf_jobs_batch(e.js), 32);
  for (int i = 0; i < 40; i++)
    orf_job_release(q[i]); /* queued, last interest: cancelled */
  assert_int_equal(orf_jobs_batch(e.js), 1);
  gate_open(&g);
  wait_done(a, NULL);
  assert_budget(&e, 0, 0);
  orf_job_release(a);
  gate_destroy(&g);
  env_close(&e);
}

/* ---- finished jobs kept ---------------------------------------------- */

/* Runs one job to its end and releases it; its id goes to id_out. */
static void run_one(env *e, char id_out[33]) {
  char h[65];
  make_hash(e, h);
  orf_job *j = submit(e, h, e->small, e->small_size, 0, NULL);
  orf_job_state st;
  wait_done(j, &st);
  assert_int_equal(st.status, ORF_JOB_COMPLETE);
  memcpy(id_out, orf_job_id(j), 33);
  orf_job_release(j);
}

/* Whether the job of that id is still findable. */
static int findable(env *e, const char *id) {
  orf_job *f = orf_jobs_find(e->js, id);
  int found = f != NULL;
  orf_job_release(f);
  return found;
}

/* keep_finished_max 3: after 5 jobs the manager holds the 3 newest (and
 * their bytes only); the 2 oldest are no longer findable. */
static void test_keep_finished_max(void **state) {
  (void)state;
  env e;
  env_open_full(&e, 1, 4, 0, 0, 0, 0, 3, 0);
  char ids[5][33];
  size_t n, bytes, one = 0;
  for (int i = 0; i < 5; i++) {
    run_one(&e, ids[i]);
    orf_jobs_finished(e.js, &n, &bytes);
    assert_int_equal(n, i < 3 ? i + 1 : 3);
    if (i == 0) one = bytes;
  }
  /* a finished job holds its record and four events: a few hundred bytes
   * to a few KiB, and three of them about three times one */
  print_message("one finished job holds %zu bytes\n", one);
  assert_true(one > 256 && one < 16384);
  assert_true(bytes > 2 * one && bytes < 4 * one);
  assert_false(findable(&e, ids[0]));
  assert_false(findable(&e, ids[1]));
  for (int i = 2; i < 5; i++)
    assert_true(findable(&e, ids[i]));
  env_close(&e);
}

/* keep_finished_bytes at 2.5 jobs' worth: two finished jobs are kept, the
 * oldest go first, and the bytes held never pass the cap. */
static void test_keep_finished_bytes(void **state) {
  (void)state;
  env e;
  env_open(&e, 1, 4);
  char id[33];
  size_t n, one;
  run_one(&e, id);
  orf_jobs_finished(e.js, &n, &one);
  assert_int_equal(n, 1);
  env_close(&e);

  size_t cap = one * 5 / 2;
  env_open_full(&e, 1, 4, 0, 0, 0, 0, 0, cap);
  char ids[5][33];
  size_t bytes;
  for (int i = 0; i < 5; i++) {
    run_one(&e, ids[i]);
    orf_jobs_finished(e.js, &n, &bytes);
    assert_int_equal(n, i < 2 ? i + 1 : 2);
    assert_true(bytes <= cap);
  }
  for (int i = 0; i < 3; i++)
    assert_false(findable(&e, ids[i]));
  assert_true(findable(&e, ids[3]));
  assert_true(findable(&e, ids[4]));
  env_close(&e);
}

/* The stress run under a budget of 3E with estimates E, 2E, 3E and
 * max_overtakes 2: everything completes and the budget ends empty. */
static void test_stress_budget(void **state) {
  (void)state;
  env e;
  env_open_adm(&e, 3, STRESS_JOBS, 3.0 * EST, 2, 0);
  size_t est[STRESS_HASHES];
  for (int i = 0; i < STRESS_HASHES; i++)
    est[i] = (size_t)(1 + i % 3) * EST;
  stress_run(&e, est);
  assert_budget(&e, 0, 3.0 * EST);
  env_close(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_complete_job, open_gates),
      cmocka_unit_test_teardown(test_single_flight, open_gates),
      cmocka_unit_test_teardown(test_queue_full, open_gates),
      cmocka_unit_test_teardown(test_retry_after, open_gates),
      cmocka_unit_test_teardown(test_release_cancels, open_gates),
      cmocka_unit_test_teardown(test_keep_and_cancel, open_gates),
      cmocka_unit_test_teardown(test_wait_and_unwait, open_gates),
      cmocka_unit_test_teardown(test_unwait_waits_for_callback, open_gates),
      cmocka_unit_test_teardown(test_drain, open_gates),
      cmocka_unit_test_teardown(test_bad_image, open_gates),
      cmocka_unit_test_teardown(test_free_cancels, open_gates),
      cmocka_unit_test_teardown(test_stress, open_gates),
      cmocka_unit_test_teardown(test_budget_two_fit, open_gates),
      cmocka_unit_test_teardown(test_too_big, open_gates),
      cmocka_unit_test_teardown(test_host_budget, open_gates),
      cmocka_unit_test_teardown(test_overtaking, open_gates),
      cmocka_unit_test_teardown(test_cancel_head, open_gates),
      cmocka_unit_test_teardown(test_fail_alloc, open_gates),
      cmocka_unit_test_teardown(test_batch, open_gates),
      cmocka_unit_test_teardown(test_budget_figures, open_gates),
      cmocka_unit_test_teardown(test_stress_budget, open_gates),
      cmocka_unit_test_teardown(test_keep_finished_max, open_gates),
      cmocka_unit_test_teardown(test_keep_finished_bytes, open_gates),
  };
  return cmocka_run_group_tests_name("jobs", tests, NULL, NULL);
}
