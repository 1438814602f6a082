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
    # SWATS (Keskar & Socher 2017, Algorithm 1): the switching criterion's
    # state; the step updates it
    double swats_eps         # the criterion's tolerance (1e-9 in the paper)
    double swats_lambda      # lambda_k, the average of the projected rates
    long long swats_switch   # the step at which it switched to SGD (0: not yet)
    double swats_rate        # the SGD rate estimated at the switch
    double swats_lr0         # the schedule's rate at the switch
    double *dots             # p.p and p.g per SS_BLOCK block


cdef class Optimizer:
    """A solver and its state for one parameter vector."""
    cdef Stepper st
    cdef readonly object state     # the solver's state vectors, back to back
    cdef public long long t        # steps taken
    cdef object _dots


cdef double optimizer_step(const Threads *th, Stepper *st, floating *theta,
                           const floating *grad, floating *state, long long t,
                           double lr, double l2, double *partial) noexcept nogil
