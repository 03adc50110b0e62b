/*
 * util.c - the monotonic clock, its condition variables, a waiting
 * thread's stop, and the hex-name check (util.h).
 */
#include "util.h"

double orf_now_mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timespec orf_mono_after(double seconds) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  long long ns = (long long)ts.tv_nsec + (long long)(seconds * 1e9);
  ts.tv_sec += (time_t)(ns / 1000000000LL);
  ts.tv_nsec = (long)(ns % 1000000000LL);
  return ts;
}

int orf_cond_init_mono(pthread_cond_t *cv) {
  pthread_condattr_t ca;
  int rc = pthread_condattr_init(&ca);
  if (rc) return rc;
  rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (!rc) rc = pthread_cond_init(cv, &ca);
  pthread_condattr_destroy(&ca);
  return rc;
}

void orf_thread_stop(pthread_t thread, pthread_mutex_t *mu, pthread_cond_t *cv, int *stop) {
  pthread_mutex_lock(mu);
  *stop = 1;
  pthread_cond_broadcast(cv);
  pthread_mutex_unlock(mu);
  pthread_join(thread, NULL);
}

int orf_is_hex(const char *s, size_t n) {
  if (!s) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return s[n] == '\0';
}
