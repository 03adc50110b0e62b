/*
 * export.c - orf_export() and orf_export_file(): checks a mesh once, picks
 * the writer of the format (stl.c, obj.c, ply.c, glb.c, threemf.c) and
 * hands out its bytes, or puts them in a file atomically.
 *
 * The file is written the way crash-safe writers do it (the classic
 * "write temporary, fsync, rename" pattern, as in SQLite's and Git's lock
 * files): a reader of `path` sees either the old file or the whole new one,
 * never half of it.
 */
#include <errno.h>
#include <fcntl.h>
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
  }
  return NULL;
}

/* Contract: as orf_export(); compression other than NONE is ORF_EINVAL for
 * a format other than GLB. */
int orf_export_compressed(const orf_mesh *m, orf_format f, orf_compress c, uint8_t **out, size_t *out_size) {
  if (!out || !out_size) return ORF_EINVAL;
  *out = NULL;
  *out_size = 0;
  int rc = check_mesh(m);
  if (rc) return rc;
  if (c != ORF_COMPRESS_NONE && (c != ORF_COMPRESS_MESHOPT || f != ORF_FMT_GLB)) return ORF_EINVAL;
  orf_buf b = {0};
  switch (f) {
  case ORF_FMT_GLB:
    rc = c == ORF_COMPRESS_MESHOPT ? orf_write_glb_meshopt(m, &b) : orf_write_glb(m, &b);
    break;
  case ORF_FMT_STL: rc = orf_write_stl(m, &b); break;
  case ORF_FMT_OBJ: rc = orf_write_obj(m, &b); break;
  case ORF_FMT_PLY: rc = orf_write_ply(m, &b); break;
  case ORF_FMT_3MF: rc = orf_write_3mf(m, &b); break;
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

/* Contract: writes orf_export(m, f) to `path`, through the temporary file
 * "<path>.tmp.<pid>.<tid>" (the thread id keeps two threads that export to
 * the same path apart), fsync'd then renamed over `path`.  Returns what
 * orf_export() returns for a bad mesh or format (no file is touched),
 * ORF_EIO when any file step fails (the temporary file is removed and
 * `path` is left as it was), ORF_OK when `path` holds the new file. */
int orf_export_file(const orf_mesh *m, orf_format f, const char *path) {
  if (!path || !*path) return ORF_EINVAL;
  uint8_t *data;
  size_t size;
  int rc = orf_export(m, f, &data, &size);
  if (rc) return rc;

  size_t tmp_len = strlen(path) + 64;
  char *tmp = orf_malloc(tmp_len);
  if (!tmp) {
    orf_buffer_free(data);
    return ORF_ENOMEM;
  }
  snprintf(tmp, tmp_len, "%s.tmp.%ld.%ld", path, (long)getpid(), (long)gettid());

  /* O_EXCL: never write through a link planted at the temporary name.  A
   * file already there can only be the leftover of a crashed process that
   * had our pid and tid: remove it and try once more. */
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW;
  int fd = open(tmp, flags, 0666);
  if (fd < 0 && errno == EEXIST && unlink(tmp) == 0) fd = open(tmp, flags, 0666);
  if (fd < 0) {
    rc = ORF_EIO;
    goto out_free;
  }
  int bad = write_all(fd, data, size) != 0;
  bad |= fsync(fd) != 0;
  bad |= close(fd) != 0;
  if (bad || rename(tmp, path) != 0) {
    unlink(tmp);
    rc = ORF_EIO;
    goto out_free;
  }
  sync_parent_dir(path);
  rc = ORF_OK;
out_free:
  orf_free(tmp);
  orf_buffer_free(data);
  return rc;
}
