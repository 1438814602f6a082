"""The optimiser step (``_optim.Optimizer``) against the reference updates of
tests/reference.py, for every first-order solver."""

import numpy as np
import pytest
import reference as ref
from _helpers import SOLVER_NAMES

from fastmlp._aligned import is_aligned
from fastmlp._components import SOLVERS, STOCHASTIC_SOLVERS
from fastmlp._optim import Optimizer

SOLVER_CASES = [
    ("sgd", dict(lr=0.1), lambda th, g, st, t: ref.sgd_step(th, g, st, 0.1)),
    ("sgd", dict(lr=0.1, momentum=0.9),
     lambda th, g, st, t: ref.sgd_step(th, g, st, 0.1, 0.9, False)),
    ("sgd", dict(lr=0.1, momentum=0.9, nesterov=True),
     lambda th, g, st, t: ref.sgd_step(th, g, st, 0.1, 0.9, True)),
    ("adam", dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6),
     lambda th, g, st, t: ref.adam_sklearn_step(th, g, st, t, 0.01, 0.8, 0.99, 1e-6)),
    ("adamw", dict(lr=0.01, weight_decay=0.1, eps=1e-6),
     lambda th, g, st, t: ref.adamw_torch_step(th, g, st, t, 0.01, eps=1e-6,
                                               weight_decay=0.1, decay_mask=st["mask"])),
    ("adagrad", dict(lr=0.05, eps=1e-10),
     lambda th, g, st, t: ref.adagrad_step(th, g, st, 0.05, 1e-10)),
    ("rmsprop", dict(lr=0.01, rho=0.99, eps=1e-8),
     lambda th, g, st, t: ref.rmsprop_step(th, g, st, 0.01, 0.99, 1e-8)),
    ("rmsprop", dict(lr=0.01, rho=0.9, eps=1e-8, momentum=0.9),
     lambda th, g, st, t: ref.rmsprop_step(th, g, st, 0.01, 0.9, 1e-8, momentum=0.9)),
    ("rmsprop", dict(lr=0.01, rho=0.9, eps=1e-8, centered=True),
     lambda th, g, st, t: ref.rmsprop_step(th, g, st, 0.01, 0.9, 1e-8, centered=True)),
    ("rmsprop", dict(lr=0.001, rho=0.9, eps=1e-8, momentum=0.5, centered=True),
     lambda th, g, st, t: ref.rmsprop_step(th, g, st, 0.001, 0.9, 1e-8, momentum=0.5,
                                           centered=True)),
    ("adadelta", dict(lr=1.0, rho=0.9, eps=1e-6),
     lambda th, g, st, t: ref.adadelta_step(th, g, st, 1.0, 0.9, 1e-6)),
    # the Adam phase (the paper's tolerance does not fire on these gradients;
    # test_swats.py tests the switch)
    ("swats", dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6),
     lambda th, g, st, t: ref.swats_step(th, g, st, t, 0.01, 0.8, 0.99, 1e-6)),
]
#: state vectors each case keeps: sgd a velocity, adam(w) two moments,
#: adagrad a sum, rmsprop a mean square (+ a momentum buffer, + a mean
#: gradient when centred), adadelta two averages, swats Adam's two moments
#: and SGD's momentum buffer
N_STATE = [1, 1, 1, 2, 2, 1, 1, 2, 2, 3, 2, 3]


def make_optimizer(solver, kw, n, n_decay, dtype, **extra):
    """An Optimizer for a SOLVER_CASES entry; returns it and the rate."""
    kw = dict(kw)
    lr = kw.pop("lr")
    return Optimizer(SOLVERS[solver].code, n, n_decay, dtype, **kw, **extra), lr


def test_every_solver_has_a_reference_case():
    assert {case[0] for case in SOLVER_CASES} == set(STOCHASTIC_SOLVERS) \
        == set(SOLVER_NAMES)
    assert all(SOLVERS[name].stochastic for name in STOCHASTIC_SOLVERS)
    assert SOLVERS["lbfgs"].code is None and not SOLVERS["lbfgs"].stochastic


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 1e-5)])
@pytest.mark.parametrize("solver, kw, step", SOLVER_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SOLVER_CASES)])
@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("l2", [0.0, 0.003])
def test_optimizer_against_reference(solver, kw, step, dtype, rtol, n_threads, l2):
    """20 steps on fixed random gradients; 100k parameters so that the
    engine's blocks and threads are exercised; the first 60% are the
    weights: adamw decays them, and the L2 term l2 * theta is added to their
    gradient inside the step, which returns their sum of squares."""
    rng = np.random.RandomState(0)
    n = 100_003
    n_decay = 60_000
    theta = rng.randn(n).astype(dtype)
    grads = (rng.randn(20, n) * np.logspace(-3, 0, n)).astype(dtype)
    opt, lr = make_optimizer(solver, kw, n, n_decay, dtype)
    expected = theta.astype(np.float64)
    mask = (np.arange(n) < n_decay).astype(float)
    ref_state = {"mask": mask}
    for t in range(1, 21):
        ss = opt.step(theta, grads[t - 1], lr, l2, n_threads)
        assert opt.t == t
        g = grads[t - 1].astype(np.float64) + l2 * mask * expected
        expected = step(expected, g, ref_state, t)
        assert ss == pytest.approx(np.sum(expected[:n_decay] ** 2), rel=10 * rtol)
    # relative to the vector's scale: elements that cancel to ~0 have no
    # meaningful elementwise relative error in float32
    np.testing.assert_allclose(theta, expected, rtol=rtol,
                               atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case, n_state", list(zip(range(len(SOLVER_CASES)), N_STATE)),
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(SOLVER_CASES)])
def test_state_layout_and_continuation(case, n_state, dtype):
    """The state is n_state_vectors theta-sized vectors back to back, zero
    at first and 64-byte aligned; an optimiser rebuilt from a copy of the
    state and the step count continues bit for bit (partial_fit, pickles)."""
    solver, kw, _ = SOLVER_CASES[case]
    n = 5000
    rng = np.random.RandomState(1)
    opt, lr = make_optimizer(solver, kw, n, 3000, dtype)
    assert opt.n_state_vectors == n_state
    assert opt.state.shape == (n * n_state,) and opt.state.dtype == dtype
    assert is_aligned(opt.state) and np.all(opt.state == 0) and opt.t == 0
    theta = rng.randn(n).astype(dtype)
    grads = rng.randn(6, n).astype(dtype)
    whole = theta.copy()
    for g in grads:
        opt.step(whole, g, lr, 0.01)
    first, lr = make_optimizer(solver, kw, n, 3000, dtype)
    part = theta.copy()
    for g in grads[:3]:
        first.step(part, g, lr, 0.01)
    again, lr = make_optimizer(solver, kw, n, 3000, dtype, state=first.state.copy(),
                               t=first.t)
    assert again.t == 3
    for g in grads[3:]:
        again.step(part, g, lr, 0.01)
    np.testing.assert_array_equal(part, whole)
    np.testing.assert_array_equal(again.state, opt.state)


def test_optimizer_checks_its_arguments():
    code = SOLVERS["adam"].code
    with pytest.raises(ValueError, match="unknown solver code"):
        Optimizer(len(STOCHASTIC_SOLVERS), 10, 5, np.float64)
    with pytest.raises(ValueError, match="n_decay must lie in"):
        Optimizer(code, 10, 11, np.float64)
    with pytest.raises(ValueError, match="optimiser state must be 20 values of float64"):
        Optimizer(code, 10, 5, np.float64, state=np.zeros(10))
    with pytest.raises(ValueError, match="optimiser state must be"):
        Optimizer(code, 10, 5, np.float64, state=np.zeros(20, np.float32))
    # a read-only or unaligned state (an unpickled one) is copied to an aligned one
    state = np.arange(21.0)[1:]
    state.flags.writeable = False
    opt = Optimizer(code, 10, 5, np.float64, state=state)
    assert is_aligned(opt.state) and opt.state.flags.writeable
    np.testing.assert_array_equal(opt.state, state)
    with pytest.raises(ValueError, match="theta and grad must have"):
        opt.step(np.zeros(9), np.zeros(9), 0.1)
