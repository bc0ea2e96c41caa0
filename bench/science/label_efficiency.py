#!/usr/bin/python3
"""Label-efficiency curves of the Galaxy Zoo contenders (gz_science.sh):
macro-F1 mean and spread over label draws against labels per class, one
line per contender; writes WORKDIR/label_efficiency.png and .md.

Usage: /usr/bin/python3 bench/science/label_efficiency.py WORKDIR [MODEL]
"""
import json
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

w = sys.argv[1]
model = sys.argv[2] if len(sys.argv) > 2 else "the encoder"
names = [("pixels", "pixels, PCA 64 + logistic"), ("cnn", "CNN from scratch"), ("embedding", f"frozen {model} + logistic"),
         ("mlp", f"frozen {model} + MLP"), ("finetune", f"{model} fine-tuned"),
         ("finetune_noes", f"{model} fine-tuned, every step (no early stopping)")]
curves = {}
for key, label in names:
    f = os.path.join(w, key + ".json")
    if os.path.exists(f):
        curves[key] = (label, json.load(open(f))["curve"])
if not curves:
    sys.exit(f"{w}: no results")
budgets = [p["labels"] for p in next(iter(curves.values()))[1]]
all_x = 2 * max(b for b in budgets if b) if any(b == 0 for b in budgets) and any(budgets) else 1000
xs = [b if b else all_x for b in budgets]
fig, ax = plt.subplots(figsize=(6.5, 4.2))
for key, (label, curve) in curves.items():
    m = [p["mean"]["macro_f1"] for p in curve]
    s = [p["std"].get("macro_f1", 0) if p.get("std") else 0 for p in curve]
    ax.errorbar(xs[:len(m)], m, yerr=s, marker="o", capsize=3, label=label)
ax.set_xscale("log")
ax.set_xticks(xs)
ax.set_xticklabels([str(b) if b else "all" for b in budgets])
ax.set_xlabel("labels per class")
ax.set_ylabel("macro-F1 (3 classes, held-out 20%)")
ax.set_title("Galaxy Zoo morphology: label efficiency")
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(os.path.join(w, "label_efficiency.png"), dpi=120)
lines = ["| contender | " + " | ".join(f"{b if b else 'all'} / class" for b in budgets) + " |",
         "|---|" + "---|" * len(budgets)]
for key, (label, curve) in curves.items():
    cells = [f"{p['mean']['macro_f1']:.3f} ± {p['std'].get('macro_f1', 0) if p.get('std') else 0:.3f} ({len(p['runs'])})" for p in curve]
    lines.append(f"| {label} | " + " | ".join(cells) + " |")
open(os.path.join(w, "label_efficiency.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
