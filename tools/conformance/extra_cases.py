"""Writes extra conformance cases (FORMAT.md ops, the suite's safetensors layout, expected
outputs in float64 by scipy) where the implementation choices show:
  fftconv at long lengths (L = Lk ~ 65K; expected from scipy.signal.fftconvolve): the float32
      round-off of every convolution path is largest there (the runner's `partitioned` path sums
      ~500 partitions a block);
  hippo_kernel with N = 32 and 64, zoh and bilinear (expected from scipy.linalg.expm and float64
      powers): the dplr path refuses zoh there (ill-conditioned eigenvectors), which the runner
      must report as refused while its `auto` path produces the kernel.

usage: python3 extra_cases.py OUT_DIR     (then SSM_CONFORMANCE_DIR=OUT_DIR conformance_runner)
"""
import json
import os
import struct
import sys

import numpy as np
import scipy
import scipy.linalg
import scipy.signal


def write_case(path, meta, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f8").tobytes()
        header[name] = {"dtype": "F64", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)


def hippo(measure, N):
    """(A, B) of the S4 reference's transition() (FORMAT.md `hippo`: legt halved)."""
    q = np.arange(N, dtype=float)
    r = np.sqrt(2 * q + 1)
    if measure == "legs":
        return -np.tril(r[:, None] * r[None, :], -1) - np.diag(q + 1), r.copy()
    if measure == "legt":
        j, i = np.meshgrid(q, q)
        A = -(r[:, None] * np.where(i < j, (-1.0) ** (i - j), 1.0) * r[None, :])
        return 0.5 * A, 0.5 * r
    raise ValueError(measure)


def hippo_kernel_cases(out, rng):
    for measure in ("legs", "legt"):
        for N in (32, 64):
            for method in ("zoh", "bilinear"):
                A, B = hippo(measure, N)
                L, dt, I = 1024, (0.01 if measure == "legs" else 0.002), np.eye(N)
                if method == "zoh":
                    Ad = scipy.linalg.expm(dt * A)
                    Bd = np.linalg.solve(A, (Ad - I) @ B)
                else:
                    M = np.linalg.inv(I - dt / 2 * A)
                    Ad, Bd = M @ (I + dt / 2 * A), dt * M @ B
                C = rng.standard_normal(N) / np.sqrt(N)
                K, x = np.empty(L), Bd.copy()
                for l in range(L):
                    K[l] = C @ x
                    x = Ad @ x
                meta = {"op": "hippo_kernel", "rtol": "0.001", "atol": repr(1e-5 * np.abs(K).max()),
                        "measure": measure, "N": str(N), "L": str(L), "dt": repr(dt), "method": method,
                        "source": f"float64 scipy.linalg.expm / solve and powers, scipy {scipy.__version__}"}
                write_case(os.path.join(out, f"hippo_kernel-{measure}-{method}-N{N}-L{L}.safetensors"), meta,
                           {"C": C, "expected.K": K})


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261202)
    meta = {"op": "fftconv", "rtol": "0.0001", "atol": "0.0001",
            "source": f"scipy.signal.fftconvolve {scipy.__version__}"}
    for B, H, L, Lk in [(1, 2, 65536, 65536), (2, 2, 65000, 65000), (1, 3, 70000, 4096)]:
        u = rng.standard_normal((B, H, L))
        k = rng.standard_normal((H, Lk)) * 0.36
        D = rng.standard_normal(H)
        y = np.stack([np.stack([scipy.signal.fftconvolve(u[b, h], k[h])[:L] + D[h] * u[b, h]
                                for h in range(H)]) for b in range(B)])
        write_case(os.path.join(out, f"fftconv-B{B}-H{H}-L{L}-K{Lk}.safetensors"), meta,
                   {"D": D, "expected.y": y, "k": k, "u": u})
    hippo_kernel_cases(out, rng)


if __name__ == "__main__":
    main()
