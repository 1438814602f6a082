/* Instantiate the following template for float (see common.h). */
#define T float
#define S f
#define FM_EXP expf
#define FM_EXPM1 expm1f
#define FM_LOG1P log1pf
#define FM_TANH tanhf
#define FM_FABS fabsf
#define FM_SQRT sqrtf
#define FM_ERF erff
