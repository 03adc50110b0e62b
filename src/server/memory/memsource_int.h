/*
 * memsource_int.h - internals of the memory sources (memsource.h), shared
 * by memsource.c and the three sources behind it (mem_nvml.c, mem_host.c,
 * mem_sim.c), and reachable from tests: the host reader takes the root of
 * /proc and /sys so a test can fake a cgroup with files in a directory, and
 * the simulated device's parser can be exercised on its own.  Not for the
 * rest of the server, which uses memsource.h.
 */
#ifndef ORF_MEMSOURCE_INT_H
#define ORF_MEMSOURCE_INT_H

#include <stddef.h>

#include "memsource.h"

/* Bytes in one "GB" of every figure here and in memsource.h (GiB). */
#define ORF_GB 1073741824.0

/* ---- simulated device (mem_sim.c) ---- */

#define ORF_SIM_NAME_MAX 64

typedef struct orf_sim_device {
  char name[ORF_SIM_NAME_MAX + 1];
  double total_gb; /* > 0, <= 1e6 */
  double used_gb;  /* fixed usage by others, 0 <= used <= total */
} orf_sim_device;

/* Parses "NAME:TOTAL_GB[:USED_GB]": NAME is 1..64 characters of
 * [A-Za-z0-9 _.-]; the numbers are plain decimals (digits, one optional
 * point, an optional exponent; no sign on TOTAL, no hex, inf or nan), with
 * 0 < TOTAL <= 1e6 and 0 <= USED <= TOTAL.  Returns ORF_OK with *out filled,
 * or ORF_EINVAL with a sentence in err (*out then zeroed). */
int orf_mem__sim_parse(const char *spec, orf_sim_device *out, char *err, size_t err_size);

/* ---- host (mem_host.c) ---- */

typedef struct orf_host_mem {
  double total_bytes;     /* min(physical, every cgroup memory.max above us) */
  double available_bytes; /* MemAvailable, or less when a cgroup leaves less */
  int cgroup_limited;     /* a cgroup limit is below physical memory */
} orf_host_mem;

/* Reads the host's memory with `root` prefixed to /proc/... and /sys/...
 * ("" for the real files), and `physical_bytes` as the machine's memory
 * (<= 0: MemTotal of meminfo).
 * The process's cgroup v2 comes from the "0::/path" line of
 * root/proc/self/cgroup; every memory.max from that cgroup up to
 * root/sys/fs/cgroup counts ("max" or a missing file: no limit there), and
 * the headroom of each limited level (memory.max - memory.current) caps the
 * available figure.  MemAvailable comes from root/proc/meminfo (MemFree when
 * it is missing, the total when both are).  Never fails: what cannot be read
 * is taken as "no limit". */
void orf_mem__host_read_at(const char *root, double physical_bytes, orf_host_mem *out);

/* orf_mem__host_read_at("", physical memory from sysconf, out). */
void orf_mem__host_read(orf_host_mem *out);

/* ---- NVIDIA GPUs through NVML (mem_nvml.c) ---- */

typedef struct orf_nvml orf_nvml;

/* Loads `lib` (NULL: "libnvidia-ml.so.1") with dlopen, initialises NVML and
 * counts the devices.  Returns the handle, or NULL when the library is
 * missing, lacks a symbol, fails to initialise, sees no device, or memory
 * runs out (nothing is then left loaded). */
orf_nvml *orf_mem__nvml_open(const char *lib);

/* Reads up to `max` devices into out[0..]: name, memory, utilisation and
 * temperature (-1 when unknown).  A device whose handle or memory cannot be
 * read is left out.  `index` is set to NVML's index.  Returns the count. */
int orf_mem__nvml_sample(orf_nvml *n, orf_gpu_device *out, int max);

/* Shuts NVML down and unloads the library; NULL does nothing. */
void orf_mem__nvml_close(orf_nvml *n);

#endif
