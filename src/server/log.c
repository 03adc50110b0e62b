/*
 * log.c - structured logs (see log.h): one JSON object per line (the
 * "JSON Lines" convention), each line built in a buffer on the stack and
 * handed to the kernel with a single write(2), so that lines written by
 * different threads never interleave (for a pipe, POSIX makes writes of up
 * to PIPE_BUF bytes atomic, and no line is longer; for a file opened
 * O_APPEND each write lands whole at the end).
 *
 * Every string value is escaped as RFC 8259 asks (quote, backslash and
 * control characters), and bytes that are not valid UTF-8 become U+FFFD,
 * so a line always parses as JSON whatever a client put in its URL.  A
 * value too long for the line is cut at a character boundary and ends in
 * "..."; logging never allocates, so it works when memory has run out.
 * Timestamps are ISO 8601 in UTC with milliseconds.  Request ids are 128
 * random bits from getrandom(2).
 *
 * The destination descriptor is the one piece of process-wide state: the
 * interface (orf_log_set_fd) makes logging a property of the process, like
 * stderr itself; it is an atomic so it may be changed while threads log.
 */
#include "log.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* PIPE_BUF (4096 on Linux): the most a pipe takes in one atomic write. */
#define LINE_MAX_BYTES PIPE_BUF
/* Longest escaped text of a name-like value (level, event, request id,
 * method, route) and of a path. */
#define MAX_NAME 128
#define MAX_PATH 2048
/* Room kept at the end of a line for what closes it ("...\"}\n" and the
 * longest fixed field after a string). */
#define LINE_RESERVE 160

static atomic_int log_fd = 2;

void orf_log_set_fd(int fd) { atomic_store(&log_fd, fd); }

/* A line being built; text past the capacity would be dropped, which the
 * builders avoid by cutting strings (LINE_RESERVE). */
typedef struct line {
  char buf[LINE_MAX_BYTES];
  size_t len;
} line;

static void put(line *l, const char *s, size_t n) {
  if (n > sizeof l->buf - l->len) n = sizeof l->buf - l->len;
  memcpy(l->buf + l->len, s, n);
  l->len += n;
}

static void puts_(line *l, const char *s) { put(l, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid
 * (overlong forms, surrogates and code points past U+10FFFF included). */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  uint32_t cp, min;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2, cp = c & 0x1f, min = 0x80;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3, cp = c & 0x0f, min = 0x800;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/* Appends s as a JSON string (quotes included), or null for NULL.  The
 * escaped text is kept to `max` bytes and LINE_RESERVE bytes of the line
 * are left free: a value that does not fit is cut at a character boundary
 * and ends in "...". */
static void put_string(line *l, const char *str, size_t max) {
  if (!str) {
    puts_(l, "null");
    return;
  }
  const unsigned char *s = (const unsigned char *)str;
  size_t n = strlen(str);
  puts_(l, "\"");
  size_t start = l->len;
  for (size_t i = 0; i < n;) {
    char esc[8];
    const char *out = esc;
    size_t out_len, step = 1;
    unsigned c = s[i];
    if (c == '"' || c == '\\') {
      esc[0] = '\\', esc[1] = (char)c, out_len = 2;
    } else if (c == '\n') {
      out = "\\n", out_len = 2;
    } else if (c == '\r') {
      out = "\\r", out_len = 2;
    } else if (c == '\t') {
      out = "\\t", out_len = 2;
    } else if (c < 0x20 || c == 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      out_len = 6;
    } else if (c < 0x80) {
      esc[0] = (char)c, out_len = 1;
    } else if ((step = utf8_len(s + i, n - i)) != 0) {
      out = (const char *)s + i, out_len = step;
    } else {
      out = "\\ufffd", out_len = 6, step = 1;
    }
    if (l->len + out_len - start > max || l->len + out_len + LINE_RESERVE > sizeof l->buf) {
      puts_(l, "...");
      break;
    }
    put(l, out, out_len);
    i += step;
  }
  puts_(l, "\"");
}

/* "ts":"2026-11-27T00:00:00.123Z" (UTC). */
static void put_timestamp(line *l) {
  struct timespec ts;
  struct tm tm;
  char s[128];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(s, sizeof s, "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
  puts_(l, s);
}

/* Ends the line and writes it with one write(2) (repeated only if the
 * kernel takes part of it or a signal interrupts it). */
static void emit(line *l) {
  if (l->len > sizeof l->buf - 2) l->len = sizeof l->buf - 2; /* cannot happen: LINE_RESERVE */
  put(l, "}\n", 2);
  int fd = atomic_load(&log_fd);
  size_t off = 0;
  while (off < l->len) {
    ssize_t n = write(fd, l->buf + off, l->len - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return; /* nowhere to report a failing log */
    off += (size_t)n;
  }
}

/* Contract: writes {"ts","level","event"[, fields]} as one line.  `fields`
 * is the caller's JSON object members without braces; any control
 * character in it becomes a space so it cannot break the line, and when it
 * does not fit the line it is left out and "truncated":true says so. */
void orf_log_event(const char *level, const char *event, const char *fields) {
  line l;
  l.len = 0;
  put_timestamp(&l);
  puts_(&l, ",\"level\":");
  put_string(&l, level ? level : "info", MAX_NAME);
  puts_(&l, ",\"event\":");
  put_string(&l, event, MAX_NAME);
  if (fields && *fields) {
    size_t n = strlen(fields);
    if (l.len + 1 + n + LINE_RESERVE <= sizeof l.buf) {
      puts_(&l, ",");
      for (size_t i = 0; i < n; i++) {
        char c = fields[i];
        l.buf[l.len++] = (unsigned char)c < 0x20 ? ' ' : c;
      }
    } else {
      puts_(&l, ",\"truncated\":true");
    }
  }
  emit(&l);
}

/* Contract: writes one access line (see log.h); strings are escaped, a
 * negative or non-finite duration is written as 0. */
void orf_log_access(const char *request_id, const char *method, const char *route, const char *path,
                    int status, size_t bytes, double duration_ms) {
  line l;
  char num[96];
  l.len = 0;
  put_timestamp(&l);
  puts_(&l, ",\"level\":\"info\",\"event\":\"access\",\"request_id\":");
  put_string(&l, request_id, MAX_NAME);
  puts_(&l, ",\"method\":");
  put_string(&l, method, MAX_NAME);
  puts_(&l, ",\"route\":");
  put_string(&l, route, MAX_NAME);
  puts_(&l, ",\"path\":");
  put_string(&l, path, MAX_PATH);
  if (!isfinite(duration_ms) || duration_ms < 0) duration_ms = 0;
  if (duration_ms > 1e12) duration_ms = 1e12; /* keeps the number short */
  snprintf(num, sizeof num, ",\"status\":%d,\"bytes\":%zu,\"duration_ms\":%.3f", status, bytes, duration_ms);
  puts_(&l, num);
  emit(&l);
}

/* Contract: out gets 32 lowercase hex digits of 16 random bytes from
 * getrandom(2), and a NUL.  Should the kernel refuse (no getrandom), the
 * bytes come from a counter mixed with the time (unique, not secret). */
void orf_request_id(char out[33]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char r[16];
  size_t got = 0;
  while (got < sizeof r) {
    ssize_t n = getrandom(r + got, sizeof r - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (got < sizeof r) {
    static atomic_uint_fast64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = atomic_fetch_add(&counter, 1) + ((uint64_t)ts.tv_sec << 30) + (uint64_t)ts.tv_nsec;
    for (size_t i = 0; i < sizeof r; i += 8) { /* splitmix64 */
      x += 0x9e3779b97f4a7c15ull;
      uint64_t z = x;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
      z ^= z >> 31;
      memcpy(r + i, &z, 8);
    }
  }
  for (size_t i = 0; i < sizeof r; i++) {
    out[2 * i] = hex[r[i] >> 4];
    out[2 * i + 1] = hex[r[i] & 15];
  }
  out[32] = '\0';
}

void orf_log_json(const char *level, const char *event, json_t *obj) {
  char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
  json_decref(obj);
  size_t n = text ? strlen(text) : 0;
  if (n >= 2) {
    text[n - 1] = 0; /* drop the braces: the line adds its own */
    orf_log_event(level, event, text + 1);
  } else {
    orf_log_event(level, event, NULL);
  }
  free(text);
}
