/* End of a template's instantiation (see common.h). */
#undef T
#undef S
#undef FM_EXP
#undef FM_EXPM1
#undef FM_LOG1P
#undef FM_TANH
#undef FM_FABS
#undef FM_SQRT
#undef FM_ERF
