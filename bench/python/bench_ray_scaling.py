"""Ray batch inference scaling: the same 40 files through ssmkit.ray with 1 and then 2 workers
(actors), on one local Ray cluster started once; each figure is the wall time of sray.run
(dataset execution, model loads and file I/O included; cluster start-up excluded), and the result
is the ratio of the two, measured in the same run. Goal: >= 1.7x from 1 to 2 workers.

    PYTHONPATH=build/python build/python-venv-ray/bin/python bench/python/bench_ray_scaling.py [--files 40] [--length 400000]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../tools"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=40)
    ap.add_argument("--length", type=int, default=400000, help="samples per file (one channel)")
    ap.add_argument("--d-model", type=int, default=32)
    a = ap.parse_args()
    import ray
    import torch

    import export_s4d as es
    import ssmkit.ray as sray

    with tempfile.TemporaryDirectory() as d:
        torch.manual_seed(0)
        model = os.path.join(d, "m.safetensors")
        es.export_s4d(es.S4Model(d_input=1, d_output=1, d_model=a.d_model, n_layers=2, d_state=16), model, sample_rate=16000.0)
        src = os.path.join(d, "in")
        os.makedirs(src)
        rng = np.random.default_rng(0)
        for i in range(a.files):
            np.save(os.path.join(src, f"f{i:03d}.npy"), rng.standard_normal(a.length).astype(np.float32))
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
        quiet = lambda *_: None  # noqa: E731
        sray.run(model, src, os.path.join(d, "warm"), workers=2, rate=16000.0, log=quiet)  # workers' imports warm
        times, busy = {}, {}
        for w in (1, 2):
            t0 = time.perf_counter()
            r = sray.run(model, src, os.path.join(d, f"out{w}"), workers=w, rate=16000.0, log=quiet)
            times[w] = time.perf_counter() - t0
            busy[w] = r["busy_seconds"]
            assert not r["failed"] and len(r["processed"]) == a.files
        ray.shutdown()
    per_file = times[1] / a.files
    print(f"ray scaling, {a.files} files of {a.length} samples (s4d d_model {a.d_model}, stream mode, {os.cpu_count()} cores): "
          f"1 worker {times[1]:.2f} s ({per_file * 1e3:.0f} ms/file), 2 workers {times[2]:.2f} s -> {times[1] / times[2]:.2f}x (goal >= 1.7x); "
          f"actors busy {busy[1]:.1f} s / {busy[2]:.1f} s, i.e. {busy[1] / times[1]:.2f} and {busy[2] / times[2]:.2f} files in flight on average; "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
