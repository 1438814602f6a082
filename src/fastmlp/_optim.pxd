# The optimiser step: one fused loop over the flat vectors, per solver.

from cython cimport floating

from ._common cimport Threads, intp
from ._kernels cimport fm_optim


cdef struct Stepper:
    # A solver's hyper-parameters and the layout it updates.
    fm_optim o
    intp n                   # len(theta), the stride of the state vectors
    intp n_decay             # theta[:n_decay] are the weights (L2, AdamW's decay)
    double weight_decay      # AdamW's decoupled decay


cdef class Optimizer:
    """A solver and its state for one parameter vector."""
    cdef Stepper st
    cdef readonly object state     # the solver's state vectors, back to back
    cdef public long long t        # steps taken


cdef double optimizer_step(const Threads *th, const Stepper *st, floating *theta,
                           const floating *grad, floating *state, long long t,
                           double lr, double l2, double *partial) noexcept nogil
