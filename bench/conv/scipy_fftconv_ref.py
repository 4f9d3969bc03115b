"""Same-run scipy baseline of bench_conv_fftconv_scipy (bench/conv/bench_fftconv_scipy.cpp).

The bench starts this script as a co-process and drives it over stdin/stdout, one command a
line, so that scipy and ssmkit are timed in alternation on the same data, in the same minutes
of a shared machine:

  load DIR H L LK   read DIR/u.f32 (H, L), DIR/k.f32 (H, LK), DIR/D.f32 (H): raw float32, C order
                    -> "ok"
  run               one call of the recipe below, timed -> "cpu_ms=<thread CPU ms> wall_ms=<ms>"
  save PATH         write the last result y (H, L) as raw float32 to PATH -> "ok"
  quit              exit

The recipe is the plain scipy way to get the causal convolution with skip that ssm::fftconv
computes, float32 in and out (scipy.fft transforms float32 in single precision, on one thread:
scipy.fft's default workers=1):

  y = scipy.signal.fftconvolve(u, k, mode="full", axes=-1)[:, :L] + D[:, None] * u

with k cut to its first min(LK, L) taps (later taps never reach an output). The time is the
CPU time of the calling thread (time.thread_time), so time spent preempted by other processes
on a shared machine is not counted, the same clock as the ssmkit side.

If numpy or scipy cannot be imported the first line printed is "unavailable: <reason>" and the
script exits; the bench then reports ssmkit's times alone.
"""
import sys
import time

try:
    import numpy as np
    import scipy
    from scipy.signal import fftconvolve
except Exception as e:  # noqa: BLE001 - any import failure means: no baseline
    print(f"unavailable: {type(e).__name__}: {e}", flush=True)
    sys.exit(0)


def main():
    print(f"ready scipy={scipy.__version__} numpy={np.__version__}", flush=True)
    u = k = D = y = None
    L = 0
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        cmd = parts[0]
        if cmd == "load":
            d, H, L, Lk = parts[1], int(parts[2]), int(parts[3]), int(parts[4])
            u = np.fromfile(f"{d}/u.f32", dtype=np.float32).reshape(H, L)
            k = np.fromfile(f"{d}/k.f32", dtype=np.float32).reshape(H, Lk)[:, : min(L, Lk)]
            k = np.ascontiguousarray(k)
            D = np.fromfile(f"{d}/D.f32", dtype=np.float32).reshape(H)
            y = None
            print("ok", flush=True)
        elif cmd == "run":
            c0, w0 = time.thread_time(), time.perf_counter()
            y = fftconvolve(u, k, mode="full", axes=-1)[:, :L] + D[:, None] * u
            c1, w1 = time.thread_time(), time.perf_counter()
            print(f"cpu_ms={(c1 - c0) * 1e3:.4f} wall_ms={(w1 - w0) * 1e3:.4f}", flush=True)
        elif cmd == "save":
            np.ascontiguousarray(y, dtype=np.float32).tofile(parts[1])
            print("ok", flush=True)
        elif cmd == "quit":
            return
        else:
            print(f"error: unknown command {cmd!r}", flush=True)


if __name__ == "__main__":
    main()
