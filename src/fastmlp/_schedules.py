"""Learning-rate schedules.

A schedule gives the rate of every optimiser step of an epoch as one vector,
computed once per epoch in Python and handed to the engine, which reads
``rates[b]`` for minibatch ``b``: no Python runs per minibatch.

scikit-learn's own schedules (``constant``, ``invscaling``, ``adaptive``) keep
their state in the estimator (they change at the end of an epoch) and are not
here.
"""

import math

import numpy as np

#: Schedules computed here, and the defaults of their parameters
#: (``lr_schedule_params``).  Steps are optimiser steps (minibatches); epochs
#: are passes over the data.
SCHEDULE_DEFAULTS = {
    "step": {"step_size": 10, "gamma": 0.1},
    "cosine": {"eta_min": 0.0, "T_max": None},
    "cosine_restarts": {"T_0": 10, "T_mult": 1, "eta_min": 0.0},
    "cyclic": {
        "max_lr": None,
        "step_size_up": 2000,
        "step_size_down": None,
        "mode": "triangular",
        "gamma": 1.0,
    },
}


def schedule_params(schedule, params):
    """Defaults of ``schedule`` updated by the user's ``params``; unknown
    keys raise a ValueError naming them."""
    defaults = SCHEDULE_DEFAULTS[schedule]
    params = {} if params is None else dict(params)
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(
            f"lr_schedule_params has keys {sorted(unknown)} that "
            f"learning_rate={schedule!r} does not take; it takes "
            f"{sorted(defaults)}."
        )
    merged = {**defaults, **params}
    if schedule == "step":
        if not merged["step_size"] >= 1:
            raise ValueError("lr_schedule_params['step_size'] must be >= 1 (epochs).")
        if not merged["gamma"] > 0:
            raise ValueError("lr_schedule_params['gamma'] must be > 0.")
    elif schedule in ("cosine", "cosine_restarts"):
        if merged["eta_min"] < 0:
            raise ValueError("lr_schedule_params['eta_min'] must be >= 0.")
        if schedule == "cosine_restarts":
            if not (int(merged["T_0"]) == merged["T_0"] and merged["T_0"] >= 1):
                raise ValueError("lr_schedule_params['T_0'] must be an integer >= 1.")
            if not (int(merged["T_mult"]) == merged["T_mult"] and merged["T_mult"] >= 1):
                raise ValueError(
                    "lr_schedule_params['T_mult'] must be an integer >= 1."
                )
        elif merged["T_max"] is not None and not merged["T_max"] >= 1:
            raise ValueError("lr_schedule_params['T_max'] must be >= 1 (epochs).")
    elif schedule == "cyclic":
        if merged["mode"] not in ("triangular", "triangular2", "exp_range"):
            raise ValueError(
                "lr_schedule_params['mode'] must be 'triangular', "
                f"'triangular2' or 'exp_range'; got {merged['mode']!r}."
            )
        if not merged["step_size_up"] >= 1:
            raise ValueError("lr_schedule_params['step_size_up'] must be >= 1.")
        down = merged["step_size_down"]
        if down is not None and not down >= 1:
            raise ValueError("lr_schedule_params['step_size_down'] must be >= 1.")
        if not merged["gamma"] > 0:
            raise ValueError("lr_schedule_params['gamma'] must be > 0.")
    return merged


def step_rate(base_lr, epoch, step_size, gamma):
    """``base_lr * gamma ** floor(epoch / step_size)`` (PyTorch's StepLR),
    with ``epoch`` counted from 0."""
    return base_lr * gamma ** (epoch // step_size)


def cosine_rate(base_lr, epoch, T_max, eta_min):
    """Cosine annealing from ``base_lr`` at epoch 0 to ``eta_min`` at epoch
    ``T_max`` (closed form of PyTorch's CosineAnnealingLR), held there after."""
    e = min(epoch, T_max)
    return eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * e / T_max))


def cosine_restarts_rate(base_lr, epoch, T_0, T_mult, eta_min):
    """SGDR (Loshchilov & Hutter; PyTorch's CosineAnnealingWarmRestarts):
    eta_min + (base_lr - eta_min) (1 + cos(pi T_cur / T_i)) / 2, where the
    period T_i starts at T_0 epochs and is multiplied by T_mult at each
    restart, and T_cur counts epochs since the last restart."""
    if T_mult == 1:
        T_cur, T_i = epoch % T_0, T_0
    else:
        n = int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult))
        T_cur = epoch - T_0 * (T_mult**n - 1) / (T_mult - 1)
        T_i = T_0 * T_mult**n
    return eta_min + 0.5 * (base_lr - eta_min) * (1 + math.cos(math.pi * T_cur / T_i))


def cyclic_rates(base_lr, steps, max_lr, step_size_up, step_size_down, mode, gamma):
    """PyTorch's CyclicLR at the 0-based optimiser steps ``steps`` (array).

    cycle = floor(1 + it / total); x = 1 + it / total - cycle; the scale
    rises as x / ratio, then falls as (x - 1) / (ratio - 1); the amplitude
    is multiplied by 1 (triangular), 1 / 2^(cycle - 1) (triangular2) or
    gamma^it (exp_range).
    """
    up = float(step_size_up)
    down = float(step_size_down) if step_size_down is not None else up
    total = up + down
    ratio = up / total
    it = np.asarray(steps, dtype=np.float64)
    cycle = np.floor(1 + it / total)
    x = 1.0 + it / total - cycle
    scale = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
    if mode == "triangular":
        amp = np.ones_like(it)
    elif mode == "triangular2":
        amp = 1.0 / 2.0 ** (cycle - 1)
    else:
        amp = gamma**it
    return base_lr + (max_lr - base_lr) * scale * amp


def epoch_rates(schedule, params, base_lr, epoch, first_step, n_steps, max_iter):
    """Rates of the ``n_steps`` optimiser steps of epoch ``epoch`` (0-based),
    whose first step is the ``first_step``-th (0-based) of the training.

    Per-epoch schedules give every step of an epoch the same rate; ``cyclic``
    changes it every step.
    """
    if schedule == "cyclic":
        max_lr = params["max_lr"] if params["max_lr"] is not None else 10 * base_lr
        return cyclic_rates(
            base_lr, np.arange(first_step, first_step + n_steps), max_lr,
            params["step_size_up"], params["step_size_down"], params["mode"],
            params["gamma"],
        )
    if schedule == "step":
        rate = step_rate(base_lr, epoch, params["step_size"], params["gamma"])
    elif schedule == "cosine":
        T_max = params["T_max"] if params["T_max"] is not None else max_iter
        rate = cosine_rate(base_lr, epoch, T_max, params["eta_min"])
    elif schedule == "cosine_restarts":
        rate = cosine_restarts_rate(
            base_lr, epoch, int(params["T_0"]), int(params["T_mult"]),
            params["eta_min"],
        )
    else:  # pragma: no cover - validated by the estimator
        raise ValueError(f"unknown schedule {schedule!r}")
    return np.full(n_steps, rate, dtype=np.float64)
