/*
 * job_events.c - the JSON texts of a job (see job_events.h): one line of
 * docs/API.md's progressive stream per stage, the error line that ends a failed
 * or cancelled job, and meta.json, the generate response the HTTP layer
 * completes with the cache flag, format and URLs.
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

int orf_jobev_stage(char **out, size_t *len, orf_stage s, const orf_stage_info *info,
                    const orf_result *final) {
  json_t *data;
  if (s == ORF_STAGE_VOXEL_PREVIEW)
    data = json_pack("{s:s,s:[i,i,i],s:I,s:I,s:f}", "type", "voxel_grid", "dimensions", info->grid,
                     info->grid, info->grid, "vertices", (json_int_t)info->vertices, "faces",
                     (json_int_t)info->faces, "elapsed_ms", round3(info->elapsed_ms));
  else
    data = json_pack("{s:s,s:i,s:I,s:I,s:f}", "type", "mesh", "grid", info->grid, "vertices",
                     (json_int_t)info->vertices, "faces", (json_int_t)info->faces, "elapsed_ms",
                     round3(info->elapsed_ms));
  int last = s == ORF_STAGE_FINAL_OPTIMIZED;
  json_t *mesh = last && final ? mesh_object(final) : NULL;
  if (!data || (last && !mesh)) {
    json_decref(data);
    json_decref(mesh);
    return dump(NULL, out, len);
  }
  json_t *ev = json_pack("{s:s,s:i,s:s,s:o}", "stage", orf_stage_name(s), "progress", 25 * ((int)s + 1),
                         "status", last ? "complete" : "processing", "data", data);
  if (ev && mesh && json_object_set_new(ev, "mesh", mesh)) {
    json_decref(ev);
    ev = NULL;
  } else if (!ev) {
    json_decref(mesh);
  }
  return dump(ev, out, len);
}

void orf_jobev_error(char *buf, size_t cap, int err) {
  const char *sentence = orf_strerror(err), *code = orf_errname(err);
  json_t *ev = json_pack("{s:s,s:s,s:s}", "status", "error", "error", sentence, "code", code);
  size_t n = ev ? json_dumpb(ev, buf, cap ? cap - 1 : 0, DUMP_FLAGS) : 0;
  json_decref(ev);
  if (n && n < cap) {
    buf[n] = '\0';
    return;
  }
  snprintf(buf, cap, "{\"status\":\"error\",\"error\":\"%s\",\"code\":\"%s\"}", sentence, code);
}

int orf_jobev_meta(char **out, size_t *len, const char *hash, const orf_params *p,
                   const orf_stage_info stages[ORF_STAGE_COUNT], const orf_result *res, double export_ms) {
  const orf_timings *t = &res->timings;
  json_t *list = json_array();
  for (int s = 0; list && s < ORF_STAGE_COUNT; s++) {
    json_t *st = json_pack("{s:s,s:I,s:I,s:f}", "stage", orf_stage_name((orf_stage)s), "vertices",
                           (json_int_t)stages[s].vertices, "faces", (json_int_t)stages[s].faces, "elapsed_ms",
                           round3(stages[s].elapsed_ms));
    if (!st || json_array_append_new(list, st)) {
      json_decref(list);
      list = NULL;
    }
  }
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
