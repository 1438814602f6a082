/* The components of an MLP, each defined once: hidden activations, output
 * layers with their losses, and solvers.  Everything else is generated from
 * these tables: the codes (enums), the names Python sees (tables.c, read by
 * the engine), and the dispatch of the kernels (a switch with one case per
 * row, calling the row's scalar inline functions; see *_impl.h).
 *
 * Adding a component: a row here, its scalar functions in the *_impl.h the
 * row names, and its Python spec in src/fastmlp/_components.py
 * (CONTRIBUTING.md has the exact places).
 */
#ifndef FASTMLP_TABLES_H
#define FASTMLP_TABLES_H

/* Hidden-layer activations: X(ENUM, name, code, needs_input).
 * Scalar functions in activations_impl.h: fm_act_<name>(v, param), the
 * activation of v, and fm_grad_<name>(g, a, v, param), g times the
 * derivative, given the output a and (for needs_input = 1) the input v.
 * Derivatives written in terms of the output need only the activations
 * kept for the backward pass; the others make the workspace keep the
 * activation's input too. */
#define FM_ACTIVATIONS(X)             \
    X(IDENTITY, identity, 0, 0)       \
    X(LOGISTIC, logistic, 1, 0)       \
    X(TANH, tanh, 2, 0)               \
    X(RELU, relu, 3, 0)               \
    X(LEAKY_RELU, leaky_relu, 4, 0)   \
    X(ELU, elu, 5, 0)                 \
    X(GELU, gelu, 6, 1)               \
    X(SILU, silu, 7, 1)

/* Output layers and their losses, always as a pair, each the maximum-
 * likelihood model of a distribution of the targets: X(ENUM, name,
 * out_activation, loss, code).  Row functions in losses_impl.h:
 * fm_loss_row_<name>(z, y, cols, ws), which turns a row of logits into
 * ws * dl/dz and returns the row's loss l (double), and
 * fm_out_row_<name>(z, cols), the output activation at prediction. */
#define FM_OUTPUTS(X)                                                      \
    X(IDENTITY_SQUARED, identity_squared, identity, squared_error, 0)      \
    X(SOFTMAX_LOGLOSS, softmax_log_loss, softmax, log_loss, 1)             \
    X(LOGISTIC_BINARY, logistic_binary, logistic, binary_log_loss, 2)      \
    X(EXP_POISSON, exp_poisson, exp, poisson, 3)                           \
    X(SOFTPLUS_SQUARED, softplus_squared, softplus, squared_error, 4)      \
    X(LOGISTIC_SQUARED, logistic_squared, logistic, squared_error, 5)

/* First-order solvers: X(ENUM, name, code, state vectors).  The number of
 * theta-sized state vectors is an expression of the hyper-parameters `o`
 * (an fm_optim).  Step kernels in optim_impl.h: fm_step_<name>. */
#define FM_SOLVERS(X)                                                      \
    X(SGD, sgd, 0, 1)                                                      \
    X(ADAM, adam, 1, 2)                                                    \
    X(ADAMW, adamw, 2, 2)                                                  \
    X(ADAGRAD, adagrad, 3, 1)                                              \
    X(RMSPROP, rmsprop, 4, 1 + (o->momentum > 0) + (o->centered != 0))     \
    X(ADADELTA, adadelta, 5, 2)                                            \
    X(SWATS, swats, 6, 3)

#define FM_ACT_ENUM(E, name, code, needs) FM_ACT_##E = code,
enum { FM_ACTIVATIONS(FM_ACT_ENUM) FM_N_ACTIVATIONS };
#undef FM_ACT_ENUM
#define FM_OUT_ENUM(E, name, out, loss, code) FM_OUT_##E = code,
enum { FM_OUTPUTS(FM_OUT_ENUM) FM_N_OUTPUTS };
#undef FM_OUT_ENUM
#define FM_SOLVER_ENUM(E, name, code, nstate) FM_SOLVER_##E = code,
enum { FM_SOLVERS(FM_SOLVER_ENUM) FM_N_SOLVERS };
#undef FM_SOLVER_ENUM

/* A solver's hyper-parameters (those a solver does not use are ignored). */
typedef struct {
    int solver;           /* FM_SOLVER_* */
    double momentum;      /* sgd, rmsprop */
    int nesterov;         /* sgd */
    double beta1, beta2;  /* adam, adamw */
    double eps;
    double rho;           /* rmsprop, adadelta: decay of the averages */
    int centered;         /* rmsprop */
} fm_optim;

/* What changes from step to step: the rate, the L2 factor on the weights
 * (0 past them), AdamW's decay (0 past the weights) and Adam's bias
 * corrections c1 = 1 - beta1^t, c2 = 1 - beta2^t.  SWATS: `sgd` once it
 * has switched to SGD (lr is then the SGD rate); before, its Adam step p
 * adds p.p and p.g to dots[0] and dots[1] (the switching criterion). */
typedef struct {
    double lr, l2, decay, c1, c2;
    double *dots;
    int sgd;
} fm_step;

/* The tables seen from outside (tables.c), indexed by code. */
extern const char *const fm_activation_names[FM_N_ACTIVATIONS];
extern const int fm_activation_needs_input[FM_N_ACTIVATIONS];
extern const char *const fm_output_activations[FM_N_OUTPUTS];
extern const char *const fm_output_losses[FM_N_OUTPUTS];
extern const char *const fm_solver_names[FM_N_SOLVERS];

/* Number of theta-sized state vectors the solver keeps. */
int fm_solver_n_state(const fm_optim *o);

#endif
