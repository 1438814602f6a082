"""The fastmlp training engine.

Forward pass, loss and output delta, backward pass and optimiser step for a
multilayer perceptron whose parameters live in one flat vector ``theta``
(layout in ``_network.py``).  ``train_epoch`` walks every minibatch of an
epoch with the GIL released: Python is called once per epoch, never per
minibatch.

Conventions
-----------
- Arrays are C-contiguous, one row per sample.  ``coefs_[l]`` is the
  ``(n_in, n_out)`` block of ``theta`` at ``w_off[l]``, ``intercepts_[l]`` the
  ``n_out`` block at ``b_off[l]``.
- GEMMs go to BLAS (``_blas.gemm_rm``); elementwise work goes to the C
  kernels (``csrc/kernels.c``), cut into blocks of fixed size that OpenMP
  threads share.  Reductions sum per block in double and then over blocks in
  a fixed order, so results do not depend on the number of threads.
- The workspace is allocated by the caller once per fit; nothing here
  allocates.  Its layout: the activation of every layer at the batch
  capacity, one scratch block, the gathered inputs, targets and weights.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport isfinite, sqrt, pow
from libc.string cimport memcpy
from libc.stdlib cimport free, malloc
from libc.stdint cimport int32_t, uint32_t, uint64_t
from openmp cimport omp_get_num_procs, omp_get_wtime

from ._blas cimport gemm_rm
from ._kernels cimport *

import numpy as np

ctypedef Py_ssize_t intp

cdef enum:
    ROW_BLOCK = 16         # rows per block in row-wise kernels
    ELEM_BLOCK = 16384     # elements per block in flat kernels
    PARALLEL_MIN = 32768   # below this many elements a kernel runs on one thread
    COL_BLOCK = 64         # columns per block in column sums
    SS_BLOCK = 2048        # elements per partial sum of the optimiser step

# Solver codes, shared with _network.py through the Python names below.
cdef enum:
    SGD = 0
    ADAM = 1
    ADAMW = 2
    ADAGRAD = 3
    RMSPROP = 4
    ADADELTA = 5

SOLVER_SGD = SGD
SOLVER_ADAM = ADAM
SOLVER_ADAMW = ADAMW
SOLVER_ADAGRAD = ADAGRAD
SOLVER_RMSPROP = RMSPROP
SOLVER_ADADELTA = ADADELTA


cdef struct Net:
    intp n_layers            # number of weight layers L (= n_layers_ - 1)
    const intp *sizes        # L + 1 layer widths, input first
    const intp *w_off        # L offsets of the weight blocks in theta
    const intp *b_off        # L offsets of the bias blocks in theta
    const int *act           # L - 1 hidden activations (FM_ACT_*)
    const double *act_param  # L - 1 activation parameters (slope, alpha)
    int out                  # output layer and loss (FM_OUT_*)
    intp capacity            # rows the workspace holds
    int n_threads
    int vec_threads          # threads of the one-sample products (prediction)
    bint split_gemm          # split GEMMs over OpenMP threads (BLAS on 1 thread)
    # regularisation (see Reg)
    bint bn                  # batch normalisation on every hidden layer
    double bn_momentum
    double bn_eps
    bint update_stats        # update the running statistics in training
    const intp *g_off        # L - 1 offsets of BN's gamma in theta
    double *running          # running means (sum of hidden widths), then variances
    const double *dropout    # L - 1 dropout rates, or NULL
    double input_noise
    uint64_t seed
    uint64_t epoch
    uint64_t batch           # index of the current minibatch in the epoch
    double *prof             # seconds per phase (PROF_*), or NULL: no timing
    # Sparse first layer (training only; see train_epoch's sparse_split):
    # the minibatch as its nonzeros, row i's at i * sizes[0] of sp_cols and
    # sp_vals, sp_nnz[i] of them; parts of the weight gradient by features.
    bint sparse
    int sp_parts             # parts of the features, sp_split[0..sp_parts]
    const intp *sp_split
    int32_t *sp_cols
    void *sp_vals            # floating
    intp *sp_nnz
    intp *sp_colptr          # per part p: sp_split[p] + p, room for its width + 1
    int32_t *sp_rowidx       # per part: from sp_split[p] * capacity
    void *sp_cvals           # floating, as sp_rowidx


ctypedef struct Reg:
    int bn
    double bn_momentum
    double bn_eps
    double input_noise
    unsigned long long seed
    long long epoch


ctypedef struct OptParams:
    int solver
    double lr                # rate when no per-step rates are given
    double momentum          # sgd, rmsprop
    int nesterov             # sgd
    double beta1             # adam, adamw
    double beta2             # adam, adamw
    double eps
    double rho               # rmsprop, adadelta: decay of the averages
    int centered             # rmsprop
    double weight_decay      # adamw: decoupled decay of the weights
    Py_ssize_t n_decay       # adamw: theta[:n_decay] are the weights
    double alpha             # L2 penalty on the weights, as scikit-learn
    double loss_scale        # factor on the data loss (1/n_outputs for squared error)


# Phases of a training step, timed when train_epoch gets a `profile` array.
cdef enum:
    PROF_GATHER = 0        # minibatch rows gathered, input noise
    PROF_FWD_GEMM = 1      # forward GEMMs
    PROF_FWD_ELEM = 2      # bias + activation, batch norm, dropout
    PROF_LOSS = 3          # output layer, loss and output delta
    PROF_GRAD_GEMM = 4     # weight gradients A^T delta
    PROF_DELTA_GEMM = 5    # back-propagated deltas delta W^T
    PROF_BWD_ELEM = 6      # bias gradients, activation derivatives, BN backward, L2 term
    PROF_STEP = 7          # optimiser update
    PROF_N = 8             # slot PROF_N holds the time of the last mark

PROFILE_PHASES = ("gather", "forward GEMM", "forward elementwise", "loss and delta",
                  "weight-gradient GEMM", "delta GEMM", "backward elementwise",
                  "optimiser step")


cdef inline void _mark(const Net *net, int phase) noexcept nogil:
    """Charge the time since the last mark to `phase` (when profiling)."""
    cdef double now
    if net.prof != NULL:
        now = omp_get_wtime()
        net.prof[phase] += now - net.prof[PROF_N]
        net.prof[PROF_N] = now


cdef inline int _threads(const Net *net, intp n_elements) noexcept nogil:
    return net.n_threads if n_elements >= PARALLEL_MIN else 1


cdef inline intp _max_width(const Net *net) noexcept nogil:
    cdef intp l, w = 1
    for l in range(1, net.n_layers + 1):
        if net.sizes[l] > w:
            w = net.sizes[l]
    return w


# Workspace layout ---------------------------------------------------------

cdef inline intp _act_offset(const Net *net, intp layer) noexcept nogil:
    """Offset of the activation of weight layer `layer` (0-based)."""
    cdef intp l, off = 0
    for l in range(layer):
        off += net.capacity * net.sizes[l + 1]
    return off


cdef inline intp _scratch_offset(const Net *net) noexcept nogil:
    return _act_offset(net, net.n_layers)


cdef inline intp _inputs_offset(const Net *net) noexcept nogil:
    return _scratch_offset(net) + net.capacity * _max_width(net)


cdef inline intp _hidden_offset(const Net *net, intp layer) noexcept nogil:
    """Offset of hidden layer `layer` in vectors of all hidden widths."""
    cdef intp l, off = 0
    for l in range(layer):
        off += net.sizes[l + 1]
    return off


cdef inline intp _n_hidden_units(const Net *net) noexcept nogil:
    return _hidden_offset(net, net.n_layers - 1)


cdef inline intp _xhat_offset(const Net *net, intp layer) noexcept nogil:
    """Offset of BN's x-hat of hidden layer `layer`: after the inputs,
    targets and weights of a batch."""
    return (_inputs_offset(net)
            + net.capacity * (net.sizes[0] + net.sizes[net.n_layers] + 1)
            + net.capacity * _hidden_offset(net, layer))


cdef inline intp _mask_offset(const Net *net, intp layer) noexcept nogil:
    """Offset of the dropout factors of hidden layer `layer`."""
    return (_xhat_offset(net, net.n_layers - 1)
            + net.capacity * _hidden_offset(net, layer))


cdef inline intp _scale_shift_offset(const Net *net) noexcept nogil:
    return _mask_offset(net, net.n_layers - 1)


cdef intp _n_work(const intp *sizes, intp L, intp capacity) noexcept nogil:
    """Length of `work` for batches of `capacity` rows: activations,
    scratch, batch inputs/targets/weights, BN's x-hat and the dropout factors
    of every hidden layer, BN's folded scale and shift."""
    cdef intp l, width = 1, acts = 0
    for l in range(1, L + 1):
        acts += sizes[l]
        width = max(width, sizes[l])
    return (capacity * (acts + width + sizes[0] + sizes[L] + 1)
            + 2 * capacity * (acts - sizes[L]) + 2 * width)


def workspace_sizes(const intp[::1] sizes, intp capacity, intp n_params):
    """Return the lengths (work, dwork) of the two workspace vectors.

    ``work`` (training dtype) holds the activations of every layer, one
    scratch block, the gathered inputs, targets and sample weights of a batch
    of ``capacity`` rows; ``dwork`` (float64) holds the per-block partial sums.
    """
    cdef intp L = sizes.shape[0] - 1, l, width = 1, acts = 0
    for l in range(1, L + 1):
        acts += sizes[l]
        width = max(width, sizes[l])
    cdef intp hidden = acts - sizes[L]
    n_work = _n_work(&sizes[0], L, capacity)
    n_blocks = max((capacity + ROW_BLOCK - 1) // ROW_BLOCK,
                   (n_params + SS_BLOCK - 1) // SS_BLOCK)
    # column sums, BN's batch means and inverse stds, per-block partial sums
    n_dwork = width + 2 * hidden + n_blocks + 1
    return n_work, n_dwork


# Elementwise passes, cut into blocks -------------------------------------

cdef void _bias_act(const Net *net, floating *z, const floating *b, intp rows,
                    intp cols, int act, double param) noexcept nogil:
    cdef intp blk, r0, r1, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = _threads(net, rows * cols)
    if nt == 1:
        if floating is float:
            fm_bias_act_f(z, b, rows, cols, act, param)
        else:
            fm_bias_act_d(z, b, rows, cols, act, param)
        return
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, rows)
        if floating is float:
            fm_bias_act_f(z + r0 * cols, b, r1 - r0, cols, act, param)
        else:
            fm_bias_act_d(z + r0 * cols, b, r1 - r0, cols, act, param)


cdef void _output(const Net *net, floating *z, const floating *b, intp rows,
                  intp cols) noexcept nogil:
    cdef intp blk, r0, r1, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = _threads(net, rows * cols)
    if nt == 1:
        if floating is float:
            fm_output_f(z, b, rows, cols, net.out)
        else:
            fm_output_d(z, b, rows, cols, net.out)
        return
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, rows)
        if floating is float:
            fm_output_f(z + r0 * cols, b, r1 - r0, cols, net.out)
        else:
            fm_output_d(z + r0 * cols, b, r1 - r0, cols, net.out)


cdef void _act_backward(const Net *net, floating *a, const floating *g,
                        intp n, int act, double param) noexcept nogil:
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = _threads(net, n)
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        if floating is float:
            fm_act_backward_f(a + i0, g + i0, i1 - i0, act, param)
        else:
            fm_act_backward_d(a + i0, g + i0, i1 - i0, act, param)


cdef double _loss_delta(const Net *net, floating *z, const floating *y,
                        const floating *sw, intp rows, double scale,
                        double *partial) noexcept nogil:
    """Loss sum_i sw_i l_i; z becomes the output delta scale * sw_i * dl_i/dz."""
    cdef intp cols = net.sizes[net.n_layers]
    cdef intp blk, r0, r1, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = _threads(net, rows * cols)
    cdef double total = 0.0
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, rows)
        if floating is float:
            partial[blk] = fm_loss_delta_f(
                z + r0 * cols, y + r0 * cols, (sw + r0) if sw != NULL else NULL,
                r1 - r0, cols, net.out, scale)
        else:
            partial[blk] = fm_loss_delta_d(
                z + r0 * cols, y + r0 * cols, (sw + r0) if sw != NULL else NULL,
                r1 - r0, cols, net.out, scale)
    for blk in range(nb):
        total += partial[blk]
    return total


cdef void _bias_grad(const Net *net, const floating *delta, intp rows,
                     intp cols, floating *gb, bint accumulate,
                     double *acc) noexcept nogil:
    """gb (+)= column sums of delta, accumulated in double."""
    cdef intp j, blk, c0, c1, nb = (cols + COL_BLOCK - 1) // COL_BLOCK
    cdef int nt = _threads(net, rows * cols)
    for j in range(cols):
        acc[j] = 0.0
    for blk in prange(nb, schedule='static', num_threads=nt):
        c0 = blk * COL_BLOCK
        c1 = min(c0 + COL_BLOCK, cols)
        if floating is float:
            fm_colsum_f(delta + c0, rows, cols, c1 - c0, acc + c0)
        else:
            fm_colsum_d(delta + c0, rows, cols, c1 - c0, acc + c0)
    if accumulate:
        for j in range(cols):
            gb[j] = <floating>(gb[j] + acc[j])
    else:
        for j in range(cols):
            gb[j] = <floating>acc[j]


cdef double _scaled_copy_sumsq(const Net *net, floating *dst,
                               const floating *src, intp n, double scale,
                               double *partial) noexcept nogil:
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = _threads(net, n)
    cdef double total = 0.0
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        if floating is float:
            partial[blk] = fm_scaled_copy_sumsq_f(dst + i0, src + i0, i1 - i0, scale)
        else:
            partial[blk] = fm_scaled_copy_sumsq_d(dst + i0, src + i0, i1 - i0, scale)
    for blk in range(nb):
        total += partial[blk]
    return total


cdef void _gather(const Net *net, floating *dst, const floating *src,
                  const intp *idx, intp rows, intp cols) noexcept nogil:
    cdef intp blk, r0, r1, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = _threads(net, rows * cols)
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, rows)
        if floating is float:
            fm_gather_rows_f(dst + r0 * cols, src, idx + r0, r1 - r0, cols)
        else:
            fm_gather_rows_d(dst + r0 * cols, src, idx + r0, r1 - r0, cols)


cdef void _bn_forward_train(const Net *net, intp l, floating *z, intp rows,
                            const floating *theta, floating *work,
                            double *dwork) noexcept nogil:
    """Batch normalisation and activation of hidden layer l in training.

    Per feature (parallel over blocks of columns): batch mean and biased
    variance in double, x-hat = (z - mean) / sqrt(var + eps) kept for the
    backward pass, z := act(gamma x-hat + beta); the running statistics move
    towards the batch's (PyTorch's rule: the unbiased variance, the new
    batch weighted by the momentum).
    """
    cdef intp cols = net.sizes[l + 1], j, blk, c0, c1
    cdef intp nb = (cols + COL_BLOCK - 1) // COL_BLOCK
    cdef intp h = _hidden_offset(net, l), nh = _n_hidden_units(net)
    cdef double *mean = _bn_mean(net, dwork) + h
    cdef double *inv_std = mean + nh
    cdef double *rmean = net.running + h
    cdef double *rvar = net.running + nh + h
    cdef floating *xhat = work + _xhat_offset(net, l)
    cdef double m = net.bn_momentum, unbias = (<double>rows) / (rows - 1)
    cdef int nt = _threads(net, rows * cols)
    for blk in prange(nb, schedule='static', num_threads=nt):
        c0 = blk * COL_BLOCK
        c1 = min(c0 + COL_BLOCK, cols)
        if floating is float:
            fm_bn_stats_f(z + c0, rows, cols, c1 - c0, mean + c0, inv_std + c0)
        else:
            fm_bn_stats_d(z + c0, rows, cols, c1 - c0, mean + c0, inv_std + c0)
        for j in range(c0, c1):
            if net.update_stats:
                rmean[j] = (1.0 - m) * rmean[j] + m * mean[j]
                rvar[j] = (1.0 - m) * rvar[j] + m * inv_std[j] * unbias
            inv_std[j] = 1.0 / sqrt(inv_std[j] + net.bn_eps)
        if floating is float:
            fm_bn_normalize_act_f(z + c0, xhat + c0, rows, cols, c1 - c0,
                                  mean + c0, inv_std + c0,
                                  theta + net.g_off[l] + c0,
                                  theta + net.b_off[l] + c0,
                                  net.act[l], net.act_param[l])
        else:
            fm_bn_normalize_act_d(z + c0, xhat + c0, rows, cols, c1 - c0,
                                  mean + c0, inv_std + c0,
                                  theta + net.g_off[l] + c0,
                                  theta + net.b_off[l] + c0,
                                  net.act[l], net.act_param[l])


cdef inline double *_bn_mean(const Net *net, double *dwork) noexcept nogil:
    """BN's batch means (then inverse stds) in dwork, after the column sums."""
    return dwork + _max_width(net)


cdef inline double *_partials(const Net *net, double *dwork) noexcept nogil:
    """Per-block partial sums in dwork, after BN's statistics."""
    return dwork + _max_width(net) + 2 * _n_hidden_units(net)


cdef void _bn_backward(const Net *net, intp l, floating *dy, intp rows,
                       const floating *theta, floating *grad, floating *work,
                       double *dwork) noexcept nogil:
    """Exact backward pass of BN of hidden layer l: dgamma and dbeta into
    grad, dy := dLoss/dz (parallel over blocks of columns)."""
    cdef intp cols = net.sizes[l + 1], blk, c0, c1
    cdef intp nb = (cols + COL_BLOCK - 1) // COL_BLOCK
    cdef const double *inv_std = (_bn_mean(net, dwork) + _n_hidden_units(net)
                                  + _hidden_offset(net, l))
    cdef const floating *xhat = work + _xhat_offset(net, l)
    cdef int nt = _threads(net, rows * cols)
    for blk in prange(nb, schedule='static', num_threads=nt):
        c0 = blk * COL_BLOCK
        c1 = min(c0 + COL_BLOCK, cols)
        if floating is float:
            fm_bn_backward_f(dy + c0, xhat + c0, rows, cols, c1 - c0, inv_std + c0,
                             theta + net.g_off[l] + c0, grad + net.g_off[l] + c0,
                             grad + net.b_off[l] + c0)
        else:
            fm_bn_backward_d(dy + c0, xhat + c0, rows, cols, c1 - c0, inv_std + c0,
                             theta + net.g_off[l] + c0, grad + net.g_off[l] + c0,
                             grad + net.b_off[l] + c0)


cdef void _bn_forward_eval(const Net *net, intp l, floating *z, intp rows,
                           const floating *theta, floating *work) noexcept nogil:
    """BN with the running statistics, folded into one scale and shift per
    feature, then the activation."""
    cdef intp cols = net.sizes[l + 1], j
    cdef intp h = _hidden_offset(net, l), nh = _n_hidden_units(net)
    cdef floating *scale = work + _scale_shift_offset(net)
    cdef floating *shift = scale + _max_width(net)
    cdef double sc
    for j in range(cols):
        sc = theta[net.g_off[l] + j] / sqrt(net.running[nh + h + j] + net.bn_eps)
        scale[j] = <floating>sc
        shift[j] = <floating>(theta[net.b_off[l] + j] - sc * net.running[h + j])
    if floating is float:
        fm_scale_shift_act_f(z, scale, shift, rows, cols, net.act[l], net.act_param[l])
    else:
        fm_scale_shift_act_d(z, scale, shift, rows, cols, net.act[l], net.act_param[l])


cdef inline uint64_t _key(const Net *net, uint64_t stream) noexcept nogil:
    """Key of the random numbers of one stream (0: input noise, l + 1:
    dropout of hidden layer l) in the current batch and epoch."""
    return fm_batch_key(net.seed, net.epoch, net.batch, stream)


cdef void _dropout(const Net *net, intp l, floating *a, floating *work,
                   intp n) noexcept nogil:
    """Inverted dropout of hidden layer l's n activations; element i of the
    batch's matrix draws counter i of the layer's stream."""
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = _threads(net, n)
    cdef uint64_t key = _key(net, l + 1)
    cdef double p = net.dropout[l]
    cdef floating *mask = work + _mask_offset(net, l)
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        if floating is float:
            fm_dropout_f(a + i0, mask + i0, i1 - i0, <uint32_t>i0, p, key)
        else:
            fm_dropout_d(a + i0, mask + i0, i1 - i0, <uint32_t>i0, p, key)


cdef void _dropout_act_backward(const Net *net, intp l, floating *a,
                                const floating *g, const floating *work,
                                intp n) noexcept nogil:
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = _threads(net, n)
    cdef double p = net.dropout[l]
    cdef const floating *mask = work + _mask_offset(net, l)
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        if floating is float:
            fm_dropout_act_backward_f(a + i0, g + i0, mask + i0, i1 - i0, p,
                                      net.act[l], net.act_param[l])
        else:
            fm_dropout_act_backward_d(a + i0, g + i0, mask + i0, i1 - i0, p,
                                      net.act[l], net.act_param[l])


cdef void _add_noise(const Net *net, floating *x, intp n) noexcept nogil:
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = _threads(net, n // 8)   # costly per element: split sooner
    cdef uint64_t key = _key(net, 0)
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        if floating is float:
            fm_add_noise_f(x + i0, i1 - i0, <uint32_t>i0, net.input_noise, key)
        else:
            fm_add_noise_d(x + i0, i1 - i0, <uint32_t>i0, net.input_noise, key)


cdef enum:
    GEMV_MAX_ROWS = 4       # forward passes of up to this many rows use _vecmat
    VECMAT_CHUNK = 128      # columns per chunk of fm_vecmat (FM_VECMAT_W)
    VECMAT_PARALLEL_MIN = 65536   # multiply-adds below which _vecmat runs on one thread
    SPLIT_ALIGN = 16        # block edges of a split GEMM: multiples of this
    SPLIT_MIN_BLOCK = 32    # no block narrower than this (unless C is)
    SPLIT_MIN_FLOPS = 1000000

# Parts a split GEMM is cut into: the machine's processor count, fixed for
# the process (not the fit's thread count, so that the arithmetic, hence the
# model, is the same for any n_threads).  bench/ varies it to compare.
cdef int _split_parts = max(1, omp_get_num_procs())


def split_parts(parts=None):
    """Get (and with `parts`, set) the number of blocks a split GEMM is cut
    into; returns the previous value.  For benchmarks."""
    global _split_parts
    previous = _split_parts
    if parts is not None:
        if parts < 1:
            raise ValueError("parts must be >= 1")
        _split_parts = parts
    return previous


cdef void _vecmat(const Net *net, const floating *x, intp m, const floating *W,
                  intp n, floating *y) noexcept nogil:
    """y = x @ W for one row x and a row-major (m, n) W, in chunks of
    columns shared by `net.vec_threads` threads when the product is big
    enough to repay starting them.  Our own kernel rather than BLAS's gemv:
    OpenBLAS would start its own pool, which must not run beside OpenMP's.
    Each thread streams only its columns of W, which for a layer of MNIST's
    size stay in its core's L2 cache between calls.  Chunks of VECMAT_CHUNK
    columns (a 512-byte run of each row of W per pass: 1.7x faster than 64
    columns on a 784 x 1024 layer), halved when that leaves a thread idle."""
    cdef int nt = net.vec_threads if m * n >= VECMAT_PARALLEL_MIN else 1
    cdef intp blk, c0, chunk = VECMAT_CHUNK
    cdef intp nb
    if nt > 1 and (n + chunk - 1) // chunk < nt:
        chunk = VECMAT_CHUNK // 2
    nb = (n + chunk - 1) // chunk
    if nt == 1 or nb == 1:
        if floating is float:
            fm_vecmat_f(x, m, W, n, n, y)
        else:
            fm_vecmat_d(x, m, W, n, n, y)
        return
    for blk in prange(nb, schedule='static', num_threads=min(nt, nb)):
        c0 = blk * chunk
        if floating is float:
            fm_vecmat_f(x, m, W + c0, n, min(chunk, n - c0), y + c0)
        else:
            fm_vecmat_d(x, m, W + c0, n, min(chunk, n - c0), y + c0)


cdef void _gather_sparse(const Net *net, const floating *X, intp n_in,
                         const intp *idx, intp start, intp rows) noexcept nogil:
    """The minibatch's nonzeros (rows idx[0:rows] of X, or start:start+rows
    without idx) into net.sp_*, in blocks of rows shared by the threads."""
    cdef intp blk, r0, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = _threads(net, rows * n_in)
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        if floating is float:
            fm_csr_rows_f(X, n_in, idx, start, r0, min(r0 + ROW_BLOCK, rows),
                          net.sp_cols, <float *>net.sp_vals, net.sp_nnz)
        else:
            fm_csr_rows_d(X, n_in, idx, start, r0, min(r0 + ROW_BLOCK, rows),
                          net.sp_cols, <double *>net.sp_vals, net.sp_nnz)


cdef void _sparse_matmul(const Net *net, intp rows, const floating *W, intp n_out,
                         floating *Z) noexcept nogil:
    """Z = X @ W for the minibatch's nonzeros X: each thread a slab of W's
    columns (whole 64-byte vectors), which stays in its core's cache."""
    cdef intp vl = 64 // sizeof(floating)
    cdef int nt = net.n_threads
    cdef intp p, c0, c1, per, nvec = (n_out + vl - 1) // vl
    if nt > nvec:
        nt = <int>nvec
    per = (nvec + nt - 1) // nt * vl
    for p in prange(nt, schedule='static', num_threads=nt):
        c0 = p * per
        c1 = min(c0 + per, n_out)
        if c0 < c1:
            if floating is float:
                fm_csr_matmul_f(net.sp_cols, <const float *>net.sp_vals, net.sp_nnz,
                                net.sizes[0], rows, W, n_out, c0, c1, Z, n_out)
            else:
                fm_csr_matmul_d(net.sp_cols, <const double *>net.sp_vals, net.sp_nnz,
                                net.sizes[0], rows, W, n_out, c0, c1, Z, n_out)


cdef void _sparse_wgrad(const Net *net, intp rows, const floating *D, intp n_out,
                        floating *dW, bint accumulate) noexcept nogil:
    """dW (= or +=) X^T @ D for the minibatch's nonzeros X: each thread the
    rows of dW of one part of the features (parts of equal expected
    nonzeros), listing its features' nonzeros itself."""
    cdef intp p, k0
    cdef int nt = min(net.n_threads, net.sp_parts)
    for p in prange(net.sp_parts, schedule='static', num_threads=nt):
        k0 = net.sp_split[p]
        if floating is float:
            fm_csc_wgrad_f(net.sp_cols, <const float *>net.sp_vals, net.sp_nnz,
                           net.sizes[0], rows, k0, net.sp_split[p + 1], D, n_out,
                           dW, accumulate, net.sp_colptr + k0 + p,
                           net.sp_rowidx + k0 * net.capacity,
                           <float *>net.sp_cvals + k0 * net.capacity)
        else:
            fm_csc_wgrad_d(net.sp_cols, <const double *>net.sp_vals, net.sp_nnz,
                           net.sizes[0], rows, k0, net.sp_split[p + 1], D, n_out,
                           dW, accumulate, net.sp_colptr + k0 + p,
                           net.sp_rowidx + k0 * net.capacity,
                           <double *>net.sp_cvals + k0 * net.capacity)


cdef void _gemm(const Net *net, char transa, char transb,
                intp m, intp n, intp k, floating alpha,
                const floating *A, intp lda, const floating *B, intp ldb,
                floating beta, floating *C, intp ldc) noexcept nogil:
    """Row-major GEMM, split into blocks when `net.split_gemm`.

    C is cut along its longer side into `_split_parts` blocks (edges aligned
    to SPLIT_ALIGN), each computed by single-threaded BLAS; OpenMP threads
    share the blocks.  Cutting the longer side copies the smaller operand
    into each block's packing buffers: rows of C when C is taller than wide
    (B is repacked per block), columns otherwise (A is).  As many blocks as
    processors, not more: every extra block repacks that operand and calls
    BLAS on a thinner panel (measured: 64-row blocks cost 15% on MNIST's
    weight gradients).  No reduction is needed, only one thread pool is
    active (BLAS's own is limited to one thread for the whole fit), and
    since the blocks depend on the shape alone the result is the same, bit
    for bit, for any number of threads.  Otherwise BLAS's pool does the work.
    """
    cdef int nt = net.n_threads
    cdef intp blk, nb, r0, r1, dim, per
    cdef bint by_rows = m >= n
    if not net.split_gemm or <double>m * n * k < SPLIT_MIN_FLOPS:
        gemm_rm(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
        return
    dim = m if by_rows else n
    per = (dim + _split_parts - 1) // _split_parts
    per = max(SPLIT_MIN_BLOCK, (per + SPLIT_ALIGN - 1) // SPLIT_ALIGN * SPLIT_ALIGN)
    nb = (dim + per - 1) // per
    if nb == 1:
        gemm_rm(transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
        return
    for blk in prange(nb, schedule='static', num_threads=min(nt, nb)):
        r0 = blk * per
        r1 = min(r0 + per, dim)
        if by_rows:
            # rows r0:r1 of op(A) and of C
            gemm_rm(transa, transb, r1 - r0, n, k, alpha,
                    (A + r0 * lda) if transa == c'N' else (A + r0), lda,
                    B, ldb, beta, C + r0 * ldc, ldc)
        else:
            # columns r0:r1 of op(B) and of C
            gemm_rm(transa, transb, m, r1 - r0, k, alpha, A, lda,
                    (B + r0) if transb == c'N' else (B + r0 * ldb), ldb,
                    beta, C + r0, ldc)


# The network ---------------------------------------------------------------

cdef void _forward(const Net *net, const floating *theta, const floating *x,
                   intp rows, floating *work, double *dwork, bint train,
                   bint logits) noexcept nogil:
    """Activations of every layer for `rows` inputs x, into the workspace.

    `train`: batch statistics for BN, dropout on.  Otherwise BN uses the
    running statistics and dropout is off.  With `logits` the output layer
    is left as logits (bias added), which the loss kernel turns into the
    delta; otherwise the output activation is applied.
    """
    cdef intp l, i, L = net.n_layers, n_in, n_out
    cdef const floating *a_in = x
    cdef floating *z
    for l in range(L):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        z = work + _act_offset(net, l)
        _mark(net, PROF_FWD_ELEM)
        if rows <= GEMV_MAX_ROWS and not train:
            # prediction of a few samples: one vector-matrix product per row
            for i in range(rows):
                _vecmat(net, a_in + i * n_in, n_in, theta + net.w_off[l], n_out,
                        z + i * n_out)
        elif l == 0 and net.sparse and train:
            _sparse_matmul(net, rows, theta + net.w_off[0], n_out, z)
        else:
            _gemm(net, c'N', c'N', rows, n_out, n_in, <floating>1.0, a_in, n_in,
                  theta + net.w_off[l], n_out, <floating>0.0, z, n_out)
        _mark(net, PROF_FWD_GEMM)
        if l < L - 1:
            if net.bn and train:
                _bn_forward_train(net, l, z, rows, theta, work, dwork)
            elif net.bn:
                _bn_forward_eval(net, l, z, rows, theta, work)
            else:
                _bias_act(net, z, theta + net.b_off[l], rows, n_out,
                          net.act[l], net.act_param[l])
            if train and net.dropout != NULL and net.dropout[l] > 0:
                _dropout(net, l, z, work, rows * n_out)
        elif logits:
            _bias_act(net, z, theta + net.b_off[l], rows, n_out,
                      FM_ACT_IDENTITY, 0.0)
        else:
            _output(net, z, theta + net.b_off[l], rows, n_out)
        a_in = z
    _mark(net, PROF_FWD_ELEM)


cdef double _forward_backward(
    const Net *net, const floating *theta, floating *grad,
    const floating *x, const floating *y, const floating *sw, intp rows,
    double scale, double alpha, bint first,
    floating *work, double *dwork, double *sumsq,
) noexcept nogil:
    """Loss of a batch and its gradient.

    Returns sum_i sw_i l_i.  grad = scale * dLoss/dtheta (+ alpha * scale * W
    on the weights) when `first`, else the data part is added to grad, so a
    large batch can be processed in chunks.  sumsq receives sum(W**2) when
    `first` and alpha > 0.  A non-finite loss returns before the backward
    pass.
    """
    cdef intp l, L = net.n_layers, n_in, n_out
    cdef floating *D
    cdef floating *scratch = work + _scratch_offset(net)
    cdef const floating *a_in
    cdef floating beta
    cdef double loss, ss = 0.0
    cdef double *acc = dwork
    cdef double *partial = _partials(net, dwork)

    _forward(net, theta, x, rows, work, dwork, True, True)
    D = work + _act_offset(net, L - 1)
    loss = _loss_delta(net, D, y, sw, rows, scale, partial)
    _mark(net, PROF_LOSS)
    if not isfinite(loss):
        return loss

    for l in range(L - 1, -1, -1):
        n_in = net.sizes[l]
        n_out = net.sizes[l + 1]
        a_in = (work + _act_offset(net, l - 1)) if l > 0 else x
        beta = 1.0
        if first:
            if alpha > 0:
                ss += _scaled_copy_sumsq(net, grad + net.w_off[l],
                                         theta + net.w_off[l], n_in * n_out,
                                         alpha * scale, partial)
            else:
                beta = 0.0
        _mark(net, PROF_BWD_ELEM)
        # dW = A_prev^T @ delta
        if l == 0 and net.sparse:
            _sparse_wgrad(net, rows, D, n_out, grad + net.w_off[0], beta != 0)
        else:
            _gemm(net, c'T', c'N', n_in, n_out, rows, <floating>1.0, a_in, n_in,
                  D, n_out, beta, grad + net.w_off[l], n_out)
        _mark(net, PROF_GRAD_GEMM)
        if not (net.bn and l < L - 1):
            # (with BN, the hidden layer's shift beta got its gradient above)
            _bias_grad(net, D, rows, n_out, grad + net.b_off[l], not first, acc)
        if l > 0:
            # delta_prev = (delta @ W^T) * act'(A_prev), written over A_prev,
            # which the rest of the backward pass no longer needs.
            _gemm(net, c'N', c'T', rows, n_in, n_out, <floating>1.0, D, n_out,
                  theta + net.w_off[l], n_out, <floating>0.0, scratch, n_in)
            _mark(net, PROF_DELTA_GEMM)
            D = work + _act_offset(net, l - 1)
            if net.dropout != NULL and net.dropout[l - 1] > 0:
                _dropout_act_backward(net, l - 1, D, scratch, work, rows * n_in)
            else:
                _act_backward(net, D, scratch, rows * n_in, net.act[l - 1],
                              net.act_param[l - 1])
            if net.bn:
                _bn_backward(net, l - 1, D, rows, theta, grad, work, dwork)
    _mark(net, PROF_BWD_ELEM)
    if first:
        sumsq[0] = ss
    return loss


cdef inline double _step_block(const OptParams *opt, floating *theta,
                               const floating *grad, floating *state, intp n,
                               intp i0, intp i1, double lr, double c1,
                               double c2, double decay, double l2,
                               bint want_ss) noexcept nogil:
    """The update of theta[i0:i1] from grad + l2 * theta; state holds
    theta-sized vectors back to back.  Returns sum(theta[i0:i1]**2) after
    the update when `want_ss`, else 0 (and the kernel skips the sum)."""
    cdef double ss = 0.0
    cdef double *pss = &ss if want_ss else NULL
    cdef intp m = i1 - i0
    cdef floating *s1 = state + i0
    cdef floating *s2 = state + n + i0
    cdef floating *buf = NULL
    cdef floating *gavg = NULL
    if opt.solver == SGD:
        if floating is float:
            fm_sgd_step_f(theta + i0, grad + i0, s1, m, lr, opt.momentum, opt.nesterov, l2, pss)
        else:
            fm_sgd_step_d(theta + i0, grad + i0, s1, m, lr, opt.momentum, opt.nesterov, l2, pss)
    elif opt.solver == ADAM:
        # scikit-learn's form: both bias corrections folded into the rate
        if floating is float:
            fm_adam_step_f(theta + i0, grad + i0, s1, s2, m, lr * sqrt(c2) / c1,
                           opt.beta1, opt.beta2, opt.eps, l2, pss)
        else:
            fm_adam_step_d(theta + i0, grad + i0, s1, s2, m, lr * sqrt(c2) / c1,
                           opt.beta1, opt.beta2, opt.eps, l2, pss)
    elif opt.solver == ADAMW:
        if floating is float:
            fm_adamw_step_f(theta + i0, grad + i0, s1, s2, m, lr, c1, c2,
                            opt.beta1, opt.beta2, opt.eps, decay, l2, pss)
        else:
            fm_adamw_step_d(theta + i0, grad + i0, s1, s2, m, lr, c1, c2,
                            opt.beta1, opt.beta2, opt.eps, decay, l2, pss)
    elif opt.solver == ADAGRAD:
        if floating is float:
            fm_adagrad_step_f(theta + i0, grad + i0, s1, m, lr, opt.eps, l2, pss)
        else:
            fm_adagrad_step_d(theta + i0, grad + i0, s1, m, lr, opt.eps, l2, pss)
    elif opt.solver == RMSPROP:
        # state: E, then the momentum buffer, then the mean gradient
        if opt.momentum > 0:
            buf = s2
        if opt.centered:
            gavg = state + (2 if opt.momentum > 0 else 1) * n + i0
        if floating is float:
            fm_rmsprop_step_f(theta + i0, grad + i0, s1, buf, gavg, m, lr,
                              opt.rho, opt.eps, opt.momentum, l2, pss)
        else:
            fm_rmsprop_step_d(theta + i0, grad + i0, s1, buf, gavg, m, lr,
                              opt.rho, opt.eps, opt.momentum, l2, pss)
    elif opt.solver == ADADELTA:
        if floating is float:
            fm_adadelta_step_f(theta + i0, grad + i0, s1, s2, m, lr, opt.rho, opt.eps, l2, pss)
        else:
            fm_adadelta_step_d(theta + i0, grad + i0, s1, s2, m, lr, opt.rho, opt.eps, l2, pss)
    return ss


cdef double _optimizer_step(const Net *net, const OptParams *opt,
                            floating *theta, const floating *grad,
                            floating *state, intp n, long long t,
                            double lr, double l2, double *partial) noexcept nogil:
    """One update of theta from grad + l2 * (the weights): one fused loop
    over the flat vectors.  Returns sum(weights**2) after the update (the
    next minibatch's L2 penalty, at no extra pass) when `partial` (one
    double per SS_BLOCK elements) is given, else 0.

    t is the 1-based step count, lr this step's learning rate.  theta[:n_decay]
    are the weights: adamw's decay and the L2 term apply there only.

    Each thread takes one contiguous run of SS_BLOCK-element blocks, not
    interleaved blocks: thread i then updates the rows of the first (largest)
    weight matrix whose gradient it has just computed in the split GEMM,
    still in its core's cache (measured on MNIST (100,)/128, 2 threads:
    16K-element blocks, 3 to one thread and 2 to the other, made the step
    20% slower; running it on one thread of the two, 4x slower: the other
    core's half of the gradient then has to cross over).  The sum of squares
    is added per block, then over the blocks in order: the same for any
    number of threads.
    """
    cdef int nt = _threads(net, n)
    cdef intp nblk = (n + SS_BLOCK - 1) // SS_BLOCK
    cdef intp per = (nblk + nt - 1) // nt
    cdef intp p, k, i0, i1, cut
    cdef double c1 = 1.0 - pow(opt.beta1, <double>t)
    cdef double c2 = 1.0 - pow(opt.beta2, <double>t)
    cdef double wd = opt.weight_decay if opt.solver == ADAMW else 0.0
    cdef double ss, total = 0.0
    for p in prange((nblk + per - 1) // per, schedule='static', num_threads=nt):
        for k in range(p * per, min(p * per + per, nblk)):
            i0 = k * SS_BLOCK
            i1 = min(i0 + SS_BLOCK, n)
            cut = min(max(opt.n_decay, i0), i1)
            ss = 0.0
            if cut > i0:
                ss = _step_block(opt, theta, grad, state, n, i0, cut, lr, c1, c2,
                                 wd, l2, partial != NULL)
            if i1 > cut:
                _step_block(opt, theta, grad, state, n, cut, i1, lr, c1, c2, 0.0,
                            0.0, False)
            if partial != NULL:
                partial[k] = ss
    if partial != NULL:
        for k in range(nblk):
            total += partial[k]
    return total


cdef double _sumsq(const Net *net, const floating *x, intp n,
                   double *partial) noexcept nogil:
    """sum(x[:n]**2) in double, in the optimiser step's blocks and order."""
    cdef int nt = _threads(net, n)
    cdef intp nblk = (n + SS_BLOCK - 1) // SS_BLOCK, k, i0
    cdef double total = 0.0
    for k in prange(nblk, schedule='static', num_threads=nt):
        i0 = k * SS_BLOCK
        if floating is float:
            partial[k] = fm_sumsq_f(x + i0, min(SS_BLOCK, n - i0))
        else:
            partial[k] = fm_sumsq_d(x + i0, min(SS_BLOCK, n - i0))
    for k in range(nblk):
        total += partial[k]
    return total


# Python entry points ---------------------------------------------------------

cdef Net _make_net(const intp[::1] sizes, const intp[::1] w_off,
                   const intp[::1] b_off, const int[::1] act,
                   const double[::1] act_param, int out,
                   const intp[::1] g_off, const double[::1] dropout,
                   const double[::1] running, Reg reg, intp capacity,
                   int n_threads, bint split_gemm, bint update_stats) except *:
    cdef Net net
    cdef intp l, hidden = 0
    for l in range(1, sizes.shape[0] - 1):
        hidden += sizes[l]
    net.bn = reg.bn != 0 and hidden > 0
    if net.bn and (g_off.shape[0] != sizes.shape[0] - 2
                   or running.shape[0] != 2 * hidden):
        raise ValueError("batch norm needs gamma offsets and running statistics")
    if dropout.shape[0] not in (0, sizes.shape[0] - 2):
        raise ValueError("one dropout rate per hidden layer")
    net.bn_momentum = reg.bn_momentum
    net.bn_eps = reg.bn_eps
    net.update_stats = update_stats
    net.g_off = &g_off[0] if net.bn else NULL
    # written only in training, where the caller owns a writable copy
    net.running = <double *>&running[0] if net.bn else NULL
    net.dropout = &dropout[0] if dropout.shape[0] > 0 else NULL
    net.input_noise = reg.input_noise
    net.seed = <uint64_t>reg.seed
    net.epoch = <uint64_t>reg.epoch
    net.batch = 0
    net.prof = NULL
    net.n_layers = sizes.shape[0] - 1
    net.sizes = &sizes[0]
    net.w_off = &w_off[0]
    net.b_off = &b_off[0]
    # A network without hidden layers has no activations: point anywhere.
    net.act = &act[0] if act.shape[0] > 0 else NULL
    net.act_param = &act_param[0] if act_param.shape[0] > 0 else NULL
    net.out = out
    net.capacity = capacity
    net.n_threads = max(1, n_threads)
    net.vec_threads = 1
    net.split_gemm = split_gemm
    net.sparse = False
    net.sp_parts = 0
    net.sp_split = NULL
    net.sp_cols = NULL
    net.sp_vals = NULL
    net.sp_nnz = NULL
    net.sp_colptr = NULL
    net.sp_rowidx = NULL
    net.sp_cvals = NULL
    return net


def train_epoch(
    const floating[:, ::1] X,            # IN  (n_samples, n_features)
    const floating[:, ::1] Y,            # IN  (n_samples, n_outputs)
    const floating[::1] sample_weight,   # IN  (n_samples,) or empty
    const intp[::1] order,               # IN  sample order, or empty: 0..n-1
    intp batch_size,
    floating[::1] theta,                 # INOUT
    floating[::1] grad,                  # OUT (scratch)
    floating[::1] state,                 # INOUT optimiser state
    long long t,                         # steps taken so far
    OptParams opt,
    const double[::1] lr_steps,          # IN  rate of each step, or empty: opt.lr
    const intp[::1] sizes, const intp[::1] w_off, const intp[::1] b_off,
    const int[::1] act, const double[::1] act_param, int out,
    const intp[::1] g_off, const double[::1] dropout, const double[::1] running,
    Reg reg,
    floating[::1] work, double[::1] dwork, int n_threads,
    bint split_gemm=False,
    double[::1] profile=None,            # INOUT seconds per phase (PROFILE_PHASES)
    const intp[::1] sparse_split=None,   # IN  sparse first layer: feature parts
):
    """Run one epoch of minibatch training without the GIL.

    With ``sparse_split`` (0 = k_0 < k_1 < ... < k_P = n_features) the
    first layer works on each minibatch's nonzeros: its forward product
    reads only the rows of W that a nonzero selects, and thread p computes
    the weight gradient's rows k_p:k_{p+1} (parts chosen by the caller to
    hold equal numbers of nonzeros).  For inputs that are mostly zeros.
    The dense minibatch is then never formed; input noise is excluded.

    With batch norm a minibatch of one sample (possible only as the last of
    an epoch) is skipped: its statistics are undefined.

    Returns ``(loss_sum, t, n_batches, failed_batch)``: ``loss_sum`` is the
    sum over batches of the batch objective times the batch length
    (scikit-learn's ``accumulated_loss``), ``t`` the updated step count, and
    ``failed_batch`` the index of the first batch with a non-finite loss
    (-1 if none; training stops there, before that batch's update).
    """
    cdef intp n = X.shape[0], n_in = X.shape[1]
    cdef Net net = _make_net(sizes, w_off, b_off, act, act_param, out, g_off,
                             dropout, running, reg, batch_size, n_threads,
                             split_gemm, True)
    cdef bint has_rates = lr_steps.shape[0] > 0

    if n == 0:
        return 0.0, t, 0, -1
    if has_rates and lr_steps.shape[0] < (n + batch_size - 1) // batch_size:
        raise ValueError("lr_steps must hold one rate per minibatch")
    if profile is not None:
        if profile.shape[0] < PROF_N + 1:
            raise ValueError(f"profile needs {PROF_N + 1} entries")
        net.prof = &profile[0]
    if sparse_split is not None and sparse_split.shape[0] > 1:
        _check_split(sparse_split, n_in)
        if net.input_noise > 0:
            raise ValueError("the sparse first layer excludes input noise")
    try:
        if (sparse_split is not None and sparse_split.shape[0] > 1
                and not _sparse_alloc(&net, sparse_split, sizeof(floating))):
            raise MemoryError()
        return _train_loop(X, Y, sample_weight, order, batch_size, theta, grad,
                           state, t, &opt, lr_steps, &net, work, dwork)
    finally:
        _sparse_free(&net)


cdef _check_split(const intp[::1] split, intp n_in):
    cdef intp p
    if split[0] != 0 or split[split.shape[0] - 1] != n_in:
        raise ValueError("sparse_split must run from 0 to n_features")
    for p in range(split.shape[0] - 1):
        if split[p + 1] < split[p]:
            raise ValueError("sparse_split must be non-decreasing")


cdef bint _sparse_alloc(Net *net, const intp[::1] split, size_t item):
    """The sparse first layer's buffers, for net.capacity rows; False when
    out of memory."""
    cdef intp n_in = net.sizes[0], cap = net.capacity
    net.sparse = True
    net.sp_parts = <int>(split.shape[0] - 1)
    net.sp_split = &split[0]
    net.sp_cols = <int32_t *>malloc(cap * n_in * sizeof(int32_t) + 1)
    net.sp_vals = malloc(cap * n_in * item + 1)
    net.sp_nnz = <intp *>malloc(cap * sizeof(intp) + 1)
    net.sp_colptr = <intp *>malloc((n_in + net.sp_parts) * sizeof(intp))
    net.sp_rowidx = <int32_t *>malloc(cap * n_in * sizeof(int32_t) + 1)
    net.sp_cvals = malloc(cap * n_in * item + 1)
    return not (net.sp_cols == NULL or net.sp_vals == NULL or net.sp_nnz == NULL
                or net.sp_colptr == NULL or net.sp_rowidx == NULL
                or net.sp_cvals == NULL)


cdef void _sparse_free(Net *net) noexcept:
    free(net.sp_cols)
    free(net.sp_vals)
    free(net.sp_nnz)
    free(net.sp_colptr)
    free(net.sp_rowidx)
    free(net.sp_cvals)
    net.sparse = False
    net.sp_cols = net.sp_rowidx = NULL
    net.sp_vals = net.sp_cvals = NULL
    net.sp_nnz = net.sp_colptr = NULL


cdef _train_loop(
    const floating[:, ::1] X, const floating[:, ::1] Y,
    const floating[::1] sample_weight, const intp[::1] order, intp batch_size,
    floating[::1] theta, floating[::1] grad, floating[::1] state, long long t,
    const OptParams *popt, const double[::1] lr_steps, Net *pnet,
    floating[::1] work, double[::1] dwork,
):
    """train_epoch's minibatch loop (the net set up, buffers owned by the
    caller)."""
    cdef Net net = pnet[0]
    cdef OptParams opt = popt[0]
    cdef intp n = X.shape[0], n_in = X.shape[1], n_out = Y.shape[1]
    cdef intp n_params = theta.shape[0]
    cdef intp start, rows, i, b = 0
    cdef bint shuffled = order.shape[0] > 0
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef bint has_rates = lr_steps.shape[0] > 0
    cdef floating *xb
    cdef floating *yb
    cdef floating *swb
    cdef const floating *x
    cdef const floating *y
    cdef const floating *sw
    cdef double loss, sw_sum, sumsq = 0.0, total = 0.0
    cdef intp failed = -1
    cdef intp in_off = _inputs_offset(&net)
    cdef double *partial = _partials(&net, &dwork[0])
    cdef double ss_new, unused = 0.0
    xb = &work[in_off]
    yb = xb + batch_size * n_in
    swb = yb + batch_size * n_out

    with nogil:
        if net.prof != NULL:
            net.prof[PROF_N] = omp_get_wtime()
        # The L2 penalty is folded into the optimiser step, which also
        # returns the weights' new sum of squares for the next minibatch's
        # loss: no pass over the weights in the backward pass.
        if opt.alpha > 0:
            sumsq = _sumsq(&net, &theta[0], opt.n_decay, partial)
        start = 0
        while start < n:
            rows = min(batch_size, n - start)
            net.batch = b
            if net.bn and rows < 2:
                start += rows
                b += 1
                continue
            if net.sparse:
                _gather_sparse(&net, &X[0, 0], n_in,
                               &order[start] if shuffled else NULL, start, rows)
                x = xb      # not read: the first layer uses net.sp_*
            elif shuffled:
                _gather(&net, xb, &X[0, 0], &order[start], rows, n_in)
                x = xb
            else:
                x = &X[start, 0]
            if shuffled:
                _gather(&net, yb, &Y[0, 0], &order[start], rows, n_out)
                y = yb
            else:
                y = &Y[start, 0]
            if net.input_noise > 0:
                if not shuffled:
                    memcpy(xb, x, rows * n_in * sizeof(floating))
                    x = xb
                _add_noise(&net, xb, rows * n_in)
            sw = NULL
            sw_sum = <double>rows
            if weighted:
                sw_sum = 0.0
                for i in range(rows):
                    swb[i] = sample_weight[order[start + i] if shuffled else start + i]
                    sw_sum += swb[i]
                sw = swb
            if sw_sum <= 0:
                # No weight in this batch, hence no gradient: skip it.
                start += rows
                b += 1
                continue
            _mark(&net, PROF_GATHER)
            loss = _forward_backward(&net, &theta[0], &grad[0], x, y, sw, rows,
                                     1.0 / sw_sum, 0.0, True,
                                     &work[0], &dwork[0], &unused)
            loss = (opt.loss_scale * loss + 0.5 * opt.alpha * sumsq) / sw_sum
            if not isfinite(loss):
                failed = b
                break
            total += loss * rows
            t += 1
            ss_new = _optimizer_step(
                &net, &opt, &theta[0], &grad[0], &state[0], n_params, t,
                lr_steps[b] if has_rates else opt.lr, opt.alpha / sw_sum,
                partial if opt.alpha > 0 else NULL)
            if opt.alpha > 0:
                sumsq = ss_new
            _mark(&net, PROF_STEP)
            start += rows
            b += 1
    return total, t, b, failed


def loss_and_grad(
    const floating[:, ::1] X, const floating[:, ::1] Y,
    const floating[::1] sample_weight,
    const floating[::1] theta, floating[::1] grad,
    double alpha, double loss_scale,
    const intp[::1] sizes, const intp[::1] w_off, const intp[::1] b_off,
    const int[::1] act, const double[::1] act_param, int out,
    const intp[::1] g_off, const double[::1] dropout, const double[::1] running,
    Reg reg,
    intp capacity, floating[::1] work, double[::1] dwork, int n_threads,
    bint split_gemm=False, bint update_stats=False,
):
    """Full-batch objective and its gradient (into ``grad``), without the GIL.

    The objective is ``(loss_scale * sum_i sw_i l_i + alpha/2 ||W||^2) /
    sum_i sw_i``, scikit-learn's loss; rows are processed in chunks of
    ``capacity`` and their gradients summed.  Training mode: BN uses the
    statistics of the whole batch (so ``capacity`` must hold all rows) and
    updates the running ones only with ``update_stats``; dropout and input
    noise are off (they would make the objective random).
    """
    cdef intp n = X.shape[0], start, rows, i
    cdef Net net = _make_net(sizes, w_off, b_off, act, act_param, out, g_off,
                             dropout, running, reg, capacity, n_threads,
                             split_gemm, update_stats)
    net.dropout = NULL
    net.input_noise = 0.0
    if net.bn and capacity < n:
        raise ValueError("with batch norm the whole batch must fit the workspace")
    cdef bint weighted = sample_weight.shape[0] > 0
    cdef double sw_total = <double>n, loss = 0.0, sumsq = 0.0
    if weighted:
        sw_total = 0.0
        for i in range(n):
            sw_total += sample_weight[i]
    with nogil:
        start = 0
        while start < n:
            rows = min(capacity, n - start)
            loss += _forward_backward(
                &net, &theta[0], &grad[0], &X[start, 0], &Y[start, 0],
                &sample_weight[start] if weighted else NULL, rows,
                1.0 / sw_total, alpha, start == 0, &work[0], &dwork[0], &sumsq)
            start += rows
    return (loss_scale * loss + 0.5 * alpha * sumsq) / sw_total


def forward(
    const floating[:, ::1] X, const floating[::1] theta,
    floating[:, ::1] out_arr,            # OUT (n_samples, n_outputs)
    const intp[::1] sizes, const intp[::1] w_off, const intp[::1] b_off,
    const int[::1] act, const double[::1] act_param, int out,
    const intp[::1] g_off, const double[::1] dropout, const double[::1] running,
    Reg reg,
    intp capacity, floating[::1] work, int n_threads, bint logits=False,
    int vec_threads=1,
):
    """Predicted outputs, without the GIL.

    With ``logits`` the output layer's pre-activations z are returned (for
    log-probabilities computed stably from them), else its activations.
    ``n_threads`` is for the elementwise loops, ``vec_threads`` for the
    products of the few-sample path (up to GEMV_MAX_ROWS rows), which call
    no BLAS.
    """
    cdef intp n = X.shape[0], n_out = out_arr.shape[1], start, rows, i, j
    cdef Net net = _make_net(sizes, w_off, b_off, act, act_param, out, g_off,
                             dropout, running, reg, capacity, n_threads,
                             False, False)
    cdef floating *res = &work[0] + _act_offset(&net, net.n_layers - 1)
    net.vec_threads = max(1, vec_threads)
    with nogil:
        start = 0
        while start < n:
            rows = min(capacity, n - start)
            _forward(&net, &theta[0], &X[start, 0], rows, &work[0], NULL,
                     False, logits)
            for i in range(rows):
                for j in range(n_out):
                    out_arr[start + i, j] = res[i * n_out + j]
            start += rows


FEW_ROWS = GEMV_MAX_ROWS   # the most rows Plan.forward_few takes


cdef class Plan:
    """A network's structure bound once, for predictions of a few samples.

    ``forward`` would convert a dozen arrays on every call (microseconds,
    as long as the product itself for one MNIST sample); a Plan keeps them,
    and its ``forward_few`` takes just the inputs, parameters and output.
    """
    cdef Net net
    cdef const intp[::1] sizes, w_off, b_off, g_off
    cdef const int[::1] act
    cdef const double[::1] act_param, dropout
    cdef readonly object running
    cdef const double[::1] _running
    cdef intp n_work

    def __cinit__(self, const intp[::1] sizes, const intp[::1] w_off,
                  const intp[::1] b_off, const int[::1] act,
                  const double[::1] act_param, int out,
                  const intp[::1] g_off, const double[::1] dropout,
                  running, Reg reg):
        self.sizes, self.w_off, self.b_off, self.g_off = sizes, w_off, b_off, g_off
        self.act, self.act_param, self.dropout = act, act_param, dropout
        self.running = running
        self._running = running
        self.net = _make_net(self.sizes, self.w_off, self.b_off, self.act,
                             self.act_param, out, self.g_off, self.dropout,
                             self._running, reg, GEMV_MAX_ROWS, 1, False, False)
        self.n_work = _n_work(&sizes[0], sizes.shape[0] - 1, GEMV_MAX_ROWS)

    def forward_few(self, const floating[:, ::1] X, const floating[::1] theta,
                    floating[:, ::1] out_arr, int vec_threads, bint logits):
        """Outputs for up to GEMV_MAX_ROWS rows of X, as ``forward``.

        Returns False, leaving out_arr unspecified, when X holds NaN or
        infinity (the caller then reports it).
        """
        cdef intp rows = X.shape[0], n_in = X.shape[1], i, j
        cdef intp n_out = out_arr.shape[1]
        cdef Net net = self.net
        cdef floating *work
        cdef const floating *res
        cdef int bad
        if not 0 < rows <= GEMV_MAX_ROWS:
            raise ValueError(f"forward_few takes 1 to {GEMV_MAX_ROWS} rows")
        if (n_in != net.sizes[0] or out_arr.shape[0] != rows
                or n_out != net.sizes[net.n_layers]):
            raise ValueError("X, out and the network do not match")
        net.vec_threads = max(1, vec_threads)
        with nogil:
            if floating is float:
                bad = fm_nonfinite_f(&X[0, 0], rows * n_in)
            else:
                bad = fm_nonfinite_d(&X[0, 0], rows * n_in)
            if bad:
                with gil:
                    return False
            work = <floating *>malloc(self.n_work * sizeof(floating))
            if work == NULL:
                with gil:
                    raise MemoryError()
            _forward(&net, &theta[0], &X[0, 0], rows, work, NULL, False, logits)
            res = work + _act_offset(&net, net.n_layers - 1)
            for i in range(rows):
                for j in range(n_out):
                    out_arr[i, j] = res[i * n_out + j]
            free(work)
        return True


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
        if floating is float:
            bad += fm_nonfinite_f(x + i0, i1 - i0)
        else:
            bad += fm_nonfinite_d(x + i0, i1 - i0)
    return bad == 0


def optimizer_step(
    floating[::1] theta,                 # INOUT
    const floating[::1] grad,            # IN
    floating[::1] state,                 # INOUT
    long long t,                         # 1-based step count of this step
    OptParams opt,
    int n_threads=1,
    double l2=0.0,
):
    """One optimiser update of ``theta``, as ``train_epoch`` applies it:
    from ``grad + l2 * theta`` on the weights (``theta[:opt.n_decay]``).

    Returns the weights' sum of squares after the update.  Exposed for
    tests and benchmarks of the optimisers on their own.
    """
    cdef intp n = theta.shape[0]
    cdef Net net
    cdef double ss
    net.n_threads = max(1, n_threads)
    net.split_gemm = False
    if grad.shape[0] != n or state.shape[0] < n * n_state_vectors(opt):
        raise ValueError("grad and state must match theta's length")
    if not 0 <= opt.n_decay <= n:
        raise ValueError("n_decay must lie in [0, len(theta)]")
    cdef double[::1] partial = np.empty((n + SS_BLOCK - 1) // SS_BLOCK + 1)
    with nogil:
        ss = _optimizer_step(&net, &opt, &theta[0], &grad[0], &state[0], n, t,
                             opt.lr, l2, &partial[0])
    return ss


def n_state_vectors(OptParams opt):
    """Number of theta-sized state vectors the solver keeps."""
    if opt.solver in (ADAM, ADAMW, ADADELTA):
        return 2
    if opt.solver == RMSPROP:
        return 1 + (opt.momentum > 0) + (opt.centered != 0)
    return 1


def parallel_copy(floating[::1] dst, const floating[::1] src, int n_threads=1):
    """dst[:] = src with `n_threads` OpenMP threads, each copying one
    contiguous share: the machine's copy bandwidth as the optimiser
    benchmark measures it (STREAM's copy)."""
    cdef intp n = src.shape[0], t, i0, i1, share
    cdef int nt = max(1, n_threads)
    if dst.shape[0] != n:
        raise ValueError("dst and src must have the same length")
    if n == 0:
        return
    share = (n + nt - 1) // nt
    with nogil:
        for t in prange(nt, schedule='static', num_threads=nt):
            i0 = t * share
            i1 = min(i0 + share, n)
            if i1 > i0:
                memcpy(&dst[i0], &src[i0], (i1 - i0) * sizeof(floating))


def random_fill(floating[::1] a, double p, double noise_std,
                unsigned long long seed, long long epoch, long long batch,
                long long stream):
    """Apply the engine's dropout (rate p) and then its Gaussian noise
    (std noise_std) to ``a`` in place, with the random numbers of
    (seed, epoch, batch, stream) that training would draw.  For tests."""
    cdef intp n = a.shape[0]
    cdef uint64_t key = fm_batch_key(seed, epoch, batch, stream)
    cdef floating[::1] mask
    if n == 0:
        return
    mask = np.empty_like(a)
    with nogil:
        if p > 0:
            if floating is float:
                fm_dropout_f(&a[0], &mask[0], n, 0, p, key)
            else:
                fm_dropout_d(&a[0], &mask[0], n, 0, p, key)
        if noise_std > 0:
            if floating is float:
                fm_add_noise_f(&a[0], n, 0, noise_std, key)
            else:
                fm_add_noise_d(&a[0], n, 0, noise_std, key)


def gemm(const floating[:, ::1] A, const floating[:, ::1] B, floating[:, ::1] C,
         int repeats=1):
    """C = A @ B, `repeats` times, through scipy.linalg.cython_blas without
    the GIL: the machine's GEMM rate as the engine sees it (bench/peak.py).
    BLAS's threads are whatever threadpoolctl set."""
    cdef intp m = A.shape[0], k = A.shape[1], n = B.shape[1], r
    if B.shape[0] != k or C.shape[0] != m or C.shape[1] != n:
        raise ValueError("shapes do not match: C (m, n) = A (m, k) @ B (k, n)")
    if m == 0 or n == 0 or k == 0:
        return
    with nogil:
        for r in range(repeats):
            gemm_rm(c'N', c'N', m, n, k, <floating>1.0, &A[0, 0], k, &B[0, 0], n,
                    <floating>0.0, &C[0, 0], n)
