"""Hooks into the engine's kernels and loops, for tests and benchmarks.

Each wraps one C kernel or engine loop with NumPy arrays in and out, so that
it can be checked against a NumPy reference at edge sizes and extreme
values (tests/test_kernels.py) or timed on its own (bench/).  Shapes are
checked here; the kernels themselves trust their inputs.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport int32_t, uint32_t, uint64_t
from libc.string cimport memcpy

import numpy as np

from ._blas cimport gemm_rm
from ._common cimport Threads, intp
from ._kernels cimport (
    FM_N_ACTIVATIONS, fm_activation_needs_input, fm_batch_key, fm_force_portable,
    fm_lists, fm_rows,
    k_act_backward,
    k_add_noise, k_bias_act, k_bn_backward,
    k_bn_stats, k_colsum, k_csc_wgrad, k_csr_matmul, k_csr_rows, k_dropout,
    k_dropout_act_backward, k_gather_rows, k_loss_delta, k_nonfinite, k_output,
    k_sumsq,
)
from ._parallel cimport matmul, vecmat as par_vecmat


cdef Threads _threads(int n_threads, bint split, int parts):
    cdef Threads th
    th.n = max(1, n_threads)
    th.vec = th.n
    th.split_gemm = split
    th.split_parts = max(1, parts)
    return th


def bias_act(floating[:, ::1] z, const floating[::1] b, int act, double param,
             floating[:, ::1] u=None):
    """z := act(z + b) row by row; the input into u (same shape) if given."""
    if b.shape[0] != z.shape[1] or (u is not None and (u.shape[0] != z.shape[0]
                                                  or u.shape[1] != z.shape[1])):
        raise ValueError("shapes do not match")
    if z.shape[0] * z.shape[1] == 0:
        return
    k_bias_act(&z[0, 0], &b[0], &u[0, 0] if u is not None else NULL,
               z.shape[0], z.shape[1], act, param)


cdef _check_input_kept(int act, u):
    if not 0 <= act < FM_N_ACTIVATIONS:
        raise ValueError(f"unknown activation code {act}")
    if u is None and fm_activation_needs_input[act]:
        raise ValueError("this activation's derivative needs its input u")


def act_backward(floating[::1] a, const floating[::1] g, int act, double param,
                 const floating[::1] u=None):
    """a := g * act'(input), from the output a (and the input u)."""
    if g.shape[0] != a.shape[0] or (u is not None and u.shape[0] != a.shape[0]):
        raise ValueError("shapes do not match")
    _check_input_kept(act, u)
    if a.shape[0] == 0:
        return
    k_act_backward(&a[0], &g[0], &u[0] if u is not None else NULL, a.shape[0], act,
                   param)


def dropout_act_backward(floating[::1] a, const floating[::1] g,
                         const floating[::1] mask, double drop, int act, double param,
                         const floating[::1] u=None):
    """The backward pass of act followed by inverted dropout (see csrc)."""
    if (g.shape[0] != a.shape[0] or mask.shape[0] != a.shape[0]
            or (u is not None and u.shape[0] != a.shape[0])):
        raise ValueError("shapes do not match")
    _check_input_kept(act, u)
    if a.shape[0] == 0:
        return
    k_dropout_act_backward(&a[0], &g[0], &u[0] if u is not None else NULL, &mask[0],
                           a.shape[0], drop, act, param)


def _groups(groups, intp cols):
    g = np.ascontiguousarray(np.empty(0) if groups is None else groups, dtype=np.intp)
    if g.ndim != 1 or (len(g) and (np.any(g < 1) or g.sum() != cols)):
        raise ValueError("groups must cut the columns")
    return g


def loss_delta(floating[:, ::1] z, const floating[:, ::1] y, int out, double scale,
               const floating[::1] sw=None, groups=None):
    """Loss sum_i sw_i l_i of the logits z; z becomes the output delta
    (per group of columns with `groups`, their widths)."""
    cdef const intp[::1] g = _groups(groups, z.shape[1])
    if (y.shape[0] != z.shape[0] or y.shape[1] != z.shape[1]
            or (sw is not None and sw.shape[0] != z.shape[0])):
        raise ValueError("shapes do not match")
    if z.shape[0] * z.shape[1] == 0:
        return 0.0
    return k_loss_delta(&z[0, 0], &y[0, 0], &sw[0] if sw is not None else NULL,
                        z.shape[0], z.shape[1], out, scale,
                        &g[0] if g.shape[0] else NULL, g.shape[0])


def output(floating[:, ::1] z, const floating[::1] b, int out, groups=None):
    """z := out(z + b), the output layer at prediction (per group of columns
    with `groups`, their widths)."""
    cdef const intp[::1] g = _groups(groups, z.shape[1])
    if b.shape[0] != z.shape[1]:
        raise ValueError("shapes do not match")
    if z.shape[0] * z.shape[1] == 0:
        return
    k_output(&z[0, 0], &b[0], z.shape[0], z.shape[1], out,
             &g[0] if g.shape[0] else NULL, g.shape[0])


def colsum(const floating[:, ::1] x):
    """Column sums of x, in double."""
    acc = np.zeros(x.shape[1])
    cdef double[::1] a = acc
    if x.shape[0] * x.shape[1]:
        k_colsum(&x[0, 0], x.shape[0], x.shape[1], x.shape[1], &a[0])
    return acc


def sumsq(const floating[::1] x):
    """sum(x**2) in double."""
    return k_sumsq(&x[0], x.shape[0]) if x.shape[0] else 0.0


def nonfinite(const floating[::1] x):
    """Whether x holds NaN or infinity."""
    return bool(k_nonfinite(&x[0], x.shape[0])) if x.shape[0] else False


def vecmat(const floating[::1] x, const floating[:, ::1] W, floating[::1] y,
           int n_threads=1):
    """y = x @ W by the few-sample prediction's kernel (on n_threads)."""
    cdef Threads th = _threads(n_threads, False, 1)
    if W.shape[0] != x.shape[0] or y.shape[0] != W.shape[1]:
        raise ValueError("shapes do not match")
    if y.shape[0] == 0:
        return
    if x.shape[0] == 0:
        y[:] = 0
        return
    with nogil:
        par_vecmat(&th, &x[0], x.shape[0], &W[0, 0], W.shape[1], &y[0])


def matmul_rm(str trans, const floating[:, ::1] A, const floating[:, ::1] B,
              floating[:, ::1] C, double beta=0.0, int n_threads=1,
              bint split=False, int parts=1):
    """C = op(A) @ op(B) + beta C through the engine's row-major GEMM
    (trans: 'NN', 'TN' or 'NT'), split into `parts` blocks over n_threads
    OpenMP threads when `split`."""
    cdef Threads th = _threads(n_threads, split, parts)
    cdef char ta = ord(trans[0]), tb = ord(trans[1])
    cdef intp m = C.shape[0], n = C.shape[1]
    cdef intp k = A.shape[1] if ta == c'N' else A.shape[0]
    if (A.shape[0] if ta == c'N' else A.shape[1]) != m or \
            (B.shape[0] if tb == c'N' else B.shape[1]) != k or \
            (B.shape[1] if tb == c'N' else B.shape[0]) != n:
        raise ValueError("shapes do not match")
    if m == 0 or n == 0:
        return
    with nogil:
        matmul(&th, ta, tb, m, n, k, &A[0, 0] if k else NULL,
               &B[0, 0] if k else NULL, <floating>beta, &C[0, 0])


def bn_stats(const floating[:, ::1] z):
    """BN's batch mean and biased variance of every column, in double."""
    mean, var = np.empty(z.shape[1]), np.empty(z.shape[1])
    cdef double[::1] m = mean, v = var
    if z.shape[0] * z.shape[1]:
        k_bn_stats(&z[0, 0], z.shape[0], z.shape[1], z.shape[1], &m[0], &v[0])
    return mean, var


def bn_backward(floating[:, ::1] dy, const floating[:, ::1] xhat,
                const double[::1] inv_std, const floating[::1] gamma,
                floating[::1] dgamma, floating[::1] dbeta):
    """BN's exact backward pass: dy := dLoss/dz, and dgamma, dbeta."""
    if (xhat.shape[0] != dy.shape[0] or xhat.shape[1] != dy.shape[1]
            or inv_std.shape[0] != dy.shape[1]):
        raise ValueError("shapes do not match")
    if dy.shape[0] * dy.shape[1] == 0:
        return
    k_bn_backward(&dy[0, 0], &xhat[0, 0], dy.shape[0], dy.shape[1], dy.shape[1],
                  &inv_std[0], &gamma[0], &dgamma[0], &dbeta[0])


def gather_rows(const floating[:, ::1] src, const intp[::1] idx, floating[:, ::1] dst):
    """dst = src[idx]."""
    if dst.shape[0] != idx.shape[0] or dst.shape[1] != src.shape[1]:
        raise ValueError("shapes do not match")
    if idx.shape[0] * src.shape[1] == 0:
        return
    k_gather_rows(&dst[0, 0], &src[0, 0], &idx[0], idx.shape[0], src.shape[1])


def sparse_products(const floating[:, ::1] X, const floating[:, ::1] W,
                    const floating[:, ::1] D, int n_threads=1, split=None):
    """The sparse first layer's kernels on rows X: returns (X @ W, X.T @ D)
    computed from X's nonzeros, the weight gradient cut into the feature
    runs `split` (default: one run)."""
    from ._sparse_input import SparseFirstLayer
    cdef intp rows = X.shape[0], n_in = X.shape[1], n_out = W.shape[1], p, c0, c1
    cdef intp[::1] s = np.ascontiguousarray([0, n_in] if split is None else split,
                                            dtype=np.intp)
    if W.shape[0] != n_in or D.shape[0] != rows or D.shape[1] != n_out:
        raise ValueError("shapes do not match")
    Z = np.zeros((rows, n_out), dtype=np.asarray(X).dtype)
    dW = np.zeros((n_in, n_out), dtype=Z.dtype)
    cdef floating[:, ::1] z = Z
    cdef floating[:, ::1] dw = dW
    cols = np.empty(max(1, rows * n_in), dtype=np.int32)
    vals = np.empty(max(1, rows * n_in), dtype=Z.dtype)
    nnz = np.empty(max(1, rows), dtype=np.intp)
    starts = np.arange(max(1, rows), dtype=np.intp) * n_in
    colptr = np.empty(n_in + s.shape[0], dtype=np.intp)
    rowidx = np.empty(max(1, rows * n_in), dtype=np.int32)
    cvals = np.empty(max(1, rows * n_in), dtype=Z.dtype)
    cdef int32_t[::1] c = cols, ri = rowidx
    cdef floating[::1] v = vals, cv = cvals
    cdef intp[::1] nz = nnz, cp = colptr, st = starts
    cdef fm_rows x
    cdef fm_lists lists
    if rows == 0 or n_in == 0 or n_out == 0:
        return Z, dW
    k_csr_rows(&X[0, 0], n_in, NULL, 0, 0, rows, &c[0], &v[0], &nz[0])
    x.cols = &c[0]
    x.vals = &v[0]
    x.start = &st[0]
    x.nnz = &nz[0]
    x.rows = rows
    x.n_features = n_in
    k_csr_matmul(&x, &W[0, 0], n_out, 0, n_out, &z[0, 0], n_out)
    for p in range(s.shape[0] - 1):
        lists.colptr = &cp[0] + s[p] + p
        lists.rowidx = &ri[0] + s[p] * rows
        lists.cvals = &cv[0] + s[p] * rows
        k_csc_wgrad(&x, s[p], s[p + 1], &D[0, 0], n_out, &dw[0, 0], 0, &lists)
    return Z, dW


def portable_kernels(flag=None):
    """Get (and with `flag`, set) whether the kernels that pick a path by the
    CPU take their portable one, in this module and in the engine's sparse
    first layer (each extension module has its own copy of the kernels)."""
    global fm_force_portable
    from ._sparse_input import portable_kernels as engine_side

    previous = bool(fm_force_portable)
    if flag is not None:
        fm_force_portable = bool(flag)
        engine_side(flag)
    return previous


def random_fill(floating[::1] a, double p, double noise_std,
                unsigned long long seed, long long epoch, long long batch,
                long long stream):
    """Apply the engine's dropout (rate p) and then its Gaussian noise
    (std noise_std) to `a` in place, with the random numbers of
    (seed, epoch, batch, stream) that training would draw."""
    cdef intp n = a.shape[0]
    cdef uint64_t key = fm_batch_key(seed, epoch, batch, stream)
    cdef floating[::1] mask
    if n == 0:
        return
    mask = np.empty_like(a)
    with nogil:
        if p > 0:
            k_dropout(&a[0], &mask[0], n, 0, p, key)
        if noise_std > 0:
            k_add_noise(&a[0], n, 0, noise_std, key)


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
