"""ONNX export (fastmlp.to_onnx, and skl2onnx with fastmlp's converters):
onnxruntime's outputs equal predict / predict_proba for every activation x
output layer x batch norm x dtype, on random and real (digits) inputs."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastmlp import MLPClassifier, MLPRegressor, register_skl2onnx_converters, to_onnx
from fastmlp._components import ACTIVATIONS

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-11, atol=1e-13)}


def tol(dtype, activation):
    if dtype == "float64" and activation == "gelu":
        return dict(rtol=1e-6, atol=1e-7)   # erf in float32 (onnxruntime)
    return TOL[dtype]


def run(model, X):
    sess = ort.InferenceSession(model.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: X})


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.RandomState(0)
    # real rows and random ones, some of them large
    return np.vstack([X[:300], rng.randn(60, X.shape[1]) * 3]), y[:300]


def targets(kind, y):
    if kind == "multiclass":
        return y
    if kind == "binary":
        return np.where(y % 2 == 1, "odd", "even")
    if kind == "multilabel":
        return np.c_[y % 2 == 1, y > 4, y == 0].astype(int)
    if kind == "one class":
        return np.full(y.shape, 3)
    raise ValueError(kind)


def fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "one class"])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_classifier_parity(digits, activation, kind, batch_norm, dtype):
    """onnxruntime gives predict_proba within float rounding (float32: 1e-5
    relative; float64: 1e-11, but GELU, whose erf onnxruntime computes in
    float32 only: 1e-6) and predict's labels exactly."""
    X, y = digits
    est = fit(MLPClassifier((24, 12), activation=activation, batch_norm=batch_norm,
                            dtype=dtype, max_iter=15, random_state=0),
              X[:300], targets(kind, y))
    Xd = X.astype(dtype)
    label, proba = run(to_onnx(est), Xd)
    assert proba.dtype == np.dtype(dtype)
    np.testing.assert_allclose(proba, est.predict_proba(Xd), **tol(dtype, activation))
    np.testing.assert_array_equal(label, est.predict(Xd))


REGRESSORS = [("identity", {}), ("softplus", {}), ("logistic", {}),
              ("exp", dict(loss="poisson"))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("out, kw", REGRESSORS, ids=[r[0] for r in REGRESSORS])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_regressor_parity(digits, activation, out, kw, batch_norm, dtype):
    X, y = digits
    if out == "exp":
        Y = y.astype(float)   # counts
    elif out in ("logistic", "softplus"):
        Y = np.c_[y / 9.0, (y % 3) / 2.0]
    else:
        Y = np.c_[y / 3.0, np.sin(y)]
    est = fit(MLPRegressor(hidden_layer_sizes=(24, 12), activation=activation,
                           batch_norm=batch_norm, dtype=dtype, max_iter=15,
                           random_state=0, **({} if kw else {"out_activation": out}),
                           **kw), X[:300], Y)
    assert est.out_activation_ == out
    Xd = X.astype(dtype)
    (pred,) = run(to_onnx(est), Xd)
    assert pred.shape == (len(X), est.n_outputs_)
    np.testing.assert_allclose(pred, est.predict(Xd).reshape(len(X), -1),
                               **tol(dtype, activation))


def test_graph_has_no_training_only_operators(digits):
    """Batch norm is folded into the layers; dropout and input noise are
    absent: the graph is Gemms, activations and the output layer."""
    X, y = digits
    est = fit(MLPClassifier((16, 8), batch_norm=True, dropout=0.3, input_noise=0.1,
                            max_iter=5, random_state=0), X[:300], y)
    model = to_onnx(est)
    ops = {n.op_type for n in model.graph.node}
    assert ops == {"Gemm", "Relu", "Softmax", "ArgMax", "Gather"}, ops
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]
    assert [i.name for i in model.graph.input] == ["X"]
    onnx.checker.check_model(model)


def test_options_and_errors(digits):
    X, y = digits
    est = fit(MLPClassifier((8,), max_iter=5, random_state=0), X[:300], y)
    assert to_onnx(est, target_opset=13).opset_import[0].version == 13
    # a float64 graph of a float32 model computes in float64
    label, proba = run(to_onnx(est, dtype="float64"), X)
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba, est.predict_proba(X.astype(np.float32)), rtol=1e-4,
                               atol=1e-6)
    with pytest.raises(ValueError, match="target_opset"):
        to_onnx(est, target_opset=11)
    with pytest.raises(ValueError, match="dtype"):
        to_onnx(est, dtype="float16")
    with pytest.raises(TypeError, match="MLPClassifier"):
        to_onnx(StandardScaler().fit(X))
    from sklearn.exceptions import NotFittedError
    with pytest.raises(NotFittedError):
        to_onnx(MLPClassifier())
    # user-set arrays are checked as for predict
    est.coefs_ = [c[:, :-1] for c in est.coefs_]
    with pytest.raises(ValueError, match="coefs_"):
        to_onnx(est)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel"])
@pytest.mark.parametrize("input_dtype", [np.float32, np.float64])
def test_skl2onnx_converts_pipelines(digits, kind, input_dtype):
    """Registered with skl2onnx, a whole pipeline (scaler + fastmlp)
    converts; with ZipMap (skl2onnx's default) and without."""
    skl2onnx = pytest.importorskip("skl2onnx")
    register_skl2onnx_converters()
    X, y = digits
    pipe = make_pipeline(StandardScaler(), MLPClassifier((16,), batch_norm=True,
                                                         max_iter=20, random_state=0))
    fit(pipe, X[:300], targets(kind, y))
    Xi = X.astype(input_dtype)
    onx = skl2onnx.to_onnx(pipe, Xi[:1], options={"zipmap": False})
    label, proba = run(onx, Xi)
    np.testing.assert_array_equal(label, pipe.predict(X))
    np.testing.assert_allclose(proba, pipe.predict_proba(X), rtol=1e-4, atol=1e-6)
    if kind != "multilabel" and input_dtype == np.float32:
        # (ONNX-ML's ZipMap takes float32 probabilities only)
        label, maps = run(skl2onnx.to_onnx(pipe, Xi[:1]), Xi)
        assert list(maps[0]) == list(pipe.classes_)
        np.testing.assert_array_equal(label, pipe.predict(X))


def test_skl2onnx_regressor_pipeline(digits):
    skl2onnx = pytest.importorskip("skl2onnx")
    register_skl2onnx_converters()
    X, y = digits
    pipe = fit(make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(16,),
                                                            max_iter=20, random_state=0)),
               X[:300], y / 3.0)
    (pred,) = run(skl2onnx.to_onnx(pipe, X[:1].astype(np.float32)), X.astype(np.float32))
    np.testing.assert_allclose(pred.ravel(), pipe.predict(X), rtol=1e-4, atol=1e-5)
