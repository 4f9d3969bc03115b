#!/usr/bin/env python3
"""Export a Block-State Transformer (BST-SH) model from PyTorch to an ssmkit model file.

The layout is ssmkit's BSTModel (include/ssm/layers/bst_model.hpp), with the parameter names of
FORMAT.md `bst_layer` under ``layers.{i}.``:

    encoder.weight (d_model, d_input), encoder.bias (d_model)
    layers.{i}.norm1.{weight,bias} (d)                     LayerNorm before attention
    layers.{i}.ssm.kernel.log_dt (d), .log_A_real (d, N/2), .A_imag (d, N/2),
    layers.{i}.ssm.kernel.C (d, N/2, 2)  (complex C as real pairs), layers.{i}.ssm.D (d)
    layers.{i}.attn.{q,k,v,out}_proj.{weight (d, d), bias (d)}   (biases optional)
    layers.{i}.norm2.{weight,bias} (d)                     LayerNorm before the FFN
    layers.{i}.ffn.fc1.{weight (d_ff, d), bias}, layers.{i}.ffn.fc2.{weight (d, d_ff), bias}
    decoder.weight (d_output, d_model), decoder.bias (d_output)

and ``__metadata__`` gets ``ssmkit.arch = "bst"`` and ``ssmkit.config`` (JSON: d_model,
n_layers, d_state = N, d_ff, block_size, context, n_heads, d_input, d_output, norm_eps).

One layer (x: (B, L, d)):
    xn = norm1(x)
    c  = S4D(xn): per channel K[l] = 2 Re(sum_n C_n (exp(dt A_n) - 1)/A_n exp(dt A_n l)),
         A = -exp(log_A_real) + i A_imag, dt = exp(log_dt); c = causal_conv(xn, K) + D xn
    for each block [jW, jW + W): keys/values from [c rows jW-S .. jW-1 that are >= 0; xn rows of
    the block]; queries from the block's xn rows; n_heads heads scaled 1/sqrt(d/n_heads); a query
    sees every context row and the block rows at or before itself
    h  = x + out_proj(attention);  y = h + fc2(gelu(fc1(norm2(h))))   (exact erf GELU)

Usage as a library:

    from export_bst import BSTModel, export_bst
    model = BSTModel(d_input=1, d_output=1, d_model=64, n_layers=2, d_state=64, d_ff=256,
                     block_size=64, context=64, n_heads=4)
    # ... train ...
    export_bst(model, "model.safetensors")

Self-check (needs torch; writes models and check files that tests/layers/test_bst_model reads
when SSM_TORCH_CHECK_DIR points at the folder; tests/python/test_export_bst.py runs both):

    python tools/export_bst.py --check OUTDIR

The file writer is plain Python (struct + json), so exporting needs torch but not the
safetensors package.
"""
import argparse
import json
import math
import os
import re
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


# ---- reference modules (FORMAT.md bst_layer names and math) ------------------------------------

class S4DKernel(nn.Module):
    """K[h, l] = 2 Re(sum_n C (exp(dt A) - 1) / A * exp(dt A l)), zoh, B = 1 (the S4 example's)."""

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
        C = torch.view_as_complex(self.C.contiguous())
        A = -torch.exp(self.log_A_real) + 1j * self.A_imag
        dtA = A * dt.unsqueeze(-1)
        W = C * (torch.exp(dtA) - 1.0) / A
        powers = torch.exp(dtA.unsqueeze(-1) * torch.arange(L, device=A.device))
        return 2 * torch.einsum("hn,hnl->hl", W, powers).real


class S4DContext(nn.Module):
    """c = causal_conv(u, K) + D u over (B, L, d), channels last."""

    def __init__(self, d_model, d_state=64):
        super().__init__()
        self.kernel = S4DKernel(d_model, N=d_state)
        self.D = nn.Parameter(torch.randn(d_model))

    def forward(self, u):
        L = u.size(1)
        k = self.kernel(L).to(u.dtype)                      # (d, L)
        ut = u.transpose(1, 2)                              # (B, d, L)
        n = 2 * L
        y = torch.fft.irfft(torch.fft.rfft(ut, n=n) * torch.fft.rfft(k, n=n), n=n)[..., :L]
        return (y + ut * self.D.unsqueeze(-1)).transpose(1, 2)


class BlockAttention(nn.Module):
    def __init__(self, d_model, n_heads):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"n_heads = {n_heads} must divide d_model = {d_model}")
        self.n_heads = n_heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, xn, c, block_size, context):
        B, L, d = xn.shape
        H, dh = self.n_heads, d // self.n_heads
        out = torch.empty_like(xn)
        for t0 in range(0, L, block_size):
            t1 = min(L, t0 + block_size)
            c0 = max(0, t0 - context)
            kv_in = torch.cat([c[:, c0:t0], xn[:, t0:t1]], dim=1)          # (B, nc + wb, d)
            q = self.q_proj(xn[:, t0:t1]).view(B, t1 - t0, H, dh).transpose(1, 2)
            k = self.k_proj(kv_in).view(B, -1, H, dh).transpose(1, 2)
            v = self.v_proj(kv_in).view(B, -1, H, dh).transpose(1, 2)
            nc, wb = t0 - c0, t1 - t0
            allowed = torch.ones(wb, nc + wb, dtype=torch.bool, device=xn.device)
            allowed[:, nc:] = torch.tril(allowed[:, nc:])                   # block rows at or before
            s = (q @ k.transpose(-1, -2)) / math.sqrt(dh)
            s = s.masked_fill(~allowed, float("-inf"))
            out[:, t0:t1] = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, wb, d)
        return self.out_proj(out)


class FFN(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class BSTLayer(nn.Module):
    """One BST-SH layer (FORMAT.md bst_layer). forward returns (y, context)."""

    def __init__(self, d_model, d_state=64, d_ff=None, block_size=64, context=64, n_heads=4, norm_eps=1e-5):
        super().__init__()
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        if context < 0:
            raise ValueError(f"context must be >= 0, got {context}")
        self.block_size, self.context = block_size, context
        self.norm1 = nn.LayerNorm(d_model, eps=norm_eps)
        self.ssm = S4DContext(d_model, d_state)
        self.attn = BlockAttention(d_model, n_heads)
        self.norm2 = nn.LayerNorm(d_model, eps=norm_eps)
        self.ffn = FFN(d_model, d_ff or 4 * d_model)

    def forward(self, x):
        xn = self.norm1(x)
        c = self.ssm(xn)
        h = x + self.attn(xn, c, self.block_size, self.context)
        return h + self.ffn(self.norm2(h)), c


class BSTModel(nn.Module):
    """Sequence to sequence: u (B, L, d_input) -> (B, L, d_output)."""

    def __init__(self, d_input=1, d_output=1, d_model=64, n_layers=2, d_state=64, d_ff=None, block_size=64,
                 context=64, n_heads=4, norm_eps=1e-5):
        super().__init__()
        self.config = dict(d_model=d_model, n_layers=n_layers, d_state=d_state, d_ff=d_ff or 4 * d_model,
                           block_size=block_size, context=context, n_heads=n_heads, d_input=d_input,
                           d_output=d_output, norm_eps=norm_eps)
        self.encoder = nn.Linear(d_input, d_model)
        self.layers = nn.ModuleList([BSTLayer(d_model, d_state, d_ff, block_size, context, n_heads, norm_eps)
                                     for _ in range(n_layers)])
        self.decoder = nn.Linear(d_model, d_output)

    def forward(self, u):
        h = self.encoder(u)
        for layer in self.layers:
            h, _ = layer(h)
        return self.decoder(h)


# ---- file writing -------------------------------------------------------------------------------

_DTYPES = {torch.float32: ("F32", "<f"), torch.float64: ("F64", "<d")}


def write_safetensors(path, tensors, metadata):
    """tensors: name -> float32/float64 torch tensor. Writes atomically (path.tmp, then rename)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        if t.dtype not in _DTYPES:
            raise ValueError(f"tensor '{name}' has dtype {t.dtype}; float32 or float64 expected")
        code, fmt = _DTYPES[t.dtype]
        data = struct.pack(f"<{t.numel()}{fmt[1]}", *t.flatten().tolist())
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# ---- export -------------------------------------------------------------------------------------

_LAYER_TENSORS = [  # (name, shape as a function of d, N2, F, optional)
    ("norm1.weight", lambda d, n, f: (d,), False), ("norm1.bias", lambda d, n, f: (d,), False),
    ("ssm.kernel.log_dt", lambda d, n, f: (d,), False),
    ("ssm.kernel.log_A_real", lambda d, n, f: (d, n), False),
    ("ssm.kernel.A_imag", lambda d, n, f: (d, n), False),
    ("ssm.kernel.C", lambda d, n, f: (d, n, 2), False),
    ("ssm.D", lambda d, n, f: (d,), False),
    ("attn.q_proj.weight", lambda d, n, f: (d, d), False), ("attn.q_proj.bias", lambda d, n, f: (d,), True),
    ("attn.k_proj.weight", lambda d, n, f: (d, d), False), ("attn.k_proj.bias", lambda d, n, f: (d,), True),
    ("attn.v_proj.weight", lambda d, n, f: (d, d), False), ("attn.v_proj.bias", lambda d, n, f: (d,), True),
    ("attn.out_proj.weight", lambda d, n, f: (d, d), False), ("attn.out_proj.bias", lambda d, n, f: (d,), True),
    ("norm2.weight", lambda d, n, f: (d,), False), ("norm2.bias", lambda d, n, f: (d,), False),
    ("ffn.fc1.weight", lambda d, n, f: (f, d), False), ("ffn.fc1.bias", lambda d, n, f: (f,), True),
    ("ffn.fc2.weight", lambda d, n, f: (d, f), False), ("ffn.fc2.bias", lambda d, n, f: (d,), True),
]


def export_bst(model_or_state_dict, path, *, config=None, dtype=torch.float32, strip_prefix=""):
    """Writes `path` (safetensors) for ssmkit's BSTModel; returns the config written.

    model_or_state_dict: a BSTModel-like nn.Module (its state_dict(); `config` defaults to its
        `config` attribute) or a state dict with `config` given: a dict with block_size, context,
        n_heads (and optionally norm_eps, sample_rate); the sizes are read from the tensors.
    strip_prefix: removed from every name first (e.g. "module." from DataParallel).
    Raises ValueError when a tensor is missing, has an unexpected shape, or is left over.
    """
    if isinstance(model_or_state_dict, nn.Module):
        config = dict(config or getattr(model_or_state_dict, "config", {}))
        sd = model_or_state_dict.state_dict()
    else:
        sd = dict(model_or_state_dict)
        config = dict(config or {})
    for key in ("block_size", "context", "n_heads"):
        if key not in config:
            raise ValueError(f"config must give '{key}'")
    if strip_prefix:
        sd = {k[len(strip_prefix):] if k.startswith(strip_prefix) else k: v for k, v in sd.items()}
    used = set()

    def get(name, shape):
        if name not in sd:
            raise ValueError(f"tensor '{name}' is missing from the state dict")
        t = sd[name].detach()
        if t.is_complex():
            t = torch.view_as_real(t)
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"tensor '{name}' has shape {tuple(t.shape)}, expected {tuple(shape)}")
        used.add(name)
        return t.to(device="cpu", dtype=dtype).contiguous()

    if "encoder.weight" not in sd or "decoder.weight" not in sd:
        raise ValueError("the state dict must hold encoder.weight and decoder.weight")
    d, d_input = sd["encoder.weight"].shape
    d_output = sd["decoder.weight"].shape[0]
    layers = sorted({int(m.group(1)) for k in sd for m in [re.match(r"layers\.(\d+)\.", k)] if m})
    n_layers = len(layers)
    if n_layers == 0 or layers != list(range(n_layers)):
        raise ValueError(f"layers must be numbered 0..n-1, found {layers}")
    N2 = sd["layers.0.ssm.kernel.log_A_real"].shape[1]
    d_ff = sd["layers.0.ffn.fc1.weight"].shape[0]
    if d % int(config["n_heads"]):
        raise ValueError(f"n_heads = {config['n_heads']} must divide d_model = {d}")
    if int(config["block_size"]) < 1 or int(config["context"]) < 0:
        raise ValueError(f"block_size must be >= 1 and context >= 0, got {config['block_size']}, {config['context']}")

    out = {
        "encoder.weight": get("encoder.weight", (d, d_input)),
        "encoder.bias": get("encoder.bias", (d,)),
        "decoder.weight": get("decoder.weight", (d_output, d)),
        "decoder.bias": get("decoder.bias", (d_output,)),
    }
    for i in range(n_layers):
        for name, shape, optional in _LAYER_TENSORS:
            full = f"layers.{i}.{name}"
            if optional and full not in sd:
                continue
            out[full] = get(full, shape(d, N2, d_ff))
    left = sorted(set(sd) - used)
    if left:
        raise ValueError(f"tensors not part of a BST model: {left[:5]}")
    cfg = {"d_model": int(d), "n_layers": n_layers, "d_state": int(2 * N2), "d_ff": int(d_ff),
           "block_size": int(config["block_size"]), "context": int(config["context"]),
           "n_heads": int(config["n_heads"]), "d_input": int(d_input), "d_output": int(d_output),
           "norm_eps": float(config.get("norm_eps", 1e-5))}
    if config.get("sample_rate"):
        cfg["sample_rate"] = float(config["sample_rate"])
    write_safetensors(path, out, {"ssmkit.arch": "bst", "ssmkit.config": json.dumps(cfg)})
    return cfg


def _check(outdir):
    """Random models -> model files + check files (input and PyTorch's float64 output)."""
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    shapes = [  # (block_size, context, n_heads, L): S < W, S > W, S = 0, L < W
        (8, 4, 2, 70), (4, 10, 4, 45), (6, 0, 1, 30), (32, 8, 2, 20)]
    for W, S, heads, L in shapes:
        model = BSTModel(d_input=2, d_output=3, d_model=16, n_layers=2, d_state=8, d_ff=24, block_size=W,
                         context=S, n_heads=heads).double()
        with torch.no_grad():  # a trained-looking context SSM: not the all-equal initial A
            for layer in model.layers:
                layer.ssm.kernel.log_A_real.add_(0.3 * torch.randn_like(layer.ssm.kernel.log_A_real))
                layer.norm1.weight.add_(0.1 * torch.randn_like(layer.norm1.weight))
        name = f"bst_W{W}_S{S}_h{heads}"
        export_bst(model, os.path.join(outdir, name + ".safetensors"), dtype=torch.float64)
        u = torch.randn(2, L, 2, dtype=torch.float64)
        with torch.no_grad():
            y = model(u)
        write_safetensors(os.path.join(outdir, name + ".bst-check.safetensors"), {"u": u, "y": y},
                          {"model": name + ".safetensors", "arch": "bst", "rtol": "1e-9"})
        print(f"wrote {name}: y[0, :2, 0] = {y[0, :2, 0].tolist()}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", metavar="OUTDIR", help="export random models and PyTorch's outputs")
    args = ap.parse_args()
    if args.check:
        _check(args.check)
    else:
        ap.print_help()
        sys.exit(1)
