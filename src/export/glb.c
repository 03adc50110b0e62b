/*
 * glb.c - glTF 2.0 binary writer (Khronos glTF 2.0 specification, section
 * "GLB File Format Specification"): a 12-byte header ('glTF', version 2,
 * total length), a JSON chunk padded with spaces and a BIN chunk padded
 * with zeros, both to 4 bytes.
 *
 * glTF is in metres with Y up; the engine's meshes are in millimetres with
 * Z up.  (x, y, z) mm becomes (x, z, -y) / 1000: a rotation of -90 degrees
 * about X (determinant +1), so handedness and counter-clockwise winding are
 * kept, and normals turn the same way.
 *
 * One mesh, one triangle primitive, one node, one scene.  The BIN chunk
 * holds, tightly packed, each in its own bufferView: POSITION (float VEC3,
 * with the accessor min/max of the converted floats exactly as written),
 * NORMAL (float VEC3, unit, area-weighted from orf_mesh_vertex_normals),
 * COLOR_0 when the mesh has colours, and the indices (UNSIGNED_INT).
 *
 * With a texture (orf_export_textured): TEXCOORD_0 (float VEC2, the
 * texture's projection of each vertex's millimetres, glTF's top-left
 * origin as orf_texture has it) in place of COLOR_0, the image's bytes
 * after the indices in a buffer view of their own (padded to 4 with
 * zeros), and the material's baseColorTexture (orf_glb_put_material).
 * Vertex colours are not written then: glTF multiplies COLOR_0 into the
 * base colour, which would darken the picture by the mesh's own blurred
 * copy of it.
 *
 * COLOR_0 is linear in glTF while our colours are sRGB bytes, so they are
 * converted with the sRGB transfer function (IEC 61966-2-1).  They are
 * written as FLOAT VEC3: normalized bytes would crush the dark tones (sRGB
 * 1..12 all map to linear byte 0 or 1), UNSIGNED_SHORT would need a VEC4 or
 * a padded stride to keep glTF's 4-byte element alignment, and FLOAT VEC3 is
 * read by every loader without an alpha channel that could switch a viewer
 * into blending.
 *
 * The JSON is a fixed, small document, written by hand: that fixes its
 * bytes (key order, number format) without depending on a JSON library's
 * output style, which determinism needs.  Floats are printed with %.9g so
 * that they read back as the same float32.
 */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "export.h"
#include "mesh.h"

#define GLB_MAGIC 0x46546C67u /* "glTF" */
#define GLB_JSON 0x4E4F534Au  /* "JSON" */
#define GLB_BIN 0x004E4942u   /* "BIN\0" */

/* mm Z-up -> m Y-up, the one conversion used for data and bounds alike. */
void orf_glb_position(const float *p, float q[3]) {
  q[0] = (float)(p[0] / 1000.0);
  q[1] = (float)(p[2] / 1000.0);
  q[2] = (float)(-p[1] / 1000.0);
}

float orf_srgb_to_linear(uint8_t c) {
  double s = c / 255.0;
  return (float)(s <= 0.04045 ? s / 12.92 : pow((s + 0.055) / 1.055, 2.4));
}

/* Contract (export.h): appends `"materials":[...],` - one
 * metallic-roughness material, white, not metallic, roughness 0.8 (a
 * matte print), single-sided - and, with a texture, its baseColorTexture
 * and the `textures`, `samplers` (linear, mipmapped, clamped to the edge:
 * the fill around the subject continues past its edge, and coordinates a
 * rounding past 0..1 keep the edge's colour) and `images` (buffer view
 * image_view, t's mimeType) it uses. */
void orf_glb_put_material(orf_buf *j, const orf_texture *t, int image_view) {
  orf_buf_printf(j,
                 "\"materials\":[{\"pbrMetallicRoughness\":{\"baseColorFactor\":[1,1,1,1],%s"
                 "\"metallicFactor\":0,\"roughnessFactor\":0.8},\"doubleSided\":false}],",
                 t ? "\"baseColorTexture\":{\"index\":0,\"texCoord\":0}," : "");
  if (t)
    orf_buf_printf(j,
                   "\"textures\":[{\"sampler\":0,\"source\":0}],"
                   "\"samplers\":[{\"magFilter\":9729,\"minFilter\":9987,\"wrapS\":33071,\"wrapT\":33071}],"
                   "\"images\":[{\"bufferView\":%d,\"mimeType\":\"%s\"}],",
                   image_view, t->mime);
}

/* Appends the JSON document (unpadded) for a BIN buffer of the given
 * layout: POSITION, NORMAL, then COLOR_0 (colours, no texture) or
 * TEXCOORD_0 (texture), the indices, and the image. */
static void put_json(orf_buf *j, const orf_mesh *m, const orf_texture *t, const float min[3],
                     const float max[3], size_t bin_len) {
  size_t v = m->vertex_count, vbytes = 12 * v, ibytes = 12 * m->face_count;
  int colors = m->colors != NULL && !t;
  int idx = colors || t ? 3 : 2; /* accessor and bufferView of the indices */
  size_t third = t ? 8 * v : vbytes;

  orf_buf_printf(j,
                 "{\"asset\":{\"version\":\"2.0\",\"generator\":\"ORFEAS %s\"},"
                 "\"scene\":0,\"scenes\":[{\"nodes\":[0]}],\"nodes\":[{\"mesh\":0}],"
                 "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":0,\"NORMAL\":1",
                 ORF_VERSION);
  if (colors) orf_buf_printf(j, ",\"COLOR_0\":2");
  if (t) orf_buf_printf(j, ",\"TEXCOORD_0\":2");
  orf_buf_printf(j, "},\"indices\":%d,\"material\":0,\"mode\":4}]}],", idx);
  orf_glb_put_material(j, t, idx + 1);
  orf_buf_printf(j, "\"buffers\":[{\"byteLength\":%zu}],\"bufferViews\":[", bin_len);
  size_t at = 0;
  for (int a = 0; a < idx; a++) {
    size_t len = a == 2 ? third : vbytes;
    orf_buf_printf(j, "{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu,\"target\":34962},", at, len);
    at += len;
  }
  orf_buf_printf(j, "{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu,\"target\":34963}", at, ibytes);
  at += ibytes;
  if (t) orf_buf_printf(j, ",{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu}", at, t->size);
  orf_buf_printf(j,
                 "],\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\","
                 "\"min\":[%.9g,%.9g,%.9g],\"max\":[%.9g,%.9g,%.9g]},"
                 "{\"bufferView\":1,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\"},",
                 v, min[0], min[1], min[2], max[0], max[1], max[2], v);
  if (colors)
    orf_buf_printf(j, "{\"bufferView\":2,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\"},", v);
  if (t) orf_buf_printf(j, "{\"bufferView\":2,\"componentType\":5126,\"count\":%zu,\"type\":\"VEC2\"},", v);
  orf_buf_printf(j, "{\"bufferView\":%d,\"componentType\":5125,\"count\":%zu,\"type\":\"SCALAR\"}]}", idx,
                 3 * m->face_count);
}

/* Contract: pads *json with spaces to 4 bytes and appends to *out the GLB
 * header, the JSON chunk and the BIN chunk's header for bin_len bytes (a
 * multiple of 4) that the caller appends next.  -1 when memory runs out
 * or the file would pass GLB's 32-bit length. */
void orf_glb_put_padded(orf_buf *out, const void *data, size_t len) {
  static const uint8_t zeros[4] = {0};
  orf_buf_append(out, data, len);
  orf_buf_append(out, zeros, (4 - len % 4) % 4);
}

int orf_glb_begin(orf_buf *out, orf_buf *json, size_t bin_len) {
  while (!json->failed && json->len % 4)
    orf_buf_append(json, " ", 1);
  uint64_t total = 12 + 8 + (uint64_t)json->len + 8 + bin_len;
  if (json->failed || total > UINT32_MAX || orf_buf_reserve(out, (size_t)total)) return -1;
  orf_buf_u32le(out, GLB_MAGIC);
  orf_buf_u32le(out, 2);
  orf_buf_u32le(out, (uint32_t)total);
  orf_buf_u32le(out, (uint32_t)json->len);
  orf_buf_u32le(out, GLB_JSON);
  orf_buf_append(out, json->data, json->len);
  orf_buf_u32le(out, (uint32_t)bin_len);
  orf_buf_u32le(out, GLB_BIN);
  return out->failed ? -1 : 0;
}

/* Contract: appends the GLB of *m (a mesh orf_export() accepts) to *out,
 * converted to metres, Y up, with TEXCOORD_0 and the image of t (an image
 * orf_export_textured accepts) or, t NULL, COLOR_0 where m->colors is set.
 * ORF_EINVAL for a mesh without faces or one too big for GLB's 32-bit
 * lengths, ORF_ENOMEM when memory runs out (scratch is freed; what was
 * appended to *out stays for the caller to free). */
int orf_write_glb(const orf_mesh *m, const orf_texture *t, orf_buf *out) {
  size_t v = m->vertex_count, f = m->face_count;
  if (f == 0 || v == 0) return ORF_EINVAL;
  int colors = m->colors != NULL && !t;
  if (v > UINT32_MAX / 36 || f > UINT32_MAX / 12 || (t && t->size > UINT32_MAX)) return ORF_EINVAL;
  /* every part a multiple of 4, the image padded with zeros */
  size_t image = t ? (t->size + 3) & ~(size_t)3 : 0;
  size_t bin_len = (colors ? 36 : t ? 32 : 24) * v + 12 * f + image;

  float min[3], max[3];
  for (size_t i = 0; i < v; i++) {
    float q[3];
    orf_glb_position(m->positions + 3 * i, q);
    for (int a = 0; a < 3; a++) {
      if (i == 0 || q[a] < min[a]) min[a] = q[a];
      if (i == 0 || q[a] > max[a]) max[a] = q[a];
    }
  }

  orf_buf j = {0};
  put_json(&j, m, t, min, max, bin_len);
  while (!j.failed && j.len % 4)
    orf_buf_append(&j, " ", 1);
  float *normals = orf_malloc_array(v, 3 * sizeof(float));
  if (j.failed || !normals) {
    orf_buf_free(&j);
    orf_free(normals);
    return ORF_ENOMEM;
  }
  if (12 + 8 + (uint64_t)j.len + 8 + bin_len > UINT32_MAX) {
    orf_buf_free(&j);
    orf_free(normals);
    return ORF_EINVAL;
  }
  orf_mesh_vertex_normals(m, normals);

  if (orf_glb_begin(out, &j, bin_len)) goto out_nomem;

  for (size_t i = 0; i < v; i++) {
    float q[3];
    orf_glb_position(m->positions + 3 * i, q);
    for (int a = 0; a < 3; a++)
      orf_buf_f32le(out, q[a]);
  }
  for (size_t i = 0; i < v; i++) {
    const float *n = normals + 3 * i; /* a rotation: no unit conversion */
    orf_buf_f32le(out, n[0]);
    orf_buf_f32le(out, n[2]);
    orf_buf_f32le(out, -n[1]);
  }
  if (colors) {
    float lin[256];
    for (int c = 0; c < 256; c++)
      lin[c] = orf_srgb_to_linear((uint8_t)c);
    for (size_t i = 0; i < 3 * v; i++)
      orf_buf_f32le(out, lin[m->colors[i]]);
  }
  if (t) {
    for (size_t i = 0; i < v; i++) {
      float uv[2];
      orf_texture_project(t, m->positions + 3 * i, uv);
      orf_buf_f32le(out, uv[0]);
      orf_buf_f32le(out, uv[1]);
    }
  }
  for (size_t i = 0; i < 3 * f; i++)
    orf_buf_u32le(out, m->indices[i]);
  if (t) orf_glb_put_padded(out, t->data, t->size);
  if (out->failed) goto out_nomem;

  orf_buf_free(&j);
  orf_free(normals);
  return ORF_OK;
out_nomem:
  orf_buf_free(&j);
  orf_free(normals);
  return ORF_ENOMEM;
}
