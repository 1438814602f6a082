"""Cost of batch normalisation and dropout: one MNIST epoch of
MLP(256, 128), relu, adam, batch 128, float32, with each against without,
in one process, interleaved, best of several repetitions.  The issue's bar:
at most 15 % more than without.

    python bench/bench_regularization.py [--data-dir DIR] [--repeats 5]
"""

import argparse
import time
import warnings

from sklearn.exceptions import ConvergenceWarning

from fastmlp import MLPClassifier

from _data import add_data_dir_argument, load, write_result


VARIANTS = {
    "plain": {},
    "batch norm": dict(batch_norm=True),
    "dropout 0.5": dict(dropout=0.5),
    "batch norm + dropout": dict(batch_norm=True, dropout=0.5),
    "input noise 0.1": dict(input_noise=0.1),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    # synthetic data of MNIST's shape when it is absent (timings only)
    X, y = load("mnist", args.data_dir)[:2]

    def epoch(kw):
        clf = MLPClassifier((256, 128), batch_size=128, max_iter=1, random_state=0,
                            n_threads=args.threads, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            tic = time.perf_counter()
            clf.fit(X, y)
            return time.perf_counter() - tic

    epoch({})  # warm-up
    times = {k: [] for k in VARIANTS}
    for _ in range(args.repeats):
        for name, kw in VARIANTS.items():
            times[name].append(epoch(kw))
    best = {k: min(v) for k, v in times.items()}
    print(f"\nOne MNIST epoch, MLP(256, 128), adam, batch 128, float32; best of "
          f"{args.repeats}\n")
    print("| variant | s / epoch | vs plain |")
    print("|---|---|---|")
    for name, t in best.items():
        print(f"| {name} | {t:.3f} | {100 * (t / best['plain'] - 1):+.1f} % |")
    write_result("regularization", dict(times=times, best=best))


if __name__ == "__main__":
    main()
