/*
 * draco.cpp - a GLB mesh's Draco encoding (KHR_draco_mesh_compression)
 * with Debian's libdraco (libdraco-dev), behind the C interface of
 * draco.h, as src/segment/net.cpp is for OpenCV.
 *
 * The mesh goes in with glTF's attributes (positions in metres, normals,
 * linear colours or texture coordinates), one value per point, and comes
 * out as Draco's Edgebreaker bitstream, quantised: positions to 14 bits
 * over the box (error at most half a step, as the meshopt GLB), normals to
 * 10, colours to 10, texture coordinates to 16 (error at most 1/131070 of
 * the texture's side).  Speed 3 for both encoding and decoding (draco_encoder's compression level
 * 7, its default).  The bitstream is decoded once here: the accessors of
 * the GLB need the point count the decoder will give and the positions'
 * bounds after quantisation, which only the decoder knows exactly.  The
 * encoder is deterministic: the same mesh gives the same bytes.
 */
#include "draco.h"

#include <draco/compression/decode.h>
#include <draco/compression/encode.h>
#include <draco/mesh/mesh.h>

#include <cstring>
#include <memory>
#include <new>

namespace {

/* Adds an attribute of n floats per point, one value per point. */
int add_attribute(draco::Mesh &mesh, draco::GeometryAttribute::Type type, int n, const float *values,
                  size_t points) {
  draco::GeometryAttribute ga;
  ga.Init(type, nullptr, (uint8_t)n, draco::DT_FLOAT32, false, (int64_t)sizeof(float) * n, 0);
  int id = mesh.AddAttribute(ga, true, (uint32_t)points);
  if (id < 0) return -1;
  draco::PointAttribute *pa = mesh.attribute(id);
  for (size_t i = 0; i < points; i++)
    pa->SetAttributeValue(draco::AttributeValueIndex((uint32_t)i), values + (size_t)n * i);
  return id;
}

int encode(const orf__draco_in *in, orf__draco_out *out) {
  draco::Mesh mesh;
  mesh.set_num_points((uint32_t)in->vertices);
  for (size_t f = 0; f < in->faces; f++) {
    draco::Mesh::Face face;
    for (int k = 0; k < 3; k++)
      face[k] = draco::PointIndex(in->indices[3 * f + k]);
    mesh.AddFace(face);
  }
  int ids[3] = {add_attribute(mesh, draco::GeometryAttribute::POSITION, 3, in->positions, in->vertices),
                add_attribute(mesh, draco::GeometryAttribute::NORMAL, 3, in->normals, in->vertices), -2};
  if (in->colors) ids[2] = add_attribute(mesh, draco::GeometryAttribute::COLOR, 3, in->colors, in->vertices);
  if (in->uvs) ids[2] = add_attribute(mesh, draco::GeometryAttribute::TEX_COORD, 2, in->uvs, in->vertices);
  if (ids[0] < 0 || ids[1] < 0 || ids[2] == -1) return ORF__DRACO_ENOMEM;

  draco::Encoder enc;
  enc.SetAttributeQuantization(draco::GeometryAttribute::POSITION, ORF_DRACO_POSITION_BITS);
  enc.SetAttributeQuantization(draco::GeometryAttribute::NORMAL, 10);
  enc.SetAttributeQuantization(draco::GeometryAttribute::COLOR, 10);
  enc.SetAttributeQuantization(draco::GeometryAttribute::TEX_COORD, 16);
  enc.SetSpeedOptions(3, 3);
  enc.SetEncodingMethod(draco::MESH_EDGEBREAKER_ENCODING);
  auto *buf = new draco::EncoderBuffer;
  out->owner = buf;
  if (!enc.EncodeMeshToBuffer(mesh, buf).ok()) return ORF__DRACO_EINTERNAL;

  /* what a decoder makes of it: the accessors' counts and bounds */
  draco::DecoderBuffer db;
  db.Init(buf->data(), buf->size());
  draco::Decoder dec;
  auto decoded = dec.DecodeMeshFromBuffer(&db);
  if (!decoded.ok()) return ORF__DRACO_EINTERNAL;
  std::unique_ptr<draco::Mesh> back = std::move(decoded).value();
  const draco::PointAttribute *pos = back->GetNamedAttribute(draco::GeometryAttribute::POSITION);
  if (!pos || back->num_faces() != in->faces) return ORF__DRACO_EINTERNAL;
  for (draco::PointIndex p(0); p < back->num_points(); ++p) {
    float v[3];
    pos->GetMappedValue(p, v);
    for (int a = 0; a < 3; a++) {
      if (p.value() == 0 || v[a] < out->lo[a]) out->lo[a] = v[a];
      if (p.value() == 0 || v[a] > out->hi[a]) out->hi[a] = v[a];
    }
  }
  out->points = back->num_points();
  for (int k = 0; k < 3; k++)
    out->ids[k] = ids[k] >= 0 ? (int)mesh.attribute(ids[k])->unique_id() : -1;
  out->data = reinterpret_cast<const uint8_t *>(buf->data());
  out->size = buf->size();
  return ORF__DRACO_OK;
}

} // namespace

/* Contract: draco.h.  C++ exceptions (std::bad_alloc from the library's
 * containers) never cross into C. */
extern "C" int orf__draco_encode(const orf__draco_in *in, orf__draco_out *out) {
  memset(out, 0, sizeof *out);
  if (!in->vertices || !in->faces || in->vertices > UINT32_MAX / 2 || in->faces > UINT32_MAX / 3)
    return ORF__DRACO_EINVAL;
  int rc;
  try {
    rc = encode(in, out);
  } catch (const std::bad_alloc &) {
    rc = ORF__DRACO_ENOMEM;
  } catch (...) {
    rc = ORF__DRACO_EINTERNAL;
  }
  if (rc) orf__draco_free(out);
  return rc;
}

extern "C" void orf__draco_free(orf__draco_out *out) {
  delete static_cast<draco::EncoderBuffer *>(out->owner);
  memset(out, 0, sizeof *out);
}
