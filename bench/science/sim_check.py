#!/usr/bin/python3
"""Checks a simulated survey against the real BOSS DR10 catalogue and draws the figures.

Usage: /usr/bin/python3 bench/science/sim_check.py SIM_DIR BOSS_CSV OUT_PREFIX
Writes OUT_PREFIX-colour-redshift.png, OUT_PREFIX-gallery.png and prints a JSON summary:
median g-r and r-i per redshift bin, simulated (red galaxies, SDSS bands) and real (BOSS).
"""
import glob
import json
import sys

import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

sim_dir, boss_csv, prefix = sys.argv[1:4]
files = sorted(glob.glob(f"{sim_dir}/**/*.hdf5", recursive=True))
cols = {}
for f in files:
    with h5py.File(f, "r") as h:
        for k in ("Z", "MAG_SDSS_G", "MAG_SDSS_R", "MAG_SDSS_I", "MORPHOLOGY", "MAG_R"):
            cols.setdefault(k, []).append(h[k][:])
sim = {k: np.concatenate(v) for k, v in cols.items()}
boss = np.genfromtxt(boss_csv, delimiter=",", names=True)

bins = np.arange(0.1, 0.75, 0.1)
red = sim["MORPHOLOGY"] <= 1
summary = {"bins": bins.tolist(), "sim_gr": [], "sim_ri": [], "boss_gr": [], "boss_ri": [], "sim_n": [], "boss_n": []}
for lo, hi in zip(bins[:-1], bins[1:]):
    s = red & (sim["Z"] >= lo) & (sim["Z"] < hi)
    b = (boss["z"] >= lo) & (boss["z"] < hi)
    summary["sim_n"].append(int(s.sum()))
    summary["boss_n"].append(int(b.sum()))
    summary["sim_gr"].append(float(np.median(sim["MAG_SDSS_G"][s] - sim["MAG_SDSS_R"][s])) if s.sum() else None)
    summary["sim_ri"].append(float(np.median(sim["MAG_SDSS_R"][s] - sim["MAG_SDSS_I"][s])) if s.sum() else None)
    summary["boss_gr"].append(float(np.median(boss["mag_g"][b] - boss["mag_r"][b])) if b.sum() else None)
    summary["boss_ri"].append(float(np.median(boss["mag_r"][b] - boss["mag_i"][b])) if b.sum() else None)

fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
for a, (c1, c2, name) in zip(ax, [("G", "R", "g-r"), ("R", "I", "r-i")]):
    bc = (boss["mag_" + c1.lower()] - boss["mag_" + c2.lower()])
    a.hexbin(boss["z"], bc, gridsize=60, extent=(0, 1, -0.5, 3), cmap="Greys", mincnt=1, bins="log")
    sc = sim["MAG_SDSS_" + c1] - sim["MAG_SDSS_" + c2]
    a.scatter(sim["Z"][~red], sc[~red], s=3, c="tab:blue", alpha=0.5, label="simulated, blue (spiral/irregular)")
    a.scatter(sim["Z"][red], sc[red], s=3, c="tab:red", alpha=0.6, label="simulated, red (E/S0)")
    mid = 0.5 * (bins[:-1] + bins[1:])
    a.plot(mid, summary["boss_" + name.replace("-", "")], "k-o", label="BOSS DR10 median (real)")
    a.set_xlabel("redshift")
    a.set_ylabel(f"{name} (SDSS, AB)")
    a.set_xlim(0, 1)
    a.set_ylim(-0.5, 3)
ax[0].legend(fontsize=7, loc="upper left")
fig.suptitle("astrofm simulate: colour-redshift relation against the real BOSS DR10 galaxies")
fig.tight_layout()
fig.savefig(f"{prefix}-colour-redshift.png", dpi=110)

# A gallery: asinh-stretched g, r, z composites with their spectra.
gal = []
for f in files:
    with h5py.File(f, "r") as h:
        for i in range(h["object_id"].shape[0]):
            if len(gal) < 6:
                gal.append({k: h[k][i] for k in ("image_array", "Z", "MAG_R", "MORPHOLOGY", "spectrum_lambda", "spectrum_flux")})
n = len(gal)
fig, ax = plt.subplots(2, n, figsize=(2.6 * n, 5.2), gridspec_kw={"height_ratios": [1.3, 1]}, squeeze=False)
for i, g in enumerate(gal):
    im = g["image_array"]
    rgb = np.stack([im[2], im[1], im[0]], -1)
    rgb = np.arcsinh(rgb / 0.05) / np.arcsinh(1 / 0.05)
    ax[0, i].imshow(np.clip(rgb / np.percentile(rgb, 99.5), 0, 1), origin="lower")
    ax[0, i].set_title(f"z={g['Z']:.2f} r={g['MAG_R']:.1f}\nmorph={g['MORPHOLOGY']}", fontsize=8)
    ax[0, i].axis("off")
    k = np.convolve(g["spectrum_flux"], np.ones(9) / 9, mode="same")
    ax[1, i].plot(g["spectrum_lambda"], k, lw=0.5)
    ax[1, i].set_xlabel("A", fontsize=7)
    ax[1, i].tick_params(labelsize=6)
fig.tight_layout()
fig.savefig(f"{prefix}-gallery.png", dpi=100)
print(json.dumps(summary, indent=1))
