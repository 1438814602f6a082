"""Walks through the network: the forward pass, and the forward and backward
passes of a training batch, over the workspace that the engine lays out.

The functions read the network's layout, the thread plan, the workspace and
the training state from their structs (_common.pxd); they allocate nothing.
"""

from cython cimport floating
from libc.math cimport isfinite

import numpy as np

from ._common cimport (
    GEMV_MAX_ROWS, PROF_BWD_ELEM, PROF_DELTA_GEMM, PROF_FWD_ELEM, PROF_FWD_GEMM,
    PROF_GRAD_GEMM, PROF_LOSS, PROF_N, ROW_BLOCK, SS_BLOCK, Batch, Layout, Pass,
    Training, Workspace, hidden_offset, intp,
)
from ._kernels cimport FM_ACT_IDENTITY, fm_activation_needs_input
from ._openmp_helpers cimport omp_get_wtime
from ._parallel cimport (
    act_backward, bias_act, bias_grad, loss_delta, matmul, output,
    scaled_copy_sumsq, vecmat,
)
from ._regularization cimport (
    bn_backward, bn_forward_eval, bn_forward_train, dropout_backward, dropout_forward,
)
from ._sparse_input cimport sparse_matmul, sparse_wgrad

include "_blas_int.pxi"


def check_blas_size(name, value):
    """Raise a ValueError when `value` (a layer width or batch size) does not
    fit the BLAS integer type."""
    limit = 2**(8 * sizeof(blas_int) - 1) - 1
    if value > limit:
        raise ValueError(f"{name} is {value}; BLAS takes at most {limit}")


# Layout and workspace ---------------------------------------------------------

cdef class LayoutArrays:
    """A network's layout as C arrays, and the Layout struct pointing to them."""

    def __cinit__(self, network, running):
        cdef const intp[::1] sizes = np.ascontiguousarray(network.sizes, dtype=np.intp)
        cdef const intp[::1] w_off = np.ascontiguousarray(network.w_off, dtype=np.intp)
        cdef const intp[::1] b_off = np.ascontiguousarray(network.b_off, dtype=np.intp)
        cdef const intp[::1] g_off = np.ascontiguousarray(network.g_off, dtype=np.intp)
        cdef const int[::1] act = np.ascontiguousarray(network.act_codes, dtype=np.intc)
        cdef const double[::1] param = np.ascontiguousarray(network.act_param,
                                                            dtype=np.float64)
        cdef const double[::1] run = running
        cdef const intp[::1] groups = np.ascontiguousarray(
            getattr(network, "out_groups", np.empty(0, dtype=np.intp)), dtype=np.intp)
        cdef intp L = sizes.shape[0] - 1, l
        self.keep = (sizes, w_off, b_off, g_off, act, param, run, groups)
        if L < 1 or w_off.shape[0] != L or b_off.shape[0] != L:
            raise ValueError("inconsistent network layout")
        if act.shape[0] != L - 1 or param.shape[0] != L - 1:
            raise ValueError("one activation per hidden layer")
        self.lay.n_layers = L
        self.lay.sizes = &sizes[0]
        self.lay.w_off = &w_off[0]
        self.lay.b_off = &b_off[0]
        self.lay.act = &act[0] if L > 1 else NULL
        self.lay.act_param = &param[0] if L > 1 else NULL
        self.lay.out = network.out_code
        self.lay.n_groups = groups.shape[0]
        self.lay.groups = &groups[0] if groups.shape[0] > 0 else NULL
        if groups.shape[0] > 0 and (np.any(np.asarray(groups) < 1)
                                    or np.sum(groups) != sizes[L]):
            raise ValueError("the output groups must cut the output layer")
        self.lay.max_width = 1
        self.lay.n_hidden = 0
        for l in range(1, L + 1):
            self.lay.max_width = max(self.lay.max_width, sizes[l])
            if l < L:
                self.lay.n_hidden += sizes[l]
        self.lay.bn = network.batch_norm
        self.lay.bn_eps = network.bn_eps
        if self.lay.bn and (g_off.shape[0] != L - 1
                            or run.shape[0] != 2 * self.lay.n_hidden):
            raise ValueError("batch norm needs gamma offsets and running statistics")
        self.lay.g_off = &g_off[0] if self.lay.bn else NULL
        self.lay.running = &run[0] if self.lay.bn else NULL
        self.keep_pre = False
        for l in range(L - 1):
            self.keep_pre |= fm_activation_needs_input[act[l]] != 0
        check_blas_size("a layer's width", max(self.lay.max_width, sizes[0]))


cdef intp plan_workspace(const Layout *lay, intp capacity, bint keep_pre,
                          intp *offsets, Workspace *ws) noexcept nogil:
    """Lay out the `work` buffer for batches of `capacity` rows; offsets
    (2 L - 1 entries) receives the per-layer offsets that ws points to.
    Returns the buffer's length.

    Order: the output of every layer, one scratch block, a gathered
    minibatch (inputs, targets, weights), BN's x-hat and the dropout factors
    of every hidden layer, BN's folded scale and shift, and the inputs of
    the hidden activations that need them.
    """
    cdef intp L = lay.n_layers, l, off = 0, nh = lay.n_hidden
    ws.capacity = capacity
    for l in range(L):
        offsets[l] = off
        off += capacity * lay.sizes[l + 1]
    ws.act = offsets
    ws.scratch = off
    off += capacity * lay.max_width
    ws.inputs = off
    ws.targets = ws.inputs + capacity * lay.sizes[0]
    ws.weights = ws.targets + capacity * lay.sizes[L]
    ws.xhat = ws.weights + capacity
    ws.mask = ws.xhat + capacity * nh
    ws.scale = ws.mask + capacity * nh
    off = ws.scale + 2 * lay.max_width
    for l in range(L - 1):
        offsets[L + l] = -1
        if keep_pre and fm_activation_needs_input[lay.act[l]]:
            offsets[L + l] = off + capacity * hidden_offset(lay, l)
    ws.pre = offsets + L
    return off + (capacity * nh if keep_pre else 0)


cdef void plan_dwork(const Layout *lay, double *dwork, Workspace *ws) noexcept nogil:
    """Column sums, then BN's batch means and inverse stds, then the
    per-block partial sums."""
    ws.colsum = dwork
    ws.bn_mean = dwork + lay.max_width
    ws.partial = ws.bn_mean + 2 * lay.n_hidden


def n_dwork(intp max_width, intp n_hidden, intp capacity, intp n_params):
    n_blocks = max((capacity + ROW_BLOCK - 1) // ROW_BLOCK,
                   (n_params + SS_BLOCK - 1) // SS_BLOCK)
    return max_width + 2 * n_hidden + n_blocks + 1


# Passes --------------------------------------------------------------------

cdef void mark(Training *tr, int phase) noexcept nogil:
    """Charge the time since the last mark to `phase` (when profiling)."""
    cdef double now
    if tr != NULL and tr.prof != NULL:
        now = omp_get_wtime()
        tr.prof[phase] += now - tr.prof[PROF_N]
        tr.prof[PROF_N] = now


cdef void forward(const Pass *p, const floating *theta, const floating *x, intp rows,
                  bint logits) noexcept nogil:
    """Outputs of every layer for `rows` inputs x, into the workspace.

    Training (p.tr set): BN uses the batch statistics, dropout is on, and the
    first layer may run on the batch's nonzeros.  Prediction: BN uses the
    running statistics, and a few rows go through vecmat.  With `logits`
    the output layer is left as logits (bias added), which the loss kernel
    turns into the delta; otherwise the output activation is applied.
    """
    cdef const Layout *lay = p.lay
    cdef floating *work = <floating *>p.ws.work
    cdef bint train = p.tr != NULL
    cdef intp l, i, L = lay.n_layers, n_in, n_out
    cdef const floating *a_in = x
    cdef floating *z
    cdef floating *u
    for l in range(L):
        n_in = lay.sizes[l]
        n_out = lay.sizes[l + 1]
        z = work + p.ws.act[l]
        mark(p.tr, PROF_FWD_ELEM)
        if l == 0 and p.sparse != NULL:
            # the batch's nonzeros (x is not read)
            sparse_matmul(p.th, p.sparse, theta + lay.w_off[0], n_out, z)
        elif rows <= GEMV_MAX_ROWS and not train:
            for i in range(rows):
                vecmat(p.th, a_in + i * n_in, n_in, theta + lay.w_off[l], n_out,
                       z + i * n_out)
        else:
            matmul(p.th, c'N', c'N', rows, n_out, n_in, a_in, theta + lay.w_off[l],
                   <floating>0.0, z)
        mark(p.tr, PROF_FWD_GEMM)
        if l < L - 1:
            if lay.bn and train:
                bn_forward_train(lay, p.th, p.ws, p.tr, l, z, rows, theta)
            elif lay.bn:
                bn_forward_eval(lay, p.ws, l, z, rows, theta)
            else:
                u = (work + p.ws.pre[l]) if train and p.ws.pre[l] >= 0 else NULL
                bias_act(p.th, z, theta + lay.b_off[l], u, rows, n_out, lay.act[l],
                         lay.act_param[l])
            if train and p.tr.dropout != NULL and p.tr.dropout[l] > 0:
                dropout_forward(lay, p.th, p.ws, p.tr, l, z, rows * n_out)
        elif logits:
            bias_act(p.th, z, theta + lay.b_off[l], <floating *>NULL, rows, n_out,
                     FM_ACT_IDENTITY, 0.0)
        else:
            output(p.th, z, theta + lay.b_off[l], rows, n_out, lay.out, lay.groups,
                   lay.n_groups)
        a_in = z
    mark(p.tr, PROF_FWD_ELEM)


cdef double forward_backward(const Pass *p, const Batch *b, const floating *theta,
                             floating *grad, double alpha, bint first,
                             double *sumsq) noexcept nogil:
    """Loss of a batch and its gradient (a training pass).

    Returns sum_i sw_i l_i.  grad = scale * dLoss/dtheta (+ alpha * scale * W
    on the weights) when `first`, else the data part is added to grad, so
    that a large batch can be processed in chunks; sumsq receives sum(W**2)
    when `first` and alpha > 0.  With b.dx, the backward pass goes one layer
    further: dx = scale * dLoss/dx (the dense first layer only).  A
    non-finite loss returns before the backward pass.
    """
    cdef const Layout *lay = p.lay
    cdef const Workspace *ws = p.ws
    cdef floating *work = <floating *>ws.work
    cdef const floating *x = <const floating *>b.x
    cdef intp l, L = lay.n_layers, n_in, n_out, rows = b.rows
    cdef floating *D
    cdef floating *scratch = work + ws.scratch
    cdef const floating *a_in
    cdef const floating *u
    cdef floating beta
    cdef double loss, ss = 0.0

    forward(p, theta, x, rows, True)
    D = work + ws.act[L - 1]
    loss = loss_delta(p.th, D, <const floating *>b.y, <const floating *>b.sw, rows,
                      lay.sizes[L], lay.out, b.scale, ws.partial, lay.groups,
                      lay.n_groups)
    mark(p.tr, PROF_LOSS)
    if not isfinite(loss):
        return loss

    for l in range(L - 1, -1, -1):
        n_in = lay.sizes[l]
        n_out = lay.sizes[l + 1]
        a_in = (work + ws.act[l - 1]) if l > 0 else x
        beta = 1.0
        if first:
            if alpha > 0:
                ss += scaled_copy_sumsq(p.th, grad + lay.w_off[l], theta + lay.w_off[l],
                                        n_in * n_out, alpha * b.scale, ws.partial)
            else:
                beta = 0.0
        mark(p.tr, PROF_BWD_ELEM)
        # dW = A_prev^T @ delta
        if l == 0 and p.sparse != NULL:
            sparse_wgrad(p.th, p.sparse, D, n_out, grad + lay.w_off[0], beta != 0)
        else:
            matmul(p.th, c'T', c'N', n_in, n_out, rows, a_in, D, beta,
                   grad + lay.w_off[l])
        mark(p.tr, PROF_GRAD_GEMM)
        if not (lay.bn and l < L - 1):
            # (with BN, the hidden layer's shift beta got its gradient below)
            bias_grad(p.th, D, rows, n_out, grad + lay.b_off[l], not first, ws.colsum)
        if l == 0 and b.dx != NULL:
            # the inputs' gradient delta @ W^T (adversarial examples)
            matmul(p.th, c'N', c'T', rows, n_in, n_out, D, theta + lay.w_off[0],
                   <floating>0.0, <floating *>b.dx)
            mark(p.tr, PROF_DELTA_GEMM)
        if l > 0:
            # delta_prev = (delta @ W^T) * act'(A_prev), written over A_prev,
            # which the rest of the backward pass no longer needs.
            matmul(p.th, c'N', c'T', rows, n_in, n_out, D, theta + lay.w_off[l],
                   <floating>0.0, scratch)
            mark(p.tr, PROF_DELTA_GEMM)
            D = work + ws.act[l - 1]
            if p.tr.dropout != NULL and p.tr.dropout[l - 1] > 0:
                dropout_backward(lay, p.th, ws, p.tr, l - 1, D, scratch, rows * n_in)
            else:
                u = (work + ws.pre[l - 1]) if ws.pre[l - 1] >= 0 else NULL
                act_backward(p.th, D, scratch, u, rows * n_in, lay.act[l - 1],
                             lay.act_param[l - 1])
            if lay.bn:
                bn_backward(lay, p.th, ws, l - 1, D, rows, theta, grad)
    mark(p.tr, PROF_BWD_ELEM)
    if first:
        sumsq[0] = ss
    return loss
