/*
 * stub_hunyuan.h - a stand-in for a Hunyuan3D-2 API server, for the tests
 * of ORFEAS's remote generators (tests/test_generators.c): an HTTP server
 * on 127.0.0.1 (libmicrohttpd, a port of the kernel's choosing) speaking
 * either published version of that contract, and answering with meshes
 * the tests make (as GLB) - with the quirks a real one has, one per mode.
 *   2.0: POST /send -> {"uid"}; GET /status/<uid> -> {"status":"processing"}
 *        until {"status":"completed","model_base64"}; errors HTTP 404
 *        {"text","error_code":1}; no /health (404).
 *   2.1: GET /health -> {"status":"healthy"}; 422 {"detail"} for values out
 *        of its ranges; completed with "initial_model_base64"; "error".
 *   both: POST /generate -> the GLB itself.
 * It runs in the test's own process (its own threads) and keeps what it
 * was last sent, for the tests to look at.
 */
#ifndef ORF_STUB_HUNYUAN_H
#define ORF_STUB_HUNYUAN_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
  STUB_OK,          /* completes after delay_s */
  STUB_ERROR404,    /* every /send: 404 {"text","error_code":1} */
  STUB_STUCK,       /* "processing" for ever (a job failed on its side) */
  STUB_TRUNCATED,   /* completed, with the base64 cut short */
  STUB_NOT_GLB,     /* completed, with a model that is not a GLB */
  STUB_STATUS_ERROR /* 2.1: {"status":"error","message"} */
} stub_mode;

typedef enum {
  STUB_MESH_HOLE_FLOATER, /* a sphere with a hole, and a small sphere apart from it */
  STUB_MESH_FLIPPED       /* a closed sphere with a tenth of its faces turned inside out */
} stub_mesh;

typedef struct stub_hunyuan {
  struct MHD_Daemon *daemon;
  int port;
  int version; /* 20 or 21 */
  stub_mode mode;
  double delay_s; /* STUB_OK: seconds from /send to completed */
  uint8_t *glb;   /* the model it answers */
  size_t glb_size;
  atomic_int sends, statuses, healths; /* requests seen */
  /* the last /send: its image's PNG colour type (6: RGBA), seed, steps (-1 when absent) */
  atomic_int png_color_type;
  atomic_llong seed;
  atomic_int steps, octree, face_count;
  /* jobs sent and not yet answered completed, and the most of them at once */
  atomic_int open, max_open;
} stub_hunyuan;

/* Starts the stub; 0 with s->port set, or -1. */
int stub_hunyuan_start(stub_hunyuan *s, int version, stub_mode mode, stub_mesh mesh, double delay_s);
void stub_hunyuan_stop(stub_hunyuan *s);

#endif
