/*
 * log.h - structured logs: one JSON object per line on stderr (or a file),
 * written whole with one write(2) so lines from different threads never
 * interleave.  Two kinds:
 *   {"ts":"2026-11-27T00:00:00.123Z","level":"info","event":"access",
 *    "request_id":"...","method":"POST","route":"generate","path":"/api/v1/generate",
 *    "status":200,"bytes":1234,"duration_ms":12.3}
 *   {"ts":...,"level":"info|warn|error","event":"<name>", ...fields}
 * Secrets are never passed in: callers log no tokens or bodies.
 */
#ifndef ORF_LOG_H
#define ORF_LOG_H

#include <stddef.h>

/* Where lines go (default: stderr, fd 2). */
void orf_log_set_fd(int fd);

/* Logs one event; `fields` is already-serialised JSON object members
 * without braces (e.g. "\"port\":5000") or NULL.  The primitive under
 * orf_log_json, which never allocates (so it works when memory has run
 * out); callers with fields use orf_log_json and never escape by hand. */
void orf_log_event(const char *level, const char *event, const char *fields);

/* Logs an event whose fields are the members of obj (taken; NULL: none),
 * serialised once, by jansson.  It allocates (the JSON text); when that
 * fails the event is still logged, without its fields. */
typedef struct json_t json_t;
void orf_log_json(const char *level, const char *event, json_t *obj);

/* Logs one HTTP exchange. */
void orf_log_access(const char *request_id, const char *method, const char *route, const char *path,
                    int status, size_t bytes, double duration_ms);

/* Writes a fresh request id (32 hex digits, random) into out[33]. */
void orf_request_id(char out[33]);

#endif
