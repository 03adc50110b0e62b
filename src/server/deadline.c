/*
 * deadline.c - the request-header deadline: a client has --connection-timeout
 * seconds from the moment it connects (or its previous response ended) to
 * send the whole of its request headers, however it trickles them.
 *
 * libmicrohttpd's own timeout (MHD_OPTION_CONNECTION_TIMEOUT) is an idle
 * timeout: a client that sends one byte of its headers every few seconds -
 * the "slowloris" attack - is never idle and holds its connection for
 * ever.  Servers bound the header phase as a whole instead (Apache's
 * mod_reqtimeout header=, nginx's client_header_timeout); this does the
 * same from outside the library: every connection is registered when it
 * opens (MHD_OPTION_NOTIFY_CONNECTION) with a deadline, the deadline is
 * lifted when the access handler first sees the request (headers complete)
 * and set again when a response ends (the next request on a kept-alive
 * connection), and a watcher thread shuts down (shutdown(2), not close:
 * the descriptor stays libmicrohttpd's) the sockets past their deadline;
 * the library then sees the end of the stream and closes the connection
 * on its own thread.  The descriptor cannot have been closed and reused
 * meanwhile: libmicrohttpd notifies the close before closing the socket,
 * and the notification and the watcher take the same lock.
 * Bodies are not under this deadline (a large upload on a slow link may
 * take long): a stalled body meets the idle timeout, and the connection
 * limits bound what trickling bodies can hold.
 */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "http_int.h"

#define WATCH_PERIOD_MS 250

typedef struct watched {
  struct watched *prev, *next;
  int fd;
  double deadline; /* monotonic seconds; 0: not in a header phase */
} watched;

struct http_deadlines {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  int stop;
  double timeout_s;
  watched head; /* sentinel of a circular list of every open connection */
};

static void *watch_main(void *arg) {
  http_deadlines *d = arg;
  pthread_mutex_lock(&d->mu);
  while (!d->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += WATCH_PERIOD_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    double now = http_now();
    for (watched *w = d->head.next; w != &d->head; w = w->next)
      if (w->deadline > 0 && now > w->deadline && w->fd >= 0) {
        shutdown(w->fd, SHUT_RDWR);
        w->deadline = 0;
      }
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

int http_deadlines_start(http_deadlines **out, double timeout_s) {
  *out = NULL;
  http_deadlines *d = calloc(1, sizeof *d);
  if (!d) return ORF_ENOMEM;
  d->timeout_s = timeout_s;
  d->head.prev = d->head.next = &d->head;
  pthread_mutex_init(&d->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&d->cv, &ca);
  pthread_condattr_destroy(&ca);
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
  pthread_mutex_lock(&d->mu);
  d->stop = 1;
  pthread_cond_signal(&d->cv);
  pthread_mutex_unlock(&d->mu);
  pthread_join(d->thread, NULL);
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
    w->deadline = http_now() + d->timeout_s;
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

/* Sets the deadline of conn's connection: now + timeout, or none. */
static void set_deadline(server *srv, struct MHD_Connection *conn, int on) {
  http_deadlines *d = srv->deadlines;
  if (!d) return;
  const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  watched *w = ci ? ci->socket_context : NULL;
  if (!w) return;
  pthread_mutex_lock(&d->mu);
  w->deadline = on ? http_now() + d->timeout_s : 0;
  pthread_mutex_unlock(&d->mu);
}

void http_deadline_headers_done(server *srv, struct MHD_Connection *conn) { set_deadline(srv, conn, 0); }

void http_deadline_next_request(server *srv, struct MHD_Connection *conn) { set_deadline(srv, conn, 1); }
