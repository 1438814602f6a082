"""The scikit-learn contract beyond the estimator checks."""

import inspect
import pickle
import threading

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import reference as ref
from _helpers import ACTS, SOLVER_NAMES, loss_and_grad

import fastmlp._training
from fastmlp import MLPClassifier, MLPRegressor, config_context
from fastmlp._aligned import ALIGNMENT, is_aligned
from fastmlp._engine import Engine

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, random_state=0)


# Parameters ------------------------------------------------------------------


@pytest.mark.parametrize("ours, theirs", [(MLPClassifier, SkMLPClassifier),
                                          (MLPRegressor, SkMLPRegressor)])
def test_every_sklearn_parameter_with_its_default(ours, theirs):
    """A drop-in: scikit-learn's parameters, positional ones in the same
    order, the same defaults."""
    mine, sk = ours().get_params(), theirs().get_params()
    assert set(sk) <= set(mine)
    differing = {k for k in sk if mine[k] != sk[k]}
    # "auto" resolves to scikit-learn's 0.001 for sgd and adam
    assert differing == {"learning_rate_init"} and mine["learning_rate_init"] == "auto"

    def positional(cls):
        return [p.name for p in inspect.signature(cls).parameters.values()
                if p.kind == p.POSITIONAL_OR_KEYWORD]

    if "loss" in mine and "loss" not in sk:
        # scikit-learn < 1.7: fastmlp's MLPRegressor has 1.7's `loss` first
        assert positional(ours)[0] == "loss"
        assert positional(ours)[1:] == positional(theirs)
    else:
        assert positional(ours) == positional(theirs)
    assert {"dtype", "weight_init", "n_threads"} <= set(mine)
    if ours is MLPRegressor:
        assert mine["out_activation"] is None


def test_params_clone_pipeline_gridsearch(digits):
    X_train, X_test, y_train, y_test = digits
    est = MLPClassifier((20,), max_iter=30, random_state=0, solver="rmsprop")
    assert est.get_params()["solver"] == "rmsprop"
    assert est.set_params(dtype="float64", weight_init="he_normal") is est
    assert est.get_params()["weight_init"] == "he_normal"
    est2 = clone(est).set_params(alpha=0.01)
    assert est2.alpha == 0.01 and est.alpha == 0.0001
    assert est2.dtype == "float64" and est2.hidden_layer_sizes == (20,)
    # clone of a fitted model is unfitted
    est.fit(X_train[:200], y_train[:200])
    assert not hasattr(clone(est), "coefs_") and not hasattr(clone(est), "_model")
    pipe = make_pipeline(StandardScaler(), est)
    search = GridSearchCV(pipe, {"mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2)
    search.fit(X_train[:400], y_train[:400])
    assert search.best_score_ > 0.85
    assert search.score(X_test, y_test) > 0.85
    assert search.best_estimator_[-1].coefs_[0].dtype == np.float64


def test_sigmoid_is_an_alias_of_logistic(digits):
    """Including scikit-learn's initial range for the logistic (factor 2)."""
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0)
    a = MLPClassifier(activation="sigmoid", **kw).fit(X_train, y_train)
    b = MLPClassifier(activation="logistic", **kw).fit(X_train, y_train)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)


# Pickle and user-set parameters -------------------------------------------------


def test_pickle_round_trip_keeps_views(digits):
    X_train, X_test, y_train, _ = digits
    for est in (MLPClassifier((16,), max_iter=10, random_state=0).fit(X_train, y_train),
                MLPRegressor(hidden_layer_sizes=(16,), max_iter=10, random_state=0,
                             dtype="float64").fit(X_train, y_train / 9.0)):
        predict = est.predict_proba if hasattr(est, "predict_proba") else est.predict
        restored = pickle.loads(pickle.dumps(est))
        new_predict = getattr(restored, predict.__name__)
        np.testing.assert_array_equal(new_predict(X_test), predict(X_test))
        for attr in ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_", "n_layers_",
                     "n_outputs_", "out_activation_", "n_features_in_"):
            assert getattr(restored, attr) == getattr(est, attr), attr
        assert all(np.shares_memory(c, restored._model.theta) for c in restored.coefs_)
        assert all(np.shares_memory(b, restored._model.theta) for b in restored.intercepts_)
        before = new_predict(X_test[:5])
        restored.coefs_[0][...] = 0
        assert not np.allclose(new_predict(X_test[:5]), before)
        # the original is independent of the copy
        np.testing.assert_array_equal(predict(X_test[:5]), before)


def test_user_set_coefs_are_used_for_prediction_and_pickled(digits):
    X_train, X_test, y_train, _ = digits
    est = MLPClassifier((16,), max_iter=5, random_state=0).fit(X_train, y_train)
    other = MLPClassifier((16,), max_iter=5, random_state=1).fit(X_train, y_train)
    est.coefs_ = [c.copy() for c in other.coefs_]
    est.intercepts_ = [b.copy() for b in other.intercepts_]
    expected = other.predict_proba(X_test)
    np.testing.assert_array_equal(est.predict_proba(X_test), expected)
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(est)).predict_proba(X_test), expected)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_probability_one_half_predicts_the_first_class(dtype):
    """A binary model whose output is exactly 0.5 (all weights zero)
    predicts classes_[0], as scikit-learn's threshold (p > 0.5) does, on
    the few-sample path and the batched one."""
    X, y = make_classification(n_samples=40, n_features=4, random_state=0)
    labels = np.where(y == 1, "yes", "no")
    est = MLPClassifier((3,), max_iter=2, random_state=0, dtype=dtype).fit(X, labels)
    sk = SkMLPClassifier((3,), max_iter=2, random_state=0).fit(X, labels)
    for model in (est, sk):
        model.coefs_ = [np.zeros_like(c) for c in model.coefs_]
        model.intercepts_ = [np.zeros_like(b) for b in model.intercepts_]
    X = X.astype(dtype)
    np.testing.assert_array_equal(est.predict_proba(X), np.full((40, 2), 0.5))
    for rows in (X[:1], X):
        np.testing.assert_array_equal(est.predict(rows), sk.predict(rows))
        assert np.all(est.predict(rows) == "no")


def test_warm_start_continues_from_user_weights(digits):
    X_train, X_test, y_train, y_test = digits
    good = MLPClassifier((32,), max_iter=60, random_state=0).fit(X_train, y_train)
    est = MLPClassifier((32,), max_iter=1, random_state=5, warm_start=True,
                        learning_rate_init=1e-6).fit(X_train, y_train)
    assert est.score(X_test, y_test) < 0.9
    est.coefs_ = [c.copy() for c in good.coefs_]
    est.intercepts_ = [b.copy() for b in good.intercepts_]
    est.fit(X_train, y_train)
    # continued from the user's weights (not re-initialised), and they moved
    assert est.n_iter_ == 1
    moved = max(np.abs(a - b).max() for a, b in zip(est.coefs_, good.coefs_))
    assert 0 < moved < 1e-4
    assert all(np.shares_memory(c, est._model.theta) for c in est.coefs_)
    assert est.score(X_test, y_test) == pytest.approx(good.score(X_test, y_test), abs=0.01)
    # without warm_start, fit starts over
    est.set_params(warm_start=False).fit(X_train, y_train)
    assert max(np.abs(a - b).max() for a, b in zip(est.coefs_, good.coefs_)) > 0.01


# partial_fit and bookkeeping -------------------------------------------------------


def test_partial_fit_keeps_optimizer_and_improves(digits):
    X_train, X_test, y_train, y_test = digits
    classes = np.unique(y_train)
    est = MLPClassifier((32,), random_state=0, batch_size=64, shuffle=False)
    losses = []
    for _ in range(15):
        est.partial_fit(X_train, y_train, classes=classes)
        losses.append(est.loss_)
    assert all(b < a for a, b in zip(losses, losses[1:]))
    assert losses[-1] < losses[0] / 3
    assert est.score(X_test, y_test) > 0.9
    assert est.n_iter_ == 1 and est.t_ == 15 * len(X_train)
    assert est.loss_curve_ == losses
    assert est._opt_t == 15 * int(np.ceil(len(X_train) / 64))
    # 15 partial_fit calls == 15 epochs of fit with shuffle=False: the
    # optimiser's moments and step count carry over between calls
    ref = MLPClassifier((32,), random_state=0, batch_size=64, shuffle=False,
                        max_iter=15, tol=0, n_iter_no_change=100).fit(X_train, y_train)
    np.testing.assert_allclose(est._model.theta, ref._model.theta, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(est.loss_curve_, ref.loss_curve_, rtol=1e-5)


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_partial_fit_follows_sklearn(digits, solver):
    """Bookkeeping and trajectory of partial_fit calls (float64, shuffled)."""
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(16,), random_state=0, solver=solver,
              learning_rate_init=0.01)
    ours, theirs = MLPClassifier(dtype="float64", **kw), SkMLPClassifier(**kw)
    for _ in range(4):
        for est in (ours, theirs):
            est.partial_fit(X_train, y_train, classes=np.arange(10))
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert (ours.n_iter_, ours.t_) == (theirs.n_iter_, theirs.t_) == (1, 4 * len(X_train))
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-10)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0)
    for _ in range(3):
        reg.partial_fit(X_train, y_train / 9.0)
    assert reg.t_ == 3 * len(X_train) and len(reg.loss_curve_) == 3
    assert reg.loss_curve_[-1] < reg.loss_curve_[0]


def test_bookkeeping_as_sklearn(digits):
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(16,), max_iter=300, random_state=0, tol=1e-3)
    est = MLPClassifier(dtype="float64", **kw).fit(X_train, y_train)
    sk = SkMLPClassifier(**kw).fit(X_train, y_train)
    assert est.n_iter_ == sk.n_iter_ < 300
    assert est.t_ == est.n_iter_ * len(X_train)
    assert len(est.loss_curve_) == est.n_iter_
    np.testing.assert_allclose(est.loss_curve_, sk.loss_curve_, rtol=1e-6)
    assert est.best_loss_ == pytest.approx(sk.best_loss_, rel=1e-6)
    assert est.best_loss_ == min(est.loss_curve_) and est.loss_ == est.loss_curve_[-1]
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    assert est.n_layers_ == 3 and est.n_outputs_ == 10
    assert est.out_activation_ == "softmax"
    # a second fit starts over: n_iter_, t_ and the curve are reset
    est.set_params(max_iter=3).fit(X_train, y_train)
    assert est.n_iter_ == 3 and est.t_ == 3 * len(X_train) and len(est.loss_curve_) == 3
    # lbfgs: no loss curve, n_iter_ is L-BFGS's iteration count
    kw = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=20, random_state=0)
    est = MLPClassifier(dtype="float64", **kw).fit(X_train, y_train)
    sk = SkMLPClassifier(**kw).fit(X_train, y_train)
    assert est.n_iter_ == sk.n_iter_ == 20
    assert hasattr(est, "loss_curve_") == hasattr(sk, "loss_curve_")
    assert est.loss_ == pytest.approx(sk.loss_, rel=1e-6)
    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=4, random_state=0).fit(
        X_train, np.c_[y_train, -y_train] / 9.0)
    assert reg.n_outputs_ == 2 and reg.out_activation_ == "identity"
    assert reg.predict(X_train[:3]).shape == (3, 2)


@pytest.mark.parametrize("limit", [dict(max_fun=20), dict(tol=1e-2)])
def test_lbfgs_stops_at_max_fun_and_tol_as_sklearn(digits, limit):
    """L-BFGS gets max_fun (the bound on loss evaluations) and tol (on the
    projected gradient) as scikit-learn passes them to SciPy: it stops at
    scikit-learn's iteration, long before max_iter, with its loss."""
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=200, random_state=0,
              **limit)
    est = MLPClassifier(dtype="float64", **kw).fit(X_train, y_train)
    sk = SkMLPClassifier(**kw).fit(X_train, y_train)
    assert est.n_iter_ == sk.n_iter_ < 100
    assert est.loss_ == pytest.approx(sk.loss_, rel=1e-6)


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_sklearn_schedules_follow_sklearn(digits, learning_rate):
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate=learning_rate,
              learning_rate_init=0.2, max_iter=60, random_state=0, tol=1e-2,
              n_iter_no_change=3)
    est = MLPClassifier(dtype="float64", **kw).fit(X_train, y_train)
    sk = SkMLPClassifier(**kw).fit(X_train, y_train)
    assert est.n_iter_ == sk.n_iter_
    np.testing.assert_allclose(est.loss_curve_, sk.loss_curve_, rtol=1e-6)
    # the rate the schedule carries from epoch to epoch
    rate = est._schedule_state["lr"]
    assert rate == pytest.approx(sk._optimizer.learning_rate, rel=1e-12)
    if learning_rate == "adaptive":
        # the rate was divided by 5 at least once before stopping
        assert rate <= 0.2 / 5
    else:
        assert rate == pytest.approx(0.2 / (est.t_ + 1) ** 0.5)


@pytest.mark.parametrize("learning_rate", ["invscaling", "adaptive"])
def test_adam_ignores_sklearns_schedules_as_sklearn(digits, learning_rate):
    """scikit-learn's Adam runs at a constant rate whatever learning_rate
    says among its own schedules, and stops at the first plateau (its
    trigger_stopping): with tol=10 every epoch after the first counts, so
    training stops after n_iter_no_change + 2 epochs, at lr_init throughout."""
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(16,), solver="adam", learning_rate=learning_rate,
              learning_rate_init=0.01, max_iter=30, random_state=0, tol=10.0,
              n_iter_no_change=2)
    est = MLPClassifier(dtype="float64", **kw).fit(X_train, y_train)
    sk = SkMLPClassifier(**kw).fit(X_train, y_train)
    assert est.n_iter_ == sk.n_iter_ == 4
    np.testing.assert_allclose(est.loss_curve_, sk.loss_curve_, rtol=1e-6)
    assert est.learning_rate_curve_ == [0.01] * 4


@pytest.mark.parametrize("early_stopping", [False, True])
def test_an_unchanged_loss_or_score_is_not_a_plateau_at_tol_0(early_stopping):
    """scikit-learn's no-improvement rules are strict: an epoch counts
    against n_iter_no_change when its loss > best_loss_ - tol (with early
    stopping: its validation score < best + tol).  At a rate of 1e-300 the
    weights never change, so every epoch has exactly the same loss and
    score; with tol=0 that resets the count, and training runs to max_iter,
    as scikit-learn's does."""
    X, y = make_classification(n_samples=60, n_features=5, random_state=0)
    kw = dict(hidden_layer_sizes=(4,), solver="sgd", momentum=0.0,
              learning_rate_init=1e-300, tol=0.0, n_iter_no_change=2, max_iter=7,
              shuffle=False, batch_size=20, early_stopping=early_stopping,
              random_state=0)
    est = MLPClassifier(dtype="float64", **kw).fit(X, y)
    sk = SkMLPClassifier(**kw).fit(X, y)
    assert len(set(est.loss_curve_)) == 1          # nothing changes, exactly
    if early_stopping:
        assert len(set(est.validation_scores_)) == 1
    assert est.n_iter_ == sk.n_iter_ == 7


# Early stopping ---------------------------------------------------------------


def test_early_stopping_restores_best_validation_weights():
    X, y = make_classification(n_samples=600, n_features=20, n_informative=5,
                               flip_y=0.3, random_state=0)
    kw = dict(hidden_layer_sizes=(64,), early_stopping=True, max_iter=300,
              random_state=0, learning_rate_init=0.01, n_iter_no_change=5)
    est = MLPClassifier(dtype="float64", **kw).fit(X, y)
    assert est.n_iter_ < 300
    assert len(est.validation_scores_) == len(est.loss_curve_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.best_loss_ is None
    # the same epochs and validation scores as scikit-learn
    sk = SkMLPClassifier(**kw).fit(X, y)
    assert est.n_iter_ == sk.n_iter_
    np.testing.assert_array_equal(est.validation_scores_, sk.validation_scores_)
    # on this noisy problem the best epoch is not the last one ...
    best = int(np.argmax(est.validation_scores_))
    assert est.validation_scores_[-1] < est.best_validation_score_
    # ... and the final model is the best epoch's. Rebuild the validation
    # split as the estimator draws it: the initial weights of a (20, 64, 1)
    # network first (one uniform number each), then train_test_split on the
    # same random stream.
    rs = np.random.RandomState(0)
    rs.uniform(size=20 * 64 + 64 + 64 * 1 + 1)
    _, X_val, _, y_val = train_test_split(X, y, random_state=rs, test_size=0.1,
                                          stratify=y)
    assert est.score(X_val, y_val) == est.best_validation_score_
    # and a fit that stops right after the best epoch has the same weights
    short = MLPClassifier(dtype="float64", **{**kw, "max_iter": best + 1}).fit(X, y)
    np.testing.assert_array_equal(short._model.theta, est._model.theta)


def test_early_stopping_multiclass_split_is_sklearns():
    """scikit-learn stratifies the validation split only for single-output
    targets: a multiclass problem (one output per class) is split without
    stratification, so the validation sets, hence the scores, are its own."""
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4,
                               n_classes=3, random_state=0)
    kw = dict(hidden_layer_sizes=(8,), early_stopping=True, max_iter=6,
              n_iter_no_change=100, learning_rate_init=0.01, random_state=0)
    est = MLPClassifier(dtype="float64", **kw).fit(X, y)
    sk = SkMLPClassifier(**kw).fit(X, y)
    assert est.n_outputs_ == 3
    np.testing.assert_allclose(est.loss_curve_, sk.loss_curve_, rtol=1e-6)
    np.testing.assert_array_equal(est.validation_scores_, sk.validation_scores_)


def test_early_stopping_keeps_the_first_of_equally_good_epochs():
    """Accuracies on 20 validation samples tie often: the model kept is the
    first epoch with the best score (scikit-learn's strict >), here epoch
    13 of 25 although the last epochs score as well: scikit-learn's
    weights."""
    X, y = make_classification(n_samples=200, n_features=8, n_informative=4,
                               flip_y=0.1, random_state=2)
    kw = dict(hidden_layer_sizes=(8,), early_stopping=True, max_iter=25,
              n_iter_no_change=30, learning_rate_init=0.01, random_state=0)
    est = MLPClassifier(dtype="float64", **kw).fit(X, y)
    sk = SkMLPClassifier(**kw).fit(X, y)
    scores = np.asarray(est.validation_scores_)
    np.testing.assert_array_equal(scores, sk.validation_scores_)
    # the setting: the best score is reached before the last epoch and again at it
    assert np.argmax(scores) < len(scores) - 1 and scores[-1] == scores.max()
    for ours, theirs in zip(est.coefs_ + est.intercepts_, sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_early_stopping_regressor_scores_r2():
    X, y = make_regression(n_samples=300, n_features=8, noise=30.0, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(32,), early_stopping=True, max_iter=200,
                       learning_rate_init=0.01, random_state=0, n_iter_no_change=5,
                       dtype="float64").fit(X, y / y.std())
    assert reg.n_iter_ < 200
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_) > 0.5


# Prediction ----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_predict_log_proba(digits, dtype):
    X_train, X_test, y_train, _ = digits
    for y in (y_train, y_train % 2, np.c_[y_train % 2, y_train > 4]):
        est = MLPClassifier((16,), max_iter=20, random_state=0, dtype=dtype).fit(X_train, y)
        P = est.predict_proba(X_test)
        L = est.predict_log_proba(X_test)
        assert L.shape == P.shape == (len(X_test), len(est.classes_))
        rtol = 1e-12 if dtype == "float64" else 1e-5
        np.testing.assert_allclose(L, np.log(P), rtol=rtol, atol=rtol)
        if y.ndim == 1:
            np.testing.assert_allclose(P.sum(axis=1), 1, rtol=rtol)
            np.testing.assert_array_equal(est.classes_[np.argmax(P, axis=1)],
                                          est.predict(X_test))
        # extreme inputs: predict_proba underflows to 0, the log stays finite
        # and agrees with log(predict_proba) wherever that is a normal number
        P = est.predict_proba(X_test * 1e4)
        L = est.predict_log_proba(X_test * 1e4)
        assert np.any(P == 0)
        assert np.all(np.isfinite(L)) and np.all(L <= 0)
        normal = P >= np.finfo(P.dtype).tiny
        np.testing.assert_allclose(L[normal], np.log(P[normal]), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_predict_proba_has_no_cancellation(dtype):
    """Both columns of a binary predict_proba are accurate relative to their
    size, also where the negative class's probability is tiny: it is
    sigmoid(-z), not 1 - sigmoid(z) (which rounds to a multiple of the
    dtype's spacing near 1, and to 0 past z ~ 17 in float32).  The logits
    are set by hand to run over [-30, 30]: z = x through an identity unit."""
    X = np.linspace(-30.0, 30.0, 121)[:, None]
    y = (X[:, 0] > 0).astype(int)
    est = MLPClassifier((1,), activation="identity", max_iter=2, random_state=0,
                        dtype=dtype).fit(X, y)
    est.coefs_ = [np.ones((1, 1)), np.ones((1, 1))]
    est.intercepts_ = [np.zeros(1), np.zeros(1)]
    z = X[:, 0]                          # the logits, exactly (integers and halves)
    want = np.c_[ref.sigmoid(-z), ref.sigmoid(z)]
    rtol = 1e-6 if dtype == "float32" else 1e-14
    P = est.predict_proba(X.astype(dtype))
    np.testing.assert_allclose(P, want, rtol=rtol, atol=0)
    np.testing.assert_allclose(np.log(P), est.predict_log_proba(X.astype(dtype)),
                               rtol=rtol, atol=rtol)


def test_different_random_states_give_different_models(digits):
    X_train, _, y_train, _ = digits
    a = MLPClassifier((8,), max_iter=2, random_state=0).fit(X_train, y_train)
    b = MLPClassifier((8,), max_iter=2, random_state=1).fit(X_train, y_train)
    assert not np.array_equal(a._model.theta, b._model.theta)
    rs = np.random.RandomState(0)  # a RandomState instance is accepted
    c = MLPClassifier((8,), max_iter=2, random_state=rs).fit(X_train, y_train)
    np.testing.assert_array_equal(a._model.theta, c._model.theta)


def test_dtypes(digits):
    X_train, X_test, y_train, _ = digits
    for dtype in ("float32", "float64", np.float32, np.float64):
        name = np.dtype(dtype).name
        est = MLPClassifier((8,), max_iter=3, dtype=dtype).fit(X_train, y_train)
        assert est._model.theta.dtype == name
        assert all(c.dtype == name for c in est.coefs_ + est.intercepts_)
        # whatever the input's dtype
        for Xt in (X_test, X_test.astype(np.float32)):
            assert est.predict_proba(Xt).dtype == name
            assert est.predict_log_proba(Xt).dtype == name
        reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, dtype=dtype).fit(
            X_train.astype(np.float32), y_train.astype(float))
        assert reg.coefs_[0].dtype == name
        assert reg.predict(X_test).dtype == name
        assert isinstance(reg.loss_, float) and isinstance(est.loss_curve_[0], float)


@pytest.mark.parametrize("convert", [
    lambda X: X,                                  # float64, C order
    lambda X: np.asfortranarray(X),               # float64, F order
    lambda X: np.asfortranarray(X, np.float32),   # the model's dtype, F order
    lambda X: np.rint(X).astype(np.int64),        # integers
], ids=["float64", "float64-F", "float32-F", "int64"])
def test_prediction_of_many_rows_converts_block_by_block(digits, convert, monkeypatch):
    """Many rows that need converting go through the model in blocks: the
    outputs are those of the whole converted X, and the memory a prediction
    takes is a block and the outputs, not a converted copy of X."""
    import tracemalloc

    from fastmlp import _prediction

    X_train, X_test, y_train, _ = digits
    clf = MLPClassifier((16,), max_iter=5, random_state=0).fit(X_train, y_train)
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(
        X_train, y_train / 9.0)
    monkeypatch.setattr(_prediction, "STREAM_BYTES", 1 << 20)
    reps = -(-24 * _prediction.STREAM_BYTES // X_test.astype(np.float32).nbytes)
    X = convert(np.tile(X_test, (reps, 1)))
    assert clf._streamed(X) and X.shape[0] > 3 * _prediction.STREAM_MIN_ROWS
    whole = np.ascontiguousarray(X, dtype=np.float32)
    np.testing.assert_allclose(clf.predict_proba(X), clf.predict_proba(whole),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(clf.predict_log_proba(X), clf.predict_log_proba(whole),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(clf.predict(X), clf.predict(whole))
    np.testing.assert_allclose(reg.predict(X), reg.predict(whole), rtol=1e-6, atol=1e-6)
    del whole
    plain = np.ascontiguousarray(X, dtype=np.float32)   # read where it is
    for Xp in (X, plain):
        tracemalloc.start()
        try:
            out = clf.predict_proba(Xp)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # a float32 copy of X, or activations of every row, would be 24 blocks
        assert peak < out.nbytes + 4 * _prediction.STREAM_BYTES, peak


def test_streamed_prediction_of_ensembles_and_multitask_models(digits, monkeypatch):
    """Block-by-block conversion feeds snapshot ensembles (each block averaged
    over the snapshots) and multitask models (one array per task) as a whole
    converted X does."""
    from fastmlp import _prediction

    monkeypatch.setattr(_prediction, "STREAM_BYTES", 1 << 18)
    X_train, X_test, y_train, _ = digits
    ens = MLPClassifier((16,), max_iter=6, snapshot_ensemble=2, learning_rate="cosine_restarts",
                        lr_schedule_params=dict(T_0=3), random_state=0).fit(X_train, y_train)
    Y = np.c_[y_train, y_train % 2]
    multi = MLPClassifier((16,), max_iter=5, random_state=0).fit(X_train, Y)
    X = np.tile(X_test, (-(-5 * _prediction.STREAM_MIN_ROWS // len(X_test)), 1))
    whole = X.astype(np.float32)
    assert ens._streamed(X) and multi._streamed(X)
    np.testing.assert_allclose(ens.predict_proba(X), ens.predict_proba(whole), rtol=1e-6)
    for got, want in zip(multi.predict_proba(X), multi.predict_proba(whole)):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(multi.predict(X), multi.predict(whole))


def test_concurrent_predict(digits):
    X_train, X_test, y_train, _ = digits
    clf = MLPClassifier((64,), max_iter=5, random_state=0).fit(X_train, y_train)
    reg = MLPRegressor(hidden_layer_sizes=(64,), max_iter=5, random_state=0,
                       dtype="float64").fit(X_train, y_train / 9.0)
    calls = [lambda: clf.predict_proba(X_test), lambda: clf.predict(X_test),
             lambda: clf.predict_proba(X_test[:1]), lambda: reg.predict(X_test)]
    expected = [f() for f in calls]
    results = [[None] * len(calls) for _ in range(8)]
    start = threading.Barrier(8)

    def work(i):
        start.wait()
        for _ in range(5):
            for j, f in enumerate(calls):
                r = f()
                if results[i][j] is None or not np.array_equal(r, expected[j]):
                    results[i][j] = r

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for res in results:
        for r, e in zip(res, expected):
            np.testing.assert_array_equal(r, e)


@pytest.mark.parametrize("solver", SOLVER_NAMES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_solver_fits_and_partial_fits(digits, solver, dtype):
    X_train, X_test, y_train, y_test = digits
    est = MLPClassifier((32,), solver=solver, max_iter=5, random_state=0, dtype=dtype,
                        learning_rate="cosine").fit(X_train, y_train)
    assert len(est.learning_rate_curve_) == 5
    est2 = MLPClassifier((32,), solver=solver, random_state=0, dtype=dtype,
                         learning_rate="cyclic", batch_size=32,
                         lr_schedule_params={"step_size_up": 20})
    for _ in range(3):
        est2.partial_fit(X_train, y_train, classes=np.arange(10))
    assert len(est2.learning_rate_curve_) == 3
    # the cycle continues across calls: epoch e starts at step 43 e
    assert est2.learning_rate_curve_[1] != est2.learning_rate_curve_[0]
    assert est2.loss_curve_[-1] < est2.loss_curve_[0]


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("activation", ACTS)
def test_prediction_of_a_few_samples(digits, activation, batch_norm, dtype, rtol):
    """Up to four rows take the engine's vector-matrix path (no BLAS, the
    columns shared between threads): the same outputs as the batched GEMMs,
    for any thread count, with a hidden width that is no multiple of the
    64-column chunks and a first layer wide enough to be split."""
    X_train, X_test, y_train, _ = digits
    X_test = np.ascontiguousarray(X_test, dtype=dtype)
    clf = MLPClassifier((1100, 30), activation=activation, batch_norm=batch_norm,
                        max_iter=3, random_state=0, dtype=dtype).fit(X_train, y_train)
    full = clf.predict_proba(X_test)
    log_full = clf.predict_log_proba(X_test)
    for n_threads in (1, 2):
        clf.set_params(n_threads=n_threads)
        for k in range(1, 6):
            np.testing.assert_allclose(clf.predict_proba(X_test[:k]), full[:k],
                                       rtol=rtol, atol=rtol * 1e-2)
            np.testing.assert_allclose(clf.predict_log_proba(X_test[:k]),
                                       log_full[:k], rtol=rtol, atol=rtol)
            np.testing.assert_array_equal(clf.predict(X_test[:k]),
                                          clf.classes_[full[:k].argmax(1)])
    reg = MLPRegressor(hidden_layer_sizes=(1100,), activation=activation, max_iter=3,
                       random_state=0, dtype=dtype).fit(
        X_train, y_train / 9.0)
    np.testing.assert_allclose(reg.predict(X_test[:3]), reg.predict(X_test)[:3],
                               rtol=rtol, atol=rtol)


def test_prediction_of_a_few_samples_follows_the_user_and_pickles(digits):
    X_train, X_test, y_train, _ = digits
    X1 = np.ascontiguousarray(X_test[:1], dtype=np.float32)
    clf = MLPClassifier((40,), max_iter=3, random_state=0).fit(X_train, y_train)
    before = clf.predict_proba(X1)
    # coefs_ replaced by the user: their weights are used
    clf.coefs_[1] = np.zeros_like(clf.coefs_[1])
    uniform = clf.predict_proba(X1)
    expected = np.exp(clf.intercepts_[1]) / np.exp(clf.intercepts_[1]).sum()
    np.testing.assert_allclose(uniform[0], expected, rtol=1e-6)
    assert not np.allclose(uniform, before)
    clone_ = pickle.loads(pickle.dumps(clf))
    np.testing.assert_allclose(clone_.predict_proba(X1), uniform, rtol=1e-6)
    # a refit model predicts with its new parameters
    clf.fit(X_train, y_train)
    clf.predict_proba(X1)
    clf.set_params(hidden_layer_sizes=(20,)).fit(X_train, y_train)
    np.testing.assert_allclose(clf.predict_proba(X1),
                               clf.predict_proba(np.vstack([X1] * 10))[:1],
                               rtol=1e-5)


@pytest.mark.parametrize("bad, match", [(np.nan, "Input X contains NaN"),
                                        (np.inf, "Input X contains infinity")])
def test_prediction_of_a_few_samples_rejects_nan_and_inf(digits, bad, match):
    X_train, X_test, y_train, _ = digits
    clf = MLPClassifier((40,), max_iter=3, random_state=0).fit(X_train, y_train)
    X2 = np.ascontiguousarray(X_test[:2], dtype=np.float32)
    X2[1, 5] = bad
    for method in (clf.predict, clf.predict_proba, clf.predict_log_proba):
        with pytest.raises(ValueError, match=match):
            method(X2)


def test_import_leaves_the_environment_as_it_was():
    """fastmlp sets libgomp's spin count only while its engine loads, and
    never over a user's own OpenMP wait settings."""
    import os
    import subprocess
    import sys

    code = ("import os, json; before = dict(os.environ); import fastmlp; "
            "print(json.dumps(dict(os.environ) == before)); "
            "print(os.environ.get('GOMP_SPINCOUNT'))")
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["true", "None"]
    env["GOMP_SPINCOUNT"] = "12345"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout.split()
    assert out == ["true", "12345"]


def test_prediction_of_a_few_samples_narrow_wide_layer():
    """A layer too narrow for one 128-column chunk per thread (600 x 120) is
    cut into 64-column chunks; the outputs still match the batched GEMMs."""
    X, y = make_regression(n_samples=200, n_features=600, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(120,), max_iter=5, random_state=0,
                       dtype="float64", n_threads=2).fit(X, y / 100)
    np.testing.assert_allclose(reg.predict(X[:3]), reg.predict(X)[:3], rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_prediction_of_a_few_samples_skips_zeros_exactly(dtype):
    """The vector-matrix kernel skips the rows of W whose input is zero (the
    zeros of images and of ReLU layers): mostly-zero rows, an all-zero row
    and a dense row give the batched GEMMs' outputs."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 700)) * (rng.random((300, 700)) < 0.1)
    X[:, :50] = 0.0                           # features never seen nonzero
    X = X.astype(dtype)
    y = (X[:, 60] + X[:, 70] > 0).astype(int)
    clf = MLPClassifier((260, 130), max_iter=5, random_state=0,
                        dtype=dtype).fit(X, y)
    rows = np.vstack([X[:2], np.zeros((1, 700), dtype), rng.normal(size=(1, 700))])
    rows = np.ascontiguousarray(rows, dtype=dtype)
    full = clf.predict_proba(np.vstack([rows] * 3))[:4]
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for k in range(1, 5):
        np.testing.assert_allclose(clf.predict_proba(rows[k - 1:k]), full[k - 1:k],
                                   rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(clf.predict_proba(rows), full, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("y", [
    np.array([3, 1, 2, 3, 1]),
    np.array(["b", "a", "c", "a"]),
    np.array(["x", "z", "y"], dtype=object),
    np.array([2.0, 1.0, 0.0, 1.0]),
    np.array([0, 1, 1, 0]),                 # binary: one column
    np.array([[0, 1], [1, 1], [0, 0]]),     # multilabel indicator
])
def test_one_hot_targets_are_label_binarizers(y):
    """The fit's direct one-hot fill gives LabelBinarizer.transform's
    targets, C-contiguous in the training dtype."""
    from sklearn.preprocessing import LabelBinarizer

    from fastmlp._multilayer_perceptron import _one_hot

    binarizer = LabelBinarizer().fit(y)
    for dtype in (np.float32, np.float64):
        Y = _one_hot(binarizer, y, dtype)
        assert Y.dtype == dtype and Y.flags.c_contiguous
        np.testing.assert_array_equal(Y, binarizer.transform(y))
    # a label outside the classes: LabelBinarizer's all-zero row
    known = LabelBinarizer().fit([1, 2, 3])
    np.testing.assert_array_equal(_one_hot(known, np.array([1, 5, 3]), np.float64),
                                  known.transform([1, 5, 3]))


def test_engine_vectors_start_on_64_byte_boundaries():
    """theta, the optimiser state and the engine's gradient are 64-byte
    aligned (numpy gives 16), also after unpickling; coefs_ stay views of
    theta (the allocator itself: test_network.py)."""
    X, y = load_digits(return_X_y=True)
    est = MLPClassifier((32,), max_iter=2, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(est))
    restored.partial_fit(X, y)
    for model in (est, restored):
        for vector in (model._model.theta, model._opt_state):
            assert vector.ctypes.data % ALIGNMENT == 0
        assert model._current_model() is model._model
        assert all(np.shares_memory(c, model._model.theta) for c in model.coefs_)
    engine = Engine(est._model.network, 64)
    assert is_aligned(engine.grad)


def test_schedule_rates_reach_the_engine():
    """A per-step rate vector drives the updates: plain SGD with rates r_b on a
    linear model gives theta_b+1 = theta_b - r_b g_b, checked step by step."""
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = X @ [1.0, -2.0, 0.5]
    est = MLPRegressor(hidden_layer_sizes=(), solver="sgd", momentum=0.0,
                       learning_rate="cyclic", learning_rate_init=0.01,
                       lr_schedule_params={"max_lr": 0.05, "step_size_up": 3},
                       batch_size=10, shuffle=False, max_iter=3, alpha=0.0,
                       dtype="float64", random_state=0, tol=0, n_iter_no_change=100)
    est.fit(X, y)
    # replay: 3 epochs x 4 batches with the reference rates
    net = est._model.network
    theta = net.init_params(np.random.RandomState(0))
    Y = y.reshape(-1, 1)
    for it in range(12):
        b = it % 4
        rate = ref.cyclic_lr(0.01, 0.05, it, 3)
        _, g = loss_and_grad(net, theta, X[10 * b:10 * b + 10], Y[10 * b:10 * b + 10])
        theta = theta - rate * g
    np.testing.assert_allclose(est._model.theta, theta, rtol=1e-12)
    np.testing.assert_allclose(est.learning_rate_curve_,
                               [ref.cyclic_lr(0.01, 0.05, 4 * e, 3) for e in range(3)])


@pytest.mark.parametrize("early_stopping", [False, True])
@pytest.mark.parametrize("mode, split", [("blas", False), ("split", True),
                                         ("auto", True)])
def test_split_gemm_reaches_the_engine_as_planned(monkeypatch, mode, split,
                                                  early_stopping):
    """The engine splits its GEMMs exactly when the thread plan says so,
    also with early stopping (the driver once overwrote the flag with the
    result of train_test_split)."""
    built = []
    real = fastmlp._training.Engine

    def spy(*args, **kwargs):
        engine = real(*args, **kwargs)
        built.append(engine.split_gemm)
        return engine

    monkeypatch.setattr(fastmlp._training, "Engine", spy)
    X, y = make_classification(n_samples=200, n_features=8, random_state=0)
    with config_context(parallel_mode=mode):
        assert fastmlp._training.thread_plan(2).split_gemm is split
        MLPClassifier((8,), max_iter=3, early_stopping=early_stopping, n_threads=2,
                      random_state=0).fit(X, y)
        MLPClassifier((8,), solver="lbfgs", max_iter=3, n_threads=2,
                      random_state=0).fit(X, y)
    assert built == [split, split]
