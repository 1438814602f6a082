"""Batch normalisation on MNIST (Ioffe & Szegedy 2015, Sec. 4.1, Fig. 1(a)).

The paper's set-up: 28 x 28 binary inputs, 3 fully connected hidden layers
of 100 sigmoid units, 10 outputs with cross-entropy, weights initialised
to small random Gaussian values, minibatches of 60, 50,000 training steps,
with and without BN on every hidden layer (BN before the nonlinearity, the
bias dropped).  The optimiser and rate are not stated in the paper; we use
plain SGD with the same rate for both networks.  Fig. 1(a) plots test
accuracy against steps: BN trains faster and reaches a higher accuracy.

    python bench/repro_batchnorm.py [--data-dir DIR] [--steps 50000]
                                    [--lr 0.1] [--png docs/batchnorm_mnist.png]

Writes a table (Markdown, printed) and a PNG plot.
"""

import argparse
import os
import time

import numpy as np

from fastmlp import MLPClassifier

from _data import add_data_dir_argument, load_or_exit, write_result

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--every", type=int, default=1000, help="steps between checkpoints")
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--png", default=os.path.join(HERE, "..", "docs", "batchnorm_mnist.png"))
    args = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = load_or_exit("mnist", args.data_dir)
    # binary images, as in the paper
    X_train = (X_train > 0.5).astype(np.float32)
    X_test = (X_test > 0.5).astype(np.float32)
    batch = 60
    chunk = args.every * batch  # samples per checkpoint: one partial_fit call
    rng = np.random.RandomState(0)

    curves = {}
    for name, bn in (("without BN", False), ("with BN", True)):
        clf = MLPClassifier((100, 100, 100), activation="logistic", solver="sgd",
                            momentum=0.0, learning_rate_init=args.lr, batch_size=batch,
                            alpha=0.0, batch_norm=bn, weight_init="glorot_normal",
                            random_state=0)
        classes = np.arange(10)
        steps, acc = [], []
        order = rng.permutation(len(X_train))
        tic = time.perf_counter()
        done, pos = 0, 0
        while done < args.steps:
            if pos + chunk > len(order):
                order, pos = rng.permutation(len(X_train)), 0
            idx = order[pos:pos + chunk]
            pos += chunk
            clf.partial_fit(X_train[idx], y_train[idx], classes=classes)
            done += args.every
            steps.append(done)
            acc.append(clf.score(X_test, y_test))
        curves[name] = dict(steps=steps, accuracy=acc, seconds=time.perf_counter() - tic)
        print(f"{name}: final test accuracy {acc[-1]:.4f} "
              f"({curves[name]['seconds']:.1f} s)", flush=True)

    plain, bn = curves["without BN"], curves["with BN"]
    print("\n| steps | without BN | with BN |")
    print("|---|---|---|")
    for i, s in enumerate(plain["steps"]):
        if s in (1000, 2000, 5000, 10000, 20000, 30000, 40000, 50000) or s == plain["steps"][-1]:
            print(f"| {s} | {plain['accuracy'][i]:.4f} | {bn['accuracy'][i]:.4f} |")
    after = [i for i, s in enumerate(plain["steps"]) if s >= 3000]
    ahead = all(bn["accuracy"][i] > plain["accuracy"][i] for i in after)
    print(f"\nBN ahead at every checkpoint from 3000 steps on: {ahead}")

    write_result("batchnorm", dict(curves=curves, lr=args.lr, bn_ahead_after_3000=ahead))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot")
        return
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(plain["steps"], plain["accuracy"], "--", label="Without BN")
    ax.plot(bn["steps"], bn["accuracy"], label="With BN")
    ax.set_xlabel("training steps (minibatches of 60)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0.9, 1.0)
    ax.set_title("MNIST, 3 x 100 sigmoid, SGD (cf. Ioffe & Szegedy Fig. 1a)", fontsize=9)
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.png)), exist_ok=True)
    fig.savefig(args.png, dpi=110)
    print(f"plot written to {os.path.abspath(args.png)}")


if __name__ == "__main__":
    main()
