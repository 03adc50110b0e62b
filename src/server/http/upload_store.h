/*
 * upload_store.h - the images of the original ORFEAS API (POST
 * /api/upload-image, routes_compat_orfeas.c), kept in memory between the
 * upload and POST /api/generate-3d, with what the generation became (the
 * request hash and the job's id), for GET /api/job-status/<id> and GET
 * /api/download/<id>/<file>.  Bounded: at most max uploads and max_bytes
 * of images, each kept keep_s seconds; past a bound the oldest goes
 * first.  Thread-safe.
 */
#ifndef ORF_HTTP_UPLOAD_STORE_H
#define ORF_HTTP_UPLOAD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

typedef struct http_upload {
  char id[33]; /* the job_id the client holds: 32 hex */
  char ext[8]; /* png, jpg, webp: the image's type */
  char original_filename[128];
  uint32_t width, height;
  int generating; /* generate-3d was asked */
  orf_format format;
  char hash[65];   /* its request hash, once generating */
  char job_id[33]; /* its /api/v1/jobs job ("" when answered from the cache) */
  char error[200]; /* generate-3d refused after the upload: the sentence, else "" */
} http_upload;

typedef struct http_uploads http_uploads;

/* ORF_OK with *out, or ORF_ENOMEM. */
int http_uploads_create(http_uploads **out, size_t max, size_t max_bytes, double keep_s);
void http_uploads_free(http_uploads *s);

/* Keeps a copy of the record and of the image (size bytes): ORF_OK,
 * ORF_ENOMEM, or ORF_ETOOLARGE when the image alone exceeds max_bytes. */
int http_uploads_put(http_uploads *s, const http_upload *u, const uint8_t *image, size_t size);

/* The record of id into *u and, when image is not NULL, a malloc'd copy of
 * its image (*size bytes; the caller frees it): 1, or 0 when there is none. */
int http_uploads_get(http_uploads *s, const char *id, http_upload *u, uint8_t **image, size_t *size);

/* Replaces the record of id (its image kept): 1, or 0 when it is gone. */
int http_uploads_update(http_uploads *s, const http_upload *u);

#endif
