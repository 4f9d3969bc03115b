"""torch.fft convolution on the GPU at the sizes of bench_fftconv_cuda, and the ratio of its
time to each ssmkit path read from the bench logs given ("SUMMARY fftconv <path>_<problem>
ms=<t>" lines of bench_conv_fftconv_cuda and bench_conv_ssm_conv_cuda).

The torch recipe is the one S4-style code uses: y = irfft(rfft(u, 2L) * rfft(k, 2L), 2L)[:L]
+ D u, float32, B x H rows, full-length kernels (Lk = L). Two variants are timed:
  per-call  : the kernel's FFT is taken in every call (as the S4 reference does);
  cached    : the kernel spectrum is computed once and reused (what ssmkit's FFTConvCuda does).
A size whose torch buffers do not fit in GPU memory prints "out of memory" and no ratio.

usage: python3 torch_fftconv_ref.py BENCH_LOG [BENCH_LOG ...]
"""
import re
import sys

try:
    import torch
except ImportError:
    print("torch not available: no torch.fft ratio")
    sys.exit(0)


def torch_fft_ms(B, H, L, cached, reps):
    dev = "cuda"
    g = torch.Generator(device=dev).manual_seed(0)
    u = torch.rand(B, H, L, device=dev, generator=g) * 2 - 1
    k = (torch.rand(H, L, device=dev, generator=g) * 2 - 1) * 1e-3
    D = torch.rand(H, device=dev, generator=g) * 2 - 1
    n = 2 * L
    k_f = torch.fft.rfft(k, n=n)

    def run():
        kf = k_f if cached else torch.fft.rfft(k, n=n)
        y = torch.fft.irfft(torch.fft.rfft(u, n=n) * kf, n=n)[..., :L]
        return y + u * D[:, None]

    run()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        run()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    ours = {}
    for path in sys.argv[1:]:
        with open(path) as f:
            for line in f:
                m = re.match(r"SUMMARY fftconv (\S+) ms=([0-9.eE+-]+)", line)
                if m:
                    ours[m.group(1).lstrip("/")] = float(m.group(2))
    if not torch.cuda.is_available():
        print("torch has no CUDA device: no torch.fft ratio")
        return
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")
    print(f"{'problem':<16} {'torch':<9} {'torch ms':>10} {'ssmkit path':<34} {'ssmkit ms':>10} {'speed-up':>9}")
    for name, B, H, L in (("B8_H768_L64K", 8, 768, 1 << 16),
                          ("B1_H768_L1M", 1, 768, 1 << 20),
                          ("B8_H768_L1M", 8, 768, 1 << 20)):
        mine = {k: v for k, v in ours.items() if k.endswith(name)}
        for cached in (False, True):
            variant = "cached" if cached else "per-call"
            try:
                t = torch_fft_ms(B, H, L, cached, 5 if L < (1 << 20) else 3)
            except torch.cuda.OutOfMemoryError:
                print(f"{name:<16} {variant:<9} {'out of memory':>10}")
                torch.cuda.empty_cache()
                continue
            print(f"SUMMARY torch_fftconv {name} {variant} torch_ms={t:.4f}")
            if not mine:
                print(f"{name:<16} {variant:<9} {t:10.2f} (no ssmkit row in the log)")
            for key, ms in sorted(mine.items()):
                print(f"{name:<16} {variant:<9} {t:10.2f} {key:<34} {ms:10.2f} {t / ms:8.2f}x")
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
