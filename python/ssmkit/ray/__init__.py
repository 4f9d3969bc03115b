"""Batch inference of an ssmkit model over files, on a Ray cluster (``pip install .[ray]``).

    python -m ssmkit.ray run MODEL INPUT_DIR OUTPUT_DIR [--address ADDR] [--workers N] [--gpus-per-worker G]

reads every ``.wav`` / ``.flac`` / ``.npy`` file of INPUT_DIR, runs the model on each across the
cluster (a Ray Data ``map_batches`` over an actor pool: each actor loads the model once) and
writes one ``.npy`` output per input into OUTPUT_DIR (``a.npy`` -> ``a.npy``, ``b.wav`` ->
``b.wav.npy``). What an input means is what ``ssmkit run`` makes of it (docs/cli.md): time is
the last axis, ``(L)`` is one channel, ``(C, L)`` C channels, ``(B, C, L)`` B·C channels; audio
files give ``(channels, frames)``; every channel is one stream of the model (d_input == 1) or
``C`` is the model's width; the model runs in stream mode, block by block (``--block``, default 512,
as ``ssmkit run``), in float32, so the outputs are those of ``ssmkit run IN -o OUT.npy`` bit for bit.

- Resumable: an input whose output exists is skipped (outputs appear only complete).
- Atomic: each output is written to a temporary file in OUTPUT_DIR (``.NAME.XXXX.ssmkit.tmp``),
  fsynced, then renamed. A writer killed between the two (an actor killed by Ray, a lost node)
  leaves its temporary behind; the run removes such leftovers of its own outputs when it starts
  and once every file is done, so one run at a time per OUTPUT_DIR.
- Bad inputs (unreadable, wrong shape) are reported by name at the end and do not stop the others;
  the exit status is 1 when any input failed.
- Fault tolerant: an actor that dies is restarted by Ray and its file retried; since writes are
  atomic renames of deterministic results, no output is lost, half-written or duplicated.
- ``--rate`` is the sample rate of ``.npy`` inputs (default: the model's own, else 48 kHz); audio
  files are run at their own rate.
- ``--address`` joins an existing cluster (``ray start --head`` on one machine, then
  ``ray start --address=HEAD:6379`` on the others; INPUT_DIR and OUTPUT_DIR must be visible to
  every node, e.g. a shared file system); without it a local cluster is started.
- ``--gpus-per-worker 1`` gives each actor a GPU and runs the model with ``device='cuda'``
  (the scan and conv modes; ``--mode``).
"""
import json
import os
import tempfile
import time

import numpy as np

SUFFIXES = (".npy", ".wav", ".flac")


def output_name(name):
    return name if name.endswith(".npy") else name + ".npy"


TMP_SUFFIX = ".ssmkit.tmp"


def temporary_prefix(output_path):
    return "." + os.path.basename(output_path) + "."


def remove_leftover_temporaries(output_dir, outputs):
    """Removes the temporaries (``.NAME.XXXX.ssmkit.tmp``) that killed writers of `outputs` left in
    OUTPUT_DIR; returns their names. Other files are never touched."""
    prefixes = tuple(temporary_prefix(o) for o in outputs)
    removed = []
    if not prefixes:
        return removed
    for name in os.listdir(output_dir):
        if name.endswith(TMP_SUFFIX) and name.startswith(prefixes):
            try:
                os.unlink(os.path.join(output_dir, name))
                removed.append(name)
            except FileNotFoundError:
                pass
    return sorted(removed)


def list_jobs(input_dir, output_dir):
    """(input path, output path) of every input file, sorted by name; and the skipped (done) ones."""
    todo, done = [], []
    for name in sorted(os.listdir(input_dir)):
        src = os.path.join(input_dir, name)
        if not name.lower().endswith(SUFFIXES) or not os.path.isfile(src):
            continue
        dst = os.path.join(output_dir, output_name(name))
        (done if os.path.exists(dst) else todo).append((src, dst))
    return todo, done


def model_rate(model):
    """The model's own sample rate (its config's sample_rate) or 48 kHz."""
    try:
        rate = float(json.loads(model.config_json or "{}").get("sample_rate", 0) or 0)
    except (ValueError, TypeError, AttributeError):
        rate = 0.0
    return rate if rate > 0 else 48000.0


def read_input(path, default_rate):
    """(signal (channels, L) float32, sample rate) as ``ssmkit run`` reads the file."""
    if path.lower().endswith(".npy"):
        x = np.load(path, allow_pickle=False)
        if x.dtype not in (np.float32, np.float64):
            raise ValueError(f"'{path}': dtype {x.dtype}, expected float32 or float64")
        if x.ndim not in (1, 2, 3) or x.size == 0:
            raise ValueError(f"'{path}': shape {x.shape}, expected (L), (C, L) or (B, C, L) with L >= 1")
        return np.ascontiguousarray(x.reshape(-1, x.shape[-1]), dtype=np.float32), default_rate, x.shape
    from .. import _ssmkit

    if not hasattr(_ssmkit, "read_audio"):
        raise ValueError(f"'{path}': this ssmkit was built without audio support (libsndfile)")
    samples, rate = _ssmkit.read_audio(path)
    return samples, rate, samples.shape


def run_model(model, x, rate, block=512, mode="stream", device="cpu"):
    """x (channels, L) float32 -> y (channels, L): the model over every channel, as ``ssmkit run``."""
    C, L = x.shape
    w = model.d_input
    if model.d_output != w:
        raise ValueError(f"the model maps {w} to {model.d_output} channels; files need d_input == d_output")
    if C % w:
        raise ValueError(f"the signal has {C} channel(s), which the model's width {w} does not divide")
    streams = C // w
    if mode == "stream":
        s = model.stream(sample_rate=rate, max_block=block, channels=streams)
        # planar (streams, n, w) blocks; for w == 1 that is the signal's own (C, L) layout.
        u = np.ascontiguousarray(x.reshape(streams, w, L).transpose(0, 2, 1))
        y = np.empty_like(u)
        for t in range(0, L, block):
            n = min(block, L - t)
            y[:, t:t + n] = s.process(np.ascontiguousarray(u[:, t:t + n]))
        return np.ascontiguousarray(y.transpose(0, 2, 1).reshape(C, L))
    u = np.ascontiguousarray(x.reshape(streams, w, L).transpose(0, 2, 1))
    y = model.forward(u, mode=mode, device=device, sample_rate=rate)
    return np.ascontiguousarray(y.transpose(0, 2, 1).reshape(C, L))


def write_atomic(path, array):
    """Writes `array` as .npy to `path` through a temporary file in the same directory, fsync, rename."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=TMP_SUFFIX, dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(d, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class SsmkitPredictor:
    """The actor class of ``map_batches``: loads the model once, then processes batches of rows
    ``{"input": path, "output": path}``, writing each output atomically and returning one row a
    file: ``{"input", "output", "ok", "error", "seconds"}``. A bad file is an error row, not an
    exception, so it does not stop the job."""

    def __init__(self, model_path, rate=0.0, block=512, mode="stream", device="cpu"):
        import ssmkit

        self.model = ssmkit.load_model(model_path, "float32")
        self.rate = float(rate)
        self.block = int(block)
        self.mode = mode
        self.device = device

    def process_file(self, src, dst):
        # .npy: --rate, else the model's own rate; audio files: their own rate (as ssmkit run).
        x, rate, shape = read_input(src, self.rate if self.rate > 0 else model_rate(self.model))
        y = run_model(self.model, x, rate, self.block, self.mode, self.device)
        write_atomic(dst, y.reshape(shape) if src.lower().endswith(".npy") else y)

    def __call__(self, batch):
        out = {"input": [], "output": [], "ok": [], "error": [], "seconds": []}
        for src, dst in zip(batch["input"], batch["output"]):
            t0 = time.perf_counter()
            err = ""
            try:
                self.process_file(str(src), str(dst))
            except Exception as e:  # reported by name; the other files go on
                err = f"{type(e).__name__}: {e}"
            out["input"].append(str(src))
            out["output"].append(str(dst))
            out["ok"].append(not err)
            out["error"].append(err)
            out["seconds"].append(time.perf_counter() - t0)
        return {k: np.array(v) for k, v in out.items()}


def run(model_path, input_dir, output_dir, *, address=None, workers=2, gpus_per_worker=0, rate=0.0, block=512,
        mode="stream", predictor=SsmkitPredictor, init_kwargs=None, log=print):
    """Runs `model_path` over INPUT_DIR into OUTPUT_DIR on Ray (see the module doc). Returns a dict:
    ``processed`` (inputs written now), ``skipped`` (already done), ``failed`` ({input: message}),
    ``busy_seconds`` (the actors' time in the files, summed)."""
    import ray

    import ssmkit

    model_path = os.path.abspath(model_path)
    input_dir, output_dir = os.path.abspath(input_dir), os.path.abspath(output_dir)
    if not os.path.isdir(input_dir):
        raise FileNotFoundError(f"ssmkit.ray: argument 'INPUT_DIR': not a directory: '{input_dir}'")
    ssmkit.load_model(model_path)  # fails here, naming the file, before any cluster work
    os.makedirs(output_dir, exist_ok=True)
    todo, done = list_jobs(input_dir, output_dir)
    log(f"ssmkit.ray: {len(todo) + len(done)} input(s), {len(done)} already done, {len(todo)} to run")
    outputs = [d for _, d in todo]
    stale = remove_leftover_temporaries(output_dir, outputs)
    if stale:
        log(f"ssmkit.ray: removed {len(stale)} temporary file(s) left by an earlier, interrupted run")
    result = {"processed": [], "skipped": [d[0] for d in done], "failed": {}, "busy_seconds": 0.0}
    if not todo:
        return result
    if not ray.is_initialized():
        kw = dict(init_kwargs or {})
        if address:
            kw["address"] = address
        ray.init(**kw)
    device = "cuda" if gpus_per_worker else "cpu"
    ds = ray.data.from_items([{"input": s, "output": d} for s, d in todo], override_num_blocks=len(todo))
    ds = ds.map_batches(predictor, batch_size=1, concurrency=workers, num_gpus=gpus_per_worker or None,
                        num_cpus=1, fn_constructor_kwargs=dict(model_path=model_path, rate=rate, block=block,
                                                                mode=mode, device=device),
                        # an actor that dies is restarted and its batch retried (outputs are atomic renames)
                        max_restarts=-1, max_task_retries=-1)
    for row in ds.iter_rows():
        result["busy_seconds"] += float(row["seconds"])
        if row["ok"]:
            result["processed"].append(row["input"])
        else:
            result["failed"][row["input"]] = row["error"]
    # an actor killed between its write and its rename left a temporary; its file was retried
    killed = remove_leftover_temporaries(output_dir, outputs)
    if killed:
        log(f"ssmkit.ray: removed {len(killed)} temporary file(s) of writers killed mid-file (their files were retried)")
    log(f"ssmkit.ray: {len(result['processed'])} written, {len(result['skipped'])} skipped, {len(result['failed'])} failed")
    return result
