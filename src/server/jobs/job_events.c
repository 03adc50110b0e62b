/*
 * job_events.c - the JSON texts of a job (see job_events.h): one line of
 * docs/API.md's progressive stream per stage, the error line that ends a failed
 * or cancelled job, and meta.json, the generate or repair response the HTTP
 * layer completes with the cache flag, format and URLs; and the stage
 * tables of both kinds of job (jobs.h).
 *
 * Objects are built with jansson's json_pack() (keys come out in insertion
 * order, as docs/API.md lists them) and written with json_dumpb() into buffers
 * from orf_malloc(), so every byte the server keeps is accounted for like
 * the engine's.  Reals are rounded to 3 decimals and printed with at most
 * 12 significant digits: "elapsed_ms":12.345, never 12.345000000000001.
 */
#include "orfeas.h"
#include "job_events.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

static double round3(double x) { return isfinite(x) ? round(x * 1000.0) / 1000.0 : 0.0; }

/* Writes v into a new NUL-terminated orf_malloc() buffer and drops v. */
static int dump(json_t *v, char **out, size_t *len) {
  *out = NULL;
  *len = 0;
  if (!v) return ORF_ENOMEM;
  size_t n = json_dumpb(v, NULL, 0, DUMP_FLAGS);
  char *buf = n ? orf_malloc(n + 1) : NULL;
  if (!buf || json_dumpb(v, buf, n, DUMP_FLAGS) != n) {
    orf_free(buf);
    json_decref(v);
    return ORF_ENOMEM;
  }
  buf[n] = '\0';
  json_decref(v);
  *out = buf;
  *len = n;
  return ORF_OK;
}

/* ---- stage tables (jobs.h) ---------------------------------------------- */

int orf_job_stage_count(orf_job_kind k) { return k == ORF_JOB_REPAIR ? ORF_REPAIR_STAGE_COUNT : ORF_STAGE_COUNT; }

const char *orf_job_stage_name(orf_job_kind k, int stage) {
  if (stage < 0 || stage >= orf_job_stage_count(k)) return NULL;
  return k == ORF_JOB_REPAIR ? orf_repair_stage_name((orf_repair_stage)stage) : orf_stage_name((orf_stage)stage);
}

/* A generation's stages report 25 each; a repair's a third each, the last
 * 100 (as `orfeas repair`'s progress line). */
int orf_job_stage_progress(orf_job_kind k, int stage) {
  int n = orf_job_stage_count(k);
  if (stage < 0 || stage >= n) return 0;
  return stage == n - 1 ? 100 : (k == ORF_JOB_REPAIR ? 33 : 25) * (stage + 1);
}

int orf_job_stage_lookup(const char *name, size_t len, orf_job_kind *k, int *stage) {
  static const orf_job_kind kinds[] = {ORF_JOB_GENERATE, ORF_JOB_REPAIR};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    for (int s = 0; s < orf_job_stage_count(kinds[i]); s++) {
      const char *n = orf_job_stage_name(kinds[i], s);
      if (strlen(n) == len && !strncmp(name, n, len)) {
        if (k) *k = kinds[i];
        if (stage) *stage = s;
        return 0;
      }
    }
  return -1;
}

/* ---- events -------------------------------------------------------------- */

/* docs/API.md's "mesh" object from a job's result: its mesh report, and the
 * pieces dropped to keep the mesh within its face budget (budget.h). */
static json_t *mesh_object(const orf_result *res) {
  const orf_mesh_report *r = &res->report;
  return json_pack("{s:I,s:I,s:b,s:b,s:[f,f,f],s:f,s:f,s:I,s:f}", "vertices", (json_int_t)r->vertices,
                   "faces", (json_int_t)r->faces, "watertight", r->watertight != 0, "manifold",
                   r->manifold != 0, "bbox_mm", round3(r->bbox_max[0] - r->bbox_min[0]),
                   round3(r->bbox_max[1] - r->bbox_min[1]), round3(r->bbox_max[2] - r->bbox_min[2]),
                   "volume_mm3", round3(r->volume), "surface_mm2", round3(r->area), "dropped_components",
                   (json_int_t)res->dropped_components, "dropped_volume_share", res->dropped_volume_share);
}

json_t *orf_jobev_generate_final(const orf_result *res) {
  json_t *mesh = mesh_object(res);
  return mesh ? json_pack("{s:o}", "mesh", mesh) : NULL; /* "o" steals mesh, also on failure */
}

json_t *orf_jobev_repair_final(const char *figures) {
  json_t *f = figures ? json_loads(figures, 0, NULL) : NULL;
  if (!json_is_object(f)) {
    json_decref(f);
    return NULL;
  }
  json_object_del(f, "quality");
  json_object_del(f, "timings_ms");
  return f;
}

int orf_jobev_stage(char **out, size_t *len, orf_job_kind k, int s, const orf_stage_info *info, json_t *final) {
  const char *name = orf_job_stage_name(k, s);
  if (!name) {
    json_decref(final);
    *out = NULL;
    *len = 0;
    return ORF_EINVAL;
  }
  json_t *data;
  if (k == ORF_JOB_GENERATE && s == ORF_STAGE_VOXEL_PREVIEW)
    data = json_pack("{s:s,s:[i,i,i],s:I,s:I,s:f}", "type", "voxel_grid", "dimensions", info->grid,
                     info->grid, info->grid, "vertices", (json_int_t)info->vertices, "faces",
                     (json_int_t)info->faces, "elapsed_ms", round3(info->elapsed_ms));
  else
    data = json_pack("{s:s,s:i,s:I,s:I,s:f}", "type", "mesh", "grid", info->grid, "vertices",
                     (json_int_t)info->vertices, "faces", (json_int_t)info->faces, "elapsed_ms",
                     round3(info->elapsed_ms));
  int last = s == orf_job_stage_count(k) - 1;
  /* "o" steals data, also when json_pack fails */
  json_t *ev = data ? json_pack("{s:s,s:i,s:s,s:o}", "stage", name, "progress", orf_job_stage_progress(k, s),
                                "status", last ? "complete" : "processing", "data", data)
                    : NULL;
  if (ev && final && json_object_update(ev, final)) {
    json_decref(ev);
    ev = NULL;
  }
  if (last && !final) { /* the last stage's event says what was made */
    json_decref(ev);
    ev = NULL;
  }
  json_decref(final);
  return dump(ev, out, len);
}

void orf_jobev_error(char *buf, size_t cap, int err, const char *message) {
  const char *sentence = message && message[0] ? message : orf_strerror(err), *code = orf_errname(err);
  json_t *ev = json_pack("{s:s,s:s,s:s}", "status", "error", "error", sentence, "code", code);
  size_t n = ev ? json_dumpb(ev, buf, cap ? cap - 1 : 0, DUMP_FLAGS) : 0;
  json_decref(ev);
  if (n && n < cap) {
    buf[n] = '\0';
    return;
  }
  /* the default sentence, which needs no escaping */
  snprintf(buf, cap, "{\"status\":\"error\",\"error\":\"%s\",\"code\":\"%s\"}", orf_strerror(err), code);
}

/* The "stages" list of meta.json: each stage reached, with its figures. */
static json_t *stage_list(orf_job_kind k, const orf_stage_info *stages) {
  json_t *list = json_array();
  for (int s = 0; list && s < orf_job_stage_count(k); s++) {
    if (!stages[s].reached) continue;
    json_t *st = json_pack("{s:s,s:I,s:I,s:f}", "stage", orf_job_stage_name(k, s), "vertices",
                           (json_int_t)stages[s].vertices, "faces", (json_int_t)stages[s].faces, "elapsed_ms",
                           round3(stages[s].elapsed_ms));
    if (!st || json_array_append_new(list, st)) {
      json_decref(list);
      list = NULL;
    }
  }
  return list;
}

int orf_jobev_meta(char **out, size_t *len, const char *hash, const orf_params *p,
                   const orf_stage_info stages[ORF_STAGE_COUNT], const orf_result *res, double export_ms) {
  const orf_timings *t = &res->timings;
  json_t *list = stage_list(ORF_JOB_GENERATE, stages);
  json_t *timings =
      json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "decode", round3(t->decode), "mask", round3(t->mask),
                "field", round3(t->field), "mesh", round3(t->mesh), "smooth", round3(t->smooth), "simplify",
                round3(t->simplify), "export", round3(export_ms), "total", round3(t->total));
  json_t *mesh = mesh_object(res);
  if (!list || !timings || !mesh) {
    json_decref(list);
    json_decref(timings);
    json_decref(mesh);
    return dump(NULL, out, len);
  }
  /* "o" steals the three references, also when json_pack fails. */
  json_t *meta =
      json_pack("{s:s,s:s,s:s,s:i,s:s,s:o,s:o,s:o}", "request_hash", hash, "status", "complete", "mode",
                orf_mode_name(p->mode), "quality", p->quality, "mask_source",
                orf_mask_source_name(res->mask_source), "mesh", mesh, "stages", list, "timings_ms", timings);
  return dump(meta, out, len);
}

int orf_jobev_repair_meta(char **out, size_t *len, const char *hash,
                          const orf_stage_info stages[ORF_REPAIR_STAGE_COUNT], const char *figures,
                          double export_ms) {
  json_t *f = figures ? json_loads(figures, 0, NULL) : NULL;
  json_t *list = stage_list(ORF_JOB_REPAIR, stages);
  json_t *meta = json_pack("{s:s,s:s}", "request_hash", hash, "status", "complete");
  json_t *timings = json_object_get(f, "timings_ms");
  int ok = json_is_object(f) && list && meta && json_is_object(timings) &&
           !json_object_set_new(timings, "export", json_real(round3(export_ms))) &&
           !json_object_update(meta, f) && !json_object_set(meta, "stages", list);
  json_decref(f);
  json_decref(list);
  if (!ok) {
    json_decref(meta);
    meta = NULL;
  }
  return dump(meta, out, len);
}
