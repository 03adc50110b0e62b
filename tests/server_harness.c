/*
 * server_harness.c - the real server as a test's peer: process control and
 * a libcurl client (contracts in server_harness.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "server_harness.h"

/* ---- time -------------------------------------------------------------------- */

double ts_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void ts_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- the server process --------------------------------------------------------- */

/* Every server started and not yet reaped, by pid and stdout (not by
 * pointer: a failed test leaves its frame, and a ts_server on it, behind). */
#define MAX_LIVE 16
static struct {
  pid_t pid;
  int out_fd;
} live[MAX_LIVE];

static void live_add(pid_t pid, int out_fd) {
  for (int i = 0; i < MAX_LIVE; i++)
    if (!live[i].pid) {
      live[i].pid = pid, live[i].out_fd = out_fd;
      return;
    }
}

static void live_remove(pid_t pid) {
  for (int i = 0; i < MAX_LIVE; i++)
    if (live[i].pid == pid) live[i].pid = 0;
}

const char *ts_bin(void) {
  const char *b = getenv("ORFEAS_BIN");
  return b ? b : "build/orfeas";
}

void ts_log_tail(const ts_server *s) {
  FILE *f = fopen(s->log, "r");
  if (!f) return;
  char buf[3001];
  fseek(f, 0, SEEK_END);
  long end = ftell(f);
  fseek(f, end > 3000 ? end - 3000 : 0, SEEK_SET);
  size_t n = fread(buf, 1, 3000, f);
  buf[n] = 0;
  fclose(f);
  print_message("---- server stderr (tail of %s) ----\n%s\n----\n", s->log, buf);
}

/* In the child: stdin from /dev/null, stdout into the pipe, stderr to the
 * log (through an unlimited `cat` when the file size is limited), the
 * environment as asked; then exec.  Never returns. */
static void child_exec(const ts_launch *how, char **argv, int out_w, int out_r) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int lf = open(how->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int nul = open("/dev/null", O_RDONLY);
  dup2(nul, 0);
  dup2(out_w, 1);
  close(out_r);
  close(out_w);
  if (how->fsize > 0) {
    int ep[2];
    if (pipe(ep)) _exit(126);
    if (fork() == 0) { /* the log's copier: not limited */
      dup2(ep[0], 0);
      dup2(lf, 1);
      close(ep[0]);
      close(ep[1]);
      execlp("cat", "cat", (char *)NULL);
      _exit(127);
    }
    dup2(ep[1], 2);
    close(ep[0]);
    close(ep[1]);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {(rlim_t)how->fsize, (rlim_t)how->fsize};
    setrlimit(RLIMIT_FSIZE, &rl);
  } else if (lf >= 0) {
    dup2(lf, 2);
  }
  if (how->unset) {
    char u[256];
    snprintf(u, sizeof u, "%s", how->unset);
    for (char *t = strtok(u, " "); t; t = strtok(NULL, " "))
      unsetenv(t);
  }
  if (how->env) {
    char e[1024];
    snprintf(e, sizeof e, "%s", how->env);
    for (char *t = strtok(e, " "); t; t = strtok(NULL, " "))
      putenv(strdup(t));
  }
  execv(argv[0], argv);
  _exit(127);
}

/* Reaps a server that did not listen (killing it if it still runs). */
static void not_started(ts_server *s, const ts_launch *how, const char *why) {
  int st = 0;
  if (s->pid) {
    for (double t0 = ts_now_s(); ts_now_s() - t0 < 10;) {
      if (waitpid(s->pid, &st, WNOHANG) == s->pid) break;
      ts_sleep_ms(10);
    }
    if (kill(s->pid, 0) == 0 && waitpid(s->pid, &st, WNOHANG) == 0) {
      kill(s->pid, SIGKILL);
      waitpid(s->pid, &st, 0);
    }
    live_remove(s->pid);
  }
  s->exit_status = st;
  s->pid = 0;
  close(s->out_fd);
  s->out_fd = -1;
  if (!how->quiet) {
    print_message("the server did not start: %s\n", why);
    ts_log_tail(s);
  }
}

int ts_start(ts_server *s, const ts_launch *how) {
  memset(s, 0, sizeof *s);
  s->out_fd = -1;
  snprintf(s->log, sizeof s->log, "%s", how->log);
  char args[1500];
  snprintf(args, sizeof args, "serve --host 127.0.0.1 --port 0 --data-dir %s %s", how->data,
           how->extra ? how->extra : "");
  char *argv[64];
  int argc = 0;
  argv[argc++] = (char *)ts_bin();
  for (char *t = strtok(args, " "); t && argc < 63; t = strtok(NULL, " "))
    argv[argc++] = t;
  argv[argc] = NULL;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC)) return -1;
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) child_exec(how, argv, fds[1], fds[0]);
  close(fds[1]);
  s->pid = pid;
  s->out_fd = fds[0];
  live_add(pid, s->out_fd);
  char line[512];
  size_t n = 0;
  double t0 = ts_now_s();
  while (n < sizeof line - 1 && ts_now_s() - t0 < 30) {
    struct pollfd pfd = {s->out_fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    ssize_t k = read(s->out_fd, line + n, 1);
    if (k <= 0) break; /* it exited (or closed stdout) */
    if (line[n] == '\n') break;
    n++;
  }
  line[n] = 0;
  int port = 0;
  char rest[8] = "";
  if (sscanf(line, "orfeas listening on http://127.0.0.1:%d%7s", &port, rest) != 1 || port <= 0 ||
      port > 65535) {
    char why[600];
    snprintf(why, sizeof why, "its first stdout line was \"%s\"", line);
    not_started(s, how, why);
    return -1;
  }
  s->port = port;
  return 0;
}

int ts_stop(ts_server *s, int sig, double timeout_s) {
  if (!s->pid) return -2;
  kill(s->pid, sig);
  int st = 0, killed = 0;
  double t0 = ts_now_s();
  for (;;) {
    pid_t w = waitpid(s->pid, &st, WNOHANG);
    if (w == s->pid || (w < 0 && errno != EINTR)) break;
    if (ts_now_s() - t0 > timeout_s && !killed) {
      kill(s->pid, SIGKILL);
      killed = 1;
    }
    ts_sleep_ms(5);
  }
  if (s->out_fd >= 0) {
    fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
    ssize_t k = read(s->out_fd, s->extra_stdout, sizeof s->extra_stdout - 1);
    s->extra_stdout[k > 0 ? k : 0] = 0;
    close(s->out_fd);
    s->out_fd = -1;
  }
  live_remove(s->pid);
  s->pid = 0;
  if (killed) {
    print_message("the server did not exit within %.0f s of signal %d: killed\n", timeout_s, sig);
    ts_log_tail(s);
    return -1;
  }
  if (sig != SIGKILL && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) ts_log_tail(s);
  return st;
}

void ts_stop_clean(ts_server *s) {
  int st = ts_stop(s, SIGTERM, 60);
  if (st == -1) fail_msg("the server did not exit after SIGTERM");
  if (st == -2) fail_msg("the server was not running");
  if (WIFSIGNALED(st)) fail_msg("the server died of signal %d", WTERMSIG(st));
  if (WEXITSTATUS(st) != 0) fail_msg("the server exited with status %d after SIGTERM", WEXITSTATUS(st));
}

void ts_kill_all(void) {
  for (int i = 0; i < MAX_LIVE; i++)
    if (live[i].pid) {
      kill(live[i].pid, SIGKILL);
      waitpid(live[i].pid, NULL, 0);
      close(live[i].out_fd);
      live[i].pid = 0;
    }
}

/* ---- HTTP with libcurl ------------------------------------------------------------- */

const ts_server *ts_default_server;
char ts_last_request_id[128];
int ts_missing_request_ids;
char ts_missing_request_id_what[256];

void ts_reply_free(ts_reply *r) {
  free(r->body);
  memset(r, 0, sizeof *r);
}

static size_t on_body(char *p, size_t sz, size_t nm, void *ud) {
  ts_reply *r = ud;
  size_t k = sz * nm;
  if (r->len + k + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + k + 1)
      cap *= 2;
    char *b = realloc(r->body, cap);
    if (!b) return 0;
    r->body = b, r->cap = cap;
  }
  memcpy(r->body + r->len, p, k);
  r->len += k;
  r->body[r->len] = 0;
  double t = ts_now_s();
  for (; r->scanned < r->len; r->scanned++)
    if (r->body[r->scanned] == '\n') {
      if (r->n_lines < TS_MAX_LINES) r->t_line[r->n_lines] = t;
      r->n_lines++;
    }
  if (r->abort_after_lines && r->n_lines >= r->abort_after_lines) return 0;
  return k;
}

static size_t on_header(char *p, size_t sz, size_t nm, void *ud) {
  ts_reply *r = ud;
  size_t k = sz * nm;
  if (k >= 5 && memcmp(p, "HTTP/", 5) == 0) r->hlen = 0; /* a new response (after 100 Continue) */
  if (r->hlen + k < sizeof r->hdr) {
    memcpy(r->hdr + r->hlen, p, k);
    r->hlen += k;
    r->hdr[r->hlen] = 0;
  }
  return k;
}

static size_t on_upload(char *p, size_t sz, size_t nm, void *ud) {
  ts_reply *r = ud;
  size_t k = sz * nm;
  if (k > r->up_left) k = r->up_left;
  memcpy(p, r->up, k);
  r->up += k, r->up_left -= k;
  return k;
}

const char *ts_header(const ts_reply *r, const char *name, char *out, size_t out_size) {
  size_t nl = strlen(name);
  const char *p = r->hdr;
  while (p && *p) {
    const char *eol = strchr(p, '\n');
    if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      size_t n = eol ? (size_t)(eol - v) : strlen(v);
      while (n && (v[n - 1] == '\r' || v[n - 1] == ' '))
        n--;
      if (n >= out_size) n = out_size - 1;
      memcpy(out, v, n);
      out[n] = 0;
      return out;
    }
    p = eol ? eol + 1 : NULL;
  }
  return NULL;
}

/* The multipart/form-data body of q: its image part and its fields. */
static curl_mime *multipart(CURL *h, const ts_request *q) {
  curl_mime *mime = curl_mime_init(h);
  if (q->image) {
    curl_mimepart *p = curl_mime_addpart(mime);
    curl_mime_name(p, "image");
    curl_mime_data(p, q->image_len ? q->image : "", q->image_len);
    curl_mime_filename(p, "upload.bin");
    curl_mime_type(p, q->image_type ? q->image_type : "application/octet-stream");
  }
  if (q->fields) {
    char f[1024];
    snprintf(f, sizeof f, "%s", q->fields);
    char *save = NULL;
    for (char *kv = strtok_r(f, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
      char *eq = strchr(kv, '=');
      if (!eq) continue;
      *eq = 0;
      curl_mimepart *p = curl_mime_addpart(mime);
      curl_mime_name(p, kv);
      curl_mime_data(p, eq + 1, CURL_ZERO_TERMINATED);
    }
  }
  return mime;
}

void ts_prepare(CURL *h, const ts_request *q, ts_reply *r, struct curl_slist **hl, curl_mime **mime) {
  const ts_server *s = q->srv ? q->srv : ts_default_server;
  char url[2048];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s ? s->port : 0, q->path);
  memset(r, 0, sizeof *r);
  snprintf(r->what, sizeof r->what, "%s %s", q->method ? q->method : "GET", q->path);
  r->abort_after_lines = q->abort_after_lines;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)TS_REQ_TIMEOUT_S);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
  if (q->path_as_is) curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
  *hl = NULL;
  *mime = NULL;
  if (q->header) *hl = curl_slist_append(*hl, q->header);
  if (q->header2) *hl = curl_slist_append(*hl, q->header2);
  if (q->multipart) {
    *mime = multipart(h, q);
    curl_easy_setopt(h, CURLOPT_MIMEPOST, *mime);
  } else if (q->chunked) {
    r->up = q->body, r->up_left = q->len;
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
    curl_easy_setopt(h, CURLOPT_READDATA, r);
    *hl = curl_slist_append(*hl, "Transfer-Encoding: chunked");
  } else if (q->body || q->ctype) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->len ? q->body : "");
  }
  if (q->ctype) {
    char ct[200];
    snprintf(ct, sizeof ct, "Content-Type: %s", q->ctype);
    *hl = curl_slist_append(*hl, ct);
  }
  if (q->method && strcmp(q->method, "GET") != 0 && strcmp(q->method, "POST") != 0) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
    if (strcmp(q->method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (q->method && strcmp(q->method, "POST") == 0 && !q->multipart && !q->body && !q->ctype &&
             !q->chunked) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
  }
  if (*hl) curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hl);
}

/* With ORFEAS_API_RECORD=FILE (tests/run.sh sets it), every complete
 * answer is appended to FILE as one JSON line {method, path, status, type,
 * body} (body only for JSON and NDJSON), for tests/test_openapi.sh to hold
 * against docs/openapi.yaml.  One write(2) per line on an O_APPEND file. */
static void record_reply(const ts_reply *r) {
  const char *file = getenv("ORFEAS_API_RECORD");
  if (!file || !file[0] || r->rc != CURLE_OK || r->status <= 0) return;
  char method[16] = "", path[200] = "", type[128] = "";
  sscanf(r->what, "%15s %199s", method, path);
  ts_header(r, "Content-Type", type, sizeof type);
  int textual = !strncmp(type, "application/json", 16) || !strncmp(type, "application/x-ndjson", 20);
  json_t *j =
      json_pack("{s:s, s:s, s:i, s:s, s:s%}", "method", method, "path", path, "status", (int)r->status,
                "type", type, "body", textual && r->body ? r->body : "", textual && r->body ? r->len : 0);
  char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
  json_decref(j);
  int fd = line ? open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
  if (fd >= 0) {
    size_t n = strlen(line);
    line[n] = '\n';
    if (write(fd, line, n + 1) < 0) perror("ORFEAS_API_RECORD");
    close(fd);
  }
  free(line);
}

void ts_finish(CURL *h, ts_reply *r, CURLcode rc) {
  r->rc = rc;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
  if (!r->abort_after_lines) record_reply(r);
  char id[128];
  if (r->status > 0) {
    if (ts_header(r, "X-Request-Id", id, sizeof id) && id[0])
      snprintf(ts_last_request_id, sizeof ts_last_request_id, "%s", id);
    else if (ts_missing_request_ids++ == 0)
      snprintf(ts_missing_request_id_what, sizeof ts_missing_request_id_what, "%s -> %ld", r->what,
               r->status);
  }
}

void ts_http(ts_reply *r, const ts_request *q) {
  CURL *h = curl_easy_init();
  assert_non_null(h);
  struct curl_slist *hl;
  curl_mime *mime;
  ts_prepare(h, q, r, &hl, &mime);
  CURLcode rc = curl_easy_perform(h);
  ts_finish(h, r, rc);
  curl_slist_free_all(hl);
  curl_mime_free(mime);
  curl_easy_cleanup(h);
}

void ts_get(ts_reply *r, const char *path) { ts_http(r, &(ts_request){.path = path}); }

json_t *ts_reply_json(const ts_reply *r) {
  json_error_t e;
  json_t *j = json_loadb(r->body ? r->body : "", r->len, 0, &e);
  if (!j) fail_msg("%s: body is not JSON (%s): %.400s", r->what, e.text, r->body ? r->body : "");
  return j;
}

void ts_expect_header(const ts_reply *r, const char *name, const char *value) {
  char v[512];
  if (!ts_header(r, name, v, sizeof v)) fail_msg("%s: no %s header", r->what, name);
  if (strcmp(v, value) != 0) fail_msg("%s: %s is \"%s\", expected \"%s\"", r->what, name, v, value);
}

void ts_expect_header_prefix(const ts_reply *r, const char *name, const char *prefix) {
  char v[512];
  if (!ts_header(r, name, v, sizeof v)) fail_msg("%s: no %s header", r->what, name);
  if (strncasecmp(v, prefix, strlen(prefix)) != 0)
    fail_msg("%s: %s is \"%s\", expected it to start with \"%s\"", r->what, name, v, prefix);
}

/* ---- Prometheus metrics ------------------------------------------------------------ */

double ts_metric(const char *text, const char *name, const char *label) {
  double sum = 0;
  size_t nl = strlen(name);
  for (const char *p = text; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t ll = eol ? (size_t)(eol - p) : strlen(p);
    if (p[0] != '#' && ll > nl && strncmp(p, name, nl) == 0 && (p[nl] == '{' || p[nl] == ' ')) {
      char line[1024];
      if (ll >= sizeof line) ll = sizeof line - 1;
      memcpy(line, p, ll);
      line[ll] = 0;
      const char *v = line + nl;
      int ok = 1;
      if (*v == '{') {
        const char *close = strchr(v, '}');
        if (!close) ok = 0;
        if (ok && label) {
          char labels[1024];
          size_t n = (size_t)(close - v);
          memcpy(labels, v, n);
          labels[n] = 0;
          ok = strstr(labels, label) != NULL;
        }
        v = close ? close + 1 : v;
      } else if (label)
        ok = 0;
      if (ok) sum += strtod(v, NULL);
    }
    p = eol ? eol + 1 : NULL;
  }
  return sum;
}

double ts_get_metric(const ts_server *s, const char *name, const char *label) {
  ts_reply r;
  ts_http(&r, &(ts_request){.path = "/metrics", .srv = s});
  TS_EXPECT_STATUS(&r, 200);
  double v = ts_metric(r.body ? r.body : "", name, label);
  ts_reply_free(&r);
  return v;
}

/* ---- raw sockets --------------------------------------------------------------- */

/* A TCP connection to the server from address `from` (NULL: 127.0.0.1). */
int ts_raw_connect(const ts_server *s, const char *from) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(fd >= 0);
  if (from) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  }
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  struct timeval tv = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

int ts_raw_send(int fd, const char *text) {
  return send(fd, text, strlen(text), MSG_NOSIGNAL) == (ssize_t)strlen(text) ? 0 : -1;
}

/* Whether the server has closed fd: waits up to wait_ms for EOF or a reset
 * (data before them is read and dropped). */
int ts_raw_closed(int fd, int wait_ms) {
  double t0 = ts_now_s();
  for (;;) {
    int left = wait_ms - (int)((ts_now_s() - t0) * 1e3);
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, left > 0 ? left : 0) <= 0) return 0;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return 1;
  }
}

/* Reads what the server answers on fd (until it closes or wait_ms pass)
 * into buf; returns the status of the first response line, or 0. */
int ts_raw_response(int fd, char *buf, size_t size, int wait_ms) {
  size_t n = 0;
  double t0 = ts_now_s();
  while (n < size - 1) {
    int left = wait_ms - (int)((ts_now_s() - t0) * 1e3);
    struct pollfd p = {fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0) break;
    ssize_t k = recv(fd, buf + n, size - 1 - n, 0);
    if (k <= 0) break;
    n += (size_t)k;
    buf[n] = 0;
    if (strstr(buf, "\r\n\r\n")) break;
  }
  buf[n] = 0;
  int status = 0;
  sscanf(buf, "HTTP/1.%*d %d", &status);
  return status;
}

/* Asserts an docs/API.md error: status, JSON {"error": sentence, "code": code
 * [, "param": param]}. */
void ts_expect_error(const ts_reply *r, long status, const char *code, const char *param) {
  TS_EXPECT_STATUS(r, status);
  ts_expect_header_prefix(r, "Content-Type", "application/json");
  json_t *j = ts_reply_json(r);
  const char *e = json_string_value(json_object_get(j, "error"));
  const char *c = json_string_value(json_object_get(j, "code"));
  if (!e || !e[0]) fail_msg("%s: no \"error\" sentence in %s", r->what, r->body);
  if (strstr(e, "unknown error")) fail_msg("%s: the sentence says nothing: %s", r->what, r->body);
  if (!c || strcmp(c, code) != 0)
    fail_msg("%s: code \"%s\", expected \"%s\" (%s)", r->what, c ? c : "(none)", code, r->body);
  if (param) {
    const char *p = json_string_value(json_object_get(j, "param"));
    if (!p || strcmp(p, param) != 0)
      fail_msg("%s: param \"%s\", expected \"%s\" (%s)", r->what, p ? p : "(none)", param, r->body);
  }
  json_decref(j);
}

/* ORF_TEST=PATTERN runs only the tests of a program whose names match it
 * (cmocka's filter: '*' and '?' wildcards), for `tests/run.sh BUILD
 * PROGRAM:PATTERN`.  Every test program links this file (the benchmarks,
 * which do not use cmocka, do not), so each honours it without a line of
 * its own; set before main(). */
__attribute__((constructor)) static void tu_test_filter(void) {
  const char *pattern = getenv("ORF_TEST");
  if (pattern && pattern[0]) cmocka_set_test_filter(pattern);
}

json_t *ts_wait_status(const char *path, const char *want, const char *going, double timeout_s) {
  double t0 = ts_now_s();
  for (;;) {
    ts_reply r;
    ts_get(&r, path);
    TS_EXPECT_STATUS(&r, 200);
    json_t *j = ts_reply_json(&r);
    ts_reply_free(&r);
    const char *st = json_string_value(json_object_get(j, "status"));
    if (st && !strcmp(st, want)) return j;
    char one[40], list[200];
    snprintf(one, sizeof one, "|%s|", st ? st : "");
    snprintf(list, sizeof list, "|%s|", going);
    if (!st || !strstr(list, one)) fail_msg("%s: %.300s", path, json_dumps(j, JSON_COMPACT));
    if (ts_now_s() - t0 > timeout_s) fail_msg("%s: still %s after %.0f s", path, st, timeout_s);
    json_decref(j);
    ts_sleep_ms(100);
  }
}
