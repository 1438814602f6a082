/* Scalar functions shared by activations and output layers (template, see
 * common.h).  Written so that no input overflows. */

static inline T FM_NAME(fm_sigmoid)(T z)
{
    /* never exponentiate a positive number */
    if (z >= 0) return (T)1 / ((T)1 + FM_EXP(-z));
    T e = FM_EXP(z);
    return e / ((T)1 + e);
}

static inline T FM_NAME(fm_softplus)(T z)
{
    /* log(1 + e^z) = max(z, 0) + log1p(e^-|z|), exact for every z */
    return (z > 0 ? z : (T)0) + FM_LOG1P(FM_EXP(-FM_FABS(z)));
}
