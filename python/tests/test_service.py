"""`astrofm serve` against real clients: the Python Client, urllib, pyvo and
astropy's VOTable parser, on a server started by the test."""
import concurrent.futures
import io
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
from pathlib import Path

from conftest import ASTROFM, run
from servers import TOKEN, sim_images, start_server, stop

import astrofm
from astrofm import Client

@pytest.fixture(scope="module")
def served(sim, aion_model, tmp_path_factory):
    d = tmp_path_factory.mktemp("serve")
    # A photo-z probe on the image embeddings: the truth joined to the embedding catalogue.
    run("xmatch", str(sim / "emb"), str(sim / "sim"), "--radius", "0.1", "--config", "withz", "--out", str(d / "embz"))
    run("probe", "knn", "--train", str(d / "embz"), "--features", "embedding_image", "--target", "Z", "--k", "3",
        "--save", str(d / "z.probe"))
    (d / "tokens").write_text("# tokens, one a line\n" + TOKEN + "\n")
    p, url = start_server(d, "--model", "galaxy-cnn-ssl", "--model", aion_model, "--index", f"sim={sim / 'ix'}",
                          "--data", f"simdata={sim / 'sim'}", "--data", f"tok={sim / 'tok'}", "--probe", f"z={d / 'z.probe'}",
                          "--token-file", str(d / "tokens"), "--max-body", "3000000", "--batch-wait-us", "100000")
    yield {"url": url, "dir": d, "sim": sim, "client": Client(url, token=TOKEN)}
    stop(p)


def reference_embeddings(sim):
    t = astrofm.open_dataset(str(sim / "emb")).read()
    ids = [i.decode() if isinstance(i, bytes) else str(i) for i in t["object_id"]]
    return dict(zip(ids, t["embedding_image"]))


def post_over_socket(url, path, declared, sent):
    """POST with a declared Content-Length and `sent` bytes of body; the raw reply."""
    import socket
    host, port = url.split("//")[1].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {declared}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode())
        try:
            sock.sendall(b"x" * sent)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the body was read
        reply = b""
        try:  # the answer, headers and body (the server closes the connection after its keep-alive timeout)
            while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < int(
                    reply.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0] if b"Content-Length: " in reply else 0):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
        except ConnectionResetError:
            pass
    return reply


def raw(url, path, body=None, ctype="application/json", token=TOKEN, method=None):
    h = {"Content-Type": ctype}
    if token:
        h["Authorization"] = "Bearer " + token
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url + path, data=data, headers=h, method=method or ("POST" if data is not None else "GET"))
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_embeddings_are_those_of_astrofm_embed_in_every_form(served):
    c, sim = served["client"], served["sim"]
    ids, x, bands, table = sim_images(sim)
    ref = reference_embeddings(sim)
    want = np.stack([ref[i] for i in ids])
    got = c.embeddings(x, "galaxy-cnn-ssl", bands=bands)  # .npy both ways
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-5)
    s, h, body = raw(served["url"], "/v1/embeddings", {"model": "galaxy-cnn-ssl", "images": x[:3].tolist(), "bands": bands})
    assert s == 200, body
    j = json.loads(body)
    assert j["model"] == "galaxy-cnn-ssl" and j["dim"] == want.shape[1]
    np.testing.assert_allclose(np.array(j["embeddings"]), want[:3], atol=2e-5)
    # An MMU HDF5 partition uploaded as it is.
    part = next(p for p in (sim / "sim").rglob("*.hdf5"))
    s, h, body = raw(served["url"], "/v1/embeddings?model=galaxy-cnn-ssl", part.read_bytes(), "application/x-hdf5")
    assert s == 200, body
    assert len(json.loads(body)["embeddings"]) >= 1


def test_concurrent_requests_are_batched_together(served):
    c, sim = served["client"], served["sim"]
    ids, x, bands, _ = sim_images(sim)
    before = c.health()["batching"]["galaxy-cnn-ssl"]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda i: c.embeddings(x[i % len(x)][None], "galaxy-cnn-ssl", bands=bands), range(8)))
    after = c.health()["batching"]["galaxy-cnn-ssl"]
    assert after["requests"] - before["requests"] == 8
    assert after["batches"] - before["batches"] < 8, after  # some requests shared a forward pass
    ref = reference_embeddings(sim)
    for i, o in enumerate(outs):
        np.testing.assert_allclose(o[0], ref[ids[i % len(x)]], atol=2e-5)


def test_mission_example_embeddings_then_scikit_learn(served):
    from sklearn.neighbors import KNeighborsRegressor
    c, sim = served["client"], served["sim"]
    ids, x, bands, t = sim_images(sim)
    z = t["Z"]
    x_train, y_train, x_test = x[:8], z[:8], x[8:]
    X = c.embeddings(x_train, "galaxy-cnn-ssl")  # as the mission writes it: no band names (g, r, z flux)
    np.testing.assert_allclose(X, c.embeddings(x_train, "galaxy-cnn-ssl", bands=bands), atol=2e-5)
    knn = KNeighborsRegressor(n_neighbors=3).fit(X, y_train)
    pred = knn.predict(c.embeddings(x_test, "galaxy-cnn-ssl"))
    assert pred.shape == (len(x_test),) and np.all(np.isfinite(pred))


def test_search_by_id_vector_and_upload_agree_with_the_library(served):
    c, sim = served["client"], served["sim"]
    ids, x, bands, _ = sim_images(sim)
    ix = astrofm.open_index(str(sim / "ix"))
    want = [str(i) for i in ix.search(id=ids[0], k=4)["object_id"]]
    hits = c.search(id=ids[0], index="sim", k=4)
    assert [h["object_id"] for h in hits] == want and all(h["object_id"] != ids[0] for h in hits)
    assert all(hits[i]["score"] >= hits[i + 1]["score"] for i in range(3))
    ref = reference_embeddings(sim)
    by_vec = c.search(vector=ref[ids[0]], index="sim", k=5)
    assert by_vec[0]["object_id"] == ids[0] and abs(by_vec[0]["score"] - 1) < 1e-4
    by_img = c.search(image=x[0], bands=bands, index="sim", k=5)
    assert by_img[0]["object_id"] == ids[0]
    # A cone keeps only objects inside it.
    ra, dec = hits[0]["ra"], hits[0]["dec"]
    inside = c.search(id=ids[0], index="sim", k=10, cone=(ra, dec, 0.5))
    assert inside and all(astrofm_sep(ra, dec, h["ra"], h["dec"]) <= 0.5 + 1e-9 for h in inside)


def astrofm_sep(ra1, dec1, ra2, dec2):
    from astropy.coordinates import SkyCoord
    return SkyCoord(ra1, dec1, unit="deg").separation(SkyCoord(ra2, dec2, unit="deg")).deg


def test_predict_by_ids_embeddings_and_images_agree(served):
    c, sim = served["client"], served["sim"]
    ids, x, bands, _ = sim_images(sim)
    ref = reference_embeddings(sim)
    a = c.predict("z", ids=ids[:4])
    b = c.predict("z", embeddings=np.stack([ref[i] for i in ids[:4]]))
    d = c.predict("z", images=x[:4], bands=bands)
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(a, d, rtol=1e-4)
    # The saved probe is the CLI's: kNN with k = 3 over the labelled objects.
    assert np.all((a > 0) & (a < 3))


def test_uploads_are_decoded_in_memory_without_scratch_files(served, tmp_path):
    """JPEG, FITS, .npy, JSON and HDF5 uploads with TMPDIR a regular file (so
    a scratch folder would fail even as root), each giving what `astrofm
    import` + `astrofm embed` give for the same file."""
    from conftest import ROOT
    jpg = sorted(Path(ROOT, "data", "sample", "galaxyzoo1_sdss", "images").glob("*.jpeg"))[0]
    fits = Path(ROOT, "data", "sample", "legacysurvey_cutout_fixture", "test_image.fits")
    want = {}
    for kind, args in (("jpg", ["images", str(jpg)]), ("fits", ["fits-cutout", str(fits)])):
        run("import", *args, "--out", str(tmp_path / kind))
        run("embed", "--model", "galaxy-cnn-ssl", "--data", str(tmp_path / kind), "--out", str(tmp_path / (kind + "_emb")))
        want[kind] = astrofm.open_dataset(str(tmp_path / (kind + "_emb"))).read()["embedding_image"]
    not_a_dir = tmp_path / "not-a-directory"
    not_a_dir.write_text("")
    p, url = start_server(tmp_path, "--model", "galaxy-cnn-ssl", env=dict(os.environ, TMPDIR=str(not_a_dir)))
    try:
        s, _, body = raw(url, "/v1/embeddings?model=galaxy-cnn-ssl&bands=SDSS-I,SDSS-R,SDSS-G", jpg.read_bytes(), "image/jpeg", token=None)
        assert s == 200, body
        np.testing.assert_allclose(np.array(json.loads(body)["embeddings"]), want["jpg"], atol=2e-5)
        s, _, body = raw(url, "/v1/embeddings?model=galaxy-cnn-ssl", fits.read_bytes(), "application/fits", token=None)
        assert s == 200, body
        np.testing.assert_allclose(np.array(json.loads(body)["embeddings"]), want["fits"], atol=2e-5)
        _, x, bands, _ = sim_images(served["sim"])
        s, _, body = raw(url, "/v1/embeddings", {"model": "galaxy-cnn-ssl", "images": x[:2].tolist(), "bands": bands}, token=None)
        assert s == 200, body
        npy = io.BytesIO()
        np.save(npy, x[:2])
        s, _, body = raw(url, "/v1/embeddings?model=galaxy-cnn-ssl&bands=" + ",".join(bands), npy.getvalue(), "application/x-npy",
                         token=None)
        assert s == 200, body
        # An MMU partition file, read from memory by the reader process.
        part = next((tmp_path / "jpg").rglob("*.hdf5"))
        s, _, body = raw(url, "/v1/embeddings?model=galaxy-cnn-ssl", part.read_bytes(), "application/x-hdf5", token=None)
        assert s == 200, body
        np.testing.assert_allclose(np.array(json.loads(body)["embeddings"]), want["jpg"], atol=2e-5)
    finally:
        stop(p)


def test_objects_and_cutouts(served):
    from PIL import Image
    c, sim = served["client"], served["sim"]
    ids, _, _, t = sim_images(sim)
    m = c.object(ids[1])
    assert m["object_id"] == ids[1] and set(m["found_in"]) >= {"simdata", "sim"}
    assert abs(m["columns"]["simdata"]["Z"] - float(t["Z"][1])) < 1e-12
    png = Image.open(io.BytesIO(c.cutout(ids[1], size=64)))
    assert png.size == (64, 64) and png.mode == "RGB"
    with pytest.raises(KeyError):
        c.object("../../etc/passwd")  # ids are looked up, never opened


def test_auth_limits_and_errors_answer_json(served):
    url = served["url"]
    s, h, body = raw(url, "/v1/models", token=None)
    assert s == 401 and json.loads(body)["error"]["kind"] == "unauthorized" and "Bearer" in h.get("WWW-Authenticate", "")
    s, _, body = raw(url, "/v1/models", token="wrong-token-0123456789abcdef")
    assert s == 401
    assert raw(url, "/v1/health", token=None)[0] == 200  # health needs no token
    # Over-limit bodies are refused on the headers alone (413, Connection: close): a
    # declared 300 MB body that never comes gets its answer at once, not after the
    # 30-s read timeout; a 3.1 MB body being sent gets the 413 (the client may see
    # its send cut short: the server does not read what it refuses).
    import time
    for declared, sent in ((300_000_000, 0), (3_100_000, 3_100_000)):
        t0 = time.monotonic()
        reply = post_over_socket(url, "/v1/embeddings", declared, sent)
        assert time.monotonic() - t0 < 2, "the 413 waited for the body"
        assert reply.startswith(b"HTTP/1.1 413") and b"too_large" in reply and str(declared).encode() in reply, reply[:300]
    s, _, body = raw(url, "/v1/embeddings", b"{not json", "application/json")
    assert s == 400 and "JSON" in json.loads(body)["error"]["message"]
    _, x, _, _ = sim_images(served["sim"])
    s, _, body = raw(url, "/v1/embeddings", {"model": "galaxy-cnn-ssl", "images": x[:1].tolist(), "bands": ["A", "B"]})
    assert s == 400 and "2 band names for images of 3 bands" in json.loads(body)["error"]["message"]
    s, _, body = raw(url, "/v1/embeddings", {"model": "galaxy-cnn-ssl", "images": [[[[1, "a"]]]], "bands": ["A"]})
    assert s == 400 and "images[0][0][0][1]" in json.loads(body)["error"]["message"]
    s, _, body = raw(url, "/v1/search", {"index": "nope", "id": "x"})
    assert s == 404 and "not served" in json.loads(body)["error"]["message"]
    s, _, body = raw(url, "/v1/search", {"index": "sim", "id": "x", "k": 0})
    assert s == 400 and "k" in json.loads(body)["error"]["message"]
    bad = io.BytesIO()
    np.save(bad, np.zeros((2, 3), ">f4"))
    s, _, body = raw(url, "/v1/embeddings?model=galaxy-cnn-ssl", bad.getvalue(), "application/x-npy")
    assert s == 400 and "big-endian" in json.loads(body)["error"]["message"]
    with pytest.raises(PermissionError):
        Client(url).models()
    # Five unnamed bands: the model says what it takes.
    with pytest.raises(ValueError, match="5 bands without image_band names"):
        served["client"].embeddings(np.zeros((1, 5, 8, 8), np.float32), "galaxy-cnn-ssl")


def test_a_busy_server_answers_503_with_retry_after(sim, tmp_path):
    p, url = start_server(tmp_path, "--model", "galaxy-cnn-ssl", "--max-inflight", "1", "--batch-wait-us", "1500000")
    try:
        t = astrofm.open_dataset(str(sim / "sim")).read()
        bands = [b.decode() if isinstance(b, bytes) else str(b) for b in t["image_band"][0]]
        body = {"model": "galaxy-cnn-ssl", "images": t["image_array"][:1].tolist(), "bands": bands}
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(raw, url, "/v1/embeddings", body, "application/json", None)
            time.sleep(0.5)
            s, h, b = raw(url, "/v1/embeddings", body, token=None)
            assert s == 503 and h.get("Retry-After") == "1" and json.loads(b)["error"]["kind"] == "busy"
            assert slow.result()[0] == 200
        # The client waits and retries on its own.
        assert Client(url).embeddings(t["image_array"][:1], "galaxy-cnn-ssl", bands=bands).shape[0] == 1
    finally:
        stop(p)


def test_serving_beyond_loopback_needs_a_token(tmp_path):
    r = subprocess.run([ASTROFM, "serve", "--host", "0.0.0.0", "--port", "0", "--model", "galaxy-cnn-ssl"], capture_output=True, text=True)
    assert r.returncode == 2 and "token" in r.stderr


def test_cone_search_with_pyvo_and_astropy(served):
    pyvo = pytest.importorskip("pyvo")
    import requests
    from astropy.io.votable import parse
    sim = served["sim"]
    ids, _, _, t = sim_images(sim)
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + TOKEN
    ra0, dec0 = float(t["ra"][0]), float(t["dec"][0])
    res = pyvo.dal.SCSService(served["url"] + "/scs/simdata", session=session).search(pos=(ra0, dec0), radius=0.5)
    want = {ids[i] for i in range(len(ids)) if astrofm_sep(ra0, dec0, t["ra"][i], t["dec"][i]) <= 0.5}
    assert {r.id.decode() if isinstance(r.id, bytes) else str(r.id) for r in res} == want
    rec = res[0]
    assert abs(rec.pos.ra.deg - ra0) < 1 and "Z" in res.fieldnames
    # The similarity extension on an index: ranked by score within the cone.
    like = pyvo.dal.SCSService(served["url"] + "/scs/sim", session=session).search(pos=(ra0, dec0), radius=1.0, LIKE=ids[0], K=3)
    scores = list(like["score"])
    assert len(scores) <= 3 and scores == sorted(scores, reverse=True)
    # SR=0: metadata only; bad parameters: INFO name="Error" (pyvo raises DALQueryError).
    s, _, body = raw(served["url"], "/scs/simdata?RA=0&DEC=90&SR=0")
    v = parse(io.BytesIO(body), verify="exception")
    tab = v.get_first_table()
    assert len(tab.array) == 0 and {f.ucd for f in tab.fields} >= {"ID_MAIN", "POS_EQ_RA_MAIN", "POS_EQ_DEC_MAIN"}
    assert [f.ucd for f in tab.fields].count("ID_MAIN") == 1
    with pytest.raises(pyvo.dal.DALQueryError, match="DEC"):
        pyvo.dal.SCSService(served["url"] + "/scs/simdata?", session=session).search(pos=(10, 0), radius=0.1, DEC="north")
    if shutil.which("stilts"):
        s, _, body = raw(served["url"], f"/scs/simdata?RA={ra0}&DEC={dec0}&SR=1")
        f = served["dir"] / "cone.xml"
        f.write_bytes(body)
        lint = subprocess.run(["stilts", "votlint", str(f)], capture_output=True, text=True)
        assert lint.returncode == 0 and not lint.stdout.strip() and "ERROR" not in lint.stderr, lint.stdout + lint.stderr


def test_a_fits_cutout_upload_embeds_as_astrofm_import_and_embed_do(served, tmp_path):
    from conftest import ROOT
    fits = os.path.join(ROOT, "data", "sample", "legacysurvey_cutout_fixture", "test_image.fits")
    run("import", "fits-cutout", fits, "--out", str(tmp_path / "ls"))
    run("embed", "--model", "galaxy-cnn-ssl", "--data", str(tmp_path / "ls"), "--out", str(tmp_path / "emb"))
    want = astrofm.open_dataset(str(tmp_path / "emb")).read()["embedding_image"]
    s, _, body = raw(served["url"], "/v1/embeddings?model=galaxy-cnn-ssl", open(fits, "rb").read(), "application/fits")
    assert s == 200, body
    np.testing.assert_allclose(np.array(json.loads(body)["embeddings"]), want, atol=2e-5)
    s, _, body = raw(served["url"], "/v1/embeddings?model=galaxy-cnn-ssl", b"SIMPLE  =  T" + b" " * 100, "application/fits")
    assert s == 400 and "upload.fits" in json.loads(body)["error"]["message"]


def test_an_hdf5_file_that_crashes_libhdf5_is_one_400(served):
    from conftest import ROOT
    # Found by fuzz_hdf5: libhdf5 1.10 dies with SIGSEGV inside H5Dread on it; the server reads uploads in a child.
    bad = os.path.join(ROOT, "fuzz", "corpus", "hdf5", "libhdf5-segv-h5dread.hdf5")
    s, _, body = raw(served["url"], "/v1/embeddings?model=galaxy-cnn-ssl", open(bad, "rb").read(), "application/x-hdf5")
    assert s == 400, body
    assert "upload.hdf5" in json.loads(body)["error"]["message"]
    assert served["client"].health()["status"] == "ok"  # and the server is still there


def test_hostile_requests_get_one_clear_error_and_the_server_stays_up(served, tmp_path):
    import h5py
    url = served["url"]
    s, _, body = raw(url, "/static/%FF", token=None)  # an undecodable path, no token
    assert s == 404 and json.loads(body)["error"]["kind"] == "not_found"
    s, _, body = raw(url, "/v1/objects/%FF%FE")
    assert s == 400 and "UTF-8" in json.loads(body)["error"]["message"]
    empty = io.BytesIO()
    np.save(empty, np.zeros((1, 3, 0, 64), "<f4"))
    s, _, body = raw(url, "/v1/embeddings?model=galaxy-cnn-ssl&bands=G,R,Z", empty.getvalue(), "application/x-npy")
    assert s == 400 and "empty axis" in json.loads(body)["error"]["message"]
    ids, _, _, _ = sim_images(served["sim"])
    s, _, body = raw(url, "/v1/search", {"index": "sim", "id": ids[0], "query_modality": "../../etc"})
    assert s == 400 and "query_modality" in json.loads(body)["error"]["message"]
    # An HDF5 upload that points at another file of the server.
    f = tmp_path / "link.hdf5"
    with h5py.File(f, "w") as h:
        h["object_id"] = h5py.ExternalLink("/etc/passwd", "/x")
        h["image_array"] = np.zeros((1, 3, 4, 4), "f4")
    s, _, body = raw(url, "/v1/embeddings?model=galaxy-cnn-ssl", f.read_bytes(), "application/x-hdf5")
    assert s == 400 and "self-contained" in json.loads(body)["error"]["message"]
    assert served["client"].health()["status"] == "ok"


def test_without_tokens_only_loopback_host_names_are_answered(sim, tmp_path):
    p, url = start_server(tmp_path, "--model", "galaxy-cnn-ssl")
    try:
        req = urllib.request.Request(url + "/v1/models", headers={"Host": "attacker.example:80"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 403
        assert Client(url).models()["models"][0]["name"] == "galaxy-cnn-ssl"
    finally:
        stop(p)


def test_the_openapi_file_describes_every_route_the_server_answers(served):
    yaml = pytest.importorskip("yaml")
    from conftest import ROOT
    spec = yaml.safe_load(open(os.path.join(ROOT, "docs", "openapi.yaml")))
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    ids, _, _, _ = sim_images(served["sim"])
    # Each documented GET path answers something other than "no such route" here.
    concrete = {"/scs/{name}": "/scs/simdata?RA=0&DEC=0&SR=0", "/v1/objects/{id}": "/v1/objects/" + ids[0],
                "/v1/objects/{id}/cutout.png": f"/v1/objects/{ids[0]}/cutout.png"}
    for path, ops in paths.items():
        for method in ops:
            if method != "get":
                continue
            s, _, body = raw(served["url"], concrete.get(path, path))
            assert s == 200, (path, s, body[:200])
    for path in ("/v1/embeddings", "/v1/search", "/v1/predict", "/v1/generate", "/v1/discover"):
        assert "post" in paths[path]
        s, _, body = raw(served["url"], path, {})
        assert s == 400, (path, s, body)  # routed, and an empty request is a clear 400
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_a_request_past_its_deadline_gets_504_and_writes_are_refused(sim, tmp_path):
    # --timeout 1 with a batch that waits 3 s for company: the request's deadline passes first.
    p, url = start_server(tmp_path, "--model", "galaxy-cnn-ssl", "--timeout", "1", "--batch-wait-us", "3000000")
    try:
        t = astrofm.open_dataset(str(sim / "sim")).read()
        body = {"model": "galaxy-cnn-ssl", "images": t["image_array"][:1].tolist()}
        t0 = time.monotonic()
        s, _, b = raw(url, "/v1/embeddings", body, token=None)
        assert s == 504 and json.loads(b)["error"]["kind"] == "timeout"
        assert time.monotonic() - t0 < 2.5
        for method in ("PUT", "DELETE", "PATCH"):  # read-only: nothing but GET and POST routes
            s, _, b = raw(url, "/v1/models", b"{}", token=None, method=method)
            assert s in (404, 405) and "error" in json.loads(b)
    finally:
        stop(p)


def test_discover_through_the_client_agrees_with_the_library(served):
    from astrofm import discover
    c = served["client"]
    t = astrofm.open_dataset(str(served["sim"] / "emb")).read(columns=["object_id", "embedding_image"])
    ids = [str(i) for i in t["object_id"]]
    x = np.asarray(t["embedding_image"], dtype=np.float32)
    # Anomalies: the server's ranking is the library's (the same core on the same vectors).
    res = c.discover(index="sim", k=6, neighbours=5)
    lib = dict(zip(ids, discover.anomalies(x, k=5)))
    got = [h["object_id"] for h in res["hits"]]
    assert got == sorted(lib, key=lambda i: -lib[i])[:6]
    for h in res["hits"]:
        assert h["score"] == pytest.approx(lib[h["object_id"]], rel=1e-9)
    # A round of labels: more like the first two, unlike the third; the labelled are left out of the hits.
    pos, neg = got[:2], got[2:3]
    r = c.discover(index="sim", positives=pos, negatives=neg, k=8, suggest=4, acquisition="mix")
    assert r["mode"] == "similar" and r["positives"] == 2 and r["negatives"] == 1
    hit_ids = [h["object_id"] for h in r["hits"]]
    assert not set(hit_ids) & set(pos + neg) and len(r["suggested"]) == 4
    s = dict(zip(ids, discover.similar(x, [ids.index(i) for i in pos], [ids.index(i) for i in neg])))
    for h in r["hits"]:
        assert h["score"] == pytest.approx(s[h["object_id"]], rel=1e-5, abs=1e-6)
    # Unknown ids: one 404 naming them.
    with pytest.raises(KeyError, match="nosuch"):
        c.discover(index="sim", positives=[pos[0], "nosuch"])
    with pytest.raises(ValueError, match="acquisition"):
        c.discover(index="sim", positives=pos, acquisition="random")
