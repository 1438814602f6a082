"""Learning-rate schedules.

A schedule gives the rate of every optimiser step of an epoch as one vector,
computed once per epoch in Python and handed to the engine, which reads
``rates[b]`` for minibatch ``b``: no Python runs per minibatch.

The training driver builds a schedule with :func:`make_schedule` and, for
every epoch, calls :meth:`Schedule.rates` before it, :meth:`Schedule.end_epoch`
after it and, when training would stop for lack of improvement,
:meth:`Schedule.on_plateau`. :meth:`Schedule.get_state` and
``make_schedule(..., state=)`` carry a schedule across ``partial_fit`` calls.

Seven schedules:

- scikit-learn's ``'constant'``, ``'invscaling'`` and ``'adaptive'``, with its
  semantics (``SGDOptimizer``): the rate changes only between epochs;
- PyTorch's ``'step'`` (StepLR), ``'cosine'`` (CosineAnnealingLR),
  ``'cosine_restarts'`` (CosineAnnealingWarmRestarts), stepped once per
  epoch, and ``'cyclic'`` (CyclicLR), stepped once per optimiser step. They
  are computed in closed form from the epoch (or step) index, so they equal
  PyTorch's (partly recursive) updates up to rounding; their parameters come
  from ``lr_schedule_params`` (:data:`SCHEDULE_PARAMS`). Where they depart
  from PyTorch (``'cosine'`` after ``T_max``, momentum not cycled by
  ``'cyclic'``) the class says so.

Every parameter is validated (:func:`check_schedule_params`), so that a bad
one raises before training rather than giving negative or NaN rates.
"""

import math
import numbers

import numpy as np

SCHEDULES = (
    "constant", "invscaling", "adaptive", "step", "cosine", "cosine_restarts",
    "cyclic",
)

#: Parameters (``lr_schedule_params`` keys) and their defaults, for the
#: schedules that take any. Steps are optimiser steps (minibatches); epochs
#: are passes over the data.
SCHEDULE_PARAMS = {
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

_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")

# Largest accepted count (step sizes, periods): float64 holds every integer up
# to 2**53, so the rate formulas, which mix counts with floats, stay exact.
_MAX_COUNT = 2**53


# --- validation ----------------------------------------------------------------


def _as_float(value):
    """``value`` as a float if it is a real number (bools and strings are
    not), else None; an int too large for a float becomes inf."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except OverflowError:
        return math.inf


def _real(what, value, requirement, ok):
    """``value`` as a float if it is a finite real number for which ``ok``
    holds; else a ValueError naming ``what`` and ``value``."""
    x = _as_float(value)
    if x is None or not math.isfinite(x) or not ok(x):
        raise ValueError(f"{what} must be {requirement}; got {value!r}.")
    return x


def _count(what, value):
    """``value`` as an int if it is an integer from 1 to 2**53.

    Integral floats (``10.0``, as from a JSON or YAML configuration) are
    accepted and converted; ``2.5``, NaN and inf are not.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        n = int(value)
    else:
        x = _as_float(value)
        n = int(x) if x is not None and math.isfinite(x) and x.is_integer() else 0
    if not 1 <= n <= _MAX_COUNT:
        raise ValueError(f"{what} must be an integer from 1 to 2**53; got {value!r}.")
    return n


def _check_param(schedule, key, value):
    """The validated (normalised) value of parameter ``key`` of ``schedule``."""
    what = f"lr_schedule_params[{key!r}]"
    if key in ("step_size", "T_0", "T_mult", "step_size_up"):
        return _count(what, value)
    if key in ("T_max", "step_size_down"):
        return None if value is None else _count(what, value)
    if key == "eta_min":
        return _real(what, value, "a finite number >= 0", lambda x: x >= 0)
    if key == "max_lr":
        if value is None:
            return None
        return _real(what, value, "None or a finite number > 0", lambda x: x > 0)
    if key == "gamma" and schedule == "cyclic":
        # exp_range's amplitude is multiplied by gamma ** step: gamma > 1
        # would grow it without bound (to inf, then NaN rates); PyTorch
        # documents its scale functions as staying within [0, 1].
        return _real(what, value, "a finite number in (0, 1]", lambda x: 0 < x <= 1)
    if key == "gamma":
        return _real(what, value, "a finite number > 0", lambda x: x > 0)
    # key == "mode"
    if not (isinstance(value, str) and value in _CYCLIC_MODES):
        raise ValueError(f"{what} must be one of {list(_CYCLIC_MODES)}; got {value!r}.")
    return value


def check_schedule_params(name, params):
    """Validate ``lr_schedule_params`` for schedule ``name``.

    Parameters
    ----------
    name : str
        One of :data:`SCHEDULES`.
    params : dict or None
        The user's parameters; None or ``{}`` means the defaults. The
        schedules ``'constant'``, ``'invscaling'`` and ``'adaptive'`` take
        none.

    Returns
    -------
    dict
        The defaults of :data:`SCHEDULE_PARAMS` updated by ``params``
        (``{}`` for a schedule without parameters), normalised: counts as
        ints, rates and factors as floats.

    Raises
    ------
    ValueError
        Naming the offending key and value: an unknown key (the message lists
        the accepted ones), a count (``step_size``, ``T_0``, ``T_mult``,
        ``T_max``, ``step_size_up``, ``step_size_down``) that is not an
        integer >= 1 (integral floats such as ``10.0`` are accepted), a
        ``gamma`` that is not finite and > 0 (and <= 1 for ``'cyclic'``), an
        ``eta_min`` that is not finite and >= 0, a ``max_lr`` that is neither
        None nor finite and > 0, a ``mode`` other than ``'triangular'``,
        ``'triangular2'`` and ``'exp_range'``. Bools, strings, NaN and inf
        are never numbers here.
    """
    if name not in SCHEDULES:
        raise ValueError(f"learning_rate must be one of {list(SCHEDULES)}; got {name!r}.")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        raise ValueError(f"lr_schedule_params must be a dict or None; got {params!r}.")
    defaults = SCHEDULE_PARAMS.get(name, {})
    if params and not defaults:
        raise ValueError(
            f"lr_schedule_params is given ({dict(params)!r}) but "
            f"learning_rate={name!r} takes no parameters."
        )
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(
            f"lr_schedule_params has keys {sorted(unknown, key=repr)} that "
            f"learning_rate={name!r} does not take; it takes {sorted(defaults)}."
        )
    merged = {**defaults, **params}
    return {key: _check_param(name, key, value) for key, value in merged.items()}


def _check_state(state):
    """``state`` (from :meth:`Schedule.get_state`) with validated values."""
    if not isinstance(state, dict) or set(state) != {"epoch", "lr"}:
        raise ValueError(
            "state must be a dict returned by Schedule.get_state(), with keys "
            f"['epoch', 'lr']; got {state!r}."
        )
    epoch = state["epoch"]
    if not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"state['epoch'] must be an integer >= 0; got {epoch!r}.")
    # >= 0, not > 0: invscaling's rate can underflow to 0 after many samples.
    lr = _real("state['lr']", state["lr"], "a finite number >= 0", lambda x: x >= 0)
    return {"epoch": int(epoch), "lr": lr}


# --- schedules -----------------------------------------------------------------


class Schedule:
    """A learning-rate schedule (base class).

    Built by :func:`make_schedule`; one subclass per schedule. The rate is
    one per epoch, from the epoch index or from the schedule's state, except
    for ``'cyclic'``, whose rate changes every step.

    Parameters
    ----------
    lr_init : float
        Initial learning rate, finite and > 0.
    params : dict
        Parameters as returned by :func:`check_schedule_params`.
    state : dict or None
        A :meth:`get_state` result to continue from, or None to start.

    Attributes
    ----------
    epoch : int
        Number of :meth:`end_epoch` calls since the schedule started, earlier
        ``partial_fit`` calls included: the 0-based index of the coming epoch.
    lr : float
        The rate scikit-learn's schedules carry from epoch to epoch; for the
        others, whose rate is a function of the epoch or step index, it stays
        ``lr_init``.
    """

    name = None

    def __init__(self, lr_init, params, state=None):
        self.lr_init = lr_init
        self.params = params
        self.epoch = 0 if state is None else state["epoch"]
        self.lr = lr_init if state is None else state["lr"]

    def _rate(self, epoch):
        """The rate of every step of epoch ``epoch`` (0-based)."""
        return self.lr

    def rates(self, first_step, n_steps):
        """Learning rates of the optimiser steps of the coming epoch.

        Parameters
        ----------
        first_step : int
            0-based index, counted since the schedule started, of the epoch's
            first optimiser step (the driver's optimiser step count).
        n_steps : int
            Number of optimiser steps (minibatches) of the epoch.

        Returns
        -------
        ndarray of float64, shape (n_steps,)
            The rate of each step. Per-epoch schedules repeat one rate;
            ``'cyclic'`` changes it every step.
        """
        return np.full(n_steps, self._rate(self.epoch), dtype=np.float64)

    def end_epoch(self, n_samples_seen):
        """Advance to the next epoch.

        Parameters
        ----------
        n_samples_seen : int
            The estimator's ``t_``: samples seen so far, all calls included
            (used by ``'invscaling'``).
        """
        self.epoch += 1

    def on_plateau(self):
        """React to a plateau: training would stop for lack of improvement.

        Returns
        -------
        stop : bool
            Whether training stops.
        message : str
            scikit-learn's suffix for the verbose message: ``" Stopping."``
            (``'adaptive'`` says otherwise).
        """
        return True, " Stopping."

    def get_state(self):
        """The state to continue from with ``make_schedule(..., state=)``.

        Returns
        -------
        dict
            ``{"epoch": int, "lr": float}``, Python builtins only.
        """
        return {"epoch": int(self.epoch), "lr": float(self.lr)}


class ConstantSchedule(Schedule):
    """scikit-learn's ``'constant'``: lr_init at every step."""

    name = "constant"


class InvScalingSchedule(Schedule):
    """scikit-learn's ``'invscaling'``: lr_init for the first epoch, then
    ``lr_init / (n_samples_seen + 1) ** power_t`` after each epoch, where
    ``n_samples_seen`` is the estimator's ``t_`` (as ``SGDOptimizer.
    iteration_ends(t_)``, once per epoch).

    Takes ``power_t`` (keyword; finite, >= 0) besides the base class's
    parameters.
    """

    name = "invscaling"

    def __init__(self, lr_init, params, state=None, *, power_t):
        super().__init__(lr_init, params, state)
        _real("power_t", power_t, "a finite number >= 0", lambda x: x >= 0)
        # kept as given: an int power_t gives scikit-learn's exact int power
        self.power_t = power_t

    def end_epoch(self, n_samples_seen):
        super().end_epoch(n_samples_seen)
        self.lr = self.lr_init / (n_samples_seen + 1) ** self.power_t


class AdaptiveSchedule(Schedule):
    """scikit-learn's ``'adaptive'``: lr_init, divided by 5 at each plateau
    until it is <= 1e-6, when training stops (``SGDOptimizer.
    trigger_stopping``)."""

    name = "adaptive"

    def on_plateau(self):
        if self.lr <= 1e-6:
            return True, " Learning rate too small. Stopping."
        self.lr /= 5.0
        return False, " Setting learning rate to %f" % self.lr


class StepSchedule(Schedule):
    """``lr_init * gamma ** (epoch // step_size)``: PyTorch's StepLR stepped
    once per epoch.

    With ``gamma > 1`` the rate eventually overflows to inf, as PyTorch's
    recursive product does, and training diverges.
    """

    name = "step"

    def _rate(self, epoch):
        try:
            return self.lr_init * self.params["gamma"] ** (epoch // self.params["step_size"])
        except OverflowError:  # Python's float ** int raises instead of giving inf
            return math.inf


class CosineSchedule(Schedule):
    """Cosine annealing: ``eta_min + (lr_init - eta_min) (1 + cos(pi epoch /
    T_max)) / 2``, the closed form of PyTorch's CosineAnnealingLR stepped
    once per epoch, with ``T_max`` defaulting to ``max_iter``.

    Unlike PyTorch, whose rate rises again after ``T_max`` (the cosine goes
    on), the rate stays at ``eta_min`` from epoch ``T_max`` on.

    Takes ``max_iter`` (keyword; the default ``T_max``) besides the base
    class's parameters.
    """

    name = "cosine"

    def __init__(self, lr_init, params, state=None, *, max_iter):
        super().__init__(lr_init, params, state)
        T_max = params["T_max"]
        self.T_max = _count("max_iter", max_iter) if T_max is None else T_max

    def _rate(self, epoch):
        eta_min = self.params["eta_min"]
        e = min(epoch, self.T_max)
        return eta_min + 0.5 * (self.lr_init - eta_min) * (
            1 + math.cos(math.pi * e / self.T_max)
        )


def _restart_period(epoch, T_0, T_mult):
    """``(T_cur, T_i)``: epochs since the last restart and length of the
    current period at ``epoch``, the periods being T_0, T_0 T_mult,
    T_0 T_mult^2, ...; exact integers.

    A closed form through ``log(epoch / T_0 (T_mult - 1) + 1, T_mult)`` (as
    fastmlp had, and PyTorch's ``step(epoch)``) rounds the logarithm and
    misplaces some restarts by one epoch (e.g. T_0=1, T_mult=3: epoch 121;
    T_mult=10: epoch 111); so the periods are counted instead, one loop pass
    per restart so far.
    """
    if T_mult == 1:
        return epoch % T_0, T_0
    start, T_i = 0, T_0
    while epoch - start >= T_i:
        start += T_i
        T_i *= T_mult
    return epoch - start, T_i


class CosineRestartsSchedule(Schedule):
    """SGDR (Loshchilov & Hutter 2017), PyTorch's CosineAnnealingWarmRestarts
    stepped once per epoch: ``eta_min + (lr_init - eta_min) (1 + cos(pi
    T_cur / T_i)) / 2``, where the period ``T_i`` starts at ``T_0`` epochs
    and is multiplied by ``T_mult`` at each restart, and ``T_cur`` counts the
    epochs since the last restart (so each period starts at lr_init)."""

    name = "cosine_restarts"

    def period_ended(self):
        """Whether the epochs run so far end a restart period (the next
        epoch restarts at lr_init): snapshot ensembles keep the model then."""
        p = self.params
        return self.epoch > 0 and _restart_period(self.epoch, p["T_0"], p["T_mult"])[0] == 0

    def _rate(self, epoch):
        p = self.params
        T_cur, T_i = _restart_period(epoch, p["T_0"], p["T_mult"])
        eta_min = p["eta_min"]
        return eta_min + 0.5 * (self.lr_init - eta_min) * (
            1 + math.cos(math.pi * T_cur / T_i)
        )


class CyclicSchedule(Schedule):
    """PyTorch's CyclicLR (Smith 2017), stepped once per optimiser step.

    With ``it`` the 0-based step, ``total = step_size_up + step_size_down``
    and ``ratio = step_size_up / total``: ``cycle = floor(1 + it / total)``,
    ``x = 1 + it / total - cycle``; the scale rises as ``x / ratio``, then
    falls as ``(x - 1) / (ratio - 1)``; the rate is ``lr_init + (max_lr -
    lr_init) * scale * amplitude``, the amplitude being 1 (``'triangular'``),
    ``1 / 2 ** (cycle - 1)`` (``'triangular2'``; 0 after 1024 cycles, where
    PyTorch raises OverflowError) or ``gamma ** it`` (``'exp_range'``).
    ``max_lr`` defaults to 10 lr_init. Momentum is not cycled (PyTorch's
    ``cycle_momentum=True`` would).
    """

    name = "cyclic"

    def rates(self, first_step, n_steps):
        p = self.params
        base_lr = self.lr_init
        max_lr = p["max_lr"] if p["max_lr"] is not None else 10 * base_lr
        up = float(p["step_size_up"])
        down = float(p["step_size_down"]) if p["step_size_down"] is not None else up
        total = up + down
        ratio = up / total
        it = np.arange(first_step, first_step + n_steps, dtype=np.float64)
        cycle = np.floor(1 + it / total)
        x = 1.0 + it / total - cycle
        scale = np.where(x <= ratio, x / ratio, (x - 1) / (ratio - 1))
        # 2 ** (cycle - 1) overflows to inf after 1024 cycles and gamma ** it
        # underflows to 0: both give the amplitude's limit, 0.
        with np.errstate(over="ignore", under="ignore"):
            if p["mode"] == "triangular":
                amp = np.ones_like(it)
            elif p["mode"] == "triangular2":
                amp = 1.0 / 2.0 ** (cycle - 1)
            else:
                amp = p["gamma"] ** it
            return base_lr + (max_lr - base_lr) * scale * amp


_CLASSES = {
    cls.name: cls
    for cls in (
        ConstantSchedule, InvScalingSchedule, AdaptiveSchedule, StepSchedule,
        CosineSchedule, CosineRestartsSchedule, CyclicSchedule,
    )
}


def make_schedule(name, lr_init, *, params=None, power_t=0.5, max_iter=200, state=None):
    """Build the schedule ``name``.

    Parameters
    ----------
    name : str
        One of :data:`SCHEDULES`.
    lr_init : float
        Initial learning rate, finite and > 0.
    params : dict or None, default=None
        ``lr_schedule_params``, checked by :func:`check_schedule_params`.
    power_t : float, default=0.5
        Exponent of ``'invscaling'`` (finite, >= 0); ignored by the others.
    max_iter : int, default=200
        Default ``T_max`` of ``'cosine'``; ignored by the others.
    state : dict or None, default=None
        A :meth:`Schedule.get_state` result to continue from (e.g. in
        ``partial_fit``), or None to start.

    Returns
    -------
    Schedule

    Raises
    ------
    ValueError
        For a bad ``name``, ``lr_init``, ``params``, ``power_t`` (for
        ``'invscaling'``), ``max_iter`` (for ``'cosine'`` without ``T_max``)
        or ``state``, naming it and its value.
    """
    lr_init = _real("lr_init", lr_init, "a finite number > 0", lambda x: x > 0)
    params = check_schedule_params(name, params)
    if state is not None:
        state = _check_state(state)
    extra = {"invscaling": {"power_t": power_t}, "cosine": {"max_iter": max_iter}}
    return _CLASSES[name](lr_init, params, state, **extra.get(name, {}))
