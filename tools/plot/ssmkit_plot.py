#!/usr/bin/env python3
"""Draws an ssmkit figure with matplotlib: ssmkit_plot.py SPEC.json OUT.png

ssmkit's programs (the `ssmkit demo` command, examples/hippo_memory, bench_summary --plot)
do not draw: they write their data as .npy files and a figure spec (tools/plot/figure.hpp
writes both) and call this script. The spec is JSON; every data file name is relative to
the spec's folder:

    {"title": str, "subtitle": str, "size": [width_in, height_in], "dpi": 100,
     "grid": [rows, cols],
     "axes": [{"at": [row, col, rowspan, colspan],
               "title": str, "xlabel": str, "ylabel": str,
               "xlim": [lo, hi], "ylim": [lo, hi], "xscale": "linear"|"log", "yscale": ...,
               "grid": true, "legend": true,
               "spans": [{"x0": a, "x1": b, "color": c, "alpha": 0.3}],     shaded x ranges
               "plots": [
                 {"kind": "line", "y": "f.npy", "x": "g.npy" (or "x0": 0, "dx": 1),
                  "label": str, "color": str, "style": "-", "marker": "", "width": 1.0},
                 {"kind": "specgram", "y": "f.npy", "rate": Hz, "nfft": 1024, "hop": 256,
                  "range_db": 80, "top_db": max over the figure's specgrams unless given,
                  "freq_scale": 1e-3, "colorbar": "dB"},
                 {"kind": "magnitude", "y": "f.npy", "rate": Hz, "freq_scale": 1e-3,
                  "range_db": 60, "label": str, "color": str},
                 {"kind": "image", "z": "f.npy", "rows": R, "cols": C,
                  "extent": [x0, x1, y0, y1], "vmin": lo, "vmax": hi, "cmap": "magma",
                  "colorbar": str}]}]}

line: y[i] at x[i] (or x0 + i dx). specgram: |STFT| in dB (Hann window of nfft, step hop),
frequency times freq_scale on y, drawn over [top_db - range_db, top_db]. magnitude:
20 log10 |rfft(y, n)| (n the next power of two >= len(y)) against frequency times freq_scale,
the y range [max - range_db, max + 5] unless ylim is given. image: an R x C grid (row-major;
row 0 at y0, the bottom; column 0 at x0), colour-mapped over [vmin, vmax] (default: its range).

The PNG is written atomically (a temporary file next to OUT, fsync, rename, fsync of the folder). Exit status 0,
or 1 with one line on stderr naming what is wrong (unreadable spec, missing data file,
unknown plot kind). Needs numpy and matplotlib (Debian: python3-numpy python3-matplotlib).
"""
import json
import os
import sys


def _fail(msg):
    print(f"ssmkit_plot: {msg}", file=sys.stderr)
    sys.exit(1)


def _load(folder, name, what):
    import numpy as np
    path = os.path.join(folder, name)
    try:
        return np.load(path)
    except (OSError, ValueError) as e:
        _fail(f"{what}: cannot read data file '{path}': {e}")


def _stft_db(y, nfft, hop):
    import numpy as np
    if len(y) < nfft:
        y = np.pad(y, (0, nfft - len(y)))
    frames = 1 + (len(y) - nfft) // hop
    win = np.hanning(nfft + 1)[:-1]  # periodic Hann
    idx = np.arange(nfft)[None, :] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(y[idx] * win, axis=1)).T  # (bins, frames)
    return 20 * np.log10(spec + 1e-12)


def draw(spec, folder, out_png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rows, cols = spec.get("grid", [1, 1])
    fig = plt.figure(figsize=tuple(spec.get("size", [10, 6])), dpi=spec.get("dpi", 100))
    gs = fig.add_gridspec(rows, cols)
    title = spec.get("title", "")
    if spec.get("subtitle"):
        title = f"{title}\n{spec['subtitle']}" if title else spec["subtitle"]
    if title:
        fig.suptitle(title, fontsize=11)

    # One dB scale for every spectrogram of the figure (they are compared by eye).
    specs = {}
    for a in spec.get("axes", []):
        for p in a.get("plots", []):
            if p.get("kind") == "specgram":
                y = _load(folder, p["y"], "specgram").astype(np.float64).ravel()
                specs[id(p)] = _stft_db(y, int(p.get("nfft", 1024)), int(p.get("hop", 256)))
    figure_top = max((float(s.max()) for s in specs.values()), default=0.0)

    for i, a in enumerate(spec.get("axes", [])):
        r, c, rs, cs = (list(a.get("at", [0, 0])) + [1, 1])[:4]
        if not (0 <= r and r + rs <= rows and 0 <= c and c + cs <= cols):
            _fail(f"axes {i}: 'at' {a.get('at')} is outside the {rows} x {cols} grid")
        ax = fig.add_subplot(gs[r:r + rs, c:c + cs])
        for s in a.get("spans", []):
            ax.axvspan(s["x0"], s["x1"], color=s.get("color", "0.9"), alpha=s.get("alpha", 1.0), lw=0)
        labelled = False
        for j, p in enumerate(a.get("plots", [])):
            kind = p.get("kind", "line")
            where = f"axes {i} plot {j} ({kind})"
            style = {k: p[k] for k in ("color",) if p.get(k)}
            if kind == "line":
                y = _load(folder, p["y"], where).ravel()
                x = (_load(folder, p["x"], where).ravel() if "x" in p
                     else p.get("x0", 0.0) + p.get("dx", 1.0) * np.arange(len(y)))
                if len(x) != len(y):
                    _fail(f"{where}: x has {len(x)} values, y has {len(y)}")
                if p.get("marker"):
                    style["marker"] = p["marker"]
                ax.plot(x, y, p.get("style", "-"), lw=p.get("width", 1.0), label=p.get("label") or None, **style)
            elif kind == "specgram":
                db = specs[id(p)]
                top = float(p.get("top_db", figure_top))
                y = _load(folder, p["y"], where).ravel()
                rate, fs = float(p["rate"]), float(p.get("freq_scale", 1e-3))
                im = ax.imshow(db, origin="lower", aspect="auto", cmap=p.get("cmap", "magma"),
                               extent=[0, len(y) / rate, 0, rate / 2 * fs],
                               vmin=top - float(p.get("range_db", 80)), vmax=top)
                if p.get("colorbar"):
                    fig.colorbar(im, ax=ax, label=p["colorbar"])
            elif kind == "magnitude":
                y = _load(folder, p["y"], where).astype(np.float64).ravel()
                n = 1 << max(0, int(np.ceil(np.log2(max(len(y), 1)))))
                mag = 20 * np.log10(np.abs(np.fft.rfft(y, n)) + 1e-12)
                f = np.fft.rfftfreq(n, 1 / float(p["rate"])) * float(p.get("freq_scale", 1e-3))
                ax.plot(f, mag, lw=p.get("width", 1.0), label=p.get("label") or None, **style)
                if "ylim" not in a:
                    ax.set_ylim(mag.max() - float(p.get("range_db", 60)), mag.max() + 5)
            elif kind == "image":
                z = _load(folder, p["z"], where).astype(np.float64).ravel()
                rows, cols = int(p["rows"]), int(p["cols"])
                if z.size != rows * cols:
                    _fail(f"{where}: z has {z.size} values, rows x cols is {rows * cols}")
                z = z.reshape(rows, cols)
                im = ax.imshow(z, origin="lower", aspect="auto", cmap=p.get("cmap", "magma"),
                               extent=p.get("extent"), vmin=p.get("vmin", float(z.min())),
                               vmax=p.get("vmax", float(z.max())), interpolation="nearest")
                if p.get("colorbar"):
                    fig.colorbar(im, ax=ax, label=p["colorbar"])
            else:
                _fail(f"{where}: unknown plot kind '{kind}' (line, specgram, magnitude, image)")
            labelled = labelled or bool(p.get("label"))
        for key, fn in (("title", ax.set_title), ("xlabel", ax.set_xlabel), ("ylabel", ax.set_ylabel),
                        ("xscale", ax.set_xscale), ("yscale", ax.set_yscale)):
            if a.get(key):
                fn(a[key])
        if a.get("xlim"):
            ax.set_xlim(*a["xlim"])
        if a.get("ylim"):
            ax.set_ylim(*a["ylim"])
        if a.get("grid", True):
            ax.grid(True, alpha=0.3)
        if labelled and a.get("legend", True):
            ax.legend(fontsize=8)
    fig.tight_layout()

    folder_out = os.path.dirname(os.path.abspath(out_png))
    tmp = os.path.join(folder_out, f".{os.path.basename(out_png)}.tmp-{os.getpid()}.png")
    try:
        fig.savefig(tmp, format="png")
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out_png)
        dfd = os.open(folder_out, os.O_RDONLY)
        try:
            os.fsync(dfd)
        except OSError:
            pass  # a file system that cannot fsync a directory: the rename has happened
        finally:
            os.close(dfd)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        _fail(f"cannot write '{out_png}': {e}")
    finally:
        plt.close(fig)


def main(argv):
    if len(argv) != 3:
        _fail("usage: ssmkit_plot.py SPEC.json OUT.png")
    try:
        with open(argv[1]) as f:
            spec = json.load(f)
    except (OSError, ValueError) as e:
        _fail(f"cannot read the figure spec '{argv[1]}': {e}")
    try:
        import matplotlib  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        _fail(f"{e.name} is missing: install python3-matplotlib and python3-numpy")
    draw(spec, os.path.dirname(os.path.abspath(argv[1])), argv[2])


if __name__ == "__main__":
    main(sys.argv)
