/*
 * http_status.c - the one place that maps error codes (the engine's ORF_E*
 * and the server's ORF_SRV_E*) to HTTP statuses and API.md `code`s.
 */
#include "http_int.h"
#include "srv_error.h"

unsigned http_status_of(int err, const char **code) {
  switch (err) {
  case ORF_EINVAL: *code = "invalid_param"; return 422;
  case ORF_EBADIMAGE: *code = "bad_image"; return 400;
  case ORF_EUNSUPPORTED: *code = "unsupported_type"; return 415;
  case ORF_ETOOLARGE: *code = "too_large"; return 413;
  case ORF_ENOMEM: *code = "insufficient_memory"; return 507;
  case ORF_ENOSUBJECT:
  case ORF_ETOOTHIN: *code = "no_subject"; return 422;
  case ORF_ECANCELED: *code = "cancelled"; return 409;
  case ORF_ENOTIMPL: *code = "not_implemented"; return 501;
  case ORF_ENODEVICE: *code = "no_device"; return 503;
  case ORF_ESEGMENT: *code = "segmentation_failed"; return 500;
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
