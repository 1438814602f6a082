# The C kernels (csrc/kernels.h), each behind one fused-type dispatcher:
# call sites write `k_bias_act(z, ...)` for float and double alike, and the
# branch on the type is here, once per kernel.  Every call into C goes
# through this file.

from libc.stdint cimport int32_t, uint32_t, uint64_t
from cython cimport floating

ctypedef Py_ssize_t intp

cdef extern from "kernels.h" nogil:
    # tables.h: the component tables
    enum:
        FM_N_ACTIVATIONS
        FM_N_OUTPUTS
        FM_N_SOLVERS
        FM_ACT_IDENTITY
        FM_SOLVER_ADAMW
        FM_SOLVER_SWATS
    const char *fm_activation_names[]
    const int fm_activation_needs_input[]
    const char *fm_output_activations[]
    const char *fm_output_losses[]
    const char *fm_solver_names[]

    ctypedef struct fm_optim:
        int solver
        double momentum
        int nesterov
        double beta1
        double beta2
        double eps
        double rho
        int centered

    ctypedef struct fm_step:
        double lr
        double l2
        double decay
        double c1
        double c2
        double *dots
        int sgd

    ctypedef struct fm_rows:
        const int32_t *cols
        const void *vals
        const intp *start
        const intp *nnz
        intp rows
        intp n_features

    ctypedef struct fm_lists:
        intp *colptr
        int32_t *rowidx
        void *cvals

    ctypedef struct fm_csr:
        const int32_t *indices
        const void *data
        const intp *indptr

    int fm_solver_n_state(const fm_optim *o)
    int fm_force_portable
    uint64_t fm_batch_key(uint64_t seed, uint64_t epoch, uint64_t batch, uint64_t stream)
    double fm_mixup_draw(uint64_t key, double alpha, intp rows, intp *perm)
    void fm_fgsm_f(float *adv, const float *x, intp n, double eps)
    void fm_fgsm_d(double *adv, const double *x, intp n, double eps)
    void fm_mix_rows_f(float *dst, const float *src, const intp *perm, intp r0, intp r1, intp cols, double lam)
    void fm_mix_rows_d(double *dst, const double *src, const intp *perm, intp r0, intp r1, intp cols, double lam)
    void fm_bias_act_f(float *z, const float *b, float *u, intp rows, intp cols, int act, double param)
    void fm_bias_act_d(double *z, const double *b, double *u, intp rows, intp cols, int act, double param)
    void fm_act_backward_f(float *a, const float *g, const float *u, intp n, int act, double param)
    void fm_act_backward_d(double *a, const double *g, const double *u, intp n, int act, double param)
    void fm_dropout_act_backward_f(float *a, const float *g, const float *u, const float *mask, intp n, double drop, int act, double param)
    void fm_dropout_act_backward_d(double *a, const double *g, const double *u, const double *mask, intp n, double drop, int act, double param)
    void fm_bn_normalize_act_f(float *z, float *xhat, float *u, intp rows, intp ld, intp cols, const double *mean, const double *inv_std, const float *gamma, const float *beta, int act, double param)
    void fm_bn_normalize_act_d(double *z, double *xhat, double *u, intp rows, intp ld, intp cols, const double *mean, const double *inv_std, const double *gamma, const double *beta, int act, double param)
    void fm_scale_shift_act_f(float *z, const float *scale, const float *shift, intp rows, intp cols, int act, double param)
    void fm_scale_shift_act_d(double *z, const double *scale, const double *shift, intp rows, intp cols, int act, double param)
    double fm_loss_delta_f(float *z, const float *y, const float *sw, intp rows, intp cols, int out, double scale, const intp *groups, intp n_groups)
    double fm_loss_delta_d(double *z, const double *y, const double *sw, intp rows, intp cols, int out, double scale, const intp *groups, intp n_groups)
    void fm_output_f(float *z, const float *b, intp rows, intp cols, int out, const intp *groups, intp n_groups)
    void fm_output_d(double *z, const double *b, intp rows, intp cols, int out, const intp *groups, intp n_groups)
    void fm_optimizer_step_f(float *theta, const float *grad, float *state, intp stride, intp n, const fm_optim *o, const fm_step *s, double *ss)
    void fm_optimizer_step_d(double *theta, const double *grad, double *state, intp stride, intp n, const fm_optim *o, const fm_step *s, double *ss)
    void fm_bn_stats_f(const float *z, intp rows, intp ld, intp cols, double *mean, double *var)
    void fm_bn_stats_d(const double *z, intp rows, intp ld, intp cols, double *mean, double *var)
    void fm_bn_backward_f(float *dy, const float *xhat, intp rows, intp ld, intp cols, const double *inv_std, const float *gamma, float *dgamma, float *dbeta)
    void fm_bn_backward_d(double *dy, const double *xhat, intp rows, intp ld, intp cols, const double *inv_std, const double *gamma, double *dgamma, double *dbeta)
    void fm_dropout_f(float *a, float *mask, intp n, uint32_t first, double p, uint64_t key)
    void fm_dropout_d(double *a, double *mask, intp n, uint32_t first, double p, uint64_t key)
    void fm_add_noise_f(float *x, intp n, uint32_t first, double std, uint64_t key)
    void fm_add_noise_d(double *x, intp n, uint32_t first, double std, uint64_t key)
    void fm_gather_rows_f(float *dst, const float *src, const intp *idx, intp rows, intp cols)
    void fm_gather_rows_d(double *dst, const double *src, const intp *idx, intp rows, intp cols)
    void fm_colsum_f(const float *x, intp rows, intp ld, intp cols, double *acc)
    void fm_colsum_d(const double *x, intp rows, intp ld, intp cols, double *acc)
    double fm_scaled_copy_sumsq_f(float *dst, const float *src, intp n, double scale)
    double fm_scaled_copy_sumsq_d(double *dst, const double *src, intp n, double scale)
    double fm_sumsq_f(const float *x, intp n)
    double fm_sumsq_d(const double *x, intp n)
    int fm_nonfinite_f(const float *x, intp n)
    double fm_grad_sumsq_f(const float *g, const float *theta, intp n, double l2)
    double fm_grad_sumsq_d(const double *g, const double *theta, intp n, double l2)
    void fm_grad_scale_f(float *g, const float *theta, intp n, double l2, double f)
    void fm_grad_scale_d(double *g, const double *theta, intp n, double l2, double f)
    void fm_colsumsq_f(const float *x, intp rows, intp ld, intp cols, double *acc)
    void fm_colsumsq_d(const double *x, intp rows, intp ld, intp cols, double *acc)
    void fm_colscale_f(float *x, intp rows, intp ld, intp cols, const double *f)
    void fm_colscale_d(double *x, intp rows, intp ld, intp cols, const double *f)
    int fm_nonfinite_d(const double *x, intp n)
    void fm_vecmat_f(const float *x, intp m, const float *W, intp ldw, intp n, float *y)
    void fm_vecmat_d(const double *x, intp m, const double *W, intp ldw, intp n, double *y)
    void fm_csr_rows_f(const float *X, intp ldx, const intp *idx, intp start, intp r0, intp r1, int32_t *cols, float *vals, intp *nnz)
    void fm_csr_matmul_f(const fm_rows *x, const float *W, intp ldw, intp c0, intp c1, float *Z, intp ldz)
    void fm_csr_matmul_d(const fm_rows *x, const double *W, intp ldw, intp c0, intp c1, double *Z, intp ldz)
    void fm_csc_wgrad_f(const fm_rows *x, intp k0, intp k1, const float *D, intp n_out, float *dW, int accumulate, const fm_lists *s)
    void fm_csc_wgrad_d(const fm_rows *x, intp k0, intp k1, const double *D, intp n_out, double *dW, int accumulate, const fm_lists *s)
    void fm_csr_gather_f(const fm_csr *src, const intp *idx, intp first, intp r0, intp r1, int32_t *cols, float *vals, const intp *start)
    void fm_csr_gather_d(const fm_csr *src, const intp *idx, intp first, intp r0, intp r1, int32_t *cols, double *vals, const intp *start)
    void fm_csr_rows_d(const double *X, intp ldx, const intp *idx, intp start, intp r0, intp r1, int32_t *cols, double *vals, intp *nnz)

cdef inline void k_bias_act(floating *z, const floating *b, floating *u, intp rows, intp cols, int act, double param) noexcept nogil:
    if floating is float:
        fm_bias_act_f(z, b, u, rows, cols, act, param)
    else:
        fm_bias_act_d(z, b, u, rows, cols, act, param)

cdef inline void k_act_backward(floating *a, const floating *g, const floating *u, intp n, int act, double param) noexcept nogil:
    if floating is float:
        fm_act_backward_f(a, g, u, n, act, param)
    else:
        fm_act_backward_d(a, g, u, n, act, param)

cdef inline void k_dropout_act_backward(floating *a, const floating *g, const floating *u, const floating *mask, intp n, double drop, int act, double param) noexcept nogil:
    if floating is float:
        fm_dropout_act_backward_f(a, g, u, mask, n, drop, act, param)
    else:
        fm_dropout_act_backward_d(a, g, u, mask, n, drop, act, param)

cdef inline void k_bn_normalize_act(floating *z, floating *xhat, floating *u, intp rows, intp ld, intp cols, const double *mean, const double *inv_std, const floating *gamma, const floating *beta, int act, double param) noexcept nogil:
    if floating is float:
        fm_bn_normalize_act_f(z, xhat, u, rows, ld, cols, mean, inv_std, gamma, beta, act, param)
    else:
        fm_bn_normalize_act_d(z, xhat, u, rows, ld, cols, mean, inv_std, gamma, beta, act, param)

cdef inline void k_scale_shift_act(floating *z, const floating *scale, const floating *shift, intp rows, intp cols, int act, double param) noexcept nogil:
    if floating is float:
        fm_scale_shift_act_f(z, scale, shift, rows, cols, act, param)
    else:
        fm_scale_shift_act_d(z, scale, shift, rows, cols, act, param)

cdef inline double k_loss_delta(floating *z, const floating *y, const floating *sw, intp rows, intp cols, int out, double scale, const intp *groups, intp n_groups) noexcept nogil:
    if floating is float:
        return fm_loss_delta_f(z, y, sw, rows, cols, out, scale, groups, n_groups)
    else:
        return fm_loss_delta_d(z, y, sw, rows, cols, out, scale, groups, n_groups)

cdef inline void k_output(floating *z, const floating *b, intp rows, intp cols, int out, const intp *groups, intp n_groups) noexcept nogil:
    if floating is float:
        fm_output_f(z, b, rows, cols, out, groups, n_groups)
    else:
        fm_output_d(z, b, rows, cols, out, groups, n_groups)

cdef inline void k_optimizer_step(floating *theta, const floating *grad, floating *state, intp stride, intp n, const fm_optim *o, const fm_step *s, double *ss) noexcept nogil:
    if floating is float:
        fm_optimizer_step_f(theta, grad, state, stride, n, o, s, ss)
    else:
        fm_optimizer_step_d(theta, grad, state, stride, n, o, s, ss)

cdef inline void k_bn_stats(const floating *z, intp rows, intp ld, intp cols, double *mean, double *var) noexcept nogil:
    if floating is float:
        fm_bn_stats_f(z, rows, ld, cols, mean, var)
    else:
        fm_bn_stats_d(z, rows, ld, cols, mean, var)

cdef inline void k_bn_backward(floating *dy, const floating *xhat, intp rows, intp ld, intp cols, const double *inv_std, const floating *gamma, floating *dgamma, floating *dbeta) noexcept nogil:
    if floating is float:
        fm_bn_backward_f(dy, xhat, rows, ld, cols, inv_std, gamma, dgamma, dbeta)
    else:
        fm_bn_backward_d(dy, xhat, rows, ld, cols, inv_std, gamma, dgamma, dbeta)

cdef inline void k_dropout(floating *a, floating *mask, intp n, uint32_t first, double p, uint64_t key) noexcept nogil:
    if floating is float:
        fm_dropout_f(a, mask, n, first, p, key)
    else:
        fm_dropout_d(a, mask, n, first, p, key)

cdef inline void k_add_noise(floating *x, intp n, uint32_t first, double std, uint64_t key) noexcept nogil:
    if floating is float:
        fm_add_noise_f(x, n, first, std, key)
    else:
        fm_add_noise_d(x, n, first, std, key)

cdef inline void k_gather_rows(floating *dst, const floating *src, const intp *idx, intp rows, intp cols) noexcept nogil:
    if floating is float:
        fm_gather_rows_f(dst, src, idx, rows, cols)
    else:
        fm_gather_rows_d(dst, src, idx, rows, cols)

cdef inline void k_colsum(const floating *x, intp rows, intp ld, intp cols, double *acc) noexcept nogil:
    if floating is float:
        fm_colsum_f(x, rows, ld, cols, acc)
    else:
        fm_colsum_d(x, rows, ld, cols, acc)

cdef inline double k_scaled_copy_sumsq(floating *dst, const floating *src, intp n, double scale) noexcept nogil:
    if floating is float:
        return fm_scaled_copy_sumsq_f(dst, src, n, scale)
    else:
        return fm_scaled_copy_sumsq_d(dst, src, n, scale)

cdef inline double k_sumsq(const floating *x, intp n) noexcept nogil:
    if floating is float:
        return fm_sumsq_f(x, n)
    else:
        return fm_sumsq_d(x, n)

cdef inline int k_nonfinite(const floating *x, intp n) noexcept nogil:
    if floating is float:
        return fm_nonfinite_f(x, n)
    else:
        return fm_nonfinite_d(x, n)

cdef inline void k_vecmat(const floating *x, intp m, const floating *W, intp ldw, intp n, floating *y) noexcept nogil:
    if floating is float:
        fm_vecmat_f(x, m, W, ldw, n, y)
    else:
        fm_vecmat_d(x, m, W, ldw, n, y)

cdef inline void k_csr_rows(const floating *X, intp ldx, const intp *idx, intp start, intp r0, intp r1, int32_t *cols, floating *vals, intp *nnz) noexcept nogil:
    if floating is float:
        fm_csr_rows_f(X, ldx, idx, start, r0, r1, cols, vals, nnz)
    else:
        fm_csr_rows_d(X, ldx, idx, start, r0, r1, cols, vals, nnz)

cdef inline void k_csr_matmul(const fm_rows *x, const floating *W, intp ldw, intp c0, intp c1, floating *Z, intp ldz) noexcept nogil:
    if floating is float:
        fm_csr_matmul_f(x, W, ldw, c0, c1, Z, ldz)
    else:
        fm_csr_matmul_d(x, W, ldw, c0, c1, Z, ldz)

cdef inline void k_csc_wgrad(const fm_rows *x, intp k0, intp k1, const floating *D, intp n_out, floating *dW, int accumulate, const fm_lists *s) noexcept nogil:
    if floating is float:
        fm_csc_wgrad_f(x, k0, k1, D, n_out, dW, accumulate, s)
    else:
        fm_csc_wgrad_d(x, k0, k1, D, n_out, dW, accumulate, s)

cdef inline void k_csr_gather(const fm_csr *src, const intp *idx, intp first, intp r0, intp r1, int32_t *cols, floating *vals, const intp *start) noexcept nogil:
    if floating is float:
        fm_csr_gather_f(src, idx, first, r0, r1, cols, vals, start)
    else:
        fm_csr_gather_d(src, idx, first, r0, r1, cols, vals, start)

cdef inline double k_grad_sumsq(const floating *g, const floating *theta, intp n, double l2) noexcept nogil:
    if floating is float:
        return fm_grad_sumsq_f(g, theta, n, l2)
    else:
        return fm_grad_sumsq_d(g, theta, n, l2)

cdef inline void k_grad_scale(floating *g, const floating *theta, intp n, double l2, double f) noexcept nogil:
    if floating is float:
        fm_grad_scale_f(g, theta, n, l2, f)
    else:
        fm_grad_scale_d(g, theta, n, l2, f)

cdef inline void k_colsumsq(const floating *x, intp rows, intp ld, intp cols, double *acc) noexcept nogil:
    if floating is float:
        fm_colsumsq_f(x, rows, ld, cols, acc)
    else:
        fm_colsumsq_d(x, rows, ld, cols, acc)

cdef inline void k_colscale(floating *x, intp rows, intp ld, intp cols, const double *f) noexcept nogil:
    if floating is float:
        fm_colscale_f(x, rows, ld, cols, f)
    else:
        fm_colscale_d(x, rows, ld, cols, f)

cdef inline void k_mix_rows(floating *dst, const floating *src, const intp *perm, intp r0, intp r1, intp cols, double lam) noexcept nogil:
    if floating is float:
        fm_mix_rows_f(dst, src, perm, r0, r1, cols, lam)
    else:
        fm_mix_rows_d(dst, src, perm, r0, r1, cols, lam)

cdef inline void k_fgsm(floating *adv, const floating *x, intp n, double eps) noexcept nogil:
    if floating is float:
        fm_fgsm_f(adv, x, n, eps)
    else:
        fm_fgsm_d(adv, x, n, eps)
