"""tools/export_vim.py: export random Vim models with the PyTorch reference, then have ssmkit
(tests/layers/test_vim_model, case pytorch_exports_match_pytorch_outputs) read them and match the
reference logits to 1e-9. Needs torch and safetensors, and a build of test_layers_vim_model
(SSM_BUILD_DIR, default <repo>/build)."""
import os
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import export_vim  # noqa: E402


def test_reference_block_matches_unfused_definition():
    # the reference's two branches differ: flipping the input is not a symmetry
    torch.manual_seed(1)
    m = export_vim.BiMambaRef(8, d_state=4, d_conv=3).double()
    x = torch.randn(1, 7, 8, dtype=torch.float64)
    y = m(x)
    y_flip = m(x.flip([1])).flip([1])
    assert y.shape == x.shape
    assert not torch.allclose(y, y_flip)


def test_export_and_ssmkit_matches(tmp_path):
    export_vim._check(str(tmp_path))
    names = sorted(os.listdir(tmp_path))
    assert any(n.endswith(".vimcheck.safetensors") for n in names)
    exe = os.path.join(os.environ.get("SSM_BUILD_DIR", os.path.join(ROOT, "build")), "tests", "test_layers_vim_model")
    if not os.path.exists(exe):
        pytest.skip(f"{exe} not built")
    env = dict(os.environ, SSM_TORCH_CHECK_DIR=str(tmp_path))
    r = subprocess.run([exe, "--run_test=pytorch_exports_match_pytorch_outputs", "--log_level=message"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "matches" in (r.stdout + r.stderr) or "No errors" in (r.stdout + r.stderr)
