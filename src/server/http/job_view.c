/*
 * job_view.c - where a submitted image stands, for the routes that hand
 * out their own ids for /api/v1/jobs' jobs (a batch's entries, the original
 * ORFEAS API's jobs, the Hunyuan3D-2 contract's uids): the job's state
 * while the manager keeps it, else the cache's word on its request hash
 * (a job answered from the cache, or one whose record has expired).
 */
#include <stdio.h>
#include <string.h>

#include "http_int.h"

void http_job_view_get(server *srv, const char *job_id, const char *hash, http_job_view *v) {
  memset(v, 0, sizeof *v);
  v->stage = -1;
  orf_job *job = job_id && job_id[0] ? orf_jobs_find(srv->jobs, job_id) : NULL;
  if (!job) {
    int done = hash && hash[0] && http_cached_result(srv, hash);
    v->status = done ? "complete" : "expired";
    v->progress = done ? 100 : 0;
    v->stage = done ? orf_job_stage_count(ORF_JOB_GENERATE) - 1 : -1;
    if (!done) {
      snprintf(v->error, sizeof v->error, "the job's record has expired and its result is no longer cached");
      snprintf(v->code, sizeof v->code, "not_found");
    }
    return;
  }
  orf_job_state st;
  orf_job_get_state(job, &st);
  v->status = orf_job_status_name(st.status);
  v->progress = st.progress;
  v->stage = st.stage;
  v->position = st.position;
  if (st.status >= ORF_JOB_FAILED && st.events) {
    json_t *ev = json_loads(orf_job_event(job, st.events - 1), 0, NULL);
    const char *e = json_string_value(json_object_get(ev, "error"));
    const char *c = json_string_value(json_object_get(ev, "code"));
    snprintf(v->error, sizeof v->error, "%s", e ? e : http_error_sentence(st.error));
    snprintf(v->code, sizeof v->code, "%s", c ? c : "internal_error");
    json_decref(ev);
  }
  orf_job_release(job);
}
