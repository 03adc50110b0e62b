/*
 * run.c - one job's run of the engine, tied to the cache (contract in
 * run.h): orf_generate for a generation, orf_repair for a repair, with one
 * stage callback for both (stage_done): it exports each stage's mesh as
 * binary PLY, the canonical form every other format is converted from,
 * stores it in the cache, counts a generation's stage in the metrics and
 * only then publishes its event, so an event's URL can always be fetched;
 * the final stage's event waits for the texture (result_texture.h) and
 * meta.json, the record a cached result is answered from.
 *
 * Memory accounting: the engine charges the job's allocations to the
 * tracker current on the worker's thread; what is allocated here for the
 * manager (PLY buffers, events, cache entries) is not the engine's, so the
 * stage callback suspends the tracker while it runs.
 */
#include "run.h"

#include <stdio.h>
#include <string.h>

#include "job_events.h"
#include "result_texture.h"
#include "util.h"

#define MAX_STAGES ((int)ORF_STAGE_COUNT > (int)ORF_REPAIR_STAGE_COUNT ? (int)ORF_STAGE_COUNT : (int)ORF_REPAIR_STAGE_COUNT)

typedef struct run_ctx {
  const orf_jobs__run *run;
  orf_stage_info stages[MAX_STAGES];
  double export_ms;
  int err;             /* the stage callback's own failure */
  int inject;          /* a fault-injecting tracker is set for the engine */
  orf_memtrack *prev;  /* the tracker it replaced */
} run_ctx;

/* The engine has returned: the fault-injecting tracker, if any, is unset
 * before the manager's own allocations (meta.json, the final event). */
static void engine_returned(run_ctx *c) {
  if (c->inject) orf_memtrack_set(c->prev);
  c->inject = 0;
}

static double now_ms(void) { return orf_now_mono() * 1e3; }

/* One stage's mesh: into the cache as "<stage>.ply", then its event. */
static int stage_done(run_ctx *c, int s, const orf_mesh *m, int grid, double elapsed_ms) {
  return orf_jobs__store_stage(c->run, s, m, grid, elapsed_ms, c->stages, &c->export_ms, NULL);
}

int orf_jobs__store_stage(const orf_jobs__run *run, int s, const orf_mesh *m, int grid, double elapsed_ms,
                          orf_stage_info *stages, double *export_ms, json_t *extra) {
  const char *stage = orf_job_stage_name(run->kind, s);
  if (!stage) {
    json_decref(extra);
    return ORF_EINTERNAL;
  }
  stages[s] = (orf_stage_info){1, grid, m->vertex_count, m->face_count, elapsed_ms};
  uint8_t *ply;
  size_t size;
  double t0 = now_ms();
  int rc = orf_export(m, ORF_FMT_PLY, &ply, &size);
  *export_ms += now_ms() - t0;
  if (rc) {
    json_decref(extra);
    return rc;
  }
  char name[64];
  snprintf(name, sizeof name, "%s.ply", stage);
  rc = orf_cache_put(run->cfg->cache, run->hash, name, ply, size);
  orf_buffer_free(ply);
  /* the stage histogram's series are a generation's stages */
  if (!rc && run->cfg->metrics && run->kind == ORF_JOB_GENERATE)
    orf_metrics_stage(run->cfg->metrics, s, elapsed_ms / 1000.0);
  if (rc || s == orf_job_stage_count(run->kind) - 1) { /* the last is published after meta.json */
    json_decref(extra);
    return rc;
  }
  char *event;
  if ((rc = orf_jobev_stage(&event, &size, run->kind, s, &stages[s], extra))) return rc;
  run->publish(run->ctx, event, s);
  return ORF_OK;
}

/* Both engines' stage callback.  What the manager allocates here is not
 * the engine's: the job's memory accounting is suspended meanwhile. */
static int on_any_stage(run_ctx *c, int s, const orf_mesh *m, int grid, double elapsed_ms) {
  orf_memtrack *prev = orf_memtrack_set(NULL);
  int rc = stage_done(c, s, m, grid, elapsed_ms);
  orf_memtrack_set(prev);
  if (rc) {
    c->err = rc;
    return 1;
  }
  return atomic_load(c->run->cancel) != 0;
}

static int on_stage(void *user, orf_stage s, const orf_mesh *m, int grid, double elapsed_ms) {
  return on_any_stage(user, (int)s, m, grid, elapsed_ms);
}

static int on_repair_stage(void *user, orf_repair_stage s, const orf_mesh *m, int grid, double elapsed_ms) {
  return on_any_stage(user, (int)s, m, grid, elapsed_ms);
}

/* A complete job's meta.json (meta, len bytes, taken over) into the cache,
 * then its final event with the final members (taken over). */
static int job_done(run_ctx *c, int rc, char *meta, size_t len, json_t *final, char **final_event) {
  const orf_jobs__run *run = c->run;
  if (rc == ORF_OK) rc = orf_cache_put(run->cfg->cache, run->hash, "meta.json", meta, len);
  orf_free(meta);
  int last = orf_job_stage_count(run->kind) - 1;
  if (rc == ORF_OK) return orf_jobev_stage(final_event, &len, run->kind, last, &c->stages[last], final);
  json_decref(final);
  return rc;
}

/* A generation: orf_generate, then its meta.json and final event. */
static int run_generate(run_ctx *c, orf_job_opts *o, char **final_event) {
  const orf_jobs__run *run = c->run;
  o->on_stage = on_stage;
  o->user = c;
  orf_result res;
  /* texture auto whatever the request asked: the entry serves every
   * variant (result_texture.h), so it holds the texture where one is made */
  orf_params p = *run->params;
  p.texture = ORF_TEXTURE_AUTO;
  int rc = orf_generate(run->image, run->image_size, &p, o, &res);
  engine_returned(c);
  if (rc == ORF_ECANCELED && c->err) rc = c->err;
  /* the texture (or that there is none) before meta.json: a complete
   * result has it (result_texture.h) */
  if (rc == ORF_OK) rc = orf_result_texture_put(run->cfg->cache, run->hash, &res.texture);
  if (rc == ORF_OK) {
    char *meta;
    size_t len;
    rc = orf_jobev_meta(&meta, &len, run->hash, run->params, c->stages, &res, c->export_ms);
    json_t *final = rc == ORF_OK ? orf_jobev_generate_final(&res) : NULL;
    if (rc == ORF_OK && !final) rc = ORF_ENOMEM;
    rc = job_done(c, rc, meta, len, final, final_event);
  }
  orf_result_free(&res);
  return rc;
}

/* A repair: orf_repair, then its figures as meta.json and final event. */
static int run_repair(run_ctx *c, orf_job_opts *o, char **final_event, char *msg, size_t msg_size) {
  const orf_jobs__run *run = c->run;
  orf_repair_result res;
  int rc = orf_repair(run->image, run->image_size, run->hint, run->repair, o, on_repair_stage, c, &res);
  engine_returned(c);
  if (rc == ORF_ECANCELED && c->err) rc = c->err;
  if (rc) snprintf(msg, msg_size, "%s", res.info.message);
  if (rc == ORF_OK) {
    size_t len;
    char *figures = orf_repair_figures_json(&res, run->repair, &len);
    char *meta = NULL;
    rc = figures ? orf_jobev_repair_meta(&meta, &len, run->hash, c->stages, figures, c->export_ms) : ORF_ENOMEM;
    json_t *final = rc == ORF_OK ? orf_jobev_repair_final(figures) : NULL;
    if (rc == ORF_OK && !final) rc = ORF_ENOMEM;
    orf_free(figures);
    rc = job_done(c, rc, meta, len, final, final_event);
  }
  orf_repair_result_free(&res);
  return rc;
}

/* With fail_alloc_after set, the engine runs under a tracker of this
 * thread whose fail_after makes the job's Nth engine allocation fail
 * (orf_generate and orf_repair keep a tracker their caller set; the stage
 * callback suspends it for the manager's own allocations); the tracker is
 * unset again when the engine returns. */
int orf_jobs__run_engine(const orf_jobs__run *run, char **final_event, char *msg, size_t msg_size) {
  const orf_jobs_config *cfg = run->cfg;
  run_ctx c = {.run = run};
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = cfg->engine_threads;
  o.device = cfg->device == ORF_DEVICE_CUDA ? ORF_DEVICE_CUDA : ORF_DEVICE_CPU;
  o.precision = run->prec;
  o.limits = cfg->limits;
  o.cancel = run->cancel;
  o.segmenter = cfg->segmenter;
  orf_memtrack fault = {0};
  c.inject = cfg->fail_alloc_after > 0;
  if (c.inject) {
    atomic_store(&fault.fail_after, cfg->fail_alloc_after);
    c.prev = orf_memtrack_set(&fault);
  }
  *final_event = NULL;
  if (msg_size) msg[0] = '\0';
  orf_remote_request remote; /* a generation a remote generator makes (generator/generators.h) */
  if (run->kind == ORF_JOB_GENERATE && cfg->generators &&
      orf_generators_lookup(cfg->generators, run->hash, &remote)) {
    engine_returned(&c);
    return orf_jobs__run_remote(run, &remote, &o, final_event, msg, msg_size);
  }
  int rc = run->kind == ORF_JOB_REPAIR ? run_repair(&c, &o, final_event, msg, msg_size)
                                       : run_generate(&c, &o, final_event);
  engine_returned(&c); /* in case the run ended before the engine was called */
  return rc;
}
