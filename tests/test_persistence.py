"""Safe persistence with skops: a fitted estimator's state holds NumPy
arrays, Python builtins and scikit-learn's types only, so that skops asks
to trust exactly one type, the estimator's own, and the loaded model
predicts bit for bit as the saved one."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp import MLPClassifier, MLPRegressor

sio = pytest.importorskip("skops.io")


def _name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16, y[:400]


@pytest.mark.parametrize("kw", [
    dict(), dict(batch_norm=True, dropout=0.2, dtype="float64"),
    dict(activation="leaky_relu", input_noise=0.1, solver="sgd", learning_rate="cyclic"),
    dict(solver="lbfgs", max_iter=30), dict(early_stopping=True),
], ids=["adam", "bn-dropout-f64", "leaky-noise-cyclic", "lbfgs", "early-stopping"])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_skops_trusts_only_the_estimator(digits, cls, kw):
    X, y = digits
    if cls is MLPRegressor:
        y = y / 9.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cls(hidden_layer_sizes=(32, 16), random_state=0,
                  **{"max_iter": 5, **kw}).fit(X, y)
    data = sio.dumps(est)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == [_name(cls)]
    loaded = sio.loads(data, trusted=untrusted)
    assert type(loaded) is cls
    for rows in (X[:1], X[:3], X):
        np.testing.assert_array_equal(loaded.predict(rows), est.predict(rows))
    if cls is MLPClassifier:
        np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    for a, b in zip(loaded.coefs_, est.coefs_):
        np.testing.assert_array_equal(a, b)
    # the loaded model keeps training as the saved one would
    if kw.get("solver") != "lbfgs":
        loaded.set_params(early_stopping=False)   # partial_fit's setting
        est.set_params(early_stopping=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = loaded.partial_fit(X, y).predict(X)
            b = est.partial_fit(X, y).predict(X)
        np.testing.assert_array_equal(a, b)


def test_skops_without_trust_refuses(digits):
    X, y = digits
    est = MLPClassifier((8,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    with pytest.raises(Exception, match="[Uu]ntrusted"):
        sio.loads(sio.dumps(est))


def test_skops_pipeline(digits):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), max_iter=3, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe.fit(X, y)
    data = sio.dumps(pipe)
    assert sio.get_untrusted_types(data=data) == [_name(MLPClassifier)]
    loaded = sio.loads(data, trusted=[_name(MLPClassifier)])
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def test_unfitted_estimator_round_trips():
    est = MLPRegressor(hidden_layer_sizes=(7, 3), batch_norm=True)
    data = sio.dumps(est)
    loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    assert loaded.get_params() == est.get_params()
