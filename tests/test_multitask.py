"""Multitask learning (Caruana 1997): a 2-D y of multiclass columns, one
softmax group per task on shared hidden layers, the loss the sum of the
tasks' cross-entropies.  The kernels and the engine against the NumPy
reference (tests/reference.py) and central differences; one group against
the ordinary softmax bit for bit; threads; and the estimator's API, as
scikit-learn's MultiOutputClassifier has it."""

import pickle
import warnings

import numpy as np
import pytest
import reference as ref
import scipy.sparse as sp
from _helpers import ACTS, forward, loss_and_grad
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.multioutput import MultiOutputClassifier

from fastmlp import MLPClassifier, _testing, config_context
from fastmlp._components import OUTPUTS, SOLVERS
from fastmlp._engine import Engine
from fastmlp._network import Network
from fastmlp._predictor import Predictor

SOFTMAX = OUTPUTS[("softmax", "log_loss")]
TOL = {np.float64: 1e-10, np.float32: 2e-5}
GROUPS = [4, 2, 1, 3]     # a 1-class and a 2-class task among them


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def one_hot_groups(rng, n, groups):
    return np.hstack([np.eye(g)[rng.randint(0, g, n)] for g in groups])


def task_data(n=300, seed=0):
    """Three tasks of the digits-like kind: a 5-class label and two tasks
    derived from it (parity, a 3-way split), from 8 Gaussian features."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 8)
    c = np.argmax(X[:, :5] + 0.3 * rng.randn(n, 5), axis=1)
    return X, np.column_stack([c, c % 2, c % 3])


# --- kernels -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_delta_kernel_against_reference(dtype):
    rng = np.random.RandomState(0)
    n, k = 23, sum(GROUPS)
    z = (rng.randn(n, k) * 3).astype(dtype)
    y = one_hot_groups(rng, n, GROUPS).astype(dtype)
    sw = (rng.rand(n) + 0.5).astype(dtype)
    delta = z.copy()
    total = _testing.loss_delta(delta, y, SOFTMAX, 0.25, sw, groups=GROUPS)
    z64, y64, sw64 = (a.astype(np.float64) for a in (z, y, sw))
    tol = TOL[dtype]
    np.testing.assert_allclose(
        total, (sw64 * ref.grouped_sample_losses(z64, y64, GROUPS)).sum(), rtol=tol)
    np.testing.assert_allclose(
        delta, 0.25 * sw64[:, None] * ref.grouped_delta(z64, y64, GROUPS),
        rtol=tol, atol=tol)
    # the 1-class task: probability 1, no loss, no gradient
    assert np.all(delta[:, 6] == 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_output_kernel_is_a_softmax_per_group(dtype):
    rng = np.random.RandomState(1)
    z = (rng.randn(9, sum(GROUPS)) * 4).astype(dtype)
    b = rng.randn(sum(GROUPS)).astype(dtype)
    out = z.copy()
    _testing.output(out, b, SOFTMAX, groups=GROUPS)
    expected = ref.grouped_softmax(z.astype(np.float64) + b, GROUPS)
    np.testing.assert_allclose(out, expected, rtol=TOL[dtype], atol=TOL[dtype])
    bounds = np.cumsum([0] + GROUPS)
    for a, c in zip(bounds[:-1], bounds[1:]):
        np.testing.assert_allclose(out[:, a:c].sum(axis=1), 1, rtol=TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_group_is_the_softmax_bit_for_bit(dtype):
    rng = np.random.RandomState(2)
    z = rng.randn(17, 5).astype(dtype)
    y = np.eye(5)[rng.randint(0, 5, 17)].astype(dtype)
    a, b = z.copy(), z.copy()
    la = _testing.loss_delta(a, y, SOFTMAX, 0.5)
    lb = _testing.loss_delta(b, y, SOFTMAX, 0.5, groups=[5])
    assert la == lb and np.array_equal(a, b)
    a, b = z.copy(), z.copy()
    bias = np.zeros(5, dtype)
    _testing.output(a, bias, SOFTMAX)
    _testing.output(b, bias, SOFTMAX, groups=[5])
    assert np.array_equal(a, b)


def test_kernels_reject_groups_that_do_not_cut_the_columns():
    z = np.zeros((2, 5))
    with pytest.raises(ValueError, match="groups"):
        _testing.loss_delta(z, z.copy(), SOFTMAX, 1.0, groups=[2, 2])
    with pytest.raises(ValueError, match="groups"):
        _testing.output(z, np.zeros(5), SOFTMAX, groups=[5, 0])
    with pytest.raises(ValueError, match="output groups"):
        Network([3, 5], "relu", "logistic", "binary_log_loss", np.float64,
                out_groups=[2, 3])
    with pytest.raises(ValueError, match="output groups"):
        Network([3, 5], "relu", "softmax", "log_loss", np.float64, out_groups=[2, 2])


# --- the engine ----------------------------------------------------------------


def grouped_net(d, hidden, act, dtype, groups=GROUPS, **kw):
    return Network([d, *hidden, sum(groups)], act, "softmax", "log_loss", dtype,
                   out_groups=groups, **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", [(), (6,), (7, 4)])
@pytest.mark.parametrize("act", ACTS)
def test_engine_against_reference(act, hidden, dtype):
    rng = np.random.RandomState(3)
    n, d = 37, 5
    X = rng.randn(n, d).astype(dtype)
    Y = one_hot_groups(rng, n, GROUPS).astype(dtype)
    sw = (rng.rand(n) + 0.5).astype(dtype)
    net = grouped_net(d, hidden, act, dtype)
    theta = net.init_params(np.random.RandomState(1))
    coefs = [c.astype(np.float64) for c in net.coefs(theta)]
    inter = [b.astype(np.float64) for b in net.intercepts(theta)]
    X64, Y64, sw64 = (a.astype(np.float64) for a in (X, Y, sw))
    tol = TOL[dtype]

    Z, _ = ref.forward(coefs, inter, X64, act, "identity")
    P = ref.grouped_softmax(Z[-1], GROUPS)
    np.testing.assert_allclose(forward(net, theta, X), P, rtol=tol, atol=tol)
    np.testing.assert_allclose(forward(net, theta, X, capacity=5), P, rtol=tol, atol=tol)
    np.testing.assert_allclose(forward(net, theta, X, logits=True), Z[-1], rtol=tol,
                               atol=tol * np.abs(Z[-1]).max())
    few = np.empty((3, sum(GROUPS)), dtype)
    assert Predictor(net, theta, net.initial_running()).forward_few(X[:3], few, 2, False)
    np.testing.assert_allclose(few, P[:3], rtol=tol, atol=tol)

    alpha = 0.3
    loss, grad = loss_and_grad(net, theta, X, Y, sw, alpha=alpha, capacity=8)
    np.testing.assert_allclose(
        loss, ref.grouped_objective(coefs, inter, X64, Y64, act, GROUPS, sw64, alpha),
        rtol=tol)
    gW, gb = ref.grouped_backward(coefs, inter, X64, Y64, act, GROUPS, sw64, alpha)
    expected = net.pack(gW, gb).astype(np.float64)
    np.testing.assert_allclose(grad, expected, rtol=tol,
                               atol=tol * np.abs(expected).max())
    # the predictor's loss (early stopping's 'loss' scoring)
    data = ref.grouped_objective(coefs, inter, X64, Y64, act, GROUPS, sw64)
    pred = Predictor(net, theta, net.initial_running())
    np.testing.assert_allclose(pred.loss(X, Y, sw), data, rtol=tol)


@pytest.mark.parametrize("depth", [0, 1, 2])
@pytest.mark.parametrize("act", ["tanh", "gelu"])
def test_gradient_matches_central_differences(act, depth):
    rng = np.random.RandomState(depth)
    n, d = 11, 4
    X = rng.randn(n, d)
    Y = one_hot_groups(rng, n, GROUPS)
    sw = rng.rand(n) + 0.5
    net = grouped_net(d, [5, 4][:depth], act, np.float64)
    theta = net.init_params(rng)
    engine = Engine(net, n, alpha=0.2)
    _, grad = loss_and_grad(net, theta, X, Y, sw, alpha=0.2)
    scratch = np.empty_like(theta)
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += 1e-6
        tm[i] -= 1e-6
        numeric[i] = (engine.loss_and_grad(X, Y, sw, tp, scratch)
                      - engine.loss_and_grad(X, Y, sw, tm, scratch)) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-5,
                               atol=1e-7 * max(1.0, np.abs(numeric).max()))


# --- the estimator: one task is the ordinary multiclass model ------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", [
    dict(solver="adam"),
    dict(solver="sgd", batch_norm=True, dropout=0.2),
    dict(solver="lbfgs"),
])
def test_one_task_is_the_multiclass_model_bit_for_bit(kw, dtype, monkeypatch):
    """The engine's grouped path with one group of all the classes trains
    the same model as its default path (the estimator made to pass one
    group for an ordinary multiclass y)."""
    X, y = task_data()
    params = dict(hidden_layer_sizes=(9,), max_iter=8, random_state=0, dtype=dtype,
                  **kw)
    plain = MLPClassifier(**params).fit(X, y[:, 0])
    monkeypatch.setattr(MLPClassifier, "_output_groups",
                        lambda self: np.array([len(self.classes_)]))
    grouped = MLPClassifier(**params).fit(X, y[:, 0])
    assert grouped._model.network.out_groups.tolist() == [5]
    assert plain._model.network.out_groups.tolist() == []
    for a, b in zip(plain.coefs_ + plain.intercepts_,
                    grouped.coefs_ + grouped.intercepts_):
        assert np.array_equal(a, b)
    assert plain.loss_ == grouped.loss_
    assert np.array_equal(plain.predict_proba(X), grouped.predict_proba(X))


# --- threads -------------------------------------------------------------------


@pytest.mark.parametrize("sparse_first", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_same_model_for_any_thread_count(solver, dtype, sparse_first):
    # full batches of 4000 rows x 10 outputs: the loss and output kernels
    # run on several threads (their parallel threshold is 32768 elements)
    rng = np.random.RandomState(0)
    X = rng.randn(4000, 12)
    X[X < 0.5] = 0      # 70 % zeros: the sparse first layer takes it when asked
    c = np.argmax(X[:, :5] + 0.2 * rng.randn(4000, 5), axis=1)
    y = np.column_stack([c, c % 2, c % 3])
    kw = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0, dtype=dtype,
              solver=solver, batch_size=4000)
    fits = []
    with config_context(sparse_first_layer="always" if sparse_first else "never"):
        for n_threads in (1, 2):
            m = MLPClassifier(n_threads=n_threads, **kw).fit(X, y)
            fits.append((m, [p.copy() for p in m.predict_proba(X)]))
    (a, pa), (b, pb) = fits
    for u, v in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        assert np.array_equal(u, v)
    assert all(np.array_equal(u, v) for u, v in zip(pa, pb))
    assert np.array_equal(a.predict(X), b.predict(X))


def test_sparse_input_is_the_dense_model():
    X, y = task_data()
    X[X < 0] = 0
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, dtype="float64")
    with config_context(sparse_first_layer="always"):
        dense = MLPClassifier(**kw).fit(X, y)
        sparse = MLPClassifier(**kw).fit(sp.csr_matrix(X), y)
    for u, v in zip(dense.coefs_, sparse.coefs_):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(dense.predict(X), sparse.predict(sp.csr_matrix(X)))


# --- the estimator's API -------------------------------------------------------


def test_fit_predict_and_probabilities():
    X, y = task_data()
    m = MLPClassifier(hidden_layer_sizes=(20,), max_iter=200, random_state=0).fit(X, y)
    assert m.n_outputs_ == 5 + 2 + 3 and m.out_activation_ == "softmax"
    assert isinstance(m.classes_, list) and len(m.classes_) == 3
    for c, expected in zip(m.classes_, ([0, 1, 2, 3, 4], [0, 1], [0, 1, 2])):
        np.testing.assert_array_equal(c, expected)
    pred = m.predict(X)
    assert pred.shape == (300, 3) and pred.dtype == y.dtype
    proba = m.predict_proba(X)
    assert isinstance(proba, list) and [p.shape for p in proba] == [
        (300, 5), (300, 2), (300, 3)]
    for j, p in enumerate(proba):
        np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)
        np.testing.assert_array_equal(m.classes_[j][p.argmax(axis=1)], pred[:, j])
    log_proba = m.predict_log_proba(X)
    for p, lp in zip(proba, log_proba):
        np.testing.assert_allclose(np.exp(lp), p, rtol=1e-5, atol=1e-7)
    # the model learns every task
    for j in range(3):
        assert accuracy_score(y[:, j], pred[:, j]) > 0.8
    # score: subset accuracy, MultiOutputClassifier's convention
    assert m.score(X, y) == pytest.approx(np.mean(np.all(pred == y, axis=1)))
    w = np.random.RandomState(0).rand(300)
    assert m.score(X, y, sample_weight=w) == pytest.approx(
        np.average(np.all(pred == y, axis=1), weights=w))


def test_same_api_as_multioutput_classifier():
    """predict, predict_proba and classes_ have the shapes and types of
    scikit-learn's MultiOutputClassifier, with string and integer tasks."""
    X, y = task_data()
    names = np.array(["a", "b", "c", "d", "e"])
    y_str = np.column_stack([names[y[:, 0]], np.where(y[:, 1], "odd", "even"),
                             names[y[:, 2]]])
    ours = MLPClassifier(hidden_layer_sizes=(20,), max_iter=100, random_state=0)
    theirs = MultiOutputClassifier(MLPClassifier(hidden_layer_sizes=(20,),
                                                 max_iter=100, random_state=0))
    for target in (y, y_str):
        ours.fit(X, target)
        theirs.fit(X, target)
        p_ours, p_theirs = ours.predict(X), theirs.predict(X)
        assert p_ours.shape == p_theirs.shape and p_ours.dtype == p_theirs.dtype
        assert len(ours.classes_) == len(theirs.classes_)
        for a, b in zip(ours.classes_, theirs.classes_):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(ours.predict_proba(X), theirs.predict_proba(X)):
            assert a.shape == b.shape
        assert (accuracy_score(p_ours.ravel(), target.ravel())
                > accuracy_score(p_theirs.ravel(), target.ravel()) - 0.1)


def test_multilabel_targets_are_unchanged():
    """A 2-D y of 0/1 indicator columns stays multilabel: sigmoid outputs."""
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4)
    y = (rng.rand(60, 3) > 0.5).astype(int)
    m = MLPClassifier(hidden_layer_sizes=(5,), max_iter=5, random_state=0).fit(X, y)
    assert m.out_activation_ == "logistic" and m._model.network.out_groups.size == 0
    assert isinstance(m.predict_proba(X), np.ndarray)


def test_one_and_two_class_tasks():
    """A task with 2 classes is a 2-way softmax; with 1 class, a group of
    one output, probability 1, predicting that class."""
    X, y = task_data()
    y = np.column_stack([y[:, 1], np.full(300, 7), y[:, 0]])
    m = MLPClassifier(hidden_layer_sizes=(10,), max_iter=50, random_state=0).fit(X, y)
    assert m._model.network.out_groups.tolist() == [2, 1, 5]
    proba = m.predict_proba(X)
    assert proba[0].shape == (300, 2)
    assert np.all(proba[1] == 1) and np.all(m.predict(X)[:, 1] == 7)


@pytest.mark.parametrize("solver", [s for s in SOLVERS])
def test_every_solver(solver):
    X, y = task_data()
    m = MLPClassifier(hidden_layer_sizes=(16,), solver=solver, max_iter=60,
                      random_state=0).fit(X, y)
    if SOLVERS[solver].stochastic:
        assert m.loss_ < 0.95 * m.loss_curve_[0]
    else:   # below the loss of uniform probabilities, the sum of log K_j
        assert m.loss_ < 0.8 * np.log(5 * 2 * 3)


@pytest.mark.parametrize("kw", [dict(batch_norm=True), dict(dropout=0.3),
                                dict(batch_norm=True, dropout=0.2, solver="sgd", learning_rate_init=0.1),
                                dict(label_smoothing=0.1), dict(mixup_alpha=0.2)])
def test_regularisers(kw):
    X, y = task_data()
    m = MLPClassifier(hidden_layer_sizes=(16,), max_iter=60, random_state=0,
                      **kw).fit(X, y)
    assert np.mean([accuracy_score(y[:, j], m.predict(X)[:, j]) for j in range(3)]) > 0.6
    for p in m.predict_proba(X):
        np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-5)


def test_label_smoothing_smooths_each_task_over_its_classes():
    X, y = task_data(n=40)
    m = MLPClassifier(hidden_layer_sizes=(4,), label_smoothing=0.2, max_iter=1,
                      random_state=0).fit(X, y)
    Y = m._label_binarizer.transform(y)
    Q = m._training_targets(Y)
    np.testing.assert_allclose(Q[:, :5], 0.8 * Y[:, :5] + 0.2 / 5)
    np.testing.assert_allclose(Q[:, 5:7], 0.8 * Y[:, 5:7] + 0.2 / 2)
    np.testing.assert_allclose(Q[:, 7:], 0.8 * Y[:, 7:] + 0.2 / 3)


def test_sample_and_class_weights():
    X, y = task_data()
    kw = dict(hidden_layer_sizes=(8,), max_iter=5, random_state=0, dtype="float64",
              solver="lbfgs")
    w = np.random.RandomState(1).randint(0, 3, 300).astype(float)
    weighted = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    repeated = MLPClassifier(**kw).fit(np.repeat(X, w.astype(int), axis=0),
                                       np.repeat(y, w.astype(int), axis=0))
    for a, b in zip(weighted.coefs_, repeated.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    # class_weight: a dict per task multiplies the sample weights
    cw = [{c: 1.0 + c for c in range(5)}, {0: 1.0, 1: 2.0}, {0: 1, 1: 1, 2: 3}]
    a = MLPClassifier(class_weight=cw, **kw).fit(X, y)
    from sklearn.utils.class_weight import compute_sample_weight
    b = MLPClassifier(**kw).fit(X, y, sample_weight=compute_sample_weight(cw, y))
    for u, v in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(u, v)
    balanced = MLPClassifier(class_weight="balanced", **kw).fit(X, y)
    assert len(balanced._class_weight_map) == 3


def test_early_stopping_scores_the_mean_task_accuracy():
    X, y = task_data()
    X_val, y_val = task_data(n=100, seed=5)
    m = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, max_iter=15,
                      n_iter_no_change=100, random_state=0)
    m.fit(X, y, X_val=X_val, y_val=y_val)
    pred = m.predict(X_val)
    expected = np.mean([accuracy_score(y_val[:, j], pred[:, j]) for j in range(3)])
    assert m.validation_scores_[-1] == pytest.approx(expected)
    # the validation_fraction split, and 'loss' scoring
    m = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, max_iter=10,
                      random_state=0).fit(X, y)
    assert len(m.validation_scores_) == m.n_iter_
    m = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, max_iter=10,
                      scoring="loss", random_state=0).fit(X, y)
    assert all(s < 0 for s in m.validation_scores_)
    with pytest.raises(ValueError, match="3 columns"):
        MLPClassifier(early_stopping=True, max_iter=2).fit(X, y, X_val=X_val,
                                                           y_val=y_val[:, :2])
    bad = y_val.copy()
    bad[0, 1] = 9
    with pytest.raises(ValueError, match="task 1"):
        MLPClassifier(early_stopping=True, max_iter=2).fit(X, y, X_val=X_val,
                                                           y_val=bad)


def test_partial_fit():
    X, y = task_data()
    classes = [np.arange(5), [0, 1], np.array([0, 1, 2])]
    m = MLPClassifier(hidden_layer_sizes=(16,), random_state=0, learning_rate_init=0.01)
    for start in range(0, 300, 50):
        # a batch need not show every class of every task
        m.partial_fit(X[start:start + 50], y[start:start + 50], classes=classes)
    assert [c.tolist() for c in m.classes_] == [[0, 1, 2, 3, 4], [0, 1], [0, 1, 2]]
    for _ in range(30):
        m.partial_fit(X, y)
    assert m.score(X, y) > 0.5
    # the same as fit for one epoch
    a = MLPClassifier(hidden_layer_sizes=(6,), random_state=0, shuffle=False)
    a.partial_fit(X, y, classes=classes)
    b = MLPClassifier(hidden_layer_sizes=(6,), random_state=0, shuffle=False,
                      max_iter=1).fit(X, y)
    for u, v in zip(a.coefs_, b.coefs_):
        np.testing.assert_array_equal(u, v)


def test_clear_errors():
    X, y = task_data()
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit(X, y)
    with pytest.raises(ValueError, match="one array of classes per task"):
        MLPClassifier().partial_fit(X, y, classes=[np.arange(5), [0, 1]])
    m = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2).partial_fit(
        X, y, classes=[np.arange(5), [0, 1], [0, 1, 2]])
    with pytest.raises(ValueError, match="not the same"):
        m.partial_fit(X, y, classes=[np.arange(6), [0, 1], [0, 1, 2]])
    bad = y.copy()
    bad[3, 2] = 5
    with pytest.raises(ValueError, match=r"labels \[5\] in task 2"):
        m.partial_fit(X, bad)
    with pytest.raises(ValueError, match="3 columns"):
        m.partial_fit(X, y[:, :2])
    with pytest.raises(ValueError, match="multiclass-multioutput"):
        MLPClassifier(max_iter=2).fit(X, y[:, 0]).partial_fit(X, y)
    m = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="warm_start"):
        m.fit(X, np.column_stack([y, y[:, 0]]))
    with pytest.raises(ValueError, match="shape"):
        m.score(X, y[:, :2])


@pytest.mark.parametrize("labels", ["int", "str"])
def test_pickle_and_skops(labels):
    X, y = task_data()
    if labels == "str":
        y = np.char.add("c", y.astype(str))
    m = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    back = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    for a, b in zip(back.predict_proba(X), m.predict_proba(X)):
        np.testing.assert_array_equal(a, b)
    assert back._model.network.out_groups.tolist() == [5, 2, 3]
    sio = pytest.importorskip("skops.io")
    data = sio.dumps(m)
    # skops: the estimator's state holds arrays and builtins only
    assert sio.get_untrusted_types(data=data) == [
        "fastmlp._multilayer_perceptron.MLPClassifier"]
    back = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    assert back.predict(X).dtype == y.dtype
    back.partial_fit(X, y)
    # the latency path (a few rows) and the batched path agree
    for a, b in zip(m.predict_proba(X[:3]), m.predict_proba(X)):
        np.testing.assert_allclose(a, b[:3], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("labels", ["int", "str"])
def test_onnx_export_matches_predict_proba(labels, dtype):
    ort = pytest.importorskip("onnxruntime")
    from fastmlp import to_onnx

    X, y = task_data()
    y = np.column_stack([y[:, 0], y[:, 1], np.full(300, 4)])   # a 1-class task
    if labels == "str":
        y = np.char.add("c", y.astype(str))
    m = MLPClassifier(hidden_layer_sizes=(12,), batch_norm=True, max_iter=30,
                      random_state=0, dtype=dtype).fit(X, y)
    sess = ort.InferenceSession(to_onnx(m).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    label, proba = sess.run(None, {"X": X.astype(dtype)})
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(proba, np.hstack(m.predict_proba(X)), rtol=tol, atol=tol)
    assert label.shape == (300, 3)
    np.testing.assert_array_equal(label.astype(str), m.predict(X).astype(str))


def test_skl2onnx_pipelines_refuse_multitask_models():
    skl2onnx = pytest.importorskip("skl2onnx")
    from fastmlp import register_skl2onnx_converters

    register_skl2onnx_converters()
    X, y = task_data()
    m = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="fastmlp.to_onnx"):
        skl2onnx.to_onnx(m, X[:1].astype(np.float32), options={"zipmap": False})
