"""The optimiser step (csrc/optim_impl.h for the update of each solver).

One update is one loop over the flat vectors theta, grad and the solver's
state, cut into blocks of SS_BLOCK elements; each thread takes one
contiguous run of blocks (bench/DECISIONS.md D4), so that it updates the
rows of the first weight matrix whose gradient it has just computed in the
split GEMM, still in its core's cache.  The L2 penalty is folded into the
step, which also returns the weights' new sum of squares (D8); it is added
per block, then over the blocks in order: the same for any number of threads.
"""

from cython.parallel cimport prange
from libc.math cimport fabs, pow

import numpy as np

from ._aligned import aligned, aligned_zeros
from ._common cimport SS_BLOCK, Threads, intp, threads_for
from ._kernels cimport (
    FM_N_SOLVERS, FM_SOLVER_ADAMW, FM_SOLVER_SWATS, fm_optim, fm_solver_n_state, fm_step,
    k_optimizer_step,
)


cdef inline double _span(const Stepper *st, const fm_step *s, floating *theta,
                         const floating *grad, floating *state, intp i0, intp i1,
                         bint want_ss) noexcept nogil:
    """The update of theta[i0:i1]; returns sum(theta[i0:i1]**2) after it when
    `want_ss`, else 0 (and the kernel skips the sum)."""
    cdef double ss = 0.0
    k_optimizer_step(theta + i0, grad + i0, state + i0, st.n, i1 - i0, &st.o, s,
                     &ss if want_ss else NULL)
    return ss


cdef double optimizer_step(const Threads *th, Stepper *st, floating *theta,
                           const floating *grad, floating *state, long long t,
                           double lr, double l2, double *partial) noexcept nogil:
    """One update of theta from grad + l2 * (the weights).  t is the 1-based
    step count, lr this step's rate.  Returns sum(weights**2) after the
    update when `partial` (one double per SS_BLOCK elements) is given, else 0.
    SWATS's switching criterion is evaluated here, after its Adam step.
    """
    cdef intp n = st.n
    cdef int nt = threads_for(th, n)
    cdef intp nblk = (n + SS_BLOCK - 1) // SS_BLOCK
    cdef intp per = (nblk + nt - 1) // nt
    cdef intp p, k, i0, i1, cut
    cdef fm_step weights, rest, w_blk, r_blk
    cdef double ss, total = 0.0, pp = 0.0, pg = 0.0, gamma, corrected
    cdef bint swats = st.o.solver == FM_SOLVER_SWATS
    weights.lr = rest.lr = lr
    weights.sgd = rest.sgd = swats and st.swats_switch > 0
    weights.dots = rest.dots = NULL
    if weights.sgd:
        # the estimated rate, following the schedule from the switch on
        weights.lr = rest.lr = st.swats_rate * (lr / st.swats_lr0)
    weights.c1 = rest.c1 = 1.0 - pow(st.o.beta1, <double>t)
    weights.c2 = rest.c2 = 1.0 - pow(st.o.beta2, <double>t)
    weights.l2 = l2
    weights.decay = st.weight_decay if st.o.solver == FM_SOLVER_ADAMW else 0.0
    rest.l2 = rest.decay = 0.0
    for p in prange((nblk + per - 1) // per, schedule='static', num_threads=nt):
        for k in range(p * per, min(p * per + per, nblk)):
            i0 = k * SS_BLOCK
            i1 = min(i0 + SS_BLOCK, n)
            cut = min(max(st.n_decay, i0), i1)
            ss = 0.0
            w_blk = weights
            r_blk = rest
            if swats and not weights.sgd:
                # this block's p.p and p.g, summed over the blocks in order below
                w_blk.dots = r_blk.dots = st.dots + 2 * k
                st.dots[2 * k] = 0.0
                st.dots[2 * k + 1] = 0.0
            if cut > i0:
                ss = _span(st, &w_blk, theta, grad, state, i0, cut, partial != NULL)
            if i1 > cut:
                _span(st, &r_blk, theta, grad, state, cut, i1, False)
            if partial != NULL:
                partial[k] = ss
    if partial != NULL:
        for k in range(nblk):
            total += partial[k]
    if swats and not weights.sgd:
        for k in range(nblk):
            pp += st.dots[2 * k]
            pg += st.dots[2 * k + 1]
        if pg != 0.0:
            # Algorithm 1: gamma_k = p.p / (-p.g); lambda_k = beta2 lambda +
            # (1 - beta2) gamma_k; switch when k > 1 and the bias-corrected
            # lambda_k / (1 - beta2^k) is within eps of gamma_k
            gamma = pp / (-pg)
            st.swats_lambda = st.o.beta2 * st.swats_lambda + (1.0 - st.o.beta2) * gamma
            corrected = st.swats_lambda / weights.c2
            if t > 1 and fabs(corrected - gamma) < st.swats_eps:
                st.swats_switch = t
                st.swats_rate = corrected
                st.swats_lr0 = lr
    return total


#: Hyper-parameters an Optimizer takes, and their defaults.
_HYPER_DEFAULTS = dict(momentum=0.0, nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8,
                       rho=0.9, centered=False, weight_decay=0.0, swats_eps=1e-9)


cdef class Optimizer:
    """A first-order solver and its state for a parameter vector of
    `n_params` elements whose first `n_decay` are the weights.

    Parameters
    ----------
    solver : int
        The solver's code (``_components.SOLVERS[name].code``).
    n_params, n_decay : int
        Length of theta; theta[:n_decay] are the weights (L2 penalty and
        AdamW's decay apply there only).
    dtype : numpy dtype
        The training dtype.
    state : ndarray, optional
        The state to continue from (e.g. an earlier fit's), else zeros.
    t : int
        Steps taken so far (Adam's bias corrections).
    swats : tuple, optional
        SWATS's criterion state to continue from (``Optimizer.swats``).
    **hyper
        momentum, nesterov, beta1, beta2, eps, rho, centered, weight_decay,
        swats_eps.
    """

    def __cinit__(self, int solver, intp n_params, intp n_decay, dtype, state=None,
                  long long t=0, swats=None, **hyper):
        unknown = set(hyper) - set(_HYPER_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown hyper-parameters {sorted(unknown)}")
        if not 0 <= solver < FM_N_SOLVERS:
            raise ValueError(f"unknown solver code {solver}")
        if not 0 <= n_decay <= n_params:
            raise ValueError("n_decay must lie in [0, n_params]")
        h = {**_HYPER_DEFAULTS, **hyper}
        self.st.o.solver = solver
        self.st.o.momentum = h["momentum"]
        self.st.o.nesterov = bool(h["nesterov"])
        self.st.o.beta1 = h["beta1"]
        self.st.o.beta2 = h["beta2"]
        self.st.o.eps = h["eps"]
        self.st.o.rho = h["rho"]
        self.st.o.centered = bool(h["centered"])
        self.st.weight_decay = h["weight_decay"]
        self.st.swats_eps = h["swats_eps"]
        self.swats = (0.0, 0, 0.0, 0.0) if swats is None else swats
        cdef double[::1] dots
        self._dots = np.zeros(2 * ((n_params + SS_BLOCK - 1) // SS_BLOCK) + 2)
        dots = self._dots
        self.st.dots = &dots[0]
        self.st.n = n_params
        self.st.n_decay = n_decay
        self.t = t
        size = n_params * fm_solver_n_state(&self.st.o)
        if state is None:
            self.state = aligned_zeros(size, dtype)
        else:
            state = np.asarray(state)
            if state.shape != (size,) or state.dtype != np.dtype(dtype):
                raise ValueError(f"the optimiser state must be {size} values of "
                                 f"{np.dtype(dtype)}; got {state.shape} {state.dtype}")
            self.state = aligned(state)   # e.g. unpickled: read-only or unaligned

    @property
    def swats(self):
        """SWATS's criterion state: (lambda_k, the step of the switch or 0,
        the SGD rate, the schedule's rate at the switch)."""
        return (self.st.swats_lambda, self.st.swats_switch, self.st.swats_rate,
                self.st.swats_lr0)

    @swats.setter
    def swats(self, value):
        lam, switch, rate, lr0 = value
        self.st.swats_lambda = lam
        self.st.swats_switch = switch
        self.st.swats_rate = rate
        self.st.swats_lr0 = lr0

    @property
    def n_state_vectors(self):
        """Number of theta-sized state vectors the solver keeps."""
        return fm_solver_n_state(&self.st.o)

    def step(self, floating[::1] theta, const floating[::1] grad, double lr,
             double l2=0.0, int n_threads=1):
        """One update of ``theta`` as training applies it: from
        ``grad + l2 * theta`` on the weights.  Returns the weights' sum of
        squares after the update.  For tests and benchmarks."""
        cdef Threads th
        cdef floating[::1] state = self.state
        cdef double ss
        cdef intp n = theta.shape[0]
        if n != self.st.n or grad.shape[0] != n:
            raise ValueError("theta and grad must have the optimiser's length")
        if state.shape[0] == 0:
            raise ValueError("empty parameter vector")
        th.n = max(1, n_threads)
        cdef double[::1] partial = np.empty((n + SS_BLOCK - 1) // SS_BLOCK + 1)
        self.t += 1
        with nogil:
            ss = optimizer_step(&th, &self.st, &theta[0], &grad[0], &state[0], self.t,
                                lr, l2, &partial[0])
        return ss
