/*
 * cuda_engine.cu - the CUDA driver of the stored-field path (fieldgrid.h):
 * evaluate the field at every grid point, count each row's crossings and
 * triangles, exclusive prefix sums over the counts (CUB's DeviceScan),
 * emit each row's vertices and triangles at their places, copy the mesh
 * back: the classify / scan / compact / generate structure of GPU marching
 * cubes (NVIDIA CUDA samples, "marchingCubes"; Dyken et al., "High-speed
 * Marching Cubes using HistoPyramids", 2008), with shared vertices numbered
 * exactly as the CPU's mc.c numbers them.  The per-point and per-row work is
 * fieldgrid.h's, the same code the host reference runs; built with
 * --fmad=false so no multiply-add is fused and fp32 results are the CPU's
 * bit for bit.
 *
 * Device memory comes from device 0's default stream-ordered pool
 * (cudaMallocAsync / cudaFreeAsync on one stream per job), whose release
 * threshold is set to keep freed memory cached for the next job;
 * orf_cuda_trim() gives it back (cudaMemPoolTrimTo).  The pool's used and
 * reserved bytes are what /api/v1/gpu/stats reports.  A failed allocation
 * is ORF_CUDA_ENOMEM (the job fails with 507); any other CUDA error is
 * ORF_CUDA_EINTERNAL with its text.
 */
#include <cuda_runtime.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

#include <cub/device/device_scan.cuh>

#include "cuda_api.h"
extern "C" {
#include "mc_tables.h"
}

namespace {

__device__ uint8_t d_tri_count[256];
__device__ uint8_t d_tri_edges[256 * ORF_MC_MAX_TRIS * 3];

struct device_state {
  int usable = 0;
  char name[96] = {0};
  cudaMemPool_t pool = nullptr;
};

device_state g_dev;
std::once_flag g_once;
std::atomic<size_t> g_held{0}; /* device bytes all jobs hold (for the test cap) */
std::atomic<size_t> g_cap{0};

void init_device() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1 || cudaSetDevice(0) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  int pools = 0;
  cudaDeviceProp prop;
  if (cudaDeviceGetAttribute(&pools, cudaDevAttrMemoryPoolsSupported, 0) != cudaSuccess || !pools ||
      cudaGetDeviceProperties(&prop, 0) != cudaSuccess || cudaDeviceGetDefaultMemPool(&g_dev.pool, 0) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  uint64_t keep = UINT64_MAX; /* keep freed memory for the next job until trimmed */
  if (cudaMemPoolSetAttribute(g_dev.pool, cudaMemPoolAttrReleaseThreshold, &keep) != cudaSuccess ||
      cudaMemcpyToSymbol(d_tri_count, orf_mc_tri_count, sizeof orf_mc_tri_count) != cudaSuccess ||
      cudaMemcpyToSymbol(d_tri_edges, orf_mc_tri_edges, sizeof orf_mc_tri_edges) != cudaSuccess) {
    cudaGetLastError();
    return;
  }
  snprintf(g_dev.name, sizeof g_dev.name, "%.95s", prop.name);
  g_dev.usable = 1;
}

bool usable() {
  std::call_once(g_once, init_device);
  return g_dev.usable;
}

/* ---- kernels ------------------------------------------------------------ */

__global__ void k_eval(orf_fg_src s, orf_fg_grid g, void *data, size_t n) {
  for (size_t at = blockIdx.x * (size_t)blockDim.x + threadIdx.x; at < n; at += (size_t)gridDim.x * blockDim.x) {
    int j = (int)(at % (size_t)g.ny);
    size_t t = at / (size_t)g.ny;
    orf_fg_eval(&s, &g, (int)(t % (size_t)g.nx), j, (int)(t / (size_t)g.nx), data);
  }
}

__global__ void k_count(orf_fg_grid g, uint64_t *seg, uint64_t *tri, size_t rows) {
  for (size_t r = blockIdx.x * (size_t)blockDim.x + threadIdx.x; r < rows; r += (size_t)gridDim.x * blockDim.x)
    orf_fg_row_count(&g, (int)(r % (size_t)g.ny), (int)(r / (size_t)g.ny), d_tri_count, seg, tri);
}

__global__ void k_emit(orf_fg_grid g, const uint64_t *vbase, const uint64_t *tbase, float *pos, uint32_t *idx,
                       size_t rows) {
  for (size_t r = blockIdx.x * (size_t)blockDim.x + threadIdx.x; r < rows; r += (size_t)gridDim.x * blockDim.x)
    orf_fg_row_emit(&g, (int)(r % (size_t)g.ny), (int)(r / (size_t)g.ny), d_tri_count, d_tri_edges,
                    ORF_MC_MAX_TRIS, vbase, tbase, pos, idx);
}

unsigned blocks_for(size_t n, unsigned threads) {
  size_t b = (n + threads - 1) / threads;
  return (unsigned)(b < 1 ? 1 : b > 65535u * 16u ? 65535u * 16u : b);
}

/* ---- one job's device memory -------------------------------------------- */

struct job_mem {
  cudaStream_t stream = nullptr;
  size_t held = 0, peak = 0;
  void *ptr[16] = {nullptr};
  size_t size[16] = {0};
};

int fail(orf_cuda_job *job, cudaError_t e, const char *what) {
  cudaGetLastError();
  if (e == cudaErrorMemoryAllocation) return ORF_CUDA_ENOMEM;
  snprintf(job->error, sizeof job->error, "%s: %s", what, cudaGetErrorString(e));
  return ORF_CUDA_EINTERNAL;
}

int dalloc(orf_cuda_job *job, job_mem *m, void **p, size_t n) {
  *p = nullptr;
  size_t cap = g_cap.load();
  if (cap && g_held.load() + n > cap) return ORF_CUDA_ENOMEM;
  int slot = 0;
  while (slot < 16 && m->ptr[slot]) slot++;
  if (slot == 16) return fail(job, cudaErrorUnknown, "too many allocations");
  cudaError_t e = cudaMallocAsync(p, n ? n : 1, m->stream);
  if (e != cudaSuccess) {
    *p = nullptr;
    return fail(job, e, "cudaMallocAsync");
  }
  m->ptr[slot] = *p;
  m->size[slot] = n;
  m->held += n;
  g_held += n;
  if (m->held > m->peak) m->peak = m->held;
  return ORF_CUDA_OK;
}

void dfree(job_mem *m, void *p) {
  for (int s = 0; s < 16; s++) {
    if (m->ptr[s] != p || !p) continue;
    cudaFreeAsync(p, m->stream);
    m->held -= m->size[s];
    g_held -= m->size[s];
    m->ptr[s] = nullptr;
    return;
  }
}

void dfree_all(job_mem *m) {
  for (int s = 0; s < 16; s++)
    dfree(m, m->ptr[s]);
}

int upload(orf_cuda_job *job, job_mem *m, void **dst, const void *src, size_t n) {
  int rc = dalloc(job, m, dst, n);
  if (rc) return rc;
  cudaError_t e = cudaMemcpyAsync(*dst, src, n, cudaMemcpyHostToDevice, m->stream);
  return e == cudaSuccess ? ORF_CUDA_OK : fail(job, e, "upload");
}

int launched(orf_cuda_job *job, const char *what) {
  cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? ORF_CUDA_OK : fail(job, e, what);
}

float elapsed(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  cudaEventElapsedTime(&ms, a, b);
  return ms;
}

int run(orf_cuda_job *job, job_mem *m, cudaEvent_t ev[5]) {
  orf_fg_grid g = job->grid;
  const size_t points = (size_t)g.nx * g.ny * g.nz, rows = (size_t)g.ny * g.nz;
  const size_t canvas = (size_t)job->src.w * job->rows;
  int rc;
  /* inputs: the two 2-D fields and the axis tables */
  void *height, *front, *tables, *data;
  orf_fg_src s = job->src;
  size_t tbytes = (size_t)(2 * g.nx + 2 * g.nz + g.ny) * 4;
  char *host_tables = (char *)job->alloc(tbytes);
  if (!host_tables) return ORF_CUDA_ENOMEM;
  memcpy(host_tables, s.col, (size_t)g.nx * 4);
  memcpy(host_tables + (size_t)g.nx * 4, s.colt, (size_t)g.nx * 4);
  memcpy(host_tables + (size_t)g.nx * 8, s.row, (size_t)g.nz * 4);
  memcpy(host_tables + (size_t)g.nx * 8 + (size_t)g.nz * 4, s.rowt, (size_t)g.nz * 4);
  memcpy(host_tables + (size_t)g.nx * 8 + (size_t)g.nz * 8, s.y, (size_t)g.ny * 4);
  rc = upload(job, m, &height, s.height, canvas * 4);
  if (!rc) rc = upload(job, m, &front, s.front, canvas * 4);
  if (!rc) rc = upload(job, m, &tables, host_tables, tbytes);
  /* the copy from pageable memory is done with the host buffer on return */
  job->release(host_tables);
  if (rc) return rc;
  char *t = (char *)tables;
  s.height = (const float *)height;
  s.front = (const float *)front;
  s.col = (const int32_t *)t;
  s.colt = (const float *)(t + (size_t)g.nx * 4);
  s.row = (const int32_t *)(t + (size_t)g.nx * 8);
  s.rowt = (const float *)(t + (size_t)g.nx * 8 + (size_t)g.nz * 4);
  s.y = (const float *)(t + (size_t)g.nx * 8 + (size_t)g.nz * 8);
  if ((rc = dalloc(job, m, &data, points * orf_fg_value_size(g.precision)))) return rc;

  /* 1. the field */
  cudaEventRecord(ev[0], m->stream);
  k_eval<<<blocks_for(points, 256), 256, 0, m->stream>>>(s, g, data, points);
  if ((rc = launched(job, "evaluate"))) return rc;
  cudaEventRecord(ev[1], m->stream);
  dfree(m, height);
  dfree(m, front);
  dfree(m, tables);
  g.data = data;
  if (job->cancelled && job->cancelled(job->ctx)) return ORF_CUDA_ECANCELED;

  /* 2. counts and their prefix sums */
  void *seg, *tri, *vbase, *tbase, *temp = nullptr;
  if ((rc = dalloc(job, m, &seg, 3 * rows * 8)) || (rc = dalloc(job, m, &tri, rows * 8)) ||
      (rc = dalloc(job, m, &vbase, 3 * rows * 8)) || (rc = dalloc(job, m, &tbase, rows * 8)))
    return rc;
  k_count<<<blocks_for(rows, 128), 128, 0, m->stream>>>(g, (uint64_t *)seg, (uint64_t *)tri, rows);
  if ((rc = launched(job, "count"))) return rc;
  size_t temp_a = 0, temp_b = 0;
  cub::DeviceScan::ExclusiveSum(nullptr, temp_a, (uint64_t *)seg, (uint64_t *)vbase, (int64_t)(3 * rows),
                                m->stream);
  cub::DeviceScan::ExclusiveSum(nullptr, temp_b, (uint64_t *)tri, (uint64_t *)tbase, (int64_t)rows, m->stream);
  size_t temp_n = temp_a > temp_b ? temp_a : temp_b;
  if ((rc = dalloc(job, m, &temp, temp_n))) return rc;
  cudaError_t e = cub::DeviceScan::ExclusiveSum(temp, temp_n, (uint64_t *)seg, (uint64_t *)vbase,
                                                (int64_t)(3 * rows), m->stream);
  if (e == cudaSuccess)
    e = cub::DeviceScan::ExclusiveSum(temp, temp_n, (uint64_t *)tri, (uint64_t *)tbase, (int64_t)rows, m->stream);
  if (e != cudaSuccess) return fail(job, e, "scan");
  uint64_t last[4];
  cudaMemcpyAsync(&last[0], (uint64_t *)vbase + 3 * rows - 1, 8, cudaMemcpyDeviceToHost, m->stream);
  cudaMemcpyAsync(&last[1], (uint64_t *)seg + 3 * rows - 1, 8, cudaMemcpyDeviceToHost, m->stream);
  cudaMemcpyAsync(&last[2], (uint64_t *)tbase + rows - 1, 8, cudaMemcpyDeviceToHost, m->stream);
  cudaMemcpyAsync(&last[3], (uint64_t *)tri + rows - 1, 8, cudaMemcpyDeviceToHost, m->stream);
  cudaEventRecord(ev[2], m->stream);
  if ((e = cudaStreamSynchronize(m->stream)) != cudaSuccess) return fail(job, e, "count");
  dfree(m, seg);
  dfree(m, tri);
  dfree(m, temp);
  uint64_t nv = last[0] + last[1], nt = last[2] + last[3];
  if (nv > UINT32_MAX || nt > UINT32_MAX / 3) return ORF_CUDA_ENOMEM;
  if (job->cancelled && job->cancelled(job->ctx)) return ORF_CUDA_ECANCELED;

  /* 3. vertices and triangles */
  void *pos, *idx;
  if ((rc = dalloc(job, m, &pos, (nv ? nv : 1) * 12)) || (rc = dalloc(job, m, &idx, (nt ? nt : 1) * 12))) return rc;
  k_emit<<<blocks_for(rows, 128), 128, 0, m->stream>>>(g, (const uint64_t *)vbase, (const uint64_t *)tbase,
                                                       (float *)pos, (uint32_t *)idx, rows);
  if ((rc = launched(job, "emit"))) return rc;
  cudaEventRecord(ev[3], m->stream);
  dfree(m, data);
  dfree(m, vbase);
  dfree(m, tbase);

  /* 4. back to the host */
  job->positions = (float *)job->alloc((nv ? nv : 1) * 12);
  job->indices = (uint32_t *)job->alloc((nt ? nt : 1) * 12);
  if (!job->positions || !job->indices) return ORF_CUDA_ENOMEM;
  cudaMemcpyAsync(job->positions, pos, nv * 12, cudaMemcpyDeviceToHost, m->stream);
  cudaMemcpyAsync(job->indices, idx, nt * 12, cudaMemcpyDeviceToHost, m->stream);
  cudaEventRecord(ev[4], m->stream);
  if ((e = cudaStreamSynchronize(m->stream)) != cudaSuccess) return fail(job, e, "emit");
  job->vertex_count = nv;
  job->face_count = nt;
  job->ms_eval = elapsed(ev[0], ev[1]);
  job->ms_count = elapsed(ev[1], ev[2]);
  job->ms_emit = elapsed(ev[2], ev[3]);
  job->ms_copy = elapsed(ev[3], ev[4]);
  return ORF_CUDA_OK;
}

} // namespace

extern "C" int orf_cuda_run(orf_cuda_job *job) {
  job->positions = nullptr;
  job->indices = nullptr;
  job->vertex_count = job->face_count = job->device_peak = 0;
  job->error[0] = 0;
  if (!usable()) return ORF_CUDA_ENODEVICE;
  cudaSetDevice(0);
  job_mem m;
  cudaEvent_t ev[5] = {nullptr};
  cudaError_t e = cudaStreamCreateWithFlags(&m.stream, cudaStreamNonBlocking);
  for (int i = 0; e == cudaSuccess && i < 5; i++)
    e = cudaEventCreate(&ev[i]);
  int rc = e == cudaSuccess ? run(job, &m, ev) : fail(job, e, "stream");
  dfree_all(&m);
  if (m.stream) {
    cudaError_t s = cudaStreamSynchronize(m.stream);
    if (s != cudaSuccess && rc == ORF_CUDA_OK) rc = fail(job, s, "free");
    cudaStreamDestroy(m.stream);
  }
  for (int i = 0; i < 5; i++)
    if (ev[i]) cudaEventDestroy(ev[i]);
  job->device_peak = m.peak;
  if (rc) {
    job->release(job->positions);
    job->release(job->indices);
    job->positions = nullptr;
    job->indices = nullptr;
    job->vertex_count = job->face_count = 0;
  }
  return rc;
}

extern "C" int orf_cuda_probe(char *name, size_t name_size, size_t *total, size_t *free_bytes, size_t *pool_used,
                              size_t *pool_reserved) {
  if (!usable()) return 0;
  cudaSetDevice(0);
  size_t fr = 0, tot = 0;
  uint64_t used = 0, reserved = 0;
  if (cudaMemGetInfo(&fr, &tot) != cudaSuccess ||
      cudaMemPoolGetAttribute(g_dev.pool, cudaMemPoolAttrUsedMemCurrent, &used) != cudaSuccess ||
      cudaMemPoolGetAttribute(g_dev.pool, cudaMemPoolAttrReservedMemCurrent, &reserved) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  if (name && name_size) snprintf(name, name_size, "%s", g_dev.name);
  *total = tot;
  *free_bytes = fr;
  *pool_used = (size_t)used;
  *pool_reserved = (size_t)reserved;
  return 1;
}

extern "C" void orf_cuda_trim(void) {
  if (!usable()) return;
  cudaSetDevice(0);
  cudaMemPoolTrimTo(g_dev.pool, 0);
}

extern "C" void orf_cuda_set_cap(size_t bytes) { g_cap = bytes; }
