/*
 * mem_sim.c - the simulated device of the memory sources (memsource.h):
 * the parser of its spec "NAME:TOTAL_GB[:USED_GB]", given by --sim-device
 * or ORFEAS_SIM_DEVICE, so that tests and capacity planning can exercise
 * every budget rule without hardware.  The spec is operator input, so it is
 * checked strictly: a name of safe characters (it reaches JSON and logs),
 * numbers written as plain decimals (strtod alone would also take hex,
 * "inf", "nan" and leading blanks), and ranges that make sense.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memsource_int.h"
#include "orfeas.h"

#define SIM_MAX_GB 1e6

static int name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' || c == '_' ||
         c == '.' || c == '-';
}

/* Parses s[0..n) as a plain decimal: digits with at most one point and at
 * least one digit, then optionally e/E, an optional sign and digits.
 * Returns 1 with *v, or 0. */
static int parse_decimal(const char *s, size_t n, double *v) {
  char buf[64];
  size_t i = 0, digits = 0, points = 0;
  if (n == 0 || n >= sizeof buf) return 0;
  for (; i < n && (isdigit((unsigned char)s[i]) || s[i] == '.'); i++) {
    if (s[i] == '.')
      points++;
    else
      digits++;
  }
  if (digits == 0 || points > 1) return 0;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    size_t exp_digits = 0;
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    for (; i < n && isdigit((unsigned char)s[i]); i++)
      exp_digits++;
    if (exp_digits == 0) return 0;
  }
  if (i != n) return 0;
  memcpy(buf, s, n);
  buf[n] = '\0';
  char *end;
  *v = strtod(buf, &end);
  return *end == '\0' && isfinite(*v);
}

static int fail(orf_sim_device *out, char *err, size_t err_size, const char *spec, const char *why) {
  memset(out, 0, sizeof *out);
  if (err && err_size) snprintf(err, err_size, "simulated device \"%.80s\": %s", spec, why);
  return ORF_EINVAL;
}

/* Contract: see memsource_int.h.  `spec` is only read. */
int orf_mem__sim_parse(const char *spec, orf_sim_device *out, char *err, size_t err_size) {
  static const char kForm[] = "expected NAME:TOTAL_GB[:USED_GB]";
  if (!spec) return fail(out, err, err_size, "", "no spec given");
  const char *c1 = strchr(spec, ':');
  if (!c1) return fail(out, err, err_size, spec, kForm);
  const char *total_s = c1 + 1;
  const char *c2 = strchr(total_s, ':');
  const char *used_s = c2 ? c2 + 1 : NULL;
  if (used_s && strchr(used_s, ':')) return fail(out, err, err_size, spec, kForm);

  size_t name_len = (size_t)(c1 - spec);
  if (name_len == 0) return fail(out, err, err_size, spec, "the name is empty");
  if (name_len > ORF_SIM_NAME_MAX)
    return fail(out, err, err_size, spec, "the name is longer than 64 characters");
  for (size_t i = 0; i < name_len; i++)
    if (!name_char(spec[i]))
      return fail(out, err, err_size, spec,
                  "the name may hold only letters, digits, space, '_', '.' and '-'");

  double total, used = 0;
  size_t total_len = c2 ? (size_t)(c2 - total_s) : strlen(total_s);
  if (!parse_decimal(total_s, total_len, &total))
    return fail(out, err, err_size, spec, "TOTAL_GB is not a plain decimal number");
  if (!(total > 0) || total > SIM_MAX_GB)
    return fail(out, err, err_size, spec, "TOTAL_GB must be above 0 and at most 1000000");
  if (used_s) {
    if (!parse_decimal(used_s, strlen(used_s), &used))
      return fail(out, err, err_size, spec, "USED_GB is not a plain decimal number");
    if (used > total) return fail(out, err, err_size, spec, "USED_GB must be at most TOTAL_GB");
  }

  memset(out, 0, sizeof *out);
  memcpy(out->name, spec, name_len);
  out->name[name_len] = '\0';
  out->total_gb = total;
  out->used_gb = used;
  return ORF_OK;
}
