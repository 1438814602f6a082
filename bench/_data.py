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

import json
import os
from pathlib import Path

import numpy as np

from fastmlp._datasets import find_data_dir, load_idx_folder

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS = ("mnist", "fashion-mnist")
N_TRAIN, N_TEST, N_FEATURES, N_CLASSES = 60000, 10000, 784, 10


def default_data_dir():
    """``$FASTMLP_DATA_DIR`` if set, else ``<repo>/../shared/datasets`` if it
    exists, else None (fastmlp's own ``find_data_dir``, which the tests use)."""
    return find_data_dir(str(REPO_ROOT))


def add_data_dir_argument(parser):
    """The ``--data-dir`` option (alias ``--data``) of a benchmark's parser."""
    parser.add_argument(
        "--data-dir", "--data", dest="data_dir", default=default_data_dir(),
        help="folder with mnist/ and fashion-mnist/ (default: $FASTMLP_DATA_DIR, "
             "else ../shared/datasets beside the repository)")
    return parser


def add_data_arguments(parser, dataset="mnist"):
    """``--data-dir`` and ``--dataset`` options for a benchmark's parser
    (synthetic data of the same shape when the folder is absent)."""
    add_data_dir_argument(parser)
    parser.add_argument("--dataset", choices=DATASETS, default=dataset)
    return parser


def load_or_exit(dataset, data_dir):
    """(X_train, y_train, X_test, y_test) of ``dataset`` in ``data_dir``, for
    the paper reproductions, which need the real data: without it the
    script exits, naming the folder it looked for."""
    try:
        return load(dataset, data_dir, allow_synthetic=False)[:4]
    except FileNotFoundError as exc:
        raise SystemExit(f"{exc}: pass --data-dir (the folder holding {dataset}/)")


def write_result(name, data):
    """``data`` as JSON in ``bench/results/<name>.json``."""
    out = REPO_ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    with open(out / f"{name}.json", "w") as f:
        json.dump(data, f, indent=1)


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
