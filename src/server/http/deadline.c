/*
 * deadline.c - deadlines on the request phases a client controls: its
 * request headers, and its request body.
 *
 * libmicrohttpd's own timeout (MHD_OPTION_CONNECTION_TIMEOUT) is an idle
 * timeout: a client that sends one byte every few seconds - the
 * "slowloris" attack on the headers, or its twin on the body - is never
 * idle and holds its connection for ever.  Servers bound these phases as
 * a whole instead, and this follows Apache's mod_reqtimeout:
 *  - headers: a client has --connection-timeout seconds from the moment it
 *    connects (or its previous response ended) to send the whole of its
 *    request headers, however it trickles them (mod_reqtimeout header=);
 *  - body: the body must keep up a minimum rate.  Its deadline starts at
 *    --connection-timeout seconds when the headers are in and moves one
 *    second later for every --min-upload-rate bytes received
 *    (mod_reqtimeout body=T,MinRate=R), so a large upload on a slow but
 *    honest link finishes while a trickle is cut off; 0 turns the body
 *    deadline off (the idle timeout still holds).
 * The response phase is not under a deadline: the idle timeout covers a
 * client that stops reading, and a job's stream may rightly be quiet while
 * the next stage is computed.
 *
 * From outside the library: every connection is registered when it opens
 * (MHD_OPTION_NOTIFY_CONNECTION) with its header deadline; the access
 * handler moves it to the body phase, pushes the body deadline as data
 * comes, and lifts it when the body is complete; the end of a response
 * starts the next request's header phase.  A watcher thread shuts down
 * (shutdown(2), not close: the descriptor stays libmicrohttpd's) the
 * sockets past their deadline, counted in
 * orfeas_connections_timed_out_total{phase}; the library then sees the end
 * of the stream and closes the connection on its own thread.  The
 * descriptor cannot have been closed and reused meanwhile: libmicrohttpd
 * notifies the close before closing the socket, and the notification and
 * the watcher take the same lock.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "http_int.h"
#include "util.h"

#define WATCH_PERIOD_MS 250

typedef enum { PHASE_NONE, PHASE_HEADERS, PHASE_BODY } phase;

typedef struct watched {
  struct watched *prev, *next;
  int fd;
  phase ph;
  double deadline;     /* monotonic seconds, of the phase */
  double body_start;   /* PHASE_BODY: when the headers were in */
  uint64_t body_bytes; /* PHASE_BODY: received so far */
} watched;

struct http_deadlines {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int stop;
  double timeout_s;
  double min_body_rate; /* bytes/s; 0: no body deadline */
  orf_metrics *metrics;
  watched head; /* sentinel of a circular list of every open connection */
};

static void *watch_main(void *arg) {
  http_deadlines *d = arg;
  pthread_mutex_lock(&d->mu);
  while (!d->stop) {
    struct timespec ts = orf_mono_after(WATCH_PERIOD_MS / 1000.0);
    pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    double now = orf_now_mono();
    for (watched *w = d->head.next; w != &d->head; w = w->next)
      if (w->ph != PHASE_NONE && now > w->deadline && w->fd >= 0) {
        shutdown(w->fd, SHUT_RDWR);
        orf_metrics_timed_out(d->metrics, w->ph == PHASE_BODY ? "body" : "headers");
        w->ph = PHASE_NONE;
      }
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

int http_deadlines_start(http_deadlines **out, double timeout_s, double min_body_rate, orf_metrics *metrics) {
  *out = NULL;
  http_deadlines *d = calloc(1, sizeof *d);
  if (!d) return ORF_ENOMEM;
  d->timeout_s = timeout_s;
  d->min_body_rate = min_body_rate;
  d->metrics = metrics;
  d->head.prev = d->head.next = &d->head;
  pthread_mutex_init(&d->mu, NULL);
  orf_cond_init_mono(&d->cv);
  if (pthread_create(&d->thread, NULL, watch_main, d)) {
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
    return ORF_ENOMEM;
  }
  *out = d;
  return ORF_OK;
}

void http_deadlines_stop(http_deadlines *d) {
  if (!d) return;
  orf_thread_stop(d->thread, &d->mu, &d->cv, &d->stop);
  /* the daemon is stopped: it has notified every close, the list is empty */
  pthread_cond_destroy(&d->cv);
  pthread_mutex_destroy(&d->mu);
  free(d);
}

void http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code) {
  server *srv = cls;
  http_deadlines *d = srv->deadlines;
  if (!d) return;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    watched *w = calloc(1, sizeof *w);
    if (!w) return; /* that connection only has the idle timeout */
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    w->fd = ci ? ci->connect_fd : -1;
    pthread_mutex_lock(&d->mu);
    w->ph = PHASE_HEADERS;
    w->deadline = orf_now_mono() + d->timeout_s;
    w->next = d->head.next;
    w->prev = &d->head;
    d->head.next->prev = w;
    d->head.next = w;
    pthread_mutex_unlock(&d->mu);
    *socket_context = w;
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    watched *w = *socket_context;
    if (!w) return;
    pthread_mutex_lock(&d->mu);
    w->prev->next = w->next;
    w->next->prev = w->prev;
    pthread_mutex_unlock(&d->mu);
    free(w);
    *socket_context = NULL;
  }
}

/* The watched entry of conn, with d's lock held; NULL (and no lock) when
 * there is none. */
static watched *lock_watched(http_deadlines *d, struct MHD_Connection *conn) {
  if (!d) return NULL;
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  watched *w = ci ? ci->socket_context : NULL;
  if (w) pthread_mutex_lock(&d->mu);
  return w;
}

void http_deadline_request(server *srv, struct MHD_Connection *conn, int has_body) {
  http_deadlines *d = srv->deadlines;
  watched *w = lock_watched(d, conn);
  if (!w) return;
  w->ph = has_body && d->min_body_rate > 0 ? PHASE_BODY : PHASE_NONE;
  w->body_start = orf_now_mono();
  w->body_bytes = 0;
  w->deadline = w->body_start + d->timeout_s;
  pthread_mutex_unlock(&d->mu);
}

void http_deadline_body(server *srv, struct MHD_Connection *conn, size_t n) {
  http_deadlines *d = srv->deadlines;
  watched *w = lock_watched(d, conn);
  if (!w) return;
  if (w->ph == PHASE_BODY) {
    w->body_bytes += n;
    w->deadline = w->body_start + d->timeout_s + (double)w->body_bytes / d->min_body_rate;
  }
  pthread_mutex_unlock(&d->mu);
}

/* Puts conn in phase ph: none (no deadline), or headers (due within the
 * timeout from now). */
static void set_phase(server *srv, struct MHD_Connection *conn, phase ph) {
  http_deadlines *d = srv->deadlines;
  watched *w = lock_watched(d, conn);
  if (!w) return;
  w->ph = ph;
  if (ph == PHASE_HEADERS) w->deadline = orf_now_mono() + d->timeout_s;
  pthread_mutex_unlock(&d->mu);
}

void http_deadline_body_done(server *srv, struct MHD_Connection *conn) { set_phase(srv, conn, PHASE_NONE); }

void http_deadline_next_request(server *srv, struct MHD_Connection *conn) {
  set_phase(srv, conn, PHASE_HEADERS);
}
