/*
 * jobcheck.c - whole-job checks for the tests (see jobcheck.h).
 */
#include "jobcheck.h"

#include <stdatomic.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"

static int run(const uint8_t *img, size_t size, const orf_params *p, orf_job_opts *o, orf_result *r) {
  orf_job_opts_init(o);
  o->threads = 2;
  return orf_generate(img, size, p, o, r);
}

int jc_allocation_sweep(const uint8_t *img, size_t size, const orf_params *p, long first, long end, long step,
                        jc_sweep *s) {
  s->failed = s->passed = 0;
  s->why[0] = 0;
  for (long n = first; n < end; n += step) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, n);
    orf_memtrack_set(&t);
    orf_job_opts o;
    orf_result r;
    int rc = run(img, size, p, &o, &r), watertight = 0;
    if (rc == ORF_OK) {
      watertight = r.report.watertight;
      orf_result_free(&r);
    }
    orf_memtrack_set(NULL);
    size_t left = (size_t)atomic_load(&t.current);
    if (rc == ORF_OK ? !watertight : rc != ORF_ENOMEM)
      snprintf(s->why, sizeof s->why, "allocation %ld failing: %s", n,
               rc == ORF_OK ? "a mesh that is not watertight" : orf_strerror(rc));
    else if (left)
      snprintf(s->why, sizeof s->why, "allocation %ld failing: %zu bytes leaked", n, left);
    if (s->why[0]) return -1;
    if (rc == ORF_OK)
      s->passed++;
    else
      s->failed++;
  }
  return 0;
}

int jc_peak_under_estimate(const uint8_t *img, size_t size, uint32_t w, uint32_t h, const orf_params *p,
                           const char *label) {
  size_t est = orf_estimate_peak_bytes(p, w, h, size);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    long before_kb = ru.ru_maxrss;
    orf_job_opts o;
    orf_result r;
    if (run(img, size, p, &o, &r)) _exit(2);
    getrusage(RUSAGE_SELF, &ru);
    size_t rss = (size_t)(ru.ru_maxrss - before_kb) * 1024;
    printf("%s %ux%u: tracked peak %.1f MB, RSS growth %.1f MB, estimate %.1f MB\n", label, w, h,
           o.peak_bytes / 1e6, rss / 1e6, est / 1e6);
    fflush(stdout);
    orf_result_free(&r);
    _exit(o.peak_bytes <= est && rss <= est ? 0 : 1);
  }
  int status;
  if (waitpid(pid, &status, 0) != pid) return 0;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
