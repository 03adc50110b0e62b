/*
 * job_events.h - the JSON texts a job publishes (private to jobs/: jobs.c
 * and run.c): stage events, the final error event and meta.json of both
 * kinds of job, in the shapes documented in jobs.h (docs/API.md's
 * progressive stream and generate and repair responses, without the parts
 * the HTTP layer adds).  job_events.c also holds the stage tables of
 * jobs.h (orf_job_stage_name and the rest), the one place that says which
 * stages a kind of job has and what progress each reports.  Built with
 * jansson; numbers that are not counts are rounded to 3 decimals so the
 * texts stay short and stable.
 */
#ifndef ORF_JOB_EVENTS_H
#define ORF_JOB_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs.h"
#include "orfeas.h"

/* What a job keeps of one stage for its event and meta.json. */
typedef struct orf_stage_info {
  int reached; /* the stage happened (a repair passed through has no rough_solid) */
  int grid;
  size_t vertices, faces;
  double elapsed_ms; /* from the job's start */
} orf_stage_info;

/* Builds the event of stage s of a job of kind k into a new NUL-terminated
 * string *out that the caller frees with orf_free(); *len gets its length.
 * final (taken over; NULL for the stages before the last) holds what the
 * last stage's event carries besides its data: orf_jobev_generate_final's
 * or orf_jobev_repair_final's members.  Returns ORF_OK, ORF_EINVAL (no
 * such stage) or ORF_ENOMEM (*out then NULL). */
int orf_jobev_stage(char **out, size_t *len, orf_job_kind k, int s, const orf_stage_info *info, json_t *final);

/* A generation's final members: {"mesh":MESH}, its mesh report and the
 * pieces dropped as docs/API.md's "mesh" object, as meta.json has it.
 * NULL when out of memory. */
json_t *orf_jobev_generate_final(const orf_result *res);

/* A repair's final members: its figures (orf_repair_figures_json text)
 * but "quality" and "timings_ms", which belong to the whole result.
 * NULL when out of memory or not an object. */
json_t *orf_jobev_repair_final(const char *figures);

/* Writes {"status":"error","error":<sentence>,"code":<name>} for the
 * ORF_E* code err into buf (cap bytes, NUL-terminated); the sentence is
 * message when it is given and not empty (the engine's precise reason),
 * else orf_strerror(err).  Never fails for cap >= 192 without a message:
 * without memory for jansson it formats the default text by hand (the
 * default sentences need no escaping). */
void orf_jobev_error(char *buf, size_t cap, int err, const char *message);

/* Builds meta.json (see jobs.h) into a new buffer *out of *len bytes (no
 * terminating NUL counted; one is there) that the caller frees with
 * orf_free().  stages holds the four stages in order; res is the job's
 * result (its report, timings, mask source and dropped pieces, read only);
 * export_ms is the time spent exporting the stage PLYs.  Returns ORF_OK or
 * ORF_ENOMEM. */
int orf_jobev_meta(char **out, size_t *len, const char *hash, const orf_params *p,
                   const orf_stage_info stages[ORF_STAGE_COUNT], const orf_result *res, double export_ms);

/* A repair's meta.json (see jobs.h), as orf_jobev_meta: the figures
 * (orf_repair_figures_json text) with the request hash, the status, the
 * stages reached (of the three in stages) and "export" in "timings_ms".
 * Returns ORF_OK or ORF_ENOMEM. */
int orf_jobev_repair_meta(char **out, size_t *len, const char *hash,
                          const orf_stage_info stages[ORF_REPAIR_STAGE_COUNT], const char *figures,
                          double export_ms);

#endif
