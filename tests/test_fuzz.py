"""Property tests (hypothesis) over inputs and hyper-parameters.

Every example ends in one of two ways: a clear exception of an expected
type (ValueError, DivergenceError included, with a message) where the
input or the settings call for one, or a correct result (shapes, dtypes,
classes, finite predictions on the training data); and a call that fails
leaves a previously fitted estimator byte-identical (or, for a fit that
diverged after completing epochs, with a finite model).

The examples are derandomised, so a run is reproducible.  The number of
examples per test is small by default (the file runs in well under a
minute); ``FASTMLP_FUZZ_EXAMPLES=2000`` runs a bigger campaign, and
``FASTMLP_FUZZ_REPORT=path.json`` writes how many examples each test tried
and how they ended.
"""

import json
import math
import os
import pickle
import warnings
from collections import Counter

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sklearn.exceptions import NotFittedError

from test_validation import assert_unchanged, snapshot

from fastmlp import DivergenceError, MLPClassifier, MLPRegressor
from fastmlp._components import ACTIVATIONS, SOLVERS, WEIGHT_INITS
from fastmlp._schedules import SCHEDULE_PARAMS, SCHEDULES

_N = int(os.environ.get("FASTMLP_FUZZ_EXAMPLES", "0"))


def fuzz_settings(default):
    return settings(max_examples=_N or default, deadline=None, derandomize=True,
                    database=None, print_blob=True,
                    suppress_health_check=list(HealthCheck))


#: examples tried per test and how they ended (FASTMLP_FUZZ_REPORT)
OUTCOMES = {}


def record(test, outcome):
    OUTCOMES.setdefault(test, Counter())[outcome] += 1


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("FASTMLP_FUZZ_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump({k: dict(v) for k, v in OUTCOMES.items()}, f, indent=1,
                      sort_keys=True)


def quietly(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            return fn(*args, **kw)


def fails(fn, *args, **kw):
    """The exception `fn(*args, **kw)` raises (None if it returns); only
    ValueError (DivergenceError and scikit-learn's InvalidParameterError
    included) is an acceptable failure, and it must say something."""
    try:
        quietly(fn, *args, **kw)
    except ValueError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return exc
    return None


def kept_epochs(exc):
    """Whether a DivergenceError says the fit kept completed epochs."""
    return isinstance(exc, DivergenceError) and "keeps the parameters" in str(exc)


def check_classifier(est, X, classes):
    proba = est.predict_proba(X)
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    multilabel = est._label_binarizer.y_type_.startswith("multilabel")
    assert proba.shape == (n, max(len(est.classes_), 1) if not multilabel
                           else len(est.classes_)) or (len(est.classes_) == 2
                                                       and proba.shape == (n, 2))
    assert proba.dtype == est._model.network.dtype
    assert np.isfinite(proba).all(), "non-finite probabilities of a fitted model"
    if not multilabel:
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-4)
    pred = est.predict(X)
    assert pred.shape == ((n, len(est.classes_)) if multilabel else (n,))
    if not multilabel:
        assert set(np.asarray(pred).tolist()) <= set(np.asarray(est.classes_).tolist())
    assert set(np.asarray(est.classes_).tolist()) == set(np.asarray(classes).tolist())
    log_proba = est.predict_log_proba(X)
    assert not np.isnan(log_proba).any()
    # from finite logits (training checks them), never -inf
    assert np.isfinite(log_proba).all()


def check_regressor(est, X, n_outputs):
    pred = est.predict(X)
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    assert pred.shape == ((n,) if n_outputs == 1 else (n, n_outputs))
    assert pred.dtype == est._model.network.dtype
    assert np.isfinite(pred).all(), "non-finite predictions of a fitted model"


def check_model(est, X, y, classes=None):
    """A fitted model: finite parameters, attributes viewing them, finite
    and well-formed predictions of X."""
    assert np.isfinite(est._model.theta).all()
    assert all(np.shares_memory(c, est._model.theta) for c in est.coefs_)
    if isinstance(est, MLPClassifier):
        if classes is None:
            classes = np.arange(y.shape[1]) if np.ndim(y) == 2 else np.unique(y)
        check_classifier(est, X, classes)
    else:
        check_regressor(est, X, 1 if np.ndim(y) == 1 else y.shape[1])


# --- inputs ----------------------------------------------------------------------------

X_DTYPES = ["float16", "float32", "float64", "int8", "int64", "uint8", "bool",
            "object", "strings"]
LAYOUTS = ["C", "F", "strided", "reversed", "list", "csr", "csc", "coo"]
SPECIALS = [None] * 6 + [np.nan, np.inf, -np.inf, 1e39, -1e39, 1e300, 1e-310, 65504.0]


@st.composite
def inputs(draw, min_rows=0, widths=(0, 1, 3, 8)):
    """(X as the user gives it, its values in float64 or None for strings,
    description)."""
    n = draw(st.sampled_from([r for r in (0, 1, 2, 3, 5, 17, 64, 300) if r >= min_rows]))
    d = draw(st.sampled_from(widths))
    kind = draw(st.sampled_from(X_DTYPES))
    layout = draw(st.sampled_from(LAYOUTS))
    scale = draw(st.sampled_from([1.0, 1e3, 1e15]))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    values = rng.randn(n, d) * scale
    special = draw(st.sampled_from(SPECIALS))
    if special is not None and n * d:
        k = draw(st.integers(1, 3))
        idx = rng.randint(0, n * d, size=k)
        values.flat[idx] = special
    if kind in ("int8", "int64", "uint8", "bool"):
        info = np.iinfo(kind) if kind != "bool" else None
        v = np.nan_to_num(values, nan=0.0, posinf=1e9, neginf=-1e9)
        if kind == "bool":
            arr = v > 0
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                arr = np.clip(np.round(v), info.min, info.max).astype(kind)
    elif kind == "object":
        arr = values.astype(object)
    elif kind == "strings":
        arr = np.array([[f"s{i}" for i in range(d)]] * n, dtype=object).reshape(n, d)
    else:
        with np.errstate(over="ignore"):
            arr = values.astype(kind)
    numeric = None if kind == "strings" else np.asarray(arr, dtype=np.float64)
    if layout == "F":
        arr = np.asfortranarray(arr)
    elif layout == "strided":
        wide = np.repeat(arr, 2, axis=1) if d else np.empty((n, 0), dtype=arr.dtype)
        arr = wide[:, ::2]
    elif layout == "reversed":
        arr = np.ascontiguousarray(arr[::-1])[::-1]
    elif layout == "list":
        arr = arr.tolist()
    elif layout in ("csr", "csc", "coo"):
        if kind == "strings":
            layout = "C"
        else:
            if kind in ("object", "float16"):   # scipy.sparse has no float16
                arr = arr.astype(np.float64)
            arr = getattr(scipy.sparse, f"{layout}_matrix")(arr)
    return arr, numeric, dict(n=n, d=d, kind=kind, layout=layout, special=special,
                              scale=scale)


def bad_for(numeric, dtype, desc):
    """Whether validation must reject X for a model of `dtype`."""
    if numeric is None or desc["n"] == 0 or desc["d"] == 0:
        return True
    with np.errstate(over="ignore"):
        return not np.isfinite(numeric.astype(dtype)).all()


@st.composite
def targets(draw, n, classifier):
    seed = draw(st.integers(0, 2**16))
    rng = np.random.RandomState(seed)
    if classifier:
        k = draw(st.integers(1, 4))
        kind = draw(st.sampled_from(["int", "str", "bool", "neg"]))
        codes = rng.randint(0, k, n)
        if kind == "str":
            return np.array([f"c{c}" for c in codes], dtype=object), False
        if kind == "bool":
            return codes % 2 == 1, False
        return (codes - 2 if kind == "neg" else codes), False
    n_out = draw(st.sampled_from([1, 2]))
    y = rng.randn(n, n_out) if n_out > 1 else rng.randn(n)
    special = draw(st.sampled_from([None, None, None, np.nan, np.inf, 1e39]))
    if special is not None and n:
        y.flat[rng.randint(0, y.size)] = special
    return y, special is not None


@st.composite
def fit_settings(draw, classifier):
    kw = dict(hidden_layer_sizes=draw(st.sampled_from([(), (4,), (6, 3)])),
              solver=draw(st.sampled_from(["adam", "sgd", "lbfgs"])),
              dtype=draw(st.sampled_from(["float32", "float64"])),
              batch_norm=draw(st.booleans()),
              early_stopping=draw(st.sampled_from([False, False, True])),
              max_iter=draw(st.integers(1, 3)), random_state=0)
    return kw


_BASE = {}


def prefitted(cls, dtype):
    """A fitted estimator to refit (a fresh copy each time)."""
    key = (cls, dtype)
    if key not in _BASE:
        rng = np.random.RandomState(0)
        X = rng.randn(40, 3)
        y = rng.randint(0, 3, 40) if cls is MLPClassifier else rng.randn(40)
        _BASE[key] = quietly(cls(hidden_layer_sizes=(4,), max_iter=3, random_state=0,
                                 dtype=dtype).fit, X, y)
    return pickle.loads(pickle.dumps(_BASE[key]))


@fuzz_settings(250)
@given(data=st.data(), classifier=st.booleans())
def test_fit_on_any_input(data, classifier):
    """Any X (dtype, layout, shape, NaN/inf/huge values) and y: fit raises
    a ValueError where validation must reject them, and otherwise either
    fits a model whose predictions on the training data are finite and
    well formed - the same model, bit for bit, as from the C-contiguous
    array of the training dtype (a scipy.sparse X: up to the order of its
    sums) - or (huge values only) raises a DivergenceError.  A refit of a fitted estimator that fails leaves it
    unchanged."""
    X, numeric, desc = data.draw(inputs())
    y, y_special = data.draw(targets(desc["n"], classifier))
    kw = data.draw(fit_settings(classifier))
    with np.errstate(over="ignore"):
        y_bad = y_special and not np.isfinite(np.asarray(y).astype(kw["dtype"])).all()
    note(f"X: {desc}; y: {np.asarray(y)[:5]!r}; settings: {kw}")
    cls = MLPClassifier if classifier else MLPRegressor
    est = cls(**kw)
    exc = fails(est.fit, X, y)
    bad = bad_for(numeric, kw["dtype"], desc) or y_bad
    moderate = numeric is not None and desc["scale"] <= 1e3 and desc["special"] in (
        None, 1e-310)
    # (batch norm needs 2 samples, with every solver)
    tiny_bn = kw["batch_norm"] and desc["n"] < 2
    must_fit = (not bad and moderate and not y_special and not kw["early_stopping"]
                and not tiny_bn)
    name = "test_fit_on_any_input"
    if bad:
        assert exc is not None, "invalid input accepted"
        assert not isinstance(exc, DivergenceError), exc
        record(name, "rejected input")
    elif exc is not None:
        assert not must_fit, f"a valid fit failed: {exc!r}"
        if isinstance(exc, DivergenceError):
            record(name, "diverged")
            if kept_epochs(exc):
                check_model(est, np.asarray(numeric), y)
        else:
            record(name, "rejected settings")
    else:
        record(name, "fitted")
        Xc = np.ascontiguousarray(numeric, dtype=kw["dtype"])
        check_model(est, Xc, y)
        if desc["layout"] != "list":
            check_model(est, X, y)
        sparse = desc["layout"] in ("csr", "csc", "coo")
        try:
            same = quietly(cls(**kw).fit, Xc, y)
        except DivergenceError:
            # huge values: the sparse layer's other rounding may tip the
            # dense twin over the edge
            assert sparse and (y_special or not moderate), "the dense twin diverged"
            return
        if not sparse:
            np.testing.assert_array_equal(same._model.theta, est._model.theta)
        elif kw["dtype"] == "float64":
            # a scipy.sparse X trains on the sparse first layer, the dense
            # twin may take the dense one: the same sums in another order
            np.testing.assert_allclose(same._model.theta, est._model.theta, rtol=1e-7,
                                       atol=1e-9)
        elif kw["solver"] != "lbfgs":
            # float32 sums the sparse first layer in another order; Adam's
            # first steps are +-lr for any nonzero gradient element, so a
            # rounding-sized gradient can move a weight by a few lr (and
            # float32 L-BFGS amplifies rounding without bound: not compared)
            np.testing.assert_allclose(same._model.theta, est._model.theta, rtol=1e-3,
                                       atol=2e-2)
    if exc is None or kept_epochs(exc):
        return
    # the same failing call on a fitted estimator changes nothing
    old = prefitted(cls, kw["dtype"])
    before = snapshot(old)
    again = fails(old.set_params(**kw).fit, X, y)
    assert again is not None and type(again) is type(exc), (exc, again)
    if not kept_epochs(again):
        assert_unchanged(old, before)


_PREDICTORS = {}


def predictor(kind, dtype, batch_norm):
    key = (kind, dtype, batch_norm)
    if key not in _PREDICTORS:
        rng = np.random.RandomState(1)
        X = rng.randn(80, 3)
        if kind == "clf":
            est = MLPClassifier((6,), max_iter=5, random_state=0, dtype=dtype,
                                batch_norm=batch_norm)
            y = rng.randint(0, 3, 80)
        elif kind == "binary":
            est = MLPClassifier((6,), max_iter=5, random_state=0, dtype=dtype,
                                batch_norm=batch_norm)
            y = rng.randint(0, 2, 80)
        else:
            est = MLPRegressor(hidden_layer_sizes=(6,), max_iter=5, random_state=0,
                               dtype=dtype, batch_norm=batch_norm)
            y = rng.randn(80, 2)
        _PREDICTORS[key] = quietly(est.fit, X, y)
    return _PREDICTORS[key]


@fuzz_settings(300)
@given(data=st.data(), kind=st.sampled_from(["clf", "binary", "reg"]),
       dtype=st.sampled_from(["float32", "float64"]), batch_norm=st.booleans())
def test_predict_on_any_input(data, kind, dtype, batch_norm):
    """predict / predict_proba / predict_log_proba / score on any X: a
    ValueError for what validation must reject (NaN, inf, beyond the
    model's dtype, wrong width, no rows, strings); otherwise the result for
    the C-contiguous array of the model's dtype, whatever the input's dtype
    and layout; the model never changes."""
    est = predictor(kind, dtype, batch_norm)
    before = snapshot(est)
    X, numeric, desc = data.draw(inputs(widths=(0, 3, 3, 3, 3, 4)))
    note(f"X: {desc}")
    bad = bad_for(numeric, dtype, desc) or desc["d"] != 3
    methods = ["predict"] + (["predict_proba", "predict_log_proba"] if kind != "reg"
                             else [])
    name = "test_predict_on_any_input"
    for method in methods:
        try:
            got = quietly(getattr(est, method), X)
        except ValueError as exc:
            assert str(exc).strip()
            assert bad, f"{method} rejected valid input: {exc!r}"
            record(name, "rejected")
            continue
        assert not bad, f"{method} accepted invalid input"
        record(name, "predicted")
        want = quietly(getattr(est, method), np.ascontiguousarray(numeric, dtype=dtype))
        assert got.shape == want.shape and got.dtype == want.dtype
        sparse = desc["layout"] in ("csr", "csc", "coo")
        if method == "predict" and kind != "reg":
            np.testing.assert_array_equal(got, want)
        elif sparse and dtype == "float32":   # the first layer sums in another order
            np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-4)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        if desc["scale"] <= 1e3 and desc["special"] in (None, 1e-310):
            if method != "predict" or kind == "reg":
                assert np.isfinite(got).all()
    assert_unchanged(est, before)


# --- hyper-parameters --------------------------------------------------------------------

@st.composite
def schedules(draw):
    name = draw(st.sampled_from(SCHEDULES))
    params = None
    if name in SCHEDULE_PARAMS and draw(st.booleans()):
        choices = {
            "step_size": st.integers(1, 3), "gamma": st.sampled_from([0.1, 0.5, 1.0, 3.0]),
            "eta_min": st.sampled_from([0.0, 1e-5, 0.01]), "T_max": st.integers(1, 5),
            "T_0": st.integers(1, 3), "T_mult": st.integers(1, 3),
            "max_lr": st.sampled_from([None, 1e-3, 0.1, 10.0]),
            "step_size_up": st.integers(1, 50),
            "step_size_down": st.sampled_from([None, 1, 7]),
            "mode": st.sampled_from(["triangular", "triangular2", "exp_range"]),
        }
        params = {}
        for key in SCHEDULE_PARAMS[name]:
            if draw(st.booleans()):
                value = draw(choices[key])
                if name == "cyclic" and key == "gamma":
                    value = min(value, 1.0)
                params[key] = value
    return name, params


@st.composite
def hyper_parameters(draw, classifier):
    solver = draw(st.sampled_from(sorted(SOLVERS)))
    schedule, params = draw(schedules())
    hidden = draw(st.sampled_from([(), (3,), (7,), (5, 4)]))
    dropout = draw(st.sampled_from([0.0, 0.0, 0.3, 0.9, "per-layer"]))
    if dropout == "per-layer":
        dropout = [0.5] * len(hidden) if hidden else 0.2
    kw = dict(
        hidden_layer_sizes=hidden,
        activation=draw(st.sampled_from(sorted(ACTIVATIONS))),
        solver=solver,
        learning_rate=schedule, lr_schedule_params=params,
        learning_rate_init=draw(st.sampled_from(["auto", 1e-4, 1e-2, 1.0, 1e3, 1e10])),
        alpha=draw(st.sampled_from([0.0, 1e-4, 1.0, 1e3])),
        batch_size=draw(st.sampled_from(["auto", 1, 2, 7, 1000])),
        batch_norm=draw(st.booleans()),
        bn_momentum=draw(st.sampled_from([0.1, 1.0, 1e-3])),
        dropout=dropout,
        input_noise=draw(st.sampled_from([0.0, 0.0, 0.1, 10.0])),
        weight_init=draw(st.sampled_from(WEIGHT_INITS)),
        dtype=draw(st.sampled_from(["float32", "float64"])),
        early_stopping=draw(st.sampled_from([False, False, True])),
        shuffle=draw(st.booleans()),
        momentum=draw(st.sampled_from([0.0, 0.9, 1.0])),
        nesterovs_momentum=draw(st.booleans()),
        beta_1=draw(st.sampled_from([0.0, 0.9, 0.999999])),
        beta_2=draw(st.sampled_from([0.0, 0.999, 0.999999])),
        epsilon=draw(st.sampled_from([1e-8, 1e-30, 1.0])),
        rho=draw(st.sampled_from([None, 0.0, 0.5, 0.999])),
        weight_decay=draw(st.sampled_from([0.0, 0.01, 10.0])),
        power_t=draw(st.sampled_from([0.5, 0.0, 5.0])),
        n_iter_no_change=draw(st.sampled_from([1, 10, np.inf])),
        tol=draw(st.sampled_from([1e-4, 0.0, 1e9])),
        max_iter=draw(st.integers(1, 4)),
        random_state=draw(st.integers(0, 3)),
    )
    if not classifier:
        kw["loss"] = draw(st.sampled_from(["squared_error", "squared_error", "poisson"]))
        if kw["loss"] == "squared_error":
            kw["out_activation"] = draw(st.sampled_from([None, "identity", "softplus",
                                                         "sigmoid"]))
    return kw


def _settings_error(kw, n_samples, message):
    """Whether `message` is a legitimate rejection of these settings (not
    of a divergence)."""
    if "batch_norm needs minibatches of at least 2" in message:
        return kw["batch_norm"] and kw["batch_size"] == 1
    if any(word in message for word in ("validation", "early_stopping", "least populated",
                                        "test_size", "train_size")):
        return kw["early_stopping"]     # the held-out split cannot be made
    return False


@st.composite
def datasets(draw, classifier):
    seed = draw(st.integers(0, 2**10))
    rng = np.random.RandomState(seed)
    n = draw(st.sampled_from([2, 3, 11, 60]))
    X = rng.randn(n, 4) * draw(st.sampled_from([1.0, 1.0, 100.0]))
    if classifier:
        k = draw(st.sampled_from([1, 2, 3]))
        multilabel = draw(st.sampled_from([False, False, True]))
        if multilabel:
            y = rng.randint(0, 2, (n, 3))
        else:
            y = rng.randint(0, k, n)
    else:
        y = np.abs(rng.randn(n)) / 3   # in [0, 1) mostly: every output layer
        y = np.minimum(y, 1.0)
    return X, y


@fuzz_settings(300)
@given(data=st.data(), classifier=st.booleans())
def test_any_hyper_parameters_give_a_finite_model_or_a_clear_error(data, classifier):
    """Every activation, solver, schedule, batch size, dropout, batch norm,
    alpha, learning rate (huge ones too) and the optimisers' constants:
    fit either returns a model whose predictions on the training data are
    finite, or raises a DivergenceError (the model then finite, if it kept
    completed epochs) or a ValueError naming a setting that cannot work
    with these data."""
    X, y = data.draw(datasets(classifier))
    kw = data.draw(hyper_parameters(classifier))
    note(f"n={X.shape[0]} y={y[:6]!r} settings={kw}")
    cls = MLPClassifier if classifier else MLPRegressor
    est = cls(**kw)
    exc = fails(est.fit, X, y)
    name = "test_any_hyper_parameters"
    if exc is None:
        record(name, "fitted")
        check_model(est, X, y)
        return
    if isinstance(exc, DivergenceError):
        record(name, "diverged")
        if kept_epochs(exc):
            check_model(est, X, y)
        else:
            assert "_model" not in est.__dict__
        return
    record(name, "rejected settings")
    assert _settings_error(kw, X.shape[0], str(exc)), f"unexpected error: {exc!r}"
    assert "_model" not in est.__dict__


@fuzz_settings(200)
@given(data=st.data(), classifier=st.booleans())
def test_warm_start_with_any_hyper_parameters(data, classifier):
    """A fitted model warm-started with other training settings (same
    architecture, dtype and batch_norm): a finite model, or an error that
    leaves the estimator as it was (or, after completed epochs, finite)."""
    X, y = data.draw(datasets(classifier))
    kw = data.draw(hyper_parameters(classifier))
    base = {k: kw[k] for k in ("hidden_layer_sizes", "dtype", "batch_norm", "activation")}
    # early stopping as drawn, or switched for the warm start
    base["early_stopping"] = data.draw(st.booleans())
    base.update({k: kw[k] for k in ("loss", "out_activation") if k in kw})
    cls = MLPClassifier if classifier else MLPRegressor
    est = cls(max_iter=2, random_state=0, **base)
    if fails(est.fit, X, y) is not None:
        return   # e.g. batch norm with 2 samples and lbfgs...: not this test's subject
    before = snapshot(est)
    note(f"warm start with {kw}")
    exc = fails(est.set_params(warm_start=True, **kw).fit, X, y)
    name = "test_warm_start"
    if exc is None:
        record(name, "fitted")
        check_model(est, X, y)
    elif kept_epochs(exc):
        record(name, "diverged, kept epochs")
        check_model(est, X, y)
    else:
        record(name, "diverged" if isinstance(exc, DivergenceError) else "rejected")
        if not isinstance(exc, DivergenceError):
            assert _settings_error(kw, X.shape[0], str(exc)), repr(exc)
        assert_unchanged(est, before)


@st.composite
def partial_steps(draw, n_features):
    steps = []
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(st.sampled_from(["ok", "ok", "ok", "nan", "width", "new class",
                                     "weights", "zero weights", "lr", "huge lr"]))
        rows = draw(st.integers(1, 40))
        steps.append((kind, rows, draw(st.integers(0, 2**10))))
    return steps


@fuzz_settings(120)
@given(data=st.data(), solver=st.sampled_from(sorted(s for s in SOLVERS
                                                     if SOLVERS[s].stochastic)),
       batch_norm=st.booleans(), dtype=st.sampled_from(["float32", "float64"]),
       batch_size=st.sampled_from(["auto", 2, 5]))
def test_partial_fit_sequences(data, solver, batch_norm, dtype, batch_size):
    """Sequences of partial_fit calls on minibatches of any size (one row
    too), with sample weights, bad minibatches (NaN, wrong width, an unseen
    class), a changed or huge learning rate: each bad call raises and
    changes nothing; the good ones leave a finite model."""
    steps = data.draw(partial_steps(4))
    note(f"steps={steps}")
    est = MLPClassifier((5,), solver=solver, batch_norm=batch_norm, dtype=dtype,
                        batch_size=batch_size, random_state=0, learning_rate="step")
    rng0 = np.random.RandomState(0)
    est.partial_fit(rng0.randn(10, 4), rng0.randint(0, 3, 10), classes=[0, 1, 2])
    name = "test_partial_fit_sequences"
    for kind, rows, seed in steps:
        rng = np.random.RandomState(seed)
        X = rng.randn(rows, 4)
        y = rng.randint(0, 3, rows)
        sw = None
        if kind == "nan":
            X[rng.randint(rows), rng.randint(4)] = np.nan
        elif kind == "width":
            X = rng.randn(rows, 5)
        elif kind == "new class":
            y[rng.randint(rows)] = 7
        elif kind == "weights":
            sw = rng.rand(rows) * 10
        elif kind == "zero weights":
            sw = np.zeros(rows)
        elif kind == "lr":
            est.set_params(learning_rate_init=0.05)
        elif kind == "huge lr":
            est.set_params(learning_rate_init=1e30)
        before = snapshot(est)
        exc = fails(est.partial_fit, X, y, sample_weight=sw)
        must_fail = (kind in ("nan", "width", "new class", "zero weights")
                     or (batch_norm and rows < 2))
        if exc is None:
            assert not must_fail, f"{kind} accepted"
            record(name, "updated")
            check_model(est, X, y, classes=[0, 1, 2])
        else:
            assert must_fail or isinstance(exc, DivergenceError), repr(exc)
            record(name, "diverged" if isinstance(exc, DivergenceError) else "rejected")
            assert_unchanged(est, before)
        if kind == "huge lr":
            est.set_params(learning_rate_init="auto")


# --- parameters the user sets -----------------------------------------------------------

@st.composite
def user_arrays(draw):
    attr = draw(st.sampled_from(["coefs_", "intercepts_", "bn_gamma_", "bn_running_mean_",
                                 "bn_running_var_"]))
    change = draw(st.sampled_from(["values", "shape", "nan", "inf", "negative",
                                   "list", "transposed", "reversed", "int", "bool",
                                   "count"]))
    scale = draw(st.sampled_from([1.0, 1e-3, 30.0, 1e39]))
    if scale > 1e38 and change == "int":
        change = "values"   # no int64 holds 1e39
    return attr, change, scale, draw(st.integers(0, 2**10))


@fuzz_settings(240)
@given(data=st.data(), dtype=st.sampled_from(["float32", "float64"]))
def test_user_set_parameter_arrays(data, dtype):
    """The public parameter arrays replaced by the user in any form: a
    ValueError naming the attribute when they cannot be the network's
    (count, shape, NaN, inf, negative variances, booleans), else predict
    computes with them (as NumPy does).  Values beyond float32's range are
    rejected by a float32 model."""
    from test_reliability import numpy_logits

    attr, change, scale, seed = data.draw(user_arrays())
    note(f"{attr} {change} x{scale}")
    est = predictor("clf", dtype, True)
    est = pickle.loads(pickle.dumps(est))
    rng = np.random.RandomState(seed)
    arrays = [np.asarray(a, dtype=np.float64).copy() for a in getattr(est, attr)]
    i = rng.randint(len(arrays))
    a = arrays[i]
    a[...] = np.abs(rng.randn(*a.shape)) * scale if attr == "bn_running_var_" else \
        rng.randn(*a.shape) * scale
    must_fail = True
    value = list(arrays)
    if change == "values":
        must_fail = False
    elif change == "shape":
        value[i] = a[..., :-1] if a.shape[-1] > 1 else np.r_[a.ravel(), 1.0]
    elif change in ("nan", "inf"):
        a.flat[rng.randint(a.size)] = np.nan if change == "nan" else -np.inf
    elif change == "negative":
        a.flat[rng.randint(a.size)] = -1.0
        must_fail = attr == "bn_running_var_"
    elif change == "list":
        value[i] = a.tolist()
        must_fail = False
    elif change == "transposed":
        value[i] = np.ascontiguousarray(a.T).T
        must_fail = False
    elif change == "reversed":
        value[i] = np.ascontiguousarray(a[::-1])[::-1]
        must_fail = False
    elif change == "int":
        value[i] = np.round(a).astype(np.int64)
        if attr == "bn_running_var_":
            value[i] = np.abs(value[i])
        must_fail = False
    elif change == "bool":
        value[i] = a > 0
    elif change == "count":
        value = value[:-1] if len(value) > 1 else value + value
    if scale > float(np.finfo(np.float32).max) and dtype == "float32":
        must_fail = True
    setattr(est, attr, value)
    X = np.random.RandomState(1).randn(9, 3)
    name = "test_user_set_parameter_arrays"
    for rows in (X[:1], X):
        try:
            got = est.predict_log_proba(rows)
        except ValueError as exc:
            assert must_fail, f"rejected valid arrays: {exc!r}"
            assert attr in str(exc)
            record(name, "rejected")
            continue
        assert not must_fail, "accepted invalid arrays"
        record(name, "used")
        z = numpy_logits(est, rows)
        want = z - z.max(axis=1, keepdims=True)
        want -= np.log(np.exp(want).sum(axis=1, keepdims=True))
        # float32 rounds every pre-activation: tolerance relative to their size
        tol = (1e-5 if dtype == "float32" else 1e-11) * (1 + np.abs(z).max()) * 10
        np.testing.assert_allclose(got, want, rtol=0, atol=tol)


_INVALID_SIZES = st.one_of(
    st.integers(2**31, 10**40), st.integers(-10, 0),
    st.floats(allow_nan=True, allow_infinity=True).filter(
        lambda f: not (math.isfinite(f) and f.is_integer() and 1 <= f <= 64)),
    st.booleans(), st.text(max_size=3), st.none(), st.just((5,)), st.just([2, 3]),
    st.sampled_from([np.True_, np.float64(2.5), np.int64(-3), np.uint64(2**63)]),
)
_VALID_SIZES = st.one_of(st.integers(1, 24), st.integers(1, 24).map(float),
                         st.integers(1, 24).map(np.int64), st.integers(1, 24).map(np.int32))


@fuzz_settings(300)
@given(sizes=st.one_of(
    st.lists(st.one_of(_VALID_SIZES, _INVALID_SIZES), max_size=3).map(tuple),
    st.lists(_VALID_SIZES, max_size=3).map(tuple),
    _VALID_SIZES, _INVALID_SIZES))
def test_any_hidden_layer_sizes(sizes):
    """Integers from 1 to 2**31 - 1 (integral floats included) are widths;
    anything else (huge, zero, negative, fractional, NaN, inf, bools,
    strings, None, nested sequences) raises a ValueError naming
    hidden_layer_sizes - never an OverflowError, TypeError or a silent cut."""
    is_seq = isinstance(sizes, (tuple, list))
    seq = list(sizes) if is_seq else [sizes]

    def valid(s):
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, float, np.integer,
                                                                 np.floating)):
            return False
        return math.isfinite(float(s)) and float(s).is_integer() and 1 <= s <= 2**31 - 1

    # a bare width must be an integer (scikit-learn's constraint); in a
    # sequence, integral floats are widths too
    accepted = (all(valid(s) for s in seq) if is_seq
                else valid(sizes) and isinstance(sizes, (int, np.integer)))
    rng = np.random.RandomState(0)
    X, y = rng.randn(20, 3), rng.randint(0, 2, 20)
    est = MLPClassifier(hidden_layer_sizes=sizes, max_iter=1, random_state=0)
    note(repr(sizes))
    exc = fails(est.fit, X, y)
    if accepted:
        assert exc is None, repr(exc)
        assert [c.shape[1] for c in est.coefs_[:-1]] == [int(s) for s in seq]
        record("test_any_hidden_layer_sizes", "accepted")
    else:
        assert exc is not None, "invalid sizes accepted"
        assert "hidden_layer_sizes" in str(exc)
        record("test_any_hidden_layer_sizes", "rejected")


_ANY_VALUE = st.one_of(
    # plausible values (most examples fit) ...
    st.integers(1, 20), st.integers(1, 20), st.floats(1e-4, 1.0), st.floats(1e-4, 1.0),
    st.sampled_from(["triangular", "triangular2", "exp_range"]),
    # ... and anything
    st.integers(-3, 3), st.integers(2**53, 2**70), st.floats(allow_nan=True,
                                                             allow_infinity=True),
    st.booleans(), st.none(), st.text(max_size=4),
)


@fuzz_settings(300)
@given(data=st.data(), schedule=st.sampled_from(SCHEDULES))
def test_any_schedule_parameters(data, schedule):
    """Random lr_schedule_params: a ValueError naming an offending key (or
    lr_schedule_params), or a fit whose rates and losses are finite and
    non-negative.  NaN, infinities, booleans, negative numbers, unknown
    keys and strings other than the cyclic modes are always rejected."""
    keys = list(SCHEDULE_PARAMS.get(schedule, {})) + ["bogus"]
    params = data.draw(st.dictionaries(st.sampled_from(keys), _ANY_VALUE, max_size=3))
    if schedule in SCHEDULE_PARAMS and data.draw(st.booleans()):
        # one odd value among plausible ones
        name, plausible = data.draw(schedules().filter(lambda s: s[0] == schedule))
        params = {**(plausible or {}), **dict(list(params.items())[:1])}
    note(f"{schedule} {params}")

    def surely_bad(key, v):
        if key == "bogus" or schedule not in SCHEDULE_PARAMS:
            return True
        if isinstance(v, bool):
            return True
        if isinstance(v, float) and not math.isfinite(v):
            return True
        if isinstance(v, (int, float)) and v < 0:
            return True
        if isinstance(v, str) and key != "mode":
            return True
        return False

    rng = np.random.RandomState(0)
    X, y = rng.randn(30, 3), rng.randint(0, 2, 30)
    est = MLPClassifier((3,), solver="sgd", learning_rate=schedule,
                        lr_schedule_params=params, max_iter=2, batch_size=10,
                        random_state=0)
    exc = fails(est.fit, X, y)
    name = "test_any_schedule_parameters"
    if exc is None:
        assert not any(surely_bad(k, v) for k, v in params.items()), "bad params accepted"
        assert all(math.isfinite(r) and r >= 0 for r in est.learning_rate_curve_)
        assert np.isfinite(est.loss_curve_).all()
        check_model(est, X, y)
        record(name, "fitted")
    elif isinstance(exc, DivergenceError):
        record(name, "diverged")   # e.g. max_lr=3 on sgd: a legitimate divergence
    else:
        assert any(repr(k) in str(exc) for k in params), repr(exc)
        record(name, "rejected")


@fuzz_settings(100)
@given(data=st.data())
def test_predict_before_fit_and_after_failed_first_fit(data):
    """An estimator whose first fit failed is still unfitted: predict
    raises NotFittedError, not an AttributeError."""
    X, numeric, desc = data.draw(inputs(min_rows=1))
    est = MLPClassifier((3,), max_iter=1)
    exc = fails(est.fit, X, np.arange(desc["n"]) % 2)
    if exc is None:
        return
    with pytest.raises(NotFittedError):
        est.predict(np.zeros((2, max(1, desc["d"]))))
    record("test_predict_after_failed_fit", "unfitted")
