/*
 * srv_error.h - error codes of the server, beyond the engine's ORF_E*
 * (include/orfeas.h).  http_status.c is the one place that maps every code,
 * engine's and server's, to an HTTP status and an docs/API.md `code`.
 */
#ifndef ORF_SRV_ERROR_H
#define ORF_SRV_ERROR_H

enum {
  ORF_SRV_EQUEUEFULL = -100, /* the job queue is full: 429 queue_full */
  ORF_SRV_EDRAINING = -101,  /* shutting down: 503 draining */
  ORF_SRV_ENOTFOUND = -102,  /* no such job, result or cache entry: 404 */
  ORF_SRV_ECONFLICT = -103,  /* the job has already finished: 409 */
  ORF_SRV_ECORRUPT = -104,   /* a cache file failed its checksum: dropped, treated as a miss */
  ORF_SRV_ETOOBIG = -105,    /* the job alone needs more than the whole budget: 507 */
};

#endif
