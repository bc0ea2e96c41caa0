"""Finding rare objects (docs/discovery.md): rank a catalogue by likeness to a
few examples, or by how unusual each object is, then label and re-rank.

    from astrofm.discover import Discovery, anomalies
    d = Discovery.open("out/emb")                 # an embedding catalogue (or Discovery(vectors, ids))
    d.label(["587722952767439450", "587722953303916935"], True)
    top = d.suggest(10)                           # object ids to look at next
    d.label(top[:3], False); d.label(top[3:], True)
    d.scores()                                    # one score per object, higher = more like the interesting ones
    d.save_labels("labels.csv")                   # object_id,label; astrofm discover --labels reads it
    s = anomalies(vectors, method="iforest")      # scikit-learn's IsolationForest; lof and knn run in astrofm's core

Few-shot ranking, LOF, k-NN distances and the acquisition rules are the C++
core `astrofm discover` uses (astrofm._core); the isolation forest is
scikit-learn's.
"""
import csv

import numpy as np

from . import _core

__all__ = ["similar", "blend", "anomalies", "next_to_label", "ranking_metrics", "canonical_pixels", "morphology", "Discovery", "ANOMALY_METHODS"]

ANOMALY_METHODS = ("lof", "knn", "iforest")


def _matrix(x, what):
    a = np.asarray(x, dtype=np.float32)
    if a.ndim != 2:
        raise ValueError(f"{what}: expected a 2-d array [objects, dimensions], got shape {a.shape}")
    return np.ascontiguousarray(a)


def similar(catalogue, positives, negatives=None, *, method="pu", C=0.01, negative_weight=1.0, mean_negative_weight=0.25,
            standardize=True, background=50000, seed=0, prior=None, prior_weight=0.25):
    """One score per catalogue row, higher = more like `positives` (row numbers
    into the catalogue, or vectors [k, d]) and less like `negatives`. With
    `prior` (one score per row, e.g. `anomalies(pixels)`), the result is
    blend(scores, prior, prior_weight): rarity weighs in (docs/discovery.md)."""
    cat = _matrix(catalogue, "catalogue")
    labelled = []

    def vectors(ex, what):
        if ex is None:
            return None
        ex = np.asarray(ex)
        if ex.ndim == 1 and np.issubdtype(ex.dtype, np.integer):
            bad = ex[(ex < 0) | (ex >= len(cat))]
            if len(bad):
                raise KeyError(f"{what}: rows {bad[:10].tolist()} are not in a catalogue of {len(cat)}")
            labelled.extend(ex.tolist())
            return cat[ex]
        return _matrix(ex, what)

    pos, neg = vectors(positives, "positives"), vectors(negatives, "negatives")
    s = _core.rank_similar(cat, pos, neg, np.asarray(labelled, dtype=np.int64), method=method, C=C,
                           negative_weight=negative_weight, mean_negative_weight=mean_negative_weight,
                           standardize=standardize, background=background, seed=seed)
    return s if prior is None else blend(s, prior, prior_weight)


def blend(scores, prior, weight=0.25):
    """(1 - weight) x rank fraction of `scores` + weight x rank fraction of
    `prior` (ties share their mean rank): relevance weighed by rarity, as
    Astronomaly does (docs/discovery.md)."""
    return _core.blend_with_prior(np.asarray(scores, dtype=float).tolist(), np.asarray(prior, dtype=float).tolist(), float(weight))


def anomalies(x, method="lof", k=20, *, standardize=True, index="auto", nprobe=32, random_state=0, n_estimators=300):
    """One anomaly score per row, higher = more unusual: lof (local outlier
    factor), knn (mean distance to the k nearest; `index` auto (exact up to
    200,000 objects, then ivfsq8), flat, hnsw or ivf* with `nprobe` lists
    visited) or iforest (scikit-learn's IsolationForest)."""
    x = _matrix(x, "catalogue")
    if method == "iforest":
        from sklearn.ensemble import IsolationForest
        z = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1) if standardize else x
        forest = IsolationForest(n_estimators=n_estimators, random_state=random_state).fit(z)
        return -forest.score_samples(z)
    if method not in ANOMALY_METHODS:
        raise ValueError(f"anomalies: method {method!r}: one of {', '.join(ANOMALY_METHODS)}")
    return _core.anomaly_scores(x, method=method, k=k, standardize=standardize, index=index, nprobe=nprobe)


def morphology(images):
    """Morphology statistics of cutouts [n, bands, height, width] as a dict
    of [n] arrays: asymmetry, concentration, gini, m20, smoothness, peaks,
    second_peak, peak_separation, ellipticity, size, colour_centre,
    colour_outer, pieces, light_outside_main_piece (docs/discovery.md)."""
    x, names = _core.morphology(np.ascontiguousarray(images, dtype=np.float32))
    return {n: x[:, i] for i, n in enumerate(names)}


def canonical_pixels(images):
    """Cutouts [n, bands, height, width] rotated and mirrored to one
    orientation (the major axis of the light along x, the brighter half left
    and on top) and scaled to unit total light: orientation- and
    brightness-free pixels for few-shot retrieval."""
    return _core.canonical_pixels(np.ascontiguousarray(images, dtype=np.float32))


def next_to_label(scores, labels, n, acquisition="top"):
    """Rows to show next: labels per row 1 (interesting), 0 (not), -1 (none);
    acquisition top, uncertain or mix (docs/discovery.md)."""
    return _core.next_to_label(np.asarray(scores, dtype=float).tolist(), np.asarray(labels, dtype=np.int8).tolist(), int(n),
                               acquisition)


def ranking_metrics(scores, truth):
    """Average precision, precision@20, nDCG@10 and recall@100 of a ranking against 0/1 truth."""
    return _core.ranking_metrics(np.asarray(scores, dtype=float).tolist(), np.asarray(truth, dtype=np.int8).tolist())


class Discovery:
    """An active-learning loop over one catalogue in memory: label objects
    interesting or not, get scores and suggestions; labels save as CSV.
    `prior`: one score per object (e.g. `anomalies` of the pixels) blended
    into every ranking at `prior_weight` (see `similar`)."""

    def __init__(self, vectors, ids, *, method="pu", acquisition="top", C=0.01, prior=None, prior_weight=0.25):
        self.vectors = _matrix(vectors, "vectors")
        self.ids = [str(i) for i in ids]
        if len(self.ids) != len(self.vectors):
            raise ValueError(f"{len(self.ids)} ids for {len(self.vectors)} vectors")
        if len(self.ids) == 0:
            raise ValueError("the catalogue is empty")
        self.row = {i: r for r, i in enumerate(self.ids)}
        self.labels = np.full(len(self.ids), -1, dtype=np.int8)
        self.method, self.acquisition, self.C = method, acquisition, C
        self.prior = None if prior is None else np.asarray(prior, dtype=float)
        if self.prior is not None and self.prior.shape != (len(self.ids),):
            raise ValueError(f"prior: {self.prior.shape} scores for a catalogue of {len(self.ids)} objects")
        self.prior_weight = prior_weight

    @classmethod
    def open(cls, path, column=None, **kw):
        """An embedding catalogue (astrofm embed; MMU or HATS) by path."""
        ds = _core.Dataset(path)
        if column is None:
            emb = [c for c in ds.columns if c.startswith("embedding_")]
            if len(emb) != 1:
                raise ValueError(f"{path}: {len(emb)} embedding columns ({', '.join(emb)}); pick one with column=")
            column = emb[0]
        t = ds.read(columns=["object_id", column])
        v = np.asarray(t[column], dtype=np.float32).reshape(len(t["object_id"]), -1)
        return cls(v, t["object_id"], **kw)

    def _rows(self, ids):
        missing = [i for i in map(str, ids) if i not in self.row]
        if missing:
            raise KeyError(f"{len(missing)} ids are not in the catalogue: {', '.join(missing[:10])}")
        return [self.row[str(i)] for i in ids]

    def label(self, ids, interesting):
        """Labels objects (ids) interesting (True) or not (False)."""
        self.labels[self._rows(ids)] = 1 if interesting else 0
        return self

    def scores(self):
        pos = np.flatnonzero(self.labels == 1)
        if len(pos) == 0:
            raise ValueError("label at least one object interesting first")
        neg = np.flatnonzero(self.labels == 0)
        return similar(self.vectors, pos, neg if len(neg) else None, method=self.method, C=self.C, prior=self.prior,
                       prior_weight=self.prior_weight)

    def suggest(self, n=10, acquisition=None):
        rows = next_to_label(self.scores(), self.labels, n, acquisition or self.acquisition)
        return [self.ids[r] for r in rows]

    def save_labels(self, path):
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["object_id", "label"])
            for r in np.flatnonzero(self.labels >= 0):
                w.writerow([self.ids[r], int(self.labels[r])])

    def load_labels(self, path):
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
        yes = {"1", "yes", "true", "interesting"}
        no = {"0", "no", "false", "not"}
        bad = [r for r in rows if r.get("label", "").strip().lower() not in yes | no]
        if bad:
            raise ValueError(f"{path}: label {bad[0].get('label')!r} for {bad[0].get('object_id')} (1/0, yes/no, interesting/not)")
        rr = self._rows([r["object_id"] for r in rows])
        for r, row in zip(rr, rows):
            self.labels[r] = 1 if row["label"].strip().lower() in yes else 0
        return self
