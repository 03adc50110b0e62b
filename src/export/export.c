/*
 * export.c - orf_export_textured(), the one export (orf_export and
 * orf_export_compressed are it without a texture), and its file form
 * orf_export_file_textured(): checks a mesh (and a texture) once, picks the
 * writer of the format (stl.c, obj.c, ply.c, glb.c, glb_meshopt.c,
 * glb_draco.c, threemf.c; a textured OBJ is a zip of the OBJ, its MTL and the image,
 * zip.c) and hands out its bytes, or puts them in files atomically.
 *
 * The file is written the way crash-safe writers do it (the classic
 * "write temporary, fsync, rename" pattern, as in SQLite's and Git's lock
 * files): a reader of `path` sees either the old file or the whole new one,
 * never half of it.
 */
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "export.h"

/* A mesh the writers can trust: something to write, indices in range,
 * counts that fit the formats' 32-bit fields, finite coordinates (a NaN
 * would make GLB's accessor bounds meaningless and slicers choke). */
static int check_mesh(const orf_mesh *m) {
  if (!m || !m->positions || !m->indices || m->face_count == 0 || m->vertex_count == 0) return ORF_EINVAL;
  if (m->vertex_count > UINT32_MAX || m->face_count > UINT32_MAX / 3) return ORF_EINVAL;
  for (size_t i = 0; i < 3 * m->vertex_count; i++)
    if (!isfinite(m->positions[i])) return ORF_EINVAL;
  for (size_t i = 0; i < 3 * m->face_count; i++)
    if (m->indices[i] >= m->vertex_count) return ORF_EINVAL;
  return ORF_OK;
}

/* Contract: on ORF_OK *out holds *out_size bytes that the caller frees with
 * orf_buffer_free(); on error *out is NULL and *out_size 0.  ORF_EINVAL for
 * an empty or malformed mesh (see check_mesh) or an unknown format,
 * ORF_ENOMEM when memory runs out, ORF_EINTERNAL when libzip fails (3MF)
 * for another reason. */
int orf_export(const orf_mesh *m, orf_format f, uint8_t **out, size_t *out_size) {
  return orf_export_compressed(m, f, ORF_COMPRESS_NONE, out, out_size);
}

const char *orf_compress_name(orf_compress c) {
  switch (c) {
  case ORF_COMPRESS_NONE: return "none";
  case ORF_COMPRESS_MESHOPT: return "meshopt";
  case ORF_COMPRESS_DRACO: return "draco";
  }
  return NULL;
}

/* Contract: as orf_export(); compression other than NONE is ORF_EINVAL for
 * a format other than GLB. */
int orf_export_compressed(const orf_mesh *m, orf_format f, orf_compress c, uint8_t **out, size_t *out_size) {
  return orf_export_textured(m, NULL, f, c, out, out_size);
}

/* Contract (export.h): "jpg" or "png" for t's mime type, else NULL. */
const char *orf_texture_ext(const orf_texture *t) {
  if (!t || !t->mime) return NULL;
  if (!strcmp(t->mime, "image/jpeg")) return "jpg";
  if (!strcmp(t->mime, "image/png")) return "png";
  return NULL;
}

/* A texture the writers can trust: bytes, a mime type they know, a
 * finite projection. */
static int check_texture(const orf_texture *t) {
  if (!t->size || !orf_texture_ext(t)) return ORF_EINVAL;
  for (int r = 0; r < 2; r++)
    for (int k = 0; k < 4; k++)
      if (!isfinite(t->uv[r][k])) return ORF_EINVAL;
  return ORF_OK;
}

/* Contract (export.h): appends the zip of model.obj, model.mtl and
 * model.<jpg|png> (stored) for *m and t.  ORF_OK, ORF_ENOMEM,
 * ORF_EINTERNAL (libzip), ORF_EINVAL (the writers'). */
int orf_write_obj_zip(const orf_mesh *m, const orf_texture *t, orf_buf *out) {
  char image[16];
  snprintf(image, sizeof image, "model.%s", orf_texture_ext(t));
  orf_buf obj = {0}, mtl = {0};
  int rc = orf_write_obj(m, t, "model.mtl", &obj);
  if (!rc) rc = orf_write_mtl(image, &mtl);
  if (!rc) {
    const orf_zip_part parts[3] = {{"model.obj", obj.data, obj.len, 0},
                                   {"model.mtl", mtl.data, mtl.len, 0},
                                   {image, t->data, t->size, 1}};
    rc = orf_zip_write(parts, 3, out);
  }
  orf_buf_free(&obj);
  orf_buf_free(&mtl);
  return rc;
}

/* Contract: see orfeas.h.  t NULL or without data: vertex colours. */
int orf_export_textured(const orf_mesh *m, const orf_texture *t, orf_format f, orf_compress c, uint8_t **out,
                        size_t *out_size) {
  if (!out || !out_size) return ORF_EINVAL;
  *out = NULL;
  *out_size = 0;
  int rc = check_mesh(m);
  if (rc) return rc;
  if ((unsigned)c > ORF_COMPRESS_DRACO || (c != ORF_COMPRESS_NONE && f != ORF_FMT_GLB)) return ORF_EINVAL;
  if (t && !t->data) t = NULL;
  if (t && (!orf_format_holds_texture(f) || check_texture(t))) return ORF_EINVAL;
  orf_buf b = {0};
  switch (f) {
  case ORF_FMT_GLB:
    rc = c == ORF_COMPRESS_MESHOPT ? orf_write_glb_meshopt(m, t, &b)
         : c == ORF_COMPRESS_DRACO ? orf_write_glb_draco(m, t, &b)
                                   : orf_write_glb(m, t, &b);
    break;
  case ORF_FMT_STL: rc = orf_write_stl(m, &b); break;
  case ORF_FMT_OBJ: rc = t ? orf_write_obj_zip(m, t, &b) : orf_write_obj(m, NULL, NULL, &b); break;
  case ORF_FMT_PLY: rc = orf_write_ply(m, &b); break;
  case ORF_FMT_3MF: rc = orf_write_3mf(m, t, &b); break;
  default: rc = ORF_EINVAL; break;
  }
  if (rc == ORF_OK && b.failed) rc = ORF_ENOMEM;
  if (rc) {
    orf_buf_free(&b);
    return rc;
  }
  *out = b.data;
  *out_size = b.len;
  return ORF_OK;
}

/* write(2) until done; 0 or -1. */
static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Makes the rename durable: fsync of the directory holding `path`.  Best
 * effort (some filesystems refuse fsync on directories); the file itself is
 * already complete on disk. */
static void sync_parent_dir(const char *path) {
  const char *slash = strrchr(path, '/');
  int fd;
  if (!slash) {
    fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } else if (slash == path) {
    fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } else {
    size_t n = (size_t)(slash - path);
    char *dir = orf_malloc(n + 1);
    if (!dir) return;
    memcpy(dir, path, n);
    dir[n] = 0;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    orf_free(dir);
  }
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

/* Writes data to a new temporary file beside `path`,
 * "<path>.tmp.<pid>.<tid>" (the thread id keeps two threads that export to
 * the same path apart), fsync'd and closed; *tmp gets its name (orf_malloc'd).
 * ORF_OK, ORF_ENOMEM, or ORF_EIO with no temporary file left. */
static int write_temp(const char *path, const uint8_t *data, size_t size, char **tmp) {
  size_t tmp_len = strlen(path) + 64;
  *tmp = orf_malloc(tmp_len);
  if (!*tmp) return ORF_ENOMEM;
  snprintf(*tmp, tmp_len, "%s.tmp.%ld.%ld", path, (long)getpid(), (long)gettid());
  /* O_EXCL: never write through a link planted at the temporary name.  A
   * file already there can only be the leftover of a crashed process that
   * had our pid and tid: remove it and try once more. */
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
  int fd = open(*tmp, flags, 0666);
  if (fd < 0 && errno == EEXIST && unlink(*tmp) == 0) fd = open(*tmp, flags, 0666);
  int bad = fd < 0;
  if (!bad) {
    bad = write_all(fd, data, size) != 0;
    bad |= fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad) unlink(*tmp);
  }
  if (bad) {
    orf_free(*tmp);
    *tmp = NULL;
    return ORF_EIO;
  }
  return ORF_OK;
}

/* Contract: writes orf_export(m, f) to `path` (orf_export_file_textured
 * without a texture). */
int orf_export_file(const orf_mesh *m, orf_format f, const char *path) {
  return orf_export_file_textured(m, NULL, f, ORF_COMPRESS_NONE, path);
}

/* The files beside a textured OBJ: path with ".obj" (any case, or
 * nothing) replaced by "." ext (orf_malloc'd; NULL on ENOMEM). */
static char *sibling(const char *path, const char *ext) {
  size_t n = strlen(path);
  if (n > 4 && !strcasecmp(path + n - 4, ".obj")) n -= 4;
  char *s = orf_malloc(n + strlen(ext) + 2);
  if (s) sprintf(s, "%.*s.%s", (int)n, path, ext);
  return s;
}
/* The name the OBJ and the MTL refer to a sibling by: its last component. */
static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

/* Contract: writes orf_export_textured(m, t, f, c) to `path` through a
 * temporary file (write_temp) renamed over it; for OBJ with a texture, the
 * three files (see orfeas.h), all written to temporary files first and
 * renamed only when all three are complete, the OBJ last.  Returns what
 * orf_export_textured() returns for a bad mesh, texture or format (no file
 * is touched), ORF_EIO when a file step fails (temporary files removed,
 * `path` left as it was), ORF_ENOMEM, ORF_OK when the files are in place. */
int orf_export_file_textured(const orf_mesh *m, const orf_texture *t, orf_format f, orf_compress c,
                             const char *path) {
  if (!path || !*path) return ORF_EINVAL;
  if (t && !t->data) t = NULL;
  int rc;
  if (!(t && f == ORF_FMT_OBJ)) {
    uint8_t *data;
    size_t size;
    char *tmp = NULL;
    if ((rc = orf_export_textured(m, t, f, c, &data, &size))) return rc;
    if ((rc = write_temp(path, data, size, &tmp)) == ORF_OK) {
      if (rename(tmp, path) != 0) {
        unlink(tmp);
        rc = ORF_EIO;
      } else {
        sync_parent_dir(path);
      }
    }
    orf_free(tmp);
    orf_buffer_free(data);
    return rc;
  }

  /* a textured OBJ: the image, the MTL, the OBJ */
  if ((rc = check_mesh(m)) || c != ORF_COMPRESS_NONE || (rc = check_texture(t))) return rc ? rc : ORF_EINVAL;
  char *paths[3] = {sibling(path, orf_texture_ext(t)), sibling(path, "mtl"), NULL}, *tmps[3] = {0};
  orf_buf mtl = {0}, obj = {0};
  rc = ORF_ENOMEM;
  size_t len = strlen(path) + 1;
  if (!paths[0] || !paths[1] || !(paths[2] = orf_malloc(len))) goto out;
  memcpy(paths[2], path, len);
  if ((rc = orf_write_mtl(base_name(paths[0]), &mtl)) ||
      (rc = orf_write_obj(m, t, base_name(paths[1]), &obj)))
    goto out;
  rc = mtl.failed || obj.failed ? ORF_ENOMEM : ORF_OK;
  const uint8_t *data[3] = {t->data, mtl.data, obj.data};
  size_t sizes[3] = {t->size, mtl.len, obj.len};
  for (int i = 0; i < 3 && !rc; i++)
    rc = write_temp(paths[i], data[i], sizes[i], &tmps[i]);
  for (int i = 0; i < 3 && !rc; i++)
    if (rename(tmps[i], paths[i]) != 0)
      rc = ORF_EIO;
    else {
      orf_free(tmps[i]);
      tmps[i] = NULL;
    }
  if (!rc) sync_parent_dir(path);
out:
  for (int i = 0; i < 3; i++) {
    if (tmps[i]) unlink(tmps[i]);
    orf_free(tmps[i]);
    orf_free(paths[i]);
  }
  orf_buf_free(&mtl);
  orf_buf_free(&obj);
  return rc;
}
