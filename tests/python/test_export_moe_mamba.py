"""tools/export_moe_mamba.py: the PyTorch reference follows FORMAT.md (routing, ties, gates), the
exporter writes what ssmkit reads, and ssmkit's output matches PyTorch's.

Needs torch and safetensors (skipped otherwise). The ssmkit side runs the C++ programs of a
build tree (SSM_BUILD_DIR, default ./build): test_layers_moe_mamba_model on the exported models
(SSM_TORCH_CHECK_DIR) and the conformance runner on the moe_ffn cases written from PyTorch; those
tests are skipped when the programs are not built.

    SSM_BUILD_DIR=build python -m pytest tests/python/test_export_moe_mamba.py
"""
import json
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")
from safetensors import safe_open  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import export_moe_mamba as ex  # noqa: E402

BUILD = os.environ.get("SSM_BUILD_DIR", os.path.join(ROOT, "build"))


def program(name):
    p = os.path.join(BUILD, "tests", name)
    if not os.path.exists(p):
        pytest.skip(f"{p} not built")
    return p


def test_routing_ties_and_gates():
    moe = ex.MoEFFN(8, 16, 5, top_k=2, activation="relu")
    with torch.no_grad():
        moe.router.weight.zero_()  # every logit ties: experts 0 and 1, gates 1/2
    idx, g = moe.route(torch.randn(3, 4, 8))
    assert idx.shape == (3, 4, 2)
    assert (idx[..., 0] == 0).all() and (idx[..., 1] == 1).all()
    assert torch.allclose(g, torch.full_like(g, 0.5))
    switch = ex.MoEFFN(8, 16, 5, top_k=1)
    with torch.no_grad():
        switch.router.weight.zero_()
    _, g1 = switch.route(torch.randn(2, 8))
    assert torch.allclose(g1, torch.full_like(g1, 0.2))  # Switch: full softmax of the chosen


def test_grouped_reference_equals_dense_sum():
    torch.manual_seed(1)
    moe = ex.MoEFFN(12, 20, 4, top_k=4, activation="silu", router_bias=True).double()
    x = torch.randn(2, 7, 12, dtype=torch.float64)
    with torch.no_grad():
        y = moe(x)
        p = torch.softmax(moe.router(x), dim=-1)  # top_k = E: every expert, full softmax
        dense = sum(p[..., e:e + 1] * ex_.fc2(torch.nn.functional.silu(ex_.fc1(x)))
                    for e, ex_ in enumerate(moe.experts))
    assert torch.allclose(y, dense, atol=1e-12)


def test_export_writes_the_names_and_config(tmp_path):
    torch.manual_seed(2)
    m = ex.SignalMoEMamba(d_input=2, d_output=1, d_model=16, n_layers=2, d_ff=24, n_experts=3, top_k=2,
                          activation="silu", router_bias=True, d_state=4)
    path = str(tmp_path / "m.safetensors")
    cfg = ex.export_moe_mamba(m, path)
    with safe_open(path, "pt") as f:
        meta = f.metadata()
        names = set(f.keys())
        assert torch.equal(f.get_tensor("layers.1.moe.experts.2.fc2.weight"),
                           m.state_dict()["layers.1.moe.experts.2.fc2.weight"])
    assert meta["ssmkit.arch"] == "moe_mamba"
    c = json.loads(meta["ssmkit.config"])
    assert c == cfg
    assert (c["n_experts"], c["d_ff"], c["top_k"], c["activation"], c["router_bias"]) == (3, 24, 2, "silu", True)
    assert names == set(m.state_dict())
    assert "layers.0.moe.router.bias" in names and "layers.0.norm.weight" in names


def test_export_rejects_bad_input(tmp_path):
    m = ex.SignalMoEMamba(d_model=16, n_layers=1, d_ff=16, n_experts=2, d_state=4)
    sd = m.state_dict()
    with pytest.raises(ValueError, match="top_k"):
        ex.export_moe_mamba(sd, str(tmp_path / "a.safetensors"))  # a state dict has no top_k
    with pytest.raises(ValueError, match="top_k"):
        ex.export_moe_mamba(sd, str(tmp_path / "a.safetensors"), top_k=3, activation="gelu")
    with pytest.raises(ValueError, match="activation"):
        ex.export_moe_mamba(sd, str(tmp_path / "a.safetensors"), top_k=1, activation="tanh")
    bad = dict(sd)
    del bad["layers.0.moe.experts.1.fc1.weight"]
    with pytest.raises(ValueError, match="experts.1.fc1.weight"):
        ex.export_moe_mamba(bad, str(tmp_path / "a.safetensors"), top_k=1, activation="gelu")
    extra = dict(sd)
    extra["layers.0.moe.experts.2.fc1.weight"] = torch.zeros(16, 16)
    with pytest.raises(ValueError, match="not part"):
        ex.export_moe_mamba(extra, str(tmp_path / "a.safetensors"), top_k=1, activation="gelu")


def test_ssmkit_matches_pytorch(tmp_path):
    exe = program("test_layers_moe_mamba_model")
    ex._check(str(tmp_path))
    env = dict(os.environ, SSM_TORCH_CHECK_DIR=str(tmp_path))
    r = subprocess.run([exe, "--run_test=pytorch_exports_match_pytorch_outputs", "--log_level=message"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("matches PyTorch") == 3, r.stdout


def test_conformance_runner_passes_cases_written_by_pytorch(tmp_path):
    exe = program("conformance_runner")
    ex._check(str(tmp_path))
    env = dict(os.environ, SSM_CONFORMANCE_DIR=str(tmp_path / "cases"), SSM_DEVICE="cpu")
    r = subprocess.run([exe], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "conformance: 12 passed, 0 failed, 0 skipped" in r.stdout, r.stdout  # 3 cases x 2 paths x f32/f64
