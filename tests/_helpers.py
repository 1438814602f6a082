"""Shared by the tests: the engine's passes called as one function each,
the component lists derived from ``fastmlp._components``, and problems
with targets that suit every output layer."""

import numpy as np

from fastmlp._aligned import aligned
from fastmlp._components import ACTIVATIONS, OUTPUTS, STOCHASTIC_SOLVERS
from fastmlp._engine import Engine
from fastmlp._predictor import Predictor

#: Every hidden activation once (the "sigmoid" alias shares logistic's spec).
ACTS = sorted({spec.name for spec in ACTIVATIONS.values()})
#: Every (output activation, loss) pair.
PAIRS = sorted(OUTPUTS)
PAIR_IDS = [f"{out}-{loss}" for out, loss in PAIRS]
#: Every first-order solver.
SOLVER_NAMES = list(STOCHASTIC_SOLVERS)


def as_engine_array(a, dtype):
    """`a` as a C-contiguous array of `dtype` (what the engine takes)."""
    return np.ascontiguousarray(a, dtype=dtype)


def loss_and_grad(net, theta, X, Y, sw=None, alpha=0.0, capacity=None, running=None,
                  n_threads=1, split_gemm=False, split_parts=None, update_stats=False):
    """``Engine.loss_and_grad`` in one call: (scikit-learn's loss, gradient).

    The capacity defaults to the fit's: every row with batch norm (its
    statistics are the whole batch's), else chunks of up to 4096 rows."""
    dtype = net.dtype
    X, Y = as_engine_array(X, dtype), as_engine_array(Y, dtype)
    sw = np.empty(0, dtype) if sw is None else as_engine_array(sw, dtype)
    if capacity is None:
        capacity = X.shape[0] if net.batch_norm else max(1, min(X.shape[0], 4096))
    engine = Engine(net, capacity, n_threads, split_gemm, split_parts=split_parts,
                    alpha=alpha, running=running)
    grad = np.empty(net.n_params, dtype)
    loss = engine.loss_and_grad(X, Y, sw, aligned(as_engine_array(theta, dtype)), grad,
                                update_stats)
    return loss, grad


def forward(net, theta, X, running=None, logits=False, n_threads=1, vec_threads=1,
            capacity=2048):
    """``Predictor.forward``: the outputs (or logits) for X; BN uses `running`
    (default: the initial statistics, means 0 and variances 1)."""
    X = as_engine_array(X, net.dtype)
    if running is None:
        running = net.initial_running()
    out = np.empty((X.shape[0], net.sizes[-1]), net.dtype)
    Predictor(net, as_engine_array(theta, net.dtype), running).forward(
        X, out, logits, n_threads, vec_threads, capacity)
    return out


def targets(out, loss, n, k, rng):
    """Targets of (n, k) that suit the output layer: one-hot classes,
    indicators, counts, values in [0, 1], positive or real values."""
    if loss == "log_loss":
        return np.eye(k)[rng.randint(0, k, n)]
    if loss == "binary_log_loss":
        return (rng.rand(n, k) > 0.5).astype(float)
    if loss == "poisson":
        return rng.poisson(1.5, (n, k)).astype(float)
    if out == "logistic":
        return rng.rand(n, k)
    if out == "softplus":
        return rng.rand(n, k) * 2
    return rng.randn(n, k)
