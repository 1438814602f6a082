"""Reliability: regression tests of the reliability issue, each checking the
class of a defect rather than one case.

1. predictions beside a refit with another architecture see one whole model;
2. huge ``n_threads`` is capped (and ``None`` follows OpenMP's limits);
3. the user-visible parameter arrays are checked and used on every path;
4. Ctrl-C between minibatches: fit keeps the last completed epoch, the
   other calls are undone;
5. a classifier fitted on one class;
8. schedule parameters checked at fit;
9. divergence: partial_fit atomic, fit keeps a finite model, early stopping
   returns the best validation model;
10. hidden_layer_sizes must be integers; ReLU passes NaN;

and the coverage the issue lists as missing (dropout and noise at
prediction, noise without shuffling, huge logits, threads at the kernels'
split sizes, user intercepts on the few-sample path, sample-weight
normalisation, the portable kernels).  Items 6 and 7 (BLAS threads, CPU
affinity) are in test_threads.py.

Whatever could crash the interpreter (threads racing a refit, tens of
thousands of threads, signals) runs in a child process: a crash is then a
failed test, not a dead test run.
"""

import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification

import reference as ref
from test_validation import assert_unchanged, snapshot

from fastmlp import DivergenceError, MLPClassifier, MLPRegressor, _predictor, _testing
from fastmlp import config_context
from fastmlp._components import ACTIVATIONS
from fastmlp._schedules import SCHEDULE_PARAMS

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

PARAM_ATTRS = ("coefs_", "intercepts_", "bn_gamma_", "bn_running_mean_",
               "bn_running_var_")
FEW = _predictor.FEW_ROWS


# --- helpers ----------------------------------------------------------------------

_CHILD_PRELUDE = """
import json, os, pickle, signal, sys, threading, time, warnings
import numpy as np

# A process started with SIGINT ignored (a background job of a shell without
# job control) keeps it ignored, and Python with it: Ctrl-C, as the tests
# send it, needs Python's own handler.
signal.signal(signal.SIGINT, signal.default_int_handler)

def report(**kw):
    print("RESULT " + json.dumps(kw), flush=True)
"""


def run_child(*parts, timeout=300, env=None):
    """Run the code `parts` (each dedented) in a fresh interpreter; the test fails unless it exits with
    0 (a segfault or an abort is a failure, not a dead test run).  Returns
    the dict the child passed to ``report(...)``."""
    child_env = dict(os.environ)
    child_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c",
         "".join(textwrap.dedent(p) for p in (_CHILD_PRELUDE,) + parts)],
        capture_output=True, text=True, timeout=timeout, env=child_env,
    )
    assert proc.returncode == 0, (
        f"child exited with {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}"
        f"\n--- stderr\n{proc.stderr[-4000:]}"
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"the child reported nothing\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return json.loads(lines[-1][len("RESULT "):])


def quiet_fit(est, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kw)


def state(est):
    """Everything an estimator holds, comparable with ==: the model's
    parameter vector and running statistics, the public attributes (which
    may be the user's invalid replacements: pickled element by element),
    and every other attribute but the hyper-parameters, pickled.  Unlike
    test_validation's snapshot it does not go through __getstate__, which
    validates the user's arrays."""
    out = {}
    params = est.get_params(deep=False)
    for key, value in est.__dict__.items():
        if key in params:
            continue
        if key == "_model":
            out[key] = (id(value), value.theta.tobytes(), value.running.tobytes())
        elif key in PARAM_ATTRS and isinstance(value, (list, tuple)):
            out[key] = (id(value), type(value),
                        [(id(a), pickle.dumps(a)) for a in value])
        else:
            out[key] = pickle.dumps(value)
    return out


def assert_same_state(est, before):
    after = state(est)
    assert set(after) == set(before), set(after) ^ set(before)
    changed = [k for k in before if after[k] != before[k]]
    assert not changed, f"attributes changed by a failed call: {changed}"


def numpy_logits(est, X):
    """The output layer's pre-activations computed in float64 NumPy from the
    estimator's public arrays, as the user sees them (BN in inference mode
    from bn_running_mean_ / bn_running_var_)."""
    act = ACTIVATIONS[est.activation]
    A = np.asarray(X, dtype=np.float64)
    coefs = [np.asarray(c, dtype=np.float64) for c in est.coefs_]
    biases = [np.asarray(b, dtype=np.float64) for b in est.intercepts_]
    for layer, (W, b) in enumerate(zip(coefs, biases)):
        z = A @ W
        if layer == len(coefs) - 1:
            return z + b
        if est.batch_norm:
            z = ref.bn_eval(z, np.asarray(est.bn_gamma_[layer], np.float64), b,
                            np.asarray(est.bn_running_mean_[layer], np.float64),
                            np.asarray(est.bn_running_var_[layer], np.float64),
                            est.bn_eps)
        else:
            z = z + b
        A = ref.activation(act.name, z, act.param)


def numpy_proba(est, X):
    return ref.output("softmax", numpy_logits(est, X))


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(80, 4)
    y = rng.randint(0, 3, 80)
    return X, y


def fitted(X, y, cls=MLPClassifier, sample_weight=None, **kw):
    params = dict(hidden_layer_sizes=(5,), max_iter=5, random_state=0)
    params.update(kw)
    return quiet_fit(cls(**params), X, y, sample_weight=sample_weight)


# --- 1. predict beside a refit with another architecture ----------------------------

_REFIT_RACE = """
warnings.simplefilter("ignore")
from fastmlp import MLPClassifier, MLPRegressor
# switch threads as often as the interpreter can: every interleaving of the
# reader's snapshot with the writer's install gets its chance
sys.setswitchinterval(1e-5)
rng = np.random.RandomState(0)
X = rng.randn(300, 20)
y = rng.randint(0, 3, 300)
archs = [dict(hidden_layer_sizes=(5,), batch_norm=False),
         dict(hidden_layer_sizes=(300, 200), batch_norm=True),
         dict(hidden_layer_sizes=(5,), batch_norm=True),
         dict(hidden_layer_sizes=(300, 200), batch_norm=False)]
clf = MLPClassifier(max_iter=1, random_state=0, **archs[0]).fit(X, y)
reg = MLPRegressor(max_iter=1, random_state=0, **archs[1]).fit(X, X[:, :2])
stop = threading.Event()
bad, counts = [], {"clf": 0, "reg": 0}
SIZES = (1, 2, 4, 5, 37, 300)   # the few-row path and the batched one

def check_clf(i):
    rows = X[:SIZES[i % len(SIZES)]]
    p = clf.predict_proba(rows)
    c = clf.predict(rows)
    lp = clf.predict_log_proba(rows)
    if (p.shape != (len(rows), 3) or c.shape != (len(rows),) or lp.shape != p.shape
            or not np.isfinite(p).all() or not np.isfinite(lp).all()
            or not np.allclose(p.sum(axis=1), 1, atol=1e-4)
            or not set(c.tolist()) <= {0, 1, 2}):
        bad.append(f"classifier: shapes {p.shape} {c.shape} {lp.shape}")
    counts["clf"] += 1

def check_reg(i):
    rows = X[:SIZES[i % len(SIZES)]]
    r = reg.predict(rows)
    if r.shape != (len(rows), 2) or not np.isfinite(r).all():
        bad.append(f"regressor: shape {r.shape}")
    counts["reg"] += 1

def reader(check):
    i = 0
    while not stop.is_set():
        try:
            check(i)
        except BaseException as exc:
            bad.append(repr(exc))
        i += 1

threads = [threading.Thread(target=reader, args=(f,)) for f in (check_clf, check_reg)]
for t in threads:
    t.start()
refits = 0
t0 = time.perf_counter()
while time.perf_counter() - t0 < float(sys.argv[1]) or refits < 8:
    arch = archs[refits % len(archs)]
    clf.set_params(**arch).fit(X, y)
    reg.set_params(**archs[(refits + 1) % len(archs)]).fit(X, X[:, :2])
    refits += 1
stop.set()
for t in threads:
    t.join()
report(refits=refits, counts=counts, bad=bad[:10], n_bad=len(bad))
"""


def test_predict_beside_refit_with_other_architectures():
    """Two threads predict (few-row and batched paths, classifier and
    regressor) in a tight loop while the main thread refits both estimators
    with alternating widths, depths and batch_norm: no crash, no error,
    every prediction of the right shape and finite."""
    code = _REFIT_RACE.replace("float(sys.argv[1])", "3.0")
    out = run_child(code)
    assert out["refits"] >= 8
    assert out["counts"]["clf"] > 0 and out["counts"]["reg"] > 0
    assert out["n_bad"] == 0, out["bad"]


def test_predict_beside_failing_refits():
    """A refit that fails must leave a fitted estimator fitted for readers
    in other threads at every instant.  The failing call is made cheap (an
    invalid hidden_layer_sizes, found by fastmlp's own check, scikit-learn's
    parameter validation skipped) so that thousands of failures per second
    give every interleaving its chance."""
    out = run_child("""
        warnings.simplefilter("ignore")
        import sklearn
        from fastmlp import MLPClassifier
        sys.setswitchinterval(1e-6)
        rng = np.random.RandomState(0)
        X = rng.randn(100, 6)
        y = rng.randint(0, 3, 100)
        est = MLPClassifier((5,), max_iter=2, random_state=0).fit(X, y)
        est.set_params(hidden_layer_sizes=(5.5,))
        sklearn.set_config(skip_parameter_validation=True)   # this thread only
        stop = threading.Event()
        errors = []
        def reader():
            while not stop.is_set() and not errors:
                try:
                    p = est.predict_proba(X[:2])
                    assert p.shape == (2, 3)
                except BaseException as exc:
                    errors.append(repr(exc))
        threads = [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        failed = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 10 and not errors:
            try:
                est.fit(X, y)
            except ValueError:
                failed += 1
        stop.set()
        for t in threads:
            t.join()
        report(failed=failed, errors=errors[:3])
    """)
    assert out["failed"] > 0
    assert out["errors"] == []


def test_predict_beside_refit_with_other_classes():
    """A refit that changes the output layer (3 classes <-> 2 classes) is a
    refit with another architecture: a reader must see the old classifier
    or the new one, whole (labels, probabilities and their shapes)."""
    out = run_child("""
        warnings.simplefilter("ignore")
        from fastmlp import MLPClassifier
        rng = np.random.RandomState(0)
        X = rng.randn(100, 6)
        y3 = rng.randint(0, 3, 100)
        y2 = y3 % 2
        est = MLPClassifier((5,), max_iter=2, random_state=0).fit(X, y3)
        stop = threading.Event()
        bad = []
        def reader():
            while not stop.is_set() and len(bad) < 5:
                for rows in (X[:1], X):
                    try:
                        p = est.predict_proba(rows)
                        c = est.predict(rows)
                        ok = (p.shape in ((len(rows), 3), (len(rows), 2))
                              and c.shape == (len(rows),)
                              and np.allclose(p.sum(axis=1), 1, atol=1e-4))
                    except BaseException as exc:
                        ok = repr(exc)
                    if ok is not True:
                        bad.append(str(ok) if ok else f"shapes {p.shape} {c.shape}")
        t = threading.Thread(target=reader)
        t.start()
        fits = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 8 and len(bad) < 5:
            est.fit(X, y2 if fits % 2 else y3)
            fits += 1
        stop.set()
        t.join()
        report(fits=fits, bad=bad[:5])
    """)
    assert out["fits"] > 0
    assert out["bad"] == []


# --- 2. huge n_threads; None follows OpenMP's limits ---------------------------------

def test_huge_n_threads_is_capped_with_a_warning():
    """Tens of thousands (or 2**31 - 1) of threads would exhaust the
    process: fit and predict warn, run on at most the CPUs the process may
    use, keep the process's thread count small, and give the model that one
    thread gives (bit for bit: the result never depends on the threads)."""
    out = run_child("""
        from joblib import cpu_count
        from fastmlp import MLPClassifier
        def os_threads():
            with open("/proc/self/status") as f:
                return int(next(l for l in f if l.startswith("Threads:")).split()[1])
        rng = np.random.RandomState(0)
        X = rng.randn(400, 30)
        y = (X[:, 0] + X[:, 1] > 0).astype(int)
        kw = dict(hidden_layer_sizes=(300,), batch_size=256, max_iter=10, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            one = MLPClassifier(n_threads=1, **kw).fit(X, y)
        res = {"cpus": cpu_count(), "runs": []}
        for n in (40000, 100000, 2**31 - 1):
            run = {"n": n}
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                est = MLPClassifier(n_threads=n, **kw).fit(X, y)
            run["fit_warnings"] = [str(x.message) for x in w if x.category is UserWarning]
            run["threads_after_fit"] = os_threads()
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                few = est.predict_proba(X[:1])
                full = est.predict_proba(X)
            run["predict_warnings"] = [str(x.message) for x in w
                                       if x.category is UserWarning]
            run["threads_after_predict"] = os_threads()
            run["same_model"] = bool(np.array_equal(est._model.theta, one._model.theta))
            run["same_proba"] = bool(np.array_equal(full, one.predict_proba(X))
                                     and np.array_equal(few, one.predict_proba(X[:1])))
            run["score"] = est.score(X, y)
            res["runs"].append(run)
        report(**res)
    """)
    cpus = out["cpus"]
    assert len(out["runs"]) == 3
    for run in out["runs"]:
        message = f"asks for more threads than the {cpus} CPUs"
        assert run["fit_warnings"] and all(message in m for m in run["fit_warnings"]), run
        assert f"n_threads={run['n']}" in run["fit_warnings"][0]
        assert run["predict_warnings"] and all(message in m
                                               for m in run["predict_warnings"]), run
        assert run["same_model"] and run["same_proba"], run
        assert run["score"] > 0.9
        # the main thread, OpenMP's pool (capped), BLAS's pool: a handful
        assert run["threads_after_fit"] <= 2 * cpus + 8, run
        assert run["threads_after_predict"] <= 2 * cpus + 8, run


def test_n_threads_none_follows_threadpool_limits():
    """n_threads=None is OpenMP's team size: threadpoolctl's OpenMP limit
    lowers it, as it does scikit-learn's; the limit is lifted after the
    block; a fit inside the block gives the model of any other thread
    count."""
    from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
    from threadpoolctl import threadpool_limits

    from fastmlp._threads import effective_n_threads

    outside = effective_n_threads(None)
    assert outside == min(_openmp_effective_n_threads(), outside)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads(None) == 1 == _openmp_effective_n_threads()
    assert effective_n_threads(None) == outside
    rng = np.random.RandomState(0)
    X = rng.randn(300, 10)
    y = (X[:, 0] > 0).astype(int)
    a = fitted(X, y, hidden_layer_sizes=(64,), max_iter=3)
    with threadpool_limits(limits=1, user_api="openmp"):
        b = fitted(X, y, hidden_layer_sizes=(64,), max_iter=3)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)


@pytest.mark.parametrize("omp", ["1", "2", "64"])
def test_n_threads_none_follows_omp_num_threads(omp):
    """OMP_NUM_THREADS sets n_threads=None's count, as scikit-learn's
    _openmp_effective_n_threads, up to the CPUs the process may use (more
    is capped, with the warning)."""
    out = run_child("""
        from joblib import cpu_count
        from sklearn.utils._openmp_helpers import _openmp_effective_n_threads
        from fastmlp._threads import effective_n_threads
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            ours = effective_n_threads(None)
        report(ours=ours, sklearn=_openmp_effective_n_threads(), cpus=cpu_count(),
               warnings=[str(x.message) for x in w])
    """, env={"OMP_NUM_THREADS": omp})
    asked = int(omp)
    assert out["ours"] == min(asked, out["cpus"])
    if asked <= out["cpus"]:
        assert out["ours"] == out["sklearn"] == asked
        assert out["warnings"] == []
    else:
        assert len(out["warnings"]) == 1
        assert f"OMP_NUM_THREADS={omp} asks for more threads than the" in out["warnings"][0]


@pytest.mark.parametrize("blocks", [2**31, 2.0**40, float("inf")], ids=repr)
def test_gemm_blocks_beyond_a_c_int_are_rejected_by_the_setting(data, blocks):
    import fastmlp

    X, y = data
    before = fastmlp.get_config()
    try:
        with config_context(gemm_blocks=blocks):
            fitted(X, y, hidden_layer_sizes=(64,))
    except ValueError as exc:
        assert "gemm_blocks" in str(exc)
    else:
        raise AssertionError(f"gemm_blocks={blocks!r} accepted")
    assert fastmlp.get_config() == before


# --- 3. the user's parameter arrays ----------------------------------------------------

@pytest.mark.parametrize("old, new", [((4,), (4, 4)), ((4, 4), (4,)), ((4, 4), (4, 4, 4))])
def test_warm_start_with_another_depth_is_refused(data, old, new):
    """Shapes that happen to fit (4 features, width 4) must not let a warm
    start continue with a deeper or shallower network (whose extra layers
    would come from uninitialised memory)."""
    X, y = data
    est = fitted(X, y, hidden_layer_sizes=old, warm_start=True)
    before = state(est)
    with pytest.raises(ValueError, match="coefs_ holds .* arrays where the network has"):
        est.set_params(hidden_layer_sizes=new).fit(X, y)
    assert_same_state(est, before)
    est.set_params(hidden_layer_sizes=old)
    np.testing.assert_allclose(est.predict_proba(X), numpy_proba(est, X), rtol=1e-5,
                               atol=1e-6)


def test_warm_start_with_batch_norm_toggled_is_refused(data):
    X, y = data
    for bn in (False, True):
        est = fitted(X, y, hidden_layer_sizes=(4,), warm_start=True, batch_norm=bn)
        before = state(est)
        with pytest.raises(ValueError, match="batch_norm"):
            est.set_params(batch_norm=not bn).fit(X, y)
        assert_same_state(est, before)


def _calls(X, y):
    """Every path that reads the user's arrays: (name, call(est))."""
    return [
        ("predict", lambda e: e.predict(X)),
        ("predict_proba few rows", lambda e: e.predict_proba(X[:FEW])),
        ("predict_log_proba", lambda e: e.predict_log_proba(X[:FEW + 1])),
        ("score", lambda e: e.score(X, y)),
        ("partial_fit", lambda e: e.partial_fit(X, y)),
        ("warm start", lambda e: e.set_params(warm_start=True).fit(X, y)),
        ("pickle", lambda e: pickle.dumps(e)),
    ]


@pytest.mark.parametrize("attr", PARAM_ATTRS)
@pytest.mark.parametrize("how", ["shortened", "empty", "lengthened", "not a list"])
def test_wrong_number_of_arrays_raises_everywhere(data, attr, how):
    X, y = data
    est = fitted(X, y, hidden_layer_sizes=(5, 4), batch_norm=True)
    value = getattr(est, attr)
    setattr(est, attr, {"shortened": value[:1], "empty": [],
                        "lengthened": value + value[-1:],
                        "not a list": value[0]}[how])
    before = state(est)
    for name, call in _calls(X, y):
        with pytest.raises(ValueError, match=attr) as exc:
            call(est)
        assert "holds" in str(exc.value) or "list" in str(exc.value), name
        est.set_params(warm_start=False)
        assert_same_state(est, before)


BAD_ARRAYS = [
    # (attribute, index, value maker, message)
    ("coefs_", 0, lambda a: a[:, :-1], r"coefs_\[0\] has shape"),
    ("coefs_", 1, lambda a: a.T, r"coefs_\[1\] has shape"),
    ("coefs_", 0, lambda a: a.ravel(), r"coefs_\[0\] has shape"),
    ("intercepts_", 1, lambda a: a[:, None], r"intercepts_\[1\] has shape"),
    ("bn_gamma_", 0, lambda a: a[:1], r"bn_gamma_\[0\] has shape \(1,\)"),
    ("bn_running_mean_", 0, lambda a: np.r_[a, 0.0], r"bn_running_mean_\[0\] has shape"),
    ("bn_running_var_", 0, lambda a: -a, r"bn_running_var_\[0\] holds negative"),
    ("coefs_", 0, lambda a: np.where(a > 0, np.nan, a), r"coefs_\[0\] holds NaN or inf"),
    ("intercepts_", 0, lambda a: np.r_[np.inf, a[1:]], r"intercepts_\[0\] holds NaN or inf"),
    ("bn_gamma_", 0, lambda a: np.r_[-np.inf, a[1:]], r"bn_gamma_\[0\] holds NaN or inf"),
    ("bn_running_mean_", 0, lambda a: np.r_[np.nan, a[1:]],
     r"bn_running_mean_\[0\] holds NaN or inf"),
    ("bn_running_var_", 0, lambda a: np.r_[np.inf, a[1:]],
     r"bn_running_var_\[0\] holds NaN or inf"),
    ("coefs_", 0, lambda a: [[1.0, 2.0], [3.0]], r"coefs_\[0\] is not an array of numbers"),
    ("coefs_", 0, lambda a: a.astype(str), r"coefs_\[0\] must hold real numbers"),
    ("coefs_", 0, lambda a: a.astype(complex), r"coefs_\[0\] must hold real numbers"),
    ("coefs_", 0, lambda a: a.astype(object), r"coefs_\[0\] must hold real numbers"),
    ("intercepts_", 0, lambda a: None, r"intercepts_\[0\]"),
]


@pytest.mark.parametrize("attr, i, make, match", BAD_ARRAYS,
                         ids=[f"{k}-{a}" for k, (a, _, _, _) in enumerate(BAD_ARRAYS)])
def test_bad_user_arrays_raise_everywhere_and_change_nothing(data, attr, i, make, match):
    """A replaced array of the wrong shape, a ragged nested list, strings,
    NaN, infinity or negative variances: a ValueError naming the attribute
    from predict, partial_fit, warm start and pickle alike (never an
    AttributeError or a prediction from the bad values), and the estimator
    keeps its state."""
    X, y = data
    est = fitted(X, y, hidden_layer_sizes=(5, 4), batch_norm=True)
    arrays = list(getattr(est, attr))
    arrays[i] = make(np.asarray(arrays[i]))
    setattr(est, attr, arrays)
    before = state(est)
    for name, call in _calls(X, y):
        with pytest.raises(ValueError, match=match):
            call(est)
        est.set_params(warm_start=False)
        assert_same_state(est, before)


def _replacements(W):
    """The same values as W in the forms a user may give: another array, a
    transposed (F-ordered) view, a reversed view, a nested list, integers
    (W rounded), float32, a tuple of rows."""
    return {
        "copy": W.copy(),
        "transposed view": np.ascontiguousarray(W.T).T,
        "reversed view": np.ascontiguousarray(W[::-1, ::-1])[::-1, ::-1],
        "strided view": np.repeat(W, 2, axis=1)[:, ::2],
        "nested list": W.tolist(),
        "float32": W.astype(np.float32),
    }


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-6), ("float64", 1e-13)])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_replaced_arrays_are_used_by_predict(data, dtype, rtol, batch_norm):
    """coefs_[0] replaced by a new array (in every form), intercepts_[-1]
    replaced alone, BN's running statistics replaced: predict (the few-row
    and the batched path) computes with the user's values, as NumPy does."""
    X, y = data
    rng = np.random.RandomState(1)
    est = fitted(X, y, hidden_layer_sizes=(6, 5), batch_norm=batch_norm, dtype=dtype)
    original = est.predict_proba(X)
    W = rng.randn(4, 6)
    W = W.astype(dtype).astype(np.float64)   # representable in the model's dtype
    for name, value in _replacements(W).items():
        est.coefs_[0] = value
        for rows in (X[:1], X[:FEW], X[:FEW + 1], X):
            got = est.predict_proba(rows)
            np.testing.assert_allclose(got, numpy_proba(est, rows), rtol=rtol,
                                       atol=rtol, err_msg=name)
        assert not np.allclose(est.predict_proba(X), original)
    if batch_norm:
        est.bn_running_var_[1] = np.asarray(est.bn_running_var_[1]) * 4 + 0.5
        est.bn_running_mean_[0] = np.asarray(est.bn_running_mean_[0]) - 1.0
        est.bn_gamma_[0] = np.asarray(est.bn_gamma_[0]) * 2
        for rows in (X[:2], X):
            np.testing.assert_allclose(est.predict_proba(rows), numpy_proba(est, rows),
                                       rtol=rtol, atol=rtol)
    # the model itself still holds the fitted values
    assert not np.allclose(est._model.views["coefs_"][0], W)


def test_replaced_intercepts_alone_are_used_on_the_few_sample_path(data):
    """Only intercepts_ replaced (coefs_ untouched, its views still the
    model's): the latency path of 1 to FEW_ROWS rows must use them too."""
    X, y = data
    for reg in (False, True):
        if reg:
            est = fitted(X, X[:, :2] @ [[1.0], [2.0]], cls=MLPRegressor,
                         hidden_layer_sizes=(6,), dtype="float64")
        else:
            est = fitted(X, y, hidden_layer_sizes=(6,), dtype="float64")
        est.intercepts_ = [b + 3.0 for b in est.intercepts_]
        for k in range(1, FEW + 2):
            logits = numpy_logits(est, X[:k])
            got = est.predict(X[:k]) if reg else est.predict_proba(X[:k])
            want = logits.ravel() if reg else ref.output("softmax", logits)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_replaced_arrays_are_used_by_partial_fit_warm_start_and_pickle(data, dtype):
    """partial_fit, a warm start and a pickle continue from the user's
    arrays: the same bits as from a model holding those values itself."""
    X, y = data
    rng = np.random.RandomState(2)
    est = fitted(X, y, hidden_layer_sizes=(6,), batch_norm=True, dtype=dtype)
    values = {"coefs_": [rng.randn(4, 6), rng.randn(6, 3)],
              "intercepts_": [rng.randn(6), rng.randn(3)],
              "bn_gamma_": [rng.rand(6) + 0.5],
              "bn_running_mean_": [rng.randn(6)],
              "bn_running_var_": [rng.rand(6) + 0.1]}
    values = {k: [v.astype(dtype).astype(np.float64) for v in vs]
              for k, vs in values.items()}
    inplace = pickle.loads(pickle.dumps(est))
    for attr, vs in values.items():
        for view, v in zip(getattr(inplace, attr), vs):
            view[...] = v     # the model's own arrays, written in place
    forms = [lambda v: v.copy(), lambda v: np.ascontiguousarray(v.T).T,
             lambda v: v[::-1][::-1] if v.ndim == 1 else np.ascontiguousarray(
                 v[::-1])[::-1], lambda v: v.tolist()]
    for form in forms:
        replaced = pickle.loads(pickle.dumps(est))
        for attr, vs in values.items():
            setattr(replaced, attr, [form(v) for v in vs])
        # pickle: the user's values
        clone = pickle.loads(pickle.dumps(replaced))
        np.testing.assert_array_equal(clone._model.theta, inplace._model.theta)
        np.testing.assert_array_equal(clone._model.running, inplace._model.running)
        # partial_fit
        a = pickle.loads(pickle.dumps(inplace)).partial_fit(X, y)
        b = replaced.partial_fit(X, y)
        np.testing.assert_array_equal(a._model.theta, b._model.theta)
        np.testing.assert_array_equal(a._model.running, b._model.running)
        # after partial_fit the attributes are the new model's views again
        assert all(np.shares_memory(c, b._model.theta) for c in b.coefs_)
    # a warm start
    replaced = pickle.loads(pickle.dumps(est))
    for attr, vs in values.items():
        setattr(replaced, attr, [np.ascontiguousarray(v.T).T for v in vs])
    a = quiet_fit(pickle.loads(pickle.dumps(inplace)).set_params(warm_start=True,
                                                                  max_iter=2), X, y)
    b = quiet_fit(replaced.set_params(warm_start=True, max_iter=2), X, y)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    np.testing.assert_array_equal(a._model.running, b._model.running)


def test_nested_lists_and_integers_of_the_right_shape_are_accepted(data):
    X, y = data
    est = fitted(X, y, hidden_layer_sizes=(5,), dtype="float64")
    want = est.predict_proba(X)
    est.coefs_ = [c.tolist() for c in est.coefs_]
    est.intercepts_ = tuple(b.tolist() for b in est.intercepts_)
    np.testing.assert_array_equal(est.predict_proba(X), want)
    np.testing.assert_array_equal(est.predict_proba(X[:1]), want[:1])
    est.coefs_ = [np.round(np.asarray(c) * 4).astype(np.int64) for c in est.coefs_]
    np.testing.assert_allclose(est.predict_proba(X), numpy_proba(est, X), rtol=1e-12)


@pytest.mark.parametrize("attr", ["coefs_", "intercepts_", "bn_gamma_"])
def test_user_values_beyond_the_model_dtype_raise(data, attr):
    X, y = data
    est = fitted(X, y, hidden_layer_sizes=(5,), batch_norm=True)   # float32
    arrays = [np.asarray(a, dtype=np.float64).copy() for a in getattr(est, attr)]
    arrays[0].flat[0] = 1e39      # finite in float64, infinite in float32
    setattr(est, attr, arrays)
    before = state(est)
    for name, call in _calls(X, y):
        with pytest.raises(ValueError, match=rf"{attr}\[0\]"):
            call(est)
        est.set_params(warm_start=False)
        assert_same_state(est, before)


# --- 4. Ctrl-C -----------------------------------------------------------------------

# Epochs of about a second: long enough for a signal to land inside one.
_INTERRUPT_SETUP = """
from fastmlp import MLPClassifier
rng = np.random.default_rng(0)
X = rng.random((12000, 300), dtype=np.float32)
y = rng.integers(0, 10, 12000)
KW = dict(hidden_layer_sizes=(256, 256), batch_size=32, max_iter=40, random_state=0,
          tol=0.0, n_iter_no_change=10**6)

def interrupt():
    os.kill(os.getpid(), signal.SIGINT)

def state(est):
    out = {}
    for k, v in est.__dict__.items():
        if k == "_model":
            out[k] = (id(v), v.theta.tobytes(), v.running.tobytes())
        elif k in ("coefs_", "intercepts_", "bn_gamma_", "bn_running_mean_",
                   "bn_running_var_"):
            out[k] = (id(v), [(id(a), a.tobytes()) for a in v])
        else:
            out[k] = pickle.dumps(v)
    return out

def in_training():
    # A fit works on a copy of the estimator, so training is detected from
    # the main thread's stack: it is inside one of the drivers.
    frame = sys._current_frames().get(threading.main_thread().ident)
    while frame is not None:
        if frame.f_code.co_name in ("fit_stochastic", "fit_lbfgs"):
            return True
        frame = frame.f_back
    return False

def changed(est, before):
    after = state(est)
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
"""


def test_interrupted_fit_keeps_the_last_completed_epoch():
    """SIGINT during epoch k + 1 (from a watcher thread, as from a
    terminal): fit returns normally with a warning and the model of epoch k
    - the same bits as a fit with max_iter=k: coefs_, BN's running
    statistics, n_iter_, loss_curve_, t_, the learning-rate curve - and the
    estimator stays usable (partial_fit continues from it)."""
    out = run_child(_INTERRUPT_SETUP, """
        KW.update(batch_norm=True, dropout=0.1)
        est = MLPClassifier(**{**KW, "verbose": True})
        K = 2
        # A fit works on a copy of the estimator, installed at the end, so
        # its progress is read from its verbose lines: the time of each.
        ends = []
        class Lines:
            def write(self, s):
                if s.startswith("Iteration"):
                    ends.append(time.perf_counter())
                return len(s)
            def flush(self):
                pass
        def watcher():
            # a third of an epoch into epoch K + 1: far from the epoch's ends
            while len(ends) < K:
                time.sleep(0.0005)
            time.sleep((ends[1] - ends[0]) / 3)
            interrupt()
        threading.Thread(target=watcher, daemon=True).start()
        real, sys.stdout = sys.stdout, Lines()
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                est.fit(X, y)
        finally:
            sys.stdout = real
        est.set_params(verbose=False)
        k = est.n_iter_
        res = dict(n_iter=k, warnings=[str(x.message) for x in w],
                   curve=len(est.loss_curve_), lr_curve=len(est.learning_rate_curve_),
                   t=est.t_, finite=bool(np.isfinite(est._model.theta).all()
                                        and np.isfinite(est.predict_proba(X[:500])).all()),
                   views=all(np.shares_memory(c, est._model.theta) for c in est.coefs_))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = MLPClassifier(**{**KW, "max_iter": k}).fit(X, y)
        res["same_theta"] = bool(np.array_equal(est._model.theta, ref._model.theta))
        res["same_running"] = bool(np.array_equal(est._model.running, ref._model.running))
        res["same_curves"] = (est.loss_curve_ == ref.loss_curve_
                              and est.learning_rate_curve_ == ref.learning_rate_curve_
                              and est.t_ == ref.t_ and est.n_iter_ == ref.n_iter_
                              and est.best_loss_ == ref.best_loss_)
        res["same_optimizer"] = bool(np.array_equal(est._opt_state, ref._opt_state)
                                     and est._opt_t == ref._opt_t)
        est.partial_fit(X[:2000], y[:2000])
        res["partial_fit_after"] = bool(np.isfinite(est._model.theta).all())
        report(**res)
    """)
    k = out["n_iter"]
    assert 1 <= k < 40, out
    assert any("Training interrupted by user" in m for m in out["warnings"]), out
    assert out["curve"] == out["lr_curve"] == k and out["t"] == k * 12000
    assert out["finite"] and out["views"]
    assert out["same_theta"] and out["same_running"] and out["same_curves"], out
    assert out["same_optimizer"], out
    assert out["partial_fit_after"]


@pytest.mark.parametrize("call", ["fresh fit", "refit", "partial_fit",
                                  "first partial_fit", "lbfgs refit", "sparse refit",
                                  "sparse partial_fit"])
def test_interrupt_undoes_a_call_without_a_completed_epoch(call):
    """SIGINT in a fit's first epoch, in a partial_fit or in an L-BFGS fit:
    KeyboardInterrupt, and the estimator exactly as before the call (no
    fitted attribute for a fresh one).  With verbose=True the driver prints
    a line after each completed epoch: none may appear, so the signal was
    honoured inside the epoch, not after it."""
    out = run_child(_INTERRUPT_SETUP, """
        import io, contextlib
        CALL = %r
        if CALL.startswith("sparse"):
            import scipy.sparse
            X = scipy.sparse.csr_matrix(np.where(X > 0.7, X, 0))
        if CALL == "lbfgs refit":
            KW.update(solver="lbfgs", max_iter=1000, hidden_layer_sizes=(512, 512))
        est = MLPClassifier(**KW)
        if CALL in ("refit", "partial_fit", "lbfgs refit", "sparse refit",
                    "sparse partial_fit"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.set_params(max_iter=1).fit(X[:500], y[:500])
            est.set_params(max_iter=KW["max_iter"])
        before = state(est)
        def watcher():
            while not in_training():
                time.sleep(0.0005)
            time.sleep(0.05)
            interrupt()
        threading.Thread(target=watcher, daemon=True).start()
        buf = io.StringIO()
        outcome = "returned"
        try:
            with contextlib.redirect_stdout(buf):
                est.set_params(verbose=CALL != "lbfgs refit")
                if CALL.endswith("partial_fit"):
                    est.partial_fit(X, y, classes=np.arange(10))
                else:
                    est.fit(X, y)
        except KeyboardInterrupt:
            outcome = "KeyboardInterrupt"
        est.set_params(verbose=False)
        report(outcome=outcome, changed=changed(est, before),
               printed=buf.getvalue()[:500],
               fitted="_model" in est.__dict__ or "coefs_" in est.__dict__)
    """ % call)
    assert out["outcome"] == "KeyboardInterrupt", out
    assert out["changed"] == [], out
    assert "Iteration" not in out["printed"], out
    if call.startswith(("fresh", "first")):
        assert not out["fitted"]


def test_interrupted_predict_proba_raises_before_finishing():
    """predict_proba of a large input is stopped between two blocks of
    rows: KeyboardInterrupt, the result never assigned, the estimator
    unchanged and still predicting."""
    out = run_child(_INTERRUPT_SETUP, """
        est = MLPClassifier((2048, 2048), max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(X[:300], y[:300])
        before = state(est)
        big = np.tile(X, (2, 1))
        threading.Timer(0.05, interrupt).start()
        p = None
        try:
            p = est.predict_proba(big)
            outcome = "returned"
        except KeyboardInterrupt:
            outcome = "KeyboardInterrupt"
        report(outcome=outcome, completed=p is not None, changed=changed(est, before),
               after=est.predict_proba(X[:3]).shape)
    """)
    assert out["outcome"] == "KeyboardInterrupt"
    assert not out["completed"]
    assert out["changed"] == []
    assert out["after"] == [3, 10]


def test_interrupt_between_two_epochs_keeps_the_completed_ones():
    """The signal arrives while the driver prints epoch 2's verbose line,
    i.e. after two completed epochs: fit must return with a warning and the
    model of a completed epoch (bit-identical to a fit stopping there)."""
    out = run_child(_INTERRUPT_SETUP, """
        class Hook:
            # stdout that sends SIGINT when the second epoch's line is printed
            def __init__(self):
                self.lines = 0
            def write(self, s):
                if s.startswith("Iteration"):
                    self.lines += 1
                    if self.lines == 2:
                        interrupt()
                return len(s)
            def flush(self):
                pass
        est = MLPClassifier(**{**KW, "verbose": True})
        real = sys.stdout
        sys.stdout = Hook()
        try:
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                est.fit(X[:3000], y[:3000])
            outcome = "returned"
        except KeyboardInterrupt:
            outcome = "KeyboardInterrupt"
        finally:
            sys.stdout = real
        res = dict(outcome=outcome, fitted="_model" in est.__dict__)
        if outcome == "returned":
            k = est.n_iter_
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = MLPClassifier(**{**KW, "max_iter": k}).fit(X[:3000], y[:3000])
            res.update(k=k, same=bool(np.array_equal(est._model.theta, ref._model.theta)),
                       warned=any("interrupted" in str(x.message) for x in w))
        report(**res)
    """)
    assert out["outcome"] == "returned", out
    assert out["k"] in (1, 2) and out["same"] and out["warned"], out


_INJECT_CHILD = """
import json, os, pickle, sys, warnings
import numpy as np
from threadpoolctl import ThreadpoolController
import fastmlp
from fastmlp import MLPClassifier
warnings.simplefilter("ignore")
PKG = os.path.dirname(fastmlp.__file__)
CTL = ThreadpoolController()

def blas():
    return sorted((m["filepath"], m["num_threads"]) for m in CTL.info()
                  if m["user_api"] == "blas")

def state(est):
    out = {}
    for k, v in est.__dict__.items():
        if k == "_model":
            out[k] = (id(v), v.theta.tobytes())
        elif k in ("coefs_", "intercepts_"):
            out[k] = [a.tobytes() for a in v]
        else:
            out[k] = pickle.dumps(v)
    return out

class Inject:
    # a KeyboardInterrupt at the at-th line that fastmlp's Python code runs,
    # as a SIGINT arriving there would raise it
    def __init__(self, at):
        self.at, self.n, self.where = at, 0, None
    def glob(self, frame, event, arg):
        return self.local if frame.f_code.co_filename.startswith(PKG) else None
    def local(self, frame, event, arg):
        if event == "line":
            self.n += 1
            if self.n - 1 == self.at:
                self.where = (os.path.basename(frame.f_code.co_filename) + ":"
                              + str(frame.f_lineno))
                raise KeyboardInterrupt
        return self.local

rng = np.random.RandomState(0)
X = rng.randn(200, 20).astype(np.float32)
y = rng.randint(0, 3, 200)
base = MLPClassifier((8,), max_iter=2, random_state=0).fit(X, y)
XS = np.tile(X, (25, 1)).astype(np.float64)   # converted block by block
CALLS = {
    "predict_proba": lambda e: e.predict_proba(X[:50]),
    "predict_proba streamed": lambda e: e.predict_proba(XS),
    "predict few rows": lambda e: e.predict(X[:2]),
    "failing refit": lambda e: e.fit(X, y),
    "refit": lambda e: e.fit(X, y),
}
REFS = {}

def fitted_for(k):
    # the model of a refit stopped after epoch k: a refit with max_iter=k
    if k not in REFS:
        REFS[k] = pickle.loads(pickle.dumps(base)).set_params(max_iter=k).fit(X, y)
    return REFS[k]
name = sys.argv[1]
call = CALLS[name]
before_blas = blas()
bad, total, at = [], None, 0
while total is None or at < total:
    est = pickle.loads(pickle.dumps(base))
    if name == "failing refit":
        est.set_params(hidden_layer_sizes=(5.5,))   # rejected inside the guard
    before = state(est)
    inj = Inject(at if total is not None else -1)
    sys.settrace(inj.glob)
    returned = False
    try:
        call(est)
        returned = True
    except (KeyboardInterrupt, ValueError):
        pass
    finally:
        sys.settrace(None)
    if total is None:
        total = inj.n
        continue
    problems = []
    if blas() != before_blas:
        problems.append("BLAS threads not restored")
    if name == "refit" and (returned or state(est) != before):
        # Interrupted after a completed epoch, the fit returns the model of
        # that epoch; after the fit installed its model (in its last line,
        # or in scikit-learn's wrapper around fit), the KeyboardInterrupt
        # leaves the whole fit.
        ref = fitted_for(est.n_iter_)
        if not (est.n_iter_ >= 1 and np.array_equal(est._model.theta, ref._model.theta)
                and est.loss_curve_ == ref.loss_curve_ and est.t_ == ref.t_):
            problems.append("not the model of a completed epoch")
        if not returned and est.n_iter_ != base.max_iter:
            problems.append("raised, but kept part of the fit")
    elif state(est) != before:
        problems.append("estimator changed")
    if problems:
        bad.append((inj.where, problems))
        break
    at += 1
print(json.dumps(dict(lines=total, tried=at, bad=bad)))
"""


@pytest.mark.parametrize("call", [
    "predict few rows",
    "predict_proba",
    "predict_proba streamed",
    "failing refit",
    "refit",
])
def test_ctrl_c_at_any_line_leaves_blas_and_the_estimator_as_before(call):
    """A KeyboardInterrupt injected at every line that fastmlp's Python code
    runs during the call, one at a time (as a SIGINT arriving there would
    raise it): BLAS's thread count is restored and the estimator is as
    before the call - or, for a refit interrupted after its first epoch
    (which returns), exactly the model of its last completed epoch, and for
    one interrupted after it installed its model, the whole fit."""
    proc = subprocess.run([sys.executable, "-c", _INJECT_CHILD, call],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["lines"] > 10 and out["tried"] > 0 or out["bad"], out
    assert out["bad"] == [], out


# --- 5. one class ----------------------------------------------------------------------

@pytest.mark.parametrize("label", [7, "spam", True, -1])
@pytest.mark.parametrize("kw", [dict(), dict(solver="lbfgs"), dict(batch_norm=True),
                                dict(early_stopping=True), dict(dtype="float64")],
                         ids=["adam", "lbfgs", "bn", "early-stopping", "float64"])
def test_classifier_fitted_on_one_class(label, kw):
    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = np.array([label] * 40, dtype=object if isinstance(label, str) else None)
    est = fitted(X, y, hidden_layer_sizes=(4,), **kw)
    assert list(est.classes_) == [label]
    for rows in (X[:1], X[:FEW], X, rng.randn(7, 3) * 100):
        pred = est.predict(rows)
        assert pred.shape == (len(rows),) and all(p == label for p in pred)
        proba = est.predict_proba(rows)
        assert proba.shape == (len(rows), 1)
        np.testing.assert_array_equal(proba, 1.0)
        log_proba = est.predict_log_proba(rows)
        assert log_proba.shape == (len(rows), 1)
        np.testing.assert_array_equal(log_proba, 0.0)
    assert est.score(X, y) == 1.0
    assert est.score(X, y, sample_weight=rng.rand(40)) == 1.0


def test_partial_fit_on_one_class():
    rng = np.random.RandomState(0)
    X = rng.randn(30, 3)
    est = MLPClassifier((4,), random_state=0)
    for _ in range(3):
        est.partial_fit(X, np.zeros(30, dtype=int), classes=[0])
    np.testing.assert_array_equal(est.predict(X), 0)
    np.testing.assert_array_equal(est.predict_proba(X[:2]), [[1.0], [1.0]])
    assert est.score(X, np.zeros(30)) == 1.0


# --- 8. schedule parameters ------------------------------------------------------------

BAD_SCHEDULES = [
    ("cyclic", {"max_lr": -0.02}, "max_lr"),
    ("cyclic", {"max_lr": float("nan")}, "max_lr"),
    ("cyclic", {"max_lr": float("inf")}, "max_lr"),
    ("cyclic", {"max_lr": "0.1"}, "max_lr"),
    ("cyclic", {"gamma": 1.5}, "gamma"),
    ("cyclic", {"gamma": 0.0}, "gamma"),
    ("cyclic", {"step_size_up": 0}, "step_size_up"),
    ("cyclic", {"step_size_down": 2.5}, "step_size_down"),
    ("cyclic", {"mode": "sawtooth"}, "mode"),
    ("cosine", {"eta_min": float("nan")}, "eta_min"),
    ("cosine", {"eta_min": -1e-3}, "eta_min"),
    ("cosine", {"T_max": 0}, "T_max"),
    ("cosine", {"T_max": float("inf")}, "T_max"),
    ("cosine_restarts", {"T_0": float("inf")}, "T_0"),
    ("cosine_restarts", {"T_0": True}, "T_0"),
    ("cosine_restarts", {"T_mult": 2**60}, "T_mult"),
    ("cosine_restarts", {"eta_min": float("inf")}, "eta_min"),
    ("step", {"gamma": float("nan")}, "gamma"),
    ("step", {"gamma": -0.5}, "gamma"),
    ("step", {"step_size": 10**30}, "step_size"),
    ("step", {"step_size": None}, "step_size"),
    ("step", {"gama": 0.5}, "gama"),
    ("constant", {"gamma": 0.5}, "lr_schedule_params"),
]


@pytest.mark.parametrize("schedule, params, key", BAD_SCHEDULES,
                         ids=[f"{s}-{k}-{v!r}" for s, p, k in BAD_SCHEDULES
                              for v in p.values()])
def test_bad_schedule_parameters_raise_naming_the_key(data, schedule, params, key):
    X, y = data
    est = fitted(X, y)
    before = state(est)
    with pytest.raises(ValueError, match=key):
        est.set_params(learning_rate=schedule, lr_schedule_params=params).fit(X, y)
    assert_same_state(est, before)
    with pytest.raises(ValueError, match=key):
        est.partial_fit(X, y)
    assert_same_state(est, before)
    with pytest.raises(ValueError, match=key):
        MLPClassifier((5,), learning_rate=schedule, lr_schedule_params=params).fit(X, y)


def test_every_schedule_default_and_valid_parameters_fit(data):
    X, y = data
    for schedule, defaults in SCHEDULE_PARAMS.items():
        est = fitted(X, y, learning_rate=schedule, lr_schedule_params=dict(defaults),
                     solver="sgd")
        assert np.isfinite(est.loss_curve_).all()
        assert all(math.isfinite(r) and r > 0 for r in est.learning_rate_curve_)


# --- 9. divergence ----------------------------------------------------------------------

@pytest.mark.parametrize("solver", ["sgd", "adam", "rmsprop"])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_diverging_partial_fit_is_atomic(solver, batch_norm):
    """A partial_fit that diverges in a later minibatch of its epoch raises
    DivergenceError and leaves every attribute as before: parameters, BN's
    statistics, the optimiser's state and step count, the schedule, curves,
    counters; the next partial_fit continues as if it never happened."""
    rng = np.random.RandomState(0)
    X = rng.randn(400, 5)
    y = X @ rng.randn(5)
    # 'step' reads learning_rate_init at every call (the constant schedule
    # keeps the first call's rate, as scikit-learn's optimiser does)
    kw = dict(hidden_layer_sizes=(20,), solver=solver, batch_size=20,
              batch_norm=batch_norm, random_state=0, learning_rate="step",
              learning_rate_init=1e-3)
    est = MLPRegressor(**kw)
    for _ in range(2):
        est.partial_fit(X, y)
    before = snapshot(est)
    state_before = state(est)
    # the first minibatch's loss is finite, its step at this rate is not
    with pytest.raises(DivergenceError, match="left as it was") as exc:
        est.set_params(learning_rate_init=1e30).partial_fit(X, y)
    assert "(minibatch 0)" not in str(exc.value)
    est.set_params(learning_rate_init=1e-3)
    assert_unchanged(est, before)
    assert_same_state(est, state_before)
    est.partial_fit(X, y)
    ref_est = MLPRegressor(**kw)
    for _ in range(3):
        ref_est.partial_fit(X, y)
    assert est.loss_curve_ == ref_est.loss_curve_
    np.testing.assert_array_equal(est._model.theta, ref_est._model.theta)
    np.testing.assert_array_equal(est._opt_state, ref_est._opt_state)


def test_early_stopping_returns_the_best_model_when_training_diverges():
    """A rate growing 30x per epoch diverges after a few epochs; with early
    stopping and a best validation model, fit returns that model with a
    warning (no error), the same bits as a fit stopping at that epoch."""
    rng = np.random.RandomState(0)
    X = rng.randn(400, 5)
    y = (X[:, 0] + 0.3 * rng.randn(400) > 0).astype(int)
    kw = dict(hidden_layer_sizes=(20,), solver="sgd", learning_rate_init=1e-2,
              learning_rate="step", lr_schedule_params=dict(step_size=1, gamma=30.0),
              early_stopping=True, n_iter_no_change=1000, max_iter=100, random_state=0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        est = MLPClassifier(**kw).fit(X, y)
    messages = [str(x.message) for x in w if x.category is UserWarning]
    assert any("non-finite" in m and "best on the validation set" in m for m in messages)
    best = int(np.argmax(est.validation_scores_)) + 1
    assert best < est.n_iter_ + 1 < 100
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert np.isfinite(est.predict_proba(X)).all()
    ref_est = quiet_fit(MLPClassifier(**{**kw, "max_iter": best}), X, y)
    np.testing.assert_array_equal(est._model.theta, ref_est._model.theta)
    # the regressor too (R^2 as the validation score)
    reg_kw = {**kw, "lr_schedule_params": dict(step_size=1, gamma=30.0)}
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        reg = MLPRegressor(**reg_kw).fit(X, X @ rng.randn(5))
    assert any("best on the validation set" in str(x.message) for x in w)
    assert np.isfinite(reg.predict(X)).all()


def test_diverging_fit_without_a_best_model_raises():
    """Early stopping, but divergence in the first epoch: no best model,
    so DivergenceError, and the estimator is left as it was."""
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5) * 1e15
    y = (X[:, 0] > 0).astype(int)
    est = MLPClassifier((20,), solver="sgd", learning_rate_init=1e20,
                        early_stopping=True, random_state=0)
    with pytest.raises(DivergenceError, match="epoch 1 "):
        est.fit(X, y)
    assert "_model" not in est.__dict__ and "coefs_" not in est.__dict__


@pytest.mark.parametrize("multilabel", [False, True], ids=["binary", "multilabel"])
def test_a_fitted_model_has_finite_logits(multilabel):
    """After any successful fit the network's outputs on the training data
    are finite, logits included (predict_log_proba is computed from them);
    otherwise the fit must raise DivergenceError."""
    rng = np.random.RandomState(0)
    X = rng.randn(11, 4)
    y = rng.randint(0, 2, (11, 3)) if multilabel else rng.randint(0, 2, 11)
    est = MLPClassifier((3,), activation="elu", solver="sgd", learning_rate_init=1e8,
                        alpha=1000.0, momentum=0.0, shuffle=False, max_iter=2,
                        random_state=0)
    try:
        quiet_fit(est, X, y)
    except DivergenceError:
        return
    assert np.isfinite(est.predict_proba(X)).all()
    assert np.isfinite(est.predict_log_proba(X)).all()


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_batch_norm_on_one_sample_is_rejected_for_every_solver(cls):
    X = np.array([[0.5, -1.0, 2.0]])
    y = [1] if cls is MLPClassifier else [0.3]
    for solver in ("adam", "lbfgs"):
        est = cls(hidden_layer_sizes=(4,), solver=solver, batch_norm=True, max_iter=5)
        with pytest.raises(ValueError, match="batch_norm") as exc:
            quiet_fit(est, X, y)
        assert not isinstance(exc.value, DivergenceError), solver


@pytest.mark.parametrize("y, labels", [
    (np.r_[True, np.zeros(39, bool)], "True"),
    (np.array(["cat"] * 39 + ["dog"]), "dog"),
    (np.r_[5, np.full(39, -3)], "5"),
])
def test_stratified_split_errors_name_the_users_labels(y, labels):
    """The early-stopping split is stratified on the user's labels, so an
    error names them (True, 'dog', 5), never the encoded 1.0 / 0.0."""
    X = np.random.RandomState(0).randn(40, 3)
    with pytest.raises(ValueError) as exc:
        MLPClassifier((5,), early_stopping=True).fit(X, y)
    message = str(exc.value)
    assert labels in message
    assert "1.0" not in message and "0.0" not in message


@pytest.mark.parametrize("first, then", [
    (dict(early_stopping=False), ("fit", dict(warm_start=True, early_stopping=True))),
    # scikit-learn's MLP raises a TypeError here (best_loss_ is None)
    (dict(early_stopping=True), ("fit", dict(warm_start=True, early_stopping=False))),
    (dict(early_stopping=True), ("partial_fit", dict(early_stopping=False))),
], ids=["warm-start-adds-es", "warm-start-drops-es", "partial-fit-drops-es"])
def test_early_stopping_toggled_between_calls(data, first, then):
    """Continuing training with early stopping switched on or off either
    works (a finite model, the new mode's attributes) or raises a
    ValueError naming early_stopping and changes nothing."""
    X, y = data
    est = fitted(X, y, max_iter=3, **first)
    before = state(est)
    method, params = then
    try:
        quiet_fit(est.set_params(**params), X, y) if method == "fit" else \
            est.partial_fit(X, y)
    except ValueError as exc:
        assert "early_stopping" in str(exc)
        assert_same_state(est, before)
        return
    assert np.isfinite(est.predict_proba(X)).all()
    assert (est.validation_scores_ is not None) == est.early_stopping


# --- 10. hidden_layer_sizes; NaN through ReLU ------------------------------------------

@pytest.mark.parametrize("sizes", [
    (10**30,), (2**31,), (float("inf"),), (float("nan"),), (5.5,), (True,), (np.True_,),
    ("5",), (5, "a"), (None,), ((5,),), (-1,), (0,), (5, 0), (np.float64(2.5),),
    (np.uint64(2**63),),
], ids=repr)
def test_invalid_hidden_layer_sizes_raise_value_error(data, sizes):
    X, y = data
    est = fitted(X, y)
    before = state(est)
    for call in (lambda e: e.fit(X, y), lambda e: e.partial_fit(X, y)):
        with pytest.raises(ValueError, match="hidden_layer_sizes"):
            call(est.set_params(hidden_layer_sizes=sizes))
        assert_same_state(est, before)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPRegressor(hidden_layer_sizes=sizes).fit(X, X[:, 0])


@pytest.mark.parametrize("sizes, widths", [
    ((5.0,), [5]), ((np.int64(3), np.int32(2)), [3, 2]), (np.array([4, 2]), [4, 2]),
    ([], []), ((), []), (6, [6]), ((np.float32(3.0),), [3]),
], ids=repr)
def test_integral_hidden_layer_sizes_are_accepted(data, sizes, widths):
    X, y = data
    est = fitted(X, y, hidden_layer_sizes=sizes)
    assert [c.shape[1] for c in est.coefs_[:-1]] == widths
    assert est.n_layers_ == len(widths) + 2
    assert np.isfinite(est.predict_proba(X)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", sorted({a.name for a in ACTIVATIONS.values()}))
def test_activations_pass_nan(act, dtype):
    """NaN in, NaN out (ReLU as max(z, 0) would turn it into 0 and hide a
    diverged layer); infinities keep their activation's limits."""
    spec = ACTIVATIONS[act]
    z = np.array([[np.nan, 1.0, -1.0, np.nan, 0.0, np.nan, 2.0, np.nan]], dtype=dtype)
    b = np.zeros(z.shape[1], dtype=dtype)
    _testing.bias_act(z, b, spec.code, spec.param if spec.param is not None else 0.0)
    assert np.isnan(z[0, [0, 3, 5, 7]]).all(), z
    assert np.isfinite(z[0, [1, 2, 4, 6]]).all(), z
    # a NaN bias too
    z = np.ones((3, 9), dtype=dtype)
    b = np.zeros(9, dtype=dtype)
    b[4] = np.nan
    _testing.bias_act(z, b, spec.code, spec.param if spec.param is not None else 0.0)
    assert np.isnan(z[:, 4]).all() and np.isfinite(np.delete(z, 4, axis=1)).all()


# --- coverage the issue lists as missing --------------------------------------------------

@pytest.fixture(scope="module")
def classification():
    X, y = make_classification(n_samples=600, n_features=20, n_informative=10,
                               n_classes=3, random_state=0)
    return X, y


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-12)])
@pytest.mark.parametrize("batch_norm", [False, True])
def test_dropout_and_noise_do_not_leak_into_prediction(classification, dtype, rtol,
                                                       batch_norm):
    """A model trained with dropout and input noise predicts with its
    plain weights: predict_proba equals NumPy's forward pass from coefs_ and
    intercepts_ on the few-row path and the batched one, and is the same on
    every call."""
    X, y = classification
    est = fitted(X, y, hidden_layer_sizes=(64, 32), dropout=[0.5, 0.3], input_noise=0.5,
                 batch_norm=batch_norm, dtype=dtype, max_iter=3)
    for rows in (X[:1], X[:FEW], X[:FEW + 1], X):
        first = est.predict_proba(rows)
        np.testing.assert_allclose(first, numpy_proba(est, rows), rtol=rtol,
                                   atol=rtol * 1e-2)
        np.testing.assert_array_equal(est.predict_proba(rows), first)


def test_input_noise_without_shuffling(classification):
    """Noise on the inputs read in place (shuffle=False): it trains, changes
    the model, and the same seed gives the same model."""
    X, y = classification
    kw = dict(hidden_layer_sizes=(32,), shuffle=False, max_iter=5, batch_size=64)
    plain = fitted(X, y, **kw)
    noisy = fitted(X, y, input_noise=0.3, **kw)
    again = fitted(X, y, input_noise=0.3, **kw)
    other_seed = fitted(X, y, input_noise=0.3, **{**kw, "random_state": 1})
    np.testing.assert_array_equal(noisy._model.theta, again._model.theta)
    assert not np.array_equal(noisy._model.theta, plain._model.theta)
    assert not np.array_equal(noisy._model.theta, other_seed._model.theta)
    assert noisy.loss_curve_[-1] < noisy.loss_curve_[0]
    assert np.isfinite(noisy.predict_proba(X)).all()
    assert noisy.score(X, y) > 0.6
    # the caller's X is not modified by the in-place noise
    X2, _ = make_classification(n_samples=600, n_features=20, n_informative=10,
                                n_classes=3, random_state=0)
    np.testing.assert_array_equal(X, X2)


@pytest.mark.parametrize("dtype, scale", [("float32", 150.0), ("float64", 1500.0)])
@pytest.mark.parametrize("n_classes", [2, 5])
def test_huge_logits_in_training(dtype, scale, n_classes):
    """Logits of hundreds (float32) or thousands (float64), set through
    warm_start with the user's coefs_: the training loss is finite and is
    the log-sum-exp loss of those logits, and one plain SGD step follows the
    exact gradient (softmax's saturated probabilities)."""
    rng = np.random.RandomState(0)
    X = rng.randn(64, 6)
    y = rng.randint(0, n_classes, 64)
    lr = 1.0   # one plain step theta - lr g, resolved even beside weights of 1e3
    kw = dict(hidden_layer_sizes=(8,), solver="sgd", momentum=0.0, alpha=0.0,
              batch_size=64, shuffle=False, max_iter=1, learning_rate_init=lr,
              dtype=dtype, random_state=0, warm_start=True)
    est = fitted(X, y, **kw)
    est.coefs_ = [np.asarray(est.coefs_[0]) * 1.0, np.asarray(est.coefs_[1]) * scale]
    coefs = [np.asarray(c, dtype).astype(np.float64) for c in est.coefs_]
    biases = [np.asarray(b, np.float64) for b in est.intercepts_]
    Xd = X.astype(dtype).astype(np.float64)
    Z, _ = ref.forward(coefs, biases, Xd, "relu", "softmax" if n_classes > 2 else "logistic")
    assert np.abs(Z[-1]).max() >= (100 if dtype == "float32" else 1000)
    Y = np.eye(n_classes)[y] if n_classes > 2 else y[:, None].astype(float)
    out, loss = ("softmax", "log_loss") if n_classes > 2 else ("logistic",
                                                                "binary_log_loss")
    want = ref.sklearn_loss(coefs, biases, Xd, Y, "relu", out, loss)
    quiet_fit(est, X, y)
    assert np.isfinite(est.loss_)
    np.testing.assert_allclose(est.loss_, want, rtol=1e-4 if dtype == "float32" else 1e-10)
    gW, gb = ref.backward(coefs, biases, Xd, Y, "relu", out, loss)
    for got, w0, g in zip(est.coefs_ + est.intercepts_, coefs + biases, gW + gb):
        step = (w0 - np.asarray(got, np.float64)) / lr
        tol = 1e-2 if dtype == "float32" else 1e-6
        np.testing.assert_allclose(step, g, rtol=tol, atol=tol * np.abs(g).max() + 1e-12)
    assert np.isfinite(est.predict_log_proba(X)).all()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_thread_count_bit_identity_where_kernels_split(dtype):
    """Minibatches of 256 x width 256 (>= 32768 elements: the elementwise
    loops, the loss kernel and the optimiser split across threads), 256
    outputs, and a large alpha: n_threads=1 and 2 give the same bits."""
    rng = np.random.RandomState(0)
    X = rng.randn(700, 64)
    Yr = rng.randn(700, 256)
    yc = np.arange(700) % 256
    for cls, target in ((MLPRegressor, Yr), (MLPClassifier, yc)):
        kw = dict(hidden_layer_sizes=(256, 256), batch_size=256, max_iter=2,
                  alpha=5.0, dtype=dtype, random_state=0, batch_norm=True,
                  dropout=0.2, learning_rate_init=1e-3)
        a = fitted(X, target, cls=cls, n_threads=1, **kw)
        b = fitted(X, target, cls=cls, n_threads=2, **kw)
        np.testing.assert_array_equal(a._model.theta, b._model.theta)
        np.testing.assert_array_equal(a._model.running, b._model.running)
        assert a.loss_curve_ == b.loss_curve_
        pa = a.predict(X) if cls is MLPRegressor else a.predict_proba(X)
        a.set_params(n_threads=2)
        pb = a.predict(X) if cls is MLPRegressor else a.predict_proba(X)
        np.testing.assert_array_equal(pa, pb)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sample_weights_normalise_per_minibatch(classification, dtype):
    """Each minibatch's gradient is divided by its own weight sum: weights
    that are constant inside every minibatch (a power of two, different per
    minibatch) give the unweighted model bit for bit; all weights 3.0 give
    it up to rounding; alpha scales with the weights (scikit-learn divides
    the L2 term by the weight sum)."""
    X, y = classification
    kw = dict(hidden_layer_sizes=(16,), batch_size=50, shuffle=False, max_iter=3,
              dtype=dtype, alpha=0.0)
    plain = fitted(X, y, **kw)
    per_batch = 2.0 ** (np.arange(len(y)) // 50 % 5 - 2)
    a = fitted(X, y, sample_weight=per_batch, **kw)
    np.testing.assert_array_equal(a._model.theta, plain._model.theta)
    assert a.loss_curve_ == plain.loss_curve_
    threes = fitted(X, y, sample_weight=np.full(len(y), 3.0), **kw)
    tol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(threes._model.theta, plain._model.theta, rtol=tol, atol=tol)
    # with shuffling and L2: weights 4 and alpha 4a equal weights 1 and alpha a
    kw.update(shuffle=True, alpha=1e-2)
    plain = fitted(X, y, **kw)
    fours = fitted(X, y, sample_weight=np.full(len(y), 4.0), **{**kw, "alpha": 4 * 1e-2})
    np.testing.assert_allclose(fours._model.theta, plain._model.theta, rtol=tol, atol=tol)


def _sparse_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(301, 203)) * (rng.random((301, 203)) < 0.1)
    X[7] = 0.0
    y = (X[:, :40].sum(1) > 0).astype(int) + (X[:, 40:90].sum(1) > 0)
    return X, y


@pytest.fixture
def restore_portable():
    previous = _testing.portable_kernels()
    yield
    _testing.portable_kernels(previous)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_portable_kernels_give_the_same_results(restore_portable, dtype):
    """The portable compaction (no AVX-512) of the sparse first layer and
    of the sparse kernels gives the same bits as the CPU's best path; the
    switch reads back what was set."""
    X, y = _sparse_data()
    kw = dict(hidden_layer_sizes=(70, 20), batch_size=64, max_iter=2, dtype=dtype,
              batch_norm=True, n_threads=2)
    results = {}
    for flag in (False, True):
        _testing.portable_kernels(flag)
        assert _testing.portable_kernels() is flag
        with config_context(sparse_first_layer="always"):
            est = fitted(X, y, sample_weight=np.linspace(0.5, 2, len(y)), **kw)
        rng = np.random.RandomState(0)
        Xd = np.ascontiguousarray(X[:37], dtype=dtype)
        W = rng.randn(203, 33).astype(dtype)
        D = rng.randn(37, 33).astype(dtype)
        results[flag] = (est._model.theta.copy(), est.predict_proba(X),
                         *_testing.sparse_products(Xd, W, D, 2, [0, 101, 203]))
    for a, b in zip(results[False], results[True]):
        np.testing.assert_array_equal(a, b)
    Z, dW = results[True][2:]
    np.testing.assert_allclose(Z, Xd.astype(np.float64) @ W, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dW, Xd.T.astype(np.float64) @ D, rtol=1e-4, atol=1e-4)


def test_portable_kernels_flag_is_restored_by_the_fixture():
    """Runs after the parametrised test above: the flag is back to its
    default (the fixture's restore), so no other test runs on the portable
    path by accident."""
    assert _testing.portable_kernels() is False
