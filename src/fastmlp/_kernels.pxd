# Declarations of the C kernels in csrc/kernels.h. All calls to them go
# through this file.

from libc.stdint cimport int32_t, uint32_t, uint64_t

cdef extern from "kernels.h" nogil:
    enum:
        FM_ACT_IDENTITY
        FM_ACT_LOGISTIC
        FM_ACT_TANH
        FM_ACT_RELU
        FM_ACT_LEAKY_RELU
        FM_ACT_ELU
    enum:
        FM_OUT_IDENTITY_SQUARED
        FM_OUT_SOFTMAX_LOGLOSS
        FM_OUT_LOGISTIC_BINARY
        FM_OUT_EXP_POISSON
        FM_OUT_SOFTPLUS_SQUARED
        FM_OUT_LOGISTIC_SQUARED

    void fm_bias_act_f(float *z, const float *b, Py_ssize_t rows, Py_ssize_t cols, int act, double param)
    void fm_bias_act_d(double *z, const double *b, Py_ssize_t rows, Py_ssize_t cols, int act, double param)
    void fm_act_backward_f(float *a, const float *g, Py_ssize_t n, int act, double param)
    void fm_act_backward_d(double *a, const double *g, Py_ssize_t n, int act, double param)
    double fm_loss_delta_f(float *z, const float *y, const float *sw, Py_ssize_t rows, Py_ssize_t cols, int out, double scale)
    double fm_loss_delta_d(double *z, const double *y, const double *sw, Py_ssize_t rows, Py_ssize_t cols, int out, double scale)
    void fm_output_f(float *z, const float *b, Py_ssize_t rows, Py_ssize_t cols, int out)
    void fm_output_d(double *z, const double *b, Py_ssize_t rows, Py_ssize_t cols, int out)
    void fm_colsum_f(const float *x, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t cols, double *acc)
    void fm_colsum_d(const double *x, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t cols, double *acc)
    double fm_scaled_copy_sumsq_f(float *dst, const float *src, Py_ssize_t n, double scale)
    double fm_scaled_copy_sumsq_d(double *dst, const double *src, Py_ssize_t n, double scale)
    void fm_vecmat_f(const float *x, Py_ssize_t m, const float *W, Py_ssize_t ldw, Py_ssize_t n, float *y)
    void fm_vecmat_d(const double *x, Py_ssize_t m, const double *W, Py_ssize_t ldw, Py_ssize_t n, double *y)
    double fm_sumsq_f(const float *x, Py_ssize_t n)
    double fm_sumsq_d(const double *x, Py_ssize_t n)
    int fm_nonfinite_f(const float *x, Py_ssize_t n)
    int fm_nonfinite_d(const double *x, Py_ssize_t n)
    void fm_gather_rows_f(float *dst, const float *src, const Py_ssize_t *idx, Py_ssize_t rows, Py_ssize_t cols)
    void fm_gather_rows_d(double *dst, const double *src, const Py_ssize_t *idx, Py_ssize_t rows, Py_ssize_t cols)
    void fm_sgd_step_f(float *theta, const float *grad, float *velocity, Py_ssize_t n, double lr, double momentum, int nesterov, double l2, double *ss)
    void fm_sgd_step_d(double *theta, const double *grad, double *velocity, Py_ssize_t n, double lr, double momentum, int nesterov, double l2, double *ss)
    void fm_adam_step_f(float *theta, const float *grad, float *m, float *v, Py_ssize_t n, double lr_t, double beta1, double beta2, double eps, double l2, double *ss)
    void fm_adam_step_d(double *theta, const double *grad, double *m, double *v, Py_ssize_t n, double lr_t, double beta1, double beta2, double eps, double l2, double *ss)
    void fm_adamw_step_f(float *theta, const float *grad, float *m, float *v, Py_ssize_t n, double lr, double c1, double c2, double beta1, double beta2, double eps, double decay, double l2, double *ss)
    void fm_adamw_step_d(double *theta, const double *grad, double *m, double *v, Py_ssize_t n, double lr, double c1, double c2, double beta1, double beta2, double eps, double decay, double l2, double *ss)
    void fm_adagrad_step_f(float *theta, const float *grad, float *G, Py_ssize_t n, double lr, double eps, double l2, double *ss)
    void fm_adagrad_step_d(double *theta, const double *grad, double *G, Py_ssize_t n, double lr, double eps, double l2, double *ss)
    void fm_rmsprop_step_f(float *theta, const float *grad, float *E, float *buf, float *gavg, Py_ssize_t n, double lr, double rho, double eps, double momentum, double l2, double *ss)
    void fm_rmsprop_step_d(double *theta, const double *grad, double *E, double *buf, double *gavg, Py_ssize_t n, double lr, double rho, double eps, double momentum, double l2, double *ss)
    void fm_adadelta_step_f(float *theta, const float *grad, float *Eg, float *Edx, Py_ssize_t n, double lr, double rho, double eps, double l2, double *ss)
    void fm_adadelta_step_d(double *theta, const double *grad, double *Eg, double *Edx, Py_ssize_t n, double lr, double rho, double eps, double l2, double *ss)
    uint64_t fm_batch_key(uint64_t seed, uint64_t epoch, uint64_t batch, uint64_t stream)
    void fm_bn_stats_f(const float *z, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t cols, double *mean, double *var)
    void fm_bn_stats_d(const double *z, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t cols, double *mean, double *var)
    void fm_bn_normalize_act_f(float *z, float *xhat, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t cols, const double *mean, const double *inv_std, const float *gamma, const float *beta, int act, double param)
    void fm_bn_normalize_act_d(double *z, double *xhat, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t cols, const double *mean, const double *inv_std, const double *gamma, const double *beta, int act, double param)
    void fm_bn_backward_f(float *dy, const float *xhat, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t cols, const double *inv_std, const float *gamma, float *dgamma, float *dbeta)
    void fm_bn_backward_d(double *dy, const double *xhat, Py_ssize_t rows, Py_ssize_t ld, Py_ssize_t cols, const double *inv_std, const double *gamma, double *dgamma, double *dbeta)
    void fm_scale_shift_act_f(float *z, const float *scale, const float *shift, Py_ssize_t rows, Py_ssize_t cols, int act, double param)
    void fm_scale_shift_act_d(double *z, const double *scale, const double *shift, Py_ssize_t rows, Py_ssize_t cols, int act, double param)
    void fm_dropout_f(float *a, float *mask, Py_ssize_t n, uint32_t first, double p, uint64_t key)
    void fm_dropout_d(double *a, double *mask, Py_ssize_t n, uint32_t first, double p, uint64_t key)
    void fm_dropout_act_backward_f(float *a, const float *g, const float *mask, Py_ssize_t n, double p, int act, double param)
    void fm_dropout_act_backward_d(double *a, const double *g, const double *mask, Py_ssize_t n, double p, int act, double param)
    void fm_add_noise_f(float *x, Py_ssize_t n, uint32_t first, double std, uint64_t key)
    void fm_add_noise_d(double *x, Py_ssize_t n, uint32_t first, double std, uint64_t key)
    # sparse.c
    void fm_csr_rows_f(const float *X, Py_ssize_t ldx, const Py_ssize_t *idx, Py_ssize_t start, Py_ssize_t r0, Py_ssize_t r1, int32_t *cols, float *vals, Py_ssize_t *nnz)
    void fm_csr_rows_d(const double *X, Py_ssize_t ldx, const Py_ssize_t *idx, Py_ssize_t start, Py_ssize_t r0, Py_ssize_t r1, int32_t *cols, double *vals, Py_ssize_t *nnz)
    void fm_csr_matmul_f(const int32_t *cols, const float *vals, const Py_ssize_t *nnz, Py_ssize_t stride, Py_ssize_t rows, const float *W, Py_ssize_t ldw, Py_ssize_t c0, Py_ssize_t c1, float *Z, Py_ssize_t ldz)
    void fm_csr_matmul_d(const int32_t *cols, const double *vals, const Py_ssize_t *nnz, Py_ssize_t stride, Py_ssize_t rows, const double *W, Py_ssize_t ldw, Py_ssize_t c0, Py_ssize_t c1, double *Z, Py_ssize_t ldz)
    void fm_csc_wgrad_f(const int32_t *cols, const float *vals, const Py_ssize_t *nnz, Py_ssize_t stride, Py_ssize_t rows, Py_ssize_t k0, Py_ssize_t k1, const float *D, Py_ssize_t n_out, float *dW, int accumulate, Py_ssize_t *colptr, int32_t *rowidx, float *cvals)
    void fm_csc_wgrad_d(const int32_t *cols, const double *vals, const Py_ssize_t *nnz, Py_ssize_t stride, Py_ssize_t rows, Py_ssize_t k0, Py_ssize_t k1, const double *D, Py_ssize_t n_out, double *dW, int accumulate, Py_ssize_t *colptr, int32_t *rowidx, double *cvals)
