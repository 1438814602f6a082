"""Batch normalisation, dropout, input noise and early stopping as the
estimators use them (their gradients against the reference are in
test_engine.py, thread-count independence in test_threads.py)."""

import numpy as np
import pytest
import reference as ref
from _helpers import ACTS
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

from fastmlp import MLPClassifier, _testing
from fastmlp._network import Network

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

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


def test_lbfgs_bn_running_statistics_are_the_whole_training_set():
    """Full-batch training: BN's running statistics are those of the whole
    training set at the final parameters (the unbiased variance)."""
    X, y = make_classification(n_samples=120, n_features=6, random_state=0)
    est = MLPClassifier((5,), solver="lbfgs", batch_norm=True, max_iter=20,
                        random_state=0, dtype="float64").fit(X, y)
    z = X @ est.coefs_[0]
    np.testing.assert_allclose(est.bn_running_mean_[0], z.mean(axis=0), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(est.bn_running_var_[0], z.var(axis=0, ddof=1),
                               rtol=1e-10)


@pytest.mark.parametrize("activation", ACTS)
def test_every_activation_trains_with_bn_dropout_and_noise(activation):
    X, y = make_classification(n_samples=400, n_features=10, n_informative=6,
                               random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    est = MLPClassifier((32, 16), activation=activation, batch_norm=True,
                        dropout=[0.2, 0.1], input_noise=0.05, max_iter=40,
                        learning_rate_init=0.01, random_state=0).fit(X_train, y_train)
    assert np.all(np.isfinite(est.loss_curve_))
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    assert est.score(X_test, y_test) > 0.8
    # prediction is deterministic: no dropout, no noise
    np.testing.assert_array_equal(est.predict_proba(X_test), est.predict_proba(X_test))


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
    _testing.random_fill(a, p, 0.0, 7, 0, 0, 1)
    kept = (a != 0).mean()
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 3 * sigma
    np.testing.assert_allclose(a[a != 0], 1 / (1 - p))
    assert abs(a.mean() - 1) < 3 * sigma / (1 - p)  # inverted dropout: E = 1


def test_dropout_masks_reproducible_and_different():
    def mask(seed, epoch, batch, stream):
        a = np.ones(5000)
        _testing.random_fill(a, 0.5, 0.0, seed, epoch, batch, stream)
        return a != 0

    np.testing.assert_array_equal(mask(1, 2, 3, 1), mask(1, 2, 3, 1))
    for other in (mask(2, 2, 3, 1), mask(1, 3, 3, 1), mask(1, 2, 4, 1), mask(1, 2, 3, 2)):
        agreement = (other == mask(1, 2, 3, 1)).mean()
        assert 0.45 < agreement < 0.55  # independent masks agree half the time


def test_input_noise_is_gaussian():
    a = np.zeros(200_000)
    _testing.random_fill(a, 0.0, 0.3, 5, 1, 2, 0)
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
    _testing.random_fill(b, 0.0, 0.3, 5, 1, 2, 0)
    np.testing.assert_allclose(b, a[:1000], rtol=1e-6, atol=1e-7)


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
