"""SWATS (Keskar & Socher 2017): the engine's switching criterion and both
phases against a NumPy implementation of the paper's Algorithm 1
(tests/reference.py), for any thread count; the switch step as a fitted
attribute that partial_fit, warm starts, rollbacks and pickles keep."""

import pickle

import numpy as np
import pytest

import reference as ref
from fastmlp import MLPClassifier, MLPRegressor
from fastmlp._components import SOLVERS
from fastmlp._optim import Optimizer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

N, N_DECAY, STEPS, LR = 70_001, 40_000, 40, 0.01


def gradients(seed=0):
    """Noisy gradients of a quadratic bowl around a drifting minimum: the
    criterion's gap wanders, so a tolerance can be chosen that it meets
    first at a known step."""
    rng = np.random.RandomState(seed)
    theta = rng.randn(N)
    scale = np.logspace(-2, 0, N)
    noise = rng.randn(STEPS, N) * 0.3
    return theta, scale, noise


def reference_run(theta, scale, noise, eps_switch, l2=0.0):
    mask = np.arange(N) < N_DECAY
    state = {}
    th = theta.copy()
    for t in range(1, STEPS + 1):
        g = scale * th + scale * noise[t - 1] + l2 * mask * th
        th = ref.swats_step(th, g, state, t, LR, eps_switch=eps_switch)
    return th, state


def pick_tolerance(gaps, first=5):
    """A tolerance that the criterion meets first at a step k >= first: a
    new running minimum of the gaps (k > 1), halfway to the one before."""
    best = min(gaps[1:first - 1])
    for k in range(first - 1, len(gaps)):
        if gaps[k] < best:
            return k + 1, 0.5 * (gaps[k] + best)
        best = min(best, gaps[k])
    pytest.skip("no new minimum of the gap")


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("l2", [0.0, 0.01])
def test_switch_and_sgd_phase_follow_algorithm_1(n_threads, l2):
    theta, scale, noise = gradients()
    _, never = reference_run(theta, scale, noise, 0.0, l2)
    assert not never.get("switch")
    k, tol = pick_tolerance(never["gaps"])
    expected, state = reference_run(theta, scale, noise, tol, l2)
    assert state["switch"] == k < STEPS
    opt = Optimizer(SOLVERS["swats"].code, N, N_DECAY, np.float64, beta1=0.9,
                    beta2=0.999, eps=1e-8, swats_eps=tol)
    th = theta.copy()
    for t in range(1, STEPS + 1):
        g = scale * th + scale * noise[t - 1]
        opt.step(th, g, LR, l2, n_threads)
        if t == k - 1:
            assert opt.swats[1] == 0
    lam, switch, rate, lr0 = opt.swats
    assert switch == k
    assert rate == pytest.approx(state["rate"], rel=1e-12)
    assert lam == pytest.approx(state["lambda"], rel=1e-12)
    np.testing.assert_allclose(th, expected, rtol=1e-10, atol=1e-12)


def test_same_bits_for_any_thread_count():
    theta, scale, noise = gradients(1)
    results = []
    for n_threads in (1, 2):
        opt = Optimizer(SOLVERS["swats"].code, N, N_DECAY, np.float32, swats_eps=1e-3)
        th = theta.astype(np.float32)
        for t in range(STEPS):
            opt.step(th, (scale * th + scale * noise[t]).astype(np.float32), LR, 0.0,
                     n_threads)
        results.append((th, opt.swats))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]


def test_sgd_rate_follows_the_schedule():
    """After the switch the rate is L * lr_t / lr_switch."""
    theta, scale, noise = gradients(2)
    opt = Optimizer(SOLVERS["swats"].code, N, N_DECAY, np.float64, swats_eps=1e3)
    th = theta.copy()
    opt.step(th, scale * th, LR)
    opt.step(th, scale * th, LR)          # k = 2: any gap is below 1e3
    lam, switch, rate, lr0 = opt.swats
    assert switch == 2 and lr0 == LR
    state = {"switch": 2, "rate": rate, "lr0": lr0}
    expected = th.copy()
    for lr in (LR, LR / 2, LR / 10):
        g = scale * th
        opt.step(th, g, lr)
        expected = ref.swats_step(expected, g, state, 3, lr)
    np.testing.assert_allclose(th, expected, rtol=1e-12)


def problem(n=200, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 8)
    return X, (X[:, 0] + X[:, 1] ** 2 > 1).astype(int)


def test_estimator_records_the_switch():
    X, y = problem()
    kw = dict(hidden_layer_sizes=(16,), solver="swats", random_state=0, max_iter=20,
              batch_size=50)
    never = MLPClassifier(**kw).fit(X, y)
    assert never.swats_switch_step_ is None          # the paper's 1e-9
    early = MLPClassifier(swats_eps=1.0, **kw).fit(X, y)
    assert early.swats_switch_step_ == 2            # the first step it may
    assert early.loss_curve_[-1] < early.loss_curve_[0]
    assert not hasattr(MLPClassifier((4,), max_iter=2).fit(X, y), "swats_switch_step_")


def test_partial_fit_warm_start_and_pickle_keep_the_phase():
    X, y = problem()
    kw = dict(hidden_layer_sizes=(16,), solver="swats", random_state=0, batch_size=50,
              swats_eps=1.0)
    whole = MLPRegressor(max_iter=4, tol=0.0, n_iter_no_change=100, shuffle=False, **kw)
    whole.fit(X, y.astype(float))
    part = MLPRegressor(shuffle=False, **kw)
    for _ in range(2):
        part.partial_fit(X, y.astype(float))
    part = pickle.loads(pickle.dumps(part))
    assert part.swats_switch_step_ == 2
    for _ in range(2):
        part.partial_fit(X, y.astype(float))
    np.testing.assert_array_equal(part._model.theta, whole._model.theta)
    # a warm start is a fresh optimiser: Adam again, a new switch
    part.set_params(warm_start=True, max_iter=1, swats_eps=1e-9).fit(X, y.astype(float))
    assert part.swats_switch_step_ is None


@pytest.mark.parametrize("value", [0.0, -1.0, "x"])
def test_invalid_swats_eps(value):
    with pytest.raises(ValueError, match="swats_eps"):
        MLPClassifier(solver="swats", swats_eps=value).fit(*problem())
