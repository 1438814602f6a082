"""scikit-learn's callbacks (``sklearn.callback``, scikit-learn >= 1.9) for
fastmlp's fits.

A fit is a task tree, as scikit-learn's developer guide "Implementing
callback support in estimators" describes it: the fit, then one subtask per
epoch (per L-BFGS iteration for ``solver="lbfgs"``; one for a
``partial_fit``).  The hooks run between epochs, never inside the engine's
minibatch loop, with a copy of the estimator as it stands after the epoch
(``fitted_estimator``, made only when a callback asks for it), the training
data and its sample weights; a callback that returns True from
``on_fit_task_end`` stops training there.  Under scikit-learn < 1.9 the
estimators work as before and ``set_callbacks`` raises.
"""

import numpy as np

from ._model import _Model

try:  # scikit-learn >= 1.9
    from sklearn.callback import CallbackSupportMixin
except ImportError:  # pragma: no cover - depends on the installed scikit-learn
    import sklearn

    class CallbackSupportMixin:
        """Callbacks need scikit-learn >= 1.9: ``set_callbacks`` says so."""

        def set_callbacks(self, *callbacks):
            """Set callbacks (scikit-learn >= 1.9 only).

            Parameters
            ----------
            *callbacks : callback instances
                The callbacks to set.

            Returns
            -------
            self : estimator instance
                Never: raises.

            Raises
            ------
            RuntimeError
                Always: scikit-learn's callback API (``sklearn.callback``)
                appeared in scikit-learn 1.9.
            """
            raise RuntimeError(
                "callbacks need scikit-learn >= 1.9 (sklearn.callback); "
                f"scikit-learn {sklearn.__version__} is installed."
            )


class FitTasks:
    """The callback hooks of one fit: its root task, and a subtask per epoch
    (or L-BFGS iteration).  Does nothing, at no cost, when no callback is set
    on the estimator (nor propagated to it by a meta-estimator).

    Parameters
    ----------
    est : estimator
    X, y : the training data as the user gave it (after validation); y may
        be a callable returning it (called only when a callback is set)
    sample_weight : array-like or None
    max_subtasks : int
        The most epochs (iterations) the fit can run.
    """

    def __init__(self, est, X, y, sample_weight, max_subtasks):
        self.est = est
        self.active = bool(getattr(est, "_skl_callbacks", None)) or hasattr(
            est, "_parent_callback_ctx")
        if not self.active or not hasattr(est, "_init_callback_context"):
            self.active = False
            return
        self.kw = dict(X=X, y=y() if callable(y) else y,
                       metadata=(None if sample_weight is None
                                            else {"sample_weight": sample_weight}))
        self.root = est._init_callback_context(max_subtasks=max_subtasks)
        self.root.call_on_fit_task_begin(estimator=est, **self.kw)
        self.task = None

    def _state(self):
        """The fitted state of a copy of the estimator as it stands now
        (scikit-learn's reconstruction attributes): a model of its own."""

        est = self.est
        model = est._model
        copy = _Model(model.network, model.theta.copy(), model.running.copy())
        state = {"_model": copy, **{k: list(v) for k, v in copy.views.items()}}
        for attr in ("n_iter_", "t_", "loss_", "loss_curve_", "validation_scores_",
                     "validation_loss_curve_", "best_loss_", "best_validation_score_"):
            value = est.__dict__.get(attr)
            state[attr] = list(value) if isinstance(value, list) else value
        return state

    def begin(self, name="epoch"):
        """An epoch (iteration) starts."""
        if self.active:
            self.task = self.root.subcontext(task_name=name)
            self.task.call_on_fit_task_begin(estimator=self.est, **self.kw,
                                             reconstruction_attributes=self._state)

    def end(self):
        """The epoch ended; True if a callback asks training to stop."""
        if not self.active or self.task is None:
            return False
        task, self.task = self.task, None
        return bool(task.call_on_fit_task_end(estimator=self.est, **self.kw,
                                              reconstruction_attributes=self._state))

    def end_unrun(self):
        """End a subtask begun for an epoch that did not run (an interrupted
        or diverged one, or L-BFGS's last callback), without a model."""
        if self.active and self.task is not None:
            task, self.task = self.task, None
            task.call_on_fit_task_end(estimator=self.est)

    def finish(self):
        """The fit ended."""
        if self.active:
            self.end_unrun()
            self.root.call_on_fit_task_end(estimator=self.est, **self.kw,
                                           reconstruction_attributes={})


def lbfgs_callback(tasks, unpack):
    """A ``scipy.optimize.minimize`` callback running `tasks`' hooks at the
    end of each L-BFGS iteration (`unpack(xk)` puts the iterate in the
    estimator's model); StopIteration when a callback asks to stop."""

    def callback(xk):
        unpack(np.asarray(xk))
        stop = tasks.end()
        tasks.begin("lbfgs-iteration")
        if stop:
            raise StopIteration
    return callback
