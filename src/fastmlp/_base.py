"""The machinery shared by MLPClassifier and MLPRegressor: parameter
constraints, validation, the fitted state and its rollback, prediction.

A fitted estimator holds one ``_Model``: the network, its parameter vector
and BN's running statistics, replaced together in one assignment, so that a
prediction running beside a refit sees the old model or the new one, whole.
``coefs_``, ``intercepts_`` and the ``bn_*`` attributes are views of it.
"""

import warnings
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _engine
from ._aligned import aligned
from ._components import ACTIVATIONS, SOLVERS, STOCHASTIC_SOLVERS, WEIGHT_INITS
from ._config import get_config
from ._network import Network
from ._schedules import SCHEDULES, check_schedule_params
from ._threads import blas_threads, effective_n_threads, prediction_n_threads
from .exceptions import DivergenceError

_DTYPES = {"float32": np.float32, "float64": np.float64}


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(
            f"The 'dtype' parameter must be 'float32' or 'float64'; got {dtype!r}."
        )
    return dt.type


class _Model:
    """A fitted network: architecture, parameter vector and BN's running
    statistics, bound together (never changed in place by a fit that
    replaces the architecture)."""

    __slots__ = ("network", "theta", "running", "_predictor")

    def __init__(self, network, theta, running):
        self.network = network
        self.theta = aligned(theta)   # e.g. unpickled: the engine wants 64 bytes
        self.running = running
        self._predictor = None

    @property
    def predictor(self):
        """The engine's Predictor for this model, made on first use."""
        if self._predictor is None:
            self._predictor = _engine.Predictor(self.network, self.theta, self.running)
        return self._predictor


def _owner(a):
    """The array whose memory `a` uses (numpy points a view's base there)."""
    return a if a.base is None else a.base


class BaseMLP(BaseEstimator, metaclass=ABCMeta):
    """Shared machinery of MLPClassifier and MLPRegressor.

    Do not use directly.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions(set(SOLVERS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions(set(SCHEDULES))],
        "lr_schedule_params": [None, dict],
        "rho": [None, Interval(Real, 0, 1, closed="left")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_norm": ["boolean"],
        "bn_momentum": [Interval(Real, 0, 1, closed="right")],
        "bn_eps": [Interval(Real, 0, None, closed="neither")],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "input_noise": [Interval(Real, 0, None, closed="left")],
        "learning_rate_init": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "dtype": [StrOptions(set(_DTYPES)), type],
        "weight_init": [StrOptions(set(WEIGHT_INITS))],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
    }

    @abstractmethod
    def __init__(
        self, hidden_layer_sizes, activation, solver, alpha, batch_size,
        learning_rate, learning_rate_init, power_t, max_iter, loss, shuffle,
        random_state, tol, verbose, warm_start, momentum, nesterovs_momentum,
        early_stopping, validation_fraction, beta_1, beta_2, epsilon,
        n_iter_no_change, max_fun, dtype, weight_init, n_threads,
        lr_schedule_params, rho, weight_decay, batch_norm, bn_momentum, bn_eps,
        dropout, input_noise,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.loss = loss
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.weight_init = weight_init
        self.n_threads = n_threads
        self.lr_schedule_params = lr_schedule_params
        self.rho = rho
        self.weight_decay = weight_decay
        self.batch_norm = batch_norm
        self.bn_momentum = bn_momentum
        self.bn_eps = bn_eps
        self.dropout = dropout
        self.input_noise = input_noise

    # Subclass hooks -----------------------------------------------------------

    @abstractmethod
    def _validate_input(self, X, y, incremental, reset, dtype):
        """Validate X and y; return X and the target matrix Y, both of `dtype`."""

    @abstractmethod
    def _output_layer(self, Y):
        """(out_activation_, loss) for the target matrix Y."""

    @abstractmethod
    def _decode(self, Y):
        """Targets as the user gave them, from the target matrix Y."""

    @abstractmethod
    def _score(self, X, y, sample_weight=None):
        """Score without input validation (for early stopping)."""

    # The fitted state --------------------------------------------------------

    def _install(self, model):
        """Make `model` the fitted model (one assignment), and the public
        attributes views of it."""
        net = model.network
        self._model = model
        self.coefs_ = net.coefs(model.theta)
        self.intercepts_ = net.intercepts(model.theta)
        if net.batch_norm:
            self.bn_gamma_ = net.bn_gammas(model.theta)
            self.bn_running_mean_, self.bn_running_var_ = net.running_views(model.running)
        else:
            for attr in ("bn_gamma_", "bn_running_mean_", "bn_running_var_"):
                self.__dict__.pop(attr, None)

    def _pack(self, network):
        """theta from coefs_, intercepts_ (and bn_gamma_), possibly set by
        the user."""
        gammas = getattr(self, "bn_gamma_", None) if network.batch_norm else None
        if network.batch_norm and gammas is None:
            raise ValueError("batch_norm differs from the fitted model's; refit "
                             "from scratch (warm_start=False).")
        return network.pack(self.coefs_, self.intercepts_, gammas)

    def _user_params(self):
        """Whether coefs_ or intercepts_ hold arrays other than views of theta."""
        owner = _owner(self._model.theta)
        return any(_owner(a) is not owner for a in self.coefs_ + self.intercepts_)

    def _prediction_model(self):
        """The model predictions use: the fitted one, or the user's coefs_ and
        intercepts_ where they replaced its views."""
        model = self._model
        if self._user_params():
            model = _Model(model.network, self._pack(model.network), model.running)
        return model

    def __getstate__(self):
        # A copy: object.__getstate__ returns the instance's own __dict__.
        state = dict(super().__getstate__())
        model = state.pop("_model", None)
        if model is not None:
            # coefs_ and intercepts_ are views of theta (or arrays a user put
            # there for warm_start): store them once, in theta.
            state["_network"] = model.network
            state["_theta"] = self._pack(model.network)
            state["_running"] = model.running
            for attr in ("coefs_", "intercepts_", "bn_gamma_", "bn_running_mean_",
                         "bn_running_var_"):
                state.pop(attr, None)
        return state

    def __setstate__(self, state):
        state = dict(state)
        parts = [state.pop(k, None) for k in ("_network", "_theta", "_running")]
        super().__setstate__(state)
        if parts[0] is not None:
            self._install(_Model(*parts))

    @contextmanager
    def _rollback_on_error(self):
        """A call that fails leaves the estimator as it was, but for a
        divergence, which deliberately keeps the last finite parameters."""
        saved = dict(self.__dict__)
        try:
            yield
        except DivergenceError:
            raise
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    # Fitting ------------------------------------------------------------------

    def _dropout_rates(self, n_hidden):
        """Dropout rate of each hidden layer, validated."""
        rates = np.atleast_1d(np.asarray(self.dropout, dtype=np.float64))
        if rates.ndim != 1 or (rates.size != 1 and rates.size != n_hidden):
            raise ValueError(
                f"dropout must be one rate or one per hidden layer ({n_hidden}); "
                f"got {self.dropout!r}."
            )
        if np.any(~np.isfinite(rates)) or np.any(rates < 0) or np.any(rates >= 1):
            raise ValueError(f"dropout rates must be in [0, 1); got {self.dropout!r}.")
        return np.broadcast_to(rates, (n_hidden,)).copy()

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _fit(self, X, y, sample_weight=None, incremental=False):
        with self._rollback_on_error():
            return self._fit_unguarded(X, y, sample_weight, incremental)

    def _fit_unguarded(self, X, y, sample_weight, incremental):
        # imported here: _training imports this module
        from ._training import fit_lbfgs, fit_stochastic, thread_plan

        if incremental and hasattr(self, "coefs_"):
            # scikit-learn's _fit_context validates only the first call of
            # partial_fit; a hyper-parameter set since then would otherwise
            # fail deep inside or train silently with a negative penalty.
            self._validate_params()
        hidden = self._hidden_sizes()
        check_schedule_params(self.learning_rate, self.lr_schedule_params)
        dtype = _check_dtype(self.dtype)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        if not first_pass and np.dtype(dtype) != self._model.network.dtype:
            raise ValueError(
                f"dtype={self.dtype!r} differs from the dtype the model was "
                f"fitted with ({self._model.network.dtype}); refit from scratch."
            )
        # Everything that can reject the input runs before any state changes,
        # so that a fitted model survives a failed call untouched.
        X, Y = self._validate_input(X, y, incremental, reset=first_pass, dtype=dtype)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=dtype, ensure_non_negative=True
            )
        layer_sizes = [X.shape[1]] + hidden + [Y.shape[1]]
        out_activation, loss = self._output_layer(Y)
        dropout = self._dropout_rates(len(hidden))
        if self.batch_norm and SOLVERS[self.solver].stochastic and (
            self.batch_size != "auto" and self.batch_size < 2 or X.shape[0] < 2
        ):
            raise ValueError(
                "batch_norm needs minibatches of at least 2 samples: expected "
                "more than 1 value per feature when training (batch_size="
                f"{self.batch_size}, n_samples={X.shape[0]})."
            )
        needs_seed = np.any(dropout > 0) or self.input_noise > 0
        network = Network(
            layer_sizes, self.activation, out_activation, loss, dtype,
            batch_norm=self.batch_norm, bn_momentum=self.bn_momentum,
            bn_eps=self.bn_eps, dropout=dropout if np.any(dropout > 0) else None,
            input_noise=self.input_noise,
        )
        if first_pass:
            theta = running = None
        else:
            if self.n_outputs_ != Y.shape[1]:
                raise ValueError(
                    f"y has {Y.shape[1]} outputs; the model was fitted with "
                    f"{self.n_outputs_}."
                )
            # Continue from coefs_/intercepts_, which the user may have set,
            # and from BN's running statistics.
            theta = self._pack(network)
            running = (np.array(self._model.running) if network.batch_norm
                       else network.initial_running())

        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, layer_sizes, out_activation)
            theta = network.init_params(self._random_state, self.weight_init)
            running = network.initial_running()
        if needs_seed:
            # Drawn only when needed, so that without dropout or noise the
            # random stream (shuffles) stays scikit-learn's.
            network.seed = int(self._random_state.randint(np.iinfo(np.int32).max))
        self._install(_Model(network, theta, running))

        plan = thread_plan(effective_n_threads(self.n_threads))
        with blas_threads(plan.blas_threads):
            if SOLVERS[self.solver].stochastic:
                fit_stochastic(self, X, Y, sample_weight, incremental, plan)
            else:
                fit_lbfgs(self, X, Y, sample_weight, plan)
        return self

    def _initialize(self, Y, layer_sizes, out_activation):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_sizes)
        self.out_activation_ = out_activation
        for attr in ("_opt_state", "_best_theta", "_best_running"):
            self.__dict__.pop(attr, None)
        if SOLVERS[self.solver].stochastic:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _check_solver(self):
        if not SOLVERS[self.solver].stochastic:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    def _learning_rate_init(self):
        if self.learning_rate_init == "auto":
            return SOLVERS[self.solver].lr
        return float(self.learning_rate_init)

    # Prediction ---------------------------------------------------------------

    def _forward(self, X, check_input=True, logits=False):
        """The network's outputs for X: the output activations, or with
        `logits` the output layer's pre-activations."""
        model = self._model
        vec_threads = prediction_n_threads(self.n_threads)
        if (
            check_input
            and self._plain_input(X, model)
            and X.shape[0] <= _engine.FEW_ROWS
            and not self._user_params()
        ):
            # Latency path for a few samples: no scikit-learn validation
            # (its checks are done here or, for NaN/inf, in the engine).
            out = np.empty((X.shape[0], model.network.sizes[-1]), dtype=X.dtype)
            if model.predictor.forward_few(X, out, vec_threads, logits):
                return out
        if check_input:
            X = self._check_predict_input(X, model)
        else:
            X = np.ascontiguousarray(X, dtype=model.network.dtype)
        model = self._prediction_model()
        out = np.empty((X.shape[0], model.network.sizes[-1]), dtype=X.dtype)
        # BLAS's own pool parallelises prediction's GEMMs; the engine's
        # elementwise loops stay on one thread so that the two pools never
        # compete (threadpoolctl cannot be switched per call: it is not
        # thread-safe).  A few samples take the engine's vector-matrix
        # products, which call no BLAS and share columns between threads.
        model.predictor.forward(X, out, logits, 1, vec_threads)
        return out

    def _check_finite(self, X):
        """scikit-learn's NaN/inf check of the training data, on the fit's
        threads (a single-threaded sum over MNIST takes 8 ms); scikit-learn
        words the error when there is one."""
        if not _engine.all_finite(X, effective_n_threads(self.n_threads)):
            assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)

    def _plain_input(self, X, model):
        """Whether X is what prediction usually gets and needs no conversion:
        a non-empty C-contiguous 2-d ndarray of the training dtype and width,
        for a model fitted without feature names."""
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype == model.network.dtype
            and X.flags.c_contiguous
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and "feature_names_in_" not in self.__dict__
        )

    def _check_predict_input(self, X, model):
        """scikit-learn's validation, with a fast path for plain input
        (`_plain_input`), where only the finiteness check remains, a few
        microseconds for a single sample."""
        if self._plain_input(X, model):
            if not np.isfinite(X.sum()) and not np.isfinite(X).all():
                # let scikit-learn name the problem (NaN or infinity)
                return validate_data(self, X, reset=False, order="C")
            return X
        return validate_data(
            self, X, reset=False, dtype=model.network.dtype.type, order="C"
        )

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


def check_fitted(est):
    """check_is_fitted, fast for a fitted model: check_is_fitted scans the
    instance's attributes (~10 us); a fitted model always has _model, so
    only an unfitted one pays for its message."""
    if "_model" not in est.__dict__:
        check_is_fitted(est)
