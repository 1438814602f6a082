"""fastmlp's learning-rate schedules against their references.

- PyTorch's StepLR, CosineAnnealingLR, CosineAnnealingWarmRestarts and
  CyclicLR (plain-Python ports, tests/reference_schedules.py) over thousands
  of epochs or steps, for a grid of parameters and a property test;
- scikit-learn's ``SGDOptimizer`` for ``'invscaling'`` and ``'adaptive'``;
- fastmlp's formulas before the rewrite, bit for bit, except where the old
  ``cosine_restarts`` misplaced a restart;
- parameter validation, and continuation from ``get_state()``.

Only ``fastmlp._schedules`` is imported (pure Python), not the engine.
"""

import ast
import importlib.util
import itertools
import json
import math
import pathlib

import numpy as np
import pytest
from sklearn.neural_network._stochastic_optimizers import SGDOptimizer

import reference_schedules as ref

try:
    from fastmlp import _schedules as S
except Exception:  # noqa: BLE001 - any failure of the package's __init__
    # The rest of the package (its compiled engine, the estimators) may be
    # mid-rebuild; the schedules need none of it, so load the module from the
    # source tree.
    _path = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastmlp" / "_schedules.py"
    _spec = importlib.util.spec_from_file_location("_fastmlp_schedules", _path)
    S = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(S)

try:
    import hypothesis
    from hypothesis import strategies as st
except ImportError:  # not among the package's test requirements
    hypothesis = None

LR = 0.1
N_EPOCHS = 5000
EPS = np.finfo(np.float64).eps


def assert_close(got, want, offset=0.0):
    """Closed forms vs PyTorch's recursive updates: equal up to rounding.

    Relative 1e-12, plus two absolute terms: the closed forms add and
    subtract ``offset`` (``eta_min``, or for ``'cyclic'`` the larger of
    ``lr_init`` and ``max_lr``), which costs a few ``EPS * offset`` when the
    rate is much smaller; and below 1e-300 StepLR's recursive product
    becomes subnormal and loses its relative precision.
    """
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=max(1e-300, 8 * EPS * offset))


def epoch_rates(schedule, n_epochs, n_steps=3):
    """The rate of each of ``n_epochs`` epochs of ``n_steps`` steps (100
    samples each), as the training driver drives a per-epoch schedule."""
    out = np.empty(n_epochs)
    for e in range(n_epochs):
        out[e] = schedule.rates(e * n_steps, n_steps)[0]
        schedule.end_epoch((e + 1) * 100)
    return out


def step_rates(schedule, epoch_sizes):
    """The rates of every step of epochs of ``epoch_sizes`` steps."""
    out, first = [], 0
    for n in epoch_sizes:
        out.append(schedule.rates(first, n))
        first += n
        schedule.end_epoch(first * 10)
    return np.concatenate(out)


def uneven_epochs(n_steps):
    """Epoch sizes from 1 to 110 (in a fixed order) adding up to ``n_steps``."""
    sizes, total = [], 0
    for n in itertools.cycle([7, 1, 13, 40, 19, 2, 110]):
        if total + n >= n_steps:
            return sizes + [n_steps - total]
        sizes.append(n)
        total += n


# --- PyTorch: grids over thousands of epochs ------------------------------------------


@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.999, 1.001])
@pytest.mark.parametrize("step_size", [1, 3, 4999])
def test_step_matches_torch(step_size, gamma):
    params = {"step_size": step_size, "gamma": gamma}
    got = epoch_rates(S.make_schedule("step", LR, params=params), N_EPOCHS)
    assert_close(got, ref.torch_rates(ref.StepLR(LR, step_size, gamma), N_EPOCHS))


def test_step_with_gamma_above_one_overflows_to_inf():
    """As PyTorch's recursive product (Python's float ** int would raise)."""
    schedule = S.make_schedule("step", LR, params={"step_size": 1, "gamma": 2.0},
                               state={"epoch": 1100, "lr": LR})
    assert schedule.rates(0, 2).tolist() == [math.inf, math.inf]


@pytest.mark.parametrize("eta_min", [0.0, 1e-4, 0.05, 0.2])
@pytest.mark.parametrize("T_max", [1, 2, 3, 7, 10, 100, 1000, 5000])
def test_cosine_matches_torch_up_to_T_max(T_max, eta_min):
    params = {"T_max": T_max, "eta_min": eta_min}
    got = epoch_rates(S.make_schedule("cosine", LR, params=params), T_max + 1)
    want = ref.torch_rates(ref.CosineAnnealingLR(LR, T_max, eta_min), T_max + 1)
    assert_close(got, want, eta_min)
    assert got[-1] == eta_min


def test_cosine_holds_eta_min_after_T_max_where_torch_rises():
    params = {"T_max": 10, "eta_min": 0.01}
    got = epoch_rates(S.make_schedule("cosine", LR, params=params), 40)
    want = ref.torch_rates(ref.CosineAnnealingLR(LR, 10, 0.01), 40)
    assert_close(got[:11], want[:11], 0.01)
    assert (got[10:] == 0.01).all()
    assert want[15] > 0.05 and np.isclose(want[20], LR)  # torch: the cosine goes on


def test_cosine_T_max_defaults_to_max_iter():
    got = epoch_rates(S.make_schedule("cosine", LR, max_iter=30), 40)
    want = epoch_rates(S.make_schedule("cosine", LR, params={"T_max": 30}, max_iter=7), 40)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("T_mult", [1, 2, 3, 10])
@pytest.mark.parametrize("T_0, eta_min", [(1, 0.0), (7, 1e-3)])
def test_cosine_restarts_matches_torch(T_0, T_mult, eta_min):
    params = {"T_0": T_0, "T_mult": T_mult, "eta_min": eta_min}
    got = epoch_rates(S.make_schedule("cosine_restarts", LR, params=params), N_EPOCHS)
    want = ref.torch_rates(ref.CosineAnnealingWarmRestarts(LR, T_0, T_mult, eta_min), N_EPOCHS)
    assert_close(got, want, eta_min)


@pytest.mark.parametrize("up, down, max_lr", [
    (1, None, None), (2, 1, 0.05), (7, 5, None), (3, 333, 0.05), (2000, None, None),
])
@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_matches_torch(mode, up, down, max_lr):
    n = 8000
    if mode == "triangular2":
        n = min(n, 1024 * (up + (down or up)))  # PyTorch overflows after 1024 cycles
    params = {"max_lr": max_lr, "step_size_up": up, "step_size_down": down,
              "mode": mode, "gamma": 0.9997}
    got = step_rates(S.make_schedule("cyclic", LR, params=params), uneven_epochs(n))
    torch_max_lr = 10 * LR if max_lr is None else max_lr
    want = ref.torch_rates(ref.CyclicLR(LR, torch_max_lr, up, down, mode, 0.9997), n)
    assert_close(got, want, max(LR, torch_max_lr))


def test_cyclic_triangular2_goes_on_after_1024_cycles():
    """PyTorch raises OverflowError there (2.0 ** 1024); the amplitude's
    limit is 0, i.e. lr_init, with no warning."""
    schedule = S.make_schedule("cyclic", LR, params={"step_size_up": 1, "mode": "triangular2"})
    with np.errstate(all="raise"):
        rates = schedule.rates(2040, 20)
    assert np.isfinite(rates).all() and rates.min() >= LR
    assert (rates[-8:] == LR).all()


def test_per_epoch_schedules_repeat_one_rate_and_cyclic_changes_every_step():
    for name in ("constant", "invscaling", "adaptive", "step", "cosine", "cosine_restarts"):
        rates = S.make_schedule(name, LR).rates(17, 5)
        assert rates.dtype == np.float64 and rates.shape == (5,)
        assert (rates == rates[0]).all()
        assert S.make_schedule(name, LR).rates(0, 0).shape == (0,)
    rates = S.make_schedule("cyclic", LR, params={"step_size_up": 10}).rates(3, 4)
    assert rates.dtype == np.float64 and (np.diff(rates) > 0).all()


if hypothesis is not None:
    _counts = st.integers(1, 40)

    @st.composite
    def _schedule_and_params(draw):
        name = draw(st.sampled_from(["step", "cosine", "cosine_restarts", "cyclic"]))
        rates = st.floats(1e-6, 10.0)
        if name == "step":
            params = {"step_size": draw(_counts), "gamma": draw(st.floats(0.01, 1.05))}
        elif name == "cosine":
            params = {"T_max": draw(st.integers(1, 600)), "eta_min": draw(st.floats(0.0, 1.0))}
        elif name == "cosine_restarts":
            params = {"T_0": draw(_counts), "T_mult": draw(st.integers(1, 12)),
                      "eta_min": draw(st.floats(0.0, 1.0))}
        else:
            params = {"max_lr": draw(rates), "step_size_up": draw(_counts),
                      "step_size_down": draw(st.none() | _counts),
                      "mode": draw(st.sampled_from(["triangular", "triangular2", "exp_range"])),
                      "gamma": draw(st.floats(0.9, 1.0))}
        return name, draw(rates), params


@pytest.mark.skipif(hypothesis is None, reason="hypothesis is not installed")
def test_every_schedule_matches_torch_property():
    @hypothesis.settings(max_examples=40, deadline=None, database=None)
    @hypothesis.given(_schedule_and_params())
    def check(case):
        name, lr, p = case
        schedule = S.make_schedule(name, lr, params=p)
        n = 600
        if name == "step":
            want = ref.torch_rates(ref.StepLR(lr, p["step_size"], p["gamma"]), n)
        elif name == "cosine":
            n = p["T_max"] + 1
            want = ref.torch_rates(ref.CosineAnnealingLR(lr, p["T_max"], p["eta_min"]), n)
        elif name == "cosine_restarts":
            want = ref.torch_rates(
                ref.CosineAnnealingWarmRestarts(lr, p["T_0"], p["T_mult"], p["eta_min"]), n)
        else:
            want = ref.torch_rates(
                ref.CyclicLR(lr, p["max_lr"], p["step_size_up"], p["step_size_down"],
                             p["mode"], p["gamma"]), n)
            assert_close(step_rates(schedule, uneven_epochs(n)), want, max(lr, p["max_lr"]))
            return
        assert_close(epoch_rates(schedule, n), want, p.get("eta_min", 0.0))

    check()


# --- scikit-learn's schedules ------------------------------------------------------------


@pytest.mark.parametrize("power_t", [0.0, 0.25, 0.5, 1, 1.0, 2.5])
def test_invscaling_matches_sklearn(power_t):
    schedule = S.make_schedule("invscaling", LR, power_t=power_t)
    sk = SGDOptimizer([np.zeros(1)], learning_rate_init=LR, lr_schedule="invscaling",
                      power_t=power_t)
    t = 0
    for e in range(N_EPOCHS):
        rates = schedule.rates(0, 2)
        assert rates[0] == rates[1] == sk.learning_rate  # bit for bit
        t += 150 + e % 7  # partial_fit may pass batches of any size
        schedule.end_epoch(t)
        sk.iteration_ends(t)
    assert schedule.on_plateau() == (True, " Stopping.")


def test_adaptive_matches_sklearn(capsys):
    schedule = S.make_schedule("adaptive", 0.3)
    sk = SGDOptimizer([np.zeros(1)], learning_rate_init=0.3, lr_schedule="adaptive")
    rng = np.random.RandomState(0)
    for e in range(N_EPOCHS):
        assert (schedule.rates(0, 3) == sk.learning_rate).all()
        schedule.end_epoch(e * 10)
        sk.iteration_ends(e * 10)
        if rng.rand() < 0.02:  # a plateau
            stop, suffix = schedule.on_plateau()
            assert sk.trigger_stopping("msg", verbose=True) == stop
            assert capsys.readouterr().out == "msg" + suffix + "\n"
            if stop:
                break
    assert stop and suffix == " Learning rate too small. Stopping."
    assert schedule.lr == sk.learning_rate <= 1e-6


@pytest.mark.parametrize(
    "name", ["constant", "invscaling", "step", "cosine", "cosine_restarts", "cyclic"]
)
def test_other_schedules_stop_at_a_plateau(name, capsys):
    schedule = S.make_schedule(name, LR)
    before = schedule.rates(0, 4)
    assert schedule.on_plateau() == (True, " Stopping.")
    np.testing.assert_array_equal(schedule.rates(0, 4), before)
    sk = SGDOptimizer([np.zeros(1)], learning_rate_init=LR, lr_schedule="constant")
    assert sk.trigger_stopping("msg", verbose=True)
    assert capsys.readouterr().out == "msg Stopping.\n"


def test_constant():
    schedule = S.make_schedule("constant", 0.25)
    assert (epoch_rates(schedule, 50) == 0.25).all()


# --- fastmlp before the rewrite ------------------------------------------------------------


def test_step_cosine_cyclic_bit_identical_to_old_code():
    lr = 0.37
    epochs = range(N_EPOCHS)  # Python ints, as the old estimator passed
    for step_size, gamma in itertools.product([1, 10], [0.1, 0.97]):
        got = epoch_rates(S.make_schedule("step", lr, params={"step_size": step_size,
                                                              "gamma": gamma}), N_EPOCHS)
        want = [ref.step_rate(lr, e, step_size, gamma) for e in epochs]
        np.testing.assert_array_equal(got, want)
    for T_max, eta_min in itertools.product([7, 4000], [0.0, 0.5]):
        got = epoch_rates(S.make_schedule("cosine", lr, params={"T_max": T_max,
                                                                "eta_min": eta_min}), N_EPOCHS)
        want = [ref.cosine_rate(lr, e, T_max, eta_min) for e in epochs]
        np.testing.assert_array_equal(got, want)
    steps = np.arange(8000)
    for mode, (up, down, max_lr) in itertools.product(
        ["triangular", "triangular2", "exp_range"],
        [(1, None, None), (7, 5, 0.02), (2000, 300, None)],
    ):
        p = {"max_lr": max_lr, "step_size_up": up, "step_size_down": down, "mode": mode,
             "gamma": 0.9995}
        got = step_rates(S.make_schedule("cyclic", lr, params=p), uneven_epochs(steps.size))
        with np.errstate(over="ignore"):  # triangular2 after 1024 cycles
            want = ref.cyclic_rates(lr, steps, 10 * lr if max_lr is None else max_lr,
                                    up, down, mode, 0.9995)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("T_mult", [1, 2, 3, 10, 17])
def test_cosine_restarts_bit_identical_to_old_code_where_its_period_was_right(T_mult):
    """The old code took the restart period from a rounded logarithm; where
    that gave the right period its values are kept bit for bit, elsewhere
    (always a restart misplaced by one epoch) the new value is PyTorch's."""
    lr, eta_min = 0.1, 1e-3
    epochs = range(N_EPOCHS)
    wrong = {}
    for T_0 in [1, 11]:
        p = {"T_0": T_0, "T_mult": T_mult, "eta_min": eta_min}
        got = epoch_rates(S.make_schedule("cosine_restarts", lr, params=p), N_EPOCHS)
        old = np.array([ref.cosine_restarts_rate(lr, e, T_0, T_mult, eta_min) for e in epochs])
        # the true periods, and the rates, from PyTorch's recursion
        torch = ref.CosineAnnealingWarmRestarts(lr, T_0, T_mult, eta_min)
        period, torch_rates = [], []
        for _ in epochs:
            period.append(torch.T_i)
            torch_rates.append(torch.lr)
            torch.step()
        right = np.equal(period, [ref.old_restart_period(e, T_0, T_mult) for e in epochs])
        np.testing.assert_array_equal(got[right], old[right])
        assert (got[~right] != old[~right]).all()
        assert_close(got[~right], np.array(torch_rates)[~right], eta_min)
        if not right.all():
            wrong[T_0] = np.flatnonzero(~right).tolist()
    # all at restarts, where the old code gave eta_min instead of lr_init
    expected = {3: {1: [121], 11: [1331]}, 10: {1: [111], 11: [1221]},
                17: {1: [307], 11: [3377]}}
    assert wrong == expected.get(T_mult, {})


@pytest.mark.parametrize("T_0, T_mult, epoch, restart", [
    # the old code restarted one epoch late (eta_min instead of lr_init) ...
    (1, 3, 121, True), (1, 3, 29524, True), (1, 3, 797161, True), (1, 9, 7381, True),
    (1, 10, 111, True), (1, 10, 111111, True), (10, 10, 1110, True), (3, 3, 88572, True),
    (1, 11, 1948717, True),
    # ... or, at large epochs, one epoch early (lr_init instead of ~eta_min)
    (1, 2, 2**48 - 2, False), (1, 5, 596046447753905, False),
])
def test_cosine_restarts_periods_the_old_code_got_wrong(T_0, T_mult, epoch, restart):
    p = {"T_0": T_0, "T_mult": T_mult, "eta_min": 0.0}
    # jump straight to the epoch, and to the one before
    new = [S.make_schedule("cosine_restarts", LR, params=p, state={"epoch": e, "lr": LR})
           .rates(0, 1)[0] for e in (epoch - 1, epoch)]
    old = [ref.cosine_restarts_rate(LR, e, T_0, T_mult, 0.0) for e in (epoch - 1, epoch)]
    if restart:  # a period ends at epoch - 1 and the next starts at epoch
        assert new[0] < 1e-3 * LR and new[1] == LR
        assert old[1] == 0.0  # T_cur = T_i: the end of the previous period
    else:  # epoch is the last of its period; the next starts at epoch + 1
        assert new[1] < 1e-3 * LR
        assert old[1] == pytest.approx(LR)
        assert S.make_schedule("cosine_restarts", LR, params=p,
                               state={"epoch": epoch + 1, "lr": LR}).rates(0, 1)[0] == LR


# --- validation ----------------------------------------------------------------------------

nan, inf = float("nan"), float("inf")

BAD_PARAMS = [
    ("cyclic", "max_lr", -0.02),  # was accepted: gradient ascent
    ("cyclic", "max_lr", 0),
    ("cyclic", "max_lr", nan),  # was accepted
    ("cyclic", "max_lr", inf),
    ("cyclic", "max_lr", True),
    ("cyclic", "max_lr", "0.1"),
    ("cosine", "eta_min", nan),  # was accepted
    ("cosine", "eta_min", -1e-3),
    ("cosine", "eta_min", inf),
    ("cosine", "eta_min", None),
    ("cosine_restarts", "eta_min", nan),  # was accepted
    ("cosine_restarts", "eta_min", -0.1),
    ("cosine_restarts", "T_0", inf),  # raised OverflowError
    ("cosine_restarts", "T_0", nan),
    ("cosine_restarts", "T_0", 0),
    ("cosine_restarts", "T_0", -3),
    ("cosine_restarts", "T_0", 2.5),
    ("cosine_restarts", "T_0", True),
    ("cosine_restarts", "T_0", "10"),
    ("cosine_restarts", "T_0", 2**53 + 1),
    ("cosine_restarts", "T_0", 10**400),
    ("cosine_restarts", "T_mult", 0),
    ("cosine_restarts", "T_mult", 1.5),
    ("cosine_restarts", "T_mult", inf),
    ("cosine", "T_max", 0),
    ("cosine", "T_max", 2.5),
    ("cosine", "T_max", inf),
    ("cosine", "T_max", nan),
    ("step", "step_size", 0),
    ("step", "step_size", 2.5),
    ("step", "step_size", inf),
    ("step", "step_size", False),
    ("step", "step_size", None),
    ("step", "gamma", 0),
    ("step", "gamma", -0.5),
    ("step", "gamma", nan),
    ("step", "gamma", inf),
    ("step", "gamma", "0.1"),
    ("step", "gamma", None),
    ("cyclic", "gamma", 0.0),
    ("cyclic", "gamma", 1.5),  # exp_range's amplitude would grow without bound
    ("cyclic", "gamma", nan),
    ("cyclic", "step_size_up", 0),
    ("cyclic", "step_size_up", 2.5),
    ("cyclic", "step_size_up", inf),
    ("cyclic", "step_size_up", None),
    ("cyclic", "step_size_down", 0),
    ("cyclic", "step_size_down", 2.5),
    ("cyclic", "step_size_down", nan),
    ("cyclic", "mode", "exp"),
    ("cyclic", "mode", None),
    ("cyclic", "mode", 1),
    ("cyclic", "mode", ["triangular"]),
]


@pytest.mark.parametrize("name, key, value", BAD_PARAMS,
                         ids=[f"{n}-{k}-{v!r:.12}" for n, k, v in BAD_PARAMS])
def test_bad_parameter_names_key_and_value(name, key, value):
    for call in (lambda: S.check_schedule_params(name, {key: value}),
                 lambda: S.make_schedule(name, LR, params={key: value})):
        with pytest.raises(ValueError) as exc:
            call()
        assert f"lr_schedule_params[{key!r}]" in str(exc.value)
        assert f"got {value!r}." in str(exc.value)


def test_defaults_and_accepted_values():
    for name in S.SCHEDULES:
        for empty in (None, {}):
            assert S.check_schedule_params(name, empty) == S.SCHEDULE_PARAMS.get(name, {})
    assert set(S.SCHEDULE_PARAMS) < set(S.SCHEDULES)
    # integral floats (e.g. from JSON) become ints; numbers become floats
    p = S.check_schedule_params("step", {"step_size": 10.0, "gamma": 1})
    assert p == {"step_size": 10, "gamma": 1.0} and type(p["step_size"]) is int
    p = S.check_schedule_params("cosine_restarts", {"T_0": np.int64(5), "T_mult": 2.0})
    assert p == {"T_0": 5, "T_mult": 2, "eta_min": 0.0} and type(p["T_0"]) is int
    p = S.check_schedule_params("cyclic", {"max_lr": np.float64(0.5), "step_size_up": 4.0,
                                           "step_size_down": 2**53, "gamma": 1})
    assert p["max_lr"] == 0.5 and p["step_size_up"] == 4 and p["gamma"] == 1.0
    assert S.check_schedule_params("cosine", {"eta_min": 0, "T_max": None})["eta_min"] == 0.0
    assert S.check_schedule_params("cyclic", {"max_lr": None})["max_lr"] is None


def test_unknown_keys_are_named_with_the_accepted_ones():
    with pytest.raises(ValueError, match=r"\['gama'\].*'step'.*\['gamma', 'step_size'\]"):
        S.check_schedule_params("step", {"gama": 0.5})
    with pytest.raises(ValueError, match=r"\['T_min', 1\]"):
        S.check_schedule_params("cosine", {1: 2, "T_min": 3})


@pytest.mark.parametrize("name", ["constant", "invscaling", "adaptive"])
def test_sklearn_schedules_take_no_parameters(name):
    with pytest.raises(ValueError, match=r"lr_schedule_params is given \(\{'gamma': 0.1\}\)"
                                         rf".*learning_rate='{name}' takes no parameters"):
        S.make_schedule(name, LR, params={"gamma": 0.1})


def test_bad_name_and_params_type():
    with pytest.raises(ValueError, match=r"learning_rate must be one of .*'cyclic'.*got 'cosin'"):
        S.make_schedule("cosin", LR)
    with pytest.raises(ValueError, match=r"must be a dict or None; got \[\('gamma', 0.1\)\]"):
        S.check_schedule_params("step", [("gamma", 0.1)])


@pytest.mark.parametrize("lr_init", [0, 0.0, -0.1, nan, inf, True, "0.1", None])
def test_bad_lr_init(lr_init):
    with pytest.raises(ValueError, match=rf"lr_init must be a finite number > 0; got {lr_init!r}"):
        S.make_schedule("step", lr_init)


def test_bad_power_t_and_max_iter():
    for power_t in (nan, -0.5, inf, "0.5", None):
        with pytest.raises(ValueError, match=rf"power_t .* got {power_t!r}"):
            S.make_schedule("invscaling", LR, power_t=power_t)
        S.make_schedule("constant", LR, power_t=power_t)  # used by invscaling only
    for max_iter in (0, 2.5, nan):
        with pytest.raises(ValueError, match=rf"max_iter .* got {max_iter!r}"):
            S.make_schedule("cosine", LR, max_iter=max_iter)
        S.make_schedule("cosine", LR, params={"T_max": 5}, max_iter=max_iter)


@pytest.mark.parametrize("state", [
    {}, [0, 0.1], {"epoch": 1, "lr": 0.1, "t": 3}, {"epoch": -1, "lr": 0.1},
    {"epoch": 1.0, "lr": 0.1}, {"epoch": True, "lr": 0.1}, {"epoch": 1, "lr": nan},
    {"epoch": 1, "lr": -0.1}, {"epoch": 1, "lr": "0.1"},
])
def test_bad_state(state):
    with pytest.raises(ValueError, match=r"state"):
        S.make_schedule("adaptive", LR, state=state)


# --- continuation ----------------------------------------------------------------------------

CONTINUED = [
    ("constant", None), ("invscaling", None), ("adaptive", None),
    ("step", {"step_size": 3, "gamma": 0.5}), ("cosine", {"T_max": 40, "eta_min": 1e-3}),
    ("cosine_restarts", {"T_0": 2, "T_mult": 3}),
    ("cyclic", {"step_size_up": 5, "step_size_down": 3, "mode": "triangular2"}),
]


def _drive(schedule, epochs, log):
    """Run ``epochs`` (a range) of 4 steps, 50 samples each, a plateau every
    7th epoch; append every step's rate to ``log``."""
    for e in epochs:
        log.extend(schedule.rates(4 * e, 4))
        schedule.end_epoch(50 * (e + 1))
        if e % 7 == 6:
            schedule.on_plateau()


@pytest.mark.parametrize("name, params", CONTINUED)
def test_get_state_continues_exactly(name, params):
    whole = []
    _drive(S.make_schedule(name, 0.2, params=params, power_t=0.3, max_iter=30), range(60), whole)
    pieces = []
    state = None
    for start, stop in [(0, 1), (1, 17), (17, 18), (18, 60)]:  # e.g. partial_fit calls
        schedule = S.make_schedule(name, 0.2, params=params, power_t=0.3, max_iter=30, state=state)
        _drive(schedule, range(start, stop), pieces)
        state = json.loads(json.dumps(schedule.get_state()))  # builtins only
        assert {type(v) for v in schedule.get_state().values()} <= {int, float}
    np.testing.assert_array_equal(pieces, whole)
    assert state["epoch"] == 60


# --- the module ----------------------------------------------------------------------------


def test_module_imports_only_math_numbers_numpy():
    tree = ast.parse(pathlib.Path(S.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    assert imported == {"math", "numbers", "numpy"}

