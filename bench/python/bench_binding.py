"""Per-call cost of the Python binding, as a ratio to the bare C++ call measured in the same run.

    PYTHONPATH=build/python build/python-venv/bin/python bench/python/bench_binding.py [--gpu]
        [--omp-threads N] [--rounds R] [--number N] [--json FILE]

CPU: a tiny selective scan (batch 1, dim 4, dstate 4, length 16, float32, NumPy arrays) called
through ssmkit.selective_scan (argument checks, output allocation, GIL release) and through the
bare C++ entry point on the same arrays (ssmkit._ssmkit._time_selective_scan_cpp); the difference
is the binding's overhead (goal: <= 5 us). Both are timed in alternating short batches (cpu()):
on a shared machine long batches are preempted and measure the load, not the binding.
GPU (--gpu, needs torch with CUDA): ssmkit.selective_scan on torch CUDA tensors against
mamba_ssm's reference semantics written in torch (selective_scan_ref: a loop over time of
tensor ops) on the same tensors, both timed with CUDA events in the same run.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ssmkit = _ssmkit = None  # imported in main, after --omp-threads has set OMP_NUM_THREADS


def _tiny_scan_args():
    rng = np.random.default_rng(0)
    b, d, n, L = 1, 4, 4, 16
    u = rng.standard_normal((b, d, L)).astype(np.float32)
    delta = np.abs(rng.standard_normal((b, d, L))).astype(np.float32)
    A = -np.abs(rng.standard_normal((d, n))).astype(np.float32)
    B = rng.standard_normal((b, 1, n, L)).astype(np.float32)
    C = rng.standard_normal((b, 1, n, L)).astype(np.float32)
    return u, delta, A, B, C


def cpu(rounds=300, number=200):
    """Per-call seconds of the Python call and of the bare C++ call, measured in alternating short
    batches (`rounds` of `number` calls each, the order swapped every round) so that both see the
    same machine load. On a shared machine a batch that was preempted is slower, never faster:
    the minimum over the batches is the uncontended cost, and the median of the per-round
    differences says how steady that is. Returns (C++ min, Python min, median difference)."""
    u, delta, A, B, C = _tiny_scan_args()
    f = ssmkit.selective_scan
    timer = time.perf_counter

    def py_batch():
        t0 = timer()
        for _ in range(number):
            f(u, delta, A, B, C)
        return (timer() - t0) / number

    def cpp_batch():
        return _ssmkit._time_selective_scan_cpp(u, delta, A, B, C, number)

    py_batch(), cpp_batch()  # warm-up: first-call set-up, the OpenMP team
    py, cpp = [], []
    for r in range(rounds):
        if r % 2:
            py.append(py_batch())
            cpp.append(cpp_batch())
        else:
            cpp.append(cpp_batch())
            py.append(py_batch())
    np.testing.assert_array_equal(f(u, delta, A, B, C), f(u, delta, A, B, C))
    diff = statistics.median(p - c for p, c in zip(py, cpp))
    cpp_min, py_min = min(cpp), min(py)
    print(f"tiny selective_scan (1, 4, 16) N=4 float32, {rounds} x {number} calls each: "
          f"C++ call {cpp_min * 1e6:.2f} us (median {statistics.median(cpp) * 1e6:.2f}), "
          f"Python call {py_min * 1e6:.2f} us (median {statistics.median(py) * 1e6:.2f}) -> "
          f"binding overhead {(py_min - cpp_min) * 1e6:.2f} us per call (median of paired rounds "
          f"{diff * 1e6:.2f}; ratio {py_min / cpp_min:.2f}x the C++ call; goal overhead <= 5 us)")
    return cpp_min, py_min, diff


def selective_scan_ref(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False):
    """mamba_ssm's selective_scan_ref (real A, variable B/C (batch, groups, dstate, L)) in torch."""
    import torch
    import torch.nn.functional as F

    dtype_in = u.dtype
    u, delta = u.float(), delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[..., None].float()
    if delta_softplus:
        delta = F.softplus(delta)
    batch, dim, dstate = u.shape[0], A.shape[0], A.shape[1]
    B = B.float().repeat_interleave(dim // B.shape[1], dim=1)
    C = C.float().repeat_interleave(dim // C.shape[1], dim=1)
    x = A.new_zeros((batch, dim, dstate))
    ys = []
    deltaA = torch.exp(torch.einsum("bdl,dn->bdln", delta, A))
    deltaB_u = torch.einsum("bdl,bdnl,bdl->bdln", delta, B, u)
    for i in range(u.shape[2]):
        x = deltaA[:, :, i] * x + deltaB_u[:, :, i]
        ys.append(torch.einsum("bdn,bdn->bd", x, C[:, :, :, i]))
    y = torch.stack(ys, dim=2)
    out = y if D is None else y + u * D[:, None]
    if z is not None:
        out = out * F.silu(z)
    return out.to(dtype_in)


def gpu(batch=4, dim=1536, dstate=16, L=2048, reps=10):
    import torch

    if not torch.cuda.is_available():
        print("gpu: no CUDA device visible to torch")
        return
    dev = "cuda"
    g = torch.Generator(device=dev).manual_seed(0)
    u = torch.randn(batch, dim, L, device=dev, generator=g)
    delta = 0.1 * torch.rand(batch, dim, L, device=dev, generator=g)
    A = -torch.rand(dim, dstate, device=dev, generator=g) - 0.5
    B = torch.randn(batch, 1, dstate, L, device=dev, generator=g)
    C = torch.randn(batch, 1, dstate, L, device=dev, generator=g)
    D = torch.randn(dim, device=dev, generator=g)
    z = torch.randn(batch, dim, L, device=dev, generator=g)
    db = torch.randn(dim, device=dev, generator=g)
    args = (u, delta, A, B, C, D, z, db, True)

    def timed(fn, n):
        fn()
        torch.cuda.synchronize()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(n):
            fn()
        e.record()
        torch.cuda.synchronize()
        return s.elapsed_time(e) / n / 1e3

    with torch.no_grad():
        ours = timed(lambda: ssmkit.selective_scan(*args), reps)
        ref = timed(lambda: selective_scan_ref(*args), max(1, reps // 5))
        err = (ssmkit.selective_scan(*args) - selective_scan_ref(*args)).abs().max().item()
    print(f"GPU selective_scan ({batch}, {dim}, {L}) N={dstate} float32 on {torch.cuda.get_device_name()}: "
          f"ssmkit {ours * 1e3:.3f} ms, torch selective_scan_ref {ref * 1e3:.3f} ms -> {ref / ours:.1f}x faster "
          f"(max |diff| {err:.2e})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpu", action="store_true")
    ap.add_argument("--rounds", type=int, default=300, help="alternating batches of each call")
    ap.add_argument("--number", type=int, default=200, help="calls per batch")
    ap.add_argument("--omp-threads", type=int, default=0,
                    help="OMP_NUM_THREADS for the scan (0: the environment's / OpenMP's default)")
    ap.add_argument("--json", help="also write the CPU figures (seconds) to this file")
    a = ap.parse_args()
    if a.omp_threads > 0:
        os.environ["OMP_NUM_THREADS"] = str(a.omp_threads)
    import ssmkit
    from ssmkit import _ssmkit

    cpp_min, py_min, diff = cpu(a.rounds, a.number)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({"cpp_min": cpp_min, "py_min": py_min, "overhead_min": py_min - cpp_min,
                       "overhead_median_paired": diff}, fh)
    if a.gpu:
        gpu()
    sys.exit(0)
