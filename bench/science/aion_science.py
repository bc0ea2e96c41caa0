#!/usr/bin/python3
"""AION science checks (docs/aion.md) on galaxies the models never saw.

Usage: /usr/bin/python3 bench/science/aion_science.py [WORKDIR] [SHARED_DATA] [SECTIONS]
after bench/science/aion_train.sh WORKDIR. Writes WORKDIR/science.json (a
rerun of some SECTIONS, comma-separated, keeps the others') and prints each
table. Sections:
  sim_z        redshift Z of the test sky from the catalogue fluxes, + the
               Legacy Survey image, + the DESI spectrum (default model)
  translation  Legacy Survey image -> HSC-like image (chi^2 per pixel against
               the true HSC image with its ivar; per-band flux error), beside
               the codec's own reconstruction of the true image and a blank image
  spectra      spectrum generated from an image: R^2 against the true spectrum
               relative to the population-mean spectrum (R^2_pop = 1 - SSE /
               SSE of the training sky's mean spectrum); the emergent model never
               saw a Legacy Survey image with its spectrum
  boss         real BOSS DR10 z from ugriz on astrofm's fixed test split, AION
               pre-trained with all z and with z for 200 objects, beside the
               kNN and MLP probes with the same labels
  properties   LOG_MSTAR (kNN R^2) and MORPHOLOGY (logistic macro-F1) from
               embeddings of input subsets: train-sky embeddings fit, test-sky
               embeddings score; mean pooling vs the attentive probe
  transfer     morphology probe fit on Legacy Survey image embeddings, scored
               unchanged on HSC image embeddings of other galaxies
  galaxyzoo    real Galaxy Zoo morphology from AION image embeddings against
               the shipped galaxy-cnn-ssl embeddings (logistic, 10/class and all)
"""
import csv
import json
import os
import subprocess
import sys

import numpy as np

from mmu_read import read_columns

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "../.."))
W = sys.argv[1] if len(sys.argv) > 1 else "/tmp/astrofm-aion"
shared = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "../shared/data")
A = os.path.join(root, "build/tools/astrofm/astrofm")
CODECS = ["--codecs", "codecs-scalar", "codec-image", "codec-spectrum"]
M = f"{W}/models"
S = f"{W}/science"
os.makedirs(S, exist_ok=True)
results = json.load(open(f"{W}/science.json")) if os.path.exists(f"{W}/science.json") else {}


def run(*args):
    subprocess.run([A, "-q", *args], check=True, stdout=subprocess.DEVNULL)


def save():
    with open(f"{W}/science.json", "w") as f:
        json.dump(results, f, indent=2)


def generate(model, data, inputs, target, name, *extra):
    out = f"{S}/gen_{name}"
    if os.path.isdir(out):
        return out  # done by an earlier run of this script (delete WORKDIR/science to redo)
    run("generate", "--model", f"{M}/{model}.afm", *CODECS, "--data", data, "--from", ",".join(inputs), "--to", target,
        "--out", out, "--report", f"{out}_report", "--overwrite", *extra)
    return out


def zmetrics(report):
    m = json.load(open(f"{report}/metrics.json"))
    p = m["median"]
    return {"r2": p["r2"], "sigma_nmad": p["sigma_nmad"], "eta_0.05": p["eta_0.05"], "eta_0.15": p["eta_0.15"],
            "pit_ks": m["pit_ks"], "crps": m["crps"], "coverage_68": m["coverage_68"], "coverage_95": m["coverage_95"], "n": p["n"]}


def table(title, rows, keys):
    print(f"\n== {title}")
    print(f"{'':34s}" + "".join(f"{k:>12s}" for k in keys))
    for name, r in rows.items():
        print(f"{name:34s}" + "".join(f"{r[k]:12.4f}" if isinstance(r.get(k), float) else f"{str(r.get(k, '')):>12s}" for k in keys))


def by_id(data, cols):
    c = read_columns(data, ["object_id", *cols])
    ids = [i.decode() if isinstance(i, bytes) else str(i) for i in c["object_id"]]
    return {i: k for k, i in enumerate(ids)}, c


test = f"{W}/test/matched"
phot = ["tok_FLUX_G", "tok_FLUX_R", "tok_FLUX_Z"]
tid, tcols = by_id(test, ["hsc_object_id", "desi_object_id"])  # the test sky's rows, with each survey's object
MORPH = ["elliptical", "lenticular", "spiral", "irregular"]  # the simulator's MORPHOLOGY codes (docs/simulator.md)
labels = f"{S}/props.csv"
subsets = {"photometry": phot, "LS image": ["tok_image"], "spectrum": ["tok_spectrum"], "LS image + spectrum": ["tok_image", "tok_spectrum"],
           "photometry + LS image + spectrum": phot + ["tok_image", "tok_spectrum"]}


def write_labels():
    with open(labels, "w") as f:
        w = csv.writer(f)
        w.writerow(["object_id", "LOG_MSTAR", "MORPHOLOGY"])
        for sky in ("train", "test"):
            c = read_columns(f"{W}/{sky}/ls", ["object_id", "LOG_MSTAR", "MORPHOLOGY"])
            for i, m, t in zip(c["object_id"], c["LOG_MSTAR"], c["MORPHOLOGY"]):
                w.writerow([i.decode() if isinstance(i, bytes) else i, repr(float(m)), MORPH[int(t)]])


def embed(sky, inputs, name, tokens=False):
    out = f"{S}/emb_{sky}_{name}"
    run("embed", "--model", f"{M}/default.afm", "--data", f"{W}/{sky}/matched", "--inputs", ",".join(inputs), "--out", out, "--overwrite",
        *(["--tokens"] if tokens else []))
    return out


def probe(kind, train, test_, target, features, *extra):
    """Mean metrics of a probe fit on `train`, scored on `test_` (None: astrofm's fixed split of `train`)."""
    out = f"{S}/probe_{kind}_{target}_{os.path.basename(train)}_{os.path.basename(test_ or 'split')}.json"
    run("probe", kind, "--train", train, *(["--test", test_] if test_ else []), "--labels-csv", labels, "--target", target,
        "--features", features, "--json", out, *extra)
    return json.load(open(out))["curve"][0]["mean"]


# --- Redshift progression on the simulated sky.
def section_sim_z():
    sets = {"photometry": phot, "+ LS image": phot + ["tok_image"], "+ LS image + spectrum": phot + ["tok_image", "tok_spectrum"],
            "LS image only": ["tok_image"], "HSC image only": ["tok_image_hsc"], "spectrum only": ["tok_spectrum"]}
    results["sim_z"] = {}
    for name, inputs in sets.items():
        key = name.replace(" ", "_").replace("+", "p")
        results["sim_z"][name] = zmetrics(generate("default", test, inputs, "Z", f"z_{key}") + "_report")
    save()
    table("simulated sky: Z from the catalogue, image, spectrum (default model, test sky)", results["sim_z"],
          ["r2", "sigma_nmad", "eta_0.15", "pit_ks", "crps", "coverage_68"])


# --- Survey translation: Legacy Survey image -> HSC-like image.
def section_translation():
    hid, hsc = by_id(f"{W}/test/hsc", ["image_array", "image_ivar"])
    hsc_rows = [hid[i.decode() if isinstance(i, bytes) else i] for i in tcols["hsc_object_id"]]
    true_img, true_ivar = hsc["image_array"][hsc_rows], hsc["image_ivar"][hsc_rows]
    bands = "HSC-G,HSC-R,HSC-I,HSC-Z,HSC-Y"
    g = generate("default", test, ["tok_image"], "image_hsc", "ls_to_hsc", "--steps", "8", "--temperature", "0", "--bands", bands)
    gen_img = read_columns(g, ["image_array"])["image_array"]
    # The codec's floor: the true HSC tokens decoded.
    tok_hsc = f"{S}/tok_hsc_only"
    run("tokenize", *CODECS, "--data", f"{W}/test/hsc", "--modalities", "image", "--out", tok_hsc, "--overwrite")
    run("detokenize", *CODECS, "--data", tok_hsc, "--out", f"{S}/hsc_codec", "--overwrite")
    cid, cdec = by_id(f"{S}/hsc_codec", ["image_array"])
    codec_img = cdec["image_array"][[cid[i.decode() if isinstance(i, bytes) else i] for i in tcols["hsc_object_id"]]]


    def image_scores(pred):
        chi2 = float(np.mean((pred - true_img) ** 2 * true_ivar))
        f_t, f_p = true_img.sum((2, 3)), pred.sum((2, 3))
        err = np.abs(f_p - f_t) / np.maximum(np.abs(f_t), 1e-12)
        return {"chi2_per_pixel": chi2, **{f"flux_err_{b}": float(np.median(err[:, k])) for k, b in enumerate("grizy")}}


    results["translation"] = {"generated from the LS image": image_scores(gen_img), "codec reconstruction of the truth": image_scores(codec_img),
                              "blank image": image_scores(np.zeros_like(true_img))}
    save()
    table("Legacy Survey -> HSC-like image (default model, test sky; median |flux error| per band)", results["translation"],
          ["chi2_per_pixel", "flux_err_g", "flux_err_r", "flux_err_i", "flux_err_z", "flux_err_y"])


# --- Spectra from images.
def section_spectra():
    did, desi = by_id(f"{W}/test/desi", ["spectrum_flux", "spectrum_lambda", "spectrum_ivar"])
    drows = [did[i.decode() if isinstance(i, bytes) else i] for i in tcols["desi_object_id"]]
    t_flux, lam, t_ivar = desi["spectrum_flux"][drows], desi["spectrum_lambda"][drows[0]], desi["spectrum_ivar"][drows]
    pop = read_columns(f"{W}/train/desi", ["spectrum_flux"])["spectrum_flux"].mean(0)


    def spectrum_scores(out, order=None):
        """Generated (or decoded) spectra against the truth on the truth's grid. Pooled R^2
        relative to the population mean, each object's R^2 so (median), the same for shapes
        (every spectrum and the mean divided by its own mean flux), median chi^2 per pixel."""
        c = read_columns(out, ["spectrum_flux", "spectrum_lambda"])
        rows = order if order is not None else range(len(t_flux))
        pred = np.stack([np.interp(lam, c["spectrum_lambda"][i], c["spectrum_flux"][i]) for i in rows])
        ok = (t_ivar > 0) & (lam >= c["spectrum_lambda"][0].min()) & (lam <= c["spectrum_lambda"][0].max())
        e, e_pop = np.where(ok, (pred - t_flux) ** 2, 0), np.where(ok, (pop - t_flux) ** 2, 0)
        norm = lambda x: x / np.maximum(np.abs((x * ok).sum(1, keepdims=True) / ok.sum(1, keepdims=True)), 1e-30)
        ps, ts, pops = norm(pred), norm(t_flux), norm(np.broadcast_to(pop, t_flux.shape))
        es, es_pop = np.where(ok, (ps - ts) ** 2, 0), np.where(ok, (pops - ts) ** 2, 0)
        chi2 = np.array([np.mean(((pred[i] - t_flux[i]) ** 2 * t_ivar[i])[ok[i]]) for i in range(len(pred))])
        return {"r2_vs_population_mean": float(1 - e.sum() / e_pop.sum()),
                "median_object_r2_vs_population_mean": float(np.median(1 - e.sum(1) / e_pop.sum(1))),
                "shape_r2_vs_population_mean": float(1 - es.sum() / es_pop.sum()), "median_chi2_per_pixel": float(np.median(chi2))}

    results["spectra"] = {}
    for model, src in (("default", "tok_image"), ("default", "tok_image_hsc"), ("emergent", "tok_image"), ("emergent", "tok_image_hsc")):
        out = generate(model, test, [src], "spectrum", f"spec_{model}_{src}", "--steps", "8", "--temperature", "0")
        seen = "never paired in training" if (model, src) == ("emergent", "tok_image") else "pairs seen in training"
        results["spectra"][f"{model}: {src[4:]} -> spectrum"] = {**spectrum_scores(out), "pairs": seen}
    # The codec floor for spectra.
    tok_desi = f"{S}/tok_desi_only"
    run("tokenize", *CODECS, "--data", f"{W}/test/desi", "--modalities", "spectrum", "--out", tok_desi, "--overwrite")
    run("detokenize", *CODECS, "--data", tok_desi, "--out", f"{S}/desi_codec", "--overwrite")
    cd_id, _ = by_id(f"{S}/desi_codec", [])
    order = [cd_id[i.decode() if isinstance(i, bytes) else i] for i in tcols["desi_object_id"]]
    results["spectra"]["codec reconstruction of the truth"] = {**spectrum_scores(f"{S}/desi_codec", order), "pairs": ""}
    save()
    table("spectrum generated from an image (test sky; R^2 relative to the population-mean spectrum)", results["spectra"],
          ["r2_vs_population_mean", "median_object_r2_vs_population_mean", "shape_r2_vs_population_mean", "median_chi2_per_pixel", "pairs"])


# --- Real BOSS DR10 redshifts.
def section_boss():
    mags = ["mag_u", "mag_g", "mag_r", "mag_i", "mag_z"]
    results["boss"] = {}
    for model in ("boss_all", "boss_200", "default"):
        r = zmetrics(generate(model, f"{W}/boss_test", [f"tok_{m}" for m in mags], "z", f"boss_{model}") + "_report")
        results["boss"][f"AION {model}"] = r
    features = ",".join(mags + [f"{a}-{b}" for a, b in zip(mags, mags[1:])])
    for kind, extra in (("knn", ["--standardize"]), ("mlp", [])):
        for budget in ("all", "200"):
            out = f"{S}/probe_{kind}_{budget}.json"
            cmd = ["probe", kind, "--train", f"{W}/boss", "--target", "z", "--features", features, "--json", out, *extra]
            if budget == "200":
                cmd += ["--labels", "200", "--repeats", "5"]
            run(*cmd)
            results["boss"][f"{kind} probe, {budget} labels"] = json.load(open(out))["curve"][0]["mean"]
    save()
    table("real BOSS DR10: z from ugriz (astrofm's fixed test split)", results["boss"], ["r2", "sigma_nmad", "eta_0.05", "eta_0.15", "pit_ks", "crps"])


# --- Physical properties from embeddings of input subsets.
def section_properties():
    write_labels()
    results["properties"] = {}
    for name, inputs in subsets.items():
        key = name.replace(" ", "_").replace("+", "p")
        tr, te = embed("train", inputs, key), embed("test", inputs, key)
        mass = probe("knn", tr, te, "LOG_MSTAR", "embedding_aion", "--standardize", "--k", "16")
        morph = probe("logistic", tr, te, "MORPHOLOGY", "embedding_aion", "--balanced")
        results["properties"][f"mean pooling: {name}"] = {"mstar_r2": mass["r2"], "morph_macro_f1": morph["macro_f1"], "morph_accuracy": morph["accuracy"]}
        save()
    # Attentive vs mean pooling on the test sky alone (its fixed 80/20 split), the
    # encoder tokens being large files: 800 objects x every token x dim.
    for name in ("LS image", "photometry + LS image + spectrum"):
        key = name.replace(" ", "_").replace("+", "p")
        te = embed("test", subsets[name], key + "_tokens", tokens=True)
        for pooling, kind, col in (("attentive", "attentive", "tokens_aion"), ("mean", None, "embedding_aion")):
            mass = probe(kind or "knn", te, None, "LOG_MSTAR", col, *([] if kind else ["--standardize", "--k", "16"]))
            morph = probe(kind or "logistic", te, None, "MORPHOLOGY", col, "--balanced")
            results["properties"][f"test-sky split, {pooling}: {name}"] = {"mstar_r2": mass["r2"], "morph_macro_f1": morph["macro_f1"],
                                                                            "morph_accuracy": morph["accuracy"]}
        save()
    table("physical properties from embeddings (simulated; LOG_MSTAR kNN R^2, MORPHOLOGY logistic)", results["properties"],
          ["mstar_r2", "morph_macro_f1", "morph_accuracy"])


# --- Cross-survey transfer of a morphology probe.
def section_transfer():
    if not os.path.exists(labels):
        write_labels()
    ls_tr = f"{S}/emb_train_LS_image"
    hsc_te = embed("test", ["tok_image_hsc"], "HSC_image")
    hsc_tr = embed("train", ["tok_image_hsc"], "HSC_image")
    results["transfer"] = {
        "fit on LS, scored on LS (other galaxies)": probe("logistic", ls_tr, f"{S}/emb_test_LS_image", "MORPHOLOGY", "embedding_aion", "--balanced"),
        "fit on LS, scored on HSC (other galaxies)": probe("logistic", ls_tr, hsc_te, "MORPHOLOGY", "embedding_aion", "--balanced"),
        "fit on HSC, scored on HSC (other galaxies)": probe("logistic", hsc_tr, hsc_te, "MORPHOLOGY", "embedding_aion", "--balanced"),
    }
    results["transfer"] = {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in results["transfer"].items()}
    save()
    table("morphology probe transfer, Legacy Survey -> HSC image embeddings", results["transfer"], ["accuracy", "macro_f1"])


# --- Real Galaxy Zoo morphology.
def section_galaxyzoo():
    gz = f"{S}/gz"
    if os.path.isdir(f"{shared}/galaxyzoo1_sdss"):
        if not os.path.isdir(gz):
            run("import", "images", f"{shared}/galaxyzoo1_sdss/images", "--labels", f"{shared}/galaxyzoo1_sdss/labels.csv", "--crop", "160", "--size", "64",
                "--config", "galaxyzoo", "--out", gz)
        names = {"0": "elliptical", "1": "spiral", "2": "spiral", "3": "edge-on"}
        with open(f"{S}/morph.csv", "w") as f:
            w = csv.writer(f)
            w.writerow(["object_id", "morph"])
            for r in csv.DictReader(open(f"{shared}/galaxyzoo1_sdss/labels.csv")):
                if r["CLASS"] in names:
                    w.writerow([r["OBJID"], names[r["CLASS"]]])
        run("tokenize", *CODECS, "--data", gz, "--modalities", "image", "--out", f"{S}/gz_tok", "--overwrite")
        run("embed", "--model", f"{M}/default.afm", "--data", f"{S}/gz_tok", "--out", f"{S}/gz_emb_aion", "--overwrite")
        run("embed", "--model", "galaxy-cnn-ssl", "--data", gz, "--out", f"{S}/gz_emb_cnn", "--overwrite")
        results["galaxyzoo"] = {}
        for name, emb, col in (("AION image embedding", f"{S}/gz_emb_aion", "embedding_aion"), ("galaxy-cnn-ssl", f"{S}/gz_emb_cnn", "embedding_image")):
            out = f"{S}/gz_{col}.json"
            run("probe", "logistic", "--train", emb, "--labels-csv", f"{S}/morph.csv", "--target", "morph", "--features", col, "--balanced",
                "--curve", "10,all", "--repeats", "5", "--json", out)
            results["galaxyzoo"][name] = {f"f1 @{c['labels'] or 'all'}": c["mean"]["macro_f1"] for c in json.load(open(out))["curve"]}
        save()
        keys = sorted({k for v in results["galaxyzoo"].values() for k in v})
        table("real Galaxy Zoo morphology (3 classes), logistic probe", results["galaxyzoo"], keys)


SECTIONS = ["sim_z", "translation", "spectra", "boss", "properties", "transfer", "galaxyzoo"]
want = sys.argv[3].split(",") if len(sys.argv) > 3 else SECTIONS
for name in want:
    globals()[f"section_{name}"]()
print(f"\nwrote {W}/science.json")
