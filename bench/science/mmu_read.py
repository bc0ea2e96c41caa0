"""Reading columns of an MMU dataset with h5py (shared by the science scripts)."""
import glob

import h5py
import numpy as np


def read_columns(root, cols):
    """All rows of `cols` across every partition file under `root`, in partition order."""
    out = {c: [] for c in cols}
    for f in sorted(glob.glob(f"{root}/*/healpix=*/*.hdf5")):
        with h5py.File(f, "r") as h:
            for c in cols:
                out[c].append(h[c][:])
    return {c: np.concatenate(v) for c, v in out.items()}
