"""Threads: the same model, bit for bit, whatever the thread count; GEMMs
split into any number of blocks; both parallel modes train correctly."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split

from fastmlp import MLPClassifier, MLPRegressor, config_context, get_config
from fastmlp._components import SOLVERS
from fastmlp._engine import Engine, Predictor
from fastmlp._network import Network
from fastmlp._optim import Optimizer
from fastmlp._training import ThreadPlan, thread_plan

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, random_state=0)


# --- the estimators ---------------------------------------------------------------


def test_reproducible_and_thread_count_independent(digits):
    X_train, X_test, y_train, _ = digits
    for dtype in ("float32", "float64"):
        # minibatches big enough for the GEMMs to be split between threads
        kw = dict(hidden_layer_sizes=(300, 200), batch_size=512, max_iter=3,
                  random_state=0, dtype=dtype)
        a = MLPClassifier(n_threads=2, **kw).fit(X_train, y_train)
        b = MLPClassifier(n_threads=2, **kw).fit(X_train, y_train)
        c = MLPClassifier(n_threads=1, **kw).fit(X_train, y_train)
        np.testing.assert_array_equal(a._model.theta, b._model.theta)
        np.testing.assert_array_equal(a._model.theta, c._model.theta)
        assert a.loss_curve_ == c.loss_curve_
        np.testing.assert_array_equal(a.predict_proba(X_test), c.predict_proba(X_test))
        # full-batch lbfgs and the regressor too
        kw = dict(hidden_layer_sizes=(200,), solver="lbfgs", max_iter=5,
                  random_state=0, dtype=dtype)
        a = MLPRegressor(n_threads=2, **kw).fit(X_train, y_train / 9.0)
        c = MLPRegressor(n_threads=1, **kw).fit(X_train, y_train / 9.0)
        np.testing.assert_array_equal(a._model.theta, c._model.theta)
        assert a.loss_ == c.loss_


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_thread_count_does_not_change_the_model(dtype):
    """Batch norm, dropout and input noise draw the same numbers and sum in
    the same order on any number of threads."""
    X, y = make_classification(n_samples=700, n_features=40, random_state=0)
    kw = dict(hidden_layer_sizes=(300, 200), batch_norm=True, dropout=[0.3, 0.2],
              input_noise=0.1, batch_size=256, max_iter=2, random_state=0,
              dtype=dtype)
    a = MLPClassifier(n_threads=1, **kw).fit(X, y)
    b = MLPClassifier(n_threads=2, **kw).fit(X, y)
    c = MLPClassifier(n_threads=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    np.testing.assert_array_equal(b._model.theta, c._model.theta)
    for u, v in zip(a.bn_running_var_, b.bn_running_var_):
        np.testing.assert_array_equal(u, v)


def _sparse_data(n=301, n_features=200, density=0.15, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)) * (rng.random((n, n_features)) < density)
    X[:, :20] = 0.0
    X[:, 20] = rng.normal(size=n)
    X[5] = 0.0
    y = (X[:, 20] + X[:, 30:60].sum(1) > 0).astype(int) + (X[:, 60:90].sum(1) > 0)
    return X, y


def test_sparse_first_layer_same_for_any_thread_count():
    """Each sum runs over the nonzeros in a fixed order whatever part of the
    product a thread computes: bit-identical parameters for 1, 2, 3 threads."""
    X, y = _sparse_data(seed=3)
    with config_context(sparse_first_layer="always"):
        thetas = [
            MLPClassifier((130, 20), batch_size=64, max_iter=2, random_state=0,
                          n_threads=t, tol=0.0, n_iter_no_change=100).fit(X, y)._model.theta
            for t in (1, 2, 3)
        ]
    np.testing.assert_array_equal(thetas[0], thetas[1])
    np.testing.assert_array_equal(thetas[0], thetas[2])


@pytest.mark.parametrize("parts", [1, 3, 5])
def test_gemm_split_into_any_number_of_blocks(digits, parts):
    """The blocks a GEMM is cut into change the rounding only: training with
    1, 3 or 5 blocks per GEMM agrees with the machine's default cut; the
    setting is restored after the context; for a given number of blocks the
    thread count changes nothing."""
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(300, 200), batch_size=512, max_iter=2,
              random_state=0, dtype="float64")
    ref = MLPClassifier(**kw).fit(X_train, y_train)
    previous = get_config()["gemm_blocks"]
    with config_context(gemm_blocks=parts):
        assert get_config()["gemm_blocks"] == parts
        est = MLPClassifier(**kw).fit(X_train, y_train)
        one = MLPClassifier(n_threads=1, **kw).fit(X_train, y_train)
        two = MLPClassifier(n_threads=2, **kw).fit(X_train, y_train)
    assert previous == get_config()["gemm_blocks"]
    np.testing.assert_allclose(est._model.theta, ref._model.theta, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(one._model.theta, two._model.theta)
    with pytest.raises(ValueError, match="gemm_blocks must be an integer >= 1"):
        with config_context(gemm_blocks=0):
            pass
    assert previous == get_config()["gemm_blocks"]


def test_thread_plan_follows_parallel_mode():
    """'split' (and 'auto'): the engine's OpenMP threads share every GEMM's
    blocks and BLAS runs on one thread; 'blas': BLAS's pool does the GEMMs
    and the engine's loops run on one thread."""
    for mode in ("auto", "split"):
        with config_context(parallel_mode=mode, gemm_blocks=5):
            assert thread_plan(3) == ThreadPlan(3, 1, True, 5)
    with config_context(parallel_mode="blas"):
        assert thread_plan(3) == ThreadPlan(1, 3, False, 1)
    with pytest.raises(ValueError, match="parallel_mode must be one of"):
        with config_context(parallel_mode="both"):
            pass


@pytest.mark.parametrize("solver, max_iter", [("adam", 20), ("lbfgs", 50)])
def test_parallel_modes_both_train_correctly(digits, solver, max_iter):
    """'blas' and 'split' compute the same model up to the GEMMs' rounding,
    and both learn (minibatches of 200: GEMMs big enough to be split)."""
    X_train, X_test, y_train, y_test = digits
    kw = dict(hidden_layer_sizes=(128,), batch_size=200, max_iter=max_iter,
              learning_rate_init=0.003, random_state=0, dtype="float64", n_threads=2,
              solver=solver)
    models = {}
    for mode in ("blas", "split"):
        with config_context(parallel_mode=mode):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                models[mode] = MLPClassifier(**kw).fit(X_train, y_train)
        assert models[mode].score(X_test, y_test) > 0.93, mode
    np.testing.assert_allclose(models["blas"]._model.theta, models["split"]._model.theta,
                               rtol=1e-6, atol=1e-9)


# --- the engine -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_engine_passes_same_bits_for_any_thread_count(dtype):
    """loss_and_grad, a training epoch and predictions: the same bits on
    1, 2 and 3 threads (the blocks and the order of every sum depend on the
    shapes only)."""
    rng = np.random.RandomState(0)
    n, d, k = 700, 120, 5
    X = rng.randn(n, d).astype(dtype)
    Y = np.eye(k)[rng.randint(0, k, n)].astype(dtype)
    sw = (rng.rand(n) + 0.5).astype(dtype)
    net = Network([d, 260, 130, k], "gelu", "softmax", "log_loss", dtype,
                  batch_norm=True, dropout=[0.2, 0.1], seed=3)
    theta0 = net.init_params(np.random.RandomState(0))
    order = rng.permutation(n).astype(np.intp)
    results = []
    for n_threads in (1, 2, 3):
        engine = Engine(net, n, n_threads, True, split_parts=4, alpha=1e-3)
        grad = np.empty_like(theta0)
        loss = engine.loss_and_grad(X, Y, sw, theta0, grad)
        theta = theta0.copy()
        opt = Optimizer(SOLVERS["adam"].code, net.n_params, net.n_weights, dtype)
        train = Engine(net, 128, n_threads, True, split_parts=4, alpha=1e-3)
        total, _, _ = train.train_epoch(X, Y, sw, order, theta, opt, np.full(6, 1e-3), 0)
        out = np.empty((n, k), dtype)
        Predictor(net, theta, train.running).forward(X, out, False, n_threads, 4)
        results.append((loss, grad, total, theta, train.running.copy(), opt.state, out))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_step_same_bits_for_any_thread_count(dtype):
    """The update and the weights' sum of squares it returns: summed per
    block, then over the blocks in order."""
    rng = np.random.RandomState(1)
    n = 100_003
    theta0 = rng.randn(n).astype(dtype)
    grads = rng.randn(3, n).astype(dtype)
    out = []
    for n_threads in (1, 2, 3):
        opt = Optimizer(SOLVERS["adamw"].code, n, 60_000, dtype, weight_decay=0.01)
        theta = theta0.copy()
        sums = [opt.step(theta, g, 1e-3, 1e-4, n_threads) for g in grads]
        out.append((theta, opt.state, sums))
    for theta, state, sums in out[1:]:
        np.testing.assert_array_equal(theta, out[0][0])
        np.testing.assert_array_equal(state, out[0][1])
        assert sums == out[0][2]


def test_openmp_build_as_expected():
    """The engine runs with OpenMP when it was built with it, and without it
    (its loops serial, its OpenMP calls served by _openmp_helpers' stand-ins)
    when it was not; CI builds both and says which through
    FASTMLP_EXPECT_OPENMP."""
    import os

    from fastmlp import _build_info, _openmp_helpers

    assert _openmp_helpers.openmp_enabled() == _build_info.OPENMP
    if not _build_info.OPENMP:
        assert _openmp_helpers.max_threads() == 1
    expected = os.environ.get("FASTMLP_EXPECT_OPENMP")
    if expected is not None:
        assert _openmp_helpers.openmp_enabled() == bool(int(expected))
