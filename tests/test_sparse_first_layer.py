"""The sparse first layer: for inputs that are mostly zeros the engine's
first layer works on each minibatch's nonzeros.  Checked against the dense
path (itself checked against finite differences and scikit-learn), for both
dtypes, every width class of the vector kernels, shuffling, sample weights,
batch norm and dropout; the ``sparse_first_layer`` and ``sparse_max_density``
settings.  The kernels alone: test_kernels.py; thread counts: test_threads.py."""

import numpy as np
import pytest

import fastmlp._training
from fastmlp import MLPClassifier, MLPRegressor, config_context, get_config, set_config
from fastmlp._engine import Engine
from fastmlp._network import Network, sparse_split


@pytest.fixture
def sparse_mode():
    """Set the sparse_first_layer setting for one test, restored after it."""
    previous = get_config()["sparse_first_layer"]

    def set_mode(mode):
        set_config(sparse_first_layer=mode)

    yield set_mode
    set_config(sparse_first_layer=previous)


def _sparse_data(n=301, n_features=200, density=0.15, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)) * (rng.random((n, n_features)) < density)
    X[:, :20] = 0.0            # features never nonzero
    X[:, 20] = rng.normal(size=n)  # one dense feature
    X[5] = 0.0                 # a sample with no nonzero at all
    y = (X[:, 20] + X[:, 30:60].sum(1) > 0).astype(int) + (X[:, 60:90].sum(1) > 0)
    return X, y


def _fit_both(sparse_mode, est_factory, X, y, **fit_kw):
    out = {}
    for mode in ("never", "always"):
        sparse_mode(mode)
        out[mode] = est_factory().fit(X, y, **fit_kw)
    return out["never"], out["always"]


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-9), ("float32", 2e-4)])
@pytest.mark.parametrize("hidden", [(37,), (100, 20), (256,), (7, 5)])
def test_sparse_first_layer_matches_dense(sparse_mode, dtype, rtol, hidden):
    """Widths cover full 8-vector chunks, the 4/2/1-vector chunks, the
    overlapping last vector and layers narrower than one vector."""
    X, y = _sparse_data()
    X = X.astype(dtype)
    dense, sparse = _fit_both(
        sparse_mode,
        lambda: MLPClassifier(hidden, batch_size=64, max_iter=3, random_state=0,
                              dtype=dtype, tol=0.0, n_iter_no_change=100),
        X, y)
    np.testing.assert_allclose(sparse._model.theta, dense._model.theta, rtol=rtol,
                               atol=rtol * 1e-2)
    np.testing.assert_allclose(sparse.loss_curve_, dense.loss_curve_, rtol=rtol)
    # ... and it is another computation (sums in another order), not the
    # dense path run twice
    assert not np.array_equal(sparse._model.theta, dense._model.theta)


@pytest.mark.parametrize("params", [
    dict(batch_norm=True),
    dict(dropout=0.3),
    dict(shuffle=False),
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=True, alpha=0.01),
])
def test_sparse_first_layer_matches_dense_with_options(sparse_mode, params):
    X, y = _sparse_data(seed=1)
    dense, sparse = _fit_both(
        sparse_mode,
        lambda: MLPClassifier((60, 30), batch_size=50, max_iter=3, random_state=0,
                              dtype="float64", tol=0.0, n_iter_no_change=100,
                              **params),
        X, y)
    np.testing.assert_allclose(sparse._model.theta, dense._model.theta, rtol=1e-9, atol=1e-12)


def test_sparse_first_layer_with_sample_weight_and_regression(sparse_mode):
    X, y = _sparse_data(seed=2)
    rng = np.random.default_rng(0)
    sw = rng.random(X.shape[0])
    sw[:40] = 0.0
    Y = np.column_stack([y, X[:, 25] - X[:, 35]])
    dense, sparse = _fit_both(
        sparse_mode,
        lambda: MLPRegressor(hidden_layer_sizes=(40,), batch_size=32, max_iter=3, random_state=0,
                             dtype="float64", tol=0.0, n_iter_no_change=100),
        X, Y, sample_weight=sw)
    np.testing.assert_allclose(sparse._model.theta, dense._model.theta, rtol=1e-9, atol=1e-12)


def test_sparse_split_decision_and_parts(sparse_mode):
    X, _ = _sparse_data(n=2000, density=0.1)
    split = sparse_split(X, 3)
    assert split[0] == 0 and split[-1] == X.shape[1] and np.all(np.diff(split) >= 0)
    # parts hold about equal numbers of nonzeros
    counts = np.count_nonzero(X, axis=0)
    per_part = [counts[a:b].sum() for a, b in zip(split[:-1], split[1:])]
    assert max(per_part) - min(per_part) <= 0.05 * sum(per_part) + counts.max()
    assert sparse_split(X, 1).tolist() == [0, X.shape[1]]
    dense = np.random.default_rng(0).normal(size=(500, 50))
    assert sparse_split(dense, 2) is None
    assert sparse_split(X, 2, input_noise=0.1) is None
    sparse_mode("never")
    assert sparse_split(X, 2) is None
    sparse_mode("always")
    assert sparse_split(dense, 2) is not None
    assert sparse_split(X, 2, input_noise=0.1) is None


def test_sparse_max_density_decides_auto():
    """'auto' takes the sparse layer up to sparse_max_density nonzeros
    (estimated on up to 1,024 rows)."""
    X, _ = _sparse_data(n=2000, density=0.1)   # ~11 % nonzero with the dense feature
    with config_context(sparse_first_layer="auto"):
        assert sparse_split(X, 2) is not None
        with config_context(sparse_max_density=0.05):
            assert sparse_split(X, 2) is None
        with config_context(sparse_max_density=1.0):
            assert sparse_split(X + 1.0, 2) is not None
    assert sparse_split(X[:0], 2) is None and sparse_split(X[:, :0], 2) is None


def _spy_engines(monkeypatch, replace_split=None):
    """Record (sparse_split given, engine.sparse_first_layer) of every Engine
    the training driver builds; optionally replace its sparse_split."""
    seen = []
    real = fastmlp._training.Engine

    def spy(*args, **kwargs):
        if replace_split is not None:
            kwargs["sparse_split"] = replace_split
        engine = real(*args, **kwargs)
        seen.append((kwargs.get("sparse_split"), engine.sparse_first_layer))
        return engine

    monkeypatch.setattr(fastmlp._training, "Engine", spy)
    return seen


def test_auto_picks_sparse_for_mostly_zero_inputs(sparse_mode, monkeypatch):
    """'auto' (the default) passes a split to the engine for sparse inputs
    and none for dense ones or with input noise."""
    sparse_mode("auto")
    seen = _spy_engines(monkeypatch)
    X, y = _sparse_data()
    MLPClassifier((10,), max_iter=1).fit(X, y)
    MLPClassifier((10,), max_iter=1).fit(X + 1.0, y)
    MLPClassifier((10,), max_iter=1, input_noise=0.1).fit(X, y)
    assert seen[0][0] is not None and seen[1][0] is None and seen[2][0] is None
    assert [s[1] for s in seen] == [True, False, False]


def test_engine_rejects_bad_sparse_split(sparse_mode, monkeypatch):
    X, y = _sparse_data()
    for bad, match in [([0, 300], "from 0 to n_features"),
                       ([0, 120, 60, 200], "non-decreasing"),
                       ([200], "from 0 to n_features"),
                       ([1, 200], "from 0 to n_features")]:
        monkeypatch.undo()
        _spy_engines(monkeypatch, replace_split=np.array(bad, dtype=np.intp))
        with pytest.raises(ValueError, match=match):
            MLPClassifier((10,), max_iter=1).fit(X, y)
        net = Network([200, 10, 3], "relu", "softmax", "log_loss", np.float64)
        with pytest.raises(ValueError, match=match):
            Engine(net, 16, sparse_split=np.array(bad, dtype=np.intp))
