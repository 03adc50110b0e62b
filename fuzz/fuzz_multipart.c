/*
 * fuzz_multipart.c - libFuzzer harness for what the server does with a
 * request body before any job exists (routes_generate.c, parse_request):
 * the form fields and query become parameters, the image bytes (the raw
 * body or the multipart `image` field) are probed, the job's memory is
 * estimated for admission, and the request hash is taken.
 *
 * The multipart framing itself is libmicrohttpd's post processor, which
 * needs a live connection and is not callable alone; the request is
 * therefore given here already split: the input's first byte is the
 * length L of the form that follows (`name=value` pairs joined by '&', as
 * the query string and the form fields give them), and the bytes after
 * those L are the body.  A first byte of 0 makes the rest a raw body.
 *
 * Checked, with abort(): a rejected parameter or image maps to an HTTP
 * error status (4xx/5xx with an API code); an accepted one has a probe
 * within the server's limits, an estimate at least as big as the file and
 * its full-size pixels (admission must not under-reserve), and a request
 * hash of 64 lowercase hex digits that is the same when taken twice and
 * changes when the body does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "orfeas.h"

#define MAX_FIELDS 48

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
  do {                                                                                                       \
    if (!(cond)) abort();                                                                                    \
  } while (0)

static void check_error_status(int err) {
  const char *code = NULL;
  unsigned status = http_status_of(err, &code);
  CHECK(status >= 400 && status < 600);
  CHECK(code != NULL && code[0] != '\0');
}

static void check_hash(const char h[65]) {
  CHECK(h[64] == '\0');
  for (int i = 0; i < 64; i++)
    CHECK((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'));
}

/* Applies the form line (NUL-terminated, changed in place) to *p as the
 * server does: stop at the first bad parameter.  Returns ORF_OK or the
 * error of the first bad one. */
static int apply_form(char *s, orf_params *p) {
  char err[256];
  for (int n = 0; n < MAX_FIELDS && *s; n++) {
    char *amp = strchr(s, '&');
    if (amp) *amp = '\0';
    char *eq = strchr(s, '=');
    const char *value = eq ? eq + 1 : "";
    if (eq) *eq = '\0';
    if (*s) {
      int rc = orf_params_set(p, s, value, err, sizeof err);
      if (rc) {
        CHECK(memchr(err, '\0', sizeof err) != NULL);
        return rc;
      }
    }
    if (!amp) break;
    s = amp + 1;
  }
  return orf_params_validate(p, err, sizeof err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  size_t form_len = data[0] < size - 1 ? data[0] : size - 1;
  const uint8_t *body = data + 1 + form_len;
  size_t body_len = size - 1 - form_len;

  char *form = malloc(form_len + 1);
  if (!form) return 0;
  memcpy(form, data, form_len);
  form[form_len] = '\0';
  orf_params p;
  orf_params_init(&p);
  int rc = apply_form(form, &p);
  free(form);
  if (rc) {
    CHECK(rc == ORF_EINVAL);
    check_error_status(rc);
    return 0;
  }

  orf_limits lim;
  orf_limits_init(&lim);
  orf_image_type t;
  uint32_t w, h;
  rc = orf_image_probe(body, body_len, &lim, &t, &w, &h);
  if (rc) {
    CHECK(rc == ORF_EBADIMAGE || rc == ORF_EUNSUPPORTED || rc == ORF_ETOOLARGE || rc == ORF_ENOMEM);
    check_error_status(rc);
    return 0;
  }
  CHECK(t != ORF_IMG_UNKNOWN && w > 0 && h > 0 && w <= lim.max_side && h <= lim.max_side);
  CHECK((uint64_t)w * h <= lim.max_pixels);

  size_t est = orf_estimate_peak_bytes(&p, w, h, body_len);
  CHECK(est >= body_len + (uint64_t)w * h * 4);

  char h1[65], h2[65];
  memset(h1, 'X', sizeof h1);
  memset(h2, 'Y', sizeof h2);
  if (http_request_hash(body, body_len, &p, ORF_PRECISION_FP32, h1)) abort();
  if (http_request_hash(body, body_len, &p, ORF_PRECISION_FP32, h2)) abort();
  check_hash(h1);
  CHECK(memcmp(h1, h2, sizeof h1) == 0);
  /* One byte less of the body is another request. */
  if (http_request_hash(body, body_len - 1, &p, ORF_PRECISION_FP32, h2)) abort();
  check_hash(h2);
  CHECK(memcmp(h1, h2, 64) != 0);
  return 0;
}
