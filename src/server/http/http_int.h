/*
 * http_int.h - what the HTTP layer's files share (internal to
 * src/server/http, and ../server.c, which starts it): the server's state,
 * the per-request context, and the helpers that build responses.  The
 * layer is libmicrohttpd with its own polling threads and epoll; no thread
 * is held per waiting client: a request that waits for a job suspends its
 * connection and the job's wake-up resumes it, and streams are produced by
 * content-reader callbacks that suspend when they have nothing to send.
 *
 * Files here: http.c (dispatch, uploads, responses, logs), http_status.c
 * (error code -> status), responses.c (the generate response, event
 * lines), routes_generate.c (generate, progressive, jobs, events, mask,
 * and the repairing twins of the first three), routes_info.c (health,
 * ready, metrics, stats, params, the OpenAPI document, the fallback page),
 * routes_repair.c (a repair's input: its mesh and parameters), results.c
 * (results and format conversion), static.c (the studio's files), guard.c
 * (rate limit, CORS), ratelimit.c (its token buckets), deadline.c (header
 * and body deadlines).  Beside them: ../server.c (start, signals, drain),
 * ../jobs/ (the job manager), ../cache/ (the deduplication cache),
 * ../memory/ (memory sources and their monitor).
 */
#ifndef ORF_HTTP_INT_H
#define ORF_HTTP_INT_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/cache.h"
#include "cluster/cluster.h"
#include "config.h"
#include "jobs/jobs.h"
#include "memory/memsource.h"
#include "memory/monitor.h"
#include "metrics.h"
#include "orfeas.h"
#include "ratelimit.h"
#include "util.h"

typedef struct http_deadlines http_deadlines;
typedef struct http_batches http_batches; /* batch_store.h */
typedef struct http_uploads http_uploads; /* upload_store.h */
struct orf_generators;                    /* generator/generators.h */

#define ORF_GIB (1024.0 * 1024.0 * 1024.0) /* bytes in the API's "_gb" figures */
#define MAX_FORM_FIELDS 48
#define MAX_FIELD_BYTES 256

typedef struct server {
  orf_server_config cfg;
  orf_limits limits;
  orf_cache *cache;
  orf_jobs *jobs;
  orf_metrics *metrics;
  struct MHD_Daemon *daemon;
  orf_memsources *mem;       /* memory sources (NVML, host, simulated) */
  orf_monitor *monitor;      /* samples them; NULL when --monitor-interval is 0 */
  double device_total_bytes; /* of the budget device, at start */
  orf_device engine_device;  /* ORF_DEVICE_CPU or ORF_DEVICE_CUDA, resolved at start */
  char web_root[4096];       /* resolved (realpath) studio directory, "" when none */
  double started;            /* monotonic seconds */
  atomic_int draining;       /* SIGTERM received */
  orf_ratelimit *ratelimit;  /* per-client token buckets; NULL when --rate-limit is 0 */
  http_deadlines *deadlines; /* the header and body deadlines (deadline.c) */
  orf_segmenter *segmenter;  /* the segmentation network and its matte cache */
  char segment_model_id[17]; /* the model file's SHA-256, 16 hex ("" without a model) */
  _Atomic(orf_cluster *) cluster; /* with --redis, once joined (routes_cluster.c); else NULL */

  /* issue 16: batches, the original API's uploads, the remote generators */
  http_batches *batches;             /* POST /api/v1/batch's (routes_batch.c) */
  http_uploads *uploads;             /* POST /api/upload-image's (routes_compat_orfeas.c) */
  struct orf_generators *generators; /* --generator's (generator/generators.h) */
} server;

/* What a client asked to download a mesh as: a format, the texture
 * (auto: where the format holds one and the result has one) and the
 * compression (GLB only).  The cache holds one result per request hash
 * whatever these are (orf_params_canonical); each is a conversion. */
typedef struct http_variant {
  orf_format format;
  orf_texture_mode texture;
  orf_compress compress;
} http_variant;

/* One HTTP request, from its first callback to its completion. */
typedef struct request {
  server *srv;
  struct MHD_Connection *conn;
  char id[33]; /* X-Request-Id */
  orf_route route;
  char method[8];
  char path[256];
  double t0;
  int status;   /* of the response queued, for logs and metrics */
  size_t bytes; /* body bytes of the response (buffers; streams add as they go) */

  /* upload */
  struct MHD_PostProcessor *pp;
  uint8_t *body; /* raw body, or the multipart `image` field */
  size_t body_len, body_cap;
  int too_large;       /* the body passed max_upload_bytes: the rest is discarded */
  int has_image_field; /* multipart: an `image` field was seen */
  int raw;             /* the body is the image itself */
  char *keys[MAX_FORM_FIELDS], *vals[MAX_FORM_FIELDS];
  size_t vlens[MAX_FORM_FIELDS]; /* bytes of each value so far */
  int nfields;
  char form_error[200]; /* why the form is refused ("" while it is fine) */
  char form_param[65];  /* the parameter it is about, or "" */
  unsigned form_status; /* 400, or 422 when it is about one parameter */
  size_t received;      /* body bytes read so far, kept or not */

  /* the job's input, as read (http_read_input, http_read_repair) */
  orf_job_kind kind;        /* what the route computes */
  orf_params params;        /* a generation's parameters */
  orf_repair_params repair; /* a repair's parameters */
  const char *hint;         /* a repair's file extension from a raw body's media type, or NULL */

  /* waiting for a job (POST /generate, /repair) */
  orf_job *job;
  orf_cluster_watch *cwatch; /* or the cluster job it follows (routes_cluster.c) */
  int cluster_recompute;     /* the cluster's complete result of hash could not be fetched */
  int armed;                 /* a wake-up is armed with this request as ctx */
  int woken;                 /* resumed by the job at least once */
  http_variant want;         /* the answer's format, texture and compression */
  int download;
  char precision[8];    /* precision=auto|fp32|fp16|int8 as asked (see routes_info.c) */
  size_t estimate;      /* peak bytes of the job on the budget device, from the image header */
  size_t host_estimate; /* on a GPU server: its peak host bytes (the host budget's); else 0 */
  orf_precision prec;   /* the job's field storage, resolved (http_job_precision) */
  char hash[65];

  /* issue 16 */
  char upload_filename[128];              /* the `image` part's file name, "" when none */
  struct http_batch_upload *batch_upload; /* POST /api/v1/batch: where each image part starts */
  struct {
    char name[32]; /* generator=NAME: a remote generator; "" for the engine (geometry) */
    int index;     /* its index in srv->generators */
    long long seed;
    int steps;
    int seed_given, steps_given;
  } gen; /* generator_params.c */
} request;

/* A JSON error in docs/API.md's shape; err is an ORF_E* or ORF_SRV_E* code,
 * message overrides the default sentence (may be NULL), param names the
 * parameter (may be NULL). */
enum MHD_Result http_error(request *r, int err, const char *message, const char *param);

/* The same with an explicit status and code (missing_image, bad_request). */
enum MHD_Result http_error_code(request *r, unsigned status, const char *code, const char *message,
                                const char *param);

/* A JSON response (takes ownership of j), with its content type and
 * no-store, for a caller that adds headers before http_queue(); NULL when
 * out of memory (http_queue then answers MHD_NO). */
struct MHD_Response *http_json_response(request *r, json_t *j);

/* j as compact JSON text and a newline, malloc'd (takes ownership of j);
 * *len (may be NULL) gets its length.  NULL when j is NULL or out of
 * memory. */
char *http_json_line(json_t *j, size_t *len);

/* Responds with an explicit status and a JSON body (takes ownership of j). */
enum MHD_Result http_json(request *r, unsigned status, json_t *j);

/* Queues resp with the common headers (request id, security headers) and
 * the given status, then drops our reference to resp. */
enum MHD_Result http_queue(request *r, unsigned status, struct MHD_Response *resp);

/* An error code's HTTP status and API code (http_status.c, from the one
 * table of src/core/error.c). */
unsigned http_status_of(int err, const char **code);

/* The sentence a client gets for an error code when the route has no more
 * precise one (orf_strerror).  Never NULL, never "unknown error" for a
 * known code. */
const char *http_error_sentence(int err);

/* Parses the request's parameters (query string and form fields) into *p;
 * `download` (reserved, not an engine parameter) into r->download.
 * On a bad parameter responds 422 and returns non-zero. */
int http_parse_params(request *r, orf_params *p, enum MHD_Result *ret);

/* 422 invalid_param for a broken rule between parameters: `sentence` is
 * orf_params_validate's (or orf_params_set's), whose first word names the
 * parameter. */
enum MHD_Result http_refuse_rule(request *r, const char *sentence);

/* SHA-256 over the image bytes and the canonical parameters, as 64 hex;
 * a field precision other than fp32 (which changes the mesh) is part of
 * the canonical text, fp32 is not (it gives the CPU's bytes, so a CPU and a
 * GPU server share their hashes).  Where the segmentation network may
 * decide the subject (background auto or subject), its model is too:
 * model_id, the start of the model file's SHA-256 ("" or NULL: no model),
 * so that results of another model are never served from the cache;
 * extra (may be NULL) is appended to the canonical text (the remote
 * generator and its values: http_generator_canonical).
 * Returns ORF_OK, or ORF_ENOMEM when libcrypto cannot run (out is then not
 * written). */
int http_request_hash(const uint8_t *image, size_t size, const orf_params *p, orf_precision prec,
                      const char *model_id, const char *extra, char out[65]);

/* The field precision recommended for the free part of the memory budget
 * (the --precision-fp32-gb / --precision-fp16-gb thresholds). */
orf_precision http_recommended_precision(server *srv);

/* A precision by name, with "auto" meaning the recommended one. */
orf_precision http_precision_of(server *srv, const char *name);

/* The precision a job of *p runs with: fp32 on the CPU and for modes that
 * do not store a field; else the request's `precision`, or the server's
 * --precision, with auto meaning the recommended one. */
orf_precision http_job_precision(request *r, const orf_params *p);

/* The variant a generation's parameters ask for (format, texture,
 * compress). */
http_variant http_variant_of(const orf_params *p);

/* Builds the docs/API.md generate (or repair) response from a job's
 * meta.json: the cache flag, the format, each stage's URL and the last
 * stage's as download_url, for variant v (its compress and texture=off in
 * the URLs' query). */
json_t *http_generate_response(const char *meta_json, const char *hash, const http_variant *v, int cached);

/* "/api/v1/results/<hash>/<stage>.<ext>" for variant v as a JSON string:
 * compress when not none, texture=off when asked. */
json_t *http_result_url(const char *hash, const char *stage, const http_variant *v);

/* Adds "url" to the data of one event (JSON text) for hash and variant v;
 * returns a malloc'd line ending in '\n' (or NULL on error). */
char *http_event_line(const char *event, const char *hash, const http_variant *v);

/* Serves the mesh of (hash, stage) as variant v: from the cache's disk
 * file (zero copy), its memory tier, or converted from the stage's PLY
 * (and the result's texture, result_texture.h) and cached.  404 when the
 * stage is unknown to the cache; 422 naming `texture` for texture=on of a
 * result without one. */
enum MHD_Result http_serve_mesh(request *r, const char *hash, const char *stage, const http_variant *v);

/* The file of one variant of a stage in the cache (http_mesh_convert). */
typedef struct http_mesh_file {
  char name[80];   /* its cache name: "<stage>[.tex][.meshopt|.draco].<ext>" */
  const char *ext; /* its download's extension: a textured OBJ is a zip of the OBJ, MTL and image */
  int textured;    /* the result's texture is applied */
  int converted;   /* made by this call (not a cache hit) */
  int settled;     /* it can no longer change (immutable): untextured auto files of a running job can */
} http_mesh_file;

/* http_mesh_convert's answer for texture=on of a result without a texture
 * (not an ORF_E* code). */
#define HTTP_ENOTEXTURE 1

/* Makes sure the cache holds the mesh of (hash, stage) as variant v,
 * converting it from the stage's PLY and the result's texture
 * (result_texture.h), and caching that, when it does not; *file names it.
 * ORF_OK, ORF_SRV_ENOTFOUND (no such stage in the cache), HTTP_ENOTEXTURE,
 * ORF_EINTERNAL (its PLY cannot be read), or the texture's, the export's or
 * the cache's error. */
int http_mesh_convert(server *srv, const char *hash, const char *stage, const http_variant *v,
                      http_mesh_file *file);

/* The media type of a format (model/gltf-binary, model/stl, ...). */
const char *http_media_type(orf_format f);

/* Route handlers: called once the body is complete.  route_generate and
 * route_job_submit serve the generating routes and their repairing twins
 * (/api/v1/repair, /api/v1/repair-progressive, /api/v1/repair-jobs) alike:
 * the route decides which input is read (http_route_repairs). */
enum MHD_Result route_generate(request *r, int progressive);
enum MHD_Result route_job_submit(request *r);
enum MHD_Result route_job_status(request *r, const char *id);
enum MHD_Result route_job_events(request *r, const char *id);
enum MHD_Result route_job_cancel(request *r, const char *id);
enum MHD_Result route_results(request *r, const char *rest);
enum MHD_Result route_health(request *r);
enum MHD_Result route_ready(request *r);
enum MHD_Result route_gpu_stats(request *r);
enum MHD_Result route_cache_stats(request *r);
enum MHD_Result route_cache_clear(request *r);
enum MHD_Result route_metrics(request *r);
enum MHD_Result route_studio(request *r);
enum MHD_Result route_params(request *r);
enum MHD_Result route_mask(request *r);
/* GET /api/v1/openapi.json: docs/openapi.yaml as compiled in (routes_info.c). */
enum MHD_Result route_openapi(request *r);
/* GET / and /static/<file> from the web root (static.c). */
enum MHD_Result route_static(request *r, const char *url);
/* Resolves cfg.web_root (or web/ beside the binary) into srv->web_root. */
void http_static_init(server *srv);

/* The first step of every request, once its head is in: the framing and
 * NUL checks (400/501, closing the connection where the framing is in
 * doubt), then, for a POST to a route that takes a body, the upload limit
 * and the body's reader (multipart post processor, or the raw image).
 * head: the method string libmicrohttpd handed the access handler (the
 * start of the raw request head it parsed in place, where a NUL byte cut
 * into a header is looked for); nul_in_url: the URI logger saw an escaped
 * NUL.  Returns 1 when it answered the request (*ret), 0 when it goes on. */
int http_request_begin(request *r, const char *head, int nul_in_url, enum MHD_Result *ret);

/* Takes size more bytes of the body (kept within the upload limit, or
 * read and dropped past it).  Returns 0, or -1 when the connection must be
 * closed (far past the limit, or out of memory). */
int http_request_feed(request *r, const char *data, size_t size);

/* Validates a complete request's body and parameters - the form's
 * refusals, the parameters (422 naming one), the image's presence, type,
 * size and header (400, 413, 415) - and computes its job estimate and
 * request hash into r, and the format and Accept of its answer.  Returns
 * 0, or non-zero with the error queued in *ret. */
int http_read_input(request *r, orf_params *p, enum MHD_Result *ret);

/* The upload's refusals (http_refuse_upload), the parameters
 * (http_parse_params) and what the server does not serve yet (a texture,
 * compressed GLB: 422 naming it), for a route that reads its images
 * itself.  0, or -1 with the error queued in *ret. */
int http_read_params(request *r, orf_params *p, enum MHD_Result *ret);

/* ---- routes_batch.c: POST /api/v1/batch, GET /api/v1/batch/<id> ---- */

/* A multipart `image` part of a batch begins (filename as the form gives
 * it, may be NULL) at r->body_len: noted, or the form refused past
 * HTTP_BATCH_MAX_ITEMS parts.  0, or -1 when out of memory. */
int http_batch_part(request *r, const char *filename);
/* Frees what http_batch_part noted. */
void http_batch_upload_free(request *r);
enum MHD_Result route_batch_submit(request *r);
/* rest: what follows /api/v1/batch/ ("<id>" or "<id>/results.zip"). */
enum MHD_Result route_batch_status(request *r, const char *rest);
/* The server's batch store into srv->batches: 0, or ORF_ENOMEM. */
int http_batches_start(server *srv);

/* ---- job_view.c: where a submitted image stands ---- */
typedef struct http_job_view {
  const char *status; /* queued, running, complete, failed, cancelled, or expired (no record, no result) */
  int progress;       /* 0..100 */
  int stage;          /* last stage done, -1 before the first */
  size_t position;    /* in the queue while queued */
  char error[200];    /* a failed, cancelled or expired job's sentence, else "" */
  char code[40];      /* and its code */
} http_job_view;
/* The job of job_id (may be "" or NULL: none was made) while the manager
 * keeps it, else "complete" when the cache holds hash's result, else
 * "expired". */
void http_job_view_get(server *srv, const char *job_id, const char *hash, http_job_view *v);

/* ---- routes_compat_orfeas.c: the original ORFEAS API ---- */
/* /api/upload-image, /api/generate-3d, /api/job-status/<id>,
 * /api/download/<id>/<file>, /api/preview/<file>: url is the path. */
enum MHD_Result route_compat_orfeas(request *r, const char *url);
/* The store of its uploads into srv->uploads: 0, or ORF_ENOMEM. */
int http_uploads_start(server *srv);

/* ---- generator_params.c: generator=NAME, seed, steps ---- */
/* A parameter of the remote generators into r->gen: 1 when key is one
 * (generator, seed, steps) and its value is good, -1 with the sentence in
 * err when it is not, 0 when key is another parameter. */
int http_generator_param(request *r, const char *key, const char *value, char *err, size_t err_size);
/* Once the parameters are read: seed or steps without a remote generator,
 * or a parameter a remote generator does not take: 422 naming it in *ret,
 * -1.  0 when fine. */
int http_generator_check(request *r, enum MHD_Result *ret);
/* "&generator=NAME[&seed=S][&steps=N]" for the request hash into buf, or
 * "" for the engine; its length. */
size_t http_generator_canonical(const request *r, char *buf, size_t size);
/* Registers a remote generation of hash with srv->generators, for its
 * job's run (nothing for the engine). */
void http_generator_register(request *r, const orf_params *p, const char *hash);
/* The server_params entries of /api/v1/params: generator, seed, steps. */
json_t *http_generator_server_params(server *srv);

/* ---- routes_compat_hunyuan.c: the Hunyuan3D-2 API server's contract ---- */
/* POST /generate, POST /send, GET /status/<uid> (url: the path); also
 * called again when a /generate waiting on its job is resumed. */
enum MHD_Result route_compat_hunyuan(request *r, const char *url);

/* Suspends r until its job (r->job) has more than `have` events or has
 * finished; the route is called again then (http_on_request). */
enum MHD_Result http_wait_job(request *r, size_t have);

/* 405 with Allow: allow. */
enum MHD_Result http_method_not_allowed(request *r, const char *allow);

/* Whether the cache holds a whole, readable result for hash (meta.json and
 * every stage it lists, the last one read back): 1 or 0. */
int http_cached_result(server *srv, const char *hash);

/* One image's generation with parameters p, as a kept job (the /jobs
 * API's), for the routes that take several images or another client's
 * contract: the image probed (its type and size from its header), the
 * job's estimate and request hash (into hash) taken as POST /api/v1/jobs
 * does, the cache asked (a whole result there: ORF_OK with *job NULL),
 * else the job submitted or joined (*job a new reference, *coalesced).
 * Returns ORF_OK or the error a single request would get (the probe's,
 * ORF_SRV_EDRAINING, ORF_SRV_EQUEUEFULL, ORF_SRV_ETOOBIG, ORF_ENOMEM). */
int http_submit_image(request *r, const uint8_t *image, size_t size, const orf_params *p, char hash[65],
                      orf_job **job, int *coalesced);

/* 1 for the routes that repair a mesh (their twins generate from an
 * image), else 0. */
int http_route_repairs(orf_route route);

/* The upload as received: 413 past the upload limit, then the form's own
 * refusal (400, or 422 when it is about one parameter).  0, or -1 with the
 * error queued in *ret. */
int http_refuse_upload(request *r, enum MHD_Result *ret);

/* The answer's variant v into r; an Accept naming its media type asks for
 * the file itself (r->download). */
void http_read_accept(request *r, const http_variant *v);

/* A repair's http_read_input (routes_repair.c): the form's refusals, the
 * parameters (orf_repair_params_set; 422 naming one), the mesh's presence
 * (400 missing_mesh), then into r the kind, parameters, the importer's hint,
 * the estimate (orf_estimate_repair_bytes: host memory, the host budget's
 * on a GPU server), the request hash (SHA-256 over "repair", the canonical
 * parameters and the mesh) and the format and Accept of its answer.
 * Returns 0, or non-zero with the error queued in *ret. */
int http_read_repair(request *r, enum MHD_Result *ret);

/* The same checks alone, for a route that runs no job and caches nothing
 * (POST /api/v1/mask): no estimate, no hash.  Returns as http_read_input. */
int http_read_image(request *r, orf_params *p, enum MHD_Result *ret);

/* Frees a request and everything it holds but its job (the caller's). */
void http_request_free(request *r);

/* libmicrohttpd's URI logger (MHD_OPTION_URI_LOG_CALLBACK): marks a
 * request whose raw target holds an escaped NUL. */
void *http_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);

/* libmicrohttpd's access handler and completion callback (cls: server). */
enum MHD_Result http_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                const char *version, const char *upload_data, size_t *upload_data_size,
                                void **con_cls);
void http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                       enum MHD_RequestTerminationCode toe);

/* ---- guard.c: rate limit and CORS ---- */

/* Called once per request, when its headers are in: the rate limit
 * (429 rate_limited, probes exempt) and the CORS preflight (OPTIONS, when
 * --cors-origin is set).  Returns 1 when it answered the request (the
 * status of queueing in *ret), 0 when the request goes on. */
int http_guard_admit(request *r, enum MHD_Result *ret);

/* Adds the CORS headers a response gets (none when CORS is off, or the
 * request's Origin is not the configured one). */
void http_cors_headers(request *r, struct MHD_Response *resp);

/* 1 when origin is "http[s]://host[:port]" with nothing else in it (the
 * form of an Origin header), else 0. */
int http_cors_origin_valid(const char *origin);

/* ---- deadline.c: the request headers and body within their deadlines ---- */

/* Starts the watcher thread: headers within timeout_s, bodies at
 * min_body_rate bytes/s after timeout_s (0: no body deadline), closes
 * counted in metrics (may be NULL).  Returns ORF_OK (*out to stop with
 * http_deadlines_stop once the daemon is stopped) or ORF_ENOMEM. */
int http_deadlines_start(http_deadlines **out, double timeout_s, double min_body_rate, orf_metrics *metrics);
void http_deadlines_stop(http_deadlines *d);
/* libmicrohttpd's connection notifications (cls: server). */
void http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                        enum MHD_ConnectionNotificationCode code);
/* The request's headers are in: its body's deadline starts when it has one
 * (has_body), else there is none until its response ends. */
void http_deadline_request(server *srv, struct MHD_Connection *conn, int has_body);
/* n more bytes of the body arrived: its deadline moves on. */
void http_deadline_body(server *srv, struct MHD_Connection *conn, size_t n);
/* The body is complete: no deadline until the response ends. */
void http_deadline_body_done(server *srv, struct MHD_Connection *conn);
/* A response ended: the next request's headers are due within the timeout. */
void http_deadline_next_request(server *srv, struct MHD_Connection *conn);

/* ---- routes_cluster.c: the routes' cluster side (with --redis only) ---- */

/* 1 when the server runs as a cluster node (--redis). */
int http_cluster_mode(const server *srv);
/* A local cache miss of r->hash: the result fetched from the node that
 * holds it.  1 when it is now local, 0 when not (compute it), -1 with the
 * answer in *ret (503 while Redis is unreachable). */
int http_cluster_fetch(request *r, enum MHD_Result *ret);
/* Submits or follows r's job on the shared queue; answers as
 * route_generate does (waiting, or a progressive NDJSON stream). */
enum MHD_Result http_cluster_generate(request *r, int progressive);
/* A waiting generate or repair resumed by its cluster job's news. */
enum MHD_Result http_cluster_resume(request *r);
/* The /api/v1/jobs routes on the shared queue. */
enum MHD_Result http_cluster_job_submit(request *r);
enum MHD_Result http_cluster_job_status(request *r, const char *id);
enum MHD_Result http_cluster_job_events(request *r, const char *id);
enum MHD_Result http_cluster_job_cancel(request *r, const char *id);
/* Before a result file is served: fetched from its holder when this node
 * lacks it; a holder gone queues the job again and answers 503 with
 * Retry-After.  0 to go on serving, 1 with the answer in *ret. */
int http_cluster_results(request *r, const char *hash, const char *stage, enum MHD_Result *ret);
/* GET /internal/v1/files/<hash>/<name>: a cached file for another node. */
enum MHD_Result route_internal_files(request *r, const char *rest);
/* 503 cluster_unavailable with the reason Redis gives. */
enum MHD_Result http_cluster_unavailable(request *r);

/* A stream's content reader sends its current line, len bytes of which
 * *off are sent, with this: the bytes copied into buf (max at most), or 0
 * when the line is all sent (it is then freed and *line set to NULL). */
size_t http_stream_drain(char **line, size_t len, size_t *off, char *buf, size_t max);
/* Queues 200 with a stream of read(cls) (NDJSON, or SSE when sse), no-cache
 * and unbuffered; free_cls(cls) when it ends (at once when it cannot be
 * made). */
enum MHD_Result http_queue_stream(request *r, MHD_ContentReaderCallback read, void *cls,
                                  MHD_ContentReaderFreeCallback free_cls, int sse);

/* Whether the cache holds a whole, readable result for hash
 * (routes_generate.c). */
int http_cached_result(server *srv, const char *hash);
/* Answers a finished generation or repair of r->hash from the cache
 * (routes_generate.c); cached: the answer's "cached" flag. */
enum MHD_Result http_answer_complete(request *r, int cached);

/* Resumes a request waiting on a job (orf_job_wake_fn). */
void http_wake(void *ctx);

#endif
