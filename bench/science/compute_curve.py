#!/usr/bin/python3
"""Score against pre-training compute (examples seen: steps x batch), from the runs
recorded in a JSON file (docs/figures/compute-curve.json: each run's settings,
CPU minutes and measured scores, filled in from the science checks'
outputs). Writes the PNG beside it.

Usage: /usr/bin/python3 bench/science/compute_curve.py docs/figures/compute-curve.json
"""
import json
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

src = sys.argv[1]
d = json.load(open(src))
fig, axes = plt.subplots(1, 2, figsize=(12, 6))
for ax, (part, title, metrics) in zip(axes, [
        ("galaxy_zoo", "Galaxy Zoo: frozen encoder + logistic (macro-F1)",
         [("f1_10", "10 labels / class"), ("f1_all", "all labels")]),
        ("clip_sim", "simulated paired survey: clip-sim",
         [("top1", "image->spectrum top-1 of 1,000"), ("r2_spectrum", "zero-shot z R^2, spectrum"),
          ("r2_image", "zero-shot z R^2, image")])]):
    for recipe in sorted({r["recipe"] for r in d[part]["runs"]}):
        runs = sorted((r for r in d[part]["runs"] if r["recipe"] == recipe), key=lambda r: r["examples_seen"])
        for (key, label), marker in zip(metrics, "osd^"):
            ax.plot([r["examples_seen"] for r in runs], [r[key] for r in runs], marker=marker,
                    linestyle="-" if len(runs) > 1 else "none", label=f"{label} ({recipe})")
    for key, value, label in d[part].get("references", []):
        ax.axhline(value, color="grey", linestyle=":", linewidth=1)
        ax.text(ax.get_xlim()[0], value, " " + label, fontsize=7, va="bottom", color="grey")
    for key, value, label in d[part].get("targets", []):
        ax.axhline(value, color="red", linestyle="--", linewidth=0.8)
        ax.text(ax.get_xlim()[0], value, " target: " + label, fontsize=7, va="bottom", color="red")
    ax.set_xscale("log")
    ax.set_xlabel("pre-training examples seen (steps x batch)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    ax.grid(alpha=0.3)
fig.tight_layout()
out = os.path.splitext(src)[0] + ".png"
fig.savefig(out, dpi=110)
print(out)
