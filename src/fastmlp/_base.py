"""The machinery shared by MLPClassifier and MLPRegressor: parameter
constraints, validation, the fitted state and its rollback, the fit's set-up
(prediction: ``_prediction.PredictionMixin``).

A fitted estimator holds one ``_model._Model``: the network, its parameter
vector and BN's running statistics, replaced together in one assignment, so
that a prediction running beside a refit sees the old model or the new one,
whole.  ``coefs_``, ``intercepts_`` and the ``bn_*`` attributes are views of
it.
"""

import warnings
from abc import ABCMeta, abstractmethod
from operator import is_ as _is
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils import assert_all_finite, check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from . import _predictor
from ._aligned import aligned_empty
from ._callbacks import CallbackSupportMixin
from ._components import ACTIVATIONS, SOLVERS, WEIGHT_INITS
from ._model import _PARAM_ATTRS, _Model, _model_from_attributes
from ._network import Network
from ._prediction import PredictionMixin
from ._schedules import SCHEDULES, check_schedule_params
from ._threads import blas_limit, effective_n_threads
from ._build_info import VERSION
from .exceptions import InconsistentVersionWarning

_DTYPES = {"float32": np.float32, "float64": np.float64}
_INT_MAX = 2**31 - 1


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



def _checked_weights(sample_weight, X, dtype):
    """scikit-learn's sample-weight checks (shape, finite, non-negative),
    and at least one positive weight, which scikit-learn < 1.7 let pass."""
    sample_weight = _check_sample_weight(
        sample_weight, X, dtype=dtype, ensure_non_negative=True)
    if sample_weight.size and not np.any(sample_weight):
        raise ValueError(
            "Sample weights must contain at least one non-zero number.")
    return sample_weight

#: What scikit-learn's callbacks set on the estimator during a fit and its
#: fit wrapper removes afterwards (sklearn.callback).
_CALLBACK_CONTEXT = ("_callback_fit_ctx", "_skl_callbacks_to_teardown")

class BaseMLP(PredictionMixin, CallbackSupportMixin, BaseEstimator, metaclass=ABCMeta):
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
        "max_norm": [None, Interval(Real, 0, None, closed="neither")],
        "clip_norm": [None, Interval(Real, 0, None, closed="neither")],
        "mixup_alpha": [Interval(Real, 0, None, closed="left")],
        "swats_eps": [Interval(Real, 0, None, closed="neither")],
        "snapshot_ensemble": [None, Interval(Integral, 1, None, closed="left")],
        "adversarial_eps": [Interval(Real, 0, None, closed="left")],
        "adversarial_alpha": [Interval(Real, 0, 1, closed="right")],
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
        "scoring": [None, str, callable],
        "record_layer_stats": ["boolean"],
    }

    @abstractmethod
    def __init__(
        self, hidden_layer_sizes, activation, solver, alpha, batch_size,
        learning_rate, learning_rate_init, power_t, max_iter, loss, shuffle,
        random_state, tol, verbose, warm_start, momentum, nesterovs_momentum,
        early_stopping, validation_fraction, beta_1, beta_2, epsilon,
        n_iter_no_change, max_fun, dtype, weight_init, n_threads,
        lr_schedule_params, rho, weight_decay, batch_norm, bn_momentum, bn_eps,
        dropout, input_noise, scoring, record_layer_stats, max_norm=None,
        clip_norm=None, mixup_alpha=0.0, swats_eps=1e-9, snapshot_ensemble=None,
        adversarial_eps=0.0, adversarial_alpha=0.5,
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
        self.max_norm = max_norm
        self.clip_norm = clip_norm
        self.mixup_alpha = mixup_alpha
        self.swats_eps = swats_eps
        self.snapshot_ensemble = snapshot_ensemble
        self.adversarial_eps = adversarial_eps
        self.adversarial_alpha = adversarial_alpha
        self.scoring = scoring
        self.record_layer_stats = record_layer_stats

    # Subclass hooks -----------------------------------------------------------

    @abstractmethod
    def _validate_input(self, X, y, incremental, reset, dtype):
        """Validate X and y; return X and the target matrix Y, both of `dtype`."""

    @abstractmethod
    def _output_layer(self, Y):
        """(out_activation_, loss) for the target matrix Y."""

    def _output_groups(self):
        """Widths of the output's softmax groups (multitask), or None."""
        return None

    @abstractmethod
    def _decode(self, Y):
        """Targets as the user gave them, from the target matrix Y."""

    @abstractmethod
    def _score(self, X, y, sample_weight=None):
        """Score without input validation (for early stopping)."""

    @abstractmethod
    def _encode_validation(self, y_val, dtype):
        """The target matrix of user-supplied validation targets (checked
        against the fitted ones: classes, outputs)."""

    def _training_targets(self, Y):
        """The target matrix that training fits (label smoothing), from the
        encoded targets Y."""
        return Y

    def _check_training_options(self):
        """Options that act on minibatch training need a first-order
        solver; snapshot ensembles need restarts; adversarial training no
        batch norm."""
        if self.snapshot_ensemble is not None and self.learning_rate != "cosine_restarts":
            raise ValueError(
                f"snapshot_ensemble={self.snapshot_ensemble!r} keeps the model at the "
                "end of each restart period of learning_rate='cosine_restarts'; "
                f"learning_rate={self.learning_rate!r} has none (set "
                "learning_rate='cosine_restarts', or snapshot_ensemble=None)."
            )
        if self.adversarial_eps > 0 and self.batch_norm:
            raise ValueError(
                f"adversarial_eps={self.adversarial_eps!r} is not supported with "
                "batch_norm=True: the adversarial examples' second pass would "
                "move the batch statistics again (set batch_norm=False, or "
                "adversarial_eps=0)."
            )
        if SOLVERS[self.solver].stochastic:
            return
        for name, off in (("clip_norm", None), ("max_norm", None), ("mixup_alpha", 0.0),
                          ("snapshot_ensemble", None), ("adversarial_eps", 0.0)):
            if getattr(self, name) not in (None, 0, 0.0):
                raise ValueError(
                    f"{name}={getattr(self, name)!r} acts on minibatch training; "
                    f"solver={self.solver!r} trains on the full batch (use a "
                    f"first-order solver, or {name}={off!r})."
                )

    def _class_weights(self, Y, incremental):
        """Per-sample weights from class_weight (classifiers), or None."""
        return None

    def _validation_weights(self, y_val, sample_weight_val):
        """A user's validation sample weights, with class weights where the
        estimator has them."""
        return sample_weight_val

    # The fitted state --------------------------------------------------------

    def _install(self, model):
        """Make `model` the fitted model: the model and the public attributes
        showing it change in one dictionary update, so that a reader (a
        prediction in another thread) sees the old ones or the new ones."""
        self.__dict__.update({"_model": model,
                              **{k: list(v) for k, v in model.views.items()}})
        for attr in _PARAM_ATTRS:
            if attr not in model.views:
                self.__dict__.pop(attr, None)

    def _current_model(self, network=None):
        """The model that predictions, partial_fit, warm starts and pickles
        use: the fitted one, or one made from the public attributes where the
        user replaced their arrays (checked by _model_from_attributes).  With
        `network` (a warm start's), the attributes must fit it."""
        # One dict, read once: fits replace the whole __dict__, never a key
        # of it, so the model and the public lists are of one state.
        d = self.__dict__
        model = d["_model"]
        if network is None:
            # the usual case, on predict's latency path: the public lists are
            # the model's own, holding its own views
            network = model.network
            for k, v in model.views.items():
                a = d.get(k)
                if type(a) is not list or len(a) != len(v) or not all(map(_is, a, v)):
                    break
            else:
                return model
        elif network.batch_norm != model.network.batch_norm:
            raise ValueError(
                f"batch_norm={network.batch_norm} differs from the fitted "
                f"model's ({model.network.batch_norm}); with warm_start=True the "
                "architecture must stay the same (refit with warm_start=False)."
            )
        return _model_from_attributes(network, {k: d.get(k) for k in _PARAM_ATTRS})

    def __getstate__(self):
        est = self._reader()   # one fitted state, even beside a refit
        # A copy: object.__getstate__ returns the instance's own __dict__.
        state = dict(super(BaseMLP, est).__getstate__())
        state["_fastmlp_version"] = VERSION
        if "_model" in state:
            # the parameters once, in theta and running (the user's arrays
            # where they replaced the model's)
            model = est._current_model()
            state.pop("_model")
            state["_network"] = model.network.to_dict()   # builtins only
            state["_theta"] = model.theta
            state["_running"] = model.running
            for attr in _PARAM_ATTRS:
                state.pop(attr, None)
        for key in ("_snapshots", "_snapshot_run"):
            if state.get(key):
                # each snapshot as its parameters, the network being the model's
                state[key] = [(m.theta, m.running) for m in state[key]]
        return state

    def __setstate__(self, state):
        state = dict(state)
        version = state.pop("_fastmlp_version", "unknown")
        if version != VERSION:
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_version=VERSION,
                    original_version=version,
                )
            )
        parts = [state.pop(k, None) for k in ("_network", "_theta", "_running")]
        if isinstance(parts[0], dict):
            parts[0] = Network(**parts[0])
        snapshots = {key: state.pop(key) for key in ("_snapshots", "_snapshot_run")
                     if key in state}
        super().__setstate__(state)
        if parts[0] is not None:
            self._install(_Model(*parts))
            for key, value in snapshots.items():
                setattr(self, key, [_Model(parts[0], theta, running)
                                    for theta, running in value])

    @contextmanager
    def _transaction(self):
        """A call that changes the fitted state works on a copy of the
        estimator (yielded), installed whole when the call succeeds (or, for
        a fit that diverged after completing epochs, keeps them: its
        DivergenceError carries ``_keeps_state``).  The instance's
        ``__dict__`` is replaced in one assignment, never changed key by key,
        so that a reader in another thread (``_reader``), or a Ctrl-C at any
        line, finds the old state or the new one, whole."""
        work = object.__new__(type(self))
        work.__dict__ = dict(self.__dict__)
        try:
            yield work
        except BaseException as exc:
            if getattr(exc, "_keeps_state", False):
                self.__dict__ = work.__dict__
            else:
                # the callbacks' context set up by the call, which
                # scikit-learn's fit wrapper tears down after it
                context = {k: work.__dict__[k] for k in _CALLBACK_CONTEXT
                           if k in work.__dict__}
                if context:
                    self.__dict__ = {**self.__dict__, **context}
            raise
        self.__dict__ = work.__dict__

    def _reader(self):
        """The estimator as it stands now, for one prediction: an instance
        sharing this one's current ``__dict__``, which fits replace instead
        of changing (``_transaction``), so every attribute the prediction
        reads comes from one fitted state."""
        view = object.__new__(type(self))
        view.__dict__ = self.__dict__
        return view

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
        """hidden_layer_sizes as a list of ints, each an integer >= 1 that a
        32-bit BLAS can take (5.5, inf or 10**30 are rejected, not cut)."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, str) or not hasattr(sizes, "__iter__"):
            sizes = [sizes]
        sizes = list(sizes)
        for s in sizes:
            if isinstance(s, (bool, np.bool_)) or not isinstance(s, Real):
                ok = False
            elif isinstance(s, Integral):
                ok = 1 <= s <= _INT_MAX
            else:   # an integral float such as 5.0, but not 5.5 or inf
                ok = float(s).is_integer() and 1 <= s <= _INT_MAX
            if not ok:
                raise ValueError(
                    "hidden_layer_sizes must hold integers from 1 to "
                    f"{_INT_MAX}; got {self.hidden_layer_sizes!r}."
                )
        return [int(s) for s in sizes]

    def _fit(self, X, y, sample_weight=None, incremental=False, validation=None):
        with self._transaction() as work:
            work._fit_unguarded(X, y, sample_weight, incremental, validation)
        return self

    def _fit_unguarded(self, X, y, sample_weight, incremental, validation):
        # imported here: _training and _books import this module
        from ._books import validation_set
        from ._training import fit_lbfgs, fit_stochastic

        hidden, dtype, first_pass = self._check_fit_params(incremental)
        # Everything that can reject the input runs before any state changes,
        # so that a fitted model survives a failed call untouched.
        X, Y = self._validate_input(X, y, incremental, reset=first_pass, dtype=dtype)
        class_weights = self._class_weights(Y, incremental)
        if class_weights is not None:
            # multiplied into sample_weight in float64, before its conversion
            sample_weight = class_weights * (
                1.0 if sample_weight is None
                else np.asarray(sample_weight, dtype=np.float64))
        if sample_weight is not None:
            sample_weight = _checked_weights(sample_weight, X, dtype)
        if validation is not None:
            validation = validation_set(self, *validation, dtype=dtype)
        plan = self._start_model(X.shape, Y, hidden, dtype, first_pass)
        if SOLVERS[self.solver].stochastic:
            blas_limit.run(plan.blas_threads, fit_stochastic, self, X, Y,
                           sample_weight, incremental, plan, validation)
        else:
            blas_limit.run(plan.blas_threads, fit_lbfgs, self, X, Y, sample_weight, plan)
        return self

    def _check_fit_params(self, incremental):
        """The checks of a fit's hyper-parameters that scikit-learn's
        validation does not make: ``(hidden sizes, dtype, first_pass)``,
        `first_pass` whether the fit starts from a new initialisation."""
        if incremental and hasattr(self, "coefs_"):
            # scikit-learn's _fit_context validates only the first call of
            # partial_fit; a hyper-parameter set since then would otherwise
            # fail deep inside or train silently with a negative penalty.
            self._validate_params()
        hidden = self._hidden_sizes()
        self._check_training_options()
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
        return hidden, dtype, first_pass

    def _start_model(self, shape, Y, hidden, dtype, first_pass):
        """Install the model a fit starts from, for data of `shape` (n_samples,
        n_features) and target matrix `Y` (only its width is read): a new
        initialisation (`first_pass`) or the fitted parameters (a warm start
        or partial_fit).  Returns the fit's ThreadPlan."""
        from ._training import thread_plan

        n_samples, n_features = shape
        layer_sizes = [n_features] + hidden + [Y.shape[1]]
        out_activation, loss = self._output_layer(Y)
        dropout = self._dropout_rates(len(hidden))
        if self.batch_norm and (n_samples < 2 or SOLVERS[self.solver].stochastic
                                and self.batch_size != "auto" and self.batch_size < 2):
            raise ValueError(
                "batch_norm needs minibatches of at least 2 samples: expected "
                "more than 1 value per feature when training (batch_size="
                f"{self.batch_size}, n_samples={n_samples})."
            )
        needs_seed = np.any(dropout > 0) or self.input_noise > 0 or self.mixup_alpha > 0
        network = Network(
            layer_sizes, self.activation, out_activation, loss, dtype,
            batch_norm=self.batch_norm, bn_momentum=self.bn_momentum,
            bn_eps=self.bn_eps, dropout=dropout if np.any(dropout > 0) else None,
            input_noise=self.input_noise, out_groups=self._output_groups(),
        )
        if first_pass:
            theta = running = None
        else:
            if self.n_outputs_ != Y.shape[1]:
                raise ValueError(
                    f"y has {Y.shape[1]} outputs; the model was fitted with "
                    f"{self.n_outputs_}."
                )
            # Continue from coefs_, intercepts_ and BN's attributes, which
            # the user may have set (checked against the new network).
            current = self._current_model(network)
            # copies: the fitted model stays as it is until the call succeeds
            theta = aligned_empty(network.n_params, network.dtype)
            theta[...] = current.theta
            running = current.running.copy()

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
        return thread_plan(effective_n_threads(self.n_threads))

    def _initialize(self, Y, layer_sizes, out_activation):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_sizes)
        self.out_activation_ = out_activation
        for attr in ("_opt_state", "_best_theta", "_best_running"):
            self.__dict__.pop(attr, None)
        self.layer_stats_ = None
        if SOLVERS[self.solver].stochastic:
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_ = []
                self.validation_loss_curve_ = []
                self.best_validation_score_ = -np.inf
                self.best_loss_ = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.validation_loss_curve_ = None
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

    def _check_finite(self, X):
        """scikit-learn's NaN/inf check of the training data, on the fit's
        threads (a single-threaded sum over MNIST takes 8 ms); scikit-learn
        words the error when there is one."""
        data = X.data if sp.issparse(X) else X
        if data.ndim == 1:
            data = data.reshape(1, -1)
        if not _predictor.all_finite(data, effective_n_threads(self.n_threads)):
            assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)

    def _score_with_function(self, X, y, sample_weight, score_function):
        y_pred = self._predict(X, check_input=False)
        if np.issubdtype(y_pred.dtype, np.floating) and not np.isfinite(y_pred).all():
            return np.nan
        return score_function(y, y_pred, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def check_fitted(est):
    """check_is_fitted, fast for a fitted model: check_is_fitted scans the
    instance's attributes (~10 us); a fitted model always has _model, so
    only an unfitted one pays for its message."""
    if "_model" not in est.__dict__:
        check_is_fitted(est)
