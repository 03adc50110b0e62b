/*
 * hunyuan_client.h - the client half of the Hunyuan3D-2 API server's
 * contract (libcurl), both published versions:
 *   2.0: POST /send {image (plain base64), seed, octree_resolution,
 *        num_inference_steps, guidance_scale, texture, face_count, type}
 *        -> {"uid"}; GET /status/{uid} -> {"status":"processing"} until
 *        {"status":"completed","model_base64"}; every error HTTP 404
 *        {"text","error_code":1}; a job that fails there stays
 *        "processing" for ever (hence the deadline here).
 *   2.1: GET /health; value ranges (422 out of them); statuses processing,
 *        texturing, completed (model_base64 or initial_model_base64), error.
 * No state: each call is a few HTTP requests with their own timeouts.
 */
#ifndef ORF_HUNYUAN_CLIENT_H
#define ORF_HUNYUAN_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* GET /health within timeout_s: 21 (answered 200: the 2.1 contract), 20
 * (answered, but no /health: 2.0), or 0 when it cannot be reached (the
 * reason in msg). */
int orf_hy_probe(const char *base_url, double timeout_s, char *msg, size_t msg_size);

typedef struct orf_hy_request {
  const uint8_t *png;
  size_t png_size;
  long long seed; /* -1: left out */
  int steps;      /* 0: left out */
  int octree, face_count;
} orf_hy_request;

/* Called about every poll with the seconds since the request was sent;
 * non-zero stops the wait (the result is then ORF_ECANCELED). */
typedef int (*orf_hy_tick_fn)(void *ctx, double elapsed_s);

/* /send, then /status/{uid} every poll_s until completed, an error, or
 * timeout_s from the start: ORF_OK with *glb (malloc'd, *glb_size bytes:
 * the GLB, its magic, version and length checked), ORF_ECANCELED,
 * ORF_ENOMEM, or ORF_SRV_EGENERATOR with the reason in plain words in msg
 * (unreachable, timed out, refused with its text, malformed answer, a
 * model that is not valid base64 or not a whole GLB). */
int orf_hy_generate(const char *base_url, const orf_hy_request *rq, double timeout_s, double poll_s,
                    orf_hy_tick_fn tick, void *ctx, uint8_t **glb, size_t *glb_size, char *msg,
                    size_t msg_size);

#endif
