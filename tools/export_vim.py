#!/usr/bin/env python3
"""Export a Vision Mamba (hustvl/Vim) classifier from PyTorch to an ssmkit model file.

Tensor names are Vim's own (``VisionMamba`` with ``bimamba_type="v2"``, middle class token):

    patch_embed.proj.weight (D, C, k, k), patch_embed.proj.bias (D)      strided Conv2d
    cls_token (1, 1, D)                                                  (absent: mean pooling)
    pos_embed (1, L, D)                    L = patches (+ 1 with the class token)
    layers.{i}.mixer.in_proj.weight (2 d_inner, D)                      [+ .bias]
    layers.{i}.mixer.conv1d.{weight (d_inner, 1, d_conv), bias}
    layers.{i}.mixer.x_proj.weight (dt_rank + 2 d_state, d_inner)
    layers.{i}.mixer.dt_proj.{weight (d_inner, dt_rank), bias}
    layers.{i}.mixer.A_log (d_inner, d_state), layers.{i}.mixer.D (d_inner)
    layers.{i}.mixer.conv1d_b.*, x_proj_b.weight, dt_proj_b.*, A_b_log, D_b   (backward branch)
    layers.{i}.mixer.out_proj.weight (D, d_inner)                       [+ .bias]
    layers.{i}.norm.weight (D)             RMSNorm
    norm_f.weight (D)
    head.weight (num_classes, D), head.bias (num_classes)

``__metadata__`` gets ``ssmkit.arch = "vim"`` and ``ssmkit.config`` (JSON: img_size, patch_size,
stride, in_chans, embed_dim, depth, d_inner, d_state, d_conv, dt_rank, if_divide_out, cls_token
"middle"|"none", num_classes, norm_eps, bias flags). docs/vision.md describes the model.

A trained hustvl/Vim ``VisionMamba`` exports directly (its state_dict has these names; buffers
and rope tensors it does not use are dropped): ``export_vim(model, path, config)``.

Self-check (needs torch and safetensors): ``python export_vim.py --check OUTDIR`` writes a random
model NAME.safetensors and NAME.vimcheck.safetensors (images ``x`` (B, C, H, W) and the
reference module's float64 ``logits``); tests/layers/test_vim_model reads them when
SSM_TORCH_CHECK_DIR=OUTDIR. The reference modules below run on any PyTorch (sequential scan).
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def selective_scan_ref(u, delta, A, B, C, D, z, delta_bias):
    """u, delta, z (b, d, l); A (d, n); B, C (b, n, l): softplus(delta + bias), sequential."""
    delta = F.softplus(delta + delta_bias[None, :, None])
    b, d, l = u.shape
    h = u.new_zeros(b, d, A.shape[1])
    ys = []
    for t in range(l):
        h = torch.exp(delta[:, :, t, None] * A) * h + delta[:, :, t, None] * B[:, None, :, t] * u[:, :, t, None]
        ys.append((h * C[:, None, :, t]).sum(-1))
    y = torch.stack(ys, dim=-1) + D[None, :, None] * u
    return y * F.silu(z)


class BiMambaRef(nn.Module):
    """Vim's Mamba mixer with bimamba_type v2: same parameters, plain sequential scans."""

    def __init__(self, d_model, d_state=16, d_conv=4, expand=2, dt_rank="auto", bias=False, conv_bias=True,
                 if_divide_out=True):
        super().__init__()
        self.d_inner = int(expand * d_model)
        self.d_state, self.d_conv = d_state, d_conv
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else dt_rank
        self.if_divide_out = if_divide_out
        di, N, R = self.d_inner, d_state, self.dt_rank
        self.in_proj = nn.Linear(d_model, 2 * di, bias=bias)
        self.out_proj = nn.Linear(di, d_model, bias=bias)
        for sfx in ("", "_b"):
            setattr(self, "conv1d" + sfx, nn.Conv1d(di, di, d_conv, groups=di, padding=d_conv - 1, bias=conv_bias))
            setattr(self, "x_proj" + sfx, nn.Linear(di, R + 2 * N, bias=False))
            dtp = nn.Linear(R, di, bias=True)
            dt = torch.exp(torch.rand(di) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3)).clamp(min=1e-4)
            with torch.no_grad():
                dtp.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
            setattr(self, "dt_proj" + sfx, dtp)
        A = torch.arange(1, N + 1, dtype=torch.float32).repeat(di, 1)
        self.A_log = nn.Parameter(torch.log(A))
        self.A_b_log = nn.Parameter(torch.log(A.clone()))
        self.D = nn.Parameter(torch.ones(di))
        self.D_b = nn.Parameter(torch.ones(di))

    def _inner(self, xz, sfx):
        L = xz.shape[-1]
        x, z = xz.chunk(2, dim=1)
        x = F.silu(getattr(self, "conv1d" + sfx)(x)[..., :L])
        x_dbl = getattr(self, "x_proj" + sfx)(x.transpose(1, 2))  # (b, l, R + 2N)
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dtp = getattr(self, "dt_proj" + sfx)
        delta = (dt @ dtp.weight.t()).transpose(1, 2)
        A = -torch.exp(self.A_log if sfx == "" else self.A_b_log)
        Dv = self.D if sfx == "" else self.D_b
        return selective_scan_ref(x, delta, A, B.transpose(1, 2), C.transpose(1, 2), Dv, z, dtp.bias)

    def forward(self, hidden):  # (b, l, d_model)
        xz = self.in_proj(hidden).transpose(1, 2)  # (b, 2 di, l)
        out = self._inner(xz, "")
        out_b = self._inner(xz.flip([-1]), "_b")
        y = out + out_b.flip([-1])
        if self.if_divide_out:
            y = y / 2
        return self.out_proj(y.transpose(1, 2))


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, mixer, d, eps):
        super().__init__()
        self.mixer, self.norm = mixer, RMSNorm(d, eps)

    def forward(self, hidden, residual):
        residual = hidden if residual is None else hidden + residual
        return self.mixer(self.norm(residual)), residual


class PatchEmbed(nn.Module):
    def __init__(self, in_chans, embed_dim, patch_size, stride):
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionMambaRef(nn.Module):
    """hustvl/Vim VisionMamba (bimamba v2, middle class token or mean pooling), inference."""

    def __init__(self, img_size=224, patch_size=16, stride=16, in_chans=3, embed_dim=192, depth=24, d_state=16,
                 d_conv=4, expand=2, num_classes=1000, cls_token=True, if_divide_out=True, norm_eps=1e-5):
        super().__init__()
        H, W = (img_size, img_size) if isinstance(img_size, int) else img_size
        self.grid = ((H - patch_size) // stride + 1, (W - patch_size) // stride + 1)
        P = self.grid[0] * self.grid[1]
        self.config = dict(img_size=[H, W], patch_size=patch_size, stride=stride, in_chans=in_chans,
                           embed_dim=embed_dim, depth=depth, d_state=d_state, d_conv=d_conv,
                           d_inner=int(expand * embed_dim), dt_rank=math.ceil(embed_dim / 16),
                           if_divide_out=if_divide_out, cls_token="middle" if cls_token else "none",
                           num_classes=num_classes, norm_eps=norm_eps, in_proj_bias=False, out_proj_bias=False,
                           conv_bias=True)
        self.patch_embed = PatchEmbed(in_chans, embed_dim, patch_size, stride)
        self.use_cls = cls_token
        if cls_token:
            self.cls_token = nn.Parameter(torch.randn(1, 1, embed_dim) * 0.5)
        self.pos_embed = nn.Parameter(torch.randn(1, P + (1 if cls_token else 0), embed_dim) * 0.1)
        self.layers = nn.ModuleList(
            [Block(BiMambaRef(embed_dim, d_state, d_conv, expand, if_divide_out=if_divide_out), embed_dim, norm_eps)
             for _ in range(depth)])
        self.norm_f = RMSNorm(embed_dim, norm_eps)
        self.head = nn.Linear(embed_dim, num_classes)

    def forward(self, x):  # (b, C, H, W)
        x = self.patch_embed(x)
        pos = x.shape[1] // 2
        if self.use_cls:
            x = torch.cat([x[:, :pos], self.cls_token.expand(x.shape[0], -1, -1), x[:, pos:]], dim=1)
        x = x + self.pos_embed
        hidden, residual = x, None
        for layer in self.layers:
            hidden, residual = layer(hidden, residual)
        h = self.norm_f(hidden + residual)
        feat = h[:, pos, :] if self.use_cls else h.mean(dim=1)
        return self.head(feat)


# ---- export -----------------------------------------------------------------------------------

def _expected_names(cfg):
    names = {"patch_embed.proj.weight", "patch_embed.proj.bias", "pos_embed", "norm_f.weight", "head.weight",
             "head.bias"}
    if cfg["cls_token"] == "middle":
        names.add("cls_token")
    mixer = ["in_proj.weight", "conv1d.weight", "conv1d.bias", "x_proj.weight", "dt_proj.weight", "dt_proj.bias",
             "A_log", "D", "out_proj.weight", "conv1d_b.weight", "conv1d_b.bias", "x_proj_b.weight",
             "dt_proj_b.weight", "dt_proj_b.bias", "A_b_log", "D_b"]
    if cfg.get("in_proj_bias"):
        mixer.append("in_proj.bias")
    if cfg.get("out_proj_bias"):
        mixer.append("out_proj.bias")
    for i in range(cfg["depth"]):
        names.update(f"layers.{i}.mixer.{m}" for m in mixer)
        names.add(f"layers.{i}.norm.weight")
    return names


def export_vim(model, path, config=None):
    """Writes model's Vim tensors (float32) and the ssmkit metadata to `path`."""
    from safetensors.torch import save_file
    cfg = dict(config if config is not None else model.config)
    sd = model.state_dict()
    names = _expected_names(cfg)
    missing = sorted(n for n in names if n not in sd)
    if missing:
        raise ValueError(f"export_vim: the model has no tensor(s) {missing}")
    tensors = {n: sd[n].detach().to(torch.float32).contiguous().cpu() for n in sorted(names)}
    save_file(tensors, path, metadata={"ssmkit.arch": "vim", "ssmkit.config": json.dumps(cfg)})


def _check(outdir):
    from safetensors.torch import save_file
    os.makedirs(outdir, exist_ok=True)
    torch.manual_seed(0)
    cases = [("vim_cls", dict(img_size=(12, 16), patch_size=4, stride=4, embed_dim=16, depth=2, d_state=8,
                              num_classes=5, cls_token=True, in_chans=3)),
             ("vim_mean_overlap", dict(img_size=16, patch_size=4, stride=2, embed_dim=24, depth=1, d_state=4,
                                       num_classes=3, cls_token=False, in_chans=2, if_divide_out=False))]
    for name, kw in cases:
        model = VisionMambaRef(**kw).double().eval()
        with torch.no_grad():
            for p in model.parameters():  # move away from the init so every tensor matters
                p.add_(0.05 * torch.randn_like(p))
        # exported in float32: the reference must see the same rounded weights
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.float().double())
        export_vim(model, os.path.join(outdir, name + ".safetensors"))
        H, W = model.config["img_size"]
        x = torch.randn(2, model.config["in_chans"], H, W, dtype=torch.float64)
        with torch.no_grad():
            logits = model(x)
        save_file({"x": x.contiguous(), "logits": logits.contiguous()},
                  os.path.join(outdir, name + ".vimcheck.safetensors"), metadata={"model": name + ".safetensors"})
        print(f"wrote {name}: logits {tuple(logits.shape)}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", metavar="OUTDIR", help="write a random model and its reference outputs")
    args = ap.parse_args()
    if args.check:
        _check(args.check)
    else:
        ap.print_help()
        sys.exit(1)
