/*
 * error.c - the one table of error codes: for each, its API name, the HTTP
 * status a service answers it with, and its sentence (orfeas.h).
 */
#include "orfeas.h"

#include <stdlib.h>

#include "alloc.h"

/* One row per code: its name in the API, the HTTP status a service answers
 * it with, and the sentence a person reads (the CLI prints it; the server
 * sends it as "error" unless the place that failed has a more precise one).
 * The server's codes (ORF_SRV_E*) are rows here too, so that no code has
 * two names: tests/test_params.c walks them all. */
typedef struct err_row {
  int err;
  const char *name;
  int status;
  const char *sentence;
} err_row;

static const err_row kErrors[] = {
    {ORF_OK, "ok", 200, "success"},
    {ORF_ENOMEM, "insufficient_memory", 507,
     "out of memory for this job: try again later, or with a lower quality or a smaller image"},
    {ORF_EINVAL, "invalid_param", 422, "invalid parameter"},
    {ORF_EBADIMAGE, "bad_image", 400, "not an image, or an empty, corrupt or truncated one"},
    {ORF_EUNSUPPORTED, "unsupported_type", 415, "unsupported image type (PNG, JPEG and WebP are supported)"},
    {ORF_ETOOLARGE, "too_large", 413, "the image is larger than the configured limits"},
    {ORF_ECANCELED, "cancelled", 409, "the job was cancelled"},
    {ORF_ENOSUBJECT, "no_subject", 422, "no subject could be separated from the background"},
    /* an I/O error inside a job is the service's failure, not the client's */
    {ORF_EIO, "internal_error", 500, "a file could not be read or written"},
    {ORF_EINTERNAL, "internal_error", 500, "internal error (a bug): the job could not be completed"},
    {ORF_ENOTIMPL, "not_implemented", 501, "this mode is not available in this build"},
    {ORF_ENODEVICE, "no_device", 503, "no usable CUDA device (this build has no CUDA, or no GPU was found)"},
    {ORF_ETOOTHIN, "no_subject", 422,
     "the subject is thinner than the mesh grid at this quality: raise the quality or use a bolder image"},
    {ORF_EANIMATED, "unsupported_type", 415,
     "animated WebP is not supported: send one still picture (PNG, JPEG or a still WebP)"},
    /* the network's model is the service's configuration, not the client's */
    {ORF_ESEGMENT, "segmentation_failed", 500, "the segmentation network is not available or failed to run"},
    {ORF_ENOALPHA, "invalid_param", 422,
     "background=alpha, but the image has no usable alpha channel: use background=auto, color or subject"},
    {ORF_EBADMESH, "bad_mesh", 400, "the mesh file cannot be read, or holds no solid"},
    {ORF_SRV_EQUEUEFULL, "queue_full", 429,
     "the job queue is full: try again in a few seconds (see Retry-After)"},
    {ORF_SRV_EDRAINING, "draining", 503,
     "the server is shutting down and takes no new work: try again shortly, or another instance"},
    {ORF_SRV_ENOTFOUND, "not_found", 404, "not found"},
    {ORF_SRV_ECONFLICT, "conflict", 409, "the job has already finished"},
    {ORF_SRV_ECORRUPT, "internal_error", 500,
     "a cached file failed its checksum: it was removed and will be computed again"},
    {ORF_SRV_ETOOBIG, "insufficient_memory", 507,
     "this job needs more memory than the server's whole memory budget: lower the quality or send a smaller "
     "image"},
    {ORF_SRV_EGENERATOR, "generator_failed", 502,
     "the remote generator failed: it could not be reached, timed out, refused the request or answered "
     "something unreadable"},
};

static const err_row kUnknown = {0, "internal_error", 500, "unknown error"};

static const err_row *row(int err) {
  for (size_t i = 0; i < sizeof kErrors / sizeof kErrors[0]; i++)
    if (kErrors[i].err == err) return &kErrors[i];
  return &kUnknown;
}

const char *orf_strerror(int err) { return row(err)->sentence; }
const char *orf_errname(int err) { return row(err)->name; }
int orf_errstatus(int err) { return row(err)->status; }

void orf_buffer_free(void *p) { orf_free(p); }
