"""The architecture as data: layer widths, activations, output and loss, the
flat parameter layout and the initialisation.  Nothing here calls the
engine; the engine reads a Network.

All parameters live in one vector ``theta``: first the weight matrices of
every layer (row-major, ``(n_in, n_out)`` each), then the bias vectors, then
(with batch normalisation) the scales gamma of the hidden layers.  The
weights therefore form one contiguous prefix ``theta[:n_weights]``, which is
what L2 penalties touch.  With batch normalisation a hidden layer's bias
slot holds BN's shift beta, which replaces the bias.  ``coefs_[l]`` and
``intercepts_[l]`` are views.
"""

import numpy as np
import scipy.sparse as sp

from ._aligned import aligned_empty, aligned_zeros
from ._components import ACTIVATIONS, OUTPUTS, WEIGHT_INITS
from ._config import get_config

_INT_MAX = 2**31 - 1
# Rows of X looked at to estimate the density of the inputs.
_DENSITY_ROWS = 1024


class Network:
    """A multilayer perceptron's structure and its flat parameter layout.

    Parameters
    ----------
    layer_sizes : sequence of int
        Widths from the input to the output layer.
    activation : str
        Hidden-layer activation (a key of ``_components.ACTIVATIONS``).
    out_activation, loss : str
        Output activation and loss, a key of ``_components.OUTPUTS``.
    dtype : numpy dtype
        float32 or float64: the dtype of theta, data and workspace.
    activation_param : float, optional
        Negative slope of leaky ReLU or alpha of ELU (default PyTorch's).
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
    out_groups : sequence of int, optional
        Multitask outputs (a softmax output only): the widths of the groups
        of output columns, one softmax and one cross-entropy per group, the
        loss their sum.  None: the output layer is one group.
    """

    def __init__(self, layer_sizes, activation, out_activation, loss, dtype,
                 activation_param=None, batch_norm=False, bn_momentum=0.1,
                 bn_eps=1e-5, dropout=None, input_noise=0.0, seed=0, out_groups=None):
        self.sizes = np.asarray(layer_sizes, dtype=np.intp)
        if self.sizes.ndim != 1 or len(self.sizes) < 2 or np.any(self.sizes < 1):
            raise ValueError(f"invalid layer sizes {list(layer_sizes)}")
        spec = ACTIVATIONS[activation]
        self.activation = activation
        self.out_activation = out_activation
        self.loss = loss
        self.dtype = np.dtype(dtype)
        self.out_code = OUTPUTS[(out_activation, loss)]
        self.out_groups = np.asarray([] if out_groups is None else out_groups,
                                     dtype=np.intp)
        if len(self.out_groups) and (
                out_activation != "softmax" or self.out_groups.ndim != 1
                or np.any(self.out_groups < 1)
                or self.out_groups.sum() != self.sizes[-1]):
            raise ValueError(f"invalid output groups {list(out_groups)}")
        n_hidden = len(self.sizes) - 2
        if activation_param is None:
            activation_param = spec.param if spec.param is not None else 0.0
        self.act_codes = np.full(n_hidden, spec.code, dtype=np.intc)
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
        if max(self.sizes) > _INT_MAX or self.n_params > np.iinfo(np.intp).max // 2:
            raise ValueError("layer too large for 32-bit BLAS")

    def to_dict(self):
        """The constructor's arguments as Python builtins (for pickles that
        hold only builtins and arrays, as skops wants)."""
        return dict(
            layer_sizes=[int(s) for s in self.sizes], activation=self.activation,
            out_activation=self.out_activation, loss=self.loss, dtype=self.dtype.name,
            activation_param=float(self.act_param[0]) if len(self.act_param) else None,
            batch_norm=self.batch_norm, bn_momentum=self.bn_momentum,
            bn_eps=self.bn_eps,
            dropout=[float(p) for p in self.dropout] if len(self.dropout) else None,
            input_noise=self.input_noise, seed=self.seed,
            out_groups=[int(g) for g in self.out_groups] if len(self.out_groups) else None,
        )

    @property
    def n_layers(self):
        """Number of weight layers (scikit-learn's ``n_layers_ - 1``)."""
        return len(self.sizes) - 1

    def initial_running(self):
        """BN's running statistics before training (float64, means then
        variances of every hidden unit): means 0, variances 1."""
        if not self.batch_norm:
            return np.empty(0)
        return np.concatenate([np.zeros(self.n_hidden_units),
                               np.ones(self.n_hidden_units)])

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

    def running_views(self, running):
        """(means, variances): views of the running statistics per hidden layer."""
        if not self.batch_norm:
            return [], []
        h = self.n_hidden_units
        bounds = np.concatenate([[0], np.cumsum(self.sizes[1:-1])])
        means = [running[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
        var = [running[h + a:h + b] for a, b in zip(bounds[:-1], bounds[1:])]
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
        leaky ReLU's slope), as PyTorch's ``kaiming_*_``.  These three start
        the biases at zero.  ``standard``: W and b ~ U(-1/sqrt(fan_in),
        1/sqrt(fan_in)) (Glorot & Bengio's "standard"; PyTorch's nn.Linear).
        """
        if weight_init not in WEIGHT_INITS:
            raise ValueError(
                f"weight_init must be one of {WEIGHT_INITS}, got {weight_init!r}"
            )
        spec = ACTIVATIONS[self.activation]
        theta = aligned_zeros(self.n_params, self.dtype)
        coefs, intercepts = self.coefs(theta), self.intercepts(theta)
        param = self.act_param[0] if len(self.act_param) else 0.0
        for W, b, fan_in, fan_out in zip(coefs, intercepts, self.sizes[:-1],
                                         self.sizes[1:]):
            if weight_init == "glorot_uniform":
                bound = np.sqrt(spec.glorot_factor / (fan_in + fan_out))
                W[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
                b[...] = random_state.uniform(-bound, bound, fan_out)
            elif weight_init == "standard":
                # Glorot & Bengio's "standard" heuristic; PyTorch's nn.Linear
                bound = 1.0 / np.sqrt(fan_in)
                W[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
                b[...] = random_state.uniform(-bound, bound, fan_out)
            elif weight_init == "glorot_normal":
                std = np.sqrt(2.0 / (fan_in + fan_out))
                W[...] = random_state.normal(0.0, std, (fan_in, fan_out))
            else:
                gain2 = spec.he_gain2(param)
                if weight_init == "he_uniform":
                    bound = np.sqrt(3.0 * gain2 / fan_in)
                    W[...] = random_state.uniform(-bound, bound, (fan_in, fan_out))
                else:
                    W[...] = random_state.normal(0.0, np.sqrt(gain2 / fan_in),
                                                 (fan_in, fan_out))
        if self.batch_norm:
            # BN: gamma = 1, beta = 0 (PyTorch's); the draws above still
            # happen, so the weights are those of the same random_state.
            for b in intercepts[:-1]:
                b[...] = 0
            for g in self.bn_gammas(theta):
                g[...] = 1
        return theta


def sparse_split(X, n_parts, input_noise=0.0):
    """Parts of the features for the engine's sparse first layer (the
    Engine's ``sparse_split``), or None for the dense one.

    A scipy.sparse X always takes the sparse first layer.  A dense X takes it
    when at most ``sparse_max_density`` (``config_context``) of its inputs
    are nonzero, estimated on up to 1,024 evenly spaced rows (MNIST: 19 %):
    its forward product and weight gradient then read only the rows of W and
    of the delta that the nonzeros select.  The weight gradient is cut into
    `n_parts` runs of features holding equal numbers of the sample's
    nonzeros, one per thread.  Input noise makes the inputs dense: never
    with it.
    """
    config = get_config()
    mode = config["sparse_first_layer"]
    n, n_in = X.shape
    sparse_input = sp.issparse(X)
    if not sparse_input and (mode == "never" or input_noise > 0):
        return None
    if n_in > _INT_MAX:
        if sparse_input:
            raise ValueError(f"X has {n_in} features; the sparse kernels take "
                             f"at most {_INT_MAX}")
        return None  # the kernels' feature indices are 32-bit
    sample = X[:: max(1, n // _DENSITY_ROWS)]
    if sparse_input:
        counts = np.bincount(sample.tocsr().indices, minlength=n_in).astype(np.intp)
    else:
        if n == 0 or n_in == 0:
            return None
        counts = np.add.reduce(sample != 0, axis=0, dtype=np.intp)  # 5x count_nonzero
    total = counts.sum()
    if (not sparse_input and mode != "always"
            and total > config["sparse_max_density"] * sample.size):
        return None
    n_parts = max(1, min(int(n_parts), n_in))
    cum = np.cumsum(counts)
    cuts = np.searchsorted(cum, total * np.arange(1, n_parts) / n_parts) + 1
    split = np.concatenate([[0], np.clip(cuts, 0, n_in), [n_in]])
    return np.ascontiguousarray(np.maximum.accumulate(split), dtype=np.intp)
