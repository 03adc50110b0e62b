/*
 * job_events.h - the JSON texts a job publishes (private to jobs/: jobs.c
 * and run.c): stage events, the final error event and meta.json, in the
 * shapes documented in jobs.h (docs/API.md's progressive stream and
 * generate response, without the parts the HTTP layer adds).  Built with
 * jansson; numbers that are not counts are rounded to 3 decimals so the
 * texts stay short and stable.
 */
#ifndef ORF_JOB_EVENTS_H
#define ORF_JOB_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "orfeas.h"

/* What a job keeps of one stage for its event and meta.json. */
typedef struct orf_stage_info {
  int grid;
  size_t vertices, faces;
  double elapsed_ms; /* from the job's start */
} orf_stage_info;

/* Builds the event of stage s into a new NUL-terminated string *out that
 * the caller frees with orf_free(); *len gets its length.  final (may be
 * NULL for the first three stages) is the job's result: the
 * final_optimized event carries its mesh report and dropped pieces as
 * docs/API.md's "mesh" object, as meta.json does.  Returns ORF_OK or
 * ORF_ENOMEM (*out then NULL). */
int orf_jobev_stage(char **out, size_t *len, orf_stage s, const orf_stage_info *info,
                    const orf_result *final);

/* Writes {"status":"error","error":<sentence>,"code":<name>} for the
 * ORF_E* code err into buf (cap bytes, NUL-terminated).  Never fails for
 * cap >= 192: without memory for jansson it formats the same text by hand
 * (the sentences need no escaping). */
void orf_jobev_error(char *buf, size_t cap, int err);

/* Builds meta.json (see jobs.h) into a new buffer *out of *len bytes (no
 * terminating NUL counted; one is there) that the caller frees with
 * orf_free().  stages holds the four stages in order; res is the job's
 * result (its report, timings, mask source and dropped pieces, read only);
 * export_ms is the time spent exporting the stage PLYs.  Returns ORF_OK or
 * ORF_ENOMEM. */
int orf_jobev_meta(char **out, size_t *len, const char *hash, const orf_params *p,
                   const orf_stage_info stages[ORF_STAGE_COUNT], const orf_result *res, double export_ms);

#endif
