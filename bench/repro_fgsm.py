"""Adversarial training by the fast gradient sign method on MNIST
(Goodfellow, Shlens & Szegedy, ICLR 2015, "Explaining and Harnessing
Adversarial Examples", Sec. 6).

The paper (a maxout network with dropout, MNIST in [0, 1], eps = 0.25): the
normally trained model misclassifies 89.4 % of the FGSM examples of the test
set; trained with alpha J(x) + (1 - alpha) J(x_adv), alpha = 0.5, it
misclassifies 17.9 %, and its clean test error goes from 0.94 % to 0.84 %.
The issue's targets: <= 25 % adversarial error after adversarial training,
>= 80 % without, clean error at most 0.3 points worse.

Here: a ReLU MLP (`--hidden`, default 2 x 1024) with dropout (`--dropout`),
Adam with a cosine rate over `--epochs`, batch 128, float32, trained
normally and with `adversarial_eps=eps` (the training examples are not
clipped, as in the paper); both evaluated on the clean test set and on its
FGSM examples at the same eps, crafted against the model being evaluated by
`fastmlp.inspection.fgsm` and clipped to [0, 1] (the valid pixel range; the
unclipped error is printed too).

    python bench/repro_fgsm.py [--data DIR] [--epochs 20] [--eps 0.25]
"""

import argparse
import time

from fastmlp import MLPClassifier
from fastmlp.inspection import fgsm

from _data import add_data_dir_argument, load_or_exit, write_result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", type=int, nargs="+", default=[1024, 1024])
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--eps", type=float, default=0.25)
    parser.add_argument("--alpha", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = load_or_exit("mnist", args.data_dir)

    rows = []
    for name, eps in (("normal training", 0.0), (f"adversarial training (eps {args.eps})",
                                                  args.eps)):
        clf = MLPClassifier(tuple(args.hidden), dropout=args.dropout, batch_size=128,
                            learning_rate="cosine", learning_rate_init=1e-3,
                            max_iter=args.epochs, random_state=args.seed, tol=0.0,
                            n_iter_no_change=10**6, adversarial_eps=eps,
                            adversarial_alpha=args.alpha, n_threads=args.threads)
        tic = time.perf_counter()
        clf.fit(X_train, y_train)
        seconds = time.perf_counter() - tic
        clean = 100 * (1 - clf.score(X_test, y_test))
        adv = 100 * (1 - clf.score(fgsm(clf, X_test, y_test, args.eps, clip=(0, 1)),
                                   y_test))
        adv_raw = 100 * (1 - clf.score(fgsm(clf, X_test, y_test, args.eps), y_test))
        rows.append(dict(model=name, clean_error=clean, fgsm_error=adv,
                         fgsm_error_unclipped=adv_raw, seconds=seconds))
        print(f"{name:>34}: clean test error {clean:.2f} %, FGSM (eps {args.eps}) error "
              f"{adv:.1f} % clipped to [0, 1], {adv_raw:.1f} % unclipped ({seconds:.0f} s)",
              flush=True)

    print(f"\nMNIST in [0, 1], MLP {tuple(args.hidden)} ReLU, dropout {args.dropout}, "
          f"Adam 1e-3 (cosine), batch 128, {args.epochs} epochs, float32, seed "
          f"{args.seed}; FGSM at eps {args.eps}\n")
    print("| model | clean test error | FGSM test error (clipped to [0, 1]) | "
          "FGSM test error (unclipped) | minutes |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['clean_error']:.2f} % | {r['fgsm_error']:.1f} % | "
              f"{r['fgsm_error_unclipped']:.1f} % | {r['seconds'] / 60:.1f} |")
    write_result("fgsm", rows)


if __name__ == "__main__":
    main()
