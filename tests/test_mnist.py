"""Learning on MNIST (marked ``slow``; skipped when the data are absent).

The data folder is ``$FASTMLP_DATA_DIR``, else ``../shared/datasets`` beside
the repository (``fastmlp._datasets.find_data_dir``, through
``tests/_datasets.py``).
"""

import time
import warnings

import pytest
from _datasets import load, missing, subfolder
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier


@pytest.fixture(scope="module")
def mnist():
    folder = subfolder("mnist")
    reason = missing(folder)
    if reason is not None:
        pytest.skip(f"MNIST not found: {reason}")
    return load(folder)


@pytest.mark.slow
def test_mnist_256_128_adam_10_epochs(mnist):
    # The README's configuration: 10 epochs reach ~98 % test accuracy
    # (scikit-learn's MLPClassifier in float64 reaches the same).
    X_train, y_train, X_test, y_test = mnist
    clf = MLPClassifier(hidden_layer_sizes=(256, 128), activation="relu",
                        solver="adam", batch_size=128, max_iter=10,
                        n_iter_no_change=1000, random_state=0, dtype="float32")
    tic = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    seconds = time.perf_counter() - tic
    accuracy = clf.score(X_test, y_test)
    print(f"MNIST (256, 128), 10 epochs: test accuracy {accuracy:.4f}, "
          f"fit {seconds:.1f} s")

    assert clf.n_iter_ == 10
    assert clf.coefs_[0].dtype.name == "float32"
    assert len(clf.loss_curve_) == 10
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]
    assert accuracy >= 0.978
