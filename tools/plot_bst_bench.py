#!/usr/bin/env python3
"""Plot the BST benchmark CSVs (bench_layers_bst / bench_layers_bst_cuda --csv=FILE).

    python3 tools/plot_bst_bench.py docs/figures/bst_bench_cpu.csv [docs/figures/bst_bench_cuda.csv] \
        -o docs/figures/bst_cost_per_token.png

Each CSV has rows device,L,bst_ns_per_token,full_ns_per_token (an empty field: not measured).
The figure shows ns per token against L (log-log) for the BST layer (flat: block-local
attention) and full causal attention on the same data (grows linearly per token: quadratic).
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            dev = r["device"]
            L = int(r["L"])
            for key in ("bst_ns_per_token", "full_ns_per_token"):
                if r[key]:
                    rows.setdefault((dev, key), []).append((L, float(r[key])))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    series = {}
    for p in args.csv:
        series.update(read(p))
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    styles = {"bst_ns_per_token": ("BST (W = S = 64)", "-o"), "full_ns_per_token": ("full causal attention", "--s")}
    for (dev, key), pts in sorted(series.items()):
        pts.sort()
        label, style = styles[key]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style, label=f"{label}, {dev}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length L (tokens)")
    ax.set_ylabel("ns per token")
    ax.set_title("BST layer cost per token (d 64, 4 heads, d_ff 256, batch 1)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
