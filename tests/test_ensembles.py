"""Ensemble predictions: snapshot ensembles (Huang et al. 2017) against
models trained to each snapshot's epoch, and scikit-learn's bagging, soft
voting and stacking over fastmlp's estimators."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_regression
from sklearn.ensemble import (
    BaggingClassifier, StackingClassifier, VotingClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from fastmlp import MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16, y, random_state=0)


KW = dict(hidden_layer_sizes=(24,), learning_rate="cosine_restarts",
          learning_rate_init=0.01, lr_schedule_params=dict(T_0=3, T_mult=2),
          random_state=0, tol=0.0, n_iter_no_change=1000, batch_size=64)


def test_snapshots_are_the_models_at_the_ends_of_the_periods(digits):
    """Periods of 3, 6, 12 epochs end after epochs 3, 9 and 21; with
    snapshot_ensemble=2 and 21 epochs the ensemble is the models of epochs 9
    and 21, each what a fit of that many epochs gives, and predict_proba is
    the mean of their probabilities."""
    X_train, X_test, y_train, _ = digits
    ens = MLPClassifier(max_iter=21, snapshot_ensemble=2, **KW).fit(X_train, y_train)
    assert ens.snapshot_epochs_ == [9, 21]
    singles = [MLPClassifier(max_iter=e, **KW).fit(X_train, y_train) for e in (9, 21)]
    np.testing.assert_array_equal(ens._snapshots[0].theta, singles[0]._model.theta)
    np.testing.assert_array_equal(ens._model.theta, singles[1]._model.theta)
    probas = [s.predict_proba(X_test).astype(np.float64) for s in singles]
    expected = np.mean(probas, axis=0)
    np.testing.assert_allclose(ens.predict_proba(X_test), expected, rtol=1e-6)
    np.testing.assert_array_equal(ens.predict(X_test),
                                  ens.classes_[np.argmax(ens.predict_proba(X_test), 1)])
    np.testing.assert_allclose(np.exp(ens.predict_log_proba(X_test)), expected,
                               rtol=1e-5, atol=1e-7)
    # few-row (latency) inputs go the same way
    np.testing.assert_allclose(ens.predict_proba(X_test[:2]), expected[:2], rtol=1e-6)


def test_regressor_and_binary_snapshots():
    X, y = make_regression(n_samples=150, n_features=5, noise=1.0, random_state=0)
    y = y / y.std()
    kw = dict(KW, max_iter=9)
    ens = MLPRegressor(snapshot_ensemble=3, **kw).fit(X, y)
    singles = [MLPRegressor(**dict(kw, max_iter=e)).fit(X, y) for e in (3, 9)]
    assert ens.snapshot_epochs_ == [3, 9]
    np.testing.assert_allclose(ens.predict(X), np.mean([s.predict(X) for s in singles], 0),
                               rtol=1e-5, atol=1e-6)
    yb = (y > 0).astype(int)
    ens = MLPClassifier(snapshot_ensemble=3, **kw).fit(X, yb)
    singles = [MLPClassifier(**dict(kw, max_iter=e)).fit(X, yb) for e in (3, 9)]
    np.testing.assert_allclose(
        ens.predict_proba(X), np.mean([s.predict_proba(X) for s in singles], 0),
        rtol=1e-5, atol=1e-7)


def test_pickle_partial_fit_and_warm_start(digits):
    X_train, X_test, y_train, _ = digits
    ens = MLPClassifier(max_iter=9, snapshot_ensemble=3, **KW).fit(X_train, y_train)
    back = pickle.loads(pickle.dumps(ens))
    np.testing.assert_array_equal(back.predict_proba(X_test), ens.predict_proba(X_test))
    assert back.snapshot_epochs_ == [3, 9]
    # partial_fit continues the schedule and the collection: 12 more epochs
    # end the 12-epoch period at epoch 21
    for _ in range(12):
        back.partial_fit(X_train, y_train)
    assert back.snapshot_epochs_ == [3, 9, 21]
    assert len(back._snapshots) == 3
    # a refit starts over
    back.fit(X_train, y_train)
    assert back.snapshot_epochs_ == [3, 9]


def test_no_period_ended_warns_and_uses_the_final_model(digits):
    X_train, X_test, y_train, _ = digits
    with pytest.warns(UserWarning, match="no restart period"):
        ens = MLPClassifier(max_iter=2, snapshot_ensemble=2, **KW).fit(X_train, y_train)
    single = MLPClassifier(max_iter=2, **KW).fit(X_train, y_train)
    np.testing.assert_array_equal(ens.predict_proba(X_test), single.predict_proba(X_test))


def test_onnx_refuses_an_ensemble(digits):
    pytest.importorskip("onnx")
    from fastmlp import to_onnx
    X_train, _, y_train, _ = digits
    ens = MLPClassifier(max_iter=3, snapshot_ensemble=2, **KW).fit(X_train, y_train)
    with pytest.raises(ValueError, match="snapshot ensemble of 1 networks"):
        to_onnx(ens)


@pytest.mark.parametrize("params, match", [
    (dict(snapshot_ensemble=2, learning_rate="cosine"), "snapshot_ensemble=2 keeps"),
    (dict(snapshot_ensemble=0, learning_rate="cosine_restarts"), "snapshot_ensemble"),
    (dict(snapshot_ensemble=1.5, learning_rate="cosine_restarts"), "snapshot_ensemble"),
    (dict(snapshot_ensemble=2, learning_rate="cosine_restarts", solver="lbfgs"),
     "snapshot_ensemble"),
])
def test_invalid_parameters(params, match, digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match=match):
        MLPClassifier((4,), max_iter=1, **params).fit(X_train, y_train)


# --- scikit-learn's ensembles ---------------------------------------------------------


def test_bagging_classifier(digits):
    X_train, X_test, y_train, y_test = digits
    bag = BaggingClassifier(MLPClassifier((32,), max_iter=40, random_state=0),
                            n_estimators=3, random_state=0).fit(X_train, y_train)
    proba = bag.predict_proba(X_test)
    expected = np.mean([e.predict_proba(X_test[:, f]) for e, f in
                        zip(bag.estimators_, bag.estimators_features_)], axis=0)
    np.testing.assert_allclose(proba, expected, rtol=1e-6)
    assert bag.score(X_test, y_test) > 0.9


def test_soft_voting_classifier(digits):
    X_train, X_test, y_train, y_test = digits
    vote = VotingClassifier([("a", MLPClassifier((32,), max_iter=40, random_state=0)),
                             ("b", MLPClassifier((16,), max_iter=40, random_state=1))],
                            voting="soft").fit(X_train, y_train)
    expected = np.mean([e.predict_proba(X_test) for e in vote.estimators_], axis=0)
    np.testing.assert_allclose(vote.predict_proba(X_test), expected, rtol=1e-6)
    assert vote.score(X_test, y_test) > 0.9


def test_stacking_classifier(digits):
    X_train, X_test, y_train, y_test = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stack = StackingClassifier(
            [("a", MLPClassifier((32,), max_iter=40, random_state=0)),
             ("b", MLPClassifier((16,), max_iter=40, random_state=1))],
            final_estimator=LogisticRegression(max_iter=500), cv=3,
        ).fit(X_train, y_train)
    features = stack.transform(X_test)
    assert features.shape == (len(X_test), 2 * 10)     # both models' probabilities
    np.testing.assert_allclose(features[:, :10],
                               stack.estimators_[0].predict_proba(X_test), rtol=1e-6)
    assert stack.score(X_test, y_test) > 0.9
