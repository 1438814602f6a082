"""Batch normalisation, dropout, input noise and early stopping."""

import warnings

import numpy as np
import pytest
import reference as ref
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from fastmlp import MLPClassifier, MLPRegressor, _engine
from fastmlp._network import Network

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ACTS = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu"]
PAIRS = [("softmax", "log_loss"), ("logistic", "binary_log_loss"),
         ("identity", "squared_error")]


def bn_problem(out, loss, n=24, d=5, k=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * 2 + 1
    if loss == "log_loss":
        Y = np.eye(k)[rng.randint(0, k, n)]
    elif loss == "binary_log_loss":
        Y = (rng.rand(n, k) > 0.5).astype(float)
    else:
        Y = rng.randn(n, k)
    return X, Y


def bn_network(d, hidden, k, act, out, loss, dtype, seed=0):
    net = Network([d, *hidden, k], act, out, loss, dtype, batch_norm=True)
    theta = net.init_params(np.random.RandomState(seed))
    rng = np.random.RandomState(seed + 1)
    # gamma and beta away from their initial 1 and 0, so both are exercised
    for g in net.bn_gammas(theta):
        g[...] = rng.uniform(0.5, 1.5, g.shape)
    for b in net.intercepts(theta)[:-1]:
        b[...] = rng.uniform(-0.5, 0.5, b.shape)
    return net, theta


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("hidden", [(6,), (7, 5), (6, 5, 4)])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("pair", PAIRS)
def test_bn_training_loss_and_gradient_against_reference(pair, act, hidden, dtype, tol):
    out, loss = pair
    X, Y = bn_problem(out, loss)
    net, theta = bn_network(X.shape[1], hidden, Y.shape[1], act, out, loss, dtype)
    coefs = [c.astype(float) for c in net.coefs(theta)]
    inter = [b.astype(float) for b in net.intercepts(theta)]
    gammas = [g.astype(float) for g in net.bn_gammas(theta)]
    value, grad = net.loss_and_grad(theta, X.astype(dtype), Y.astype(dtype), alpha=0.1)
    _, zL, _ = ref.forward_bn(coefs, inter, gammas, X, act, out)
    expected = (ref.sample_losses(out, loss, zL, Y).sum()
                / (Y.shape[1] if loss == "squared_error" else 1)
                + 0.05 * sum((W**2).sum() for W in coefs)) / X.shape[0]
    np.testing.assert_allclose(value, expected, rtol=tol)
    gW, gb, gg = ref.backward_bn(coefs, inter, gammas, X, Y, act, out, loss, alpha=0.1)
    expected_grad = net.pack(gW, gb, gg).astype(float)
    np.testing.assert_allclose(grad, expected_grad, rtol=tol,
                               atol=tol * np.abs(expected_grad).max())


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("act", ACTS)
def test_bn_gradient_central_differences(act, depth):
    out, loss = "softmax", "log_loss"
    X, Y = bn_problem(out, loss, n=10, d=4)
    net, theta = bn_network(4, [5, 4, 3][:depth], 3, act, out, loss, np.float64)
    _, grad = net.loss_and_grad(theta, X, Y, alpha=0.2)
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += 1e-6
        tm[i] -= 1e-6
        numeric[i] = (net.loss_and_grad(tp, X, Y, alpha=0.2)[0]
                      - net.loss_and_grad(tm, X, Y, alpha=0.2)[0]) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bn_inference_uses_running_statistics(dtype):
    X, _ = bn_problem("softmax", "log_loss")
    net, theta = bn_network(5, (6, 4), 3, "tanh", "softmax", "log_loss", dtype)
    rng = np.random.RandomState(3)
    means, var = net.running_views()
    for m, v in zip(means, var):
        m[...] = rng.randn(m.size)
        v[...] = rng.uniform(0.5, 2, v.size)
    got = net.forward(theta, X.astype(dtype))
    # reference: BN with the running statistics
    A = X
    coefs, inter, gammas = net.coefs(theta), net.intercepts(theta), net.bn_gammas(theta)
    for l in range(2):
        A = ref.activation("tanh", ref.bn_eval(A @ coefs[l].astype(float), gammas[l],
                                               inter[l], means[l], var[l]))
    expected = ref.output("softmax", A @ coefs[2] + inter[2])
    np.testing.assert_allclose(got, expected, rtol=1e-10 if dtype == np.float64 else 1e-5,
                               atol=1e-6)


def test_running_statistics_follow_pytorch_rule():
    """Two minibatches of plain SGD with a zero learning rate: the running
    statistics are the PyTorch EMA of the two batches' statistics."""
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3) * 3 + 2
    y = rng.randint(0, 2, 40)
    est = MLPClassifier((4,), batch_norm=True, bn_momentum=0.3, solver="sgd",
                        momentum=0.0, learning_rate_init=1e-300, batch_size=25,
                        shuffle=False, max_iter=1, random_state=0, dtype="float64")
    est.fit(X, y)
    W = est.coefs_[0]
    rm, rv = np.zeros(4), np.ones(4)
    for part in (X[:25], X[25:]):
        z = part @ W
        rm, rv = ref.bn_running_update(rm, rv, z.mean(0), z.var(0), len(part), 0.3)
    np.testing.assert_allclose(est.bn_running_mean_[0], rm, rtol=1e-12)
    np.testing.assert_allclose(est.bn_running_var_[0], rv, rtol=1e-12)


def test_bn_statistics_continue_in_partial_fit_and_warm_start():
    X, y = make_classification(n_samples=200, random_state=0)
    est = MLPClassifier((8,), batch_norm=True, random_state=0, batch_size=50)
    est.partial_fit(X, y, classes=[0, 1])
    first = [v.copy() for v in est.bn_running_var_]
    est.partial_fit(X, y)
    assert not np.allclose(first[0], est.bn_running_var_[0])
    est2 = MLPClassifier((8,), batch_norm=True, random_state=0, max_iter=1,
                         warm_start=True, batch_size=50).fit(X, y)
    before = est2.bn_running_mean_[0].copy()
    est2.fit(X, y)
    # continued, not reset to 0 / 1: a reset would give the first fit's values
    assert not np.allclose(est2.bn_running_mean_[0], before)
    fresh = MLPClassifier((8,), batch_norm=True, random_state=0, max_iter=1,
                          batch_size=50).fit(X, y)
    np.testing.assert_allclose(fresh.bn_running_mean_[0], before)


def test_bn_batch_of_one():
    X, y = make_classification(n_samples=11, random_state=0)
    with pytest.raises(ValueError, match="more than 1 value per feature"):
        MLPClassifier((4,), batch_norm=True, batch_size=1).fit(X, y)
    # a last minibatch of one sample is skipped (11 = 2 x 5 + 1)
    est = MLPClassifier((4,), batch_norm=True, batch_size=5, max_iter=3,
                        random_state=0).fit(X, y)
    assert np.isfinite(est.loss_)
    assert est._opt_t == 3 * 2


def test_bn_helps_and_predicts_with_population_statistics():
    X, y = make_classification(n_samples=600, n_features=20, random_state=0)
    X = X * 50 + 100  # badly scaled: BN normalises inside the network
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    est = MLPClassifier((32, 32), batch_norm=True, max_iter=50, random_state=0,
                        learning_rate_init=0.01).fit(X_train, y_train)
    assert est.score(X_test, y_test) > 0.85
    # predictions of one sample do not depend on the rest of the batch
    single = np.vstack([est.predict_proba(X_test[i:i + 1]) for i in range(5)])
    np.testing.assert_allclose(single, est.predict_proba(X_test)[:5], rtol=1e-5)


# --- dropout and noise ------------------------------------------------------------


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_kept_fraction_and_expectation(p):
    n = 200_000
    a = np.ones(n)
    _engine.random_fill(a, p, 0.0, 7, 0, 0, 1)
    kept = (a != 0).mean()
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 3 * sigma
    np.testing.assert_allclose(a[a != 0], 1 / (1 - p))
    assert abs(a.mean() - 1) < 3 * sigma / (1 - p)  # inverted dropout: E = 1


def test_dropout_masks_reproducible_and_different():
    def mask(seed, epoch, batch, stream):
        a = np.ones(5000)
        _engine.random_fill(a, 0.5, 0.0, seed, epoch, batch, stream)
        return a != 0

    np.testing.assert_array_equal(mask(1, 2, 3, 1), mask(1, 2, 3, 1))
    for other in (mask(2, 2, 3, 1), mask(1, 3, 3, 1), mask(1, 2, 4, 1), mask(1, 2, 3, 2)):
        agreement = (other == mask(1, 2, 3, 1)).mean()
        assert 0.45 < agreement < 0.55  # independent masks agree half the time


def test_input_noise_is_gaussian():
    a = np.zeros(200_000)
    _engine.random_fill(a, 0.0, 0.3, 5, 1, 2, 0)
    assert abs(a.mean()) < 3 * 0.3 / np.sqrt(a.size)
    assert a.std() == pytest.approx(0.3, rel=0.01)
    # fourth moment of a Gaussian: 3 sigma^4
    assert (a**4).mean() / 0.3**4 == pytest.approx(3.0, rel=0.05)
    # the whole distribution (Kolmogorov-Smirnov), and the two numbers of a
    # Box-Muller pair uncorrelated
    from scipy.stats import kstest

    assert kstest(a / 0.3, "norm").pvalue > 1e-3
    assert abs(np.corrcoef(a[0::2], a[1::2])[0, 1]) < 4 / np.sqrt(a.size / 2)
    # float32 draws the same numbers, rounded
    b = np.zeros(1000, np.float32)
    _engine.random_fill(b, 0.0, 0.3, 5, 1, 2, 0)
    np.testing.assert_allclose(b, a[:1000], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_thread_count_does_not_change_the_model(dtype):
    X, y = make_classification(n_samples=700, n_features=40, random_state=0)
    kw = dict(hidden_layer_sizes=(300, 200), batch_norm=True, dropout=[0.3, 0.2],
              input_noise=0.1, batch_size=256, max_iter=2, random_state=0,
              dtype=dtype)
    a = MLPClassifier(n_threads=1, **kw).fit(X, y)
    b = MLPClassifier(n_threads=2, **kw).fit(X, y)
    c = MLPClassifier(n_threads=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a._theta, b._theta)
    np.testing.assert_array_equal(b._theta, c._theta)
    for u, v in zip(a.bn_running_var_, b.bn_running_var_):
        np.testing.assert_array_equal(u, v)


def test_dropout_is_off_at_prediction_and_on_in_training():
    X, y = make_classification(n_samples=300, random_state=0)
    est = MLPClassifier((64,), dropout=0.5, max_iter=20, random_state=0).fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), est.predict_proba(X))
    plain = MLPClassifier((64,), max_iter=20, random_state=0).fit(X, y)
    assert not np.allclose(est.coefs_[0], plain.coefs_[0])


def test_dropout_validation():
    X, y = make_classification(n_samples=50, random_state=0)
    with pytest.raises(ValueError, match="one per hidden layer"):
        MLPClassifier((4, 4), dropout=[0.1, 0.2, 0.3]).fit(X, y)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        MLPClassifier((4, 4), dropout=[0.1, 1.0]).fit(X, y)


# --- early stopping ---------------------------------------------------------------


def test_early_stopping_restores_best_weights_and_bn_statistics():
    X, y = make_classification(n_samples=800, n_features=20, n_informative=4,
                               flip_y=0.35, random_state=1)
    est = MLPClassifier((128, 64), batch_norm=True, early_stopping=True,
                        validation_fraction=0.2, n_iter_no_change=4, max_iter=200,
                        learning_rate_init=0.01, random_state=0, dtype="float64")
    est.fit(X, y)
    assert est.n_iter_ < 200
    assert int(np.argmax(est.validation_scores_)) < est.n_iter_ - 1
    # rebuild the validation split as the estimator drew it: the initial
    # weights first, then train_test_split on the same random stream
    rs = np.random.RandomState(0)
    Network([20, 128, 64, 1], "relu", "logistic", "binary_log_loss",
            np.float64).init_params(rs)
    Y = y.reshape(-1, 1).astype(np.float64)
    _, X_val, _, y_val = train_test_split(X, Y, random_state=rs, test_size=0.2,
                                          stratify=Y)
    # the final model scores exactly the best validation score: its weights
    # and BN statistics are those of the best epoch, not of the last one
    assert est.score(X_val, y_val.ravel()) == est.best_validation_score_
