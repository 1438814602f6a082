"""Reference learning-rate schedules for tests/test_schedules.py.

1. Plain-Python ports of PyTorch 2.13's schedulers (torch/optim/lr_scheduler.py)
   as PyTorch computes them when stepped without an ``epoch`` argument: once
   per epoch (StepLR, CosineAnnealingLR, CosineAnnealingWarmRestarts), or once
   per batch (CyclicLR), one parameter group. StepLR and CosineAnnealingLR are
   recursive there (each rate derived from the previous one), which is what
   fastmlp's closed forms are checked against. Each class mirrors PyTorch's:
   the constructor performs the initial ``step()``, ``lr`` is the
   optimiser's current rate (the rate of the coming epoch or batch), and
   ``step()`` is called after every epoch (or batch).

2. fastmlp's rate formulas before the schedules became objects (fastmlp
   0.1.0's ``_schedules.py``, copied verbatim), to show that the rewrite
   keeps their values bit for bit, and where it does not: the old
   ``cosine_restarts_rate`` finds the restart period with a floating-point
   logarithm, which misplaces some restarts.
"""

import math

import numpy as np


# --- 1. PyTorch 2.13 ---------------------------------------------------------------


class StepLR:
    """``torch.optim.lr_scheduler.StepLR``: multiply the current rate by
    ``gamma`` at every non-zero multiple of ``step_size`` (``get_lr``)."""

    def __init__(self, lr, step_size, gamma=0.1):
        self.step_size = step_size
        self.gamma = gamma
        self.lr = lr
        self.last_epoch = -1
        self.step()

    def step(self):
        self.last_epoch += 1
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return
        self.lr = self.lr * self.gamma


class CosineAnnealingLR:
    """``torch.optim.lr_scheduler.CosineAnnealingLR``, recursive ``get_lr``.

    ``last_epoch >= 0`` resumes as PyTorch does (``base_lr`` being the group's
    ``initial_lr`` and ``lr`` its current rate).
    """

    def __init__(self, lr, T_max, eta_min=0.0, last_epoch=-1, base_lr=None):
        self.T_max = T_max
        self.eta_min = eta_min
        self.base_lr = lr if base_lr is None else base_lr
        self.lr = lr
        self.last_epoch = last_epoch
        # LRScheduler._initial_step: a step in "initial mode"
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def step(self):
        self._step_count += 1
        self.last_epoch += 1
        e, T_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return
        if self._step_count == 1 and e > 0:
            # Unreachable since PyTorch added _is_initial (the first step is
            # the initial one); kept as PyTorch has it.
            self.lr = eta_min + (self.base_lr - eta_min) * (
                1 + math.cos(e * math.pi / T_max)
            ) / 2
        elif (e - 1 - T_max) % (2 * T_max) == 0:
            # the trough of the cosine, where the ratio below would be 0 / 0
            self.lr = self.lr + (self.base_lr - eta_min) * (
                1 - math.cos(math.pi / T_max)
            ) / 2
        else:
            self.lr = (1 + math.cos(math.pi * e / T_max)) / (
                1 + math.cos(math.pi * (e - 1) / T_max)
            ) * (self.lr - eta_min) + eta_min


class CosineAnnealingWarmRestarts:
    """``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts``, ``step()``
    without an epoch: ``T_cur`` counts up; when it reaches ``T_i`` it wraps
    around and ``T_i`` is multiplied by ``T_mult``."""

    def __init__(self, lr, T_0, T_mult=1, eta_min=0.0):
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.base_lr = lr
        self.T_cur = -1
        self.last_epoch = -1
        self.step()

    def step(self):
        if self.last_epoch < 0:
            # the initial step passes epoch=0: since T_0 >= 1, its branch
            # "epoch < T_0" sets T_i = T_0, T_cur = 0
            self.T_i = self.T_0
            self.T_cur = 0
            self.last_epoch = 0
        else:
            self.last_epoch += 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        self.lr = self.eta_min + (self.base_lr - self.eta_min) * (
            1 + math.cos(math.pi * self.T_cur / self.T_i)
        ) / 2


class CyclicLR:
    """``torch.optim.lr_scheduler.CyclicLR`` (``get_lr``), stepped per batch;
    ``step_size_up`` and ``step_size_down`` are converted to float as
    PyTorch does. Like PyTorch, ``'triangular2'`` raises OverflowError after
    1024 cycles (``2.0 ** 1024``)."""

    def __init__(self, base_lr, max_lr, step_size_up=2000, step_size_down=None,
                 mode="triangular", gamma=1.0):
        self.base_lr = base_lr
        self.max_lr = max_lr
        step_size_up = float(step_size_up)
        step_size_down = (
            float(step_size_down) if step_size_down is not None else step_size_up
        )
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        self.mode = mode
        self.gamma = gamma
        self.scale_mode = "iterations" if mode == "exp_range" else "cycle"
        self.last_epoch = -1
        self.step()

    def scale_fn(self, x):
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def step(self):
        self.last_epoch += 1
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        base_height = (self.max_lr - self.base_lr) * scale_factor
        if self.scale_mode == "cycle":
            self.lr = self.base_lr + base_height * self.scale_fn(cycle)
        else:
            self.lr = self.base_lr + base_height * self.scale_fn(self.last_epoch)


def torch_rates(scheduler, n):
    """The rates of the first ``n`` epochs (or batches): the optimiser's rate
    after 0, 1, ..., n - 1 ``step()`` calls."""
    rates = [scheduler.lr]
    for _ in range(n - 1):
        scheduler.step()
        rates.append(scheduler.lr)
    return np.array(rates)


# --- 2. fastmlp before the rewrite (verbatim) ------------------------------------------


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


def old_restart_period(epoch, T_0, T_mult):
    """The period length T_i that the old ``cosine_restarts_rate`` uses at
    ``epoch`` (its floating-point logarithm, for T_mult > 1)."""
    if T_mult == 1:
        return T_0
    return T_0 * T_mult ** int(math.log(epoch / T_0 * (T_mult - 1) + 1, T_mult))
