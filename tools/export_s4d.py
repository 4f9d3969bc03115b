#!/usr/bin/env python3
"""Export an S4D model trained in PyTorch to an ssmkit model file.

The layout is the S4 repository's example ``S4Model`` (an encoder Linear, a stack of S4D
layers with LayerNorm, a decoder Linear), run sequence to sequence: ssmkit applies the decoder
at every time step (there is no mean pooling over time). The state_dict names are kept:

    encoder.weight (H, d_input), encoder.bias (H)
    s4_layers.{i}.kernel.log_dt (H), .kernel.log_A_real (H, N/2), .kernel.A_imag (H, N/2),
    s4_layers.{i}.kernel.C (H, N/2, 2)  (complex C as real pairs, torch.view_as_real)
    s4_layers.{i}.D (H)
    s4_layers.{i}.output_linear.0.weight (2H, H, 1), .output_linear.0.bias (2H)  (Conv1d + GLU)
    norms.{i}.weight (H), norms.{i}.bias (H)
    decoder.weight (d_output, H), decoder.bias (d_output)

and the file's ``__metadata__`` gets ``ssmkit.arch = "s4d"`` and ``ssmkit.config`` (JSON).

Time convention: ``exp(log_dt)`` is the step of ONE SAMPLE at ``sample_rate`` Hz, the rate of
the training data. ssmkit keeps the model continuous: run at another rate fs it uses
``dt = exp(log_dt) * sample_rate / fs`` (same impulse response in seconds). So pass the rate
your training audio had.

Usage as a library:

    from export_s4d import export_s4d
    export_s4d(model, "model.safetensors", sample_rate=48000, prenorm=model.prenorm)

Self-check (needs torch and safetensors; writes a model and a check file that
tools/check_export.cpp's ssmkit_check_export compares with ssmkit, and that
tests/layers/test_model_files reads when SSM_TORCH_CHECK_DIR points at the folder):

    python tools/export_s4d.py --check OUTDIR
    ssmkit_check_export OUTDIR/*.check.safetensors

tests/python/test_export_s4d.py runs this (and more variants) in CTest (label python).

The small reference modules below (S4DKernel, S4D, S4Model) follow the S4 example's math and
parameter names, for the self-check and for users without the S4 repository; training code
that uses the S4 repository's own modules exports the same way.
"""
import json
import math
import os
import re

import torch
import torch.nn as nn


# ---- reference modules (same names and math as the S4 example) --------------------------------

class S4DKernel(nn.Module):
    """K[h, l] = 2 Re(sum_n C (exp(dt A) - 1) / A * exp(dt A l)), zoh, B = 1."""

    def __init__(self, d_model, N=64, dt_min=1e-3, dt_max=1e-1):
        super().__init__()
        H = d_model
        log_dt = torch.rand(H) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
        self.log_dt = nn.Parameter(log_dt)
        self.C = nn.Parameter(torch.view_as_real(torch.randn(H, N // 2, dtype=torch.cfloat)))
        self.log_A_real = nn.Parameter(torch.log(0.5 * torch.ones(H, N // 2)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(N // 2, dtype=torch.float).repeat(H, 1))

    def forward(self, L):
        dt = torch.exp(self.log_dt)
        C = torch.view_as_complex(self.C)
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dtA = A * dt.unsqueeze(-1)
        W = C * (torch.exp(dtA) - 1.0) / A
        powers = torch.exp(dtA.unsqueeze(-1) * torch.arange(L, device=A.device))
        return 2 * torch.einsum("hn,hnl->hl", W, powers).real


class S4D(nn.Module):
    def __init__(self, d_model, d_state=64, **kernel_args):
        super().__init__()
        self.h = d_model
        self.D = nn.Parameter(torch.randn(d_model))
        self.kernel = S4DKernel(d_model, N=d_state, **kernel_args)
        self.activation = nn.GELU()
        self.output_linear = nn.Sequential(nn.Conv1d(d_model, 2 * d_model, kernel_size=1), nn.GLU(dim=-2))

    def forward(self, u):  # u: (B, H, L)
        L = u.size(-1)
        k = self.kernel(L).to(u.dtype)
        y = torch.fft.irfft(torch.fft.rfft(u, n=2 * L) * torch.fft.rfft(k, n=2 * L), n=2 * L)[..., :L]
        y = y + u * self.D.unsqueeze(-1)
        return self.output_linear(self.activation(y))


class S4Model(nn.Module):
    """Sequence to sequence: x (B, L, d_input) -> (B, L, d_output)."""

    def __init__(self, d_input=1, d_output=1, d_model=64, n_layers=4, d_state=64, prenorm=False):
        super().__init__()
        self.prenorm = prenorm
        self.encoder = nn.Linear(d_input, d_model)
        self.s4_layers = nn.ModuleList([S4D(d_model, d_state) for _ in range(n_layers)])
        self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(n_layers)])
        self.decoder = nn.Linear(d_model, d_output)

    def forward(self, x):
        x = self.encoder(x).transpose(-1, -2)  # (B, H, L)
        for layer, norm in zip(self.s4_layers, self.norms):
            z = x
            if self.prenorm:
                z = norm(z.transpose(-1, -2)).transpose(-1, -2)
            z = layer(z)
            x = z + x
            if not self.prenorm:
                x = norm(x.transpose(-1, -2)).transpose(-1, -2)
        return self.decoder(x.transpose(-1, -2))


# ---- export -----------------------------------------------------------------------------------

_ACTIVATIONS = ("gelu", "silu", "relu", "identity")


def export_s4d(model_or_state_dict, path, *, sample_rate, prenorm=None, activation="gelu",
               norm_eps=1e-5, dtype=torch.float32, strip_prefix=""):
    """Writes `path` (safetensors) for ssmkit's S4DModel.

    model_or_state_dict: an nn.Module (its state_dict() is used; `prenorm` defaults to its
        `prenorm` attribute) or a state dict.
    sample_rate: Hz at which exp(log_dt) is the step of one sample (the training data's rate).
    strip_prefix: removed from every name first (e.g. "module." from DataParallel).
    Raises ValueError when a tensor is missing or has an unexpected shape.
    """
    if isinstance(model_or_state_dict, nn.Module):
        if prenorm is None:
            prenorm = bool(getattr(model_or_state_dict, "prenorm", False))
        sd = model_or_state_dict.state_dict()
    else:
        sd = dict(model_or_state_dict)
    if prenorm is None:
        raise ValueError("prenorm must be given when exporting a state dict")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {_ACTIVATIONS}, got {activation!r}")
    if not (sample_rate > 0):
        raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate}")
    if strip_prefix:
        sd = {k[len(strip_prefix):] if k.startswith(strip_prefix) else k: v for k, v in sd.items()}

    def get(name, shape):
        if name not in sd:
            raise ValueError(f"tensor '{name}' is missing from the state dict")
        t = sd[name].detach()
        if t.is_complex():
            t = torch.view_as_real(t)
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"tensor '{name}' has shape {tuple(t.shape)}, expected {tuple(shape)}")
        return t.to(device="cpu", dtype=dtype).contiguous()

    H, d_input = sd["encoder.weight"].shape
    d_output = sd["decoder.weight"].shape[0]
    layers = sorted({int(m.group(1)) for k in sd for m in [re.match(r"s4_layers\.(\d+)\.", k)] if m})
    n_layers = len(layers)
    if layers != list(range(n_layers)) or n_layers == 0:
        raise ValueError(f"s4_layers must be numbered 0..n-1, found {layers}")
    C0 = sd["s4_layers.0.kernel.C"]
    N2 = C0.shape[1]

    out = {
        "encoder.weight": get("encoder.weight", (H, d_input)),
        "encoder.bias": get("encoder.bias", (H,)),
        "decoder.weight": get("decoder.weight", (d_output, H)),
        "decoder.bias": get("decoder.bias", (d_output,)),
    }
    for i in range(n_layers):
        p = f"s4_layers.{i}."
        out[p + "kernel.log_dt"] = get(p + "kernel.log_dt", (H,))
        out[p + "kernel.log_A_real"] = get(p + "kernel.log_A_real", (H, N2))
        out[p + "kernel.A_imag"] = get(p + "kernel.A_imag", (H, N2))
        out[p + "kernel.C"] = get(p + "kernel.C", (H, N2, 2))
        out[p + "D"] = get(p + "D", (H,))
        w = p + "output_linear.0.weight" if p + "output_linear.0.weight" in sd else p + "output_linear.weight"
        b = p + "output_linear.0.bias" if p + "output_linear.0.bias" in sd else p + "output_linear.bias"
        out[p + "output_linear.0.weight"] = get(w, (2 * H, H, 1)) if sd[w].dim() == 3 else get(w, (2 * H, H)).unsqueeze(-1)
        out[p + "output_linear.0.bias"] = get(b, (2 * H,))
        out[f"norms.{i}.weight"] = get(f"norms.{i}.weight", (H,))
        out[f"norms.{i}.bias"] = get(f"norms.{i}.bias", (H,))

    config = {
        "d_model": int(H), "n_layers": n_layers, "d_state": int(2 * N2),
        "d_input": int(d_input), "d_output": int(d_output), "prenorm": bool(prenorm),
        "activation": activation, "norm": "layernorm", "norm_eps": float(norm_eps),
        "sample_rate": float(sample_rate),
    }
    from safetensors.torch import save_file
    save_file(out, path, metadata={"ssmkit.arch": "s4d", "ssmkit.config": json.dumps(config)})
    return config


def write_check(outdir, name, model, u, **export_args):
    """Exports `model` to OUTDIR/NAME.safetensors and PyTorch's float64 output for `u`
    (batch, length, d_input) to OUTDIR/NAME.check.safetensors (tools/export_check.py)."""
    from export_check import export_and_check
    return export_and_check(export_s4d, "s4d", outdir, name, model, u, **export_args)


def _check(outdir):
    """Random models -> model files + check files (input and PyTorch's float64 output)."""
    torch.manual_seed(0)
    for prenorm in (False, True):
        model = S4Model(d_input=2, d_output=3, d_model=16, n_layers=3, d_state=16, prenorm=prenorm)
        name = f"s4d_prenorm{int(prenorm)}"
        print("wrote", write_check(outdir, name, model, torch.randn(2, 500, 2, dtype=torch.float64),
                                   sample_rate=16000.0, prenorm=prenorm))


if __name__ == "__main__":
    from export_check import main
    main(__doc__, _check)
