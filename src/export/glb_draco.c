/*
 * glb_draco.c - the Draco-compressed GLB (KHR_draco_mesh_compression): the
 * mesh's attributes as glb.c writes them (metres, Y up; area-weighted
 * normals; COLOR_0 in linear light, or TEXCOORD_0 of the texture's
 * projection with the image) encoded by draco.cpp (draco.h) into buffer view 0, the
 * texture's image (if any) in buffer view 1.  The primitive's accessors
 * have no buffer view, as the extension has it: their counts, and the
 * POSITION bounds, are the decoded mesh's (draco.cpp decodes once to know
 * them).  The extension is required: a reader without a Draco decoder
 * (three.js's DRACOLoader, Babylon.js, Blender and model-viewer have one)
 * refuses the file rather than showing nothing.
 */
#include <string.h>

#include "alloc.h"
#include "export.h"
#include "mesh.h"

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

/* Contract: export.h.  ORF_EINVAL for a mesh too big, ORF_ENOMEM,
 * ORF_EINTERNAL (Draco failed). */
int orf_write_glb_draco(const orf_mesh *m, const orf_texture *t, orf_buf *out) {
  size_t v = m->vertex_count, f = m->face_count;
  int colors = m->colors != NULL && !t;
  if (v > UINT32_MAX / 12 || f > UINT32_MAX / 12 || (t && t->size > UINT32_MAX / 2)) return ORF_EINVAL;
  int rc = ORF_ENOMEM;
  float *pos = orf_malloc_array(v, 3 * sizeof(float)), *nrm = orf_malloc_array(v, 3 * sizeof(float));
  float *normals = orf_malloc_array(v, 3 * sizeof(float));
  float *extra = colors || t ? orf_malloc_array(v, 3 * sizeof(float)) : NULL;
  orf__draco_out d = {0};
  orf_buf j = {0};
  if (!pos || !nrm || !normals || ((colors || t) && !extra)) goto out;
  orf_mesh_vertex_normals(m, normals);
  for (size_t i = 0; i < v; i++) {
    orf_glb_position(m->positions + 3 * i, pos + 3 * i);
    const float *n = normals + 3 * i;
    nrm[3 * i] = n[0], nrm[3 * i + 1] = n[2], nrm[3 * i + 2] = -n[1];
    if (colors)
      for (int a = 0; a < 3; a++)
        extra[3 * i + a] = orf_srgb_to_linear(m->colors[3 * i + a]);
    if (t) orf_texture_project(t, m->positions + 3 * i, extra + 2 * i);
  }
  orf__draco_in in = {v, f, pos, nrm, colors ? extra : NULL, t ? extra : NULL, m->indices};
  if ((rc = orf__draco_encode(&in, &d))) goto out; /* the engine's codes (draco.h) */

  size_t mesh_len = pad4(d.size), image = t ? pad4(t->size) : 0;
  orf_buf_printf(&j,
                 "{\"asset\":{\"version\":\"2.0\",\"generator\":\"ORFEAS %s\"},"
                 "\"extensionsUsed\":[\"KHR_draco_mesh_compression\"],"
                 "\"extensionsRequired\":[\"KHR_draco_mesh_compression\"],"
                 "\"scene\":0,\"scenes\":[{\"nodes\":[0]}],\"nodes\":[{\"mesh\":0}],"
                 "\"meshes\":[{\"primitives\":[{\"attributes\":{\"POSITION\":0,\"NORMAL\":1%s},"
                 "\"indices\":%d,\"material\":0,\"mode\":4,\"extensions\":{\"KHR_draco_mesh_compression\":"
                 "{\"bufferView\":0,\"attributes\":{\"POSITION\":%d,\"NORMAL\":%d",
                 ORF_VERSION,
                 colors ? ",\"COLOR_0\":2"
                 : t    ? ",\"TEXCOORD_0\":2"
                        : "",
                 colors || t ? 3 : 2, d.ids[0], d.ids[1]);
  if (colors || t) orf_buf_printf(&j, ",\"%s\":%d", colors ? "COLOR_0" : "TEXCOORD_0", d.ids[2]);
  orf_buf_printf(&j, "}}}}]}],");
  orf_glb_put_material(&j, t, 1);
  orf_buf_printf(&j,
                 "\"buffers\":[{\"byteLength\":%zu}],\"bufferViews\":[{\"buffer\":0,\"byteOffset\":0,"
                 "\"byteLength\":%zu}",
                 mesh_len + image, d.size);
  if (t) orf_buf_printf(&j, ",{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu}", mesh_len, t->size);
  orf_buf_printf(&j,
                 "],\"accessors\":[{\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\","
                 "\"min\":[%.9g,%.9g,%.9g],\"max\":[%.9g,%.9g,%.9g]},"
                 "{\"componentType\":5126,\"count\":%zu,\"type\":\"VEC3\"},",
                 d.points, d.lo[0], d.lo[1], d.lo[2], d.hi[0], d.hi[1], d.hi[2], d.points);
  if (colors || t)
    orf_buf_printf(&j, "{\"componentType\":5126,\"count\":%zu,\"type\":\"%s\"},", d.points,
                   colors ? "VEC3" : "VEC2");
  orf_buf_printf(&j, "{\"componentType\":5125,\"count\":%zu,\"type\":\"SCALAR\"}]}", 3 * f);
  if (orf_glb_begin(out, &j, mesh_len + image)) {
    rc = j.failed || out->failed ? ORF_ENOMEM : ORF_EINVAL;
    goto out;
  }
  orf_glb_put_padded(out, d.data, d.size);
  if (t) orf_glb_put_padded(out, t->data, t->size);
  rc = out->failed ? ORF_ENOMEM : ORF_OK;
out:
  orf_buf_free(&j);
  orf_free(pos);
  orf_free(nrm);
  orf_free(normals);
  orf_free(extra);
  orf__draco_free(&d);
  return rc;
}
