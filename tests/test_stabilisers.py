"""Label smoothing, gradient clipping by global norm and the max-norm
constraint, against NumPy implementations of PyTorch's definitions
(``CrossEntropyLoss(label_smoothing=)``, ``clip_grad_norm_``) and of
Srivastava et al. (2014), Sec. 5.1 (tests/reference.py)."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import reference as ref
from _helpers import SOLVER_NAMES
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._components import SOLVERS
from fastmlp._optim import Optimizer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def problem(kind, n=40, d=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    if kind == "multiclass":
        y = rng.randint(0, 4, n)
    elif kind == "binary":
        y = rng.randint(0, 2, n)
    elif kind == "multilabel":
        y = (rng.rand(n, 3) > 0.5).astype(int)
    else:
        y = X @ rng.randn(d, 2)
    return X, y


def start_from(est, X, y, seed=42, scale=1.0):
    """`est` set up on (X, y) with random weights of its architecture; the
    weights (coefs, intercepts) are returned.  The next fit is a warm start
    from them, with a fresh optimiser."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.set_params(max_iter=1, warm_start=False).fit(X, y)
    rng = np.random.RandomState(seed)
    coefs = [rng.uniform(-scale, scale, c.shape) for c in est.coefs_]
    inters = [rng.uniform(-scale, scale, b.shape) for b in est.intercepts_]
    est.coefs_ = [c.copy() for c in coefs]
    est.intercepts_ = [b.copy() for b in inters]
    est.set_params(warm_start=True)
    return coefs, inters


def flat(coefs, inters):
    """theta's layout: every weight matrix, then every bias vector."""
    return np.concatenate([c.ravel() for c in coefs] + [b.ravel() for b in inters])


def unflat(theta, coefs, inters):
    out, off = [], 0
    for a in list(coefs) + list(inters):
        out.append(theta[off:off + a.size].reshape(a.shape))
        off += a.size
    return out[:len(coefs)], out[len(coefs):]


COMMON = dict(hidden_layer_sizes=(7, 5), activation="tanh", dtype="float64",
              shuffle=False, random_state=0, tol=0.0, n_iter_no_change=1000)


# --- label smoothing ------------------------------------------------------------


@pytest.mark.parametrize("e", [0.1, 0.3])
def test_label_smoothing_is_pytorchs_cross_entropy(e):
    """The first epoch's loss is PyTorch's smoothed cross-entropy (its
    documented (1 - e) nll + e mean_k(-log p_k) form) plus scikit-learn's L2
    term, and one full-batch SGD step follows its gradient p - q."""
    X, y = problem("multiclass")
    alpha, lr = 1e-3, 0.1
    est = MLPClassifier(solver="sgd", momentum=0.0, learning_rate_init=lr, alpha=alpha,
                        batch_size=len(X), label_smoothing=e, **COMMON)
    coefs, inters = start_from(est, X, y)
    est.set_params(max_iter=1).fit(X, y)
    Z, _ = ref.forward(coefs, inters, X, "tanh", "softmax")
    n = len(X)
    l2 = 0.5 * alpha * sum((W**2).sum() for W in coefs) / n
    expected = ref.smoothed_cross_entropy(Z[-1], y, e).mean() + l2
    assert est.loss_curve_[-1] == pytest.approx(expected, rel=1e-12)
    Q = ref.smoothed_targets(np.eye(4)[y], e, 4)
    gW, gb = ref.backward(coefs, inters, X, Q, "tanh", "softmax", "log_loss",
                          alpha=alpha)
    for got, w, g in zip(est.coefs_ + est.intercepts_, coefs + inters, gW + gb):
        np.testing.assert_allclose(got, w - lr * g, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["binary", "multilabel"])
def test_label_smoothing_of_sigmoid_outputs(kind):
    """A sigmoid output is a two-class softmax per label: targets
    (1 - e) y + e / 2, PyTorch's definition with K = 2."""
    X, y = problem(kind)
    e, lr = 0.2, 0.1
    est = MLPClassifier(solver="sgd", momentum=0.0, learning_rate_init=lr, alpha=0.0,
                        batch_size=len(X), label_smoothing=e, **COMMON)
    coefs, inters = start_from(est, X, y)
    est.set_params(max_iter=1).fit(X, y)
    Y = y.reshape(len(X), -1).astype(float)
    Z, _ = ref.forward(coefs, inters, X, "tanh", "logistic")
    # per label, the two-class softmax of logits (0, z) with PyTorch's loss
    two = np.stack([np.zeros_like(Z[-1]), Z[-1]], axis=-1).reshape(-1, 2)
    per_label = ref.smoothed_cross_entropy(two, Y.ravel().astype(int), e)
    expected = per_label.reshape(Y.shape).sum(axis=1).mean()
    assert est.loss_curve_[-1] == pytest.approx(expected, rel=1e-12)
    gW, gb = ref.backward(coefs, inters, X, ref.smoothed_targets(Y, e, 2), "tanh",
                          "logistic", "binary_log_loss")
    for got, w, g in zip(est.coefs_ + est.intercepts_, coefs + inters, gW + gb):
        np.testing.assert_allclose(got, w - lr * g, rtol=1e-10, atol=1e-12)


def test_label_smoothing_predictions_and_lbfgs():
    """Smoothing changes the fitted targets only: labels, classes_ and the
    validation score are the user's; L-BFGS fits the smoothed loss too."""
    X, y = problem("multiclass", n=120)
    plain = MLPClassifier((10,), solver="lbfgs", random_state=0, max_iter=300).fit(X, y)
    smooth = MLPClassifier((10,), solver="lbfgs", random_state=0, max_iter=300,
                           label_smoothing=0.2).fit(X, y)
    assert list(smooth.classes_) == [0, 1, 2, 3]
    # smoothed targets keep probabilities away from 0 and 1
    assert smooth.predict_proba(X).max() < plain.predict_proba(X).max()
    es = MLPClassifier((10,), early_stopping=True, label_smoothing=0.1,
                       random_state=0, max_iter=5).fit(X, y)
    assert all(0 <= s <= 1 for s in es.validation_scores_)


def test_label_smoothing_zero_changes_nothing():
    X, y = problem("multiclass", n=80)
    a = MLPClassifier((8,), random_state=0, max_iter=3).fit(X, y)
    b = MLPClassifier((8,), random_state=0, max_iter=3, label_smoothing=0.0).fit(X, y)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)


# --- clipping and max-norm -------------------------------------------------------


def reference_clipped_step(est, coefs, inters, X, Y, out, loss, clip, maxn, alpha):
    """One full-batch step of `est`'s solver on the reference gradient (L2
    term included), clipped as clip_grad_norm_, then max-norm on the hidden
    layers; the step itself is the engine's Optimizer (tested against its
    own reference in test_optim.py)."""
    gW, gb = ref.backward(coefs, inters, X, Y, "tanh", out, loss, alpha=alpha)
    grads = gW + gb
    if clip is not None:
        grads, norm = ref.clip_grad_norm(grads, clip)
        assert norm > clip   # the test exercises clipping
    spec = SOLVERS[est.solver]
    theta = flat(coefs, inters)
    opt = Optimizer(spec.code, theta.size, sum(c.size for c in coefs), np.float64,
                    **spec.hyper_parameters(est))
    opt.step(theta, flat(grads[:len(coefs)], grads[len(coefs):]),
             est._learning_rate_init())
    new_coefs, new_inters = unflat(theta, coefs, inters)
    if maxn is not None:
        new_coefs = [ref.max_norm_project(W, maxn) for W in new_coefs[:-1]] + [new_coefs[-1]]
    return new_coefs, new_inters


@pytest.mark.parametrize("solver", SOLVER_NAMES)
@pytest.mark.parametrize("clip, maxn", [(0.5, None), (None, 1.0), (0.5, 1.0)])
def test_clip_norm_and_max_norm_every_solver(solver, clip, maxn):
    X, y = problem("multiclass")
    alpha = 0.05
    est = MLPClassifier(solver=solver, alpha=alpha, batch_size=len(X), clip_norm=clip,
                        max_norm=maxn, learning_rate_init=0.05, **COMMON)
    coefs, inters = start_from(est, X, y, scale=1.0)
    est.set_params(max_iter=1).fit(X, y)
    Y = np.eye(4)[y]
    want_c, want_b = reference_clipped_step(est, coefs, inters, X, Y, "softmax",
                                            "log_loss", clip, maxn, alpha)
    for got, want in zip(est.coefs_ + est.intercepts_, want_c + want_b):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    if maxn is not None:
        for W in est.coefs_[:-1]:
            assert np.sqrt((W**2).sum(axis=0)).max() <= maxn * (1 + 1e-12)
        # the output layer is not constrained
        assert np.sqrt((est.coefs_[-1] ** 2).sum(axis=0)).max() > maxn


def test_clip_norm_and_max_norm_follow_the_reference_for_several_steps():
    """Five full-batch steps of SGD with momentum on a regressor: the
    reference clips the gradient (with its L2 term), takes scikit-learn's
    momentum step, projects the hidden units' weights."""
    X, y = problem("regression")
    alpha, lr, mu, clip, maxn = 0.01, 0.05, 0.9, 0.3, 0.8
    est = MLPRegressor(solver="sgd", momentum=mu, nesterovs_momentum=False,
                       learning_rate_init=lr, alpha=alpha, batch_size=len(X),
                       clip_norm=clip, max_norm=maxn, **COMMON)
    coefs, inters = start_from(est, X, y)
    est.set_params(max_iter=5).fit(X, y)
    state = {}
    theta = flat(coefs, inters)
    for _ in range(5):
        c, b = unflat(theta, coefs, inters)
        gW, gb = ref.backward(c, b, X, y, "tanh", "identity", "squared_error",
                              alpha=alpha)
        grads, _ = ref.clip_grad_norm(gW + gb, clip)
        theta = ref.sgd_step(theta, flat(grads[:len(coefs)], grads[len(coefs):]), state, lr,
                             momentum=mu)
        c, b = unflat(theta, coefs, inters)
        c = [ref.max_norm_project(W, maxn) for W in c[:-1]] + [c[-1]]
        theta = flat(c, b)
    want_c, want_b = unflat(theta, coefs, inters)
    for got, want in zip(est.coefs_ + est.intercepts_, want_c + want_b):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_loose_bounds_change_nothing():
    """A bound never reached leaves the model bit-identical."""
    X, y = problem("multiclass", n=100)
    kw = dict(hidden_layer_sizes=(8,), random_state=0, max_iter=3, batch_size=16)
    a = MLPClassifier(**kw).fit(X, y)
    b = MLPClassifier(clip_norm=1e30, max_norm=1e30, **kw).fit(X, y)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    assert a.loss_curve_ == b.loss_curve_


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_bits_for_any_thread_count(dtype):
    """Large enough for the clipping norm, the step and the projection to be
    split between threads."""
    rng = np.random.RandomState(0)
    X = rng.randn(600, 100)
    y = rng.randint(0, 5, 600)
    kw = dict(hidden_layer_sizes=(200, 200), batch_size=300, max_iter=2,
              random_state=0, dtype=dtype, clip_norm=0.1, max_norm=0.5,
              label_smoothing=0.1, alpha=1e-3)
    a = MLPClassifier(n_threads=1, **kw).fit(X, y)
    b = MLPClassifier(n_threads=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    assert a.loss_curve_ == b.loss_curve_


def test_partial_fit_applies_them():
    X, y = problem("multiclass", n=100)
    est = MLPClassifier((8,), random_state=0, max_norm=0.3, learning_rate_init=0.1)
    for _ in range(3):
        est.partial_fit(X, y, classes=[0, 1, 2, 3])
    assert np.sqrt((est.coefs_[0] ** 2).sum(axis=0)).max() <= 0.3 * (1 + 1e-6)


@pytest.mark.parametrize("params, match", [
    (dict(clip_norm=0.0), "clip_norm"),
    (dict(clip_norm=-1.0), "clip_norm"),
    (dict(max_norm=0.0), "max_norm"),
    (dict(max_norm="big"), "max_norm"),
    (dict(label_smoothing=1.5), "label_smoothing"),
    (dict(label_smoothing=-0.1), "label_smoothing"),
    (dict(solver="lbfgs", clip_norm=1.0), "clip_norm=1.0 acts on minibatch training"),
    (dict(solver="lbfgs", max_norm=2.0), "max_norm=2.0 acts on minibatch training"),
])
def test_invalid_parameters(params, match):
    X, y = problem("multiclass")
    with pytest.raises(ValueError, match=match):
        MLPClassifier((5,), max_iter=1, **params).fit(X, y)


def test_regressor_has_no_label_smoothing():
    assert "label_smoothing" not in MLPRegressor().get_params()
    with pytest.raises(ValueError, match="clip_norm"):
        MLPRegressor(clip_norm=0.0).fit(*problem("regression"))
