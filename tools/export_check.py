"""Check files: what PyTorch computed, stored next to an exported model for ssmkit to compare.

A check file ``NAME.check.safetensors`` holds

    u  the input (float64), in the shape the model takes (sequence models: (batch, length, d_input))
    y  PyTorch's float64 output for u

and metadata ``model`` (the model file's name, relative to the check file's folder), ``arch``
and ``rtol``. ``ssmkit_check_export FILE.check.safetensors`` (tools/check_export.cpp) opens
the model with ``ssm::load_model``, runs it in every mode it has (and streamed, when causal)
and requires ``max |got - y| <= rtol * max |y|``. The reference should be computed in float64
from the weights as exported (export in float32, then ``model.double()``), so that the
comparison measures ssmkit's arithmetic and not the rounding of the weights.
"""
import argparse
import os
import sys

import torch


def save_check(outdir, name, u, y, *, arch, rtol=1e-9):
    """Writes OUTDIR/NAME.check.safetensors for the model file OUTDIR/NAME.safetensors."""
    from safetensors.torch import save_file
    path = os.path.join(outdir, name + ".check.safetensors")
    save_file({"u": u.detach().to(torch.float64).contiguous(), "y": y.detach().to(torch.float64).contiguous()},
              path, metadata={"model": name + ".safetensors", "arch": arch, "rtol": repr(float(rtol))})
    return path


def export_and_check(export, arch, outdir, name, model, u, **export_args):
    """export(model, OUTDIR/NAME.safetensors, **export_args), then PyTorch's float64 output for
    u into OUTDIR/NAME.check.safetensors. The model is converted to float64 in place (after the
    export, so the reference uses the exported, float32-rounded weights)."""
    os.makedirs(outdir, exist_ok=True)
    export(model, os.path.join(outdir, name + ".safetensors"), **export_args)
    with torch.no_grad():
        y = model.double()(u.double())
    return save_check(outdir, name, u, y, arch=arch)


def main(doc, self_check):
    """The command line of an exporter: `--check OUTDIR` runs self_check(OUTDIR)."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--check", metavar="OUTDIR", help="export random models and PyTorch's outputs")
    args = ap.parse_args()
    if not args.check:
        ap.print_help()
        sys.exit(1)
    self_check(args.check)
