"""The fastmlp engine: training and prediction passes over a network whose
parameters live in one flat vector ``theta`` (layout in ``_network.py``).

``Engine`` owns what a fit needs besides theta and the optimiser (an
``_optim.Optimizer``): the network's layout, the workspace, the thread plan,
the running statistics of batch normalisation (it is their only writer) and
the sparse first layer's buffers.  ``Engine.train_epoch`` walks every
minibatch of an epoch with the GIL released: Python is called once per
epoch, never per minibatch.  Predictions are ``_predictor.Predictor``'s.

Arrays are C-contiguous, one row per sample: ``coefs_[l]`` is the
``(n_in, n_out)`` block of theta at ``w_off[l]``.  GEMMs go to BLAS
(``_parallel.matmul``), elementwise work to the C kernels (``csrc/``).
"""

from cython cimport floating
from libc.math cimport isfinite
from libc.string cimport memcpy

import numpy as np

from ._aligned import aligned_empty
from ._common cimport (
    CHECK_MICROSECONDS, PROF_GATHER, PROF_N, PROF_STEP, Batch, Layout, Pass,
    Threads, Training, Workspace, check_signals, intp, raise_pending,
)
from ._kernels cimport fm_csr
from ._openmp_helpers cimport omp_get_num_procs, omp_get_wtime
from ._optim cimport Optimizer, optimizer_step
from ._parallel cimport gather, sumsq
from ._passes cimport (
    LayoutArrays, forward, forward_backward, mark, plan_dwork, plan_workspace,
)
from ._passes import check_blas_size, n_dwork
from ._regularization cimport (
    add_noise, clip_grad_norm, fgsm_perturb, max_norm_project, mixup,
)
from ._sparse_input cimport (
    CSRInput, SparseFirstLayer, gather_csr, gather_dense, view_csr,
)

PROFILE_PHASES = ("gather", "forward GEMM", "forward elementwise", "loss and delta",
                  "weight-gradient GEMM", "delta GEMM", "backward elementwise",
                  "optimiser step")


# Training ------------------------------------------------------------------

cdef class Engine:
    """What a fit needs to train one network, besides theta and the optimiser.

    Parameters
    ----------
    network : Network
        The architecture (``_network.Network``).
    capacity : int
        Rows of a batch (the minibatch size; for full-batch passes the chunk).
    n_threads : int
        OpenMP threads of the engine's loops.
    split_gemm : bool
        Cut every GEMM into blocks shared by the OpenMP threads, each run by
        single-threaded BLAS; otherwise BLAS's own pool does them.
    split_parts : int, optional
        Blocks of a split GEMM; default the processors OpenMP sees.
    alpha : float
        L2 penalty on the weights (scikit-learn's).
    running : ndarray of float64, optional
        BN's running statistics to continue from, else the initial ones:
        training updates them in place (the engine is their only writer).
    sparse_split : ndarray of intp, optional
        Train the first layer on each minibatch's nonzeros, its weight
        gradient cut into these runs of features (``_network.sparse_split``).
        Required for scipy.sparse inputs (``_sparse_input.CSRInput``).
    sparse_max_nnz : int, optional
        The most nonzeros a batch of a scipy.sparse input holds
        (``CSRInput.max_batch_nnz``); None for a dense input.
    clip_norm : float
        Minibatch training clips each step's gradient (its L2 term
        included) to this global L2 norm, as ``clip_grad_norm_``; 0: off.
    max_norm : float
        After each minibatch step, every hidden unit's incoming weight
        vector is projected onto the L2 ball of this radius; 0: off.
    mixup_alpha : float
        Minibatch training mixes each batch's rows and targets (mixup, with
        lambda ~ Beta(mixup_alpha, mixup_alpha)); 0: off.  The random
        numbers are keyed by the network's seed.
    adversarial_eps, adversarial_alpha : float
        Adversarial training (Goodfellow et al. 2015): each minibatch's
        gradient is that of alpha J(x) + (1 - alpha) J(x + eps sign(dJ/dx));
        eps = 0: off.  Needs the dense first layer and no batch norm.
    """
    cdef LayoutArrays arrays
    cdef Threads th
    cdef Workspace ws
    cdef Training tr
    cdef SparseFirstLayer sparse
    cdef bint csr_buffers        # the sparse buffers are sized for a CSR input
    cdef object _keep_input      # the dense input whose data a pass reads
    cdef object work, dwork, offsets
    cdef readonly object grad
    cdef readonly object running
    cdef readonly object dtype
    cdef readonly intp capacity
    cdef readonly double alpha
    cdef readonly double clip_norm, max_norm, mixup_alpha
    cdef object mix, mix_perm          # mixup's mixed batch and permutation
    cdef readonly double adversarial_eps, adversarial_alpha
    cdef object adv                    # the inputs' gradient, then x_adv
    cdef double loss_scale
    cdef intp n_params, n_weights
    cdef public object profile

    def __cinit__(self, network, intp capacity, int n_threads=1, bint split_gemm=False,
                  split_parts=None, double alpha=0.0, running=None, sparse_split=None,
                  sparse_max_nnz=None, double clip_norm=0.0, double max_norm=0.0,
                  double mixup_alpha=0.0, double adversarial_eps=0.0,
                  double adversarial_alpha=0.5):
        cdef intp[::1] offsets
        cdef double[::1] dwork
        cdef double[::1] run
        cdef const double[::1] drop
        cdef intp n_work
        check_blas_size("the batch size", capacity)
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.running = network.initial_running() if running is None else running
        if (self.running.dtype != np.float64 or not self.running.flags.c_contiguous
                or not self.running.flags.writeable):
            raise ValueError("running must be a writeable C-contiguous float64 array")
        self.arrays = LayoutArrays(network, self.running)
        self.dtype = np.dtype(network.dtype)
        self.capacity = capacity
        self.alpha = alpha
        if not (clip_norm >= 0 and max_norm >= 0 and mixup_alpha >= 0):
            raise ValueError("clip_norm, max_norm and mixup_alpha must be >= 0")
        self.clip_norm = clip_norm
        self.max_norm = max_norm
        self.mixup_alpha = mixup_alpha
        if mixup_alpha > 0:
            if sparse_split is not None:
                raise ValueError("the sparse first layer excludes mixup")
            self.mix = aligned_empty(capacity * (network.sizes[0] + network.sizes[-1]),
                                     np.dtype(network.dtype))
            self.mix_perm = np.empty(capacity, dtype=np.intp)
        if not (adversarial_eps >= 0 and 0 < adversarial_alpha <= 1):
            raise ValueError("adversarial_eps must be >= 0 and adversarial_alpha in (0, 1]")
        self.adversarial_eps = adversarial_eps
        self.adversarial_alpha = adversarial_alpha
        if adversarial_eps > 0:
            if sparse_split is not None or network.batch_norm:
                raise ValueError("adversarial training needs the dense first layer "
                                 "and no batch norm")
            self.adv = aligned_empty(capacity * network.sizes[0], np.dtype(network.dtype))
        self.loss_scale = network.loss_scale
        self.n_params = network.n_params
        self.n_weights = network.n_weights
        self.th.n = max(1, n_threads)
        self.th.vec = 1
        self.th.split_gemm = split_gemm
        self.th.split_parts = omp_get_num_procs() if split_parts is None else split_parts
        if self.th.split_parts < 1:
            raise ValueError("split_parts must be >= 1")
        self.offsets = offsets = np.empty(2 * self.arrays.lay.n_layers, dtype=np.intp)
        n_work = plan_workspace(&self.arrays.lay, capacity, self.arrays.keep_pre,
                                 &offsets[0], &self.ws)
        self.work = aligned_empty(n_work, self.dtype)
        self.ws.work = <void *><size_t>self.work.ctypes.data
        self.dwork = dwork = aligned_empty(
            n_dwork(self.arrays.lay.max_width, self.arrays.lay.n_hidden, capacity,
                     self.n_params), np.float64)
        plan_dwork(&self.arrays.lay, &dwork[0], &self.ws)
        self.grad = aligned_empty(self.n_params, self.dtype)
        run = self.running
        drop = np.ascontiguousarray(network.dropout, dtype=np.float64)
        if drop.shape[0] not in (0, self.arrays.lay.n_layers - 1):
            raise ValueError("one dropout rate per hidden layer")
        self.arrays.keep = self.arrays.keep + (drop,)
        self.tr.bn_momentum = network.bn_momentum
        self.tr.update_stats = True
        self.tr.running = &run[0] if self.arrays.lay.bn else NULL
        self.tr.dropout = &drop[0] if drop.shape[0] > 0 else NULL
        self.tr.input_noise = network.input_noise
        self.tr.seed = network.seed
        self.tr.epoch = 0
        self.tr.batch = 0
        self.tr.prof = NULL
        self.profile = None
        if sparse_split is not None:
            if network.input_noise > 0:
                raise ValueError("the sparse first layer excludes input noise")
            self.sparse = SparseFirstLayer(sparse_split, network.sizes[0], capacity,
                                           self.dtype.itemsize, sparse_max_nnz)
        self.csr_buffers = sparse_max_nnz is not None

    @property
    def sparse_first_layer(self):
        """Whether the first layer trains on each minibatch's nonzeros."""
        return self.sparse is not None

    @property
    def split_gemm(self):
        """Whether GEMMs are cut into blocks over the OpenMP threads."""
        return bool(self.th.split_gemm)

    cdef Pass _pass(self, Training *tr):
        cdef Pass p
        p.lay = &self.arrays.lay
        p.th = &self.th
        p.ws = &self.ws
        p.tr = tr
        p.sparse = &self.sparse.batch if self.sparse is not None else NULL
        return p

    cdef const fm_csr *_input(self, X, const floating **dense) except? NULL:
        """The training input X: a CSRInput's matrix (returned; the engine
        must have been built for one), or a dense array's data (into
        *dense; NULL is returned)."""
        cdef const floating[:, ::1] Xd
        cdef CSRInput csr
        if isinstance(X, CSRInput):
            csr = X
            if self.sparse is None or not self.csr_buffers:
                raise ValueError("a sparse X needs an engine built with sparse_split "
                                 "and sparse_max_nnz")
            if csr.data.dtype != self.dtype:
                raise ValueError("X does not have the engine's dtype")
            return &csr.csr
        if self.csr_buffers:
            raise ValueError("this engine was built for a sparse X")
        Xd = X
        self._check_dtype(dense)
        dense[0] = &Xd[0, 0] if Xd.shape[0] > 0 and Xd.shape[1] > 0 else NULL
        self._keep_input = X
        return NULL

    cdef int _check_dtype(self, const floating **unused) except -1:
        if floating is float:
            ok = self.dtype == np.float32
        else:
            ok = self.dtype == np.float64
        if not ok:
            raise ValueError("X does not have the engine's dtype")
        return 0

    def train_epoch(self, X, const floating[:, ::1] Y,
                    const floating[::1] sample_weight, const intp[::1] order,
                    floating[::1] theta, Optimizer optimizer, const double[::1] rates,
                    long long epoch):
        """One epoch of minibatch training, without the GIL.

        X (n, n_features; a dense array or a ``CSRInput``), Y (n, n_outputs)
        and sample_weight (n, or empty) in the engine's dtype; order: the
        rows of the epoch's minibatches, in order (a permutation of 0..n-1,
        or a part of one; empty: 0..n-1);
        theta is updated in place by `optimizer` at the rates of each step
        (``rates[b]`` for minibatch b); `epoch` keys the random numbers.

        With batch norm a minibatch of one sample (possible only as the
        last of an epoch) is skipped: its statistics are undefined.

        Returns ``(loss_sum, n_batches, failed_batch)``: the sum over batches
        of the batch objective times the batch length (scikit-learn's
        ``accumulated_loss``), and the index of the first batch with a
        non-finite loss (-1 if none; training stops there, before that
        batch's update).  ``optimizer.t`` counts the steps taken.
        """
        cdef intp n = X.shape[0], n_in = X.shape[1], n_out = Y.shape[1]
        cdef intp batch_size = self.capacity
        cdef intp start, rows, i, b = 0, failed = -1
        cdef const floating *X0 = NULL
        cdef const fm_csr *src = self._input(X, &X0)
        cdef bint shuffled = order.shape[0] > 0
        cdef bint weighted = sample_weight.shape[0] > 0
        cdef const Layout *lay = &self.arrays.lay
        cdef Training tr = self.tr
        cdef Pass p = self._pass(&tr)
        cdef Batch batch
        cdef floating *work = <floating *>self.ws.work
        cdef floating *xb = work + self.ws.inputs
        cdef floating *yb = work + self.ws.targets
        cdef floating *swb = work + self.ws.weights
        cdef floating[::1] grad = self.grad
        cdef floating[::1] state = optimizer.state
        cdef double[::1] prof
        cdef double loss, sw_sum, ss_new, unused = 0.0, sumsq_w = 0.0, total = 0.0
        cdef double alpha = self.alpha, l2
        cdef double clip = self.clip_norm, maxn = self.max_norm
        cdef double mix_alpha = self.mixup_alpha
        cdef double adv_eps = self.adversarial_eps, adv_alpha = self.adversarial_alpha
        cdef double loss_adv
        cdef floating *advb = NULL
        cdef floating[::1] adv_view
        cdef floating *mx = NULL
        cdef intp *mperm = NULL
        cdef floating[::1] mix_view
        cdef intp[::1] perm_view
        cdef long long t = optimizer.t
        cdef double next_check = 0.0
        cdef int signalled = 0
        self._check(X, Y, sample_weight, theta)
        if shuffled:
            # A permutation of the rows, or a part of one (a round of
            # distributed training): the epoch's steps take these rows.
            for i in range(order.shape[0]):
                if not 0 <= order[i] < n:
                    raise ValueError(f"order holds {order[i]}, not a row of X "
                                     f"(0 to {n - 1})")
            n = order.shape[0]
        if n == 0:
            return 0.0, 0, -1
        if rates.shape[0] < (n + batch_size - 1) // batch_size:
            raise ValueError("rates must hold one rate per minibatch")
        if optimizer.st.n != self.n_params or optimizer.st.n_decay > self.n_params:
            raise ValueError("the optimiser does not match the network")
        if self.profile is not None:
            prof = self.profile
            if prof.shape[0] < PROF_N + 1:
                raise ValueError(f"profile needs {PROF_N + 1} entries")
            tr.prof = &prof[0]
        tr.epoch = <unsigned long long>epoch
        if adv_eps > 0:
            adv_view = self.adv
            advb = &adv_view[0]
        if mix_alpha > 0:
            mix_view = self.mix
            perm_view = self.mix_perm
            mx = &mix_view[0]
            mperm = &perm_view[0]
        with nogil:
            next_check = omp_get_wtime() + CHECK_MICROSECONDS * 1e-6
            if tr.prof != NULL:
                tr.prof[PROF_N] = omp_get_wtime()
            # The L2 penalty is folded into the optimiser step, which also
            # returns the weights' new sum of squares for the next minibatch's
            # loss: no pass over the weights in the backward pass (D8).
            if alpha > 0:
                sumsq_w = sumsq(&self.th, &theta[0], self.n_weights, self.ws.partial)
            start = 0
            while start < n:
                rows = min(batch_size, n - start)
                tr.batch = b
                if lay.bn and rows < 2:
                    start += rows
                    b += 1
                    continue
                if src != NULL:
                    # the first layer reads p.sparse; x is not read
                    if shuffled:
                        gather_csr(&self.th, &self.sparse.batch, src, &order[start],
                                   start, rows, xb)
                    else:
                        view_csr(&self.sparse.batch, src, start, rows, xb)
                    batch.x = xb
                elif p.sparse != NULL:
                    gather_dense(&self.th, &self.sparse.batch, X0,
                                 &order[start] if shuffled else NULL, start, rows)
                    batch.x = xb
                elif shuffled:
                    gather(&self.th, xb, X0, &order[start], rows, n_in)
                    batch.x = xb
                else:
                    batch.x = X0 + start * n_in
                if shuffled:
                    gather(&self.th, yb, &Y[0, 0], &order[start], rows, n_out)
                    batch.y = yb
                else:
                    batch.y = &Y[start, 0]
                if tr.input_noise > 0:
                    if not shuffled:
                        memcpy(xb, batch.x, rows * n_in * sizeof(floating))
                        batch.x = xb
                    add_noise(&self.th, &tr, xb, rows * n_in)
                if mix_alpha > 0:
                    mixup(&self.th, &tr, mix_alpha, <const floating *>batch.x,
                          <const floating *>batch.y, rows, n_in, n_out, mperm, mx,
                          mx + rows * n_in)
                    batch.x = mx
                    batch.y = mx + rows * n_in
                batch.sw = NULL
                sw_sum = <double>rows
                if weighted:
                    sw_sum = 0.0
                    for i in range(rows):
                        swb[i] = sample_weight[order[start + i] if shuffled else start + i]
                        sw_sum += swb[i]
                    batch.sw = swb
                if sw_sum <= 0:
                    # No weight in this batch, hence no gradient: skip it.
                    start += rows
                    b += 1
                    continue
                batch.rows = rows
                batch.scale = 1.0 / sw_sum
                batch.dx = NULL
                mark(&tr, PROF_GATHER)
                if adv_eps > 0:
                    # FGSM: alpha J(x) + (1 - alpha) J(x_adv), x_adv = x + eps
                    # sign(dJ/dx) from the first pass, a constant for the second
                    batch.scale = adv_alpha / sw_sum
                    batch.dx = advb
                    loss = forward_backward(&p, &batch, &theta[0], &grad[0], 0.0, True,
                                            &unused)
                    if isfinite(loss):
                        fgsm_perturb(&self.th, <const floating *>batch.x, advb,
                                     rows * n_in, adv_eps)
                        batch.x = advb
                        batch.dx = NULL
                        batch.scale = (1.0 - adv_alpha) / sw_sum
                        loss_adv = forward_backward(&p, &batch, &theta[0], &grad[0],
                                                    0.0, False, &unused)
                        loss = adv_alpha * loss + (1.0 - adv_alpha) * loss_adv
                else:
                    loss = forward_backward(&p, &batch, &theta[0], &grad[0], 0.0, True,
                                            &unused)
                loss = (self.loss_scale * loss + 0.5 * alpha * sumsq_w) / sw_sum
                if not isfinite(loss):
                    failed = b
                    break
                total += loss * rows
                t += 1
                l2 = alpha / sw_sum
                if clip > 0 and clip_grad_norm(&self.th, &grad[0], &theta[0],
                                               self.n_params, self.n_weights, l2, clip,
                                               self.ws.partial):
                    l2 = 0.0    # the clipped gradient holds the L2 term
                ss_new = optimizer_step(&self.th, &optimizer.st, &theta[0], &grad[0],
                                        &state[0], t, rates[b], l2,
                                        self.ws.partial if alpha > 0 else NULL)
                if maxn > 0:
                    max_norm_project(lay, &self.th, &theta[0], maxn, self.ws.colsum)
                    if alpha > 0:
                        ss_new = sumsq(&self.th, &theta[0], self.n_weights,
                                       self.ws.partial)
                if alpha > 0:
                    sumsq_w = ss_new
                mark(&tr, PROF_STEP)
                start += rows
                b += 1
                if start < n and omp_get_wtime() >= next_check:
                    # between two minibatches: theta and the optimiser agree
                    with gil:
                        signalled = check_signals()
                    if signalled:
                        break
                    next_check = omp_get_wtime() + CHECK_MICROSECONDS * 1e-6
        optimizer.t = t
        if signalled:
            raise_pending()
        return total, b, failed

    def loss_and_grad(self, X, const floating[:, ::1] Y,
                      const floating[::1] sample_weight, const floating[::1] theta,
                      floating[::1] grad, bint update_stats=False,
                      double total_weight=0.0):
        """Full-batch objective and its gradient (into `grad`), without the GIL.

        The objective is ``(loss_scale * sum_i sw_i l_i + alpha/2 ||W||^2) /
        sum_i sw_i``, scikit-learn's loss; with `total_weight` > 0 the
        divisor is `total_weight` instead: these rows are one part of a
        larger data set (distributed training sums the parts' objectives
        and gradients, each computed exactly as the whole's chunks would
        be).  Rows are processed in chunks of
        the engine's capacity and their gradients summed.  X is a dense array
        (its first layer then dense) or a ``CSRInput`` (read where it is, on
        the sparse first layer).  BN uses the statistics of the whole batch
        (the capacity must hold every row) and with `update_stats` moves the
        running ones towards them; dropout and input noise are off (they would
        make the objective random).
        """
        cdef intp n = X.shape[0], start, i
        cdef const floating *X0 = NULL
        cdef const fm_csr *src = self._input(X, &X0)
        cdef Training tr = self.tr
        cdef Pass p = self._pass(&tr)
        cdef Batch batch
        cdef bint weighted = sample_weight.shape[0] > 0
        cdef double sw_total = <double>n, loss = 0.0, sumsq_w = 0.0
        cdef int signalled = 0
        cdef intp n_in = self.arrays.lay.sizes[0]
        self._check(X, Y, sample_weight, theta)
        if grad.shape[0] != self.n_params:
            raise ValueError("grad must have the network's length")
        if self.arrays.lay.bn and self.capacity < n:
            raise ValueError("with batch norm the whole batch must fit the workspace")
        if n == 0:
            raise ValueError("no samples")
        if src == NULL:
            p.sparse = NULL     # a dense X: the dense first layer
        tr.dropout = NULL
        tr.input_noise = 0.0
        tr.update_stats = update_stats
        if weighted:
            sw_total = 0.0
            for i in range(n):
                sw_total += sample_weight[i]
        if total_weight > 0:
            sw_total = total_weight
        with nogil:
            start = 0
            while start < n:
                batch.rows = min(self.capacity, n - start)
                if src != NULL:
                    view_csr(&self.sparse.batch, src, start, batch.rows, &grad[0])
                    batch.x = NULL      # not read: the first layer uses p.sparse
                else:
                    batch.x = X0 + start * n_in
                batch.y = &Y[start, 0]
                batch.sw = &sample_weight[start] if weighted else NULL
                batch.scale = 1.0 / sw_total
                batch.dx = NULL
                loss += forward_backward(&p, &batch, &theta[0], &grad[0], self.alpha,
                                         start == 0, &sumsq_w)
                start += batch.rows
                if start < n:
                    with gil:
                        signalled = check_signals()
                    if signalled:
                        break
        if signalled:
            raise_pending()
        return (self.loss_scale * loss + 0.5 * self.alpha * sumsq_w) / sw_total

    def input_gradient(self, const floating[:, ::1] X, const floating[:, ::1] Y,
                       const floating[::1] theta, floating[:, ::1] dX):
        """dX[i] = the gradient of sample i's loss l_i (its own, not averaged)
        with respect to X[i], for a dense X, in chunks of the capacity: the
        training pass without dropout or input noise, through the dense
        first layer (no batch norm: its batch statistics would couple the
        samples).  Returns sum_i l_i.  The engine's gradient buffer is
        overwritten."""
        cdef intp n = X.shape[0], start
        cdef Training tr = self.tr
        cdef Pass p
        cdef Batch batch
        cdef double ss = 0.0, loss = 0.0
        cdef floating[::1] g = self.grad
        cdef int signalled = 0
        self._check(X, Y, np.empty(0, dtype=self.dtype), theta)
        if dX.shape[0] != n or dX.shape[1] != X.shape[1]:
            raise ValueError("dX must have X's shape")
        if self.arrays.lay.bn:
            raise ValueError("the input gradient of a batch-normalised network is "
                             "not supported")
        if n == 0:
            return 0.0
        tr.dropout = NULL
        tr.input_noise = 0.0
        tr.update_stats = False
        p = self._pass(&tr)
        p.sparse = NULL        # the dense first layer
        with nogil:
            start = 0
            while start < n:
                batch.rows = min(self.capacity, n - start)
                batch.x = &X[start, 0]
                batch.y = &Y[start, 0]
                batch.sw = NULL
                batch.scale = 1.0      # per sample, not averaged
                batch.dx = &dX[start, 0]
                loss += forward_backward(&p, &batch, &theta[0], &g[0], 0.0, True, &ss)
                start += batch.rows
                if start < n:
                    with gil:
                        signalled = check_signals()
                    if signalled:
                        break
        if signalled:
            raise_pending()
        return self.loss_scale * loss

    def layer_values(self, const floating[:, ::1] X, const floating[:, ::1] Y,
                     const floating[::1] theta):
        """Each hidden layer's activations and back-propagated gradients for
        the rows of a dense X (at most the capacity): ``(activations,
        gradients)``, two lists of (rows, width) arrays, one per hidden layer.

        The activations are those of a prediction (BN with the running
        statistics, no dropout).  The gradients are dl_i/dz, each sample's
        loss differentiated with respect to the layer's pre-activation z = a W
        (+ b; before BN), from a training pass over these rows (BN with their
        statistics, no dropout or input noise, the running statistics left
        as they are): the back-propagated gradients of Glorot & Bengio
        (2010).  The engine's gradient buffer is overwritten.
        """
        cdef intp n = X.shape[0], l, L = self.arrays.lay.n_layers, width, off
        cdef Training tr = self.tr
        cdef Pass p
        cdef Batch batch
        cdef double ss = 0.0, loss
        cdef floating[::1] g = self.grad
        self._check(X, Y, np.empty(0, dtype=self.dtype), theta)
        if not 0 < n <= self.capacity:
            raise ValueError(f"layer_values takes 1 to {self.capacity} rows")
        if self.arrays.lay.bn and n < 2:
            raise ValueError("batch norm needs 2 rows")
        work = self.work

        def hidden():
            out = []
            for l in range(L - 1):
                width = self.arrays.lay.sizes[l + 1]
                off = self.ws.act[l]
                out.append(np.array(work[off:off + n * width]).reshape(n, width))
            return out

        p = self._pass(NULL)   # a prediction
        p.sparse = NULL
        with nogil:
            forward(&p, &theta[0], &X[0, 0], n, False)
        activations = hidden()
        tr.dropout = NULL
        tr.input_noise = 0.0
        tr.update_stats = False
        p = self._pass(&tr)
        p.sparse = NULL        # the dense first layer
        batch.rows = n
        batch.x = &X[0, 0]
        batch.y = &Y[0, 0]
        batch.sw = NULL
        batch.scale = 1.0      # per sample, not averaged
        batch.dx = NULL
        with nogil:
            loss = forward_backward(&p, &batch, &theta[0], &g[0], 0.0, True, &ss)
        if not isfinite(loss):
            # (the pass stopped before its backward part)
            return activations, [np.full_like(a, np.nan) for a in activations]
        return activations, hidden()

    def set_running_statistics(self, X, const floating[:, ::1] Y,
                               const floating[::1] theta):
        """BN's running statistics := the statistics of the whole of X (the
        unbiased variance, as the running variance always is): full-batch
        training's population statistics."""
        cdef double momentum = self.tr.bn_momentum
        grad = np.empty_like(self.grad)
        self.tr.bn_momentum = 1.0
        try:
            self.loss_and_grad(X, Y, np.empty(0, dtype=self.dtype), theta, grad,
                               update_stats=True)
        finally:
            self.tr.bn_momentum = momentum

    def _check(self, X, Y, sample_weight, theta):
        cdef const Layout *lay = &self.arrays.lay
        if X.shape[1] != lay.sizes[0] or Y.shape[1] != lay.sizes[lay.n_layers]:
            raise ValueError("X and Y do not match the network")
        if Y.shape[0] != X.shape[0]:
            raise ValueError("X and Y have different numbers of rows")
        if sample_weight.shape[0] not in (0, X.shape[0]):
            raise ValueError("sample_weight must have one weight per row")
        if theta.shape[0] != self.n_params:
            raise ValueError("theta does not match the network")
