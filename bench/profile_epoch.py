"""Where an epoch's time goes: timers inside the engine, per phase.

The engine (``_engine.Engine``) has an optional ``profile`` array; when it is
set, ``train_epoch`` adds there the wall time of each phase of a training step
(gather, forward GEMMs, bias + activation, loss and delta, weight-gradient
GEMMs, delta GEMMs, backward elementwise work, optimiser step; named by
``_engine.PROFILE_PHASES``), timed with ``omp_get_wtime`` around each phase, a
few calls per minibatch: below 1% of an epoch.  This script fits one
MLPClassifier epoch on MNIST with the fit's engine given that array (the
training driver's ``Engine`` replaced by a subclass that sets it) and prints
a Markdown table: seconds, share of the epoch, and GFLOP/s of the GEMM phases
(FLOPs that were really computed; the input layer has no delta GEMM).

    python bench/profile_epoch.py [--hidden 256 128] [--batch-size 128]
                                  [--threads 2] [--epochs 3] [--data-dir DIR]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

import fastmlp
from _data import add_data_arguments, load
from fastmlp import MLPClassifier, _engine, _training


def gemm_flops(sizes, n_samples):
    """(forward, weight-gradient, delta) FLOPs of one epoch."""
    fwd = sum(2.0 * a * b for a, b in zip(sizes[:-1], sizes[1:])) * n_samples
    delta = sum(2.0 * a * b for a, b in zip(sizes[1:-1], sizes[2:])) * n_samples
    return fwd, fwd, delta


def profile(X, y, hidden, batch_size, n_threads, epochs, **params):
    """Seconds per phase (and the wall time) of the best of `epochs` epochs."""
    original = _training.Engine
    best = None
    try:
        for _ in range(epochs):
            prof = np.zeros(len(_engine.PROFILE_PHASES) + 1)

            class ProfiledEngine(original):
                """The fit's engine, with its phase timers adding to `prof`."""

                def __init__(self, *args, **kwargs):
                    self.profile = prof

            # fit_stochastic builds its engine from this module-level name
            _training.Engine = ProfiledEngine
            model = MLPClassifier(hidden, batch_size=batch_size, max_iter=1,
                                  n_threads=n_threads, random_state=0, **params)
            tic = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(X, y)
            wall = time.perf_counter() - tic
            if not prof[:-1].any():
                raise RuntimeError("the engine's profile stayed empty: the fit did "
                                   "not build its engine from fastmlp._training.Engine")
            phases = prof[:-1].copy()
            if best is None or phases.sum() < best[0].sum():
                best = (phases, wall)
    finally:
        _training.Engine = original
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3,
                        help="epochs timed; the fastest is reported")
    parser.add_argument("--batch-norm", action="store_true")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--sparse", choices=("auto", "always", "never"), default="auto",
                        help="the sparse first layer: by the inputs' density (auto), "
                             "or forced on or off")
    args = parser.parse_args(argv)

    X, y, _, _, name = load(args.dataset, args.data_dir)
    hidden = tuple(args.hidden)
    with fastmlp.config_context(sparse_first_layer=args.sparse):
        phases, wall = profile(X, y, hidden, args.batch_size, args.threads,
                               args.epochs, batch_norm=args.batch_norm,
                               dropout=args.dropout)
    sizes = [X.shape[1], *hidden, len(np.unique(y))]
    fwd, grad, delta = gemm_flops(sizes, X.shape[0])
    flops = {1: fwd, 4: grad, 5: delta}
    engine = phases.sum()
    print(f"{name}, hidden {hidden}, batch {args.batch_size}, {args.threads} "
          f"thread(s): engine {engine:.3f} s, whole fit {wall:.3f} s\n")
    print("| phase | seconds | share | GFLOP/s |")
    print("|---|---|---|---|")
    for i, label in enumerate(_engine.PROFILE_PHASES):
        rate = f"{flops[i] / phases[i] / 1e9:.0f}" if i in flops and phases[i] > 0 else ""
        print(f"| {label} | {phases[i]:.4f} | {phases[i] / engine:.1%} | {rate} |")
    gemm = phases[1] + phases[4] + phases[5]
    print(f"| all GEMMs | {gemm:.4f} | {gemm / engine:.1%} | "
          f"{(fwd + grad + delta) / gemm / 1e9:.0f} |")
    print(f"| outside the engine (validation, set-up) | {wall - engine:.4f} | | |")


if __name__ == "__main__":
    main()
