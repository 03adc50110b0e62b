/*
 * http_status.c - the one place that maps error codes (the engine's ORF_E*
 * and the server's ORF_SRV_E*) to HTTP statuses and API.md `code`s, and
 * gives the server's codes their sentences (the engine's are orf_strerror).
 */
#include "http_int.h"
#include "srv_error.h"

unsigned http_status_of(int err, const char **code) {
  switch (err) {
  case ORF_EINVAL: *code = "invalid_param"; return 422;
  case ORF_EBADIMAGE: *code = "bad_image"; return 400;
  case ORF_EBADMESH: *code = "bad_mesh"; return 400;
  case ORF_EUNSUPPORTED:
  case ORF_EANIMATED: *code = "unsupported_type"; return 415;
  case ORF_ETOOLARGE: *code = "too_large"; return 413;
  case ORF_ENOMEM: *code = "insufficient_memory"; return 507;
  case ORF_ENOSUBJECT:
  case ORF_ETOOTHIN: *code = "no_subject"; return 422;
  case ORF_ECANCELED: *code = "cancelled"; return 409;
  case ORF_ENOTIMPL: *code = "not_implemented"; return 501;
  case ORF_ENODEVICE: *code = "no_device"; return 503;
  case ORF_SRV_ETOOBIG: *code = "insufficient_memory"; return 507;
  case ORF_SRV_EQUEUEFULL: *code = "queue_full"; return 429;
  case ORF_SRV_EDRAINING: *code = "draining"; return 503;
  case ORF_SRV_ENOTFOUND: *code = "not_found"; return 404;
  case ORF_SRV_ECONFLICT: *code = "conflict"; return 409;
  case ORF_EIO:
  case ORF_EINTERNAL:
  default: *code = "internal_error"; return 500;
  }
}

const char *http_error_sentence(int err) {
  switch (err) {
  case ORF_SRV_EQUEUEFULL: return "the job queue is full: try again in a few seconds (see Retry-After)";
  case ORF_SRV_EDRAINING:
    return "the server is shutting down and takes no new work: try again shortly, or another instance";
  case ORF_SRV_ENOTFOUND: return "not found";
  case ORF_SRV_ECONFLICT: return "the job has already finished";
  case ORF_SRV_ECORRUPT:
    return "a cached file failed its checksum: it was removed and will be computed again";
  case ORF_SRV_ETOOBIG:
    return "this job needs more memory than the server's whole memory budget: lower the quality or send a "
           "smaller image";
  case ORF_ENOMEM:
    return "the server ran out of memory for this request: try again later, or with a lower quality";
  case ORF_EIO:
  case ORF_EINTERNAL:
    return "internal error: the server could not complete the request (logged with its request id)";
  default: return orf_strerror(err);
  }
}
