/*
 * fetch.c - the internal HTTP client of the cluster: GET of a result file
 * from the node that holds it (results.c), over plain HTTP/1.0 with the
 * cluster token in X-Orfeas-Cluster-Token, every step bounded by a
 * timeout (connect, each read), the whole answer read until the peer
 * closes.  Small on purpose: one request shape, to a peer of the same
 * build, on the cluster's own network.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster_int.h"

#define FETCH_MAX_BYTES ((size_t)1 << 30)

/* Connects to host:port within timeout_ms; the socket, or -1. */
static int dial(const char *host, const char *port, int timeout_ms) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
  if (getaddrinfo(host, port, &hints, &res)) return -1;
  int fd = -1;
  for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) && errno != EINPROGRESS) {
      close(fd);
      fd = -1;
      continue;
    }
    struct pollfd p = {fd, POLLOUT, 0};
    int err = 0;
    socklen_t n = sizeof err;
    if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n) || err) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(res);
  return fd;
}

/* Writes all of buf, each wait bounded by timeout_ms; 0 or -1. */
static int send_all(int fd, const char *buf, size_t n, int timeout_ms) {
  while (n) {
    struct pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) != 1) return -1;
    ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w <= 0) return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

int cl_http_get(const char *url, const char *token, int timeout_ms, uint8_t **body, size_t *len) {
  *body = NULL;
  *len = 0;
  if (strncmp(url, "http://", 7)) return -1;
  const char *h = url + 7, *path = strchr(h, '/');
  if (!path) path = h + strlen(h);
  char host[256], port[8] = "80";
  const char *colon = memchr(h, ':', (size_t)(path - h));
  size_t hl = (size_t)((colon ? colon : path) - h);
  if (hl == 0 || hl >= sizeof host) return -1;
  memcpy(host, h, hl);
  host[hl] = 0;
  if (colon) snprintf(port, sizeof port, "%.*s", (int)(path - colon - 1), colon + 1);
  char req[1200];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.0\r\nHost: %s\r\nX-Orfeas-Cluster-Token: %s\r\nConnection: close\r\n\r\n",
                   *path ? path : "/", host, token);
  if (n < 0 || (size_t)n >= sizeof req) return -1;
  int fd = dial(host, port, timeout_ms);
  if (fd < 0) return -1;
  int status = -1;
  size_t cap = 65536, got = 0;
  char *buf = malloc(cap);
  if (!buf || send_all(fd, req, (size_t)n, timeout_ms)) goto out;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) goto out;
    if (got == cap) {
      if (cap >= FETCH_MAX_BYTES) goto out;
      char *g = realloc(buf, cap * 2);
      if (!g) goto out;
      buf = g;
      cap *= 2;
    }
    ssize_t r = recv(fd, buf + got, cap - got, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r < 0) goto out;
    if (r == 0) break;
    got += (size_t)r;
  }
  char *end = memmem(buf, got, "\r\n\r\n", 4);
  int code;
  if (!end || got < 12 || sscanf(buf, "HTTP/1.%*c %d", &code) != 1) goto out;
  size_t head = (size_t)(end - buf) + 4, blen = got - head;
  const char *cl = memmem(buf, head, "\r\nContent-Length:", 17);
  if (!cl) cl = memmem(buf, head, "\r\ncontent-length:", 17);
  if (cl && strtoull(cl + 17, NULL, 10) != blen) goto out; /* cut short */
  *body = malloc(blen ? blen : 1);
  if (!*body) goto out;
  memcpy(*body, buf + head, blen);
  *len = blen;
  status = code;
out:
  free(buf);
  close(fd);
  return status;
}
