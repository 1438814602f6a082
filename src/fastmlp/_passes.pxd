# Walks through the network (see _passes.pyx).

from cython cimport floating

from ._common cimport Batch, Layout, Pass, Training, Workspace, intp


cdef class LayoutArrays:
    """A network's layout as C arrays, and the Layout struct pointing to them."""
    cdef Layout lay
    cdef object keep     # the numpy arrays behind lay's pointers
    cdef bint keep_pre   # some hidden activation needs its input kept


cdef intp plan_workspace(const Layout *lay, intp capacity, bint keep_pre,
                         intp *offsets, Workspace *ws) noexcept nogil
cdef void plan_dwork(const Layout *lay, double *dwork, Workspace *ws) noexcept nogil
cdef void mark(Training *tr, int phase) noexcept nogil
cdef void forward(const Pass *p, const floating *theta, const floating *x, intp rows,
                  bint logits) noexcept nogil
cdef double forward_backward(const Pass *p, const Batch *b, const floating *theta,
                             floating *grad, double alpha, bint first,
                             double *sumsq) noexcept nogil
