/*
 * fuzz_ply.c - libFuzzer harness for orf_mesh_read_ply, the reader of the
 * binary PLY that the server keeps on disk for every stage and converts
 * to the format a client asks for (results.c: read the PLY, orf_export).
 * The files are the server's own, but a disk can hand back anything, so
 * the reader treats its input as untrusted.
 *
 * On each input: read it; on error the mesh must be empty.  On success
 * every index is in range and every coordinate finite, and the mesh goes
 * through the server's conversion (orf_export in STL, OBJ, PLY and GLB,
 * for meshes with faces) and orf_mesh_check; the PLY written back must
 * read as the same mesh.  Engine memory must be back to zero after each
 * input.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "orfeas.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                          \
  do {                                                                                                       \
    if (!(cond)) abort();                                                                                    \
  } while (0)

static int same_mesh(const orf_mesh *a, const orf_mesh *b) {
  if (a->vertex_count != b->vertex_count || a->face_count != b->face_count) return 0;
  if ((a->colors == NULL) != (b->colors == NULL)) return 0;
  if (a->vertex_count && memcmp(a->positions, b->positions, 12 * a->vertex_count)) return 0;
  if (a->colors && memcmp(a->colors, b->colors, 3 * a->vertex_count)) return 0;
  return a->face_count == 0 || memcmp(a->indices, b->indices, 12 * a->face_count) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  orf_memtrack track = {0};
  orf_memtrack *old = orf_memtrack_set(&track);

  orf_mesh m;
  int rc = orf_mesh_read_ply(data, size, &m);
  if (rc != ORF_OK) {
    CHECK(rc == ORF_EINVAL || rc == ORF_ENOMEM);
    CHECK(!m.positions && !m.indices && !m.colors && !m.vertex_count && !m.face_count);
  } else {
    for (size_t i = 0; i < 3 * m.vertex_count; i++)
      CHECK(isfinite(m.positions[i]));
    for (size_t i = 0; i < 3 * m.face_count; i++)
      CHECK(m.indices[i] < m.vertex_count);

    orf_mesh_report r;
    CHECK(orf_mesh_check(&m, &r) == ORF_OK);
    CHECK(r.faces == m.face_count && r.vertices == m.vertex_count);

    if (m.face_count > 0) {
      static const orf_format formats[] = {ORF_FMT_STL, ORF_FMT_OBJ, ORF_FMT_GLB, ORF_FMT_PLY};
      for (size_t k = 0; k < sizeof formats / sizeof *formats; k++) {
        uint8_t *out;
        size_t out_size;
        CHECK(orf_export(&m, formats[k], &out, &out_size) == ORF_OK);
        CHECK(out && out_size > 0);
        if (formats[k] == ORF_FMT_PLY) {
          orf_mesh back;
          CHECK(orf_mesh_read_ply(out, out_size, &back) == ORF_OK);
          CHECK(same_mesh(&m, &back));
          orf_mesh_free(&back);
        }
        orf_buffer_free(out);
      }
    }
    orf_mesh_free(&m);
  }

  orf_memtrack_set(old);
  CHECK(atomic_load(&track.current) == 0);
  return 0;
}
