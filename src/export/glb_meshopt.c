/*
 * glb_meshopt.c - the compressed GLB: quantised attributes
 * (KHR_mesh_quantization) in buffer views compressed with meshoptimizer's
 * codecs (EXT_meshopt_compression), the layout gltfpack writes and that
 * three.js (GLTFLoader with MeshoptDecoder), Babylon.js, model-viewer and
 * Blender read.  The encoder is meshoptimizer's own (a dependency already,
 * for simplification): nothing of the codec is written by hand here.
 *
 * Before encoding, triangles are ordered for the vertex cache and vertices
 * for fetch (meshopt_optimizeVertexCache, meshopt_optimizeVertexFetchRemap),
 * which is what lets the codecs find their deltas; each triangle keeps its
 * winding.  Then, per vertex:
 *   POSITION  UNSIGNED_SHORT VEC3 (stride 8), 14 bits over the longest side
 *             of the box: q = round((p - min) / s), s = extent / 16383, and
 *             the node's translation (min) and uniform scale (s) turn them
 *             back into metres.  Error at most s / 2 on each axis.
 *   NORMAL    BYTE normalized VEC3 (stride 4): round(127 n), error at most
 *             1/254 on each component.
 *   COLOR_0   UNSIGNED_SHORT normalized VEC3 (stride 8), linear (as glb.c:
 *             16 bits keep sRGB's dark tones apart).
 *   TEXCOORD_0, with a texture instead of COLOR_0: UNSIGNED_SHORT
 *             normalized VEC2 (stride 4), round(65535 u) of the
 *             projection clamped to 0..1 (the sampler clamps there too):
 *             error at most 1/131070, 0.016 texel of a 2048 texture.
 * and the indices as UNSIGNED_INT in TRIANGLES mode.  The texture's image
 * is not a mesh stream: its bytes follow the compressed streams in buffer
 * 0 in a plain buffer view (a JPEG or PNG is compressed already).  The BIN chunk holds
 * the compressed streams (buffer 0); buffer 1 is the fallback buffer the
 * extension defines, with no data (the extension is required, so no reader
 * without a decoder will try it), in whose layout the buffer views are
 * described.  Coordinates are glb.c's: metres, Y up.
 */
#include <math.h>
#include <meshoptimizer.h>
#include <string.h>

#include "alloc.h"
#include "export.h"
#include "mesh.h"

#define QBITS 14
#define QMAX ((1 << QBITS) - 1)

typedef struct stream {
  size_t stride, count;
  int mode; /* 0 ATTRIBUTES, 1 TRIANGLES */
  size_t raw_offset, raw_len;
  size_t enc_offset, enc_len;
} stream;

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

/* Contract: appends the compressed GLB of *m (a mesh orf_export() accepts)
 * with the texture t (an image orf_export_textured accepts; NULL: COLOR_0
 * where m->colors is set) to *out; the same mesh and texture give the same
 * bytes.  ORF_EINVAL for a mesh too big for 32-bit lengths, ORF_ENOMEM
 * when memory runs out. */
int orf_write_glb_meshopt(const orf_mesh *m, const orf_texture *t, orf_buf *out) {
  size_t v = m->vertex_count, f = m->face_count, n3 = 3 * f;
  int colors = m->colors != NULL && !t;
  if (v == 0 || f == 0 || v > UINT32_MAX / 8 || f > UINT32_MAX / 12 || (t && t->size > UINT32_MAX / 2))
    return ORF_EINVAL;
  int rc = ORF_ENOMEM;
  unsigned *idx = orf_malloc_array(n3, sizeof *idx), *remap = orf_malloc_array(v, sizeof *remap);
  float *normals = orf_malloc_array(v, 3 * sizeof(float));
  uint16_t *pos = orf_malloc_array(v, 8), *col = colors ? orf_malloc_array(v, 8) : NULL;
  uint16_t *tc = t ? orf_malloc_array(v, 4) : NULL;
  int8_t *nrm = orf_malloc_array(v, 4);
  uint8_t *tmp = orf_malloc_array(v, 8), *enc = NULL;
  orf_buf j = {0};
  if (!idx || !remap || !normals || !pos || !nrm || !tmp || (colors && !col) || (t && !tc)) goto out;

  /* quantisation grid over the glTF-space box */
  float lo[3], hi[3];
  for (size_t i = 0; i < v; i++) {
    float q[3];
    orf_glb_position(m->positions + 3 * i, q);
    for (int a = 0; a < 3; a++) {
      if (i == 0 || q[a] < lo[a]) lo[a] = q[a];
      if (i == 0 || q[a] > hi[a]) hi[a] = q[a];
    }
  }
  double ext = 0;
  for (int a = 0; a < 3; a++)
    if ((double)hi[a] - lo[a] > ext) ext = (double)hi[a] - lo[a];
  double step = ext > 0 ? ext / QMAX : 1;
  float scale = (float)step;

  orf_mesh_vertex_normals(m, normals);
  float lin[256];
  for (int c = 0; c < 256; c++)
    lin[c] = orf_srgb_to_linear((uint8_t)c);
  memset(pos, 0, 8 * v);
  memset(nrm, 0, 4 * v);
  if (col) memset(col, 0, 8 * v);
  uint16_t qlo[3] = {QMAX, QMAX, QMAX}, qhi[3] = {0, 0, 0};
  for (size_t i = 0; i < v; i++) {
    float q[3];
    orf_glb_position(m->positions + 3 * i, q);
    const float *n = normals + 3 * i, g[3] = {n[0], n[2], -n[1]};
    for (int a = 0; a < 3; a++) {
      long k = lrint(((double)q[a] - lo[a]) / step);
      pos[4 * i + a] = (uint16_t)(k < 0 ? 0 : k > QMAX ? QMAX : k);
      nrm[4 * i + a] = (int8_t)lrintf(fmaxf(-1.f, fminf(1.f, g[a])) * 127.f);
      if (col) col[4 * i + a] = (uint16_t)lrintf(lin[m->colors[3 * i + a]] * 65535.f);
    }
    if (tc) {
      float uv[2];
      orf_texture_project(t, m->positions + 3 * i, uv);
      for (int a = 0; a < 2; a++)
        tc[2 * i + a] = (uint16_t)lrintf(fmaxf(0.f, fminf(1.f, uv[a])) * 65535.f);
    }
  }

  /* cache order for triangles, fetch order for vertices */
  meshopt_optimizeVertexCache(idx, m->indices, n3, v);
  size_t nv = meshopt_optimizeVertexFetchRemap(remap, idx, n3, v);
  meshopt_remapIndexBuffer(idx, idx, n3, remap);
  meshopt_remapVertexBuffer(tmp, pos, v, 8, remap);
  memcpy(pos, tmp, 8 * nv);
  meshopt_remapVertexBuffer(tmp, nrm, v, 4, remap);
  memcpy(nrm, tmp, 4 * nv);
  if (col) {
    meshopt_remapVertexBuffer(tmp, col, v, 8, remap);
    memcpy(col, tmp, 8 * nv);
  }
  if (tc) {
    meshopt_remapVertexBuffer(tmp, tc, v, 4, remap);
    memcpy(tc, tmp, 4 * nv);
  }
  for (size_t i = 0; i < nv; i++)
    for (int a = 0; a < 3; a++) {
      if (pos[4 * i + a] < qlo[a]) qlo[a] = pos[4 * i + a];
      if (pos[4 * i + a] > qhi[a]) qhi[a] = pos[4 * i + a];
    }

  /* the streams: POSITION, NORMAL, then COLOR_0 or TEXCOORD_0, indices */
  stream st[4];
  const void *data[4] = {pos, nrm, NULL, NULL};
  int ns = 2, idx_stream;
  st[0] = (stream){8, nv, 0, 0, 0, 0, 0};
  st[1] = (stream){4, nv, 0, 0, 0, 0, 0};
  if (col || tc) {
    data[ns] = col ? (const void *)col : (const void *)tc;
    st[ns++] = (stream){col ? 8 : 4, nv, 0, 0, 0, 0, 0};
  }
  idx_stream = ns;
  data[ns] = idx;
  st[ns++] = (stream){4, n3, 1, 0, 0, 0, 0};
  size_t bound = 0, raw = 0;
  for (int s = 0; s < ns; s++) {
    st[s].raw_offset = raw;
    st[s].raw_len = st[s].stride * st[s].count;
    raw += st[s].raw_len;
    bound += pad4(st[s].mode ? meshopt_encodeIndexBufferBound(n3, nv)
                             : meshopt_encodeVertexBufferBound(st[s].count, st[s].stride));
  }
  size_t image = t ? pad4(t->size) : 0; /* the image after the streams, padded with zeros */
  if (raw > UINT32_MAX || !(enc = orf_malloc(bound ? bound : 4))) goto out;
  size_t at = 0;
  meshopt_encodeVertexVersion(0);
  meshopt_encodeIndexVersion(1);
  for (int s = 0; s < ns; s++) {
    size_t room = bound - at,
           len = st[s].mode ? meshopt_encodeIndexBuffer(enc + at, room, idx, n3)
                            : meshopt_encodeVertexBuffer(enc + at, room, data[s], st[s].count, st[s].stride);
    if (len == 0) {
      rc = ORF_EINTERNAL;
      goto out;
    }
    st[s].enc_offset = at;
    st[s].enc_len = len;
    memset(enc + at + len, 0, pad4(len) - len);
    at += pad4(len);
  }

  orf_buf_printf(&j,
                 "{\"asset\":{\"version\":\"2.0\",\"generator\":\"ORFEAS %s\"},"
                 "\"extensionsUsed\":[\"EXT_meshopt_compression\",\"KHR_mesh_quantization\"],"
                 "\"extensionsRequired\":[\"EXT_meshopt_compression\",\"KHR_mesh_quantization\"],"
                 "\"scene\":0,\"scenes\":[{\"nodes\":[0]}],"
                 "\"nodes\":[{\"mesh\":0,\"translation\":[%.9g,%.9g,%.9g],\"scale\":[%.9g,%.9g,%.9g]}],"
                 "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":0,\"NORMAL\":1",
                 ORF_VERSION, lo[0], lo[1], lo[2], scale, scale, scale);
  if (col) orf_buf_printf(&j, ",\"COLOR_0\":2");
  if (tc) orf_buf_printf(&j, ",\"TEXCOORD_0\":2");
  orf_buf_printf(&j, "},\"indices\":%d,\"material\":0,\"mode\":4}]}],", idx_stream);
  orf_glb_put_material(&j, t, ns);
  orf_buf_printf(&j,
                 "\"buffers\":[{\"byteLength\":%zu},{\"byteLength\":%zu,"
                 "\"extensions\":{\"EXT_meshopt_compression\":{\"fallback\":true}}}],\"bufferViews\":[",
                 at + image, raw);
  for (int s = 0; s < ns; s++)
    orf_buf_printf(&j,
                   "%s{\"buffer\":1,\"byteOffset\":%zu,\"byteLength\":%zu,%s\"target\":%d,"
                   "\"extensions\":{\"EXT_meshopt_compression\":{\"buffer\":0,\"byteOffset\":%zu,"
                   "\"byteLength\":%zu,\"byteStride\":%zu,\"count\":%zu,\"mode\":\"%s\"}}}",
                   s ? "," : "", st[s].raw_offset, st[s].raw_len,
                   st[s].mode ? "" : (st[s].stride == 8 ? "\"byteStride\":8," : "\"byteStride\":4,"),
                   st[s].mode ? 34963 : 34962, st[s].enc_offset, st[s].enc_len, st[s].stride, st[s].count,
                   st[s].mode ? "TRIANGLES" : "ATTRIBUTES");
  if (t) orf_buf_printf(&j, ",{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu}", at, t->size);
  orf_buf_printf(
      &j,
      "],\"accessors\":[{\"bufferView\":0,\"componentType\":5123,\"count\":%zu,\"type\":\"VEC3\","
      "\"min\":[%u,%u,%u],\"max\":[%u,%u,%u]},"
      "{\"bufferView\":1,\"componentType\":5120,\"normalized\":true,\"count\":%zu,\"type\":\"VEC3\"},",
      nv, qlo[0], qlo[1], qlo[2], qhi[0], qhi[1], qhi[2], nv);
  if (col)
    orf_buf_printf(&j,
                   "{\"bufferView\":2,\"componentType\":5123,\"normalized\":true,\"count\":%zu,"
                   "\"type\":\"VEC3\"},",
                   nv);
  if (tc)
    orf_buf_printf(&j,
                   "{\"bufferView\":2,\"componentType\":5123,\"normalized\":true,\"count\":%zu,"
                   "\"type\":\"VEC2\"},",
                   nv);
  orf_buf_printf(&j, "{\"bufferView\":%d,\"componentType\":5125,\"count\":%zu,\"type\":\"SCALAR\"}]}",
                 idx_stream, n3);
  if (orf_glb_begin(out, &j, at + image)) {
    rc = j.failed || out->failed ? ORF_ENOMEM : ORF_EINVAL;
    goto out;
  }
  orf_buf_append(out, enc, at);
  if (t) orf_glb_put_padded(out, t->data, t->size);
  rc = out->failed ? ORF_ENOMEM : ORF_OK;
out:
  orf_buf_free(&j);
  orf_free(idx);
  orf_free(remap);
  orf_free(normals);
  orf_free(pos);
  orf_free(col);
  orf_free(tc);
  orf_free(nrm);
  orf_free(tmp);
  orf_free(enc);
  return rc;
}
