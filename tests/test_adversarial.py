"""Adversarial training and examples by the fast gradient sign method
(Goodfellow, Shlens & Szegedy 2015): the engine's input gradient against
finite differences of the loss and the NumPy reference, one training step
against the reference objective alpha J(x) + (1 - alpha) J(x_adv), the same
bits for any thread count, and the parameters' checks."""

import numpy as np
import pytest
import scipy.sparse as sp

import reference as ref
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp.inspection import fgsm
from test_stabilisers import COMMON, problem, start_from

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def sample_losses(est, X, y):
    """Each sample's log-loss of its true class, from predict_proba."""
    p = est.predict_proba(X)
    return -np.log(p[np.arange(len(X)), np.searchsorted(est.classes_, y)])


def test_input_gradient_against_finite_differences():
    X, y = problem("multiclass", n=12)
    est = MLPClassifier((7, 5), activation="tanh", dtype="float64", max_iter=30,
                        random_state=0).fit(X, y)
    eps, h = 0.1, 1e-6
    X_adv = fgsm(est, X, y, eps)
    fd = np.empty_like(X)
    for j in range(X.shape[1]):
        Xp, Xm = X.copy(), X.copy()
        Xp[:, j] += h
        Xm[:, j] -= h
        fd[:, j] = (sample_losses(est, Xp, y) - sample_losses(est, Xm, y)) / (2 * h)
    clear = np.abs(fd) > 1e-6
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(X_adv[clear], (X + eps * np.sign(fd))[clear])
    # the reference's analytic gradient agrees with the differences
    Y = np.eye(len(est.classes_))[np.searchsorted(est.classes_, y)]
    analytic = ref.input_gradient(est.coefs_, est.intercepts_, X, Y, "tanh",
                                  "softmax", "log_loss")
    np.testing.assert_allclose(analytic, fd, rtol=1e-5, atol=1e-8)
    # and the perturbation raises every sample's loss (to first order)
    assert np.all(sample_losses(est, X_adv, y) > sample_losses(est, X, y))


@pytest.mark.parametrize("kind", ["binary", "multilabel", "regression"])
def test_fgsm_other_outputs_follow_the_reference(kind):
    X, y = problem(kind, n=30)
    Est = MLPRegressor if kind == "regression" else MLPClassifier
    est = Est(hidden_layer_sizes=(6,), activation="tanh", dtype="float64", max_iter=20,
              random_state=0).fit(X, y)
    Y = (y.reshape(len(X), -1)).astype(float)
    out, loss = ((("identity", "squared_error")) if kind == "regression"
                 else ("logistic", "binary_log_loss"))
    expected = ref.fgsm(est.coefs_, est.intercepts_, X, Y, 0.3, "tanh", out, loss)
    np.testing.assert_array_equal(fgsm(est, X, y, 0.3), expected)
    clipped = fgsm(est, X, y, 0.3, clip=(-0.5, 0.5))
    np.testing.assert_array_equal(clipped, np.clip(expected, -0.5, 0.5))


@pytest.mark.parametrize("a", [0.5, 0.8])
def test_one_training_step_follows_the_reference(a):
    X, y = problem("multiclass")
    eps, lr, alpha = 0.25, 0.1, 1e-3
    est = MLPClassifier(solver="sgd", momentum=0.0, learning_rate_init=lr, alpha=alpha,
                        batch_size=len(X), adversarial_eps=eps, adversarial_alpha=a,
                        **COMMON)
    coefs, inters = start_from(est, X, y)
    est.set_params(max_iter=1).fit(X, y)
    Y = np.eye(4)[y]
    args = ("tanh", "softmax", "log_loss")
    X_adv = ref.fgsm(coefs, inters, X, Y, eps, *args)
    expected = (a * ref.objective(coefs, inters, X, Y, *args)
                + (1 - a) * ref.objective(coefs, inters, X_adv, Y, *args)
                + 0.5 * alpha * sum((W**2).sum() for W in coefs) / len(X))
    assert est.loss_curve_[-1] == pytest.approx(expected, rel=1e-12)
    g1 = ref.backward(coefs, inters, X, Y, *args, alpha=alpha)
    g2 = ref.backward(coefs, inters, X_adv, Y, *args, alpha=alpha)
    for got, w, ga, gb in zip(est.coefs_ + est.intercepts_, coefs + inters,
                              g1[0] + g1[1], g2[0] + g2[1]):
        np.testing.assert_allclose(got, w - lr * (a * ga + (1 - a) * gb), rtol=1e-10,
                                   atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_same_bits_for_any_thread_count(dtype):
    rng = np.random.RandomState(0)
    X = rng.rand(600, 120)
    y = rng.randint(0, 5, 600)
    kw = dict(hidden_layer_sizes=(200, 200), batch_size=300, max_iter=2,
              random_state=0, dtype=dtype, adversarial_eps=0.1, dropout=0.2)
    a = MLPClassifier(n_threads=1, **kw).fit(X, y)
    b = MLPClassifier(n_threads=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    assert a.loss_curve_ == b.loss_curve_
    np.testing.assert_array_equal(fgsm(a, X, y, 0.1), fgsm(b, X, y, 0.1))


def test_adversarial_training_resists_fgsm():
    """On digits, the adversarially trained model's error on FGSM examples
    is far below the normally trained one's."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    X = X / 16
    kw = dict(hidden_layer_sizes=(64,), random_state=0, max_iter=60)
    plain = MLPClassifier(**kw).fit(X, y)
    robust = MLPClassifier(adversarial_eps=0.1, **kw).fit(X, y)
    attack = lambda est: est.score(fgsm(est, X, y, 0.1, clip=(0, 1)), y)  # noqa: E731
    assert attack(robust) > attack(plain) + 0.2
    assert robust.score(X, y) > 0.95


@pytest.mark.parametrize("params, match", [
    (dict(adversarial_eps=-0.1), "adversarial_eps"),
    (dict(adversarial_eps=0.1, adversarial_alpha=0.0), "adversarial_alpha"),
    (dict(adversarial_eps=0.1, adversarial_alpha=1.5), "adversarial_alpha"),
    (dict(adversarial_eps=0.1, batch_norm=True), "not supported with batch_norm"),
    (dict(adversarial_eps=0.1, solver="lbfgs"),
     "adversarial_eps=0.1 acts on minibatch training"),
])
def test_invalid_parameters(params, match):
    X, y = problem("multiclass")
    with pytest.raises(ValueError, match=match):
        MLPClassifier((5,), max_iter=1, **params).fit(X, y)


def test_sparse_X_is_refused_in_training_and_densified_by_fgsm():
    X, y = problem("multiclass")
    with pytest.raises(ValueError, match="adversarial_eps makes the inputs dense"):
        MLPClassifier((5,), max_iter=1, adversarial_eps=0.1).fit(sp.csr_matrix(X), y)
    est = MLPClassifier((5,), max_iter=5, random_state=0).fit(X, y)
    np.testing.assert_array_equal(fgsm(est, sp.csr_matrix(X), y, 0.1),
                                  fgsm(est, X, y, 0.1))


def test_fgsm_checks_its_arguments():
    X, y = problem("multiclass")
    with pytest.raises(TypeError, match="fastmlp"):
        fgsm(object(), X, y, 0.1)
    est = MLPClassifier((5,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="eps must be"):
        fgsm(est, X, y, -1.0)
    with pytest.raises(ValueError, match="has 40 samples but y has 3"):
        fgsm(est, X, y[:3], 0.1)
    bn = MLPClassifier((5,), max_iter=2, batch_norm=True, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="batch-normalised"):
        fgsm(bn, X, y, 0.1)
    ens = MLPClassifier((5,), max_iter=2, learning_rate="cosine_restarts",
                        lr_schedule_params=dict(T_0=1), snapshot_ensemble=2).fit(X, y)
    with pytest.raises(ValueError, match="snapshot ensemble"):
        fgsm(ens, X, y, 0.1)
