/*
 * util.h - the small things every part of the server needs, written once:
 * the monotonic clock, a condition variable on it and a deadline for one,
 * the stop of a thread that waits on one, and the check of the hex names
 * the API hands out (request hashes, job ids).
 */
#ifndef ORF_SRV_UTIL_H
#define ORF_SRV_UTIL_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

/* CLOCK_MONOTONIC in seconds: for durations and deadlines, never dates. */
double orf_now_mono(void);

/* The CLOCK_MONOTONIC time `seconds` from now, for pthread_cond_timedwait
 * on a condition variable whose clock was set to CLOCK_MONOTONIC. */
struct timespec orf_mono_after(double seconds);

/* pthread_cond_init of a condition variable whose timed waits run on
 * CLOCK_MONOTONIC (orf_mono_after); 0, or pthread's error number. */
int orf_cond_init_mono(pthread_cond_t *cv);

/* Stops a thread that waits on cv, under mu, until *stop: sets *stop under
 * mu, wakes it, and joins it. */
void orf_thread_stop(pthread_t thread, pthread_mutex_t *mu, pthread_cond_t *cv, int *stop);

/* 1 when s is exactly n characters of [0-9a-f] followed by its NUL (the
 * form of request hashes, 64, and job ids, 32), else 0 (s NULL: 0). */
int orf_is_hex(const char *s, size_t n);

#endif
