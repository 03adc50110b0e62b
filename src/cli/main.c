/*
 * main.c - the `orfeas` command line.
 *
 *   orfeas generate IMAGE -o OUT.{glb,stl,obj,ply,3mf} [options]
 *   orfeas generate IMAGE|DIR... -o OUTDIR/ [--format F] [options]  (generate_many.c)
 *   orfeas --help | --version
 *
 * `orfeas serve` hands over to the HTTP server (src/server/server.h).
 * The rest is a thin shell over the engine's public header: parses options into
 * orf_params (every engine parameter through --param name=value, so the CLI
 * never knows more than the engine's own table), runs orf_generate() with a
 * stage callback that draws a progress line on a terminal and writes each
 * stage with --stages-dir, and prints the figures as one JSON object with
 * --json.  Exit codes: 0 done, 2 bad usage or parameter, 3 bad input image,
 * 4 internal or I/O error.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "orfeas.h"
#include "server.h"

enum { EXIT_USAGE = 2, EXIT_INPUT = 3, EXIT_INTERNAL = 4 };

typedef struct cli {
  const char *image, *out, *stages_dir, *segment_model;
  const char **inputs; /* every IMAGE argument */
  int ninputs;
  int json, threads, tty;
  orf_device device;
  orf_precision precision;
  orf_params params;
  json_t *stages; /* stage figures for --json */
} cli;

static void usage(FILE *f) {
  fprintf(f,
          "ORFEAS %s - image to printable 3D model\n\n"
          "usage:\n"
          "  orfeas generate IMAGE -o OUT.{glb,stl,obj,ply,3mf} [options]\n"
          "  orfeas generate IMAGE|DIR... -o OUTDIR/ [--format F] [options]   several images:\n"
          "                           OUTDIR/<name>.<format>, a line per file, a summary\n"
          "  orfeas serve [--host H] [--port P] [...]   the HTTP server (orfeas serve --help)\n"
          "  orfeas repair MESH -o OUT.{glb,stl,obj,ply,3mf} [...]   any mesh made printable\n"
          "  orfeas --help | --version\n\n"
          "generate options:\n"
          "  -o, --output FILE        where the final mesh goes; its extension picks the format\n"
          "  --mode M                 inflate (default), relief, lithophane or extrude\n"
          "  --quality N              1..10 (7): grid R(q) and face budget F(q)\n"
          "  --size-mm N              longest side in millimetres, 1..1000 (100)\n"
          "  --style S                realistic (keep colours, default) or plain\n"
          "  --format F               glb (default), stl, obj, ply or 3mf, with several inputs\n"
          "  --param NAME=VALUE       any engine parameter (repeatable): thickness, detail,\n"
          "                           background=auto|alpha|color|subject|none, max_faces,\n"
          "                           subject_points='+0.5,0.4;-0.1,0.9', size=small|medium|large...\n"
          "  --segment-model PATH     the segmentation network (ONNX; default $ORFEAS_SEGMENT_MODEL,\n"
          "                           else models/u2netp.onnx beside this binary); none: without one\n"
          "  --stages-dir DIR         also write every stage's mesh as DIR/<stage>.<ext>\n"
          "  --threads N              worker threads (default: all cores)\n"
          "  --json                   print one JSON object with the mesh figures and timings\n"
          "  --device D               auto (a usable GPU, else the CPU), cpu or cuda\n"
          "  --precision P            the GPU's field storage: fp32 (the CPU's mesh), fp16 or int8\n\n"
          "exit status: 0 done, 2 bad usage or parameter, 3 bad input image, 4 internal or I/O error\n",
          ORF_VERSION);
}

static int exit_code(int err) {
  switch (err) {
  case ORF_EINVAL:
  case ORF_ENODEVICE:
  case ORF_ENOTIMPL:
  case ORF_ESEGMENT: return EXIT_USAGE; /* the network: a model to configure */
  case ORF_ENOALPHA: return EXIT_USAGE;
  case ORF_EBADIMAGE:
  case ORF_EUNSUPPORTED:
  case ORF_ETOOLARGE:
  case ORF_ENOSUBJECT:
  case ORF_ETOOTHIN:
  case ORF_EANIMATED: return EXIT_INPUT;
  default: return EXIT_INTERNAL;
  }
}

static int set_param(cli *c, const char *name, const char *value) {
  char err[256];
  if (orf_params_set(&c->params, name, value, err, sizeof err)) {
    fprintf(stderr, "orfeas: %s\n", err);
    return -1;
  }
  return 0;
}

static int on_stage(void *user, orf_stage stage, const orf_mesh *mesh, int grid, double elapsed_ms) {
  cli *c = user;
  if (c->tty)
    fprintf(stderr, "\r\033[K%-16s %3d%%  %7.1f ms  %zu faces", orf_stage_name(stage), 25 * ((int)stage + 1),
            elapsed_ms, mesh->face_count);
  if (c->stages_dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s", c->stages_dir, orf_stage_name(stage),
             orf_format_ext(c->params.format));
    int rc = orf_export_file_textured(mesh, NULL, c->params.format, c->params.compress, path);
    if (rc) {
      fprintf(stderr, "\norfeas: cannot write %s: %s\n", path, orf_strerror(rc));
      return 1;
    }
  }
  json_array_append_new(c->stages,
                        json_pack("{s:s, s:i, s:I, s:I, s:f}", "stage", orf_stage_name(stage), "grid", grid,
                                  "vertices", (json_int_t)mesh->vertex_count, "faces",
                                  (json_int_t)mesh->face_count, "elapsed_ms", elapsed_ms));
  return 0;
}

uint8_t *orf_cli_read_file(const char *path, size_t *size, size_t limit) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len == cap) {
      cap = cap ? cap * 2 : 1 << 16;
      uint8_t *p = realloc(buf, cap);
      if (!p) break;
      buf = p;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0 || len > limit) break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return NULL;
  }
  *size = len;
  return buf ? buf : malloc(1);
}

static json_t *report_json(const orf_result *r) {
  const orf_mesh_report *m = &r->report;
  return json_pack("{s:I, s:I, s:b, s:b, s:I, s:[f,f,f], s:f, s:f, s:I, s:f}", "vertices",
                   (json_int_t)m->vertices, "faces", (json_int_t)m->faces, "watertight", m->watertight,
                   "manifold", m->manifold, "euler", (json_int_t)m->euler, "bbox_mm",
                   (double)(m->bbox_max[0] - m->bbox_min[0]), (double)(m->bbox_max[1] - m->bbox_min[1]),
                   (double)(m->bbox_max[2] - m->bbox_min[2]), "volume_mm3", m->volume, "surface_mm2", m->area,
                   "dropped_components", (json_int_t)r->dropped_components, "dropped_volume_share",
                   r->dropped_volume_share);
}

/* ---- generate, step by step: each returns 0 to go on, or the exit status
 * (its line on stderr) ---- */

/* An image and an output whose extension names a format, parameters the
 * engine takes, and the stages directory when asked for. */
static int check_request(cli *c) {
  if (!c->image || !c->out) {
    fprintf(stderr, "orfeas: generate needs an IMAGE and -o OUT (see orfeas --help)\n");
    return EXIT_USAGE;
  }
  const char *dot = strrchr(c->out, '.');
  if (!dot || orf_format_from_ext(dot + 1, &c->params.format)) {
    fprintf(stderr, "orfeas: cannot tell the format of %s: use .glb, .stl, .obj, .ply or .3mf\n", c->out);
    return EXIT_USAGE;
  }
  char err[256];
  if (orf_params_validate(&c->params, err, sizeof err)) {
    fprintf(stderr, "orfeas: %s\n", err);
    return EXIT_USAGE;
  }
  if (c->stages_dir && mkdir(c->stages_dir, 0777) && errno != EEXIST) {
    fprintf(stderr, "orfeas: cannot create %s: %s\n", c->stages_dir, strerror(errno));
    return EXIT_INTERNAL;
  }
  return 0;
}

/* The image's bytes, at most the decoder's file limit, into *data (the
 * caller frees it). */
static int read_image(const cli *c, const orf_limits *limits, uint8_t **data, size_t *size) {
  *size = 0;
  *data = orf_cli_read_file(c->image, size, limits->max_file_bytes);
  if (!*data) {
    fprintf(stderr, "orfeas: cannot read %s: %s\n", c->image, strerror(errno));
    return EXIT_INPUT;
  }
  if (*size > limits->max_file_bytes) {
    free(*data);
    *data = NULL;
    fprintf(stderr, "orfeas: %s: %s\n", c->image, orf_strerror(ORF_ETOOLARGE));
    return EXIT_INPUT;
  }
  return 0;
}

/* The segmentation network, when this job may need it: an explicit model
 * that cannot be loaded is a usage error; without the default one
 * background=auto stays with the colour model (and says so).  *seg may
 * stay NULL. */
static int open_segmenter(cli *c, orf_segmenter **seg) {
  *seg = NULL;
  int needs = c->params.background == ORF_BG_AUTO || c->params.background == ORF_BG_SUBJECT;
  if (c->segment_model && !strcmp(c->segment_model, "none")) needs = 0, c->segment_model = NULL;
  if (!needs && !c->segment_model) return 0;
  char path[4096], err[512];
  int found = c->segment_model ? (snprintf(path, sizeof path, "%s", c->segment_model), ORF_OK)
                               : orf_segment_default_model(path, sizeof path);
  if (!strcmp(path, "none")) { /* ORFEAS_SEGMENT_MODEL=none: without the network, quietly */
  } else if (found == ORF_OK || c->params.background == ORF_BG_SUBJECT) {
    if (orf_segmenter_create(path, c->threads, 0, seg, err, sizeof err)) {
      fprintf(stderr, "orfeas: %s\n", err);
      return EXIT_USAGE;
    }
  } else {
    fprintf(stderr, "orfeas: warning: no segmentation model at %s: background=auto uses the colour model\n",
            path);
  }
  return 0;
}

/* Runs the engine on the image (the stages drawn and written by on_stage,
 * their figures gathered in c->stages); *res is the caller's to free when
 * it returns 0. */
static int run(cli *c, orf_job_opts *opts, const uint8_t *data, size_t size, orf_segmenter *seg,
               orf_result *res) {
  opts->segmenter = seg;
  opts->threads = c->threads;
  opts->device = c->device;
  opts->precision = c->precision;
  opts->on_stage = on_stage;
  opts->user = c;
  int rc = orf_generate(data, size, &c->params, opts, res);
  if (c->tty) fputc('\n', stderr);
  if (rc) {
    fprintf(stderr, "orfeas: %s: %s\n", c->image, orf_strerror(rc));
    return exit_code(rc);
  }
  return 0;
}

/* --json: one object with the output, the mesh, every stage, the timings
 * and the memory figures; takes c->stages over. */
static void print_json(cli *c, const orf_result *res, const orf_job_opts *opts) {
  const orf_timings *t = &res->timings;
  json_t *o = json_pack(
      "{s:s, s:s, s:i, s:s, s:s, s:o, s:o, s:{s:f,s:f,s:f,s:f,s:f,s:f,s:f}, s:I, s:s, s:I}", "output", c->out,
      "mode", orf_mode_name(c->params.mode), "quality", c->params.quality, "format",
      orf_format_ext(c->params.format), "mask_source", orf_mask_source_name(res->mask_source), "mesh",
      report_json(res), "stages", c->stages, "timings_ms", "decode", t->decode, "mask", t->mask, "field",
      t->field, "mesh", t->mesh, "smooth", t->smooth, "simplify", t->simplify, "total", t->total,
      "peak_bytes", (json_int_t)opts->peak_bytes, "device", orf_device_name(opts->device_used),
      "device_peak_bytes", (json_int_t)opts->device_peak_bytes);
  c->stages = NULL;
  const orf_texture *tex = orf_texture_pick(&res->texture, c->params.texture, c->params.format);
  json_object_set_new(o, "texture",
                      tex ? json_pack("{s:s, s:i, s:i, s:I}", "mime", tex->mime, "width", (int)tex->width,
                                      "height", (int)tex->height, "bytes", (json_int_t)tex->size)
                          : json_null());
  json_object_set_new(o, "compress", json_string(orf_compress_name(c->params.compress)));
  json_object_set_new(json_object_get(o, "timings_ms"), "texture", json_real(t->texture));
  char *s = json_dumps(o, JSON_COMPACT);
  puts(s);
  free(s);
  json_decref(o);
}

/* Without --json: one line for a person. */
static void print_summary(const cli *c, const orf_result *res) {
  const orf_mesh_report *m = &res->report;
  printf("%s: %zu vertices, %zu faces, %.1f x %.1f x %.1f mm, %s, %.0f ms\n", c->out, m->vertices, m->faces,
         (double)(m->bbox_max[0] - m->bbox_min[0]), (double)(m->bbox_max[1] - m->bbox_min[1]),
         (double)(m->bbox_max[2] - m->bbox_min[2]),
         m->watertight && m->manifold ? "watertight" : "NOT watertight", res->timings.total);
}

static int cmd_generate(cli *c) {
  int status = check_request(c);
  if (status) return status;
  orf_job_opts opts;
  orf_job_opts_init(&opts);
  uint8_t *data;
  size_t size;
  if ((status = read_image(c, &opts.limits, &data, &size))) return status;
  orf_segmenter *seg;
  if ((status = open_segmenter(c, &seg))) {
    free(data);
    return status;
  }
  c->stages = json_array();
  /* no texture is made for a format that cannot hold one */
  if (!orf_format_holds_texture(c->params.format)) c->params.texture = ORF_TEXTURE_OFF;
  orf_result res;
  status = run(c, &opts, data, size, seg, &res);
  free(data);
  orf_segmenter_free(seg);
  if (status == 0) {
    int rc = orf_export_file_textured(&res.mesh,
                                      orf_texture_pick(&res.texture, c->params.texture, c->params.format),
                                      c->params.format, c->params.compress, c->out);
    if (rc) {
      fprintf(stderr, "orfeas: cannot write %s: %s\n", c->out, orf_strerror(rc));
      status = EXIT_INTERNAL;
    } else if (c->json) {
      print_json(c, &res, &opts);
    } else {
      print_summary(c, &res);
    }
    orf_result_free(&res);
  }
  json_decref(c->stages);
  return status;
}

/* One input of several (orf_cli_one_fn): cmd_generate on it. */
static int generate_one(void *ctx, const char *in, const char *out) {
  cli *c = ctx;
  c->image = in;
  c->out = out;
  return cmd_generate(c);
}

int main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? EXIT_USAGE : 0;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("orfeas %s (%s)\n", ORF_VERSION, ORF_ENGINE_VERSION);
    return 0;
  }
  if (!strcmp(argv[1], "serve")) return orf_server_main(argc - 2, argv + 2);
  if (!strcmp(argv[1], "repair")) return orf_cli_repair(argc - 2, argv + 2);
  if (strcmp(argv[1], "generate") != 0) {
    fprintf(stderr, "orfeas: unknown command \"%s\" (see orfeas --help)\n", argv[1]);
    return EXIT_USAGE;
  }
  cli c = {0};
  orf_params_init(&c.params);
  c.tty = isatty(STDERR_FILENO);
  static const char *const shortcuts[][2] = {{"--mode", "mode"},
                                             {"--quality", "quality"},
                                             {"--size-mm", "size_mm"},
                                             {"--style", "style"},
                                             {"--format", "format"}};
  c.inputs = (const char **)(argv + 2); /* the inputs, moved to the front of the arguments read */
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int used = 0;
    for (size_t s = 0; s < sizeof shortcuts / sizeof shortcuts[0]; s++) {
      if (!strcmp(a, shortcuts[s][0])) {
        if (!v) goto missing;
        if (set_param(&c, shortcuts[s][1], v)) return EXIT_USAGE;
        used = 1;
      }
    }
    if (used) {
      i++;
    } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
      if (!(c.out = v)) goto missing;
      i++;
    } else if (!strcmp(a, "--stages-dir")) {
      if (!(c.stages_dir = v)) goto missing;
      i++;
    } else if (!strcmp(a, "--segment-model")) {
      if (!(c.segment_model = v)) goto missing;
      i++;
    } else if (!strcmp(a, "--threads")) {
      if (!v) goto missing;
      c.threads = atoi(v);
      i++;
    } else if (!strcmp(a, "--param")) {
      if (!v) goto missing;
      const char *eq = strchr(v, '=');
      if (!eq) {
        fprintf(stderr, "orfeas: --param wants NAME=VALUE (got \"%s\")\n", v);
        return EXIT_USAGE;
      }
      char name[64];
      snprintf(name, sizeof name, "%.*s", (int)(eq - v), v);
      if (set_param(&c, name, eq + 1)) return EXIT_USAGE;
      i++;
    } else if (!strcmp(a, "--json")) {
      c.json = 1;
    } else if (!strcmp(a, "--device") || !strcmp(a, "--precision")) {
      if (!v) goto missing;
      int bad = a[2] == 'd' ? orf_device_from_name(v, &c.device) : orf_precision_from_name(v, &c.precision);
      if (bad) {
        fprintf(stderr, "orfeas: %s: unknown value \"%s\" (see orfeas --help)\n", a, v);
        return EXIT_USAGE;
      }
      i++;
    } else if (a[0] == '-') {
      fprintf(stderr, "orfeas: unknown option %s (see orfeas --help)\n", a);
      return EXIT_USAGE;
    } else {
      argv[2 + c.ninputs++] = argv[i]; /* 2 + ninputs <= i: an argument already read */
    }
    continue;
  missing:
    fprintf(stderr, "orfeas: %s needs a value\n", a);
    return EXIT_USAGE;
  }
  int status;
  size_t out_len = c.out ? strlen(c.out) : 0;
  if (c.ninputs > 1 || (c.ninputs == 1 && orf_cli_is_dir(c.inputs[0])) ||
      (out_len && c.out[out_len - 1] == '/'))
    status =
        orf_cli_generate_many(c.ninputs, c.inputs, c.out, orf_format_ext(c.params.format), generate_one, &c);
  else
    c.image = c.ninputs ? c.inputs[0] : NULL, status = cmd_generate(&c);
  return status;
}
