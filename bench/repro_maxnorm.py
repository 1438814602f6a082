"""Max-norm against L2 with dropout on MNIST (Srivastava et al. 2014, Sec. 5.1
and Table 9).

The paper's Table 9 (MNIST, 3 x 1024 ReLU, dropout, long training): dropout
+ L2 1.25 % test error, dropout + max-norm 1.05 %.  On a budget of minutes
this run trains the same kind of network (`--hidden`, default 2 x 512 ReLU),
dropout 0.5 on the hidden layers, SGD with Nesterov momentum 0.9 at a high
rate (max-norm's point: the constraint lets the rate be large without the
weights blowing up) with a cosine schedule, batch 128, float32, once with
L2 (`--alpha`, scikit-learn's: a weight decay of alpha / batch per step) and
once with max-norm (`--max-norm`, the paper's c = 3 to 4), over `--seeds`.

    python bench/repro_maxnorm.py [--data DIR] [--epochs 15] [--seeds 0 1]
"""

import argparse
import time

import numpy as np

from fastmlp import MLPClassifier

from _data import add_data_dir_argument, load_or_exit, write_result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--alpha", type=float, default=0.064)
    parser.add_argument("--max-norm", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = load_or_exit("mnist", args.data_dir)

    rows = []
    for seed in args.seeds:
        for name, extra in ((f"dropout + L2 (alpha={args.alpha})", dict(alpha=args.alpha)),
                            (f"dropout + max-norm (c={args.max_norm})",
                             dict(alpha=0.0, max_norm=args.max_norm))):
            clf = MLPClassifier(tuple(args.hidden), dropout=args.dropout, solver="sgd",
                                momentum=0.9, learning_rate_init=args.lr,
                                learning_rate="cosine", batch_size=128,
                                max_iter=args.epochs, random_state=seed, tol=0.0,
                                n_iter_no_change=10**6, n_threads=args.threads,
                                **extra)
            tic = time.perf_counter()
            try:
                clf.fit(X_train, y_train)
                error = 100 * (1 - clf.score(X_test, y_test))
            except Exception as exc:   # divergence at this rate
                error = float("nan")
                print(f"{name}: {type(exc).__name__}: {exc}")
            seconds = time.perf_counter() - tic
            norms = [float(np.sqrt((W**2).sum(axis=0)).max()) for W in clf.coefs_] \
                if hasattr(clf, "coefs_") else []
            rows.append(dict(model=name, seed=seed, error=error, seconds=seconds,
                             max_column_norms=norms))
            print(f"seed {seed} {name:>32}: test error {error:.2f} %  "
                  f"({seconds:.0f} s; largest column norm per layer "
                  f"{', '.join(f'{v:.2f}' for v in norms)})", flush=True)

    print(f"\nMNIST, MLP {tuple(args.hidden)} ReLU, dropout {args.dropout}, SGD + "
          f"Nesterov 0.9 at {args.lr} (cosine), batch 128, {args.epochs} epochs, "
          "float32\n")
    print("| model | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean |")
    print("|---|" + "---|" * (len(args.seeds) + 1))
    for name in dict.fromkeys(r["model"] for r in rows):
        errs = [r["error"] for r in rows if r["model"] == name]
        print(f"| {name} | " + " | ".join(f"{e:.2f} %" for e in errs)
              + f" | {np.mean(errs):.2f} % |")
    write_result("maxnorm", rows)


if __name__ == "__main__":
    main()
