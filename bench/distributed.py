"""Distributed training on Dask: 1 against 2 workers here, projected to 64.

On MNIST (or synthetic data of its shape), an MLP (256, 128) in float32, for
a LocalCluster of 1 and of 2 worker processes x 1 thread, beside fastmlp on
one machine (1 and 2 threads) in the same run:

- L-BFGS: seconds per function evaluation (the median over a fit of
  `--lbfgs-iter` iterations; an iteration takes about one evaluation, more
  when its line search needs them), and the bytes an evaluation moves (the
  parameters to every part and its gradient back, float64);
- the round trip of a Dask task with no work, and with a parameter vector
  to and from each worker: the fixed cost of every evaluation or average;
- local SGD (Adam, batch 128): seconds per epoch ((a fit of `--epochs`
  epochs - a fit of 1) / (epochs - 1)), and the test accuracy after
  `--epochs` epochs against one machine's, for `--seeds` seeds;
- the equivalence of distributed L-BFGS: float64, 50 iterations on the
  first `--equivalence-rows` rows, 2 workers against one machine: the
  largest relative difference of the parameters.

Then the projection to 8-64 machines with the cost model printed beside it
(bench/README.md discusses it). Results go to bench/results/distributed.json.

    python bench/distributed.py [--data-dir DIR] [--hidden 256,128]
        [--lbfgs-iter 10] [--epochs 10] [--seeds 2] [--equivalence-rows 10000]
        [--bandwidth 1.25e9]
"""

import argparse
import contextlib
import json
import os
import sys
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0]) == HERE:
    # This file's folder first on the path would make `import distributed`
    # import this file: it goes last (worker processes inherit the path).
    sys.path.append(sys.path.pop(0))

import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402

import _data  # noqa: E402


def _params(hidden, **kw):
    return {**dict(hidden_layer_sizes=hidden, random_state=0, tol=0), **kw}


def _theta(est):
    return np.concatenate([a.ravel() for a in (*est.coefs_, *est.intercepts_)])


@contextlib.contextmanager
def _evaluation_times():
    """Record the wall time of every objective evaluation of the L-BFGS
    fits run inside (both drivers call scipy.optimize.minimize)."""
    times, minimize = [], scipy.optimize.minimize

    def timed_minimize(fun, x0, *args, **kw):
        def timed(x):
            tic = time.perf_counter()
            out = fun(x)
            times.append(time.perf_counter() - tic)
            return out
        return minimize(timed, x0, *args, **kw)

    scipy.optimize.minimize = timed_minimize
    try:
        yield times
    finally:
        scipy.optimize.minimize = minimize


def _lbfgs(make, X, y):
    with _evaluation_times() as times:
        est = make().fit(X, y)
    return float(np.median(times)), len(times), est


def _epoch_seconds(make, X, y, epochs):
    tic = time.perf_counter()
    make(max_iter=1).fit(X, y)
    one = time.perf_counter() - tic
    tic = time.perf_counter()
    make(max_iter=epochs).fit(X, y)
    return (time.perf_counter() - tic - one) / (epochs - 1)


def one_machine(args, Xtr, ytr, Xte, yte):
    import fastmlp

    rows = {}
    for threads in (1, 2):
        def make(**kw):
            return fastmlp.MLPClassifier(**_params(args.hidden, n_threads=threads, **kw))
        ev, n_ev, _ = _lbfgs(lambda: make(solver="lbfgs", max_iter=args.lbfgs_iter),
                             Xtr, ytr)
        ep = _epoch_seconds(lambda **kw: make(batch_size=128, **kw), Xtr, ytr,
                            args.epochs)
        accs = None
        if threads == 2:
            accs = [make(batch_size=128, max_iter=args.epochs, random_state=s)
                    .fit(Xtr, ytr).score(Xte, yte) for s in range(args.seeds)]
        rows[f"1 machine, {threads} thread{'s' * (threads > 1)}"] = dict(
            lbfgs_s_per_eval=ev, lbfgs_evals=n_ev, sgd_s_per_epoch=ep, accuracy=accs)
        print(f"one machine, {threads} thread(s): L-BFGS {ev:.3f} s/evaluation, "
              f"Adam {ep:.3f} s/epoch", flush=True)
    return rows


def _round_trip(client, payload, repeats=30):
    """Median seconds of one task per worker, each sent `payload` and
    returning it (the shape of an L-BFGS evaluation's traffic)."""
    workers = sorted(client.scheduler_info()["workers"])
    times = []
    for _ in range(repeats):
        tic = time.perf_counter()
        client.gather([client.submit(np.copy, payload, workers=[w], pure=False)
                       for w in workers])
        times.append(time.perf_counter() - tic)
    return float(np.median(times))


def _cluster(n_workers):
    from distributed import LocalCluster

    return LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                        dashboard_address=":0", silence_logs=50)


def on_cluster(args, n_workers, Xtr, ytr, Xte, yte):
    import dask.array as da
    from distributed import Client

    from fastmlp.dask import MLPClassifier

    chunk = -(-Xtr.shape[0] // 4)
    Xd = da.from_array(Xtr, chunks=(chunk, -1))
    yd = da.from_array(ytr, chunks=chunk)
    with _cluster(n_workers) as cluster, Client(cluster) as client:
        def make(**kw):
            return MLPClassifier(**_params(args.hidden, **kw))
        ev, n_ev, lb = _lbfgs(lambda: make(solver="lbfgs", max_iter=args.lbfgs_iter),
                              Xd, yd)
        n_params = lb._model.network.n_params
        empty = _round_trip(client, np.zeros(1))
        vector = _round_trip(client, np.zeros(n_params))
        ep = _epoch_seconds(lambda **kw: make(batch_size=128, **kw), Xd, yd, args.epochs)
        accs = [make(max_iter=args.epochs, batch_size=128, random_state=s)
                .fit(Xd, yd).score(Xte, yte) for s in range(args.seeds)]
    moved = 2 * n_workers * n_params * 8
    print(f"{n_workers} worker(s): L-BFGS {ev:.3f} s/evaluation ({moved / 1e6:.1f} MB "
          f"per evaluation), round trip {empty * 1e3:.1f} ms empty, {vector * 1e3:.1f} ms "
          f"with the parameters; Adam {ep:.3f} s/epoch, accuracy {np.mean(accs):.4f}",
          flush=True)
    return dict(lbfgs_s_per_eval=ev, lbfgs_evals=n_ev, sgd_s_per_epoch=ep,
                accuracy=accs, bytes_per_evaluation=moved, n_params=n_params,
                round_trip_empty_s=empty, round_trip_params_s=vector)


def equivalence(args, X, y):
    """float64, 50 L-BFGS iterations, 2 workers against one machine."""
    import dask.array as da
    from distributed import Client

    import fastmlp
    from fastmlp.dask import MLPClassifier

    params = _params(args.hidden, solver="lbfgs", max_iter=50, dtype="float64")
    local = fastmlp.MLPClassifier(**params).fit(X, y)
    chunk = -(-X.shape[0] // 4)
    with _cluster(2) as cluster, Client(cluster):
        dist = MLPClassifier(**params).fit(da.from_array(X, chunks=(chunk, -1)),
                                           da.from_array(y, chunks=chunk))
    a, b = _theta(dist), _theta(local)
    diff = float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
    print(f"L-BFGS float64, 50 iterations, {X.shape[0]} rows, 2 workers against one "
          f"machine: parameters {diff:.1e} relative apart; loss {dist.loss_:.12f} vs "
          f"{local.loss_:.12f}", flush=True)
    return dict(rows=X.shape[0], iterations=int(dist.n_iter_), rel_diff=diff,
                loss_distributed=dist.loss_, loss_one_machine=local.loss_)


def project(compute_eval, compute_epoch, n_params, bandwidth, latency):
    """Seconds per L-BFGS evaluation and per local-SGD epoch on W machines:
    compute / W + latency + the client's traffic at `bandwidth` (W parameter
    vectors out and W gradients in; local SGD also Adam's two moments), for
    the measured data and for 100 times as many rows."""
    out = []
    for scale in (1, 100):
        for W in (1, 2, 4, 8, 16, 32, 64):
            def t_eval(w):
                return scale * compute_eval / w + latency + 2 * w * n_params * 8 / bandwidth

            def t_epoch(w):
                return (scale * compute_epoch / w + latency
                        + 2 * w * 3 * n_params * 8 / bandwidth)
            out.append(dict(scale=scale, machines=W, lbfgs_s=t_eval(W),
                            lbfgs_speedup=t_eval(1) / t_eval(W), sgd_s=t_epoch(W),
                            sgd_speedup=t_epoch(1) / t_epoch(W)))
    return out


def main():
    parser = _data.add_data_arguments(argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))
    parser.add_argument("--hidden", default="256,128")
    parser.add_argument("--lbfgs-iter", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--equivalence-rows", type=int, default=10000)
    parser.add_argument("--bandwidth", type=float, default=1.25e9,
                        help="bytes/s of the client's network link (10 Gbit/s)")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "distributed.json"))
    args = parser.parse_args()
    args.hidden = tuple(int(h) for h in args.hidden.split(","))
    warnings.simplefilter("ignore")
    Xtr, ytr, Xte, yte, name = _data.load(args.dataset, args.data_dir)
    print(f"{name}: {Xtr.shape[0]} training rows, MLP {args.hidden}, float32", flush=True)

    rows = one_machine(args, Xtr, ytr, Xte, yte)
    for W in (1, 2):
        rows[f"{W} worker{'s' * (W > 1)} x 1 thread"] = on_cluster(
            args, W, Xtr, ytr, Xte, yte)
    n = args.equivalence_rows
    equiv = equivalence(args, Xtr[:n].astype(np.float64), ytr[:n])

    single = rows["1 machine, 1 thread"]
    w1, w2 = rows["1 worker x 1 thread"], rows["2 workers x 1 thread"]
    print("\n| run | L-BFGS s/evaluation | Adam s/epoch | test accuracy (mean of seeds) |")
    print("|---|---|---|---|")
    for k, r in rows.items():
        acc = "" if not r["accuracy"] else f"{np.mean(r['accuracy']):.4f}"
        print(f"| {k} | {r['lbfgs_s_per_eval']:.3f} | {r['sgd_s_per_epoch']:.3f} | {acc} |")
    print(f"\n1 -> 2 workers: L-BFGS {w1['lbfgs_s_per_eval'] / w2['lbfgs_s_per_eval']:.2f}x, "
          f"Adam {w1['sgd_s_per_epoch'] / w2['sgd_s_per_epoch']:.2f}x; "
          f"{w2['bytes_per_evaluation'] / 1e6:.1f} MB moved per evaluation with 2 workers")

    latency = w2["round_trip_empty_s"]
    projection = project(single["lbfgs_s_per_eval"], single["sgd_s_per_epoch"],
                         w1["n_params"], args.bandwidth, latency)
    print(f"\nprojection: t(W) = one machine's compute (1 thread) / W + "
          f"{latency * 1e3:.1f} ms (the empty round trip here) + 2 W vectors of "
          f"{w1['n_params']} float64 at {args.bandwidth / 1e9:.2f} GB/s "
          f"(local SGD: x3, parameters and Adam's moments)")
    print("| data | machines | L-BFGS s/evaluation | speed-up | Adam s/epoch | speed-up |")
    print("|---|---|---|---|---|---|")
    for p in projection:
        print(f"| {'MNIST' if p['scale'] == 1 else '100x MNIST'} | {p['machines']} | "
              f"{p['lbfgs_s']:.3f} | {p['lbfgs_speedup']:.1f}x | {p['sgd_s']:.3f} | "
              f"{p['sgd_speedup']:.1f}x |")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(dict(data=name, hidden=args.hidden, rows=rows, equivalence=equiv,
                       latency_s=latency, bandwidth=args.bandwidth,
                       projection=projection), f, indent=1, default=float)


if __name__ == "__main__":
    main()
