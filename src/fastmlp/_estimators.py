"""MLPClassifier and MLPRegressor: scikit-learn's API over the fastmlp engine.

This layer validates parameters and data, encodes targets, and keeps the
books of training (loss curve, early stopping, learning-rate schedules,
verbose output).  It calls the engine once per epoch; the engine runs every
minibatch of the epoch without the GIL.
"""

import time
import warnings
from abc import ABCMeta, abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.optimize
from scipy.special import expit
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    is_classifier,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import assert_all_finite, check_random_state, shuffle
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from . import _engine
from ._network import (
    ACTIVATIONS, WEIGHT_INITS, Network, aligned, aligned_empty, aligned_zeros,
    opt_params, sparse_split,
)
from ._schedules import SCHEDULE_DEFAULTS, epoch_rates, schedule_params
from ._threads import (
    blas_threads,
    effective_n_threads,
    prediction_n_threads,
    training_plan,
)

_STOCHASTIC_SOLVERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop", "adadelta")
#: Decay of the squared-gradient averages when ``rho=None`` (PyTorch's).
_DEFAULT_RHO = {"rmsprop": 0.99, "adadelta": 0.9}
#: learning_rate_init="auto": scikit-learn's 0.001 for its solvers, PyTorch's
#: defaults for the others (Adadelta's 1.0 is the paper's rate-free update).
_DEFAULT_LR = {
    "sgd": 0.001, "adam": 0.001, "adamw": 0.001, "adagrad": 0.01,
    "rmsprop": 0.01, "adadelta": 1.0, "lbfgs": 0.001,
}
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


class DivergenceError(ValueError):
    """Training produced a non-finite loss.

    The estimator keeps the parameters it had at the end of the last epoch
    whose loss was finite.
    """


class _BaseMLP(BaseEstimator, metaclass=ABCMeta):
    """Shared machinery of MLPClassifier and MLPRegressor.

    Do not use directly.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"lbfgs", *_STOCHASTIC_SOLVERS})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [
            StrOptions({"constant", "invscaling", "adaptive", *SCHEDULE_DEFAULTS})
        ],
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
        self,
        hidden_layer_sizes,
        activation,
        solver,
        alpha,
        batch_size,
        learning_rate,
        learning_rate_init,
        power_t,
        max_iter,
        loss,
        shuffle,
        random_state,
        tol,
        verbose,
        warm_start,
        momentum,
        nesterovs_momentum,
        early_stopping,
        validation_fraction,
        beta_1,
        beta_2,
        epsilon,
        n_iter_no_change,
        max_fun,
        dtype,
        weight_init,
        n_threads,
        lr_schedule_params,
        rho,
        weight_decay,
        batch_norm,
        bn_momentum,
        bn_eps,
        dropout,
        input_noise,
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
    def _validate_input(self, X, y, incremental, reset):
        """Validate X and y; return X and the target matrix Y (training dtype)."""

    @abstractmethod
    def _output_layer(self, Y):
        """(out_activation_, loss) for the target matrix Y."""

    @abstractmethod
    def _score(self, X, y, sample_weight=None):
        """Score without input validation (for early stopping)."""

    # Parameters as views of theta -----------------------------------------

    def _set_theta(self, theta):
        theta = aligned(theta)  # e.g. unpickled: the engine wants 64 bytes
        self._theta = theta
        net = self._network
        self.coefs_ = net.coefs(theta)
        self.intercepts_ = net.intercepts(theta)
        if net.batch_norm:
            self.bn_gamma_ = net.bn_gammas(theta)
            self.bn_running_mean_, self.bn_running_var_ = net.running_views()
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

    def __getstate__(self):
        # A copy: object.__getstate__ returns the instance's own __dict__.
        state = dict(super().__getstate__())
        if "_theta" in state:
            # coefs_ and intercepts_ are views of _theta (or arrays a user put
            # there for warm_start): store them once, in theta.
            state["_theta"] = self._pack(self._network)
            for attr in ("coefs_", "intercepts_", "bn_gamma_", "bn_running_mean_",
                         "bn_running_var_"):
                state.pop(attr, None)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_theta" in state:
            self._set_theta(self._theta)

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
        # A call that fails leaves the estimator as it was.  Validation runs
        # before training, and the state is restored on any error but a
        # divergence (which deliberately keeps the last finite parameters).
        saved = dict(self.__dict__)
        try:
            return self._fit_unguarded(X, y, sample_weight, incremental)
        except DivergenceError:
            raise
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _fit_unguarded(self, X, y, sample_weight, incremental):
        if incremental and hasattr(self, "coefs_"):
            # scikit-learn's _fit_context validates only the first call of
            # partial_fit; a hyper-parameter set since then would otherwise
            # fail deep inside (KeyError) or train silently with a negative
            # penalty or rate.
            self._validate_params()
        hidden = self._hidden_sizes()
        if self.learning_rate in SCHEDULE_DEFAULTS:
            self._schedule_params = schedule_params(
                self.learning_rate, self.lr_schedule_params
            )
        elif self.lr_schedule_params:
            raise ValueError(
                f"lr_schedule_params is given but learning_rate="
                f"{self.learning_rate!r} takes no parameters."
            )
        dtype = _check_dtype(self.dtype)
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "coefs_") or (
            not self.warm_start and not incremental
        )
        if not first_pass and np.dtype(dtype) != self._network.dtype:
            raise ValueError(
                f"dtype={self.dtype!r} differs from the dtype the model was "
                f"fitted with ({self._network.dtype}); refit from scratch."
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
        if self.batch_norm and self.solver in _STOCHASTIC_SOLVERS and (
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
            theta = None
        else:
            if self.n_outputs_ != Y.shape[1]:
                raise ValueError(
                    f"y has {Y.shape[1]} outputs; the model was fitted with "
                    f"{self.n_outputs_}."
                )
            # Continue from coefs_/intercepts_, which the user may have set,
            # and from BN's running statistics.
            theta = self._pack(network)
            if network.batch_norm:
                network.running = np.array(self._network.running)

        self._random_state = check_random_state(self.random_state)
        self._network = network
        if first_pass:
            self._initialize(Y, layer_sizes, out_activation)
            theta = network.init_params(self._random_state, self.weight_init)
        if needs_seed:
            # Drawn only when needed, so that without dropout or noise the
            # random stream (shuffles) stays scikit-learn's.
            network.seed = int(self._random_state.randint(np.iinfo(np.int32).max))
        self._set_theta(theta)

        engine_threads, n_blas, split = training_plan(
            effective_n_threads(self.n_threads)
        )
        with blas_threads(n_blas):
            if self.solver in _STOCHASTIC_SOLVERS:
                self._fit_stochastic(X, Y, sample_weight, incremental,
                                     engine_threads, split)
            else:
                self._fit_lbfgs(X, Y, sample_weight, engine_threads, split)
        return self

    def _initialize(self, Y, layer_sizes, out_activation):
        self.n_iter_ = 0
        self.t_ = 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(layer_sizes)
        self.out_activation_ = out_activation
        for attr in ("_opt_state", "_best_theta", "_best_running"):
            if hasattr(self, attr):
                delattr(self, attr)
        if self.solver in _STOCHASTIC_SOLVERS:
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

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than "
                "sample size. It is going to be clipped"
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _fit_stochastic(self, X, Y, sample_weight, incremental, n_threads,
                        split):
        net = self._network
        n_params = net.n_params
        if not incremental or not hasattr(self, "_opt_state"):
            # A fresh optimiser: zero state, step count 0, initial rate.
            self._learning_rate = self._learning_rate_init()
            self._opt_state = aligned_zeros(
                n_params * _engine.n_state_vectors(self._opt_params()), net.dtype
            )
            self._opt_t = 0
            self._schedule_epoch = 0
            self.learning_rate_curve_ = []
        # e.g. unpickled (from a memmap: read-only)
        self._opt_state = aligned(self._opt_state)
        for attr in ("loss_curve_",):
            if not hasattr(self, attr):
                setattr(self, attr, [])
        if not hasattr(self, "_no_improvement_count"):
            self._no_improvement_count = 0
        if not hasattr(self, "best_loss_"):
            self.best_loss_ = np.inf

        early_stopping = self.early_stopping
        X_val = y_val = sw_val = None
        if early_stopping:
            # As scikit-learn: only single-output targets are stratified.
            stratify = Y if is_classifier(self) and self.n_outputs_ == 1 else None
            arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
            split = train_test_split(
                *arrays,
                random_state=self._random_state,
                test_size=self.validation_fraction,
                stratify=stratify,
            )
            X, X_val, Y, Y_val = split[:4]
            if sample_weight is not None:
                sample_weight, sw_val = split[4:]
            if X_val.shape[0] < 2:
                raise ValueError(
                    "The validation set is too small. Increase "
                    "'validation_fraction' or the size of your dataset."
                )
            y_val = self._decode(Y_val)
            X = np.ascontiguousarray(X)
            Y = np.ascontiguousarray(Y)
            if sample_weight is not None:
                sample_weight = np.ascontiguousarray(sample_weight)

        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        n_batches = (n_samples + batch_size - 1) // batch_size
        sample_idx = np.arange(n_samples, dtype=np.intp)
        no_order = np.empty(0, dtype=np.intp)
        no_rates = np.empty(0, dtype=np.float64)
        sw = net._weights(sample_weight)
        grad = aligned_empty(n_params, net.dtype)
        work, dwork = net.workspace(batch_size)
        theta = self._theta
        last_finite = np.empty_like(theta)
        sparse = sparse_split(X, n_threads, self.input_noise)

        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=self._random_state)
                    order = np.ascontiguousarray(sample_idx, dtype=np.intp)
                else:
                    order = no_order
                last_finite[...] = theta
                last_running = net.running.copy()
                opt = self._opt_params()
                if self.learning_rate in SCHEDULE_DEFAULTS:
                    rates = epoch_rates(
                        self.learning_rate, self._schedule_params,
                        self._learning_rate_init(), self._schedule_epoch,
                        self._opt_t, n_batches, self.max_iter,
                    )
                    self.learning_rate_curve_.append(float(rates[0]))
                else:
                    rates = no_rates
                    self.learning_rate_curve_.append(self._learning_rate)
                tic = time.perf_counter()
                total, t, _, failed = _engine.train_epoch(
                    X, Y, sw, order, batch_size, theta, grad, self._opt_state,
                    self._opt_t, opt, rates, *net._args(self._schedule_epoch),
                    work, dwork, n_threads, split, sparse_split=sparse,
                )
                elapsed = time.perf_counter() - tic
                if failed < 0 and not np.isfinite(theta).all():
                    # The last update overflowed after a finite loss.
                    failed = n_batches - 1
                if failed >= 0:
                    theta[...] = last_finite
                    net.running[...] = last_running
                    # The optimiser state may hold non-finite values too.
                    self._opt_state[...] = 0
                    self._opt_t = 0
                    raise DivergenceError(
                        f"The loss became non-finite in epoch {self.n_iter_ + 1} "
                        f"(minibatch {failed}); training stopped and the model "
                        f"keeps the parameters from the end of epoch "
                        f"{self.n_iter_}. Lower learning_rate_init, or scale "
                        "the inputs."
                    )
                self._opt_t = t
                self._schedule_epoch += 1
                self.n_iter_ += 1
                self.loss_ = total / n_samples
                self.t_ += n_samples
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(
                        "Iteration %d, loss = %.8f, time = %.3fs"
                        % (self.n_iter_, self.loss_, elapsed)
                    )

                self._update_no_improvement_count(early_stopping, X_val, y_val, sw_val)
                # Learning rate updated at the end of an epoch, as scikit-learn.
                if self._sklearn_schedule() and self.learning_rate == "invscaling":
                    self._learning_rate = self._learning_rate_init() / (
                        (self.t_ + 1) ** self.power_t
                    )

                if self._no_improvement_count > self.n_iter_no_change:
                    if early_stopping:
                        msg = (
                            "Validation score did not improve more than "
                            "tol=%f for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    else:
                        msg = (
                            "Training loss did not improve more than tol=%f"
                            " for %d consecutive epochs."
                            % (self.tol, self.n_iter_no_change)
                        )
                    if self._trigger_stopping(msg):
                        break
                    self._no_improvement_count = 0

                if incremental:
                    break

                if self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) "
                        "reached and the optimization hasn't converged yet."
                        % self.max_iter,
                        ConvergenceWarning,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.")

        if early_stopping and getattr(self, "_best_theta", None) is not None:
            # the best validation weights, and BN's statistics of that epoch
            theta[...] = self._best_theta
            net.running[...] = self._best_running

    def _opt_params(self):
        rho = self.rho if self.rho is not None else _DEFAULT_RHO.get(self.solver, 0.9)
        return opt_params(
            solver=self.solver,
            lr=self._learning_rate,
            momentum=self.momentum if self.solver == "sgd" else 0.0,
            nesterov=self.nesterovs_momentum,
            beta1=self.beta_1,
            beta2=self.beta_2,
            eps=self.epsilon,
            rho=rho,
            weight_decay=self.weight_decay,
            n_decay=self._network.n_weights,
            alpha=self.alpha,
            loss_scale=self._network.loss_scale,
        )

    def _check_solver(self):
        if self.solver not in _STOCHASTIC_SOLVERS:
            raise AttributeError(
                "partial_fit is only available for stochastic"
                " optimizers. %s is not stochastic." % self.solver
            )
        return True

    def _learning_rate_init(self):
        if self.learning_rate_init == "auto":
            return _DEFAULT_LR[self.solver]
        return float(self.learning_rate_init)

    def _sklearn_schedule(self):
        """Whether scikit-learn's invscaling/adaptive apply: to every solver
        but adam, which scikit-learn runs at a constant rate whatever
        learning_rate says (kept, so that drop-in results stay the same)."""
        return self.solver != "adam"

    def _trigger_stopping(self, msg):
        """scikit-learn's rule: stop, or with learning_rate="adaptive" and sgd
        divide the rate by 5 until it falls below 1e-6."""
        if not self._sklearn_schedule() or self.learning_rate != "adaptive":
            if self.verbose:
                print(msg + " Stopping.")
            return True
        if self._learning_rate <= 1e-6:
            if self.verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self._learning_rate /= 5.0
        if self.verbose:
            print(msg + " Setting learning rate to %f" % self._learning_rate)
        return False

    def _update_no_improvement_count(self, early_stopping, X_val, y_val, sw_val):
        if early_stopping:
            val_score = self._score(X_val, y_val, sample_weight=sw_val)
            self.validation_scores_.append(val_score)
            if self.verbose:
                print("Validation score: %f" % val_score)
            if val_score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if val_score > self.best_validation_score_:
                self.best_validation_score_ = val_score
                self._best_theta = self._theta.copy()
                self._best_running = self._network.running.copy()
        else:
            if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if self.loss_curve_[-1] < self.best_loss_:
                self.best_loss_ = self.loss_curve_[-1]

    def _fit_lbfgs(self, X, Y, sample_weight, n_threads, split):
        net = self._network
        capacity = X.shape[0] if net.batch_norm else max(1, min(X.shape[0], 4096))
        workspace = net.workspace(capacity)
        theta = np.empty(net.n_params, dtype=net.dtype)
        grad = np.empty(net.n_params, dtype=net.dtype)

        def fun(packed):
            theta[...] = packed
            loss, _ = net.loss_and_grad(
                theta, X, Y, sample_weight, self.alpha, grad=grad,
                capacity=capacity, n_threads=n_threads, workspace=workspace,
                split_gemm=split,
            )
            return loss, grad.astype(np.float64)

        iprint = 1 if self.verbose is True or self.verbose >= 1 else -1
        opt_res = scipy.optimize.minimize(
            fun,
            self._theta.astype(np.float64),
            method="L-BFGS-B",
            jac=True,
            options={
                "maxfun": self.max_fun,
                "maxiter": self.max_iter,
                "gtol": self.tol,
                **({"iprint": iprint} if _lbfgs_has_iprint() else {}),
            },
        )
        if not np.all(np.isfinite(opt_res.x)) or not np.isfinite(opt_res.fun):
            raise DivergenceError(
                "L-BFGS produced non-finite parameters or loss; the model keeps "
                "its initial parameters. Scale the inputs."
            )
        self.n_iter_ = _check_optimize_result("lbfgs", opt_res, self.max_iter)
        self.loss_ = float(opt_res.fun)
        self._theta[...] = opt_res.x
        if net.batch_norm:
            # Full-batch training: the running statistics are the statistics
            # of the whole training set (a momentum of 1 takes them as they are).
            momentum, net.bn_momentum = net.bn_momentum, 1.0
            net.loss_and_grad(self._theta, X, Y, sample_weight, self.alpha,
                              grad=grad, n_threads=n_threads, split_gemm=split,
                              update_stats=True)
            net.bn_momentum = momentum

    # Prediction ---------------------------------------------------------------

    def _forward(self, X, check_input=True, logits=False):
        net = self._network
        if (
            check_input
            and self._plain_input(X)
            and X.shape[0] <= _engine.FEW_ROWS
            and not self._user_params()
        ):
            # Latency path for a few samples: no scikit-learn validation
            # (its checks are done here or, for NaN/inf, in the engine).
            out = net.forward_few(self._theta, X, logits,
                                  prediction_n_threads(self.n_threads))
            if out is not None:
                return out
        if check_input:
            X = self._check_predict_input(X)
        else:
            X = np.ascontiguousarray(X, dtype=self._network.dtype)
        theta = self._theta
        if self._user_params():
            # The user replaced coefs_/intercepts_: predict with theirs.
            theta = self._pack(self._network)
        # BLAS's own pool parallelises prediction's GEMMs; the engine's
        # elementwise loops stay on one thread so that the two pools never
        # compete (threadpoolctl cannot be switched per call: not thread-safe).
        # A few samples take the engine's own vector-matrix products, which
        # call no BLAS and share the columns between OpenMP threads.
        return self._network.forward(
            theta, X, n_threads=1, logits=logits,
            vec_threads=prediction_n_threads(self.n_threads),
        )

    def _check_finite(self, X):
        """scikit-learn's NaN/inf check of the training data, on the fit's
        threads (a single-threaded sum over MNIST takes 8 ms); scikit-learn
        words the error when there is one."""
        if not _engine.all_finite(X, effective_n_threads(self.n_threads)):
            assert_all_finite(X, input_name="X", estimator_name=type(self).__name__)

    def _user_params(self):
        """Whether coefs_ or intercepts_ hold arrays other than views of theta."""
        theta = self._theta
        for c in self.coefs_:
            if _owner(c) is not _owner(theta):
                return True
        for b in self.intercepts_:
            if _owner(b) is not _owner(theta):
                return True
        return False

    def _plain_input(self, X):
        """Whether X is what prediction usually gets and needs no conversion:
        a non-empty C-contiguous 2-d ndarray of the training dtype and width,
        for a model fitted without feature names."""
        return (
            type(X) is np.ndarray
            and X.ndim == 2
            and X.dtype == self._network.dtype
            and X.flags.c_contiguous
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and "feature_names_in_" not in self.__dict__
        )

    def _check_predict_input(self, X):
        """scikit-learn's validation, with a fast path for plain input
        (`_plain_input`), where only the finiteness check remains, a few
        microseconds for a single sample."""
        if self._plain_input(X):
            if not np.isfinite(X.sum()) and not np.isfinite(X).all():
                # let scikit-learn name the problem (NaN or infinity)
                return validate_data(self, X, reset=False, order="C")
            return X
        return validate_data(
            self, X, reset=False, dtype=self._network.dtype.type, order="C"
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


def _check_fitted(est):
    # check_is_fitted scans the instance's attributes (~10 us); a fitted
    # model always has _theta, so only an unfitted one pays for its message.
    if "_theta" not in est.__dict__:
        check_is_fitted(est)


def _lbfgs_has_iprint():
    # SciPy 1.15 deprecated L-BFGS-B's iprint option.
    from sklearn.utils.fixes import sp_version, parse_version

    return sp_version < parse_version("1.15")


_COMMON_DOC_NOTES = """
    All parameters live in one flat vector; ``coefs_[i]`` and
    ``intercepts_[i]`` are views of it.  An epoch runs in the compiled engine
    without the GIL: minibatch gathering, forward pass, loss, backward pass
    and optimiser step.
"""


def _owner(a):
    """The array whose memory `a` uses (numpy points a view's base there)."""
    return a if a.base is None else a.base


def _one_hot(binarizer, y, dtype):
    """``binarizer.transform(y)`` as a C-contiguous array of `dtype`; a
    direct one-hot fill for multiclass labels (MNIST: 7 ms -> 2 ms, a fifth
    of a small model's epoch set-up)."""
    classes = binarizer.classes_
    if binarizer.y_type_ == "multiclass" and y.ndim == 1 and len(classes) > 2:
        idx = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
        if np.array_equal(classes[idx], y):  # every label is a class
            Y = np.zeros((y.shape[0], len(classes)), dtype=dtype)
            Y[np.arange(y.shape[0]), idx] = 1
            return Y
    return np.ascontiguousarray(binarizer.transform(y), dtype=dtype)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier, trained by the fastmlp engine.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    same parameters, defaults, fitted attributes and training semantics,
    plus ``dtype``, ``weight_init``, ``n_threads`` and more activations.

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
        An empty tuple gives a network without hidden layers.

    activation : {'identity', 'logistic', 'sigmoid', 'tanh', 'relu', \
'leaky_relu', 'elu'}, default='relu'
        Activation of the hidden layers. ``'sigmoid'`` is an alias of
        ``'logistic'``; ``'leaky_relu'`` has negative slope 0.01 and
        ``'elu'`` alpha 1.0 (PyTorch's defaults).

    solver : {'lbfgs', 'sgd', 'adam', 'adamw', 'adagrad', 'rmsprop', \
'adadelta'}, default='adam'
        Every first-order update is one fused loop over the flat parameter
        vector (g: gradient including the L2 term, t: step count from 1).

        - ``'sgd'`` (scikit-learn's): v <- momentum v - lr g; theta += v,
          or with ``nesterovs_momentum`` theta += momentum v - lr g
          (Bengio's form of Nesterov). PyTorch keeps an unscaled buffer
          b <- momentum b + g, the same while lr is constant.
        - ``'adam'`` (scikit-learn's): m <- beta_1 m + (1 - beta_1) g,
          v <- beta_2 v + (1 - beta_2) g^2, theta -= lr sqrt(1 - beta_2^t) /
          (1 - beta_1^t) m / (sqrt(v) + epsilon): epsilon is added to the
          uncorrected sqrt(v) (Kingma & Ba Sec. 2); PyTorch and the paper's
          Algorithm 1 add it to the corrected one.
        - ``'adamw'`` (PyTorch's, Loshchilov & Hutter): theta *= 1 - lr
          weight_decay on the weights (not the biases, unlike PyTorch's
          default), then Adam with epsilon added to the corrected sqrt(v).
        - ``'adagrad'`` (PyTorch's, Duchi et al.): G += g^2; theta -= lr g /
          (sqrt(G) + epsilon), epsilon outside the root (PyTorch's default
          epsilon is 1e-10, ours stays scikit-learn's 1e-8).
        - ``'rmsprop'`` (PyTorch's, Hinton): E <- rho E + (1 - rho) g^2;
          theta -= lr g / (sqrt(E) + epsilon), epsilon outside the root, no
          momentum; rho=0.99 (PyTorch's ``alpha``; Hinton suggests 0.9).
        - ``'adadelta'`` (Zeiler, as PyTorch): E_g <- rho E_g + (1 - rho) g^2;
          dx = sqrt(E_dx + epsilon) / sqrt(E_g + epsilon) g;
          E_dx <- rho E_dx + (1 - rho) dx^2; theta -= lr dx, epsilon inside
          both roots; lr = 1 (the paper has no learning rate), rho = 0.9
          (PyTorch's; the paper uses 0.95 and epsilon 1e-6).
        - ``'lbfgs'``: SciPy's L-BFGS-B on the full-batch loss and gradient,
          as scikit-learn.

    alpha : float, default=0.0001
        L2 penalty on the weights (not the biases): the objective gains
        ``alpha / 2 * ||W||^2 / n`` with n the minibatch's total sample weight.

    batch_size : int or 'auto', default='auto'
        Minibatch size; ``'auto'`` is ``min(200, n_samples)``.

    learning_rate : {'constant', 'invscaling', 'adaptive', 'step', \
'cosine', 'cosine_restarts', 'cyclic'}, default='constant'
        Learning-rate schedule. scikit-learn's three, with its semantics,
        for every first-order solver but ``'adam'``, which scikit-learn
        (and so fastmlp) runs at a constant rate whatever this says:

        - ``'invscaling'``: lr = lr_init / (t_ + 1) ** power_t, t_ counting
          samples, updated after each epoch;
        - ``'adaptive'``: divide the rate by 5 whenever training would stop
          for lack of improvement, until it falls below 1e-6.

        The others apply to every first-order solver (adam included), with
        parameters from ``lr_schedule_params``:

        - ``'step'``: lr_init * gamma ** floor(epoch / step_size)
          (``step_size=10`` epochs, ``gamma=0.1``; PyTorch's StepLR);
        - ``'cosine'``: eta_min + (lr_init - eta_min) (1 + cos(pi epoch /
          T_max)) / 2 (``T_max=max_iter`` epochs, ``eta_min=0``);
        - ``'cosine_restarts'``: SGDR, the same cosine over periods of
          ``T_0=10`` epochs multiplied by ``T_mult=1`` at each restart
          (PyTorch's CosineAnnealingWarmRestarts stepped per epoch);
        - ``'cyclic'``: PyTorch's CyclicLR, changed every minibatch, between
          lr_init and ``max_lr`` (default 10 lr_init) over
          ``step_size_up=2000`` (and ``step_size_down``) steps, ``mode``
          ``'triangular'``, ``'triangular2'`` or ``'exp_range'`` (with
          ``gamma``). Momentum is not cycled.

        The rate of every step reaches the engine as one vector per epoch.

    learning_rate_init : float or 'auto', default='auto'
        Initial learning rate. ``'auto'`` is scikit-learn's 0.001 for
        ``'sgd'`` and ``'adam'`` (and for ``'adamw'``, as PyTorch), and
        PyTorch's defaults for the others: 0.01 for ``'adagrad'`` and
        ``'rmsprop'``, 1.0 for ``'adadelta'``.

    lr_schedule_params : dict, default=None
        Parameters of the schedules ``'step'``, ``'cosine'``,
        ``'cosine_restarts'`` and ``'cyclic'`` (see ``learning_rate``);
        keys not given take their defaults.

    rho : float, default=None
        Decay of the squared-gradient averages of ``'rmsprop'`` and
        ``'adadelta'``; None means 0.99 for rmsprop and 0.9 for adadelta
        (PyTorch's defaults).

    weight_decay : float, default=0.01
        Decoupled weight decay of ``'adamw'`` (PyTorch's default), applied to
        the weights only. ``alpha`` (L2 in the loss) works with every solver.

    batch_norm : bool, default=False
        Batch normalisation (Ioffe & Szegedy) of every hidden layer's
        pre-activations, before the activation: per feature, the minibatch's
        mean and biased variance (in double), x_hat = (z - mean) /
        sqrt(var + bn_eps), then gamma * x_hat + beta. beta replaces the
        layer's bias (it lives in that layer's ``intercepts_`` slot, starting
        at 0); gamma (``bn_gamma_``, starting at 1) and beta are trained by
        every solver and not touched by ``alpha``. The backward pass is the
        exact one of the paper. ``predict`` uses the running statistics
        (``bn_running_mean_``, ``bn_running_var_``), which ``partial_fit``
        and ``warm_start`` continue. A training minibatch of one sample is
        an error (``batch_size=1``); a last minibatch of one sample (when
        n_samples % batch_size == 1) is skipped in that epoch. With
        ``solver='lbfgs'`` the statistics are those of the whole training
        set.

    bn_momentum : float, default=0.1
        PyTorch's meaning: the weight of the new batch in the running
        statistics, r <- (1 - bn_momentum) r + bn_momentum * batch_stat, with
        the unbiased batch variance (m / (m - 1) times the biased one).

    bn_eps : float, default=1e-5
        Added to the variance before the square root (PyTorch's default).

    dropout : float or array-like of shape (n_hidden_layers,), default=0.0
        Dropout rate of the hidden layers (one for all, or one per layer):
        inverted dropout, each hidden unit's output zeroed with this
        probability in training and the kept ones scaled by 1 / (1 - rate);
        nothing changes at prediction.

    input_noise : float, default=0.0
        Standard deviation of Gaussian noise added to the inputs in training
        (noise robustness); none at prediction.

        Dropout masks and noise come from a counter-based generator keyed by
        (random_state, epoch, minibatch, element): the same seed gives the
        same model whatever the number of threads, and masks differ between
        minibatches and epochs.

    power_t : float, default=0.5
        Exponent of ``'invscaling'``: lr = lr_init / (t_ + 1) ** power_t,
        with t_ the number of samples seen, updated after each epoch.

    max_iter : int, default=200
        Maximum number of epochs (iterations for lbfgs).

    shuffle : bool, default=True
        Shuffle the samples in every epoch (sgd, adam).

    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffles and the early-stopping split;
        scikit-learn draws in the same order.

    tol : float, default=1e-4
        Improvement threshold for stopping (see ``n_iter_no_change``).

    verbose : bool, default=False
        Print the loss and time of each epoch.

    warm_start : bool, default=False
        Continue from ``coefs_`` and ``intercepts_`` (possibly set by the
        user) with a fresh optimiser.

    momentum : float, default=0.9
        Momentum of ``solver='sgd'``.

    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with ``solver='sgd'`` and momentum > 0.

    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for
        single-label targets) and stop when its accuracy does not improve by
        ``tol`` for ``n_iter_no_change`` + 1 epochs; the best parameters are
        restored at the end.

    validation_fraction : float, default=0.1
        Fraction of the data held out for early stopping.

    beta_1 : float, default=0.9
        Adam's decay of the first moment.

    beta_2 : float, default=0.999
        Adam's decay of the second moment.

    epsilon : float, default=1e-8
        Adam's numerical-stability constant.

    n_iter_no_change : int, default=10
        Epochs without improvement by ``tol`` (of the training loss, or the
        validation score with early stopping) after which training stops;
        stopping happens when the count exceeds this number.

    max_fun : int, default=15000
        Maximum number of loss evaluations of ``solver='lbfgs'``.

    dtype : {'float32', 'float64'}, default='float32'
        Floating-point type of training and prediction. ``X`` is converted
        once at the start of ``fit``. scikit-learn trains in the dtype of
        ``X``; fastmlp defaults to float32, as PyTorch does.

    weight_init : {'glorot_uniform', 'glorot_normal', 'he_uniform', \
'he_normal'}, default='glorot_uniform'
        Initialisation. ``'glorot_uniform'`` is scikit-learn's (weights and
        biases from U(-r, r), r = sqrt(6 / (fan_in + fan_out)), 2 instead of
        6 for the logistic activation). The others draw the weights from
        Glorot's normal or He's uniform / normal distributions (gain
        sqrt(2 / (1 + slope^2))) and start the biases at zero.

    n_threads : int, default=None
        Threads for the engine's loops and BLAS. None uses every core
        available to the process (or ``OMP_NUM_THREADS``).

    Attributes
    ----------
    classes_ : ndarray or list of ndarray of shape (n_classes,)
        Class labels.

    loss_ : float
        Loss of the last epoch (scikit-learn's averaging), or the final loss
        of lbfgs.

    best_loss_ : float or None
        Lowest training loss seen; None with early stopping.

    loss_curve_ : list of float
        Training loss of each epoch (stochastic solvers).

    learning_rate_curve_ : list of float
        Learning rate at the first step of each epoch (stochastic solvers).

    bn_gamma_ : list of ndarray of shape (n_units,)
        With ``batch_norm``: BN's scales of the hidden layers (views of the
        flat parameter vector); the shifts are the hidden ``intercepts_``.

    bn_running_mean_, bn_running_var_ : list of ndarray of shape (n_units,)
        With ``batch_norm``: the running (population) statistics of the
        hidden layers, used by ``predict``.

    validation_scores_ : list of float or None
        Validation accuracy of each epoch with early stopping, else None.

    best_validation_score_ : float or None
        Best validation accuracy with early stopping, else None.

    t_ : int
        Number of training samples seen.

    coefs_ : list of ndarray of shape (n_in, n_out)
        Weight matrices, views of the flat parameter vector.

    intercepts_ : list of ndarray of shape (n_out,)
        Bias vectors, views of the flat parameter vector.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit (only for X with string column
        names).

    n_iter_ : int
        Number of epochs (iterations) run by the solver in the last call.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of output units: 1 for binary problems, n_classes otherwise.

    out_activation_ : str
        ``'softmax'`` for multiclass, ``'logistic'`` for binary and
        multilabel targets.

    See Also
    --------
    MLPRegressor : Multi-layer perceptron regressor.
    sklearn.neural_network.MLPClassifier : The reference implementation.

    Notes
    -----
    Each output layer is the maximum-likelihood model of its targets:

    - multiclass: softmax outputs p = softmax(z), categorical likelihood,
      loss -sum_k y_k log p_k computed from the logits as
      logsumexp(z) - z_y;
    - binary and multilabel: sigmoid outputs, independent Bernoulli
      likelihoods, loss sum_k softplus(z_k) - y_k z_k.

    In both the output delta dL/dz = p - y is computed directly. The loss
    of a minibatch is sum_i w_i l_i / sum_i w_i + alpha/2 ||W||^2 /
    sum_i w_i; ``loss_`` averages the minibatch losses weighted by their
    lengths, as scikit-learn.

    Differences from scikit-learn: float32 training by default; losses
    from logits instead of from clipped probabilities (the values differ
    only where scikit-learn's clipping bites); training that produces a
    non-finite loss stops with a ``ValueError`` naming the epoch and keeps
    the last finite parameters (scikit-learn finishes and then refuses
    non-finite weights); sparse input is not supported.
    """ + _COMMON_DOC_NOTES + """
    Examples
    --------
    >>> from fastmlp import MLPClassifier
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=200, random_state=1)
    >>> clf = MLPClassifier(max_iter=300, random_state=1).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 2)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init="auto",
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype="float32",
        weight_init="glorot_uniform",
        n_threads=None,
        lr_schedule_params=None,
        rho=None,
        weight_decay=0.01,
        batch_norm=False,
        bn_momentum=0.1,
        bn_eps=1e-5,
        dropout=0.0,
        input_noise=0.0,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            loss="log_loss",
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
            weight_init=weight_init,
            n_threads=n_threads,
            lr_schedule_params=lr_schedule_params,
            rho=rho,
            weight_decay=weight_decay,
            batch_norm=batch_norm,
            bn_momentum=bn_momentum,
            bn_eps=bn_eps,
            dropout=dropout,
            input_noise=input_noise,
        )

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(
            self, X, y, multi_output=True, dtype=dtype, order="C", reset=reset,
            ensure_all_finite=False,
        )
        self._check_finite(X)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            binarizer = LabelBinarizer().fit(y)
        else:
            binarizer = self._label_binarizer
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "classes as in the previous call to fit. Previously "
                        f"got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    "`y` has classes not in `self.classes_`. "
                    f"`self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        Y = _one_hot(binarizer, y, dtype)
        self._label_binarizer = binarizer
        self.classes_ = binarizer.classes_
        return X, Y

    def _output_layer(self, Y):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "log_loss"
        return "logistic", "binary_log_loss"

    def _decode(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values (class labels, or a label-indicator matrix for
            multilabel classification).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            The fitted model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Update the model with one epoch over the given data.

        The optimiser's state (momentum, Adam's moments and step count) is
        kept between calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        y : array-like of shape (n_samples,)
            The target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        classes : array of shape (n_classes,), default=None
            Classes across all calls to partial_fit; required in the first
            call.

        Returns
        -------
        self : object
            The updated model.
        """
        saved = dict(self.__dict__)
        try:
            if _check_partial_fit_first_call(self, classes):
                binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    binarizer.fit(y)
                else:
                    binarizer.fit(classes)
                self._label_binarizer = binarizer
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise
        try:
            return self._fit(X, y, sample_weight=sample_weight, incremental=True)
        except DivergenceError:
            raise
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_classes)
            The predicted classes.
        """
        _check_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        if self.out_activation_ == "softmax":
            # LabelBinarizer.inverse_transform's rule, without its overhead
            return self.classes_[np.argmax(y_pred, axis=1)]
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ == "binary":
            return self.classes_[(y_pred.ravel() > 0.5).astype(np.intp)]
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes)
            The probability of each class, in the order of ``classes_``.
        """
        _check_fitted(self)
        if self.n_outputs_ == 1:
            # sigmoid(-z) rather than 1 - sigmoid(z): no cancellation to 0,
            # so that log(predict_proba) agrees with predict_log_proba.
            z = self._forward(X, logits=True).ravel()
            return np.vstack([expit(-z), expit(z)]).T
        return self._forward(X)

    def predict_log_proba(self, X):
        """Log of probability estimates, computed from the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes)
            Log-probabilities, in the order of ``classes_``: log-softmax of
            the logits (multiclass) or log-sigmoid (binary, multilabel),
            finite where ``log(predict_proba(X))`` would underflow to -inf.
        """
        _check_fitted(self)
        z = self._forward(X, logits=True)
        if self.out_activation_ == "softmax":
            z = z - z.max(axis=1, keepdims=True)
            return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        # log sigmoid(z) = -softplus(-z); log(1 - sigmoid(z)) = -softplus(z)
        if self.n_outputs_ == 1:
            z = z.ravel()
            return np.vstack([-np.logaddexp(0, z), -np.logaddexp(0, -z)]).T
        return -np.logaddexp(0, -z)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor, trained by the fastmlp engine.

    A drop-in replacement for :class:`sklearn.neural_network.MLPRegressor`:
    same parameters, defaults, fitted attributes and training semantics,
    plus ``out_activation``, ``dtype``, ``weight_init``, ``n_threads`` and
    more activations.  The parameters shared with :class:`MLPClassifier`
    are documented there; the regressor's own are below.

    Parameters
    ----------
    loss : {'squared_error', 'poisson'}, default='squared_error'
        ``'squared_error'``: half squared error, the Gaussian likelihood;
        ``'poisson'``: half Poisson deviance with a log link (exponential
        output), for counts ``y >= 0``.

    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        Widths of the hidden layers.

    activation : {'identity', 'logistic', 'sigmoid', 'tanh', 'relu', \
'leaky_relu', 'elu'}, default='relu'
        Activation of the hidden layers.

    solver : {'lbfgs', 'sgd', 'adam', 'adamw', 'adagrad', 'rmsprop', \
'adadelta'}, default='adam'
        See :class:`MLPClassifier`.

    alpha : float, default=0.0001
        L2 penalty on the weights.

    batch_size : int or 'auto', default='auto'
        Minibatch size; ``'auto'`` is ``min(200, n_samples)``.

    learning_rate : str, default='constant'
        Learning-rate schedule; see :class:`MLPClassifier`.

    learning_rate_init : float or 'auto', default='auto'
        Initial learning rate; see :class:`MLPClassifier`.

    lr_schedule_params : dict, default=None
        Parameters of the schedule; see :class:`MLPClassifier`.

    rho : float, default=None
        Decay of rmsprop's and adadelta's averages.

    weight_decay : float, default=0.01
        Decoupled weight decay of ``'adamw'``.

    batch_norm : bool, default=False
        Batch normalisation of the hidden layers; see :class:`MLPClassifier`.

    bn_momentum, bn_eps : float, default=0.1, 1e-5
        BN's running-statistics momentum and epsilon (PyTorch's meanings).

    dropout : float or array-like, default=0.0
        Dropout rate of the hidden layers; see :class:`MLPClassifier`.

    input_noise : float, default=0.0
        Standard deviation of Gaussian noise added to training inputs.

    power_t : float, default=0.5
        Exponent of ``'invscaling'``.

    max_iter : int, default=200
        Maximum number of epochs (iterations for lbfgs).

    shuffle : bool, default=True
        Shuffle the samples in every epoch.

    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, shuffling and the early-stopping split.

    tol : float, default=1e-4
        Improvement threshold for stopping.

    verbose : bool, default=False
        Print the loss and time of each epoch.

    warm_start : bool, default=False
        Continue from ``coefs_`` and ``intercepts_`` with a fresh optimiser.

    momentum : float, default=0.9
        Momentum of ``solver='sgd'``.

    nesterovs_momentum : bool, default=True
        Nesterov's momentum with ``solver='sgd'``.

    early_stopping : bool, default=False
        Stop on the R^2 of a held-out ``validation_fraction``.

    validation_fraction : float, default=0.1
        Fraction held out for early stopping.

    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam's parameters.

    n_iter_no_change : int, default=10
        Epochs without improvement before stopping.

    max_fun : int, default=15000
        Maximum number of loss evaluations of lbfgs.

    dtype : {'float32', 'float64'}, default='float32'
        Floating-point type of training and prediction.

    weight_init : {'glorot_uniform', 'glorot_normal', 'he_uniform', \
'he_normal'}, default='glorot_uniform'
        Initialisation; see :class:`MLPClassifier`.

    n_threads : int, default=None
        Threads for the engine's loops and BLAS; None uses every core.

    out_activation : {'identity', 'softplus', 'sigmoid'}, default=None
        Output layer for ``loss='squared_error'``: ``'identity'`` (the
        default) for any real target, ``'softplus'`` for positive targets,
        ``'sigmoid'`` for targets in [0, 1]. The loss stays the squared
        error, the likelihood of a Gaussian whose mean is the output;
        the delta is (out(z) - y) * out'(z). ``loss='poisson'`` always uses
        the exponential.

    Attributes
    ----------
    loss_ : float
        Loss of the last epoch. For squared error it averages over samples
        and outputs, as scikit-learn, while the gradient follows the sum
        over outputs.

    best_loss_, loss_curve_, validation_scores_, best_validation_score_, \
t_, coefs_, intercepts_, n_features_in_, feature_names_in_, n_iter_, \
n_layers_, n_outputs_
        As in :class:`MLPClassifier` (validation scores are R^2).

    out_activation_ : str
        ``'identity'``, ``'softplus'``, ``'logistic'`` or ``'exp'``.

    See Also
    --------
    MLPClassifier : Multi-layer perceptron classifier.
    sklearn.neural_network.MLPRegressor : The reference implementation.

    Notes
    -----
    Differences from scikit-learn: float32 by default, ``out_activation``,
    non-finite losses stop training with an error naming the epoch, sparse
    input is not supported, and ``loss='poisson'`` rejects negative targets.
    """ + _COMMON_DOC_NOTES + """
    Examples
    --------
    >>> from fastmlp import MLPRegressor
    >>> from sklearn.datasets import make_regression
    >>> X, y = make_regression(n_samples=200, random_state=1)
    >>> reg = MLPRegressor(max_iter=2000, random_state=1).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **_BaseMLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
        "out_activation": [
            None,
            StrOptions({"identity", "softplus", "sigmoid", "logistic"}),
        ],
    }

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init="auto",
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype="float32",
        weight_init="glorot_uniform",
        n_threads=None,
        lr_schedule_params=None,
        rho=None,
        weight_decay=0.01,
        batch_norm=False,
        bn_momentum=0.1,
        bn_eps=1e-5,
        dropout=0.0,
        input_noise=0.0,
        out_activation=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            loss=loss,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
            weight_init=weight_init,
            n_threads=n_threads,
            lr_schedule_params=lr_schedule_params,
            rho=rho,
            weight_decay=weight_decay,
            batch_norm=batch_norm,
            bn_momentum=bn_momentum,
            bn_eps=bn_eps,
            dropout=dropout,
            input_noise=input_noise,
        )
        self.out_activation = out_activation

    def _out_activation(self):
        if self.loss == "poisson":
            if self.out_activation not in (None, "exp"):
                raise ValueError(
                    "loss='poisson' uses the exponential output (log link); "
                    f"out_activation={self.out_activation!r} is not supported "
                    "with it."
                )
            return "exp"
        if self.out_activation in (None, "identity"):
            return "identity"
        return "logistic" if self.out_activation in ("sigmoid", "logistic") else "softplus"

    def _validate_input(self, X, y, incremental, reset, dtype):
        out = self._out_activation()
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=dtype,
            order="C", reset=reset, ensure_all_finite=False,
        )
        self._check_finite(X)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        # y is validated in float64; a value beyond float32's range only
        # becomes infinite here, and is reported as such just below.
        with np.errstate(over="ignore"):
            Y = np.ascontiguousarray(y.reshape(len(y), -1), dtype=dtype)
        assert_all_finite(Y, input_name="y")
        if out == "exp" and np.any(Y < 0):
            raise ValueError("loss='poisson' requires y >= 0; y has negative values.")
        if out == "logistic" and (np.any(Y < 0) or np.any(Y > 1)):
            raise ValueError(
                "out_activation='sigmoid' requires targets in [0, 1]; y has "
                f"values in [{Y.min()}, {Y.max()}]."
            )
        if out == "softplus" and np.any(Y < 0):
            raise ValueError(
                "out_activation='softplus' requires targets >= 0; y has "
                f"minimum {Y.min()}."
            )
        return X, Y

    def _output_layer(self, Y):
        out = self._out_activation()
        return out, ("poisson" if out == "exp" else "squared_error")

    def _decode(self, Y):
        return Y.ravel() if Y.shape[1] == 1 else Y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            The fitted model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    @available_if(lambda est: est._check_solver())
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one epoch over the given data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        Returns
        -------
        self : object
            The updated model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predict using the multi-layer perceptron model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predicted values.
        """
        _check_fitted(self)
        return self._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)
