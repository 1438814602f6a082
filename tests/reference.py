"""A NumPy oracle of every equation fastmlp implements, written from the maths
(the seed lecture, the papers and ``shared/REFERENCE.md``), not from the
engine's code.  Plain, slow, float64 by default.

Conventions: X is (n, d) with one row per sample; ``coefs[l]`` is
(n_in, n_out); Z = A W + b; Y holds one-hot / indicator / real targets.
Every activation of ``fastmlp._components.ACTIVATIONS`` has its function
and derivative here (GELU and SiLU from their definitions: GELU f = x
Phi(x), f' = Phi(x) + x phi(x); SiLU f = x s(x), f' = s(x) (1 + x (1 -
s(x)))).
"""

import numpy as np
from scipy.special import erf

# --- activations -------------------------------------------------------------


def sigmoid(z):
    """The logistic function 1 / (1 + e^-z), without overflow for any z."""
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def normal_cdf(z):
    """Phi(z) = (1 + erf(z / sqrt 2)) / 2, the standard normal CDF."""
    return 0.5 * (1.0 + erf(z / np.sqrt(2.0)))


def normal_pdf(z):
    """phi(z) = e^(-z^2 / 2) / sqrt(2 pi)."""
    return np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def activation(name, z, param=None):
    """h(z) for a hidden activation."""
    if name == "identity":
        return z.copy()
    if name in ("logistic", "sigmoid"):
        return sigmoid(z)
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        slope = 0.01 if param is None else param
        return np.where(z > 0, z, slope * z)
    if name == "elu":
        alpha = 1.0 if param is None else param
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))
    if name == "gelu":
        # Hendrycks & Gimpel: x Phi(x), the exact (erf) form
        return z * normal_cdf(z)
    if name == "silu":
        # Elfwing et al. (swish-1): x s(x)
        return z * sigmoid(z)
    raise ValueError(name)


def activation_derivative(name, z, param=None):
    """h'(z), written in terms of z (the engine uses the output instead)."""
    if name == "identity":
        return np.ones_like(z)
    if name in ("logistic", "sigmoid"):
        s = sigmoid(z)
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        slope = 0.01 if param is None else param
        return np.where(z > 0, 1.0, slope)
    if name == "elu":
        alpha = 1.0 if param is None else param
        return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0)))
    if name == "gelu":
        # d/dx x Phi(x) = Phi(x) + x phi(x)
        return normal_cdf(z) + z * normal_pdf(z)
    if name == "silu":
        # d/dx x s(x) = s(x) + x s(x) (1 - s(x)) = s(x) (1 + x (1 - s(x)))
        s = sigmoid(z)
        return s * (1.0 + z * (1.0 - s))
    raise ValueError(name)


# --- output layers and losses (negative log-likelihoods) -----------------------


def softplus(z):
    return np.logaddexp(0.0, z)


def output(out, z):
    """Output activation: the mean of the target distribution given z."""
    if out == "identity":
        return z.copy()
    if out == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    if out == "logistic":
        return sigmoid(z)
    if out == "exp":
        return np.exp(z)
    if out == "softplus":
        return softplus(z)
    raise ValueError(out)


def sample_losses(out, loss, z, y):
    """Per-sample loss l_i (summed over outputs) from the logits z."""
    if (out, loss) == ("softmax", "log_loss"):
        lse = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)) + z.max(axis=1)
        # -sum_k y_k log softmax_k = sum_k y_k (lse - z_k)
        return (y * (lse[:, None] - z)).sum(axis=1)
    if (out, loss) == ("logistic", "binary_log_loss"):
        # -y log s(z) - (1 - y) log(1 - s(z)) = softplus(z) - y z
        return (softplus(z) - y * z).sum(axis=1)
    if (out, loss) == ("exp", "poisson"):
        mu = np.exp(z)
        ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)), 0.0)
        # half deviance: y log(y / mu) - y + mu
        return (ylogy - y * z - y + mu).sum(axis=1)
    if loss == "squared_error":
        return 0.5 * ((output(out, z) - y) ** 2).sum(axis=1)
    raise ValueError((out, loss))


def output_delta(out, loss, z, y):
    """dl_i/dz for one sample's loss, for each (output, loss) pair."""
    p = output(out, z)
    if (out, loss) in (
        ("softmax", "log_loss"),
        ("logistic", "binary_log_loss"),
        ("exp", "poisson"),
        ("identity", "squared_error"),
    ):
        # canonical link: the delta is mean minus target
        return p - y
    if (out, loss) == ("softplus", "squared_error"):
        return (p - y) * sigmoid(z)  # softplus' = sigmoid
    if (out, loss) == ("logistic", "squared_error"):
        return (p - y) * p * (1.0 - p)
    raise ValueError((out, loss))


# --- multitask outputs: one softmax per group of columns (Caruana 1997) -------


def _group_slices(groups):
    bounds = np.concatenate([[0], np.cumsum(groups)])
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def grouped_softmax(z, groups):
    """softmax over each group of columns separately (a task's classes)."""
    return np.hstack([output("softmax", z[:, s]) for s in _group_slices(groups)])


def grouped_sample_losses(z, y, groups):
    """l_i = sum over tasks g of lse(z_g) - z_{g, y_g}: the sum of the tasks'
    cross-entropies, written from the definition -sum_k y_k log p_k with
    log p = z - lse(z) per group."""
    total = np.zeros(z.shape[0])
    for s in _group_slices(groups):
        zg = z[:, s]
        m = zg.max(axis=1, keepdims=True)
        log_p = zg - m - np.log(np.exp(zg - m).sum(axis=1, keepdims=True))
        total -= (y[:, s] * log_p).sum(axis=1)
    return total


def grouped_delta(z, y, groups):
    """dl_i/dz: softmax_g(z_g) - y_g in every group."""
    return grouped_softmax(z, groups) - y


def grouped_objective(coefs, intercepts, X, Y, act, groups, sw=None, alpha=0.0):
    """`objective` of a multitask softmax output with these groups."""
    w = np.ones(X.shape[0]) if sw is None else np.asarray(sw, dtype=float)
    Z, _ = forward(coefs, intercepts, X, act, "identity")
    data = (w * grouped_sample_losses(Z[-1], Y, groups)).sum()
    l2 = 0.5 * alpha * sum((W**2).sum() for W in coefs)
    return (data + l2) / w.sum()


def grouped_backward(coefs, intercepts, X, Y, act, groups, sw=None, alpha=0.0):
    """Gradient of `grouped_objective` by backpropagation (as `backward`)."""
    w = np.ones(X.shape[0]) if sw is None else np.asarray(sw, dtype=float)
    Z, A = forward(coefs, intercepts, X, act, "identity")
    delta = grouped_delta(Z[-1], Y, groups) * w[:, None] / w.sum()
    gW = [None] * len(coefs)
    gb = [None] * len(coefs)
    for l in range(len(coefs) - 1, -1, -1):
        gW[l] = A[l].T @ delta + alpha * coefs[l] / w.sum()
        gb[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ coefs[l].T) * activation_derivative(act, Z[l - 1])
    return gW, gb


# --- the network ---------------------------------------------------------------


def forward(coefs, intercepts, X, act, out, act_param=None):
    """Pre-activations Z and activations A of every layer (A[0] = X)."""
    A, Z = [X], []
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        z = A[-1] @ W + b
        Z.append(z)
        last = l == len(coefs) - 1
        A.append(output(out, z) if last else activation(act, z, act_param))
    return Z, A


def objective(coefs, intercepts, X, Y, act, out, loss, sw=None, alpha=0.0,
              act_param=None):
    """(sum_i w_i l_i + alpha/2 sum ||W||^2) / sum_i w_i: the function whose
    gradient the engine follows."""
    n = X.shape[0]
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=float)
    Z, _ = forward(coefs, intercepts, X, act, out, act_param)
    data = (w * sample_losses(out, loss, Z[-1], Y)).sum()
    l2 = 0.5 * alpha * sum((W**2).sum() for W in coefs)
    return (data + l2) / w.sum()


def sklearn_loss(coefs, intercepts, X, Y, act, out, loss, sw=None, alpha=0.0,
                 act_param=None):
    """scikit-learn's reported loss: like `objective`, but squared error is
    averaged over the outputs as well (its `squared_loss`)."""
    k = Y.shape[1]
    n = X.shape[0]
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=float)
    Z, _ = forward(coefs, intercepts, X, act, out, act_param)
    data = (w * sample_losses(out, loss, Z[-1], Y)).sum()
    if loss == "squared_error":
        data /= k
    l2 = 0.5 * alpha * sum((W**2).sum() for W in coefs)
    return (data + l2) / w.sum()


def backward(coefs, intercepts, X, Y, act, out, loss, sw=None, alpha=0.0,
             act_param=None):
    """Gradient of `objective` by backpropagation in matrix form:

    Delta_L = diag(w) (dl/dz) / sum(w);  dW_l = A_{l-1}^T Delta_l + alpha W_l / sum(w);
    db_l = 1^T Delta_l;  Delta_{l-1} = (Delta_l W_l^T) * h'(Z_{l-1}).
    """
    n = X.shape[0]
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=float)
    Z, A = forward(coefs, intercepts, X, act, out, act_param)
    delta = output_delta(out, loss, Z[-1], Y) * w[:, None] / w.sum()
    gW = [None] * len(coefs)
    gb = [None] * len(coefs)
    for l in range(len(coefs) - 1, -1, -1):
        gW[l] = A[l].T @ delta + alpha * coefs[l] / w.sum()
        gb[l] = delta.sum(axis=0)
        if l > 0:
            delta = (delta @ coefs[l].T) * activation_derivative(act, Z[l - 1], act_param)
    return gW, gb


# --- optimisers (one step; state is a dict, t counts from 1) -----------------


def sgd_step(theta, g, state, lr, momentum=0.0, nesterov=False):
    """scikit-learn: v <- mu v - lr g; theta += v, or, Nesterov (Bengio's
    reparametrisation, Sutskever 2013), theta += mu v - lr g."""
    v = momentum * state.get("v", np.zeros_like(theta)) - lr * g
    state["v"] = v
    return theta + (momentum * v - lr * g if nesterov else v)


def adam_sklearn_step(theta, g, state, t, lr, b1=0.9, b2=0.999, eps=1e-8):
    """Kingma & Ba Sec. 2 (scikit-learn): eps on the uncorrected sqrt(v)."""
    m = b1 * state.get("m", 0.0) + (1 - b1) * g
    v = b2 * state.get("v", 0.0) + (1 - b2) * g**2
    state["m"], state["v"] = m, v
    lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
    return theta - lr_t * m / (np.sqrt(v) + eps)


def adamw_torch_step(theta, g, state, t, lr, b1=0.9, b2=0.999, eps=1e-8,
                     weight_decay=0.01, decay_mask=None):
    """Loshchilov & Hutter / PyTorch AdamW: decoupled decay, then Adam with
    eps on the bias-corrected sqrt(v_hat) (Algorithm 1)."""
    mask = np.ones_like(theta) if decay_mask is None else decay_mask
    theta = theta * (1 - lr * weight_decay * mask)
    m = b1 * state.get("m", 0.0) + (1 - b1) * g
    v = b2 * state.get("v", 0.0) + (1 - b2) * g**2
    state["m"], state["v"] = m, v
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


def adagrad_step(theta, g, state, lr, eps=1e-10):
    """Duchi et al. (diagonal), PyTorch's eps outside the root."""
    G = state.get("G", 0.0) + g**2
    state["G"] = G
    return theta - lr * g / (np.sqrt(G) + eps)


def rmsprop_step(theta, g, state, lr, rho=0.99, eps=1e-8, momentum=0.0,
                 centered=False):
    """Hinton's RMSProp as PyTorch's RMSprop (alpha = rho): optionally
    centred (the running mean gradient subtracted inside the root) and with
    momentum on the scaled step."""
    E = rho * state.get("E", 0.0) + (1 - rho) * g**2
    state["E"] = E
    if centered:
        ga = rho * state.get("gavg", 0.0) + (1 - rho) * g
        state["gavg"] = ga
        avg = np.sqrt(E - ga**2) + eps
    else:
        avg = np.sqrt(E) + eps
    if momentum > 0:
        buf = momentum * state.get("buf", 0.0) + g / avg
        state["buf"] = buf
        return theta - lr * buf
    return theta - lr * g / avg


def adadelta_step(theta, g, state, lr=1.0, rho=0.9, eps=1e-6):
    """Zeiler 2012 (with PyTorch's learning rate)."""
    Eg = rho * state.get("Eg", 0.0) + (1 - rho) * g**2
    dx = np.sqrt(state.get("Edx", 0.0) + eps) / np.sqrt(Eg + eps) * g
    state["Eg"] = Eg
    state["Edx"] = rho * state.get("Edx", 0.0) + (1 - rho) * dx**2
    return theta - lr * dx


# --- learning-rate schedules ---------------------------------------------------


def step_lr(lr0, epoch, step_size, gamma):
    return lr0 * gamma ** (epoch // step_size)


def cosine_lr(lr0, epoch, T_max, eta_min):
    return eta_min + 0.5 * (lr0 - eta_min) * (1 + np.cos(np.pi * min(epoch, T_max) / T_max))


def sgdr_lrs(lr0, n_epochs, T_0, T_mult, eta_min):
    """SGDR rates for epochs 0..n_epochs-1, by walking the restarts one epoch
    at a time (T_cur resets to 0 and T_i *= T_mult when T_cur reaches T_i)."""
    rates, T_i, T_cur = [], T_0, 0
    for _ in range(n_epochs):
        rates.append(eta_min + 0.5 * (lr0 - eta_min) * (1 + np.cos(np.pi * T_cur / T_i)))
        T_cur += 1
        if T_cur >= T_i:
            T_cur -= T_i
            T_i *= T_mult
    return np.array(rates)


def cyclic_lr(base, max_lr, it, step_size_up, step_size_down=None,
              mode="triangular", gamma=1.0):
    """PyTorch's CyclicLR at batch iteration `it` (REFERENCE.md c3)."""
    down = step_size_up if step_size_down is None else step_size_down
    total = step_size_up + down
    step_ratio = step_size_up / total
    cycle = np.floor(1 + it / total)
    x = 1.0 + it / total - cycle
    scale = x / step_ratio if x <= step_ratio else (x - 1) / (step_ratio - 1)
    if mode == "triangular":
        fn = 1.0
    elif mode == "triangular2":
        fn = 1 / (2.0 ** (cycle - 1))
    else:
        fn = gamma**it
    return base + (max_lr - base) * scale * fn


# --- batch normalisation (Ioffe & Szegedy 2015, Alg. 1; REFERENCE.md c4) -----


def bn_train(z, gamma, beta, eps=1e-5):
    """Training forward: batch mean, biased variance, x-hat, gamma x-hat + beta."""
    mu = z.mean(axis=0)
    var = ((z - mu) ** 2).mean(axis=0)
    xhat = (z - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, xhat, mu, var


def bn_eval(z, gamma, beta, running_mean, running_var, eps=1e-5):
    return gamma * (z - running_mean) / np.sqrt(running_var + eps) + beta


def bn_running_update(running_mean, running_var, mu, var, m, momentum=0.1):
    """PyTorch: the new batch weighted by momentum; the unbiased variance."""
    return ((1 - momentum) * running_mean + momentum * mu,
            (1 - momentum) * running_var + momentum * var * m / (m - 1))


def bn_backward(dy, xhat, gamma, var, eps=1e-5):
    """The paper's backward pass: dbeta, dgamma, dx."""
    m = dy.shape[0]
    dbeta = dy.sum(axis=0)
    dgamma = (dy * xhat).sum(axis=0)
    dx = gamma / (m * np.sqrt(var + eps)) * (m * dy - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def forward_bn(coefs, intercepts, gammas, X, act, out, eps=1e-5, running=None):
    """Forward pass with BN on every hidden layer (bias slots hold beta);
    training statistics, or `running` = (means, vars) lists for inference."""
    A, cache = X, []
    for l, (W, b) in enumerate(zip(coefs, intercepts)):
        z = A @ W
        if l == len(coefs) - 1:
            return output(out, z + b), z + b, cache
        if running is None:
            y, xhat, mu, var = bn_train(z, gammas[l], b, eps)
        else:
            y = bn_eval(z, gammas[l], b, running[0][l], running[1][l], eps)
            xhat, mu, var = None, None, None
        cache.append((A, z, y, xhat, mu, var))
        A = activation(act, y)


def backward_bn(coefs, intercepts, gammas, X, Y, act, out, loss, alpha=0.0, eps=1e-5):
    """Gradient of the objective through BN: (dW, db/dbeta, dgamma)."""
    n = X.shape[0]
    _, zL, cache = forward_bn(coefs, intercepts, gammas, X, act, out, eps)
    delta = output_delta(out, loss, zL, Y) / n
    gW, gb, gg = [None] * len(coefs), [None] * len(coefs), [None] * len(gammas)
    L = len(coefs)
    for l in range(L - 1, -1, -1):
        A_in = activation(act, cache[l - 1][2]) if l > 0 else X
        gW[l] = A_in.T @ delta + alpha * coefs[l] / n
        if l == L - 1:
            gb[l] = delta.sum(axis=0)
        if l > 0:
            _, z, y, xhat, mu, var = cache[l - 1]
            dy = (delta @ coefs[l].T) * activation_derivative(act, y)
            delta, gg[l - 1], gb[l - 1] = bn_backward(dy, xhat, gammas[l - 1], var, eps)
    return gW, gb, gg


# --- a training minibatch with batch norm and dropout --------------------------


def train_pass(coefs, intercepts, X, Y, act, out, loss, gammas=None, masks=None,
               sw=None, act_param=None, eps=1e-5):
    """One training minibatch, forward and backward.

    Hidden layer l: Z = A W; with batch normalisation (``gammas`` given)
    Y = BN(Z) with the batch statistics and the bias slot as BN's beta,
    else Y = Z + b; H = h(Y); inverted dropout multiplies H by ``masks[l]``
    (0 or 1 / (1 - p) per unit; None: no dropout).  Returns
    ``(loss_sum, gW, gb, gg, stats)``: sum_i w_i l_i, the gradient of
    (sum_i w_i l_i) / sum_i w_i (weights, biases or betas, gammas) and the
    batch statistics (mean, biased variance) of every BN layer.
    """
    n = X.shape[0]
    w = np.ones(n) if sw is None else np.asarray(sw, dtype=float)
    L = len(coefs)
    A, cache, stats = [X], [], []
    for l in range(L - 1):
        z = A[-1] @ coefs[l]
        if gammas is not None:
            y, xhat, mu, var = bn_train(z, gammas[l], intercepts[l], eps)
            stats.append((mu, var))
        else:
            y, xhat, var = z + intercepts[l], None, None
        m = 1.0 if masks is None else masks[l]
        A.append(activation(act, y, act_param) * m)
        cache.append((y, xhat, var, m))
    zL = A[-1] @ coefs[-1] + intercepts[-1]
    loss_sum = (w * sample_losses(out, loss, zL, Y)).sum()
    delta = output_delta(out, loss, zL, Y) * w[:, None] / w.sum()
    gW, gb = [None] * L, [None] * L
    gg = [None] * (L - 1) if gammas is not None else []
    for l in range(L - 1, -1, -1):
        gW[l] = A[l].T @ delta
        if gammas is None or l == L - 1:
            gb[l] = delta.sum(axis=0)   # (with BN, beta's came from bn_backward)
        if l > 0:
            y, xhat, var, m = cache[l - 1]
            dy = (delta @ coefs[l].T) * m * activation_derivative(act, y, act_param)
            if gammas is not None:
                delta, gg[l - 1], gb[l - 1] = bn_backward(dy, xhat, gammas[l - 1],
                                                          var, eps)
            else:
                delta = dy
    return loss_sum, gW, gb, gg, stats


# --- stabilisers and constraints (REFERENCE.md, "The rest of the seed") -------


def smoothed_cross_entropy(z, y_index, e):
    """PyTorch's CrossEntropyLoss(label_smoothing=e, reduction='none') as its
    documentation writes it: (1 - e) * nll(y) + e * mean_k(-log p_k), from
    the logits z (n, K) and the class indices."""
    lse = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)) + z.max(axis=1)
    logp = z - lse[:, None]
    nll = -logp[np.arange(len(z)), y_index]
    return (1.0 - e) * nll + e * (-logp).mean(axis=1)


def smoothed_targets(Y, e, k):
    """The targets whose cross-entropy is PyTorch's smoothed loss:
    q = (1 - e) onehot + e / K (delta dl/dz = p - q)."""
    return (1.0 - e) * Y + e / k


def clip_grad_norm(grads, max_norm):
    """torch.nn.utils.clip_grad_norm_(params, max_norm) (norm_type 2): the
    norm over all gradients; each multiplied by min(1, max_norm / (norm +
    1e-6))."""
    total = np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads))
    coef = min(1.0, max_norm / (total + 1e-6))
    return [g * coef for g in grads], total


def max_norm_project(W, c):
    """Srivastava et al. (2014), Sec. 5.1: column j of W (n_in, n_out), unit
    j's incoming weights, scaled to norm c where its norm exceeds c."""
    norms = np.sqrt((W**2).sum(axis=0))
    return W * np.where(norms > c, c / np.where(norms > 0, norms, 1.0), 1.0)


def mixup(X, Y, lam, perm):
    """Zhang et al. (2018): x~ = lam x + (1 - lam) x[perm], y~ likewise."""
    return lam * X + (1 - lam) * X[perm], lam * Y + (1 - lam) * Y[perm]


def swats_step(theta, g, state, t, lr, b1=0.9, b2=0.999, eps=1e-8, eps_switch=1e-9):
    """SWATS, Keskar & Socher (2017), Algorithm 1, one step k = t (from 1).

    Adam phase: m, a moments; p_k = -lr sqrt(1 - b2^k) / (1 - b1^k) m /
    (sqrt(a) + eps); theta += p_k; if p_k . g != 0: gamma = p.p / (-p.g),
    lambda = b2 lambda + (1 - b2) gamma, and the switch when k > 1 and
    |lambda / (1 - b2^k) - gamma| < eps_switch, with the SGD rate
    Lambda = lambda / (1 - b2^k).  SGD phase: v = b1 v + g; theta -=
    (1 - b1) Lambda v (the rate scaled as the schedule's lr / lr at the
    switch).  state records "switch" (the step, or 0) and "gaps", the
    criterion's |lambda / (1 - b2^k) - gamma| per Adam step."""
    if state.get("switch", 0):
        v = b1 * state.get("v", np.zeros_like(theta)) + g
        state["v"] = v
        return theta - (1 - b1) * state["rate"] * (lr / state["lr0"]) * v
    m = b1 * state.get("m", np.zeros_like(theta)) + (1 - b1) * g
    a = b2 * state.get("a", np.zeros_like(theta)) + (1 - b2) * g * g
    state["m"], state["a"] = m, a
    p = -lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(a) + eps)
    pg = float(p @ g)
    if pg != 0:
        gamma = float(p @ p) / -pg
        lam = b2 * state.get("lambda", 0.0) + (1 - b2) * gamma
        state["lambda"] = lam
        gap = abs(lam / (1 - b2**t) - gamma)
        state.setdefault("gaps", []).append(gap)
        if t > 1 and gap < eps_switch:
            state["switch"], state["rate"], state["lr0"] = t, lam / (1 - b2**t), lr
    return theta + p


def input_gradient(coefs, intercepts, X, Y, act, out, loss, act_param=None):
    """d l_i / d x_i for each sample's own loss: the backward pass carried
    one layer further, Delta_0 W_0^T."""
    Z, A = forward(coefs, intercepts, X, act, out, act_param)
    delta = output_delta(out, loss, Z[-1], Y)
    for l in range(len(coefs) - 1, 0, -1):
        delta = (delta @ coefs[l].T) * activation_derivative(act, Z[l - 1], act_param)
    return delta @ coefs[0].T


def fgsm(coefs, intercepts, X, Y, eps, act, out, loss):
    """Goodfellow et al. (2015): x + eps sign(grad_x J)."""
    return X + eps * np.sign(input_gradient(coefs, intercepts, X, Y, act, out, loss))
