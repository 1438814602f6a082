/* Batch normalisation's statistics and backward pass, dropout and input
 * noise (template, see common.h).  BN's forward normalisation is fused
 * with the activation (activations_impl.h). */

/* Batch statistics of columns [0, cols) (row stride ld), in double: the
 * mean, then the biased variance from a second pass (no cancellation). */
FM_KERNEL void FM_NAME(fm_bn_stats)(const T *z, ptrdiff_t rows, ptrdiff_t ld,
                                    ptrdiff_t cols, double *mean, double *var)
{
    for (ptrdiff_t j = 0; j < cols; j++) mean[j] = var[j] = 0.0;
    for (ptrdiff_t i = 0; i < rows; i++) {
        const T *zi = z + i * ld;
        _Pragma("omp simd")
        for (ptrdiff_t j = 0; j < cols; j++) mean[j] += (double)zi[j];
    }
    for (ptrdiff_t j = 0; j < cols; j++) mean[j] /= (double)rows;
    for (ptrdiff_t i = 0; i < rows; i++) {
        const T *zi = z + i * ld;
        _Pragma("omp simd")
        for (ptrdiff_t j = 0; j < cols; j++) {
            double d = (double)zi[j] - mean[j];
            var[j] += d * d;
        }
    }
    for (ptrdiff_t j = 0; j < cols; j++) var[j] /= (double)rows;
}

/* The exact backward pass of batch normalisation (Ioffe & Szegedy), per
 * column: dbeta = sum dy, dgamma = sum dy xhat (double);
 * dz = gamma inv_std / m (m dy - dbeta - xhat dgamma), written over dy. */
FM_KERNEL void FM_NAME(fm_bn_backward)(T *dy, const T *xhat, ptrdiff_t rows,
                                       ptrdiff_t ld, ptrdiff_t cols,
                                       const double *inv_std, const T *gamma,
                                       T *dgamma, T *dbeta)
{
    /* Row by row over chunks of 64 columns (unit stride, vectorised); each
     * column still sums over the rows in order. */
    const double m = (double)rows;
    for (ptrdiff_t c0 = 0; c0 < cols; c0 += 64) {
        const ptrdiff_t w = cols - c0 < 64 ? cols - c0 : 64;
        double sb[64], sg[64], c[64];
        for (ptrdiff_t j = 0; j < w; j++) sb[j] = sg[j] = 0.0;
        for (ptrdiff_t i = 0; i < rows; i++) {
            const T *di = dy + i * ld + c0, *xi = xhat + i * ld + c0;
            _Pragma("omp simd")
            for (ptrdiff_t j = 0; j < w; j++) {
                double d = (double)di[j];
                sb[j] += d;
                sg[j] += d * (double)xi[j];
            }
        }
        for (ptrdiff_t j = 0; j < w; j++) {
            dbeta[c0 + j] = (T)sb[j];
            dgamma[c0 + j] = (T)sg[j];
            c[j] = (double)gamma[c0 + j] * inv_std[c0 + j] / m;
        }
        for (ptrdiff_t i = 0; i < rows; i++) {
            T *di = dy + i * ld + c0;
            const T *xi = xhat + i * ld + c0;
            _Pragma("omp simd")
            for (ptrdiff_t j = 0; j < w; j++)
                di[j] = (T)(c[j] * (m * (double)di[j] - sb[j] - (double)xi[j] * sg[j]));
        }
    }
}

/* Inverted dropout of n elements numbered first, first + 1, ...: each is
 * kept with probability 1 - p and scaled by 1 / (1 - p), or zeroed; the
 * factor (0 or 1 / (1 - p)) is kept in mask for the backward pass. */
FM_KERNEL void FM_NAME(fm_dropout)(T *a, T *mask, ptrdiff_t n, uint32_t first,
                                   double p, uint64_t key)
{
    const uint32_t thr = (uint32_t)(p * 4294967296.0);
    const T keep = (T)(1.0 / (1.0 - p));
    _Pragma("omp simd")
    for (ptrdiff_t i = 0; i < n; i++) {
        uint32_t r = fm_random_bits(key, first + (uint32_t)i);
        T m = r >= thr ? keep : (T)0;
        mask[i] = m;
        a[i] *= m;
    }
}

/* x += std * N(0, 1), element e drawing the Gaussian of counter e of the
 * stream (fm_gaussian in regularization.c): the same numbers whatever block
 * of the batch a thread handles. */
FM_KERNEL void FM_NAME(fm_add_noise)(T *x, ptrdiff_t n, uint32_t first, double std,
                                     uint64_t key)
{
    _Pragma("omp simd")
    for (ptrdiff_t i = 0; i < n; i++)
        x[i] += (T)(std * fm_gaussian(key, first + (uint32_t)i));
}

/* Rows [r0, r1) of mixup: dst[i] = lam src[i] + (1 - lam) src[perm[i]]
 * (row-major, cols wide). */
FM_KERNEL void FM_NAME(fm_mix_rows)(T *dst, const T *src, const ptrdiff_t *perm,
                                    ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t cols,
                                    double lam)
{
    const T a = (T)lam, b = (T)(1.0 - lam);
    for (ptrdiff_t i = r0; i < r1; i++) {
        T *d = dst + i * cols;
        const T *x = src + i * cols, *z = src + perm[i] * cols;
        _Pragma("omp simd")
        for (ptrdiff_t j = 0; j < cols; j++) d[j] = a * x[j] + b * z[j];
    }
}

/* The fast gradient sign method (Goodfellow et al. 2015): adv = x + eps
 * sign(adv), adv holding the loss's gradient with respect to x on entry
 * (sign(0) = 0: a zero gradient leaves the input as it is). */
FM_KERNEL void FM_NAME(fm_fgsm)(T *adv, const T *x, ptrdiff_t n, double eps)
{
    const T e = (T)eps;
    _Pragma("omp simd")
    for (ptrdiff_t i = 0; i < n; i++) {
        const T g = adv[i];
        adv[i] = x[i] + e * (T)((g > 0) - (g < 0));
    }
}
