"""The optimiser step alone: fastmlp's fused update loops against the machine's
copy bandwidth and against PyTorch's ``torch.optim`` on the same vector.

Each solver's step reads and writes whole vectors (theta, gradient, state), so
it is bound by memory traffic: we report GB/s of that traffic and its fraction
of the bandwidth of a plain copy measured in the same run with the same number
of threads.  PyTorch, when installed, runs its default (single-tensor) CPU
path and, where it has one, its fused CPU kernel.

    python bench/bench_optim.py [--sizes 1000000 10000000] [--threads 1 2]
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from fastmlp._components import SOLVERS
from fastmlp._optim import Optimizer
from fastmlp._testing import parallel_copy

# Bytes moved per parameter per step, float32: (vectors read, vectors written).
TRAFFIC = {
    "sgd": (3, 2),        # theta, grad, velocity -> theta, velocity
    "adam": (4, 3),       # theta, grad, m, v -> theta, m, v
    "adamw": (4, 3),
    "adagrad": (3, 2),    # theta, grad, G -> theta, G
    "rmsprop": (3, 2),    # theta, grad, E -> theta, E
    "adadelta": (4, 3),   # theta, grad, Eg, Edx -> theta, Eg, Edx
}

# Rate and hyper-parameters (``_optim.Optimizer``'s keywords) of each solver.
OPT = {
    "sgd": dict(lr=0.01, momentum=0.9, nesterov=True),
    "adam": dict(lr=0.001),
    "adamw": dict(lr=0.001, weight_decay=0.01),
    "adagrad": dict(lr=0.01),
    "rmsprop": dict(lr=0.01, rho=0.99),
    "adadelta": dict(lr=1.0, rho=0.9, eps=1e-6),
}


def best_time(fn, repeats, min_time=0.2):
    """Best per-call time over `repeats` rounds of enough calls to last min_time."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t0, 1e-6)
    inner = max(1, int(min_time / once))
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        best = min(best, (time.perf_counter() - t0) / inner)
    return best


def copy_bandwidth(n, n_threads, repeats):
    """GB/s of a copy of n float32 (read + write, as STREAM counts it) by
    n_threads OpenMP threads, each copying a contiguous share."""
    src = np.ones(n, np.float32)
    dst = np.zeros_like(src)
    t = best_time(lambda: parallel_copy(dst, src, n_threads), repeats)
    return 2 * 4 * n / t / 1e9


def fastmlp_step_time(solver, n, n_threads, repeats):
    rng = np.random.default_rng(0)
    theta = rng.standard_normal(n).astype(np.float32)
    grad = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    hyper = dict(OPT[solver])
    lr = hyper.pop("lr")
    opt = Optimizer(SOLVERS[solver].code, n, n, np.float32, **hyper)

    def run():
        opt.step(theta, grad, lr, n_threads=n_threads)

    return best_time(run, repeats)


def torch_step_times(solver, n, n_threads, repeats):
    """{variant: seconds} for torch.optim on one parameter of n float32."""
    import torch

    torch.set_num_threads(n_threads)
    kw = dict(OPT[solver])
    cls = {
        "sgd": torch.optim.SGD, "adam": torch.optim.Adam,
        "adamw": torch.optim.AdamW, "adagrad": torch.optim.Adagrad,
        "rmsprop": torch.optim.RMSprop, "adadelta": torch.optim.Adadelta,
    }[solver]
    if "rho" in kw and solver == "rmsprop":
        kw["alpha"] = kw.pop("rho")
    if solver == "sgd":
        kw["nesterov"] = True
    out = {}
    variants = [("default", {})]
    if solver in ("adam", "adamw", "adagrad", "sgd"):
        variants.append(("fused", {"fused": True}))
    for name, extra in variants:
        p = torch.nn.Parameter(torch.randn(n))
        p.grad = torch.randn(n) * 1e-3
        try:
            opt = cls([p], **kw, **extra)
            opt.step()
        except (RuntimeError, TypeError, ValueError):
            continue
        with torch.no_grad():
            out[name] = best_time(opt.step, repeats)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--solvers", nargs="+", default=list(TRAFFIC))
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--json", default=os.path.join(
        os.path.dirname(__file__), "results", "optim.json"))
    args = parser.parse_args(argv)

    have_torch = False
    if not args.no_torch:
        try:
            import torch  # noqa: F401

            have_torch = True
        except ImportError:
            print("PyTorch not installed: comparing with copy bandwidth only.")

    rows = []
    print("| solver | params | threads | fastmlp ms | GB/s | % of copy | "
          "torch ms (default / fused) | speed-up vs best torch |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        for nt in args.threads:
            copy_gbs = copy_bandwidth(n, nt, args.repeats)
            rows.append(dict(solver="copy", n=n, threads=nt, gbs=copy_gbs))
            print(f"| copy | {n:.0e} | {nt} | | {copy_gbs:.1f} | 100% | | |")
            for solver in args.solvers:
                t = fastmlp_step_time(solver, n, nt, args.repeats)
                r, w = TRAFFIC[solver]
                gbs = (r + w) * 4 * n / t / 1e9
                row = dict(solver=solver, n=n, threads=nt, seconds=t, gbs=gbs,
                           fraction_of_copy=gbs / copy_gbs)
                torch_txt, ratio_txt = "", ""
                if have_torch:
                    tt = torch_step_times(solver, n, nt, args.repeats)
                    row["torch"] = tt
                    torch_txt = " / ".join(f"{v * 1e3:.2f}" for v in tt.values())
                    if tt:
                        ratio = min(tt.values()) / t
                        row["speedup_vs_torch"] = ratio
                        ratio_txt = f"{ratio:.2f}x"
                rows.append(row)
                print(f"| {solver} | {n:.0e} | {nt} | {t * 1e3:.2f} | {gbs:.1f} | "
                      f"{100 * gbs / copy_gbs:.0f}% | {torch_txt} | {ratio_txt} |")
                sys.stdout.flush()
    os.makedirs(os.path.dirname(args.json), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(rows, f, indent=1)
    print(f"\nJSON written to {args.json}")


if __name__ == "__main__":
    main()
