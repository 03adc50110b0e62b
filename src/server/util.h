/*
 * util.h - the small things every part of the server needs, written once:
 * the monotonic clock, a deadline for a condition variable on it, and the
 * check of the hex names the API hands out (request hashes, job ids).
 */
#ifndef ORF_SRV_UTIL_H
#define ORF_SRV_UTIL_H

#include <stddef.h>
#include <time.h>

/* CLOCK_MONOTONIC in seconds: for durations and deadlines, never dates. */
double orf_now_mono(void);

/* The CLOCK_MONOTONIC time `seconds` from now, for pthread_cond_timedwait
 * on a condition variable whose clock was set to CLOCK_MONOTONIC. */
struct timespec orf_mono_after(double seconds);

/* 1 when s is exactly n characters of [0-9a-f] followed by its NUL (the
 * form of request hashes, 64, and job ids, 32), else 0 (s NULL: 0). */
int orf_is_hex(const char *s, size_t n);

#endif
