"""A client of `astrofm serve`: pure Python (the standard library and numpy).

    from astrofm import Client
    client = Client("http://127.0.0.1:8080", token=None)
    X = client.embeddings(images, "galaxy-cnn-ssl", bands=["SDSS-I", "SDSS-R", "SDSS-G"])  # numpy [N, D]
    hits = client.search(id="sim7-000000006", index="sim-spectra", k=10, query_modality="image")
    z = client.predict("photoz", ids=[h["object_id"] for h in hits])

Errors from the server arrive as ValueError (bad input, 400/413/422),
KeyError (an unknown id, model or index, 404), PermissionError (401/403),
TimeoutError (504) and OSError (anything else), with the server's message.
A busy server (503) is retried after its Retry-After, a few times.
"""
import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

__all__ = ["Client", "ServerError"]


class ServerError(OSError):
    """An error the server reported that maps to no more specific Python error."""


def _listed(array):
    """A numpy array as nested lists for JSON, NaN and infinities as null (JSON has neither)."""
    a = np.asarray(array, dtype=np.float64)
    return np.where(np.isfinite(a), a, None).tolist() if not np.all(np.isfinite(a)) else a.tolist()


def _npy(array):
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


class Client:
    """The astrofm service at `url`; `token` is sent as a bearer token."""

    def __init__(self, url, token=None, timeout=120.0, retries=5):
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.retries = retries

    # -- transport -----------------------------------------------------------------
    def _request(self, method, path, body=None, content_type=None, params=None, accept="application/json"):
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        headers = {"Accept": accept}
        if content_type:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=body, headers=headers, method=method)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    return r.headers.get("Content-Type", ""), r.read()
            except urllib.error.HTTPError as e:
                payload = e.read()
                if e.code == 503 and attempt < self.retries:
                    try:
                        wait = float(e.headers.get("Retry-After", "1"))
                    except ValueError:  # an HTTP date
                        wait = 1.0
                    time.sleep(min(max(wait, 0.1), 30.0))
                    continue
                raise self._error(e.code, payload) from None
            except (urllib.error.URLError, ConnectionError) as e:
                if attempt < self.retries:  # a reset connection (a full listen queue): try again shortly
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise ServerError(f"{url}: {getattr(e, 'reason', e)}") from None

    @staticmethod
    def _error(status, payload):
        try:
            msg = json.loads(payload)["error"]["message"]
        except (ValueError, KeyError, TypeError):
            msg = payload.decode("utf-8", "replace")[:500] or f"HTTP {status}"
        if status in (400, 413, 422):
            return ValueError(msg)
        if status == 404:
            return KeyError(msg)
        if status in (401, 403):
            return PermissionError(msg)
        if status == 504:
            return TimeoutError(msg)
        return ServerError(f"HTTP {status}: {msg}")

    def _json(self, method, path, body=None, params=None):
        data = None if body is None else json.dumps(body, allow_nan=False).encode()
        _, payload = self._request(method, path, data, "application/json" if data is not None else None, params)
        return json.loads(payload)

    # -- API -------------------------------------------------------------------------
    def health(self):
        return self._json("GET", "/v1/health")

    def models(self):
        """What the server serves: models, indexes, datasets, probes."""
        return self._json("GET", "/v1/models")

    def embeddings(self, x, model, bands=None, modality=None):
        """Embeddings [N, D] (numpy float32) of images [N, bands, H, W] (or one
        [bands, H, W]) or, with modality="spectrum", spectra [N, L] on the
        model's wavelength grid. Sent and received as .npy."""
        x = np.asarray(x, dtype=np.float32)
        if modality is None:
            modality = "spectrum" if x.ndim == 2 else "image"
        params = {"model": model, "modality": modality}
        if bands is not None:
            params["bands"] = ",".join(bands)
        _, payload = self._request("POST", "/v1/embeddings", _npy(x), "application/x-npy", params, accept="application/x-npy")
        return np.load(io.BytesIO(payload), allow_pickle=False)

    def search(self, id=None, vector=None, image=None, bands=None, index=None, k=10, cone=None, dedup_arcsec=0.0,
               query_modality=None, exclude_query=True):
        """Nearest neighbours of an object (by id), a vector, or an image
        [bands, H, W]; `cone` = (ra, dec, radius) in degrees. Returns the hits:
        dicts with object_id, ra, dec, score, rank."""
        body = {"k": int(k), "dedup_arcsec": float(dedup_arcsec), "exclude_query": bool(exclude_query)}
        if index is not None:
            body["index"] = index
        if cone is not None:
            body["cone"] = [float(c) for c in cone]
        if query_modality is not None:
            body["query_modality"] = query_modality
        if id is not None:
            body["id"] = str(id)
        elif vector is not None:
            body["vector"] = _listed(np.asarray(vector, dtype=np.float32).ravel())
        elif image is not None:
            img = np.asarray(image, dtype=np.float32)
            body["images"] = _listed(img[None] if img.ndim == 3 else img)
            if bands is not None:
                body["bands"] = list(bands)
        else:
            raise ValueError("search: give id, vector or image")
        return self._json("POST", "/v1/search", body)["hits"]

    def predict(self, probe, ids=None, embeddings=None, images=None, bands=None):
        """A saved probe's predictions (numpy array; class names for a
        classifier) for served objects (ids), embeddings [N, D] or images."""
        body = {"probe": probe}
        if ids is not None:
            body["ids"] = [str(i) for i in ids]
        elif embeddings is not None:
            body["embeddings"] = _listed(np.asarray(embeddings, dtype=np.float32))
        elif images is not None:
            body["images"] = _listed(np.asarray(images, dtype=np.float32))
            if bands is not None:
                body["bands"] = list(bands)
        else:
            raise ValueError("predict: give ids, embeddings or images")
        return np.asarray(self._json("POST", "/v1/predict", body)["predictions"])

    def generate(self, ids, to, data=None, model=None, inputs=None, steps=8, temperature=1.0, seed=1):
        """AION generation for objects of a served tokens dataset: one dict per
        object (for a scalar target: <to>_mean, _median, _p16, _p84, _pdf ...)."""
        body = {"ids": [str(i) for i in ids], "to": to, "steps": steps, "temperature": temperature, "seed": seed}
        for k, v in (("data", data), ("model", model), ("from", inputs)):
            if v is not None:
                body[k] = v
        return self._json("POST", "/v1/generate", body)["objects"]

    def discover(self, index=None, positives=None, negatives=None, mode=None, method=None, k=24, suggest=0,
                 acquisition="top", exclude_labelled=True, neighbours=None):
        """Discovery over a served index: mode "anomalies" (the most unusual
        objects) or "similar" (more like `positives`, unlike `negatives`, both
        object ids; the default when positives are given). Returns the reply:
        "hits" (object_id, score, rank, ra, dec) and "suggested" (what to label
        next by `acquisition`: top, uncertain or mix)."""
        mode = mode or ("similar" if positives else "anomalies")
        body = {"mode": mode, "k": int(k), "suggest": int(suggest), "acquisition": acquisition,
                "exclude_labelled": bool(exclude_labelled)}
        for key, v in (("index", index), ("method", method), ("neighbours", neighbours)):
            if v is not None:
                body[key] = v
        for key, v in (("positives", positives), ("negatives", negatives)):
            if v is not None:
                body[key] = [str(i) for i in v]
        return self._json("POST", "/v1/discover", body)

    def object(self, id):
        """An object's metadata from every served dataset and index."""
        return self._json("GET", "/v1/objects/" + urllib.parse.quote(str(id), safe=""))

    def cutout(self, id, size=128):
        """The object's image as PNG bytes."""
        _, payload = self._request("GET", "/v1/objects/" + urllib.parse.quote(str(id), safe="") + "/cutout.png",
                                   params={"size": size}, accept="image/png")
        return payload
