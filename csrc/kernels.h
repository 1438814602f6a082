/* Elementwise kernels of the fastmlp engine.
 *
 * Plain C so that the compiler vectorises the inner loops (`#pragma omp
 * simd`); every function works on a block of rows or elements that the
 * Cython engine hands to one thread, so nothing here starts threads.
 * Each kernel exists for float (_f) and double (_d), generated from one
 * template in kernels.c.
 */
#ifndef FASTMLP_KERNELS_H
#define FASTMLP_KERNELS_H

#include <stddef.h>

/* For the kernels' definitions (kernels.c, sparse.c): each exported kernel
 * is compiled for the portable x86-64 baseline and for AVX2+FMA (x86-64-v3)
 * and AVX-512 (x86-64-v4); the loader picks the best the CPU has (GNU
 * ifunc).  The wheel stays portable, the loops run at the machine's vector
 * width. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define FM_KERNEL \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FM_KERNEL
#endif

/* Hidden-layer activations. */
enum {
    FM_ACT_IDENTITY = 0,
    FM_ACT_LOGISTIC = 1,
    FM_ACT_TANH = 2,
    FM_ACT_RELU = 3,
    FM_ACT_LEAKY_RELU = 4,
    FM_ACT_ELU = 5
};

/* Output layer and loss, always as a pair: the delta dLoss/dz is computed
 * in one pass from the logits z. */
enum {
    FM_OUT_IDENTITY_SQUARED = 0,  /* Gaussian, identity link */
    FM_OUT_SOFTMAX_LOGLOSS = 1,   /* categorical, softmax */
    FM_OUT_LOGISTIC_BINARY = 2,   /* independent Bernoulli, sigmoid */
    FM_OUT_EXP_POISSON = 3,       /* Poisson, log link */
    FM_OUT_SOFTPLUS_SQUARED = 4,  /* Gaussian with softplus mean */
    FM_OUT_LOGISTIC_SQUARED = 5   /* Gaussian with sigmoid mean */
};

/* Counter-based random numbers: the bits for element `index` of a batch
 * depend only on (key, index), never on which thread draws them. */
#include <stdint.h>

static inline uint32_t fm_mix32(uint32_t x)
{
    /* "lowbias32" integer hash (C. Wellons): full avalanche in 2 rounds. */
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* 32 random bits for element `index` (< 2^32) of the stream keyed by key:
 * 32-bit arithmetic only, so that loops over index vectorise. */
static inline uint32_t fm_random_bits(uint64_t key, uint32_t index)
{
    return fm_mix32(fm_mix32(index ^ (uint32_t)key) ^ (uint32_t)(key >> 32));
}

uint64_t fm_batch_key(uint64_t seed, uint64_t epoch, uint64_t batch, uint64_t stream);

#define FM_DECLARE(T, S)                                                      \
    void fm_bias_act_##S(T *z, const T *b, ptrdiff_t rows, ptrdiff_t cols,    \
                         int act, double param);                              \
    void fm_act_backward_##S(T *a_to_delta, const T *g, ptrdiff_t n, int act, \
                             double param);                                   \
    double fm_loss_delta_##S(T *z_to_delta, const T *y, const T *sw,         \
                             ptrdiff_t rows, ptrdiff_t cols, int out,         \
                             double scale);                                   \
    void fm_output_##S(T *z, const T *b, ptrdiff_t rows, ptrdiff_t cols,      \
                       int out);                                              \
    void fm_colsum_##S(const T *x, ptrdiff_t rows, ptrdiff_t ld,              \
                       ptrdiff_t cols, double *acc);                          \
    double fm_scaled_copy_sumsq_##S(T *dst, const T *src, ptrdiff_t n,        \
                                    double scale);                            \
    void fm_vecmat_##S(const T *x, ptrdiff_t m, const T *W, ptrdiff_t ldw,    \
                       ptrdiff_t n, T *y);                                    \
    double fm_sumsq_##S(const T *x, ptrdiff_t n);                             \
    int fm_nonfinite_##S(const T *x, ptrdiff_t n);                            \
    void fm_gather_rows_##S(T *dst, const T *src, const ptrdiff_t *idx,       \
                            ptrdiff_t rows, ptrdiff_t cols);                  \
    /* Optimiser updates of theta[0:n]: the gradient used is                 \
     * grad + l2 * theta (scikit-learn's L2 penalty folded in, 0 past the     \
     * weights); *ss (when not NULL) receives sum(theta**2) after the update, \
     * in double: the next minibatch's penalty, without another pass. */      \
    void fm_sgd_step_##S(T *theta, const T *grad, T *velocity, ptrdiff_t n,   \
                         double lr, double momentum, int nesterov, double l2, \
                         double *ss);                                         \
    void fm_adam_step_##S(T *theta, const T *grad, T *m, T *v, ptrdiff_t n,   \
                          double lr_t, double beta1, double beta2,            \
                          double eps, double l2, double *ss);                 \
    void fm_adamw_step_##S(T *theta, const T *grad, T *m, T *v, ptrdiff_t n,  \
                           double lr, double c1, double c2, double beta1,     \
                           double beta2, double eps, double decay, double l2, \
                           double *ss);                                       \
    void fm_adagrad_step_##S(T *theta, const T *grad, T *G, ptrdiff_t n,      \
                             double lr, double eps, double l2, double *ss);   \
    void fm_rmsprop_step_##S(T *theta, const T *grad, T *E, T *buf, T *gavg,  \
                             ptrdiff_t n, double lr, double rho, double eps,  \
                             double momentum, double l2, double *ss);         \
    void fm_adadelta_step_##S(T *theta, const T *grad, T *Eg, T *Edx,         \
                              ptrdiff_t n, double lr, double rho, double eps, \
                              double l2, double *ss);                         \
    void fm_bn_stats_##S(const T *z, ptrdiff_t rows, ptrdiff_t ld,           \
                         ptrdiff_t cols, double *mean, double *var);          \
    void fm_bn_normalize_act_##S(T *z, T *xhat, ptrdiff_t rows, ptrdiff_t ld, \
                                 ptrdiff_t cols, const double *mean,          \
                                 const double *inv_std, const T *gamma,       \
                                 const T *beta, int act, double param);       \
    void fm_bn_backward_##S(T *dy, const T *xhat, ptrdiff_t rows,             \
                            ptrdiff_t ld, ptrdiff_t cols,                     \
                            const double *inv_std, const T *gamma,            \
                            T *dgamma, T *dbeta);                             \
    void fm_scale_shift_act_##S(T *z, const T *scale, const T *shift,         \
                                ptrdiff_t rows, ptrdiff_t cols, int act,      \
                                double param);                                \
    void fm_dropout_##S(T *a, T *mask, ptrdiff_t n, uint32_t first, double p, \
                        uint64_t key);                                        \
    void fm_dropout_act_backward_##S(T *a, const T *g, const T *mask,         \
                                     ptrdiff_t n, double p, int act,          \
                                     double param);                           \
    void fm_add_noise_##S(T *x, ptrdiff_t n, uint32_t first, double std,      \
                          uint64_t key);                                      \
    /* sparse.c: the first layer on the minibatch's nonzeros */               \
    void fm_csr_rows_##S(const T *X, ptrdiff_t ldx, const ptrdiff_t *idx,     \
                         ptrdiff_t start, ptrdiff_t r0, ptrdiff_t r1,         \
                         int32_t *cols, T *vals, ptrdiff_t *nnz);             \
    void fm_csr_matmul_##S(const int32_t *cols, const T *vals,                \
                           const ptrdiff_t *nnz, ptrdiff_t stride,            \
                           ptrdiff_t rows, const T *W, ptrdiff_t ldw,         \
                           ptrdiff_t c0, ptrdiff_t c1, T *Z, ptrdiff_t ldz);  \
    void fm_csc_wgrad_##S(const int32_t *cols, const T *vals,                 \
                          const ptrdiff_t *nnz, ptrdiff_t stride,             \
                          ptrdiff_t rows, ptrdiff_t k0, ptrdiff_t k1,         \
                          const T *D, ptrdiff_t n_out, T *dW, int accumulate, \
                          ptrdiff_t *colptr, int32_t *rowidx, T *cvals);

FM_DECLARE(float, f)
FM_DECLARE(double, d)

#undef FM_DECLARE

#endif
