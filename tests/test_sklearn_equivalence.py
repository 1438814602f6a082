"""fastmlp reproduces scikit-learn's training: same initial weights, full
batch, no shuffling, float64, the weights after 5 steps agree to 1e-9."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor

from fastmlp import MLPClassifier, MLPRegressor

# scikit-learn's MLPRegressor has a `loss` (and Poisson regression) from 1.7
SK_HAS_LOSS = "loss" in SkRegressor().get_params()

SOLVERS = [
    dict(solver="sgd", momentum=0.0, learning_rate_init=0.1),
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=False, learning_rate_init=0.1),
    dict(solver="sgd", momentum=0.9, nesterovs_momentum=True, learning_rate_init=0.1),
    dict(solver="adam", learning_rate_init=0.01),
]


def problem(kind, n=60, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    if kind == "multiclass":
        y = rng.randint(0, 4, n)
    elif kind == "binary":
        y = rng.randint(0, 2, n)
    elif kind == "multilabel":
        y = (rng.rand(n, 3) > 0.5).astype(int)
    elif kind == "regression":
        y = X @ rng.randn(d, 2) + 0.1 * rng.randn(n, 2)
    else:  # poisson counts
        y = rng.poisson(np.exp(0.3 * X[:, 0]))
    return X, y


def fit_pair(kind, solver_kw, max_iter=5, alpha=1e-3, activation="tanh"):
    X, y = problem(kind)
    common = dict(hidden_layer_sizes=(7, 5), activation=activation, alpha=alpha,
                  batch_size=X.shape[0], shuffle=False, learning_rate="constant",
                  random_state=0, tol=0.0, n_iter_no_change=1000, **solver_kw)
    if kind in ("regression", "poisson"):
        loss = "poisson" if kind == "poisson" else "squared_error"
        if kind == "poisson" and not SK_HAS_LOSS:
            pytest.skip("scikit-learn < 1.7 has no Poisson MLPRegressor")
        sk = SkRegressor(**({"loss": loss} if SK_HAS_LOSS else {}), **common)
        fm = MLPRegressor(loss=loss, dtype="float64", **common)
    else:
        sk = SkClassifier(**common)
        fm = MLPClassifier(dtype="float64", **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # One epoch to set up both models, then the same weights in both
        # and a warm start: a fresh optimiser in each, as scikit-learn does.
        sk.set_params(max_iter=1).fit(X, y)
        fm.set_params(max_iter=1).fit(X, y)
        rng = np.random.RandomState(42)
        coefs = [rng.uniform(-0.5, 0.5, c.shape) for c in sk.coefs_]
        inters = [rng.uniform(-0.5, 0.5, b.shape) for b in sk.intercepts_]
        sk.coefs_ = [c.copy() for c in coefs]
        sk.intercepts_ = [b.copy() for b in inters]
        fm.coefs_ = [c.copy() for c in coefs]
        fm.intercepts_ = [b.copy() for b in inters]
        sk.set_params(warm_start=True, max_iter=max_iter).fit(X, y)
        fm.set_params(warm_start=True, max_iter=max_iter).fit(X, y)
    return sk, fm


@pytest.mark.parametrize("solver_kw", SOLVERS, ids=lambda kw: "-".join(
    f"{k}={v}" for k, v in kw.items() if k != "learning_rate_init"))
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel",
                                  "regression", "poisson"])
def test_weights_after_five_steps_match_sklearn(kind, solver_kw):
    sk, fm = fit_pair(kind, solver_kw)
    assert fm.n_iter_ == sk.n_iter_ == 5
    for a, b in zip(fm.coefs_ + fm.intercepts_, sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    # the loss curve too (scikit-learn computes log losses from clipped
    # probabilities, fastmlp from logits: equal at these values)
    np.testing.assert_allclose(fm.loss_curve_[-5:], sk.loss_curve_[-5:], rtol=1e-9)
    assert fm.t_ == sk.t_


@pytest.mark.parametrize("alpha", [1e-4, 0.05])
@pytest.mark.parametrize("solver_kw", SOLVERS[2:])
def test_same_random_state_same_initial_weights_and_shuffles(solver_kw, alpha):
    """Initial weights and per-epoch shuffles come from scikit-learn's random
    stream in its order: with minibatches and shuffling, float64 training
    follows scikit-learn's, and so does the loss curve, whose L2 term uses
    the weights' sum of squares that each optimiser step returns for the
    next minibatch."""
    X, y = problem("multiclass", n=90)
    kw = dict(hidden_layer_sizes=(8,), batch_size=16, max_iter=3,
              random_state=3, alpha=alpha, **solver_kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkClassifier(**kw).fit(X, y)
        fm = MLPClassifier(dtype="float64", **kw).fit(X, y)
    for a, b in zip(fm.coefs_, sk.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(fm.loss_curve_, sk.loss_curve_, rtol=1e-9)


def test_lbfgs_reaches_sklearn_loss():
    X, y = problem("multiclass", n=120)
    kw = dict(hidden_layer_sizes=(10,), solver="lbfgs", max_iter=200,
              random_state=0, alpha=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk = SkClassifier(**kw).fit(X, y)
        fm = MLPClassifier(dtype="float64", **kw).fit(X, y)
    # same initial weights, same objective: the final losses agree within 1%
    assert fm.loss_ == pytest.approx(sk.loss_, rel=0.01)
