"""Snapshot ensembles on Fashion-MNIST (Huang et al., ICLR 2017, "Snapshot
Ensembles: Train 1, get M for free").

The paper: with the same training budget, the average of the softmax
outputs of the M models at the ends of M cosine cycles beats a single model
trained with a standard schedule, on CIFAR-10/100, SVHN and Tiny ImageNet
(their Table 2; its numbers were not re-read for this reproduction), and
averaging only the last few snapshots can be better (their Fig. 5).  Here, for each seed and the same
number of epochs (`--epochs`, default 40):

- a single model, SGD with Nesterov momentum and a cosine rate decaying
  over the whole run (the paper's "single model" baseline uses a step or
  cosine schedule);
- the same optimiser with `learning_rate="cosine_restarts"` and
  `T_0 = epochs / M` (M = `--snapshots`), `snapshot_ensemble=M`: the final
  model alone (the last snapshot) and the ensembles of the last m = 2 .. M
  snapshots (the paper's Fig. 5 varies m too);

test error and test log-loss, on an MLP (`--hidden`, default 2 x 512 ReLU),
batch 128, float32.

    python bench/repro_snapshots.py [--data DIR] [--epochs 40] [--snapshots 5] [--seeds 0 1]
"""

import argparse
import time

import numpy as np
from sklearn.metrics import log_loss

from fastmlp import MLPClassifier

from _data import add_data_dir_argument, load_or_exit, write_result


def evaluate(clf, X, y):
    proba = clf.predict_proba(X)
    return 100 * np.mean(clf.classes_[proba.argmax(1)] != y), log_loss(y, proba)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--snapshots", type=int, default=5)
    parser.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = load_or_exit("fashion-mnist", args.data_dir)
    if args.epochs % args.snapshots:
        raise SystemExit("--epochs must be a multiple of --snapshots")
    common = dict(hidden_layer_sizes=tuple(args.hidden), solver="sgd", momentum=0.9,
                  learning_rate_init=args.lr, batch_size=128, max_iter=args.epochs,
                  tol=0.0, n_iter_no_change=10**6, n_threads=args.threads)

    rows = []
    for seed in args.seeds:
        tic = time.perf_counter()
        single = MLPClassifier(learning_rate="cosine", random_state=seed, **common)
        single.fit(X_train, y_train)
        err, ll = evaluate(single, X_test, y_test)
        rows.append(dict(model="single model (cosine over the run)", seed=seed, error=err,
                         log_loss=ll, seconds=time.perf_counter() - tic))
        tic = time.perf_counter()
        ens = MLPClassifier(learning_rate="cosine_restarts",
                            lr_schedule_params=dict(T_0=args.epochs // args.snapshots),
                            snapshot_ensemble=args.snapshots, random_state=seed, **common)
        ens.fit(X_train, y_train)
        seconds = time.perf_counter() - tic
        # the final model alone: the fitted network without its snapshots
        snapshots = ens.__dict__.pop("_snapshots")
        assert np.array_equal(snapshots[-1].theta, ens._model.theta)
        err, ll = evaluate(ens, X_test, y_test)
        ens._snapshots = snapshots
        rows.append(dict(model="restarts: final model", seed=seed, error=err, log_loss=ll,
                         seconds=seconds))
        # the ensembles of the last m snapshots, m = 2 .. M (the paper's
        # Fig. 5: the early, weaker snapshots can drag the average)
        for m in range(2, len(snapshots) + 1):
            ens._snapshots = snapshots[-m:]
            err, ll = evaluate(ens, X_test, y_test)
            rows.append(dict(model=f"restarts: ensemble of the last {m} snapshots",
                             seed=seed, error=err, log_loss=ll, seconds=seconds,
                             snapshot_epochs=ens.snapshot_epochs_[-m:]))
        ens._snapshots = snapshots
        for r in rows[-(len(snapshots) + 1):]:
            print(f"seed {seed} {r['model']:>40}: test error {r['error']:.2f} %, "
                  f"log-loss {r['log_loss']:.4f} ({r['seconds']:.0f} s)", flush=True)

    print(f"\nFashion-MNIST, MLP {tuple(args.hidden)} ReLU, SGD + Nesterov 0.9 at "
          f"{args.lr}, batch 128, {args.epochs} epochs, float32, seeds {args.seeds}\n")
    print("| model | test error per seed | mean test error | mean test log-loss |")
    print("|---|---|---|---|")
    for name in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == name]
        print(f"| {name} | " + ", ".join(f"{r['error']:.2f} %" for r in rs)
              + f" | {np.mean([r['error'] for r in rs]):.2f} % | "
              f"{np.mean([r['log_loss'] for r in rs]):.4f} |")
    write_result("snapshots", rows)


if __name__ == "__main__":
    main()
