"""Soak: many small fits and many single-sample predictions leave the
process as they found it - no growth of resident memory (after a warm-up,
within a small tolerance), of OS threads or of open file descriptors.

A leak of a workspace, a Predictor, a thread pool or a file handle per call
shows up here as growth proportional to the number of calls.
"""

import ctypes
import gc
import pickle
import warnings

import numpy as np
import pytest

from fastmlp import DivergenceError, MLPClassifier, MLPRegressor

psutil = pytest.importorskip("psutil")

pytestmark = pytest.mark.slow


def _trim():
    """Collect garbage and give freed heap back to the OS (glibc), so that
    RSS measures live memory rather than the allocator's free lists."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # pragma: no cover - not glibc
        pass


def _usage():
    _trim()
    proc = psutil.Process()
    return dict(rss=proc.memory_info().rss, threads=proc.num_threads(),
                fds=proc.num_fds() if hasattr(proc, "num_fds") else 0)


def _one_fit(i, X, y, Xr, yr):
    """A small fit of one of several kinds (solvers, BN, dropout, early
    stopping, partial_fit, warm start, pickling, a rejected input, a
    divergence), chosen by i."""
    kind = i % 10
    if kind == 0:
        est = MLPClassifier((8,), max_iter=2, random_state=i).fit(X, y)
    elif kind == 1:
        est = MLPClassifier((8, 4), batch_norm=True, dropout=0.2, max_iter=2,
                            random_state=i).fit(X, y)
    elif kind == 2:
        est = MLPRegressor(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=5,
                           random_state=i).fit(Xr, yr)
    elif kind == 3:
        est = MLPClassifier((8,), early_stopping=True, max_iter=3, random_state=i,
                            solver="sgd").fit(X, y)
    elif kind == 4:
        est = MLPClassifier((8,), random_state=i, solver="rmsprop")
        for _ in range(3):
            est.partial_fit(X, y, classes=[0, 1, 2])
    elif kind == 5:
        est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=i,
                           warm_start=True, input_noise=0.1, dtype="float64")
        est.fit(Xr, yr)
        est.fit(Xr, yr)
    elif kind == 6:
        est = pickle.loads(pickle.dumps(
            MLPClassifier((8,), max_iter=2, random_state=i).fit(X, y)))
    elif kind == 7:
        est = MLPClassifier((8,), max_iter=2, random_state=i).fit(X, y)
        with pytest.raises(ValueError):
            est.fit(np.where(X > 1, np.nan, X), y)
    elif kind == 8:
        est = MLPRegressor(hidden_layer_sizes=(8,), max_iter=2, random_state=i,
                           learning_rate="cyclic", batch_size=10).fit(Xr, yr)
        est.coefs_ = [c.copy() for c in est.coefs_]     # user-replaced arrays
        est.predict(Xr)
    else:
        est = MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", max_iter=3,
                           learning_rate_init=1e30, random_state=i)
        with pytest.raises(DivergenceError):
            est.fit(Xr * 1e15, yr * 1e15)
    return est


def test_many_fits_and_predictions_leak_nothing():
    rng = np.random.RandomState(0)
    X = rng.randn(60, 6)
    y = rng.randint(0, 3, 60)
    Xr = rng.randn(60, 6)
    yr = Xr @ rng.randn(6)
    x1 = np.ascontiguousarray(X[:1], dtype=np.float32)
    bad = x1.copy()
    bad[0, 0] = np.nan

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(100):                       # warm-up: caches, pools, imports
            _one_fit(i, X, y, Xr, yr)
        model = MLPClassifier((32,), max_iter=3, random_state=0).fit(X, y)
        reg = MLPRegressor(hidden_layer_sizes=(32,), batch_norm=True, max_iter=3,
                           random_state=0).fit(Xr, yr)
        for _ in range(5000):
            model.predict_proba(x1)
        start = _usage()
        marks = []
        for i in range(1000):
            _one_fit(i, X, y, Xr, yr)
            if i in (499, 999):
                marks.append(_usage())
        want = model.predict_proba(x1)
        for i in range(100_000):
            if i % 3 == 0:
                got = model.predict_proba(x1)
            elif i % 3 == 1:
                got = model.predict(x1)
            else:
                got = reg.predict(x1)
            if i % 1000 == 0:
                try:
                    model.predict(bad)
                except ValueError:
                    pass
                else:   # pragma: no cover
                    raise AssertionError("NaN accepted")
        np.testing.assert_array_equal(model.predict_proba(x1), want)
        marks.append(_usage())
    end = marks[-1]
    mb = 2**20
    grow = [(m["rss"] - start["rss"]) / mb for m in marks]
    # no per-call growth: the second 500 fits and the 100,000 predictions
    # add (almost) nothing to what the first 500 fits settled at
    # (keeping each fitted estimator alive - 13 KB a fit - grows 6.5 MB a
    # stage; without leaks the stages differ by well under 1 MB)
    assert grow[1] - grow[0] < 3, f"RSS grew by {grow} MB after 500/1000 fits, predictions"
    assert grow[2] - grow[1] < 3, f"RSS grew by {grow} MB after 500/1000 fits, predictions"
    assert grow[2] < 6, f"RSS grew by {grow} MB"
    assert end["threads"] == start["threads"], (start, end)
    assert end["fds"] == start["fds"], (start, end)
    assert all(m["threads"] == start["threads"] for m in marks)
