"""The engine's passes (``_engine.Engine``, ``_predictor.Predictor``) against
the NumPy oracle of tests/reference.py and against central differences:
forward, loss and gradient for every activation x output layer x depth,
batch normalisation, dropout and input noise in training, the minibatch
epoch, and the engine's checks of its arguments."""

import numpy as np
import pytest
import reference as ref
from _helpers import ACTS, PAIR_IDS, PAIRS, forward, loss_and_grad, targets

from fastmlp import _engine, _predictor, _testing, config_context
from fastmlp._aligned import is_aligned
from fastmlp._components import SOLVERS
from fastmlp._engine import Engine
from fastmlp._predictor import Predictor
from fastmlp._network import Network, sparse_split
from fastmlp._optim import Optimizer

TOL = {np.float64: 1e-10, np.float32: 2e-5}


def make_problem(out, loss, n=37, d=5, k=3, seed=0, dtype=np.float64):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    Y = targets(out, loss, n, k, rng)
    sw = rng.rand(n) + 0.5
    return X.astype(dtype), Y.astype(dtype), sw.astype(dtype)


def as64(arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


# --- forward, loss and gradient -------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", [(), (6,), (7, 4), (5, 6, 4)])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_forward_loss_gradient(pair, act, hidden, dtype):
    out, loss = pair
    X, Y, sw = make_problem(out, loss, dtype=dtype)
    net = Network([X.shape[1], *hidden, Y.shape[1]], act, out, loss, dtype)
    theta = net.init_params(np.random.RandomState(1))
    coefs, inter = as64(net.coefs(theta)), as64(net.intercepts(theta))
    X64, Y64, sw64 = as64((X, Y, sw))
    tol = TOL[dtype]

    # forward: predictions after the output activation, and the logits
    Z, A = ref.forward(coefs, inter, X64, act, out)
    np.testing.assert_allclose(forward(net, theta, X), A[-1], rtol=tol, atol=tol)
    np.testing.assert_allclose(forward(net, theta, X, logits=True), Z[-1], rtol=tol,
                               atol=tol * np.abs(Z[-1]).max())
    # in blocks of 5 rows, and a few rows through the vector-matrix products
    np.testing.assert_allclose(forward(net, theta, X, capacity=5), A[-1], rtol=tol,
                               atol=tol)
    few = np.empty((3, Y.shape[1]), dtype)
    assert Predictor(net, theta, net.initial_running()).forward_few(X[:3], few, 2, False)
    np.testing.assert_allclose(few, A[-1][:3], rtol=tol, atol=tol)

    # loss (scikit-learn's) and the gradient, with sample weights, L2, and
    # the rows processed in chunks smaller than the data
    alpha = 0.3
    loss_val, grad = loss_and_grad(net, theta, X, Y, sw, alpha=alpha, capacity=8)
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
    loss, grad = loss_and_grad(net, theta, X, Y)
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
    # the step itself: theta - lr * grad, by the SGD optimiser
    opt = Optimizer(SOLVERS["sgd"].code, net.n_params, net.n_weights, np.float64)
    stepped = theta.copy()
    opt.step(stepped, grad, 0.1)
    np.testing.assert_array_equal(stepped, theta - 0.1 * grad)


# --- central differences ----------------------------------------------------------
#
# The engine's gradient is that of the objective
# (sum_i w_i l_i + alpha/2 ||W||^2) / sum_i w_i with l_i summed over outputs.
# `loss_and_grad` returns scikit-learn's loss instead, which for squared error
# divides the data term by the number of outputs k while its gradient does not
# (scikit-learn's convention).  The check therefore differentiates
# k * data + L2 for squared error, i.e. reconstructs the objective from two
# engine evaluations: with alpha and without.


def _objective(engines, net, theta, X, Y, sw):
    grad = np.empty_like(theta)
    with_alpha, without = engines
    loss_a = with_alpha.loss_and_grad(X, Y, sw, theta, grad)
    if net.loss != "squared_error":
        return loss_a
    loss_0 = without.loss_and_grad(X, Y, sw, theta, grad)
    k = Y.shape[1]
    return k * loss_0 + (loss_a - loss_0)


def _central_differences(f, theta, eps=1e-6):
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += eps
        tm[i] -= eps
        numeric[i] = (f(tp) - f(tm)) / (2 * eps)
    return numeric


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_gradient_matches_central_differences(pair, act, depth):
    out, loss = pair
    rng = np.random.RandomState(depth)
    n, d, k = 11, 4, 3
    X = rng.randn(n, d)
    if loss == "log_loss":
        Y = np.eye(k)[rng.randint(0, k, n)]
    elif loss == "binary_log_loss":
        Y = (rng.rand(n, k) > 0.5).astype(float)
    elif loss == "poisson":
        Y = rng.poisson(1.0, (n, k)).astype(float)
    else:
        Y = rng.rand(n, k)
    sw = rng.rand(n) + 0.5
    hidden = [5, 4, 3][:depth]
    net = Network([d, *hidden, k], act, out, loss, np.float64)
    theta = net.init_params(rng)
    # (the ReLU-family derivatives are undefined at the kink, where the
    # differences would straddle it; the draws here keep away from it)
    alpha = 0.2
    engines = (Engine(net, n, alpha=alpha), Engine(net, n, alpha=0.0))
    _, grad = loss_and_grad(net, theta, X, Y, sw, alpha=alpha)
    numeric = _central_differences(
        lambda t: _objective(engines, net, t, X, Y, sw), theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5,
                               atol=1e-7 * max(1.0, np.abs(numeric).max()))


# --- batch normalisation ----------------------------------------------------------


def bn_problem(out, loss, n=24, d=5, k=3, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d) * 2 + 1
    return X, targets(out, loss, n, k, rng)


def bn_network(d, hidden, k, act, out, loss, dtype, seed=0, **kw):
    net = Network([d, *hidden, k], act, out, loss, dtype, batch_norm=True, **kw)
    theta = net.init_params(np.random.RandomState(seed))
    rng = np.random.RandomState(seed + 1)
    # gamma and beta away from their initial 1 and 0, so both are exercised
    for g in net.bn_gammas(theta):
        g[...] = rng.uniform(0.5, 1.5, g.shape)
    for b in net.intercepts(theta)[:-1]:
        b[...] = rng.uniform(-0.5, 0.5, b.shape)
    return net, theta


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("hidden", [(6,), (7, 5), (6, 5, 4)])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("pair", PAIRS, ids=PAIR_IDS)
def test_bn_training_loss_and_gradient_against_reference(pair, act, hidden, dtype, tol):
    out, loss = pair
    X, Y = bn_problem(out, loss)
    net, theta = bn_network(X.shape[1], hidden, Y.shape[1], act, out, loss, dtype)
    coefs, inter, gammas = (as64(net.coefs(theta)), as64(net.intercepts(theta)),
                            as64(net.bn_gammas(theta)))
    value, grad = loss_and_grad(net, theta, X, Y, alpha=0.1)
    _, zL, _ = ref.forward_bn(coefs, inter, gammas, X, act, out)
    expected = (ref.sample_losses(out, loss, zL, Y).sum()
                / (Y.shape[1] if loss == "squared_error" else 1)
                + 0.05 * sum((W**2).sum() for W in coefs)) / X.shape[0]
    np.testing.assert_allclose(value, expected, rtol=tol)
    gW, gb, gg = ref.backward_bn(coefs, inter, gammas, X, Y, act, out, loss, alpha=0.1)
    expected_grad = net.pack(gW, gb, gg).astype(float)
    np.testing.assert_allclose(grad, expected_grad, rtol=tol,
                               atol=tol * np.abs(expected_grad).max())


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("act", ACTS)
def test_bn_gradient_central_differences(act, depth):
    out, loss = "softmax", "log_loss"
    X, Y = bn_problem(out, loss, n=10, d=4)
    net, theta = bn_network(4, [5, 4, 3][:depth], 3, act, out, loss, np.float64)
    _, grad = loss_and_grad(net, theta, X, Y, alpha=0.2)
    engine = Engine(net, X.shape[0], alpha=0.2)
    sw = np.empty(0)
    scratch = np.empty_like(theta)
    numeric = _central_differences(
        lambda t: engine.loss_and_grad(X, Y, sw, t, scratch), theta)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bn_inference_uses_running_statistics(dtype, act):
    X, _ = bn_problem("softmax", "log_loss")
    net, theta = bn_network(5, (6, 4), 3, act, "softmax", "log_loss", dtype)
    rng = np.random.RandomState(3)
    running = net.initial_running()
    means, var = net.running_views(running)
    for m, v in zip(means, var):
        m[...] = rng.randn(m.size)
        v[...] = rng.uniform(0.5, 2, v.size)
    got = forward(net, theta, X, running=running)
    # reference: BN with the running statistics
    A = X
    coefs, inter, gammas = net.coefs(theta), net.intercepts(theta), net.bn_gammas(theta)
    for l in range(2):
        A = ref.activation(act, ref.bn_eval(A @ coefs[l].astype(float), gammas[l],
                                            inter[l], means[l], var[l]))
    expected = ref.output("softmax", A @ coefs[2] + inter[2])
    np.testing.assert_allclose(got, expected, rtol=1e-10 if dtype == np.float64 else 1e-5,
                               atol=1e-6)
    # one sample at a time (the vector-matrix path): the same outputs
    few = np.empty((1, 3), dtype)
    pred = Predictor(net, theta, running)
    for i in range(3):
        assert pred.forward_few(np.ascontiguousarray(X[i:i + 1], dtype), few, 1, False)
        np.testing.assert_allclose(few[0], expected[i], rtol=1e-5, atol=1e-6)


def test_running_statistics_in_full_batch_passes():
    """loss_and_grad moves BN's running statistics towards the batch's by
    PyTorch's rule only with update_stats, in the array the engine was given;
    set_running_statistics sets them to the whole batch's (unbiased variance)."""
    X, Y = bn_problem("softmax", "log_loss", n=30)
    net, theta = bn_network(5, (6, 4), 3, "gelu", "softmax", "log_loss", np.float64,
                            bn_momentum=0.3)
    running = net.initial_running()
    engine = Engine(net, 30, running=running)
    assert engine.running is running
    grad = np.empty_like(theta)
    engine.loss_and_grad(X, Y, np.empty(0), theta, grad)
    np.testing.assert_array_equal(running, net.initial_running())
    engine.loss_and_grad(X, Y, np.empty(0), theta, grad, update_stats=True)
    *_, stats = ref.train_pass(as64(net.coefs(theta)), as64(net.intercepts(theta)), X,
                               Y, "gelu", "softmax", "log_loss",
                               gammas=as64(net.bn_gammas(theta)))
    means, var = net.running_views(running)
    for l, (mu, v) in enumerate(stats):
        rm, rv = ref.bn_running_update(np.zeros(mu.size), np.ones(mu.size), mu, v, 30,
                                       0.3)
        np.testing.assert_allclose(means[l], rm, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(var[l], rv, rtol=1e-12)
    engine.set_running_statistics(X, Y, theta)
    for l, (mu, v) in enumerate(stats):
        np.testing.assert_allclose(means[l], mu, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(var[l], v * 30 / 29, rtol=1e-12)


# --- training minibatches: dropout, input noise, batch norm -------------------------


def _masks(net, seed, epoch, batch, rows):
    """The dropout factors the engine draws for each hidden layer of a batch:
    stream l + 1, element i of the (rows, width) matrix drawing counter i."""
    masks = []
    for l, (p, width) in enumerate(zip(net.dropout, net.sizes[1:-1])):
        m = np.ones(rows * width, net.dtype)
        _testing.random_fill(m, p, 0.0, seed, epoch, batch, l + 1)
        masks.append(m.reshape(rows, width).astype(np.float64))
    return masks


@pytest.mark.parametrize("batch_norm", [False, True])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("act", ACTS)
def test_training_gradient_with_dropout_noise_and_bn(act, dtype, tol, batch_norm):
    """A training minibatch (Engine.train_epoch) with dropout on both hidden
    layers, input noise, sample weights and optionally batch norm: its loss,
    gradient (Engine.grad) and SGD step against reference.train_pass fed
    the same masks and noise (drawn again with _testing.random_fill)."""
    out, loss = "softmax", "log_loss"
    n, d, k = 23, 6, 3
    rng = np.random.RandomState(5)
    X = (rng.randn(n, d) * 2 + 0.5).astype(dtype)
    Y = targets(out, loss, n, k, rng).astype(dtype)
    sw = (rng.rand(n) + 0.5).astype(dtype)
    kw = dict(dropout=[0.3, 0.5], input_noise=0.2, seed=1234, bn_momentum=0.2)
    if batch_norm:
        net, theta = bn_network(d, (7, 5), k, act, out, loss, dtype, **kw)
    else:
        net = Network([d, 7, 5, k], act, out, loss, dtype, **kw)
        theta = net.init_params(np.random.RandomState(0))
    theta0 = theta.copy()
    epoch = 4
    engine = Engine(net, n)
    opt = Optimizer(SOLVERS["sgd"].code, net.n_params, net.n_weights, dtype)
    rate = 0.5
    total, n_batches, failed = engine.train_epoch(
        X, Y, sw, np.empty(0, np.intp), theta, opt, np.array([rate]), epoch)
    assert (n_batches, failed, opt.t) == (1, -1, 1)

    noisy = X.copy()
    _testing.random_fill(noisy.reshape(-1), 0.0, net.input_noise, net.seed, epoch, 0, 0)
    masks = _masks(net, net.seed, epoch, 0, n)
    assert all(0 < (m == 0).mean() < 0.8 for m in masks)
    coefs, inter = as64(net.coefs(theta0)), as64(net.intercepts(theta0))
    gammas = as64(net.bn_gammas(theta0)) if batch_norm else None
    loss_sum, gW, gb, gg, stats = ref.train_pass(
        coefs, inter, noisy.astype(np.float64), Y.astype(np.float64), act, out, loss,
        gammas=gammas, masks=masks, sw=sw.astype(np.float64))
    expected = net.pack(gW, gb, gg).astype(np.float64)
    np.testing.assert_allclose(engine.grad, expected, rtol=tol,
                               atol=tol * np.abs(expected).max())
    # the epoch's loss: the batch objective times the batch's length
    np.testing.assert_allclose(total, n * loss_sum / sw.astype(np.float64).sum(),
                               rtol=tol)
    # the step used that gradient
    np.testing.assert_array_equal(theta, theta0 - dtype(rate) * engine.grad)
    if batch_norm:
        means, var = net.running_views(engine.running)
        for l, (mu, v) in enumerate(stats):
            rm, rv = ref.bn_running_update(np.zeros(mu.size), np.ones(mu.size), mu, v,
                                           n, 0.2)
            np.testing.assert_allclose(means[l], rm, rtol=tol, atol=tol)
            np.testing.assert_allclose(var[l], rv, rtol=tol)
    if not batch_norm:
        # no dropout nor noise at prediction: the plain forward pass
        _, A = ref.forward(coefs, inter, X.astype(np.float64), act, out)
        np.testing.assert_allclose(forward(net, theta0, X), A[-1], rtol=tol, atol=tol)


@pytest.mark.parametrize("n_rows", [47, 23])
def test_training_epoch_against_reference_sgd(n_rows):
    """A whole epoch: shuffled minibatches (the last one short), sample
    weights, a rate per minibatch and the L2 penalty, replayed with the
    reference gradient and scikit-learn's SGD update.  With 23 rows the
    order is a part of a permutation (a round of distributed training):
    the steps take those rows only."""
    out, loss = "logistic", "binary_log_loss"
    n, d, k, batch = 47, 5, 2, 10
    rng = np.random.RandomState(7)
    X, Y = rng.randn(n, d), targets(out, loss, n, k, rng)
    sw = rng.rand(n) + 0.5
    net = Network([d, 6, k], "silu", out, loss, np.float64)
    theta = net.init_params(np.random.RandomState(0))
    order = rng.permutation(n).astype(np.intp)[:n_rows]
    n_batches_expected = -(-n_rows // batch)
    rates = np.array([0.1, 0.05, 0.2, 0.15, 0.01])
    alpha = 0.01
    engine = Engine(net, batch, alpha=alpha)
    opt = Optimizer(SOLVERS["sgd"].code, net.n_params, net.n_weights, np.float64)
    expected, expected_total = theta.copy(), 0.0
    total, n_batches, failed = engine.train_epoch(X, Y, sw, order, theta, opt, rates, 0)
    for b in range(n_batches_expected):
        idx = order[b * batch:(b + 1) * batch]
        coefs, inter = net.coefs(expected), net.intercepts(expected)
        gW, gb = ref.backward(coefs, inter, X[idx], Y[idx], "silu", out, loss, sw[idx],
                              alpha)
        expected_total += len(idx) * ref.objective(coefs, inter, X[idx], Y[idx], "silu",
                                                   out, loss, sw[idx], alpha)
        expected = expected - rates[b] * net.pack(gW, gb)
    assert (n_batches, failed, opt.t) == (n_batches_expected, -1, n_batches_expected)
    np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-14)
    assert total == pytest.approx(expected_total, rel=1e-12)


def test_training_epoch_stops_at_a_non_finite_loss():
    """The first minibatch with a non-finite loss is reported and not
    applied: theta holds the updates of the batches before it."""
    rng = np.random.RandomState(8)
    X, Y = rng.randn(40, 4), np.eye(3)[rng.randint(0, 3, 40)]
    X[25, 1] = np.inf            # in minibatch 2: its logits are NaN
    net = Network([4, 5, 3], "identity", "softmax", "log_loss", np.float64)
    theta = net.init_params(np.random.RandomState(0))
    engine = Engine(net, 10)
    opt = Optimizer(SOLVERS["adam"].code, net.n_params, net.n_weights, np.float64)
    reference = theta.copy()
    ref_opt = Optimizer(SOLVERS["adam"].code, net.n_params, net.n_weights, np.float64)
    Engine(net, 10).train_epoch(X[:20], Y[:20], np.empty(0), np.empty(0, np.intp),
                                reference, ref_opt, np.full(2, 0.01), 0)
    total, n_batches, failed = engine.train_epoch(
        X, Y, np.empty(0), np.empty(0, np.intp), theta, opt, np.full(4, 0.01), 0)
    assert failed == 2 and opt.t == 2
    np.testing.assert_array_equal(theta, reference)


def test_training_epoch_skips_batches_without_statistics_or_weight():
    """With batch norm a last minibatch of one sample is skipped (its
    statistics are undefined); a minibatch whose weights are all 0 has no
    gradient and is skipped too."""
    rng = np.random.RandomState(9)
    X, Y = rng.randn(11, 4), np.eye(3)[rng.randint(0, 3, 11)]
    net, theta = bn_network(4, (5,), 3, "relu", "softmax", "log_loss", np.float64)
    opt = Optimizer(SOLVERS["sgd"].code, net.n_params, net.n_weights, np.float64)
    _, n_batches, failed = Engine(net, 5).train_epoch(
        X, Y, np.empty(0), np.empty(0, np.intp), theta, opt, np.full(3, 0.1), 0)
    assert (n_batches, failed, opt.t) == (3, -1, 2)
    sw = np.ones(11)
    sw[5:10] = 0.0
    net = Network([4, 5, 3], "relu", "softmax", "log_loss", np.float64)
    theta = net.init_params(np.random.RandomState(0))
    opt = Optimizer(SOLVERS["sgd"].code, net.n_params, net.n_weights, np.float64)
    _, n_batches, failed = Engine(net, 5).train_epoch(
        X, Y, sw, np.empty(0, np.intp), theta, opt, np.full(3, 0.1), 0)
    assert (n_batches, failed, opt.t) == (3, -1, 2)


def test_profile_times_every_phase():
    rng = np.random.RandomState(10)
    X, Y = rng.randn(300, 20), np.eye(4)[rng.randint(0, 4, 300)]
    net = Network([20, 32, 4], "relu", "softmax", "log_loss", np.float64)
    theta = net.init_params(np.random.RandomState(0))
    opt = Optimizer(SOLVERS["adam"].code, net.n_params, net.n_weights, np.float64)
    engine = Engine(net, 50)
    assert engine.profile is None
    engine.profile = np.zeros(len(_engine.PROFILE_PHASES) + 1)
    order = rng.permutation(300).astype(np.intp)
    engine.train_epoch(X, Y, np.empty(0), order, theta, opt, np.full(6, 1e-3), 0)
    phases = engine.profile[:len(_engine.PROFILE_PHASES)]
    assert np.all(phases >= 0) and phases.sum() > 0
    engine.profile = np.zeros(len(_engine.PROFILE_PHASES))
    with pytest.raises(ValueError, match="profile needs"):
        engine.train_epoch(X, Y, np.empty(0), order, theta, opt, np.full(6, 1e-3), 1)


# --- the engine's checks ---------------------------------------------------------------


def test_engine_checks_its_arguments():
    rng = np.random.RandomState(11)
    X, Y = rng.randn(20, 4), np.eye(3)[rng.randint(0, 3, 20)]
    net = Network([4, 5, 3], "relu", "softmax", "log_loss", np.float64)
    theta = net.init_params(np.random.RandomState(0))
    grad = np.empty_like(theta)
    none = np.empty(0)
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        Engine(net, 0)
    with pytest.raises(ValueError, match="split_parts must be >= 1"):
        Engine(net, 10, split_parts=0)
    with pytest.raises(ValueError, match="running must be"):
        Engine(net, 10, running=np.zeros(4, np.float32))
    engine = Engine(net, 10)
    assert is_aligned(engine.grad) and engine.grad.shape == theta.shape
    assert not engine.sparse_first_layer and not engine.split_gemm
    assert Engine(net, 10, 2, True).split_gemm
    with pytest.raises(ValueError, match="X and Y do not match"):
        engine.loss_and_grad(X[:, :3].copy(), Y, none, theta, grad)
    with pytest.raises(ValueError, match="different numbers of rows"):
        engine.loss_and_grad(X, Y[:5], none, theta, grad)
    with pytest.raises(ValueError, match="one weight per row"):
        engine.loss_and_grad(X, Y, np.ones(3), theta, grad)
    with pytest.raises(ValueError, match="theta does not match"):
        engine.loss_and_grad(X, Y, none, theta[:-1].copy(), grad)
    with pytest.raises(ValueError, match="grad must have"):
        engine.loss_and_grad(X, Y, none, theta, grad[:-1].copy())
    with pytest.raises(ValueError, match="no samples"):
        engine.loss_and_grad(X[:0], Y[:0], none, theta, grad)
    opt = Optimizer(SOLVERS["sgd"].code, net.n_params, net.n_weights, np.float64)
    order = np.empty(0, np.intp)
    with pytest.raises(ValueError, match="one rate per minibatch"):
        engine.train_epoch(X, Y, none, order, theta, opt, np.ones(1), 0)
    for bad in (-1, X.shape[0]):
        with pytest.raises(ValueError, match=f"order holds {bad}, not a row of X"):
            engine.train_epoch(X, Y, none, np.array([0, bad], dtype=np.intp), theta,
                               opt, np.ones(2), 0)
    other = Optimizer(SOLVERS["sgd"].code, net.n_params + 1, 0, np.float64)
    with pytest.raises(ValueError, match="optimiser does not match"):
        engine.train_epoch(X, Y, none, order, theta, other, np.ones(2), 0)
    assert engine.train_epoch(X[:0], Y[:0], none, order, theta, opt, np.ones(0), 0) \
        == (0.0, 0, -1)
    # batch norm: the whole batch in the workspace
    bn, bn_theta = bn_network(4, (5,), 3, "relu", "softmax", "log_loss", np.float64)
    with pytest.raises(ValueError, match="whole batch must fit"):
        Engine(bn, 10).loss_and_grad(X, Y, none, bn_theta, np.empty_like(bn_theta))
    # the sparse first layer trains minibatches only
    with config_context(sparse_first_layer="always"):
        split = sparse_split(X * (X > 1), 2)
    sparse = Engine(net, 10, sparse_split=split)
    assert sparse.sparse_first_layer
    # a dense X in a full-batch pass takes the dense first layer
    grad2 = np.empty_like(grad)
    assert sparse.loss_and_grad(X, Y, none, theta, grad) == \
        Engine(net, 10).loss_and_grad(X, Y, none, theta, grad2)
    np.testing.assert_array_equal(grad, grad2)
    noisy = Network([4, 5, 3], "relu", "softmax", "log_loss", np.float64,
                    input_noise=0.1)
    with pytest.raises(ValueError, match="excludes input noise"):
        Engine(noisy, 10, sparse_split=split)


def test_check_blas_size():
    limit = 2**31 - 1
    _engine.check_blas_size("a layer's width", 10)
    if np.iinfo(np.intc).max == limit:   # 32-bit BLAS integers (not ILP64)
        _engine.check_blas_size("a layer's width", limit)
        with pytest.raises(ValueError, match="a layer's width is 2147483648; BLAS "
                                             "takes at most 2147483647"):
            _engine.check_blas_size("a layer's width", limit + 1)


def test_predictor_checks_and_few_rows():
    rng = np.random.RandomState(12)
    net = Network([4, 5, 3], "gelu", "softmax", "log_loss", np.float32)
    theta = net.init_params(np.random.RandomState(0))
    with pytest.raises(ValueError, match="theta does not match"):
        Predictor(net, theta.astype(np.float64), net.initial_running())
    pred = Predictor(net, theta, net.initial_running())
    X = rng.randn(_predictor.FEW_ROWS + 1, 4).astype(np.float32)
    out = np.empty((X.shape[0], 3), np.float32)
    with pytest.raises(ValueError, match="forward_few takes 1 to"):
        pred.forward_few(X, out, 1, False)
    with pytest.raises(ValueError, match="X, out and the network do not match"):
        pred.forward(X, out[:, :2].copy())
    with pytest.raises(ValueError, match="different numbers of rows"):
        pred.forward(X, out[:2].copy())
    pred.forward(X, out)
    few = np.empty((2, 3), np.float32)
    for bad in (np.nan, np.inf, -np.inf):
        Xb = X[:2].copy()
        Xb[1, 3] = bad
        assert pred.forward_few(Xb, few, 1, False) is False
    assert pred.forward_few(X[:2].copy(), few, 2, False) is True
    np.testing.assert_allclose(few, out[:2], rtol=1e-6)
    logits = np.empty((2, 3), np.float32)
    assert pred.forward_few(X[:2].copy(), logits, 1, True)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(axis=1, keepdims=True), few, rtol=1e-5)


@pytest.mark.parametrize("act", ["tanh", "relu", "gelu", "logistic", "elu"])
def test_layer_values_against_numpy(act):
    """Engine.layer_values: each hidden layer's activations (a prediction's)
    and per-sample back-propagated gradients dl/dz, from the reference's
    forward pass and backpropagation."""
    rng = np.random.RandomState(0)
    net = Network([5, 7, 6, 3], act, "softmax", "log_loss", np.float64)
    theta = net.init_params(rng)
    X = rng.randn(10, 5)
    Y = np.eye(3)[rng.randint(0, 3, 10)]
    activations, gradients = Engine(net, 16).layer_values(X, Y, theta)
    coefs = [np.asarray(c) for c in net.coefs(theta)]
    biases = [np.asarray(b) for b in net.intercepts(theta)]
    Z, A = ref.forward(coefs, biases, X, act, "softmax")
    delta = ref.output_delta("softmax", "log_loss", Z[-1], Y)
    expected = [None, None]
    for l in (2, 1):
        delta = (delta @ coefs[l].T) * ref.activation_derivative(act, Z[l - 1])
        expected[l - 1] = delta
    for l in range(2):
        np.testing.assert_allclose(activations[l], A[l + 1], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(gradients[l], expected[l], rtol=1e-10, atol=1e-15)
    with pytest.raises(ValueError, match="1 to 16 rows"):
        Engine(net, 16).layer_values(np.zeros((17, 5)), np.zeros((17, 3)), theta)
