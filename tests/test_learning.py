"""Learning for real on data bundled with scikit-learn."""

import warnings

import numpy as np
import pytest
from _helpers import ACTS
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_iris,
    make_multilabel_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._components import SOLVERS, WEIGHT_INITS
from fastmlp._schedules import SCHEDULE_PARAMS, SCHEDULES

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, random_state=0, stratify=y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_digits_accuracy(digits, dtype):
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier((256, 128), batch_size=32, max_iter=40, random_state=0,
                        dtype=dtype).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.97


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("weight_init", WEIGHT_INITS)
def test_every_activation_and_init_learns(digits, activation, weight_init):
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier((64,), activation=activation, weight_init=weight_init,
                        batch_size=64, max_iter=30, random_state=0,
                        learning_rate_init=0.003).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.9


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_every_solver_learns_digits_with_its_default_rate(digits, solver):
    """Default learning_rate_init ("auto") for every solver; Adadelta with no
    tuning (unit rate, as Zeiler's paper)."""
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier((100,), solver=solver, batch_size=32, max_iter=100,
                        random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95


SCHEDULE_CASES = {
    "constant": None,
    "step": {"step_size": 10, "gamma": 0.5},
    "cosine": None,
    "cosine_restarts": {"T_0": 5, "T_mult": 2},
    "cyclic": {"step_size_up": 200, "max_lr": 0.15},
    "invscaling": None,
    "adaptive": None,
}


def test_every_schedule_has_a_learning_case():
    assert set(SCHEDULE_CASES) == set(SCHEDULES)
    assert all(set(p or {}) <= set(SCHEDULE_PARAMS.get(name, {}))
               for name, p in SCHEDULE_CASES.items())


@pytest.mark.parametrize("schedule, params", list(SCHEDULE_CASES.items()))
def test_every_schedule_learns(digits, schedule, params):
    X_train, X_test, y_train, y_test = digits
    clf = MLPClassifier((64,), solver="sgd", learning_rate=schedule,
                        lr_schedule_params=params, learning_rate_init=0.05,
                        power_t=0.1, batch_size=32, max_iter=40,
                        random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95
    assert len(clf.learning_rate_curve_) == clf.n_iter_


def test_breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    clf = make_pipeline(StandardScaler(), MLPClassifier((32,), max_iter=200, random_state=0))
    clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.95
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(y_test), 2)


def test_iris():
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    clf = make_pipeline(StandardScaler(),
                        MLPClassifier((16,), max_iter=500, random_state=0,
                                      learning_rate_init=0.01))
    clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) >= 0.93


def test_diabetes_r2_at_least_sklearns():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    mu, sd = y_train.mean(), y_train.std()
    kw = dict(hidden_layer_sizes=(10,), max_iter=300, random_state=0, alpha=0.1)
    ours = MLPRegressor(**kw).fit(scaler.transform(X_train), (y_train - mu) / sd)
    theirs = SkMLPRegressor(**kw).fit(scaler.transform(X_train), (y_train - mu) / sd)
    r2_ours = r2_score(y_test, ours.predict(scaler.transform(X_test)) * sd + mu)
    r2_theirs = r2_score(y_test, theirs.predict(scaler.transform(X_test)) * sd + mu)
    # diabetes is noisy: a linear model reaches about 0.36 on this split
    assert r2_ours > 0.25
    assert r2_ours >= r2_theirs - 0.01


def test_multilabel():
    X, Y = make_multilabel_classification(n_samples=400, n_features=20, n_classes=5,
                                          random_state=0)
    X_train, X_test, Y_train, Y_test = train_test_split(X, Y, random_state=0)
    clf = MLPClassifier((64,), max_iter=100, random_state=0).fit(X_train, Y_train)
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 5
    P = clf.predict_proba(X_test)
    assert P.shape == Y_test.shape and P.min() >= 0 and P.max() <= 1
    sk = SkMLPClassifier((64,), max_iter=100, random_state=0).fit(X_train, Y_train)
    ours, theirs = ((m.predict(X_test) == Y_test).mean() for m in (clf, sk))
    # label accuracy: a constant predictor scores about 0.6 here
    assert ours > 0.72
    assert ours >= theirs - 0.02


def test_softplus_and_sigmoid_outputs_respect_the_range():
    rng = np.random.RandomState(0)
    X = rng.randn(800, 5)
    signal = X @ rng.randn(5)
    y_pos = np.log1p(np.exp(signal)) + 0.05 * rng.rand(800)
    y_unit = 1 / (1 + np.exp(-signal))
    for out, y in (("softplus", y_pos), ("sigmoid", y_unit)):
        reg = MLPRegressor(hidden_layer_sizes=(32,), out_activation=out, max_iter=300,
                           random_state=0, learning_rate_init=0.01).fit(X[:600], y[:600])
        pred = reg.predict(X[600:] * 3)  # also far outside the training range
        assert reg.score(X[600:], y[600:]) > 0.9
        assert pred.min() >= 0
        if out == "sigmoid":
            assert pred.max() <= 1


def test_poisson_beats_a_constant():
    rng = np.random.RandomState(0)
    X = rng.randn(1000, 4)
    y = rng.poisson(np.exp(0.8 * X[:, 0] - 0.5 * X[:, 1]))
    reg = MLPRegressor(loss="poisson", hidden_layer_sizes=(16,), max_iter=200,
                       random_state=0, learning_rate_init=0.01).fit(X[:800], y[:800])
    mu = reg.predict(X[800:])
    assert mu.min() > 0

    def deviance(y, mu):
        return 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0) - y + mu)

    assert deviance(y[800:], mu) < 0.6 * deviance(y[800:], np.full(200, y[:800].mean()))


def test_lbfgs_loss_close_to_sklearn(digits):
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=150, random_state=0)
    ours = MLPClassifier(dtype="float64", **kw).fit(X_train, y_train)
    theirs = SkMLPClassifier(**kw).fit(X_train, y_train)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=0.01, abs=1e-4)
