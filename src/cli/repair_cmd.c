/*
 * repair_cmd.c - `orfeas repair`: a mesh file made printable (orf_repair).
 *
 *   orfeas repair IN.{glb,stl,obj,ply,3mf,...} -o OUT.{glb,stl,obj,ply,3mf}
 *                 [--quality Q] [--size-mm S] [--param NAME=VALUE ...]
 *                 [--max-upload-mb N] [--max-triangles N] [--threads N] [--json]
 *
 * Like `generate`: a progress line on a terminal, --json prints one object
 * with what was found and done, and the exit codes are the same (0 done,
 * 2 bad usage or parameter, 3 bad or too large input, 4 internal or I/O).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "orfeas.h"

enum { EXIT_USAGE = 2, EXIT_INPUT = 3, EXIT_INTERNAL = 4 };

typedef struct rcli {
  int tty;
  json_t *stages;
} rcli;

static void usage(FILE *f) {
  fprintf(f,
          "usage: orfeas repair IN -o OUT.{glb,stl,obj,ply,3mf} [options]\n\n"
          "Reads any mesh (glTF/GLB, OBJ, STL, PLY, 3MF, FBX, OFF, ...) and makes it printable:\n"
          "welded, oriented, floaters dropped, holes and double shells resolved by the\n"
          "generalized winding number; closed, 2-manifold, outward, Z up, on z = 0.\n\n"
          "  -o, --output FILE      where the repaired mesh goes; its extension picks the format\n"
          "  --quality N            1..10 (7): grid R(q) and face budget F(q)\n"
          "  --size-mm N            longest side in millimetres (default: the file's size in units)\n"
          "  --param NAME=VALUE     units=auto|mm|cm|m|in, up=auto|y|z, remesh=auto|always|never,\n"
          "                         min_component (0.005), weld (1e-5), max_faces, style=realistic|plain\n"
          "  --max-upload-mb N      largest file read (50)\n"
          "  --max-triangles N      most triangles imported (5000000)\n"
          "  --threads N            worker threads (default: all cores)\n"
          "  --json                 print one JSON object with what was found and done\n\n"
          "exit status: 0 done, 2 bad usage or parameter, 3 bad or too large input mesh, 4 internal or I/O "
          "error\n");
}

static int exit_code(int err) {
  switch (err) {
  case ORF_EINVAL: return EXIT_USAGE;
  case ORF_EBADMESH:
  case ORF_ETOOLARGE:
  case ORF_EUNSUPPORTED: return EXIT_INPUT;
  default: return EXIT_INTERNAL;
  }
}

static int on_stage(void *user, orf_repair_stage stage, const orf_mesh *mesh, int grid, double elapsed_ms) {
  rcli *c = user;
  if (c->tty)
    fprintf(stderr, "\r\033[K%-16s %3d%%  %7.1f ms  %zu faces", orf_repair_stage_name(stage),
            stage == ORF_REPAIR_FINAL ? 100 : 33 * ((int)stage + 1), elapsed_ms, mesh->face_count);
  json_array_append_new(c->stages,
                        json_pack("{s:s, s:i, s:I, s:f}", "stage", orf_repair_stage_name(stage), "grid", grid,
                                  "faces", (json_int_t)mesh->face_count, "elapsed_ms", elapsed_ms));
  return 0;
}

/* The result JSON of a repair: the engine's figures (orf_repair_figures_json,
 * the server's answer too) and the run's peak memory. */
static json_t *info_json(const orf_repair_result *r, const orf_repair_params *p, size_t peak) {
  char *text = orf_repair_figures_json(r, p, NULL);
  json_t *o = text ? json_loads(text, 0, NULL) : NULL;
  orf_free(text);
  if (o) json_object_set_new(o, "peak_bytes", json_integer((json_int_t)peak));
  return o;
}

int orf_cli_repair(int argc, char **argv) {
  orf_repair_params p;
  orf_repair_params_init(&p);
  const char *in = NULL, *out = NULL;
  int json = 0, threads = 0;
  double max_mb = 50;
  char err[256];
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char *pname = !strcmp(a, "--quality") ? "quality" : !strcmp(a, "--size-mm") ? "size_mm" : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--json")) {
      json = 1;
      continue;
    } else if (a[0] != '-') {
      if (in) {
        fprintf(stderr, "orfeas: one mesh at a time (got %s and %s)\n", in, a);
        return EXIT_USAGE;
      }
      in = a;
      continue;
    }
    if (!v) {
      fprintf(stderr, "orfeas: %s needs a value\n", a);
      return EXIT_USAGE;
    }
    i++;
    if (pname) {
      if (orf_repair_params_set(&p, pname, v, err, sizeof err)) goto bad_param;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      out = v;
    } else if (!strcmp(a, "--param")) {
      const char *eq = strchr(v, '=');
      char name[64];
      if (!eq || eq - v >= (long)sizeof name) {
        fprintf(stderr, "orfeas: --param wants NAME=VALUE (got \"%s\")\n", v);
        return EXIT_USAGE;
      }
      snprintf(name, sizeof name, "%.*s", (int)(eq - v), v);
      if (orf_repair_params_set(&p, name, eq + 1, err, sizeof err)) goto bad_param;
    } else if (!strcmp(a, "--threads")) {
      threads = atoi(v);
    } else if (!strcmp(a, "--max-upload-mb")) {
      max_mb = atof(v);
      if (!(max_mb > 0)) goto bad_value;
    } else if (!strcmp(a, "--max-triangles")) {
      long long n = atoll(v);
      if (n < 1) goto bad_value;
      p.max_triangles = (size_t)n;
    } else {
      fprintf(stderr, "orfeas: unknown option %s (see orfeas repair --help)\n", a);
      return EXIT_USAGE;
    }
    continue;
  bad_value:
    fprintf(stderr, "orfeas: %s: bad value \"%s\"\n", a, v);
    return EXIT_USAGE;
  bad_param:
    fprintf(stderr, "orfeas: %s\n", err);
    return EXIT_USAGE;
  }
  if (!in || !out) {
    fprintf(stderr, "orfeas: repair needs a mesh and -o OUT (see orfeas repair --help)\n");
    return EXIT_USAGE;
  }
  const char *dot = strrchr(out, '.');
  if (!dot || orf_format_from_ext(dot + 1, &p.format)) {
    fprintf(stderr, "orfeas: cannot tell the format of %s: use .glb, .stl, .obj, .ply or .3mf\n", out);
    return EXIT_USAGE;
  }
  orf_job_opts opts;
  orf_job_opts_init(&opts);
  opts.limits.max_file_bytes = (size_t)(max_mb * 1024 * 1024);
  opts.threads = threads;
  size_t size = 0;
  uint8_t *data = orf_cli_read_file(in, &size, opts.limits.max_file_bytes);
  if (!data) {
    fprintf(stderr, "orfeas: cannot read %s: %s\n", in, strerror(errno));
    return EXIT_INPUT;
  }
  const char *hint = strrchr(in, '.');
  rcli c = {isatty(STDERR_FILENO), json_array()};
  orf_repair_result res;
  int rc = orf_repair(data, size, hint ? hint + 1 : NULL, &p, &opts, on_stage, &c, &res);
  free(data);
  if (c.tty) fputc('\n', stderr);
  if (rc) {
    fprintf(stderr, "orfeas: %s: %s%s%s\n", in, orf_strerror(rc), res.info.message[0] ? ": " : "",
            res.info.message);
    json_decref(c.stages);
    return exit_code(rc);
  }
  if (res.info.thin_warning || res.info.coarsened) fprintf(stderr, "orfeas: warning: %s\n", res.info.message);
  rc = orf_export_file(&res.mesh, p.format, out);
  if (rc) {
    fprintf(stderr, "orfeas: cannot write %s: %s\n", out, orf_strerror(rc));
    orf_repair_result_free(&res);
    json_decref(c.stages);
    return EXIT_INTERNAL;
  }
  if (json) {
    json_t *o = info_json(&res, &p, opts.peak_bytes);
    if (!o) {
      fprintf(stderr, "orfeas: out of memory\n");
      orf_repair_result_free(&res);
      json_decref(c.stages);
      return EXIT_INTERNAL;
    }
    json_object_set_new(o, "output", json_string(out));
    json_object_set_new(o, "format", json_string(orf_format_ext(p.format)));
    json_object_set_new(o, "stages", c.stages);
    char *s = json_dumps(o, JSON_COMPACT);
    puts(s);
    free(s);
    json_decref(o);
  } else {
    json_decref(c.stages);
    const orf_mesh_report *m = &res.report;
    printf("%s: %zu vertices, %zu faces, %.1f x %.1f x %.1f mm, %s, %s, %zu floaters dropped, %.0f ms\n", out,
           m->vertices, m->faces, (double)(m->bbox_max[0] - m->bbox_min[0]),
           (double)(m->bbox_max[1] - m->bbox_min[1]), (double)(m->bbox_max[2] - m->bbox_min[2]),
           m->watertight && m->manifold ? "watertight" : "NOT watertight",
           res.info.remeshed ? "remeshed" : "faces kept", res.info.floaters_dropped, res.info.total_ms);
  }
  orf_repair_result_free(&res);
  return 0;
}
