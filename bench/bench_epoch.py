"""One training epoch of the same MLP on MNIST: fastmlp against scikit-learn's
MLPClassifier on the same float32 data, in one process, interleaved, best of
several repetitions.

    python bench/bench_epoch.py [--data-dir DIR] [--hidden 256 128]
                                [--batch-size 128] [--repeats 3] [--threads N]

Without the MNIST files (``--data-dir``, default ``../shared/datasets`` beside
the repository) it uses synthetic data of MNIST's shape.  Prints a Markdown
table and writes JSON to ``bench/results/epoch.json``.
"""

import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier

from fastmlp import MLPClassifier
from fastmlp._datasets import find_data_dir, load_idx_folder

HERE = os.path.dirname(os.path.abspath(__file__))


def load_data(data_dir):
    folder = os.path.join(data_dir, "mnist") if data_dir else None
    if folder and os.path.isdir(folder):
        X, y, _, _ = load_idx_folder(folder)
        return X, y, "MNIST"
    print("MNIST not found: synthetic data of MNIST's shape (60000 x 784, 10 classes)")
    rng = np.random.default_rng(0)
    X = rng.random((60000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60000)
    return X, y, "synthetic"


def n_weights(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def time_fit(make, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tic = time.perf_counter()
        make().fit(X, y)
        return time.perf_counter() - tic


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=find_data_dir(HERE))
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)

    X, y, name = load_data(args.data_dir)
    hidden = tuple(args.hidden)
    kw = dict(hidden_layer_sizes=hidden, activation="relu", solver="adam",
              batch_size=args.batch_size, max_iter=1, random_state=0)
    runs = {
        "fastmlp": lambda: MLPClassifier(dtype="float32", n_threads=args.threads, **kw),
        "scikit-learn": lambda: SkMLPClassifier(**kw),
    }
    times = {k: [] for k in runs}
    time_fit(runs["fastmlp"], X[:2000], y[:2000])  # warm-up
    for _ in range(args.repeats):  # interleaved
        for k, make in runs.items():
            times[k].append(time_fit(make, X, y))
    best = {k: min(v) for k, v in times.items()}
    flops = 6 * n_weights([X.shape[1], *hidden, 10]) * X.shape[0]

    print(f"\nOne epoch of MLP{hidden}, relu, adam, batch {args.batch_size}, "
          f"float32, {name} ({X.shape[0]} samples); best of {args.repeats}\n")
    print("| library | s / epoch | samples / s | GFLOP/s | speed-up |")
    print("|---|---|---|---|---|")
    for k, t in best.items():
        print(f"| {k} | {t:.3f} | {X.shape[0] / t:,.0f} | {flops / t / 1e9:.1f} | "
              f"{best['scikit-learn'] / t:.2f}x |")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "epoch.json"), "w") as f:
        json.dump(dict(config=dict(hidden=hidden, batch_size=args.batch_size,
                                   data=name, threads=args.threads),
                       times=times, best=best), f, indent=1)


if __name__ == "__main__":
    main()
