/* Elementwise kernels of the fastmlp engine: see kernels.h.
 *
 * One template, instantiated for float and double.  Reductions (losses,
 * column sums, sums of squares) accumulate in double whatever T is.
 */
#include <math.h>
#include <string.h>
#include "kernels.h"


/* Gaussian noise without libm calls, so that the loop vectorises (a scalar
 * log and cos per number made input noise cost more than the epoch).
 *
 * Box-Muller on the pair (2k, 2k + 1) of counter-based random words:
 * r = sqrt(-2 log u1) with u1 in (0, 1], and the angle drawn as a quarter
 * turn theta = v pi / 2 (v uniform in [0, 1), 30 bits) with two random sign
 * bits, which makes (+-cos theta, +-sin theta) uniform on the circle.
 * Element 2k gets r (+-cos theta), element 2k + 1 gets r (+-sin theta):
 * each element computes its own pair, branch-free.  log and sin/cos are
 * polynomials accurate to ~1e-13 on their ranges. */
static inline double fm_log_unit(double x)
{
    /* log of x in (0, 1]: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
     * log m = 2 atanh(t), t = (m - 1) / (m + 1), |t| < 0.172. */
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    int64_t e = (int64_t)(bits >> 52) - 1023;
    bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
    double m;
    memcpy(&m, &bits, sizeof m);
    const int big = m > 1.4142135623730951;
    m = big ? 0.5 * m : m;
    e += big;
    const double t = (m - 1.0) / (m + 1.0), t2 = t * t;
    const double p = 1.0 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7
                     + t2 * (1.0 / 9 + t2 * (1.0 / 11 + t2 * (1.0 / 13))))));
    return (double)e * 0.6931471805599453 + 2.0 * t * p;
}

static inline double fm_gaussian(uint64_t key, uint32_t e)
{
    const uint32_t pair = e & ~1U;
    const uint32_t b1 = fm_random_bits(key, pair), b2 = fm_random_bits(key, pair + 1);
    const double u1 = ((double)b1 + 1.0) * (1.0 / 4294967296.0);
    const double r = sqrt(-2.0 * fm_log_unit(u1));
    /* theta - pi/4 in [-pi/4, pi/4): Taylor series of sin and cos there */
    const double a = (double)(b2 >> 2) * (1.5707963267948966 / 1073741824.0)
                     - 0.7853981633974483;
    const double a2 = a * a;
    const double s = a * (1.0 - a2 * (1.0 / 6) * (1.0 - a2 * (1.0 / 20)
                     * (1.0 - a2 * (1.0 / 42) * (1.0 - a2 * (1.0 / 72)
                     * (1.0 - a2 * (1.0 / 110) * (1.0 - a2 * (1.0 / 156)))))));
    const double c = 1.0 - a2 * (1.0 / 2) * (1.0 - a2 * (1.0 / 12)
                     * (1.0 - a2 * (1.0 / 30) * (1.0 - a2 * (1.0 / 56)
                     * (1.0 - a2 * (1.0 / 90) * (1.0 - a2 * (1.0 / 132)
                     * (1.0 - a2 * (1.0 / 182)))))));
    /* cos(a + pi/4) = (c - s) / sqrt 2, sin(a + pi/4) = (c + s) / sqrt 2 */
    const int odd = e & 1U;
    const double trig = (odd ? c + s : c - s) * 0.7071067811865476;
    const double sign = (b2 >> odd) & 1U ? -1.0 : 1.0;
    return r * sign * trig;
}

/* The loop of an optimiser update: BODY updates element i of theta (and of
 * the state).  With `ss` the loop also sums theta[i]**2 after the update
 * into `acc` (double); without, the plain loop runs. */
#define FM_UPDATE_LOOP(n, ...)                                                \
    if (ss != NULL) {                                                         \
        _Pragma("omp simd reduction(+:acc)")                                  \
        for (ptrdiff_t i = 0; i < (n); i++) {                                 \
            __VA_ARGS__                                                       \
            acc += (double)theta[i] * (double)theta[i];                       \
        }                                                                     \
    } else {                                                                  \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < (n); i++) {                                 \
            __VA_ARGS__                                                       \
        }                                                                     \
    }

/* columns per chunk of fm_vecmat (the engine's VECMAT_CHUNK) */
#define FM_VECMAT_W 128

#define FM_DEFINE(T, S, EXP, EXPM1, LOG1P, LOG, TANH, FABS)                   \
                                                                              \
static inline T fm_sigmoid_##S(T z)                                           \
{                                                                             \
    /* Never exponentiate a positive number: no overflow for any z. */        \
    if (z >= 0) return (T)1 / ((T)1 + EXP(-z));                               \
    T e = EXP(z);                                                             \
    return e / ((T)1 + e);                                                    \
}                                                                             \
                                                                              \
static inline T fm_softplus_##S(T z)                                          \
{                                                                             \
    /* log(1 + e^z) = max(z, 0) + log1p(e^-|z|), exact for every z. */        \
    return (z > 0 ? z : (T)0) + LOG1P(EXP(-FABS(z)));                         \
}                                                                             \
                                                                              \
/* z[i, :] = act(z[i, :] + b): bias add fused with the activation. */        \
FM_KERNEL void fm_bias_act_##S(T *z, const T *b, ptrdiff_t rows, ptrdiff_t cols,        \
                     int act, double param)                                   \
{                                                                             \
    const T p = (T)param;                                                     \
    for (ptrdiff_t i = 0; i < rows; i++) {                                    \
        T *zi = z + i * cols;                                                 \
        switch (act) {                                                        \
        case FM_ACT_IDENTITY:                                                 \
            _Pragma("omp simd")                                               \
            for (ptrdiff_t j = 0; j < cols; j++) zi[j] += b[j];               \
            break;                                                            \
        case FM_ACT_LOGISTIC:                                                 \
            for (ptrdiff_t j = 0; j < cols; j++)                              \
                zi[j] = fm_sigmoid_##S(zi[j] + b[j]);                         \
            break;                                                            \
        case FM_ACT_TANH:                                                     \
            for (ptrdiff_t j = 0; j < cols; j++) zi[j] = TANH(zi[j] + b[j]);  \
            break;                                                            \
        case FM_ACT_RELU:                                                     \
            _Pragma("omp simd")                                               \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                T v = zi[j] + b[j];                                           \
                zi[j] = v > 0 ? v : (T)0;                                     \
            }                                                                 \
            break;                                                            \
        case FM_ACT_LEAKY_RELU:                                               \
            _Pragma("omp simd")                                               \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                T v = zi[j] + b[j];                                           \
                zi[j] = v > 0 ? v : p * v;                                    \
            }                                                                 \
            break;                                                            \
        case FM_ACT_ELU:                                                      \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                T v = zi[j] + b[j];                                           \
                zi[j] = v > 0 ? v : p * EXPM1(v);                             \
            }                                                                 \
            break;                                                            \
        }                                                                     \
    }                                                                         \
}                                                                             \
                                                                              \
/* a := g * act'(z), with act' written in terms of the output a = act(z),    \
 * so that only post-activations are kept for the backward pass. */          \
FM_KERNEL void fm_act_backward_##S(T *a, const T *g, ptrdiff_t n, int act,              \
                         double param)                                        \
{                                                                             \
    const T p = (T)param;                                                     \
    switch (act) {                                                            \
    case FM_ACT_IDENTITY:                                                     \
        memcpy(a, g, (size_t)n * sizeof(T));                                  \
        break;                                                                \
    case FM_ACT_LOGISTIC:                                                     \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++) a[i] = g[i] * a[i] * ((T)1 - a[i]); \
        break;                                                                \
    case FM_ACT_TANH:                                                         \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++) a[i] = g[i] * ((T)1 - a[i] * a[i]); \
        break;                                                                \
    case FM_ACT_RELU:                                                         \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++) a[i] = a[i] > 0 ? g[i] : (T)0;      \
        break;                                                                \
    case FM_ACT_LEAKY_RELU:                                                   \
        /* slope > 0 keeps the sign, so a > 0 iff z > 0 */                    \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++) a[i] = a[i] > 0 ? g[i] : p * g[i];  \
        break;                                                                \
    case FM_ACT_ELU:                                                          \
        /* z <= 0: d/dz alpha*(e^z - 1) = alpha*e^z = a + alpha */            \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++)                                     \
            a[i] = a[i] > 0 ? g[i] : g[i] * (a[i] + p);                       \
        break;                                                                \
    }                                                                         \
}                                                                             \
                                                                              \
/* Loss and output delta from the logits, in place: on return z holds        \
 * delta = scale * sw_i * dl_i/dz.  Returns sum_i sw_i * l_i (double).        \
 * l_i is the negative log-likelihood of sample i summed over outputs (up    \
 * to constants), computed from the logits with log-sum-exp. */              \
FM_KERNEL double fm_loss_delta_##S(T *z, const T *y, const T *sw, ptrdiff_t rows,       \
                         ptrdiff_t cols, int out, double scale)               \
{                                                                             \
    double total = 0.0;                                                       \
    for (ptrdiff_t i = 0; i < rows; i++) {                                    \
        T *zi = z + i * cols;                                                 \
        const T *yi = y + i * cols;                                           \
        const double w = sw ? (double)sw[i] : 1.0;                            \
        const T ws = (T)(w * scale);                                          \
        double li = 0.0;                                                      \
        switch (out) {                                                        \
        case FM_OUT_IDENTITY_SQUARED:                                         \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                T r = zi[j] - yi[j];                                          \
                li += 0.5 * (double)r * (double)r;                            \
                zi[j] = r * ws;                                               \
            }                                                                 \
            break;                                                            \
        case FM_OUT_SOFTMAX_LOGLOSS: {                                        \
            T zmax = zi[0];                                                   \
            for (ptrdiff_t j = 1; j < cols; j++)                              \
                if (zi[j] > zmax) zmax = zi[j];                               \
            double s = 0.0, ysum = 0.0, yz = 0.0;                             \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                T e = EXP(zi[j] - zmax);                                      \
                s += (double)e;                                               \
                ysum += (double)yi[j];                                        \
                yz += (double)yi[j] * (double)(zi[j] - zmax);                 \
                zi[j] = e;                                                    \
            }                                                                 \
            /* -sum_k y_k log p_k = sum_k y_k (lse - z_k) */                  \
            li = ysum * log(s) - yz;                                          \
            const T inv = (T)(1.0 / s);                                       \
            for (ptrdiff_t j = 0; j < cols; j++)                              \
                zi[j] = (zi[j] * inv - yi[j]) * ws;                           \
            break;                                                            \
        }                                                                     \
        case FM_OUT_LOGISTIC_BINARY:                                          \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                T zj = zi[j];                                                 \
                /* -y log s(z) - (1-y) log(1-s(z)) = softplus(z) - y z */     \
                li += (double)fm_softplus_##S(zj) - (double)yi[j] * zj;       \
                zi[j] = (fm_sigmoid_##S(zj) - yi[j]) * ws;                    \
            }                                                                 \
            break;                                                            \
        case FM_OUT_EXP_POISSON:                                              \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                T zj = zi[j];                                                 \
                T mu = EXP(zj);                                               \
                double yj = (double)yi[j];                                    \
                /* half deviance as scikit-learn: y log(y/mu) - y + mu */     \
                li += (yj > 0 ? yj * log(yj) : 0.0) - yj * zj - yj + mu;      \
                zi[j] = (mu - yi[j]) * ws;                                    \
            }                                                                 \
            break;                                                            \
        case FM_OUT_SOFTPLUS_SQUARED:                                         \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                T zj = zi[j];                                                 \
                T r = fm_softplus_##S(zj) - yi[j];                            \
                li += 0.5 * (double)r * (double)r;                            \
                zi[j] = r * fm_sigmoid_##S(zj) * ws;                          \
            }                                                                 \
            break;                                                            \
        case FM_OUT_LOGISTIC_SQUARED:                                         \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                T p = fm_sigmoid_##S(zi[j]);                                  \
                T r = p - yi[j];                                              \
                li += 0.5 * (double)r * (double)r;                            \
                zi[j] = r * p * ((T)1 - p) * ws;                              \
            }                                                                 \
            break;                                                            \
        }                                                                     \
        total += w * li;                                                      \
    }                                                                         \
    return total;                                                             \
}                                                                             \
                                                                              \
/* z[i, :] = out(z[i, :] + b): the output layer at prediction time. */       \
FM_KERNEL void fm_output_##S(T *z, const T *b, ptrdiff_t rows, ptrdiff_t cols, int out) \
{                                                                             \
    for (ptrdiff_t i = 0; i < rows; i++) {                                    \
        T *zi = z + i * cols;                                                 \
        for (ptrdiff_t j = 0; j < cols; j++) zi[j] += b[j];                   \
        switch (out) {                                                        \
        case FM_OUT_IDENTITY_SQUARED:                                         \
            break;                                                            \
        case FM_OUT_SOFTMAX_LOGLOSS: {                                        \
            T zmax = zi[0];                                                   \
            for (ptrdiff_t j = 1; j < cols; j++)                              \
                if (zi[j] > zmax) zmax = zi[j];                               \
            double s = 0.0;                                                   \
            for (ptrdiff_t j = 0; j < cols; j++) {                            \
                zi[j] = EXP(zi[j] - zmax);                                    \
                s += (double)zi[j];                                           \
            }                                                                 \
            const T inv = (T)(1.0 / s);                                       \
            for (ptrdiff_t j = 0; j < cols; j++) zi[j] *= inv;                \
            break;                                                            \
        }                                                                     \
        case FM_OUT_LOGISTIC_BINARY:                                          \
        case FM_OUT_LOGISTIC_SQUARED:                                         \
            for (ptrdiff_t j = 0; j < cols; j++)                              \
                zi[j] = fm_sigmoid_##S(zi[j]);                                \
            break;                                                            \
        case FM_OUT_EXP_POISSON:                                              \
            for (ptrdiff_t j = 0; j < cols; j++) zi[j] = EXP(zi[j]);          \
            break;                                                            \
        case FM_OUT_SOFTPLUS_SQUARED:                                         \
            for (ptrdiff_t j = 0; j < cols; j++)                              \
                zi[j] = fm_softplus_##S(zi[j]);                               \
            break;                                                            \
        }                                                                     \
    }                                                                         \
}                                                                             \
                                                                              \
/* acc[j] += sum_i x[i, j] for j < cols (row stride ld), in double and in    \
 * row order, so the result does not depend on how columns are split. */     \
FM_KERNEL void fm_colsum_##S(const T *x, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t cols,  \
                   double *acc)                                               \
{                                                                             \
    for (ptrdiff_t i = 0; i < rows; i++) {                                    \
        const T *xi = x + i * ld;                                             \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < cols; j++) acc[j] += (double)xi[j];         \
    }                                                                         \
}                                                                             \
                                                                              \
/* dst = scale * src; returns sum(src**2) in double (the L2 penalty). */     \
FM_KERNEL double fm_scaled_copy_sumsq_##S(T *dst, const T *src, ptrdiff_t n,            \
                                double scale)                                 \
{                                                                             \
    const T s = (T)scale;                                                     \
    double ss = 0.0;                                                          \
    _Pragma("omp simd reduction(+:ss)")                                       \
    for (ptrdiff_t i = 0; i < n; i++) {                                       \
        dst[i] = s * src[i];                                                  \
        ss += (double)src[i] * (double)src[i];                                \
    }                                                                         \
    return ss;                                                                \
}                                                                             \
                                                                              \
/* y[0:n] = x[0:m] @ W[0:m, 0:n] for a row-major W with row stride ldw: one   \
 * sample through a layer.  Columns go in chunks of FM_VECMAT_W whose sums   \
 * stay in registers while the rows of W stream past (no packing: for one   \
 * row, packing W would cost more than the product); each column sums over  \
 * i in order. */                                                            \
FM_KERNEL void fm_vecmat_##S(const T *x, ptrdiff_t m, const T *W, ptrdiff_t ldw, \
                             ptrdiff_t n, T *y)                               \
{                                                                             \
    /* Rows of W whose x is zero are not read: inputs such as images and     \
     * one-hot codes, and hidden layers after a ReLU, are mostly zeros, and  \
     * streaming W is this product's cost (784 x 256 floats: 9.3 us dense,   \
     * 2.4 us for MNIST's 19 % of nonzeros).  A plain branch: listing the    \
     * nonzeros first kept GCC from holding the sums in registers (5x        \
     * slower).  Full chunks have a constant width, so that their sums are   \
     * kept in registers; the last, narrower chunk takes the general loop. */ \
    ptrdiff_t c = 0;                                                          \
    for (; c + FM_VECMAT_W <= n; c += FM_VECMAT_W) {                          \
        T acc[FM_VECMAT_W];                                                   \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < FM_VECMAT_W; j++) acc[j] = 0;               \
        for (ptrdiff_t i = 0; i < m; i++) {                                   \
            const T xi = x[i];                                                \
            if (xi == 0) continue;                                            \
            const T *row = W + i * ldw + c;                                   \
            _Pragma("omp simd")                                               \
            for (ptrdiff_t j = 0; j < FM_VECMAT_W; j++) acc[j] += xi * row[j]; \
        }                                                                     \
        memcpy(y + c, acc, sizeof(acc));                                      \
    }                                                                         \
    if (c < n) {                                                              \
        const ptrdiff_t w = n - c;                                            \
        T acc[FM_VECMAT_W];                                                   \
        for (ptrdiff_t j = 0; j < w; j++) acc[j] = 0;                         \
        for (ptrdiff_t i = 0; i < m; i++) {                                   \
            const T xi = x[i];                                                \
            if (xi == 0) continue;                                            \
            const T *row = W + i * ldw + c;                                   \
            _Pragma("omp simd")                                               \
            for (ptrdiff_t j = 0; j < w; j++) acc[j] += xi * row[j];          \
        }                                                                     \
        memcpy(y + c, acc, (size_t)w * sizeof(T));                            \
    }                                                                         \
}                                                                             \
                                                                              \
/* sum(x[0:n]**2) in double. */                                              \
FM_KERNEL double fm_sumsq_##S(const T *x, ptrdiff_t n)                        \
{                                                                             \
    double acc = 0.0;                                                         \
    _Pragma("omp simd reduction(+:acc)")                                      \
    for (ptrdiff_t i = 0; i < n; i++) acc += (double)x[i] * (double)x[i];     \
    return acc;                                                               \
}                                                                             \
                                                                              \
/* 1 if x[0:n] holds NaN or infinity, else 0: 0 * x is 0 exactly when x    \
 * is finite, so one (reorderable) sum tells. */                             \
FM_KERNEL int fm_nonfinite_##S(const T *x, ptrdiff_t n)                       \
{                                                                             \
    T acc = 0;                                                                \
    _Pragma("omp simd reduction(+:acc)")                                      \
    for (ptrdiff_t i = 0; i < n; i++) acc += (T)0 * x[i];                     \
    return acc != 0;                                                          \
}                                                                             \
                                                                              \
FM_KERNEL void fm_gather_rows_##S(T *dst, const T *src, const ptrdiff_t *idx,           \
                        ptrdiff_t rows, ptrdiff_t cols)                       \
{                                                                             \
    for (ptrdiff_t i = 0; i < rows; i++)                                      \
        memcpy(dst + i * cols, src + idx[i] * cols, (size_t)cols * sizeof(T)); \
}                                                                             \
                                                                              \
/* scikit-learn's SGD: v <- mu v - lr g; theta += v, or with Nesterov        \
 * (Bengio's reparametrisation) theta += mu v - lr g. */                     \
FM_KERNEL void fm_sgd_step_##S(T *theta, const T *grad, T *velocity, ptrdiff_t n,       \
                     double lr, double momentum, int nesterov, double l2,     \
                     double *ss)                                              \
{                                                                             \
    const T eta = (T)lr, mu = (T)momentum, lam = (T)l2;                       \
    double acc = 0.0;                                                         \
    if (momentum == 0.0) {                                                    \
        FM_UPDATE_LOOP(n,                                                     \
            theta[i] -= eta * (grad[i] + lam * theta[i]);)                    \
    } else if (nesterov) {                                                    \
        FM_UPDATE_LOOP(n,                                                     \
            T g = grad[i] + lam * theta[i];                                   \
            T v = mu * velocity[i] - eta * g;                                 \
            velocity[i] = v;                                                  \
            theta[i] += mu * v - eta * g;)                                    \
    } else {                                                                  \
        FM_UPDATE_LOOP(n,                                                     \
            T v = mu * velocity[i] - eta * (grad[i] + lam * theta[i]);        \
            velocity[i] = v;                                                  \
            theta[i] += v;)                                                   \
    }                                                                         \
    if (ss) *ss = acc;                                                        \
}                                                                             \
                                                                              \
/* Adam as scikit-learn (Kingma & Ba, Sec. 2 form): lr_t carries both bias   \
 * corrections and eps is added to the uncorrected sqrt(v). */               \
FM_KERNEL void fm_adam_step_##S(T *theta, const T *grad, T *m, T *v, ptrdiff_t n,       \
                      double lr_t, double beta1, double beta2, double eps,    \
                      double l2, double *ss)                                  \
{                                                                             \
    const T b1 = (T)beta1, b2 = (T)beta2, c1 = (T)(1.0 - beta1),              \
            c2 = (T)(1.0 - beta2), lr = (T)lr_t, e = (T)eps, lam = (T)l2;     \
    double acc = 0.0;                                                         \
    FM_UPDATE_LOOP(n,                                                         \
        T g = grad[i] + lam * theta[i];                                       \
        T mi = b1 * m[i] + c1 * g;                                            \
        T vi = b2 * v[i] + c2 * (g * g);                                      \
        m[i] = mi;                                                            \
        v[i] = vi;                                                            \
        theta[i] -= lr * mi / (SQRT_##S(vi) + e);)                            \
    if (ss) *ss = acc;                                                        \
}                                                                             \
                                                                              \
/* AdamW as PyTorch (Loshchilov & Hutter): theta *= 1 - lr * decay (decay   \
 * is 0 past the weights), then Adam with eps added to the bias-corrected    \
 * sqrt(v): theta -= lr / c1 * m / (sqrt(v) / sqrt(c2) + eps), with         \
 * c1 = 1 - beta1^t and c2 = 1 - beta2^t. */                                 \
FM_KERNEL void fm_adamw_step_##S(T *theta, const T *grad, T *m, T *v, ptrdiff_t n,      \
                       double lr, double c1, double c2, double beta1,         \
                       double beta2, double eps, double decay, double l2,     \
                       double *ss)                                            \
{                                                                             \
    const T b1 = (T)beta1, b2 = (T)beta2, d1 = (T)(1.0 - beta1),              \
            d2 = (T)(1.0 - beta2), step = (T)(lr / c1),                       \
            rc2 = (T)(1.0 / sqrt(c2)), e = (T)eps, keep = (T)(1.0 - lr * decay), \
            lam = (T)l2;                                                      \
    double acc = 0.0;                                                         \
    FM_UPDATE_LOOP(n,                                                         \
        T g = grad[i] + lam * theta[i];                                       \
        T mi = b1 * m[i] + d1 * g;                                            \
        T vi = b2 * v[i] + d2 * (g * g);                                      \
        m[i] = mi;                                                            \
        v[i] = vi;                                                            \
        theta[i] = theta[i] * keep - step * mi / (SQRT_##S(vi) * rc2 + e);)   \
    if (ss) *ss = acc;                                                        \
}                                                                             \
                                                                              \
/* Adagrad as PyTorch (Duchi et al., diagonal): G += g^2;                    \
 * theta -= lr * g / (sqrt(G) + eps), eps outside the square root. */        \
FM_KERNEL void fm_adagrad_step_##S(T *theta, const T *grad, T *G, ptrdiff_t n,          \
                         double lr, double eps, double l2, double *ss)        \
{                                                                             \
    const T eta = (T)lr, e = (T)eps, lam = (T)l2;                             \
    double acc = 0.0;                                                         \
    FM_UPDATE_LOOP(n,                                                         \
        T g = grad[i] + lam * theta[i];                                       \
        T Gi = G[i] + g * g;                                                  \
        G[i] = Gi;                                                            \
        theta[i] -= eta * g / (SQRT_##S(Gi) + e);)                            \
    if (ss) *ss = acc;                                                        \
}                                                                             \
                                                                              \
/* RMSProp as PyTorch: E <- rho E + (1 - rho) g^2; avg = sqrt(E) + eps (eps  \
 * outside the root); centered (gavg != NULL): gavg <- rho gavg +           \
 * (1 - rho) g, avg = sqrt(E - gavg^2) + eps; with momentum (buf != NULL):  \
 * buf <- momentum buf + g / avg, theta -= lr buf; else theta -= lr g/avg. */ \
static inline void fm_rmsprop_elem_##S(T *theta, const T *grad, T *E, T *buf, \
                                       T *gavg, ptrdiff_t i, T r, T c, T eta, \
                                       T e, T mu, T lam, int centered,       \
                                       int momentum)                         \
{                                                                             \
    T g = grad[i] + lam * theta[i];                                           \
    T Ei = r * E[i] + c * (g * g);                                            \
    E[i] = Ei;                                                                \
    T avg;                                                                    \
    if (centered) {                                                           \
        T ga = r * gavg[i] + c * g;                                           \
        gavg[i] = ga;                                                         \
        avg = SQRT_##S(Ei - ga * ga) + e;                                     \
    } else {                                                                  \
        avg = SQRT_##S(Ei) + e;                                               \
    }                                                                         \
    if (momentum) {                                                           \
        T b = mu * buf[i] + g / avg;                                          \
        buf[i] = b;                                                           \
        theta[i] -= eta * b;                                                  \
    } else {                                                                  \
        theta[i] -= eta * g / avg;                                            \
    }                                                                         \
}                                                                             \
                                                                              \
FM_KERNEL void fm_rmsprop_step_##S(T *theta, const T *grad, T *E, T *buf, T *gavg,      \
                         ptrdiff_t n, double lr, double rho, double eps,      \
                         double momentum, double l2, double *ss)              \
{                                                                             \
    const T r = (T)rho, c = (T)(1.0 - rho), eta = (T)lr, e = (T)eps,          \
            mu = (T)momentum, lam = (T)l2;                                    \
    double acc = 0.0;                                                         \
    /* one loop per variant, no branch inside: it vectorises */               \
    if (gavg && buf) {                                                        \
        FM_UPDATE_LOOP(n, fm_rmsprop_elem_##S(theta, grad, E, buf, gavg, i,   \
                                              r, c, eta, e, mu, lam, 1, 1);)  \
    } else if (gavg) {                                                        \
        FM_UPDATE_LOOP(n, fm_rmsprop_elem_##S(theta, grad, E, buf, gavg, i,   \
                                              r, c, eta, e, mu, lam, 1, 0);)  \
    } else if (buf) {                                                         \
        FM_UPDATE_LOOP(n, fm_rmsprop_elem_##S(theta, grad, E, buf, gavg, i,   \
                                              r, c, eta, e, mu, lam, 0, 1);)  \
    } else {                                                                  \
        FM_UPDATE_LOOP(n, fm_rmsprop_elem_##S(theta, grad, E, buf, gavg, i,   \
                                              r, c, eta, e, mu, lam, 0, 0);)  \
    }                                                                         \
    if (ss) *ss = acc;                                                        \
}                                                                             \
                                                                              \
/* Adadelta as PyTorch (Zeiler 2012 with a learning rate, 1 in the paper):   \
 * Eg <- rho Eg + (1 - rho) g^2; dx = sqrt(Edx + eps) / sqrt(Eg + eps) * g;  \
 * Edx <- rho Edx + (1 - rho) dx^2; theta -= lr dx (eps inside both roots). */ \
FM_KERNEL void fm_adadelta_step_##S(T *theta, const T *grad, T *Eg, T *Edx,             \
                          ptrdiff_t n, double lr, double rho, double eps,     \
                          double l2, double *ss)                              \
{                                                                             \
    const T r = (T)rho, c = (T)(1.0 - rho), eta = (T)lr, e = (T)eps,          \
            lam = (T)l2;                                                      \
    double acc = 0.0;                                                         \
    FM_UPDATE_LOOP(n,                                                         \
        T g = grad[i] + lam * theta[i];                                       \
        T Egi = r * Eg[i] + c * (g * g);                                      \
        Eg[i] = Egi;                                                          \
        T dx = SQRT_##S(Edx[i] + e) / SQRT_##S(Egi + e) * g;                  \
        Edx[i] = r * Edx[i] + c * (dx * dx);                                  \
        theta[i] -= eta * dx;)                                                \
    if (ss) *ss = acc;                                                        \
}                                                                             \
                                                                              \
/* Batch statistics of columns [0, cols) (row stride ld), in double: the     \
 * mean, then the biased variance from a second pass (no cancellation). */   \
FM_KERNEL void fm_bn_stats_##S(const T *z, ptrdiff_t rows, ptrdiff_t ld,     \
                               ptrdiff_t cols, double *mean, double *var)    \
{                                                                             \
    for (ptrdiff_t j = 0; j < cols; j++) mean[j] = var[j] = 0.0;              \
    for (ptrdiff_t i = 0; i < rows; i++) {                                    \
        const T *zi = z + i * ld;                                             \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < cols; j++) mean[j] += (double)zi[j];        \
    }                                                                         \
    for (ptrdiff_t j = 0; j < cols; j++) mean[j] /= (double)rows;             \
    for (ptrdiff_t i = 0; i < rows; i++) {                                    \
        const T *zi = z + i * ld;                                             \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < cols; j++) {                                \
            double d = (double)zi[j] - mean[j];                               \
            var[j] += d * d;                                                  \
        }                                                                     \
    }                                                                         \
    for (ptrdiff_t j = 0; j < cols; j++) var[j] /= (double)rows;              \
}                                                                             \
                                                                              \
/* xhat = (z - mean) inv_std; z := act(gamma xhat + beta), for columns       \
 * [0, cols) with row stride ld. */                                          \
FM_KERNEL void fm_bn_normalize_act_##S(T *z, T *xhat, ptrdiff_t rows,        \
                                       ptrdiff_t ld, ptrdiff_t cols,         \
                                       const double *mean,                   \
                                       const double *inv_std, const T *gamma, \
                                       const T *beta, int act, double param)  \
{                                                                             \
    for (ptrdiff_t i = 0; i < rows; i++) {                                    \
        T *zi = z + i * ld, *xi = xhat + i * ld;                              \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < cols; j++) {                                \
            T xh = (T)(((double)zi[j] - mean[j]) * inv_std[j]);               \
            xi[j] = xh;                                                       \
            zi[j] = gamma[j] * xh;                                            \
        }                                                                     \
        fm_bias_act_##S(zi, beta, 1, cols, act, param);                       \
    }                                                                         \
}                                                                             \
                                                                              \
/* The exact backward pass of batch normalisation (Ioffe & Szegedy), per     \
 * column: dbeta = sum dy, dgamma = sum dy xhat (double);                    \
 * dz = gamma inv_std / m (m dy - dbeta - xhat dgamma), written over dy. */   \
FM_KERNEL void fm_bn_backward_##S(T *dy, const T *xhat, ptrdiff_t rows,      \
                                  ptrdiff_t ld, ptrdiff_t cols,              \
                                  const double *inv_std, const T *gamma,     \
                                  T *dgamma, T *dbeta)                       \
{                                                                             \
    /* Row by row over chunks of 64 columns (unit stride, vectorised); each  \
     * column still sums over the rows in order. */                          \
    const double m = (double)rows;                                            \
    for (ptrdiff_t c0 = 0; c0 < cols; c0 += 64) {                             \
        const ptrdiff_t w = cols - c0 < 64 ? cols - c0 : 64;                  \
        double sb[64], sg[64], c[64];                                         \
        for (ptrdiff_t j = 0; j < w; j++) sb[j] = sg[j] = 0.0;                \
        for (ptrdiff_t i = 0; i < rows; i++) {                                \
            const T *di = dy + i * ld + c0, *xi = xhat + i * ld + c0;         \
            _Pragma("omp simd")                                               \
            for (ptrdiff_t j = 0; j < w; j++) {                               \
                double d = (double)di[j];                                     \
                sb[j] += d;                                                   \
                sg[j] += d * (double)xi[j];                                   \
            }                                                                 \
        }                                                                     \
        for (ptrdiff_t j = 0; j < w; j++) {                                   \
            dbeta[c0 + j] = (T)sb[j];                                         \
            dgamma[c0 + j] = (T)sg[j];                                        \
            c[j] = (double)gamma[c0 + j] * inv_std[c0 + j] / m;               \
        }                                                                     \
        for (ptrdiff_t i = 0; i < rows; i++) {                                \
            T *di = dy + i * ld + c0;                                         \
            const T *xi = xhat + i * ld + c0;                                 \
            _Pragma("omp simd")                                               \
            for (ptrdiff_t j = 0; j < w; j++)                                 \
                di[j] = (T)(c[j] * (m * (double)di[j] - sb[j]                 \
                                    - (double)xi[j] * sg[j]));                \
        }                                                                     \
    }                                                                         \
}                                                                             \
                                                                              \
/* z := act(scale * z + shift): batch normalisation at inference, folded.   */\
FM_KERNEL void fm_scale_shift_act_##S(T *z, const T *scale, const T *shift,  \
                                      ptrdiff_t rows, ptrdiff_t cols,        \
                                      int act, double param)                 \
{                                                                             \
    for (ptrdiff_t i = 0; i < rows; i++) {                                    \
        T *zi = z + i * cols;                                                 \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t j = 0; j < cols; j++) zi[j] *= scale[j];               \
        fm_bias_act_##S(zi, shift, 1, cols, act, param);                      \
    }                                                                         \
}                                                                             \
                                                                              \
/* Inverted dropout of n elements numbered first, first + 1, ...: each is   \
 * kept with probability 1 - p and scaled by 1 / (1 - p), or zeroed; the    \
 * factor (0 or 1 / (1 - p)) is kept in mask for the backward pass. */       \
FM_KERNEL void fm_dropout_##S(T *a, T *mask, ptrdiff_t n, uint32_t first,    \
                              double p, uint64_t key)                         \
{                                                                             \
    const uint32_t thr = (uint32_t)(p * 4294967296.0);                        \
    const T keep = (T)(1.0 / (1.0 - p));                                      \
    _Pragma("omp simd")                                                       \
    for (ptrdiff_t i = 0; i < n; i++) {                                       \
        uint32_t r = fm_random_bits(key, first + (uint32_t)i);                \
        T m = r >= thr ? keep : (T)0;                                         \
        mask[i] = m;                                                          \
        a[i] *= m;                                                            \
    }                                                                         \
}                                                                             \
                                                                              \
/* Backward of act followed by dropout: a holds the dropped-out activation, \
 * g dL/d(output), mask the forward's factors.  Kept units hold              \
 * a = h / (1 - p) with h = act(z), so act'(z) is written in terms of        \
 * h = a (1 - p); dropped units get mask 0, hence a zero gradient. */        \
FM_KERNEL void fm_dropout_act_backward_##S(T *a, const T *g, const T *mask,  \
                                           ptrdiff_t n, double p, int act,   \
                                           double param)                     \
{                                                                             \
    const T q = (T)(1.0 - p), s = (T)param;                                   \
    switch (act) {                                                            \
    case FM_ACT_IDENTITY:                                                     \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++) a[i] = g[i] * mask[i];              \
        break;                                                                \
    case FM_ACT_LOGISTIC:                                                     \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++) {                                   \
            T h = a[i] * q;                                                   \
            a[i] = g[i] * mask[i] * h * ((T)1 - h);                           \
        }                                                                     \
        break;                                                                \
    case FM_ACT_TANH:                                                         \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++) {                                   \
            T h = a[i] * q;                                                   \
            a[i] = g[i] * mask[i] * ((T)1 - h * h);                           \
        }                                                                     \
        break;                                                                \
    case FM_ACT_RELU:                                                         \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++)                                     \
            a[i] = a[i] > 0 ? g[i] * mask[i] : (T)0;                          \
        break;                                                                \
    case FM_ACT_LEAKY_RELU:                                                   \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++)                                     \
            a[i] = g[i] * mask[i] * (a[i] > 0 ? (T)1 : s);                    \
        break;                                                                \
    case FM_ACT_ELU:                                                          \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < n; i++) {                                   \
            T h = a[i] * q;                                                   \
            a[i] = g[i] * mask[i] * (h > 0 ? (T)1 : h + s);                   \
        }                                                                     \
        break;                                                                \
    }                                                                         \
}                                                                             \
                                                                              \
/* x += std * N(0, 1): Box-Muller, both of its outputs, on two             \
 * counter-based uniforms per pair of elements (pair k uses counters 2k and \
 * 2k + 1 of the stream, whatever the block it falls in). */                 \
FM_KERNEL void fm_add_noise_##S(T *x, ptrdiff_t n, uint32_t first, double std, \
                                uint64_t key)                                 \
{                                                                             \
    _Pragma("omp simd")                                                       \
    for (ptrdiff_t i = 0; i < n; i++)                                         \
        x[i] += (T)(std * fm_gaussian(key, first + (uint32_t)i));             \
}

/* SplitMix64 over (seed, epoch, batch, stream): the key of one batch's
 * random numbers. */
static uint64_t fm_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t fm_batch_key(uint64_t seed, uint64_t epoch, uint64_t batch, uint64_t stream)
{
    return fm_splitmix64(fm_splitmix64(fm_splitmix64(fm_splitmix64(seed) ^ epoch)
                                       ^ batch) ^ stream);
}

#define SQRT_f sqrtf
#define SQRT_d sqrt

FM_DEFINE(float, f, expf, expm1f, log1pf, logf, tanhf, fabsf)
FM_DEFINE(double, d, exp, expm1, log1p, log, tanh, fabs)
