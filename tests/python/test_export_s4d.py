"""tools/export_s4d.py: random PyTorch S4D stacks exported and run through ssmkit.

Every variant is compared with PyTorch's float64 output by ssmkit_check_export (conv, scan and
stream offline, and streamed in blocks), and a one-channel model runs through the ssmkit
program on an .npy file at its own rate and at another one (re-discretized). Also: the
Linear read-out and DataParallel prefixes, and the exporter's errors.
"""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

import export_s4d as es  # noqa: E402  (tools/, put on sys.path by conftest.py)


@pytest.mark.parametrize("prenorm,d_model,d_state,n_layers", [(False, 16, 16, 3), (True, 8, 6, 2)])
def test_export_matches_pytorch(tmp_path, check_export, prenorm, d_model, d_state, n_layers):
    model = es.S4Model(d_input=2, d_output=3, d_model=d_model, n_layers=n_layers, d_state=d_state, prenorm=prenorm)
    u = torch.randn(2, 300, 2, dtype=torch.float64)
    path = es.write_check(tmp_path, "s", model, u, sample_rate=16000.0, prenorm=prenorm)
    lines = check_export(path, block=13)
    for run in ("forward conv", "forward scan", "forward stream", "stream block 13"):
        assert any(run in line for line in lines), run
    assert all(line.startswith("ok") for line in lines)
    meta = safetensors_torch.safe_open(str(tmp_path / "s.safetensors"), "pt").metadata()
    cfg = json.loads(meta["ssmkit.config"])
    assert meta["ssmkit.arch"] == "s4d"
    assert (cfg["d_model"], cfg["d_state"], cfg["n_layers"], cfg["prenorm"]) == (d_model, d_state, n_layers, prenorm)
    assert cfg["sample_rate"] == 16000.0


def test_checker_sees_a_wrong_output(tmp_path, check_export):
    model = es.S4Model(d_input=1, d_output=1, d_model=4, n_layers=1, d_state=4)
    path = es.write_check(tmp_path, "s", model, torch.randn(1, 50, 1, dtype=torch.float64), sample_rate=48000.0)
    f = safetensors_torch.load_file(path)
    f["y"][0, 10, 0] += 1e-6 * f["y"].abs().max()
    safetensors_torch.save_file(f, path, metadata=safetensors_torch.safe_open(path, "pt").metadata())
    lines = check_export(path, expect=1)
    assert lines and all(line.startswith("FAIL") for line in lines)


def test_linear_readout_and_prefix(tmp_path):
    """A Linear output_linear (2H, H) and a 'module.' prefix export to the same file."""
    model = es.S4Model(d_input=1, d_output=1, d_model=4, n_layers=2, d_state=4)
    sd = {"module." + k: v for k, v in model.state_dict().items()}
    for i in range(2):
        w = sd.pop(f"module.s4_layers.{i}.output_linear.0.weight")
        sd[f"module.s4_layers.{i}.output_linear.weight"] = w.squeeze(-1)
        sd[f"module.s4_layers.{i}.output_linear.bias"] = sd.pop(f"module.s4_layers.{i}.output_linear.0.bias")
    es.export_s4d(model, str(tmp_path / "a.safetensors"), sample_rate=8000.0)
    es.export_s4d(sd, str(tmp_path / "b.safetensors"), sample_rate=8000.0, prenorm=False, strip_prefix="module.")
    a = safetensors_torch.load_file(str(tmp_path / "a.safetensors"))
    b = safetensors_torch.load_file(str(tmp_path / "b.safetensors"))
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_errors():
    model = es.S4Model(d_input=1, d_output=1, d_model=4, n_layers=2, d_state=4)
    sd = model.state_dict()
    with pytest.raises(ValueError, match="sample_rate"):
        es.export_s4d(model, "/nonexistent/x.safetensors", sample_rate=0.0)
    with pytest.raises(ValueError, match="prenorm"):
        es.export_s4d(sd, "/nonexistent/x.safetensors", sample_rate=8000.0)
    with pytest.raises(ValueError, match="activation"):
        es.export_s4d(model, "/nonexistent/x.safetensors", sample_rate=8000.0, activation="tanh")
    bad = dict(sd)
    bad["s4_layers.1.kernel.A_imag"] = torch.zeros(4, 3)
    with pytest.raises(ValueError, match=r"s4_layers\.1\.kernel\.A_imag"):
        es.export_s4d(bad, "/nonexistent/x.safetensors", sample_rate=8000.0, prenorm=False)


def test_cli_runs_an_exported_model_on_npy(tmp_path, ssmkit):
    """ssmkit run at the training rate equals PyTorch; at twice the rate it re-discretizes
    (dt halves), which PyTorch reproduces with log_dt - log 2."""
    model = es.S4Model(d_input=1, d_output=1, d_model=8, n_layers=2, d_state=8)
    es.export_s4d(model, str(tmp_path / "s.safetensors"), sample_rate=16000.0)
    x = np.random.default_rng(2).standard_normal(400).astype(np.float32)
    np.save(tmp_path / "in.npy", x)
    u = torch.from_numpy(x.astype(np.float64)).view(1, -1, 1)
    with torch.no_grad():
        ref = model.double()
        want16 = ref(u).view(-1).numpy()
        for layer in ref.s4_layers:
            layer.kernel.log_dt -= np.log(2.0)
        want32 = ref(u).view(-1).numpy()
    for rate, want in ((16000, want16), (32000, want32)):
        for mode in ("stream", "conv", "scan"):
            out = tmp_path / f"{mode}_{rate}.npy"
            ssmkit("run", "--model", tmp_path / "s.safetensors", tmp_path / "in.npy", "-o", out, "--mode", mode,
                   "--rate", rate)
            got = np.load(out)
            assert got.shape == want.shape
            assert np.max(np.abs(got - want)) <= 1e-4 * np.max(np.abs(want)), (rate, mode)
    assert np.max(np.abs(want16 - want32)) > 1e-2 * np.max(np.abs(want16))  # the rate mattered
