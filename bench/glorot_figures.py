"""Glorot & Bengio (2010), Figures 6-7 in spirit: activations and
back-propagated gradients of a deep tanh network on MNIST at
initialisation, with the "standard" initialisation U[-1/sqrt(n), 1/sqrt(n)]
against the normalised (Xavier) one U[-sqrt(6/(n_in + n_out)),
sqrt(6/(n_in + n_out))], and what each gives after a few epochs.

Five tanh hidden layers, plain SGD, ``record_layer_stats=True``: fastmlp's
engine records each hidden layer's activations and per-sample gradients
dl/dz on a fixed probe batch after every epoch.  The paper's finding: with
the standard initialisation the back-propagated gradients shrink from the
top layer down (and the activations of the lower layers spread less),
while with the normalised one their spread stays about the same across
layers.  The figure goes to ``docs/glorot_mnist.png`` (``--out``); the
table printed gives each layer's activation and gradient standard
deviations at initialisation and after training, and the test accuracy.

    python bench/glorot_figures.py [--data-dir ../shared/datasets]
        [--width 500] [--epochs 5] [--samples 20000]
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _data import REPO_ROOT, add_data_arguments, load  # noqa: E402

from fastmlp import MLPClassifier  # noqa: E402


def main(argv=None):
    parser = add_data_arguments(argparse.ArgumentParser(description=__doc__.split("\n\n")[0]))
    parser.add_argument("--width", type=int, default=500)
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--out", default=str(REPO_ROOT / "docs" / "glorot_mnist.png"))
    args = parser.parse_args(argv)
    X, y, X_test, y_test, name = load(args.dataset, args.data_dir)
    X, y = X[:args.samples], y[:args.samples]
    fitted = {}
    print(f"{name}: {X.shape[0]} samples, {args.layers} tanh layers of {args.width}, "
          f"SGD lr 0.01 batch 32, {args.epochs} epochs")
    print("| initialisation | when | activation std per layer | gradient std per layer "
          "| test accuracy |")
    print("|---|---|---|---|---|")
    for init in ("standard", "glorot_uniform"):
        kw = dict(hidden_layer_sizes=(args.width,) * args.layers, activation="tanh",
                  solver="sgd", momentum=0.0, batch_size=32, weight_init=init,
                  record_layer_stats=True, random_state=0)
        # At initialisation, as the paper's figures: statistics are recorded
        # after an epoch, so one epoch at a learning rate of 1e-12 leaves the
        # weights as drawn.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = MLPClassifier(learning_rate_init=1e-12, max_iter=1, **kw).fit(X, y)
            tic = time.perf_counter()
            est = MLPClassifier(learning_rate_init=0.01, max_iter=args.epochs,
                                n_iter_no_change=args.epochs + 1, **kw).fit(X, y)
            seconds = time.perf_counter() - tic
        fitted[init] = start
        for when, model, acc in (("initialisation", start, ""),
                                 (f"epoch {est.n_iter_} ({seconds:.0f} s)", est,
                                  f"{est.score(X_test, y_test):.4f}")):
            stats = model.layer_stats_[-1]
            print(f"| {init} | {when} | "
                  + ", ".join(f"{v:.3f}" for v in stats["activation_std"]) + " | "
                  + ", ".join(f"{v:.1e}" for v in stats["gradient_std"]) + f" | {acc} |")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharey="row")
    titles = {"standard": "standard U[-1/sqrt(n), 1/sqrt(n)]",
              "glorot_uniform": "normalised (Xavier)"}
    for col, (init, est) in enumerate(fitted.items()):
        last = est.layer_stats_[-1]
        for row, key, label in ((0, "activation_hist", "activation value"),
                                (1, "gradient_hist", "back-propagated gradient dl/dz")):
            ax = axes[row, col]
            for layer, (counts, edges) in enumerate(last[key]):
                density = counts / max(counts.sum(), 1) / np.diff(edges)
                ax.plot((edges[:-1] + edges[1:]) / 2, density, label=f"layer {layer + 1}")
            ax.set_xlabel(label)
            if row == 1:
                ax.set_yscale("log")
            ax.set_title(f"{titles[init]}, at initialisation", fontsize="medium")
        axes[0, col].legend(fontsize="small")
    axes[0, 0].set_ylabel("density")
    axes[1, 0].set_ylabel("density (log)")
    fig.suptitle(f"{args.layers} tanh layers of {args.width} on {name}: activations "
                 "(top) and back-propagated gradients (bottom)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"figure: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
