"""SWATS on Fashion-MNIST (Keskar & Socher 2017, "Improving Generalization
Performance by Switching from Adam to SGD").

The paper's claim: Adam makes fast early progress but generalises worse
than well-tuned SGD with momentum; SWATS starts as Adam, switches to SGD at
a rate it estimates itself (Algorithm 1) and ends close to SGD's test
error on CIFAR, Tiny ImageNet and language models (their figures; not
re-read for this reproduction).  Here: Fashion-MNIST, an MLP (`--hidden`, default 2 x 256 ReLU),
batch 128, `--epochs` epochs at a constant rate, float32, for each seed:
Adam (rate 1e-3), SGD with Nesterov momentum 0.9 (`--sgd-lr`), and SWATS
(Adam's rate; one run per `--swats-eps`, the criterion's tolerance, the
paper's 1e-9 first).  Reports the test error after epochs 1, 5 and the last,
the step of the switch and the SGD rate SWATS estimated.

    python bench/repro_swats.py [--data DIR] [--epochs 20] [--seeds 0 1]
"""

import argparse
import time

import numpy as np

from fastmlp import MLPClassifier

from _data import add_data_dir_argument, load_or_exit, write_result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_dir_argument(parser)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--sgd-lr", type=float, default=0.05)
    parser.add_argument("--swats-eps", type=float, nargs="+", default=[1e-9, 1e-3, 1e-2])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    X_train, y_train, X_test, y_test = load_or_exit("fashion-mnist", args.data_dir)
    classes = np.unique(y_train)
    configs = [("adam", dict(solver="adam", learning_rate_init=1e-3)),
               ("sgd", dict(solver="sgd", momentum=0.9, learning_rate_init=args.sgd_lr))]
    configs += [(f"swats (eps {e:g})", dict(solver="swats", learning_rate_init=1e-3,
                                            swats_eps=e)) for e in args.swats_eps]
    checkpoints = sorted({1, min(5, args.epochs), args.epochs})
    rows = []
    for seed in args.seeds:
        for name, kw in configs:
            clf = MLPClassifier(tuple(args.hidden), batch_size=128, random_state=seed,
                                n_threads=args.threads, **kw)
            tic = time.perf_counter()
            errors = {}
            for epoch in range(1, args.epochs + 1):
                clf.partial_fit(X_train, y_train, classes=classes)
                if epoch in checkpoints:
                    errors[epoch] = 100 * (1 - clf.score(X_test, y_test))
            switch = getattr(clf, "swats_switch_step_", None)
            rate = clf._opt_swats[2] if switch else None
            rows.append(dict(model=name, seed=seed, errors=errors, switch_step=switch,
                             switch_epoch=None if switch is None else
                             switch / int(np.ceil(len(X_train) / 128)),
                             sgd_rate=rate, seconds=time.perf_counter() - tic))
            print(f"seed {seed} {name:>18}: test error "
                  + ", ".join(f"epoch {e}: {v:.2f} %" for e, v in errors.items())
                  + ("" if switch is None else
                     f"; switched at step {switch} (epoch {rows[-1]['switch_epoch']:.2f}) "
                     f"to SGD at rate {rate:.4g}")
                  + f" ({rows[-1]['seconds']:.0f} s)", flush=True)

    print(f"\nFashion-MNIST, MLP {tuple(args.hidden)} ReLU, batch 128, constant rates, "
          f"{args.epochs} epochs, float32, mean over seeds {args.seeds}\n")
    print("| optimiser | " + " | ".join(f"test error after epoch {e}" for e in checkpoints)
          + " | switch (step, epoch, SGD rate) |")
    print("|---|" + "---|" * (len(checkpoints) + 1))
    for name in dict.fromkeys(r["model"] for r in rows):
        rs = [r for r in rows if r["model"] == name]
        cells = [f"{np.mean([r['errors'][e] for r in rs]):.2f} %" for e in checkpoints]
        sw = "; ".join("never" if r["switch_step"] is None else
                       f"{r['switch_step']}, {r['switch_epoch']:.2f}, {r['sgd_rate']:.3g}"
                       for r in rs) if name.startswith("swats") else ""
        print(f"| {name} | " + " | ".join(cells) + f" | {sw} |")
    write_result("swats", rows)


if __name__ == "__main__":
    main()
