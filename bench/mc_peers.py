#!/usr/bin/env python3
"""mc_peers.py - peer timings for bench/bench_mc.c: iso-surface extraction of
the same field by VTK's Flying Edges (vtkFlyingEdges3D; W. Schroeder,
R. Maynard, B. Geveci, LDAV 2015) and by scikit-image's marching cubes
(skimage.measure.marching_cubes, Lewiner et al. 2003).

The field is the one bench_mc builds: on an N^3 grid of points,
value = distance to the centre ((N-1)/2, (N-1)/2, (N-1)/2) minus r = 0.4 N,
float32, iso 0.  Only the extraction is timed: for VTK, Update() of the
filter (the vtkImageData is built from the numpy array beforehand, and the
filter computes no normals, gradients or scalars, as ORFEAS gives positions
and indices only); for scikit-image, the marching_cubes call.  Best of R runs.

    python3 bench/mc_peers.py [N] [THREADS] [RUNS] [--vtk-1t]

Prints key=value lines: mc_vtk_flying_edges_mcells_s, mc_vtk_flying_edges_1t_mcells_s,
mc_skimage_mcells_s (Mcells/s = (N-1)^3 / seconds / 1e6), triangle counts
and the VTK SMP backend.
"""
import subprocess
import sys
import time

import numpy as np


def field(n):
    c = (n - 1) / 2.0
    r = 0.4 * n
    ax = np.arange(n, dtype=np.float64) - c
    z, y, x = np.meshgrid(ax, ax, ax, indexing="ij")
    return (np.sqrt(x * x + y * y + z * z) - r).astype(np.float32)  # f[k, j, i]


def best_of(runs, fn):
    best, out = float("inf"), None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_vtk(f, n, threads, runs):
    import vtk
    from vtk.util import numpy_support

    vtk.vtkSMPTools.Initialize(threads)
    img = vtk.vtkImageData()
    img.SetDimensions(n, n, n)  # x fastest: matches f[k, j, i] in C order
    arr = numpy_support.numpy_to_vtk(f.ravel(), deep=True)
    img.GetPointData().SetScalars(arr)
    fe = vtk.vtkFlyingEdges3D()
    fe.SetInputData(img)
    fe.SetValue(0, 0.0)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    fe.ComputeScalarsOff()

    def run():
        fe.Modified()
        fe.Update()
        return fe.GetOutput()

    t, out = best_of(runs, run)
    return t, out.GetNumberOfPolys(), out.GetNumberOfPoints(), vtk.vtkSMPTools.GetBackend(), \
        vtk.vtkSMPTools.GetEstimatedNumberOfThreads()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    cells = (n - 1) ** 3 / 1e6
    f = field(n)
    if "--vtk-1t" in sys.argv:  # the single-thread run, in its own process (see below)
        t1, _, _, _, _ = bench_vtk(f, n, 1, runs)
        print(f"mc_vtk_flying_edges_1t_mcells_s={cells / t1:.1f}")
        return
    try:
        # vtkSMPTools.Initialize() takes effect once per process with TBB:
        # the single-thread figure comes from a second process
        t, tris, pts, backend, used = bench_vtk(f, n, threads, runs)
        one = subprocess.run([sys.executable, __file__, str(n), "1", str(runs), "--vtk-1t"],
                             capture_output=True, text=True, check=True).stdout
        print(f"mc_vtk_smp_backend={backend}")
        print(f"mc_vtk_threads={used}")
        print(f"mc_vtk_flying_edges_ms={t * 1e3:.2f}")
        print(f"mc_vtk_flying_edges_mcells_s={cells / t:.1f}")
        print(one.strip())
        print(f"mc_vtk_triangles={tris}")
        print(f"mc_vtk_vertices={pts}")
    except ImportError as e:
        print(f"mc_vtk_error=\"{e}\"")
    try:
        from skimage import measure

        t, (verts, faces, _, _) = best_of(max(1, min(runs, 3)), lambda: measure.marching_cubes(f, level=0.0))
        print(f"mc_skimage_ms={t * 1e3:.2f}")
        print(f"mc_skimage_mcells_s={cells / t:.1f}")
        print(f"mc_skimage_triangles={len(faces)}")
        print(f"mc_skimage_vertices={len(verts)}")
    except ImportError as e:
        print(f"mc_skimage_error=\"{e}\"")


if __name__ == "__main__":
    main()
