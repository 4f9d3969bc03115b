"""Sequential-time PyTorch selective scan on the GPU (the loop of mamba_ssm's
selective_scan_ref: elementwise preprocessing vectorized, the recurrence one time step per
iteration), timed at the sizes of bench_selective_scan_cuda, and the ratio to ssmkit's times
read from that bench's output ("SUMMARY scan <name> ms=<t>" lines).

usage: python3 torch_selective_scan_ref.py BENCH_LOG
For L = 65536 only the first 8192 steps are timed and the time is scaled by L / 8192 (the loop
costs the same per step); the printed line says so.
"""
import re
import sys

try:
    import torch
except ImportError:
    print("torch not available: no PyTorch ratio")
    sys.exit(0)


def torch_scan_ms(B, D, N, L, steps):
    dev = "cuda"
    g = torch.Generator(device=dev).manual_seed(0)
    u = torch.rand(B, D, L, device=dev, generator=g) * 2 - 1
    delta = torch.rand(B, D, L, device=dev, generator=g) * 2 - 1
    z = torch.rand(B, D, L, device=dev, generator=g) * 4 - 2
    A = -(torch.rand(D, N, device=dev, generator=g) * 7.5 + 0.5)
    Bm = torch.rand(B, N, L, device=dev, generator=g) * 2 - 1
    Cm = torch.rand(B, N, L, device=dev, generator=g) * 2 - 1
    Dv = torch.rand(D, device=dev, generator=g) * 2 - 1
    bias = torch.rand(D, device=dev, generator=g) * 2 - 4

    def run(T):
        dt = torch.nn.functional.softplus(delta[..., :T] + bias[None, :, None])
        dA = torch.exp(dt.unsqueeze(-1) * A[None, :, None, :])  # (B, D, T, N)
        dBu = (dt * u[..., :T]).unsqueeze(-1) * Bm[..., :T].permute(0, 2, 1)[:, None]
        h = torch.zeros(B, D, N, device=dev)
        ys = []
        for t in range(T):
            h = dA[:, :, t] * h + dBu[:, :, t]
            ys.append(torch.einsum("bdn,bn->bd", h, Cm[:, :, t]))
        y = torch.stack(ys, dim=2)
        return (y + Dv[None, :, None] * u[..., :T]) * torch.nn.functional.silu(z[..., :T])

    chunk = min(steps, 1024)  # dA/dBu of (B, D, T, N) must fit: time it in pieces of 1024
    run(16)
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    total = 0.0
    done = 0
    while done < steps:
        start.record()
        run(chunk)
        stop.record()
        torch.cuda.synchronize()
        total += start.elapsed_time(stop)
        done += chunk
    return total * L / done


def main():
    if not torch.cuda.is_available():
        print("torch has no GPU: no PyTorch ratio")
        return
    ours = {}
    if len(sys.argv) > 1:
        for line in open(sys.argv[1]):
            m = re.match(r"SUMMARY scan (\S+) ms=([0-9.eE+-]+)", line)
            if m:
                ours[m.group(1)] = float(m.group(2))
    print(f"\n{'PyTorch sequential loop (fp32)':44s} {'torch ms':>10s} {'ssmkit ms':>10s} {'speed-up':>10s}")
    for (B, D, N, L) in [(8, 2048, 16, 4096), (1, 1536, 16, 65536)]:
        steps = min(L, 8192)
        t = torch_scan_ms(B, D, N, L, steps)
        note = "" if steps == L else f"  (first {steps} steps, scaled x{L // steps})"
        for prec in ("f32", "bf16"):
            key = next((k for k in ours if f"/{prec}_B{B}_D{D}_N{N}_L{L}" in k), None)
            if key:
                print(f"{key:44s} {t:10.1f} {ours[key]:10.3f} {t / ours[key]:10.0f}{note}")
        if not any(f"_B{B}_D{D}_N{N}_L{L}" in k for k in ours):
            print(f"B={B} D={D} N={N} L={L}: torch {t:.1f} ms{note}")


if __name__ == "__main__":
    main()
