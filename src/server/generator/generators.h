/*
 * generators.h - the remote generators of issue 16: Hunyuan3D-2 API
 * servers declared with --generator NAME=URL (ORFEAS_GENERATORS), which a
 * request chooses with generator=NAME (the default, "geometry", is the
 * engine itself).  This module holds, per generator: its URL, the version
 * of the contract it speaks (2.0 or 2.1, told apart by GET /health), its
 * last health check, a bound on its jobs in flight
 * (--generator-concurrency: the rest wait), and its counts for /metrics;
 * and the requests waiting to run, by request hash: the HTTP layer
 * registers one before it submits the job, the job's run finds it
 * (jobs/run.c, then jobs/run_remote.c).  Thread-safe.
 */
#ifndef ORF_GENERATORS_H
#define ORF_GENERATORS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

typedef struct orf_generators orf_generators;

#define ORF_GENERATOR_NAME_MAX 32 /* bytes of a name, NUL included */

/* What a remote generation asks of its generator. */
typedef struct orf_remote_request {
  int index; /* the generator's, in declaration order */
  char name[ORF_GENERATOR_NAME_MAX];
  long long seed; /* -1: the generator's own */
  int steps;      /* num_inference_steps; 0: the generator's own */
  int octree;     /* octree_resolution, 64..512 (from the quality) */
  int face_count; /* 1,000..100,000 (max_faces or F(quality)) */
} orf_remote_request;

/* Parses spec ("NAME=URL,NAME=URL", "" for none): names of letters,
 * digits, '-' and '_' (not "geometry", each once), URLs http:// or
 * https://.  Checks each generator's /health once (never fatal).  ORF_OK
 * with *out; ORF_EINVAL with the reason in err; ORF_ENOMEM. */
int orf_generators_create(orf_generators **out, const char *spec, double timeout_s, int concurrency,
                          char *err, size_t err_size);
void orf_generators_free(orf_generators *g);

/* Generators declared (0 when g is NULL), and the index of a name, or -1. */
int orf_generators_count(const orf_generators *g);
int orf_generators_find(const orf_generators *g, const char *name);
const char *orf_generators_name(const orf_generators *g, int index);

/* The request of hash for the job's run (1; kept until
 * orf_generators_forget), or 0 when none is registered. */
int orf_generators_register(orf_generators *g, const char *hash, const orf_remote_request *rq);
int orf_generators_lookup(orf_generators *g, const char *hash, orf_remote_request *rq);
void orf_generators_forget(orf_generators *g, const char *hash);

/* Makes the model of rq from the subject's PNG (png_size bytes) on its
 * generator, within --generator-timeout, after waiting for one of its
 * --generator-concurrency slots: *glb (malloc'd, *glb_size bytes), a GLB.
 * tick(ctx, elapsed_s, waiting) is called about every poll while it
 * works (waiting: 1 while it waits for a slot); a non-zero return, or
 * *cancel, stops it (ORF_ECANCELED).  ORF_SRV_EGENERATOR with the
 * reason, in plain words, in msg; the outcome is counted for /metrics and
 * the generator's health noted. */
typedef int (*orf_generator_tick_fn)(void *ctx, double elapsed_s, int waiting);
int orf_generators_run(orf_generators *g, const orf_remote_request *rq, const uint8_t *png, size_t png_size,
                       atomic_int *cancel, orf_generator_tick_fn tick, void *ctx, uint8_t **glb,
                       size_t *glb_size, char *msg, size_t msg_size);

/* The generators as JSON, for /health, /api/v1/gpu/stats and
 * /api/v1/params: [{"name","url","version":"2.0"|"2.1"|null,"healthy",
 * "last_check_s_ago","last_error"?,"in_flight","concurrency"}]. */
json_t *orf_generators_json(orf_generators *g);

/* Appends the generators' Prometheus series (requests by outcome,
 * seconds, in flight) to text (malloc'd, *len bytes; realloc'd). */
int orf_generators_metrics(orf_generators *g, char **text, size_t *len);

#endif
