# The first layer on a minibatch's nonzeros (inputs that are mostly zeros).

from cython cimport floating

from ._common cimport SparseBatch, Threads, intp


cdef class SparseFirstLayer:
    """The buffers of the sparse first layer for a batch capacity: owns the
    memory its `batch` struct points to."""
    cdef SparseBatch batch
    cdef object _split      # keeps batch.split alive


cdef void sparse_gather(const Threads *th, const SparseBatch *sb, const floating *X,
                        intp n_in, const intp *idx, intp start, intp rows) noexcept nogil
cdef void sparse_matmul(const Threads *th, const SparseBatch *sb, intp n_in, intp rows,
                        const floating *W, intp n_out, floating *Z) noexcept nogil
cdef void sparse_wgrad(const Threads *th, const SparseBatch *sb, intp n_in,
                       intp capacity, intp rows, const floating *D, intp n_out,
                       floating *dW, bint accumulate) noexcept nogil
