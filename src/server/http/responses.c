/*
 * responses.c - the JSON the job-running endpoints answer with, built from
 * what a job stored: the generate (or repair) response of docs/API.md from meta.json, and a
 * stream line from a job event, each with the URLs of the format the
 * client asked for (the cache holds one result per hash whatever the
 * format; see orf_params_canonical).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

http_variant http_variant_of(const orf_params *p) {
  return (http_variant){p->format, p->texture, p->compress};
}

/* A stage's URL for variant v: compress when not none, texture=off when
 * asked (texture=on is auto's file where the result has a texture, which
 * the request's validation promised). */
json_t *http_result_url(const char *hash, const char *stage, const http_variant *v) {
  char url[200];
  int n = snprintf(url, sizeof url, "/api/v1/results/%s/%s.%s", hash, stage, orf_format_ext(v->format));
  char sep = '?';
  if (v->compress != ORF_COMPRESS_NONE) {
    n += snprintf(url + n, sizeof url - (size_t)n, "%ccompress=%s", sep, orf_compress_name(v->compress));
    sep = '&';
  }
  if (v->texture == ORF_TEXTURE_OFF) snprintf(url + n, sizeof url - (size_t)n, "%ctexture=off", sep);
  return json_string(url);
}

json_t *http_generate_response(const char *meta_json, const char *hash, const http_variant *v, int cached) {
  json_t *j = json_loads(meta_json, 0, NULL);
  if (!j) return NULL;
  json_object_set_new(j, "cached", json_boolean(cached));
  json_object_set_new(j, "format", json_string(orf_format_ext(v->format)));
  size_t i;
  json_t *st;
  const char *last = NULL; /* the final stage: its mesh is the download */
  json_array_foreach(json_object_get(j, "stages"), i, st) {
    const char *name = json_string_value(json_object_get(st, "stage"));
    if (name) json_object_set_new(st, "url", http_result_url(hash, name, v));
    last = name;
  }
  if (last) json_object_set_new(j, "download_url", http_result_url(hash, last, v));
  return j;
}

char *http_event_line(const char *event, const char *hash, const http_variant *v) {
  json_t *j = json_loads(event, 0, NULL);
  if (!j) return NULL;
  const char *stage = json_string_value(json_object_get(j, "stage"));
  json_t *data = json_object_get(j, "data");
  if (stage && json_is_object(data)) json_object_set_new(data, "url", http_result_url(hash, stage, v));
  return http_json_line(j, NULL);
}
