"""The first layer on a minibatch's nonzeros.

For inputs that are mostly zeros (images, one-hot codes, text), each
minibatch is taken as its nonzeros, and the first layer's forward product
and weight gradient read only the rows of W, and of the delta, that a
nonzero selects (csrc/sparse_impl.h; bench/DECISIONS.md D12, D17).  The
nonzeros come from a dense X (compacted row by row), or from a scipy.sparse
matrix, never densified: a shuffled minibatch's rows are copied out of the
CSR arrays, consecutive rows are read where they are.  The forward product
splits W's columns between threads; the weight gradient splits the features
into runs of equal expected nonzeros, one per thread, chosen by the caller.
"""

from cython.parallel cimport prange
from libc.stdint cimport int32_t
from libc.stdlib cimport free, malloc

import numpy as np
import scipy.sparse as sp

from ._common cimport ROW_BLOCK, SparseBatch, Threads, intp, threads_for
from ._kernels cimport (
    fm_csr, fm_force_portable, fm_lists, k_csc_wgrad, k_csr_gather, k_csr_matmul,
    k_csr_rows,
)

_INT32_MAX = 2**31 - 1


def portable_kernels(flag=None):
    """Get (and with `flag`, set) whether this module's kernels take their
    portable paths where the CPU would allow faster ones (AVX-512's
    compress): for tests of the paths a machine would not otherwise run."""
    global fm_force_portable
    previous = bool(fm_force_portable)
    if flag is not None:
        fm_force_portable = bool(flag)
    return previous


cdef class CSRInput:
    """A scipy.sparse matrix (CSR, CSC, COO, ... or sparse array) as the
    engine reads it: CSR with sorted, summed int32 column indices, intp row
    pointers and values of `dtype`, converted once (no copy where the
    matrix already is one).

    Parameters
    ----------
    X : scipy.sparse matrix or array
    dtype : numpy dtype
        The training dtype.
    """

    def __cinit__(self, X, dtype):
        cdef const intp[::1] indptr
        cdef const int32_t[::1] indices
        X = sp.csr_matrix(X, dtype=dtype)
        if X.shape[1] > _INT32_MAX:
            raise ValueError(f"X has {X.shape[1]} features; the sparse kernels "
                             f"take at most {_INT32_MAX}")
        if not X.has_canonical_format:
            X = X.copy()
            X.sum_duplicates()   # also sorts the indices
        self.n_rows, self.n_features = X.shape
        self.data = np.ascontiguousarray(X.data)
        if self.data.shape[0] == 0:
            self.data = np.zeros(1, dtype=dtype)    # a valid pointer
        self.indices = np.ascontiguousarray(X.indices, dtype=np.int32)
        if self.indices.shape[0] == 0:
            self.indices = np.zeros(1, dtype=np.int32)
        self.indptr = np.ascontiguousarray(X.indptr, dtype=np.intp)
        indptr = self.indptr
        indices = self.indices
        self.csr.indptr = &indptr[0]
        self.csr.indices = &indices[0]
        self.csr.data = <const void *><size_t>self.data.ctypes.data

    @property
    def shape(self):
        """(rows, features)."""
        return (self.n_rows, self.n_features)

    @property
    def row_lengths(self):
        """The number of nonzeros of every row."""
        return np.diff(self.indptr)

    def max_batch_nnz(self, capacity):
        """The most nonzeros `capacity` rows can hold: a shuffled minibatch's
        room."""
        lengths = np.sort(self.row_lengths)
        return max(1, int(lengths[-int(capacity):].sum()))


cdef class SparseFirstLayer:
    """Buffers of the sparse first layer for batches of `capacity` rows of
    `n_features` inputs, the weight gradient cut at `split` (0 = k_0 <= k_1
    <= ... <= k_P = n_features, one part per thread).

    `max_nnz` is the most nonzeros a batch holds; None for dense inputs,
    whose row i is compacted at i * n_features (room for capacity *
    n_features).
    """

    def __cinit__(self, split, intp n_features, intp capacity, size_t itemsize,
                  max_nnz=None):
        cdef intp[::1] s = np.ascontiguousarray(split, dtype=np.intp)
        cdef intp[::1] off
        cdef intp p, i, room, n_lists
        cdef bint dense = max_nnz is None
        if s.shape[0] < 2 or s[0] != 0 or s[s.shape[0] - 1] != n_features:
            raise ValueError("sparse_split must run from 0 to n_features")
        for p in range(s.shape[0] - 1):
            if s[p + 1] < s[p]:
                raise ValueError("sparse_split must be non-decreasing")
        room = capacity * n_features if dense else max(1, int(max_nnz))
        # part p lists at most the batch's nonzeros in its features
        off = np.zeros(s.shape[0], dtype=np.intp)
        for p in range(s.shape[0] - 1):
            off[p + 1] = off[p] + min(room, (s[p + 1] - s[p]) * capacity)
        n_lists = off[s.shape[0] - 1]
        self._keep = (s, off)
        self.capacity = capacity
        self.n_features = n_features
        self.batch.parts = <int>(s.shape[0] - 1)
        self.batch.split = &s[0]
        self.batch.part_off = &off[0]
        # + 1: malloc(0) may return NULL
        self.batch.start = <intp *>malloc(capacity * sizeof(intp) + 1)
        self.batch.nnz = <intp *>malloc(capacity * sizeof(intp) + 1)
        self.batch.cols = <int32_t *>malloc(room * sizeof(int32_t) + 1)
        self.batch.vals = malloc(room * itemsize + 1)
        self.batch.colptr = <intp *>malloc((n_features + self.batch.parts) * sizeof(intp))
        self.batch.rowidx = <int32_t *>malloc(n_lists * sizeof(int32_t) + 1)
        self.batch.cvals = malloc(n_lists * itemsize + 1)
        if (self.batch.start == NULL or self.batch.nnz == NULL
                or self.batch.cols == NULL or self.batch.vals == NULL
                or self.batch.colptr == NULL or self.batch.rowidx == NULL
                or self.batch.cvals == NULL):
            raise MemoryError()
        if dense:
            for i in range(capacity):
                self.batch.start[i] = i * n_features
        self.batch.x.n_features = n_features
        self.batch.x.rows = 0

    def __dealloc__(self):
        free(self.batch.start)
        free(self.batch.nnz)
        free(self.batch.cols)
        free(self.batch.vals)
        free(self.batch.colptr)
        free(self.batch.rowidx)
        free(self.batch.cvals)


cdef inline void _own(SparseBatch *sb, intp rows) noexcept nogil:
    """Point sb.x at the gathered copy."""
    sb.x.cols = sb.cols
    sb.x.vals = sb.vals
    sb.x.start = sb.start
    sb.x.nnz = sb.nnz
    sb.x.rows = rows


cdef void gather_dense(const Threads *th, SparseBatch *sb, const floating *X,
                       const intp *idx, intp first, intp rows) noexcept nogil:
    """The minibatch's nonzeros from the dense X (rows idx[0:rows], or
    first:first+rows without idx), compacted in blocks of rows shared by the
    threads."""
    cdef intp n_in = sb.x.n_features
    cdef intp blk, r0, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = threads_for(th, rows * n_in)
    _own(sb, rows)
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        k_csr_rows(X, n_in, idx, first, r0, min(r0 + ROW_BLOCK, rows),
                   sb.cols, <floating *>sb.vals, sb.nnz)


cdef void gather_csr(const Threads *th, SparseBatch *sb, const fm_csr *src,
                     const intp *idx, intp first, intp rows,
                     floating *unused) noexcept nogil:
    """The minibatch's rows copied out of the CSR matrix src (rows
    idx[0:rows], or first:first+rows without idx); `unused` picks the
    dtype."""
    cdef intp i, r, total = 0, blk, r0, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    for i in range(rows):
        r = idx[i] if idx != NULL else first + i
        sb.nnz[i] = src.indptr[r + 1] - src.indptr[r]
        sb.start[i] = total
        total += sb.nnz[i]
    _own(sb, rows)
    for blk in prange(nb, schedule='static', num_threads=threads_for(th, total)):
        r0 = blk * ROW_BLOCK
        k_csr_gather(src, idx, first, r0, min(r0 + ROW_BLOCK, rows), sb.cols,
                     <floating *>sb.vals, sb.start)


cdef void view_csr(SparseBatch *sb, const fm_csr *src, intp first, intp rows,
                   floating *unused) noexcept nogil:
    """Consecutive rows first:first+rows of the CSR matrix src, read where
    they are: no copy; `unused` picks the dtype."""
    cdef intp i, b = src.indptr[first]
    for i in range(rows):
        sb.start[i] = src.indptr[first + i] - b
        sb.nnz[i] = src.indptr[first + i + 1] - src.indptr[first + i]
    sb.x.cols = src.indices + b
    sb.x.vals = <const floating *>src.data + b
    sb.x.start = sb.start
    sb.x.nnz = sb.nnz
    sb.x.rows = rows


cdef void sparse_matmul(const Threads *th, const SparseBatch *sb, const floating *W,
                        intp n_out, floating *Z) noexcept nogil:
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
            k_csr_matmul(&sb.x, W, n_out, c0, c1, Z, n_out)


cdef inline void _wgrad_part(const SparseBatch *sb, intp p, const floating *D,
                             intp n_out, floating *dW, bint accumulate) noexcept nogil:
    """Rows split[p]:split[p+1] of dW, with the part's own lists (a local
    struct: private to the thread)."""
    cdef fm_lists lists
    cdef intp k0 = sb.split[p]
    lists.colptr = sb.colptr + k0 + p
    lists.rowidx = sb.rowidx + sb.part_off[p]
    lists.cvals = <floating *>sb.cvals + sb.part_off[p]
    k_csc_wgrad(&sb.x, k0, sb.split[p + 1], D, n_out, dW, accumulate, &lists)


cdef void sparse_wgrad(const Threads *th, const SparseBatch *sb, const floating *D,
                       intp n_out, floating *dW, bint accumulate) noexcept nogil:
    """dW (= or +=) X^T @ D for the minibatch's nonzeros X: each thread the
    rows of dW of one part of the features, listing their nonzeros itself."""
    cdef intp p
    cdef int nt = min(th.n, sb.parts)
    for p in prange(sb.parts, schedule='static', num_threads=nt):
        _wgrad_part(sb, p, D, n_out, dW, accumulate)
