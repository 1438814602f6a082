"""Multitask learning on MNIST (Caruana 1997): one network against k.

Caruana trains one network whose hidden layers are shared by related tasks,
each task with its own outputs, and finds it generalises at least as well
as one network per task, for the cost of one.  Here the k tasks are derived
from the MNIST digit d: the digit (10 classes), its parity (2), d >= 5 (2)
and d mod 3 (3).  One multitask MLPClassifier (a 2-D y, one softmax per
task) is trained against k single-task MLPClassifiers of the same
architecture and budget (`--hidden`, default 256 ReLU units; Adam 1e-3,
batch 128, `--epochs`, float32): test accuracy per task, and the total
fit time.

    python bench/repro_multitask.py [--data-dir DIR] [--epochs 8] [--seeds 0 1 2]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier

from _data import add_data_dir_argument, load_or_exit, write_result

TASKS = {
    "digit": lambda d: d,
    "parity": lambda d: d % 2,
    "d >= 5": lambda d: (d >= 5).astype(d.dtype),
    "d mod 3": lambda d: d % 3,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)   # a fixed budget of epochs
    X_train, d_train, X_test, d_test = load_or_exit("mnist", args.data_dir)
    Y_train = np.column_stack([f(d_train) for f in TASKS.values()])
    Y_test = np.column_stack([f(d_test) for f in TASKS.values()])

    def model(seed):
        return MLPClassifier(tuple(args.hidden), batch_size=128, learning_rate_init=1e-3,
                             max_iter=args.epochs, random_state=seed, tol=0.0,
                             n_iter_no_change=10**6, n_threads=args.threads)

    rows = []
    for seed in args.seeds:
        clf = model(seed)
        tic = time.perf_counter()
        clf.fit(X_train, Y_train)
        seconds = time.perf_counter() - tic
        pred = clf.predict(X_test)
        acc = [float(np.mean(pred[:, j] == Y_test[:, j])) for j in range(len(TASKS))]
        rows.append(dict(model="one multitask model", seed=seed, accuracy=acc,
                         seconds=seconds))
        print(f"seed {seed} multitask: " + ", ".join(
            f"{t} {100 * a:.2f} %" for t, a in zip(TASKS, acc)) + f" ({seconds:.1f} s)",
            flush=True)
        acc, total = [], 0.0
        for j, task in enumerate(TASKS):
            clf = model(seed)
            tic = time.perf_counter()
            clf.fit(X_train, Y_train[:, j])
            total += time.perf_counter() - tic
            acc.append(float(clf.score(X_test, Y_test[:, j])))
        rows.append(dict(model=f"{len(TASKS)} single-task models", seed=seed,
                         accuracy=acc, seconds=total))
        print(f"seed {seed} separate:  " + ", ".join(
            f"{t} {100 * a:.2f} %" for t, a in zip(TASKS, acc)) + f" ({total:.1f} s)",
            flush=True)

    print(f"\nMNIST, MLP {tuple(args.hidden)} ReLU, Adam 1e-3, batch 128, "
          f"{args.epochs} epochs, float32, seeds {args.seeds}: test accuracy (mean "
          "over seeds) and total fit time\n")
    print("| model | " + " | ".join(TASKS) + " | fit time |")
    print("|---|" + "---|" * len(TASKS) + "---|")
    for name in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == name]
        acc = np.mean([r["accuracy"] for r in rs], axis=0)
        print(f"| {name} | " + " | ".join(f"{100 * a:.2f} %" for a in acc)
              + f" | {np.mean([r['seconds'] for r in rs]):.1f} s |")
    write_result("multitask", rows)


if __name__ == "__main__":
    main()
