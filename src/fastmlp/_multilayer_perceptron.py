"""MLPClassifier and MLPRegressor: scikit-learn's multilayer perceptrons,
trained by the fastmlp engine.

These classes hold the public parameters and their documentation, encode
the targets and decode the predictions; the shared machinery is in
``_base.py``, the training drivers in ``_training.py``.
"""

import numpy as np
from scipy.special import expit
from sklearn.base import ClassifierMixin, RegressorMixin, _fit_context
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import assert_all_finite
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from numbers import Real

from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    _check_partial_fit_first_call,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import column_or_1d, validate_data

from ._base import BaseMLP, check_fitted
from ._prediction import _SPARSE_FORMATS


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _mean_task_accuracy(y, y_pred, sample_weight=None):
    """The mean over tasks (columns) of each task's accuracy."""
    y = np.asarray(y)
    return float(np.mean([accuracy_score(y[:, j], y_pred[:, j],
                                         sample_weight=sample_weight)
                          for j in range(y.shape[1])]))


def _is_task_list(y, classes):
    """Whether partial_fit's `classes` is one array per task of a 2-D y
    (multitask) rather than one array of classes."""
    if classes is None or np.ndim(y) != 2 or np.shape(y)[1] < 2:
        return False
    if isinstance(classes, np.ndarray) and classes.dtype != object:
        return classes.ndim == 2
    return len(classes) > 0 and all(np.ndim(c) == 1 for c in classes)


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


class _TaskEncoder:
    """The targets of multitask learning (Caruana 1997): a 2-D y whose
    columns are separate multiclass tasks (scikit-learn's
    'multiclass-multioutput'), encoded as one one-hot block per column.
    It stands where a LabelBinarizer stands otherwise (``y_type_``,
    ``classes_``, ``transform``, ``inverse_transform``); ``groups`` are the
    blocks' widths, one softmax each.  A task with 2 classes is a 2-way
    softmax; a task with 1 class a group of one output, whose probability
    is 1 (no loss, no gradient; as a single-output model fitted on one
    class, it predicts that class)."""

    y_type_ = "multiclass-multioutput"

    def fit(self, y=None, classes=None, dtype=None):
        """Classes from y's columns, or the given list of arrays (one per
        task); predictions have `dtype` (default y's, or the classes')."""
        if classes is None:
            classes = [np.unique(col) for col in np.asarray(y).T]
        else:
            classes = [np.unique(np.asarray(c)) for c in classes]
            if any(c.ndim != 1 or len(c) == 0 for c in classes):
                raise ValueError("classes must hold one non-empty array of labels "
                                 "per task (column of y).")
        self.classes_ = classes
        y = np.asarray(y) if y is not None else None
        self.dtype_ = (np.dtype(dtype) if dtype is not None else y.dtype if y is not None
                       else np.result_type(*[c.dtype for c in classes]))
        self.groups = np.array([len(c) for c in classes], dtype=np.intp)
        return self

    def transform(self, y, name="y"):
        """One one-hot block per task; a clear error for a wrong number of
        columns or labels a task has not seen."""
        y = np.asarray(y)
        k = len(self.classes_)
        if y.ndim != 2 or y.shape[1] != k:
            raise ValueError(f"{name} must have {k} columns (one per task), as the "
                             f"targets the model was fitted on; got shape {y.shape}.")
        Y = np.zeros((y.shape[0], int(self.groups.sum())))
        rows = np.arange(y.shape[0])
        off = 0
        for j, c in enumerate(self.classes_):
            col = y[:, j]
            idx = np.minimum(np.searchsorted(c, col), len(c) - 1)
            bad = c[idx] != col
            if np.any(bad):
                raise ValueError(
                    f"{name} has labels {np.unique(col[bad]).tolist()} in task {j} "
                    f"(column {j}) that are not among its classes {c.tolist()}.")
            Y[rows, off + idx] = 1
            off += len(c)
        return Y

    def inverse_transform(self, Y):
        """(n, k) labels: each task's most probable class."""
        y = np.empty((Y.shape[0], len(self.classes_)), dtype=self.dtype_)
        off = 0
        for j, c in enumerate(self.classes_):
            y[:, j] = c[np.argmax(Y[:, off:off + len(c)], axis=1)]
            off += len(c)
        return y

    def split(self, P):
        """The columns of P (n, n_outputs) as a list of one block per task."""
        return np.split(P, np.cumsum(self.groups)[:-1], axis=1)


class MLPClassifier(ClassifierMixin, BaseMLP):
    """Multi-layer perceptron classifier, trained by the fastmlp engine.

    A drop-in replacement for :class:`sklearn.neural_network.MLPClassifier`:
    same parameters, defaults, fitted attributes and training semantics,
    plus ``dtype``, ``weight_init``, ``n_threads`` and more activations.

    Multitask learning (Caruana 1997): a 2-D ``y`` whose columns are
    separate multiclass tasks (``type_of_target`` 'multiclass-multioutput',
    which scikit-learn's MLP rejects) trains one network whose hidden
    layers are shared and whose output has one softmax per task; the loss
    is the sum of the tasks' cross-entropies. ``predict`` then returns
    (n_samples, n_tasks) labels, ``predict_proba`` a list of one array per
    task and ``classes_`` a list of arrays, as
    :class:`~sklearn.multioutput.MultiOutputClassifier`. A task with two
    classes is a two-way softmax; a task with one class a single output of
    probability 1 (it predicts that class). A 2-D ``y`` of 0/1 indicator
    columns stays multilabel (one sigmoid per column).

    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
        An empty tuple gives a network without hidden layers.

    activation : {'identity', 'logistic', 'sigmoid', 'tanh', 'relu', \
'leaky_relu', 'elu', 'gelu', 'silu'}, default='relu'
        Activation of the hidden layers. ``'sigmoid'`` is an alias of
        ``'logistic'``; ``'leaky_relu'`` has negative slope 0.01 and
        ``'elu'`` alpha 1.0 (PyTorch's defaults). ``'gelu'`` is the exact
        GELU, x Phi(x) with Phi the standard normal CDF (PyTorch's
        ``nn.GELU()``, not its tanh approximation); ``'silu'`` (swish) is
        x sigmoid(x) (``nn.SiLU()``). Their derivatives need the
        activation's input, which training then keeps (one more array of
        the hidden layers' size per minibatch); the others are
        differentiated from their output.

    solver : {'lbfgs', 'sgd', 'adam', 'adamw', 'adagrad', 'rmsprop', \
'adadelta', 'swats'}, default='adam'
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
        - ``'adamw'`` (PyTorch's, Loshchilov & Hutter): ``theta *= 1 - lr *
          weight_decay`` on the weights (not the biases, unlike PyTorch's
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
        - ``'swats'`` (Keskar & Socher 2017, "Improving Generalization
          Performance by Switching from Adam to SGD", Algorithm 1): Adam as
          ``'adam'`` (whose form is the paper's) until the switch; after
          each Adam step p, gamma = p.p / (-p.g) (the SGD rate whose step
          projected on g gives p), lambda <- beta_2 lambda + (1 - beta_2)
          gamma, and when t > 1 and ``|lambda / (1 - beta_2^t) - gamma|
          < swats_eps`` training continues as SGD with momentum beta_1 at
          the rate L = lambda / (1 - beta_2^t): b <- beta_1 b + g; theta -=
          (1 - beta_1) L b (L follows the schedule: times lr_t / lr at the
          switch). The step of the switch is ``swats_switch_step_``.
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

        - ``'invscaling'``: ``lr = lr_init / (t_ + 1) ** power_t``, ``t_``
          counting samples, updated after each epoch;
        - ``'adaptive'``: divide the rate by 5 whenever training would stop
          for lack of improvement, until it falls below 1e-6.

        The others apply to every first-order solver (adam included), with
        parameters from ``lr_schedule_params``:

        - ``'step'``: ``lr_init * gamma ** floor(epoch / step_size)``
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

    power_t : float, default=0.5
        Exponent of ``'invscaling'``: ``lr = lr_init / (t_ + 1) ** power_t``,
        with ``t_`` the number of samples seen, updated after each epoch.

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
        Hold out ``validation_fraction`` of the data (stratified when the
        model has one output unit, i.e. binary targets, as scikit-learn) and
        stop when its accuracy does not improve by
        ``tol`` for ``n_iter_no_change`` + 1 epochs; the best parameters are
        restored at the end. For multitask targets the accuracy is the mean
        over tasks of each task's accuracy.

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
'he_normal', 'standard'}, default='glorot_uniform'
        Initialisation. ``'glorot_uniform'`` is scikit-learn's (weights and
        biases from U(-r, r), r = sqrt(6 / (fan_in + fan_out)), 2 instead of
        6 for the logistic activation). ``'glorot_normal'``, ``'he_uniform'``
        and ``'he_normal'`` draw the weights from Glorot's normal or He's
        uniform / normal distributions (gain sqrt(2 / (1 + slope^2))) and
        start the biases at zero. ``'standard'`` is the heuristic Glorot &
        Bengio (2010) compare against, U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
        for weights and biases: PyTorch's ``nn.Linear`` default.

    n_threads : int, default=None
        Threads for the engine's loops and BLAS. None is OpenMP's maximum
        (``OMP_NUM_THREADS``, ``omp_set_num_threads``, ``threadpoolctl``'s
        limits), capped by the physical cores the process may use, as
        scikit-learn's estimators; more threads than the CPUs the process
        may use are capped with a warning.

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

    swats_eps : float, default=1e-9
        The tolerance of ``'swats'``'s switching criterion (the paper's
        1e-9). On noisy minibatch gradients the paper's tolerance rarely
        fires (the estimate lambda / (1 - beta_2^t) and the current gamma
        differ by far more); a larger one switches earlier.

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

    max_norm : float, default=None
        The max-norm constraint of Srivastava et al. (2014, "Dropout", Sec.
        5.1): after each minibatch step, every hidden unit's incoming weight
        vector (column j of its layer's ``coefs_[i]``, of shape (n_in,
        n_out); biases excluded) is projected onto the L2 ball of radius
        ``max_norm``: w_j <- w_j * max_norm / ||w_j|| when ||w_j|| >
        max_norm. The paper constrains the hidden units; the output layer is
        left free (``alpha`` still applies to it). None: no constraint.
        First-order solvers only (``'lbfgs'`` takes no steps to project).

    clip_norm : float, default=None
        Gradient clipping by global norm, as PyTorch's
        ``torch.nn.utils.clip_grad_norm_(parameters, clip_norm)``: before
        each minibatch step, with g the whole gradient (weights, biases, BN
        parameters) *including the L2 term* ``alpha * W / batch`` (the
        gradient of the objective, as PyTorch with the penalty written into
        the loss; ``'adamw'``'s decoupled ``weight_decay`` is not a gradient
        and is not clipped), g <- g * clip_norm / (||g|| + 1e-6) when that
        factor is below 1. None: no clipping. First-order solvers only.

    mixup_alpha : float, default=0.0
        Mixup (Zhang et al., ICLR 2018, "mixup: Beyond Empirical Risk
        Minimization"): each training minibatch is replaced by convex
        combinations of its rows, x~ = lam x + (1 - lam) x_j and of their
        one-hot targets y~ = lam y + (1 - lam) y_j, with one lam ~
        Beta(mixup_alpha, mixup_alpha) per minibatch and j a random
        permutation of the minibatch (the paper's implementation). Sample
        weights stay those of the rows x. The draws come from the engine's
        counter-based generator keyed by (random_state, epoch, minibatch), as
        dropout's: the same model for any thread count. ``loss_curve_``
        reports the loss on the mixed minibatches. 0 turns it off; the paper
        uses 0.1 to 0.4. First-order solvers only, dense ``X`` only (mixed
        rows are dense).

    snapshot_ensemble : int, default=None
        Snapshot ensembles (Huang et al., ICLR 2017, "Snapshot Ensembles:
        Train 1, get M for free"): with ``learning_rate='cosine_restarts'``,
        the model at the end of each restart period is kept (the last
        ``snapshot_ensemble`` of them, ``snapshot_epochs_``), and
        ``predict_proba`` is the mean of their probabilities (``predict``
        its argmax; ``predict_log_proba`` its log). ``coefs_`` and
        ``intercepts_`` stay the final model's. The snapshots are part of
        the fitted state (pickles keep them; ``partial_fit`` continues
        collecting them); ``fastmlp.to_onnx`` refuses an ensemble. If no
        period has ended, predictions use the final model (with a warning).
        None: no ensemble. Early stopping's validation scores are the
        current model's.

    adversarial_eps : float, default=0.0
        Adversarial training with the fast gradient sign method (Goodfellow,
        Shlens & Szegedy, ICLR 2015, "Explaining and Harnessing Adversarial
        Examples"): for each minibatch the engine back-propagates to the
        inputs, builds x_adv = x + adversarial_eps * sign(grad_x J(theta, x,
        y)) in its workspace (the perturbation a constant, not
        differentiated; not clipped to the input range, as in the paper) and
        follows the gradient of adversarial_alpha * J(x) + (1 -
        adversarial_alpha) * J(x_adv), a second forward and backward pass
        (dropout masks are the same in both). ``loss_curve_`` reports that
        objective. 0 turns it off; the paper uses 0.25 for MNIST in [0, 1].
        First-order solvers, dense ``X``, no ``batch_norm``.
        :func:`fastmlp.inspection.fgsm` crafts such examples for evaluation.

    adversarial_alpha : float, default=0.5
        The weight of the clean examples' loss in adversarial training (the
        paper's 0.5), in (0, 1].

    label_smoothing : float, default=0.0
        Label smoothing (Szegedy et al. 2016) as PyTorch's
        ``CrossEntropyLoss(label_smoothing=e)``: the softmax output is fitted
        to q = (1 - e) onehot(y) + e / K (K classes), i.e. the loss is
        (1 - e) * nll + e * mean_k(-log p_k), and its delta is p - q. A
        sigmoid output (binary and multilabel targets) is a two-class
        softmax per label, so each label's target becomes (1 - e) y + e / 2
        (Keras's ``BinaryCrossentropy(label_smoothing=e)``). ``loss_`` and
        ``loss_curve_`` report the smoothed loss; validation scores and
        ``validation_loss_curve_`` use the true labels. Every solver,
        ``'lbfgs'`` included.

    class_weight : dict, list of dict or 'balanced', default=None
        Weights of the classes, as in :class:`~sklearn.linear_model.SGDClassifier`:
        a dict ``{label: weight}``, ``'balanced'`` (n_samples / (n_classes *
        np.bincount(y))), or for multilabel and multitask targets a list of
        dicts, one per column (``{0: w0, 1: w1}``; ``'balanced'`` is then
        computed per column and the columns' weights multiplied), as
        :class:`~sklearn.ensemble.RandomForestClassifier`. They multiply
        ``sample_weight`` (scikit-learn's ``compute_sample_weight``) for every
        solver, in ``partial_fit`` (a dict: ``'balanced'`` cannot be computed
        from a minibatch) and in early stopping's validation score.

    scoring : str, callable or None, default=None
        The validation score of early stopping: None is the accuracy
        (scikit-learn's); ``'loss'`` is minus the validation loss (the
        log-loss of the validation set, ``validation_loss_curve_``); any
        scorer name (``'roc_auc'``, ``'f1_macro'``, ...) or callable
        ``scorer(estimator, X, y)``, as
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`'s. A
        weighted validation set (``sample_weight``, ``sample_weight_val`` or
        ``class_weight``) is scored with its weights, passed as
        ``sample_weight=``: a callable must then accept that keyword.

    record_layer_stats : bool, default=False
        Record, at the end of each epoch (first-order solvers), each hidden
        layer's activations and back-propagated gradients on a fixed probe
        batch (up to ``batch_size`` evenly spaced training rows), as
        ``layer_stats_``: the quantities of Glorot & Bengio's (2010)
        figures. The engine computes them in one extra forward and backward
        pass of the probe per epoch; :class:`fastmlp.inspection.LayerStatsDisplay`
        draws them.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,) or list of ndarray
        Class labels; for multitask targets a list of one array per task
        (column of ``y``).

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
        Validation score of each epoch with early stopping (``scoring``;
        the accuracy by default), else None.

    validation_loss_curve_ : list of float or None
        With early stopping, the data loss of the validation set after each
        epoch (what ``loss_curve_`` tracks on the training data, without the
        L2 penalty), else None.

    best_validation_score_ : float or None
        Best validation score with early stopping, else None.

    t_ : int
        Number of training samples seen.

    swats_switch_step_ : int or None
        With ``solver='swats'``, the optimiser step (counted from 1 since the
        optimiser's state was created, as ``t`` in the update) at which it
        switched from Adam to SGD, or None if it has not; absent for the
        other solvers.

    snapshot_epochs_ : list of int
        With ``snapshot_ensemble``, the epochs (counted since the schedule
        started) at whose end the ensemble's snapshots were taken, oldest
        first; absent otherwise.

    coefs_ : list of ndarray of shape (n_in, n_out)
        Weight matrices, views of the flat parameter vector.

    intercepts_ : list of ndarray of shape (n_out,)
        Bias vectors, views of the flat parameter vector.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit (only for X with string column
        names).

    n_iter_ : int
        Number of epochs (iterations) run by the solver in the last call.

    n_layers_ : int
        Number of layers, input and output included.

    n_outputs_ : int
        Number of output units: 1 for binary problems, n_classes otherwise
        (for multitask targets the sum of the tasks' numbers of classes).

    out_activation_ : str
        ``'softmax'`` for multiclass, ``'logistic'`` for binary and
        multilabel targets.

    layer_stats_ : list of dict or None
        With ``record_layer_stats=True`` and a first-order solver, one dict
        per epoch: ``'activation_mean'``, ``'activation_std'``,
        ``'gradient_mean'``, ``'gradient_std'`` (arrays with one value per
        hidden layer, over the probe's samples and the layer's units) and
        ``'activation_hist'``, ``'gradient_hist'`` (per hidden layer, a pair
        of 40 counts and their 41 bin edges). The activations are those of a
        prediction; the gradients are each sample's dl/dz for the layer's
        pre-activation z (before batch norm). None otherwise.

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
    non-finite weights).

    All parameters live in one flat vector; ``coefs_[i]`` and
    ``intercepts_[i]`` are views of it.  An epoch runs in the compiled engine
    without the GIL: minibatch gathering, forward pass, loss, backward pass
    and optimiser step.

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

    _parameter_constraints: dict = {
        **BaseMLP._parameter_constraints,
        "class_weight": [None, dict, list, StrOptions({"balanced"})],
        "label_smoothing": [Interval(Real, 0, 1, closed="both")],
    }

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
        swats_eps=1e-9,
        batch_norm=False,
        bn_momentum=0.1,
        bn_eps=1e-5,
        dropout=0.0,
        input_noise=0.0,
        max_norm=None,
        clip_norm=None,
        mixup_alpha=0.0,
        snapshot_ensemble=None,
        adversarial_eps=0.0,
        adversarial_alpha=0.5,
        label_smoothing=0.0,
        class_weight=None,
        scoring=None,
        record_layer_stats=False,
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
            swats_eps=swats_eps,
            batch_norm=batch_norm,
            bn_momentum=bn_momentum,
            bn_eps=bn_eps,
            dropout=dropout,
            input_noise=input_noise,
            max_norm=max_norm,
            clip_norm=clip_norm,
            mixup_alpha=mixup_alpha,
            snapshot_ensemble=snapshot_ensemble,
            adversarial_eps=adversarial_eps,
            adversarial_alpha=adversarial_alpha,
            scoring=scoring,
            record_layer_stats=record_layer_stats,
        )
        self.class_weight = class_weight
        self.label_smoothing = label_smoothing

    def _validate_input(self, X, y, incremental, reset, dtype):
        X, y = validate_data(
            self, X, y, multi_output=True, dtype=dtype, order="C", reset=reset,
            ensure_all_finite=False, accept_sparse=_SPARSE_FORMATS,
        )
        self._check_finite(X)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        multitask = y.ndim == 2 and type_of_target(y) == "multiclass-multioutput"
        if (not hasattr(self, "classes_")) or (not self.warm_start and not incremental):
            binarizer = (_TaskEncoder() if multitask else LabelBinarizer()).fit(y)
        elif isinstance(self._label_binarizer, _TaskEncoder):
            binarizer = self._label_binarizer
            if self.warm_start and not incremental:
                if np.ndim(y) != 2 or y.shape[1] != len(self.classes_) or any(
                        set(np.unique(col)) != set(c)
                        for col, c in zip(y.T, self.classes_)):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same "
                        "tasks and classes as in the previous call to fit. "
                        f"Previously got {self.classes_}.")
        else:
            if multitask:
                raise ValueError(
                    "y is multiclass-multioutput (multitask), but the model was "
                    f"fitted on {self._label_binarizer.y_type_} targets.")
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

    def __getstate__(self):
        state = super().__getstate__()
        enc = state.get("_label_binarizer")
        if isinstance(enc, _TaskEncoder):
            # arrays and builtins only, as the rest of the state (skops)
            state["_label_binarizer"] = {"multitask_classes": list(enc.classes_),
                                         "dtype": enc.dtype_.str}
        return state

    def __setstate__(self, state):
        enc = state.get("_label_binarizer")
        if isinstance(enc, dict) and "multitask_classes" in enc:
            state = dict(state)
            state["_label_binarizer"] = _TaskEncoder().fit(
                classes=enc["multitask_classes"], dtype=enc["dtype"])
        super().__setstate__(state)

    @property
    def _multitask(self):
        return isinstance(self.__dict__.get("_label_binarizer"), _TaskEncoder)

    def _encode_validation(self, y_val, dtype):
        return self._encode_targets(y_val, dtype, "y_val")

    def _encode_targets(self, y, dtype, name="y"):
        """The target matrix of labels `y` of the fitted classes (a
        validation set's, or a block of distributed training data's)."""
        if self._multitask:
            return np.ascontiguousarray(
                self._label_binarizer.transform(y, name=name), dtype=dtype)
        if self._label_binarizer.y_type_.startswith("multilabel"):
            y = np.asarray(y)
            if y.ndim != 2 or y.shape[1] != len(self.classes_):
                raise ValueError(
                    f"{name} must be a label indicator matrix of {len(self.classes_)} "
                    f"columns, as y; got shape {y.shape}."
                )
        else:
            unseen = np.setdiff1d(unique_labels(y), self.classes_)
            if len(unseen):
                raise ValueError(f"{name} has classes {unseen.tolist()} not in the "
                                 f"classes {self.classes_.tolist()}.")
        return _one_hot(self._label_binarizer, y, dtype)

    def _class_weights(self, Y, incremental):
        """scikit-learn's class_weight, as SGDClassifier's: per-sample
        weights from the labels (a list of dicts for multilabel targets, one
        per label column, multiplied).  Also keeps the weight of each class
        (``_class_weight_map``), which a user's validation set takes."""
        self.__dict__.pop("_class_weight_map", None)
        if self.class_weight is None:
            return None
        if incremental and isinstance(self.class_weight, str):
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit: a "
                "minibatch does not show the classes' frequencies. Pass "
                "compute_class_weight('balanced', classes=classes, y=y) on a "
                "large enough sample of the targets as a dict instead."
            )
        y = self._decode(Y)
        weights = compute_sample_weight(self.class_weight, y)
        if isinstance(self.class_weight, str):
            # 'balanced' as the training labels make it, per label column
            columns = y.T if y.ndim == 2 else [y]
            self._class_weight_map = [
                dict(zip(c, compute_class_weight("balanced", classes=c, y=col)))
                for c, col in ((np.unique(col), col) for col in columns)
            ]
            if y.ndim == 1:
                self._class_weight_map = self._class_weight_map[0]
        else:
            self._class_weight_map = self.class_weight
        return weights

    def _validation_weights(self, y_val, sample_weight_val):
        """A user's validation sample weights times the training's class
        weights (as the split of validation_fraction carries them)."""
        if getattr(self, "_class_weight_map", None) is None:
            return sample_weight_val
        weights = compute_sample_weight(self._class_weight_map, y_val)
        return weights if sample_weight_val is None else weights * sample_weight_val

    def _output_layer(self, Y):
        if self._label_binarizer.y_type_ in ("multiclass", "multiclass-multioutput"):
            return "softmax", "log_loss"
        return "logistic", "binary_log_loss"

    def _output_groups(self):
        # multitask: one softmax per task
        return self._label_binarizer.groups if self._multitask else None

    def _training_targets(self, Y):
        """The targets training fits: with label_smoothing = e, PyTorch's
        CrossEntropyLoss targets (1 - e) Y + e / K over the K softmax
        outputs; a sigmoid output (binary, multilabel) is a two-class
        softmax per label, hence (1 - e) Y + e / 2 (Keras's
        BinaryCrossentropy(label_smoothing=e))."""
        e = self.label_smoothing
        if not e:
            return Y
        k = Y.shape[1] if self._label_binarizer.y_type_ == "multiclass" else 2
        if self._multitask:
            # each task's softmax over its own K_j classes
            groups = self._label_binarizer.groups
            k = np.repeat(groups, groups).astype(Y.dtype)
        return np.ascontiguousarray((1.0 - e) * Y + e / k, dtype=Y.dtype)

    def _decode(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None,
            sample_weight_val=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. A scipy.sparse matrix or array is converted once
            to CSR and never densified.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values: class labels, a label-indicator matrix for
            multilabel classification, or for multitask learning a 2-D
            array of labels whose columns are separate multiclass tasks.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights (multiplied by ``class_weight``'s).

        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
default=None
            A validation set for early stopping (``early_stopping=True``),
            in place of the ``validation_fraction`` split. In a
            :class:`~sklearn.pipeline.Pipeline`, ``X_val`` can be transformed
            as ``X`` with ``Pipeline(..., transform_input=["X_val"])`` and
            metadata routing.

        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            The validation targets, with ``X_val``.

        sample_weight_val : array-like of shape (n_val,), default=None
            Sample weights of the validation set.

        Returns
        -------
        self : object
            The fitted model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False,
                         validation=(X_val, y_val, sample_weight_val))

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

        y : array-like of shape (n_samples,) or (n_samples, n_tasks)
            The target values (as in ``fit``).

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        classes : array of shape (n_classes,) or list of arrays, default=None
            Classes across all calls to partial_fit; required in the first
            call. For multitask targets, a list of one array of classes per
            column of ``y``.

        Returns
        -------
        self : object
            The updated model.
        """
        with self._transaction() as work:
            first = getattr(work, "classes_", None) is None
            if first and _is_task_list(y, classes):
                # multitask: one array of classes per column of y
                if len(classes) != np.shape(y)[1]:
                    raise ValueError(
                        f"classes has {len(classes)} arrays; y has {np.shape(y)[1]} "
                        "columns (tasks): partial_fit of a multitask model needs "
                        "one array of classes per task.")
                binarizer = _TaskEncoder().fit(classes=classes)
                work._label_binarizer = binarizer
                work.classes_ = binarizer.classes_
            elif not first and work._multitask:
                if classes is not None and not (
                        _is_task_list(y, classes) and len(classes) == len(work.classes_)
                        and all(np.array_equal(np.unique(np.asarray(c)), f)
                                for c, f in zip(classes, work.classes_))):
                    raise ValueError(
                        "`classes` is not the same as on the first call to "
                        f"partial_fit: {work.classes_}.")
            elif (getattr(work, "classes_", None) is None and classes is None
                  and np.ndim(y) == 2
                  and type_of_target(y) == "multiclass-multioutput"):
                raise ValueError(
                    "classes must be passed on the first call to partial_fit: "
                    "for a multitask y, a list of one array of classes per "
                    "column.")
            elif _check_partial_fit_first_call(work, classes):
                binarizer = LabelBinarizer()
                if type_of_target(y).startswith("multilabel"):
                    binarizer.fit(y)
                else:
                    binarizer.fit(classes)
                work._label_binarizer = binarizer
            work._fit_unguarded(X, y, sample_weight, True, None)
        return self

    def predict(self, X):
        """Predict using the multi-layer perceptron classifier.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y : ndarray of shape (n_samples,), (n_samples, n_classes) or \
(n_samples, n_tasks)
            The predicted classes (multilabel: an indicator matrix;
            multitask: one column of labels per task).
        """
        est = self._reader()   # one fitted state, even beside a refit
        check_fitted(est)
        return est._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        if self._multitask:
            return self._label_binarizer.inverse_transform(y_pred)
        if self.out_activation_ == "softmax":
            # LabelBinarizer.inverse_transform's rule, without its overhead
            return self.classes_[np.argmax(y_pred, axis=1)]
        if self.n_outputs_ == 1 and self._label_binarizer.y_type_ == "binary":
            if len(self.classes_) == 1:
                # fitted on one class (scikit-learn predicts it)
                return np.repeat(self.classes_, y_pred.shape[0])
            return self.classes_[(y_pred.ravel() > 0.5).astype(np.intp)]
        if self.n_outputs_ == 1:
            y_pred = y_pred.ravel()
        return self._label_binarizer.inverse_transform(y_pred)

    def _score(self, X, y, sample_weight=None):
        if self._multitask:
            # early stopping: the mean over tasks of each task's accuracy
            return self._score_with_function(X, y, sample_weight, _mean_task_accuracy)
        return self._score_with_function(X, y, sample_weight, accuracy_score)

    def score(self, X, y, sample_weight=None):
        """Return the mean accuracy on the given test data and labels.

        For multitask targets (a 2-D ``y`` of multiclass columns) this is
        the subset accuracy, the fraction of samples whose every task is
        predicted right, as :meth:`sklearn.multioutput.MultiOutputClassifier.score`
        (early stopping scores the mean of the tasks' accuracies instead).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Test samples.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True labels for `X`.

        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            Mean accuracy of ``self.predict(X)`` with respect to `y`.
        """
        est = self._reader()
        check_fitted(est)
        if not est._multitask:
            return super().score(X, y, sample_weight=sample_weight)
        y = np.asarray(y)
        y_pred = est.predict(X)
        if y.shape != y_pred.shape:
            raise ValueError(f"y has shape {y.shape}; the model predicts "
                             f"{y_pred.shape[1]} tasks for {y_pred.shape[0]} samples.")
        return float(np.average(np.all(y == y_pred, axis=1), weights=sample_weight))

    def predict_proba(self, X):
        """Probability estimates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        y_prob : ndarray of shape (n_samples, n_classes) or list of ndarray
            The probability of each class, in the order of ``classes_``
            (a column of ones for a model fitted on one class). For
            multitask targets a list of one array (n_samples, n_classes_j)
            per task, each row summing to 1, as
            :class:`~sklearn.multioutput.MultiOutputClassifier`.
        """
        est = self._reader()   # one fitted state, even beside a refit
        check_fitted(est)
        if est._multitask:
            return est._label_binarizer.split(est._forward(X))
        if est.n_outputs_ == 1:
            # sigmoid(-z) rather than 1 - sigmoid(z): no cancellation to 0,
            # so that log(predict_proba) agrees with predict_log_proba.
            z = est._forward(X, logits=True).ravel()
            if len(est.classes_) == 1:
                return np.ones((z.shape[0], 1), dtype=z.dtype)
            return np.vstack([expit(-z), expit(z)]).T
        return est._forward(X)

    def predict_log_proba(self, X):
        """Log of probability estimates, computed from the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The input data.

        Returns
        -------
        log_y_prob : ndarray of shape (n_samples, n_classes) or list of ndarray
            Log-probabilities, in the order of ``classes_``: log-softmax of
            the logits (multiclass) or log-sigmoid (binary, multilabel),
            finite where ``log(predict_proba(X))`` would underflow to -inf.
            For multitask targets a list of one array per task.
        """
        est = self._reader()   # one fitted state, even beside a refit
        check_fitted(est)
        z = est._forward(X, logits=True)
        if est._multitask:
            return [_log_softmax(zg) for zg in est._label_binarizer.split(z)]
        if est.out_activation_ == "softmax":
            return _log_softmax(z)
        # log sigmoid(z) = -softplus(-z); log(1 - sigmoid(z)) = -softplus(z)
        if est.n_outputs_ == 1:
            z = z.ravel()
            if len(est.classes_) == 1:
                return np.zeros((z.shape[0], 1), dtype=z.dtype)
            return np.vstack([-np.logaddexp(0, z), -np.logaddexp(0, -z)]).T
        return -np.logaddexp(0, -z)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True   # multilabel, and multitask
        return tags


class MLPRegressor(RegressorMixin, BaseMLP):
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
'leaky_relu', 'elu', 'gelu', 'silu'}, default='relu'
        Activation of the hidden layers; see :class:`MLPClassifier`.

    solver : {'lbfgs', 'sgd', 'adam', 'adamw', 'adagrad', 'rmsprop', \
'adadelta', 'swats'}, default='adam'
        See :class:`MLPClassifier`.

    alpha : float, default=0.0001
        L2 penalty on the weights.

    batch_size : int or 'auto', default='auto'
        Minibatch size; ``'auto'`` is ``min(200, n_samples)``.

    learning_rate : str, default='constant'
        Learning-rate schedule; see :class:`MLPClassifier`.

    learning_rate_init : float or 'auto', default='auto'
        Initial learning rate; see :class:`MLPClassifier`.

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
        Threads for the engine's loops and BLAS; see :class:`MLPClassifier`.

    lr_schedule_params : dict, default=None
        Parameters of the schedule; see :class:`MLPClassifier`.

    rho : float, default=None
        Decay of rmsprop's and adadelta's averages.

    weight_decay : float, default=0.01
        Decoupled weight decay of ``'adamw'``.

    swats_eps : float, default=1e-9
        The tolerance of ``'swats'``'s switching criterion; see
        :class:`MLPClassifier`.

    batch_norm : bool, default=False
        Batch normalisation of the hidden layers; see :class:`MLPClassifier`.

    bn_momentum, bn_eps : float, default=0.1, 1e-5
        BN's running-statistics momentum and epsilon (PyTorch's meanings).

    dropout : float or array-like, default=0.0
        Dropout rate of the hidden layers; see :class:`MLPClassifier`.

    input_noise : float, default=0.0
        Standard deviation of Gaussian noise added to training inputs.

    max_norm : float, default=None
        The max-norm constraint on every hidden unit's incoming weights
        after each step (Srivastava et al. 2014); see :class:`MLPClassifier`.

    clip_norm : float, default=None
        Gradient clipping by global norm, L2 term included, as PyTorch's
        ``clip_grad_norm_``; see :class:`MLPClassifier`.

    mixup_alpha : float, default=0.0
        Mixup (Zhang et al. 2018) of each minibatch's rows and of their
        targets, lam ~ Beta(mixup_alpha, mixup_alpha); see
        :class:`MLPClassifier`. 0 turns it off.

    snapshot_ensemble : int, default=None
        Snapshot ensembles (Huang et al. 2017) with
        ``learning_rate='cosine_restarts'``: ``predict`` is the mean of the
        models kept at the ends of the last ``snapshot_ensemble`` restart
        periods; see :class:`MLPClassifier`.

    adversarial_eps : float, default=0.0
        Adversarial training with the fast gradient sign method (Goodfellow
        et al. 2015); see :class:`MLPClassifier`. 0 turns it off.

    adversarial_alpha : float, default=0.5
        The weight of the clean examples' loss in adversarial training.

    out_activation : {'identity', 'softplus', 'sigmoid'}, default=None
        Output layer for ``loss='squared_error'``: ``'identity'`` (the
        default) for any real target, ``'softplus'`` for positive targets,
        ``'sigmoid'`` for targets in [0, 1]. The loss stays the squared
        error, the likelihood of a Gaussian whose mean is the output;
        the delta is (out(z) - y) * out'(z). ``loss='poisson'`` always uses
        the exponential.

    scoring : str, callable or None, default=None
        The validation score of early stopping: None is the R^2
        (scikit-learn's), ``'loss'`` minus the validation loss, or a scorer
        name or callable; see :class:`MLPClassifier`.

    record_layer_stats : bool, default=False
        Record each hidden layer's activations and back-propagated gradients
        per epoch, as ``layer_stats_``; see :class:`MLPClassifier`.

    Attributes
    ----------
    loss_ : float
        Loss of the last epoch. For squared error it averages over samples
        and outputs, as scikit-learn, while the gradient follows the sum
        over outputs.

    best_loss_, loss_curve_, validation_scores_, validation_loss_curve_, \
    best_validation_score_, \
t_, swats_switch_step_, snapshot_epochs_, coefs_, intercepts_, n_features_in_, \
feature_names_in_, n_iter_, n_layers_, n_outputs_
        As in :class:`MLPClassifier` (validation scores are R^2).

    out_activation_ : str
        ``'identity'``, ``'softplus'``, ``'logistic'`` or ``'exp'``.

    layer_stats_ : list of dict or None
        Per-epoch statistics of the hidden layers; see
        :class:`MLPClassifier`.

    See Also
    --------
    MLPClassifier : Multi-layer perceptron classifier.
    sklearn.neural_network.MLPRegressor : The reference implementation.

    Notes
    -----
    Differences from scikit-learn: float32 by default, ``out_activation``,
    non-finite losses stop training with an error naming the epoch, and
    ``loss='poisson'`` rejects negative targets.

    All parameters live in one flat vector; ``coefs_[i]`` and
    ``intercepts_[i]`` are views of it.  An epoch runs in the compiled engine
    without the GIL: minibatch gathering, forward pass, loss, backward pass
    and optimiser step.

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
        **BaseMLP._parameter_constraints,
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
        swats_eps=1e-9,
        batch_norm=False,
        bn_momentum=0.1,
        bn_eps=1e-5,
        dropout=0.0,
        input_noise=0.0,
        max_norm=None,
        clip_norm=None,
        mixup_alpha=0.0,
        snapshot_ensemble=None,
        adversarial_eps=0.0,
        adversarial_alpha=0.5,
        out_activation=None,
        scoring=None,
        record_layer_stats=False,
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
            swats_eps=swats_eps,
            batch_norm=batch_norm,
            bn_momentum=bn_momentum,
            bn_eps=bn_eps,
            dropout=dropout,
            input_noise=input_noise,
            max_norm=max_norm,
            clip_norm=clip_norm,
            mixup_alpha=mixup_alpha,
            snapshot_ensemble=snapshot_ensemble,
            adversarial_eps=adversarial_eps,
            adversarial_alpha=adversarial_alpha,
            scoring=scoring,
            record_layer_stats=record_layer_stats,
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
        self._out_activation()   # a bad out_activation is named before the data
        X, y = validate_data(
            self, X, y, multi_output=True, y_numeric=True, dtype=dtype,
            order="C", reset=reset, ensure_all_finite=False,
            accept_sparse=_SPARSE_FORMATS,
        )
        self._check_finite(X)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, self._targets(y, dtype, "y")

    def _targets(self, y, dtype, name):
        """The target matrix of the regression targets y, checked: finite,
        in the output layer's range."""
        out = self._out_activation()
        # y is validated in float64; a value beyond float32's range only
        # becomes infinite here, and is reported as such just below.
        with np.errstate(over="ignore"):
            Y = np.ascontiguousarray(y.reshape(len(y), -1), dtype=dtype)
        assert_all_finite(Y, input_name=name)
        if hasattr(self, "n_outputs_") and name == "y_val" and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y_val has {Y.shape[1]} outputs; y has {self.n_outputs_}.")
        if out == "exp" and np.any(Y < 0):
            raise ValueError(f"loss='poisson' requires {name} >= 0; {name} has "
                             "negative values.")
        if out == "logistic" and (np.any(Y < 0) or np.any(Y > 1)):
            raise ValueError(
                f"out_activation='sigmoid' requires targets in [0, 1]; {name} has "
                f"values in [{Y.min()}, {Y.max()}]."
            )
        if out == "softplus" and np.any(Y < 0):
            raise ValueError(
                f"out_activation='softplus' requires targets >= 0; {name} has "
                f"minimum {Y.min()}."
            )
        return Y

    def _encode_validation(self, y_val, dtype):
        return self._encode_targets(y_val, dtype, "y_val")

    def _encode_targets(self, y, dtype, name="y"):
        """The checked target matrix of regression targets `y` (a validation
        set's, or a block of distributed training data's)."""
        return self._targets(np.asarray(y, dtype=np.float64), dtype, name)

    def _output_layer(self, Y):
        out = self._out_activation()
        return out, ("poisson" if out == "exp" else "squared_error")

    def _decode(self, Y):
        return Y.ravel() if Y.shape[1] == 1 else Y

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None,
            sample_weight_val=None):
        """Fit the model to data matrix X and target(s) y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The input data. A scipy.sparse matrix or array is converted once
            to CSR and never densified.

        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The target values.

        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.

        X_val : {array-like, sparse matrix} of shape (n_val, n_features), \
default=None
            A validation set for early stopping (``early_stopping=True``),
            in place of the ``validation_fraction`` split; see
            :meth:`MLPClassifier.fit`.

        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            The validation targets, with ``X_val``.

        sample_weight_val : array-like of shape (n_val,), default=None
            Sample weights of the validation set.

        Returns
        -------
        self : object
            The fitted model.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False,
                         validation=(X_val, y_val, sample_weight_val))

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
        est = self._reader()   # one fitted state, even beside a refit
        check_fitted(est)
        return est._predict(X)

    def _predict(self, X, check_input=True):
        y_pred = self._forward(X, check_input=check_input)
        if y_pred.shape[1] == 1:
            return y_pred.ravel()
        return y_pred

    def _score(self, X, y, sample_weight=None):
        return self._score_with_function(X, y, sample_weight, r2_score)
