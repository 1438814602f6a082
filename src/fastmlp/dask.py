"""Training and prediction on a Dask cluster (``pip install 'fastmlp[dask]'``).

:class:`MLPClassifier` and :class:`MLPRegressor` are fastmlp's estimators
with the same parameters and fitted attributes, plus three of their own;
their ``fit`` takes dask arrays or dask DataFrames (or in-memory data, cut
into blocks) and trains on the workers of the current
``distributed.Client``:

- ``solver="lbfgs"``: full-batch L-BFGS; each worker computes the loss and
  gradient of its rows, the client sums them in a fixed order and runs
  SciPy's L-BFGS-B: the iterates of a single-machine fit on all the data.
- every first-order solver: local SGD, each worker training a replica on its
  rows and the replicas' parameters, optimiser state and batch norm
  statistics averaged every ``averaging_steps`` minibatches (default: one
  local epoch).

``predict``, ``predict_proba``, ``predict_log_proba`` and ``score`` of a dask
collection run blockwise on the workers, lazily; :meth:`MLPClassifier.to_local`
returns the fitted model as an ordinary fastmlp estimator.
"""

import inspect

try:
    import dask
    import dask.array as da
    import distributed
except ImportError as exc:   # pragma: no cover - depends on the installation
    raise ImportError(
        "fastmlp.dask needs Dask and its distributed scheduler: "
        "pip install 'fastmlp[dask]'"
    ) from exc

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils._param_validation import Interval
from numbers import Integral

from . import _multilayer_perceptron as _mlp
from ._books import validation_set
from ._components import SOLVERS
from ._dask_data import Blocks, as_array
from ._distributed import (
    ShardSet, fit_lbfgs, fit_local_sgd, held_out_set, make_shard, shard_held_out)

__all__ = ["MLPClassifier", "MLPRegressor"]

_OWN_PARAMS = {"n_shards": None, "averaging_steps": None, "persist": True}

_OWN_DOCS = """
    n_shards : int, default=None
        The number of replicas (and of parts the data are cut into, each a
        run of whole row blocks held by one worker). None: one per worker of
        the client. Results depend on it (and on the blocks), not on which
        worker runs what.

    averaging_steps : int, default=None
        Stochastic solvers: the minibatch steps each replica takes between
        two averages of the replicas' parameters. None: one local epoch
        (each replica once through its rows). Ignored by ``'lbfgs'``.

    persist : bool, default=True
        Keep each part, converted to the training dtype, in its worker's
        memory for the whole fit. False: read the blocks again at each
        epoch (or L-BFGS evaluation) and drop them after, for data larger
        than the workers' memory (blocks from disk: ``dask.array.from_zarr``,
        ``from_npy_stack``).
"""


def _client():
    try:
        return distributed.get_client()
    except ValueError as exc:
        raise ValueError(
            "fastmlp.dask estimators train on the current distributed.Client; "
            "none was found. Create one first, e.g. "
            "client = distributed.Client(distributed.LocalCluster())."
        ) from exc


class _DistributedMLP:
    """The distributed fit and the blockwise predictions."""

    _parameter_constraints = {
        "n_shards": [None, Interval(Integral, 1, None, closed="left")],
        "averaging_steps": [None, Interval(Integral, 1, None, closed="left")],
        "persist": ["boolean"],
    }

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None,
            sample_weight_val=None):
        """Fit the model on the workers of the current ``distributed.Client``.

        Parameters
        ----------
        X : dask array or dask DataFrame of shape (n_samples, n_features)
            The training data, kept where they are: each part (a run of whole
            row blocks) is built and held by one worker. In-memory data
            (ndarray, DataFrame, scipy.sparse) are cut into ``n_shards``
            blocks first.

        y : dask array, Series or DataFrame of shape (n_samples,) or \
(n_samples, n_outputs)
            The targets, with X's row blocks (re-blocked to them if not).

        sample_weight : dask array of shape (n_samples,), default=None
            Non-negative sample weights.

        X_val : array-like of shape (n_val, n_features), default=None
            An in-memory validation set for early stopping
            (``early_stopping=True``, stochastic solvers), scored on the
            client after each epoch. Without it, early stopping holds out
            ``validation_fraction`` of each part's rows on its worker
            (stratified for a binary target, as on one machine) and gathers
            them to the client once.

        y_val : array-like of shape (n_val,) or (n_val, n_outputs), default=None
            The validation targets, with ``X_val``.

        sample_weight_val : array-like of shape (n_val,), default=None
            Sample weights of the validation set.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        validation = (X_val, y_val, sample_weight_val)
        if X_val is None and y_val is None and sample_weight_val is None:
            validation = None
        with self._transaction() as work:
            work._fit_distributed(X, y, sample_weight, validation)
        return self

    def _fit_distributed(self, X, y, sample_weight, validation):
        client = _client()
        if self.record_layer_stats:
            raise ValueError("record_layer_stats=True is not supported by distributed "
                             "training; fit on one machine to record layer statistics.")
        hidden, dtype, first_pass = self._check_fit_params(False)
        for name, off in (("snapshot_ensemble", None),):
            if getattr(self, name) != off:
                raise ValueError(
                    f"{name}={getattr(self, name)!r} is not supported by distributed "
                    f"training (set {name}={off!r}, or fit on one machine).")
        if self.solver == "swats":
            raise ValueError(
                "solver='swats' is not supported by distributed training: each "
                "replica would switch from Adam to SGD at its own step (use "
                "'adam' or 'sgd', or fit on one machine).")
        # one snapshot of the cluster: a worker may leave or restart meanwhile
        nthreads = {w: i["nthreads"] for w, i in client.scheduler_info()["workers"].items()}
        workers = sorted(nthreads)
        n_shards = self.n_shards or len(workers)
        data = Blocks(X, y, sample_weight, n_shards)

        # The model's set-up, as fit on one machine makes it, from a few rows
        # that stand for the data: the labels (or indicator columns) of all
        # of y, the feature names of X.
        y_stub, class_weight = self._targets_summary(data.y)
        X_stub = np.zeros((len(y_stub), data.n_features))
        if data.columns is not None:
            import pandas as pd
            X_stub = pd.DataFrame(X_stub, columns=data.columns)
        X_stub, Y_stub = self._validate_input(X_stub, y_stub, False, reset=first_pass,
                                              dtype=dtype)
        if class_weight is not None:
            self._class_weight_map = class_weight
        else:
            self._class_weights(Y_stub, False)
        self._start_model((data.n_samples, data.n_features), Y_stub, hidden, dtype,
                          first_pass)
        if validation is not None:
            validation = validation_set(self, *validation, dtype=dtype)
        stochastic = SOLVERS[self.solver].stochastic
        # the seed of the replicas' shuffles and of early stopping's split,
        # drawn after the initial weights whether it is used or not
        seed = (int(self._random_state.randint(np.iinfo(np.int32).max))
                if stochastic else None)
        self._fit_seed = seed
        # early stopping without X_val: each part holds out its own
        # validation_fraction of rows (stratified where one machine's split
        # is), gathered below to be scored on the client
        split = self.early_stopping and stochastic and validation is None
        stratify = is_classifier(self) and self.n_outputs_ == 1
        parts = [dask.delayed(make_shard, pure=False)(
                     self, blocks,
                     (self.validation_fraction, seed, i, stratify) if split else None)
                 for i, blocks in enumerate(data.parts(n_shards))]
        placed = [workers[i % len(workers)] for i in range(len(parts))]
        shards = ShardSet(client, parts, placed, persist=self.persist, nthreads=nthreads)
        try:
            if split:
                validation = validation_set(self, *held_out_set(shards.map(shard_held_out)),
                                                   dtype=dtype)
            self._run(shards, X, y, sample_weight, validation, seed)
        finally:
            shards.release()

    def _targets_summary(self, y):
        """(labels standing for y, class-weight map or None): rows holding
        every label of y (of every column of a 2-D y: multilabel indicators
        or multitask labels, which stay what they are), and with
        class_weight='balanced' the weights from the counts of all of y; two
        rows of a regressor's targets."""
        lazy = isinstance(y, da.Array)
        xp = da if lazy else np
        compute = dask.compute if lazy else (lambda *a: a)
        if not is_classifier(self):
            return np.asarray(compute(y[:2])[0]), None
        columns = [y] if y.ndim == 1 else [y[:, j] for j in range(y.shape[1])]
        found = compute(*[xp.unique(c, return_counts=True) for c in columns])
        n = y.shape[0]
        maps = [{c: n / (len(classes) * k) for c, k in zip(classes, counts)}
                for classes, counts in found]
        rows = max(len(classes) for classes, _ in found)
        stub = [np.resize(np.asarray(classes), rows) for classes, _ in found]
        stub = stub[0] if y.ndim == 1 else np.column_stack(stub)
        if self.class_weight != "balanced":
            return stub, None
        return stub, maps[0] if y.ndim == 1 else maps

    def _run(self, shards, X, y, sample_weight, validation, seed):
        key = id(shards)
        if SOLVERS[self.solver].stochastic:
            fit_local_sgd(self, shards, key, X, y, sample_weight, self.averaging_steps,
                          seed, validation)
        else:
            if validation is not None:
                raise ValueError("X_val and y_val need a stochastic solver; "
                                 "solver='lbfgs' has no epochs to monitor.")
            fit_lbfgs(self, shards, key, X, y, sample_weight)

    # Prediction -----------------------------------------------------------------

    def to_local(self):
        """The fitted model as an ordinary fastmlp estimator.

        Returns
        -------
        estimator : fastmlp.MLPClassifier or fastmlp.MLPRegressor
            A new estimator with this one's parameters (but ``n_shards``,
            ``averaging_steps`` and ``persist``) and fitted state; it
            predicts in memory, pickles and exports as any other.
        """
        base = _mlp.MLPClassifier if is_classifier(self) else _mlp.MLPRegressor
        params = {k: v for k, v in self.get_params(deep=False).items()
                  if k not in _OWN_PARAMS}
        local = base(**params)
        state = self.__getstate__()
        for k in _OWN_PARAMS:
            state.pop(k, None)
        local.__setstate__(state)
        return local

    def _blockwise(self, method, X, n_cols):
        """`method` of the local model on each row block of a dask X, lazily;
        in-memory X is predicted at once."""
        local = self.to_local()
        Xa = as_array(X, "X")
        if Xa is None:
            return getattr(local, method)(X)
        Xa = Xa.rechunk({1: -1})
        columns = list(X.columns) if hasattr(X, "columns") else None
        if isinstance(n_cols, list):    # a multitask model's probabilities
            dtype = local._model.network.dtype
            return [Xa.map_blocks(_BlockPredict(local, method, columns, task=j),
                                  chunks=(Xa.chunks[0], (n,)), dtype=dtype,
                                  meta=np.empty((0, 0), dtype=dtype))
                    for j, n in enumerate(n_cols)]
        func = _BlockPredict(local, method, columns)
        if n_cols is None:
            return Xa.map_blocks(func, drop_axis=1, dtype=func.dtype,
                                 meta=np.empty((0,), dtype=func.dtype))
        return Xa.map_blocks(func, chunks=(Xa.chunks[0], (n_cols,)),
                             dtype=func.dtype, meta=np.empty((0, 0), dtype=func.dtype))

    def predict(self, X):
        """Predict, blockwise on the workers for a dask X (lazily).

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, \
n_features)
            The input data.

        Returns
        -------
        y : dask array or ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The predictions: a dask array, computed when asked, for a dask X.
        """
        n_out = None
        if is_classifier(self):
            if self._multitask or self._label_binarizer.y_type_.startswith("multilabel"):
                n_out = len(self.classes_)
        elif self.n_outputs_ > 1:
            n_out = self.n_outputs_
        return self._blockwise("predict", X, n_out)

    def score(self, X, y, sample_weight=None):
        """The accuracy (classifier) or R^2 (regressor) of the predictions.

        For dask input, the predictions are made on the workers and only
        they and y are brought to the client.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, \
n_features)
            Test samples.

        y : dask array, Series or array-like of shape (n_samples,) or \
(n_samples, n_outputs)
            True targets of X.

        sample_weight : dask array or array-like of shape (n_samples,), \
default=None
            Sample weights.

        Returns
        -------
        score : float
            Accuracy or R^2 of ``self.predict(X)`` against y.
        """
        pred = self.predict(X)
        pred, y, sample_weight = dask.compute(pred, y, sample_weight)
        metric = accuracy_score if is_classifier(self) else r2_score
        return float(metric(np.asarray(y), pred, sample_weight=sample_weight))


class _BlockPredict:
    """The function mapped over X's blocks (picklable, one model)."""

    def __init__(self, local, method, columns, task=None):
        self.local, self.method, self.columns = local, method, columns
        self.task = task
        if method == "predict" and is_classifier(local):
            self.dtype = (local._label_binarizer.dtype_ if local._multitask
                          else local.classes_.dtype)
        else:
            self.dtype = local._model.network.dtype

    def __call__(self, block):
        if block.shape[0] == 0:
            shape = (0,) if self.method == "predict" else (0, 0)
            return np.empty(shape, dtype=self.dtype)
        if self.columns is not None:
            import pandas as pd
            block = pd.DataFrame(block, columns=self.columns)
        out = getattr(self.local, self.method)(block)
        return out if self.task is None else out[self.task]


def _own_signature_doc(doc, summary, name):
    """The base class's docstring with `summary` as its first paragraph,
    this module's parameters added to its Parameters section, its
    Attributes, and this module's See Also and Examples."""
    body = doc.split("\n    Parameters\n    ----------\n", 1)[1]
    params, attributes = body.split("\n    Attributes\n    ----------\n", 1)
    attributes = attributes.split("\n    See Also\n    --------\n", 1)[0]
    kind = "classifier" if name == "MLPClassifier" else "regressor"
    return (
        summary + "\n\n    Parameters\n    ----------\n" + params.rstrip() + "\n"
        + _OWN_DOCS + "\n    Attributes\n    ----------\n" + attributes.rstrip()
        + f"""

    See Also
    --------
    fastmlp.{name} : The same {kind} on one machine (what ``to_local``
        returns).

    Notes
    -----
    Local SGD averages the replicas' parameters, optimiser state (moments,
    accumulators) and batch norm statistics, weighted by the rows each
    trained on since the last average; the step count is the largest of
    the replicas'. With W replicas an epoch takes about 1/W of the
    sequential steps of one machine's: each replica moves as far as one
    machine would on its part of the data, and the average moves about as
    far as one replica. See the user guide's "Scaling out".

    Examples
    --------
    >>> import dask.array as da
    >>> from distributed import Client, LocalCluster
    >>> from fastmlp.dask import {name}
    >>> client = Client(LocalCluster(n_workers=2, threads_per_worker=1))  # doctest: +SKIP
    >>> X = da.random.random((10_000, 20), chunks=(2_500, 20))  # doctest: +SKIP
    >>> est = {name}(solver="lbfgs").fit(X, y)  # doctest: +SKIP
    >>> est.predict(X)  # a dask array, computed when asked  # doctest: +SKIP
""")


def _init_for(base):
    """An ``__init__`` taking `base`'s parameters and this module's (keyword
    only, after them), with that signature for scikit-learn's get_params and
    for help(): the parameters stay those of the base class as it grows."""
    base_signature = inspect.signature(base.__init__)
    own = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
           for name, default in _OWN_PARAMS.items()]
    signature = base_signature.replace(
        parameters=[*base_signature.parameters.values(), *own])

    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        del values["self"]
        for name in _OWN_PARAMS:
            setattr(self, name, values.pop(name))
        base.__init__(self, **values)

    __init__.__signature__ = signature
    __init__.__doc__ = base.__init__.__doc__
    return __init__


class MLPClassifier(_DistributedMLP, _mlp.MLPClassifier):
    _parameter_constraints = {**_mlp.MLPClassifier._parameter_constraints,
                              **_DistributedMLP._parameter_constraints}

    __init__ = _init_for(_mlp.MLPClassifier)

    def predict_proba(self, X):
        """Probability estimates, blockwise on the workers for a dask X.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, \
n_features)
            The input data.

        Returns
        -------
        proba : dask array or ndarray of shape (n_samples, n_classes), or list
            The class probabilities, in the order of ``classes_``; for a
            multitask model a list of such arrays, one per task.
        """
        return self._blockwise("predict_proba", X, self._n_proba_columns())

    def predict_log_proba(self, X):
        """Log of the probability estimates, blockwise for a dask X.

        Parameters
        ----------
        X : dask array, dask DataFrame or array-like of shape (n_samples, \
n_features)
            The input data.

        Returns
        -------
        log_proba : dask array or ndarray of shape (n_samples, n_classes), or list
            The log-probabilities, in the order of ``classes_``; for a
            multitask model a list of such arrays, one per task.
        """
        return self._blockwise("predict_log_proba", X, self._n_proba_columns())

    def _n_proba_columns(self):
        if self._multitask:    # a list of arrays, one per task
            return [len(c) for c in self.classes_]
        n = len(self.classes_)
        return 2 if n == 1 or (n == 2 and self.n_outputs_ == 1) else n


class MLPRegressor(_DistributedMLP, _mlp.MLPRegressor):
    _parameter_constraints = {**_mlp.MLPRegressor._parameter_constraints,
                              **_DistributedMLP._parameter_constraints}

    __init__ = _init_for(_mlp.MLPRegressor)


MLPClassifier.__doc__ = _own_signature_doc(
    _mlp.MLPClassifier.__doc__,
    """Multi-layer perceptron classifier trained on a Dask cluster.

    fastmlp's :class:`fastmlp.MLPClassifier` whose ``fit`` takes dask
    collections and trains on the workers of the current
    ``distributed.Client``: distributed L-BFGS (``solver='lbfgs'``) or local
    SGD with periodic averaging (the stochastic solvers). Predictions of a
    dask X are made blockwise on the workers; :meth:`to_local` returns the
    fitted model as an ordinary :class:`fastmlp.MLPClassifier`.""", "MLPClassifier")
MLPRegressor.__doc__ = _own_signature_doc(
    _mlp.MLPRegressor.__doc__,
    """Multi-layer perceptron regressor trained on a Dask cluster.

    fastmlp's :class:`fastmlp.MLPRegressor` whose ``fit`` takes dask
    collections and trains on the workers of the current
    ``distributed.Client``: distributed L-BFGS (``solver='lbfgs'``) or local
    SGD with periodic averaging (the stochastic solvers). Predictions of a
    dask X are made blockwise on the workers; :meth:`to_local` returns the
    fitted model as an ordinary :class:`fastmlp.MLPRegressor`.""", "MLPRegressor")
