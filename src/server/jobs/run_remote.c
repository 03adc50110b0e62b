/*
 * run_remote.c - a generation made by a remote generator (issue 16;
 * contract in run.h), on the job's worker thread:
 *  1. the subject cut out (orf_subject_png: the background transparent,
 *     which both Hunyuan3D-2 contracts take as the alpha they need, the 2.1
 *     server removing no background itself);
 *  2. the geometry engine's first three stages as previews, marked
 *     "preview": true (at most quality PREVIEW_QUALITY: they are there to
 *     show something while the generator works), stored as any stage;
 *  3. the generator asked (generator/generators.h), with a status line
 *     every STATUS_EVERY_S seconds while it works: {"status":"processing",
 *     "generator","elapsed_s","message"}, so a client can tell a slow model
 *     from a dead one (at most MAX_STATUS_LINES, the job's event list being
 *     bounded);
 *  4. its mesh through the repair pipeline (orf_repair: closed, 2-manifold,
 *     outward, within the face budget, its longest side size_mm once its
 *     floaters are gone), stored
 *     as final_optimized, then the description of no texture
 *     (result_texture.h), meta.json (with "generator") and the final
 *     event.
 * A failure of the generator, or a mesh the repair cannot read or make
 * printable, is ORF_SRV_EGENERATOR with the reason: the job fails and
 * nothing is recorded as a result (the previews' files stay until the
 * cache drops them, but without meta.json no result is served from them).
 */
#include <stdio.h>
#include <string.h>

#include "result_texture.h"
#include "run.h"
#include "util.h"

#define PREVIEW_QUALITY 4
#define STATUS_EVERY_S 5.0
#define MAX_STATUS_LINES 120

typedef struct remote_ctx {
  const orf_jobs__run *run;
  const orf_remote_request *rq;
  orf_stage_info stages[ORF_STAGE_COUNT];
  double export_ms, t0;
  int last_stage;     /* the last preview stored, -1 */
  int err;            /* a preview's store failed */
  double next_status; /* elapsed seconds of the next status line */
  int status_lines;
} remote_ctx;

/* The engine's stages but the last, stored and published as previews. */
static int on_preview(void *user, orf_stage s, const orf_mesh *m, int grid, double elapsed_ms) {
  remote_ctx *c = user;
  if ((int)s >= ORF_STAGE_COUNT - 1) return 1; /* the final stage is the generator's */
  orf_memtrack *prev = orf_memtrack_set(NULL);
  int rc = orf_jobs__store_stage(c->run, (int)s, m, grid, elapsed_ms, c->stages, &c->export_ms,
                                 json_pack("{s:b, s:s}", "preview", 1, "generator", "geometry"));
  orf_memtrack_set(prev);
  if (rc) {
    c->err = rc;
    return 1;
  }
  c->last_stage = (int)s;
  return atomic_load(c->run->cancel) != 0;
}

/* A status line while the generator works (orf_generator_tick_fn). */
static int on_tick(void *user, double elapsed_s, int waiting) {
  remote_ctx *c = user;
  if (elapsed_s < c->next_status || c->status_lines >= MAX_STATUS_LINES) return 0;
  c->next_status = elapsed_s + STATUS_EVERY_S;
  c->status_lines++;
  char message[160];
  snprintf(message, sizeof message, "%s %s for %.0f s",
           waiting ? "waiting for a free slot of generator" : "generator", c->rq->name, elapsed_s);
  if (!waiting) snprintf(message + strlen(message), sizeof message - strlen(message), ": still working");
  json_t *j = json_pack("{s:s, s:i, s:s, s:f, s:s}", "status", "processing", "progress",
                        orf_job_stage_progress(ORF_JOB_GENERATE, c->last_stage), "generator", c->rq->name,
                        "elapsed_s", elapsed_s, "message", message);
  char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  if (text) {
    /* the job's events are orf_free'd: the text is copied into such a buffer */
    size_t n = strlen(text) + 1;
    char *ev = orf_malloc(n);
    if (ev) {
      memcpy(ev, text, n);
      c->run->publish(c->run->ctx, ev, c->last_stage);
    }
    free(text);
  }
  return 0;
}

/* The repair of the generator's GLB into res: the request's size, face
 * budget, quality and style. */
static int repair_glb(const orf_jobs__run *run, orf_job_opts *o, const uint8_t *glb, size_t n,
                      orf_repair_result *res) {
  const orf_params *p = run->params;
  orf_repair_params rp;
  orf_repair_params_init(&rp);
  rp.quality = p->quality;
  rp.size_mm = p->size_mm;
  rp.max_faces = p->max_faces;
  rp.realistic = p->realistic;
  rp.format = p->format;
  return orf_repair(glb, n, "glb", &rp, o, NULL, NULL, res);
}

/* meta.json (the generate response's record, with "generator") and the
 * final event. */
static int finish(remote_ctx *c, const orf_repair_result *rr, int mask_source, char **final_event) {
  const orf_jobs__run *run = c->run;
  orf_result res;
  memset(&res, 0, sizeof res);
  res.report = rr->report;
  res.mask_source = mask_source;
  res.timings.total = (orf_now_mono() - c->t0) * 1e3;
  char *meta;
  size_t len;
  int rc = orf_jobev_meta(&meta, &len, run->hash, run->params, c->stages, &res, c->export_ms);
  if (rc) return rc;
  json_t *m = json_loadb(meta, len, 0, NULL);
  orf_free(meta);
  json_object_set_new(m, "generator", json_string(c->rq->name));
  char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
  json_decref(m);
  if (!text) return ORF_ENOMEM;
  /* a remote mesh carries no texture of ours: the description of none,
   * before meta.json, as every complete generation has (result_texture.h) */
  rc = orf_result_texture_put(run->cfg->cache, run->hash, &res.texture);
  if (rc == ORF_OK) rc = orf_cache_put(run->cfg->cache, run->hash, "meta.json", text, strlen(text));
  free(text);
  if (rc) return rc;
  json_t *final = orf_jobev_generate_final(&res);
  if (!final) return ORF_ENOMEM;
  json_object_set_new(final, "generator", json_string(c->rq->name));
  return orf_jobev_stage(final_event, &len, ORF_JOB_GENERATE, ORF_STAGE_COUNT - 1,
                         &c->stages[ORF_STAGE_COUNT - 1], final);
}

int orf_jobs__run_remote(const orf_jobs__run *run, const orf_remote_request *remote, orf_job_opts *o,
                         char **final_event, char *msg, size_t msg_size) {
  remote_ctx c = {.run = run, .rq = remote, .t0 = orf_now_mono(), .last_stage = -1};
  o->device = ORF_DEVICE_CPU; /* a remote job holds no GPU memory of this server */
  /* 1. the subject */
  uint8_t *png = NULL;
  size_t png_size = 0;
  int source = 0;
  int rc = orf_subject_png(run->image, run->image_size, run->params, o, 1024, &png, &png_size, &source);
  /* 2. the previews (a preview that fails is no failure of the job) */
  if (rc == ORF_OK) {
    orf_params pp = *run->params;
    pp.texture = ORF_TEXTURE_OFF;
    if (pp.quality > PREVIEW_QUALITY) pp.quality = PREVIEW_QUALITY;
    pp.max_faces = 0;
    orf_job_opts po = *o;
    po.on_stage = on_preview;
    po.user = &c;
    orf_result pres;
    if (orf_generate(run->image, run->image_size, &pp, &po, &pres) == ORF_OK) orf_result_free(&pres);
    if (c.err) rc = c.err;
  }
  if (rc == ORF_OK && atomic_load(run->cancel)) rc = ORF_ECANCELED;
  /* 3. the generator */
  uint8_t *glb = NULL;
  size_t glb_size = 0;
  if (rc == ORF_OK)
    rc = orf_generators_run(run->cfg->generators, remote, png, png_size, run->cancel, on_tick, &c, &glb,
                            &glb_size, msg, msg_size);
  orf_buffer_free(png);
  /* 4. its mesh made printable, stored, recorded */
  if (rc == ORF_OK) {
    orf_repair_result rr;
    int rrc = repair_glb(run, o, glb, glb_size, &rr);
    if (rrc == ORF_ECANCELED) {
      rc = rrc;
    } else if (rrc) {
      snprintf(msg, msg_size, "generator %s: its mesh cannot be made printable: %s", remote->name,
               rr.info.message[0] ? rr.info.message : orf_strerror(rrc));
      rc = ORF_SRV_EGENERATOR;
    } else {
      rc = orf_jobs__store_stage(run, ORF_STAGE_COUNT - 1, &rr.mesh, rr.info.grid,
                                 (orf_now_mono() - c.t0) * 1e3, c.stages, &c.export_ms, NULL);
      if (rc == ORF_OK) rc = finish(&c, &rr, source, final_event);
    }
    orf_repair_result_free(&rr);
  }
  free(glb);
  orf_generators_forget(run->cfg->generators, run->hash);
  return rc;
}
