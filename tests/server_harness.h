/*
 * server_harness.h - the real `orfeas serve` binary as a test's peer, shared
 * by the integration tests (test_server.c, test_limits.c): started with
 * fork/exec on 127.0.0.1 with --port 0, its port read from the one line it
 * prints on stdout, stopped by a signal and reaped, and spoken to over HTTP
 * with libcurl.  The integration tests of h2o are the model: start the real
 * server, talk to it as a client would.
 *
 * Every request is bounded by TS_REQ_TIMEOUT_S; every server started is
 * remembered until it is reaped, so a group's teardown can kill what a
 * failed test left running (ts_kill_all).  Functions that assert use
 * cmocka's fail_msg and so belong to a running test.
 */
#ifndef ORF_SERVER_HARNESS_H
#define ORF_SERVER_HARNESS_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TS_REQ_TIMEOUT_S 120 /* every request is bounded by this */
#define TS_MAX_LINES 64      /* arrival times kept for the first lines of a body */

/* ---- time ------------------------------------------------------------------ */

double ts_now_s(void); /* CLOCK_MONOTONIC, seconds */
void ts_sleep_ms(int ms);

/* ---- the server process ------------------------------------------------------ */

typedef struct ts_server {
  pid_t pid; /* 0 when not running */
  int port;
  int out_fd;             /* read end of its stdout */
  char log[600];          /* the file its stderr goes to */
  char extra_stdout[256]; /* what it printed after its first line (ts_stop) */
  int exit_status;        /* wait status when it exited before listening */
} ts_server;

typedef struct ts_launch {
  const char *data;  /* --data-dir */
  const char *extra; /* further options, separated by single spaces; or NULL */
  const char *log;   /* path of the file its stderr is appended to */
  const char *env;   /* "K=V K=V" set for the server; or NULL */
  const char *unset; /* "K K" removed from its environment; or NULL */
  long fsize;        /* > 0: runs under RLIMIT_FSIZE = fsize bytes (SIGXFSZ
                        ignored, so a write past it fails with EFBIG), its
                        stderr copied to the log by an unlimited `cat` */
  int quiet;         /* 1: a server that does not start is not reported */
} ts_launch;

/* $ORFEAS_BIN (set by tests/run.sh), default build/orfeas. */
const char *ts_bin(void);

/* Starts `ts_bin() serve --host 127.0.0.1 --port 0 --data-dir DATA EXTRA...`
 * as `how` says and waits (30 s at most) for its "orfeas listening on
 * http://127.0.0.1:PORT" line.  Returns 0 with s->port set, or -1 when it
 * did not listen: then s->exit_status is its wait status if it exited, and
 * unless how->quiet the reason and its log's tail are printed. */
int ts_start(ts_server *s, const ts_launch *how);

/* Sends sig, waits up to timeout_s for the exit, SIGKILL after that.
 * Returns the wait status; -1 when it had to be killed; -2 when s was not
 * running.  What the server wrote on stdout after its first line is left in
 * s->extra_stdout.  A killed or failed server's log tail is printed. */
int ts_stop(ts_server *s, int sig, double timeout_s);

/* SIGTERM, then asserts a clean exit within 60 s (status 0, no crash). */
void ts_stop_clean(ts_server *s);

/* SIGKILL and reap every server started and not yet stopped. */
void ts_kill_all(void);

/* Prints the last 3000 bytes of the server's log. */
void ts_log_tail(const ts_server *s);

/* ---- HTTP with libcurl ---------------------------------------------------------- */

/* The server a request without .srv goes to (a group sets it). */
extern const ts_server *ts_default_server;

typedef struct ts_request {
  const char *method; /* NULL: GET (POST when a body is given) */
  const char *path;   /* with its query string */
  const char *ctype;  /* raw body's Content-Type, or NULL */
  const void *body;
  size_t len;
  int multipart;     /* send a multipart/form-data body */
  const void *image; /* multipart: the `image` part (NULL: none) */
  size_t image_len;
  const char *image_type; /* its Content-Type */
  const char *fields;     /* multipart: other fields "k=v&k=v" */
  const char *header;     /* one extra header line, or NULL */
  const char *header2;
  int chunked;           /* send the raw body with chunked transfer encoding */
  int abort_after_lines; /* abort the transfer once this many lines came */
  int path_as_is;        /* send ../ segments as they are */
  const ts_server *srv;  /* NULL: ts_default_server */
} ts_request;

typedef struct ts_reply {
  CURLcode rc;
  long status;
  char *body; /* NUL-terminated; NULL when empty */
  size_t len, cap;
  char hdr[16384]; /* the last response's header lines */
  size_t hlen;
  size_t scanned;
  int n_lines;                 /* newlines in the body so far */
  double t_line[TS_MAX_LINES]; /* ts_now_s() when each arrived */
  int abort_after_lines;
  const uint8_t *up;
  size_t up_left;
  char what[200]; /* "METHOD path", for messages */
} ts_reply;

/* Runs one request to completion (or abort) into *r; ts_reply_free after. */
void ts_http(ts_reply *r, const ts_request *q);
void ts_get(ts_reply *r, const char *path); /* GET path from ts_default_server */
void ts_reply_free(ts_reply *r);

/* For transfers driven by the caller (curl_multi): ts_prepare sets up h for
 * q into r and returns the header list and mime it made, to be freed after
 * the transfer; ts_finish records its result. */
void ts_prepare(CURL *h, const ts_request *q, ts_reply *r, struct curl_slist **hl, curl_mime **mime);
void ts_finish(CURL *h, ts_reply *r, CURLcode rc);

/* Polls GET path (200 JSON) every 100 ms until its "status" is `want`,
 * failing the test when it is anything but `want` or one of `going`
 * ("a|b"), or after
 * timeout_s; returns the last answer (json_decref it). */
json_t *ts_wait_status(const char *path, const char *want, const char *going, double timeout_s);

/* Every answer is expected to carry X-Request-Id: the last one seen, how many
 * answers lacked it, and the first of those ("METHOD path -> status"). */
extern char ts_last_request_id[128];
extern int ts_missing_request_ids;
extern char ts_missing_request_id_what[256];

/* The value of response header `name` (case-insensitive) copied into out,
 * trailing spaces cut; NULL when absent. */
const char *ts_header(const ts_reply *r, const char *name, char *out, size_t out_size);

/* Assertions on a reply (fail the test with the request and body named). */
#define TS_EXPECT_STATUS(r, code)                                                                            \
  do {                                                                                                       \
    if ((r)->status != (code))                                                                               \
      fail_msg("%s -> %ld (curl: %s), expected %d; body: %.600s", (r)->what, (r)->status,                    \
               curl_easy_strerror((r)->rc), (int)(code), (r)->body ? (r)->body : "");                        \
  } while (0)
json_t *ts_reply_json(const ts_reply *r); /* the body as JSON; fails when it is not */
/* Asserts an API error: status, JSON {"error": sentence, "code": code
 * [, "param": param]}, the sentence non-empty and not "unknown error". */
void ts_expect_error(const ts_reply *r, long status, const char *code, const char *param);
void ts_expect_header(const ts_reply *r, const char *name, const char *value);
void ts_expect_header_prefix(const ts_reply *r, const char *name, const char *prefix);

/* ---- Prometheus metrics --------------------------------------------------------- */

/* Sum of every sample of metric `name` in the exposition text whose labels
 * contain `label` (NULL: any); 0 when there is none. */
double ts_metric(const char *text, const char *name, const char *label);
/* The same, from GET /metrics of s (NULL: ts_default_server), asserting 200. */
double ts_get_metric(const ts_server *s, const char *name, const char *label);

/* ---- raw sockets (what libcurl will not send) ------------------------------------- */

/* A TCP connection to s from address `from` (NULL: 127.0.0.1), with 10 s
 * send and receive timeouts; asserts it connected. */
int ts_raw_connect(const ts_server *s, const char *from);
/* Sends all of text; 0, or -1 when it could not. */
int ts_raw_send(int fd, const char *text);
/* Whether the server has closed fd: waits up to wait_ms for EOF or a reset
 * (data before them is read and dropped). */
int ts_raw_closed(int fd, int wait_ms);
/* Reads the server's answer on fd (until its headers are in, it closes, or
 * wait_ms pass) into buf; returns the status of its first line, or 0. */
int ts_raw_response(int fd, char *buf, size_t size, int wait_ms);

#endif
