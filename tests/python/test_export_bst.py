"""tools/export_bst.py against ssmkit: the PyTorch reference module's float64 outputs are
reproduced by the exported model file (offline forward and streaming), checked by the C++ test
program test_layers_bst_model (SSM_TORCH_CHECK_DIR), plus the exporter's own error handling.

Needs torch (skipped without it) and a build of the test program: $SSM_BUILD_DIR (default
<repo>/build) /tests/test_layers_bst_model.

    python -m pytest tests/python/test_export_bst.py
"""
import os
import pathlib
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))
import export_bst  # noqa: E402


def _program():
    build = pathlib.Path(os.environ.get("SSM_BUILD_DIR", REPO / "build"))
    exe = build / "tests" / "test_layers_bst_model"
    if not exe.exists():
        pytest.skip(f"{exe} not built (cmake --build build --target test_layers_bst_model)")
    return exe


def test_reference_module_matches_ssmkit(tmp_path):
    exe = _program()
    export_bst._check(str(tmp_path))
    checks = sorted(tmp_path.glob("*.bst-check.safetensors"))
    assert len(checks) == 4
    env = dict(os.environ, SSM_TORCH_CHECK_DIR=str(tmp_path))
    r = subprocess.run([str(exe), "--run_test=pytorch_exports_match_pytorch_outputs", "--log_level=message"],
                       env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No errors detected" in r.stdout + r.stderr


def test_reference_layer_masks_like_format_md():
    # query t of block j sees c rows jW-S..jW-1 (>= 0) and block rows <= t: changing x after t
    # leaves y[:t+1] unchanged, and block-local rows of an earlier block are not keys directly.
    torch.manual_seed(1)
    layer = export_bst.BSTLayer(8, d_state=4, d_ff=16, block_size=4, context=3, n_heads=2).double()
    x = torch.randn(1, 13, 8, dtype=torch.float64)
    with torch.no_grad():
        y1, c1 = layer(x)
        x2 = x.clone()
        x2[:, 9:] += 1.0
        y2, c2 = layer(x2)
    assert torch.allclose(y1[:, :9], y2[:, :9], rtol=0, atol=1e-12)
    assert not torch.allclose(y1[:, 9], y2[:, 9])
    assert torch.allclose(c1[:, :9], c2[:, :9], rtol=0, atol=1e-12)


def test_export_errors(tmp_path):
    model = export_bst.BSTModel(d_model=8, n_layers=1, d_state=4, d_ff=8, block_size=4, context=2, n_heads=2)
    sd = model.state_dict()
    with pytest.raises(ValueError, match="block_size"):
        export_bst.export_bst(sd, str(tmp_path / "a.safetensors"), config={"context": 2, "n_heads": 2})
    with pytest.raises(ValueError, match="n_heads"):
        export_bst.export_bst(sd, str(tmp_path / "a.safetensors"), config={"block_size": 4, "context": 2, "n_heads": 3})
    bad = dict(sd)
    bad["layers.0.ssm.D"] = torch.zeros(5)
    with pytest.raises(ValueError, match="layers.0.ssm.D"):
        export_bst.export_bst(bad, str(tmp_path / "a.safetensors"), config=model.config)
    extra = dict(sd)
    extra["layers.0.extra"] = torch.zeros(1)
    with pytest.raises(ValueError, match="not part of a BST model"):
        export_bst.export_bst(extra, str(tmp_path / "a.safetensors"), config=model.config)
    cfg = export_bst.export_bst(model, str(tmp_path / "ok.safetensors"))
    assert cfg["d_state"] == 4 and cfg["n_layers"] == 1 and cfg["d_ff"] == 8
