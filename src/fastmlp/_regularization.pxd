# Batch normalisation, dropout, input noise, gradient clipping and max-norm
# over the engine's blocks.

from cython cimport floating

from ._common cimport Layout, Threads, Training, Workspace, intp

cdef void bn_forward_train(const Layout *lay, const Threads *th, const Workspace *ws,
                           Training *tr, intp l, floating *z, intp rows,
                           const floating *theta) noexcept nogil
cdef void bn_forward_eval(const Layout *lay, const Workspace *ws, intp l, floating *z,
                          intp rows, const floating *theta) noexcept nogil
cdef void bn_backward(const Layout *lay, const Threads *th, const Workspace *ws,
                      intp l, floating *dy, intp rows, const floating *theta,
                      floating *grad) noexcept nogil
cdef void dropout_forward(const Layout *lay, const Threads *th, const Workspace *ws,
                          const Training *tr, intp l, floating *a, intp n) noexcept nogil
cdef void dropout_backward(const Layout *lay, const Threads *th, const Workspace *ws,
                           const Training *tr, intp l, floating *a,
                           const floating *g, intp n) noexcept nogil
cdef void add_noise(const Threads *th, const Training *tr, floating *x,
                    intp n) noexcept nogil
cdef bint clip_grad_norm(const Threads *th, floating *grad, const floating *theta,
                         intp n, intp n_decay, double l2, double max_norm,
                         double *partial) noexcept nogil
cdef void max_norm_project(const Layout *lay, const Threads *th, floating *theta,
                           double c, double *acc) noexcept nogil
cdef double mixup(const Threads *th, const Training *tr, double alpha,
                  const floating *x, const floating *y, intp rows, intp n_in,
                  intp n_out, intp *perm, floating *mx, floating *my) noexcept nogil
cdef void fgsm_perturb(const Threads *th, const floating *x, floating *adv,
                       intp n, double eps) noexcept nogil
