"""tools/export_mamba.py: random PyTorch Mamba stacks exported and run through ssmkit.

Every variant is compared with PyTorch's float64 output by ssmkit_check_export (offline scan
and streamed in blocks of 7), and a one-channel model runs through the ssmkit program on an
.npy file. Also: renamed stacks, and the exporter's errors.
"""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

import export_mamba as em  # noqa: E402  (tools/, put on sys.path by conftest.py)


@pytest.mark.parametrize("rms_norm,bias,d_conv,dt_rank", [(True, False, 4, "auto"), (False, True, 3, 5),
                                                          (True, True, 2, 1)])
def test_export_matches_pytorch(tmp_path, check_export, rms_norm, bias, d_conv, dt_rank):
    model = em.SignalMamba(d_input=2, d_output=3, d_model=24, n_layers=2, rms_norm=rms_norm, d_state=6,
                           d_conv=d_conv, dt_rank=dt_rank, expand=2, bias=bias)
    u = torch.randn(2, 37, 2, dtype=torch.float64)
    path = em.write_check(tmp_path, "m", model, u)
    lines = check_export(path)
    assert any("forward scan" in line for line in lines)
    assert any("stream block 7" in line for line in lines)
    assert all(line.startswith("ok") for line in lines)
    meta = safetensors_torch.safe_open(str(tmp_path / "m.safetensors"), "pt").metadata()
    cfg = json.loads(meta["ssmkit.config"])
    assert meta["ssmkit.arch"] == "mamba"
    assert (cfg["d_conv"], cfg["d_state"], cfg["norm"]) == (d_conv, 6, "rmsnorm" if rms_norm else "layernorm")
    assert cfg["in_proj_bias"] == bias and cfg["out_proj_bias"] == bias


def test_checker_sees_a_wrong_output(tmp_path, check_export):
    """The comparison can fail: a check file whose y is off by 1e-6 of its peak is rejected."""
    model = em.SignalMamba(d_input=1, d_output=1, d_model=16, n_layers=1, d_state=4)
    u = torch.randn(1, 20, 1, dtype=torch.float64)
    path = em.write_check(tmp_path, "m", model, u)
    f = safetensors_torch.load_file(path)
    f["y"][0, 5, 0] += 1e-6 * f["y"].abs().max()
    meta = safetensors_torch.safe_open(path, "pt").metadata()
    safetensors_torch.save_file(f, path, metadata=meta)
    lines = check_export(path, expect=1)
    assert lines and all(line.startswith("FAIL") for line in lines)


def test_rename_backbone(tmp_path):
    model = em.SignalMamba(d_input=1, d_output=2, d_model=16, n_layers=2, d_state=4)
    sd = {("backbone." + k if k.startswith(("layers.", "norm_f.")) else k): v for k, v in model.state_dict().items()}
    em.export_mamba(model, str(tmp_path / "a.safetensors"))
    em.export_mamba(sd, str(tmp_path / "b.safetensors"), rename={"backbone.": ""})
    a = safetensors_torch.load_file(str(tmp_path / "a.safetensors"))
    b = safetensors_torch.load_file(str(tmp_path / "b.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_errors_name_the_tensor():
    sd = em.SignalMamba(d_input=1, d_output=1, d_model=16, n_layers=2, d_state=4).state_dict()
    missing = {k: v for k, v in sd.items() if k != "layers.1.mixer.D"}
    with pytest.raises(ValueError, match=r"layers\.1\.mixer\.D"):
        em.export_mamba(missing, "/nonexistent/x.safetensors")
    bad = dict(sd)
    bad["layers.1.mixer.x_proj.weight"] = torch.zeros(3, 3)
    with pytest.raises(ValueError, match=r"layers\.1\.mixer\.x_proj\.weight.*shape"):
        em.export_mamba(bad, "/nonexistent/x.safetensors")
    with pytest.raises(ValueError, match="norm"):
        em.export_mamba(sd, "/nonexistent/x.safetensors", norm="batchnorm")


def test_cli_runs_an_exported_model_on_npy(tmp_path, ssmkit):
    """ssmkit run --model on a one-channel .npy signal: the same as PyTorch (float32 compute)."""
    model = em.SignalMamba(d_input=1, d_output=1, d_model=16, n_layers=2, d_state=4)
    em.export_mamba(model, str(tmp_path / "m.safetensors"))
    x = np.random.default_rng(1).standard_normal(300)
    np.save(tmp_path / "in.npy", x.astype(np.float32))
    info = ssmkit("info", tmp_path / "m.safetensors").stdout
    assert "mamba" in info
    for mode in ("stream", "scan"):
        ssmkit("run", "--model", tmp_path / "m.safetensors", tmp_path / "in.npy", "-o", tmp_path / f"{mode}.npy",
               "--mode", mode, "--block", 64)
        got = np.load(tmp_path / f"{mode}.npy")
        with torch.no_grad():
            want = model.double()(torch.from_numpy(x.astype(np.float32).astype(np.float64)).view(1, -1, 1))
        want = want.view(-1).numpy()
        assert got.shape == want.shape
        assert np.max(np.abs(got - want)) <= 1e-4 * np.max(np.abs(want)), mode
