"""tools/plot/ssmkit_plot.py: the figure script that ssm::plot::Figure (tools/plot/figure.hpp)
drives, run directly on hand-written specs: every panel kind, the image size, the errors."""
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

SCRIPT = os.path.join(os.environ.get("SSMKIT_TOOLS_DIR") or os.path.join(os.path.dirname(__file__), "..", "..", "tools"),
                      "plot", "ssmkit_plot.py")


def run(spec, folder, png):
    with open(folder / "figure.json", "w") as f:
        json.dump(spec, f)
    return subprocess.run([sys.executable, SCRIPT, str(folder / "figure.json"), str(png)], capture_output=True,
                          text=True, timeout=120)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_every_panel_kind(tmp_path):
    rate = 8000.0
    t = np.arange(4000) / rate
    np.save(tmp_path / "sig.npy", np.sin(2 * np.pi * 440 * t).astype(np.float32))
    np.save(tmp_path / "ir.npy", np.exp(-np.arange(400) / 40.0))
    np.save(tmp_path / "x.npy", np.array([1.0, 10.0, 100.0]))
    np.save(tmp_path / "y.npy", np.array([3.0, 2.0, 1.0]))
    np.save(tmp_path / "z.npy", np.arange(12, dtype=np.float32))
    spec = {"title": "t", "subtitle": "s", "size": [6, 4.5], "dpi": 100, "grid": [3, 2], "axes": [
        {"at": [2, 0, 1, 2], "plots": [{"kind": "image", "z": "z.npy", "rows": 3, "cols": 4,
                                        "extent": [0, 1, 0, 8], "colorbar": "v"}]},
        {"at": [0, 0, 1, 2], "title": "line", "spans": [{"x0": 0.1, "x1": 0.2}],
         "plots": [{"kind": "line", "y": "sig.npy", "x0": 0, "dx": 1 / rate, "label": "a", "color": "tab:blue"}]},
        {"at": [1, 0], "plots": [{"kind": "specgram", "y": "sig.npy", "rate": rate, "nfft": 256, "hop": 64,
                                  "colorbar": "dB"}]},
        {"at": [1, 1], "xscale": "log",
         "plots": [{"kind": "line", "x": "x.npy", "y": "y.npy", "style": "-o"},
                   {"kind": "magnitude", "y": "ir.npy", "rate": rate}]}]}
    out = tmp_path / "f.png"
    r = run(spec, tmp_path, out)
    assert r.returncode == 0, r.stderr
    assert png_size(out) == (600, 450)
    assert not [n for n in os.listdir(tmp_path) if ".tmp" in n]


@pytest.mark.parametrize("change,message", [
    (lambda s: s["axes"][0]["plots"][0].update(y="missing.npy"), "missing.npy"),
    (lambda s: s["axes"][0]["plots"][0].update(kind="pie"), "unknown plot kind 'pie'"),
    (lambda s: s["axes"][0].update(at=[3, 0]), "outside the 1 x 1 grid"),
    (lambda s: s["axes"][0]["plots"][0].update(kind="image", z="y.npy", rows=2, cols=2), "z has 3 values, rows x cols is 4"),
    (lambda s: s["axes"][0]["plots"][0].update(x="x.npy"), "x has 2 values, y has 3"),
])
def test_errors_name_the_problem(tmp_path, change, message):
    np.save(tmp_path / "y.npy", np.array([1.0, 2.0, 3.0]))
    np.save(tmp_path / "x.npy", np.array([1.0, 2.0]))
    spec = {"grid": [1, 1], "axes": [{"at": [0, 0], "plots": [{"kind": "line", "y": "y.npy"}]}]}
    change(spec)
    r = run(spec, tmp_path, tmp_path / "f.png")
    assert r.returncode == 1
    assert message in r.stderr and r.stderr.startswith("ssmkit_plot: ")
    assert not (tmp_path / "f.png").exists()


def test_unreadable_spec(tmp_path):
    (tmp_path / "figure.json").write_text("{not json")
    r = subprocess.run([sys.executable, SCRIPT, str(tmp_path / "figure.json"), str(tmp_path / "f.png")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "cannot read the figure spec" in r.stderr
