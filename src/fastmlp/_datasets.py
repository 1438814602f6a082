"""Readers for the IDX files of MNIST and Fashion-MNIST, for benchmarks,
examples and tests.  fastmlp never downloads data: these read a folder that
holds the four original ``*-idx?-ubyte.gz`` files."""

import gzip
import os

import numpy as np

_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _read_idx(path, magic, offset):
    with gzip.open(path, "rb") as f:
        data = f.read()
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise ValueError(f"{path} is not an IDX file of this kind (magic {found}, "
                         f"expected {magic})")
    return np.frombuffer(data, dtype=np.uint8, offset=offset)


def load_idx_folder(folder, dtype=np.float32):
    """(X_train, y_train, X_test, y_test) from a folder of MNIST-format files.

    Images are flattened to 784 features scaled to [0, 1] in ``dtype``;
    labels are uint8.
    """
    out = []
    for part in ("train", "test"):
        images, labels = (os.path.join(folder, name) for name in _FILES[part])
        X = _read_idx(images, 2051, 16).reshape(-1, 28 * 28)
        y = _read_idx(labels, 2049, 8)
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"{folder}: {X.shape[0]} images but {y.shape[0]} labels")
        out += [(X / np.asarray(255, dtype)).astype(dtype, copy=False), y]
    return tuple(out)


def find_data_dir(start=None):
    """The shared data folder: $FASTMLP_DATA_DIR, else ``../shared/datasets``
    beside the repository that holds ``start`` (a path inside it), else None."""
    env = os.environ.get("FASTMLP_DATA_DIR")
    if env:
        return env if os.path.isdir(env) else None
    if start is not None:
        d = os.path.abspath(start)
        for _ in range(6):
            cand = os.path.join(d, "..", "shared", "datasets")
            if os.path.isdir(cand):
                return os.path.normpath(cand)
            d = os.path.dirname(d)
    return None
