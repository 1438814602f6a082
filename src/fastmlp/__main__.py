"""``python -m fastmlp``: a demo on scikit-learn's bundled digits data.

Trains fastmlp's MLPClassifier with one line per epoch (loss, time), reports
the test accuracy, then trains scikit-learn's MLPClassifier with the same
settings on the same data and prints both accuracies, both times and the
speed-up.  It runs in seconds and needs no download.
"""

import argparse
import os
import time
import warnings


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fastmlp",
        description="Train fastmlp and scikit-learn's MLPClassifier on the "
                    "digits data and compare accuracy and time.")
    parser.add_argument("--epochs", type=int, default=30,
                        help="training epochs (max_iter); default 30")
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128],
                        help="hidden layer widths; default 256 128")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="minibatch size; default 32")
    parser.add_argument("--threads", type=int, default=None,
                        help="fastmlp's n_threads; default every core")
    parser.add_argument("--plot", metavar="PATH", default=None,
                        help="save fastmlp's learning curves (loss and learning "
                             "rate per epoch) to this image file (needs matplotlib)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or args.batch_size < 1 or min(args.hidden) < 1:
        parser.error("--epochs, --batch-size and --hidden must be positive")

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    import fastmlp
    from fastmlp import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixels 0-16 -> [0, 1]
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    hidden = tuple(args.hidden)
    # Train for exactly --epochs epochs: no early stop on a loss plateau.
    params = dict(hidden_layer_sizes=hidden, activation="relu", solver="adam",
                  batch_size=args.batch_size, max_iter=args.epochs,
                  n_iter_no_change=args.epochs + 1, random_state=0)
    threads = args.threads or len(os.sched_getaffinity(0))
    print(f"fastmlp {getattr(fastmlp, '__version__', '')} demo: digits, "
          f"{X_train.shape[0]} training and {X_test.shape[0]} test samples, "
          f"{X.shape[1]} features, 10 classes")
    print(f"MLP{hidden}, relu, adam, batch {args.batch_size}, {args.epochs} "
          f"epochs, float32\n")

    print(f"fastmlp.MLPClassifier (dtype='float32', {threads} thread(s))")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tic = time.perf_counter()
        clf = MLPClassifier(verbose=True, dtype="float32", n_threads=args.threads,
                            **params).fit(X_train, y_train)
        t_fast = time.perf_counter() - tic
    acc_fast = clf.score(X_test, y_test)
    print(f"test accuracy {acc_fast:.4f}, fit {t_fast:.2f} s\n")

    print("sklearn.neural_network.MLPClassifier (same settings and data)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tic = time.perf_counter()
        sk = SkMLPClassifier(**params).fit(X_train, y_train)
        t_sk = time.perf_counter() - tic
    acc_sk = sk.score(X_test, y_test)
    print(f"test accuracy {acc_sk:.4f}, fit {t_sk:.2f} s\n")

    print(f"| {'':12} | accuracy | fit seconds |")
    print(f"|{'-' * 14}|----------|-------------|")
    print(f"| {'fastmlp':12} | {acc_fast:8.4f} | {t_fast:11.2f} |")
    print(f"| {'scikit-learn':12} | {acc_sk:8.4f} | {t_sk:11.2f} |")
    print(f"\nspeed-up: {t_sk / t_fast:.1f}x")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        from fastmlp.inspection import TrainingCurveDisplay

        TrainingCurveDisplay.from_estimator(clf).figure_.savefig(args.plot, dpi=120)
        print(f"learning curves saved to {args.plot}")
    else:
        print("\nSee the learning curves: python -m fastmlp --plot curves.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
