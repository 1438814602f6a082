"""Compare fastmlp's learning-rate schedules with PyTorch's own schedulers.

Drives the real ``torch.optim.lr_scheduler`` classes (StepLR,
CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR) over an SGD
optimiser of one parameter, stepped as a training loop steps them (once per
epoch, or once per batch for CyclicLR, without an ``epoch`` argument), and
prints, per schedule, the largest relative difference from fastmlp's rates
over a grid of parameters and thousands of epochs (or steps). Differences
are rounding only: PyTorch updates StepLR and CosineAnnealingLR recursively,
fastmlp computes closed forms. tests/test_schedules.py checks the same
against plain-Python ports of these schedulers, without needing torch.

    python bench/check_schedules_torch.py
"""

import importlib.util
import itertools
import pathlib
import sys
import warnings

import numpy as np

try:
    from fastmlp import _schedules
except Exception:  # noqa: BLE001 - any failure of the package's __init__
    # The rest of the package (its compiled engine, the estimators) may be
    # missing or mid-rebuild; the schedules are pure Python, so load them from
    # the source tree.
    _path = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastmlp" / "_schedules.py"
    _spec = importlib.util.spec_from_file_location("_fastmlp_schedules", _path)
    _schedules = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_schedules)

LR = 0.1
N_EPOCHS = 5000
N_STEPS = 20_000  # CyclicLR, stepped per batch
EPOCH_SIZE = 37  # steps per epoch handed to fastmlp's cyclic schedule
TINY = 1e-300  # below it, StepLR's recursive product is (nearly) subnormal


def torch_rates(make_scheduler, n):
    """The rate of each of ``n`` epochs (or batches) under torch's scheduler."""
    import torch

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=LR, momentum=0.9)
    scheduler = make_scheduler(opt)
    rates = [opt.param_groups[0]["lr"]]
    for _ in range(n - 1):
        opt.step()
        scheduler.step()
        rates.append(opt.param_groups[0]["lr"])
    return np.array(rates)


def fastmlp_rates(name, params, n, per_step=False):
    schedule = _schedules.make_schedule(name, LR, params=params)
    if per_step:
        out, first = [], 0
        while first < n:
            k = min(EPOCH_SIZE, n - first)
            out.append(schedule.rates(first, k))
            first += k
            schedule.end_epoch(first)
        return np.concatenate(out)
    out = np.empty(n)
    for e in range(n):
        out[e] = schedule.rates(e, 1)[0]
        schedule.end_epoch(e + 1)
    return out


def max_rel_diff(a, b):
    """max |a - b| / max(|a|, |b|) over the rates above TINY (0 if equal)."""
    scale = np.maximum(np.abs(a), np.abs(b))
    keep = scale >= TINY
    if not keep.any():
        return 0.0
    return float(np.max(np.abs(a - b)[keep] / scale[keep]))


def grids():
    """(schedule, params, torch scheduler factory, n, per_step) for every case."""
    from torch.optim import lr_scheduler as L

    for step_size, gamma in itertools.product(
        [1, 2, 3, 7, 10, 30, 100, 1000], [0.1, 0.5, 0.9, 0.99, 1.0, 1.01]
    ):
        yield ("step", {"step_size": step_size, "gamma": gamma},
               lambda o, s=step_size, g=gamma: L.StepLR(o, s, g), N_EPOCHS, False)
    for T_max, eta_min in itertools.product(
        [1, 2, 3, 10, 100, 1000, 5000], [0.0, 1e-4, 0.05, 0.2]
    ):
        # compared up to T_max: after it fastmlp holds eta_min, torch rises again
        yield ("cosine", {"T_max": T_max, "eta_min": eta_min},
               lambda o, t=T_max, m=eta_min: L.CosineAnnealingLR(o, t, m), T_max + 1, False)
    for T_0, T_mult, eta_min in itertools.product(
        [1, 2, 3, 5, 10, 50], [1, 2, 3, 5, 9, 10, 17], [0.0, 1e-3]
    ):
        yield ("cosine_restarts", {"T_0": T_0, "T_mult": T_mult, "eta_min": eta_min},
               lambda o, t=T_0, m=T_mult, e=eta_min: L.CosineAnnealingWarmRestarts(o, t, m, e),
               N_EPOCHS, False)
    modes = [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.999),
             ("exp_range", 0.99999)]
    for (mode, gamma), (up, down), max_lr in itertools.product(
        modes, [(1, None), (2, 1), (7, 5), (3, 333), (100, None), (2000, None)], [None, 0.05]
    ):
        n = N_STEPS
        if mode == "triangular2":
            n = min(n, 1024 * (up + (down or up)))  # torch overflows after 1024 cycles
        torch_max_lr = 10 * LR if max_lr is None else max_lr
        yield ("cyclic", {"max_lr": max_lr, "step_size_up": up, "step_size_down": down,
                          "mode": mode, "gamma": gamma},
               lambda o, a=torch_max_lr, u=up, d=down, m=mode, g=gamma: L.CyclicLR(
                   o, LR, a, u, d, m, g),
               n, True)


def main():
    try:
        import torch
    except ImportError:
        print("torch is not installed; nothing to compare.")
        return 1
    warnings.simplefilter("ignore")  # torch's deprecation chatter
    print(f"fastmlp schedules vs torch {torch.__version__} (torch.optim.lr_scheduler), "
          f"lr_init={LR}, {N_EPOCHS} epochs ({N_STEPS} steps for cyclic)")
    print("relative difference |fastmlp - torch| / max(|fastmlp|, |torch|), "
          f"rates >= {TINY:g}")
    print(f"{'schedule':<16}{'configs':>8}{'rates':>10}{'bit-equal':>10}"
          f"{'max rel diff':>14}  worst config")
    results = {}
    for name, params, make, n, per_step in grids():
        got = fastmlp_rates(name, params, n, per_step)
        want = torch_rates(make, n)
        diff = max_rel_diff(got, want)
        configs, rates, equal, worst, worst_params = results.get(name, (0, 0, 0, 0.0, None))
        if diff > worst:
            worst, worst_params = diff, params
        results[name] = (configs + 1, rates + n, equal + int(np.sum(got == want)), worst,
                         worst_params)
    for name, (configs, rates, equal, worst, params) in results.items():
        shown = "-" if params is None else ", ".join(f"{k}={v}" for k, v in params.items())
        print(f"{name:<16}{configs:>8}{rates:>10}{equal / rates:>10.1%}{worst:>14.3g}  {shown}")
    print("cosine is compared up to T_max: after it fastmlp holds eta_min, torch's rate "
          "rises again.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
