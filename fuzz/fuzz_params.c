/*
 * fuzz_params.c - libFuzzer harness for the engine's parameter parsing
 * (orf_params_set, orf_params_validate, orf_params_canonical), the code that
 * every query string and form field of the server reaches.
 *
 * The input is read as a query string: pairs split at '&', name and value
 * at the first '='.  Each pair goes to orf_params_set on one orf_params,
 * then the whole is validated and written in canonical form.  Checked, with
 * abort() on failure:
 *  - error sentences and the canonical text are NUL-terminated within their
 *    buffers, also when the buffer is too small (snprintf semantics: the
 *    returned length is what a big enough buffer takes);
 *  - a rejected pair leaves the parameters unchanged (strict parsing);
 *  - re-parsing the canonical text (each pair but `engine`) accepts every
 *    pair and gives the same canonical text again: the request hash is
 *    stable, and the canonical form is itself a valid request;
 *  - re-applying the accepted pairs to fresh parameters gives the same
 *    parameters.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "orfeas.h"

#define MAX_PAIRS 64
#define CANON_MAX 2048

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
  do {                                                                                                       \
    if (!(cond)) abort();                                                                                    \
  } while (0)

/* err must be a NUL-terminated string inside its buffer (size n). */
static void check_terminated(const char *s, size_t n) { CHECK(memchr(s, '\0', n) != NULL); }

/* Splits the NUL-terminated text s in place into name/value pairs at '&'
 * and the first '='.  A pair without '=' has the value "".  Returns the
 * number of pairs (at most MAX_PAIRS; the rest is dropped). */
static int split_pairs(char *s, char **names, char **values) {
  int n = 0;
  while (n < MAX_PAIRS) {
    char *amp = strchr(s, '&');
    if (amp) *amp = '\0';
    char *eq = strchr(s, '=');
    names[n] = s;
    values[n] = eq ? eq + 1 : s + strlen(s);
    if (eq) *eq = '\0';
    n++;
    if (!amp) break;
    s = amp + 1;
  }
  return n;
}

/* Field by field (memcmp would compare padding). */
static int params_equal(const orf_params *a, const orf_params *b) {
  return a->mode == b->mode && a->quality == b->quality && a->size_mm == b->size_mm &&
         a->size_mm_set == b->size_mm_set && a->format == b->format && a->realistic == b->realistic &&
         a->background == b->background && a->max_faces == b->max_faces && a->thickness == b->thickness &&
         a->detail == b->detail && a->relief_mm == b->relief_mm && a->base_mm == b->base_mm &&
         a->smooth == b->smooth && a->invert == b->invert && a->cutout == b->cutout &&
         a->min_mm == b->min_mm && a->max_mm == b->max_mm && a->border_mm == b->border_mm &&
         a->shape == b->shape && a->depth_mm == b->depth_mm && a->bevel_mm == b->bevel_mm;
}

/* Canonical text of p into buf (CANON_MAX), checked against small buffers. */
static size_t canonical_checked(const orf_params *p, char *buf) {
  memset(buf, 'X', CANON_MAX);
  size_t len = orf_params_canonical(p, buf, CANON_MAX);
  CHECK(len < CANON_MAX); /* a handful of parameters, never near 2 KB */
  CHECK(buf[len] == '\0' && strlen(buf) == len);
  CHECK(strncmp(buf, "engine=" ORF_ENGINE_VERSION, strlen("engine=" ORF_ENGINE_VERSION)) == 0);
  /* Truncated into a small buffer: still terminated, a prefix, same length. */
  char small[17];
  size_t cut = len % sizeof small + 1;
  memset(small, 'X', sizeof small);
  CHECK(orf_params_canonical(p, small, cut) == len);
  CHECK(small[cut - 1] == '\0' && strlen(small) == cut - 1 && strncmp(small, buf, cut - 1) == 0);
  CHECK(orf_params_canonical(p, NULL, 0) == len);
  return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 4096) return 0;
  char *text = malloc(size + 1);
  char *names[MAX_PAIRS], *values[MAX_PAIRS];
  int accepted[MAX_PAIRS];
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  int n = split_pairs(text, names, values);

  orf_params p;
  orf_params_init(&p);
  char err[96];
  for (int i = 0; i < n; i++) {
    orf_params before = p;
    memset(err, 'X', sizeof err);
    int rc = orf_params_set(&p, names[i], values[i], err, sizeof err);
    accepted[i] = rc == ORF_OK;
    if (rc != ORF_OK) {
      CHECK(rc == ORF_EINVAL);
      check_terminated(err, sizeof err);
      CHECK(err[0] != '\0');
      CHECK(params_equal(&before, &p));
    }
    /* A zero-sized error buffer is never written. */
    orf_params scratch = before;
    char guard = 'G';
    CHECK(orf_params_set(&scratch, names[i], values[i], &guard, 0) == rc && guard == 'G');
  }
  memset(err, 'X', sizeof err);
  int valid = orf_params_validate(&p, err, sizeof err);
  CHECK(valid == ORF_OK || valid == ORF_EINVAL);
  if (valid != ORF_OK) check_terminated(err, sizeof err);

  char canon[CANON_MAX];
  size_t len = canonical_checked(&p, canon);

  /* The canonical text, parsed again as a request, says the same thing. */
  char again_text[CANON_MAX];
  memcpy(again_text, canon, len + 1);
  char *cn[MAX_PAIRS], *cv[MAX_PAIRS];
  int cnt = split_pairs(again_text, cn, cv);
  CHECK(cnt < MAX_PAIRS);
  orf_params q;
  orf_params_init(&q);
  /* `format` is not in the canonical form: the same geometry in any format. */
  q.format = p.format;
  for (int i = 0; i < cnt; i++) {
    if (strcmp(cn[i], "engine") == 0) continue;
    CHECK(orf_params_set(&q, cn[i], cv[i], err, sizeof err) == ORF_OK);
  }
  char canon2[CANON_MAX];
  size_t len2 = canonical_checked(&q, canon2);
  CHECK(len2 == len && memcmp(canon, canon2, len) == 0);

  /* The accepted pairs alone, on fresh parameters, give the same result. */
  orf_params r;
  orf_params_init(&r);
  for (int i = 0; i < n; i++)
    if (accepted[i]) CHECK(orf_params_set(&r, names[i], values[i], NULL, 0) == ORF_OK);
  CHECK(params_equal(&p, &r));
  CHECK(orf_params_validate(&r, NULL, 0) == valid);

  free(text);
  return 0;
}
