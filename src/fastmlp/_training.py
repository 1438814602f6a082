"""The training drivers: minibatch epochs for the first-order solvers, and
L-BFGS on the full batch.

The stochastic driver keeps scikit-learn's books (loss curve, stopping for
lack of improvement, early stopping on a validation split, learning-rate
schedules, ConvergenceWarning) and calls the engine once per epoch; the
engine runs every minibatch of the epoch without the GIL.

What a call leaves behind is always a whole state:

- a ``partial_fit`` is atomic: it applies all of its epoch or none of it
  (divergence, interrupt, any error);
- a ``fit`` ends at a completed epoch: an interrupt (Ctrl-C) returns the
  model of the last completed epoch with a warning, as scikit-learn does; a
  divergence raises ``DivergenceError`` and keeps the last finite epoch, or
  with early stopping returns the best validation model with a warning; a
  fit that diverges or is interrupted before completing an epoch leaves the
  estimator as it was.
"""

import time
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.utils import shuffle
from sklearn.utils.fixes import parse_version, sp_version
from sklearn.utils.optimize import _check_optimize_result

from ._books import (
    _EpochStart, _early_stopping_split, _stop_at_best_validation, _validation_scorer,
    _weights, check_plateau, record_epoch, report_plateau, warn_max_iter,
)
from ._callbacks import FitTasks, lbfgs_callback
from ._components import SOLVERS
from ._config import get_config
from ._engine import Engine
from ._model import _Model
from ._network import sparse_split
from ._optim import Optimizer
from ._schedules import make_schedule
from ._sparse_input import CSRInput
from ._threads import gemm_blocks
from .exceptions import DivergenceError

# Rows of the training data whose predictions are checked after each epoch:
# a finite loss does not make finite predictions (the last step, or BN's
# running statistics, can overflow them).
_PROBE_ROWS = 256


@dataclass(frozen=True)
class ThreadPlan:
    """How a fit uses its threads: the engine's OpenMP threads, BLAS's
    threads, whether GEMMs are split over the OpenMP threads, and into how
    many blocks."""

    engine_threads: int
    blas_threads: int
    split_gemm: bool
    gemm_blocks: int


def thread_plan(n_threads):
    """The ThreadPlan of a fit on `n_threads` threads.

    Never both pools at once: OpenMP's idle threads spin while BLAS's run,
    and on a machine with few cores the two starve each other (20x slower
    on 2 cores; bench/DECISIONS.md D1).  With ``parallel_mode="blas"``
    (``config_context``) BLAS's pool does the GEMMs and the engine's loops
    stay on one thread; otherwise ("split") the GEMMs are split even on one
    thread: the blocks do not depend on the threads, so a model is the same,
    bit for bit, whatever the thread count.
    """
    if get_config()["parallel_mode"] == "blas":
        return ThreadPlan(1, n_threads, False, 1)
    return ThreadPlan(n_threads, 1, True, gemm_blocks())


def _batch_size(est, n_samples):
    if est.batch_size == "auto":
        return min(200, n_samples)
    if est.batch_size > n_samples:
        warnings.warn(
            "Got `batch_size` less than 1 or larger than "
            "sample size. It is going to be clipped"
        )
    return int(np.clip(est.batch_size, 1, n_samples))


def _schedule_name(est):
    """scikit-learn runs 'adam' at a constant rate whatever learning_rate
    says among its own schedules (kept, so that drop-in results stay the
    same); fastmlp's schedules apply to every first-order solver."""
    if est.solver == "adam" and est.learning_rate in ("invscaling", "adaptive"):
        return "constant"
    return est.learning_rate


def _probe_rows(X):
    """Up to _PROBE_ROWS evenly spaced rows of X (C-contiguous, or the engine's
    view of a sparse matrix)."""
    rows = X[:: max(1, X.shape[0] // _PROBE_ROWS)][:_PROBE_ROWS]
    if sp.issparse(rows):
        return CSRInput(rows, rows.dtype)
    return np.ascontiguousarray(rows)


#: Bins of the histograms of layer_stats_.
_STATS_BINS = 40


def _layer_stats_probe(est, X, Y, capacity):
    """(X, Y) of the probe batch of record_layer_stats (up to `capacity`
    evenly spaced rows, dense), or None; starts est.layer_stats_ (a copy:
    undoing the call finds the old list untouched)."""
    if not est.record_layer_stats or len(est._model.network.sizes) < 3:
        return None
    est.layer_stats_ = list(getattr(est, "layer_stats_", None) or [])
    step = max(1, X.shape[0] // capacity)
    rows = X[::step][:capacity]
    if est.batch_norm and rows.shape[0] < 2:
        return None
    rows = rows.toarray() if sp.issparse(rows) else rows
    return (np.ascontiguousarray(rows, dtype=est._model.network.dtype),
            np.ascontiguousarray(Y[::step][:capacity]))


def _layer_stats(engine, theta, X, Y):
    """One epoch's entry of layer_stats_: the hidden layers' activations
    and back-propagated gradients on the probe, summarised."""
    activations, gradients = engine.layer_values(X, Y, theta)
    entry = {}
    for name, values in (("activation", activations), ("gradient", gradients)):
        values = [np.asarray(v, dtype=np.float64) for v in values]
        entry[f"{name}_mean"] = np.array([v.mean() for v in values])
        entry[f"{name}_std"] = np.array([v.std() for v in values])
        hists = []
        for v in values:
            finite = v[np.isfinite(v)]
            lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
            counts, edges = np.histogram(finite, bins=_STATS_BINS,
                                         range=(lo, hi) if hi > lo else (lo - 0.5, lo + 0.5))
            hists.append((counts, edges))
        entry[f"{name}_hist"] = hists
    return entry


def _engine_input(X, net, capacity, plan, input_noise, mixup_alpha=0.0,
                  adversarial_eps=0.0):
    """(X as the engine reads it, its Engine keywords for the first layer):
    a scipy.sparse X becomes a CSRInput, trained on the sparse first layer
    with room for a batch's nonzeros; a dense X takes that layer when its
    inputs are mostly zeros (``_network.sparse_split``) and neither input
    noise, mixup nor adversarial examples make them dense."""
    if not sp.issparse(X):
        dense = input_noise if mixup_alpha == adversarial_eps == 0 else 1.0
        return X, dict(sparse_split=sparse_split(X, plan.engine_threads, dense))
    for name, value in (("input_noise", input_noise), ("mixup_alpha", mixup_alpha),
                        ("adversarial_eps", adversarial_eps)):
        if value > 0:
            raise ValueError(
                f"{name} makes the inputs dense; it is not supported with a "
                f"scipy.sparse X (densify X, or set {name}=0)."
            )
    csr = CSRInput(X, net.dtype)
    return csr, dict(sparse_split=sparse_split(X, plan.engine_threads),
                     sparse_max_nnz=csr.max_batch_nnz(capacity))


def _predicts_finite(model, probe, plan):
    """Whether the model's parameters, and its logits and predictions of the
    probe rows (with the running statistics, as predict makes them), are
    finite: a sigmoid or softmax of infinite logits looks finite, and exp
    of finite ones may not be."""
    if not np.isfinite(model.theta).all():
        return False
    out = np.empty((probe.shape[0], model.network.sizes[-1]), dtype=model.theta.dtype)
    for logits in (True, False):
        model.predictor.forward(probe, out, logits, plan.engine_threads,
                                plan.gemm_blocks)
        if not np.isfinite(out).all():
            return False
    return True


def _diverged(message, keeps_state):
    """A DivergenceError; `keeps_state`: the estimator keeps what the call
    did so far (completed epochs of a fit), else the call is undone."""
    exc = DivergenceError(message)
    exc._keeps_state = keeps_state
    return exc


def fit_stochastic(est, X, Y, sample_weight, incremental, plan, validation=None):
    """Minibatch training of `est`'s installed model: up to max_iter epochs
    (one for partial_fit), with scikit-learn's bookkeeping; `validation`: a
    user's validation set (X_val, y_val, Y_val, sample_weight_val) for early
    stopping, else the split of validation_fraction."""
    model = est._model
    net = model.network
    spec = SOLVERS[est.solver]
    if not incremental or not hasattr(est, "_opt_state"):
        # A fresh optimiser: zero state, step count 0, the schedule restarted.
        est._opt_state = None
        est._opt_t = 0
        est._opt_swats = None
        est._snapshot_run, est.snapshot_epochs_ = [], []
        est.__dict__.pop("swats_switch_step_", None)
        if est.solver == "swats":
            est.swats_switch_step_ = None
        est._epochs = 0
        est._schedule_state = None
        est.learning_rate_curve_ = []
    # New objects for everything an epoch changes in place, so that undoing
    # the call (the estimator's rollback) finds the old ones untouched.
    for attr in ("learning_rate_curve_", "loss_curve_", "validation_scores_",
                 "validation_loss_curve_"):
        if getattr(est, attr, None) is not None:
            setattr(est, attr, list(getattr(est, attr)))
    optimizer = Optimizer(
        spec.code, net.n_params, net.n_weights, net.dtype,
        state=None if est._opt_state is None else np.array(est._opt_state),
        t=est._opt_t, swats=getattr(est, "_opt_swats", None),
        **spec.hyper_parameters(est),
    )
    est._opt_state = optimizer.state
    schedule = make_schedule(
        _schedule_name(est), est._learning_rate_init(), params=est.lr_schedule_params,
        power_t=est.power_t, max_iter=est.max_iter, state=est._schedule_state,
    )
    for attr, value in (("loss_curve_", []), ("_no_improvement_count", 0),
                        ("best_loss_", np.inf)):
        if not hasattr(est, attr):
            setattr(est, attr, value)

    tasks = FitTasks(est, X, lambda: est._decode(Y), sample_weight,
                     1 if incremental else est.max_iter)
    if est.early_stopping and validation is None:
        X, Y, sample_weight, validation = _early_stopping_split(est, X, Y,
                                                                sample_weight)
    if validation is not None and est.scoring not in (None, "loss"):
        _validation_scorer(est, validation[3] is not None)
    if validation is not None and getattr(est, "validation_scores_", None) is None:
        # early stopping turned on for a warm start
        est.validation_scores_, est.validation_loss_curve_ = [], []
        est.best_validation_score_ = -np.inf
    if validation is None and est.best_loss_ is None:
        # early stopping turned off for a warm start (scikit-learn crashes):
        # the attributes of a fit without validation, the loss tracked anew
        est.best_loss_ = np.inf
        if not incremental:
            est.validation_scores_ = est.validation_loss_curve_ = None
            est.best_validation_score_ = None
    Y_fit = est._training_targets(Y)   # label smoothing
    n_samples = X.shape[0]
    batch_size = _batch_size(est, n_samples)
    n_batches = (n_samples + batch_size - 1) // batch_size
    sample_idx = np.arange(n_samples, dtype=np.intp)
    no_order = np.empty(0, dtype=np.intp)
    sw = _weights(sample_weight, net.dtype)
    probe = _probe_rows(X)
    stats_probe = _layer_stats_probe(est, X, Y, batch_size)
    X, first_layer = _engine_input(X, net, batch_size, plan, est.input_noise,
                                   est.mixup_alpha, est.adversarial_eps)
    engine = Engine(
        net, batch_size, plan.engine_threads, plan.split_gemm,
        split_parts=plan.gemm_blocks, alpha=est.alpha, running=model.running,
        clip_norm=est.clip_norm or 0.0, max_norm=est.max_norm or 0.0,
        mixup_alpha=est.mixup_alpha, adversarial_eps=est.adversarial_eps,
        adversarial_alpha=est.adversarial_alpha, **first_layer,
    )
    theta = model.theta

    # Snapshot ensembles: the models at the ends of the restart periods
    # (the last snapshot_ensemble of them) are collected in _snapshot_run and
    # predict only once the call is over: validation scores during training
    # are the current model's.
    est.__dict__.pop("_snapshots", None)
    if est.snapshot_ensemble is None:
        est.__dict__.pop("_snapshot_run", None)
        est.__dict__.pop("snapshot_epochs_", None)
    else:
        est._snapshot_run = list(getattr(est, "_snapshot_run", None) or [])
        est.snapshot_epochs_ = list(getattr(est, "snapshot_epochs_", None) or [])
    try:
        _epochs(est, X, Y, Y_fit, sw, model, optimizer, schedule, engine, plan, probe,
                stats_probe, validation, tasks, incremental, n_batches, no_order,
                sample_idx, theta)
    finally:
        if est.snapshot_ensemble is not None:
            est._snapshots = list(est._snapshot_run)
            if not est._snapshots and not incremental:
                warnings.warn(
                    f"snapshot_ensemble={est.snapshot_ensemble}: no restart period "
                    "of learning_rate='cosine_restarts' ended in training (raise "
                    "max_iter, or lower lr_schedule_params['T_0']); predictions "
                    "use the final model.", UserWarning)


def _epochs(est, X, Y, Y_fit, sw, model, optimizer, schedule, engine, plan, probe,
            stats_probe, validation, tasks, incremental, n_batches, no_order,
            sample_idx, theta):
    """The epochs of fit_stochastic (see there)."""
    net = model.network
    n_samples = X.shape[0]
    start = _EpochStart(model, optimizer)
    est.n_iter_ = 0
    # `done`: the last epoch and its bookkeeping are complete.  A Ctrl-C
    # anywhere in the loop before that (the engine checks for signals between
    # minibatches) takes the model back to the epoch's start; after it, the
    # epoch stays.  The try is around the loop, not inside it: Python checks
    # for signals at the loop's jump back too.
    done, saved = True, False
    try:
        for _ in range(est.max_iter):
            done = saved = False
            start.save(est)
            saved = True
            if est.shuffle:
                sample_idx = shuffle(sample_idx, random_state=est._random_state)
                order = np.ascontiguousarray(sample_idx, dtype=np.intp)
            else:
                order = no_order
            tasks.begin()
            rates = schedule.rates(optimizer.t, n_batches)
            tic = time.perf_counter()
            total, _, failed = engine.train_epoch(X, Y_fit, sw, order, theta, optimizer,
                                                  rates, est._epochs)
            elapsed = time.perf_counter() - tic
            if failed < 0 and not _predicts_finite(model, probe, plan):
                failed = n_batches   # finite losses, but not finite predictions
            if failed >= 0:
                start.restore(est)
                done = True   # nothing of the epoch is left to undo
                tasks.end_unrun()
                if _stop_at_best_validation(est, validation):
                    break
                where = (f"minibatch {failed}" if failed < n_batches
                         else "its predictions after the last minibatch")
                keeps = not incremental and est.n_iter_ > 0
                raise _diverged(
                    f"The loss became non-finite in epoch {est.n_iter_ + 1} "
                    f"({where}); training stopped. "
                    + (f"The model keeps the parameters from the end of epoch "
                       f"{est.n_iter_}. " if keeps else
                       "The estimator is left as it was before this call. ")
                    + "Lower learning_rate_init, or scale the inputs.",
                    keeps,
                )
            est._opt_t = optimizer.t
            est._opt_swats = optimizer.swats
            if est.solver == "swats":
                switch = optimizer.swats[1]
                est.swats_switch_step_ = int(switch) if switch > 0 else None
            record_epoch(est, total / n_samples, n_samples, float(rates[0]), schedule,
                         validation, plan, elapsed)
            if est.snapshot_ensemble is not None and schedule.period_ended():
                est._snapshot_run.append(
                    _Model(net, theta.copy(), model.running.copy()))
                est.snapshot_epochs_.append(est._epochs)
                del est._snapshot_run[:-est.snapshot_ensemble]
                del est.snapshot_epochs_[:-est.snapshot_ensemble]
            if stats_probe is not None:
                est.layer_stats_.append(_layer_stats(engine, theta, *stats_probe))
            plateau, stop, note = check_plateau(est, schedule)
            done = True

            if tasks.end():
                break   # a callback asked to stop
            if plateau:
                report_plateau(est, validation, note)
                if stop:
                    break
            if incremental:
                break
            warn_max_iter(est)
    except KeyboardInterrupt:
        if not done:
            if saved:
                start.restore(est)
            tasks.end_unrun()
        if incremental or est.n_iter_ == 0:
            raise   # the call is undone
        warnings.warn(
            "Training interrupted by user; the model is the one of epoch "
            f"{est.n_iter_}, the last completed.", UserWarning,
        )

    if validation is not None and getattr(est, "_best_theta", None) is not None:
        # the best validation weights, and BN's statistics of that epoch
        theta[...] = est._best_theta
        model.running[...] = est._best_running
    tasks.finish()


def fit_lbfgs(est, X, Y, sample_weight, plan):
    """SciPy's L-BFGS-B on the full-batch loss and gradient, as scikit-learn."""
    model = est._model
    net = model.network
    # BN: the statistics of the whole batch, so the workspace holds it all
    capacity = X.shape[0] if net.batch_norm else max(1, min(X.shape[0], 4096))
    probe = _probe_rows(X)
    X_user = X
    X, first_layer = _engine_input(X, net, capacity, plan, 0.0)
    if not isinstance(X, CSRInput):
        first_layer = {}    # full-batch passes take the dense first layer
    engine = Engine(net, capacity, plan.engine_threads, plan.split_gemm,
                    split_parts=plan.gemm_blocks, alpha=est.alpha,
                    running=model.running, **first_layer)
    sw = _weights(sample_weight, net.dtype)
    theta = np.empty(net.n_params, dtype=net.dtype)
    grad = np.empty(net.n_params, dtype=net.dtype)
    Y_fit = est._training_targets(Y)   # label smoothing

    def fun(packed):
        theta[...] = packed
        loss = engine.loss_and_grad(X, Y_fit, sw, theta, grad)
        return loss, grad.astype(np.float64)

    tasks = FitTasks(est, X_user, lambda: est._decode(Y), sample_weight,
                     est.max_iter + 1)
    tasks.begin("lbfgs-iteration")
    run_lbfgs(est, model, fun, tasks)
    if net.batch_norm:
        # Full-batch training: the running statistics are the statistics of
        # the whole training set.
        engine.set_running_statistics(X, Y, model.theta)
    if not _predicts_finite(model, probe, plan):
        raise _diverged(LBFGS_DIVERGED, False)
    tasks.finish()


LBFGS_DIVERGED = ("L-BFGS produced non-finite parameters, loss or predictions; "
                  "the estimator is left as it was before this call. Scale the "
                  "inputs.")


def run_lbfgs(est, model, fun, tasks):
    """SciPy's L-BFGS-B on ``fun(theta) -> (loss, grad)`` (float64) from the
    model's parameters, with scikit-learn's options (max_fun, max_iter,
    tol, verbose) and the callbacks' tasks per iteration; the result goes
    to the model and to n_iter_ and loss_.  A non-finite result raises
    DivergenceError before anything is changed (the caller checks the
    predictions)."""
    def unpack(xk):
        model.theta[...] = xk

    iprint = 1 if est.verbose is True or est.verbose >= 1 else -1
    opt_res = scipy.optimize.minimize(
        fun,
        model.theta.astype(np.float64),
        method="L-BFGS-B",
        jac=True,
        callback=lbfgs_callback(tasks, unpack) if tasks.active else None,
        options={
            "maxfun": est.max_fun,
            "maxiter": est.max_iter,
            "gtol": est.tol,
            # SciPy 1.15 deprecated L-BFGS-B's iprint option.
            **({"iprint": iprint} if sp_version < parse_version("1.15") else {}),
        },
    )
    if not np.all(np.isfinite(opt_res.x)) or not np.isfinite(opt_res.fun):
        raise _diverged(LBFGS_DIVERGED, False)
    est.n_iter_ = _check_optimize_result("lbfgs", opt_res, est.max_iter)
    est.loss_ = float(opt_res.fun)
    model.theta[...] = opt_res.x
