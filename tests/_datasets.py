"""A tiny reader of MNIST-format IDX files for the tests (the tests cannot
import ``bench/``, and fastmlp itself ships no data loaders).

The data folder is ``$FASTMLP_DATA_DIR`` when set, else ``../shared/datasets``
beside the repository that holds this file.  It has one sub-folder per data
set (``mnist/``, ``fashion-mnist/``) with the four original ``.gz`` files.
"""

import gzip
import os
from pathlib import Path

import numpy as np

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def data_dir():
    """The data folder to look in (it may not exist)."""
    env = os.environ.get("FASTMLP_DATA_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def missing(folder):
    """Why ``folder`` cannot be loaded (a skip reason), or None if it can."""
    names = [name for pair in _FILES.values() for name in pair]
    absent = [name for name in names if not (Path(folder) / name).is_file()]
    if absent:
        return (f"{folder} lacks {', '.join(absent)} (set FASTMLP_DATA_DIR to the "
                f"folder that holds mnist/)")
    return None


def _read(path, magic, header_bytes):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if int.from_bytes(data[:4], "big") != magic:
        raise ValueError(f"{path} is not an IDX file with magic {magic}")
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes)


def load(folder):
    """(X_train, y_train, X_test, y_test): X float32 (n, 784) in [0, 1]."""
    out = []
    for part in ("train", "test"):
        images, labels = (Path(folder) / name for name in _FILES[part])
        X = _read(images, 2051, 16).reshape(-1, 28 * 28).astype(np.float32)
        X /= np.float32(255)
        y = _read(labels, 2049, 8)
        assert X.shape[0] == y.shape[0], (images, labels)
        out += [X, y]
    return tuple(out)
