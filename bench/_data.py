"""Data for the benchmarks: MNIST and Fashion-MNIST from their IDX files.

The folder holds one sub-folder per data set (``mnist/``, ``fashion-mnist/``),
each with the four original gzip-compressed IDX files::

    train-images-idx3-ubyte.gz  train-labels-idx1-ubyte.gz
    t10k-images-idx3-ubyte.gz   t10k-labels-idx1-ubyte.gz

They are read by fastmlp's own IDX reader,
``fastmlp._datasets.load_idx_folder``: pixels scaled to [0, 1] in float32,
labels uint8.

The folder is ``--data-dir``, else ``$FASTMLP_DATA_DIR``, else
``../shared/datasets`` beside the repository root (resolved from this file,
not from the working directory).  Without it the benchmarks run on synthetic
data of the same shape (60000 x 784 float32, 10 classes) and say so: the
timings stay meaningful, the accuracies do not.
"""

import os
from pathlib import Path

import numpy as np

from fastmlp._datasets import load_idx_folder

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("mnist", "fashion-mnist")
N_TRAIN, N_TEST, N_FEATURES, N_CLASSES = 60000, 10000, 784, 10


def default_data_dir():
    """``$FASTMLP_DATA_DIR`` if set, else ``<repo>/../shared/datasets`` if it
    exists, else None."""
    env = os.environ.get("FASTMLP_DATA_DIR")
    if env:
        return env
    shared = REPO_ROOT.parent / "shared" / "datasets"
    return str(shared) if shared.is_dir() else None


def add_data_arguments(parser, dataset="mnist"):
    """``--data-dir`` and ``--dataset`` options for a benchmark's parser."""
    parser.add_argument(
        "--data-dir", default=default_data_dir(),
        help="folder with mnist/ and fashion-mnist/ (default: $FASTMLP_DATA_DIR, "
             "else ../shared/datasets beside the repository; synthetic data "
             "of the same shape when absent)")
    parser.add_argument("--dataset", choices=DATASETS, default=dataset)
    return parser


def synthetic(seed=0):
    """Random data of MNIST's shape: uniform [0, 1) float32 pixels, labels 0-9."""
    rng = np.random.default_rng(seed)
    X_train = rng.random((N_TRAIN, N_FEATURES), dtype=np.float32)
    X_test = rng.random((N_TEST, N_FEATURES), dtype=np.float32)
    y_train = rng.integers(0, N_CLASSES, N_TRAIN).astype(np.uint8)
    y_test = rng.integers(0, N_CLASSES, N_TEST).astype(np.uint8)
    return X_train, y_train, X_test, y_test


def load(dataset="mnist", data_dir=None, allow_synthetic=True):
    """(X_train, y_train, X_test, y_test, name) of ``dataset`` in ``data_dir``.

    ``name`` is the data set's name, or ``"synthetic"`` when its folder is
    absent and ``allow_synthetic`` (a notice is printed); otherwise a missing
    folder raises FileNotFoundError.
    """
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")
    folder = os.path.join(data_dir, dataset) if data_dir else None
    if folder and os.path.isdir(folder):
        return (*load_idx_folder(folder, dtype=np.float32), dataset)
    where = folder or "no data folder (--data-dir, $FASTMLP_DATA_DIR or ../shared/datasets)"
    if not allow_synthetic:
        raise FileNotFoundError(f"{dataset} not found: {where}")
    print(f"NOTE: {dataset} not found ({where}): using synthetic data of the same "
          f"shape ({N_TRAIN} x {N_FEATURES} float32, {N_CLASSES} classes); timings "
          f"are meaningful, accuracies are not.", flush=True)
    return (*synthetic(), "synthetic")
