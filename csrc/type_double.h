/* Instantiate the following template for double (see common.h). */
#define T double
#define S d
#define FM_EXP exp
#define FM_EXPM1 expm1
#define FM_LOG1P log1p
#define FM_TANH tanh
#define FM_FABS fabs
#define FM_SQRT sqrt
#define FM_ERF erf
