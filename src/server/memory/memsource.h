/*
 * memsource.h - where memory figures come from: one interface, three
 * sources.
 *  - NVIDIA GPUs through NVML, loaded at run time with
 *    dlopen("libnvidia-ml.so.1"), so the binary has no build or run
 *    dependency on the driver: per device name, total/used/free memory,
 *    utilisation, temperature.  No library or no device: gpu_available 0.
 *  - The host: total = min(physical memory, cgroup v2 memory.max of this
 *    process's cgroup); available = MemAvailable, or (memory.max -
 *    memory.current) when a cgroup limit applies and is smaller.
 *  - A simulated device from a spec "NAME:TOTAL_GB[:USED_GB]" (option
 *    --sim-device / ORFEAS_SIM_DEVICE), so tests and capacity planning can
 *    exercise every budget rule without hardware: it is reported as device 0
 *    with "simulated": true, and it is the device the budget is taken from.
 * Thread-safe after open.
 */
#ifndef ORF_MEMSOURCE_H
#define ORF_MEMSOURCE_H

#include <stddef.h>

#define ORF_MAX_GPUS 8

typedef struct orf_gpu_device {
  int index;
  char name[96];
  double total_gb, used_gb, free_gb;
  int utilization_percent; /* -1 when unknown */
  int temperature_c;       /* -1 when unknown */
  int simulated;
} orf_gpu_device;

typedef struct orf_mem_snapshot {
  int gpu_available; /* NVML found devices, or a simulated device is set */
  int gpu_count;
  orf_gpu_device gpu[ORF_MAX_GPUS];
  double host_total_gb; /* min(physical, cgroup memory.max) */
  double host_available_gb;
  int cgroup_limited; /* the cgroup limit is below physical memory */
} orf_mem_snapshot;

typedef struct orf_memsources orf_memsources;

/* Opens the sources: NVML when the library loads, the host always, the
 * simulated device when sim_spec is non-NULL and non-empty.  Returns ORF_OK,
 * ORF_EINVAL (a malformed sim_spec: the message goes to err) or ORF_ENOMEM. */
int orf_memsources_open(orf_memsources **out, const char *sim_spec, char *err, size_t err_size);

/* Takes a fresh reading of every source into *out.  Never fails: a source
 * that cannot be read reports what it can (a GPU that stops answering is
 * left out). */
void orf_memsources_sample(orf_memsources *m, orf_mem_snapshot *out);

/* The device jobs run on: "cuda:0"-like name of the simulated device or the
 * first GPU when the engine uses it, else "cpu". */
const char *orf_memsources_budget_device(orf_memsources *m);

/* Makes the engine's CUDA device (orf_gpu_query) the budget device, when
 * no simulated device is set: the server calls it when jobs run there. */
void orf_memsources_use_engine_gpu(orf_memsources *m);

/* Total bytes of the budget device (the simulated device's total, else the
 * engine GPU's, else the host total) and its usage by others (the
 * simulated device's fixed external usage; on the engine GPU what the
 * driver reports used beyond this process's pool; else 0). */
void orf_memsources_budget_base(orf_memsources *m, const orf_mem_snapshot *s, double *total_bytes,
                                double *external_bytes);

void orf_memsources_close(orf_memsources *m);

#endif
