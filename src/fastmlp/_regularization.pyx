"""Batch normalisation, dropout, input noise, mixup, adversarial examples,
gradient clipping and the max-norm constraint over the engine's blocks.

Batch normalisation (Ioffe & Szegedy) runs per feature, parallel over
blocks of COL_BLOCK columns: the batch's mean and biased variance in double,
x-hat kept for the exact backward pass, and the running statistics moved by
PyTorch's rule.  Dropout and noise draw counter-based random numbers keyed
by (seed, epoch, batch, stream): element i of a batch's matrix draws counter
i of its stream, whatever thread handles it.
"""

from cython.parallel cimport prange
from libc.math cimport sqrt
from libc.stdint cimport uint32_t, uint64_t

import numpy as np

from ._common cimport (
    COL_BLOCK, ELEM_BLOCK, ROW_BLOCK, SS_BLOCK, Layout, Threads, Training,
    Workspace, hidden_offset, intp, threads_for,
)
from ._kernels cimport (
    fm_batch_key, fm_mixup_draw, k_add_noise, k_bn_backward, k_bn_normalize_act,
    k_bn_stats, k_colscale, k_colsumsq, k_dropout, k_dropout_act_backward, k_fgsm,
    k_grad_scale, k_grad_sumsq, k_mix_rows, k_scale_shift_act,
)


#: The random stream of mixup's draws (input noise is stream 0, dropout of
#: hidden layer l stream l + 1).
cdef uint64_t MIXUP_STREAM = 4294967296


cdef inline floating *_pre(const Workspace *ws, intp l, floating *work) noexcept nogil:
    """The kept input of hidden layer l's activation, or NULL."""
    return (work + ws.pre[l]) if ws.pre[l] >= 0 else NULL


cdef void bn_forward_train(const Layout *lay, const Threads *th, const Workspace *ws,
                           Training *tr, intp l, floating *z, intp rows,
                           const floating *theta) noexcept nogil:
    """Batch normalisation and activation of hidden layer l in training.

    x-hat = (z - mean) / sqrt(var + eps), z := act(gamma x-hat + beta); the
    running statistics (with tr.update_stats) move towards the batch's with
    PyTorch's rule: the unbiased variance, the new batch weighted by the
    momentum.  The only writer of the running statistics.
    """
    cdef floating *work = <floating *>ws.work
    cdef intp cols = lay.sizes[l + 1], j, blk, c0, c1
    cdef intp nb = (cols + COL_BLOCK - 1) // COL_BLOCK
    cdef intp h = hidden_offset(lay, l), nh = lay.n_hidden
    cdef double *mean = ws.bn_mean + h
    cdef double *inv_std = mean + nh
    cdef double *rmean = tr.running + h
    cdef double *rvar = tr.running + nh + h
    cdef floating *xhat = work + ws.xhat + ws.capacity * h
    cdef floating *u = _pre(ws, l, work)
    cdef double m = tr.bn_momentum, unbias = (<double>rows) / (rows - 1)
    cdef int nt = threads_for(th, rows * cols)
    for blk in prange(nb, schedule='static', num_threads=nt):
        c0 = blk * COL_BLOCK
        c1 = min(c0 + COL_BLOCK, cols)
        k_bn_stats(z + c0, rows, cols, c1 - c0, mean + c0, inv_std + c0)
        for j in range(c0, c1):
            if tr.update_stats:
                rmean[j] = (1.0 - m) * rmean[j] + m * mean[j]
                rvar[j] = (1.0 - m) * rvar[j] + m * inv_std[j] * unbias
            inv_std[j] = 1.0 / sqrt(inv_std[j] + lay.bn_eps)
        k_bn_normalize_act(z + c0, xhat + c0, (u + c0) if u != NULL else NULL,
                           rows, cols, c1 - c0, mean + c0, inv_std + c0,
                           theta + lay.g_off[l] + c0, theta + lay.b_off[l] + c0,
                           lay.act[l], lay.act_param[l])


cdef void bn_forward_eval(const Layout *lay, const Workspace *ws, intp l, floating *z,
                          intp rows, const floating *theta) noexcept nogil:
    """BN with the running statistics, folded into one scale and shift per
    feature, then the activation."""
    cdef floating *work = <floating *>ws.work
    cdef intp cols = lay.sizes[l + 1], j
    cdef intp h = hidden_offset(lay, l), nh = lay.n_hidden
    cdef floating *scale = work + ws.scale
    cdef floating *shift = scale + lay.max_width
    cdef double sc
    for j in range(cols):
        sc = theta[lay.g_off[l] + j] / sqrt(lay.running[nh + h + j] + lay.bn_eps)
        scale[j] = <floating>sc
        shift[j] = <floating>(theta[lay.b_off[l] + j] - sc * lay.running[h + j])
    k_scale_shift_act(z, scale, shift, rows, cols, lay.act[l], lay.act_param[l])


cdef void bn_backward(const Layout *lay, const Threads *th, const Workspace *ws,
                      intp l, floating *dy, intp rows, const floating *theta,
                      floating *grad) noexcept nogil:
    """The exact backward pass of BN of hidden layer l: dgamma and dbeta into
    grad, dy := dLoss/dz."""
    cdef const floating *work = <const floating *>ws.work
    cdef intp cols = lay.sizes[l + 1], blk, c0, c1
    cdef intp nb = (cols + COL_BLOCK - 1) // COL_BLOCK
    cdef intp h = hidden_offset(lay, l)
    cdef const double *inv_std = ws.bn_mean + lay.n_hidden + h
    cdef const floating *xhat = work + ws.xhat + ws.capacity * h
    cdef int nt = threads_for(th, rows * cols)
    for blk in prange(nb, schedule='static', num_threads=nt):
        c0 = blk * COL_BLOCK
        c1 = min(c0 + COL_BLOCK, cols)
        k_bn_backward(dy + c0, xhat + c0, rows, cols, c1 - c0, inv_std + c0,
                      theta + lay.g_off[l] + c0, grad + lay.g_off[l] + c0,
                      grad + lay.b_off[l] + c0)


cdef inline uint64_t _key(const Training *tr, uint64_t stream) noexcept nogil:
    """Key of one stream (0: input noise, l + 1: dropout of hidden layer l)
    of the current batch."""
    return fm_batch_key(tr.seed, tr.epoch, tr.batch, stream)


cdef void dropout_forward(const Layout *lay, const Threads *th, const Workspace *ws,
                          const Training *tr, intp l, floating *a, intp n) noexcept nogil:
    """Inverted dropout of hidden layer l's n activations; the factors are
    kept for the backward pass."""
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = threads_for(th, n)
    cdef uint64_t key = _key(tr, l + 1)
    cdef double p = tr.dropout[l]
    cdef floating *mask = (<floating *>ws.work + ws.mask
                           + ws.capacity * hidden_offset(lay, l))
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        k_dropout(a + i0, mask + i0, i1 - i0, <uint32_t>i0, p, key)


cdef void dropout_backward(const Layout *lay, const Threads *th, const Workspace *ws,
                           const Training *tr, intp l, floating *a,
                           const floating *g, intp n) noexcept nogil:
    """a := g * dropout'(act'(input)) for hidden layer l (a its output)."""
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = threads_for(th, n)
    cdef double p = tr.dropout[l]
    cdef floating *work = <floating *>ws.work
    cdef const floating *mask = work + ws.mask + ws.capacity * hidden_offset(lay, l)
    cdef const floating *u = _pre(ws, l, work)
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        k_dropout_act_backward(a + i0, g + i0, (u + i0) if u != NULL else NULL,
                               mask + i0, i1 - i0, p, lay.act[l], lay.act_param[l])


cdef void add_noise(const Threads *th, const Training *tr, floating *x,
                    intp n) noexcept nogil:
    """x += input_noise * N(0, 1), element i drawing counter i."""
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = threads_for(th, n // 8)   # costly per element: split sooner
    cdef uint64_t key = _key(tr, 0)
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        k_add_noise(x + i0, i1 - i0, <uint32_t>i0, tr.input_noise, key)


cdef double mixup(const Threads *th, const Training *tr, double alpha,
                  const floating *x, const floating *y, intp rows, intp n_in,
                  intp n_out, intp *perm, floating *mx, floating *my) noexcept nogil:
    """Mixup (Zhang et al. 2018) of a minibatch: one lambda ~ Beta(alpha,
    alpha) and one permutation j of its rows, drawn from the batch's
    counter-based stream; mx = lambda x + (1 - lambda) x[j] and my likewise
    for the targets.  Returns lambda."""
    cdef double lam = fm_mixup_draw(_key(tr, MIXUP_STREAM), alpha, rows, perm)
    cdef intp blk, r0, r1, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = threads_for(th, rows * (n_in + n_out))
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, rows)
        k_mix_rows(mx, x, perm, r0, r1, n_in, lam)
        k_mix_rows(my, y, perm, r0, r1, n_out, lam)
    return lam


def mixup_draw(seed, epoch, batch, double alpha, intp rows):
    """The (lambda, permutation) that training draws for minibatch `batch`
    of epoch `epoch` with random seed `seed` (for tests)."""
    perm = np.empty(rows, dtype=np.intp)
    cdef intp[::1] p = perm
    lam = fm_mixup_draw(fm_batch_key(seed, epoch, batch, MIXUP_STREAM), alpha, rows,
                        &p[0] if rows > 0 else NULL)
    return lam, perm


cdef void fgsm_perturb(const Threads *th, const floating *x, floating *adv,
                       intp n, double eps) noexcept nogil:
    """adv := x + eps * sign(adv) over n elements, adv holding the gradient
    with respect to x (the fast gradient sign method)."""
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = threads_for(th, n)
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        k_fgsm(adv + i0, x + i0, i1 - i0, eps)


# Constraints and stabilisers ------------------------------------------------------

cdef bint clip_grad_norm(const Threads *th, floating *grad, const floating *theta,
                         intp n, intp n_decay, double l2, double max_norm,
                         double *partial) noexcept nogil:
    """Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_:
    g = grad + l2 * theta (l2 on theta[:n_decay], the weights; the L2 term
    of the loss is part of the gradient that is clipped), N = ||g||_2 over
    all parameters; when c = max_norm / (N + 1e-6) < 1, grad := c * g and
    True is returned (the L2 term is then in grad: the step takes l2 = 0);
    otherwise grad is left as it is.  The norm is summed per SS_BLOCK
    block, then over the blocks in order: the same for any thread count."""
    cdef int nt = threads_for(th, n)
    cdef intp nblk = (n + SS_BLOCK - 1) // SS_BLOCK, k, i0, i1, cut
    cdef double total = 0.0, coef
    for k in prange(nblk, schedule='static', num_threads=nt):
        i0 = k * SS_BLOCK
        i1 = min(i0 + SS_BLOCK, n)
        cut = min(max(n_decay, i0), i1)
        partial[k] = 0.0
        if cut > i0:
            partial[k] = k_grad_sumsq(grad + i0, theta + i0, cut - i0, l2)
        if i1 > cut:
            partial[k] = partial[k] + k_grad_sumsq(grad + cut, theta + cut, i1 - cut, 0.0)
    for k in range(nblk):
        total += partial[k]
    coef = max_norm / (sqrt(total) + 1e-6)
    if not coef < 1.0:     # (a NaN norm is left to the loss check)
        return False
    for k in prange(nblk, schedule='static', num_threads=nt):
        i0 = k * SS_BLOCK
        i1 = min(i0 + SS_BLOCK, n)
        cut = min(max(n_decay, i0), i1)
        if cut > i0:
            k_grad_scale(grad + i0, theta + i0, cut - i0, l2, coef)
        if i1 > cut:
            k_grad_scale(grad + cut, theta + cut, i1 - cut, 0.0, coef)
    return True


cdef void max_norm_project(const Layout *lay, const Threads *th, floating *theta,
                           double c, double *acc) noexcept nogil:
    """The max-norm constraint (Srivastava et al. 2014, Sec. 5.1): every
    hidden unit's incoming weight vector, column j of its layer's (n_in,
    n_out) W (biases, BN's gamma and beta and the output layer excluded),
    scaled onto the L2 ball of radius c when its norm exceeds c.  Parallel
    over blocks of COL_BLOCK columns, each column summed in row order by one
    thread; acc holds max_width doubles."""
    cdef intp l, rows, cols, blk, c0, c1, j, nb
    cdef floating *W
    cdef double nrm
    cdef int nt
    for l in range(lay.n_layers - 1):
        rows = lay.sizes[l]
        cols = lay.sizes[l + 1]
        W = theta + lay.w_off[l]
        nb = (cols + COL_BLOCK - 1) // COL_BLOCK
        nt = threads_for(th, rows * cols)
        for blk in prange(nb, schedule='static', num_threads=nt):
            c0 = blk * COL_BLOCK
            c1 = min(c0 + COL_BLOCK, cols)
            for j in range(c0, c1):
                acc[j] = 0.0
            k_colsumsq(W + c0, rows, cols, c1 - c0, acc + c0)
            nrm = 0.0
            for j in range(c0, c1):
                acc[j] = sqrt(acc[j])
                if acc[j] > c:
                    acc[j] = c / acc[j]
                    nrm = 1.0
                else:
                    acc[j] = 1.0
            if nrm > 0:
                k_colscale(W + c0, rows, cols, c1 - c0, acc + c0)
