/*
 * http_status.c - an error code's HTTP status and API code, read from the
 * one table of codes (src/core/error.c: orf_errstatus, orf_errname,
 * orf_strerror), so that a response, a stream's error line and a job's
 * status can never name the same code differently.
 */
#include "http_int.h"

unsigned http_status_of(int err, const char **code) {
  *code = orf_errname(err);
  return (unsigned)orf_errstatus(err);
}

const char *http_error_sentence(int err) { return orf_strerror(err); }
