/*
 * jobs.h - the job manager: a bounded first-in-first-out queue, a fixed set
 * of worker threads running the engine, and single flight - a request whose
 * hash is already queued or running joins that job instead of starting its
 * own (counted as coalesced in the cache's stats).
 *
 * A job is of one of two kinds (orf_job_kind): the generation of a model
 * from an image (orf_generate, orf_jobs_submit) or the repair of a mesh
 * (orf_repair, orf_jobs_submit_repair).  Both go through the same queue,
 * admission, single flight, events and cache; they differ in their stages
 * (orf_job_stage_name) and in their final event and meta.json (below).
 *
 * A job's stages arrive as events: JSON objects (text) in the shape of one
 * line of docs/API.md's progressive stream, without "url" (the HTTP layer adds
 * the URL in the format each client asked for):
 *   {"stage":"voxel_preview","progress":25,"status":"processing",
 *    "data":{"type":"voxel_grid","dimensions":[32,32,32],"vertices":V,"faces":F,"elapsed_ms":T}}
 *   ... rough_mesh (50, "type":"mesh"), refined_mesh (75),
 *   {"stage":"final_optimized","progress":100,"status":"complete","data":{...},"mesh":{MESH}}
 * or a last {"status":"error","error":"<sentence>","code":"<snake_case>"}
 * (a cancelled job ends with code "cancelled"; a failed repair's sentence
 * is the engine's own reason when it gives one, such as the importer's).
 * MESH is docs/API.md's mesh object.  A repair's stages are imported (33),
 * rough_solid (66; absent when the mesh is passed through unremeshed or
 * its grid is no finer than the rough one) and
 * final_repaired (100), each {"type":"mesh",...}; its final event carries,
 * instead of "mesh" alone, the figures of orf_repair_figures_json but
 * "quality" and "timings_ms" ("input", "done", "mesh", "fidelity",
 * "winding_evals", "warning"?).  Each stage's mesh is stored in the cache as "<stage>.ply"
 * (binary PLY, the canonical form every other format is converted from)
 * before its event is published, so an event's URL can always be fetched.
 * When the job completes, "meta.json" is stored too: docs/API.md's generate
 * response without "cached", "format", "download_url" and the stage URLs:
 *   {"request_hash","status":"complete","mode","quality","mesh":{...},
 *    "stages":[{"stage","vertices","faces","elapsed_ms"}...],
 *    "timings_ms":{"decode","mask","field","mesh","smooth","simplify","export","total"}}
 * and for a repair {"request_hash","status":"complete", the figures of
 * orf_repair_figures_json, "stages":[...] (the stages it had)} with
 * "export" added to its "timings_ms".
 *
 * Interest and cancellation: every reference from orf_jobs_submit() is an
 * interest in the result.  When the last interest is released before the
 * job has finished, the job is cancelled (a client that disconnects from a
 * progressive stream cancels its job unless another request shares it).
 * A job submitted with keep = 1 (the /jobs API) is also held by the manager
 * until it finishes or orf_jobs_cancel() is called.
 * Finished jobs stay findable by id for keep_finished_s seconds, within
 * two caps on what they hold: keep_finished_max jobs and keep_finished_bytes
 * bytes (the job and its events); past either cap the oldest finished jobs
 * are dropped first (their memory is freed once no handle refers to them).
 *
 * Admission: every job states its peak memory before it starts (the
 * estimate given to orf_jobs_submit: orf_estimate_peak_bytes on the CPU,
 * orf_estimate_device_bytes on a GPU; a repair's orf_estimate_repair_bytes,
 * host memory, which on a GPU server is its host estimate and 0 on the
 * device).  A queued job starts when a worker is
 * free and in_use + estimate <= budget; it holds its estimate until it ends
 * (whatever way).  When jobs run on a GPU the budget is the GPU's, and a
 * second budget may bound host memory (host_budget_bytes, with each job's
 * host_estimate): a job then starts when it fits in both.  The queue is first in,
 * first out, except that when the head does not fit, a later job that fits
 * may start before it - at most max_overtakes times, after which nothing
 * passes the head until it has started (no starvation either way).  A job
 * whose estimate alone exceeds a whole budget is refused at submit with
 * ORF_SRV_ETOOBIG.  An allocation that fails inside a job ends it FAILED
 * with ORF_ENOMEM (code "insufficient_memory") and releases its estimate.
 * Thread-safe: every function may be called from any thread.
 */
#ifndef ORF_JOBS_H
#define ORF_JOBS_H

#include <stddef.h>

#include "cache/cache.h"
#include "metrics.h"
#include "orfeas.h"

typedef struct orf_jobs orf_jobs;
typedef struct orf_job orf_job;

typedef struct orf_jobs_config {
  int workers;            /* worker threads (jobs running at once), >= 1 */
  int queue_max;          /* queued (not yet running) jobs at most, >= 0 */
  int engine_threads;     /* threads each job's engine uses, >= 1 */
  double keep_finished_s; /* how long finished jobs stay findable by id */
  orf_limits limits;      /* decoder limits for every job */
  orf_cache *cache;       /* where results go (required) */
  orf_metrics *metrics;   /* may be NULL */
  /* Memory admission (see "Admission" above); budget_bytes <= 0: none. */
  double budget_bytes;        /* memory jobs may hold at once */
  double host_budget_bytes;   /* host memory jobs on a GPU may hold at once; <= 0: none */
  int max_overtakes;          /* times the head of the queue may be passed by smaller jobs; <= 0: 8 */
  long fail_alloc_after;      /* tests only: each job's Nth engine allocation fails (0: never) */
  orf_device device;          /* where jobs run: ORF_DEVICE_CUDA, else (0 too) the CPU */
  int keep_finished_max;      /* finished jobs kept findable, at most; <= 0: 4096 */
  size_t keep_finished_bytes; /* bytes those jobs hold, at most; 0: 16 MiB */
  orf_segmenter *segmenter;   /* the segmentation network jobs use; may be NULL */
  /* remote generators (issue 16): a generation whose hash is registered
   * there (orf_generators_register) is made by one (jobs/run_remote.c);
   * may be NULL */
  struct orf_generators *generators;
} orf_jobs_config;

/* What a job computes. */
typedef enum {
  ORF_JOB_GENERATE, /* a model from an image (orf_generate) */
  ORF_JOB_REPAIR    /* a mesh made printable (orf_repair) */
} orf_job_kind;

/* The stages of a kind of job, in order: how many (4 or 3), each one's
 * name (orf_stage_name's, or orf_repair_stage_name's; NULL out of range)
 * and the progress its event reports (25, 50, 75, 100; 33, 66, 100). */
int orf_job_stage_count(orf_job_kind k);
const char *orf_job_stage_name(orf_job_kind k, int stage);
int orf_job_stage_progress(orf_job_kind k, int stage);

/* The kind and stage of a stage name (the first len bytes of name), as
 * results URLs name them: 0, or -1 when no kind has that stage. */
int orf_job_stage_lookup(const char *name, size_t len, orf_job_kind *k, int *stage);

typedef enum {
  ORF_JOB_QUEUED,
  ORF_JOB_RUNNING,
  ORF_JOB_COMPLETE,
  ORF_JOB_FAILED,
  ORF_JOB_CANCELLED
} orf_job_status;

/* "queued", "running", "complete", "failed", "cancelled" */
const char *orf_job_status_name(orf_job_status s);

typedef struct orf_job_state {
  orf_job_status status;
  int progress;    /* 0, then the last stage's (orf_job_stage_progress) */
  int stage;       /* last stage done (of the job's kind), -1 before the first */
  size_t events;   /* events published so far */
  size_t position; /* place in the queue while queued (1 = next), else 0 */
  int error;       /* ORF_E* / ORF_SRV_E* of a failed job, else 0 */
} orf_job_state;

/* Starts the manager's worker threads.  On success *out is freed with
 * orf_jobs_free().  Returns ORF_OK, ORF_EINVAL or ORF_ENOMEM. */
int orf_jobs_create(orf_jobs **out, const orf_jobs_config *cfg);

/* Stops taking jobs (orf_jobs_submit then fails with ORF_SRV_EDRAINING) and
 * waits until every queued and running job has finished. */
void orf_jobs_drain(orf_jobs *js);

/* Cancels what is left, joins the workers, frees the manager.  Jobs still
 * referenced stay valid until released. */
void orf_jobs_free(orf_jobs *js);

/* Submits the generation (ORF_JOB_GENERATE) of `hash` (64 hex) from a copy of the image and
 * the parameters, run with GPU field precision `prec` (the hash must
 * already tell precisions apart: see http_request_hash), or joins the queued or running job of the same hash
 * (*coalesced = 1).  On success *out is a new reference (an interest).
 * estimate_bytes and host_estimate_bytes are the job's peaks in the budget's
 * memory and in the host budget's (ignored without one).
 * Errors: ORF_SRV_EQUEUEFULL, ORF_SRV_EDRAINING, ORF_SRV_ETOOBIG (an
 * estimate exceeds its whole budget), ORF_ENOMEM. */
int orf_jobs_submit(orf_jobs *js, const char *hash, const uint8_t *image, size_t size, const orf_params *p,
                    orf_precision prec, size_t estimate_bytes, size_t host_estimate_bytes, int keep,
                    orf_job **out, int *coalesced);

/* Submits the repair of `hash` (64 hex: SHA-256 over "repair", the
 * canonical parameters and the mesh) from a copy of the mesh file and the
 * parameters; hint is the file's extension for the importer (may be NULL).
 * Everything else - joining, keep, the estimates, the errors - as
 * orf_jobs_submit. */
int orf_jobs_submit_repair(orf_jobs *js, const char *hash, const uint8_t *mesh, size_t size, const char *hint,
                           const orf_repair_params *p, size_t estimate_bytes, size_t host_estimate_bytes,
                           int keep, orf_job **out, int *coalesced);

/* Budget figures: bytes held by running jobs, and the budget (0 = none);
 * orf_jobs_host_budget the same for the host budget beside a GPU. */
void orf_jobs_budget(orf_jobs *js, double *in_use_bytes, double *budget_bytes);
void orf_jobs_host_budget(orf_jobs *js, double *in_use_bytes, double *budget_bytes);

/* How many of the queued jobs could start together right now under the
 * budget, in queue order (the scheduler's own rule), clamped to 1..32. */
int orf_jobs_batch(orf_jobs *js);

/* The job of that id (32 hex), as a new reference that is NOT an interest
 * (releasing it never cancels), or NULL. */
orf_job *orf_jobs_find(orf_jobs *js, const char *id);

/* Cancels a job by id: ORF_OK, ORF_SRV_ENOTFOUND, or ORF_SRV_ECONFLICT when
 * it has already finished. */
int orf_jobs_cancel(orf_jobs *js, const char *id);

/* Finished jobs kept findable now, and the bytes they hold (each job's
 * record and its events, as counted against keep_finished_bytes). */
void orf_jobs_finished(orf_jobs *js, size_t *count, size_t *bytes);

/* 1 when a new job would be refused with ORF_SRV_EQUEUEFULL now (every
 * worker busy and queue_max jobs waiting), else 0. */
int orf_jobs_full(orf_jobs *js);

/* Jobs queued and running now. */
void orf_jobs_counts(orf_jobs *js, size_t *queued, size_t *running);

/* Seconds a client refused with 429 should wait, from the recent completion
 * rate (at least 1). */
int orf_jobs_retry_after(orf_jobs *js);

/* Drops a reference from submit or find (and its interest, if it is one). */
void orf_job_release(orf_job *j);

const char *orf_job_id(const orf_job *j);   /* 32 hex digits */
const char *orf_job_hash(const orf_job *j); /* 64 hex digits */
const orf_params *orf_job_params(const orf_job *j); /* a generation's; zeros for a repair */
orf_job_kind orf_job_kind_of(const orf_job *j);
orf_format orf_job_format(const orf_job *j); /* the format its submitter asked for */

void orf_job_get_state(orf_job *j, orf_job_state *st);

/* Event i (JSON text, NUL-terminated), valid while the job is referenced;
 * NULL when i >= the events published. */
const char *orf_job_event(orf_job *j, size_t i);

/* Callback for orf_job_wait; called once, from any thread, with no lock of
 * the job held. */
typedef void (*orf_job_wake_fn)(void *ctx);

/* Arms a one-shot wake-up for when the job has more than `have` events or
 * has finished.  If that is already the case, returns 1 and arms nothing;
 * else returns 0 and fn(ctx) will be called exactly once (unless
 * orf_job_unwait(j, ctx) is called first).  The check and the arming are
 * atomic, so no wake-up is lost between them. */
int orf_job_wait(orf_job *j, size_t have, orf_job_wake_fn fn, void *ctx);

/* Disarms the wake-up armed with ctx, if it has not fired; afterwards fn(ctx)
 * is neither running nor going to run. */
void orf_job_unwait(orf_job *j, void *ctx);

#endif
