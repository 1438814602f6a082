"""Bad input raises a clear error and leaves a fitted model untouched."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from fastmlp import DivergenceError, MLPClassifier, MLPRegressor


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(50, 4)
    y = rng.randint(0, 3, 50)
    return X, y


def fitted_classifier(X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier((5,), max_iter=5, random_state=0, **kw).fit(X, y)


def snapshot(est):
    """Everything a fit sets, deep-copied."""
    return pickle.loads(pickle.dumps(est)).__dict__


def assert_unchanged(est, before):
    after = est.__dict__
    assert set(after) == set(before) | {"coefs_", "intercepts_"} or set(after) == set(before)
    np.testing.assert_array_equal(before["_theta"], est._theta)
    for key in ("n_iter_", "t_", "loss_", "n_features_in_", "n_outputs_"):
        if key in before:
            assert before[key] == after[key], key
    np.testing.assert_array_equal(before["classes_"], est.classes_)
    assert before["loss_curve_"] == est.loss_curve_


BAD_X = [
    (lambda X: np.where(X > 1, np.nan, X), "NaN"),
    (lambda X: np.where(X > 1, np.inf, X), "infinity"),
    (lambda X: X[:, 0], "Expected 2D array"),
    (lambda X: X[:, :, None], "dim 3"),
    (lambda X: X[:0], "0 sample"),
    (lambda X: X[:, :0], "0 feature"),
    (lambda X: np.array([["a"] * X.shape[1]] * X.shape[0], dtype=object), "could not convert|Unknown label|string"),
]


@pytest.mark.parametrize("make_bad, match", BAD_X)
def test_bad_X_at_fit_leaves_model(data, make_bad, match):
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    Xb = make_bad(X)
    with pytest.raises(ValueError, match=match):
        est.fit(Xb, y[: len(Xb)] if Xb.ndim else y)
    assert_unchanged(est, before)


@pytest.mark.parametrize("make_bad, match", BAD_X[:4] + [(lambda X: X[:, :3], "3 features")])
def test_bad_X_at_predict(data, make_bad, match):
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    for method in (est.predict, est.predict_proba, est.predict_log_proba):
        with pytest.raises(ValueError, match=match):
            method(make_bad(X))
    assert_unchanged(est, before)


def test_wrong_feature_count_at_partial_fit(data):
    X, y = data
    est = MLPClassifier((5,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    before = snapshot(est)
    with pytest.raises(ValueError, match="features"):
        est.partial_fit(X[:, :3], y)
    assert_unchanged(est, before)


def test_unseen_label_at_partial_fit(data):
    X, y = data
    est = MLPClassifier((5,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    before = snapshot(est)
    with pytest.raises(ValueError, match="classes not in"):
        est.partial_fit(X, np.where(y == 2, 7, y))
    assert_unchanged(est, before)


def test_partial_fit_needs_classes_first(data):
    X, y = data
    est = MLPClassifier((5,))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X, y)
    assert not hasattr(est, "coefs_")


def test_warm_start_with_other_classes(data):
    X, y = data
    est = fitted_classifier(X, y, warm_start=True)
    before = snapshot(est)
    with pytest.raises(ValueError, match="warm_start can only be used"):
        est.fit(X, np.where(y == 2, 5, y))
    assert_unchanged(est, before)


def test_nan_in_regression_target(data):
    X, _ = data
    y = X[:, 0].copy()
    y[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MLPRegressor(hidden_layer_sizes=(5,)).fit(X, y)


@pytest.mark.parametrize("params, match", [
    (dict(alpha=-1.0), "alpha"),
    (dict(activation="swish"), "activation"),
    (dict(solver="newton"), "solver"),
    (dict(weight_init="zeros"), "weight_init"),
    (dict(dtype="float16"), "dtype"),
    (dict(hidden_layer_sizes=(5, 0)), "hidden_layer_sizes"),
    (dict(hidden_layer_sizes=(-3,)), "hidden_layer_sizes"),
    (dict(batch_size=0), "batch_size"),
    (dict(validation_fraction=1.0), "validation_fraction"),
    (dict(learning_rate="sometimes"), "learning_rate"),
    (dict(learning_rate="step", lr_schedule_params={"gama": 0.5}), "gama"),
    (dict(lr_schedule_params={"gamma": 0.5}), "lr_schedule_params"),
    (dict(n_threads=0), "n_threads"),
    (dict(rho=1.5), "rho"),
])
def test_invalid_hyper_parameters(data, params, match):
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    with pytest.raises(ValueError, match=match):
        est.set_params(**params).fit(X, y)
    assert_unchanged(est, before)


@pytest.mark.parametrize("params, y_fn, match", [
    (dict(out_activation="relu"), lambda y: y, "out_activation"),
    (dict(loss="poisson"), lambda y: y - 10, "y >= 0"),
    (dict(out_activation="sigmoid"), lambda y: y * 3, r"\[0, 1\]"),
    (dict(out_activation="softplus"), lambda y: y - 10, ">= 0"),
    (dict(loss="poisson", out_activation="softplus"), lambda y: y, "log link"),
])
def test_regressor_target_checks(data, params, y_fn, match):
    X, _ = data
    y = np.abs(X[:, 0]) / 3
    with pytest.raises(ValueError, match=match):
        MLPRegressor(hidden_layer_sizes=(5,), **params).fit(X, y_fn(y))


def test_sample_weight_checks(data):
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    with pytest.raises(ValueError, match="sample_weight.shape"):
        est.fit(X, y, sample_weight=np.ones(len(y) - 1))
    with pytest.raises(ValueError, match="[Nn]egative"):
        est.fit(X, y, sample_weight=-np.ones(len(y)))
    assert_unchanged(est, before)


def test_non_contiguous_and_integer_inputs_are_accepted(data):
    X, y = data
    Xi = np.round(X * 3).astype(np.int64)
    est = fitted_classifier(Xi.astype(np.float32), y)
    expected = est.predict_proba(Xi.astype(np.float32))
    np.testing.assert_array_equal(est.predict_proba(Xi), expected)
    np.testing.assert_array_equal(est.predict_proba(np.asfortranarray(Xi)), expected)
    wide = np.zeros((Xi.shape[0], 2 * Xi.shape[1]), dtype=np.float64)
    wide[:, ::2] = Xi
    np.testing.assert_array_equal(est.predict_proba(wide[:, ::2]), expected)
    # and fitting on them gives the same model as on the converted array
    a = fitted_classifier(np.asfortranarray(Xi), y)
    b = fitted_classifier(np.ascontiguousarray(Xi, dtype=np.float32), y)
    np.testing.assert_array_equal(a._theta, b._theta)


def test_divergence_raises_and_keeps_finite_parameters():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5) * 1e4
    y = X @ rng.randn(5) * 1e4
    est = MLPRegressor(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=10.0, momentum=0.9,
                       max_iter=50, random_state=0, dtype="float32")
    with pytest.raises(DivergenceError, match=r"non-finite in epoch \d+"):
        est.fit(X, y)
    assert np.all(np.isfinite(est._theta))
    assert all(np.all(np.isfinite(c)) for c in est.coefs_)


def test_partial_fit_unavailable_for_lbfgs(data):
    X, y = data
    for est in (MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs")):
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as exc:
            est.partial_fit(X, y)
        assert "not stochastic" in str(exc.value.__cause__)


def test_predict_before_fit(data):
    X, _ = data
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(NotFittedError):
            getattr(MLPClassifier(), method)(X)
    with pytest.raises(NotFittedError):
        MLPRegressor().predict(X)


def test_dtype_change_on_warm_start(data):
    X, y = data
    est = fitted_classifier(X, y, warm_start=True)
    before = snapshot(est)
    with pytest.raises(ValueError, match="dtype"):
        est.set_params(dtype="float64").fit(X, y)
    assert_unchanged(est, before)
