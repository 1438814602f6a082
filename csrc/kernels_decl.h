/* Declarations of the kernels for one floating type (template, see
 * common.h); kernels.h includes it for float and double. */

/* activations.c */
void FM_NAME(fm_bias_act)(T *z, const T *b, T *u, ptrdiff_t rows, ptrdiff_t cols,
                          int act, double param);
void FM_NAME(fm_act_backward)(T *a, const T *g, const T *u, ptrdiff_t n, int act,
                              double param);
void FM_NAME(fm_dropout_act_backward)(T *a, const T *g, const T *u, const T *mask,
                                      ptrdiff_t n, double drop, int act, double param);
void FM_NAME(fm_bn_normalize_act)(T *z, T *xhat, T *u, ptrdiff_t rows, ptrdiff_t ld,
                                  ptrdiff_t cols, const double *mean,
                                  const double *inv_std, const T *gamma, const T *beta,
                                  int act, double param);
void FM_NAME(fm_scale_shift_act)(T *z, const T *scale, const T *shift, ptrdiff_t rows,
                                 ptrdiff_t cols, int act, double param);

/* losses.c */
double FM_NAME(fm_loss_delta)(T *z, const T *y, const T *sw, ptrdiff_t rows,
                              ptrdiff_t cols, int out, double scale,
                              const ptrdiff_t *groups, ptrdiff_t n_groups);
void FM_NAME(fm_output)(T *z, const T *b, ptrdiff_t rows, ptrdiff_t cols, int out,
                        const ptrdiff_t *groups, ptrdiff_t n_groups);

/* optim.c */
void FM_NAME(fm_optimizer_step)(T *theta, const T *grad, T *state, ptrdiff_t stride,
                                ptrdiff_t n, const fm_optim *o, const fm_step *s,
                                double *ss);

/* regularization.c */
void FM_NAME(fm_bn_stats)(const T *z, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t cols,
                          double *mean, double *var);
void FM_NAME(fm_bn_backward)(T *dy, const T *xhat, ptrdiff_t rows, ptrdiff_t ld,
                             ptrdiff_t cols, const double *inv_std, const T *gamma,
                             T *dgamma, T *dbeta);
void FM_NAME(fm_dropout)(T *a, T *mask, ptrdiff_t n, uint32_t first, double p,
                         uint64_t key);
void FM_NAME(fm_add_noise)(T *x, ptrdiff_t n, uint32_t first, double std, uint64_t key);
void FM_NAME(fm_fgsm)(T *adv, const T *x, ptrdiff_t n, double eps);
void FM_NAME(fm_mix_rows)(T *dst, const T *src, const ptrdiff_t *perm, ptrdiff_t r0,
                          ptrdiff_t r1, ptrdiff_t cols, double lam);

/* arrays.c */
void FM_NAME(fm_gather_rows)(T *dst, const T *src, const ptrdiff_t *idx,
                             ptrdiff_t rows, ptrdiff_t cols);
void FM_NAME(fm_colsum)(const T *x, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t cols,
                        double *acc);
double FM_NAME(fm_scaled_copy_sumsq)(T *dst, const T *src, ptrdiff_t n, double scale);
double FM_NAME(fm_sumsq)(const T *x, ptrdiff_t n);
int FM_NAME(fm_nonfinite)(const T *x, ptrdiff_t n);
double FM_NAME(fm_grad_sumsq)(const T *g, const T *theta, ptrdiff_t n, double l2);
void FM_NAME(fm_grad_scale)(T *g, const T *theta, ptrdiff_t n, double l2, double f);
void FM_NAME(fm_colsumsq)(const T *x, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t cols,
                          double *acc);
void FM_NAME(fm_colscale)(T *x, ptrdiff_t rows, ptrdiff_t ld, ptrdiff_t cols,
                          const double *f);
void FM_NAME(fm_vecmat)(const T *x, ptrdiff_t m, const T *W, ptrdiff_t ldw,
                        ptrdiff_t n, T *y);

/* sparse.c: the first layer on the minibatch's nonzeros */
void FM_NAME(fm_csr_rows)(const T *X, ptrdiff_t ldx, const ptrdiff_t *idx,
                          ptrdiff_t first, ptrdiff_t r0, ptrdiff_t r1, int32_t *cols,
                          T *vals, ptrdiff_t *nnz);
void FM_NAME(fm_csr_matmul)(const fm_rows *x, const T *W, ptrdiff_t ldw, ptrdiff_t c0,
                            ptrdiff_t c1, T *Z, ptrdiff_t ldz);
void FM_NAME(fm_csc_wgrad)(const fm_rows *x, ptrdiff_t k0, ptrdiff_t k1, const T *D,
                           ptrdiff_t n_out, T *dW, int accumulate, const fm_lists *s);
void FM_NAME(fm_csr_gather)(const fm_csr *src, const ptrdiff_t *idx, ptrdiff_t first,
                            ptrdiff_t r0, ptrdiff_t r1, int32_t *cols, T *vals,
                            const ptrdiff_t *start);
