"""The comparison table and figures of docs/photoz.md, from results.json."""
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOC = ROOT / "docs/photoz.md"
FIG = ROOT / "docs/photoz"
COLS = [("sigma_nmad", "sigma_NMAD", "{:.4f}", min), ("eta_0.15", "eta(0.15)", "{:.2%}", min),
        ("bias", "bias", "{:+.4f}", lambda v: min(v, key=abs)), ("pit_ks", "PIT KS", "{:.4f}", min),
        ("pit_cvm", "PIT CvM", "{:.2f}", min), ("crps", "CRPS", "{:.4f}", min), ("cde_loss", "CDE loss", "{:.2f}", min),
        ("coverage_68", "68% cov.", "{:.3f}", lambda v: min(v, key=lambda x: abs(x - 0.68))),
        ("inform_s", "train s", "{:.0f}", None), ("estimate_s", "apply s", "{:.1f}", None)]


def table(res, labels):
    rows = [v for k, v in res.items() if not k.startswith("_") and v.get("labels") == labels and "error" not in v]
    rows.sort(key=lambda v: v["sigma_nmad"])
    best = {c: f([r[c] for r in rows]) for c, _, _, f in COLS if f and rows}
    head = "| estimator | " + " | ".join(h for _, h, _, _ in COLS) + " |\n|---|" + "---|" * len(COLS) + "\n"
    out = head
    for r in rows:
        cells = []
        for c, _, fmt, f in COLS:
            v = r.get(c)
            s = "" if v is None else fmt.format(v)
            cells.append(f"**{s}**" if f and v == best.get(c) else s)
        out += f"| {r['estimator']} | " + " | ".join(cells) + " |\n"
    failed = [v for k, v in res.items() if not k.startswith("_") and v.get("labels") == labels and "error" in v]
    for r in failed:
        out += f"| {r['estimator']} | failed: {r['error'][:120]} |" + " |" * (len(COLS) - 1) + "\n"
    return out


def figures(res):
    FIG.mkdir(parents=True, exist_ok=True)
    truth = np.array(res["_truth_sample"])
    full = [v for k, v in res.items() if not k.startswith("_") and v.get("labels") == "all" and "error" not in v]
    full.sort(key=lambda v: v["sigma_nmad"])
    n = len(full)
    cols = 4
    rws = (n + cols - 1) // cols
    fig, axes = plt.subplots(rws, cols, figsize=(3.2 * cols, 2.6 * rws), squeeze=False)
    for ax, r in zip(axes.flat, full):
        h = np.array(r["pit_histogram"], dtype=float)
        ax.bar(np.linspace(0, 1, len(h), endpoint=False), h / h.mean(), width=1 / len(h), align="edge", color="#4477aa")
        ax.axhline(1, color="k", lw=0.8)
        ax.set_title(f"{r['estimator']}  KS {r['pit_ks']:.3f}", fontsize=9)
        ax.set_ylim(0, 3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("PIT histograms (flat at 1 when calibrated), all labels")
    fig.tight_layout()
    fig.savefig(FIG / "pit.png", dpi=90)
    plt.close(fig)
    fig, axes = plt.subplots(rws, cols, figsize=(3.2 * cols, 3.0 * rws), squeeze=False)
    for ax, r in zip(axes.flat, full):
        z = np.array(r["zmode_sample"])
        ax.scatter(truth[: len(z)], z, s=1, alpha=0.3, color="#222222")
        ax.plot([0, 1], [0, 1], color="r", lw=0.8)
        ax.set_xlim(0, 1), ax.set_ylim(0, 1)
        ax.set_title(f"{r['estimator']}  sigma_NMAD {r['sigma_nmad']:.4f}", fontsize=9)
        ax.set_xlabel("spectroscopic z", fontsize=8)
        ax.set_ylabel("zmode", fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(FIG / "zphot_vs_zspec.png", dpi=90)
    plt.close(fig)
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.6))
    for ax, (c, title) in zip(axes, [("sigma_nmad", "sigma_NMAD"), ("eta_0.15", "eta(0.15)"), ("crps", "CRPS"), ("pit_ks", "PIT KS")]):
        for i, labels in enumerate(["all", "1000", "200"]):
            rows = {v["estimator"]: v for k, v in res.items() if not k.startswith("_") and v.get("labels") == labels and "error" not in v}
            names = [r["estimator"] for r in full if r["estimator"] in rows and r["estimator"] != "TrainZ"]
            ax.bar(np.arange(len(names)) + (i - 1) * 0.27, [rows[nm][c] for nm in names], width=0.27, label=f"{labels} labels")
        ax.set_xticks(np.arange(len(names)))
        ax.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
        ax.set_title(title)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FIG / "metrics.png", dpi=90)
    plt.close(fig)


def main():
    res = json.loads((HERE / "results.json").read_text())
    meta = res["_meta"]
    text = ""
    for labels, title in [("all", f"All labels ({meta['train_pool']:,} galaxies)"), ("1000", "1,000 labels"), ("200", "200 labels")]:
        text += f"#### {title}\n\n" + table(res, labels) + "\n"
    text += (f"Test set: {meta['test']:,} galaxies ({meta['split']}); {meta['cpu']} CPU cores, {meta['date']}. "
             "Bold: best in the column. Timings share two cores with other work and are indicative only.\n")
    doc = DOC.read_text()
    a, b = "<!-- table:start -->", "<!-- table:end -->"
    doc = doc[: doc.index(a) + len(a)] + "\n" + text + doc[doc.index(b):]
    DOC.write_text(doc)
    figures(res)
    print(f"wrote {DOC} and {FIG}/*.png")


if __name__ == "__main__":
    main()
