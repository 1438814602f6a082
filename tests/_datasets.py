"""The tests' access to MNIST-format data: a thin wrapper over
``fastmlp._datasets`` (the one IDX reader), adding the skip reason.

The data folder is ``$FASTMLP_DATA_DIR`` when set, else ``../shared/datasets``
beside the repository that holds this file.  It has one sub-folder per data
set (``mnist/``, ``fashion-mnist/``) with the four original ``.gz`` files.
"""

import os

import numpy as np

from fastmlp._datasets import _FILES, find_data_dir, load_idx_folder


def data_dir():
    """The data folder to look in, or None when there is none."""
    return find_data_dir(os.path.dirname(os.path.abspath(__file__)))


def missing(folder):
    """Why ``folder`` cannot be loaded (a skip reason), or None if it can."""
    if folder is None:
        return ("no data folder (set FASTMLP_DATA_DIR to the folder that holds "
                "mnist/, or put it at ../shared/datasets beside the repository)")
    names = [name for pair in _FILES.values() for name in pair]
    absent = [name for name in names if not os.path.isfile(os.path.join(folder, name))]
    if absent:
        return (f"{folder} lacks {', '.join(absent)} (set FASTMLP_DATA_DIR to the "
                f"folder that holds mnist/)")
    return None


def subfolder(name):
    """``<data folder>/<name>``, or None when there is no data folder."""
    root = data_dir()
    return None if root is None else os.path.join(root, name)


def load(folder):
    """(X_train, y_train, X_test, y_test): X float32 (n, 784) in [0, 1]."""
    return load_idx_folder(folder, dtype=np.float32)
