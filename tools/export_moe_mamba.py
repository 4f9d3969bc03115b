#!/usr/bin/env python3
"""Export a MoE-Mamba model trained in PyTorch to an ssmkit model file (arch "moe_mamba").

The layout (FORMAT.md `moe_mamba_layer` / `moe_ffn` names, ssmkit's MoEMambaModel):

    encoder.weight (d_model, d_input), encoder.bias (d_model)
    layers.{i}.norm.weight (d_model)                          RMSNorm before the Mamba block
    layers.{i}.mixer.*                                        mamba_ssm ``Mamba`` names:
        in_proj.weight (2 d_inner, d_model) [+ .bias], conv1d.weight (d_inner, 1, d_conv),
        conv1d.bias, x_proj.weight (dt_rank + 2 d_state, d_inner), dt_proj.weight
        (d_inner, dt_rank), dt_proj.bias, A_log (d_inner, d_state), D (d_inner),
        out_proj.weight (d_model, d_inner) [+ .bias]
    layers.{i}.moe_norm.weight (d_model)                      RMSNorm before the MoE
    layers.{i}.moe.router.weight (E, d_model) [+ .bias]
    layers.{i}.moe.experts.{e}.fc1.weight (d_ff, d_model) [+ .bias]
    layers.{i}.moe.experts.{e}.fc2.weight (d_model, d_ff) [+ .bias]
    norm_f.weight (d_model)
    decoder.weight (d_output, d_model), decoder.bias (d_output)

and ``__metadata__`` gets ``ssmkit.arch = "moe_mamba"`` and ``ssmkit.config`` (JSON: the
sizes, n_experts, d_ff, top_k, activation, router_bias, ffn_bias, norm_eps, ...).

The forward pass ssmkit runs (and SignalMoEMamba below):
    h = encoder(u)
    for each layer: h = h + mixer(RMSNorm(h)); h = h + moe(RMSNorm(h))
    y = decoder(RMSNorm_f(h))
MoE per token: logits r = router(x); the top_k largest logits (ties: lowest index) choose the
experts; gates: top_k = 1 (Switch) softmax(r)[e*], top_k >= 2 the softmax over the chosen
logits; y = sum_j gate_j * fc2_j(act(fc1_j(x))), act gelu (erf) | relu | silu; no capacity limit.

Usage as a library:

    from export_moe_mamba import export_moe_mamba
    export_moe_mamba(model, "model.safetensors", top_k=2, activation="silu")

Self-check (needs torch and safetensors): writes random models and check files (an input and
PyTorch's float64 output) that tests/layers/test_moe_mamba_model reads when
SSM_TORCH_CHECK_DIR points at the folder:

    python tools/export_moe_mamba.py --check OUTDIR

The Mamba block reference is examples/python/export_mamba.py's MambaRef (imported, not copied).
"""
import argparse
import json
import os
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "python"))
from export_mamba import MambaRef, RMSNorm  # noqa: E402

ACTIVATIONS = {"gelu": lambda x: F.gelu(x), "relu": F.relu, "silu": F.silu}


# ---- reference modules ------------------------------------------------------------------------

class Expert(nn.Module):
    def __init__(self, d_model, d_ff, bias=True):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff, bias=bias)
        self.fc2 = nn.Linear(d_ff, d_model, bias=bias)


class MoEFFN(nn.Module):
    """FORMAT.md `moe_ffn`: router, top-k experts, Switch or renormalized softmax gates."""

    def __init__(self, d_model, d_ff, n_experts, top_k=1, activation="gelu", router_bias=False, ffn_bias=True):
        super().__init__()
        if not 1 <= top_k <= n_experts:
            raise ValueError(f"top_k must be in [1, n_experts = {n_experts}], got {top_k}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be gelu, relu or silu, got {activation!r}")
        self.top_k, self.activation = top_k, activation
        self.router = nn.Linear(d_model, n_experts, bias=router_bias)
        self.experts = nn.ModuleList([Expert(d_model, d_ff, ffn_bias) for _ in range(n_experts)])

    def route(self, x):
        """(..., d_model) -> expert indices (..., top_k) in decreasing logit order, gates (..., top_k)."""
        r = self.router(x)
        # a stable descending sort keeps equal logits in index order: ties go to the lowest index
        idx = torch.sort(r, dim=-1, descending=True, stable=True).indices[..., :self.top_k]
        if self.top_k == 1:
            gates = torch.softmax(r, dim=-1).gather(-1, idx)
        else:
            gates = torch.softmax(r.gather(-1, idx), dim=-1)
        return idx, gates

    def forward(self, x, return_index=False):
        idx, gates = self.route(x)
        flat, fi, fg = x.reshape(-1, x.shape[-1]), idx.reshape(-1, self.top_k), gates.reshape(-1, self.top_k)
        y = torch.zeros_like(flat)
        act = ACTIVATIONS[self.activation]
        for e, ex in enumerate(self.experts):  # grouped: each expert over the tokens routed to it
            tok, slot = (fi == e).nonzero(as_tuple=True)
            if tok.numel():
                y.index_add_(0, tok, fg[tok, slot, None] * ex.fc2(act(ex.fc1(flat[tok]))))
        y = y.reshape(x.shape)
        return (y, idx) if return_index else y


class MoEMambaLayer(nn.Module):
    """FORMAT.md `moe_mamba_layer`: h = x + mixer(norm(x)); y = h + moe(moe_norm(h))."""

    def __init__(self, d_model, d_ff, n_experts, top_k=1, activation="gelu", router_bias=False, ffn_bias=True,
                 norm_eps=1e-5, **mixer_args):
        super().__init__()
        self.norm = RMSNorm(d_model, norm_eps)
        self.mixer = MambaRef(d_model, **mixer_args)
        self.moe_norm = RMSNorm(d_model, norm_eps)
        self.moe = MoEFFN(d_model, d_ff, n_experts, top_k, activation, router_bias, ffn_bias)

    def forward(self, x):
        h = x + self.mixer(self.norm(x))
        return h + self.moe(self.moe_norm(h))


class SignalMoEMamba(nn.Module):
    """u (B, L, d_input) -> y (B, L, d_output) through a stack of MoE-Mamba layers."""

    def __init__(self, d_input=1, d_output=1, d_model=64, n_layers=2, d_ff=128, n_experts=4, top_k=1,
                 activation="gelu", router_bias=False, ffn_bias=True, norm_eps=1e-5, **mixer_args):
        super().__init__()
        self.encoder = nn.Linear(d_input, d_model)
        self.layers = nn.ModuleList([
            MoEMambaLayer(d_model, d_ff, n_experts, top_k, activation, router_bias, ffn_bias, norm_eps, **mixer_args)
            for _ in range(n_layers)])
        self.norm_f = RMSNorm(d_model, norm_eps)
        self.decoder = nn.Linear(d_model, d_output)
        self.top_k, self.activation, self.norm_eps = top_k, activation, norm_eps

    def forward(self, u):
        h = self.encoder(u)
        for layer in self.layers:
            h = layer(h)
        return self.decoder(self.norm_f(h))


# ---- export -----------------------------------------------------------------------------------

def export_moe_mamba(model_or_state_dict, path, *, top_k=None, activation=None, norm_eps=None, sample_rate=0.0,
                     rename=None, dtype=torch.float32):
    """Writes `path` (safetensors) for ssmkit's MoEMambaModel; returns the config written.

    Sizes (d_model, d_inner, d_state, d_conv, dt_rank, n_experts, d_ff, d_input, d_output,
    n_layers) and bias flags come from the tensors. top_k, activation and norm_eps are not in
    a state dict: taken from a SignalMoEMamba model when given one, else required (norm_eps
    defaults to 1e-5). rename: {old_prefix: new_prefix} applied to every name first.
    Raises ValueError when a tensor is missing, has the wrong shape, or is left over.
    """
    if isinstance(model_or_state_dict, nn.Module):
        m = model_or_state_dict
        top_k = getattr(m, "top_k", None) if top_k is None else top_k
        activation = getattr(m, "activation", None) if activation is None else activation
        norm_eps = getattr(m, "norm_eps", None) if norm_eps is None else norm_eps
        sd = m.state_dict()
    else:
        sd = dict(model_or_state_dict)
    if top_k is None or activation is None:
        raise ValueError("top_k and activation must be given for a state dict")
    norm_eps = 1e-5 if norm_eps is None else float(norm_eps)
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be gelu, relu or silu, got {activation!r}")
    for old, new in (rename or {}).items():
        sd = {(new + k[len(old):]) if k.startswith(old) else k: v for k, v in sd.items()}
    layers = sorted({int(mt.group(1)) for k in sd for mt in [re.match(r"layers\.(\d+)\.", k)] if mt})
    n_layers = len(layers)
    if n_layers == 0 or layers != list(range(n_layers)):
        raise ValueError(f"layers must be numbered 0..n-1, found {layers}")

    def need(name):
        if name not in sd:
            raise ValueError(f"tensor '{name}' is missing from the state dict")
        return sd[name]

    m0, e0 = "layers.0.mixer.", "layers.0.moe."
    d_inner, d_state = need(m0 + "A_log").shape
    d_model = need(m0 + "in_proj.weight").shape[1]
    d_conv = need(m0 + "conv1d.weight").shape[2]
    dt_rank = need(m0 + "dt_proj.weight").shape[1]
    n_experts = need(e0 + "router.weight").shape[0]
    d_ff = need(e0 + "experts.0.fc1.weight").shape[0]
    d_input = need("encoder.weight").shape[1]
    d_output = need("decoder.weight").shape[0]
    if not 1 <= int(top_k) <= n_experts:
        raise ValueError(f"top_k must be in [1, n_experts = {n_experts}], got {top_k}")
    flags = {"in_proj_bias": m0 + "in_proj.bias" in sd, "conv_bias": m0 + "conv1d.bias" in sd,
             "out_proj_bias": m0 + "out_proj.bias" in sd, "router_bias": e0 + "router.bias" in sd,
             "ffn_bias": e0 + "experts.0.fc1.bias" in sd}

    out = {}

    def put(name, shape, present=True):
        if not present:
            if name in sd:
                raise ValueError(f"tensor '{name}' is present but the first layer/expert has none")
            return
        t = need(name).detach()
        if tuple(t.shape) != tuple(shape):
            raise ValueError(f"tensor '{name}' has shape {tuple(t.shape)}, expected {tuple(shape)}")
        out[name] = t.to(device="cpu", dtype=dtype).contiguous()

    put("encoder.weight", (d_model, d_input))
    put("encoder.bias", (d_model,))
    for i in range(n_layers):
        p = f"layers.{i}."
        put(p + "norm.weight", (d_model,))
        q = p + "mixer."
        put(q + "in_proj.weight", (2 * d_inner, d_model))
        put(q + "in_proj.bias", (2 * d_inner,), flags["in_proj_bias"])
        put(q + "conv1d.weight", (d_inner, 1, d_conv))
        put(q + "conv1d.bias", (d_inner,), flags["conv_bias"])
        put(q + "x_proj.weight", (dt_rank + 2 * d_state, d_inner))
        put(q + "dt_proj.weight", (d_inner, dt_rank))
        put(q + "dt_proj.bias", (d_inner,))
        put(q + "A_log", (d_inner, d_state))
        put(q + "D", (d_inner,))
        put(q + "out_proj.weight", (d_model, d_inner))
        put(q + "out_proj.bias", (d_model,), flags["out_proj_bias"])
        put(p + "moe_norm.weight", (d_model,))
        q = p + "moe."
        put(q + "router.weight", (n_experts, d_model))
        put(q + "router.bias", (n_experts,), flags["router_bias"])
        for e in range(n_experts):
            x = f"{q}experts.{e}."
            put(x + "fc1.weight", (d_ff, d_model))
            put(x + "fc1.bias", (d_ff,), flags["ffn_bias"])
            put(x + "fc2.weight", (d_model, d_ff))
            put(x + "fc2.bias", (d_model,), flags["ffn_bias"])
    put("norm_f.weight", (d_model,))
    put("decoder.weight", (d_output, d_model))
    put("decoder.bias", (d_output,))
    left = sorted(set(sd) - set(out))
    if left:
        raise ValueError(f"tensors not part of a MoE-Mamba model (check n_experts / n_layers): {left[:5]}")

    config = {"d_model": int(d_model), "n_layers": n_layers, "d_inner": int(d_inner), "d_state": int(d_state),
              "d_conv": int(d_conv), "dt_rank": int(dt_rank), "n_experts": int(n_experts), "d_ff": int(d_ff),
              "top_k": int(top_k), "activation": activation, "d_input": int(d_input), "d_output": int(d_output),
              "norm": "rmsnorm", "norm_eps": norm_eps, "sample_rate": float(sample_rate), **flags}
    from safetensors.torch import save_file
    save_file(out, path, metadata={"ssmkit.arch": "moe_mamba", "ssmkit.config": json.dumps(config)})
    return config


def write_moe_ffn_case(moe, x, path):
    """A conformance case of op `moe_ffn` (FORMAT.md) from a reference MoEFFN in float64: its
    tensors, the input x (B, L, d_model), expected.y and expected.expert_index (int64)."""
    from safetensors.torch import save_file
    moe = moe.double()
    with torch.no_grad():
        y, idx = moe(x.double(), return_index=True)
    t = {k: v.detach().double().contiguous() for k, v in moe.state_dict().items()}
    t.update({"x": x.double().contiguous(), "expected.y": y.contiguous(), "expected.expert_index": idx.contiguous()})
    save_file(t, path, metadata={"op": "moe_ffn", "rtol": "1e-4", "atol": "1e-4", "top_k": str(moe.top_k),
                                 "activation": moe.activation, "source": "tools/export_moe_mamba.py (PyTorch)"})


def _check(outdir):
    """Random models -> model files + check files (input and PyTorch's float64 output), and
    moe_ffn conformance cases under OUTDIR/cases (run the conformance runner on them with
    SSM_CONFORMANCE_DIR=OUTDIR/cases)."""
    from safetensors.torch import save_file
    os.makedirs(os.path.join(outdir, "cases"), exist_ok=True)
    torch.manual_seed(0)
    for i, (E, k, act, bias) in enumerate(((4, 1, "gelu", True), (8, 2, "silu", False), (3, 3, "relu", True))):
        moe = MoEFFN(16, 24, E, k, act, router_bias=bias, ffn_bias=bias)
        write_moe_ffn_case(moe, torch.randn(2, 11, 16),
                           os.path.join(outdir, "cases", f"moe_ffn-torch{i}-E{E}-top{k}.safetensors"))
    for top_k, act, bias in ((1, "gelu", True), (2, "silu", False), (3, "relu", True)):
        model = SignalMoEMamba(d_input=2, d_output=3, d_model=32, n_layers=2, d_ff=48, n_experts=4, top_k=top_k,
                               activation=act, router_bias=bias, ffn_bias=bias, d_state=8, bias=bias)
        name = f"moe_mamba_top{top_k}_{act}"
        export_moe_mamba(model, os.path.join(outdir, name + ".safetensors"))
        u = torch.randn(2, 40, 2, dtype=torch.float64)
        with torch.no_grad():
            y = model.double()(u)
        save_file({"u": u.contiguous(), "y": y.contiguous()},
                  os.path.join(outdir, name + ".check.safetensors"),
                  metadata={"model": name + ".safetensors", "arch": "moe_mamba", "rtol": "1e-6"})
        print(f"wrote {name}: y[0, :3, 0] = {y[0, :3, 0].tolist()}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", metavar="OUTDIR", help="export random models and PyTorch's outputs")
    args = ap.parse_args()
    if args.check:
        _check(args.check)
    else:
        ap.print_help()
        sys.exit(1)
