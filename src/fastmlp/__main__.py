"""``python -m fastmlp``: a demo on scikit-learn's bundled digits data.

Trains fastmlp's MLPClassifier with one line per epoch (loss, time), reports
the test accuracy, then trains scikit-learn's MLPClassifier with the same
settings and prints both times and the speed-up.
"""

import argparse
import time
import warnings


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fastmlp", description="fastmlp demo on the digits data"
    )
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    from fastmlp import MLPClassifier

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    params = dict(
        hidden_layer_sizes=tuple(args.hidden), batch_size=args.batch_size,
        max_iter=args.epochs, random_state=0, n_iter_no_change=args.epochs,
    )
    print(f"digits: {X_train.shape[0]} training and {X_test.shape[0]} test "
          f"samples, {X.shape[1]} features; MLP {params['hidden_layer_sizes']}, "
          f"adam, batch {args.batch_size}, {args.epochs} epochs\n")

    print("fastmlp.MLPClassifier (float32)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tic = time.perf_counter()
        clf = MLPClassifier(verbose=True, **params).fit(X_train, y_train)
        t_fast = time.perf_counter() - tic
    acc_fast = clf.score(X_test, y_test)
    print(f"test accuracy {acc_fast:.4f}, {t_fast:.2f} s\n")

    print("sklearn.neural_network.MLPClassifier (same settings, float32 data)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        tic = time.perf_counter()
        sk = SkMLPClassifier(**params).fit(X_train, y_train)
        t_sk = time.perf_counter() - tic
    acc_sk = sk.score(X_test, y_test)
    print(f"test accuracy {acc_sk:.4f}, {t_sk:.2f} s\n")

    print(f"{'':14}{'accuracy':>10}{'seconds':>10}")
    print(f"{'fastmlp':14}{acc_fast:>10.4f}{t_fast:>10.2f}")
    print(f"{'scikit-learn':14}{acc_sk:>10.4f}{t_sk:>10.2f}")
    print(f"speed-up: {t_sk / t_fast:.1f}x")


if __name__ == "__main__":
    main()
