"""MNIST from the shared data folder (skipped when it is absent)."""

import os
import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier
from fastmlp._datasets import find_data_dir, load_idx_folder

DATA = find_data_dir(os.path.dirname(__file__))
MNIST = os.path.join(DATA, "mnist") if DATA else None


@pytest.mark.slow
@pytest.mark.skipif(MNIST is None or not os.path.isdir(MNIST or ""),
                    reason="MNIST not found (set FASTMLP_DATA_DIR or put "
                           "../shared/datasets/mnist beside the repository)")
def test_mnist_256_128_adam_10_epochs():
    X_train, y_train, X_test, y_test = load_idx_folder(MNIST)
    clf = MLPClassifier((256, 128), activation="relu", solver="adam",
                        batch_size=128, max_iter=10, random_state=0,
                        dtype="float32", n_iter_no_change=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    assert clf.n_iter_ == 10
    assert clf.coefs_[0].dtype.name == "float32"
    assert clf.score(X_test, y_test) >= 0.978
