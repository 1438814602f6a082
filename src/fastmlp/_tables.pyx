"""The component tables of csrc/tables.h, seen from Python: the one source
of the codes that activations, output layers and solvers have in the
engine (``_components.py`` builds the Python specs on them)."""

from ._kernels cimport (
    FM_N_ACTIVATIONS, FM_N_OUTPUTS, FM_N_SOLVERS, fm_activation_names,
    fm_activation_needs_input, fm_output_activations, fm_output_losses,
    fm_solver_names,
)

#: activation name -> (code, whether its derivative needs its input)
ACTIVATIONS = {
    fm_activation_names[c].decode(): (c, bool(fm_activation_needs_input[c]))
    for c in range(FM_N_ACTIVATIONS)
}
#: (output activation, loss) -> code
OUTPUTS = {
    (fm_output_activations[c].decode(), fm_output_losses[c].decode()): c
    for c in range(FM_N_OUTPUTS)
}
#: solver name -> code
SOLVERS = {fm_solver_names[c].decode(): c for c in range(FM_N_SOLVERS)}
