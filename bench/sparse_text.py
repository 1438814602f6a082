"""Sparse input: a TF-IDF-shaped problem, fastmlp against scikit-learn's MLP on
the same CSR matrix.

The data: `--samples` documents over a vocabulary of `--features` words,
about `--nnz` word tokens each (150 tokens give 100 distinct words per row,
the issue's ~100 nonzeros), word frequencies Zipf-distributed (exponent 1.1)
with 5 % of each document's words from its class's own 200-word topic, 20
classes; counts turned into TF-IDF rows (log1p counts times smoothed idf,
L2-normalised), float32 CSR.  Both libraries train an MLP (256,) with Adam,
batch 128, for one epoch on the same CSR (scikit-learn accepts it too),
interleaved, best of `--repeats`; then each fit's peak memory above the data,
each library in a fresh process.  Finally Adam against Adagrad (Duchi et al.,
"well suited to sparse data") on held-out documents after a few epochs.

    python bench/sparse_text.py [--samples 100000] [--features 100000]
        [--nnz 150] [--repeats 2] [--threads 2] [--epochs 3]
"""

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import IDLE, PeakRSS  # noqa: E402

from fastmlp import MLPClassifier  # noqa: E402


def tfidf_like(n_samples, n_features, nnz, n_classes=20, topic_size=200,
               topic_share=0.05, seed=0, dtype=np.float32):
    """(X, y): a TF-IDF-shaped CSR matrix and its classes (see the module's
    docstring)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_samples)
    lengths = np.maximum(1, rng.poisson(nnz, n_samples))
    rows = np.repeat(np.arange(n_samples), lengths)
    weights = np.arange(1, n_features + 1, dtype=np.float64) ** -1.1
    cdf = np.cumsum(weights / weights.sum())
    words = np.minimum(np.searchsorted(cdf, rng.random(rows.size)), n_features - 1)
    topics = rng.permutation(n_features)[: n_classes * topic_size].reshape(n_classes,
                                                                            topic_size)
    on_topic = rng.random(rows.size) < topic_share
    words[on_topic] = topics[y[rows[on_topic]],
                             rng.integers(0, topic_size, on_topic.sum())]
    counts = sp.csr_matrix((np.ones(rows.size), (rows, words)),
                           shape=(n_samples, n_features))
    counts.sum_duplicates()
    df = np.bincount(counts.indices, minlength=n_features)
    idf = np.log((1 + n_samples) / (1 + df)) + 1
    X = counts.copy()
    X.data = np.log1p(X.data) * idf[X.indices]
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sp.diags(1 / np.maximum(norms, 1e-12)) @ X
    return X.tocsr().astype(dtype), y


def csr_mb(X):
    return (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20


def fit(name, X, y, threads, epochs=1, solver="adam", memory=None):
    """Seconds (and peak RSS in MB with a PeakRSS `memory`) of a fit."""
    kw = dict(hidden_layer_sizes=(256,), batch_size=128, max_iter=epochs,
              random_state=0, tol=0.0, n_iter_no_change=epochs + 1, solver=solver)
    if name == "fastmlp":
        est = MLPClassifier(n_threads=threads, dtype="float32", **kw)
    else:
        est = SkMLPClassifier(**kw)
    gc.collect()
    with warnings.catch_warnings(), threadpool_limits(limits=threads, user_api="blas"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        ctx = memory() if memory else None
        if ctx:
            ctx.__enter__()
        tic = time.perf_counter()
        est.fit(X, y)
        t = time.perf_counter() - tic
        if ctx:
            ctx.__exit__(None, None, None)
    return t, (ctx.mb if ctx else None), est


def memory_child(args):
    name = args.memory_child
    X, y = tfidf_like(args.samples, args.features, args.nnz)
    gc.collect()
    before = PeakRSS()._rss() / 2**20
    _, peak, est = fit(name, X, y, args.threads, memory=PeakRSS)
    n_params = sum(c.size for c in est.coefs_) + sum(b.size for b in est.intercepts_)
    print(json.dumps({"extra_mb": peak - before, "csr_mb": csr_mb(X),
                      "n_params": int(n_params)}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=100_000)
    parser.add_argument("--nnz", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs of the Adam / Adagrad comparison")
    parser.add_argument("--skip-sklearn", action="store_true")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        return memory_child(args)

    tic = time.perf_counter()
    X, y = tfidf_like(args.samples, args.features, args.nnz)
    print(f"TF-IDF-shaped data: {X.shape[0]} x {X.shape[1]}, {X.nnz / X.shape[0]:.1f} "
          f"nonzeros per row, CSR {csr_mb(X):.0f} MB (float32), 20 classes "
          f"({time.perf_counter() - tic:.1f} s to make)")
    print(f"MLP (256,), Adam, batch 128, one epoch, {args.threads} threads\n")
    names = ["fastmlp"] + ([] if args.skip_sklearn else ["scikit-learn"])
    best = {n: np.inf for n in names}
    for _ in range(args.repeats):
        for name in names:
            time.sleep(IDLE)
            best[name] = min(best[name], fit(name, X, y, args.threads)[0])
    print("| library | epoch (s) | samples/s | scikit-learn / fastmlp |")
    print("|---|---|---|---|")
    for name in names:
        ratio = best["scikit-learn"] / best[name] if "scikit-learn" in best else np.nan
        print(f"| {name} | {best[name]:.2f} | {X.shape[0] / best[name]:,.0f} | "
              f"{ratio:.2f}x |")

    print("\nPeak memory of the fit above the data (a fresh process each):")
    for name in names:
        cmd = [sys.executable, os.path.abspath(__file__), "--memory-child", name,
               "--samples", str(args.samples), "--features", str(args.features),
               "--nnz", str(args.nnz), "--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        state = 4 * r["n_params"] * (4 if name == "fastmlp" else 8) / 2**20
        print(f"  {name}: +{r['extra_mb']:.0f} MB (CSR {r['csr_mb']:.0f} MB; the model "
              f"has {r['n_params']:,} parameters: parameters, gradient and Adam's two "
              f"moments take {state:.0f} MB in its dtype)")

    print(f"\nAdam against Adagrad, {args.epochs} epochs, held-out 20 %:")
    n = X.shape[0] * 4 // 5
    for solver in ("adam", "adagrad"):
        t, _, est = fit("fastmlp", X[:n], y[:n], args.threads, args.epochs, solver)
        print(f"  {solver}: test accuracy {est.score(X[n:], y[n:]):.4f}, "
              f"train loss {est.loss_:.4f}, {t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
