"""One training epoch of the same MLP on MNIST: fastmlp against scikit-learn.

MLPClassifier(hidden_layer_sizes=(256, 128), activation="relu", solver="adam",
batch_size=128, max_iter=1) from both libraries on the same float32 data, in
one process, interleaved (fastmlp, scikit-learn, fastmlp, ...), best of
``--repeats``.  Only ``fit`` is timed; fastmlp trains in float32
(``dtype="float32"``), and scikit-learn keeps float32 input in float32.

``--threads N`` gives fastmlp ``n_threads=N`` and limits scikit-learn's BLAS
to N threads (threadpoolctl); by default both use every core.

Columns: seconds per epoch, training samples per second, GFLOP/s counted as
6 x weights x samples / seconds (forward 2, backward 4 flops per weight and
sample; biases and elementwise work not counted), and the speed-up: the
scikit-learn time divided by the row's time.

    python bench/bench_epoch.py [--repeats 3] [--threads N] [--hidden 256 128]
                                [--batch-size 128] [--dataset mnist]
                                [--data-dir DIR]

Prints a Markdown table and writes JSON to ``bench/results/epoch.json``.
Without the data folder (see ``bench/_data.py``) it runs on synthetic data of
MNIST's shape and says so.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data  # noqa: E402

import fastmlp  # noqa: E402
from fastmlp import MLPClassifier  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
LIBRARIES = ("fastmlp", "scikit-learn")


def n_weights(layer_sizes):
    """Weights (not biases) of a dense network with these layer widths."""
    return sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))


def make_estimator(library, params, threads):
    if library == "fastmlp":
        return MLPClassifier(dtype="float32", n_threads=threads, **params)
    return SkMLPClassifier(**params)


def time_fit(library, params, threads, X, y):
    """(seconds, model) of one ``fit``; only the fit is timed."""
    est = make_estimator(library, params, threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # fastmlp sets its own thread limits inside fit; scikit-learn's
        # threads are those of the BLAS that NumPy calls.
        with threadpool_limits(limits=threads if library == "scikit-learn" else None):
            tic = time.perf_counter()
            est.fit(X, y)
            seconds = time.perf_counter() - tic
    return seconds, est


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="One MNIST epoch: fastmlp against scikit-learn's MLPClassifier.")
    _data.add_data_arguments(parser)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed epochs per library; the best is reported")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both libraries (default: every core)")
    parser.add_argument("--output", default=os.path.join(RESULTS, "epoch.json"))
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    X, y, _, _, data_name = _data.load(args.dataset, args.data_dir)
    X = np.ascontiguousarray(X, dtype=np.float32)
    n_samples, n_features = X.shape
    hidden = tuple(args.hidden)
    n_classes = len(np.unique(y))
    params = dict(hidden_layer_sizes=hidden, activation="relu", solver="adam",
                  batch_size=args.batch_size, max_iter=1, random_state=0)
    threads = args.threads
    shown_threads = threads or len(os.sched_getaffinity(0))

    # Warm-up: first-call costs (BLAS and OpenMP start-up, page faults).
    for library in LIBRARIES:
        time_fit(library, params, threads, X[:2048], y[:2048])

    load_before = os.getloadavg()
    times = {library: [] for library in LIBRARIES}
    losses = {}
    for _ in range(args.repeats):
        for library in LIBRARIES:
            seconds, est = time_fit(library, params, threads, X, y)
            times[library].append(seconds)
            losses[library] = float(est.loss_)
    load_after = os.getloadavg()

    flops = 6 * n_weights([n_features, *hidden, n_classes]) * n_samples
    best = {library: min(t) for library, t in times.items()}
    rows = {library: dict(seconds=t, samples_per_s=n_samples / t,
                          gflops=flops / t / 1e9,
                          speedup=best["scikit-learn"] / t)
            for library, t in best.items()}

    print(f"\nOne epoch of MLP{hidden}, relu, adam, batch {args.batch_size}, "
          f"float32, {data_name} ({n_samples} x {n_features}); {shown_threads} "
          f"thread(s); best of {args.repeats}; load average "
          f"{load_before[0]:.2f} -> {load_after[0]:.2f}\n")
    print("| library | s / epoch | samples / s | GFLOP/s | speed-up |")
    print("|---|---|---|---|---|")
    for library, r in rows.items():
        print(f"| {library} | {r['seconds']:.3f} | {r['samples_per_s']:,.0f} | "
              f"{r['gflops']:.1f} | {r['speedup']:.2f}x |")
    if load_after[0] > shown_threads or load_before[0] > shown_threads:
        print(f"\nWarning: the load average exceeded {shown_threads}: other "
              f"processes shared the cores, times are pessimistic.")

    result = dict(
        benchmark="epoch",
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        command=" ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]),
        config=dict(hidden=hidden, activation="relu", solver="adam",
                    batch_size=args.batch_size, dtype="float32", data=data_name,
                    n_samples=n_samples, n_features=n_features,
                    n_classes=n_classes, threads=shown_threads,
                    repeats=args.repeats, flops_per_epoch=flops),
        machine=dict(platform=platform.platform(), processor=platform.processor(),
                     cpus=os.cpu_count(), python=platform.python_version(),
                     numpy=np.__version__, sklearn=sklearn.__version__,
                     fastmlp=getattr(fastmlp, "__version__", None),
                     load_average_before=load_before, load_average_after=load_after),
        times=times, loss_after_epoch=losses, results=rows,
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nwrote {args.output}")
    return result


if __name__ == "__main__":
    main()
