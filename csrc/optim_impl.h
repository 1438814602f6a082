/* First-order solvers (template, see common.h; the table is FM_SOLVERS in
 * tables.h).
 *
 * fm_step_<name>(theta, grad, state, stride, n, o, s, ss) updates
 * theta[0:n] from the gradient g = grad + s->l2 * theta (scikit-learn's L2
 * penalty folded in; l2 is 0 past the weights), with the solver's state
 * vectors at state, state + stride, ...  With ss (not NULL) it also sums
 * theta**2 after the update, in double: the next minibatch's penalty, at no
 * extra pass.  Every update is one fused loop over the flat vectors; the
 * engine cuts theta into blocks for the threads.
 */

/* The loop of an update: BODY updates element i of theta (and of the
 * state); with `ss` the loop also sums theta[i]**2 into `acc`. */
#define FM_UPDATE_LOOP(n, ...)                                                \
    if (ss != NULL) {                                                         \
        _Pragma("omp simd reduction(+:acc)")                                  \
        for (ptrdiff_t i = 0; i < (n); i++) {                                 \
            __VA_ARGS__                                                       \
            acc += (double)theta[i] * (double)theta[i];                       \
        }                                                                     \
    } else {                                                                  \
        _Pragma("omp simd")                                                   \
        for (ptrdiff_t i = 0; i < (n); i++) {                                 \
            __VA_ARGS__                                                       \
        }                                                                     \
    }

#define FM_STEP_ARGS T *theta, const T *grad, T *state, ptrdiff_t stride,      \
                     ptrdiff_t n, const fm_optim *o, const fm_step *s, double *ss

/* scikit-learn's SGD: v <- mu v - lr g; theta += v, or with Nesterov
 * (Bengio's reparametrisation) theta += mu v - lr g. */
static inline void FM_NAME(fm_step_sgd)(FM_STEP_ARGS)
{
    const T eta = (T)s->lr, mu = (T)o->momentum, lam = (T)s->l2;
    T *velocity = state;
    double acc = 0.0;
    (void)stride;
    if (o->momentum == 0.0) {
        FM_UPDATE_LOOP(n,
            theta[i] -= eta * (grad[i] + lam * theta[i]);)
    } else if (o->nesterov) {
        FM_UPDATE_LOOP(n,
            T g = grad[i] + lam * theta[i];
            T v = mu * velocity[i] - eta * g;
            velocity[i] = v;
            theta[i] += mu * v - eta * g;)
    } else {
        FM_UPDATE_LOOP(n,
            T v = mu * velocity[i] - eta * (grad[i] + lam * theta[i]);
            velocity[i] = v;
            theta[i] += v;)
    }
    if (ss) *ss = acc;
}

/* Adam as scikit-learn (Kingma & Ba, Sec. 2 form): the rate carries both
 * bias corrections and eps is added to the uncorrected sqrt(v). */
static inline void FM_NAME(fm_step_adam)(FM_STEP_ARGS)
{
    const T b1 = (T)o->beta1, b2 = (T)o->beta2, c1 = (T)(1.0 - o->beta1),
            c2 = (T)(1.0 - o->beta2), lr = (T)(s->lr * sqrt(s->c2) / s->c1),
            e = (T)o->eps, lam = (T)s->l2;
    T *m = state, *v = state + stride;
    double acc = 0.0;
    FM_UPDATE_LOOP(n,
        T g = grad[i] + lam * theta[i];
        T mi = b1 * m[i] + c1 * g;
        T vi = b2 * v[i] + c2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        theta[i] -= lr * mi / (FM_SQRT(vi) + e);)
    if (ss) *ss = acc;
}

/* AdamW as PyTorch (Loshchilov & Hutter): theta *= 1 - lr decay (decay is
 * 0 past the weights), then Adam with eps added to the bias-corrected
 * sqrt(v): theta -= lr / c1 m / (sqrt(v) / sqrt(c2) + eps). */
static inline void FM_NAME(fm_step_adamw)(FM_STEP_ARGS)
{
    const T b1 = (T)o->beta1, b2 = (T)o->beta2, d1 = (T)(1.0 - o->beta1),
            d2 = (T)(1.0 - o->beta2), step = (T)(s->lr / s->c1),
            rc2 = (T)(1.0 / sqrt(s->c2)), e = (T)o->eps,
            keep = (T)(1.0 - s->lr * s->decay), lam = (T)s->l2;
    T *m = state, *v = state + stride;
    double acc = 0.0;
    FM_UPDATE_LOOP(n,
        T g = grad[i] + lam * theta[i];
        T mi = b1 * m[i] + d1 * g;
        T vi = b2 * v[i] + d2 * (g * g);
        m[i] = mi;
        v[i] = vi;
        theta[i] = theta[i] * keep - step * mi / (FM_SQRT(vi) * rc2 + e);)
    if (ss) *ss = acc;
}

/* Adagrad as PyTorch (Duchi et al., diagonal): G += g^2;
 * theta -= lr g / (sqrt(G) + eps), eps outside the root. */
static inline void FM_NAME(fm_step_adagrad)(FM_STEP_ARGS)
{
    const T eta = (T)s->lr, e = (T)o->eps, lam = (T)s->l2;
    T *G = state;
    double acc = 0.0;
    (void)stride;
    FM_UPDATE_LOOP(n,
        T g = grad[i] + lam * theta[i];
        T Gi = G[i] + g * g;
        G[i] = Gi;
        theta[i] -= eta * g / (FM_SQRT(Gi) + e);)
    if (ss) *ss = acc;
}

/* RMSProp as PyTorch: E <- rho E + (1 - rho) g^2; avg = sqrt(E) + eps (eps
 * outside the root); centered: gavg <- rho gavg + (1 - rho) g,
 * avg = sqrt(E - gavg^2) + eps; with momentum: buf <- momentum buf + g / avg,
 * theta -= lr buf; else theta -= lr g / avg.  State: E, then buf (with
 * momentum), then gavg (centered). */
static inline void FM_NAME(fm_rmsprop_elem)(T *theta, const T *grad, T *E, T *buf,
                                            T *gavg, ptrdiff_t i, T r, T c, T eta,
                                            T e, T mu, T lam, int centered,
                                            int momentum)
{
    T g = grad[i] + lam * theta[i];
    T Ei = r * E[i] + c * (g * g);
    E[i] = Ei;
    T avg;
    if (centered) {
        T ga = r * gavg[i] + c * g;
        gavg[i] = ga;
        avg = FM_SQRT(Ei - ga * ga) + e;
    } else {
        avg = FM_SQRT(Ei) + e;
    }
    if (momentum) {
        T b = mu * buf[i] + g / avg;
        buf[i] = b;
        theta[i] -= eta * b;
    } else {
        theta[i] -= eta * g / avg;
    }
}

static inline void FM_NAME(fm_step_rmsprop)(FM_STEP_ARGS)
{
    const T r = (T)o->rho, c = (T)(1.0 - o->rho), eta = (T)s->lr, e = (T)o->eps,
            mu = (T)o->momentum, lam = (T)s->l2;
    T *E = state;
    T *buf = o->momentum > 0 ? state + stride : NULL;
    T *gavg = o->centered ? state + (buf ? 2 : 1) * stride : NULL;
    double acc = 0.0;
    /* one loop per variant, no branch inside: it vectorises (bench/DECISIONS.md D20) */
    if (gavg && buf) {
        FM_UPDATE_LOOP(n, FM_NAME(fm_rmsprop_elem)(theta, grad, E, buf, gavg, i,
                                                   r, c, eta, e, mu, lam, 1, 1);)
    } else if (gavg) {
        FM_UPDATE_LOOP(n, FM_NAME(fm_rmsprop_elem)(theta, grad, E, buf, gavg, i,
                                                   r, c, eta, e, mu, lam, 1, 0);)
    } else if (buf) {
        FM_UPDATE_LOOP(n, FM_NAME(fm_rmsprop_elem)(theta, grad, E, buf, gavg, i,
                                                   r, c, eta, e, mu, lam, 0, 1);)
    } else {
        FM_UPDATE_LOOP(n, FM_NAME(fm_rmsprop_elem)(theta, grad, E, buf, gavg, i,
                                                   r, c, eta, e, mu, lam, 0, 0);)
    }
    if (ss) *ss = acc;
}

/* Adadelta as PyTorch (Zeiler 2012 with a learning rate, 1 in the paper):
 * Eg <- rho Eg + (1 - rho) g^2; dx = sqrt(Edx + eps) / sqrt(Eg + eps) g;
 * Edx <- rho Edx + (1 - rho) dx^2; theta -= lr dx (eps inside both roots). */
static inline void FM_NAME(fm_step_adadelta)(FM_STEP_ARGS)
{
    const T r = (T)o->rho, c = (T)(1.0 - o->rho), eta = (T)s->lr, e = (T)o->eps,
            lam = (T)s->l2;
    T *Eg = state, *Edx = state + stride;
    double acc = 0.0;
    FM_UPDATE_LOOP(n,
        T g = grad[i] + lam * theta[i];
        T Egi = r * Eg[i] + c * (g * g);
        Eg[i] = Egi;
        T dx = FM_SQRT(Edx[i] + e) / FM_SQRT(Egi + e) * g;
        Edx[i] = r * Edx[i] + c * (dx * dx);
        theta[i] -= eta * dx;)
    if (ss) *ss = acc;
}

/* SWATS (Keskar & Socher 2017, Algorithm 1).  Before the switch: Adam as
 * above (scikit-learn's form, which is the paper's: the rate carries both
 * bias corrections, eps is added to sqrt(v)), its step p also summed into
 * dots: p.p and p.g (g with the L2 term), from which the engine estimates
 * the SGD rate and decides the switch.  After it: SGD with momentum beta1
 * at rate s->lr, buf <- beta1 buf + g; theta -= (1 - beta1) lr buf.
 * State: m, v, then the SGD momentum buffer (zero until the switch). */
static inline void FM_NAME(fm_step_swats)(FM_STEP_ARGS)
{
    const T b1 = (T)o->beta1, lam = (T)s->l2;
    T *m = state, *v = state + stride, *buf = state + 2 * stride;
    double acc = 0.0;
    if (s->sgd) {
        const T step = (T)((1.0 - o->beta1) * s->lr);
        FM_UPDATE_LOOP(n,
            T g = grad[i] + lam * theta[i];
            T b = b1 * buf[i] + g;
            buf[i] = b;
            theta[i] -= step * b;)
    } else {
        const T b2 = (T)o->beta2, c1 = (T)(1.0 - o->beta1),
                c2 = (T)(1.0 - o->beta2), lr = (T)(s->lr * sqrt(s->c2) / s->c1),
                e = (T)o->eps;
        double pp = 0.0, pg = 0.0;
        _Pragma("omp simd reduction(+:acc,pp,pg)")
        for (ptrdiff_t i = 0; i < n; i++) {
            T g = grad[i] + lam * theta[i];
            T mi = b1 * m[i] + c1 * g;
            T vi = b2 * v[i] + c2 * (g * g);
            m[i] = mi;
            v[i] = vi;
            T p = lr * mi / (FM_SQRT(vi) + e);
            theta[i] -= p;
            acc += (double)theta[i] * (double)theta[i];
            pp += (double)p * (double)p;
            pg -= (double)p * (double)g;     /* the step is -p */
        }
        s->dots[0] += pp;
        s->dots[1] += pg;
    }
    if (ss) *ss = acc;
}

/* One update of theta[0:n] by the solver o->solver (see above). */
FM_KERNEL void FM_NAME(fm_optimizer_step)(FM_STEP_ARGS)
{
    switch (o->solver) {
#define FM_CASE(E, name, code, nstate)                                        \
    case code: FM_NAME(fm_step_##name)(theta, grad, state, stride, n, o, s, ss); break;
    FM_SOLVERS(FM_CASE)
#undef FM_CASE
    }
}

#undef FM_UPDATE_LOOP
#undef FM_STEP_ARGS
