"""ssmkit.ray: batch inference of a model file over a directory on a local Ray cluster of 2 workers.

- 40 files (.npy of one and two channels, 16-bit WAV) give outputs equal, bit for bit, to the
  single-process C++ results of `ssmkit run IN -o OUT.npy` (the CLI);
- bad files are reported by name and the others are written; python -m ssmkit.ray exits 1;
- a second run skips what is done, and redoes only removed outputs (resumable);
- an actor killed mid-run (ray.kill on itself at its third file) loses and duplicates nothing.
"""
import os
import subprocess
import sys
import wave

import numpy as np
import pytest

ray = pytest.importorskip("ray")
torch = pytest.importorskip("torch")
import ssmkit  # noqa: E402
import ssmkit.ray as sray  # noqa: E402

import export_s4d as es  # noqa: E402  (tools/, on sys.path by conftest.py)

RATE = 16000.0
N_FILES = 40


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("model")
    torch.manual_seed(3)
    model = es.S4Model(d_input=1, d_output=1, d_model=8, n_layers=2, d_state=8)
    path = d / "s4d.safetensors"
    es.export_s4d(model, str(path), sample_rate=RATE)
    return str(path)


def write_wav(path, x):
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(x.shape[0])
        w.setsampwidth(2)
        w.setframerate(int(RATE))
        w.writeframes(np.ascontiguousarray(pcm.T).tobytes())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    rng = np.random.default_rng(7)
    for i in range(N_FILES):
        L = int(rng.integers(700, 3000))
        if i % 4 == 3:
            write_wav(d / f"f{i:02d}.wav", 0.5 * rng.standard_normal((1 + i % 2, L)))
        elif i % 4 == 1:
            np.save(d / f"f{i:02d}.npy", rng.standard_normal((2, L)).astype(np.float32))
        else:
            np.save(d / f"f{i:02d}.npy", rng.standard_normal(L).astype(np.float64))
    return d


@pytest.fixture(scope="module")
def cli_outputs(tmp_path_factory, inputs, model_file, ssmkit_cli):
    """The single-process C++ results: ssmkit run, one file at a time."""
    d = tmp_path_factory.mktemp("cli")
    for name in sorted(os.listdir(inputs)):
        out = d / sray.output_name(name)
        ssmkit_cli("run", "--model", model_file, str(inputs / name), "-o", str(out), "--rate", RATE)
    return d


@pytest.fixture(scope="module")
def ssmkit_cli():
    exe = os.environ.get("SSMKIT_CLI")
    if not exe:
        pytest.fail("SSMKIT_CLI is not set: run through ctest (label python)")

    def run(*args):
        r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"ssmkit {args} exited {r.returncode}: {r.stderr}"
        return r

    return run


def assert_same_outputs(out_dir, ref_dir):
    names = sorted(os.listdir(ref_dir))
    assert sorted(n for n in os.listdir(out_dir) if not n.startswith(".")) == names
    assert not [n for n in os.listdir(out_dir) if n.endswith(".tmp")], "a temporary file was left behind"
    for n in names:
        got, want = np.load(os.path.join(out_dir, n)), np.load(os.path.join(ref_dir, n))
        assert got.dtype == want.dtype and got.shape == want.shape, n
        assert np.array_equal(got, want), f"{n}: max |diff| {np.max(np.abs(got - want))}"


def test_two_workers_match_the_cli_bit_for_bit(cluster, model_file, inputs, cli_outputs, tmp_path):
    out = tmp_path / "out"
    res = sray.run(model_file, inputs, out, workers=2, rate=RATE)
    assert res["failed"] == {}
    assert len(res["processed"]) == N_FILES and len(set(res["processed"])) == N_FILES
    assert_same_outputs(out, cli_outputs)

    again = sray.run(model_file, inputs, out, workers=2, rate=RATE)  # resumable: all done
    assert again["processed"] == [] and len(again["skipped"]) == N_FILES
    for n in ("f00.npy", "f07.wav.npy", "f13.npy"):
        os.unlink(out / n)
    # a writer killed between write and rename (an earlier run) left a temporary: removed at the start
    (out / ".f00.npy.k2j4x9.ssmkit.tmp").write_bytes(b"half a file")
    third = sray.run(model_file, inputs, out, workers=2, rate=RATE)
    assert sorted(os.path.basename(p) for p in third["processed"]) == ["f00.npy", "f07.wav", "f13.npy"]
    assert_same_outputs(out, cli_outputs)


def test_bad_files_are_reported_by_name(cluster, model_file, tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):
        np.save(d / f"good{i}.npy", rng.standard_normal(500).astype(np.float32))
    np.save(d / "ints.npy", np.arange(100))
    (d / "truncated.npy").write_bytes(open(d / "good0.npy", "rb").read()[:90])
    (d / "noise.wav").write_bytes(b"RIFF\x00\x00not a wav file")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "ssmkit.ray", "run", model_file, str(d), str(out), "--rate", str(RATE)],
                       capture_output=True, text=True, timeout=600, env={**os.environ, "RAY_ADDRESS": ray.get_runtime_context().gcs_address})
    assert r.returncode == 1, r.stderr
    for bad in ("ints.npy", "truncated.npy", "noise.wav"):
        assert f"FAILED {d / bad}" in r.stderr, r.stderr
    assert sorted(os.listdir(out)) == [f"good{i}.npy" for i in range(4)]


class KillOnce(sray.SsmkitPredictor):
    """Kills its own actor (ray.kill) at its third file, once per test (a marker file)."""

    marker = None

    def __init__(self, *a, marker, **kw):
        super().__init__(*a, **kw)
        self.marker, self.count = marker, 0

    def __call__(self, batch):
        self.count += 1
        if self.count == 3:
            try:
                os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                pass
            else:
                ray.kill(ray.get_runtime_context().current_actor, no_restart=False)
        return super().__call__(batch)


def test_a_killed_actor_loses_and_duplicates_nothing(cluster, model_file, inputs, cli_outputs, tmp_path):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    marker = str(tmp_path / "killed")
    out = tmp_path / "out"

    class Predictor(KillOnce):
        def __init__(self, *a, **kw):
            super().__init__(*a, marker=marker, **kw)

    res = sray.run(model_file, inputs, out, workers=2, rate=RATE, predictor=Predictor)
    assert os.path.exists(marker), "no actor was killed"
    assert res["failed"] == {}
    assert sorted(res["processed"]) == sorted(str(inputs / n) for n in os.listdir(inputs))
    assert_same_outputs(out, cli_outputs)


def test_only_leftovers_of_its_own_outputs_are_removed(tmp_path):
    names = [".a.npy.x1.ssmkit.tmp", ".a.npy.x2.ssmkit.tmp", ".b.wav.npy.x3.ssmkit.tmp",  # ours
             ".c.npy.x4.ssmkit.tmp",  # an output not in this run
             ".a.npy.x5.tmp", "a.npy", "notes.ssmkit.tmp"]  # not temporaries of ours
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    removed = sray.remove_leftover_temporaries(str(tmp_path), [str(tmp_path / "a.npy"), str(tmp_path / "b.wav.npy")])
    assert removed == sorted(names[:3])
    assert sorted(os.listdir(tmp_path)) == sorted(names[3:])
