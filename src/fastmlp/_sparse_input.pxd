# The first layer on a minibatch's nonzeros (inputs that are mostly zeros,
# dense or scipy.sparse).

from cython cimport floating

from ._common cimport SparseBatch, Threads, intp
from ._kernels cimport fm_csr


cdef class SparseFirstLayer:
    """The buffers of the sparse first layer for a batch capacity: owns the
    memory its `batch` struct points to."""
    cdef SparseBatch batch
    cdef intp capacity, n_features
    cdef object _keep        # the arrays behind split and part_off


cdef class CSRInput:
    """A scipy.sparse matrix as the engine reads it: CSR, sorted int32 column
    indices, row pointers as intp, values of the training dtype."""
    cdef fm_csr csr
    cdef readonly intp n_rows, n_features
    cdef readonly object data, indices, indptr


cdef void gather_dense(const Threads *th, SparseBatch *sb, const floating *X,
                       const intp *idx, intp first, intp rows) noexcept nogil
cdef void gather_csr(const Threads *th, SparseBatch *sb, const fm_csr *src,
                     const intp *idx, intp first, intp rows,
                     floating *unused) noexcept nogil
cdef void view_csr(SparseBatch *sb, const fm_csr *src, intp first, intp rows,
                   floating *unused) noexcept nogil
cdef void sparse_matmul(const Threads *th, const SparseBatch *sb, const floating *W,
                        intp n_out, floating *Z) noexcept nogil
cdef void sparse_wgrad(const Threads *th, const SparseBatch *sb, const floating *D,
                       intp n_out, floating *dW, bint accumulate) noexcept nogil
