/*
 * import.c - orf_mesh_import(): any mesh file into an orf_mesh, through the
 * Open Asset Import Library's C API (assimp, https://github.com/assimp/assimp).
 *
 * Untrusted files are capped before anything large is allocated, as the
 * image decoders are (ENGINE.md "Input"): the file size first; then what
 * can be read from a header without parsing the body - a binary STL's
 * triangle count, a PLY's declared element counts, an OBJ's face lines, the
 * uncompressed sizes in a 3MF's zip directory (a zip bomb is refused from
 * its directory, before assimp inflates it); then, after assimp has parsed
 * the file, the node count and the triangle count of the flattened scene,
 * before our own mesh is allocated.  The node tree is walked with an
 * explicit stack (no recursion on untrusted depth) and every mesh instance
 * is flattened with its accumulated transform, so instancing cannot
 * multiply triangles past the limit unseen.
 *
 * The checks that need no parsing run here; assimp's parse and the
 * flattening run in a child process (isolate.c), so that a file that
 * crashes or hangs assimp costs its own request only, and the mesh the
 * child sends back is checked again here (indices, finite positions).
 * Each child has its own assimp, so its last-error string
 * (aiGetErrorString, a global) is its own import's and imports run in
 * parallel.  assimp's memory (new/delete) is the child's, capped by the
 * admission estimate (orf_estimate_repair_bytes), which allows for it.
 *
 * assimp reads the upload through file callbacks of ours (aiFileIO) that
 * serve the upload's bytes under one name and refuse every other name: a
 * file cannot make the importer open files of the server's own (an OBJ's
 * `mtllib /some/path`, a glTF buffer or image with a `uri` outside the
 * file), which assimp's own in-memory reader would do, relative to the
 * working directory or by absolute path.  So only what the file itself
 * holds is read: a GLB's embedded images and a glTF's data: URIs, but not
 * the MTL file and textures beside an OBJ, nor a .gltf's separate .bin.
 *
 * Colours: vertex colours (COLOR_0), the material's base or diffuse colour,
 * and the base-colour (or diffuse) texture where the file embeds one and
 * the mesh has the texture coordinates it names: the texture is decoded by
 * the engine's own image decoders (PNG, JPEG, WebP: src/image), within the
 * image limits, box-downscaled to at most TEX_SIDE pixels a side, and
 * sampled bilinearly at each vertex's coordinates with the sampler's wrap
 * mode.  The colour is kept per vertex: detail of the texture finer than
 * the mesh's vertex spacing is lost.
 */
#include <assimp/cfileio.h>
#include <assimp/cimport.h>
#include <assimp/material.h>
#include <assimp/postprocess.h>
#include <assimp/scene.h>
#include <assimp/texture.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "alloc.h"
#include "image.h"
#include "mesh.h"
#include "repair.h"

static int fail(orf_repair_info *info, int rc, const char *fmt, const char *a, unsigned long long x,
                unsigned long long y) {
  if (info) snprintf(info->message, sizeof info->message, fmt, a, x, y);
  return rc;
}

uint64_t orf_zip_unpacked_bytes(const uint8_t *data, size_t size) {
  if (size < 4 || memcmp(data, "PK\3\4", 4)) return 0;
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(data, size, 0, &ze);
  zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY, &ze) : NULL;
  if (!z) {
    if (src) zip_source_free(src);
    zip_error_fini(&ze);
    return 0;
  }
  uint64_t total = 0;
  zip_int64_t n = zip_get_num_entries(z, 0);
  for (zip_int64_t i = 0; i < n; i++) {
    zip_stat_t st;
    if (!zip_stat_index(z, (zip_uint64_t)i, 0, &st) && (st.valid & ZIP_STAT_SIZE)) total += st.size;
  }
  zip_discard(z);
  zip_error_fini(&ze);
  return total;
}

/* Sum of the uncompressed sizes a zip archive's directory declares.  assimp
 * sizes its inflate buffers from these, so refusing a large declared total
 * bounds its memory.  Returns 0 when the archive is refused. */
static int zip_check(const uint8_t *data, size_t size, size_t cap, orf_repair_info *info) {
  zip_error_t ze;
  zip_error_init(&ze);
  zip_source_t *src = zip_source_buffer_create(data, size, 0, &ze);
  if (!src) return fail(info, ORF_ENOMEM, "%s", "out of memory reading the zip directory", 0, 0);
  zip_t *z = zip_open_from_source(src, ZIP_RDONLY, &ze);
  if (!z) {
    zip_source_free(src);
    zip_error_fini(&ze);
    return fail(info, ORF_EBADMESH, "%s", "the file is not a readable zip (3MF) archive", 0, 0);
  }
  zip_int64_t n = zip_get_num_entries(z, 0);
  unsigned long long total = 0;
  int rc = ORF_OK;
  if (n > 10000) {
    rc = fail(info, ORF_ETOOLARGE, "%sthe archive has %llu entries, past the limit of %llu", "",
              (unsigned long long)n, 10000);
  }
  for (zip_int64_t i = 0; rc == ORF_OK && i < n; i++) {
    zip_stat_t st;
    if (zip_stat_index(z, (zip_uint64_t)i, 0, &st) || !(st.valid & ZIP_STAT_SIZE)) continue;
    total += st.size;
    if (total > cap)
      rc = fail(info, ORF_ETOOLARGE, "%sthe archive unpacks to more than %llu bytes (limit %llu)", "", total,
                (unsigned long long)cap);
  }
  zip_discard(z);
  zip_error_fini(&ze);
  return rc;
}

/* A PLY header's declared vertex and face counts, checked against the
 * limits before assimp reserves storage for them, and its end. */
static int ply_check(const uint8_t *data, size_t size, const orf_repair_params *p, orf_repair_info *info) {
  size_t end = size < 65536 ? size : 65536;
  size_t i = 0;
  while (i < end) {
    size_t j = i;
    while (j < end && data[j] != '\n')
      j++;
    char line[128];
    size_t len = j - i < sizeof line - 1 ? j - i : sizeof line - 1;
    memcpy(line, data + i, len);
    line[len] = 0;
    unsigned long long n;
    char kind[32];
    if (sscanf(line, "element %31s %llu", kind, &n) == 2) {
      if (!strcmp(kind, "face") && n > p->max_triangles)
        return fail(info, ORF_ETOOLARGE, "%sthe PLY header declares %llu faces, past the limit of %llu", "",
                    n, (unsigned long long)p->max_triangles);
      if (!strcmp(kind, "vertex") && n > 3 * (unsigned long long)p->max_triangles)
        return fail(info, ORF_ETOOLARGE, "%sthe PLY header declares %llu vertices, past the limit of %llu",
                    "", n, 3 * (unsigned long long)p->max_triangles);
    }
    if (!strncmp(line, "end_header", 10)) return ORF_OK;
    i = j + 1;
  }
  /* assimp 5.2 loops forever on a header cut before end_header, and reads
   * wild memory when a damaged one runs into the body */
  return fail(info, ORF_EBADMESH, "%s", "the PLY header has no end_header line in its first 64 kB", 0, 0);
}

/* See repair.h. */
uint64_t orf_obj_triangles(const uint8_t *data, size_t size) {
  uint64_t tris = 0;
  for (size_t i = 0; i < size;) {
    const uint8_t *nl = memchr(data + i, '\n', size - i);
    size_t j = nl ? (size_t)(nl - data) : size;
    if (j - i > 2 && data[i] == 'f' && (data[i + 1] == ' ' || data[i + 1] == '\t')) {
      int corners = 0, in = 0;
      for (size_t k = i + 1; k < j; k++) {
        int space = data[k] == ' ' || data[k] == '\t' || data[k] == '\r';
        if (!space && !in) corners++;
        in = !space;
      }
      if (corners > 2) tris += (uint64_t)corners - 2;
    }
    i = j + 1;
  }
  return tris;
}

/* An OBJ's triangles as its face lines declare them, against the limit. */
static int obj_check(const uint8_t *data, size_t size, const orf_repair_params *p, orf_repair_info *info) {
  unsigned long long tris = orf_obj_triangles(data, size);
  if (tris > p->max_triangles)
    return fail(info, ORF_ETOOLARGE, "%sthe OBJ declares %llu triangles, past the limit of %llu", "", tris,
                (unsigned long long)p->max_triangles);
  return ORF_OK;
}

static int ends_with(const char *s, const char *ext) { return s && !strcasecmp(s, ext); }

/* The checks that need no parsing (see the top of the file). */
static int precheck(const uint8_t *data, size_t size, const char *hint, const orf_repair_params *p,
                    const orf_limits *lim, orf_repair_info *info) {
  if (size == 0) return fail(info, ORF_EBADMESH, "%s", "the file is empty", 0, 0);
  if (lim && size > lim->max_file_bytes)
    return fail(info, ORF_ETOOLARGE, "%sthe file has %llu bytes, past the upload limit of %llu", "",
                (unsigned long long)size, (unsigned long long)lim->max_file_bytes);
  if (size >= 4 && !memcmp(data, "PK\3\4", 4)) {
    size_t cap = 64 * size + (64u << 20);
    if (cap > (size_t)1 << 30) cap = (size_t)1 << 30;
    return zip_check(data, size, cap, info);
  }
  if (size >= 4 && !memcmp(data, "ply", 3) && (data[3] == '\n' || data[3] == '\r'))
    return ply_check(data, size, p, info);
  if (size >= 84 && memcmp(data, "solid", 5) != 0) {
    uint32_t n;
    memcpy(&n, data + 80, 4);
    if ((uint64_t)n * 50 + 84 == size && n > p->max_triangles)
      return fail(info, ORF_ETOOLARGE, "%sthe STL has %llu triangles, past the limit of %llu", "",
                  (unsigned long long)n, (unsigned long long)p->max_triangles);
  }
  if (ends_with(hint, "obj")) return obj_check(data, size, p, info);
  return ORF_OK;
}

static void xform_point(const struct aiMatrix4x4 *m, const struct aiVector3D *v, float out[3]) {
  double x = v->x, y = v->y, z = v->z;
  out[0] = (float)(m->a1 * x + m->a2 * y + m->a3 * z + m->a4);
  out[1] = (float)(m->b1 * x + m->b2 * y + m->b3 * z + m->b4);
  out[2] = (float)(m->c1 * x + m->c2 * y + m->c3 * z + m->c4);
}

static void matmul(const struct aiMatrix4x4 *a, const struct aiMatrix4x4 *b, struct aiMatrix4x4 *o) {
  const float *pa = &a->a1, *pb = &b->a1;
  float r[16];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) {
      double s = 0;
      for (int k = 0; k < 4; k++)
        s += (double)pa[4 * i + k] * pb[4 * k + j];
      r[4 * i + j] = (float)s;
    }
  memcpy(&o->a1, r, sizeof r);
}

static uint8_t linear_to_srgb(float c) {
  double v = c <= 0 ? 0 : c >= 1 ? 1 : c;
  v = v <= 0.0031308 ? 12.92 * v : 1.055 * pow(v, 1 / 2.4) - 0.055;
  return (uint8_t)lrint(v * 255);
}

static uint8_t srgb_byte(float c) { return (uint8_t)lrint((c <= 0 ? 0 : c >= 1 ? 1 : c) * 255); }

/* The material's base colour (glTF) or diffuse colour, 0 when it has none. */
static int material_color(const struct aiScene *s, unsigned mi, struct aiColor4D *c) {
  if (mi >= s->mNumMaterials) return 0;
  const struct aiMaterial *mat = s->mMaterials[mi];
  return aiGetMaterialColor(mat, AI_MATKEY_BASE_COLOR, c) == aiReturn_SUCCESS ||
         aiGetMaterialColor(mat, AI_MATKEY_COLOR_DIFFUSE, c) == aiReturn_SUCCESS;
}


/* ---- the upload as the importer's only file ------------------------- */

#define UPLOAD_NAME "orfeas-upload."

typedef struct upload_io {
  struct aiFileIO io;
  const uint8_t *data;
  size_t size;
  char name[64];
} upload_io;

typedef struct upload_file {
  struct aiFile f;
  const upload_io *up;
  size_t pos;
} upload_file;

static size_t uf_read(struct aiFile *f, char *buf, size_t size, size_t count) {
  upload_file *u = (upload_file *)f;
  if (!size || !count) return 0;
  size_t left = u->up->size - u->pos, n = count;
  if (n > left / size) n = left / size;
  memcpy(buf, u->up->data + u->pos, n * size);
  u->pos += n * size;
  return n;
}

static size_t uf_write(struct aiFile *f, const char *buf, size_t size, size_t count) {
  (void)f, (void)buf, (void)size, (void)count;
  return 0;
}

static size_t uf_tell(struct aiFile *f) { return ((upload_file *)f)->pos; }
static size_t uf_size(struct aiFile *f) { return ((upload_file *)f)->up->size; }
static void uf_flush(struct aiFile *f) { (void)f; }

static enum aiReturn uf_seek(struct aiFile *f, size_t off, enum aiOrigin origin) {
  upload_file *u = (upload_file *)f;
  size_t base = origin == aiOrigin_SET ? 0 : origin == aiOrigin_CUR ? u->pos : u->up->size;
  if (off > u->up->size || base > u->up->size - off) return aiReturn_FAILURE;
  u->pos = base + off;
  return aiReturn_SUCCESS;
}

/* The upload under its name, for reading; NULL for any other file. */
static struct aiFile *uf_open(struct aiFileIO *io, const char *name, const char *mode) {
  const upload_io *up = (const upload_io *)io;
  if (!name || strcmp(name, up->name) || !mode || strchr(mode, 'w') || strchr(mode, 'a')) return NULL;
  upload_file *u = calloc(1, sizeof *u);
  if (!u) return NULL;
  u->f = (struct aiFile){uf_read, uf_write, uf_tell, uf_size, uf_seek, uf_flush, NULL};
  u->up = up;
  return &u->f;
}

static void uf_close(struct aiFileIO *io, struct aiFile *f) {
  (void)io;
  free(f);
}

/* ---- base-colour textures -------------------------------------------- */

#define TEX_SIDE 2048              /* textures are sampled at most this size a side */
#define TEX_CACHE_BYTES (64u << 20) /* decoded textures kept at once */

typedef struct tex_cache {
  const struct aiScene *s;
  orf_image *img;  /* per texture of the scene, rgba NULL until decoded */
  uint8_t *state;  /* per texture: 0 not tried, 1 decoded, 2 unusable */
  size_t bytes;
  float lut[256];  /* sRGB byte to linear */
} tex_cache;

/* The texture of the scene that a material's texture path names: "*N" for
 * the Nth embedded one, else an embedded texture of that file name (FBX);
 * -1 when the file does not hold it. */
static long embedded_index(const struct aiScene *s, const char *path) {
  if (path[0] == '*') {
    char *end;
    unsigned long n = strtoul(path + 1, &end, 10);
    return *end || end == path + 1 || n >= s->mNumTextures ? -1 : (long)n;
  }
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  if (strrchr(base, '\\')) base = strrchr(base, '\\') + 1;
  for (unsigned i = 0; i < s->mNumTextures; i++) {
    const char *fn = s->mTextures[i]->mFilename.data, *fb = strrchr(fn, '/') ? strrchr(fn, '/') + 1 : fn;
    if (strrchr(fb, '\\')) fb = strrchr(fb, '\\') + 1;
    if (*base && !strcmp(fb, base)) return (long)i;
  }
  return -1;
}

/* The base-colour texture of material mi (glTF's base colour, else the
 * diffuse map) when the file embeds it: its index, the UV channel and the
 * wrap modes.  0 when there is none. */
static int material_texture(const struct aiScene *s, unsigned mi, unsigned *tex, unsigned *uv,
                            enum aiTextureMapMode mode[2]) {
  if (mi >= s->mNumMaterials || !s->mNumTextures) return 0;
  static const enum aiTextureType kTypes[] = {aiTextureType_BASE_COLOR, aiTextureType_DIFFUSE};
  for (int t = 0; t < 2; t++) {
    struct aiString path;
    unsigned uvi = 0;
    enum aiTextureMapMode mm[2] = {aiTextureMapMode_Wrap, aiTextureMapMode_Wrap};
    if (aiGetMaterialTexture(s->mMaterials[mi], kTypes[t], 0, &path, NULL, &uvi, NULL, NULL, mm, NULL) !=
        aiReturn_SUCCESS)
      continue;
    path.data[path.length < MAXLEN ? path.length : MAXLEN - 1] = 0;
    long i = embedded_index(s, path.data);
    if (i < 0) continue;
    *tex = (unsigned)i;
    *uv = uvi < AI_MAX_NUMBER_OF_TEXTURECOORDS ? uvi : 0;
    mode[0] = mm[0];
    mode[1] = mm[1];
    return 1;
  }
  return 0;
}

static void tex_drop_all(tex_cache *c) {
  for (unsigned i = 0; i < c->s->mNumTextures; i++)
    if (c->state[i] == 1) {
      orf_image_free(&c->img[i]);
      c->state[i] = 0;
    }
  c->bytes = 0;
}

/* Texture i decoded (PNG, JPEG or WebP by the engine's decoders, within
 * the image limits; or assimp's own BGRA texels) and downscaled to
 * TEX_SIDE; NULL when it cannot be used. */
static const orf_image *tex_get(tex_cache *c, unsigned i) {
  if (c->state[i] == 1) return &c->img[i];
  if (c->state[i] == 2) return NULL;
  const struct aiTexture *t = c->s->mTextures[i];
  orf_image full = {0};
  int rc = ORF_EBADIMAGE;
  if (t->mHeight == 0 && t->mWidth > 0 && t->pcData) {
    orf_limits lim;
    orf_limits_init(&lim);
    rc = orf_image_decode((const uint8_t *)t->pcData, t->mWidth, &lim, TEX_SIDE, &full);
  } else if (t->mHeight > 0 && t->mWidth > 0 && t->pcData && !t->achFormatHint[0] &&
             (uint64_t)t->mWidth * t->mHeight <= 40000000u) {
    size_t n = (size_t)t->mWidth * t->mHeight;
    full.rgba = orf_malloc_array(n, 4);
    if (full.rgba) {
      full.width = t->mWidth;
      full.height = t->mHeight;
      for (size_t k = 0; k < n; k++) {
        full.rgba[4 * k] = t->pcData[k].r;
        full.rgba[4 * k + 1] = t->pcData[k].g;
        full.rgba[4 * k + 2] = t->pcData[k].b;
        full.rgba[4 * k + 3] = t->pcData[k].a;
      }
      rc = ORF_OK;
    }
  }
  if (rc == ORF_OK) {
    rc = orf_image_downscale(&full, TEX_SIDE, 1, &c->img[i]);
    orf_image_free(&full);
  }
  if (rc != ORF_OK) {
    c->state[i] = 2;
    return NULL;
  }
  size_t bytes = (size_t)c->img[i].width * c->img[i].height * 4;
  if (c->bytes + bytes > TEX_CACHE_BYTES) tex_drop_all(c);
  c->bytes += bytes;
  c->state[i] = 1;
  return &c->img[i];
}

/* A texture coordinate in [0, 1] by the wrap mode. */
static double wrap(double u, enum aiTextureMapMode m) {
  if (!isfinite(u)) return 0;
  if (m == aiTextureMapMode_Clamp || m == aiTextureMapMode_Decal) return u < 0 ? 0 : u > 1 ? 1 : u;
  double f = u - floor(u);
  if (m == aiTextureMapMode_Mirror && ((long long)floor(u) & 1)) f = 1 - f;
  return f;
}

/* The texture's colour at (u, v) (assimp's convention: v up from the
 * image's bottom row), bilinear between texel centres; linear when lut is
 * given, else sRGB scaled to [0, 1]. */
static void tex_sample(const orf_image *im, double u, double v, const enum aiTextureMapMode mode[2],
                       const float *lut, float out[3]) {
  double x = wrap(u, mode[0]) * im->width - 0.5, y = (1 - wrap(v, mode[1])) * im->height - 0.5;
  double fx = floor(x), fy = floor(y), ax = x - fx, ay = y - fy;
  long x0 = (long)fx, y0 = (long)fy;
  out[0] = out[1] = out[2] = 0;
  for (int c = 0; c < 4; c++) {
    long xi = x0 + (c & 1), yi = y0 + (c >> 1);
    xi = xi < 0 ? 0 : xi >= (long)im->width ? (long)im->width - 1 : xi;
    yi = yi < 0 ? 0 : yi >= (long)im->height ? (long)im->height - 1 : yi;
    double w = ((c & 1) ? ax : 1 - ax) * ((c >> 1) ? ay : 1 - ay);
    const uint8_t *px = im->rgba + 4 * ((size_t)yi * im->width + (size_t)xi);
    for (int k = 0; k < 3; k++)
      out[k] += (float)(w * (lut ? lut[px[k]] : px[k] / 255.0f));
  }
}

typedef struct walk_item {
  const struct aiNode *node;
  struct aiMatrix4x4 xf;
} walk_item;

/* Walks the node tree (explicit stack), calling visit() once per mesh
 * instance with its world transform.  Fails past max_nodes. */
typedef int (*visit_fn)(void *ctx, const struct aiMesh *mesh, const struct aiMatrix4x4 *xf);

static int walk(const struct aiScene *s, size_t max_nodes, visit_fn visit, void *ctx, size_t *nodes) {
  size_t cap = 64, top = 0, seen = 0;
  walk_item *st = orf_malloc_array(cap, sizeof *st);
  if (!st) return ORF_ENOMEM;
  st[top].node = s->mRootNode;
  st[top++].xf = s->mRootNode->mTransformation;
  int rc = ORF_OK;
  while (top && rc == ORF_OK) {
    walk_item it = st[--top];
    if (++seen > max_nodes) {
      rc = ORF_ETOOLARGE;
      break;
    }
    for (unsigned i = 0; i < it.node->mNumMeshes && rc == ORF_OK; i++) {
      unsigned mi = it.node->mMeshes[i];
      if (mi < s->mNumMeshes) rc = visit(ctx, s->mMeshes[mi], &it.xf);
    }
    for (unsigned c = 0; c < it.node->mNumChildren && rc == ORF_OK; c++) {
      if (top == cap) {
        walk_item *bigger = orf_realloc(st, 2 * cap * sizeof *st);
        if (!bigger) {
          rc = ORF_ENOMEM;
          break;
        }
        st = bigger;
        cap *= 2;
      }
      st[top].node = it.node->mChildren[c];
      matmul(&it.xf, &it.node->mChildren[c]->mTransformation, &st[top++].xf);
    }
  }
  orf_free(st);
  *nodes = seen;
  return rc;
}

typedef struct count_ctx {
  const struct aiScene *s;
  unsigned long long tris, verts;
  int vertex_colors, textured;
  size_t max_tris;
} count_ctx;

static int count_visit(void *ctx, const struct aiMesh *mesh, const struct aiMatrix4x4 *xf) {
  (void)xf;
  count_ctx *c = ctx;
  for (unsigned f = 0; f < mesh->mNumFaces; f++)
    if (mesh->mFaces[f].mNumIndices == 3) c->tris++;
  c->verts += mesh->mNumVertices;
  if (mesh->mColors[0]) c->vertex_colors = 1;
  unsigned tex, uv;
  enum aiTextureMapMode mode[2];
  if (material_texture(c->s, mesh->mMaterialIndex, &tex, &uv, mode) && mesh->mTextureCoords[uv])
    c->textured = 1;
  return c->tris > c->max_tris || c->verts > 3ull * c->max_tris ? ORF_ETOOLARGE : ORF_OK;
}

typedef struct fill_ctx {
  const struct aiScene *scene;
  orf_mesh *m;
  size_t v, f;
  int gltf;
  tex_cache *tex;
} fill_ctx;

static int fill_visit(void *ctx, const struct aiMesh *mesh, const struct aiMatrix4x4 *xf) {
  fill_ctx *c = ctx;
  orf_mesh *m = c->m;
  size_t base = c->v;
  struct aiColor4D mc = {0.8f, 0.8f, 0.8f, 1};
  material_color(c->scene, mesh->mMaterialIndex, &mc);
  const orf_image *tex = NULL;
  const struct aiVector3D *uvs = NULL;
  unsigned ti, uv;
  enum aiTextureMapMode mode[2];
  if (m->colors && material_texture(c->scene, mesh->mMaterialIndex, &ti, &uv, mode) &&
      (uvs = mesh->mTextureCoords[uv]) != NULL)
    tex = tex_get(c->tex, ti);
  for (unsigned i = 0; i < mesh->mNumVertices; i++) {
    xform_point(xf, &mesh->mVertices[i], m->positions + 3 * (base + i));
    if (!m->colors) continue;
    /* glTF: COLOR_0 times the base colour factor times the base colour
     * texture, all linear; other formats: the vertex colour, else the
     * texture, else the material's colour, as sRGB */
    float col[3] = {1, 1, 1}, t[3] = {1, 1, 1};
    const struct aiColor4D *vc = mesh->mColors[0] ? &mesh->mColors[0][i] : NULL;
    if (tex) tex_sample(tex, uvs[i].x, uvs[i].y, mode, c->gltf ? c->tex->lut : NULL, t);
    for (int k = 0; k < 3; k++) {
      if (c->gltf)
        col[k] = (vc ? (&vc->r)[k] : 1) * (&mc.r)[k] * t[k];
      else
        col[k] = vc ? (&vc->r)[k] * t[k] : tex ? t[k] : (&mc.r)[k];
      m->colors[3 * (base + i) + k] = c->gltf ? linear_to_srgb(col[k]) : srgb_byte(col[k]);
    }
  }
  for (unsigned f = 0; f < mesh->mNumFaces; f++) {
    const struct aiFace *face = &mesh->mFaces[f];
    if (face->mNumIndices != 3) continue;
    for (int k = 0; k < 3; k++) {
      if (face->mIndices[k] >= mesh->mNumVertices) return ORF_EBADMESH;
      m->indices[3 * c->f + k] = (uint32_t)(base + face->mIndices[k]);
    }
    c->f++;
  }
  c->v += mesh->mNumVertices;
  return ORF_OK;
}

static int looks_gltf(const uint8_t *data, size_t size, const char *hint) {
  if (ends_with(hint, "glb") || ends_with(hint, "gltf")) return 1;
  if (size >= 4 && !memcmp(data, "glTF", 4)) return 1;
  size_t n = size < 4096 ? size : 4096;
  return n && data[0] == '{' && memmem(data, n, "\"asset\"", 7) != NULL;
}

/* What the child needs to parse (isolate.c). */
typedef struct parse_ctx {
  const uint8_t *data;
  size_t size;
  const char *hint;
  const orf_repair_params *p;
  int gltf;
} parse_ctx;

/* In the child: assimp's parse, the limits on the scene, the flattening. */
static int parse_scene(void *vctx, orf_mesh *out, orf_repair_info *info) {
  const parse_ctx *pc = vctx;
  const orf_repair_params *p = pc->p;
  struct aiPropertyStore *props = aiCreatePropertyStore();
  if (!props) return ORF_ENOMEM;
  /* points and lines are dropped; faces of more corners are triangulated */
  aiSetImportPropertyInteger(props, AI_CONFIG_PP_SBP_REMOVE, aiPrimitiveType_POINT | aiPrimitiveType_LINE);
  unsigned flags = aiProcess_Triangulate | aiProcess_SortByPType | aiProcess_ValidateDataStructure;
  /* the upload is the only file the importer can open (see the top) */
  upload_io up = {{uf_open, uf_close, NULL}, pc->data, pc->size, {0}};
  snprintf(up.name, sizeof up.name, "%s%.16s", UPLOAD_NAME, pc->hint && !strchr(pc->hint, '/') ? pc->hint : "");
  const struct aiScene *s = aiImportFileExWithProperties(up.name, flags, &up.io, props);
  aiReleasePropertyStore(props);
  if (!s) {
    const char *why = aiGetErrorString();
    if (strstr(why, "bad_alloc"))
      return fail(info, ORF_ETOOLARGE, "%s", "reading the file needs more memory than the importer may use",
                  0, 0);
    snprintf(info->message, sizeof info->message, "the importer says: %s", why);
    return ORF_EBADMESH;
  }
  int rc;
  size_t nodes = 0;
  count_ctx cc = {s, 0, 0, 0, 0, p->max_triangles};
  if (!s->mRootNode) {
    rc = fail(info, ORF_EBADMESH, "%s", "the file has no scene", 0, 0);
    goto out;
  }
  rc = walk(s, p->max_nodes, count_visit, &cc, &nodes);
  if (rc == ORF_ETOOLARGE) {
    if (nodes > p->max_nodes)
      fail(info, rc, "%sthe scene has more than %llu nodes (limit %llu)", "",
           (unsigned long long)p->max_nodes, (unsigned long long)p->max_nodes);
    else
      fail(info, rc, "%sthe scene has more than %llu triangles (limit %llu)", "",
           (unsigned long long)p->max_triangles, (unsigned long long)p->max_triangles);
  }
  if (rc) goto out;
  if (cc.tris == 0) {
    rc = fail(info, ORF_EBADMESH, "%s", "the file holds no triangles", 0, 0);
    goto out;
  }
  /* colours: vertex colours where a mesh has them, else materials' colours
   * when the meshes have more than one between them */
  int colors = cc.vertex_colors || cc.textured;
  if (!colors && s->mNumMeshes > 1) {
    struct aiColor4D c0, c1;
    for (unsigned i = 1; i < s->mNumMeshes && !colors; i++)
      if (material_color(s, s->mMeshes[0]->mMaterialIndex, &c0) &&
          material_color(s, s->mMeshes[i]->mMaterialIndex, &c1))
        colors = c0.r != c1.r || c0.g != c1.g || c0.b != c1.b;
  }
  if ((rc = orf_mesh_alloc(out, (size_t)cc.verts, (size_t)cc.tris, colors))) goto out;
  tex_cache tc = {s, NULL, NULL, 0, {0}};
  if (cc.textured) {
    tc.img = orf_calloc(s->mNumTextures, sizeof *tc.img);
    tc.state = orf_calloc(s->mNumTextures, 1);
    if (!tc.img || !tc.state) rc = ORF_ENOMEM;
    for (int k = 0; k < 256; k++) {
      double x = k / 255.0;
      tc.lut[k] = (float)(x <= 0.04045 ? x / 12.92 : pow((x + 0.055) / 1.055, 2.4));
    }
  }
  fill_ctx fc = {s, out, 0, 0, pc->gltf, &tc};
  if (rc == ORF_OK) rc = walk(s, p->max_nodes, fill_visit, &fc, &nodes);
  if (tc.state) tex_drop_all(&tc);
  orf_free(tc.img);
  orf_free(tc.state);
  if (rc == ORF_EBADMESH) fail(info, rc, "%s", "a face refers to a vertex the mesh does not have", 0, 0);
out:
  if (rc) orf_mesh_free(out);
  aiReleaseImport(s);
  return rc;
}

/* How long the child may parse: generous for any file under the upload
 * limit (assimp reads tens of MB a second), short enough that a file that
 * makes it loop costs little. */
#define IMPORT_SECONDS 30.0

int orf_mesh_import(const uint8_t *data, size_t size, const char *hint, const orf_repair_params *p,
                    const orf_limits *lim, orf_mesh *out, int *gltf, orf_repair_info *info) {
  memset(out, 0, sizeof *out);
  orf_repair_info scratch;
  if (!info) info = &scratch;
  info->message[0] = 0;
  int rc = precheck(data, size, hint, p, lim, info);
  if (rc) return rc;
  parse_ctx pc = {data, size, hint, p, looks_gltf(data, size, hint)};
  if (gltf) *gltf = pc.gltf;
  /* the child may use what the admission estimate allows for the whole
   * repair (the importer's memory included), and 256 MiB of slack */
  size_t mem = orf_estimate_repair_bytes(p, data, size) + ((size_t)256 << 20);
  rc = orf_parse_isolated(parse_scene, &pc, IMPORT_SECONDS, mem, 3 * p->max_triangles, p->max_triangles, out,
                          info);
  if (rc) return rc;
  /* the child's answer is checked as a file would be */
  for (size_t i = 0; i < 3 * out->face_count; i++)
    if (out->indices[i] >= out->vertex_count) {
      rc = fail(info, ORF_EINTERNAL, "%s", "the mesh importer sent a face with a vertex out of range", 0, 0);
      break;
    }
  for (size_t i = 0; rc == ORF_OK && i < 3 * out->vertex_count; i++)
    if (!isfinite(out->positions[i]))
      rc = fail(info, ORF_EBADMESH, "%s", "a vertex position is not a finite number", 0, 0);
  if (rc) {
    orf_mesh_free(out);
    return rc;
  }
  info->input_triangles = out->face_count;
  info->input_vertices = out->vertex_count;
  return ORF_OK;
}
