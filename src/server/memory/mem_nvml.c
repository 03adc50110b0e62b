/*
 * mem_nvml.c - NVIDIA GPUs for the memory sources (memsource.h), read
 * through NVML, the NVIDIA Management Library (NVML API Reference Guide,
 * docs.nvidia.com/deploy/nvml-api).  The library is loaded at run time with
 * dlopen("libnvidia-ml.so.1") and its functions found with dlsym, so the
 * binary neither builds against nor needs the driver: without the library,
 * or with no device, the server runs on the host alone.
 *
 * The few types and prototypes used are declared here as the reference
 * defines them (there is no nvml.h on the build machine): nvmlReturn_t
 * (NVML_SUCCESS = 0), the opaque nvmlDevice_t, nvmlMemory_t {total, free,
 * used} in bytes (the v1 struct of nvmlDeviceGetMemoryInfo),
 * nvmlUtilization_t {gpu, memory} in percent, and the temperature sensor
 * NVML_TEMPERATURE_GPU = 0 in degrees C.  The _v2 entry points of init,
 * count and handle are the ones current drivers export under those names
 * (nvml.h maps the plain names onto them).  NVML is thread-safe, so
 * sampling needs no lock here.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "orfeas.h"
#include "memsource_int.h"

/* ---- the subset of nvml.h used (NVML API Reference Guide) ---- */
typedef int nvmlReturn_t;
#define NVML_SUCCESS 0
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlMemory_st {
  unsigned long long total; /* total physical device memory, bytes */
  unsigned long long free;  /* unallocated device memory, bytes */
  unsigned long long used;  /* reserved + allocated device memory, bytes */
} nvmlMemory_t;
typedef struct nvmlUtilization_st {
  unsigned int gpu;    /* percent of time a kernel ran over the last sample period */
  unsigned int memory; /* percent of time device memory was read or written */
} nvmlUtilization_t;
typedef int nvmlTemperatureSensors_t;
#define NVML_TEMPERATURE_GPU 0
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96

typedef nvmlReturn_t (*nvml_init_fn)(void);
typedef nvmlReturn_t (*nvml_shutdown_fn)(void);
typedef nvmlReturn_t (*nvml_count_fn)(unsigned int *count);
typedef nvmlReturn_t (*nvml_handle_fn)(unsigned int index, nvmlDevice_t *device);
typedef nvmlReturn_t (*nvml_name_fn)(nvmlDevice_t device, char *name, unsigned int length);
typedef nvmlReturn_t (*nvml_memory_fn)(nvmlDevice_t device, nvmlMemory_t *memory);
typedef nvmlReturn_t (*nvml_util_fn)(nvmlDevice_t device, nvmlUtilization_t *utilization);
typedef nvmlReturn_t (*nvml_temp_fn)(nvmlDevice_t device, nvmlTemperatureSensors_t sensor,
                                     unsigned int *temp);

struct orf_nvml {
  void *lib; /* from dlopen */
  nvml_shutdown_fn shutdown;
  nvml_count_fn count;
  nvml_handle_fn handle;
  nvml_name_fn name;
  nvml_memory_fn memory;
  nvml_util_fn util;
  nvml_temp_fn temp;
};

/* dlsym into *(void **)slot, through memcpy: ISO C has no conversion from
 * an object pointer to a function pointer, POSIX guarantees it works. */
static int bind_sym(void *lib, const char *name, void *slot, size_t size) {
  void *sym = dlsym(lib, name);
  if (!sym || size != sizeof sym) return 0;
  memcpy(slot, &sym, sizeof sym);
  return 1;
}

/* Contract: see memsource_int.h; the handle is freed with
 * orf_mem__nvml_close. */
orf_nvml *orf_mem__nvml_open(const char *lib) {
  void *h = dlopen(lib ? lib : "libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return NULL;
  orf_nvml *n = orf_calloc(1, sizeof *n);
  nvml_init_fn init;
  unsigned int count = 0;
  if (!n) goto out_close_lib;
  n->lib = h;
  if (!bind_sym(h, "nvmlInit_v2", &init, sizeof init) ||
      !bind_sym(h, "nvmlShutdown", &n->shutdown, sizeof n->shutdown) ||
      !bind_sym(h, "nvmlDeviceGetCount_v2", &n->count, sizeof n->count) ||
      !bind_sym(h, "nvmlDeviceGetHandleByIndex_v2", &n->handle, sizeof n->handle) ||
      !bind_sym(h, "nvmlDeviceGetName", &n->name, sizeof n->name) ||
      !bind_sym(h, "nvmlDeviceGetMemoryInfo", &n->memory, sizeof n->memory) ||
      !bind_sym(h, "nvmlDeviceGetUtilizationRates", &n->util, sizeof n->util) ||
      !bind_sym(h, "nvmlDeviceGetTemperature", &n->temp, sizeof n->temp))
    goto out_free;
  if (init() != NVML_SUCCESS) goto out_free;
  if (n->count(&count) != NVML_SUCCESS || count == 0) goto out_shutdown;
  return n;

out_shutdown:
  n->shutdown();
out_free:
  orf_free(n);
out_close_lib:
  dlclose(h);
  return NULL;
}

/* Contract: see memsource_int.h.  Reads devices 0..count-1 of NVML in
 * order; out is the caller's. */
int orf_mem__nvml_sample(orf_nvml *n, orf_gpu_device *out, int max) {
  unsigned int count = 0;
  int got = 0;
  if (!n || max <= 0 || n->count(&count) != NVML_SUCCESS) return 0;
  for (unsigned int i = 0; i < count && got < max; i++) {
    nvmlDevice_t dev;
    nvmlMemory_t mem;
    nvmlUtilization_t util;
    unsigned int temp;
    orf_gpu_device *d = &out[got];
    if (n->handle(i, &dev) != NVML_SUCCESS || n->memory(dev, &mem) != NVML_SUCCESS) continue;
    memset(d, 0, sizeof *d);
    d->index = (int)i;
    if (n->name(dev, d->name, sizeof d->name) != NVML_SUCCESS) snprintf(d->name, sizeof d->name, "GPU %u", i);
    d->name[sizeof d->name - 1] = '\0';
    d->total_gb = (double)mem.total / ORF_GB;
    d->used_gb = (double)mem.used / ORF_GB;
    d->free_gb = (double)mem.free / ORF_GB;
    d->utilization_percent = n->util(dev, &util) == NVML_SUCCESS ? (int)util.gpu : -1;
    d->temperature_c = n->temp(dev, NVML_TEMPERATURE_GPU, &temp) == NVML_SUCCESS ? (int)temp : -1;
    d->simulated = 0;
    got++;
  }
  return got;
}

/* Contract: see memsource_int.h. */
void orf_mem__nvml_close(orf_nvml *n) {
  if (!n) return;
  n->shutdown();
  dlclose(n->lib);
  orf_free(n);
}
