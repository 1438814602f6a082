"""Predictions: ``Predictor`` binds a network (layout in ``_network.py``) to
one parameter vector and one set of running statistics, and computes
outputs, logits and the data loss over blocks of rows with the GIL
released; ``forward_few`` is the latency path for a handful of rows.
``all_finite`` is scikit-learn's NaN/inf check on the engine's threads.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc

import numpy as np

from ._aligned import aligned_empty
from ._common cimport (
    ELEM_BLOCK, GEMV_MAX_ROWS, PARALLEL_MIN, ROW_BLOCK, Layout, Pass, SparseBatch,
    Threads, Workspace, check_signals, intp, raise_pending,
)
from ._kernels cimport fm_csr, k_nonfinite
from ._parallel cimport loss_delta
from ._passes cimport LayoutArrays, forward, plan_workspace
from ._sparse_input cimport CSRInput, view_csr

FEW_ROWS = GEMV_MAX_ROWS   # the most rows Predictor.forward_few takes


cdef class Predictor:
    """A network bound to one parameter vector and one set of running
    statistics, for predictions: a model that cannot change under a reader.

    Parameters
    ----------
    network : Network
    theta : ndarray
        The parameters (the network's dtype and length); kept, not copied.
    running : ndarray of float64
        BN's running statistics (empty without BN); kept, not copied.
    """
    cdef LayoutArrays arrays
    cdef readonly object theta
    cdef readonly object running
    cdef readonly object dtype
    cdef object few_offsets
    cdef Workspace few_ws
    cdef intp few_n_work
    cdef const void *theta_data   # theta's data (kept alive by self.theta)
    cdef double loss_scale
    cdef bint is_float

    def __cinit__(self, network, theta, running):
        cdef intp[::1] offsets
        self.dtype = np.dtype(network.dtype)
        if theta.dtype != self.dtype or theta.shape != (network.n_params,):
            raise ValueError("theta does not match the network")
        if not theta.flags.c_contiguous:
            raise ValueError("theta must be C-contiguous")
        self.theta = theta
        self.theta_data = <const void *><size_t>theta.ctypes.data
        self.is_float = self.dtype == np.float32
        self.running = np.asarray(running, dtype=np.float64)
        self.loss_scale = network.loss_scale
        self.arrays = LayoutArrays(network, self.running)
        self.few_offsets = offsets = np.empty(2 * self.arrays.lay.n_layers,
                                              dtype=np.intp)
        self.few_n_work = plan_workspace(&self.arrays.lay, GEMV_MAX_ROWS, False,
                                          &offsets[0], &self.few_ws)

    def forward(self, X, floating[:, ::1] out, bint logits=False, int n_threads=1,
                int gemm_blocks=1, intp capacity=2048):
        """Outputs for X (a dense array, or a ``CSRInput`` read where it is)
        into `out` (n, n_outputs), without the GIL: the output activations,
        or with `logits` the output layer's pre-activations.

        Rows go in blocks of `capacity`.  `n_threads` OpenMP threads share
        the elementwise loops and the GEMMs, each GEMM cut into `gemm_blocks`
        blocks run by BLAS (the caller keeps BLAS on one thread:
        ``_threads.blas_limit(1)``); blocks of up to FEW_ROWS dense rows go
        through the vector-matrix kernel, without BLAS.  A pending signal
        (Ctrl-C) stops it between two blocks of rows.
        """
        cdef intp n = X.shape[0], n_out = out.shape[1], start, rows, i, j
        cdef intp n_in = self.arrays.lay.sizes[0]
        cdef const floating *theta = <const floating *>self.theta_data
        cdef intp[::1] offsets = np.empty(2 * self.arrays.lay.n_layers, dtype=np.intp)
        cdef const floating[:, ::1] Xd
        cdef const floating *X0 = NULL
        cdef CSRInput csr = None
        cdef const fm_csr *src = NULL
        cdef SparseBatch sb
        cdef intp[::1] row_start, row_nnz
        cdef Threads th
        cdef Workspace ws
        cdef Pass p
        cdef const floating *res
        cdef int signalled = 0
        self._check_dtype(<floating *>NULL)
        if isinstance(X, CSRInput):
            csr = X
            if csr.data.dtype != self.dtype:
                raise ValueError("X does not have the network's dtype")
            src = &csr.csr
        else:
            Xd = X
            if n > 0 and Xd.shape[1] > 0:
                X0 = &Xd[0, 0]
        self._check(X, out)
        if n == 0:
            return
        if gemm_blocks < 1:
            raise ValueError("gemm_blocks must be >= 1")
        capacity = max(1, min(capacity, n))
        th.n = max(1, n_threads)
        th.vec = th.n
        th.split_gemm = True
        th.split_parts = gemm_blocks
        work = aligned_empty(plan_workspace(&self.arrays.lay, capacity, False,
                                             &offsets[0], &ws), self.dtype)
        ws.work = <void *><size_t>work.ctypes.data
        p.lay = &self.arrays.lay
        p.th = &th
        p.ws = &ws
        p.tr = NULL
        p.sparse = NULL
        if src != NULL:
            row_start = np.empty(capacity, dtype=np.intp)
            row_nnz = np.empty(capacity, dtype=np.intp)
            sb.start = &row_start[0]
            sb.nnz = &row_nnz[0]
            sb.x.n_features = n_in
            p.sparse = &sb
        res = <const floating *>ws.work + ws.act[self.arrays.lay.n_layers - 1]
        with nogil:
            start = 0
            while start < n:
                rows = min(capacity, n - start)
                if src != NULL:
                    view_csr(&sb, src, start, rows, <floating *>NULL)
                forward(&p, theta, (X0 + start * n_in) if X0 != NULL else NULL, rows,
                        logits)
                for i in range(rows):
                    for j in range(n_out):
                        out[start + i, j] = res[i * n_out + j]
                start += rows
                if start < n:
                    with gil:
                        signalled = check_signals()
                    if signalled:
                        break
        if signalled:
            raise_pending()

    def loss(self, X, const floating[:, ::1] Y, const floating[::1] sample_weight,
             int n_threads=1, int gemm_blocks=1):
        """The data loss of the predictions of X (dense or ``CSRInput``):
        ``loss_scale * sum_i sw_i l_i / sum_i sw_i``, the output layer's
        negative log-likelihood computed from the logits, as training's loss
        without the penalty (BN with the running statistics, no dropout).
        sample_weight may be empty (all ones)."""
        cdef intp n = X.shape[0], n_out = self.arrays.lay.sizes[self.arrays.lay.n_layers]
        cdef Threads th
        cdef double total, sw_sum
        cdef floating[:, ::1] z
        cdef double[::1] partial
        if Y.shape[0] != n or Y.shape[1] != n_out:
            raise ValueError("Y does not match X and the network")
        if sample_weight.shape[0] not in (0, n):
            raise ValueError("sample_weight must have one weight per row")
        if n == 0:
            raise ValueError("no samples")
        z = np.empty((n, n_out), dtype=self.dtype)
        self.forward(X, z, True, n_threads, gemm_blocks)
        partial = np.empty((n + ROW_BLOCK - 1) // ROW_BLOCK)
        th.n = max(1, n_threads)
        sw_sum = <double>n if sample_weight.shape[0] == 0 else np.sum(sample_weight,
                                                                     dtype=np.float64)
        with nogil:
            total = loss_delta(&th, &z[0, 0], &Y[0, 0],
                               &sample_weight[0] if sample_weight.shape[0] else NULL,
                               n, n_out, self.arrays.lay.out, 1.0, &partial[0],
                               self.arrays.lay.groups, self.arrays.lay.n_groups)
        return self.loss_scale * total / sw_sum

    def forward_few(self, const floating[:, ::1] X, floating[:, ::1] out,
                    int vec_threads, bint logits):
        """`forward` for 1 to FEW_ROWS rows, with the least overhead (a
        prediction of one sample takes microseconds).  Returns False, `out`
        unspecified, when X holds NaN or infinity (the caller reports it)."""
        cdef intp rows = X.shape[0], n_in = X.shape[1], i, j
        cdef intp n_out = out.shape[1]
        cdef const floating *theta = <const floating *>self.theta_data
        cdef Threads th
        cdef Workspace ws = self.few_ws
        cdef Pass p
        cdef floating *work
        cdef const floating *res
        cdef int bad
        cdef const Layout *lay = &self.arrays.lay
        if not 0 < rows <= GEMV_MAX_ROWS:
            raise ValueError(f"forward_few takes 1 to {GEMV_MAX_ROWS} rows")
        # the checks of _check, without its Python call (a tenth of the latency)
        self._check_dtype(<floating *>NULL)
        if (n_in != lay.sizes[0] or n_out != lay.sizes[lay.n_layers]
                or out.shape[0] != rows):
            raise ValueError("X, out and the network do not match")
        th.n = 1
        th.vec = max(1, vec_threads)
        th.split_gemm = False
        th.split_parts = 1
        p.lay = &self.arrays.lay
        p.th = &th
        p.ws = &ws
        p.tr = NULL
        p.sparse = NULL
        with nogil:
            bad = k_nonfinite(&X[0, 0], rows * n_in)
            if bad:
                with gil:
                    return False
            work = <floating *>malloc(self.few_n_work * sizeof(floating))
            if work == NULL:
                with gil:
                    raise MemoryError()
            ws.work = work
            forward(&p, theta, &X[0, 0], rows, logits)
            res = work + ws.act[self.arrays.lay.n_layers - 1]
            for i in range(rows):
                for j in range(n_out):
                    out[i, j] = res[i * n_out + j]
            free(work)
        return True

    cdef int _check_dtype(self, floating *unused) except -1:
        """Raise unless `floating` is the network's dtype (theta is read as one)."""
        if floating is float:
            if self.is_float:
                return 0
        elif not self.is_float:
            return 0
        raise ValueError("X does not have the network's dtype")

    def _check(self, X, out):
        cdef const Layout *lay = &self.arrays.lay
        if X.shape[1] != lay.sizes[0] or out.shape[1] != lay.sizes[lay.n_layers]:
            raise ValueError("X, out and the network do not match")
        if out.shape[0] != X.shape[0]:
            raise ValueError("X and out have different numbers of rows")


def all_finite(const floating[:, ::1] X, int n_threads=1):
    """Whether X holds no NaN and no infinity: scikit-learn's check, on
    `n_threads` threads and without a temporary."""
    cdef intp n = X.shape[0] * X.shape[1], blk, i0, i1
    cdef intp nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = max(1, n_threads) if n >= PARALLEL_MIN else 1
    cdef const floating *x
    cdef intp bad = 0
    if n == 0:
        return True
    x = &X[0, 0]
    for blk in prange(nb, schedule='static', num_threads=nt, nogil=True):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        bad += k_nonfinite(x + i0, i1 - i0)
    return bad == 0
