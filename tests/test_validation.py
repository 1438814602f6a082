"""Validation: bad input, parameters and settings raise a clear error and
leave a fitted model untouched."""

import pickle
import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import fastmlp
from fastmlp import DivergenceError, MLPClassifier, MLPRegressor, _prediction
from fastmlp._components import ACTIVATIONS, SOLVERS


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(50, 4)
    y = rng.randint(0, 3, 50)
    return X, y


def fitted(cls, X, y, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(hidden_layer_sizes=(5,), max_iter=5, random_state=0, **kw).fit(X, y)


def fitted_classifier(X, y, **kw):
    return fitted(MLPClassifier, X, y, **kw)


def snapshot(est):
    """Every attribute but the hyper-parameters, serialised: parameters,
    optimiser state, random state, label binarizer, curves, counters."""
    params = est.get_params(deep=False)
    return {k: pickle.dumps(v) for k, v in est.__getstate__().items() if k not in params}


def assert_unchanged(est, before):
    after = snapshot(est)
    assert set(after) == set(before)
    changed = [k for k in before if after[k] != before[k]]
    assert not changed, f"attributes changed by a failed call: {changed}"
    # coefs_ and intercepts_ are still views of the parameter vector
    assert all(np.shares_memory(c, est._model.theta) for c in est.coefs_ + est.intercepts_)


def test_snapshot_sees_changes(data):
    """The helper can fail: a successful call changes the snapshot."""
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    est.partial_fit(X, y)
    with pytest.raises(AssertionError, match="_theta"):
        assert_unchanged(est, before)


BAD_X = [
    (lambda X: np.where(X > 1, np.nan, X), "Input X contains NaN"),
    (lambda X: np.where(X > 1, np.inf, X), "Input X contains infinity"),
    (lambda X: np.where(X > 1, -np.inf, X), "Input X contains infinity"),
    # finite in float64, infinite in the training dtype (float32)
    (lambda X: np.where(X > 1, 1e39, X), "Input X contains infinity or a value too large"),
    (lambda X: X[:, 0], "Expected 2D array, got 1D array"),
    (lambda X: X[:, :, None], "Found array with dim 3"),
    (lambda X: X[:0], "Found array with 0 sample"),
    (lambda X: X[:, :0], "Found array with 0 feature"),
    (lambda X: np.array([["a"] * X.shape[1]] * X.shape[0], dtype=object),
     "could not convert string to float"),
    (lambda X: X + 1j, "Complex data not supported"),
]
BAD_X_IDS = ["nan", "inf", "-inf", "float32-overflow", "1d", "3d", "no-samples",
             "no-features", "strings", "complex"]


@pytest.mark.parametrize("make_bad, match", BAD_X, ids=BAD_X_IDS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_X_at_fit_leaves_model(data, make_bad, match, method):
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    Xb = make_bad(X)
    with pytest.raises(ValueError, match=match):
        getattr(est, method)(Xb, y[: len(Xb)])
    assert_unchanged(est, before)
    reg = fitted(MLPRegressor, X, X[:, 0])
    before = snapshot(reg)
    with pytest.raises(ValueError, match=match):
        getattr(reg, method)(Xb, X[: len(Xb), 0])
    assert_unchanged(reg, before)


@pytest.mark.parametrize("make_bad, match",
                         BAD_X + [(lambda X: X[:, :3], "X has 3 features, but MLPClassifier "
                                   "is expecting 4 features")],
                         ids=BAD_X_IDS + ["wrong-width"])
def test_bad_X_at_predict(data, make_bad, match):
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    for method in (est.predict, est.predict_proba, est.predict_log_proba, est.score):
        with pytest.raises(ValueError, match=match):
            method(make_bad(X), *([y] if method == est.score else []))
    assert_unchanged(est, before)
    reg = fitted(MLPRegressor, X, X[:, 0])
    with pytest.raises(ValueError, match=match.replace("MLPClassifier", "MLPRegressor")):
        reg.predict(make_bad(X))


@pytest.mark.parametrize("make_bad, match", BAD_X[:4], ids=BAD_X_IDS[:4])
@pytest.mark.parametrize("order", ["C", "F"])
def test_bad_X_at_predict_of_many_rows(data, make_bad, match, order):
    """Many float64 rows are converted block by block; a bad value in the
    last block is named as for a small X, and nothing is kept."""
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    big = np.tile(X, (-(-3 * _prediction.STREAM_MIN_ROWS // len(X)), 1))
    bad = make_bad(X)
    big[-1] = bad[np.flatnonzero((bad != X).any(axis=1))[0]]
    big = np.asarray(big, order=order)
    assert est._streamed(big)
    for method in (est.predict, est.predict_proba):
        with pytest.raises(ValueError, match=match):
            method(big)
    assert_unchanged(est, before)


def test_wrong_feature_count_at_partial_fit_and_warm_start(data):
    X, y = data
    est = MLPClassifier((5,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    before = snapshot(est)
    with pytest.raises(ValueError, match="X has 3 features, but MLPClassifier is expecting 4"):
        est.partial_fit(X[:, :3], y)
    assert_unchanged(est, before)
    est = fitted_classifier(X, y, warm_start=True)
    before = snapshot(est)
    with pytest.raises(ValueError, match="X has 5 features, but MLPClassifier is expecting 4"):
        est.fit(np.c_[X, X[:, 0]], y)
    assert_unchanged(est, before)


def test_warm_start_with_other_architecture_or_outputs(data):
    X, y = data
    est = fitted_classifier(X, y, warm_start=True)
    before = snapshot(est)
    with pytest.raises(ValueError, match=r"coefs_\[0\] has shape \(4, 5\) where "
                                         r"the network needs \(4, 6\)"):
        est.set_params(hidden_layer_sizes=(6,)).fit(X, y)
    assert_unchanged(est, before)
    reg = fitted(MLPRegressor, X, X[:, 0], warm_start=True)
    before = snapshot(reg)
    with pytest.raises(ValueError, match="y has 2 outputs; the model was fitted with 1"):
        reg.fit(X, X[:, :2])
    with pytest.raises(ValueError, match="y has 2 outputs; the model was fitted with 1"):
        reg.partial_fit(X, X[:, :2])
    assert_unchanged(reg, before)


def test_user_set_coefs_of_wrong_shape(data):
    X, y = data
    est = fitted_classifier(X, y)
    est.coefs_ = [np.zeros((4, 6)), est.coefs_[1]]
    with pytest.raises(ValueError, match=r"shape \(4, 6\) where the network needs \(4, 5\)"):
        est.predict(X)


def test_unseen_label_at_partial_fit(data):
    X, y = data
    est = MLPClassifier((5,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    before = snapshot(est)
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        est.partial_fit(X, np.where(y == 2, 7, y))
    assert_unchanged(est, before)


def test_partial_fit_needs_classes_first(data):
    X, y = data
    est = MLPClassifier((5,))
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est.partial_fit(X, y)
    assert not hasattr(est, "coefs_") and not hasattr(est, "classes_")
    # classes that do not cover y
    with pytest.raises(ValueError, match="`y` has classes not in `self.classes_`"):
        est.partial_fit(X, y, classes=[0, 1])
    assert not hasattr(est, "coefs_")
    # later calls with other classes than the first call's
    est.partial_fit(X, y, classes=[0, 1, 2])
    before = snapshot(est)
    with pytest.raises(ValueError, match=r"is not the same as on last call"):
        est.partial_fit(X, y, classes=[0, 1, 2, 3])
    assert_unchanged(est, before)


def test_warm_start_with_other_classes(data):
    X, y = data
    est = fitted_classifier(X, y, warm_start=True)
    before = snapshot(est)
    with pytest.raises(ValueError, match="warm_start can only be used where `y` has the same "
                                         "classes"):
        est.fit(X, np.where(y == 2, 5, y))
    assert_unchanged(est, before)


@pytest.mark.parametrize("bad_y, match", [
    (lambda y: np.r_[np.nan, y[1:]], "Input y contains NaN"),
    (lambda y: np.r_[np.inf, y[1:]], "Input y contains infinity"),
    # finite in float64, infinite in the training dtype (float32)
    (lambda y: np.r_[1e39, y[1:]], "Input y contains infinity or a value too large"),
    (lambda y: y[:40], "inconsistent numbers of samples"),
    (lambda y: np.array(["a"] * len(y), dtype=object), "could not convert string to float"),
], ids=["nan", "inf", "float32-overflow", "length", "strings"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_regression_target(data, bad_y, match, method):
    X, _ = data
    reg = fitted(MLPRegressor, X, X[:, 0])
    before = snapshot(reg)
    with pytest.raises(ValueError, match=match):
        getattr(reg, method)(X, bad_y(X[:, 0]))
    assert_unchanged(reg, before)


@pytest.mark.parametrize("params, match", [
    (dict(alpha=-1.0), "'alpha' parameter"),
    (dict(activation="swish"), "'activation' parameter"),
    (dict(solver="newton"), "'solver' parameter"),
    (dict(weight_init="zeros"), "'weight_init' parameter"),
    (dict(dtype="float16"), "'dtype' parameter"),
    (dict(dtype=np.int32), "'dtype' parameter must be 'float32' or 'float64'"),
    (dict(hidden_layer_sizes=(5, 0)), r"hidden_layer_sizes must hold integers from 1"),
    (dict(hidden_layer_sizes=(-3,)), r"hidden_layer_sizes must hold integers from 1"),
    (dict(hidden_layer_sizes=(5.5,)), r"hidden_layer_sizes must hold integers from 1"),
    (dict(hidden_layer_sizes=(np.inf,)), r"hidden_layer_sizes must hold integers from 1"),
    (dict(hidden_layer_sizes=(10**30,)), r"hidden_layer_sizes must hold integers from 1"),
    (dict(hidden_layer_sizes=0), "'hidden_layer_sizes' parameter"),
    (dict(batch_size=0), "'batch_size' parameter"),
    (dict(validation_fraction=1.0), "'validation_fraction' parameter"),
    (dict(learning_rate="sometimes"), "'learning_rate' parameter"),
    (dict(learning_rate_init=0.0), "'learning_rate_init' parameter"),
    (dict(learning_rate_init=-0.1), "'learning_rate_init' parameter"),
    (dict(max_iter=0), "'max_iter' parameter"),
    (dict(momentum=1.5), "'momentum' parameter"),
    (dict(beta_1=1.0), "'beta_1' parameter"),
    (dict(epsilon=0.0), "'epsilon' parameter"),
    (dict(tol=-1e-3), "'tol' parameter"),
    (dict(n_iter_no_change=0), "'n_iter_no_change' parameter"),
    (dict(learning_rate="step", lr_schedule_params={"gama": 0.5}), "gama"),
    (dict(lr_schedule_params={"gamma": 0.5}), "lr_schedule_params"),
    (dict(n_threads=0), "'n_threads' parameter"),
    (dict(rho=1.5), "'rho' parameter"),
])
def test_invalid_hyper_parameters(data, params, match):
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    with pytest.raises(ValueError, match=match):
        est.set_params(**params).fit(X, y)
    assert_unchanged(est, before)
    # the first call of partial_fit validates too
    if "solver" not in params:
        fresh = MLPClassifier(**{"hidden_layer_sizes": (5,), **params})
        with pytest.raises(ValueError, match=match):
            fresh.partial_fit(X, y, classes=[0, 1, 2])
        assert not hasattr(fresh, "coefs_")


@pytest.mark.parametrize("params, match", [
    (dict(activation="swish"), "'activation' parameter"),
    (dict(alpha=-1.0), "'alpha' parameter"),
    (dict(learning_rate_init=-0.1), "'learning_rate_init' parameter"),
    (dict(batch_size=0), "'batch_size' parameter"),
], ids=["activation", "alpha", "learning_rate_init", "batch_size"])
def test_invalid_hyper_parameters_at_later_partial_fit(data, params, match):
    """scikit-learn's _fit_context validates only the first partial_fit
    call; later ones then fail with a KeyError deep inside (activation), or
    train silently with a negative penalty, a negative rate (ascent) or a
    clipped batch size."""
    X, y = data
    est = MLPClassifier((5,), random_state=0).partial_fit(X, y, classes=[0, 1, 2])
    before = snapshot(est)
    with pytest.raises(ValueError, match=match):
        est.set_params(**params).partial_fit(X, y)
    assert_unchanged(est, before)


def test_early_stopping_with_partial_fit_or_tiny_validation_set(data):
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        est.set_params(early_stopping=True).partial_fit(X, y)
    assert_unchanged(est, before)
    with pytest.raises(ValueError, match="The validation set is too small"):
        est.set_params(validation_fraction=0.01).fit(X[:20], y[:20])
    assert_unchanged(est, before)


@pytest.mark.parametrize("params, y_fn, match", [
    (dict(out_activation="relu"), lambda y: y, "'out_activation' parameter"),
    (dict(loss="absolute_error"), lambda y: y, "'loss' parameter"),
    (dict(loss="poisson"), lambda y: y - 10, r"loss='poisson' requires y >= 0"),
    (dict(out_activation="sigmoid"), lambda y: y * 3, r"requires targets in \[0, 1\]"),
    (dict(out_activation="sigmoid"), lambda y: y - 0.5, r"requires targets in \[0, 1\]"),
    (dict(out_activation="softplus"), lambda y: y - 10, "requires targets >= 0"),
    (dict(loss="poisson", out_activation="softplus"), lambda y: y, "log link"),
])
def test_regressor_target_checks(data, params, y_fn, match):
    X, _ = data
    y = np.abs(X[:, 0]) / 3
    assert y.min() >= 0 and y.max() <= 1
    reg = fitted(MLPRegressor, X, y)
    before = snapshot(reg)
    with pytest.raises(ValueError, match=match):
        reg.set_params(**params).fit(X, y_fn(y))
    assert_unchanged(reg, before)
    with pytest.raises(ValueError, match=match):
        MLPRegressor(hidden_layer_sizes=(5,), **params).fit(X, y_fn(y))


@pytest.mark.parametrize("sw, match", [
    (lambda n: np.ones(n - 1), r"sample_weight.shape == \(49,\), expected \(50,\)"),
    (lambda n: -np.ones(n), "Negative values in data passed to `sample_weight`"),
    (lambda n: np.r_[np.nan, np.ones(n - 1)], "Input sample_weight contains NaN"),
    (lambda n: np.r_[np.inf, np.ones(n - 1)], "Input sample_weight contains infinity"),
    (lambda n: np.zeros(n), "at least one non-zero"),
    (lambda n: np.ones((n, 2)), "Sample weights must be 1D"),
], ids=["length", "negative", "nan", "inf", "zeros", "2d"])
def test_sample_weight_checks(data, sw, match):
    X, y = data
    est = fitted_classifier(X, y)
    before = snapshot(est)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y, sample_weight=sw(len(y)))
    with pytest.raises(ValueError, match=match):
        est.partial_fit(X, y, sample_weight=sw(len(y)))
    assert_unchanged(est, before)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_non_contiguous_and_integer_inputs_are_accepted(data, dtype):
    X, y = data
    Xi = np.round(X * 3).astype(np.int64)
    Xc = np.ascontiguousarray(Xi, dtype=np.float64)
    est = fitted_classifier(Xc, y, dtype=dtype)
    reg = fitted(MLPRegressor, Xc, X[:, 0], dtype=dtype)
    wide = np.zeros((Xi.shape[0], 2 * Xi.shape[1]), dtype=np.float64)
    wide[:, ::2] = Xi
    variants = [Xi, Xi.astype(np.int32), np.asfortranarray(Xi), np.asfortranarray(Xc),
                wide[:, ::2], Xc.astype(np.float32), Xi.tolist(),
                np.ascontiguousarray(Xc[::-1])[::-1]]
    for Xv in variants:
        np.testing.assert_array_equal(est.predict_proba(Xv), est.predict_proba(Xc))
        np.testing.assert_array_equal(est.predict(Xv), est.predict(Xc))
        np.testing.assert_array_equal(reg.predict(Xv), reg.predict(Xc))
    # and fitting on them gives the same model as on the C-contiguous floats
    for Xv in variants:
        np.testing.assert_array_equal(
            fitted_classifier(Xv, y, dtype=dtype)._model.theta, est._model.theta)
        np.testing.assert_array_equal(
            fitted(MLPRegressor, Xv, X[:, 0], dtype=dtype)._model.theta, reg._model.theta)
    # the caller's arrays are not modified
    np.testing.assert_array_equal(wide[:, ::2], Xi)


def test_divergence_raises_and_keeps_finite_parameters():
    """A fit that diverges after completing epochs raises and keeps the end
    of the last finite epoch, every attribute consistent with it; one that
    diverges in its first epoch leaves the estimator as it was."""
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    y = X @ rng.randn(5)
    kw = dict(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=1e-3,
              batch_size=50, max_iter=50, random_state=0, dtype="float32")
    # three sane epochs, then partial_fit at a rate that overflows at once
    est = MLPRegressor(**{**kw, "max_iter": 3})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    good = est._model.theta.copy()
    before = snapshot(est)
    est.set_params(learning_rate_init=1e30, warm_start=True, max_iter=50)
    with pytest.raises(DivergenceError, match=r"non-finite in epoch 1 .*left as it was"):
        est.fit(X * 1e4, y * 1e4)
    assert_unchanged(est, before)
    with pytest.raises(DivergenceError, match="left as it was"):
        est.partial_fit(X * 1e4, y * 1e4)
    assert_unchanged(est, before)
    np.testing.assert_array_equal(est._model.theta, good)

    # diverging after some epochs: the rate grows by 10 each epoch (step)
    est = MLPRegressor(**{**kw, "learning_rate": "step",
                          "lr_schedule_params": dict(step_size=1, gamma=30.0)})
    with pytest.raises(DivergenceError, match=r"non-finite in epoch (\d+)") as exc:
        est.fit(X, y)
    assert isinstance(exc.value, ValueError)
    epoch = int(re.search(r"epoch (\d+)", str(exc.value)).group(1))
    assert epoch > 1
    assert np.all(np.isfinite(est._model.theta))
    assert all(np.all(np.isfinite(c)) for c in est.coefs_ + est.intercepts_)
    assert all(np.shares_memory(c, est._model.theta) for c in est.coefs_)
    assert np.all(np.isfinite(est.predict(X)))
    # the parameters are those of the end of the last finite epoch: the
    # same as a fit that stops there
    assert est.n_iter_ == len(est.loss_curve_) == epoch - 1
    ref = MLPRegressor(**{**kw, "learning_rate": "step", "max_iter": epoch - 1,
                          "lr_schedule_params": dict(step_size=1, gamma=30.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(X, y)
    np.testing.assert_array_equal(est._model.theta, ref._model.theta)
    # the model stays usable: a sensible refit works
    est.set_params(learning_rate="constant", lr_schedule_params=None, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert np.all(np.isfinite(est.loss_curve_))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_divergence_of_a_classifier(dtype):
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5) * 1e4 * (1e30 if dtype == "float64" else 1)
    y = (X[:, 0] > 0).astype(int)
    est = MLPClassifier((20,), solver="sgd", learning_rate_init=1e10, max_iter=50,
                        random_state=0, dtype=dtype)
    with pytest.raises(DivergenceError, match=r"non-finite in epoch \d+") as exc:
        est.fit(X, y)
    if "epoch 1 " in str(exc.value):
        # diverged in its first epoch: the estimator is left unfitted
        assert not hasattr(est, "_model") and not hasattr(est, "coefs_")
    else:
        assert np.all(np.isfinite(est._model.theta))
        assert np.isfinite(est.predict_proba(X)).all()


def test_partial_fit_unavailable_for_lbfgs(data):
    X, y = data
    for est in (MLPClassifier(solver="lbfgs"), MLPRegressor(solver="lbfgs")):
        assert not hasattr(est, "partial_fit")
        with pytest.raises(AttributeError, match="has no attribute 'partial_fit'") as exc:
            est.partial_fit(X, y)
        assert "not stochastic" in str(exc.value.__cause__)


def test_predict_before_fit(data):
    X, y = data
    for method in ("predict", "predict_proba", "predict_log_proba"):
        with pytest.raises(NotFittedError, match="This MLPClassifier instance is not fitted"):
            getattr(MLPClassifier(), method)(X)
    with pytest.raises(NotFittedError, match="This MLPRegressor instance is not fitted"):
        MLPRegressor().predict(X)
    with pytest.raises(NotFittedError):
        MLPClassifier().score(X, y)


def test_dtype_change_on_warm_start(data):
    X, y = data
    est = fitted_classifier(X, y, warm_start=True)
    before = snapshot(est)
    with pytest.raises(ValueError, match="dtype='float64' differs from the dtype"):
        est.set_params(dtype="float64").fit(X, y)
    assert_unchanged(est, before)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_engine_finiteness_check(dtype, n_threads):
    """The fit's parallel NaN/inf check finds one bad value anywhere, in
    either dtype, and passes extreme finite values."""
    from fastmlp import _predictor

    X = np.zeros((300, 257), dtype=dtype)
    X[0, 0] = np.finfo(dtype).max
    X[1, 1] = -np.finfo(dtype).max
    X[2, 2] = np.finfo(dtype).tiny / 4  # subnormal
    assert _predictor.all_finite(X, n_threads)
    assert _predictor.all_finite(X[:0], n_threads)
    for bad in (np.nan, np.inf, -np.inf):
        for i in (0, 16383, 16384, X.size - 1):  # ends of the 16K blocks
            Xb = X.copy()
            Xb.flat[i] = bad
            assert not _predictor.all_finite(Xb, n_threads)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_name_is_accepted(data, activation):
    """Each name of _components.ACTIVATIONS (the "sigmoid" alias too) passes
    the parameter validation and trains a finite model."""
    X, y = data
    for est in (MLPClassifier((5,), activation=activation, max_iter=3, random_state=0),
                MLPRegressor(hidden_layer_sizes=(5,), activation=activation,
                             solver="lbfgs", max_iter=3,
                             random_state=0)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X, y)
        assert all(np.all(np.isfinite(c)) for c in est.coefs_)


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_every_solver_name_is_accepted(data, solver):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MLPClassifier((5,), solver=solver, max_iter=3, random_state=0).fit(X, y)
    assert hasattr(est, "partial_fit") == SOLVERS[solver].stochastic


def test_divergence_error_is_exported():
    assert fastmlp.DivergenceError is fastmlp.exceptions.DivergenceError
    assert issubclass(DivergenceError, ValueError)


@pytest.mark.parametrize("settings, match", [
    (dict(sparse_first_layer="sometimes"), "sparse_first_layer must be one of"),
    (dict(parallel_mode="openmp"), "parallel_mode must be one of"),
    (dict(sparse_max_density=0.0), r"sparse_max_density must be in \(0, 1\]"),
    (dict(sparse_max_density=1.5), r"sparse_max_density must be in \(0, 1\]"),
    (dict(gemm_blocks=0), r"gemm_blocks must be an integer in \[1, "),
    (dict(gemm_blocks=2.5), r"gemm_blocks must be an integer in \[1, "),
])
def test_bad_settings(settings, match):
    """set_config / config_context reject bad values and change nothing."""
    before = fastmlp.get_config()
    with pytest.raises(ValueError, match=match):
        fastmlp.set_config(**settings)
    with pytest.raises(ValueError, match=match):
        with fastmlp.config_context(**settings):
            pass
    assert fastmlp.get_config() == before


def test_settings_are_restored_and_per_thread():
    import threading

    before = fastmlp.get_config()
    with fastmlp.config_context(parallel_mode="blas", gemm_blocks=3):
        assert fastmlp.get_config()["parallel_mode"] == "blas"
        seen = []
        t = threading.Thread(target=lambda: seen.append(fastmlp.get_config()))
        t.start()
        t.join()
        assert seen[0] == before            # another thread keeps its settings
        with pytest.raises(RuntimeError):
            with fastmlp.config_context(sparse_first_layer="never"):
                raise RuntimeError
        assert fastmlp.get_config()["sparse_first_layer"] == before["sparse_first_layer"]
    assert fastmlp.get_config() == before
