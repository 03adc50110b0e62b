/*
 * mem_host.c - the host's memory for the memory sources (memsource.h).
 *
 * Total is the smaller of physical memory (sysconf _SC_PHYS_PAGES times
 * _SC_PAGESIZE) and the memory limit of this process's cgroup, so that in a
 * container the budget follows what the container may use, not what the
 * machine has.  The cgroup is found as the Linux kernel's cgroup v2 admin
 * guide describes (Documentation/admin-guide/cgroup-v2.rst): the "0::/path"
 * line of /proc/self/cgroup names it under the unified hierarchy mounted at
 * /sys/fs/cgroup; its memory.max ("max" when unlimited) is the hard limit
 * and memory.current the usage.  A limit may sit on any ancestor (a
 * systemd slice, the container's own cgroup seen as "/" in its namespace),
 * so every level from ours up to the root is read and the smallest limit
 * counts.  Available is MemAvailable of /proc/meminfo (the kernel's
 * estimate of memory that can be allocated without swapping, see
 * Documentation/filesystems/proc.rst), capped by each limited level's
 * headroom, memory.max - memory.current.  cgroup v1 is not read.
 *
 * Every path takes a root prefix so that tests can fake /proc and /sys with
 * files in a directory.  Nothing here allocates or keeps state.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "memsource_int.h"

/* Reads up to size-1 bytes of the file at path into buf, NUL-terminated.
 * Returns the length, or -1 when the file cannot be opened or read. */
static long read_small(const char *path, char *buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  while (len < size - 1) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      close(fd);
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  return (long)len;
}

/* Parses a whole cgroup value (decimal digits, then optional blanks).
 * Returns 1 with *v, 0 for "max", anything else, or a missing file (-1
 * from read_small). */
static int parse_bytes(const char *s, double *v) {
  char *end;
  if (*s < '0' || *s > '9') return 0;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 10);
  if (errno == ERANGE) return 0;
  while (*end == '\n' || *end == ' ' || *end == '\t')
    end++;
  if (*end != '\0') return 0;
  *v = (double)x;
  return 1;
}

/* Reads the number in a cgroup file dir/name; 1 with *v, 0 otherwise. */
static int read_cgroup_value(const char *dir, const char *name, double *v) {
  char path[PATH_MAX], buf[64];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) return 0;
  if (read_small(path, buf, sizeof buf) < 0) return 0;
  return parse_bytes(buf, v);
}

/* The value in kB of `key` in a /proc/meminfo text, in bytes; 1 with *v. */
static int meminfo_value(const char *text, const char *key, double *v) {
  size_t klen = strlen(key);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
      char *end;
      errno = 0;
      unsigned long long kb = strtoull(p + klen + 1, &end, 10);
      if (errno == ERANGE || end == p + klen + 1) return 0;
      *v = (double)kb * 1024.0;
      return 1;
    }
  }
  return 0;
}

/* Writes into out the cgroup v2 path of this process ("/..." from the
 * "0::" line of /proc/self/cgroup), or "" when there is none or it climbs
 * out of the hierarchy (".." components, as a process outside its cgroup
 * namespace's root sees).  Returns 1 when a path was found. */
static int own_cgroup(const char *root, char *out, size_t size) {
  char path[PATH_MAX], buf[4096];
  out[0] = '\0';
  if ((size_t)snprintf(path, sizeof path, "%s/proc/self/cgroup", root) >= sizeof path) return 0;
  if (read_small(path, buf, sizeof buf) < 0) return 0;
  for (char *line = buf; line && *line;) {
    char *next = strchr(line, '\n');
    if (next) *next++ = '\0';
    if (strncmp(line, "0::/", 4) == 0) {
      const char *p = line + 3;
      if (strstr(p, "/..") || strlen(p) >= size) return 1; /* the hierarchy's root, "" */
      strcpy(out, strcmp(p, "/") == 0 ? "" : p);
      return 1;
    }
    line = next;
  }
  return 0;
}

/* Contract: see memsource_int.h.  `root` and out are the caller's. */
void orf_mem__host_read_at(const char *root, double physical_bytes, orf_host_mem *out) {
  char cg[PATH_MAX], dir[PATH_MAX], path[PATH_MAX];
  char text[16384];
  double total = physical_bytes > 0 ? physical_bytes : 0, headroom = INFINITY, avail = -1, v;
  int limited = 0;

  if ((size_t)snprintf(path, sizeof path, "%s/proc/meminfo", root) < sizeof path &&
      read_small(path, text, sizeof text) >= 0) {
    if (meminfo_value(text, "MemAvailable", &v) || meminfo_value(text, "MemFree", &v)) avail = v;
    if (total == 0 && meminfo_value(text, "MemTotal", &v)) total = v;
  }
  if (total == 0) total = INFINITY; /* unknown: only a cgroup limit can say */

  if (own_cgroup(root, cg, sizeof cg)) {
    int base_len = snprintf(dir, sizeof dir, "%s/sys/fs/cgroup", root);
    if (base_len > 0 && (size_t)base_len < sizeof dir &&
        (size_t)snprintf(dir, sizeof dir, "%s/sys/fs/cgroup%s", root, cg) < sizeof dir) {
      for (;;) {
        double max, current;
        if (read_cgroup_value(dir, "memory.max", &max)) {
          if (max < total) total = max, limited = 1;
          double room = read_cgroup_value(dir, "memory.current", &current) ? max - current : max;
          if (room < headroom) headroom = room > 0 ? room : 0;
        }
        size_t len = strlen(dir);
        if (len <= (size_t)base_len) break;
        char *slash = strrchr(dir, '/');
        if (!slash || (size_t)(slash - dir) < (size_t)base_len) break;
        *slash = '\0';
      }
    }
  }

  if (isinf(total)) total = 0;
  if (avail < 0) avail = total;
  if (avail > headroom) avail = headroom;
  if (avail > total) avail = total;
  if (!(avail >= 0)) avail = 0;

  out->total_bytes = total;
  out->available_bytes = avail;
  out->cgroup_limited = limited;
}

/* Contract: the real host; see memsource_int.h. */
void orf_mem__host_read(orf_host_mem *out) {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  double physical = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
  orf_mem__host_read_at("", physical, out);
}
