"""python -m ssmkit.ray run MODEL INPUT_DIR OUTPUT_DIR [options]: see ssmkit.ray's module doc."""
import argparse
import sys

from . import run


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m ssmkit.ray", description="ssmkit batch inference on Ray")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run MODEL over every .wav/.flac/.npy file of INPUT_DIR into OUTPUT_DIR")
    r.add_argument("model", metavar="MODEL", help="model file (safetensors with ssmkit.arch)")
    r.add_argument("input_dir", metavar="INPUT_DIR")
    r.add_argument("output_dir", metavar="OUTPUT_DIR")
    r.add_argument("--address", default=None, help="Ray cluster address (default: start a local cluster)")
    r.add_argument("--workers", type=int, default=2, help="actors (each loads the model once; default 2)")
    r.add_argument("--gpus-per-worker", type=float, default=0, help="GPUs per actor (1: the GPU path)")
    r.add_argument("--rate", type=float, default=0.0,
                   help="sample rate of .npy inputs in Hz, and of audio files when given (default: the model's own, else 48000)")
    r.add_argument("--block", type=int, default=512, help="block size of the stream mode (default 512, as ssmkit run)")
    r.add_argument("--mode", default="stream", help="stream (default) | conv | scan")
    a = p.parse_args(argv)
    if a.workers < 1:
        p.error("argument --workers: must be >= 1")
    if a.block < 1:
        p.error("argument --block: must be >= 1")
    try:
        res = run(a.model, a.input_dir, a.output_dir, address=a.address, workers=a.workers,
                  gpus_per_worker=a.gpus_per_worker, rate=a.rate, block=a.block, mode=a.mode)
    except (OSError, ValueError) as e:
        print(f"ssmkit.ray: {e}", file=sys.stderr)
        return 2
    for src, msg in sorted(res["failed"].items()):
        print(f"ssmkit.ray: FAILED {src}: {msg}", file=sys.stderr)
    return 1 if res["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
