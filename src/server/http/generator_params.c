/*
 * generator_params.c - the request parameters of the remote generators
 * (issue 16): generator=NAME (default "geometry", the engine), and seed
 * and steps, which only a remote generator takes.  A remote generator
 * takes only the engine parameters that map onto it (quality: its octree
 * resolution and face count; max_faces; size_mm and size, format, style:
 * the repair of its mesh; background and subject_points: the subject cut
 * out before it is sent); any other is refused with 422 naming it.  The
 * generator and its values are part of the request hash, so a neural
 * result and a geometry result never share a cache entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generator/generators.h"
#include "http_int.h"

static const char *const kRemoteTakes[] = {"generator",      "seed",     "steps",    "quality", "max_faces",
                                           "size_mm",        "size",     "format",   "style",   "background",
                                           "subject_points", "download", "precision"};

int http_generator_param(request *r, const char *key, const char *value, char *err, size_t err_size) {
  server *srv = r->srv;
  if (!strcmp(key, "generator")) {
    if (!strcmp(value, "geometry")) {
      r->gen.name[0] = 0;
      return 1;
    }
    int i = orf_generators_find(srv->generators, value);
    if (i < 0) {
      char names[400] = "geometry";
      for (int k = 0; k < orf_generators_count(srv->generators); k++)
        snprintf(names + strlen(names), sizeof names - strlen(names), ", %s",
                 orf_generators_name(srv->generators, k));
      snprintf(err, err_size, "generator: no generator \"%.40s\" on this server (it has: %s)", value, names);
      return -1;
    }
    r->gen.index = i;
    snprintf(r->gen.name, sizeof r->gen.name, "%s", value);
    return 1;
  }
  int seed = !strcmp(key, "seed");
  if (!seed && strcmp(key, "steps")) return 0;
  char *end;
  long long v = strtoll(value, &end, 10);
  long long hi = seed ? 4294967295LL : 100;
  if (!value[0] || *end || v < (seed ? 0 : 1) || v > hi) {
    snprintf(err, err_size, "%s must be a whole number from %d to %lld (got \"%.40s\")", key, seed ? 0 : 1,
             hi, value);
    return -1;
  }
  if (seed)
    r->gen.seed = v, r->gen.seed_given = 1;
  else
    r->gen.steps = (int)v, r->gen.steps_given = 1;
  return 1;
}

typedef struct walk {
  const char *bad;
} walk;

static int remote_takes(const char *key) {
  for (size_t i = 0; i < sizeof kRemoteTakes / sizeof *kRemoteTakes; i++)
    if (!strcmp(key, kRemoteTakes[i])) return 1;
  return 0;
}

static enum MHD_Result query_key(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
  (void)kind, (void)value;
  walk *w = cls;
  if (key && !remote_takes(key)) {
    w->bad = key;
    return MHD_NO;
  }
  return MHD_YES;
}

int http_generator_check(request *r, enum MHD_Result *ret) {
  char msg[300];
  if (!r->gen.name[0]) {
    const char *param = r->gen.seed_given ? "seed" : r->gen.steps_given ? "steps" : NULL;
    if (!param) return 0;
    snprintf(msg, sizeof msg, "%s: only a remote generator takes it (generator=NAME; %s)", param,
             orf_generators_count(r->srv->generators) ? "see /api/v1/params for this server's"
                                                      : "this server has none");
    *ret = http_error(r, ORF_EINVAL, msg, param);
    return -1;
  }
  walk w = {NULL};
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_key, &w);
  for (int i = 0; !w.bad && i < r->nfields; i++)
    if (!remote_takes(r->keys[i])) w.bad = r->keys[i];
  if (!w.bad) return 0;
  char param[65];
  snprintf(param, sizeof param, "%s", w.bad);
  snprintf(
      msg, sizeof msg,
      "%s: generator %s does not take this parameter (it takes quality, max_faces, size_mm, size, format, "
      "style, background, subject_points, seed and steps)",
      param, r->gen.name);
  *ret = http_error(r, ORF_EINVAL, msg, param);
  return -1;
}

size_t http_generator_canonical(const request *r, char *buf, size_t size) {
  buf[0] = 0;
  if (!r->gen.name[0]) return 0;
  int n = snprintf(buf, size, "&generator=%s", r->gen.name);
  if (r->gen.seed_given) n += snprintf(buf + n, size - (size_t)n, "&seed=%lld", r->gen.seed);
  if (r->gen.steps_given) n += snprintf(buf + n, size - (size_t)n, "&steps=%d", r->gen.steps);
  return (size_t)n < size ? (size_t)n : size - 1;
}

void http_generator_register(request *r, const orf_params *p, const char *hash) {
  if (!r->gen.name[0]) return;
  orf_remote_request rq = {.index = r->gen.index,
                           .seed = r->gen.seed_given ? r->gen.seed : -1,
                           .steps = r->gen.steps_given ? r->gen.steps : 0};
  snprintf(rq.name, sizeof rq.name, "%s", r->gen.name);
  int oct = orf_quality_resolution(p->quality);
  rq.octree = oct < 64 ? 64 : oct > 512 ? 512 : oct;
  int faces = p->max_faces > 0 ? p->max_faces : orf_quality_faces(p->quality);
  rq.face_count = faces < 1000 ? 1000 : faces > 100000 ? 100000 : faces;
  orf_generators_register(r->srv->generators, hash, &rq);
}

json_t *http_generator_server_params(server *srv) {
  json_t *choices = json_array();
  json_array_append_new(choices, json_string("geometry"));
  for (int i = 0; i < orf_generators_count(srv->generators); i++)
    json_array_append_new(choices, json_string(orf_generators_name(srv->generators, i)));
  return json_pack(
      "[{s:s, s:s, s:s, s:o, s:s}, {s:s, s:s, s:s, s:i, s:I}, {s:s, s:s, s:s, s:i, s:i}]", "name",
      "generator", "type", "enum", "help",
      "what makes the model: geometry (the engine) or a remote generator (a Hunyuan3D-2 server; its mesh is "
      "repaired into a printable one)",
      "choices", choices, "default", "geometry", "name", "seed", "type", "int", "help",
      "a remote generator's random seed (only generator=NAME other than geometry)", "min", 0, "max",
      (json_int_t)4294967295LL, "name", "steps", "type", "int", "help",
      "a remote generator's inference steps (only generator=NAME other than geometry)", "min", 1, "max", 100);
}
