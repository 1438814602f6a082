"""Multitask learning (Caruana 1997): a 2-D y of multiclass columns, one
softmax group per task on shared hidden layers, the loss the sum of the
tasks' cross-entropies.  The kernels and the engine against the NumPy
reference (tests/reference.py) and central differences; one group against
the ordinary softmax bit for bit; threads; and the estimator's API, as
scikit-learn's MultiOutputClassifier has it."""

import warnings

import numpy as np
import pytest
import reference as ref
from _helpers import ACTS, forward, loss_and_grad
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier, _testing
from fastmlp._components import OUTPUTS
from fastmlp._engine import Engine
from fastmlp._network import Network
from fastmlp._predictor import Predictor

SOFTMAX = OUTPUTS[("softmax", "log_loss")]
TOL = {np.float64: 1e-10, np.float32: 2e-5}
GROUPS = [4, 2, 1, 3]     # a 1-class and a 2-class task among them


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def one_hot_groups(rng, n, groups):
    return np.hstack([np.eye(g)[rng.randint(0, g, n)] for g in groups])


def task_data(n=300, seed=0):
    """Three tasks of the digits-like kind: a 5-class label and two tasks
    derived from it (parity, a 3-way split), from 8 Gaussian features."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 8)
    c = np.argmax(X[:, :5] + 0.3 * rng.randn(n, 5), axis=1)
    return X, np.column_stack([c, c % 2, c % 3])


# --- kernels -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_delta_kernel_against_reference(dtype):
    rng = np.random.RandomState(0)
    n, k = 23, sum(GROUPS)
    z = (rng.randn(n, k) * 3).astype(dtype)
    y = one_hot_groups(rng, n, GROUPS).astype(dtype)
    sw = (rng.rand(n) + 0.5).astype(dtype)
    delta = z.copy()
    total = _testing.loss_delta(delta, y, SOFTMAX, 0.25, sw, groups=GROUPS)
    z64, y64, sw64 = (a.astype(np.float64) for a in (z, y, sw))
    tol = TOL[dtype]
    np.testing.assert_allclose(
        total, (sw64 * ref.grouped_sample_losses(z64, y64, GROUPS)).sum(), rtol=tol)
    np.testing.assert_allclose(
        delta, 0.25 * sw64[:, None] * ref.grouped_delta(z64, y64, GROUPS),
        rtol=tol, atol=tol)
    # the 1-class task: probability 1, no loss, no gradient
    assert np.all(delta[:, 6] == 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_output_kernel_is_a_softmax_per_group(dtype):
    rng = np.random.RandomState(1)
    z = (rng.randn(9, sum(GROUPS)) * 4).astype(dtype)
    b = rng.randn(sum(GROUPS)).astype(dtype)
    out = z.copy()
    _testing.output(out, b, SOFTMAX, groups=GROUPS)
    expected = ref.grouped_softmax(z.astype(np.float64) + b, GROUPS)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype])
    bounds = np.cumsum([0] + GROUPS)
    for a, c in zip(bounds[:-1], bounds[1:]):
        np.testing.assert_allclose(out[:, a:c].sum(axis=1), 1, rtol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_group_is_the_softmax_bit_for_bit(dtype):
    rng = np.random.RandomState(2)
    z = rng.randn(17, 5).astype(dtype)
    y = np.eye(5)[rng.randint(0, 5, 17)].astype(dtype)
    a, b = z.copy(), z.copy()
    la = _testing.loss_delta(a, y, SOFTMAX, 0.5)
    lb = _testing.loss_delta(b, y, SOFTMAX, 0.5, groups=[5])
    assert la == lb and np.array_equal(a, b)
    a, b = z.copy(), z.copy()
    bias = np.zeros(5, dtype)
    _testing.output(a, bias, SOFTMAX)
    _testing.output(b, bias, SOFTMAX, groups=[5])
    assert np.array_equal(a, b)


def test_kernels_reject_groups_that_do_not_cut_the_columns():
    z = np.zeros((2, 5))
    with pytest.raises(ValueError, match="groups"):
        _testing.loss_delta(z, z.copy(), SOFTMAX, 1.0, groups=[2, 2])
    with pytest.raises(ValueError, match="groups"):
        _testing.output(z, np.zeros(5), SOFTMAX, groups=[5, 0])
    with pytest.raises(ValueError, match="output groups"):
        Network([3, 5], "relu", "logistic", "binary_log_loss", np.float64,
                out_groups=[2, 3])
    with pytest.raises(ValueError, match="output groups"):
        Network([3, 5], "relu", "softmax", "log_loss", np.float64, out_groups=[2, 2])


# --- the engine ----------------------------------------------------------------


def grouped_net(d, hidden, act, dtype, groups=GROUPS, **kw):
    return Network([d, *hidden, sum(groups)], act, "softmax", "log_loss", dtype,
                   out_groups=groups, **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", [(), (6,), (7, 4)])
@pytest.mark.parametrize("act", ACTS)
def test_engine_against_reference(act, hidden, dtype):
    rng = np.random.RandomState(3)
    n, d = 37, 5
    X = rng.randn(n, d).astype(dtype)
    Y = one_hot_groups(rng, n, GROUPS).astype(dtype)
    sw = (rng.rand(n) + 0.5).astype(dtype)
    net = grouped_net(d, hidden, act, dtype)
    theta = net.init_params(np.random.RandomState(1))
    coefs = [c.astype(np.float64) for c in net.coefs(theta)]
    inter = [b.astype(np.float64) for b in net.intercepts(theta)]
    X64, Y64, sw64 = (a.astype(np.float64) for a in (X, Y, sw))
    tol = TOL[dtype]

    Z, _ = ref.forward(coefs, inter, X64, act, "identity")
    P = ref.grouped_softmax(Z[-1], GROUPS)
    np.testing.assert_allclose(forward(net, theta, X), P, rtol=tol, atol=tol)
    np.testing.assert_allclose(forward(net, theta, X, capacity=5), P, rtol=tol, atol=tol)
    np.testing.assert_allclose(forward(net, theta, X, logits=True), Z[-1], rtol=tol,
                               atol=tol * np.abs(Z[-1]).max())
    few = np.empty((3, sum(GROUPS)), dtype)
    assert Predictor(net, theta, net.initial_running()).forward_few(X[:3], few, 2, False)
    np.testing.assert_allclose(few, P[:3], rtol=tol, atol=tol)

    alpha = 0.3
    loss, grad = loss_and_grad(net, theta, X, Y, sw, alpha=alpha, capacity=8)
    np.testing.assert_allclose(
        loss, ref.grouped_objective(coefs, inter, X64, Y64, act, GROUPS, sw64, alpha),
        rtol=tol)
    gW, gb = ref.grouped_backward(coefs, inter, X64, Y64, act, GROUPS, sw64, alpha)
    expected = net.pack(gW, gb).astype(np.float64)
    np.testing.assert_allclose(grad, expected, rtol=tol,
                               atol=tol * np.abs(expected).max())
    # the predictor's loss (early stopping's 'loss' scoring)
    data = ref.grouped_objective(coefs, inter, X64, Y64, act, GROUPS, sw64)
    pred = Predictor(net, theta, net.initial_running())
    np.testing.assert_allclose(pred.loss(X, Y, sw), data, rtol=tol)


@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("act", ["tanh", "gelu"])
def test_gradient_matches_central_differences(act, depth):
    rng = np.random.RandomState(depth)
    n, d = 11, 4
    X = rng.randn(n, d)
    Y = one_hot_groups(rng, n, GROUPS)
    sw = rng.rand(n) + 0.5
    net = grouped_net(d, [5, 4][:depth], act, np.float64)
    theta = net.init_params(rng)
    engine = Engine(net, n, alpha=0.2)
    _, grad = loss_and_grad(net, theta, X, Y, sw, alpha=0.2)
    scratch = np.empty_like(theta)
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += 1e-6
        tm[i] -= 1e-6
        numeric[i] = (engine.loss_and_grad(X, Y, sw, tp, scratch)
                      - engine.loss_and_grad(X, Y, sw, tm, scratch)) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-5,
                               atol=1e-7 * max(1.0, np.abs(numeric).max()))


# --- the estimator: one task is the ordinary multiclass model ------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", [
    dict(solver="adam"),
    dict(solver="sgd", batch_norm=True, dropout=0.2),
    dict(solver="lbfgs"),
])
def test_one_task_is_the_multiclass_model_bit_for_bit(kw, dtype, monkeypatch):
    """The engine's grouped path with one group of all the classes trains
    the same model as its default path (the estimator made to pass one
    group for an ordinary multiclass y)."""
    X, y = task_data()
    params = dict(hidden_layer_sizes=(9,), max_iter=8, random_state=0, dtype=dtype,
                  **kw)
    plain = MLPClassifier(**params).fit(X, y[:, 0])
    monkeypatch.setattr(MLPClassifier, "_output_groups",
                        lambda self: np.array([len(self.classes_)]))
    grouped = MLPClassifier(**params).fit(X, y[:, 0])
    assert grouped._model.network.out_groups.tolist() == [5]
    assert plain._model.network.out_groups.tolist() == []
    for a, b in zip(plain.coefs_ + plain.intercepts_,
                    grouped.coefs_ + grouped.intercepts_):
        assert np.array_equal(a, b)
    assert plain.loss_ == grouped.loss_
    assert np.array_equal(plain.predict_proba(X), grouped.predict_proba(X))
