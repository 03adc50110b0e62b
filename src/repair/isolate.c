/*
 * isolate.c - runs the mesh parser (assimp) in a child process.
 *
 * assimp is a large C++ library that parses untrusted files, and Debian's
 * build of it (5.2) can be crashed by a malformed file: fuzz_mesh found a
 * binary PLY with a damaged header that makes its PLY reader dereference a
 * wild pointer (fuzz/corpus/fuzz_mesh/assimp-ply-segv).  No check of ours
 * can foresee every such path, and a crash there must cost one request,
 * not the server and every job it holds.  So the parse runs in a process
 * of its own, the way browsers and mail scanners isolate their parsers:
 *
 *   - fork() (no exec: the engine is a library, it has no program of its
 *     own to run; the child only parses, writes to a pipe and _exit()s, so
 *     it calls nothing that another thread of the parent could have held
 *     a lock of at the fork, other than malloc, which glibc makes safe
 *     across fork);
 *   - in the child: the default action for the crash signals (a crash ends
 *     the child, it is not reported as the parent's), no core file, death
 *     with the parent (PR_SET_PDEATHSIG), every descriptor closed but the
 *     pipe (a client connection the parent closes is not held open), and,
 *     outside sanitizer builds, an address-space limit (RLIMIT_AS) of what
 *     it inherited plus mem_bytes;
 *   - in the parent: a deadline, after which the child is killed; the
 *     answer's counts are checked against the limits before anything is
 *     allocated, and the caller checks the mesh itself (indices in range,
 *     finite positions) as it would a file's.
 *
 * The wire format is this build's own (both ends are the same binary): a
 * fixed header (with the child's peak resident memory above what it had at
 * its start: what the import itself cost, for the memory estimate's
 * tests), then the positions, indices and colours as they lie in memory.  A child that dies by a signal, or runs out of time, gives
 * ORF_EBADMESH with a sentence; a child that exits without a whole answer
 * (a sanitizer report in our own code is such an exit) gives
 * ORF_EINTERNAL, since that is a bug of ours, not the file's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "mesh.h"
#include "repair.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ORF_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define ORF_SANITIZED 1
#endif
#endif
#ifndef ORF_SANITIZED
#define ORF_SANITIZED 0
#endif

#define WIRE_MAGIC 0x4f524650u /* "ORFP" */

typedef struct wire_head {
  uint32_t magic;
  int32_t rc;
  uint64_t vertices, faces;
  uint64_t grown; /* the child's peak resident bytes above its start */
  uint32_t colors;
  char message[sizeof((orf_repair_info *)0)->message];
} wire_head;

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

static double mono_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Reads n bytes before the deadline: 0, or -1 at end of file or error, -2
 * when the deadline passed. */
static int read_all(int fd, void *p, size_t n, double deadline) {
  char *c = p;
  while (n) {
    double left = deadline - mono_s();
    if (left <= 0) return -2;
    struct pollfd pf = {fd, POLLIN, 0};
    int r = poll(&pf, 1, (int)(left * 1000) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) continue;
    ssize_t got = read(fd, c, n);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    c += got;
    n -= (size_t)got;
  }
  return 0;
}

/* This process's resident bytes (/proc/self/statm), 0 when unknown. */
static size_t resident_bytes(void) {
  long size = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
  fclose(f);
  return resident > 0 ? (size_t)resident * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

/* The child: parse, answer, _exit (no atexit handlers: they belong to the
 * parent, as do its buffered streams). */
static void child(int wfd, orf_child_parse_fn parse, void *ctx, size_t mem_bytes) {
  static const int kCrash[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS};
  for (size_t i = 0; i < sizeof kCrash / sizeof *kCrash; i++)
    signal(kCrash[i], SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, NULL);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  struct rlimit core = {0, 0};
  setrlimit(RLIMIT_CORE, &core);
  if (wfd > 3) close_range(3, (unsigned)wfd - 1, 0);
  close_range((unsigned)wfd + 1, ~0u, 0);
  if (!ORF_SANITIZED && mem_bytes) {
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
      if (fscanf(f, "%ld", &pages) != 1) pages = 0;
      fclose(f);
    }
    rlim_t cap = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + mem_bytes;
    struct rlimit as = {cap, cap};
    if (pages > 0) setrlimit(RLIMIT_AS, &as);
  }
  size_t start = resident_bytes();
  orf_mesh m = {0};
  orf_repair_info info;
  memset(&info, 0, sizeof info);
  wire_head h;
  memset(&h, 0, sizeof h);
  h.magic = WIRE_MAGIC;
  h.rc = parse(ctx, &m, &info);
  struct rusage ru;
  if (start && !getrusage(RUSAGE_SELF, &ru) && (size_t)ru.ru_maxrss * 1024 > start)
    h.grown = (size_t)ru.ru_maxrss * 1024 - start;
  memcpy(h.message, info.message, sizeof h.message);
  h.message[sizeof h.message - 1] = 0;
  if (h.rc == ORF_OK) {
    h.vertices = m.vertex_count;
    h.faces = m.face_count;
    h.colors = m.colors != NULL;
  }
  int bad = write_all(wfd, &h, sizeof h);
  if (!bad && h.rc == ORF_OK) {
    bad = write_all(wfd, m.positions, 3 * m.vertex_count * sizeof *m.positions) ||
          write_all(wfd, m.indices, 3 * m.face_count * sizeof *m.indices) ||
          (m.colors && write_all(wfd, m.colors, 3 * m.vertex_count));
  }
  _exit(bad ? 3 : 0);
}

static int say(orf_repair_info *info, int rc, const char *msg) {
  if (info) snprintf(info->message, sizeof info->message, "%s", msg);
  return rc;
}

int orf_parse_isolated(orf_child_parse_fn parse, void *ctx, double seconds, size_t mem_bytes,
                       size_t max_vertices, size_t max_faces, orf_mesh *out, orf_repair_info *info) {
  memset(out, 0, sizeof *out);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC)) return say(info, ORF_EIO, "the mesh importer could not be started (no pipe)");
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return say(info, ORF_ENOMEM, "the mesh importer could not be started (fork failed)");
  }
  if (pid == 0) {
    close(fds[0]);
    child(fds[1], parse, ctx, mem_bytes);
  }
  close(fds[1]);
  double deadline = mono_s() + seconds;
  wire_head h;
  int rc = ORF_OK, refused = 0;
  int r = read_all(fds[0], &h, sizeof h, deadline);
  if (r == 0 && (h.magic != WIRE_MAGIC || h.rc > 0 || memchr(h.message, 0, sizeof h.message) == NULL))
    refused = 1;
  if (r == 0 && !refused && h.rc == ORF_OK) {
    if (h.vertices > max_vertices || h.faces > max_faces || h.faces == 0) {
      refused = 1;
    } else if ((rc = orf_mesh_alloc(out, (size_t)h.vertices, (size_t)h.faces, h.colors != 0)) == ORF_OK) {
      r = read_all(fds[0], out->positions, 3 * out->vertex_count * sizeof *out->positions, deadline);
      if (!r) r = read_all(fds[0], out->indices, 3 * out->face_count * sizeof *out->indices, deadline);
      if (!r && out->colors) r = read_all(fds[0], out->colors, 3 * out->vertex_count, deadline);
    }
  }
  close(fds[0]);
  if (r == -2 || refused || rc != ORF_OK) kill(pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (rc != ORF_OK) {
    say(info, rc, "out of memory receiving the mesh from the importer");
  } else if (refused) {
    rc = say(info, ORF_EINTERNAL, "the mesh importer sent an answer outside the limits it was given");
  } else if (r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    rc = h.rc;
    if (info) {
      memcpy(info->message, h.message, sizeof info->message);
      info->importer_bytes = (size_t)h.grown;
    }
  } else {
    char msg[sizeof info->message];
    if (r == -2) {
      snprintf(msg, sizeof msg,
               "reading the mesh took longer than the limit of %g s; the file is probably malformed",
               seconds);
      rc = ORF_EBADMESH;
    } else if (WIFSIGNALED(st) && WTERMSIG(st) != SIGKILL) {
      snprintf(msg, sizeof msg,
               "the mesh importer (assimp) crashed on this file (signal %d); the file is malformed",
               WTERMSIG(st));
      rc = ORF_EBADMESH;
    } else if (WIFSIGNALED(st)) {
      snprintf(msg, sizeof msg, "the mesh importer was killed reading this file (out of memory?)");
      rc = ORF_EBADMESH;
    } else {
      snprintf(msg, sizeof msg, "the mesh importer ended without an answer (exit status %d)",
               WIFEXITED(st) ? WEXITSTATUS(st) : -1);
      rc = ORF_EINTERNAL;
    }
    say(info, rc, msg);
  }
  if (rc != ORF_OK) orf_mesh_free(out);
  return rc;
}
