"""The architecture as data: layer widths, activations, output and loss, the
flat parameter layout, initialisation, and thin calls into the engine.

All parameters live in one vector ``theta``: first the weight matrices of
every layer (row-major, ``(n_in, n_out)`` each), then the bias vectors, then
(with batch normalisation) the scales gamma of the hidden layers.  The
weights therefore form one contiguous prefix ``theta[:n_weights]``, which is
what L2 penalties touch.  With batch normalisation a hidden layer's bias
slot holds BN's shift beta, which replaces the bias.  ``coefs_[l]`` and
``intercepts_[l]`` are views.
"""

import numpy as np

from . import _engine

#: Hidden-layer activations and their engine codes (csrc/kernels.h).
ACTIVATIONS = {
    "identity": 0,
    "logistic": 1,
    "sigmoid": 1,
    "tanh": 2,
    "relu": 3,
    "leaky_relu": 4,
    "elu": 5,
}

#: Default parameter of each activation (PyTorch's defaults).
ACTIVATION_PARAMS = {"leaky_relu": 0.01, "elu": 1.0}

#: (output activation, loss) pairs and their engine codes.  Each pair is the
#: maximum-likelihood model of a distribution of the targets.
OUTPUTS = {
    ("identity", "squared_error"): 0,
    ("softmax", "log_loss"): 1,
    ("logistic", "binary_log_loss"): 2,
    ("exp", "poisson"): 3,
    ("softplus", "squared_error"): 4,
    ("logistic", "squared_error"): 5,
}

SOLVERS = {
    "sgd": _engine.SOLVER_SGD,
    "adam": _engine.SOLVER_ADAM,
    "adamw": _engine.SOLVER_ADAMW,
    "adagrad": _engine.SOLVER_ADAGRAD,
    "rmsprop": _engine.SOLVER_RMSPROP,
    "adadelta": _engine.SOLVER_ADADELTA,
}


def opt_params(solver="sgd", lr=0.001, momentum=0.0, nesterov=False,
               beta1=0.9, beta2=0.999, eps=1e-8, rho=0.9, centered=False,
               weight_decay=0.0, n_decay=0, alpha=0.0, loss_scale=1.0):
    """The engine's optimiser parameters (``OptParams``) as a dict.

    ``solver`` is a name of ``SOLVERS``; the other fields are the solvers'
    hyper-parameters, see ``_engine.pyx``.
    """
    return dict(
        solver=SOLVERS[solver], lr=float(lr), momentum=float(momentum),
        nesterov=int(bool(nesterov)), beta1=float(beta1), beta2=float(beta2),
        eps=float(eps), rho=float(rho), centered=int(bool(centered)),
        weight_decay=float(weight_decay), n_decay=int(n_decay),
        alpha=float(alpha), loss_scale=float(loss_scale),
    )

WEIGHT_INITS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")

_INT_MAX = 2**31 - 1

# The sparse first layer (see `sparse_split`): "auto" (by the inputs'
# density), "always" or "never"; the benchmarks and tests set it.
SPARSE_FIRST_LAYER = "auto"
# Densest inputs for which "auto" takes it (bench/README.md: the crossover).
SPARSE_MAX_DENSITY = 0.25
# Rows of X looked at to estimate the density.
_DENSITY_ROWS = 1024


# Byte boundary of the engine's vectors (theta, gradient, optimiser state,
# workspace): a cache line and an AVX-512 register.  numpy's allocator gives
# 16 bytes, and then every 64-byte load of a row of W straddles two lines
# (bench/README.md: the sparse first layer's products 1.4x slower).
ALIGNMENT = 64


def aligned_empty(n, dtype):
    """An uninitialised 1-d array of `n` elements of `dtype` whose data
    starts on an ALIGNMENT-byte boundary."""
    dtype = np.dtype(dtype)
    buf = np.empty(n * dtype.itemsize + ALIGNMENT, dtype=np.uint8)
    start = -buf.ctypes.data % ALIGNMENT
    return buf[start:start + n * dtype.itemsize].view(dtype)


def aligned_zeros(n, dtype):
    """`aligned_empty`, zeroed."""
    out = aligned_empty(n, dtype)
    out[...] = 0
    return out


def is_aligned(a):
    return a.ctypes.data % ALIGNMENT == 0


def aligned(a):
    """A writeable 1-d C-contiguous array on an ALIGNMENT-byte boundary
    holding `a`: `a` itself when it is one."""
    if a.ndim == 1 and a.flags.c_contiguous and a.flags.writeable and is_aligned(a):
        return a
    out = aligned_empty(a.size, a.dtype)
    out[...] = a.ravel()
    return out


def sparse_split(X, n_parts, input_noise=0.0):
    """Parts of the features for the engine's sparse first layer
    (`_engine.train_epoch`'s ``sparse_split``), or None for the dense one.

    The first layer works on each minibatch's nonzeros when at most
    SPARSE_MAX_DENSITY of the inputs are nonzero (estimated on up to
    _DENSITY_ROWS evenly spaced rows; MNIST: 19 %): its forward product
    and weight gradient then read only the rows of W and of the delta that
    the nonzeros select.  The weight gradient is cut into `n_parts` runs of
    features holding equal numbers of the sample's nonzeros, one per thread.
    Input noise makes the inputs dense: never with it.
    """
    n, n_in = X.shape
    if SPARSE_FIRST_LAYER == "never" or input_noise > 0 or n == 0 or n_in == 0:
        return None
    if n_in > _INT_MAX:
        return None  # the kernels' feature indices are 32-bit
    sample = X[:: max(1, n // _DENSITY_ROWS)]
    counts = np.add.reduce(sample != 0, axis=0, dtype=np.intp)  # 5x count_nonzero
    total = counts.sum()
    if SPARSE_FIRST_LAYER != "always" and total > SPARSE_MAX_DENSITY * sample.size:
        return None
    n_parts = max(1, min(int(n_parts), n_in))
    cum = np.cumsum(counts)
    cuts = np.searchsorted(cum, total * np.arange(1, n_parts) / n_parts) + 1
    split = np.concatenate([[0], np.clip(cuts, 0, n_in), [n_in]])
    return np.ascontiguousarray(np.maximum.accumulate(split), dtype=np.intp)


class Network:
    """A multilayer perceptron's structure and its flat parameter layout.

    Parameters
    ----------
    layer_sizes : sequence of int
        Widths from the input to the output layer.
    activation : str
        Hidden-layer activation (a key of ``ACTIVATIONS``).
    out_activation : str
        Output activation; with ``loss`` a key of ``OUTPUTS``.
    loss : str
        Loss whose minimiser is the maximum-likelihood fit.
    dtype : numpy dtype
        float32 or float64: the dtype of theta, data and workspace.
    activation_param : float, optional
        Negative slope of leaky ReLU or alpha of ELU.
    batch_norm : bool
        Batch normalisation of every hidden layer's pre-activations.
    bn_momentum, bn_eps : float
        BN's running-statistics momentum (weight of the new batch) and eps.
    dropout : sequence of float, optional
        Dropout rate of each hidden layer.
    input_noise : float
        Standard deviation of the Gaussian noise added to training inputs.
    seed : int
        Key of the engine's counter-based random numbers.
    """

    def __init__(self, layer_sizes, activation, out_activation, loss, dtype,
                 activation_param=None, batch_norm=False, bn_momentum=0.1,
                 bn_eps=1e-5, dropout=None, input_noise=0.0, seed=0):
        self.sizes = np.asarray(layer_sizes, dtype=np.intp)
        if self.sizes.ndim != 1 or len(self.sizes) < 2 or np.any(self.sizes < 1):
            raise ValueError(f"invalid layer sizes {list(layer_sizes)}")
        self.activation = activation
        self.out_activation = out_activation
        self.loss = loss
        self.dtype = np.dtype(dtype)
        self.out_code = OUTPUTS[(out_activation, loss)]
        n_hidden = len(self.sizes) - 2
        if activation_param is None:
            activation_param = ACTIVATION_PARAMS.get(activation, 0.0)
        self.act = np.full(n_hidden, ACTIVATIONS[activation], dtype=np.intc)
        self.act_param = np.full(n_hidden, activation_param, dtype=np.float64)
        # Data loss factor that makes `loss_` scikit-learn's: its squared
        # error averages over outputs, while the gradient sums over them.
        self.loss_scale = (
            1.0 / self.sizes[-1] if loss == "squared_error" else 1.0
        )

        fan_in, fan_out = self.sizes[:-1], self.sizes[1:]
        n_w = fan_in * fan_out
        self.w_off = np.concatenate([[0], np.cumsum(n_w)[:-1]]).astype(np.intp)
        self.n_weights = int(n_w.sum())
        self.b_off = (self.n_weights + np.concatenate(
            [[0], np.cumsum(fan_out)[:-1]])).astype(np.intp)
        self.n_params = self.n_weights + int(fan_out.sum())
        hidden = self.sizes[1:-1]
        self.n_hidden_units = int(hidden.sum())
        self.batch_norm = bool(batch_norm) and n_hidden > 0
        if self.batch_norm:
            self.g_off = (self.n_params + np.concatenate(
                [[0], np.cumsum(hidden)[:-1]])).astype(np.intp)
            self.n_params += self.n_hidden_units
        else:
            self.g_off = np.empty(0, dtype=np.intp)
        self.bn_momentum = float(bn_momentum)
        self.bn_eps = float(bn_eps)
        self.dropout = (np.empty(0) if dropout is None
                        else np.asarray(dropout, dtype=np.float64))
        self.input_noise = float(input_noise)
        self.seed = int(seed)
        # BN's running means then variances, one per hidden unit (float64)
        self.running = self.initial_running()
        if max(self.sizes) > _INT_MAX or self.n_params > np.iinfo(np.intp).max // 2:
            raise ValueError("layer too large for 32-bit BLAS")

    @property
    def n_layers(self):
        """Number of weight layers (scikit-learn's ``n_layers_ - 1``)."""
        return len(self.sizes) - 1

    def initial_running(self):
        """Running statistics before training: means 0, variances 1."""
        if not self.batch_norm:
            return np.empty(0)
        return np.concatenate([np.zeros(self.n_hidden_units),
                               np.ones(self.n_hidden_units)])

    def reg(self, epoch=0):
        """Regularisation settings for the engine (its ``Reg``)."""
        return dict(bn=int(self.batch_norm), bn_momentum=self.bn_momentum,
                    bn_eps=self.bn_eps, input_noise=self.input_noise,
                    seed=self.seed, epoch=int(epoch))

    def _args(self, epoch=0):
        return (self.sizes, self.w_off, self.b_off, self.act, self.act_param,
                self.out_code, self.g_off, self.dropout, self.running,
                self.reg(epoch))

    # Parameters ------------------------------------------------------------

    def coefs(self, theta):
        """Views of the weight matrices in theta, shape ``(n_in, n_out)``."""
        return [
            theta[o:o + a * b].reshape(a, b)
            for o, a, b in zip(self.w_off, self.sizes[:-1], self.sizes[1:])
        ]

    def intercepts(self, theta):
        """Views of the bias vectors in theta (BN's beta for hidden layers
        with batch normalisation)."""
        return [theta[o:o + b] for o, b in zip(self.b_off, self.sizes[1:])]

    def bn_gammas(self, theta):
        """Views of BN's scales gamma in theta, one per hidden layer."""
        return [theta[o:o + w] for o, w in zip(self.g_off, self.sizes[1:-1])]

    def running_views(self):
        """(means, variances): views of the running statistics per hidden layer."""
        if not self.batch_norm:
            return [], []
        h = self.n_hidden_units
        bounds = np.concatenate([[0], np.cumsum(self.sizes[1:-1])])
        means = [self.running[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        var = [self.running[h + a:h + b] for a, b in zip(bounds[:-1], bounds[1:])]
        return means, var

    def pack(self, coefs, intercepts, gammas=None):
        """A new theta holding the given weights, biases (and BN scales)."""
        theta = aligned_empty(self.n_params, self.dtype)
        for view, g in zip(self.bn_gammas(theta), gammas or []):
            view[...] = g
        for view, c in zip(self.coefs(theta), coefs):
            if view.shape != np.shape(c):
                raise ValueError(
                    f"coefs_ has a matrix of shape {np.shape(c)} where the "
                    f"network needs {view.shape}"
                )
            view[...] = c
        for view, b in zip(self.intercepts(theta), intercepts):
            if view.shape != np.shape(b):
                raise ValueError(
                    f"intercepts_ has a vector of shape {np.shape(b)} where "
                    f"the network needs {view.shape}"
                )
            view[...] = b
        return theta

    def init_params(self, random_state, weight_init="glorot_uniform"):
        """Initial theta.

        ``glorot_uniform`` is scikit-learn's rule, drawn in scikit-learn's
        order so that the same ``random_state`` gives the same weights:
        W and b ~ U(-r, r), r = sqrt(6 / (fan_in + fan_out)) (2 instead of
        6 for the logistic activation).  ``glorot_normal``: W ~ N(0, 2 /
        (fan_in + fan_out)).  ``he_uniform`` / ``he_normal``: variance
        gain**2 / fan_in with gain**2 = 2 / (1 + a**2) (a = 0 except for
        leaky ReLU's slope), as PyTorch's ``kaiming_*_``.  The last three
        start the biases at zero.
        """
        theta = aligned_zeros(self.n_params, self.dtype)
        coefs, intercepts = self.coefs(theta), self.intercepts(theta)
        slope = (
            self.act_param[0]
            if self.activation == "leaky_relu" and len(self.act_param)
            else 0.0
        )
        for W, b, fan_in, fan_out in zip(coefs, intercepts, self.sizes[:-1],
                                         self.sizes[1:]):
            if weight_init == "glorot_uniform":
                factor = 2.0 if self.activation in ("logistic", "sigmoid") else 6.0
                bound = np.sqrt(factor / (fan_in + fan_out))
                W[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
                b[...] = random_state.uniform(-bound, bound, fan_out)
            elif weight_init == "glorot_normal":
                std = np.sqrt(2.0 / (fan_in + fan_out))
                W[...] = random_state.normal(0.0, std, (fan_in, fan_out))
            elif weight_init in ("he_uniform", "he_normal"):
                gain2 = 2.0 / (1.0 + slope**2)
                if weight_init == "he_uniform":
                    bound = np.sqrt(3.0 * gain2 / fan_in)
                    W[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
                else:
                    W[...] = random_state.normal(0.0, np.sqrt(gain2 / fan_in),
                                                 (fan_in, fan_out))
            else:
                raise ValueError(
                    f"weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}"
                )
        if self.batch_norm:
            # BN: gamma = 1, beta = 0 (PyTorch's); the draws above still
            # happen, so the weights are those of the same random_state.
            for b in intercepts[:-1]:
                b[...] = 0
            for g in self.bn_gammas(theta):
                g[...] = 1
        return theta

    # Engine calls ------------------------------------------------------------

    def workspace(self, capacity):
        """Workspace vectors (work, dwork) for batches of `capacity` rows."""
        n_work, n_dwork = _engine.workspace_sizes(self.sizes, capacity,
                                                  self.n_params)
        return aligned_empty(n_work, self.dtype), aligned_empty(n_dwork, np.float64)

    def loss_and_grad(self, theta, X, Y, sample_weight=None, alpha=0.0,
                      grad=None, capacity=None, n_threads=1, workspace=None,
                      split_gemm=False, update_stats=False):
        """Full-batch objective and gradient (scikit-learn's loss).

        Returns ``(loss, grad)``; X, Y, theta must have this network's dtype
        and be C-contiguous.
        """
        if grad is None:
            grad = np.empty_like(theta)
        if capacity is None:
            capacity = max(1, min(X.shape[0], 4096))
        if self.batch_norm:
            capacity = max(1, X.shape[0])  # BN: statistics of the whole batch
        if workspace is None:
            workspace = self.workspace(capacity)
        sw = self._weights(sample_weight)
        loss = _engine.loss_and_grad(
            X, Y, sw, theta, grad, float(alpha), self.loss_scale, *self._args(),
            capacity, workspace[0], workspace[1], n_threads, split_gemm,
            update_stats)
        return loss, grad

    def forward(self, theta, X, n_threads=1, capacity=None, logits=False,
                vec_threads=1):
        """Outputs of the network: the output activations, or with
        ``logits=True`` the output layer's pre-activations.  ``vec_threads``
        share the products of a prediction of a few samples."""
        n = X.shape[0]
        out = np.empty((n, self.sizes[-1]), dtype=self.dtype)
        if n == 0:
            return out
        if capacity is None:
            capacity = min(n, 2048)
        work, _ = self.workspace(capacity)
        _engine.forward(X, theta, out, *self._args(), capacity, work, n_threads,
                        logits, vec_threads)
        return out

    def forward_few(self, theta, X, logits=False, vec_threads=1):
        """``forward`` for 1 to 4 rows of X (C-contiguous, this network's
        dtype) through a cached :class:`_engine.Plan`; None when X holds NaN
        or infinity."""
        plan = self.__dict__.get("_plan")
        if plan is None or plan.running is not self.running:
            plan = self._plan = _engine.Plan(*self._args())
        out = np.empty((X.shape[0], self.sizes[-1]), dtype=self.dtype)
        if plan.forward_few(X, theta, out, vec_threads, logits):
            return out
        return None

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_plan", None)  # rebuilt on demand; holds raw pointers
        return state

    def _weights(self, sample_weight):
        if sample_weight is None:
            return np.empty(0, dtype=self.dtype)
        return np.ascontiguousarray(sample_weight, dtype=self.dtype)
