/*
 * test_fieldgrid.c - the stored-field marching cubes the GPU runs
 * (src/gpu/fieldgrid.h), checked on the host through its reference driver:
 * at fp32 it gives the CPU path's mesh byte for byte; at fp16 and int8 the
 * meshes stay closed and 2-manifold and within a voxel of fp32; the hand-
 * written half conversion matches the compiler's; the device-memory bound
 * covers what real jobs take; and without a usable GPU the engine's device
 * choice behaves as documented (auto runs on the CPU, cuda is refused).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fieldgrid.h"
#include "gpu.h"
#include "inflate.h"
#include "meshdist.h"
#include "parallel.h"
#include "testutil.h"

/* ---- subjects -------------------------------------------------------------- */

typedef struct subject {
  const char *name;
  uint32_t w, h;
  float discs[9];
  int n;
  float hole;
} subject;

static const subject kSubjects[] = {
    {"disc", 96, 96, {48, 48, 36}, 1, 0},
    {"two discs", 140, 90, {40, 45, 30, 100, 45, 28}, 2, 0},
    {"ring", 110, 110, {55, 55, 45}, 1, 16},
    {"wide", 200, 60, {50, 30, 25, 100, 30, 25, 150, 30, 25}, 3, 0},
};

static void build_fields(const subject *s, double detail, orf_inflate *f) {
  const uint8_t fg[3] = {200, 60, 40}, bg[3] = {255, 255, 255};
  uint8_t *rgba = tu_discs_rgba(s->w, s->h, s->discs, s->n, s->hole, fg, bg, 255);
  assert_non_null(rgba);
  uint8_t *mask = malloc((size_t)s->w * s->h);
  assert_non_null(mask);
  /* a shaded subject so detail moves the front */
  for (size_t i = 0; i < (size_t)s->w * s->h; i++) {
    mask[i] = rgba[4 * i + 1] < 128;
    rgba[4 * i] = (uint8_t)(i * 7 % 251);
  }
  assert_int_equal(orf_inflate_build(mask, rgba, s->w, s->h, 0.35, detail, 2, NULL, f), ORF_OK);
  free(mask);
  free(rgba);
}

/* Closed and 2-manifold.  Marching cubes can leave a few faces of almost
 * no area where a grid point sits almost on the surface (the pipeline's
 * orf_mesh_fix_degenerate removes them, as it does the CPU path's): allowed
 * here up to 1 in 1000. */
static void assert_closed(const orf_mesh *m) {
  orf_mesh_report r;
  assert_int_equal(orf_mesh_check(m, &r), ORF_OK);
  if (!r.watertight || !r.manifold)
    print_message("boundary %zu nonmanifold e %zu v %zu misoriented %zu degenerate %zu duplicate %zu\n",
                  r.boundary_edges, r.nonmanifold_edges, r.nonmanifold_vertices, r.misoriented_edges,
                  r.degenerate_faces, r.duplicate_faces);
  assert_true(r.watertight);
  assert_int_equal(r.nonmanifold_edges + r.nonmanifold_vertices + r.duplicate_faces, 0);
  assert_true(r.degenerate_faces * 1000 <= r.faces);
  assert_true(r.volume > 0);
}

/* ---- tests ------------------------------------------------------------------ */

/* Every half bit pattern survives half -> float -> half, and float -> half
 * rounds as the compiler's _Float16 does (round to nearest even, overflow,
 * subnormals, ties). */
static void test_half_conversion(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 65536; h++) {
    if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) continue; /* NaN payloads */
    float f = orf_fg_h2f((uint16_t)h);
    assert_int_equal(orf_fg_f2h(f), h);
    _Float16 ref = (_Float16)f;
    assert_true((float)ref == f || (f != f));
  }
  uint32_t x = 12345;
  for (int n = 0; n < 2000000; n++) {
    x = x * 1664525u + 1013904223u;
    uint32_t bits = x;
    if ((bits & 0x7f800000u) == 0x7f800000u) continue;
    /* bias towards half's range */
    bits = (bits & 0x807fffffu) | ((((bits >> 23) & 0xffu) % 48u + 96u) << 23);
    float f;
    memcpy(&f, &bits, 4);
    _Float16 ref = (_Float16)f;
    uint16_t rb;
    memcpy(&rb, &ref, 2);
    if (orf_fg_f2h(f) != rb) fail_msg("float %a: got %04x, compiler %04x", (double)f, orf_fg_f2h(f), rb);
  }
  assert_int_equal(orf_fg_f2h(65504.0f), 0x7bff);
  assert_int_equal(orf_fg_f2h(65520.0f), 0x7c00); /* the tie above the largest half rounds to infinity */
  assert_int_equal(orf_fg_f2h(-0.0f), 0x8000);
}

/* At fp32 the stored-field path gives the CPU path's mesh byte for byte,
 * for every subject, several grids, with and without detail, any threads. */
static void test_fp32_matches_cpu(void **state) {
  (void)state;
  static const int grids[] = {32, 64, 96, 128};
  for (size_t s = 0; s < sizeof kSubjects / sizeof kSubjects[0]; s++) {
    for (int d = 0; d < 2; d++) {
      orf_inflate f;
      build_fields(&kSubjects[s], d ? 0.6 : 0.0, &f);
      for (size_t gi = 0; gi < sizeof grids / sizeof grids[0]; gi++) {
        orf_mesh cpu, ref;
        assert_int_equal(orf_inflate_mesh(&f, grids[gi], 2, NULL, &cpu), ORF_OK);
        assert_int_equal(orf_fieldgrid_mesh_host(&f, grids[gi], ORF_PRECISION_FP32, 1 + (int)(gi % 2), &ref),
                         ORF_OK);
        if (cpu.vertex_count != ref.vertex_count || cpu.face_count != ref.face_count)
          fail_msg("%s detail %d grid %d: %zu/%zu vertices, %zu/%zu faces", kSubjects[s].name, d, grids[gi],
                   ref.vertex_count, cpu.vertex_count, ref.face_count, cpu.face_count);
        assert_memory_equal(cpu.positions, ref.positions, cpu.vertex_count * 3 * sizeof(float));
        assert_memory_equal(cpu.indices, ref.indices, cpu.face_count * 3 * sizeof(uint32_t));
        orf_mesh_free(&cpu);
        orf_mesh_free(&ref);
      }
      orf_inflate_free(&f);
    }
  }
}

/* fp16 and int8 meshes are closed, 2-manifold, deterministic, and within
 * 0.75 voxel of fp32's (measured: 0.14-0.66).  Most of that distance is not
 * quantisation but the stored quantity: fp32 interpolates f = y^2 - s^2 G,
 * which is quadratic across the rim, the others its distance, which is
 * nearly linear there; fp16 and int8 stay within 0.1 voxel of each other. */
static void test_reduced_precision(void **state) {
  (void)state;
  for (size_t s = 0; s < sizeof kSubjects / sizeof kSubjects[0]; s++) {
    orf_inflate f;
    build_fields(&kSubjects[s], 0.3, &f);
    for (int grid = 48; grid <= 128; grid += 80) {
      orf_mesh ref;
      assert_int_equal(orf_fieldgrid_mesh_host(&f, grid, ORF_PRECISION_FP32, 2, &ref), ORF_OK);
      assert_closed(&ref);
      orf_volume vol;
      orf_inflate_axes ax;
      assert_int_equal(orf_inflate_axes_build(&f, grid, &vol, &ax), ORF_OK);
      orf_inflate_axes_free(&ax);
      double voxel = vol.spacing[0];
      orf_mesh half = {0};
      for (orf_precision p = ORF_PRECISION_FP16; p <= ORF_PRECISION_INT8; p++) {
        orf_mesh m, again;
        assert_int_equal(orf_fieldgrid_mesh_host(&f, grid, p, 2, &m), ORF_OK);
        assert_closed(&m);
        assert_int_equal(orf_fieldgrid_mesh_host(&f, grid, p, 1, &again), ORF_OK);
        assert_int_equal(again.face_count, m.face_count);
        assert_memory_equal(again.positions, m.positions, m.vertex_count * 3 * sizeof(float));
        double hd = md_hausdorff(&m, &ref, voxel, 3 * voxel) / voxel;
        print_message("%-9s grid %3d %s: %zu faces (fp32 %zu), Hausdorff %.4f voxel\n", kSubjects[s].name,
                      grid, orf_precision_name(p), m.face_count, ref.face_count, hd);
        assert_true(hd >= 0);
        assert_true(hd < 0.75);
        orf_mesh_free(&again);
        if (p == ORF_PRECISION_FP16) {
          half = m;
          continue;
        }
        double q8 = md_hausdorff(&m, &half, voxel, 3 * voxel) / voxel;
        print_message("%-9s grid %3d fp16 to int8: %.4f voxel\n", kSubjects[s].name, grid, q8);
        assert_true(q8 >= 0 && q8 < 0.1);
        orf_mesh_free(&m);
        orf_mesh_free(&half);
      }
      orf_mesh_free(&ref);
    }
    orf_inflate_free(&f);
  }
}

/* The device-memory bound of a job covers the memory the GPU path takes for
 * real subjects at every quality (the grid's real size, the real canvas and
 * the real face count). */
static void test_device_bound(void **state) {
  (void)state;
  const uint8_t fg[3] = {30, 30, 30}, bg[3] = {255, 255, 255};
  orf_params p;
  orf_params_init(&p);
  size_t last = 0;
  for (int q = 1; q <= 10; q += 3) {
    p.quality = q;
    int grid = orf_quality_resolution(q);
    /* the pipeline's working image: twice the grid, at least 256 px */
    uint32_t n = (uint32_t)(2 * grid < 256 ? 256 : 2 * grid);
    const float disc[3] = {n / 2.0f, n / 2.0f, n * 0.45f};
    uint8_t *rgba = tu_discs_rgba(n, n, disc, 1, 0, fg, bg, 255);
    uint8_t *mask = malloc((size_t)n * n);
    assert_non_null(rgba);
    assert_non_null(mask);
    for (size_t i = 0; i < (size_t)n * n; i++)
      mask[i] = rgba[4 * i] < 128;
    orf_inflate f;
    assert_int_equal(orf_inflate_build(mask, rgba, n, n, p.thickness, p.detail, 2, NULL, &f), ORF_OK);
    orf_mesh m;
    assert_int_equal(orf_inflate_mesh(&f, grid, 2, NULL, &m), ORF_OK);
    orf_volume vol;
    orf_inflate_axes ax;
    assert_int_equal(orf_inflate_axes_build(&f, grid, &vol, &ax), ORF_OK);
    orf_inflate_axes_free(&ax);
    for (orf_precision pr = ORF_PRECISION_FP32; pr <= ORF_PRECISION_INT8; pr++) {
      size_t need = orf_fieldgrid_device_bytes(vol.nx, vol.ny, vol.nz, (size_t)f.w * f.h, m.face_count, pr);
      size_t bound = orf_estimate_device_bytes(&p, pr);
      print_message("q%-2d %s: needs %.1f MB, bound %.1f MB\n", q, orf_precision_name(pr), need / 1e6,
                    bound / 1e6);
      assert_true(need <= bound);
    }
    /* less precision, less memory; more quality, more memory */
    assert_true(orf_estimate_device_bytes(&p, ORF_PRECISION_INT8) <
                orf_estimate_device_bytes(&p, ORF_PRECISION_FP16));
    assert_true(orf_estimate_device_bytes(&p, ORF_PRECISION_FP16) <
                orf_estimate_device_bytes(&p, ORF_PRECISION_FP32));
    assert_true(orf_estimate_device_bytes(&p, ORF_PRECISION_FP32) >= last);
    last = orf_estimate_device_bytes(&p, ORF_PRECISION_FP32);
    orf_mesh_free(&m);
    orf_inflate_free(&f);
    free(mask);
    free(rgba);
  }
  p.mode = ORF_MODE_RELIEF;
  assert_int_equal(orf_estimate_device_bytes(&p, ORF_PRECISION_FP32), 0);
}

/* Names round-trip; unknown names are refused. */
static void test_names(void **state) {
  (void)state;
  for (orf_device d = ORF_DEVICE_AUTO; d <= ORF_DEVICE_CUDA; d++) {
    orf_device back;
    assert_int_equal(orf_device_from_name(orf_device_name(d), &back), ORF_OK);
    assert_int_equal(back, d);
  }
  for (orf_precision p = ORF_PRECISION_FP32; p <= ORF_PRECISION_INT8; p++) {
    orf_precision back;
    assert_int_equal(orf_precision_from_name(orf_precision_name(p), &back), ORF_OK);
    assert_int_equal(back, p);
  }
  orf_device d;
  orf_precision p;
  assert_int_equal(orf_device_from_name("gpu", &d), ORF_EINVAL);
  assert_int_equal(orf_device_from_name(NULL, &d), ORF_EINVAL);
  assert_int_equal(orf_precision_from_name("fp64", &p), ORF_EINVAL);
}

/* The job's device choice.  With a usable GPU (the device machine), cuda
 * and auto run there and give the CPU's bytes at fp32; without one, auto
 * runs on the CPU with no error and cuda is refused (no device). */
static void test_job_device(void **state) {
  (void)state;
  const uint8_t fg[3] = {200, 30, 30}, bg[3] = {255, 255, 255};
  const float disc[3] = {60, 60, 45};
  uint8_t *rgba = tu_discs_rgba(120, 120, disc, 1, 0, fg, bg, 255);
  size_t png_size;
  uint8_t *png = tu_png(rgba, 120, 120, 4, 8, &png_size);
  assert_non_null(png);
  orf_params p;
  orf_params_init(&p);
  p.quality = 4;
  orf_gpu_info info;
  orf_gpu_query(&info);
  print_message("gpu: compiled %d, available %d (%s)\n", info.compiled, info.available, info.name);
  orf_result cpu, other;
  orf_job_opts o;
  orf_job_opts_init(&o);
  o.device = ORF_DEVICE_CPU;
  assert_int_equal(orf_generate(png, png_size, &p, &o, &cpu), ORF_OK);
  assert_int_equal(o.device_used, ORF_DEVICE_CPU);
  assert_int_equal(o.device_peak_bytes, 0);
  for (orf_device d = ORF_DEVICE_AUTO; d <= ORF_DEVICE_CUDA; d += 2) {
    orf_job_opts_init(&o);
    o.device = d;
    int rc = orf_generate(png, png_size, &p, &o, &other);
    if (!info.available && d == ORF_DEVICE_CUDA) {
      assert_int_equal(rc, ORF_ENODEVICE);
      continue;
    }
    assert_int_equal(rc, ORF_OK);
    assert_int_equal(o.device_used, info.available ? ORF_DEVICE_CUDA : ORF_DEVICE_CPU);
    if (info.available) {
      assert_true(o.device_peak_bytes > 0);
      assert_true(o.device_peak_bytes <= orf_estimate_device_bytes(&p, ORF_PRECISION_FP32));
    }
    assert_int_equal(other.mesh.face_count, cpu.mesh.face_count);
    assert_memory_equal(other.mesh.positions, cpu.mesh.positions, cpu.mesh.vertex_count * 3 * sizeof(float));
    orf_result_free(&other);
  }
  /* reduced precision on the GPU still gives a checked, closed mesh */
  if (info.available) {
    for (orf_precision pr = ORF_PRECISION_FP16; pr <= ORF_PRECISION_INT8; pr++) {
      orf_job_opts_init(&o);
      o.device = ORF_DEVICE_CUDA;
      o.precision = pr;
      assert_int_equal(orf_generate(png, png_size, &p, &o, &other), ORF_OK);
      assert_true(other.report.watertight && other.report.manifold);
      orf_result_free(&other);
    }
  }
  orf_result_free(&cpu);
  free(png);
  free(rgba);
}

/* The GPU against the host: for every subject and every quality's grid,
 * fp32 is the CPU path's mesh byte for byte and fp16/int8 are the host
 * reference's (whose bounds test_reduced_precision checks); a device out of
 * memory fails the extraction cleanly and the next one succeeds; a
 * cancelled one stops.  Without a usable GPU the call is refused and
 * leaves nothing. */
static void test_gpu_matches_reference(void **state) {
  (void)state;
  orf_inflate f;
  build_fields(&kSubjects[0], 0.3, &f);
  orf_mesh m;
  orf_gpu_stats st = {.device_peak = 1};
  if (!orf_gpu_usable()) {
    assert_int_equal(orf_gpu_inflate_mesh(&f, 64, ORF_PRECISION_FP32, NULL, &m, &st), ORF_ENODEVICE);
    assert_null(m.positions);
    assert_int_equal(st.device_peak, 0);
    orf_inflate_free(&f);
    print_message("no usable GPU: the CUDA path refuses cleanly (the comparison runs on a GPU machine)\n");
    return;
  }
  orf_inflate_free(&f);
  /* under compute-sanitizer (scripts/device_check.sh) a few grids will do */
  int quick = getenv("ORFEAS_GPU_TEST_QUICK") != NULL;
  for (size_t s = 0; s < sizeof kSubjects / sizeof kSubjects[0]; s++) {
    build_fields(&kSubjects[s], s % 2 ? 0.5 : 0.0, &f);
    for (int q = 1; q <= 10; q += quick ? 4 : 1) {
      int grid = orf_quality_resolution(q);
      orf_mesh cpu;
      assert_int_equal(orf_inflate_mesh(&f, grid, orf_cpu_count(), NULL, &cpu), ORF_OK);
      for (orf_precision p = ORF_PRECISION_FP32; p <= ORF_PRECISION_INT8; p++) {
        orf_mesh ref, gpu;
        if (p == ORF_PRECISION_FP32)
          ref = cpu;
        else
          assert_int_equal(orf_fieldgrid_mesh_host(&f, grid, p, orf_cpu_count(), &ref), ORF_OK);
        assert_int_equal(orf_gpu_inflate_mesh(&f, grid, p, NULL, &gpu, &st), ORF_OK);
        if (gpu.vertex_count != ref.vertex_count || gpu.face_count != ref.face_count)
          fail_msg("%s q%d %s: gpu %zu/%zu, reference %zu/%zu", kSubjects[s].name, q, orf_precision_name(p),
                   gpu.vertex_count, gpu.face_count, ref.vertex_count, ref.face_count);
        assert_memory_equal(gpu.positions, ref.positions, ref.vertex_count * 3 * sizeof(float));
        assert_memory_equal(gpu.indices, ref.indices, ref.face_count * 3 * sizeof(uint32_t));
        assert_true(st.device_peak > 0);
        orf_mesh_free(&gpu);
        if (p != ORF_PRECISION_FP32) orf_mesh_free(&ref);
      }
      orf_mesh_free(&cpu);
    }
    print_message("%s: gpu = reference at q1..q10, fp32/fp16/int8\n", kSubjects[s].name);
    orf_inflate_free(&f);
  }
  build_fields(&kSubjects[1], 0.0, &f);
  orf_gpu_set_test_cap(1 << 20);
  assert_int_equal(orf_gpu_inflate_mesh(&f, 128, ORF_PRECISION_FP32, NULL, &m, &st), ORF_ENOMEM);
  assert_null(m.positions);
  orf_gpu_set_test_cap(0);
  atomic_int cancel = 1;
  assert_int_equal(orf_gpu_inflate_mesh(&f, 128, ORF_PRECISION_FP32, &cancel, &m, &st), ORF_ECANCELED);
  assert_int_equal(orf_gpu_inflate_mesh(&f, 128, ORF_PRECISION_FP32, NULL, &m, &st), ORF_OK);
  orf_mesh_free(&m);
  orf_gpu_info info;
  orf_gpu_query(&info);
  assert_true(info.pool_reserved_bytes >= info.pool_used_bytes);
  orf_gpu_trim();
  orf_gpu_query(&info);
  print_message("after trim: pool used %zu, reserved %zu bytes\n", info.pool_used_bytes,
                info.pool_reserved_bytes);
  assert_int_equal(info.pool_used_bytes, 0);
  orf_inflate_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_half_conversion),
      cmocka_unit_test(test_fp32_matches_cpu),
      cmocka_unit_test(test_reduced_precision),
      cmocka_unit_test(test_device_bound),
      cmocka_unit_test(test_names),
      cmocka_unit_test(test_job_device),
      cmocka_unit_test(test_gpu_matches_reference),
  };
  return cmocka_run_group_tests_name("fieldgrid", tests, NULL, NULL);
}
