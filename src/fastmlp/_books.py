"""The books of stochastic training, as scikit-learn keeps them, shared by
the one-machine driver (``_training``) and the one on a Dask cluster
(``_distributed``): an epoch's record (learning rate, loss, samples, the
validation score and early stopping's counts), the plateau rule, the
validation split and scores, and the copy of all of it taken at an epoch's
start to go back to.
"""

import inspect
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import validate_data

from ._base import _checked_weights
from ._components import SOLVERS
from ._prediction import _SPARSE_FORMATS
from ._sparse_input import CSRInput
from ._threads import blas_limit


def _weights(sample_weight, dtype):
    """Sample weights as the engine takes them (empty: all ones)."""
    if sample_weight is None:
        return np.empty(0, dtype=dtype)
    return np.ascontiguousarray(sample_weight, dtype=dtype)


def _early_stopping_split(est, X, Y, sample_weight):
    """Hold out validation_fraction of the data, as scikit-learn: only
    single-output targets are stratified, on the user's labels (so that an
    error names them).  Returns the training part and the validation set
    (X_val, y_val, Y_val, sample_weight_val)."""
    stratify = (est._decode(Y) if is_classifier(est) and est.n_outputs_ == 1
                else None)
    if stratify is not None:
        # checked here, not left to train_test_split, whose message names
        # the classes only from scikit-learn 1.8 on
        classes, counts = np.unique(stratify, return_counts=True)
        if counts.min() < 2:
            raise ValueError(
                "early_stopping=True holds out a validation set stratified by "
                "class, which needs at least 2 samples of each class. Classes "
                f"with too few members are: {classes[counts < 2].tolist()}"
            )
    arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
    parts = train_test_split(
        *arrays,
        random_state=est._random_state,
        test_size=est.validation_fraction,
        stratify=stratify,
    )
    X, X_val, Y, Y_val = parts[:4]
    sw = sw_val = None
    if sample_weight is not None:
        sw, sw_val = parts[4:]
        sw = np.ascontiguousarray(sw)
    if X_val.shape[0] < 2:
        raise ValueError(
            "The validation set is too small. Increase "
            "'validation_fraction' or the size of your dataset."
        )
    if not sp.issparse(X):
        X = np.ascontiguousarray(X)
    return (X, np.ascontiguousarray(Y), sw,
            (X_val, est._decode(Y_val), np.ascontiguousarray(Y_val), sw_val))


def validation_set(est, X_val, y_val, sample_weight_val, dtype):
    """A user's validation set (given to fit, or held out by the parts of
    a distributed fit), checked as `est` checks its training data, or None:
    (X_val, y_val as given, its target matrix, its sample weights)."""
    if X_val is None and y_val is None:
        if sample_weight_val is not None:
            raise ValueError("sample_weight_val is given without X_val and y_val.")
        return None
    if X_val is None or y_val is None:
        raise ValueError("X_val and y_val must be given together.")
    if not est.early_stopping:
        raise ValueError(
            "X_val and y_val are passed to fit while early_stopping is False; "
            "they are the validation set of early stopping (set "
            "early_stopping=True)."
        )
    if not SOLVERS[est.solver].stochastic:
        raise ValueError("X_val and y_val need a stochastic solver; "
                         f"solver={est.solver!r} has no epochs to monitor.")
    X_val = validate_data(est, X_val, reset=False, dtype=dtype, order="C",
                          accept_sparse=_SPARSE_FORMATS, ensure_all_finite=False)
    est._check_finite(X_val)
    y_val = np.asarray(y_val)
    if y_val.ndim == 2 and y_val.shape[1] == 1:
        y_val = y_val.ravel()
    if y_val.shape[0] != X_val.shape[0]:
        raise ValueError(f"X_val has {X_val.shape[0]} samples but y_val has "
                         f"{y_val.shape[0]}.")
    Y_val = est._encode_validation(y_val, dtype)
    sample_weight_val = est._validation_weights(y_val, sample_weight_val)
    if sample_weight_val is not None:
        sample_weight_val = _checked_weights(sample_weight_val, X_val, dtype)
    return X_val, y_val, Y_val, sample_weight_val


def _validation_score(est, validation, plan):
    """(score, loss) of the model on the validation set: the score as
    ``scoring`` says (None: accuracy or R^2, scikit-learn's; "loss": minus
    the validation loss; a scorer's name or a callable), the data loss as
    training's loss without the penalty."""
    X_val, y_val, Y_val, sw_val = validation
    model = est._model
    sw = _weights(sw_val, model.network.dtype)
    X_engine = CSRInput(X_val, model.network.dtype) if sp.issparse(X_val) else X_val
    loss = blas_limit.run(1, model.predictor.loss, X_engine, Y_val, sw,
                          plan.engine_threads, plan.gemm_blocks)
    if est.scoring is None:
        score = est._score(X_val, y_val, sample_weight=sw_val)
    elif est.scoring == "loss":
        score = -loss
    else:
        score = _validation_scorer(est, sw_val is not None)(
            est, X_val, y_val, **({} if sw_val is None else {"sample_weight": sw_val}))
    return float(score), float(loss)


def _validation_scorer(est, weighted):
    """The scorer of ``scoring`` (a name or a callable).  A validation set
    with weights (sample_weight_val, or class_weight) is scored with them,
    so a callable that takes no ``sample_weight`` is refused before training
    rather than failing after the first epoch."""
    scorer = check_scoring(est, est.scoring)
    if weighted:
        try:
            params = inspect.signature(scorer).parameters.values()
        except (TypeError, ValueError):  # no signature to read: let it try
            return scorer
        if not any(p.name == "sample_weight" or p.kind == p.VAR_KEYWORD
                   for p in params):
            raise ValueError(
                f"scoring={est.scoring!r} takes no sample_weight, but the "
                "validation set is weighted (by sample_weight, "
                "sample_weight_val or class_weight). Give the callable a "
                "sample_weight=None parameter, or make it with "
                "sklearn.metrics.make_scorer.")
    return scorer


class _EpochStart:
    """What an epoch changes, copied at its start, to go back to: the
    parameters, running statistics and optimiser state (in place), the
    random state (the epoch's shuffle) and the estimator's bookkeeping
    attributes."""

    ATTRS = ("learning_rate_curve_", "_opt_t", "_opt_swats", "swats_switch_step_",
             "_epochs", "n_iter_", "loss_", "t_",
             "loss_curve_", "validation_scores_", "validation_loss_curve_",
             "best_validation_score_", "_best_theta", "_best_running",
             "_no_improvement_count", "best_loss_", "_schedule_state", "layer_stats_",
             "_snapshot_run", "snapshot_epochs_")

    def __init__(self, model, optimizer):
        self.arrays = [(a, np.empty_like(a))
                       for a in (model.theta, model.running, optimizer.state)]
        self.optimizer = optimizer

    def save(self, est):
        for live, copy in self.arrays:
            np.copyto(copy, live)
        self.t = self.optimizer.t
        self.swats = self.optimizer.swats
        self.rng = est._random_state.get_state()
        self.attrs = save_books(est)

    def restore(self, est):
        for live, copy in self.arrays:
            np.copyto(live, copy)
        self.optimizer.t = self.t
        self.optimizer.swats = self.swats
        est._random_state.set_state(self.rng)
        restore_books(est, self.attrs)


def save_books(est):
    """A copy of the estimator's bookkeeping attributes that an epoch
    changes (_EpochStart.ATTRS; lists copied)."""
    d = est.__dict__
    return {k: list(d[k]) if isinstance(d[k], list) else d[k]
            for k in _EpochStart.ATTRS if k in d}


def restore_books(est, books):
    """Put back the attributes saved by save_books (and drop those that
    did not exist then)."""
    for k in _EpochStart.ATTRS:
        est.__dict__.pop(k, None)
    est.__dict__.update({k: list(v) if isinstance(v, list) else v
                         for k, v in books.items()})


def record_epoch(est, loss, n_samples, lr, schedule, validation, plan, elapsed):
    """The books of a completed epoch, as scikit-learn keeps them: its
    first learning rate, loss and samples, the validation score, the
    verbose line, the count of epochs without improvement, and the
    schedule's advance."""
    est.learning_rate_curve_.append(lr)
    est._epochs += 1
    est.n_iter_ += 1
    est.loss_ = loss
    est.t_ += n_samples
    est.loss_curve_.append(est.loss_)
    scores = None if validation is None else _validation_score(est, validation, plan)
    if est.verbose:
        print("Iteration %d, loss = %.8f, " % (est.n_iter_, est.loss_)
              + ("" if scores is None
                 else "validation loss = %.8f, " % scores[1])
              + "time = %.3fs" % elapsed)
    _update_no_improvement_count(est, scores)
    schedule.end_epoch(est.t_)
    est._schedule_state = schedule.get_state()


def check_plateau(est, schedule):
    """(plateau, stop, note): whether the epochs without improvement passed
    n_iter_no_change, and the schedule's answer to it (``'adaptive'`` lowers
    its rate and training goes on)."""
    plateau = est._no_improvement_count > est.n_iter_no_change
    stop, note = False, ""
    if plateau:
        stop, note = schedule.on_plateau()
        est._schedule_state = schedule.get_state()
        if not stop:
            est._no_improvement_count = 0
    return plateau, stop, note


def report_plateau(est, validation, note):
    """scikit-learn's verbose line at a plateau."""
    if est.verbose:
        print(("Validation score did not improve more than tol=%f for %d "
               "consecutive epochs." if validation is not None else
               "Training loss did not improve more than tol=%f for %d "
               "consecutive epochs.") % (est.tol, est.n_iter_no_change)
              + note)


def warn_max_iter(est):
    """scikit-learn's ConvergenceWarning when the last epoch ran."""
    if est.n_iter_ == est.max_iter:
        warnings.warn(
            "Stochastic Optimizer: Maximum iterations (%d) "
            "reached and the optimization hasn't converged yet."
            % est.max_iter,
            ConvergenceWarning,
        )


def _stop_at_best_validation(est, validation):
    """With early stopping and a best validation model, a divergence ends
    training there, with a warning (scikit-learn's behaviour since its
    issue #29504); True if so."""
    if validation is None or getattr(est, "_best_theta", None) is None:
        return False
    warnings.warn(
        f"The loss became non-finite in epoch {est.n_iter_ + 1}; training "
        "stopped and the model is the best on the validation set (epoch "
        f"{int(np.argmax(est.validation_scores_)) + 1}).", UserWarning,
    )
    return True


def _update_no_improvement_count(est, scores):
    """scikit-learn's rule: count the epochs without an improvement by tol of
    the training loss, or with early stopping of the validation score
    (`scores`: the epoch's validation (score, loss)), keeping the best
    validation weights."""
    if scores is not None:
        val_score, val_loss = scores
        est.validation_scores_.append(val_score)
        est.validation_loss_curve_.append(val_loss)
        if est.verbose:
            print("Validation score: %f" % val_score)
        if val_score < est.best_validation_score_ + est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if val_score > est.best_validation_score_:
            est.best_validation_score_ = val_score
            est._best_theta = est._model.theta.copy()
            est._best_running = est._model.running.copy()
    else:
        if est.loss_curve_[-1] > est.best_loss_ - est.tol:
            est._no_improvement_count += 1
        else:
            est._no_improvement_count = 0
        if est.loss_curve_[-1] < est.best_loss_:
            est.best_loss_ = est.loss_curve_[-1]
