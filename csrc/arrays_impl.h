/* Array kernels (template, see common.h): minibatch gathering, column sums,
 * sums of squares, the finiteness check, and the vector-matrix product of
 * few-sample prediction.  Reductions accumulate in double whatever T is. */

/* columns per chunk of fm_vecmat (the engine's VECMAT_CHUNK) */
#define FM_VECMAT_W 128

/* Rows idx[0:rows] of the row-major (?, cols) src into dst. */
FM_KERNEL void FM_NAME(fm_gather_rows)(T *dst, const T *src, const ptrdiff_t *idx,
                                       ptrdiff_t rows, ptrdiff_t cols)
{
    for (ptrdiff_t i = 0; i < rows; i++)
        memcpy(dst + i * cols, src + idx[i] * cols, (size_t)cols * sizeof(T));
}

/* acc[j] += sum_i x[i, j] for j < cols (row stride ld), in double and in
 * row order, so the result does not depend on how columns are split. */
FM_KERNEL void FM_NAME(fm_colsum)(const T *x, ptrdiff_t rows, ptrdiff_t ld,
                                  ptrdiff_t cols, double *acc)
{
    for (ptrdiff_t i = 0; i < rows; i++) {
        const T *xi = x + i * ld;
        _Pragma("omp simd")
        for (ptrdiff_t j = 0; j < cols; j++) acc[j] += (double)xi[j];
    }
}

/* dst = scale * src; returns sum(src**2) in double (the L2 penalty). */
FM_KERNEL double FM_NAME(fm_scaled_copy_sumsq)(T *dst, const T *src, ptrdiff_t n,
                                               double scale)
{
    const T s = (T)scale;
    double ss = 0.0;
    _Pragma("omp simd reduction(+:ss)")
    for (ptrdiff_t i = 0; i < n; i++) {
        dst[i] = s * src[i];
        ss += (double)src[i] * (double)src[i];
    }
    return ss;
}

/* sum(x[0:n]**2) in double. */
FM_KERNEL double FM_NAME(fm_sumsq)(const T *x, ptrdiff_t n)
{
    double acc = 0.0;
    _Pragma("omp simd reduction(+:acc)")
    for (ptrdiff_t i = 0; i < n; i++) acc += (double)x[i] * (double)x[i];
    return acc;
}

/* 1 if x[0:n] holds NaN or infinity, else 0: 0 * x is 0 exactly when x is
 * finite, so one (reorderable) sum tells. */
FM_KERNEL int FM_NAME(fm_nonfinite)(const T *x, ptrdiff_t n)
{
    T acc = 0;
    _Pragma("omp simd reduction(+:acc)")
    for (ptrdiff_t i = 0; i < n; i++) acc += (T)0 * x[i];
    return acc != 0;
}

/* y[0:n] = x[0:m] @ W[0:m, 0:n] for a row-major W with row stride ldw: one
 * sample through a layer.  Columns go in chunks of FM_VECMAT_W whose sums
 * stay in registers while the rows of W stream past (for one row, packing W
 * would cost more than the product); each column sums over i in order.
 * Rows of W whose x is zero are not read: images, one-hot codes and hidden
 * layers after a ReLU are mostly zeros, and streaming W is this product's
 * cost.  A plain branch: listing the nonzeros first kept GCC from holding
 * the sums in registers (bench/DECISIONS.md D13).  Full chunks have a
 * constant width, so that their sums are registers; the last, narrower
 * chunk takes the general loop. */
FM_KERNEL void FM_NAME(fm_vecmat)(const T *x, ptrdiff_t m, const T *W, ptrdiff_t ldw,
                                  ptrdiff_t n, T *y)
{
    ptrdiff_t c = 0;
    for (; c + FM_VECMAT_W <= n; c += FM_VECMAT_W) {
        T acc[FM_VECMAT_W];
        _Pragma("omp simd")
        for (ptrdiff_t j = 0; j < FM_VECMAT_W; j++) acc[j] = 0;
        for (ptrdiff_t i = 0; i < m; i++) {
            const T xi = x[i];
            if (xi == 0) continue;
            const T *row = W + i * ldw + c;
            _Pragma("omp simd")
            for (ptrdiff_t j = 0; j < FM_VECMAT_W; j++) acc[j] += xi * row[j];
        }
        memcpy(y + c, acc, sizeof(acc));
    }
    if (c < n) {
        const ptrdiff_t w = n - c;
        T acc[FM_VECMAT_W];
        for (ptrdiff_t j = 0; j < w; j++) acc[j] = 0;
        for (ptrdiff_t i = 0; i < m; i++) {
            const T xi = x[i];
            if (xi == 0) continue;
            const T *row = W + i * ldw + c;
            _Pragma("omp simd")
            for (ptrdiff_t j = 0; j < w; j++) acc[j] += xi * row[j];
        }
        memcpy(y + c, acc, (size_t)w * sizeof(T));
    }
}

#undef FM_VECMAT_W

/* sum((g + l2 theta)**2) over [0, n) in double: the squared norm of the
 * gradient the optimiser step would take (scikit-learn's L2 term folded
 * in; l2 is 0 past the weights).  Gradient clipping by global norm. */
FM_KERNEL double FM_NAME(fm_grad_sumsq)(const T *g, const T *theta, ptrdiff_t n,
                                        double l2)
{
    const T lam = (T)l2;
    double acc = 0.0;
    _Pragma("omp simd reduction(+:acc)")
    for (ptrdiff_t i = 0; i < n; i++) {
        T gi = g[i] + lam * theta[i];
        acc += (double)gi * (double)gi;
    }
    return acc;
}

/* g = f (g + l2 theta) over [0, n): the clipped gradient, its L2 term
 * folded in (the step then takes l2 = 0). */
FM_KERNEL void FM_NAME(fm_grad_scale)(T *g, const T *theta, ptrdiff_t n, double l2,
                                      double f)
{
    const T lam = (T)l2, s = (T)f;
    _Pragma("omp simd")
    for (ptrdiff_t i = 0; i < n; i++) g[i] = s * (g[i] + lam * theta[i]);
}

/* acc[j] += sum_i x[i, j]**2 for j < cols (row stride ld), in double and in
 * row order: the squared norms of the columns (max-norm). */
FM_KERNEL void FM_NAME(fm_colsumsq)(const T *x, ptrdiff_t rows, ptrdiff_t ld,
                                    ptrdiff_t cols, double *acc)
{
    for (ptrdiff_t i = 0; i < rows; i++) {
        const T *xi = x + i * ld;
        _Pragma("omp simd")
        for (ptrdiff_t j = 0; j < cols; j++) acc[j] += (double)xi[j] * (double)xi[j];
    }
}

/* x[i, j] *= f[j] for j < cols (row stride ld). */
FM_KERNEL void FM_NAME(fm_colscale)(T *x, ptrdiff_t rows, ptrdiff_t ld,
                                    ptrdiff_t cols, const double *f)
{
    for (ptrdiff_t i = 0; i < rows; i++) {
        T *xi = x + i * ld;
        _Pragma("omp simd")
        for (ptrdiff_t j = 0; j < cols; j++) xi[j] = (T)((double)xi[j] * f[j]);
    }
}
