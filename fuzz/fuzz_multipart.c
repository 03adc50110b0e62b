/*
 * fuzz_multipart.c - libFuzzer harness for what the server does with a
 * request before any job exists, driven through the same code path the
 * server uses: a real libmicrohttpd daemon on 127.0.0.1 parses the bytes
 * sent to it, and its access handler calls the server's own
 * http_request_begin (framing and NUL checks, body reader, upload limit),
 * http_request_feed (the multipart post processor and its iterator, or the
 * raw body) and http_read_input (form refusals, parameters, image probe,
 * memory estimate, request hash), as http.c's handler does for
 * POST /api/v1/mask.
 *
 * The first version of this harness called the parameter parser and the
 * image probe directly with the request already split, because the post
 * processor "needs a live connection": so it never ran the post
 * processor's iterator, and never saw the NULL field name that libmicrohttpd
 * hands over for a part without a usable name - the crash of issue 19.
 * Giving the post processor its live connection is the fix.
 *
 * Input: the request's query string up to the first '\n', its Content-Type
 * up to the second '\n' (empty: none), then the body (sent with its
 * Content-Length).  Checked, with abort(): the server answers every input
 * with a complete HTTP response whose status is one a client may get for a
 * bad request (200, 400, 413, 415, 422, 501), never 500 and never a hang;
 * an accepted request has an estimate at least as big as its file and its
 * full-size pixels and a request hash of 64 lowercase hex digits (checked
 * in the handler).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/http_int.h"
#include "orfeas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
  do {                                                                                                       \
    if (!(cond)) abort();                                                                                    \
  } while (0)

#define MAX_BODY ((size_t)1 << 20)
#define WAIT_MS 8000

static server srv;
static struct MHD_Daemon *daemon_;
static int port;
/* The handler saw this input's request (set on its thread, read after the
 * answer came back: the exchange orders them). */
static _Atomic int reached;

static void check_hash(const char h[65]) {
  CHECK(h[64] == '\0');
  for (int i = 0; i < 64; i++)
    CHECK((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'));
}

/* The server's handler for a POST that takes a body, reduced to what comes
 * before the route's own work. */
static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                               const char *version, const char *upload_data, size_t *upload_data_size,
                               void **con_cls) {
  (void)cls, (void)version;
  request *r = *con_cls;
  enum MHD_Result ret;
  if (!r) return MHD_NO; /* the URI logger could not allocate it */
  if (!r->srv) {         /* first call: the context came from the URI logger */
    reached = 1;
    r->srv = &srv;
    r->conn = conn;
    snprintf(r->method, sizeof r->method, "%s", method);
    snprintf(r->path, sizeof r->path, "%s", url);
    r->route = ORF_ROUTE_MASK;
    memset(r->id, '0', 32);
    int nul = r->status == -1;
    r->status = 0;
    return http_request_begin(r, method, nul, &ret) ? ret : MHD_YES;
  }
  if (*upload_data_size) {
    if (http_request_feed(r, upload_data, *upload_data_size)) return MHD_NO;
    *upload_data_size = 0;
    return MHD_YES;
  }
  orf_params p;
  if (http_read_input(r, &p, &ret)) return ret;
  orf_image_type t;
  uint32_t w, h;
  CHECK(orf_image_probe(r->body, r->body_len, &srv.limits, &t, &w, &h) == ORF_OK);
  CHECK(r->estimate >= r->body_len + (uint64_t)w * h * 4);
  check_hash(r->hash);
  return http_json(r, 200, json_pack("{s:s}", "request_hash", r->hash));
}

/* The URI logger makes every request's context (so that the handler sees
 * the server's NUL marker the same way): status -1 marks an escaped NUL. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
  request *r = calloc(1, sizeof *r);
  if (r && http_on_uri(cls, uri, conn)) r->status = -1;
  return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls, (void)conn, (void)toe;
  if (*con_cls) http_request_free(*con_cls);
  *con_cls = NULL;
}

static void start(void) {
  orf_limits_init(&srv.limits);
  srv.cfg.max_upload_bytes = MAX_BODY;
  srv.engine_device = ORF_DEVICE_CPU;
  struct sockaddr_in a = {.sin_family = AF_INET};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handler, NULL,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a, MHD_OPTION_CONNECTION_TIMEOUT,
                             (unsigned)10, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                             MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_END);
  CHECK(daemon_ != NULL);
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
  CHECK(info != NULL);
  port = info->port;
}

/* send(2) of all of buf, through EINTR; 0, or -1 when the peer is gone
 * (it may answer, and close, before the whole body is sent). */
static int send_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Sends the request and reads the whole answer; returns its status (0: the
 * connection was closed with none).  libFuzzer's -timeout runs on SIGALRM,
 * so every call here goes on through EINTR: an interrupted poll is not a
 * hang (the harness once took one for it). */
static int exchange(const char *head, size_t head_len, const uint8_t *body, size_t body_len) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  CHECK(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  int rc;
  while ((rc = connect(fd, (struct sockaddr *)&a, sizeof a)) != 0 && errno == EINTR) {
  }
  CHECK(rc == 0 || errno == EISCONN);
  if (send_all(fd, head, head_len) == 0 && body_len) (void)send_all(fd, body, body_len);
  shutdown(fd, SHUT_WR);
  char buf[4096], first[64] = "";
  size_t got = 0;
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long waited = (long)(now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(waited < WAIT_MS); /* no end of the answer in 8 s: a hang */
    int r = poll(&p, 1, (int)(WAIT_MS - waited));
    if (r < 0 && errno == EINTR) continue;
    CHECK(r == 1);
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (got < sizeof first - 1) {
      size_t k = (size_t)n < sizeof first - 1 - got ? (size_t)n : sizeof first - 1 - got;
      memcpy(first + got, buf, k);
      got += k;
      first[got] = '\0';
    }
  }
  close(fd);
  int status = 0;
  sscanf(first, "HTTP/1.%*d %d", &status);
  return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!daemon_) start();
  const uint8_t *nl1 = memchr(data, '\n', size);
  if (!nl1) return 0;
  const uint8_t *nl2 = memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - data));
  if (!nl2) return 0;
  size_t qlen = (size_t)(nl1 - data), tlen = (size_t)(nl2 - nl1 - 1);
  const uint8_t *body = nl2 + 1;
  size_t body_len = size - (size_t)(body - data);
  if (qlen > 1024 || tlen > 256 || body_len > MAX_BODY) return 0;
  /* a request line or header with a raw CR or LF is another request */
  for (size_t i = 0; i < qlen; i++)
    if (data[i] == '\r' || data[i] == '\n' || data[i] == ' ' || data[i] == '\0') return 0;
  for (size_t i = 0; i < tlen; i++)
    if (nl1[1 + i] == '\r' || nl1[1 + i] == '\n' || nl1[1 + i] == '\0') return 0;
  char head[1600];
  int n = snprintf(head, sizeof head,
                   "POST /api/v1/mask%s%.*s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n%s%.*s%s"
                   "Content-Length: %zu\r\n\r\n",
                   qlen ? "?" : "", (int)qlen, (const char *)data, tlen ? "Content-Type: " : "", (int)tlen,
                   (const char *)nl1 + 1, tlen ? "\r\n" : "", body_len);
  CHECK(n > 0 && (size_t)n < sizeof head);
  reached = 0;
  int status = exchange(head, (size_t)n, body, body_len);
  /* A request libmicrohttpd refuses on its own (a header line it cannot
   * parse) never reaches the server's code: the library answers 400 or 431,
   * or just closes.  Once the server's code had the request, it answers,
   * with a status a client may get for a bad request. */
  if (!reached) return 0;
  CHECK(status == 200 || status == 400 || status == 413 || status == 415 || status == 422 || status == 501);
  return 0;
}
