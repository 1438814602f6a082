"""Threads: the same model, bit for bit, whatever the thread count; GEMMs
split into any number of blocks; both parallel modes train correctly;
BLAS's process-wide thread count restored after fits and predictions, alone
or overlapping, in threads and joblib workers; the same model in any thread
and under any CPU affinity."""

import json
import os
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.datasets import load_digits, make_classification
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_info, threadpool_limits

from fastmlp import DivergenceError, MLPClassifier, MLPRegressor, config_context, get_config
from fastmlp._components import SOLVERS
from fastmlp._engine import Engine
from fastmlp._predictor import Predictor
from fastmlp._network import Network
from fastmlp._optim import Optimizer
from fastmlp._training import ThreadPlan, thread_plan

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, random_state=0)


# --- the estimators ---------------------------------------------------------------


def test_reproducible_and_thread_count_independent(digits):
    X_train, X_test, y_train, _ = digits
    for dtype in ("float32", "float64"):
        # minibatches big enough for the GEMMs to be split between threads
        kw = dict(hidden_layer_sizes=(300, 200), batch_size=512, max_iter=3,
                  random_state=0, dtype=dtype)
        a = MLPClassifier(n_threads=2, **kw).fit(X_train, y_train)
        b = MLPClassifier(n_threads=2, **kw).fit(X_train, y_train)
        c = MLPClassifier(n_threads=1, **kw).fit(X_train, y_train)
        np.testing.assert_array_equal(a._model.theta, b._model.theta)
        np.testing.assert_array_equal(a._model.theta, c._model.theta)
        assert a.loss_curve_ == c.loss_curve_
        np.testing.assert_array_equal(a.predict_proba(X_test), c.predict_proba(X_test))
        # full-batch lbfgs and the regressor too
        kw = dict(hidden_layer_sizes=(200,), solver="lbfgs", max_iter=5,
                  random_state=0, dtype=dtype)
        a = MLPRegressor(n_threads=2, **kw).fit(X_train, y_train / 9.0)
        c = MLPRegressor(n_threads=1, **kw).fit(X_train, y_train / 9.0)
        np.testing.assert_array_equal(a._model.theta, c._model.theta)
        assert a.loss_ == c.loss_


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_thread_count_does_not_change_the_model(dtype):
    """Batch norm, dropout and input noise draw the same numbers and sum in
    the same order on any number of threads."""
    X, y = make_classification(n_samples=700, n_features=40, random_state=0)
    kw = dict(hidden_layer_sizes=(300, 200), batch_norm=True, dropout=[0.3, 0.2],
              input_noise=0.1, batch_size=256, max_iter=2, random_state=0,
              dtype=dtype)
    a = MLPClassifier(n_threads=1, **kw).fit(X, y)
    b = MLPClassifier(n_threads=2, **kw).fit(X, y)
    c = MLPClassifier(n_threads=2, **kw).fit(X, y)
    np.testing.assert_array_equal(a._model.theta, b._model.theta)
    np.testing.assert_array_equal(b._model.theta, c._model.theta)
    for u, v in zip(a.bn_running_var_, b.bn_running_var_):
        np.testing.assert_array_equal(u, v)


def _sparse_data(n=301, n_features=200, density=0.15, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features)) * (rng.random((n, n_features)) < density)
    X[:, :20] = 0.0
    X[:, 20] = rng.normal(size=n)
    X[5] = 0.0
    y = (X[:, 20] + X[:, 30:60].sum(1) > 0).astype(int) + (X[:, 60:90].sum(1) > 0)
    return X, y


def test_sparse_first_layer_same_for_any_thread_count():
    """Each sum runs over the nonzeros in a fixed order whatever part of the
    product a thread computes: bit-identical parameters for 1, 2, 3 threads."""
    X, y = _sparse_data(seed=3)
    with config_context(sparse_first_layer="always"):
        thetas = [
            MLPClassifier((130, 20), batch_size=64, max_iter=2, random_state=0,
                          n_threads=t, tol=0.0, n_iter_no_change=100).fit(X, y)._model.theta
            for t in (1, 2, 3)
        ]
    np.testing.assert_array_equal(thetas[0], thetas[1])
    np.testing.assert_array_equal(thetas[0], thetas[2])


@pytest.mark.parametrize("parts", [1, 3, 5])
def test_gemm_split_into_any_number_of_blocks(digits, parts):
    """The blocks a GEMM is cut into change the rounding only: training with
    1, 3 or 5 blocks per GEMM agrees with the machine's default cut; the
    setting is restored after the context; for a given number of blocks the
    thread count changes nothing."""
    X_train, _, y_train, _ = digits
    kw = dict(hidden_layer_sizes=(300, 200), batch_size=512, max_iter=2,
              random_state=0, dtype="float64")
    ref = MLPClassifier(**kw).fit(X_train, y_train)
    previous = get_config()["gemm_blocks"]
    with config_context(gemm_blocks=parts):
        assert get_config()["gemm_blocks"] == parts
        est = MLPClassifier(**kw).fit(X_train, y_train)
        one = MLPClassifier(n_threads=1, **kw).fit(X_train, y_train)
        two = MLPClassifier(n_threads=2, **kw).fit(X_train, y_train)
    assert previous == get_config()["gemm_blocks"]
    np.testing.assert_allclose(est._model.theta, ref._model.theta, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(one._model.theta, two._model.theta)
    with pytest.raises(ValueError, match=r"gemm_blocks must be an integer in \[1, "):
        with config_context(gemm_blocks=0):
            pass
    assert previous == get_config()["gemm_blocks"]


def test_thread_plan_follows_parallel_mode():
    """'split' (and 'auto'): the engine's OpenMP threads share every GEMM's
    blocks and BLAS runs on one thread; 'blas': BLAS's pool does the GEMMs
    and the engine's loops run on one thread."""
    for mode in ("auto", "split"):
        with config_context(parallel_mode=mode, gemm_blocks=5):
            assert thread_plan(3) == ThreadPlan(3, 1, True, 5)
    with config_context(parallel_mode="blas"):
        assert thread_plan(3) == ThreadPlan(1, 3, False, 1)
    with pytest.raises(ValueError, match="parallel_mode must be one of"):
        with config_context(parallel_mode="both"):
            pass


@pytest.mark.parametrize("solver, max_iter", [("adam", 20), ("lbfgs", 50)])
def test_parallel_modes_both_train_correctly(digits, solver, max_iter):
    """'blas' and 'split' compute the same model up to the GEMMs' rounding,
    and both learn (minibatches of 200: GEMMs big enough to be split)."""
    X_train, X_test, y_train, y_test = digits
    kw = dict(hidden_layer_sizes=(128,), batch_size=200, max_iter=max_iter,
              learning_rate_init=0.003, random_state=0, dtype="float64", n_threads=2,
              solver=solver)
    models = {}
    for mode in ("blas", "split"):
        with config_context(parallel_mode=mode):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                models[mode] = MLPClassifier(**kw).fit(X_train, y_train)
        assert models[mode].score(X_test, y_test) > 0.93, mode
    np.testing.assert_allclose(models["blas"]._model.theta, models["split"]._model.theta,
                               rtol=1e-6, atol=1e-9)


# --- the engine -------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_engine_passes_same_bits_for_any_thread_count(dtype):
    """loss_and_grad, a training epoch and predictions: the same bits on
    1, 2 and 3 threads (the blocks and the order of every sum depend on the
    shapes only)."""
    rng = np.random.RandomState(0)
    n, d, k = 700, 120, 5
    X = rng.randn(n, d).astype(dtype)
    Y = np.eye(k)[rng.randint(0, k, n)].astype(dtype)
    sw = (rng.rand(n) + 0.5).astype(dtype)
    net = Network([d, 260, 130, k], "gelu", "softmax", "log_loss", dtype,
                  batch_norm=True, dropout=[0.2, 0.1], seed=3)
    theta0 = net.init_params(np.random.RandomState(0))
    order = rng.permutation(n).astype(np.intp)
    results = []
    for n_threads in (1, 2, 3):
        engine = Engine(net, n, n_threads, True, split_parts=4, alpha=1e-3)
        grad = np.empty_like(theta0)
        loss = engine.loss_and_grad(X, Y, sw, theta0, grad)
        theta = theta0.copy()
        opt = Optimizer(SOLVERS["adam"].code, net.n_params, net.n_weights, dtype)
        train = Engine(net, 128, n_threads, True, split_parts=4, alpha=1e-3)
        total, _, _ = train.train_epoch(X, Y, sw, order, theta, opt, np.full(6, 1e-3), 0)
        out = np.empty((n, k), dtype)
        Predictor(net, theta, train.running).forward(X, out, False, n_threads, 4)
        results.append((loss, grad, total, theta, train.running.copy(), opt.state, out))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_optimizer_step_same_bits_for_any_thread_count(dtype):
    """The update and the weights' sum of squares it returns: summed per
    block, then over the blocks in order."""
    rng = np.random.RandomState(1)
    n = 100_003
    theta0 = rng.randn(n).astype(dtype)
    grads = rng.randn(3, n).astype(dtype)
    out = []
    for n_threads in (1, 2, 3):
        opt = Optimizer(SOLVERS["adamw"].code, n, 60_000, dtype, weight_decay=0.01)
        theta = theta0.copy()
        sums = [opt.step(theta, g, 1e-3, 1e-4, n_threads) for g in grads]
        out.append((theta, opt.state, sums))
    for theta, state, sums in out[1:]:
        np.testing.assert_array_equal(theta, out[0][0])
        np.testing.assert_array_equal(state, out[0][1])
        assert sums == out[0][2]


def test_openmp_build_as_expected():
    """The engine runs with OpenMP when it was built with it, and without it
    (its loops serial, its OpenMP calls served by _openmp_helpers' stand-ins)
    when it was not; CI builds both and says which through
    FASTMLP_EXPECT_OPENMP."""
    import os

    from fastmlp import _build_info, _openmp_helpers

    assert _openmp_helpers.openmp_enabled() == _build_info.OPENMP
    if not _build_info.OPENMP:
        assert _openmp_helpers.max_threads() == 1
    expected = os.environ.get("FASTMLP_EXPECT_OPENMP")
    if expected is not None:
        assert _openmp_helpers.openmp_enabled() == bool(int(expected))


# --- BLAS's process-wide thread count; fits in threads and workers ----------------
#
# BLAS's thread count is process state: every fit and prediction sets it
# through one arbiter (fastmlp._threads.blas_limit), and the process's own
# setting must be back once the last of them has ended, whatever ran
# concurrently; and where a fit runs (main thread, worker thread, joblib
# worker, threadpoolctl limits, CPU affinity) never changes the model.


def pool_sizes():
    """Every loaded thread pool (BLAS and OpenMP libraries) with its size."""
    return sorted((m["user_api"], m["filepath"], m["num_threads"])
                  for m in threadpool_info())


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kw)


@pytest.fixture(scope="module")
def small():
    X, y = make_classification(n_samples=600, n_features=30, n_informative=10,
                               n_classes=3, random_state=0)
    return X, y


def _fit(X, y, mode="auto", **kw):
    params = dict(hidden_layer_sizes=(64,), max_iter=3, random_state=0)
    params.update(kw)
    with config_context(parallel_mode=mode):
        return _quiet(MLPClassifier(**params).fit, X, y)


def test_blas_threads_restored_after_every_kind_of_call(small):
    """Fits (split and blas modes, lbfgs, early stopping, partial_fit, one
    that diverges), predictions (few rows, batched, log-proba, score): the
    process's BLAS and OpenMP pools have their sizes of before, inside a
    user's threadpool_limits block too."""
    X, y = small
    before = pool_sizes()

    def every_call():
        for mode in ("split", "blas"):
            est = _fit(X, y, mode=mode, n_threads=2)
            est.predict_proba(X[:1])
            est.predict_proba(X)
            est.predict_log_proba(X[:300])
            est.score(X, y)
        _fit(X, y, solver="lbfgs", max_iter=5)
        _fit(X, y, early_stopping=True)
        est = MLPClassifier((8,), random_state=0)
        est.partial_fit(X, y, classes=[0, 1, 2])
        est.partial_fit(X, y)
        with pytest.raises(DivergenceError):
            MLPRegressor(hidden_layer_sizes=(8,), solver="sgd", learning_rate_init=1e30,
                         random_state=0).fit(X * 1e15, X[:, 0] * 1e15)

    every_call()
    assert pool_sizes() == before
    with threadpool_limits(limits=1, user_api="blas"):
        inside = pool_sizes()
        every_call()
        assert pool_sizes() == inside
    assert pool_sizes() == before


def test_blas_threads_restored_after_overlapping_fits_and_predictions(small):
    """Two fits in two threads overlapping (one in 'blas' mode on 2 BLAS
    threads, one splitting its GEMMs on 1 BLAS thread) and two threads
    predicting beside them: no deadlock, the right models, and BLAS's
    setting restored once all have ended."""
    X, y = small
    before = pool_sizes()
    expected = {mode: _fit(X, y, mode=mode, n_threads=2, hidden_layer_sizes=(128,))
                for mode in ("split", "blas")}
    reader_model = _fit(X, y, hidden_layer_sizes=(32,))
    want, want2 = reader_model.predict_proba(X), reader_model.predict_proba(X[:2])
    start = threading.Barrier(4)
    results, errors = {}, []
    stop = threading.Event()

    def fitter(mode):
        try:
            start.wait()
            for i in range(3):
                results[mode, i] = _fit(X, y, mode=mode, n_threads=2,
                                        hidden_layer_sizes=(128,))._model.theta
        except BaseException as exc:   # pragma: no cover - reported below
            errors.append(repr(exc))

    def reader():
        try:
            start.wait()
            while not stop.is_set():
                np.testing.assert_array_equal(reader_model.predict_proba(X), want)
                np.testing.assert_array_equal(reader_model.predict_proba(X[:2]), want2)
        except BaseException as exc:   # pragma: no cover - reported below
            errors.append(repr(exc))

    fitters = [threading.Thread(target=fitter, args=(m,)) for m in ("split", "blas")]
    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in fitters + readers:
        t.start()
    for t in fitters:
        t.join(timeout=300)
    stop.set()
    for t in readers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in fitters + readers), "deadlock"
    assert errors == []
    for (mode, _), theta in results.items():
        if mode == "split":
            np.testing.assert_array_equal(theta, expected[mode]._model.theta)
        else:   # BLAS's own threads: the same model up to their rounding
            np.testing.assert_allclose(theta, expected[mode]._model.theta, rtol=1e-4,
                                       atol=1e-5)
    assert pool_sizes() == before


def _theta_of_fit(X, y, seed):
    est = _quiet(MLPClassifier((48,), max_iter=3, random_state=seed).fit, X, y)
    return est._model.theta


def test_fits_in_joblib_threads(small):
    """Eight fits on four joblib threads: each model equals its sequential
    fit bit for bit, and BLAS's setting is restored."""
    X, y = small
    before = pool_sizes()
    sequential = [_theta_of_fit(X, y, seed) for seed in range(8)]
    parallel = Parallel(n_jobs=4, backend="threading")(
        delayed(_theta_of_fit)(X, y, seed) for seed in range(8))
    for a, b in zip(sequential, parallel):
        np.testing.assert_array_equal(a, b)
    assert pool_sizes() == before


def test_fits_in_joblib_processes(small):
    """Fits in loky worker processes give the models of the main process,
    bit for bit, and leave each worker's BLAS setting as they found it."""
    X, y = small

    def fit_in_worker(X, y, seed):
        # Nested, so that loky pickles it by value: a worker process need
        # not be able to import the tests.
        import warnings

        from threadpoolctl import threadpool_info

        from fastmlp import MLPClassifier

        def sizes():
            return sorted((m["user_api"], m["filepath"], m["num_threads"])
                          for m in threadpool_info())

        before = sizes()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = MLPClassifier((48,), max_iter=3, random_state=seed).fit(X, y)
        return est._model.theta, before, sizes()

    out = Parallel(n_jobs=2, backend="loky")(
        delayed(fit_in_worker)(X, y, seed) for seed in range(4))
    for seed, (theta, before, after) in enumerate(out):
        np.testing.assert_array_equal(theta, _theta_of_fit(X, y, seed))
        assert before == after


def test_fit_in_threadpool_limits_and_in_worker_thread_are_identical(small):
    """A fit inside threadpool_limits(limits=1) in the main thread and the
    same fit in a worker thread (without limits) give bit-identical models,
    for both dtypes and BN."""
    X, y = small
    for dtype in ("float32", "float64"):
        kw = dict(hidden_layer_sizes=(300, 100), batch_size=256, batch_norm=True,
                  dtype=dtype)
        with threadpool_limits(limits=1):
            main = _fit(X, y, **kw)
        box = {}
        t = threading.Thread(target=lambda: box.update(est=_fit(X, y, **kw)))
        t.start()
        t.join()
        np.testing.assert_array_equal(main._model.theta, box["est"]._model.theta)
        np.testing.assert_array_equal(main._model.running, box["est"]._model.running)
        np.testing.assert_array_equal(main.predict_proba(X), box["est"].predict_proba(X))


def test_concurrent_predictions_equal_sequential_ones(small):
    """Six threads predicting with one model (BN, the few-row path and the
    batched one, classifier and regressor, per-thread n_threads settings
    of their own estimator copies) while another thread fits: every result
    equals the sequential one, bit for bit."""
    X, y = small
    X = X.astype(np.float32)
    clf = _fit(X, y, hidden_layer_sizes=(200, 50), batch_norm=True)
    reg = _quiet(MLPRegressor(hidden_layer_sizes=(200,), max_iter=3, random_state=0,
                              dtype="float64").fit, X, X[:, :3])
    calls = [lambda: clf.predict_proba(X), lambda: clf.predict(X[:3]),
             lambda: clf.predict_proba(X[:1]), lambda: clf.predict_log_proba(X[:5]),
             lambda: reg.predict(X), lambda: reg.predict(X[:2])]
    expected = [f() for f in calls]
    start = threading.Barrier(7)
    mismatches, errors = [], []

    def work(i):
        try:
            start.wait()
            for _ in range(5):
                for j, f in enumerate(calls):
                    if not np.array_equal(f(), expected[j]):
                        mismatches.append((i, j))
        except BaseException as exc:   # pragma: no cover - reported below
            errors.append(repr(exc))

    def fit_beside():
        start.wait()
        for _ in range(3):
            _fit(X, y, hidden_layer_sizes=(100,))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    threads.append(threading.Thread(target=fit_beside))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and mismatches == []


_AFFINITY_CHILD = """
import json, os, sys, warnings
import numpy as np
os.sched_setaffinity(0, {int(sys.argv[2])})
from fastmlp import MLPClassifier, config_context
from fastmlp._threads import effective_n_threads, openmp_enabled
warnings.simplefilter("ignore")
X, y = np.load(sys.argv[1] + "/X.npy"), np.load(sys.argv[1] + "/y.npy")
kw = json.loads(sys.argv[3])
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    eff = {"none": effective_n_threads(None), "two": effective_n_threads(2)}
out = {"cpus": sorted(os.sched_getaffinity(0)), "effective": eff,
       "warned": any("asks for more threads" in str(x.message) for x in w),
       "openmp": openmp_enabled()}
for name, blocks in (("default", None), ("three", 3)):
    for n_threads in ((1, None) if blocks is None else (1,)):
        with config_context(gemm_blocks=blocks):
            est = MLPClassifier(n_threads=n_threads, **kw).fit(X, y)
        np.save(f"{sys.argv[1]}/theta-{name}-{n_threads}.npy", est._model.theta)
print(json.dumps(out))
"""


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_model_does_not_depend_on_cpu_affinity(tmp_path):
    """A fit in a process pinned to one CPU (n_threads=1 and None) gives the
    bits of the unrestricted fit: the GEMM blocks come from the machine's
    CPU count or config_context(gemm_blocks=k), never from the affinity
    mask.  In float64 at these shapes the block count does change the bits
    (checked), so the comparison can fail."""
    rng = np.random.RandomState(0)
    X = rng.randn(600, 300)
    y = rng.randint(0, 5, 600)
    kw = dict(hidden_layer_sizes=[300, 200], batch_size=512, max_iter=1, random_state=0,
              dtype="float64")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    cpu = sorted(os.sched_getaffinity(0))[-1]
    proc = subprocess.run([sys.executable, "-c", _AFFINITY_CHILD, str(tmp_path), str(cpu),
                           json.dumps(kw)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["cpus"] == [cpu]
    # (a build without OpenMP runs one thread whatever is asked: no warning)
    assert out["effective"] == {"none": 1, "two": 1}
    assert out["warned"] == out["openmp"]
    here = {}
    for name, blocks in (("default", None), ("three", 3)):
        with config_context(gemm_blocks=blocks):
            here[name] = _quiet(MLPClassifier(n_threads=2, **kw).fit, X, y)._model.theta
        for n_threads in ((1, None) if blocks is None else (1,)):
            pinned = np.load(tmp_path / f"theta-{name}-{n_threads}.npy")
            np.testing.assert_array_equal(pinned, here[name])
    if (os.cpu_count() or 1) > 1:
        # the comparison has teeth: one block (what a 1-CPU mask would give)
        # is another model
        with config_context(gemm_blocks=1):
            one_block = _quiet(MLPClassifier(n_threads=1, **kw).fit, X, y)._model.theta
        assert not np.array_equal(one_block, here["default"])


_LOCAL_CLUSTER_CHILD = """
import json, os
import numpy as np
from fastmlp import MLPClassifier
from fastmlp._threads import effective_n_threads

def fit():
    rng = np.random.RandomState(0)
    X, y = rng.randn(300, 20), rng.randint(0, 3, 300)
    return MLPClassifier((32,), max_iter=3, random_state=0).fit(X, y)._model.theta

if __name__ == "__main__":
    import distributed
    before = effective_n_threads(None)
    theta = fit()
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \\
            distributed.Client(cluster) as client:
        during = effective_n_threads(None)
        remote = client.submit(fit).result()
    after = effective_n_threads(None)
    print(json.dumps(dict(before=before, during=during, after=after,
                          env=os.environ.get("OMP_NUM_THREADS"),
                          same_remote=bool(np.array_equal(remote, theta)),
                          same_after=bool(np.array_equal(fit(), theta)))))
"""


def test_a_dask_local_cluster_leaves_later_fits_their_threads(tmp_path):
    """Starting a dask LocalCluster sets OMP_NUM_THREADS=1 in the process's
    environment (for its worker processes) and leaves it so: fits in the
    process keep OpenMP's thread count all the same (n_threads=None reads
    OpenMP, not the environment), and a fit on a worker gives the same
    model."""
    pytest.importorskip("distributed")
    script = tmp_path / "child.py"   # a file: the workers re-import __main__
    script.write_text(_LOCAL_CLUSTER_CHILD)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["before"] == out["during"] == out["after"] >= 1, out
    assert out["same_remote"] and out["same_after"], out
