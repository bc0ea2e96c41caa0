#!/usr/bin/python3
"""Sets the `name` and `description` of a model file (what `astrofm models` shows).

Usage: scripts/model-describe.py IN.afm OUT.afm NAME DESCRIPTION

Only the JSON header changes: tensors, their offsets (relative to the data
start) and the checksum stay as trained (docs/formats/model-file.md). Writes
OUT through a temporary name, then renames.
"""
import json
import os
import struct
import sys

src, dst, name, description = sys.argv[1:5]
with open(src, "rb") as f:
    blob = f.read()
if blob[:8] != b"ASTROFM\0":
    sys.exit(f"{src}: not an astrofm model file (magic {blob[:8]!r})")
version, _, hlen = struct.unpack_from("<IIQ", blob, 8)
header = json.loads(blob[24:24 + hlen])
data = blob[(24 + hlen + 63) // 64 * 64:]
header["name"], header["description"] = name, description
h = json.dumps(header, separators=(",", ":")).encode()
pad = (-(24 + len(h))) % 64
tmp = dst + ".tmp"
with open(tmp, "wb") as f:
    f.write(blob[:8] + struct.pack("<IIQ", version, 0, len(h)) + h + b"\0" * pad + data)
os.replace(tmp, dst)
