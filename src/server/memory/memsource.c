/*
 * memsource.c - the memory sources behind one interface (memsource.h): the
 * simulated device (mem_sim.c), NVIDIA GPUs through NVML (mem_nvml.c) and
 * the host (mem_host.c), gathered into one snapshot, and the device the
 * job budget is taken from.
 *
 * A snapshot lists the simulated device first, as device 0, then the NVML
 * devices, each with its NVML index (plus one when a simulated device takes
 * index 0).  The budget device is the simulated one when set, else the host
 * ("cpu"): this build's engine runs on the CPU, so a real GPU is reported
 * but does not govern admission.  Sizes are in GB of 2^30 bytes.
 *
 * After open nothing here changes, and NVML and the files read are safe to
 * use from several threads, so every function may be called concurrently.
 */
#include "memsource.h"

#include <stdio.h>
#include <string.h>

#include "memsource_int.h"
#include "orfeas.h"

struct orf_memsources {
  orf_nvml *nvml; /* NULL: no library or no device */
  int has_sim;
  orf_sim_device sim;
  int engine_gpu; /* jobs run on the engine's CUDA device (orf_memsources_use_engine_gpu) */
};

/* Contract: see memsource.h.  *out is set only on ORF_OK and is freed with
 * orf_memsources_close; sim_spec and err stay the caller's. */
int orf_memsources_open(orf_memsources **out, const char *sim_spec, char *err, size_t err_size) {
  orf_sim_device sim;
  int has_sim = sim_spec && *sim_spec;
  *out = NULL;
  if (err && err_size) err[0] = '\0';
  if (has_sim) {
    int rc = orf_mem__sim_parse(sim_spec, &sim, err, err_size);
    if (rc != ORF_OK) return rc;
  }
  orf_memsources *m = orf_calloc(1, sizeof *m);
  if (!m) {
    if (err && err_size) snprintf(err, err_size, "out of memory");
    return ORF_ENOMEM;
  }
  m->has_sim = has_sim;
  if (has_sim) m->sim = sim;
  m->nvml = orf_mem__nvml_open(NULL);
  *out = m;
  return ORF_OK;
}

/* Contract: see memsource.h; *out is overwritten whole. */
void orf_memsources_sample(orf_memsources *m, orf_mem_snapshot *out) {
  orf_host_mem host;
  memset(out, 0, sizeof *out);
  if (m->has_sim) {
    orf_gpu_device *d = &out->gpu[0];
    d->index = 0;
    snprintf(d->name, sizeof d->name, "%s", m->sim.name);
    d->total_gb = m->sim.total_gb;
    d->used_gb = m->sim.used_gb;
    d->free_gb = m->sim.total_gb - m->sim.used_gb;
    d->utilization_percent = -1;
    d->temperature_c = -1;
    d->simulated = 1;
    out->gpu_count = 1;
  }
  if (m->nvml) {
    int got = orf_mem__nvml_sample(m->nvml, &out->gpu[out->gpu_count], ORF_MAX_GPUS - out->gpu_count);
    for (int i = 0; i < got; i++)
      out->gpu[out->gpu_count + i].index += m->has_sim;
    out->gpu_count += got;
  }
  out->gpu_available = out->gpu_count > 0;
  orf_mem__host_read(&host);
  out->host_total_gb = host.total_bytes / ORF_GB;
  out->host_available_gb = host.available_bytes / ORF_GB;
  out->cgroup_limited = host.cgroup_limited;
}

/* Contract: see memsource.h; a static string. */
const char *orf_memsources_budget_device(orf_memsources *m) {
  return m->has_sim || m->engine_gpu ? "cuda:0" : "cpu";
}

void orf_memsources_use_engine_gpu(orf_memsources *m) { m->engine_gpu = 1; }

/* Contract: see memsource.h.  With no simulated device the host total comes
 * from s, or from a fresh reading when s is NULL. */
void orf_memsources_budget_base(orf_memsources *m, const orf_mem_snapshot *s, double *total_bytes,
                                double *external_bytes) {
  if (m->has_sim) {
    *total_bytes = m->sim.total_gb * ORF_GB;
    *external_bytes = m->sim.used_gb * ORF_GB;
    return;
  }
  if (m->engine_gpu) { /* from the CUDA runtime: others' use is what neither is free nor our pool's */
    orf_gpu_info g;
    orf_gpu_query(&g);
    *total_bytes = (double)g.total_bytes;
    double others = (double)g.total_bytes - (double)g.free_bytes - (double)g.pool_reserved_bytes;
    *external_bytes = others > 0 ? others : 0;
    return;
  }
  if (s) {
    *total_bytes = s->host_total_gb * ORF_GB;
  } else {
    orf_host_mem host;
    orf_mem__host_read(&host);
    *total_bytes = host.total_bytes;
  }
  *external_bytes = 0;
}

/* Contract: see memsource.h; NULL does nothing. */
void orf_memsources_close(orf_memsources *m) {
  if (!m) return;
  orf_mem__nvml_close(m->nvml);
  orf_free(m);
}
