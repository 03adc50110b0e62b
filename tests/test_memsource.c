/*
 * test_memsource.c - the memory sources (src/server/memory/memsource.h and its
 * internals, memsource_int.h): no NVML library gives no GPU and the host as
 * the budget device; the simulated device's spec, valid forms and a list of
 * malformed ones; a simulated device as device 0 and budget device
 * "cuda:0"; the host's figures; the cgroup v2 rules on fake /proc and /sys
 * trees in a temporary directory (a limit below physical memory, "max", a
 * limit on an ancestor, headroom, missing files, MemFree fallback); and
 * allocation failures in open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "memory/memsource.h"
#include "memory/memsource_int.h"
#include "orfeas.h"

#define GB ORF_GB

/* ---- helpers --------------------------------------------------------- */

/* 1 when this machine has a working NVML with a device. */
static int have_nvml(void) {
  orf_nvml *n = orf_mem__nvml_open(NULL);
  orf_mem__nvml_close(n);
  return n != NULL;
}

static char *make_tmpdir(void) {
  char *dir = malloc(64);
  assert_non_null(dir);
  strcpy(dir, "/tmp/orf_memsrc_XXXXXX");
  assert_non_null(mkdtemp(dir));
  return dir;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

static void remove_tree(char *dir) {
  assert_int_equal(nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
  free(dir);
}

/* Writes text to root/rel, creating the directories on the way. */
static void put_file(const char *root, const char *rel, const char *text) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    assert_true(mkdir(path, 0700) == 0 || errno == EEXIST);
    *p = '/';
  }
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  assert_int_equal(fclose(f), 0);
}

/* A fake /proc: this process in cgroup `cg`, 64 GB of RAM of which 32 GB
 * are available (MemAvailable omitted when with_available is 0: MemFree is
 * then 20 GB). */
static void fake_proc(const char *root, const char *cg, int with_available) {
  char text[512];
  snprintf(text, sizeof text, "12:memory:/v1/path\n1:cpu:/\n0::%s\n", cg);
  put_file(root, "proc/self/cgroup", text);
  put_file(root, "proc/meminfo",
           with_available ? "MemTotal:       67108864 kB\nMemFree:        20971520 kB\n"
                            "MemAvailable:   33554432 kB\nBuffers:           1024 kB\n"
                          : "MemTotal:       67108864 kB\nMemFree:        20971520 kB\n");
}

/* ---- tests ----------------------------------------------------------- */

/* Without NVML and without a simulated device there is no GPU, and the
 * budget is the host's ("cpu", host total, nothing external).  A library
 * that is missing or lacks the NVML symbols opens as "no GPU". */
static void test_no_gpu_without_sim(void **state) {
  (void)state;
  assert_null(orf_mem__nvml_open("/nonexistent/libnvidia-ml.so.1"));
  assert_null(orf_mem__nvml_open("libm.so.6")); /* loads, but has no nvmlInit_v2 */
  if (have_nvml()) skip();                      /* this machine has a GPU */

  orf_memsources *m = NULL;
  char err[256] = "x";
  assert_int_equal(orf_memsources_open(&m, NULL, err, sizeof err), ORF_OK);
  assert_non_null(m);
  assert_string_equal(err, "");
  orf_mem_snapshot s;
  memset(&s, 0xff, sizeof s);
  orf_memsources_sample(m, &s);
  assert_int_equal(s.gpu_available, 0);
  assert_int_equal(s.gpu_count, 0);
  assert_string_equal(orf_memsources_budget_device(m), "cpu");
  double total = -1, external = -1;
  orf_memsources_budget_base(m, &s, &total, &external);
  assert_true(total > 0);
  assert_true(total == s.host_total_gb * GB);
  assert_true(external == 0);
  orf_memsources_budget_base(m, NULL, &total, &external); /* a fresh reading */
  assert_true(total > 0);
  orf_memsources_close(m);

  /* an empty spec is no simulated device */
  assert_int_equal(orf_memsources_open(&m, "", err, sizeof err), ORF_OK);
  orf_memsources_sample(m, &s);
  assert_int_equal(s.gpu_available, 0);
  assert_string_equal(orf_memsources_budget_device(m), "cpu");
  orf_memsources_close(m);
  orf_memsources_close(NULL);
}

static void expect_sim(const char *spec, const char *name, double total, double used) {
  orf_sim_device d;
  char err[256] = "";
  int rc = orf_mem__sim_parse(spec, &d, err, sizeof err);
  if (rc != ORF_OK) fail_msg("\"%s\" refused: %s", spec, err);
  assert_string_equal(d.name, name);
  assert_true(d.total_gb == total);
  assert_true(d.used_gb == used);
}

static void test_sim_spec_valid(void **state) {
  (void)state;
  expect_sim("H100-sim:80:8", "H100-sim", 80, 8);
  expect_sim("A:1", "A", 1, 0);
  expect_sim("my gpu_1.0:0.5:0", "my gpu_1.0", 0.5, 0);
  expect_sim("X:1e3:1.5e2", "X", 1000, 150);
  expect_sim("X:24.:24", "X", 24, 24); /* used may equal total */
  expect_sim("X:.5", "X", 0.5, 0);
  expect_sim("X:1000000", "X", 1e6, 0);
  expect_sim("X:2E+1:1e-1", "X", 20, 0.1);
  char spec[80], name[65];
  memset(name, 'n', 64);
  name[64] = '\0';
  snprintf(spec, sizeof spec, "%s:16", name); /* a 64-character name */
  expect_sim(spec, name, 16, 0);
}

static void test_sim_spec_invalid(void **state) {
  (void)state;
  static const char *const bad[] = {
      "",           ":80",         "A",          "A:",       "A:0",         "A:0.0",   "A:-1",     "A:+1",
      "A:1e7",      "A:1000001",   "A:abc",      "A:80:",    "A:80:90",     "A:80:-1", "A:80:8:1", "A:nan",
      "A:inf",      "A:0x10",      "A: 80",      "A:80 ",    "A:1..2",      "A:.",     "A:1e",     "A:1e+",
      "A:e5",       "bad/name:80", "q\"uote:80", "tab\t:80", "\xc3\xa9:80", "A::8",    "A:80:8 ",  "A:1e999",
      "A:80:1e999",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    orf_sim_device d;
    memset(&d, 0x55, sizeof d);
    char err[256] = "";
    int rc = orf_mem__sim_parse(bad[i], &d, err, sizeof err);
    if (rc != ORF_EINVAL) fail_msg("\"%s\" accepted (rc %d)", bad[i], rc);
    assert_true(strlen(err) > 0);
    assert_string_equal(d.name, ""); /* zeroed */
    assert_true(d.total_gb == 0);
  }
  /* a 65-character name */
  char spec[80];
  memset(spec, 'n', 65);
  strcpy(spec + 65, ":16");
  orf_sim_device d;
  char err[256] = "";
  assert_int_equal(orf_mem__sim_parse(spec, &d, err, sizeof err), ORF_EINVAL);
  assert_non_null(strstr(err, "64"));
  assert_int_equal(orf_mem__sim_parse(NULL, &d, err, sizeof err), ORF_EINVAL);
  assert_int_equal(orf_mem__sim_parse("A:0", &d, NULL, 0), ORF_EINVAL); /* no room for a message */

  /* open refuses it with the message, and sets nothing */
  orf_memsources *m = (orf_memsources *)&d;
  assert_int_equal(orf_memsources_open(&m, "H100:0", err, sizeof err), ORF_EINVAL);
  assert_null(m);
  assert_non_null(strstr(err, "H100:0"));
  assert_non_null(strstr(err, "TOTAL_GB"));
}

/* "H100-sim:80:8": one simulated device 0 (with no NVML), 80 GB of which 8
 * are used, 72 free; the budget comes from it. */
static void test_sim_device(void **state) {
  (void)state;
  orf_memsources *m = NULL;
  char err[256];
  assert_int_equal(orf_memsources_open(&m, "H100-sim:80:8", err, sizeof err), ORF_OK);
  orf_mem_snapshot s;
  orf_memsources_sample(m, &s);
  assert_int_equal(s.gpu_available, 1);
  if (!have_nvml()) assert_int_equal(s.gpu_count, 1);
  assert_true(s.gpu_count >= 1);
  const orf_gpu_device *d = &s.gpu[0];
  assert_int_equal(d->index, 0);
  assert_string_equal(d->name, "H100-sim");
  assert_int_equal(d->simulated, 1);
  assert_true(d->total_gb == 80);
  assert_true(d->used_gb == 8);
  assert_true(d->free_gb == 72);
  assert_int_equal(d->utilization_percent, -1);
  assert_int_equal(d->temperature_c, -1);
  for (int i = 1; i < s.gpu_count; i++)
    assert_int_equal(s.gpu[i].simulated, 0);
  assert_true(s.host_total_gb > 0); /* the host is still read */

  assert_string_equal(orf_memsources_budget_device(m), "cuda:0");
  double total = 0, external = 0;
  orf_memsources_budget_base(m, &s, &total, &external);
  assert_true(total == 80 * GB);
  assert_true(external == 8 * GB);
  orf_memsources_budget_base(m, NULL, &total, &external);
  assert_true(total == 80 * GB);
  orf_memsources_close(m);
}

/* The real host: positive figures, available within total. */
static void test_host_figures(void **state) {
  (void)state;
  orf_host_mem h;
  orf_mem__host_read(&h);
  assert_true(h.total_bytes > 0);
  assert_true(h.available_bytes > 0);
  assert_true(h.available_bytes <= h.total_bytes);
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  assert_true(h.total_bytes <= (double)pages * (double)page);
  assert_int_equal(h.cgroup_limited, h.total_bytes < (double)pages * (double)page);

  orf_memsources *m;
  char err[64];
  assert_int_equal(orf_memsources_open(&m, NULL, err, sizeof err), ORF_OK);
  orf_mem_snapshot s;
  orf_memsources_sample(m, &s);
  assert_true(s.host_total_gb > 0);
  assert_true(s.host_available_gb > 0);
  assert_true(s.host_available_gb <= s.host_total_gb);
  orf_memsources_close(m);
}

/* memory.max 2 GB with 64 GB of RAM: total 2 GB, limited; memory.current
 * 1 GB leaves at most 1 GB available (though MemAvailable says 32). */
static void test_cgroup_limit(void **state) {
  (void)state;
  char *root = make_tmpdir();
  fake_proc(root, "/system.slice/orfeas.service", 1);
  put_file(root, "sys/fs/cgroup/system.slice/orfeas.service/memory.max", "2147483648\n");
  put_file(root, "sys/fs/cgroup/system.slice/orfeas.service/memory.current", "1073741824\n");
  orf_host_mem h;
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_true(h.total_bytes == 2 * GB);
  assert_int_equal(h.cgroup_limited, 1);
  assert_true(h.available_bytes <= 1 * GB);
  assert_true(h.available_bytes == 1 * GB);

  /* usage over the limit (possible for a moment): nothing available */
  put_file(root, "sys/fs/cgroup/system.slice/orfeas.service/memory.current", "3221225472\n");
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_true(h.total_bytes == 2 * GB);
  assert_true(h.available_bytes == 0);
  remove_tree(root);
}

/* "max": no limit; total is physical, available MemAvailable. */
static void test_cgroup_max(void **state) {
  (void)state;
  char *root = make_tmpdir();
  fake_proc(root, "/a", 1);
  put_file(root, "sys/fs/cgroup/a/memory.max", "max\n");
  put_file(root, "sys/fs/cgroup/a/memory.current", "1073741824\n");
  orf_host_mem h;
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_true(h.total_bytes == 64 * GB);
  assert_int_equal(h.cgroup_limited, 0);
  assert_true(h.available_bytes == 32 * GB);

  /* a limit above physical memory limits nothing, but its headroom counts */
  put_file(root, "sys/fs/cgroup/a/memory.max", "107374182400\n");    /* 100 GB */
  put_file(root, "sys/fs/cgroup/a/memory.current", "85899345920\n"); /* 80 GB */
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_true(h.total_bytes == 64 * GB);
  assert_int_equal(h.cgroup_limited, 0);
  assert_true(h.available_bytes == 20 * GB);

  /* garbage in memory.max is no limit */
  put_file(root, "sys/fs/cgroup/a/memory.max", "12abc\n");
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_int_equal(h.cgroup_limited, 0);
  assert_true(h.total_bytes == 64 * GB);
  remove_tree(root);
}

/* A limit on an ancestor counts (a slice, or the container's cgroup, "/"
 * in its namespace), the smallest of several wins, and a ".." path falls
 * back to the hierarchy's root. */
static void test_cgroup_ancestor(void **state) {
  (void)state;
  char *root = make_tmpdir();
  fake_proc(root, "/slice/svc", 1);
  put_file(root, "sys/fs/cgroup/slice/memory.max", "4294967296\n");     /* 4 GB */
  put_file(root, "sys/fs/cgroup/slice/memory.current", "3221225472\n"); /* 3 GB */
  put_file(root, "sys/fs/cgroup/slice/svc/memory.max", "max\n");
  put_file(root, "sys/fs/cgroup/slice/svc/memory.current", "536870912\n");
  orf_host_mem h;
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_true(h.total_bytes == 4 * GB);
  assert_int_equal(h.cgroup_limited, 1);
  assert_true(h.available_bytes == 1 * GB);

  put_file(root, "sys/fs/cgroup/slice/svc/memory.max", "3221225472\n"); /* 3 GB, inner */
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_true(h.total_bytes == 3 * GB);
  assert_true(h.available_bytes == 1 * GB); /* the slice's headroom is smaller */

  /* the namespace root: "0::/" with memory.max at the top */
  fake_proc(root, "/", 1);
  put_file(root, "sys/fs/cgroup/memory.max", "8589934592\n");
  put_file(root, "sys/fs/cgroup/memory.current", "1073741824\n");
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_true(h.total_bytes == 8 * GB);
  assert_true(h.available_bytes == 7 * GB);

  fake_proc(root, "/../../elsewhere", 1);
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_true(h.total_bytes == 8 * GB);
  remove_tree(root);
}

/* Missing pieces: no cgroup v2 line or files is no limit; no MemAvailable
 * falls back to MemFree; no meminfo at all gives total; no physical figure
 * takes MemTotal. */
static void test_host_fallbacks(void **state) {
  (void)state;
  char *root = make_tmpdir();
  orf_host_mem h;
  fake_proc(root, "/gone", 0); /* no files under sys/ */
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_true(h.total_bytes == 64 * GB);
  assert_int_equal(h.cgroup_limited, 0);
  assert_true(h.available_bytes == 20 * GB);

  orf_mem__host_read_at(root, 0, &h); /* physical unknown: MemTotal */
  assert_true(h.total_bytes == 64 * GB);

  put_file(root, "proc/self/cgroup", "4:memory:/x\n1:cpu:/\n"); /* cgroup v1 only */
  put_file(root, "sys/fs/cgroup/memory.max", "1073741824\n");
  orf_mem__host_read_at(root, 64 * GB, &h);
  assert_int_equal(h.cgroup_limited, 0);
  remove_tree(root);

  root = make_tmpdir(); /* nothing at all */
  orf_mem__host_read_at(root, 16 * GB, &h);
  assert_true(h.total_bytes == 16 * GB);
  assert_true(h.available_bytes == 16 * GB);
  assert_int_equal(h.cgroup_limited, 0);
  remove_tree(root);
}

/* Failing the Nth allocation of open gives ORF_ENOMEM with nothing set,
 * until open succeeds. */
static void test_open_alloc_failure(void **state) {
  (void)state;
  int saw_enomem = 0;
  for (long n = 1; n < 10; n++) {
    orf_memtrack t = {0};
    atomic_store(&t.fail_after, n);
    orf_memtrack *old = orf_memtrack_set(&t);
    orf_memsources *m = (orf_memsources *)&t;
    char err[128] = "";
    int rc = orf_memsources_open(&m, "S:8", err, sizeof err);
    orf_memtrack_set(old);
    if (rc == ORF_ENOMEM) {
      saw_enomem = 1;
      assert_null(m);
      assert_true(strlen(err) > 0);
      continue;
    }
    assert_int_equal(rc, ORF_OK);
    orf_memtrack_set(&t);
    orf_memsources_close(m);
    orf_memtrack_set(old);
    assert_int_equal(atomic_load(&t.current), 0);
    break;
  }
  assert_true(saw_enomem);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_gpu_without_sim), cmocka_unit_test(test_sim_spec_valid),
      cmocka_unit_test(test_sim_spec_invalid),   cmocka_unit_test(test_sim_device),
      cmocka_unit_test(test_host_figures),       cmocka_unit_test(test_cgroup_limit),
      cmocka_unit_test(test_cgroup_max),         cmocka_unit_test(test_cgroup_ancestor),
      cmocka_unit_test(test_host_fallbacks),     cmocka_unit_test(test_open_alloc_failure),
  };
  return cmocka_run_group_tests_name("memsource", tests, NULL, NULL);
}
