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


def _cases():
    d = os.environ.get("SSM_CONFORMANCE_DIR", os.path.join(ROOT, "..", "shared", "conformance", "cases"))
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith("bimamba_block-"))


@pytest.mark.parametrize("case", _cases() or [None])
def test_reference_block_matches_conformance_case(case):
    """The exporter's reference block reproduces FORMAT.md's bimamba_block expected outputs."""
    if case is None:
        pytest.skip("no bimamba_block conformance cases")
    from safetensors import safe_open
    with safe_open(case, "pt") as f:
        meta = f.metadata()
        t = {k: f.get_tensor(k) for k in f.keys()}
    di, N = t["A_log"].shape
    d_model = t["in_proj.weight"].shape[1]
    m = export_vim.BiMambaRef(d_model, d_state=N, d_conv=int(meta["d_conv"]), expand=di / d_model,
                              dt_rank=t["dt_proj.weight"].shape[1], bias="in_proj.bias" in t,
                              if_divide_out=meta["if_divide_out"] == "true").double()
    sd = {k: v for k, v in t.items() if k not in ("x",) and not k.startswith("expected.")}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected
    assert all(k.endswith(".bias") for k in missing), missing  # only biases the case leaves out
    for k in missing:  # absent optional biases mean zero
        dict(m.named_parameters())[k].data.zero_()
    with torch.no_grad():
        y = m(t["x"])
    err = (y - t["expected.y"]).abs().max().item()
    assert err <= float(meta["atol"]) + float(meta["rtol"]) * t["expected.y"].abs().max().item(), err


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
