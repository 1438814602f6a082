"""Pictures of training, in scikit-learn's Display convention (matplotlib is
an optional dependency: ``pip install "fastmlp[plot]"``).

``TrainingCurveDisplay`` shows what a fit recorded per epoch: the training
loss (and the validation loss), the validation score, the learning rate.
``LayerStatsDisplay`` shows the hidden layers' activations and
back-propagated gradients that ``record_layer_stats=True`` recorded, as in
Glorot & Bengio (2010).  ``fgsm`` crafts adversarial examples (Goodfellow
et al. 2015) to evaluate a fitted model on.
"""

import numpy as np

__all__ = ["LayerStatsDisplay", "TrainingCurveDisplay", "fgsm"]


def fgsm(estimator, X, y, eps, *, clip=None):
    """Adversarial examples by the fast gradient sign method.

    Goodfellow, Shlens & Szegedy (ICLR 2015): x_adv = x + eps *
    sign(grad_x J(theta, x, y)), J the loss of the sample (x, y) under the
    fitted model (the log-loss of the true labels for a classifier, whatever
    ``label_smoothing`` was; the regressor's loss), its gradient computed by
    the engine's backward pass, one layer further than training goes.  A
    zero gradient leaves the input as it is.

    Parameters
    ----------
    estimator : MLPClassifier or MLPRegressor
        A fitted fastmlp estimator without batch normalisation (whose batch
        statistics would couple the samples) and not a snapshot ensemble.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        The inputs (a sparse matrix is densified: the examples are dense).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Their true targets (class labels, a label indicator matrix, or values).
    eps : float
        The size of the perturbation in each input (the max-norm of x_adv - x).
    clip : tuple of (float, float), default=None
        Clip x_adv to this range (e.g. ``(0, 1)`` for images in [0, 1]); None
        does not clip (the paper's training examples are not clipped).

    Returns
    -------
    X_adv : ndarray of shape (n_samples, n_features)
        The adversarial examples, in the model's dtype.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from fastmlp import MLPClassifier
    >>> from fastmlp.inspection import fgsm
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier(max_iter=50, random_state=0).fit(X / 16, y)
    >>> X_adv = fgsm(clf, X / 16, y, eps=0.2, clip=(0, 1))
    >>> bool(clf.score(X_adv, y) < clf.score(X / 16, y))
    True
    """
    import scipy.sparse as sp

    from ._base import BaseMLP, check_fitted
    from ._engine import Engine
    from ._threads import blas_limit, effective_n_threads
    from ._training import thread_plan

    if not isinstance(estimator, BaseMLP):
        raise TypeError("fgsm takes a fitted fastmlp MLPClassifier or MLPRegressor; "
                        f"got {type(estimator).__name__}.")
    est = estimator._reader()
    check_fitted(est)
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0; got {eps!r}.")
    if est.__dict__.get("_snapshots"):
        raise ValueError("fgsm does not attack a snapshot ensemble (its loss is "
                         "not one network's); fit with snapshot_ensemble=None.")
    model = est._current_model()
    net = model.network
    if net.batch_norm:
        raise ValueError("fgsm does not support batch-normalised networks (the "
                         "batch statistics would couple the samples).")
    if sp.issparse(X):
        X = X.toarray()
    X = est._check_predict_input(X, model)
    X = np.ascontiguousarray(X, dtype=net.dtype)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1 and not hasattr(est, "classes_"):
        y = y.ravel()
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} samples but y has {y.shape[0]}.")
    Y = np.ascontiguousarray(est._encode_validation(y, net.dtype), dtype=net.dtype)
    dX = np.empty_like(X)
    if X.shape[0]:
        plan = thread_plan(effective_n_threads(est.n_threads))
        engine = Engine(net, min(X.shape[0], 1024), plan.engine_threads, plan.split_gemm,
                        split_parts=plan.gemm_blocks, running=model.running.copy())
        blas_limit.run(plan.blas_threads, engine.input_gradient, X, Y, model.theta, dX)
    X_adv = X + net.dtype.type(eps) * np.sign(dX)
    if clip is not None:
        lo, hi = clip
        np.clip(X_adv, lo, hi, out=X_adv)
    return X_adv


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


class LayerStatsDisplay:
    """The hidden layers' activations and back-propagated gradients.

    Three panels, as Glorot & Bengio's (2010) figures: the mean activation
    of each hidden layer per epoch, with a band of one standard deviation;
    the histogram of each layer's activations at one epoch; the histogram of
    each layer's back-propagated gradients dl/dz at that epoch.  Create it
    with :meth:`from_estimator` from an estimator fitted with
    ``record_layer_stats=True``.

    Parameters
    ----------
    layer_stats : list of dict
        The estimator's ``layer_stats_``.
    epoch : int, default=None
        The epoch (1-based) of the histograms; None is the last.
    estimator_name : str, default=None
        The name in the figure's title.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        The three panels.
    figure_ : matplotlib Figure
        Their figure.
    lines_ : dict of str to list of matplotlib Line2D
        ``"activation mean"``, ``"activation histogram"`` and
        ``"gradient histogram"``: one line per hidden layer.

    See Also
    --------
    LayerStatsDisplay.from_estimator : The display of a fitted estimator.
    TrainingCurveDisplay : The loss, score and learning rate per epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from fastmlp import MLPClassifier
    >>> from fastmlp.inspection import LayerStatsDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier((64, 64), activation="tanh", max_iter=5,
    ...                     record_layer_stats=True, random_state=0)
    >>> display = LayerStatsDisplay.from_estimator(clf.fit(X / 16, y))
    >>> len(display.lines_["activation histogram"])
    2
    """

    def __init__(self, layer_stats, *, epoch=None, estimator_name=None):
        self.layer_stats = layer_stats
        self.epoch = epoch
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, epoch=None, axes=None):
        """The layer statistics of a fitted estimator.

        Parameters
        ----------
        estimator : MLPClassifier or MLPRegressor
            Fitted with ``record_layer_stats=True`` and a first-order solver.
        epoch : int, default=None
            The epoch (1-based) of the histograms; None is the last.
        axes : sequence of 3 matplotlib Axes, default=None
            The panels; None makes a new figure.

        Returns
        -------
        display : LayerStatsDisplay
            The display, drawn.

        Raises
        ------
        ValueError
            If the estimator recorded no statistics.
        """
        from ._base import check_fitted

        check_fitted(estimator)
        stats = getattr(estimator, "layer_stats_", None)
        if not stats:
            raise ValueError("the estimator recorded no layer statistics: fit it with "
                             "record_layer_stats=True, a first-order solver and at "
                             "least one hidden layer.")
        return cls(stats, epoch=epoch,
                   estimator_name=type(estimator).__name__).plot(axes=axes)

    def plot(self, *, axes=None):
        """Draw the panels.

        Parameters
        ----------
        axes : sequence of 3 matplotlib Axes, default=None
            The panels; None makes a new figure.

        Returns
        -------
        display : LayerStatsDisplay
            The display, with ``axes_``, ``figure_`` and ``lines_`` set.
        """
        plt = _pyplot()
        stats = self.layer_stats
        n_epochs = len(stats)
        epoch = n_epochs if self.epoch is None else int(self.epoch)
        if not 1 <= epoch <= n_epochs:
            raise ValueError(f"epoch must be in [1, {n_epochs}]; got {self.epoch}.")
        if axes is None:
            fig, axes = plt.subplots(3, 1, figsize=(6.4, 8.4))
        else:
            axes = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
            if len(axes) != 3:
                raise ValueError(f"axes must hold 3 Axes; got {len(axes)}.")
            fig = axes[0].figure
        axes = np.asarray(axes, dtype=object).ravel()
        mean = np.array([s["activation_mean"] for s in stats])
        std = np.array([s["activation_std"] for s in stats])
        epochs = np.arange(1, n_epochs + 1)
        self.lines_ = {"activation mean": [], "activation histogram": [],
                       "gradient histogram": []}
        for layer in range(mean.shape[1]):
            (line,) = axes[0].plot(epochs, mean[:, layer], label=f"layer {layer + 1}")
            axes[0].fill_between(epochs, mean[:, layer] - std[:, layer],
                                 mean[:, layer] + std[:, layer],
                                 color=line.get_color(), alpha=0.15)
            self.lines_["activation mean"].append(line)
        axes[0].set_xlabel("epoch")
        axes[0].set_ylabel("activation (mean, std)")
        axes[0].legend(fontsize="small")
        for ax, name in ((axes[1], "activation"), (axes[2], "gradient")):
            for layer, (counts, edges) in enumerate(stats[epoch - 1][f"{name}_hist"]):
                counts = np.asarray(counts, dtype=float)
                density = counts / max(counts.sum(), 1.0) / np.diff(edges)
                (line,) = ax.plot((edges[:-1] + edges[1:]) / 2, density,
                                  label=f"layer {layer + 1}")
                self.lines_[f"{name} histogram"].append(line)
            ax.set_xlabel("activation value" if name == "activation"
                          else "back-propagated gradient dl/dz")
            ax.set_ylabel("density")
            ax.set_title(f"{name}s at epoch {epoch}", fontsize="medium")
            ax.legend(fontsize="small")
        if self.estimator_name:
            axes[0].set_title(self.estimator_name)
        fig.tight_layout()
        self.axes_, self.figure_ = axes, fig
        return self
