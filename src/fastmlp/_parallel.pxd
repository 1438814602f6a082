# The engine's loops over blocks shared by OpenMP threads, and its GEMMs.
# Blocks have fixed sizes and reductions add per-block partial sums in a
# fixed order, so results do not depend on the number of threads.

from cython cimport floating

from ._common cimport Threads, intp

cdef void bias_act(const Threads *th, floating *z, const floating *b, floating *u,
                   intp rows, intp cols, int act, double param) noexcept nogil
cdef void output(const Threads *th, floating *z, const floating *b, intp rows,
                 intp cols, int out, const intp *groups, intp n_groups) noexcept nogil
cdef void act_backward(const Threads *th, floating *a, const floating *g,
                       const floating *u, intp n, int act, double param) noexcept nogil
cdef double loss_delta(const Threads *th, floating *z, const floating *y,
                       const floating *sw, intp rows, intp cols, int out,
                       double scale, double *partial, const intp *groups,
                       intp n_groups) noexcept nogil
cdef void bias_grad(const Threads *th, const floating *delta, intp rows, intp cols,
                    floating *gb, bint accumulate, double *acc) noexcept nogil
cdef double scaled_copy_sumsq(const Threads *th, floating *dst, const floating *src,
                              intp n, double scale, double *partial) noexcept nogil
cdef double sumsq(const Threads *th, const floating *x, intp n,
                  double *partial) noexcept nogil
cdef void gather(const Threads *th, floating *dst, const floating *src,
                 const intp *idx, intp rows, intp cols) noexcept nogil
cdef void matmul(const Threads *th, char transa, char transb, intp m, intp n, intp k,
                 const floating *A, const floating *B, floating beta,
                 floating *C) noexcept nogil
cdef void vecmat(const Threads *th, const floating *x, intp m, const floating *W,
                 intp n, floating *y) noexcept nogil
