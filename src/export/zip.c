/*
 * zip.c - the zip packages the writers make (threemf.c's 3MF, export.c's
 * textured OBJ): parts written with libzip into a memory source, in the
 * order given, then copied into the caller's orf_buf.
 *
 * Determinism: each part is deflated at level 6 (or stored, for parts that
 * are compressed already: a JPEG or PNG texture) with the same fixed
 * modification time, 1980-01-01 12:00 local time: libzip turns time_t into
 * the zip's DOS date through localtime(), so a local time from mktime()
 * gives the same bytes in every time zone.
 *
 * Memory: the parts are handed to libzip without a copy
 * (zip_source_buffer); libzip's own buffers (the compressed parts, zlib's
 * state) come from malloc and are outside the job's accounting: about the
 * size of the compressed file plus zlib's ~256 KiB, freed before this
 * returns.
 */
#include <time.h>
#include <zip.h>

#include "export.h"

#define DEFLATE_LEVEL 6 /* zlib's default trade-off, fixed here */

/* The fixed modification time of every part (see the top of the file). */
static time_t fixed_mtime(void) {
  struct tm t = {.tm_year = 80, .tm_mon = 0, .tm_mday = 1, .tm_hour = 12, .tm_isdst = -1};
  time_t when = mktime(&t);
  return when == (time_t)-1 ? (time_t)315576000 : when; /* 1980-01-01 12:00 UTC */
}

static int zip_error_code(int ze) { return ze == ZIP_ER_MEMORY ? ORF_ENOMEM : ORF_EINTERNAL; }

/* Adds one part (its bytes must live until zip_close), deflated or
 * stored, with the fixed time. */
static int add_part(zip_t *za, const orf_zip_part *p, time_t mtime) {
  zip_source_t *s = zip_source_buffer(za, p->data, p->len, 0);
  if (!s) return zip_error_code(zip_error_code_zip(zip_get_error(za)));
  zip_int64_t i = zip_file_add(za, p->name, s, ZIP_FL_ENC_UTF_8);
  if (i < 0) {
    zip_source_free(s);
    return zip_error_code(zip_error_code_zip(zip_get_error(za)));
  }
  if (zip_set_file_compression(za, (zip_uint64_t)i, p->store ? ZIP_CM_STORE : ZIP_CM_DEFLATE,
                               p->store ? 0 : DEFLATE_LEVEL) ||
      zip_file_set_mtime(za, (zip_uint64_t)i, mtime, 0))
    return zip_error_code(zip_error_code_zip(zip_get_error(za)));
  return ORF_OK;
}

/* Contract (export.h): appends to *out the zip of the n parts, in order.
 * ORF_OK, ORF_ENOMEM, or ORF_EINTERNAL when libzip fails otherwise; all
 * of libzip's memory is freed either way. */
int orf_zip_write(const orf_zip_part *parts, size_t n, orf_buf *out) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &ze);
  if (!mem) {
    int rc = zip_error_code(zip_error_code_zip(&ze));
    zip_error_fini(&ze);
    return rc;
  }
  zip_t *za = zip_open_from_source(mem, ZIP_TRUNCATE, &ze);
  if (!za) {
    int rc = zip_error_code(zip_error_code_zip(&ze));
    zip_error_fini(&ze);
    zip_source_free(mem);
    return rc;
  }
  zip_error_fini(&ze);
  zip_source_keep(mem); /* survives zip_close, to be read back */

  time_t mtime = fixed_mtime();
  int rc = ORF_OK;
  for (size_t i = 0; i < n && !rc; i++)
    rc = add_part(za, &parts[i], mtime);
  if (!rc && zip_close(za)) rc = zip_error_code(zip_error_code_zip(zip_get_error(za)));
  if (rc) {
    zip_discard(za);
    zip_source_free(mem);
    return rc;
  }

  zip_stat_t st;
  if (zip_source_open(mem)) {
    zip_source_free(mem);
    return ORF_EINTERNAL;
  }
  zip_stat_init(&st);
  if (zip_source_stat(mem, &st) || !(st.valid & ZIP_STAT_SIZE) || orf_buf_reserve(out, st.size)) {
    rc = out->failed ? ORF_ENOMEM : ORF_EINTERNAL;
  } else {
    zip_int64_t got = zip_source_read(mem, out->data + out->len, st.size);
    if (got < 0 || (zip_uint64_t)got != st.size)
      rc = ORF_EINTERNAL;
    else
      out->len += (size_t)got;
  }
  zip_source_close(mem);
  zip_source_free(mem);
  return rc;
}

/* Contract (orfeas.h): the n files as parts of orf_zip_write. */
int orf_zip_files(const char *const *names, const uint8_t *const *data, const size_t *lens, size_t n,
                  uint8_t **out, size_t *out_size) {
  *out = NULL;
  *out_size = 0;
  if (n == 0) return ORF_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (!names[i] || !names[i][0]) return ORF_EINVAL;
  orf_zip_part *parts = orf_calloc(n, sizeof *parts);
  if (!parts) return ORF_ENOMEM;
  for (size_t i = 0; i < n; i++)
    parts[i] = (orf_zip_part){names[i], data[i], lens[i], 0};
  orf_buf b = {0};
  int rc = orf_zip_write(parts, n, &b);
  orf_free(parts);
  if (rc) {
    orf_buf_free(&b);
    return rc;
  }
  *out = b.data;
  *out_size = b.len;
  return ORF_OK;
}
