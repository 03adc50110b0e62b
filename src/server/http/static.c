/*
 * static.c - the web studio's files: GET / (index.html) and
 * GET /static/<path> from the web root (--web-root, or web/ beside the
 * binary).  Without a web root, / is the plain upload form of
 * routes_info.c.
 *
 * Only regular files are served: a directory is 404 (no listing).  A path
 * is accepted only if it is made of [A-Za-z0-9._/-], has no "..", no empty
 * or dot-leading component, and, once resolved (realpath, so symbolic links
 * included), still lies inside the web root: no request can reach a file
 * outside it.  Files are sent from their descriptor, with a content type by
 * extension.  Caching: files under vendor/ (third-party code whose path
 * carries its version, e.g. vendor/three-0.187.0/, written by web/build.mjs)
 * are immutable for a year; every other file (index.html, the page's own
 * modules and styles) is revalidated on each use (no-cache) against an ETag
 * made of its size and modification time, answered 304 when unchanged, so
 * a rebuilt studio is never mixed with a cached older module.  Every
 * response carries the server's Content-Security-Policy (http.c), which
 * allows only this origin.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_int.h"

void http_static_init(server *srv) {
  char dir[4096];
  srv->web_root[0] = 0;
  if (srv->cfg.web_root[0]) {
    snprintf(dir, sizeof dir, "%s", srv->cfg.web_root);
  } else {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0;
    snprintf(dir, sizeof dir, "%.4000s/web", exe);
  }
  char real[PATH_MAX];
  struct stat st;
  if (realpath(dir, real) && stat(real, &st) == 0 && S_ISDIR(st.st_mode))
    snprintf(srv->web_root, sizeof srv->web_root, "%s", real);
}

static const char *content_type(const char *path) {
  static const char *const map[][2] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(dot, map[i][0])) return map[i][1];
  return "application/octet-stream";
}

/* Whether rel is a path we are willing to look up at all. */
static int safe_relative(const char *rel) {
  size_t n = strlen(rel);
  if (n == 0 || n > 255 || rel[0] == '/') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = rel[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
             c == '_' || c == '-' || c == '/';
    if (!ok) return 0;
    /* a component may not be empty or start with a dot ("..", ".git") */
    if ((i == 0 || rel[i - 1] == '/') && (c == '/' || c == '.')) return 0;
  }
  return rel[n - 1] != '/';
}

enum MHD_Result route_static(request *r, const char *url) {
  server *srv = r->srv;
  int index = !strcmp(url, "/") || !strcmp(url, "/index.html");
  if (!srv->web_root[0]) {
    if (index) return route_studio(r);
    return http_error(r, ORF_SRV_ENOTFOUND, "no such file", NULL);
  }
  const char *rel = index ? "index.html" : url + 8; /* after "/static/" */
  if (!safe_relative(rel)) return http_error(r, ORF_SRV_ENOTFOUND, "no such file", NULL);
  char path[4400], real[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", srv->web_root, rel);
  size_t root_len = strlen(srv->web_root);
  if (!realpath(path, real) || strncmp(real, srv->web_root, root_len) || real[root_len] != '/') {
    if (index) return route_studio(r);
    return http_error(r, ORF_SRV_ENOTFOUND, "no such file", NULL);
  }
  int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    return http_error(r, ORF_SRV_ENOTFOUND, "no such file", NULL);
  }
  struct MHD_Response *resp = MHD_create_response_from_fd64((uint64_t)st.st_size, fd);
  if (!resp) {
    close(fd);
    return MHD_NO;
  }
  r->bytes = (size_t)st.st_size;
  MHD_add_response_header(resp, "Content-Type", content_type(real));
  if (!strncmp(rel, "vendor/", 7)) {
    MHD_add_response_header(resp, "Cache-Control", "public, max-age=31536000, immutable");
    return http_queue(r, 200, resp);
  }
  char etag[64];
  snprintf(etag, sizeof etag, "\"%llx-%llx.%lx\"", (unsigned long long)st.st_size,
           (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
  MHD_add_response_header(resp, "Cache-Control", "no-cache");
  MHD_add_response_header(resp, "ETag", etag);
  const char *inm = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
  if (inm && !strcmp(inm, etag)) {
    MHD_destroy_response(resp); /* closes fd */
    resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "ETag", etag);
    r->bytes = 0;
    return http_queue(r, 304, resp);
  }
  return http_queue(r, 200, resp);
}
