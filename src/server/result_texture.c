/*
 * result_texture.c - a generation's texture in the cache (contract and the
 * decision of how it is kept in result_texture.h).
 */
#include "result_texture.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define DESCRIPTION "texture.json"

/* The cache name of an image of mime type `mime`, or NULL. */
static const char *image_name(const char *mime) {
  if (!mime) return NULL;
  if (!strcmp(mime, "image/jpeg")) return "texture.jpg";
  if (!strcmp(mime, "image/png")) return "texture.png";
  return NULL;
}

static json_t *reals(const double *v, size_t n) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < n; i++)
    if (json_array_append_new(a, json_real(v[i]))) {
      json_decref(a);
      return NULL;
    }
  return a;
}

#define NO_TEXTURE "{\"mime\":null}"

int orf_result_texture_put(orf_cache *c, const char *hash, const orf_texture *t) {
  if (!t->data) return orf_cache_put(c, hash, DESCRIPTION, NO_TEXTURE, strlen(NO_TEXTURE));
  const char *image = image_name(t->mime);
  if (!image) return ORF_EINVAL;
  int rc = orf_cache_put(c, hash, image, t->data, t->size);
  if (rc) return rc;
  /* %.17g (jansson's real format) gives the doubles back exactly */
  json_t *j =
      json_pack("{s:s, s:I, s:I, s:[o, o], s:o}", "mime", t->mime, "width", (json_int_t)t->width, "height",
                (json_int_t)t->height, "uv", reals(t->uv[0], 4), reals(t->uv[1], 4), "box", reals(t->box, 4));
  char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  if (!text) return ORF_ENOMEM;
  rc = orf_cache_put(c, hash, DESCRIPTION, text, strlen(text));
  free(text);
  return rc;
}

/* n numbers of the JSON array a into v; 0, or -1 when it is not that. */
static int read_reals(const json_t *a, double *v, size_t n) {
  if (json_array_size(a) != n) return -1;
  for (size_t i = 0; i < n; i++) {
    const json_t *x = json_array_get(a, i);
    if (!json_is_number(x)) return -1;
    v[i] = json_number_value(x);
  }
  return 0;
}

int orf_result_texture_get(orf_cache *c, const char *hash, orf_cached_texture *out) {
  memset(out, 0, sizeof *out);
  orf_blob *b;
  int rc = orf_cache_get(c, hash, DESCRIPTION, 0, &b);
  if (rc) return rc;
  json_t *j = json_loadb((const char *)b->data, b->size, 0, NULL);
  orf_blob_release(b);
  if (!j) return ORF_SRV_ENOTFOUND;
  orf_texture *t = &out->t;
  const char *mime = json_string_value(json_object_get(j, "mime"));
  const char *image = image_name(mime);
  t->mime = image && !strcmp(image, "texture.jpg") ? "image/jpeg" : "image/png";
  json_int_t w = json_integer_value(json_object_get(j, "width")),
             h = json_integer_value(json_object_get(j, "height"));
  json_t *uv = json_object_get(j, "uv");
  int bad = !image || w <= 0 || h <= 0 || w > ORF_TEXTURE_MAX_SIDE || h > ORF_TEXTURE_MAX_SIDE ||
            json_array_size(uv) != 2 || read_reals(json_array_get(uv, 0), t->uv[0], 4) ||
            read_reals(json_array_get(uv, 1), t->uv[1], 4) ||
            read_reals(json_object_get(j, "box"), t->box, 4);
  json_decref(j);
  if (bad) {
    memset(out, 0, sizeof *out);
    return ORF_SRV_ENOTFOUND;
  }
  t->width = (uint32_t)w;
  t->height = (uint32_t)h;
  if ((rc = orf_cache_get(c, hash, image, 0, &out->image))) {
    memset(out, 0, sizeof *out);
    return rc;
  }
  t->data = (uint8_t *)out->image->data; /* read only: never freed through t */
  t->size = out->image->size;
  return ORF_OK;
}

int orf_result_texture_settled(orf_cache *c, const char *hash) {
  orf_blob *b;
  if (orf_cache_get(c, hash, DESCRIPTION, 0, &b)) return 0;
  int none = b->size == strlen(NO_TEXTURE) && !memcmp(b->data, NO_TEXTURE, b->size);
  orf_blob_release(b);
  if (none) return 1;
  orf_cached_texture ct;
  if (orf_result_texture_get(c, hash, &ct)) return 0;
  orf_result_texture_release(&ct);
  return 1;
}

/* See result_texture.h. */
int orf_result_texture_files(orf_cache *c, const char *hash, const char *names[2]) {
  int n = 0;
  static const char *const images[] = {"image/jpeg", "image/png"};
  for (size_t i = 0; i < sizeof images / sizeof *images && !n; i++)
    if (orf_cache_has(c, hash, image_name(images[i]))) names[n++] = image_name(images[i]);
  if (orf_cache_has(c, hash, DESCRIPTION)) names[n++] = DESCRIPTION;
  return n;
}

void orf_result_texture_release(orf_cached_texture *ct) {
  if (ct->image) orf_blob_release(ct->image);
  memset(ct, 0, sizeof *ct);
}
