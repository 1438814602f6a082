"""Training and search on a real Dask cluster (``fastmlp[dask]``): a
``distributed.LocalCluster`` of 2 worker processes x 1 thread.

The references are independent of the distributed code: fastmlp's
single-machine L-BFGS on the concatenated data, the textbook identity that
averaging plain SGD steps of equal minibatches is one step on their union,
and the single-machine model's predictions.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

import fastmlp

dask = pytest.importorskip("dask", reason="the dask extra is not installed")
distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
da = pytest.importorskip("dask.array")

from fastmlp.dask import MLPClassifier as DaskMLPClassifier  # noqa: E402
from fastmlp.dask import MLPRegressor as DaskMLPRegressor  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning",
    # worker start-up and shut-down chatter of distributed
    "ignore::DeprecationWarning", "ignore::ResourceWarning",
)


def _cluster(**kw):
    return distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        silence_logs=50, **kw)


@pytest.fixture(scope="module")
def client():
    with _cluster() as cluster, distributed.Client(cluster) as c:
        yield c


def _digits():
    X, y = load_digits(return_X_y=True)
    return X / 16.0, y


def _theta(est):
    return np.concatenate([a.ravel() for a in (*est.coefs_, *est.intercepts_)])


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


# Part 1: distributed L-BFGS -------------------------------------------------


@pytest.mark.parametrize("chunks", [300, 1000])
def test_lbfgs_iterates_equal_single_machine(client, chunks):
    """float64, 50 iterations: the parameters of a single-machine fit on the
    concatenated data, to 1e-9 relative (the parts' sums differ from the
    whole's only in the order of additions)."""
    X, y = _digits()
    params = dict(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=50, tol=0,
                  random_state=0, dtype="float64", alpha=1e-3)
    local = fastmlp.MLPClassifier(**params).fit(X, y)
    dist = DaskMLPClassifier(**params).fit(
        da.from_array(X, chunks=(chunks, -1)), da.from_array(y, chunks=chunks))
    assert dist.n_iter_ == local.n_iter_ == 50
    assert _rel(_theta(dist), _theta(local)) < 1e-9
    assert dist.loss_ == pytest.approx(local.loss_, rel=1e-9)
    np.testing.assert_array_equal(dist.classes_, local.classes_)


def test_lbfgs_warm_start_continues_as_on_one_machine(client):
    X, y = _digits()
    params = dict(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=10, tol=0,
                  random_state=0, dtype="float64", warm_start=True)
    Xd, yd = da.from_array(X, chunks=(600, -1)), da.from_array(y, chunks=600)
    local = fastmlp.MLPClassifier(**params).fit(X, y).fit(X, y)
    dist = DaskMLPClassifier(**params).fit(Xd, yd).fit(Xd, yd)
    assert _rel(_theta(dist), _theta(local)) < 1e-9
    with pytest.raises(ValueError, match="warm_start can only be used where"):
        dist.fit(Xd[y < 9], yd[y < 9])


def test_lbfgs_regression_weights_sparse(client):
    """Sample weights, several outputs, a sparse X given in memory."""
    X, y = make_regression(n_samples=600, n_features=30, n_targets=2, noise=0.1,
                           random_state=0)
    X = sp.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    y = y / y.std()
    sw = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    params = dict(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=50, tol=0,
                  random_state=1, dtype="float64", activation="tanh")
    local = fastmlp.MLPRegressor(**params).fit(X, y, sample_weight=sw)
    dist = DaskMLPRegressor(**params, n_shards=3).fit(X, y, sample_weight=sw)
    assert _rel(_theta(dist), _theta(local)) < 1e-9


def test_lbfgs_class_weight_balanced_uses_all_labels(client):
    """'balanced' weights come from the counts of all of y, not of a part."""
    X, y = make_classification(n_samples=800, n_features=10, weights=[0.8, 0.2],
                               random_state=0)
    params = dict(hidden_layer_sizes=(8,), solver="lbfgs", max_iter=30, tol=0,
                  random_state=0, dtype="float64", class_weight="balanced")
    local = fastmlp.MLPClassifier(**params).fit(X, y)
    # sorted labels: each part sees mostly one class
    order = np.argsort(y, kind="stable")
    dist = DaskMLPClassifier(**params).fit(
        da.from_array(X[order], chunks=(400, -1)), da.from_array(y[order], chunks=400))
    local_sorted = fastmlp.MLPClassifier(**params).fit(X[order], y[order])
    assert _rel(_theta(dist), _theta(local_sorted)) < 1e-9
    assert dist._class_weight_map == pytest.approx(local._class_weight_map)


@pytest.mark.parametrize("targets", ["multitask", "multilabel"])
def test_lbfgs_two_dimensional_targets(client, targets):
    """Multitask labels (a softmax per column) and multilabel indicators (a
    sigmoid per column) are told apart from all of y, as on one machine,
    even where a part's first rows would look like the other kind."""
    X, digit = _digits()
    if targets == "multitask":
        y = np.column_stack([digit, digit % 3, digit >= 5]).astype(int)
        y[:300, 1] = np.minimum(y[:300, 1], 1)   # the first part: 0/1 only
    else:
        y = np.column_stack([digit % 2, digit >= 5, digit == 0]).astype(int)
    params = dict(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=30, tol=0,
                  random_state=0, dtype="float64", class_weight="balanced")
    local = fastmlp.MLPClassifier(**params).fit(X, y)
    dist = DaskMLPClassifier(**params).fit(
        da.from_array(X, chunks=(300, -1)), da.from_array(y, chunks=(300, -1)))
    assert _rel(_theta(dist), _theta(local)) < 1e-9
    assert dist.n_outputs_ == local.n_outputs_
    Xd = da.from_array(X, chunks=(500, -1))
    np.testing.assert_array_equal(dist.predict(Xd).compute(), dist.to_local().predict(X))
    proba, expected = dist.predict_proba(Xd), dist.to_local().predict_proba(X)
    if targets == "multitask":   # one array per task
        assert [p.shape for p in proba] == [e.shape for e in expected]
        for p, e in zip(proba, expected):
            np.testing.assert_array_equal(p.compute(), e)
    else:
        np.testing.assert_array_equal(proba.compute(), expected)


def test_lbfgs_label_smoothing_as_on_one_machine(client):
    X, y = _digits()
    params = dict(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=20, tol=0,
                  random_state=0, dtype="float64", label_smoothing=0.1)
    local = fastmlp.MLPClassifier(**params).fit(X, y)
    dist = DaskMLPClassifier(**params).fit(
        da.from_array(X, chunks=(450, -1)), da.from_array(y, chunks=450))
    assert _rel(_theta(dist), _theta(local)) < 1e-9
    assert dist.loss_ == pytest.approx(local.loss_, rel=1e-9)


@pytest.mark.parametrize("option", [dict(solver="swats"),
                                    dict(snapshot_ensemble=2,
                                         learning_rate="cosine_restarts")])
def test_options_of_one_machine_only_are_refused(client, option):
    X, y = _digits()
    with pytest.raises(ValueError, match="not supported by distributed training"):
        DaskMLPClassifier(max_iter=2, **option).fit(X, y)


def test_lbfgs_rejects_batch_norm(client):
    X, y = _digits()
    with pytest.raises(ValueError, match="batch_norm=True with solver='lbfgs'"):
        DaskMLPClassifier(solver="lbfgs", batch_norm=True, max_iter=2).fit(
            da.from_array(X, chunks=(500, -1)), da.from_array(y, chunks=500))


# Part 2: local SGD ------------------------------------------------------------


def test_local_sgd_averaging_every_step_is_large_batch_sgd(client):
    """Plain SGD, averaged after every step, two parts of equal minibatches:
    each average is one step on the union of the two minibatches (the mean
    of two means of equal size), i.e. single-machine SGD with twice the
    batch on the rows in that order."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 12))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    params = dict(hidden_layer_sizes=(10,), solver="sgd", momentum=0.0, alpha=0.0,
                  learning_rate_init=0.1, max_iter=3, shuffle=False, random_state=0,
                  dtype="float64", tol=0, label_smoothing=0.1)
    dist = DaskMLPClassifier(**params, batch_size=20, averaging_steps=1, n_shards=2).fit(
        da.from_array(X, chunks=(200, -1)), da.from_array(y, chunks=200))
    # the rows of step k: part 0's k-th minibatch then part 1's
    order = np.concatenate([np.r_[k * 20:(k + 1) * 20, 200 + k * 20:200 + (k + 1) * 20]
                            for k in range(10)])
    local = fastmlp.MLPClassifier(**params, batch_size=40).fit(X[order], y[order])
    assert _rel(_theta(dist), _theta(local)) < 1e-10
    np.testing.assert_allclose(dist.loss_curve_, local.loss_curve_, rtol=1e-10)


@pytest.mark.parametrize("solver, options", [
    ("adam", {}), ("sgd", {}), ("rmsprop", {}),
    ("adam", dict(clip_norm=1.0, max_norm=2.0, mixup_alpha=0.2)),
    ("sgd", dict(adversarial_eps=0.05)),
])
def test_local_sgd_deterministic(client, solver, options):
    """Same seed, parts and blocks: the same model, bit for bit, whatever
    the timing; another seed: another model.  The engine's options
    (clipping, max-norm, mixup, adversarial examples) run on the workers."""
    X, y = _digits()
    Xd, yd = da.from_array(X, chunks=(450, -1)), da.from_array(y, chunks=450)
    params = dict(hidden_layer_sizes=(32,), solver=solver, max_iter=3, random_state=0,
                  dropout=0.1, batch_size=64, **options)
    a = DaskMLPClassifier(**params).fit(Xd, yd)
    b = DaskMLPClassifier(**params).fit(Xd, yd)
    np.testing.assert_array_equal(_theta(a), _theta(b))
    assert a.loss_curve_ == b.loss_curve_
    c = DaskMLPClassifier(**{**params, "random_state": 1}).fit(Xd, yd)
    assert not np.array_equal(_theta(a), _theta(c))
    if options:   # the options act
        plain = DaskMLPClassifier(**{**params, **{k: type(v)(0) if k != "clip_norm"
                                                  and k != "max_norm" else None
                                                  for k, v in options.items()}})
        assert not np.array_equal(_theta(plain.fit(Xd, yd)), _theta(a))
    if "max_norm" in options:
        for W in a.coefs_[:-1]:
            assert np.linalg.norm(W, axis=0).max() <= 2.0 * (1 + 1e-5)


def test_local_sgd_learns_like_one_machine(client):
    """Two replicas averaged each local epoch reach the accuracy of one
    machine on held-out digits (this data set is small: each replica takes
    half the steps of an epoch; MNIST's figures are in bench/distributed.py)."""
    X, y = _digits()
    Xtr, ytr, Xte, yte = X[:1400], y[:1400], X[1400:], y[1400:]
    params = dict(hidden_layer_sizes=(64,), max_iter=40, random_state=0,
                  batch_size=32)
    local = fastmlp.MLPClassifier(**params).fit(Xtr, ytr)
    dist = DaskMLPClassifier(**params).fit(
        da.from_array(Xtr, chunks=(350, -1)), da.from_array(ytr, chunks=350))
    assert local.score(Xte, yte) > 0.9
    assert dist.score(Xte, yte) > local.score(Xte, yte) - 0.03
    assert len(dist.loss_curve_) == dist.n_iter_ <= 40
    assert dist.t_ == dist.n_iter_ * 1400


def test_local_sgd_batch_norm_and_schedule(client):
    """BN's running statistics are averaged too, and per-epoch schedules run
    on the client: the fitted model predicts as its local copy."""
    X, y = _digits()
    dist = DaskMLPClassifier(hidden_layer_sizes=(32,), batch_norm=True, max_iter=4,
                             learning_rate="cosine", random_state=0,
                             averaging_steps=5).fit(
        da.from_array(X, chunks=(600, -1)), da.from_array(y, chunks=600))
    assert not np.allclose(dist.bn_running_mean_[0], 0)
    assert dist.learning_rate_curve_[0] > dist.learning_rate_curve_[-1]
    np.testing.assert_allclose(dist.predict_proba(X), dist.to_local().predict_proba(X))


def test_local_sgd_early_stopping_on_a_validation_set(client):
    X, y = _digits()
    Xd, yd = da.from_array(X[:1500], chunks=(500, -1)), da.from_array(y[:1500], chunks=500)
    est = DaskMLPClassifier(hidden_layer_sizes=(32,), early_stopping=True, max_iter=30,
                            n_iter_no_change=2, random_state=0)
    est.fit(Xd, yd, X_val=X[1500:], y_val=y[1500:])
    assert len(est.validation_scores_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)


def _held_out(y, chunks, fraction, seed, stratify):
    """The rows each part of `chunks` holds out (holdout_rows), as indices
    of the whole data: (training rows per part, validation rows)."""
    from fastmlp._distributed import holdout_rows

    train, val, start = [], [], 0
    for i, n in enumerate(chunks):
        tr, va = holdout_rows(y[start:start + n], fraction, seed, i, stratify)
        train.append(start + tr)
        val.append(start + va)
        start += n
    return train, np.concatenate(val)


@pytest.mark.parametrize("persist", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_local_sgd_early_stopping_holds_out_part_of_each_part(client, persist, weighted):
    """Without X_val, each part holds out validation_fraction of its rows on
    its worker; the fit is the one given those rows as X_val and trained on
    the rest, part by part, bit for bit (same shuffles, same averaging)."""
    X, y = _digits()
    X, y = X[:1500], y[:1500]
    sw = np.random.default_rng(0).uniform(0.5, 2, len(y)) if weighted else None
    params = dict(hidden_layer_sizes=(32,), early_stopping=True, max_iter=8,
                  n_iter_no_change=3, random_state=0, validation_fraction=0.2,
                  persist=persist, n_shards=3)   # one part per block
    auto = DaskMLPClassifier(**params).fit(
        da.from_array(X, chunks=(500, -1)), da.from_array(y, chunks=500),
        None if sw is None else da.from_array(sw, chunks=500))
    assert len(auto.validation_scores_) == auto.n_iter_ >= 2
    # 10 classes: one output per class, so the split is unstratified, as on
    # one machine; the seed is the fit's (kept as _fit_seed)
    train, val = _held_out(y, [500, 500, 500], 0.2, auto._fit_seed, False)
    assert len(val) == 300 and len(np.intersect1d(np.concatenate(train), val)) == 0
    Xt = np.concatenate([X[t] for t in train])
    yt = np.concatenate([y[t] for t in train])
    chunks = tuple(len(t) for t in train)
    swt = None if sw is None else da.from_array(np.concatenate([sw[t] for t in train]),
                                                chunks=chunks)
    explicit = DaskMLPClassifier(**params).fit(
        da.from_array(Xt, chunks=(chunks, -1)), da.from_array(yt, chunks=chunks), swt,
        X_val=X[val], y_val=y[val], sample_weight_val=None if sw is None else sw[val])
    assert explicit.validation_scores_ == auto.validation_scores_
    for a, b in zip(auto.coefs_ + auto.intercepts_, explicit.coefs_ + explicit.intercepts_):
        np.testing.assert_array_equal(a, b)


def test_holdout_rows():
    """Each part's split: disjoint, complete, validation_fraction of the rows
    (rounded up, as train_test_split), stratified for binary targets unless
    a class has a single row in the part, the same for the same key."""
    from fastmlp._distributed import holdout_rows

    y = np.r_[np.zeros(80, int), np.ones(20, int)]
    train, val = holdout_rows(y, 0.25, 7, 0, True)
    assert len(val) == 25 and np.all(np.diff(val) > 0) and np.all(np.diff(train) > 0)
    np.testing.assert_array_equal(np.sort(np.r_[train, val]), np.arange(100))
    assert y[val].sum() == 5        # stratified: 25 % of each class
    again = holdout_rows(y, 0.25, 7, 0, True)
    np.testing.assert_array_equal(again[1], val)
    assert not np.array_equal(holdout_rows(y, 0.25, 7, 1, True)[1], val)
    lonely = np.r_[np.zeros(99, int), 1]
    assert len(holdout_rows(lonely, 0.25, 7, 0, True)[1]) == 25
    with pytest.raises(ValueError, match="cannot hold out a validation set"):
        holdout_rows(np.zeros(1), 0.1, 7, 0, False)


# Part 3: the scikit-learn face -----------------------------------------------


def test_predict_is_lazy_and_blockwise(client):
    X, y = _digits()
    Xd = da.from_array(X, chunks=(500, -1))
    est = DaskMLPClassifier(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(
        Xd, da.from_array(y, chunks=500))
    local = est.to_local()
    assert type(local) is fastmlp.MLPClassifier
    assert "n_shards" not in local.get_params()
    for method in ("predict", "predict_proba", "predict_log_proba"):
        lazy = getattr(est, method)(Xd)
        assert isinstance(lazy, da.Array)
        assert lazy.numblocks[0] == Xd.numblocks[0]
        np.testing.assert_array_equal(lazy.compute(), getattr(local, method)(X))
        # in-memory input is predicted at once
        np.testing.assert_array_equal(getattr(est, method)(X), getattr(local, method)(X))
    assert est.score(Xd, da.from_array(y, chunks=500)) == pytest.approx(local.score(X, y))


def test_dataframe_input_keeps_feature_names(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = _digits()
    frame = pd.DataFrame(X, columns=[f"px{i}" for i in range(X.shape[1])])
    Xdf = dd.from_pandas(frame, npartitions=4)
    yds = dd.from_pandas(pd.Series(y, name="digit"), npartitions=4)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*feature names")
        est = DaskMLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=20,
                                random_state=0).fit(Xdf, yds)
        np.testing.assert_array_equal(est.feature_names_in_, frame.columns)
        pred = est.predict(Xdf)
        np.testing.assert_array_equal(pred.compute(), est.to_local().predict(frame))


def test_multioutput_regression_prediction(client):
    X, y = make_regression(n_samples=500, n_features=8, n_targets=3, random_state=0)
    y = y / y.std()
    est = DaskMLPRegressor(hidden_layer_sizes=(16,), max_iter=5, random_state=0).fit(
        da.from_array(X, chunks=(125, -1)), da.from_array(y, chunks=(125, -1)))
    pred = est.predict(da.from_array(X, chunks=(100, -1)))
    assert pred.shape == (500, 3)
    np.testing.assert_array_equal(pred.compute(), est.to_local().predict(X))


def test_params_clone_and_pickle(client):
    import pickle

    est = DaskMLPClassifier(hidden_layer_sizes=(8,), n_shards=3, averaging_steps=4,
                            persist=False, max_iter=2)
    assert est.get_params()["averaging_steps"] == 4
    assert clone(est).get_params() == est.get_params()
    X, y = _digits()
    est.fit(da.from_array(X, chunks=(300, -1)), da.from_array(y, chunks=300))
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    with pytest.raises(ValueError, match="n_shards"):
        DaskMLPClassifier(n_shards=0).fit(X, y)


def test_errors_leave_a_fitted_model_untouched(client):
    X, y = _digits()
    est = DaskMLPClassifier(hidden_layer_sizes=(8,), max_iter=2, random_state=0).fit(X, y)
    before = _theta(est)
    bad = X.copy()
    bad[7, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        est.fit(da.from_array(bad, chunks=(500, -1)), da.from_array(y, chunks=500))
    with pytest.raises(ValueError, match="samples"):
        est.fit(da.from_array(X, chunks=(500, -1)), da.from_array(y[:100], chunks=50))
    np.testing.assert_array_equal(_theta(est), before)


def test_no_client_is_a_clear_error():
    """In a process without a distributed.Client (this one has the module's)."""
    code = (
        "import numpy as np\n"
        "from fastmlp.dask import MLPClassifier\n"
        "try:\n"
        "    MLPClassifier(max_iter=1).fit(np.ones((4, 2)), [0, 1, 0, 1])\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "none was found" in out and "distributed.Client" in out


def test_worker_threads_follow_the_worker(client):
    from fastmlp._distributed import worker_threads

    assert client.run(worker_threads) == {w: 1 for w in client.scheduler_info()["workers"]}


def test_parts_on_one_worker_share_its_threads():
    """Two parts on a worker of 2 threads: a thread each (Dask runs both
    tasks at once); one part: both threads."""
    from fastmlp._distributed import Shard, ShardSet

    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as c:
        (w,) = c.scheduler_info()["workers"]
        for n_parts, expected in ((1, [2]), (2, [1, 1])):
            parts = [dask.delayed(Shard)(np.ones((3, 2)), np.ones((3, 1)), None)
                     for _ in range(n_parts)]
            shards = ShardSet(c, parts, [w] * n_parts)
            assert shards.map(lambda shard, n_threads: n_threads) == expected
            shards.release()
        # a part placed on a worker that has left since the cluster was read
        # (one restarted under a new address): its tasks run on another, on
        # one thread
        gone = "tcp://127.0.0.1:9"
        parts = [dask.delayed(Shard)(np.ones((3, 2)), np.ones((3, 1)), None)]
        shards = ShardSet(c, parts, [gone])
        assert shards.map(lambda shard, n_threads: (shard.n_rows, n_threads)) == [(3, 1)]
        shards.release()


# Part 4: search and streaming ---------------------------------------------------


def test_grid_and_randomized_search_on_the_joblib_dask_backend(client):
    import joblib

    X, y = _digits()
    grid = {"alpha": [1e-4, 1e-2], "hidden_layer_sizes": [(16,), (32,)]}
    est = fastmlp.MLPClassifier(max_iter=5, random_state=0)
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(est, grid, cv=2, n_jobs=-1).fit(X, y)
        rsearch = RandomizedSearchCV(est, grid, n_iter=2, cv=2, n_jobs=-1,
                                     random_state=0).fit(X, y)
    # the same fits as without Dask, run on its workers
    serial = GridSearchCV(est, grid, cv=2).fit(X, y)
    np.testing.assert_array_equal(search.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    rserial = RandomizedSearchCV(est, grid, n_iter=2, cv=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(rsearch.cv_results_["mean_test_score"],
                                  rserial.cv_results_["mean_test_score"])
    assert search.best_score_ > 0.2   # 10 classes; 5 epochs of Adam


def test_dask_ml_incremental_and_grid_search(client):
    dask_ml_wrappers = pytest.importorskip("dask_ml.wrappers")
    dask_ml_search = pytest.importorskip("dask_ml.model_selection")
    X, y = _digits()
    Xd, yd = da.from_array(X, chunks=(300, -1)), da.from_array(y, chunks=300)
    est = fastmlp.MLPClassifier(hidden_layer_sizes=(32,), random_state=0)
    inc = dask_ml_wrappers.Incremental(clone(est), shuffle_blocks=False)
    for _ in range(5):
        inc.partial_fit(Xd, yd, classes=np.arange(10))
    assert inc.estimator_.t_ == 5 * X.shape[0]   # every block, 5 times
    # the model of partial_fit over the same blocks in memory, in order
    for _ in range(5):
        for start in range(0, X.shape[0], 300):
            est.partial_fit(X[start:start + 300], y[start:start + 300],
                            classes=np.arange(10))
    np.testing.assert_array_equal(_theta(inc.estimator_), _theta(est))
    assert inc.score(Xd, yd) == pytest.approx(est.score(X, y))
    search = dask_ml_search.GridSearchCV(
        fastmlp.MLPClassifier(max_iter=5, random_state=0), {"alpha": [1e-4, 1e-1]}, cv=2)
    search.fit(X, y)
    assert set(search.cv_results_["param_alpha"]) == {1e-4, 1e-1}


def test_out_of_core_npy_blocks(client, tmp_path):
    """Blocks memory-mapped from .npy files on disk: persist=False reads
    them at every epoch and keeps nothing, with the same model as persist."""
    X, y = _digits()
    da.to_npy_stack(tmp_path / "X", da.from_array(X.astype(np.float32), chunks=(300, -1)))
    da.to_npy_stack(tmp_path / "y", da.from_array(y, chunks=300))
    Xd = da.from_npy_stack(tmp_path / "X", mmap_mode="r")
    yd = da.from_npy_stack(tmp_path / "y", mmap_mode="r")
    params = dict(hidden_layer_sizes=(16,), max_iter=3, random_state=0)
    streamed = DaskMLPClassifier(**params, persist=False).fit(Xd, yd)
    held = DaskMLPClassifier(**params).fit(Xd, yd)
    np.testing.assert_array_equal(_theta(streamed), _theta(held))
    # nothing of the fits is left on the workers (released asynchronously)
    deadline = time.monotonic() + 10
    while any(client.has_what().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.has_what().values()), client.has_what()


# Part 5: worker failure ---------------------------------------------------------


def _fit_in_thread(est, *args):
    box = {}

    def run():
        try:
            box["est"] = est.fit(*args)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def _kill_a_worker_during(c, thread):
    """SIGKILL one worker process once the fit has made its parts."""
    pids = c.run(os.getpid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            "make_shard" in str(k) for keys in c.has_what().values() for k in keys):
        time.sleep(0.02)
    time.sleep(0.3)
    assert thread.is_alive(), "the fit ended before a worker could be killed"
    os.kill(sorted(pids.values())[-1], signal.SIGKILL)


def test_a_killed_worker_is_recovered():
    """A worker process killed (SIGKILL) mid-fit, with the parts held in the
    workers' memory: Dask rebuilds the lost part elsewhere from the graph and
    runs the lost tasks again; the model is the one of an undisturbed fit
    (the computation is keyed by part, not by worker)."""
    X, y = make_classification(n_samples=4000, n_features=20, random_state=0)
    params = dict(hidden_layer_sizes=(32,), solver="lbfgs", random_state=0, tol=0,
                  max_iter=80, dtype="float64")
    args = (da.from_array(X, chunks=(1000, -1)), da.from_array(y, chunks=1000))
    with _cluster() as cluster, distributed.Client(cluster) as c:
        expected = DaskMLPClassifier(**params).fit(*args)
        thread, box = _fit_in_thread(DaskMLPClassifier(**params), *args)
        _kill_a_worker_during(c, thread)
        thread.join(timeout=180)
        assert not thread.is_alive(), "the fit hangs after a worker died"
    assert "error" not in box, box.get("error")
    np.testing.assert_array_equal(_theta(box["est"]), _theta(expected))


def _blocks_from_loader(X, y, n_blocks, load):
    """X and y as dask arrays whose X blocks come from `load(block)`, a
    function run on the workers at every read (persist=False reads the
    blocks at every epoch)."""
    import dask

    size = X.shape[0] // n_blocks
    Xd = da.concatenate([
        da.from_delayed(dask.delayed(load, pure=False)(X[i * size:(i + 1) * size]),
                        shape=(size, X.shape[1]), dtype=X.dtype)
        for i in range(n_blocks)])
    return Xd, da.from_array(y[:n_blocks * size], chunks=size)


def test_a_worker_dying_inside_a_task_mid_fit_is_recovered(tmp_path):
    """The fifth read of a block (in the second epoch) kills the worker
    reading it, once: Dask runs the task again on a live worker, and the
    model is the one of a fit where no worker died."""
    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)
    folder = str(tmp_path)

    def load(block):
        os.close(os.open(os.path.join(folder, f"read-{os.urandom(8).hex()}"),
                         os.O_CREAT | os.O_WRONLY))
        if len(os.listdir(folder)) >= 5:
            try:   # the first to get here dies, only it
                os.close(os.open(os.path.join(folder, "died"),
                                 os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                os._exit(1)
            except FileExistsError:
                pass
        return block

    params = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0, persist=False)
    with _cluster() as cluster, distributed.Client(cluster):
        expected = DaskMLPClassifier(**params).fit(
            da.from_array(X, chunks=(500, -1)), da.from_array(y, chunks=500))
        thread, box = _fit_in_thread(DaskMLPClassifier(**params),
                                     *_blocks_from_loader(X, y, 4, load))
        thread.join(timeout=180)
        assert not thread.is_alive(), "the fit hangs after a worker died"
    assert os.path.exists(os.path.join(folder, "died"))
    assert "error" not in box, box.get("error")
    np.testing.assert_array_equal(_theta(box["est"]), _theta(expected))


def test_a_fit_that_cannot_recover_raises_and_keeps_the_model():
    """A block whose every read kills its worker: once Dask's retries are
    spent (none here) the fit raises KilledWorker, promptly, and the
    estimator keeps its earlier model."""
    X, y = make_classification(n_samples=2000, n_features=20, random_state=0)

    def load(block):
        os._exit(1)

    est = DaskMLPClassifier(hidden_layer_sizes=(16,), max_iter=2,
                            random_state=0)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with _cluster() as cluster, distributed.Client(cluster):
            est.fit(da.from_array(X, chunks=(500, -1)), da.from_array(y, chunks=500))
            before = _theta(est)
            est.set_params(max_iter=5)
            thread, box = _fit_in_thread(est, *_blocks_from_loader(X, y, 4, load))
            thread.join(timeout=180)
            assert not thread.is_alive(), "the fit hangs after a worker died"
    assert isinstance(box.get("error"), distributed.scheduler.KilledWorker), box
    np.testing.assert_array_equal(_theta(est), before)
    assert est.max_iter == 5


# Ctrl-C on the client ---------------------------------------------------------


def test_ctrl_c_keeps_the_last_completed_epoch(client):
    """SIGINT in the middle of epoch k + 1 (a watcher thread sends it, as a
    terminal would): the running tasks are cancelled, and fit returns with a
    warning and the model of epoch k, bit for bit that of max_iter=k."""
    import io
    from contextlib import redirect_stdout

    X, y = _digits()
    Xd, yd = da.from_array(X, chunks=(450, -1)), da.from_array(y, chunks=450)
    params = dict(hidden_layer_sizes=(32,), max_iter=500, random_state=0,
                  averaging_steps=1, batch_size=32)
    ends = []

    class Lines(io.StringIO):
        def write(self, s):
            if s.startswith("Iteration"):
                ends.append(time.perf_counter())
            return len(s)

    def watcher():
        while len(ends) < 2:
            time.sleep(0.001)
        time.sleep((ends[1] - ends[0]) / 3)    # a third into epoch 3
        os.kill(os.getpid(), signal.SIGINT)

    # Python's handler, also where the tests run with SIGINT ignored
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        threading.Thread(target=watcher, daemon=True).start()
        est = DaskMLPClassifier(**params, verbose=True)
        with redirect_stdout(Lines()), pytest.warns(UserWarning,
                                                    match="Training interrupted"):
            est.fit(Xd, yd)
    finally:
        signal.signal(signal.SIGINT, previous)
    k = est.n_iter_
    assert 2 <= k < 500
    ref = DaskMLPClassifier(**{**params, "max_iter": k}).fit(Xd, yd)
    np.testing.assert_array_equal(_theta(est), _theta(ref))
    assert est.loss_curve_ == ref.loss_curve_ and est.t_ == ref.t_
    # nothing keeps running on the cluster
    deadline = time.monotonic() + 10
    while any(client.processing().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(client.processing().values())
