#!/usr/bin/env python3
"""Export a Mamba model trained in PyTorch to an ssmkit model file.

The layout is mamba_ssm's MixerModel (a residual stack of pre-norm Mamba blocks and a final
norm) with linear maps for signals in place of the token embedding and the LM head:

    encoder.weight (d_model, d_input), encoder.bias (d_model)
    layers.{i}.mixer.in_proj.weight (2 d_inner, d_model)   [+ .bias]
    layers.{i}.mixer.conv1d.weight (d_inner, 1, d_conv), layers.{i}.mixer.conv1d.bias
    layers.{i}.mixer.x_proj.weight (dt_rank + 2 d_state, d_inner)
    layers.{i}.mixer.dt_proj.weight (d_inner, dt_rank), layers.{i}.mixer.dt_proj.bias
    layers.{i}.mixer.A_log (d_inner, d_state), layers.{i}.mixer.D (d_inner)
    layers.{i}.mixer.out_proj.weight (d_model, d_inner)   [+ .bias]
    layers.{i}.norm.weight (d_model)                       [+ .bias for LayerNorm]
    norm_f.weight (d_model)                                [+ .bias]
    decoder.weight (d_output, d_model), decoder.bias (d_output)

(the names of mamba_ssm's ``Mamba`` module for the mixers), and ``__metadata__`` gets
``ssmkit.arch = "mamba"`` and ``ssmkit.config`` (JSON). A model whose stack is a mamba_ssm
``MixerModel`` under another attribute (say ``backbone``) exports with
``rename={"backbone.": ""}``; the encoder/decoder may be renamed the same way.

The forward pass ssmkit runs (MambaModel):
    h = encoder(u); res = None
    for each layer: res = h if res is None else h + res; h = mixer(norm(res))
    y = decoder(norm_f(h + res))
with RMSNorm (eps 1e-5) or LayerNorm, the residual kept in float32.

Usage as a library:

    from export_mamba import export_mamba
    export_mamba(model, "model.safetensors")

Self-check (needs torch and safetensors; writes a model and a check file that
tools/check_export.cpp's ssmkit_check_export compares with ssmkit, and that
tests/layers/test_model_files reads when SSM_TORCH_CHECK_DIR points at the folder):

    python tools/export_mamba.py --check OUTDIR
    ssmkit_check_export OUTDIR/*.check.safetensors

tests/python/test_export_mamba.py runs this (and more variants) in CTest (label python).

The reference modules below (MambaRef with mamba_ssm's parameter names and a sequential
selective scan, RMSNorm, SignalMamba) run on any PyTorch without mamba_ssm; with mamba_ssm
installed, ``SignalMamba(mixer_cls=mamba_ssm.Mamba)`` trains on the GPU and exports the same.
"""
import json
import math
import os
import re

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- reference modules ------------------------------------------------------------------------

class MambaRef(nn.Module):
    """mamba_ssm's Mamba block: same parameters, same math, a plain sequential scan."""

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2, dt_rank="auto", conv_bias=True, bias=False,
                 dt_min=1e-3, dt_max=1e-1, dt_init_floor=1e-4):
        super().__init__()
        self.d_inner = int(expand * d_model)
        self.d_state = d_state
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1,
                                bias=conv_bias)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        std = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def forward(self, x):  # (B, L, d_model)
        Bt, L, _ = x.shape
        x_in, z = self.in_proj(x).chunk(2, dim=-1)
        xc = F.silu(self.conv1d(x_in.transpose(1, 2))[..., :L]).transpose(1, 2)  # causal conv
        dt, Bm, Cm = self.x_proj(xc).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(dt @ self.dt_proj.weight.t() + self.dt_proj.bias)  # (B, L, d_inner)
        A = -torch.exp(self.A_log)
        h = x.new_zeros(Bt, self.d_inner, self.d_state)
        ys = []
        for t in range(L):
            d = delta[:, t, :, None]
            h = torch.exp(d * A) * h + d * Bm[:, t, None, :] * xc[:, t, :, None]
            ys.append((h * Cm[:, t, None, :]).sum(-1))
        y = (torch.stack(ys, dim=1) + xc * self.D) * F.silu(z)
        return self.out_proj(y)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, d_model, mixer_cls, norm_cls, **mixer_args):
        super().__init__()
        self.mixer = mixer_cls(d_model, **mixer_args)
        self.norm = norm_cls(d_model)


class SignalMamba(nn.Module):
    """u (B, L, d_input) -> y (B, L, d_output) through a MixerModel-style residual stack."""

    def __init__(self, d_input=1, d_output=1, d_model=256, n_layers=4, mixer_cls=MambaRef, rms_norm=True,
                 norm_eps=1e-5, **mixer_args):
        super().__init__()
        norm_cls = (lambda d: RMSNorm(d, norm_eps)) if rms_norm else (lambda d: nn.LayerNorm(d, eps=norm_eps))
        self.encoder = nn.Linear(d_input, d_model)
        self.layers = nn.ModuleList([Block(d_model, mixer_cls, norm_cls, **mixer_args) for _ in range(n_layers)])
        self.norm_f = norm_cls(d_model)
        self.decoder = nn.Linear(d_model, d_output)

    def forward(self, u):
        h, res = self.encoder(u), None
        for layer in self.layers:
            res = h if res is None else h + res
            h = layer.mixer(layer.norm(res))
        return self.decoder(self.norm_f(h + res))


# ---- export -----------------------------------------------------------------------------------

def export_mamba(model_or_state_dict, path, *, norm=None, norm_eps=1e-5, sample_rate=0.0, rename=None,
                 dtype=torch.float32):
    """Writes `path` (safetensors) for ssmkit's MambaModel.

    Sizes (d_model, d_inner, d_state, d_conv, dt_rank, d_input, d_output, n_layers) and bias
    flags are read from the tensors. norm: "rmsnorm" or "layernorm" (default: "layernorm"
    when layers.0.norm.bias exists, else "rmsnorm"). rename: {old_prefix: new_prefix} applied
    to every name first. sample_rate is stored for reference only (Mamba's step is learned).
    Raises ValueError when a tensor is missing or inconsistent.
    """
    sd = model_or_state_dict.state_dict() if isinstance(model_or_state_dict, nn.Module) else dict(model_or_state_dict)
    for old, new in (rename or {}).items():
        sd = {(new + k[len(old):]) if k.startswith(old) else k: v for k, v in sd.items()}
    layers = sorted({int(m.group(1)) for k in sd for m in [re.match(r"layers\.(\d+)\.", k)] if m})
    n_layers = len(layers)
    if n_layers == 0 or layers != list(range(n_layers)):
        raise ValueError(f"layers must be numbered 0..n-1, found {layers}")
    if norm is None:
        norm = "layernorm" if "layers.0.norm.bias" in sd else "rmsnorm"
    if norm not in ("rmsnorm", "layernorm"):
        raise ValueError(f"norm must be 'rmsnorm' or 'layernorm', got {norm!r}")

    def need(name):
        if name not in sd:
            raise ValueError(f"tensor '{name}' is missing from the state dict")
        return sd[name]

    m0 = "layers.0.mixer."
    d_inner, d_state = need(m0 + "A_log").shape
    d_model = need(m0 + "in_proj.weight").shape[1]
    d_conv = need(m0 + "conv1d.weight").shape[2]
    dt_rank = need(m0 + "dt_proj.weight").shape[1]
    d_input = need("encoder.weight").shape[1]
    d_output = need("decoder.weight").shape[0]
    flags = {"in_proj_bias": m0 + "in_proj.bias" in sd, "conv_bias": m0 + "conv1d.bias" in sd,
             "out_proj_bias": m0 + "out_proj.bias" in sd}

    out = {}

    def put(name, shape, optional=False):
        if optional and name not in sd:
            return
        t = need(name).detach()
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"tensor '{name}' has shape {tuple(t.shape)}, expected {tuple(shape)}")
        out[name] = t.to(device="cpu", dtype=dtype).contiguous()

    put("encoder.weight", (d_model, d_input))
    put("encoder.bias", (d_model,))
    for i in range(n_layers):
        p = f"layers.{i}.mixer."
        put(p + "in_proj.weight", (2 * d_inner, d_model))
        put(p + "conv1d.weight", (d_inner, 1, d_conv))
        put(p + "x_proj.weight", (dt_rank + 2 * d_state, d_inner))
        put(p + "dt_proj.weight", (d_inner, dt_rank))
        put(p + "dt_proj.bias", (d_inner,))
        put(p + "A_log", (d_inner, d_state))
        put(p + "D", (d_inner,))
        put(p + "out_proj.weight", (d_model, d_inner))
        for key, name, shape in (("in_proj_bias", "in_proj.bias", (2 * d_inner,)),
                                 ("conv_bias", "conv1d.bias", (d_inner,)),
                                 ("out_proj_bias", "out_proj.bias", (d_model,))):
            if flags[key] != (p + name in sd):
                raise ValueError(f"layer {i}: '{p + name}' present in some layers only")
            put(p + name, shape, optional=True)
        put(f"layers.{i}.norm.weight", (d_model,))
        if norm == "layernorm":
            put(f"layers.{i}.norm.bias", (d_model,))
    put("norm_f.weight", (d_model,))
    if norm == "layernorm":
        put("norm_f.bias", (d_model,))
    put("decoder.weight", (d_output, d_model))
    put("decoder.bias", (d_output,))

    config = {"d_model": int(d_model), "n_layers": n_layers, "d_inner": int(d_inner), "d_state": int(d_state),
              "d_conv": int(d_conv), "dt_rank": int(dt_rank), "d_input": int(d_input), "d_output": int(d_output),
              "norm": norm, "norm_eps": float(norm_eps), "residual_in_fp32": True,
              "sample_rate": float(sample_rate), **flags}
    from safetensors.torch import save_file
    save_file(out, path, metadata={"ssmkit.arch": "mamba", "ssmkit.config": json.dumps(config)})
    return config


def write_check(outdir, name, model, u, **export_args):
    """Exports `model` to OUTDIR/NAME.safetensors and PyTorch's float64 output for `u`
    (batch, length, d_input) to OUTDIR/NAME.check.safetensors (tools/export_check.py)."""
    from export_check import export_and_check
    return export_and_check(export_mamba, "mamba", outdir, name, model, u, **export_args)


def _check(outdir):
    """Random models -> model files + check files (input and PyTorch's float64 output)."""
    torch.manual_seed(0)
    for rms, bias in ((True, False), (False, True)):
        model = SignalMamba(d_input=2, d_output=3, d_model=32, n_layers=2, rms_norm=rms, d_state=8, bias=bias)
        name = f"mamba_rms{int(rms)}_bias{int(bias)}"
        print("wrote", write_check(outdir, name, model, torch.randn(2, 40, 2, dtype=torch.float64)))


if __name__ == "__main__":
    from export_check import main
    main(__doc__, _check)
