"""Mixup (Zhang et al. 2018) in the engine: the mixed minibatches against
the NumPy reference, the draws' distribution (lambda ~ Beta(a, a), a uniform
permutation), the same bits for any thread count."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

import reference as ref
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._regularization import mixup_draw
from test_stabilisers import COMMON, flat, problem, start_from, unflat

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_one_full_batch_step_follows_the_reference():
    X, y = problem("multiclass")
    a, lr, alpha = 0.4, 0.1, 1e-3
    est = MLPClassifier(solver="sgd", momentum=0.0, learning_rate_init=lr, alpha=alpha,
                        batch_size=len(X), mixup_alpha=a, **COMMON)
    coefs, inters = start_from(est, X, y)
    est.set_params(max_iter=1).fit(X, y)
    # a warm start: a fresh optimiser, epoch 0, minibatch 0
    lam, perm = mixup_draw(est._model.network.seed, 0, 0, a, len(X))
    assert 0 < lam < 1 and sorted(perm) == list(range(len(X)))
    Xm, Ym = ref.mixup(X, np.eye(4)[y], lam, perm)
    expected = ref.objective(coefs, inters, Xm, Ym, "tanh", "softmax", "log_loss",
                             alpha=alpha)
    assert est.loss_curve_[-1] == pytest.approx(expected, rel=1e-12)
    gW, gb = ref.backward(coefs, inters, Xm, Ym, "tanh", "softmax", "log_loss",
                          alpha=alpha)
    for got, w, g in zip(est.coefs_ + est.intercepts_, coefs + inters, gW + gb):
        np.testing.assert_allclose(got, w - lr * g, rtol=1e-10, atol=1e-12)


def test_regressor_minibatches_follow_the_reference():
    """Two epochs of two minibatches each, keyed (epoch, minibatch)."""
    X, y = problem("regression")
    a, lr, B = 1.0, 0.05, 20
    est = MLPRegressor(solver="sgd", momentum=0.0, learning_rate_init=lr, alpha=0.0,
                       batch_size=B, mixup_alpha=a, **COMMON)
    coefs, inters = start_from(est, X, y)
    est.set_params(max_iter=2).fit(X, y)
    seed = est._model.network.seed
    theta = flat(coefs, inters)
    for epoch in range(2):
        for b in range(2):
            lam, perm = mixup_draw(seed, epoch, b, a, B)
            Xm, Ym = ref.mixup(X[b * B:(b + 1) * B], y[b * B:(b + 1) * B], lam, perm)
            c, i = unflat(theta, coefs, inters)
            gW, gb = ref.backward(c, i, Xm, Ym, "tanh", "identity", "squared_error")
            theta = theta - lr * flat(gW, gb)
    want_c, want_b = unflat(theta, coefs, inters)
    for got, want in zip(est.coefs_ + est.intercepts_, want_c + want_b):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("a", [0.2, 1.0, 3.0])
def test_lambda_is_beta_distributed(a):
    lams = np.array([mixup_draw(7, e, b, a, 2)[0] for e in range(40) for b in range(50)])
    assert stats.kstest(lams, stats.beta(a, a).cdf).pvalue > 1e-3
    assert np.all((lams >= 0) & (lams <= 1))


def test_permutations_are_uniform():
    n, draws = 5, 3000
    counts = np.zeros((n, n))
    for k in range(draws):
        _, perm = mixup_draw(3, k // 100, k % 100, 1.0, n)
        assert sorted(perm) == list(range(n))
        counts[np.arange(n), perm] += 1
    # each row goes to each position with probability 1/n
    assert stats.chisquare(counts.ravel(), np.full(n * n, draws / n)).pvalue > 1e-3


def test_draws_differ_between_batches_and_epochs():
    assert mixup_draw(1, 0, 0, 0.4, 10)[0] != mixup_draw(1, 0, 1, 0.4, 10)[0]
    assert mixup_draw(1, 0, 0, 0.4, 10)[0] != mixup_draw(1, 1, 0, 0.4, 10)[0]
    assert mixup_draw(1, 0, 0, 0.4, 10)[0] == mixup_draw(1, 0, 0, 0.4, 10)[0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_bits_for_any_thread_count(dtype):
    rng = np.random.RandomState(0)
    X = rng.rand(600, 120)
    y = rng.randint(0, 5, 600)
    kw = dict(hidden_layer_sizes=(200, 200), batch_size=300, max_iter=2,
              random_state=0, dtype=dtype, mixup_alpha=0.3, dropout=0.2)
    a = MLPClassifier(n_threads=1, **kw).fit(X, y)
    b = MLPClassifier(n_threads=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    assert a.loss_curve_ == b.loss_curve_


def test_mostly_zero_inputs_train_dense_and_learn():
    """Mixed rows are dense: mixup turns the sparse first layer off; the
    model still learns."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = X / 16
    clf = MLPClassifier((64,), mixup_alpha=0.2, random_state=0, max_iter=30).fit(X, y)
    assert clf.score(X, y) > 0.95


@pytest.mark.parametrize("params, match", [
    (dict(mixup_alpha=-0.1), "mixup_alpha"),
    (dict(mixup_alpha="big"), "mixup_alpha"),
    (dict(solver="lbfgs", mixup_alpha=0.2), "mixup_alpha=0.2 acts on minibatch training"),
])
def test_invalid_parameters(params, match):
    X, y = problem("multiclass")
    with pytest.raises(ValueError, match=match):
        MLPClassifier((5,), max_iter=1, **params).fit(X, y)


def test_sparse_X_is_refused():
    X, y = problem("multiclass")
    with pytest.raises(ValueError, match="mixup_alpha makes the inputs dense"):
        MLPClassifier((5,), max_iter=1, mixup_alpha=0.2).fit(sp.csr_matrix(X), y)
