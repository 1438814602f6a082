"""The first layer on a minibatch's nonzeros.

For inputs that are mostly zeros (images, one-hot codes), each minibatch is
gathered as its nonzeros (csrc/sparse.c), and the first layer's forward
product and weight gradient read only the rows of W, and of the delta, that
a nonzero selects (bench/DECISIONS.md D12, D17).  The forward product splits
W's columns between threads; the weight gradient splits the features into
runs of equal expected nonzeros, one per thread, chosen by the caller.
"""

from cython.parallel cimport prange
from libc.stdint cimport int32_t
from libc.stdlib cimport free, malloc

import numpy as np

from ._common cimport ROW_BLOCK, SparseBatch, Threads, intp, threads_for
from ._kernels cimport fm_force_portable, k_csc_wgrad, k_csr_matmul, k_csr_rows


def portable_kernels(flag=None):
    """Get (and with `flag`, set) whether this module's kernels take their
    portable paths where the CPU would allow faster ones (AVX-512's
    compress): for tests of the paths a machine would not otherwise run."""
    global fm_force_portable
    previous = bool(fm_force_portable)
    if flag is not None:
        fm_force_portable = bool(flag)
    return previous


cdef class SparseFirstLayer:
    """Buffers of the sparse first layer for batches of `capacity` rows of
    `n_features` inputs, the weight gradient cut at `split` (0 = k_0 <= k_1
    <= ... <= k_P = n_features, one part per thread)."""

    def __cinit__(self, split, intp n_features, intp capacity, size_t itemsize):
        cdef intp[::1] s = np.ascontiguousarray(split, dtype=np.intp)
        cdef intp p
        if s.shape[0] < 2 or s[0] != 0 or s[s.shape[0] - 1] != n_features:
            raise ValueError("sparse_split must run from 0 to n_features")
        for p in range(s.shape[0] - 1):
            if s[p + 1] < s[p]:
                raise ValueError("sparse_split must be non-decreasing")
        self._split = s
        self.batch.parts = <int>(s.shape[0] - 1)
        self.batch.split = &s[0]
        # + 1: malloc(0) may return NULL
        self.batch.cols = <int32_t *>malloc(capacity * n_features * sizeof(int32_t) + 1)
        self.batch.vals = malloc(capacity * n_features * itemsize + 1)
        self.batch.nnz = <intp *>malloc(capacity * sizeof(intp) + 1)
        self.batch.colptr = <intp *>malloc((n_features + self.batch.parts) * sizeof(intp))
        self.batch.rowidx = <int32_t *>malloc(capacity * n_features * sizeof(int32_t) + 1)
        self.batch.cvals = malloc(capacity * n_features * itemsize + 1)
        if (self.batch.cols == NULL or self.batch.vals == NULL or self.batch.nnz == NULL
                or self.batch.colptr == NULL or self.batch.rowidx == NULL
                or self.batch.cvals == NULL):
            raise MemoryError()

    def __dealloc__(self):
        free(self.batch.cols)
        free(self.batch.vals)
        free(self.batch.nnz)
        free(self.batch.colptr)
        free(self.batch.rowidx)
        free(self.batch.cvals)


cdef void sparse_gather(const Threads *th, const SparseBatch *sb, const floating *X,
                        intp n_in, const intp *idx, intp start, intp rows) noexcept nogil:
    """The minibatch's nonzeros (rows idx[0:rows] of X, or start:start+rows
    without idx), in blocks of rows shared by the threads."""
    cdef intp blk, r0, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = threads_for(th, rows * n_in)
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        k_csr_rows(X, n_in, idx, start, r0, min(r0 + ROW_BLOCK, rows),
                   sb.cols, <floating *>sb.vals, sb.nnz)


cdef void sparse_matmul(const Threads *th, const SparseBatch *sb, intp n_in, intp rows,
                        const floating *W, intp n_out, floating *Z) noexcept nogil:
    """Z = X @ W for the minibatch's nonzeros X: each thread a slab of W's
    columns (whole 64-byte vectors), which stays in its core's cache."""
    cdef intp vl = 64 // sizeof(floating)
    cdef int nt = th.n
    cdef intp p, c0, c1, per, nvec = (n_out + vl - 1) // vl
    if nt > nvec:
        nt = <int>nvec
    per = (nvec + nt - 1) // nt * vl
    for p in prange(nt, schedule='static', num_threads=nt):
        c0 = p * per
        c1 = min(c0 + per, n_out)
        if c0 < c1:
            k_csr_matmul(sb.cols, <const floating *>sb.vals, sb.nnz, n_in, rows, W,
                         n_out, c0, c1, Z, n_out)


cdef void sparse_wgrad(const Threads *th, const SparseBatch *sb, intp n_in,
                       intp capacity, intp rows, const floating *D, intp n_out,
                       floating *dW, bint accumulate) noexcept nogil:
    """dW (= or +=) X^T @ D for the minibatch's nonzeros X: each thread the
    rows of dW of one part of the features, listing their nonzeros itself."""
    cdef intp p, k0
    cdef int nt = min(th.n, sb.parts)
    for p in prange(sb.parts, schedule='static', num_threads=nt):
        k0 = sb.split[p]
        k_csc_wgrad(sb.cols, <const floating *>sb.vals, sb.nnz, n_in, rows, k0,
                    sb.split[p + 1], D, n_out, dW, accumulate, sb.colptr + k0 + p,
                    sb.rowidx + k0 * capacity, <floating *>sb.cvals + k0 * capacity)
