"""Pictures of training, in scikit-learn's Display convention (matplotlib is
an optional dependency: ``pip install "fastmlp[plot]"``).

``TrainingCurveDisplay`` shows what a fit recorded per epoch: the training
loss (and the validation loss), the validation score, the learning rate.
"""

import numpy as np

__all__ = ["TrainingCurveDisplay"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:   # pragma: no cover - depends on the extra
        raise ImportError(
            "TrainingCurveDisplay needs matplotlib: pip install 'fastmlp[plot]'"
        ) from exc
    return plt


class TrainingCurveDisplay:
    """Training curves of a fitted estimator, per epoch.

    One panel per recorded quantity, on a shared x-axis of epochs: the loss
    (training, and validation when recorded), the validation score (with
    early stopping or a validation set) and the learning rate (first-order
    solvers).  Create it with :meth:`from_estimator`; the constructor takes
    the curves themselves.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
        The training loss of each epoch (``loss_curve_``).
    validation_loss_curve : array-like of shape (n_epochs,), default=None
        The validation loss of each epoch (``validation_loss_curve_``).
    validation_scores : array-like of shape (n_epochs,), default=None
        The validation score of each epoch (``validation_scores_``).
    learning_rate_curve : array-like of shape (n_epochs,), default=None
        The learning rate of each epoch (``learning_rate_curve_``).
    best_epoch : int, default=None
        The epoch whose model the estimator kept (1-based), marked on
        every panel.
    estimator_name : str, default=None
        The name in the figure's title.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        The panels, top to bottom.
    figure_ : matplotlib Figure
        The figure of the panels.
    lines_ : dict of str to matplotlib Line2D
        The curves by name: ``"loss"``, ``"validation loss"``,
        ``"validation score"``, ``"learning rate"`` (those recorded).

    See Also
    --------
    TrainingCurveDisplay.from_estimator : The display of a fitted estimator.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from fastmlp import MLPClassifier
    >>> from fastmlp.inspection import TrainingCurveDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(early_stopping=True, random_state=0).fit(X / 16, y)
    >>> display = TrainingCurveDisplay.from_estimator(clf)
    >>> sorted(display.lines_)
    ['learning rate', 'loss', 'validation loss', 'validation score']
    """

    def __init__(self, loss_curve, *, validation_loss_curve=None, validation_scores=None,
                 learning_rate_curve=None, best_epoch=None, estimator_name=None):
        self.loss_curve = loss_curve
        self.validation_loss_curve = validation_loss_curve
        self.validation_scores = validation_scores
        self.learning_rate_curve = learning_rate_curve
        self.best_epoch = best_epoch
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, axes=None):
        """The training curves of a fitted fastmlp estimator.

        Parameters
        ----------
        estimator : MLPClassifier or MLPRegressor
            An estimator fitted with a first-order solver (L-BFGS records no
            curve).
        axes : sequence of matplotlib Axes, default=None
            One Axes per panel; None makes a new figure.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, drawn.

        Raises
        ------
        ValueError
            If the estimator recorded no loss curve (``solver='lbfgs'``).
        """
        from ._base import check_fitted

        check_fitted(estimator)
        curve = getattr(estimator, "loss_curve_", None)
        if curve is None:
            raise ValueError("the estimator recorded no loss curve: solver='lbfgs' "
                             "keeps the final loss_ only, as scikit-learn's does.")
        scores = getattr(estimator, "validation_scores_", None)
        best = None
        if scores:
            best = int(np.argmax(scores)) + 1
        lr = getattr(estimator, "learning_rate_curve_", None)
        return cls(
            curve, validation_loss_curve=getattr(estimator, "validation_loss_curve_", None)
            or None, validation_scores=scores or None, learning_rate_curve=lr or None,
            best_epoch=best if getattr(estimator, "early_stopping", False) else None,
            estimator_name=type(estimator).__name__,
        ).plot(axes=axes)

    def _panels(self):
        panels = [("loss", [("loss", self.loss_curve, "training"),
                            ("validation loss", self.validation_loss_curve, "validation")])]
        if self.validation_scores is not None:
            panels.append(("validation score",
                           [("validation score", self.validation_scores, None)]))
        if self.learning_rate_curve is not None:
            panels.append(("learning rate",
                           [("learning rate", self.learning_rate_curve, None)]))
        return panels

    def plot(self, *, axes=None):
        """Draw the curves.

        Parameters
        ----------
        axes : sequence of matplotlib Axes, default=None
            One Axes per panel (loss; then validation score and learning
            rate when recorded); None makes a new figure.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with ``axes_``, ``figure_`` and ``lines_`` set.
        """
        plt = _pyplot()
        panels = self._panels()
        if axes is None:
            fig, axes = plt.subplots(len(panels), 1, sharex=True,
                                     figsize=(6.4, 1.6 + 1.6 * len(panels)),
                                     squeeze=False)
            axes = axes[:, 0]
        else:
            axes = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
            if len(axes) != len(panels):
                raise ValueError(f"axes must hold {len(panels)} Axes (one per panel: "
                                 f"{', '.join(p[0] for p in panels)}); got {len(axes)}.")
            fig = axes[0].figure
        self.lines_ = {}
        for ax, (title, curves) in zip(axes, panels):
            for name, values, label in curves:
                if values is None:
                    continue
                values = np.asarray(values, dtype=float)
                (self.lines_[name],) = ax.plot(np.arange(1, len(values) + 1), values,
                                               label=label)
            ax.set_ylabel(title)
            if self.best_epoch is not None:
                ax.axvline(self.best_epoch, color="0.6", linestyle="--", linewidth=1)
            if len([c for c in curves if c[1] is not None]) > 1:
                ax.legend()
        axes[-1].set_xlabel("epoch")
        if self.estimator_name:
            axes[0].set_title(self.estimator_name)
        self.axes_, self.figure_ = axes, fig
        return self
