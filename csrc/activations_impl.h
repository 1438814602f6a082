/* Hidden-layer activations (template, see common.h; the table is
 * FM_ACTIVATIONS in tables.h).
 *
 * Each activation is two scalar functions: fm_act_<name>(v, p) = act(v),
 * and fm_grad_<name>(g, a, v, p) = g * act'(v), given the output a = act(v)
 * and the input v (read only by activations whose table row says
 * needs_input; the others are written in terms of the output, so that only
 * activations are kept for the backward pass).  p is the activation's
 * parameter (leaky ReLU's slope, ELU's alpha).  The loops below are
 * generated from the table: one case per activation, each a loop over the
 * scalar function, vectorised where the function allows.  The expressions
 * keep their order of operations: results are reproducible bit for bit.
 */
#include "scalar_impl.h"

#define FM_SQRT1_2 0.70710678118654752440      /* 1 / sqrt(2) */
#define FM_INV_SQRT_2PI 0.39894228040143267794 /* 1 / sqrt(2 pi) */

static inline T FM_NAME(fm_act_identity)(T v, T p) { (void)p; return v; }
static inline T FM_NAME(fm_grad_identity)(T g, T a, T v, T p)
{
    (void)a; (void)v; (void)p;
    return g;
}

static inline T FM_NAME(fm_act_logistic)(T v, T p) { (void)p; return FM_NAME(fm_sigmoid)(v); }
static inline T FM_NAME(fm_grad_logistic)(T g, T a, T v, T p)
{
    (void)v; (void)p;
    return g * a * ((T)1 - a);
}

static inline T FM_NAME(fm_act_tanh)(T v, T p) { (void)p; return FM_TANH(v); }
static inline T FM_NAME(fm_grad_tanh)(T g, T a, T v, T p)
{
    (void)v; (void)p;
    return g * ((T)1 - a * a);
}

/* NaN passes (v != v): a NaN weight must show in the output, not become 0 */
static inline T FM_NAME(fm_act_relu)(T v, T p)
{
    (void)p;
    return (v > 0 || v != v) ? v : (T)0;
}
static inline T FM_NAME(fm_grad_relu)(T g, T a, T v, T p)
{
    (void)v; (void)p;
    return a > 0 ? g : (T)0;
}

static inline T FM_NAME(fm_act_leaky_relu)(T v, T p) { return v > 0 ? v : p * v; }
static inline T FM_NAME(fm_grad_leaky_relu)(T g, T a, T v, T p)
{
    (void)v;
    return a > 0 ? g : p * g;   /* a slope > 0 keeps the sign: a > 0 iff v > 0 */
}

static inline T FM_NAME(fm_act_elu)(T v, T p) { return v > 0 ? v : p * FM_EXPM1(v); }
static inline T FM_NAME(fm_grad_elu)(T g, T a, T v, T p)
{
    (void)v;
    return a > 0 ? g : g * (a + p);   /* v <= 0: d/dv p (e^v - 1) = p e^v = a + p */
}

/* GELU, exact (erf) form as PyTorch's nn.GELU(): v Phi(v). */
static inline T FM_NAME(fm_act_gelu)(T v, T p)
{
    (void)p;
    return v * (T)0.5 * ((T)1 + FM_ERF(v * (T)FM_SQRT1_2));
}
static inline T FM_NAME(fm_grad_gelu)(T g, T a, T v, T p)
{
    (void)a; (void)p;
    const T cdf = (T)0.5 * ((T)1 + FM_ERF(v * (T)FM_SQRT1_2));
    const T pdf = FM_EXP((T)-0.5 * v * v) * (T)FM_INV_SQRT_2PI;
    return g * (cdf + v * pdf);        /* Phi(v) + v phi(v) */
}

/* SiLU (swish) as PyTorch's nn.SiLU(): v s(v), s the sigmoid. */
static inline T FM_NAME(fm_act_silu)(T v, T p) { (void)p; return v / ((T)1 + FM_EXP(-v)); }
static inline T FM_NAME(fm_grad_silu)(T g, T a, T v, T p)
{
    (void)a; (void)p;
    const T s = (T)1 / ((T)1 + FM_EXP(-v));
    return g * s * ((T)1 + v * ((T)1 - s));
}

/* z[i, :] = act(z[i, :] + b): the bias add fused with the activation; its
 * input is kept in u (same layout as z) when the activation needs it. */
FM_KERNEL void FM_NAME(fm_bias_act)(T *z, const T *b, T *u, ptrdiff_t rows,
                                    ptrdiff_t cols, int act, double param)
{
    const T p = (T)param;
    for (ptrdiff_t i = 0; i < rows; i++) {
        T *zi = z + i * cols;
        T *ui = u ? u + i * cols : NULL;
        switch (act) {
#define FM_CASE(E, name, code, needs)                                   \
        case code:                                                      \
            _Pragma("omp simd")                                         \
            for (ptrdiff_t j = 0; j < cols; j++) {                      \
                const T v = zi[j] + b[j];                               \
                if (needs && ui) ui[j] = v;                             \
                zi[j] = FM_NAME(fm_act_##name)(v, p);                   \
            }                                                           \
            break;
        FM_ACTIVATIONS(FM_CASE)
#undef FM_CASE
        }
    }
}

/* a := g * act'(input), from the output a (and the input u where kept). */
FM_KERNEL void FM_NAME(fm_act_backward)(T *a, const T *g, const T *u, ptrdiff_t n,
                                        int act, double param)
{
    const T p = (T)param;
    switch (act) {
#define FM_CASE(E, name, code, needs)                                   \
    case code:                                                          \
        _Pragma("omp simd")                                             \
        for (ptrdiff_t i = 0; i < n; i++)                               \
            a[i] = FM_NAME(fm_grad_##name)(g[i], a[i], needs ? u[i] : (T)0, p); \
        break;
    FM_ACTIVATIONS(FM_CASE)
#undef FM_CASE
    }
}

/* The backward pass of act followed by inverted dropout (rate `drop`): a
 * holds the dropped-out output, mask the forward's factors (0 or
 * 1 / (1 - drop)).  A kept unit holds a = act(v) / (1 - drop), so act' is
 * taken at the output a (1 - drop); a dropped unit gets mask 0, hence a
 * zero gradient. */
FM_KERNEL void FM_NAME(fm_dropout_act_backward)(T *a, const T *g, const T *u,
                                                const T *mask, ptrdiff_t n,
                                                double drop, int act, double param)
{
    const T q = (T)(1.0 - drop), p = (T)param;
    switch (act) {
#define FM_CASE(E, name, code, needs)                                   \
    case code:                                                          \
        _Pragma("omp simd")                                             \
        for (ptrdiff_t i = 0; i < n; i++)                               \
            a[i] = FM_NAME(fm_grad_##name)(g[i] * mask[i], a[i] * q,    \
                                           needs ? u[i] : (T)0, p);     \
        break;
    FM_ACTIVATIONS(FM_CASE)
#undef FM_CASE
    }
}

/* Batch normalisation in training, then the activation, for columns
 * [0, cols) with row stride ld: xhat = (z - mean) inv_std (kept for the
 * backward pass); z := act(gamma xhat + beta). */
FM_KERNEL void FM_NAME(fm_bn_normalize_act)(T *z, T *xhat, T *u, ptrdiff_t rows,
                                            ptrdiff_t ld, ptrdiff_t cols,
                                            const double *mean, const double *inv_std,
                                            const T *gamma, const T *beta, int act,
                                            double param)
{
    for (ptrdiff_t i = 0; i < rows; i++) {
        T *zi = z + i * ld, *xi = xhat + i * ld;
        _Pragma("omp simd")
        for (ptrdiff_t j = 0; j < cols; j++) {
            T xh = (T)(((double)zi[j] - mean[j]) * inv_std[j]);
            xi[j] = xh;
            zi[j] = gamma[j] * xh;
        }
        FM_NAME(fm_bias_act)(zi, beta, u ? u + i * ld : NULL, 1, cols, act, param);
    }
}

/* z := act(scale * z + shift): batch normalisation at inference, folded. */
FM_KERNEL void FM_NAME(fm_scale_shift_act)(T *z, const T *scale, const T *shift,
                                           ptrdiff_t rows, ptrdiff_t cols, int act,
                                           double param)
{
    for (ptrdiff_t i = 0; i < rows; i++) {
        T *zi = z + i * cols;
        _Pragma("omp simd")
        for (ptrdiff_t j = 0; j < cols; j++) zi[j] *= scale[j];
        FM_NAME(fm_bias_act)(zi, shift, NULL, 1, cols, act, param);
    }
}
