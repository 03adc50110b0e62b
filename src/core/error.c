/*
 * error.c - names and sentences for the engine's error codes.
 * The one place that maps ORF_E* codes to words; the server maps the same
 * codes to HTTP statuses in one place of its own.
 */
#include "orfeas.h"

#include <stdlib.h>

#include "alloc.h"

const char *orf_strerror(int err) {
  switch (err) {
  case ORF_OK: return "success";
  case ORF_ENOMEM: return "out of memory";
  case ORF_EINVAL: return "invalid parameter";
  case ORF_EBADIMAGE: return "the image is empty, corrupt or truncated";
  case ORF_EUNSUPPORTED: return "unsupported image type (PNG, JPEG and WebP are supported)";
  case ORF_ETOOLARGE: return "the image is larger than the configured limits";
  case ORF_ECANCELED: return "the job was cancelled";
  case ORF_ENOSUBJECT: return "no subject could be separated from the background";
  case ORF_EIO: return "a file could not be read or written";
  case ORF_EINTERNAL: return "internal error";
  case ORF_ENOTIMPL: return "this mode is not available in this build";
  case ORF_ENODEVICE: return "no usable CUDA device (this build has no CUDA, or no GPU was found)";
  case ORF_ETOOTHIN:
    return "the subject is thinner than the mesh grid at this quality: raise the quality or use a bolder "
           "image";
  case ORF_EANIMATED:
    return "animated WebP is not supported: send one still picture (PNG, JPEG or a still WebP)";
  case ORF_EBADMESH: return "the mesh file cannot be read, or holds no solid";
  }
  return "unknown error";
}

const char *orf_errname(int err) {
  switch (err) {
  case ORF_OK: return "ok";
  case ORF_ENOMEM: return "insufficient_memory";
  case ORF_EINVAL: return "invalid_param";
  case ORF_EBADIMAGE: return "bad_image";
  case ORF_EUNSUPPORTED: return "unsupported_type";
  case ORF_ETOOLARGE: return "too_large";
  case ORF_ECANCELED: return "cancelled";
  case ORF_ENOSUBJECT: return "no_subject";
  case ORF_EIO: return "io_error";
  case ORF_EINTERNAL: return "internal_error";
  case ORF_ENOTIMPL: return "not_implemented";
  case ORF_ENODEVICE: return "no_device";
  case ORF_ETOOTHIN: return "no_subject";
  case ORF_EANIMATED: return "unsupported_type";
  case ORF_EBADMESH: return "bad_mesh";
  }
  return "unknown_error";
}

void orf_buffer_free(void *p) { orf_free(p); }
