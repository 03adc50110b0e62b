/*
 * run.c - one job's generation, tied to the cache (contract in run.h):
 * the engine's stage callback exports each stage's mesh as binary PLY, the
 * canonical form every other format is converted from, stores it in the
 * cache, counts the stage in the metrics and only then publishes its event,
 * so an event's URL can always be fetched; the final stage's event waits
 * for meta.json, the record a cached result is answered from.
 *
 * Memory accounting: the engine charges the job's allocations to the
 * tracker current on the worker's thread; what is allocated here for the
 * manager (PLY buffers, events, cache entries) is not the engine's, so the
 * stage callback suspends the tracker while it runs.
 */
#include "run.h"

#include <stdio.h>

#include "job_events.h"
#include "util.h"

typedef struct run_ctx {
  const orf_jobs__run *run;
  orf_stage_info stages[ORF_STAGE_COUNT];
  double export_ms;
  int err; /* the stage callback's own failure */
} run_ctx;

static double now_ms(void) { return orf_now_mono() * 1e3; }

/* One stage's mesh: into the cache as "<stage>.ply", then its event. */
static int stage_done(run_ctx *c, orf_stage s, const orf_mesh *m, int grid, double elapsed_ms) {
  if ((int)s < 0 || s >= ORF_STAGE_COUNT) return ORF_EINTERNAL;
  const orf_jobs__run *run = c->run;
  c->stages[s] = (orf_stage_info){grid, m->vertex_count, m->face_count, elapsed_ms};
  uint8_t *ply;
  size_t size;
  double t0 = now_ms();
  int rc = orf_export(m, ORF_FMT_PLY, &ply, &size);
  c->export_ms += now_ms() - t0;
  if (rc) return rc;
  char name[64];
  snprintf(name, sizeof name, "%s.ply", orf_stage_name(s));
  rc = orf_cache_put(run->cfg->cache, run->hash, name, ply, size);
  orf_buffer_free(ply);
  if (rc) return rc;
  if (run->cfg->metrics) orf_metrics_stage(run->cfg->metrics, (int)s, elapsed_ms / 1000.0);
  if (s == ORF_STAGE_FINAL_OPTIMIZED) return ORF_OK; /* published after meta.json */
  char *event;
  if ((rc = orf_jobev_stage(&event, &size, s, &c->stages[s], NULL))) return rc;
  run->publish(run->ctx, event, s);
  return ORF_OK;
}

/* The engine's stage callback.  What the manager allocates here is not
 * the engine's: the job's memory accounting is suspended meanwhile. */
static int on_stage(void *user, orf_stage s, const orf_mesh *m, int grid, double elapsed_ms) {
  run_ctx *c = user;
  orf_memtrack *prev = orf_memtrack_set(NULL);
  int rc = stage_done(c, s, m, grid, elapsed_ms);
  orf_memtrack_set(prev);
  if (rc) {
    c->err = rc;
    return 1;
  }
  return atomic_load(c->run->cancel) != 0;
}

/* A complete job's meta.json into the cache, then its final event. */
static int job_done(run_ctx *c, const orf_result *res, char **final_event) {
  const orf_jobs__run *run = c->run;
  char *meta;
  size_t len;
  int rc = orf_jobev_meta(&meta, &len, run->hash, run->params, c->stages, res, c->export_ms);
  if (rc == ORF_OK) {
    rc = orf_cache_put(run->cfg->cache, run->hash, "meta.json", meta, len);
    orf_free(meta);
  }
  if (rc == ORF_OK)
    rc = orf_jobev_stage(final_event, &len, ORF_STAGE_FINAL_OPTIMIZED, &c->stages[ORF_STAGE_FINAL_OPTIMIZED],
                         res);
  return rc;
}

/* With fail_alloc_after set, the engine runs under a tracker of this
 * thread whose fail_after makes the job's Nth engine allocation fail
 * (orf_generate keeps a tracker its caller set; on_stage suspends it for
 * the manager's own allocations); the tracker is unset again when the
 * engine returns. */
int orf_jobs__run_engine(const orf_jobs__run *run, char **final_event) {
  const orf_jobs_config *cfg = run->cfg;
  run_ctx c = {.run = run};
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.threads = cfg->engine_threads;
  o.device = cfg->device == ORF_DEVICE_CUDA ? ORF_DEVICE_CUDA : ORF_DEVICE_CPU;
  o.precision = run->prec;
  o.limits = cfg->limits;
  o.on_stage = on_stage;
  o.user = &c;
  o.cancel = run->cancel;
  o.segmenter = cfg->segmenter;
  orf_memtrack fault = {0};
  orf_memtrack *prev = NULL;
  int inject = cfg->fail_alloc_after > 0;
  if (inject) {
    atomic_store(&fault.fail_after, cfg->fail_alloc_after);
    prev = orf_memtrack_set(&fault);
  }
  orf_result res;
  /* the cache keeps meshes, not textures (yet): none is made */
  orf_params p = *run->params;
  p.texture = ORF_TEXTURE_OFF;
  int rc = orf_generate(run->image, run->image_size, &p, &o, &res);
  if (inject) orf_memtrack_set(prev);
  if (rc == ORF_ECANCELED && c.err) rc = c.err;
  *final_event = NULL;
  if (rc == ORF_OK) rc = job_done(&c, &res, final_event);
  orf_result_free(&res);
  return rc;
}
