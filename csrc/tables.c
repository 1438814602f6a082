/* The component tables seen from outside, and the random-number key. */
#include "common.h"
#include "tables.h"

#define FM_ACT_NAME(E, name, code, needs) [code] = #name,
#define FM_ACT_NEEDS(E, name, code, needs) [code] = needs,
const char *const fm_activation_names[FM_N_ACTIVATIONS] = { FM_ACTIVATIONS(FM_ACT_NAME) };
const int fm_activation_needs_input[FM_N_ACTIVATIONS] = { FM_ACTIVATIONS(FM_ACT_NEEDS) };

#define FM_OUT_ACT(E, name, out, loss, code) [code] = #out,
#define FM_OUT_LOSS(E, name, out, loss, code) [code] = #loss,
const char *const fm_output_activations[FM_N_OUTPUTS] = { FM_OUTPUTS(FM_OUT_ACT) };
const char *const fm_output_losses[FM_N_OUTPUTS] = { FM_OUTPUTS(FM_OUT_LOSS) };

#define FM_SOLVER_NAME(E, name, code, nstate) [code] = #name,
const char *const fm_solver_names[FM_N_SOLVERS] = { FM_SOLVERS(FM_SOLVER_NAME) };

int fm_solver_n_state(const fm_optim *o)
{
#define FM_SOLVER_CASE(E, name, code, nstate) case code: return nstate;
    switch (o->solver) {
    FM_SOLVERS(FM_SOLVER_CASE)
    }
#undef FM_SOLVER_CASE
    return 0;
}

static uint64_t fm_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t fm_batch_key(uint64_t seed, uint64_t epoch, uint64_t batch, uint64_t stream)
{
    return fm_splitmix64(fm_splitmix64(fm_splitmix64(fm_splitmix64(seed) ^ epoch)
                                       ^ batch) ^ stream);
}
