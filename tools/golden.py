"""Golden results: record what a grid of fits produces, compare later.

A refactoring that "changes no result" must give the same bits.  This script
fits a grid of configurations (every activation x output layer, every solver
x schedule, batch norm x dropout x input noise, the sparse and the dense first
layer, float32 and float64, 1 and 2 threads, partial_fit, warm start, early
stopping, sample weights, L-BFGS) through the public API only, and hashes the
fitted parameters (``coefs_``, ``intercepts_``, BN's ``bn_*`` attributes), the
loss curve and the predictions of 3 rows (the few-sample path) and of every
row (the batched path).

    python tools/golden.py record golden.json    # before the change
    python tools/golden.py compare golden.json   # after: lists what differs

The hashes depend on the machine (BLAS kernels and the vector width the
kernels are dispatched to), so a golden file is compared on the machine that
recorded it, in the same session; it is not a unit test.  ``--arrays DIR``
also saves every result as ``.npz`` to see how much a difference amounts to.
"""

import argparse
import hashlib
import json
import os
import sys
import warnings

import numpy as np
from sklearn.datasets import make_classification, make_regression

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor

ACTIVATIONS = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu"]
SOLVERS = {
    "sgd": dict(solver="sgd", momentum=0.0),
    "sgd_momentum": dict(solver="sgd", momentum=0.9, nesterovs_momentum=False),
    "sgd_nesterov": dict(solver="sgd", momentum=0.9, nesterovs_momentum=True),
    "adam": dict(solver="adam"),
    "adamw": dict(solver="adamw"),
    "adagrad": dict(solver="adagrad"),
    "rmsprop": dict(solver="rmsprop"),
    "adadelta": dict(solver="adadelta"),
}
SCHEDULES = {
    "constant": dict(learning_rate="constant"),
    "invscaling": dict(learning_rate="invscaling"),
    "adaptive": dict(learning_rate="adaptive", n_iter_no_change=1, tol=10.0),
    "step": dict(learning_rate="step", lr_schedule_params=dict(step_size=1, gamma=0.5)),
    "cosine": dict(learning_rate="cosine"),
    "cosine_restarts": dict(learning_rate="cosine_restarts",
                            lr_schedule_params=dict(T_0=1, T_mult=2)),
    "cyclic": dict(learning_rate="cyclic", lr_schedule_params=dict(step_size_up=3)),
}


def _data():
    rng = np.random.RandomState(0)
    X, y = make_classification(n_samples=240, n_features=12, n_informative=8,
                               n_classes=3, random_state=0)
    yb = (y > 0).astype(int)
    Yml = np.stack([y == 0, y == 1, (X[:, 0] > 0)], axis=1).astype(int)
    Xr, yr = make_regression(n_samples=240, n_features=12, n_targets=2,
                             random_state=0)
    yr = yr / yr.std()
    ypos = np.abs(yr[:, 0])
    yunit = 1 / (1 + np.exp(-yr[:, 0]))
    ycount = rng.poisson(np.exp(0.3 * Xr[:, 0]))
    # mostly zeros: the sparse first layer's kind of input
    Xs = np.where(rng.rand(400, 64) < 0.15, rng.rand(400, 64), 0.0)
    ys = (Xs[:, :8].sum(1) > np.median(Xs[:, :8].sum(1))).astype(int) + (Xs[:, 8] > 0)
    # big enough for the parallel blocks and the split GEMMs
    Xbig, ybig = make_classification(n_samples=1200, n_features=64, n_informative=20,
                                     n_classes=4, random_state=1)
    return dict(X=X, y=y, yb=yb, Yml=Yml, Xr=Xr, yr=yr, ypos=ypos, yunit=yunit,
                ycount=ycount, Xs=Xs, ys=ys, Xbig=Xbig, ybig=ybig)


def _set_sparse(mode):
    """The sparse first layer's switch, wherever this version keeps it."""
    if hasattr(fastmlp, "set_config"):
        fastmlp.set_config(sparse_first_layer=mode)
    else:
        from fastmlp import _network
        _network.SPARSE_FIRST_LAYER = mode


def _configs(d):
    """(name, estimator factory, X, y, how) for every configuration."""
    out = []
    base = dict(max_iter=3, batch_size=50, random_state=0, tol=0.0,
                n_iter_no_change=100)
    targets = {
        "multiclass": (MLPClassifier, {}, "X", "y"),
        "binary": (MLPClassifier, {}, "X", "yb"),
        "multilabel": (MLPClassifier, {}, "X", "Yml"),
        "identity": (MLPRegressor, {}, "Xr", "yr"),
        "softplus": (MLPRegressor, dict(out_activation="softplus"), "Xr", "ypos"),
        "sigmoid": (MLPRegressor, dict(out_activation="sigmoid"), "Xr", "yunit"),
        "poisson": (MLPRegressor, dict(loss="poisson"), "Xr", "ycount"),
    }
    for dtype in ("float32", "float64"):
        # every activation x output layer
        for act in ACTIVATIONS:
            for tname, (cls, kw, xk, yk) in targets.items():
                params = dict(base, hidden_layer_sizes=(16, 8), activation=act,
                              dtype=dtype, **kw)
                out.append((f"act/{act}/{tname}/{dtype}", cls, params, xk, yk, "fit"))
        # every solver x schedule
        for sname, skw in SOLVERS.items():
            for lname, lkw in SCHEDULES.items():
                params = dict(base, hidden_layer_sizes=(16,), alpha=1e-3,
                              dtype=dtype, **skw, **lkw)
                out.append((f"solver/{sname}/{lname}/{dtype}", MLPClassifier,
                            params, "X", "y", "fit"))
        for bn in (False, True):
            out.append((f"solver/lbfgs/bn={bn}/{dtype}", MLPClassifier,
                        dict(base, solver="lbfgs", max_iter=20, batch_norm=bn,
                             hidden_layer_sizes=(16, 8), dtype=dtype), "X", "y", "fit"))
            out.append((f"solver/lbfgs/regressor/bn={bn}/{dtype}", MLPRegressor,
                        dict(base, solver="lbfgs", max_iter=20, batch_norm=bn,
                             hidden_layer_sizes=(16,), dtype=dtype), "Xr", "yr", "fit"))
        # regularisation
        for bn in (False, True):
            for p in (0.0, 0.3):
                for noise in (0.0, 0.1):
                    for act in ("relu", "tanh", "elu", "logistic"):
                        params = dict(base, hidden_layer_sizes=(16, 8), activation=act,
                                      batch_norm=bn, dropout=p, input_noise=noise,
                                      alpha=1e-3, dtype=dtype)
                        out.append((f"reg/bn={bn}/p={p}/noise={noise}/{act}/{dtype}",
                                    MLPClassifier, params, "X", "y", "fit"))
        # sparse and dense first layer, thread counts
        for mode in ("always", "never", "auto"):
            for threads in (1, 2):
                for bn in (False, True):
                    params = dict(base, hidden_layer_sizes=(24,), batch_norm=bn,
                                  dropout=0.2, n_threads=threads, dtype=dtype)
                    out.append((f"sparse/{mode}/t={threads}/bn={bn}/{dtype}",
                                MLPClassifier, params, "Xs", "ys", f"sparse:{mode}"))
        # big enough for the parallel paths
        for threads in (1, 2):
            for extra in ({}, dict(batch_norm=True), dict(dropout=0.3, input_noise=0.2),
                          dict(solver="sgd", learning_rate="cyclic"),
                          dict(activation="tanh", alpha=0.1)):
                params = dict(base, hidden_layer_sizes=(256, 128), batch_size=256,
                              max_iter=2, n_threads=threads, dtype=dtype, **extra)
                tag = ",".join(f"{k}={v}" for k, v in extra.items()) or "plain"
                out.append((f"big/{tag}/t={threads}/{dtype}", MLPClassifier, params,
                            "Xbig", "ybig", "fit"))
        # the estimator's other paths
        for how in ("partial_fit", "warm_start", "early_stopping", "sample_weight"):
            for bn in (False, True):
                params = dict(base, hidden_layer_sizes=(16,), batch_norm=bn, dtype=dtype)
                out.append((f"path/{how}/bn={bn}/{dtype}", MLPClassifier, params,
                            "X", "y", how))
    return out


def _run(cls, params, X, y, how):
    est = cls(**params)
    if how.startswith("sparse:"):
        _set_sparse(how.split(":")[1])
        try:
            est.fit(X, y)
        finally:
            _set_sparse("auto")
    elif how == "fit":
        est.fit(X, y)
    elif how == "partial_fit":
        classes = np.unique(y)
        for i in range(3):
            est.partial_fit(X[i * 60:(i + 1) * 60 + 40], y[i * 60:(i + 1) * 60 + 40],
                            classes=classes)
    elif how == "warm_start":
        est.fit(X, y)
        est.set_params(warm_start=True, max_iter=2)
        est.fit(X[::-1], y[::-1])
    elif how == "early_stopping":
        est.set_params(early_stopping=True, max_iter=6, n_iter_no_change=2)
        est.fit(X, y)
    elif how == "sample_weight":
        sw = np.linspace(0.2, 2.0, X.shape[0])
        est.fit(X, y, sample_weight=sw)
    return est


def _result(est, X):
    arrays = {}
    for attr in ("coefs_", "intercepts_", "bn_gamma_", "bn_running_mean_",
                 "bn_running_var_"):
        for i, a in enumerate(getattr(est, attr, [])):
            arrays[f"{attr}{i}"] = np.asarray(a)
    arrays["loss_curve"] = np.asarray(getattr(est, "loss_curve_", [est.loss_]),
                                      dtype=np.float64)
    X = X.astype(est.dtype)
    if hasattr(est, "predict_proba"):
        arrays["few"] = est.predict_proba(X[:3])
        arrays["all"] = est.predict_proba(X)
    else:
        arrays["few"] = est.predict(X[:3])
        arrays["all"] = est.predict(X)
    return arrays


def _digest(arrays):
    h = hashlib.sha256()
    for k in sorted(arrays):
        h.update(k.encode())
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    return h.hexdigest()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("record", "compare"))
    parser.add_argument("path")
    parser.add_argument("--arrays", help="folder to save every result as .npz")
    parser.add_argument("--only", default="", help="run names containing this")
    args = parser.parse_args(argv)

    warnings.simplefilter("ignore")
    d = _data()
    results = {}
    for name, cls, params, xk, yk, how in _configs(d):
        if args.only not in name:
            continue
        est = _run(cls, params, d[xk], d[yk], how)
        arrays = _result(est, d[xk])
        results[name] = _digest(arrays)
        if args.arrays:
            os.makedirs(args.arrays, exist_ok=True)
            np.savez(os.path.join(args.arrays, name.replace("/", "__") + ".npz"),
                     **arrays)
    if args.mode == "record":
        with open(args.path, "w") as f:
            json.dump(results, f, indent=0, sort_keys=True)
        print(f"recorded {len(results)} configurations in {args.path}")
        return 0
    with open(args.path) as f:
        golden = json.load(f)
    differ = sorted(k for k in results if k in golden and golden[k] != results[k])
    missing = sorted(k for k in golden if k not in results and args.only in k)
    for k in differ:
        print("differs:", k)
    for k in missing:
        print("missing:", k)
    same = sum(golden.get(k) == v for k, v in results.items())
    print(f"{same} of {len(results)} configurations bit-identical; "
          f"{len(differ)} differ, {len(missing)} missing")
    return 1 if differ or missing else 0


if __name__ == "__main__":
    sys.exit(main())
