"""Central-difference gradient checks of the engine in float64.

The engine's gradient is that of the objective
(sum_i w_i l_i + alpha/2 ||W||^2) / sum_i w_i with l_i summed over outputs.
`loss_and_grad` returns scikit-learn's loss instead, which for squared error
divides the data term by the number of outputs k while its gradient does not
(scikit-learn's convention).  The check therefore differentiates
k * data + L2 for squared error, i.e. reconstructs the objective from two
engine evaluations: with alpha and without.
"""

import numpy as np
import pytest

from fastmlp._network import OUTPUTS, Network

ACTS = ["identity", "logistic", "tanh", "relu", "leaky_relu", "elu"]


def objective(net, theta, X, Y, sw, alpha):
    loss_a, _ = net.loss_and_grad(theta, X, Y, sw, alpha=alpha)
    if net.loss != "squared_error":
        return loss_a
    loss_0, _ = net.loss_and_grad(theta, X, Y, sw, alpha=0.0)
    k = Y.shape[1]
    return k * loss_0 + (loss_a - loss_0)


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("pair", sorted(OUTPUTS))
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
    # keep ReLU-family pre-activations away from the kink, where the
    # derivative is not defined and differences straddle it
    alpha = 0.2
    _, grad = net.loss_and_grad(theta, X, Y, sw, alpha=alpha)
    eps = 1e-6
    numeric = np.empty_like(theta)
    for i in range(theta.size):
        tp, tm = theta.copy(), theta.copy()
        tp[i] += eps
        tm[i] -= eps
        numeric[i] = (objective(net, tp, X, Y, sw, alpha)
                      - objective(net, tm, X, Y, sw, alpha)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5,
                               atol=1e-7 * max(1.0, np.abs(numeric).max()))
