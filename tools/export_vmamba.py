#!/usr/bin/env python3
"""Export a VMamba stage trained in PyTorch to an ssmkit model file (arch "vmamba").

Layout (VMamba's VSSBlock / SS2D parameter names, ssmkit's encoder/decoder maps for signals):

    encoder.weight (d_model, d_input), encoder.bias (d_model)
    layers.{i}.ln_1.weight, layers.{i}.ln_1.bias                       (d_model)   LayerNorm
    layers.{i}.self_attention.in_proj.weight (2 d_inner, d_model)      [+ .bias]
    layers.{i}.self_attention.conv2d.weight (d_inner, 1, k, k)         [+ .bias]
    layers.{i}.self_attention.x_proj_weight (4, dt_rank + 2 d_state, d_inner)
    layers.{i}.self_attention.dt_projs_weight (4, d_inner, dt_rank)
    layers.{i}.self_attention.dt_projs_bias (4, d_inner)
    layers.{i}.self_attention.A_logs (4 d_inner, d_state), .Ds (4 d_inner)
    layers.{i}.self_attention.out_norm.weight, .out_norm.bias (d_inner)
    layers.{i}.self_attention.out_proj.weight (d_model, d_inner)       [+ .bias]
    layers.{i}.ln_2.*, layers.{i}.mlp.fc1.* (d_ff, d_model), layers.{i}.mlp.fc2.* (d_model, d_ff)
                                                                       (only when d_ff > 0)
    norm_f.weight, norm_f.bias (d_model), decoder.weight (d_output, d_model), decoder.bias

and ``__metadata__`` ``ssmkit.arch = "vmamba"``, ``ssmkit.config`` (JSON: d_input, d_output,
d_model, n_layers, d_inner, d_state, d_conv, dt_rank, d_ff, norm_eps, in_proj_bias, conv_bias,
out_proj_bias). The forward pass ssmkit runs (include/ssm/layers/vmamba_model.hpp):

    x = encoder(u)                                    u: (B, H, W, d_input), channels-last
    for each layer: x = x + self_attention(ln_1(x)); x = x + fc2(gelu(fc1(ln_2(x))))
    y = decoder(norm_f(x))

``SS2DRef`` below is VMamba's SS2D ``forward_corev0`` written out with explicit cross-scan copies
(flips and transposes), a sequential selective scan and the cross-merge: the textbook recipe,
runnable on any PyTorch without VMamba's CUDA extension. A trained VMamba stage whose modules
carry these names (VMamba v0/v1: ``ln_1``, ``self_attention``, ``ln_2``, ``mlp``) exports with
``export_vmamba(state_dict, path, config)``; other prefixes with ``rename={"old.": "new."}``.

The file is written by a small safetensors writer in this script (no safetensors package
needed).

    python export_vmamba.py --check OUTDIR

writes ``vmamba.safetensors`` (a random stage) and ``vmamba.check.safetensors`` (an input ``u``
and the reference output ``y`` of this script's PyTorch modules, float64) that
tests/layers/test_vmamba_model reads when SSM_TORCH_CHECK_DIR points at OUTDIR.
"""
import argparse
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- reference modules ----------------------------------------------------------------------

def selective_scan_ref(u, delta, A, B, C, D, delta_bias):
    """mamba_ssm's selective_scan_ref (real A, variable grouped B/C, softplus, no z).
    u, delta (b, d, l); A (d, n); B, C (b, g, n, l); D, delta_bias (d)."""
    b, d, l = u.shape
    g = B.shape[1]
    delta = F.softplus(delta + delta_bias[None, :, None])
    Bx = B.repeat_interleave(d // g, dim=1)  # (b, d, n, l)
    Cx = C.repeat_interleave(d // g, dim=1)
    h = u.new_zeros(b, d, A.shape[1])
    ys = []
    for t in range(l):
        h = torch.exp(delta[:, :, t, None] * A) * h + delta[:, :, t, None] * Bx[..., t] * u[:, :, t, None]
        ys.append((h * Cx[..., t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    return y + D[None, :, None] * u


class SS2DRef(nn.Module):
    """VMamba's SS2D (forward_corev0) with its parameter names; x (B, H, W, d_model)."""

    def __init__(self, d_model, d_state=16, d_conv=3, expand=2, dt_rank="auto", conv_bias=True, bias=False):
        super().__init__()
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = int(expand * d_model)
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else dt_rank
        di, R, N = self.d_inner, self.dt_rank, d_state
        self.in_proj = nn.Linear(d_model, 2 * di, bias=bias)
        self.conv2d = nn.Conv2d(di, di, d_conv, padding=(d_conv - 1) // 2, groups=di, bias=conv_bias)
        self.x_proj_weight = nn.Parameter(torch.randn(4, R + 2 * N, di) / math.sqrt(di))
        self.dt_projs_weight = nn.Parameter(torch.randn(4, di, R) * R ** -0.5)
        dt = torch.exp(torch.rand(4, di) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
        self.dt_projs_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
        self.A_logs = nn.Parameter(torch.log(torch.arange(1, N + 1, dtype=torch.float32)).repeat(4 * di, 1))
        self.Ds = nn.Parameter(torch.ones(4 * di))
        self.out_norm = nn.LayerNorm(di)
        self.out_proj = nn.Linear(di, d_model, bias=bias)

    def forward(self, x):
        Bt, H, W, _ = x.shape
        L, K, di, N, R = H * W, 4, self.d_inner, self.d_state, self.dt_rank
        x, z = self.in_proj(x).chunk(2, dim=-1)
        x = F.silu(self.conv2d(x.permute(0, 3, 1, 2)))                     # (B, di, H, W)
        x_hwwh = torch.stack([x.reshape(Bt, di, L), x.transpose(2, 3).reshape(Bt, di, L)], dim=1)
        xs = torch.cat([x_hwwh, torch.flip(x_hwwh, dims=[-1])], dim=1)     # (B, 4, di, L)
        x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, self.x_proj_weight)
        dts, Bs, Cs = torch.split(x_dbl, [R, N, N], dim=2)
        dts = torch.einsum("bkrl,kdr->bkdl", dts, self.dt_projs_weight)
        out_y = selective_scan_ref(xs.reshape(Bt, K * di, L), dts.reshape(Bt, K * di, L), -torch.exp(self.A_logs),
                                   Bs, Cs, self.Ds, self.dt_projs_bias.reshape(-1)).view(Bt, K, di, L)
        inv_y = torch.flip(out_y[:, 2:4], dims=[-1])
        wh_y = out_y[:, 1].view(Bt, di, W, H).transpose(2, 3).reshape(Bt, di, L)
        invwh_y = inv_y[:, 1].view(Bt, di, W, H).transpose(2, 3).reshape(Bt, di, L)
        y = out_y[:, 0] + inv_y[:, 0] + wh_y + invwh_y
        y = self.out_norm(y.transpose(1, 2).reshape(Bt, H, W, di))
        return self.out_proj(y * F.silu(z))


class VSSBlockRef(nn.Module):
    def __init__(self, d_model, d_ff, norm_eps=1e-6, **ss2d):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, eps=norm_eps)
        self.self_attention = SS2DRef(d_model, **ss2d)
        self.d_ff = d_ff
        if d_ff > 0:
            self.ln_2 = nn.LayerNorm(d_model, eps=norm_eps)
            self.mlp = nn.Sequential()
            self.mlp.fc1 = nn.Linear(d_model, d_ff)
            self.mlp.act = nn.GELU()
            self.mlp.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x):
        x = x + self.self_attention(self.ln_1(x))
        if self.d_ff > 0:
            x = x + self.mlp(self.ln_2(x))
        return x


class VMambaStageRef(nn.Module):
    """A VMamba stage over (B, H, W, d_input) signals; the module ssmkit's VMambaModel runs."""

    def __init__(self, d_input=1, d_output=1, d_model=32, n_layers=2, d_ff=64, norm_eps=1e-6, **ss2d):
        super().__init__()
        self.encoder = nn.Linear(d_input, d_model)
        self.layers = nn.ModuleList([VSSBlockRef(d_model, d_ff, norm_eps, **ss2d) for _ in range(n_layers)])
        self.norm_f = nn.LayerNorm(d_model, eps=norm_eps)
        self.decoder = nn.Linear(d_model, d_output)
        ss = self.layers[0].self_attention
        self.config = dict(d_input=d_input, d_output=d_output, d_model=d_model, n_layers=n_layers,
                           d_inner=ss.d_inner, d_state=ss.d_state, d_conv=ss.d_conv, dt_rank=ss.dt_rank,
                           d_ff=d_ff, norm_eps=norm_eps, in_proj_bias=ss.in_proj.bias is not None,
                           conv_bias=ss.conv2d.bias is not None, out_proj_bias=ss.out_proj.bias is not None)

    def forward(self, u):
        x = self.encoder(u)
        for layer in self.layers:
            x = layer(x)
        return self.decoder(self.norm_f(x))


# ---- safetensors writer / exporter ------------------------------------------------------------

_DTYPES = {torch.float32: "F32", torch.float64: "F64"}


def write_safetensors(path, tensors, metadata):
    """tensors: name -> torch tensor (float32 / float64); metadata: str -> str."""
    header, blobs, offset = {"__metadata__": dict(metadata)}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            t = t.float()
        data = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    """name -> float64 torch tensor, and the metadata dict."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        body = f.read()
    meta = header.pop("__metadata__", {})
    kinds = {"F32": torch.float32, "F64": torch.float64}
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[a:b]), dtype=kinds[info["dtype"]]) if b > a else torch.zeros(0)
        out[name] = t.reshape(info["shape"]).double()
    return out, meta


def export_vmamba(model_or_state_dict, path, config=None, rename=None, dtype=torch.float32):
    """Writes `path` for ssmkit's VMambaModel. `config`: the ssmkit.config dict (taken from a
    VMambaStageRef when omitted). Every tensor the config implies must be present; extra ones
    are an error (ssmkit rejects leftovers too)."""
    if isinstance(model_or_state_dict, nn.Module):
        sd = model_or_state_dict.state_dict()
        config = config or getattr(model_or_state_dict, "config", None)
    else:
        sd = dict(model_or_state_dict)
    if config is None:
        raise ValueError("export_vmamba: config is required for a state dict")
    for old, new in (rename or {}).items():
        sd = {(new + k[len(old):] if k.startswith(old) else k): v for k, v in sd.items()}
    out = {}
    need = ["encoder.weight", "encoder.bias", "norm_f.weight", "norm_f.bias", "decoder.weight", "decoder.bias"]
    opt = []
    for i in range(config["n_layers"]):
        p, s = f"layers.{i}.", f"layers.{i}.self_attention."
        need += [p + "ln_1.weight", p + "ln_1.bias"]
        need += [s + n for n in ("in_proj.weight", "conv2d.weight", "x_proj_weight", "dt_projs_weight",
                                 "dt_projs_bias", "A_logs", "Ds", "out_norm.weight", "out_norm.bias",
                                 "out_proj.weight")]
        opt += [s + "in_proj.bias", s + "conv2d.bias", s + "out_proj.bias"]
        if config.get("d_ff", 0) > 0:
            need += [p + n for n in ("ln_2.weight", "ln_2.bias", "mlp.fc1.weight", "mlp.fc1.bias",
                                     "mlp.fc2.weight", "mlp.fc2.bias")]
    for name in need:
        if name not in sd:
            raise KeyError(f"export_vmamba: tensor '{name}' missing from the model")
        out[name] = sd[name].to(dtype)
    for name in opt:
        if name in sd:
            out[name] = sd[name].to(dtype)
    extra = sorted(set(sd) - set(out))
    if extra:
        raise KeyError(f"export_vmamba: tensors not part of a VMamba stage: {extra[:5]}")
    write_safetensors(path, out, {"ssmkit.arch": "vmamba", "ssmkit.config": json.dumps(config)})


def _check(outdir):
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    model = VMambaStageRef(d_input=2, d_output=3, d_model=16, n_layers=2, d_ff=24, d_state=4, d_conv=3,
                           bias=True).double()
    export_vmamba(model, os.path.join(outdir, "vmamba.safetensors"), dtype=torch.float64)
    u = torch.randn(2, 5, 7, 2, dtype=torch.float64)
    with torch.no_grad():
        y = model(u)
    write_safetensors(os.path.join(outdir, "vmamba.check.safetensors"), {"u": u, "y": y},
                      {"model": "vmamba.safetensors", "arch": "vmamba", "rtol": "1e-9"})
    print(f"wrote {outdir}/vmamba.safetensors and vmamba.check.safetensors")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", metavar="OUTDIR", help="write a random stage and its reference output")
    a = ap.parse_args()
    if a.check:
        _check(a.check)
    else:
        ap.print_help()
        sys.exit(2)
