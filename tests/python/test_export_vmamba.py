"""tools/export_vmamba.py: its PyTorch reference SS2D against the conformance cases (an
independent float64 reference of VMamba's forward_corev0), and the exporter's file layout.
Needs torch (skipped without it). Run: python3 -m pytest tests/python/test_export_vmamba.py
"""
import glob
import json
import math
import os
import sys

import pytest

torch = pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import export_vmamba as ev  # noqa: E402

CASES = os.environ.get("SSM_CONFORMANCE_DIR", os.path.join(ROOT, "..", "shared", "conformance", "cases"))


def ss2d_cases():
    return sorted(glob.glob(os.path.join(CASES, "ss2d_block-*.safetensors")))


@pytest.mark.skipif(not ss2d_cases(), reason="no ss2d_block conformance cases")
@pytest.mark.parametrize("path", ss2d_cases())
def test_reference_ss2d_matches_conformance_case(path):
    t, meta = ev.read_safetensors(path)
    di2, dm = t["in_proj.weight"].shape
    R = t["dt_projs_weight"].shape[2]
    N = t["A_logs"].shape[1]
    k = t["conv2d.weight"].shape[2]
    assert int(meta["d_conv"]) == k and int(meta["d_state"]) == N
    m = ev.SS2DRef(dm, d_state=N, d_conv=k, expand=di2 / 2 / dm, dt_rank=R,
                   conv_bias="conv2d.bias" in t, bias="in_proj.bias" in t).double()
    if "out_proj.bias" not in t:
        m.out_proj.bias = None
    sd = {n: v for n, v in t.items() if n not in ("x",) and not n.startswith("expected.")}
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert not unexpected and all(n.endswith(".bias") for n in missing)
    with torch.no_grad():
        y = m(t["x"])
    assert torch.allclose(y, t["expected.y"], rtol=1e-9, atol=1e-10)


def test_export_layout_and_config(tmp_path):
    torch.manual_seed(1)
    model = ev.VMambaStageRef(d_input=2, d_output=3, d_model=16, n_layers=2, d_ff=8, d_state=4)
    p = str(tmp_path / "m.safetensors")
    ev.export_vmamba(model, p)
    t, meta = ev.read_safetensors(p)
    assert meta["ssmkit.arch"] == "vmamba"
    cfg = json.loads(meta["ssmkit.config"])
    assert cfg["d_inner"] == 32 and cfg["dt_rank"] == math.ceil(16 / 16) and cfg["n_layers"] == 2
    assert t["layers.1.self_attention.x_proj_weight"].shape == (4, 1 + 2 * 4, 32)
    assert t["layers.0.self_attention.A_logs"].shape == (128, 4)
    assert t["layers.0.mlp.fc1.weight"].shape == (8, 16)
    assert "layers.0.self_attention.in_proj.bias" not in t
    sd = model.state_dict()
    for n, v in t.items():
        assert torch.equal(v.float(), sd[n].float()), n


def test_export_rejects_missing_and_extra_tensors(tmp_path):
    model = ev.VMambaStageRef(d_model=16, n_layers=1, d_ff=0, d_state=4)
    sd = dict(model.state_dict())
    del sd["layers.0.self_attention.Ds"]
    with pytest.raises(KeyError, match="Ds"):
        ev.export_vmamba(sd, str(tmp_path / "a.safetensors"), model.config)
    sd = dict(model.state_dict())
    sd["layers.0.other"] = torch.zeros(1)
    with pytest.raises(KeyError, match="layers.0.other"):
        ev.export_vmamba(sd, str(tmp_path / "b.safetensors"), model.config)
