/*
 * guard.c - what every request meets before its route (see http_int.h):
 * the per-client rate limit and the CORS rules.
 *
 * Rate limit (--rate-limit R --rate-burst B, off by default): each client
 * address has a token bucket (ratelimit.h); a request without a token is
 * answered at once, before any body is read, with 429, docs/API.md's JSON error
 * of code rate_limited and Retry-After (whole seconds until the next
 * token, at least 1).  The probes - /health, /ready, /metrics - are never
 * limited, so an orchestrator or Prometheus is not locked out by clients
 * sharing its address.  Off by default because the server listens on
 * loopback and is normally deployed behind a reverse proxy, where every
 * request comes from the proxy's address: a per-address limit would then
 * throttle all clients together; the job queue (429 queue_full) already
 * protects the expensive work.  An operator exposing the server directly
 * turns it on.  X-Forwarded-For is not trusted (any client can write it).
 *
 * CORS (the Fetch standard's CORS protocol), off unless --cors-origin names
 * one origin: a request whose Origin is exactly that origin gets
 * Access-Control-Allow-Origin with it (and Vary: Origin on every response,
 * so caches keep the two apart), and an OPTIONS preflight from it is
 * answered 204 with the methods and headers the API uses.  Any other
 * origin gets no CORS header, so a browser keeps its same-origin policy.
 * Credentials are never allowed (the API uses bearer tokens, not cookies).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"

#define CORS_METHODS "GET, POST, DELETE, OPTIONS"
#define CORS_HEADERS "Content-Type, Authorization, Accept"
#define CORS_EXPOSE "X-Request-Id, Location, Retry-After, Content-Disposition, ETag"
#define CORS_MAX_AGE "600"

int http_cors_origin_valid(const char *origin) {
  const char *host;
  if (!strncmp(origin, "http://", 7))
    host = origin + 7;
  else if (!strncmp(origin, "https://", 8))
    host = origin + 8;
  else
    return 0;
  if (!*host) return 0;
  /* a host and an optional port: letters, digits, '.', '-', ':' and the
   * brackets of an IPv6 literal; no path, no space, no CR or LF */
  for (const char *p = host; *p; p++) {
    char c = *p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
             c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return 0;
  }
  return 1;
}

/* Whether the request's Origin is the configured one. */
static int origin_allowed(request *r) {
  const char *want = r->srv->cfg.cors_origin;
  if (!want[0]) return 0;
  const char *origin = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Origin");
  return origin && !strcmp(origin, want);
}

void http_cors_headers(request *r, struct MHD_Response *resp) {
  if (!r->srv->cfg.cors_origin[0]) return;
  MHD_add_response_header(resp, "Vary", "Origin");
  if (!origin_allowed(r)) return;
  MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->srv->cfg.cors_origin);
  MHD_add_response_header(resp, "Access-Control-Expose-Headers", CORS_EXPOSE);
}

static int exempt(orf_route route) {
  return route == ORF_ROUTE_HEALTH || route == ORF_ROUTE_READY || route == ORF_ROUTE_METRICS;
}

static enum MHD_Result rate_limited(request *r, double retry_s) {
  int retry = (int)ceil(retry_s);
  if (retry < 1) retry = 1;
  json_t *j = json_pack("{s:s, s:s, s:i}", "error", "too many requests from this address; slow down", "code",
                        "rate_limited", "retry_after_s", retry);
  struct MHD_Response *resp = http_json_response(r, j);
  char text[16];
  snprintf(text, sizeof text, "%d", retry);
  if (resp) MHD_add_response_header(resp, "Retry-After", text);
  return http_queue(r, 429, resp);
}

int http_guard_admit(request *r, enum MHD_Result *ret) {
  server *srv = r->srv;
  if (srv->ratelimit && !exempt(r->route)) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    double retry;
    if (!orf_ratelimit_take(srv->ratelimit, ci ? ci->client_addr : NULL, orf_now_mono(), &retry)) {
      *ret = rate_limited(r, retry);
      return 1;
    }
  }
  if (!strcmp(r->method, "OPTIONS") && srv->cfg.cors_origin[0]) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
    if (resp && origin_allowed(r)) {
      MHD_add_response_header(resp, "Access-Control-Allow-Methods", CORS_METHODS);
      MHD_add_response_header(resp, "Access-Control-Allow-Headers", CORS_HEADERS);
      MHD_add_response_header(resp, "Access-Control-Max-Age", CORS_MAX_AGE);
    }
    if (resp) MHD_add_response_header(resp, "Allow", CORS_METHODS);
    *ret = http_queue(r, 204, resp);
    return 1;
  }
  return 0;
}
