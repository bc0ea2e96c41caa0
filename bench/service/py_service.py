#!/usr/bin/python3
"""The Python service a user would otherwise write, for bench/service/load.sh:
the standard library's ThreadingHTTPServer, faiss (exact inner product over
the same unit vectors) for POST /v1/search and PyTorch (the same CNN, 2
threads) for POST /v1/embeddings, with the same request and answer formats
(JSON search by id, .npy images in and out).

Usage: py_service.py PORT CATALOGUE_HDF5_ROOT
"""
import glob
import io
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import faiss
import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pytorch_cnn import Cnn  # noqa: E402

torch.set_num_threads(2)
port, root = int(sys.argv[1]), sys.argv[2]
ids, vecs, ras, decs = [], [], [], []
for f in sorted(glob.glob(os.path.join(root, "*", "healpix=*", "001-of-001.hdf5"))):
    with h5py.File(f) as h:
        ids += [i.decode() for i in h["object_id"][:]]
        vecs.append(h["embedding_image"][:].astype(np.float32))
        ras.append(h["ra"][:]); decs.append(h["dec"][:])
x = np.concatenate(vecs)
x /= np.linalg.norm(x, axis=1, keepdims=True)
ra, dec = np.concatenate(ras), np.concatenate(decs)
row = {i: r for r, i in enumerate(ids)}
index = faiss.IndexFlatIP(x.shape[1])
index.add(x)
model = Cnn().eval()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as astrofm serve: no 40 ms Nagle / delayed-ACK stall per answer

    def log_message(self, *a):
        pass

    def reply(self, status, body, ctype="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            if self.path.startswith("/v1/search"):
                q = json.loads(body)
                r = row[q["id"]]
                k = int(q.get("k", 10))
                s, l = index.search(x[r:r + 1], k + 1)
                hits = [{"rank": n + 1, "object_id": ids[j], "ra": float(ra[j]), "dec": float(dec[j]), "score": float(v)}
                        for n, (v, j) in enumerate((v, j) for v, j in zip(s[0], l[0]) if j != r)][:k]
                self.reply(200, json.dumps({"hits": hits}).encode())
            elif self.path.startswith("/v1/embeddings"):
                a = np.load(io.BytesIO(body), allow_pickle=False).astype(np.float32)
                t = torch.from_numpy(np.arcsinh(a * 10) / 3)
                with torch.no_grad():
                    e = model(t).numpy()
                buf = io.BytesIO()
                np.save(buf, e)
                self.reply(200, buf.getvalue(), "application/x-npy")
            else:
                self.reply(404, b'{"error": "no route"}')
        except (KeyError, ValueError) as e:
            self.reply(400, json.dumps({"error": str(e)}).encode())


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
