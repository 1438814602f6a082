"""The engine against the NumPy oracle of tests/reference.py."""

import numpy as np
import pytest
import reference as ref

from fastmlp import _engine
from fastmlp._network import ACTIVATIONS, OUTPUTS, Network, opt_params
from fastmlp._schedules import epoch_rates, schedule_params

PAIRS = sorted(OUTPUTS)
ACTS = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu"]
TOL = {np.float64: 1e-10, np.float32: 2e-5}


def make_problem(out, loss, n=37, d=5, k=3, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    if loss == "log_loss":
        Y = np.eye(k)[rng.randint(0, k, n)]
    elif loss == "binary_log_loss" or out == "logistic":
        Y = (rng.rand(n, k) > 0.5).astype(float) if loss != "squared_error" else rng.rand(n, k)
    elif loss == "poisson":
        Y = rng.poisson(1.5, (n, k)).astype(float)
    elif out == "softplus":
        Y = rng.rand(n, k) * 2
    else:
        Y = rng.randn(n, k)
    sw = rng.rand(n) + 0.5
    return X.astype(dtype), Y.astype(dtype), sw.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", [(), (6,), (7, 4), (5, 6, 4)])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("pair", PAIRS)
def test_forward_loss_gradient(pair, act, hidden, dtype):
    out, loss = pair
    X, Y, sw = make_problem(out, loss, dtype=dtype)
    net = Network([X.shape[1], *hidden, Y.shape[1]], act, out, loss, dtype)
    theta = net.init_params(np.random.RandomState(1))
    coefs = [c.astype(np.float64) for c in net.coefs(theta)]
    inter = [b.astype(np.float64) for b in net.intercepts(theta)]
    X64, Y64, sw64 = (a.astype(np.float64) for a in (X, Y, sw))
    tol = TOL[dtype]

    # forward: predictions after the output activation
    _, A = ref.forward(coefs, inter, X64, act, out)
    np.testing.assert_allclose(net.forward(theta, X), A[-1], rtol=tol, atol=tol)

    # loss (scikit-learn's) and the gradient, with sample weights, L2, and
    # the rows processed in chunks smaller than the data
    alpha = 0.3
    loss_val, grad = net.loss_and_grad(theta, X, Y, sw, alpha=alpha, capacity=8)
    expected = ref.sklearn_loss(coefs, inter, X64, Y64, act, out, loss, sw64, alpha)
    np.testing.assert_allclose(loss_val, expected, rtol=tol)
    gW, gb = ref.backward(coefs, inter, X64, Y64, act, out, loss, sw64, alpha)
    expected_grad = net.pack(gW, gb).astype(np.float64)
    scale = np.abs(expected_grad).max()
    np.testing.assert_allclose(grad, expected_grad, rtol=tol, atol=tol * scale)


def test_hand_worked_step():
    """One SGD step on a 3-2-1 network, worked by hand (as scikit-learn's
    test_fit): logistic hidden units, identity output, squared error."""
    X = np.array([[0.6, 0.8, 0.7]])
    Y = np.array([[0.0]])
    net = Network([3, 2, 1], "logistic", "identity", "squared_error", np.float64)
    coefs = [np.array([[0.1, 0.2], [0.3, 0.1], [0.5, 0.0]]), np.array([[0.1], [0.2]])]
    inter = [np.array([0.1, 0.1]), np.array([1.0])]
    theta = net.pack(coefs, inter)
    # z1 = [0.6*0.1 + 0.8*0.3 + 0.7*0.5 + 0.1, 0.6*0.2 + 0.8*0.1 + 0 + 0.1]
    #    = [0.75, 0.3];  a1 = sigmoid(z1) = [0.679178699, 0.574442516]
    # z2 = 0.1*0.679178699 + 0.2*0.574442516 + 1.0 = 1.182806373
    # loss = 0.5 * 1.182806373**2 = 0.699515
    loss, grad = net.loss_and_grad(theta, X, Y)
    assert loss == pytest.approx(0.5 * 1.182806373**2, rel=1e-8)
    # delta2 = 1.182806373; dW2 = a1 * delta2; db2 = delta2
    gW2 = net.coefs(grad)[1]
    np.testing.assert_allclose(gW2[:, 0], [0.679178699 * 1.182806373,
                                           0.574442516 * 1.182806373], rtol=1e-8)
    assert net.intercepts(grad)[1][0] == pytest.approx(1.182806373, rel=1e-8)
    # delta1 = delta2 * W2 * a1 (1 - a1)
    #        = 1.182806373 * [0.1 * 0.217895, 0.2 * 0.244458] = [0.025773, 0.057829]
    d1 = 1.182806373 * np.array([0.1, 0.2]) * np.array([0.679178699, 0.574442516]) * (
        1 - np.array([0.679178699, 0.574442516]))
    np.testing.assert_allclose(net.intercepts(grad)[0], d1, rtol=1e-8)
    np.testing.assert_allclose(net.coefs(grad)[0], np.outer(X[0], d1), rtol=1e-8)


# --- optimisers -----------------------------------------------------------------

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
]


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
    opt = opt_params(solver=solver, n_decay=n_decay, **kw)
    state = np.zeros(n * _engine.n_state_vectors(opt), dtype)
    expected = theta.astype(np.float64)
    mask = (np.arange(n) < n_decay).astype(float)
    ref_state = {"mask": mask}
    for t in range(1, 21):
        ss = _engine.optimizer_step(theta, grads[t - 1], state, t, opt, n_threads, l2)
        g = grads[t - 1].astype(np.float64) + l2 * mask * expected
        expected = step(expected, g, ref_state, t)
        assert ss == pytest.approx(np.sum(expected[:n_decay] ** 2), rel=10 * rtol)
    # relative to the vector's scale: elements that cancel to ~0 have no
    # meaningful elementwise relative error in float32
    np.testing.assert_allclose(theta, expected, rtol=rtol,
                               atol=rtol * np.abs(expected).max())


# --- schedules ------------------------------------------------------------------


def test_step_and_cosine_schedules():
    p = schedule_params("step", {"step_size": 3, "gamma": 0.5})
    got = [epoch_rates("step", p, 0.2, e, 0, 4, 30)[0] for e in range(12)]
    np.testing.assert_allclose(got, [ref.step_lr(0.2, e, 3, 0.5) for e in range(12)])
    p = schedule_params("cosine", {"eta_min": 0.01})
    got = [epoch_rates("cosine", p, 0.2, e, 0, 4, 30)[0] for e in range(35)]
    np.testing.assert_allclose(got, [ref.cosine_lr(0.2, e, 30, 0.01) for e in range(35)],
                               rtol=1e-12)


@pytest.mark.parametrize("T_0, T_mult", [(10, 1), (3, 2), (2, 3)])
def test_sgdr_schedule(T_0, T_mult):
    p = schedule_params("cosine_restarts", {"T_0": T_0, "T_mult": T_mult, "eta_min": 0.001})
    got = [epoch_rates("cosine_restarts", p, 0.1, e, 0, 1, 100)[0] for e in range(60)]
    np.testing.assert_allclose(got, ref.sgdr_lrs(0.1, 60, T_0, T_mult, 0.001),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["triangular", "triangular2", "exp_range"])
def test_cyclic_schedule(mode):
    p = schedule_params("cyclic", {"max_lr": 0.5, "step_size_up": 7,
                                   "step_size_down": 5, "mode": mode, "gamma": 0.99})
    # several cycles, cut into epochs of 9 steps
    got = np.concatenate([epoch_rates("cyclic", p, 0.1, e, 9 * e, 9, 100) for e in range(8)])
    expected = [ref.cyclic_lr(0.1, 0.5, it, 7, 5, mode, 0.99) for it in range(72)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_schedule_rates_reach_the_engine():
    """A per-step rate vector drives the updates: plain SGD with rates r_b on a
    linear model gives theta_b+1 = theta_b - r_b g_b, checked step by step."""
    from fastmlp import MLPRegressor

    rng = np.random.RandomState(0)
    X = rng.randn(40, 3)
    y = X @ [1.0, -2.0, 0.5]
    est = MLPRegressor(hidden_layer_sizes=(), solver="sgd", momentum=0.0,
                       learning_rate="cyclic", learning_rate_init=0.01,
                       lr_schedule_params={"max_lr": 0.05, "step_size_up": 3},
                       batch_size=10, shuffle=False, max_iter=3, alpha=0.0,
                       dtype="float64", random_state=0, tol=0, n_iter_no_change=100)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    # replay: 3 epochs x 4 batches with the reference rates
    net = est._network
    theta = net.init_params(np.random.RandomState(0))
    Y = y.reshape(-1, 1)
    for it in range(12):
        b = it % 4
        rate = ref.cyclic_lr(0.01, 0.05, it, 3)
        _, g = net.loss_and_grad(theta, X[10 * b:10 * b + 10], Y[10 * b:10 * b + 10])
        theta = theta - rate * g
    np.testing.assert_allclose(est._theta, theta, rtol=1e-12)
    np.testing.assert_allclose(est.learning_rate_curve_,
                               [ref.cyclic_lr(0.01, 0.05, 4 * e, 3) for e in range(3)])


def test_activation_codes_cover_every_name():
    assert set(ACTS) | {"sigmoid"} == set(ACTIVATIONS)
