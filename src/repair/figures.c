/*
 * figures.c - orf_repair_figures_json(): what a repair found and did, as
 * the JSON object that both `orfeas repair --json` and the server's repair
 * answer (POST /api/v1/repair, its job's meta.json and final stream line)
 * are built on, so the two cannot say different things.
 *
 * Built with jansson's json_pack() (keys in the order docs/API.md lists
 * them) and written into a buffer from orf_malloc(), reals with at most 12
 * significant digits (40.1182708740, not 40.118270873999997).
 */
#include <jansson.h>
#include <string.h>

#include "orfeas.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

char *orf_repair_figures_json(const orf_repair_result *r, const orf_repair_params *p, size_t *len) {
  const orf_repair_info *i = &r->info;
  const orf_mesh_report *m = &r->report;
  if (len) *len = 0;
  json_t *o = json_pack(
      "{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:f}, s:{s:I, s:I, s:I, s:I, s:I, s:b, s:i, s:f}, "
      "s:{s:I, s:I, s:b, s:b, s:I, s:[f,f,f], s:f, s:f}, s:{s:f, s:f, s:b}, s:i, s:{s:f, s:f}, s:I}",
      "input", "triangles", (json_int_t)i->input_triangles, "vertices", (json_int_t)i->input_vertices,
      "welded_vertices", (json_int_t)i->welded_vertices, "open_edges", (json_int_t)i->open_edges,
      "nonmanifold_edges", (json_int_t)i->nonmanifold_edges, "components", (json_int_t)i->components,
      "volume_mm3", i->input_volume_mm3, "done", "flipped_faces", (json_int_t)i->flipped_faces,
      "degenerate_dropped", (json_int_t)i->degenerate_dropped, "duplicate_dropped",
      (json_int_t)i->duplicate_dropped, "floaters_dropped", (json_int_t)i->floaters_dropped,
      "floater_faces_dropped", (json_int_t)i->floater_faces_dropped, "remeshed", i->remeshed, "grid", i->grid,
      "cell_mm", i->cell_mm, "mesh", "vertices", (json_int_t)m->vertices, "faces", (json_int_t)m->faces,
      "watertight", m->watertight, "manifold", m->manifold, "euler", (json_int_t)m->euler, "bbox_mm",
      (double)(m->bbox_max[0] - m->bbox_min[0]), (double)(m->bbox_max[1] - m->bbox_min[1]),
      (double)(m->bbox_max[2] - m->bbox_min[2]), "volume_mm3", m->volume, "surface_mm2", m->area, "fidelity",
      "hausdorff_mm", i->hausdorff_mm, "far_share", i->far_share, "thin_warning", i->thin_warning, "quality",
      p->quality, "timings_ms", "winding", i->winding_ms, "total", i->total_ms, "winding_evals",
      (json_int_t)i->winding_evals);
  if (o && (i->thin_warning || i->coarsened) && json_object_set_new(o, "warning", json_string(i->message))) {
    json_decref(o);
    o = NULL;
  }
  size_t n = o ? json_dumpb(o, NULL, 0, DUMP_FLAGS) : 0;
  char *text = n ? orf_malloc(n + 1) : NULL;
  if (text && json_dumpb(o, text, n, DUMP_FLAGS) != n) {
    orf_free(text);
    text = NULL;
  }
  json_decref(o);
  if (!text) return NULL;
  text[n] = '\0';
  if (len) *len = n;
  return text;
}
