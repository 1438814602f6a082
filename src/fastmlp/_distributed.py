"""Training on a Dask cluster: the drivers behind ``fastmlp.dask``.

The data are cut into *shards*, one per replica, each a run of whole row
blocks of the user's dask collection, built on (and kept by) one worker,
converted once to the training dtype.  Two drivers run on the client:

- ``fit_lbfgs``: SciPy's L-BFGS-B on the full-batch objective; every
  function evaluation sends the parameters to the shards, each returns the
  loss and gradient of its rows (the engine's ``loss_and_grad``, divided by
  the weight of the whole data set), and the client adds them up in shard
  order (fixed whatever the timing) with the L2 penalty: the objective of
  ``solver="lbfgs"`` on the concatenated data, Spark MLlib's design.
- ``fit_local_sgd``: local SGD (periodic model averaging; Zinkevich et al.
  2010, McMahan et al. 2017, Lin et al. 2020) for every first-order solver:
  each replica takes minibatch steps on its shard from the same parameters,
  then parameters, optimiser state and batch norm's running statistics are
  averaged, weighted by the rows each replica trained on.

The functions run on the workers import nothing of Dask; the client side
takes the ``distributed.Client``.  Everything a task does is keyed by its
shard's index, never by the worker it lands on, so results depend on the
seed, the number of shards and the blocks only.
"""

import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split
from sklearn.utils import check_array, compute_sample_weight

from ._base import _checked_weights
from ._callbacks import FitTasks
from ._components import SOLVERS
from ._engine import Engine
from ._network import Network
from ._optim import Optimizer
from ._schedules import make_schedule
from ._sparse_input import CSRInput
from . import _books
from ._threads import blas_limit, effective_n_threads
from ._books import _weights
from ._training import (
    LBFGS_DIVERGED, _batch_size, _diverged, _engine_input, _predicts_finite,
    _schedule_name, run_lbfgs, thread_plan,
)

# Rows per chunk of the L-BFGS passes, as fit_lbfgs on one machine.
_LBFGS_CHUNK = 4096


# Worker side -------------------------------------------------------------------


def worker_threads():
    """The threads a task may use: its worker's ``nthreads`` (Dask runs at
    most that many tasks at once on a worker, and our drivers at most one
    per worker), or the process's default outside a worker."""
    try:
        from distributed import get_worker

        return int(get_worker().state.nthreads)
    except (ImportError, ValueError, AttributeError):
        return effective_n_threads(None)


class Shard:
    """The rows of one replica, as the engine reads them.

    Attributes
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n_rows, n_features)
    Y : ndarray of shape (n_rows, n_outputs), the target matrix
    sample_weight : ndarray of shape (n_rows,) or None
    held_out : (X, y, sample_weight) or None
        Early stopping's validation rows, held out of this part as the user
        gave them (``make_shard``).
    """

    def __init__(self, X, Y, sample_weight):
        self.X, self.Y, self.sample_weight = X, Y, sample_weight
        self.held_out = None
        self._engines = {}

    @property
    def n_rows(self):
        return self.X.shape[0]

    @property
    def weight(self):
        """The sum of the sample weights (the number of rows without)."""
        if self.sample_weight is None:
            return float(self.n_rows)
        return float(np.sum(self.sample_weight, dtype=np.float64))

    def __getstate__(self):
        # engines are a cache of the worker holding the shard
        return {k: v for k, v in self.__dict__.items() if k != "_engines"}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._engines = {}

    def engine(self, key, make):
        """The engine cached under `key` (one per fit and purpose), made by
        ``make()`` the first time: (engine, X as it reads it)."""
        if key not in self._engines:
            self._engines.clear()   # one fit at a time keeps its engine
            self._engines[key] = make()
        return self._engines[key]


def concat_rows(Xs):
    """Row blocks (arrays, DataFrames or scipy.sparse) as one matrix: CSR
    if any block is sparse, else an array (a single block as it is)."""
    if any(sp.issparse(x) for x in Xs):
        return sp.vstack([sp.csr_matrix(x) for x in Xs], format="csr")
    return np.concatenate([np.asarray(x) for x in Xs]) if len(Xs) > 1 else np.asarray(Xs[0])


def holdout_rows(y, fraction, seed, index, stratify):
    """(training rows, validation rows) of one part, both in increasing
    order: early stopping's held-out fraction, drawn as scikit-learn's
    ``train_test_split`` draws it, with a random state keyed by the fit's
    `seed` and the part's `index` (the same rows every time the part is
    built).  Stratified by `y` when `stratify` (binary single-output
    classifiers, as on one machine), unless a class of the part has fewer
    than 2 rows, where the part's rows are drawn unstratified."""
    n = y.shape[0]
    if n < 2:
        raise ValueError(
            f"A part of {n} row(s) cannot hold out a validation set "
            "(early_stopping=True with validation_fraction): use fewer, "
            "larger parts (n_shards), or pass X_val and y_val to fit.")
    state = np.random.RandomState(
        np.random.default_rng([seed, 3, index]).integers(np.iinfo(np.int32).max))
    if stratify and np.unique(y, return_counts=True)[1].min() < 2:
        stratify = False
    train, val = train_test_split(np.arange(n), test_size=fraction, random_state=state,
                                  stratify=y if stratify else None)
    return np.sort(train), np.sort(val)


def make_shard(template, blocks, holdout=None):
    """A Shard from its row blocks: `blocks`, a list of (X, y, sample_weight)
    block triples (sample_weight None when not given), checked and converted
    as ``template`` (an estimator set up for the fit) checks its data.

    `holdout`: None, or (fraction, seed, index, stratify) to hold out a
    validation set from the part's rows (`holdout_rows`): they stay as given
    in ``Shard.held_out``, (X, y, sample_weight), and the Shard trains on the
    others."""
    dtype = template._model.network.dtype
    Xs, ys, sws = zip(*blocks)
    X = check_array(concat_rows(Xs), accept_sparse="csr", dtype=dtype, order="C",
                    input_name="X", estimator=template)
    y = np.concatenate([np.asarray(v) for v in ys])
    if y.ndim == 2 and y.shape[1] == 1:
        y = y.ravel()
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows in a block where y has {y.shape[0]}.")
    sample_weight = None
    if sws[0] is not None:
        sample_weight = np.concatenate([np.asarray(w, dtype=np.float64) for w in sws])
    held_out = None
    if holdout is not None:
        train, val = holdout_rows(y, *holdout)
        held_out = (X[val], y[val], None if sample_weight is None else sample_weight[val])
        X, y = X[train], y[train]
        if sample_weight is not None:
            sample_weight = sample_weight[train]
    # the targets training fits (label smoothing), as on one machine
    Y = template._training_targets(template._encode_targets(y, dtype))
    class_weight = getattr(template, "_class_weight_map", None)
    if class_weight is not None:
        cw = compute_sample_weight(class_weight, y)
        sample_weight = cw if sample_weight is None else cw * sample_weight
    if sample_weight is not None:
        sample_weight = _checked_weights(sample_weight, X, dtype)
    shard = Shard(X, Y, sample_weight)
    shard.held_out = held_out
    return shard


def shard_held_out(shard, n_threads=None):
    """The part's held-out validation rows, (X, y, sample_weight), which
    the worker then lets go (the client scores them)."""
    held_out, shard.held_out = shard.held_out, None
    return held_out


def held_out_set(held_out):
    """The parts' held-out rows, (X, y, sample_weight) triples in part
    order, as one validation set (X, y, sample_weight)."""
    Xs, ys, ws = zip(*held_out)
    return (concat_rows(Xs), np.concatenate(ys),
            None if ws[0] is None else np.concatenate(ws))


def shard_info(shard, n_threads=None):
    """(rows, weight, first rows for the finiteness probe) of a shard."""
    head = shard.X[:256]
    return shard.n_rows, shard.weight, head.copy() if not sp.issparse(head) else head


def shard_loss_grad(shard, key, network, theta, total_weight, n_threads=None):
    """The shard's part of the full-batch objective and of its gradient
    (float64): the engine's loss_and_grad without the L2 penalty, divided
    by `total_weight`, the weight of the whole data set."""
    net = Network(**network)
    n_threads = n_threads or worker_threads()

    def make():
        plan = thread_plan(n_threads)
        capacity = max(1, min(shard.n_rows, _LBFGS_CHUNK))
        X = shard.X if not sp.issparse(shard.X) else CSRInput(shard.X, net.dtype)
        first = {} if not sp.issparse(shard.X) else _engine_input(
            shard.X, net, capacity, plan, 0.0)[1]
        return Engine(net, capacity, plan.engine_threads, plan.split_gemm,
                      split_parts=plan.gemm_blocks, alpha=0.0, **first), X, plan

    engine, X, plan = shard.engine((key, n_threads), make)
    grad = np.empty(net.n_params, dtype=net.dtype)
    sw = _weights(shard.sample_weight, net.dtype)
    loss = blas_limit.run(plan.blas_threads, engine.loss_and_grad, X, shard.Y, sw,
                          np.asarray(theta, dtype=net.dtype), grad, False,
                          total_weight)
    return loss, grad.astype(np.float64)


def shard_train(shard, key, network, state, order_key, steps, rates, batch_size,
                shuffle, hyper, n_threads=None):
    """Minibatch steps of one replica on its shard.

    `state`: (theta, optimiser state, steps taken, BN running statistics)
    to start from; `order_key`: (seed, shard, epoch) keying the epoch's
    sample order; `steps`: (first, count) the minibatches of that order to
    take; `rates`: their learning rates.  Returns (theta, optimiser state,
    steps taken, running statistics, summed batch losses x rows, rows,
    failed minibatch or -1)."""
    theta, opt_state, t, running = state
    net = Network(**network)
    n_threads = n_threads or worker_threads()

    def make():
        plan = thread_plan(n_threads)
        X, first = _engine_input(shard.X, net, batch_size, plan, net.input_noise,
                                 hyper["engine"]["mixup_alpha"],
                                 hyper["engine"]["adversarial_eps"])
        engine = Engine(net, batch_size, plan.engine_threads, plan.split_gemm,
                        split_parts=plan.gemm_blocks, alpha=hyper["alpha"],
                        running=np.array(running), **hyper["engine"], **first)
        return engine, X, plan

    engine, X, plan = shard.engine((key, n_threads), make)
    engine.running[...] = running
    seed, index, epoch = order_key
    n = shard.n_rows
    if shuffle:
        order = np.random.default_rng([seed, index, epoch]).permutation(n)
    else:
        order = np.arange(n)
    first, count = steps
    order = np.ascontiguousarray(
        order[first * batch_size:(first + count) * batch_size], dtype=np.intp)
    if order.size == 0:
        return None
    optimizer = Optimizer(hyper["code"], net.n_params, net.n_weights, net.dtype,
                          state=np.array(opt_state, dtype=net.dtype), t=t,
                          **hyper["optimizer"])
    theta = np.array(theta, dtype=net.dtype)
    sw = _weights(shard.sample_weight, net.dtype)
    # the epoch argument keys the engine's random numbers (dropout, noise):
    # one key per (epoch, first step), distinct seeds per shard
    total, _, failed = blas_limit.run(
        plan.blas_threads, engine.train_epoch, X, shard.Y, sw, order, theta,
        optimizer, np.ascontiguousarray(rates, dtype=np.float64),
        epoch * 1_000_003 + first)
    return (theta, np.asarray(optimizer.state), optimizer.t, engine.running.copy(),
            float(total), int(order.size), int(failed))


# Client side -------------------------------------------------------------------


class ShardSet:
    """The parts of a fit on the client, one per replica, each made on (and
    preferring) one worker: with `persist` futures of Shard objects, held by
    the workers for the whole fit; without, the delayed Shard, rebuilt from
    its blocks by every task that needs it.  ``map(func, *args)`` runs
    ``func(shard, *args, n_threads=...)`` on every part, where it is, and
    returns the results in part order; a part's task runs on its worker's
    threads, shared evenly by the parts placed on that worker."""

    def __init__(self, client, parts, workers, persist=True, nthreads=None):
        self.client = client
        self.workers = workers
        self.persist = persist
        self.parts = parts
        if nthreads is None:
            nthreads = {w: i["nthreads"]
                        for w, i in client.scheduler_info()["workers"].items()}
        # `nthreads`: the snapshot of the cluster the parts were placed by
        # (a worker may leave, or restart under a new address, since; its
        # parts' tasks then run elsewhere: allow_other_workers)
        self.threads = [max(1, int(nthreads.get(w, 1)) // workers.count(w))
                        for w in workers]
        if persist:
            self.parts = [client.compute(p, workers=[w], allow_other_workers=True)
                          for p, w in zip(parts, workers)]
        self.futures = []
        try:
            infos = self.map(shard_info)
        except BaseException:
            self.release()   # a part that failed to build: drop the others
            raise
        self.rows = [i[0] for i in infos]
        self.weights = [i[1] for i in infos]
        self.probe = infos[0][2]

    def __len__(self):
        return len(self.parts)

    def map(self, func, *args, per_shard=None):
        """``func(shard, *args, *per_shard[i])`` on every part i, results in
        part order; `per_shard` a list of argument tuples or None."""
        import dask

        futures = []
        for i, (part, w) in enumerate(zip(self.parts, self.workers)):
            own = per_shard[i] if per_shard else ()
            if self.persist:
                futures.append(self.client.submit(
                    func, part, *args, *own, n_threads=self.threads[i], workers=[w],
                    allow_other_workers=True, pure=False))
            else:
                task = dask.delayed(func, pure=False)(part, *args, *own,
                                                      n_threads=self.threads[i])
                futures.append(self.client.compute(task, workers=[w],
                                                   allow_other_workers=True))
        self.futures = futures
        try:
            return self.client.gather(futures)
        except BaseException:
            self.cancel()    # the other parts' tasks, still running
            raise
        finally:
            self.futures = []

    def cancel(self):
        """Cancel the running tasks (a Ctrl-C on the client)."""
        if self.futures:
            self.client.cancel(self.futures)
            self.futures = []

    def release(self):
        """Let the workers drop the parts."""
        self.cancel()
        if self.persist:
            self.client.cancel(self.parts)
        self.parts = []


def _interrupt_safe(shards, func):
    """Run `func()`; on Ctrl-C cancel the shards' running tasks first."""
    try:
        return func()
    except KeyboardInterrupt:
        shards.cancel()
        raise


def fit_lbfgs(est, shards, key, X, y, sample_weight):
    """L-BFGS on the cluster: the iterates of ``solver="lbfgs"`` on one
    machine with the shards' rows concatenated (to rounding: the shards'
    gradients are summed in shard order)."""
    model = est._model
    net = model.network
    if net.batch_norm:
        raise ValueError(
            "batch_norm=True with solver='lbfgs' normalises with the statistics "
            "of the whole data set at every evaluation; distributed L-BFGS does "
            "not support it. Use a stochastic solver (local SGD) or "
            "batch_norm=False.")
    network = net.to_dict()
    total_weight = float(sum(shards.weights))
    n_weights = net.n_weights
    alpha = float(est.alpha)

    def fun(packed):
        parts = _interrupt_safe(shards, lambda: shards.map(
            shard_loss_grad, key, network, packed, total_weight))
        loss = 0.0
        grad = np.zeros(net.n_params, dtype=np.float64)
        for part_loss, part_grad in parts:    # shard order: deterministic
            loss += part_loss
            grad += part_grad
        w = packed[:n_weights]
        loss += 0.5 * alpha * float(w @ w) / total_weight
        grad[:n_weights] += (alpha / total_weight) * w
        return loss, grad

    tasks = FitTasks(est, X, lambda: y, sample_weight, est.max_iter + 1)
    tasks.begin("lbfgs-iteration")
    run_lbfgs(est, model, fun, tasks)
    if not _predicts_finite(model, _probe(shards, net), _local_plan(est)):
        raise _diverged(LBFGS_DIVERGED, False)
    tasks.finish()


def _local_plan(est):
    return thread_plan(effective_n_threads(est.n_threads))


def _probe(shards, net):
    probe = shards.probe
    if sp.issparse(probe):
        return CSRInput(probe, net.dtype)
    return np.ascontiguousarray(probe, dtype=net.dtype)


def _average(results, index, weights):
    """The weighted mean of results[r][index] over the replicas, in
    replica order, in float64."""
    total = None
    for r, w in zip(results, weights):
        term = np.asarray(r[index], dtype=np.float64) * w
        total = term if total is None else total + term
    return total / sum(weights)


def fit_local_sgd(est, shards, key, X, y, sample_weight, sync_steps, seed,
                  validation=None):
    """Local SGD with periodic averaging, epoch by epoch, with the books of
    a single-machine fit (loss curve, stopping for lack of improvement,
    schedules, early stopping on a user's validation set)."""
    model = est._model
    net = model.network
    spec = SOLVERS[est.solver]
    optimizer = Optimizer(spec.code, net.n_params, net.n_weights, net.dtype, t=0,
                          **spec.hyper_parameters(est))
    opt_state = np.array(optimizer.state)
    opt_t = 0
    est._opt_state, est._opt_t, est._epochs = opt_state, 0, 0
    est._schedule_state = None
    est.learning_rate_curve_ = []
    schedule = make_schedule(
        _schedule_name(est), est._learning_rate_init(), params=est.lr_schedule_params,
        power_t=est.power_t, max_iter=est.max_iter, state=None)
    n_total = sum(shards.rows)
    batch_size = _batch_size(est, n_total)
    batches = [(n + batch_size - 1) // batch_size for n in shards.rows]
    if sync_steps is None:
        sync_steps = max(batches)
    n_rounds = (max(batches) + sync_steps - 1) // sync_steps
    hyper = dict(code=spec.code, optimizer=spec.hyper_parameters(est),
                 alpha=float(est.alpha),
                 engine=dict(clip_norm=est.clip_norm or 0.0, max_norm=est.max_norm or 0.0,
                             mixup_alpha=est.mixup_alpha,
                             adversarial_eps=est.adversarial_eps,
                             adversarial_alpha=est.adversarial_alpha))
    tasks = FitTasks(est, X, lambda: y, sample_weight, est.max_iter)
    plan = _local_plan(est)
    probe = _probe(shards, net)
    base_network = net.to_dict()
    # one dropout/noise seed per replica, drawn from the fit's seed
    seeds = np.random.default_rng([seed, 1]).integers(0, 2**31 - 1, len(shards))
    networks = [{**base_network, "seed": int(s)} for s in seeds]
    est.n_iter_ = 0
    done = True
    try:
        for _ in range(est.max_iter):
            start = _EpochStart(est, opt_state, opt_t)
            done = False    # from here a Ctrl-C goes back to `start`
            tasks.begin()
            tic = time.perf_counter()
            loss_sum, failed, lr0 = 0.0, False, None
            for rnd in range(n_rounds):
                first = rnd * sync_steps
                per_shard = []
                for i, nb in enumerate(batches):
                    count = max(0, min(sync_steps, nb - first))
                    rates = schedule.rates(opt_t, count)
                    if lr0 is None and count:
                        lr0 = float(rates[0])
                    per_shard.append((networks[i], (seed, i, est._epochs),
                                      (first, count), rates))
                state = (model.theta, opt_state, opt_t, model.running)
                results = _interrupt_safe(shards, lambda: shards.map(
                    _train_args, key, state, batch_size, bool(est.shuffle), hyper,
                    per_shard=per_shard))
                results = [r for r in results if r is not None]
                if any(r[6] >= 0 for r in results):
                    failed = True
                    break
                weights = [r[5] for r in results]
                model.theta[...] = _average(results, 0, weights)
                opt_state = _average(results, 1, weights).astype(net.dtype)
                opt_t = max(r[2] for r in results)
                if net.batch_norm:
                    model.running[...] = _average(results, 3, weights)
                loss_sum += sum(r[4] for r in results)
            elapsed = time.perf_counter() - tic
            if not failed and not _predicts_finite(model, probe, plan):
                failed = True
            if failed:
                opt_state, opt_t = start.restore(est)
                done = True
                tasks.end_unrun()
                raise _diverged(
                    f"The loss became non-finite in epoch {est.n_iter_ + 1}; training "
                    "stopped. "
                    + (f"The model keeps the parameters from the end of epoch "
                       f"{est.n_iter_}. " if est.n_iter_ else
                       "The estimator is left as it was before this call. ")
                    + "Lower learning_rate_init, or scale the inputs.",
                    est.n_iter_ > 0)
            est._opt_state, est._opt_t = opt_state, opt_t
            _books.record_epoch(est, loss_sum / n_total, n_total, lr0, schedule,
                                   validation, plan, elapsed)
            plateau, stop, note = _books.check_plateau(est, schedule)
            done = True
            if tasks.end():
                break
            if plateau:
                _books.report_plateau(est, validation, note)
                if stop:
                    break
            _books.warn_max_iter(est)
    except KeyboardInterrupt:
        if not done:
            start.restore(est)
            tasks.end_unrun()
        if est.n_iter_ == 0:
            raise
        warnings.warn(
            "Training interrupted by user; the model is the one of epoch "
            f"{est.n_iter_}, the last completed.", UserWarning)
    if validation is not None and getattr(est, "_best_theta", None) is not None:
        model.theta[...] = est._best_theta
        model.running[...] = est._best_running
    tasks.finish()


class _EpochStart:
    """What an epoch of local SGD changes, copied at its start: the
    parameters, running statistics and optimiser state, and the estimator's
    bookkeeping attributes (those of the one-machine driver's epoch)."""

    def __init__(self, est, opt_state, opt_t):
        self.theta = est._model.theta.copy()
        self.running = est._model.running.copy()
        self.opt = (opt_state.copy(), opt_t)
        self.books = _books.save_books(est)

    def restore(self, est):
        """Put the estimator back; returns the optimiser state and steps."""
        est._model.theta[...] = self.theta
        est._model.running[...] = self.running
        _books.restore_books(est, self.books)
        est._opt_state = self.opt[0]
        return self.opt


def _train_args(shard, key, state, batch_size, shuffle, hyper, network, order_key,
                steps, rates, n_threads=None):
    """shard_train with ShardSet.map's argument order (shared first)."""
    return shard_train(shard, key, network, state, order_key, steps, rates,
                       batch_size, shuffle, hyper, n_threads)
