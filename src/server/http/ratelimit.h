/*
 * ratelimit.h - a per-client request rate limit: one token bucket per
 * client address (the classic token bucket of network traffic shaping:
 * `rate` tokens a second flow into a bucket that holds at most `burst`;
 * a request takes one token or is refused), in a table of bounded size.
 *
 * A client is its IPv4 address, or the /64 prefix of its IPv6 address (a
 * single IPv6 host usually owns a whole /64, so counting full addresses
 * would give it 2^64 buckets).  IPv4-mapped IPv6 addresses count as IPv4.
 *
 * Memory is fixed at creation: the table never grows, whatever the number
 * of clients.  When a new client finds no room, a client whose bucket has
 * refilled to the brim is forgotten first (forgetting it changes nothing:
 * it would come back to a full bucket anyway), else the one seen least
 * recently.  Only a flood from more distinct clients than the table holds
 * can make a client be forgotten early, and then it is at worst let in
 * with a fresh bucket: the limit errs towards letting requests in.
 *
 * Thread-safe: orf_ratelimit_take may be called from any thread.
 */
#ifndef ORF_RATELIMIT_H
#define ORF_RATELIMIT_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct orf_ratelimit orf_ratelimit;

/* Creates a limiter of `rate` requests a second (> 0) with buckets of
 * `burst` tokens (>= 1), tracking at most `clients` clients (rounded up to
 * a multiple of the table's associativity, at least one set).  On success
 * *out must be freed with orf_ratelimit_free().  Returns ORF_OK,
 * ORF_EINVAL (rate or burst out of range) or ORF_ENOMEM. */
int orf_ratelimit_create(orf_ratelimit **out, double rate, double burst, size_t clients);

/* Frees the limiter; NULL does nothing. */
void orf_ratelimit_free(orf_ratelimit *rl);

/* Takes one token from the bucket of the client at addr at time now
 * (monotonic seconds, never decreasing across calls).  Returns 1 when the
 * request may go on, 0 when it is refused: *retry_s (may be NULL) then gets
 * the seconds until a token will be there.  An address that is neither
 * IPv4 nor IPv6 (or NULL) is never limited. */
int orf_ratelimit_take(orf_ratelimit *rl, const struct sockaddr *addr, double now, double *retry_s);

/* The number of clients the table tracks now (for tests and metrics). */
size_t orf_ratelimit_clients(orf_ratelimit *rl);

/* The most clients the table can track (fixed at creation). */
size_t orf_ratelimit_capacity(orf_ratelimit *rl);

#endif
