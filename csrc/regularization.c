/* Batch normalisation, dropout and input noise: see regularization_impl.h. */
#include <math.h>
#include <string.h>
#include "common.h"
#include "kernels.h"

/* Gaussian noise without libm calls, so that the noise loop vectorises (a
 * scalar log and cos per number made input noise cost more than the epoch).
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

/* Mixup's draws for one minibatch (Zhang et al. 2018), from the counter-
 * based stream `key` (counters 0, 1, ... in order, one thread): lambda ~
 * Beta(alpha, alpha), returned, and a uniform permutation of the rows into
 * perm (Fisher-Yates).  Beta(a, a) = G1 / (G1 + G2) with G ~ Gamma(a, 1),
 * Marsaglia & Tsang's method (2000), in logs so that small shapes (a < 1:
 * Gamma(a) = Gamma(a + 1) U^(1/a)) do not underflow. */
static inline double fm_unit(uint64_t key, uint32_t *c)
{
    return ((double)fm_random_bits(key, (*c)++) + 0.5) * (1.0 / 4294967296.0);
}

static double fm_log_gamma_draw(uint64_t key, uint32_t *c, double a)
{
    double boost = 0.0;
    if (a < 1.0) {
        boost = log(fm_unit(key, c)) / a;
        a += 1.0;
    }
    const double d = a - 1.0 / 3.0, cc = 1.0 / sqrt(9.0 * d);
    for (;;) {
        const double u1 = fm_unit(key, c), u2 = fm_unit(key, c);
        const double x = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        double v = 1.0 + cc * x;
        if (v <= 0.0) continue;
        v = v * v * v;
        const double u = fm_unit(key, c);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return log(d) + log(v) + boost;
    }
}

double fm_mixup_draw(uint64_t key, double alpha, ptrdiff_t rows, ptrdiff_t *perm)
{
    uint32_t c = 0;
    const double g1 = fm_log_gamma_draw(key, &c, alpha);
    const double g2 = fm_log_gamma_draw(key, &c, alpha);
    const double lam = 1.0 / (1.0 + exp(g2 - g1));
    for (ptrdiff_t i = 0; i < rows; i++) perm[i] = i;
    for (ptrdiff_t i = rows - 1; i > 0; i--) {
        const ptrdiff_t j = (ptrdiff_t)(((uint64_t)fm_random_bits(key, c++)
                                         * (uint64_t)(i + 1)) >> 32);
        const ptrdiff_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    return lam;
}

#include "type_float.h"
#include "regularization_impl.h"
#include "type_end.h"

#include "type_double.h"
#include "regularization_impl.h"
#include "type_end.h"
