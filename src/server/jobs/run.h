/*
 * run.h - one job's run of the engine, and what ties it to the cache
 * (internal to src/server/jobs; run.c): orf_generate on the job's image or
 * orf_repair on its mesh, by the job's kind; each stage's mesh is stored in
 * the cache as "<stage>.ply" before its event is published, and a complete
 * job stores "meta.json" and hands back its final event (the shapes are
 * jobs.h's).  jobs.c keeps everything else of
 * a job - the queue, admission, its state, events and waiters - and hands
 * this file a way to publish a stage.
 */
#ifndef ORF_JOBS_RUN_H
#define ORF_JOBS_RUN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "generator/generators.h"
#include "job_events.h"
#include "jobs.h"
#include "orfeas.h"

/* Publishes a stage event (JSON text, taken over) of stage s of the job's
 * kind, not the final one; called on the worker's thread, with no lock
 * held. */
typedef void (*orf_jobs__publish_fn)(void *ctx, char *event, int s);

/* One job's run. */
typedef struct orf_jobs__run {
  const orf_jobs_config *cfg; /* the engine's settings, the cache, the metrics, fail_alloc_after */
  const char *hash;           /* the request hash: the cache entry the results go to */
  orf_job_kind kind;
  const uint8_t *image; /* the image, or the mesh file of a repair */
  size_t image_size;
  const orf_params *params;         /* a generation's */
  orf_precision prec;               /* a generation's GPU field storage */
  const orf_repair_params *repair;  /* a repair's */
  const char *hint;                 /* a repair's file extension for the importer, or NULL */
  atomic_int *cancel;           /* the engine's cancel flag */
  orf_jobs__publish_fn publish; /* each stage but the last, once stored */
  void *ctx;                    /* publish's */
} orf_jobs__run;

/* Runs the engine (on the calling worker thread, no lock held) and returns
 * the job's outcome: ORF_OK with *final_event (meta.json stored; the
 * caller owns the text), ORF_ECANCELED, or an error (*final_event NULL),
 * with the engine's own reason for it in msg (msg_size bytes; "" when it
 * gives none: the code's sentence is then the reason). */
int orf_jobs__run_engine(const orf_jobs__run *run, char **final_event, char *msg, size_t msg_size);

/* A stage's mesh m into the cache as "<stage>.ply", its figures into
 * stages[s] and the export's time added to *export_ms, then, but for the
 * last stage (published after meta.json), its event with extra's members
 * (taken over; may be NULL) published.  ORF_OK or the export's, the
 * cache's or the event's error. */
int orf_jobs__store_stage(const orf_jobs__run *run, int s, const orf_mesh *m, int grid, double elapsed_ms,
                          orf_stage_info *stages, double *export_ms, json_t *extra);

/* A generation made by a remote generator (run_remote.c): the geometry
 * engine's first stages as previews, the generator's mesh repaired as the
 * final stage, meta.json; as orf_jobs__run_engine returns, with
 * ORF_SRV_EGENERATOR and the reason in msg when the generator failed.
 * o: the engine's options for this job. */
int orf_jobs__run_remote(const orf_jobs__run *run, const orf_remote_request *remote, orf_job_opts *o,
                         char **final_event, char *msg, size_t msg_size);

#endif
