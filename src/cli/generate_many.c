/*
 * generate_many.c - `orfeas generate a.png b.jpg dir/ -o outdir/ --format stl`:
 * several inputs in one run.  A directory among the inputs stands for its
 * images (files ending in .png, .jpg, .jpeg or .webp, in name order, not
 * recursing).  Each input's model is written to OUTDIR/<its name without
 * extension>.<format> (a second input of the same name gets -2, -3... so
 * that no result overwrites another), one progress line per file on
 * stdout, a summary line at the end; a file that fails does not stop the
 * others, and the exit status is then that of the first failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"

typedef struct input_list {
  char **paths;
  size_t n, cap;
} input_list;

static int add_path(input_list *l, const char *dir, const char *name) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    char **p = realloc(l->paths, cap * sizeof *p);
    if (!p) return -1;
    l->paths = p;
    l->cap = cap;
  }
  size_t len = (dir ? strlen(dir) + 1 : 0) + strlen(name) + 1;
  char *s = malloc(len);
  if (!s) return -1;
  if (dir)
    snprintf(s, len, "%s/%s", dir, name);
  else
    snprintf(s, len, "%s", name);
  l->paths[l->n++] = s;
  return 0;
}

static int is_image_name(const char *name) {
  static const char *const exts[] = {".png", ".jpg", ".jpeg", ".webp"};
  const char *dot = strrchr(name, '.');
  if (!dot || name[0] == '.') return 0;
  for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
    if (!strcasecmp(dot, exts[i])) return 1;
  return 0;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A directory's images, in name order, appended to l. */
static int add_dir(input_list *l, const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  size_t first = l->n;
  struct dirent *e;
  int rc = 0;
  while (!rc && (e = readdir(d)))
    if (is_image_name(e->d_name)) rc = add_path(l, dir, e->d_name);
  closedir(d);
  if (!rc) qsort(l->paths + first, l->n - first, sizeof *l->paths, by_name);
  return rc;
}

static void free_list(input_list *l) {
  for (size_t i = 0; i < l->n; i++)
    free(l->paths[i]);
  free(l->paths);
}

int orf_cli_is_dir(const char *path) {
  struct stat sb;
  return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* OUTDIR/<base of input>.<ext>, with -2, -3... when an earlier input of
 * this run took that name. */
static void output_path(const input_list *l, size_t i, const char *outdir, const char *ext, char *out,
                        size_t size) {
  const char *in = l->paths[i], *slash = strrchr(in, '/');
  const char *base = slash ? slash + 1 : in, *dot = strrchr(base, '.');
  int len = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
  int same = 0;
  for (size_t k = 0; k < i; k++) {
    const char *o = strrchr(l->paths[k], '/');
    o = o ? o + 1 : l->paths[k];
    const char *od = strrchr(o, '.');
    int olen = od && od != o ? (int)(od - o) : (int)strlen(o);
    if (olen == len && !strncmp(o, base, (size_t)len)) same++;
  }
  if (same)
    snprintf(out, size, "%s/%.*s-%d.%s", outdir, len, base, same + 1, ext);
  else
    snprintf(out, size, "%s/%.*s.%s", outdir, len, base, ext);
}

int orf_cli_generate_many(int n, const char *const *inputs, const char *outdir, const char *ext,
                          orf_cli_one_fn one, void *ctx) {
  if (!outdir) {
    fprintf(stderr, "orfeas: several inputs need -o OUTDIR/ (a directory for their models)\n");
    return 2;
  }
  if (mkdir(outdir, 0777) && errno != EEXIST) {
    fprintf(stderr, "orfeas: cannot create %s: %s\n", outdir, strerror(errno));
    return 4;
  }
  if (!orf_cli_is_dir(outdir)) {
    fprintf(stderr, "orfeas: %s is not a directory: several inputs need -o OUTDIR/\n", outdir);
    return 2;
  }
  input_list l = {0};
  for (int i = 0; i < n; i++) {
    int rc = orf_cli_is_dir(inputs[i]) ? add_dir(&l, inputs[i]) : add_path(&l, NULL, inputs[i]);
    if (rc) {
      fprintf(stderr, "orfeas: cannot read %s: %s\n", inputs[i], strerror(errno));
      free_list(&l);
      return 3;
    }
  }
  if (l.n == 0) {
    fprintf(stderr, "orfeas: no images among the inputs (a directory's .png, .jpg, .jpeg and .webp count)\n");
    free_list(&l);
    return 3;
  }
  int status = 0;
  size_t failed = 0;
  for (size_t i = 0; i < l.n; i++) {
    char out[4096];
    output_path(&l, i, outdir, ext, out, sizeof out);
    printf("[%zu/%zu] %s -> %s\n", i + 1, l.n, l.paths[i], out);
    fflush(stdout);
    int rc = one(ctx, l.paths[i], out);
    if (rc) {
      printf("[%zu/%zu] %s: FAILED (exit status %d; the reason is on stderr)\n", i + 1, l.n, l.paths[i], rc);
      failed++;
      if (!status) status = rc;
    }
    fflush(stdout);
  }
  printf("%zu of %zu done, %zu failed\n", l.n - failed, l.n, failed);
  free_list(&l);
  return status;
}
