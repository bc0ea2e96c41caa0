"""astrofm.hats.embed and .predict on a two-worker dask.distributed cluster (CTest HATS.Dask).

The result equals one process's (`astrofm embed --out-format hats`), object for
object; a worker killed with SIGKILL mid-run has its partitions redone, nothing
lost or duplicated; each worker builds the model once.

Run: PYTHONPATH=BUILD build/hats-venv/bin/python tests/hats/dask_embed.py BUILD_DIR
"""
import os
import signal
import subprocess
import sys
import tempfile

import numpy as np

BUILD = os.path.abspath(sys.argv[1])
ASTROFM = os.path.join(BUILD, "tools", "astrofm", "astrofm")
ENV = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="1")


def run(*args):
    p = subprocess.run([ASTROFM, *map(str, args)], capture_output=True, text=True, env=ENV)
    assert p.returncode == 0, f"astrofm {args}: {p.stderr}"


def embeddings(path):
    import lsdb
    df = lsdb.open_catalog(path).compute()
    ids = df["object_id"].astype(str).tolist()
    assert len(ids) == len(set(ids)), f"{path}: {len(ids) - len(set(ids))} objects written twice"
    return {i: np.asarray(v, dtype=np.float32) for i, v in zip(ids, df["embedding_image"])}


def same(ref, got, what):
    assert set(ref) == set(got), f"{what}: {len(set(ref) - set(got))} objects lost, {len(set(got) - set(ref))} extra"
    worst = max(float(np.max(np.abs(ref[i] - got[i]))) for i in ref)
    assert worst <= 1e-5, f"{what}: embeddings differ by up to {worst}"
    print(f"ok: {what}: {len(ref)} objects, largest difference {worst:.2g}")


def main():
    from dask.distributed import Client, LocalCluster, WorkerPlugin
    import astrofm.hats

    class KillOnce(WorkerPlugin):
        """SIGKILLs the worker process after it finished `after` tasks, once per run."""

        def __init__(self, marker, after):
            self.marker, self.after, self.done = marker, after, 0

        def transition(self, key, start, finish, **kwargs):
            if finish == "memory":
                self.done += 1
                if self.done == self.after and not os.path.exists(self.marker):
                    open(self.marker, "w").close()
                    os.kill(os.getpid(), signal.SIGKILL)

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "sim")
        run("simulate", "--objects", 400, "--out", src, "--image-size", 64, "--no-spectra", "--region", 10, 40, -10, 20,
            "--threads", 1)
        cat = os.path.join(tmp, "sim.hats")
        run("copy", src, "--out", cat)
        ref_path = os.path.join(tmp, "ref.hats")
        run("embed", "--model", "galaxy-cnn-ssl", "--data", cat, "--out", ref_path, "--out-format", "hats")
        ref = embeddings(ref_path)

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
            out = astrofm.hats.embed(cat, "galaxy-cnn-ssl", os.path.join(tmp, "dask.hats"))
            built = client.run(astrofm.hats.models_built)
            assert sorted(built.values()) == [1, 1], f"models built per worker: {built}"
            print(f"ok: each of the 2 workers built the model once ({built})")
            same(ref, embeddings(out), "two Dask workers == one process")

            marker = os.path.join(tmp, "killed")
            client.register_plugin(KillOnce(marker, after=5), name="kill-once")
            out2 = astrofm.hats.embed(cat, "galaxy-cnn-ssl", os.path.join(tmp, "dask_killed.hats"))
            assert os.path.exists(marker), "no worker was killed: the test did not test anything"
            same(ref, embeddings(out2), "a worker SIGKILLed mid-run")
            client.unregister_worker_plugin("kill-once")

            # A saved probe applied per partition equals the probe applied to every object at once.
            truth = os.path.join(tmp, "truth.hats")
            run("xmatch", ref_path, cat, "--radius", 0.5, "--config", "truth", "--out", truth, "--out-format", "hats")
            probe = os.path.join(tmp, "z.probe")
            run("probe", "ridge", "--train", truth, "--features", "embedding_image", "--target", "Z", "--save", probe)
            preds = astrofm.hats.predict(ref_path, probe, os.path.join(tmp, "z_pred.hats"))
            import lsdb
            got = lsdb.open_catalog(preds).compute()
            ids = sorted(ref)
            want = dict(zip(ids, astrofm._core.SavedProbe(probe).predict(np.stack([ref[i] for i in ids]))))
            assert len(got) == len(ref) and got["object_id"].is_unique
            worst = max(abs(float(p) - want[o]) for o, p in zip(got["object_id"], got["predicted"]))
            assert worst <= 1e-6, worst

            # AION tokens per partition equal `astrofm tokenize --out-format hats`.
            tok_ref = os.path.join(tmp, "tok_ref.hats")
            run("tokenize", "--codecs", "codecs-scalar", "codec-image", "--data", cat, "--out", tok_ref, "--out-format", "hats")
            tok = astrofm.hats.tokenize(cat, ["codecs-scalar", "codec-image"], os.path.join(tmp, "tok.hats"))
            (rc, rt), (gc, gt) = tokens(tok_ref), tokens(tok)
            assert rc == gc and "tok_image" in rc and set(rt) == set(gt), (rc, gc)
            assert all(np.array_equal(a, b) for o in rt for a, b in zip(rt[o], gt[o])), "tokens differ"
            print(f"ok: astrofm.hats.tokenize: {len(gt)} objects, {', '.join(gc)} equal to astrofm tokenize")
            print(f"ok: astrofm.hats.predict: a saved probe on {len(got)} objects over Dask equals it on all at once ({worst:.2g})")
        assert not os.path.exists(os.path.join(tmp, "dask.hats.partial"))
    print("HATS Dask: all passed")


def tokens(path):
    import lsdb
    df = lsdb.open_catalog(path).compute()
    cols = sorted(c for c in df.columns if c.startswith("tok_"))
    return cols, {o: [np.asarray(df[c].iloc[k]) for c in cols] for k, o in enumerate(df["object_id"].astype(str))}


if __name__ == "__main__":
    main()
