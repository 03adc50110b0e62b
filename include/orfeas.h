/*
 * orfeas.h - the one public header of the ORFEAS engine.
 *
 * The engine turns one image (PNG, JPEG, WebP) into a closed, printable,
 * coloured triangle mesh, in stages that get finer (voxel_preview,
 * rough_mesh, refined_mesh, final_optimized), and writes meshes as binary
 * STL, OBJ, binary PLY or GLB.  It knows nothing of HTTP: the CLI and the
 * server use it only through this header.  The contracts it implements are
 * in docs/ENGINE.md.
 *
 * Conventions (libuv / meshoptimizer style):
 *  - actions return ORF_OK (0) or a negative ORF_E* code; orf_strerror()
 *    names it.  A function that fails leaves its outputs empty and owns
 *    nothing.
 *  - the caller allocates the structs; every orf_x that fills memory has an
 *    orf_x_free().
 *  - sizes are size_t; meshes are in millimetres, Z up.
 */
#ifndef ORFEAS_H
#define ORFEAS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ORF_VERSION "0.1.0"
/* Part of every request hash: bump when any output byte may change. */
#define ORF_ENGINE_VERSION "orfeas-engine-4" /* 2: the subject of photographs from the network (issue 12); 3: inflate's final grid matched to its budget (issue 13); 4: its floor follows a ragged subject's refined grid */

/* ---- errors ----------------------------------------------------------- */

enum {
  ORF_OK = 0,
  ORF_ENOMEM = -1,       /* an allocation failed */
  ORF_EINVAL = -2,       /* a parameter is unknown or out of range */
  ORF_EBADIMAGE = -3,    /* empty, corrupt or truncated image */
  ORF_EUNSUPPORTED = -4, /* not PNG / JPEG / WebP, or a feature we refuse */
  ORF_ETOOLARGE = -5,    /* file size, side or pixel count over the limits */
  ORF_ECANCELED = -6,    /* the caller cancelled the job */
  ORF_ENOSUBJECT = -7,   /* no subject could be separated from the image */
  ORF_EIO = -8,          /* a file could not be read or written */
  ORF_EINTERNAL = -9,    /* a bug: an invariant of the engine failed */
  ORF_ENOTIMPL = -10,    /* the mode exists in the spec but not in this build */
  ORF_ENODEVICE = -11,   /* the job asked for a GPU this build or machine does not have */
  ORF_ETOOTHIN = -12,    /* a subject was found, but too thin for the mesh grid at this quality */
  ORF_EANIMATED = -13,   /* an animated image (WebP): one mesh is made from one still picture */
  ORF_ESEGMENT = -14,    /* the segmentation network is missing, or failed to run */
  ORF_ENOALPHA = -15,    /* background=alpha for an image without a usable alpha channel */
  ORF_EBADMESH = -20,    /* a mesh file that cannot be read, or holds no solid (orf_repair) */
  /* the service's own (the server), in the same table so that every code
   * has one name, one status and one sentence */
  ORF_SRV_EQUEUEFULL = -100, /* the job queue is full: 429 queue_full */
  ORF_SRV_EDRAINING = -101,  /* shutting down: 503 draining */
  ORF_SRV_ENOTFOUND = -102,  /* no such job, result or cache entry: 404 */
  ORF_SRV_ECONFLICT = -103,  /* the job has already finished: 409 */
  ORF_SRV_ECORRUPT = -104,   /* a cache file failed its checksum: dropped, treated as a miss */
  ORF_SRV_ETOOBIG = -105,    /* the job alone needs more than the whole budget: 507 */
  ORF_SRV_EGENERATOR = -106, /* a remote generator failed (unreachable, timed out, refused, malformed): 502 */
};

/* The one table of error codes (src/core/error.c), as libuv's
 * uv_strerror/uv_err_name: for every ORF_E* code, and the server's
 * ORF_SRV_E* codes, a static human sentence (never NULL, never empty), the
 * API's snake_case code ("bad_image"), and the HTTP status a service
 * answers it with.  An unknown code gets "unknown error", "internal_error"
 * and 500. */
const char *orf_strerror(int err);
const char *orf_errname(int err);
int orf_errstatus(int err);

/* ---- memory accounting ------------------------------------------------ */

/* The engine's allocator, with per-job accounting.  Every heap block the
 * engine owns goes through orf_malloc()/orf_free(), so that a job's current
 * and peak bytes are known: the peak is what orf_estimate_peak_bytes() is
 * tested against, and a test can make the Nth allocation fail.  The
 * counters of the job running on a thread are found through a thread-local
 * pointer that the engine carries to its worker threads.  A caller (the
 * server) accounts its own long-lived memory - the cache, the job records -
 * the same way, by setting a tracker of its own around its allocations.
 * Blocks carry a 16-byte header holding their size. */
typedef struct orf_memtrack {
  atomic_size_t current;  /* bytes live now */
  atomic_size_t peak;     /* most bytes live at once */
  atomic_long fail_after; /* > 0: the allocation that brings it to 0 fails */
} orf_memtrack;

/* Makes t the accounting of the calling thread (NULL: none); returns the old. */
orf_memtrack *orf_memtrack_set(orf_memtrack *t);
orf_memtrack *orf_memtrack_get(void);

/* malloc/calloc/realloc/free with accounting.  NULL on failure (or when
 * fault injection says so); orf_free(NULL) does nothing.  Blocks from these
 * must be freed with orf_free(), never free(). */
void *orf_malloc(size_t size);
void *orf_calloc(size_t count, size_t size);
void *orf_realloc(void *ptr, size_t size);
void orf_free(void *ptr);

/* orf_malloc(count * size), NULL when the product overflows. */
void *orf_malloc_array(size_t count, size_t size);

/* ---- parameters ------------------------------------------------------- */

typedef enum { ORF_MODE_INFLATE, ORF_MODE_RELIEF, ORF_MODE_LITHOPHANE, ORF_MODE_EXTRUDE } orf_mode;
typedef enum { ORF_FMT_GLB, ORF_FMT_STL, ORF_FMT_OBJ, ORF_FMT_PLY, ORF_FMT_3MF } orf_format;
/* background: AUTO is alpha when usable, else the colour model when it is
 * confident, else the segmentation network (README "Finding the subject");
 * COLOR the border colour model always; SUBJECT the network always. */
typedef enum { ORF_BG_AUTO, ORF_BG_ALPHA, ORF_BG_NONE, ORF_BG_COLOR, ORF_BG_SUBJECT } orf_background;

/* A subject point (subject_points): x, y as fractions 0..1 of the image's
 * width and height; keep 1 keeps the region under it, 0 drops it. */
#define ORF_MAX_POINTS 16
typedef struct orf_point {
  double x, y;
  int keep;
} orf_point;
typedef enum { ORF_SHAPE_FLAT, ORF_SHAPE_CYLINDER } orf_shape;

/* texture (docs/ENGINE.md, "Texture"): whether an export carries the
 * picture as a texture.  AUTO: where the format holds one (GLB, OBJ, 3MF)
 * and the job made one; ON: the same, but asking it of a format that
 * cannot hold one, of style=plain or of a cylinder lithophane is an error;
 * OFF: never, and orf_generate makes none. */
typedef enum { ORF_TEXTURE_AUTO, ORF_TEXTURE_ON, ORF_TEXTURE_OFF } orf_texture_mode;

/* Compression of an exported file.  MESHOPT is for GLB only: positions
 * quantised to 14 bits over the longest side of the box (error at most
 * half a step, extent / 32766, on each axis), normals to 8 bits, colours
 * to 16, texture coordinates to 16 (error at most 1/131070 of the
 * texture's side) (KHR_mesh_quantization), every buffer view of the mesh
 * compressed with meshoptimizer's codecs (EXT_meshopt_compression,
 * required: a reader needs a meshopt decoder, as three.js's GLTFLoader
 * has). */
/* DRACO is for GLB only too: KHR_draco_mesh_compression with Debian's
 * libdraco (Edgebreaker; positions quantised to 14 bits over the box as
 * MESHOPT's, normals and colours to 10, texture coordinates to 16;
 * src/export/draco.cpp), required: a reader needs a Draco decoder (three.js's
 * DRACOLoader). */
typedef enum { ORF_COMPRESS_NONE, ORF_COMPRESS_MESHOPT, ORF_COMPRESS_DRACO } orf_compress;

/* Every engine parameter of docs/ENGINE.md, with its value.  Fill with
 * orf_params_init() (the defaults), then change fields or call
 * orf_params_set() with text from a user. */
typedef struct orf_params {
  orf_mode mode;            /* inflate */
  int quality;              /* 1..10, 7 */
  double size_mm;           /* longest side, 1..1000; 100 (size=medium) */
  int size_mm_set;          /* size_mm given explicitly: wins over `size` */
  orf_format format;        /* glb */
  orf_texture_mode texture; /* auto; like format, a conversion (not in the canonical form) */
  orf_compress compress;    /* none; like format, a conversion (not in the canonical form) */
  int realistic;            /* style: 1 realistic (keep colours), 0 plain */
  orf_background background;
  int max_faces; /* 0: F(quality) */
  /* inflate */
  double thickness; /* depth relative to the longest side, 0.35 */
  double detail;    /* 0..1, 0.2 */
  /* relief */
  double relief_mm, base_mm, smooth;
  int invert, cutout;
  /* lithophane */
  double min_mm, max_mm, border_mm;
  orf_shape shape;
  /* extrude */
  double depth_mm, bevel_mm;
  /* subject_points: corrections of the subject mask, in the order given */
  int point_count;
  orf_point points[ORF_MAX_POINTS];
  /* which parameters orf_params_set() was given (one bit each, in the
   * order of the parameter table): a parameter given for a mode it does
   * not apply to is refused by orf_params_validate(), never ignored */
  uint64_t given;
} orf_params;

/* Fills *p with the defaults of docs/ENGINE.md. */
void orf_params_init(orf_params *p);

/* Sets the parameter `name` from the text `value`, strictly: an unknown name,
 * a malformed number or a value out of range returns ORF_EINVAL and writes a
 * sentence naming the parameter into err (err_size bytes, may be 0).
 * `size` (small/medium/large) does not override an explicit `size_mm`. */
int orf_params_set(orf_params *p, const char *name, const char *value, char *err, size_t err_size);

/* Checks the ranges of the numbers that apply to p->mode (for values set
 * without orf_params_set) and the rules between parameters: relief
 * base_mm + relief_mm < size_mm; lithophane min_mm >= 0.4 (a nozzle
 * width), min_mm < max_mm, border_mm < size_mm / 2, max_mm < size_mm (a
 * quarter of it for a cylinder); extrude depth_mm < size_mm, bevel_mm <=
 * depth_mm / 2; compress=meshopt with format=glb only; texture=on only
 * with a format that holds a texture (glb, obj, 3mf), style=realistic and
 * a flat shape.  A parameter given through orf_params_set() that does not
 * apply to p->mode (cutout for inflate, say) is refused too, naming the
 * modes it applies to: nothing is silently ignored.  Returns ORF_OK or
 * ORF_EINVAL with a sentence whose first word is the parameter's name (the
 * server answers 422 with that "param"). */
int orf_params_validate(const orf_params *p, char *err, size_t err_size);

/* Writes the canonical form of *p into buf: every parameter that applies,
 * defaults filled in, keys sorted, as `k=v` joined by '&', engine version
 * first.  `format`, `texture` and `compress` are left out: they name a
 * conversion of the same geometry, which the cache serves from one entry
 * (the texture is made from the image beside the mesh and never changes
 * it: a caller that caches generates with texture auto, so that the entry
 * holds it, and applies `texture` when it exports).  max_faces is written
 * as its effective value.  Returns the length it needs (like snprintf). */
size_t orf_params_canonical(const orf_params *p, char *buf, size_t buf_size);

/* Writes a JSON description of every parameter - name, type, help, range
 * or choices, default, the modes it applies to - from the same table that
 * orf_params_set() checks against, so a client (the studio, the API's
 * /api/v1/params) can never disagree with the validation.  A parameter
 * whose modes list is empty (format, texture, compress) applies to every
 * mode but is not part of the geometry.  Returns the length it needs (like snprintf). */
size_t orf_params_describe(char *buf, size_t buf_size);

/* Names of things, for output and logs. */
const char *orf_mode_name(orf_mode m);
const char *orf_format_ext(orf_format f); /* "glb", "stl", ... */
int orf_format_from_ext(const char *ext, orf_format *out);
/* Non-zero for the formats that hold a texture: GLB, OBJ, 3MF. */
int orf_format_holds_texture(orf_format f);
const char *orf_texture_mode_name(orf_texture_mode t); /* "auto", "on", "off" */

/* The marching-cubes resolution R(q) and face budget F(q) of docs/ENGINE.md. */
int orf_quality_resolution(int quality);
int orf_quality_faces(int quality);

/* ---- meshes ----------------------------------------------------------- */

/* An indexed triangle mesh.  Owned by whoever filled it; free with
 * orf_mesh_free(). */
typedef struct orf_mesh {
  float *positions;  /* 3 floats per vertex, millimetres, Z up */
  uint8_t *colors;   /* 3 bytes (sRGB) per vertex, or NULL */
  uint32_t *indices; /* 3 per face, counter-clockwise seen from outside */
  size_t vertex_count;
  size_t face_count;
} orf_mesh;

/* Frees what *m owns and zeroes it.  Safe on a zeroed mesh. */
void orf_mesh_free(orf_mesh *m);

/* Deep copy: fills *dst (its old contents are not freed). */
int orf_mesh_copy(orf_mesh *dst, const orf_mesh *src);

/* Figures and topology of a mesh, from orf_mesh_check(). */
typedef struct orf_mesh_report {
  size_t vertices, faces, edges;
  size_t boundary_edges;       /* edges used by one face */
  size_t nonmanifold_edges;    /* used by more than two faces */
  size_t misoriented_edges;    /* used twice in the same direction */
  size_t nonmanifold_vertices; /* whose faces form more than one fan */
  size_t degenerate_faces;     /* repeated index or (near) zero area */
  size_t duplicate_faces;      /* same three vertices as another face */
  size_t unused_vertices;
  size_t components; /* connected by shared edges */
  long euler;        /* V - E + F over used vertices */
  double volume;     /* signed, mm^3; > 0 when oriented outward */
  double area;       /* mm^2 */
  float bbox_min[3], bbox_max[3];
  int watertight; /* closed: no boundary, nonmanifold or misoriented edge */
  int manifold;   /* edge- and vertex-manifold, no degenerate/duplicate face */
} orf_mesh_report;

/* Checks *m and fills *r.  A face is degenerate when it repeats an index or
 * its area is at most 1e-12 of the squared bounding-box diagonal; components
 * are faces joined through shared edges.  Returns ORF_OK, ORF_ENOMEM, or
 * ORF_EINVAL for an index >= vertex_count (*r then zeroed). */
int orf_mesh_check(const orf_mesh *m, orf_mesh_report *r);

/* ---- textures --------------------------------------------------------- */

/* The picture of a job as a texture (src/texture/, docs/ENGINE.md,
 * "Texture"): the subject's crop of the image (the whole frame for relief
 * and lithophane) at most min(ORF_TEXTURE_MAX_SIDE, 256 x quality) texels
 * on its longer side (never more than the image has), every texel outside
 * the subject filled with the nearest subject colour, encoded as JPEG (PNG
 * for flat colours, a logo); and the planar projection from the mesh's
 * millimetres to texture coordinates.  Every mode is made from the image
 * in a plane, so the projection is affine: inflate projects along Y (X
 * and Z), relief, lithophane and extrude along Z (X and Y). */
#define ORF_TEXTURE_MAX_SIDE 2048
typedef struct orf_texture {
  uint8_t *data;    /* the encoded image (orf_malloc'd); NULL: no texture */
  size_t size;      /* bytes of data */
  const char *mime; /* "image/jpeg" or "image/png" (static), NULL without data */
  uint32_t width, height;
  /* u = uv[0][0] x + uv[0][1] y + uv[0][2] z + uv[0][3] and v likewise
   * from uv[1], for a point (x, y, z) in the mesh's millimetres: (0, 0) is
   * the top-left corner of the texture, (1, 1) its bottom-right (glTF's
   * convention; OBJ and 3MF count v up from the bottom and write 1 - v). */
  double uv[2][4];
  /* The rectangle of the source image the texture covers, in its pixels
   * (full size, after EXIF orientation): x0, y0, x1, y1.  It may reach
   * past the image's edges (a margin around the subject), where texels
   * are filled as the background is. */
  double box[4];
} orf_texture;

/* Frees what *t owns and zeroes it.  Safe on a zeroed texture. */
void orf_texture_free(orf_texture *t);

/* Deep copy into *dst (its old contents are not freed): ORF_OK or
 * ORF_ENOMEM (then *dst is zeroed). */
int orf_texture_copy(orf_texture *dst, const orf_texture *src);

/* The texture coordinates of p (millimetres) under t's projection. */
void orf_texture_project(const orf_texture *t, const float p[3], float uv[2]);

/* The texture an export in format f with texture=mode writes: t when t
 * holds one, mode is not OFF and f holds textures; else NULL (vertex
 * colours). */
const orf_texture *orf_texture_pick(const orf_texture *t, orf_texture_mode mode, orf_format f);

/* ---- export ----------------------------------------------------------- */

/* Writes *m in format f into a new buffer *out of *out_size bytes that the
 * caller frees with orf_buffer_free().  Colours are written where m->colors is set.
 * The same mesh always gives the same bytes. */
int orf_export(const orf_mesh *m, orf_format f, uint8_t **out, size_t *out_size);

/* The name of c ("none", "meshopt", "draco"), or NULL. */
const char *orf_compress_name(orf_compress c);

/* orf_export() with compression c: ORF_EINVAL when f cannot hold it
 * (anything but NONE for a format other than GLB).  The same mesh and c
 * always give the same bytes.  orf_export_textured(m, NULL, f, c, ...). */
int orf_export_compressed(const orf_mesh *m, orf_format f, orf_compress c, uint8_t **out, size_t *out_size);

/* The one export: *m in format f with compression c and, where t is not
 * NULL and holds data, the texture t instead of vertex colours (pick it
 * with orf_texture_pick):
 *  - GLB: TEXCOORD_0 from t's projection, the image in a buffer view with
 *    its mimeType, a sampler (linear, clamped) and baseColorTexture in the
 *    metallic-roughness material; no COLOR_0.  With MESHOPT, TEXCOORD_0 as
 *    normalized unsigned shorts (clamped to 0..1).
 *  - 3MF: the materials extension's m:texture2d and m:texture2dgroup (a
 *    tex2coord per vertex), the image a part of the package
 *    (/3D/Textures/texture.jpg or .png) with its relationship and content
 *    type.
 *  - OBJ: a zip (application/zip) of model.obj (`vt` per vertex, `f
 *    v/vt`, mtllib model.mtl), model.mtl (map_Kd) and model.jpg or
 *    model.png.
 *  - STL, PLY: cannot hold a texture: ORF_EINVAL.
 * t NULL or without data: vertex colours, as orf_export_compressed.
 * Errors as orf_export_compressed, and ORF_EINVAL for a texture of size 0,
 * a mime type other than JPEG and PNG or a projection that is not finite.
 * The same mesh, texture and c always give the same bytes. */
int orf_export_textured(const orf_mesh *m, const orf_texture *t, orf_format f, orf_compress c, uint8_t **out,
                        size_t *out_size);

/* Frees a buffer the engine returned (orf_export). NULL is a no-op. */
void orf_buffer_free(void *p);

/* orf_export() into a file: written to a temporary name, then renamed. */
int orf_export_file(const orf_mesh *m, orf_format f, const char *path);

/* orf_export_textured() into files, each written as orf_export_file
 * writes: `path` itself, except for OBJ with a texture, which is three
 * files side by side: path (its `mtllib` and `map_Kd` name the others by
 * their base names), path with its extension (".obj", or none) replaced by
 * ".mtl", and by ".jpg" or ".png": all three are written to temporary
 * names first and renamed only when all three are complete, the OBJ last,
 * so a failure leaves no OBJ naming a missing MTL or image. */
int orf_export_file_textured(const orf_mesh *m, const orf_texture *t, orf_format f, orf_compress c,
                             const char *path);

/* Reads a binary little-endian PLY as orf_export() writes it (float x y z,
 * optional uchar red green blue, faces as a uchar count of 3 and uint
 * indices) into *out (colours when the file has them).  Anything else
 * (ASCII, other properties, non-triangles, indices out of range, short
 * data) is ORF_EINVAL; out of memory ORF_ENOMEM.  On error *out is empty. */
int orf_mesh_read_ply(const uint8_t *data, size_t size, orf_mesh *out);

/* A zip archive of n files (names[i], lens[i] bytes at data[i]), each
 * deflated, with fixed times, so the same files give the same bytes (the
 * server's zip of a batch's models).  *out is freed with orf_buffer_free().
 * ORF_OK, ORF_EINVAL (n of 0, or a name NULL or empty), ORF_ENOMEM, or
 * ORF_EINTERNAL when libzip fails otherwise. */
int orf_zip_files(const char *const *names, const uint8_t *const *data, const size_t *lens, size_t n,
                  uint8_t **out, size_t *out_size);

/* ---- images ----------------------------------------------------------- */

typedef enum { ORF_IMG_UNKNOWN, ORF_IMG_PNG, ORF_IMG_JPEG, ORF_IMG_WEBP } orf_image_type;

/* Decoder limits; orf_limits_init() sets docs/ENGINE.md's (50 MB, 8192 px a
 * side, 40 megapixels). */
typedef struct orf_limits {
  size_t max_file_bytes;
  uint32_t max_side;
  uint64_t max_pixels;
} orf_limits;

void orf_limits_init(orf_limits *l);

/* Reads only the header: type and size (after EXIF orientation).  Returns
 * ORF_EUNSUPPORTED for a type that is not PNG/JPEG/WebP, ORF_EBADIMAGE for
 * a broken header, ORF_ETOOLARGE past the limits. */
int orf_image_probe(const uint8_t *data, size_t size, const orf_limits *lim, orf_image_type *type,
                    uint32_t *width, uint32_t *height);

/* ---- generation ------------------------------------------------------- */

typedef enum {
  ORF_STAGE_VOXEL_PREVIEW,
  ORF_STAGE_ROUGH_MESH,
  ORF_STAGE_REFINED_MESH,
  ORF_STAGE_FINAL_OPTIMIZED,
  ORF_STAGE_COUNT
} orf_stage;

const char *orf_stage_name(orf_stage s);

/* The most faces stage s of a job with parameters p may have: 8,000,
 * 30,000 and 120,000 for the first three, F(quality) or max_faces for the
 * final one (README.md, "Face budgets"). */
size_t orf_stage_face_budget(const orf_params *p, orf_stage s);

/* Where the time of a job went, in milliseconds (summed over stages). */
typedef struct orf_timings {
  double decode, mask, field, mesh, smooth, simplify, export_, total;
  double texture; /* the texture, after the final stage (included in total) */
} orf_timings;

/* Called on the job's thread as soon as a stage's mesh exists.  `mesh` is
 * the engine's: copy what you keep.  `grid` is the stage's marching-cubes
 * resolution (cells along the longest side).  Return 0 to go on, non-zero to
 * cancel the job (orf_generate then returns ORF_ECANCELED). */
typedef int (*orf_stage_fn)(void *user, orf_stage stage, const orf_mesh *mesh, int grid, double elapsed_ms);

/* Where a job's heavy steps (the 3-D field and marching cubes of inflate)
 * run.  AUTO is CUDA when this build has it and a usable GPU is present,
 * else the CPU, with no error. */
typedef enum { ORF_DEVICE_AUTO, ORF_DEVICE_CPU, ORF_DEVICE_CUDA } orf_device;

/* How the GPU stores the 3-D field (src/gpu/fieldgrid.h).  FP32 gives the
 * CPU's mesh byte for byte; FP16 and INT8 take half and a quarter of the
 * memory and give closed meshes within the bounds in BENCHMARKS.md.  The
 * CPU path stores no field and always computes as FP32. */
typedef enum { ORF_PRECISION_FP32, ORF_PRECISION_FP16, ORF_PRECISION_INT8 } orf_precision;

const char *orf_device_name(orf_device d);       /* "auto", "cpu", "cuda" */
const char *orf_precision_name(orf_precision p); /* "fp32", "fp16", "int8" */
/* Parse those names: ORF_OK, or ORF_EINVAL for anything else. */
int orf_device_from_name(const char *name, orf_device *out);
int orf_precision_from_name(const char *name, orf_precision *out);

/* ---- segmentation ----------------------------------------------------- */

/* The segmentation network (src/segment/): a salient-object network in
 * ONNX (U^2-Net's u2netp by default: Qin et al., "U^2-Net: Going deeper
 * with nested U-structure for salient object detection", Pattern
 * Recognition 2020) run with OpenCV's DNN module, and a memory cache of
 * its mattes keyed by the SHA-256 of the image bytes.  Thread-safe: one
 * segmenter serves every job of a process; the network runs one image at
 * a time, and two jobs that want the matte of the same new image run it
 * once (the second waits for the first). */
typedef struct orf_segmenter orf_segmenter;

/* Loads the ONNX model at model_path (its input size read from the graph
 * where it says it, else 320) into a new segmenter *out, which the caller
 * frees with orf_segmenter_free().  threads: OpenCV's worker threads (<= 0:
 * every core; OpenCV's setting is process-wide, the last segmenter created
 * sets it).  cache_bytes bounds the matte cache (0: no cache).  A missing,
 * unreadable or malformed file returns ORF_EIO or ORF_ESEGMENT with a
 * sentence naming the file in err; *out is then NULL. */
int orf_segmenter_create(const char *model_path, int threads, size_t cache_bytes, orf_segmenter **out,
                         char *err, size_t err_size);

/* Frees the segmenter (no job may be using it).  NULL is a no-op. */
void orf_segmenter_free(orf_segmenter *s);

/* Counters of a segmenter, for /metrics and the tests. */
typedef struct orf_segmenter_stats {
  uint64_t runs;          /* times the network ran */
  uint64_t hits;          /* mattes served from the cache (or from a run in flight) */
  uint64_t failures;      /* runs that failed */
  size_t cache_bytes;     /* held by cached mattes now */
  size_t cache_entries;   /* mattes cached now */
  size_t cache_max_bytes; /* the bound */
  int input_side;         /* the network's input size (square) */
  uint64_t preview_runs;  /* times the preview network ran (the first stages of a new image) */
} orf_segmenter_stats;

void orf_segmenter_stats_get(orf_segmenter *s, orf_segmenter_stats *out);

/* The default model file: $ORFEAS_SEGMENT_MODEL when set, else
 * models/u2netp.onnx beside the running binary, else
 * ../share/orfeas/models/u2netp.onnx from it (an installed layout), the
 * first that exists (or the first candidate when none does).  Writes the
 * path into buf; returns ORF_OK, or ORF_EIO when no candidate exists. */
int orf_segment_default_model(char *buf, size_t size);

/* How a mask was found: "alpha", "color", "frame" or "subject" for
 * orf_result.mask_source 0..3. */
const char *orf_mask_source_name(int source);

/* How a job runs (not what it makes). */
typedef struct orf_job_opts {
  int threads;             /* <= 0: every online core */
  orf_device device;       /* ORF_DEVICE_AUTO */
  orf_precision precision; /* ORF_PRECISION_FP32; used by the CUDA path only */
  orf_limits limits;
  orf_stage_fn on_stage; /* may be NULL */
  void *user;
  atomic_int *cancel;       /* may be NULL; non-zero cancels between and inside stages */
  size_t peak_bytes;        /* out: measured peak of the engine's own allocations */
  orf_device device_used;   /* out: ORF_DEVICE_CPU or ORF_DEVICE_CUDA */
  size_t device_peak_bytes; /* out: most GPU memory the job held at once */
  orf_segmenter *segmenter; /* may be NULL: background=auto then stops at the colour model, and
                               background=subject fails with ORF_ESEGMENT */
} orf_job_opts;

void orf_job_opts_init(orf_job_opts *o);

/* The result of a job: the final mesh, its report and timings. */
typedef struct orf_result {
  orf_mesh mesh;
  orf_mesh_report report;
  orf_timings timings;
  int mask_source; /* 0 alpha, 1 colour model, 2 whole frame, 3 network (orf_mask_source_name) */
  /* Pieces of the subject dropped to keep the final mesh within its face
   * budget (the smallest first, never the largest; README.md), and their
   * share of the subject's volume, 0..1. */
  size_t dropped_components;
  double dropped_volume_share;
  /* The picture as a texture with its projection (see orf_texture), made
   * after the final stage unless texture=off, style=plain or the
   * lithophane is a cylinder; zeroed otherwise.  The mesh keeps its vertex
   * colours either way. */
  orf_texture texture;
} orf_result;

void orf_result_free(orf_result *r);

/* Runs the whole pipeline on an image in memory.  Calls opts->on_stage for
 * each stage in order; fills *out with the final mesh and, after the final
 * stage, its texture (orf_result.texture; which the caller frees with
 * orf_result_free).  On error *out is left empty and the
 * callback is not called again. */
int orf_generate(const uint8_t *data, size_t size, const orf_params *p, orf_job_opts *opts, orf_result *out);

/* The subject a job would use, for a person to check before generating:
 * decodes the image at most max_side pixels on its longest side, separates
 * the subject exactly as a job of p->mode does (inflate: p->background,
 * automatic separation that finds nothing falling back to the whole frame;
 * extrude and relief with cutout: p->background with no fallback, so
 * ORF_ENOSUBJECT; relief and lithophane otherwise: the whole frame), and
 * writes the image
 * as an RGBA PNG with the background transparent into *png (*png_size
 * bytes; free with orf_buffer_free).  *source (may be NULL) gets the
 * orf_result.mask_source value.  opts may be NULL (the defaults); its
 * limits, threads and segmenter are used (the network's matte comes from
 * and goes to the segmenter's cache, shared with orf_generate).
 * Errors as orf_generate's decoding and masking, or ORF_ENOMEM. */
int orf_subject_png(const uint8_t *data, size_t size, const orf_params *p, const orf_job_opts *opts,
                    uint32_t max_side, uint8_t **png, size_t *png_size, int *source);

/* An upper bound of the peak bytes a job with these parameters takes on an
 * image of width x height pixels (as orf_image_probe() gives them) from a
 * file of file_bytes bytes.  Admission control reserves this much. */
size_t orf_estimate_peak_bytes(const orf_params *p, uint32_t width, uint32_t height, size_t file_bytes);

/* An upper bound of the GPU memory a job with these parameters holds at
 * once on the CUDA path with field precision `prec` (0 for modes that do
 * not run there).  Admission control reserves this much of the GPU. */
size_t orf_estimate_device_bytes(const orf_params *p, orf_precision prec);

/* ---- repair: any mesh made printable (src/repair/) --------------------- */

typedef enum { ORF_REMESH_AUTO, ORF_REMESH_ALWAYS, ORF_REMESH_NEVER } orf_remesh;
typedef enum { ORF_UNITS_AUTO, ORF_UNITS_MM, ORF_UNITS_CM, ORF_UNITS_M, ORF_UNITS_IN } orf_units;
typedef enum { ORF_UP_AUTO, ORF_UP_Y, ORF_UP_Z } orf_up;

/* Parameters of orf_repair().  Fill with orf_repair_params_init(), then
 * change fields or call orf_repair_params_set() with text from a user. */
typedef struct orf_repair_params {
  int quality;          /* 1..10 (7): grid R(q), face budget F(q) */
  double size_mm;       /* longest side, 1..1000; 0: the file's size in `units` */
  orf_units units;      /* what the file is in: auto (m for glTF, else mm) */
  orf_up up;            /* auto (Y up for glTF, else Z up) */
  orf_remesh remesh;    /* auto: only a mesh that is not closed and manifold */
  double min_component; /* components under this share of the largest's volume are dropped (0.005) */
  double weld;          /* weld tolerance relative to the bounding-box diagonal (1e-5) */
  int max_faces;        /* 0: F(quality) */
  int realistic;        /* style: keep colours (1) or plain (0) */
  orf_format format;    /* output format (not part of the geometry) */
  size_t max_triangles; /* import limit (5,000,000) */
  size_t max_nodes;     /* import limit on scene nodes (100,000) */
} orf_repair_params;

void orf_repair_params_init(orf_repair_params *p);

/* Sets parameter `name` (quality, size_mm, units, up, remesh,
 * min_component, weld, max_faces, style, format, max_triangles, max_nodes)
 * from text, strictly: unknown names and values out of range return
 * ORF_EINVAL with a sentence whose first word is the parameter's name. */
int orf_repair_params_set(orf_repair_params *p, const char *name, const char *value, char *err,
                          size_t err_size);

/* The canonical text of *p (engine version, every geometry parameter,
 * sorted, '&'-joined; format left out), for cache keys.  Returns the length
 * it needs (like snprintf). */
size_t orf_repair_params_canonical(const orf_repair_params *p, char *buf, size_t buf_size);

/* The stages orf_repair() reports, in order ("imported", "rough_solid",
 * "final_repaired"); a mesh passed through unremeshed, or remeshed on a
 * grid no finer than rough_solid's 64 cells (quality 1 and 2), skips
 * rough_solid. */
typedef enum {
  ORF_REPAIR_IMPORTED,
  ORF_REPAIR_ROUGH,
  ORF_REPAIR_FINAL,
  ORF_REPAIR_STAGE_COUNT
} orf_repair_stage;
const char *orf_repair_stage_name(orf_repair_stage s);

/* Called on the job's thread with each stage's mesh (the engine's: copy
 * what you keep), in millimetres as the result will be placed.  Non-zero
 * cancels the job (ORF_ECANCELED). */
typedef int (*orf_repair_stage_fn)(void *user, orf_repair_stage stage, const orf_mesh *mesh, int grid,
                                   double elapsed_ms);

/* What orf_repair() found and did. */
typedef struct orf_repair_info {
  size_t input_triangles, input_vertices; /* as read, before welding */
  size_t welded_vertices;
  size_t open_edges, nonmanifold_edges; /* of the welded input */
  size_t components;                    /* of the welded input, joined through shared vertices */
  size_t flipped_faces;                 /* turned to agree with their neighbours or outward */
  size_t degenerate_dropped, duplicate_dropped;
  size_t floaters_dropped, floater_faces_dropped;
  int remeshed;            /* 1: winding-number remesh, 0: passed through */
  int grid;                /* cells on the longest side (0 when passed through) */
  double cell_mm;          /* grid cell in millimetres */
  double input_volume_mm3; /* signed volume of the oriented input, placed */
  double hausdorff_mm;     /* sampled distance from the input's surface to the output */
  double far_share;        /* share of input samples farther than a cell from the output */
  int thin_warning;        /* parts thinner than a cell were lost */
  double min_thickness_mm; /* with thin_warning: the thinnest part the grid keeps (a cell) */
  int coarsened;           /* made on a coarser grid than R(quality): the surface had more
                              faces than the memory estimate allows (grid is the one used) */
  double winding_ms, total_ms;
  size_t winding_evals;  /* exact winding-number evaluations on the grid */
  size_t importer_bytes; /* the import child's peak resident bytes above its start */
  char message[256];     /* a reason from the importer, or the thin-part and coarsening warnings */
} orf_repair_info;

/* Result of orf_repair(): free with orf_repair_result_free(). */
typedef struct orf_repair_result {
  orf_mesh mesh;
  orf_mesh_report report; /* of mesh */
  orf_repair_info info;
} orf_repair_result;

void orf_repair_result_free(orf_repair_result *r);

/* Reads a mesh file in memory with the Open Asset Import Library (glTF/GLB,
 * OBJ, STL, PLY, 3MF, FBX, OFF and the rest it reads), every mesh of every
 * node flattened with its node's transform, triangles only, unwelded as
 * the file has it, vertex colours (or the material's base colour, or its
 * base-colour texture sampled at each vertex's UV when the file embeds it)
 * kept.  assimp opens no file but these bytes (no MTL, no external buffer
 * or image).
 * `hint` is a file extension or NULL.  Limits (file size in lim, at most
 * p->max_triangles triangles and p->max_nodes nodes, zip entries of 3MF
 * and declared PLY counts) are checked before the mesh is allocated:
 * ORF_ETOOLARGE with the limit named in info->message.  A file assimp
 * cannot read: ORF_EBADMESH with assimp's reason in info->message.
 * *gltf (may be NULL) says whether the file was glTF (Y up, metres).
 * On error *out is empty. */
int orf_mesh_import(const uint8_t *data, size_t size, const char *hint, const orf_repair_params *p,
                    const orf_limits *lim, orf_mesh *out, int *gltf, orf_repair_info *info);

/* Makes the mesh in data (any format orf_mesh_import reads) printable:
 * weld, orient, drop floaters, then (remesh) the generalized winding
 * number on a grid of R(quality), marching cubes at 0.5, Taubin smoothing,
 * simplification to F(quality) or max_faces; placed in millimetres, Z up,
 * centred on x, y, resting on z = 0.  The result is closed, 2-manifold
 * and outward, or the call fails.  opts may be NULL (its on_stage is not
 * used: stages go to on_stage here, which may be NULL).  Fills *out (free
 * with orf_repair_result_free); on error *out holds only info (message). */
int orf_repair(const uint8_t *data, size_t size, const char *hint, const orf_repair_params *p,
               orf_job_opts *opts, orf_repair_stage_fn on_stage, void *user, orf_repair_result *out);

/* What a repair found and did, as compact JSON text (NUL-terminated, in a
 * buffer the caller frees with orf_free(); *len, may be NULL, gets its
 * length): {"input":{triangles, vertices, welded_vertices, open_edges,
 * nonmanifold_edges, components, volume_mm3}, "done":{flipped_faces,
 * degenerate_dropped, duplicate_dropped, floaters_dropped,
 * floater_faces_dropped, remeshed, grid, cell_mm}, "mesh":{vertices, faces,
 * watertight, manifold, euler, bbox_mm, volume_mm3, surface_mm2},
 * "fidelity":{hausdorff_mm, far_share, thin_warning}, "quality",
 * "timings_ms":{winding, total}, "winding_evals", "warning"?} - "warning"
 * (info.message) when parts thinner than a cell were lost or the grid was
 * coarsened.  The CLI's --json and the server's answer both start from it.
 * NULL when out of memory. */
char *orf_repair_figures_json(const orf_repair_result *r, const orf_repair_params *p, size_t *len);

/* An upper bound of orf_repair()'s peak bytes for the file in data
 * (file_bytes bytes; data may be NULL), the import child's memory
 * included: the largest of the repair's phases (import, weld, grid,
 * surface).  It is a bound by construction: orf_repair() refuses a file
 * that makes more triangles than the estimate allowed for its size (a
 * binary STL's count, an OBJ's face lines, twice a PLY's declared faces,
 * else by the size; at most p->max_triangles), and makes on a coarser grid
 * (info.coarsened) a surface with more marching-cubes faces than it
 * allowed at p->quality. */
size_t orf_estimate_repair_bytes(const orf_repair_params *p, const uint8_t *data, size_t file_bytes);

/* ---- GPU -------------------------------------------------------------- */

/* What the CUDA path sees.  Device memory is taken from one stream-ordered
 * pool (cudaMallocAsync); pool_used is what jobs hold now, pool_reserved
 * what the pool keeps from the driver (used + cached). */
typedef struct orf_gpu_info {
  int compiled;  /* this build has the CUDA path */
  int available; /* and a usable device was found */
  char name[96];
  int index;
  size_t total_bytes, free_bytes; /* of the device, from the driver */
  size_t pool_used_bytes, pool_reserved_bytes;
} orf_gpu_info;

/* Fills *out (never fails: without CUDA, compiled and available are 0).
 * The first call initialises the device; thread-safe. */
void orf_gpu_query(orf_gpu_info *out);

/* Gives the pool's cached, unused device memory back to the driver.  Safe
 * to call at any time, a no-op without a device. */
void orf_gpu_trim(void);

#ifdef __cplusplus
}
#endif
#endif
