/* Output layers and their losses (template, see common.h; the table is
 * FM_OUTPUTS in tables.h).
 *
 * Each pair is the maximum-likelihood model of a distribution of the
 * targets, and has two row functions:
 *   fm_loss_row_<name>(z, y, cols, ws): the row's negative log-likelihood
 *     l (up to constants, double) computed from the logits z, which become
 *     the output delta ws * dl/dz in the same pass (never through the
 *     derivative of the output activation);
 *   fm_out_row_<name>(z, cols): the output activation, at prediction.
 * The kernels below are generated from the table.
 */
#include "scalar_impl.h"

/* Gaussian, identity mean: l = (z - y)^2 / 2 summed over outputs. */
static inline double FM_NAME(fm_loss_row_identity_squared)(T *z, const T *y,
                                                           ptrdiff_t cols, T ws)
{
    double l = 0.0;
    for (ptrdiff_t j = 0; j < cols; j++) {
        T r = z[j] - y[j];
        l += 0.5 * (double)r * (double)r;
        z[j] = r * ws;
    }
    return l;
}

static inline void FM_NAME(fm_out_row_identity_squared)(T *z, ptrdiff_t cols)
{
    (void)z; (void)cols;
}

/* Categorical, softmax: l = -sum_k y_k log p_k = sum_k y_k (lse(z) - z_k),
 * with log-sum-exp taken after subtracting the largest logit. */
static inline double FM_NAME(fm_loss_row_softmax_log_loss)(T *z, const T *y,
                                                           ptrdiff_t cols, T ws)
{
    T zmax = z[0];
    for (ptrdiff_t j = 1; j < cols; j++)
        if (z[j] > zmax) zmax = z[j];
    double s = 0.0, ysum = 0.0, yz = 0.0;
    for (ptrdiff_t j = 0; j < cols; j++) {
        T e = FM_EXP(z[j] - zmax);
        s += (double)e;
        ysum += (double)y[j];
        yz += (double)y[j] * (double)(z[j] - zmax);
        z[j] = e;
    }
    const T inv = (T)(1.0 / s);
    for (ptrdiff_t j = 0; j < cols; j++)
        z[j] = (z[j] * inv - y[j]) * ws;
    return ysum * log(s) - yz;
}

static inline void FM_NAME(fm_out_row_softmax_log_loss)(T *z, ptrdiff_t cols)
{
    T zmax = z[0];
    for (ptrdiff_t j = 1; j < cols; j++)
        if (z[j] > zmax) zmax = z[j];
    double s = 0.0;
    for (ptrdiff_t j = 0; j < cols; j++) {
        z[j] = FM_EXP(z[j] - zmax);
        s += (double)z[j];
    }
    const T inv = (T)(1.0 / s);
    for (ptrdiff_t j = 0; j < cols; j++) z[j] *= inv;
}

/* Independent Bernoullis, sigmoid: -y log s(z) - (1 - y) log(1 - s(z)) =
 * softplus(z) - y z. */
static inline double FM_NAME(fm_loss_row_logistic_binary)(T *z, const T *y,
                                                          ptrdiff_t cols, T ws)
{
    double l = 0.0;
    for (ptrdiff_t j = 0; j < cols; j++) {
        T zj = z[j];
        l += (double)FM_NAME(fm_softplus)(zj) - (double)y[j] * zj;
        z[j] = (FM_NAME(fm_sigmoid)(zj) - y[j]) * ws;
    }
    return l;
}

static inline void FM_NAME(fm_out_row_logistic_binary)(T *z, ptrdiff_t cols)
{
    for (ptrdiff_t j = 0; j < cols; j++) z[j] = FM_NAME(fm_sigmoid)(z[j]);
}

/* Poisson, log link: half the deviance as scikit-learn,
 * y log(y / mu) - y + mu with mu = e^z. */
static inline double FM_NAME(fm_loss_row_exp_poisson)(T *z, const T *y,
                                                      ptrdiff_t cols, T ws)
{
    double l = 0.0;
    for (ptrdiff_t j = 0; j < cols; j++) {
        T zj = z[j];
        T mu = FM_EXP(zj);
        double yj = (double)y[j];
        l += (yj > 0 ? yj * log(yj) : 0.0) - yj * zj - yj + mu;
        z[j] = (mu - y[j]) * ws;
    }
    return l;
}

static inline void FM_NAME(fm_out_row_exp_poisson)(T *z, ptrdiff_t cols)
{
    for (ptrdiff_t j = 0; j < cols; j++) z[j] = FM_EXP(z[j]);
}

/* Gaussian with a softplus mean (positive targets): delta (out - y) out'. */
static inline double FM_NAME(fm_loss_row_softplus_squared)(T *z, const T *y,
                                                           ptrdiff_t cols, T ws)
{
    double l = 0.0;
    for (ptrdiff_t j = 0; j < cols; j++) {
        T zj = z[j];
        T r = FM_NAME(fm_softplus)(zj) - y[j];
        l += 0.5 * (double)r * (double)r;
        z[j] = r * FM_NAME(fm_sigmoid)(zj) * ws;
    }
    return l;
}

static inline void FM_NAME(fm_out_row_softplus_squared)(T *z, ptrdiff_t cols)
{
    for (ptrdiff_t j = 0; j < cols; j++) z[j] = FM_NAME(fm_softplus)(z[j]);
}

/* Gaussian with a sigmoid mean (targets in [0, 1]). */
static inline double FM_NAME(fm_loss_row_logistic_squared)(T *z, const T *y,
                                                           ptrdiff_t cols, T ws)
{
    double l = 0.0;
    for (ptrdiff_t j = 0; j < cols; j++) {
        T p = FM_NAME(fm_sigmoid)(z[j]);
        T r = p - y[j];
        l += 0.5 * (double)r * (double)r;
        z[j] = r * p * ((T)1 - p) * ws;
    }
    return l;
}

static inline void FM_NAME(fm_out_row_logistic_squared)(T *z, ptrdiff_t cols)
{
    for (ptrdiff_t j = 0; j < cols; j++) z[j] = FM_NAME(fm_sigmoid)(z[j]);
}

/* Loss and output delta of `rows` rows, in place: z becomes
 * scale * sw_i * dl_i/dz (sw NULL: weights 1).  Returns sum_i sw_i l_i.
 * With n_groups > 0 the columns are cut into groups of groups[0..n_groups)
 * columns (multitask: one softmax per task), each a row of its own for the
 * row function, and a row's loss is the sum of its groups' (n_groups = 0:
 * the whole row, one group). */
FM_KERNEL double FM_NAME(fm_loss_delta)(T *z, const T *y, const T *sw, ptrdiff_t rows,
                                        ptrdiff_t cols, int out, double scale,
                                        const ptrdiff_t *groups, ptrdiff_t n_groups)
{
    double total = 0.0;
    for (ptrdiff_t i = 0; i < rows; i++) {
        T *zi = z + i * cols;
        const T *yi = y + i * cols;
        const double w = sw ? (double)sw[i] : 1.0;
        const T ws = (T)(w * scale);
        double li = 0.0;
        if (n_groups > 0) {
            ptrdiff_t off = 0;
            for (ptrdiff_t g = 0; g < n_groups; g++) {
                switch (out) {
#define FM_CASE(E, name, oact, loss, code)                                      \
                case code:                                                      \
                    li += FM_NAME(fm_loss_row_##name)(zi + off, yi + off,        \
                                                      groups[g], ws);           \
                    break;
                FM_OUTPUTS(FM_CASE)
#undef FM_CASE
                }
                off += groups[g];
            }
        } else {
            switch (out) {
#define FM_CASE(E, name, oact, loss, code)                                      \
            case code: li = FM_NAME(fm_loss_row_##name)(zi, yi, cols, ws); break;
            FM_OUTPUTS(FM_CASE)
#undef FM_CASE
            }
        }
        total += w * li;
    }
    return total;
}

/* z[i, :] = out(z[i, :] + b): the output layer at prediction (per group of
 * columns with n_groups > 0, as fm_loss_delta). */
FM_KERNEL void FM_NAME(fm_output)(T *z, const T *b, ptrdiff_t rows, ptrdiff_t cols,
                                  int out, const ptrdiff_t *groups, ptrdiff_t n_groups)
{
    for (ptrdiff_t i = 0; i < rows; i++) {
        T *zi = z + i * cols;
        for (ptrdiff_t j = 0; j < cols; j++) zi[j] += b[j];
        ptrdiff_t off = 0;
        const ptrdiff_t ng = n_groups > 0 ? n_groups : 1;
        for (ptrdiff_t g = 0; g < ng; g++) {
            const ptrdiff_t width = n_groups > 0 ? groups[g] : cols;
            switch (out) {
#define FM_CASE(E, name, oact, loss, code)                                      \
            case code: FM_NAME(fm_out_row_##name)(zi + off, width); break;
            FM_OUTPUTS(FM_CASE)
#undef FM_CASE
            }
            off += width;
        }
    }
}
