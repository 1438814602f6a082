"""The components of an MLP seen from Python: activations, output layers with
their losses, and solvers.

The C tables (``csrc/tables.h``, exported by ``_tables``) define each
component's code and what the engine needs to know; the specs here add
what the estimator needs: default parameters and rates, initialisation
gains, hyper-parameters.  Every list of names that the estimators, the
docs' checks and the tests use is derived from these dicts.
"""

from dataclasses import dataclass

from . import _tables


@dataclass(frozen=True)
class Activation:
    """A hidden-layer activation.

    Attributes
    ----------
    name : str
        The name in the C table (``activation=`` takes it, or an alias).
    code : int
        The engine's code.
    needs_input : bool
        Its derivative needs the activation's input, which training then
        keeps (otherwise only the output is kept).
    param : float or None
        Its parameter (leaky ReLU's negative slope, ELU's alpha), PyTorch's
        default; None if it has none.
    glorot_factor : float
        scikit-learn's Glorot-uniform bound is sqrt(factor / (fan_in +
        fan_out)): 6, or 2 for the logistic.
    """

    name: str
    code: int
    needs_input: bool
    param: float = None
    glorot_factor: float = 6.0

    def he_gain2(self, param):
        """He's squared gain for this activation with parameter `param`:
        2 / (1 + a^2), a the negative slope of leaky ReLU and 0 otherwise
        (PyTorch's ``calculate_gain``)."""
        slope = param if self.name == "leaky_relu" else 0.0
        return 2.0 / (1.0 + slope**2)


def _activation(name, **spec):
    code, needs_input = _tables.ACTIVATIONS[name]
    return Activation(name, code, needs_input, **spec)


#: Activations by name; "sigmoid" is an alias of "logistic".
ACTIVATIONS = {
    "identity": _activation("identity"),
    "logistic": _activation("logistic", glorot_factor=2.0),
    "tanh": _activation("tanh"),
    "relu": _activation("relu"),
    "leaky_relu": _activation("leaky_relu", param=0.01),
    "elu": _activation("elu", param=1.0),
    "gelu": _activation("gelu"),
    "silu": _activation("silu"),
}
ACTIVATIONS["sigmoid"] = ACTIVATIONS["logistic"]
assert {a.name for a in ACTIVATIONS.values()} == set(_tables.ACTIVATIONS), \
    "every activation of csrc/tables.h needs its spec here"

#: (output activation, loss) pairs and their engine codes; each pair is the
#: maximum-likelihood model of a distribution of the targets.
OUTPUTS = dict(_tables.OUTPUTS)


@dataclass(frozen=True)
class Solver:
    """A solver.

    Attributes
    ----------
    name : str
    code : int or None
        The engine's code; None for L-BFGS (SciPy's, on the full batch).
    lr : float
        Its rate for ``learning_rate_init="auto"``: scikit-learn's 0.001
        for its solvers, PyTorch's defaults for the others.
    rho : float or None
        Default decay of the squared-gradient averages (PyTorch's).
    """

    name: str
    code: int
    lr: float
    rho: float = None

    @property
    def stochastic(self):
        """Whether it takes minibatch steps (and supports partial_fit)."""
        return self.code is not None

    def hyper_parameters(self, est):
        """The engine's hyper-parameters (``_optim.Optimizer``'s keywords)
        from the estimator `est`'s parameters."""
        return dict(
            momentum=est.momentum if self.name == "sgd" else 0.0,
            nesterov=bool(est.nesterovs_momentum),
            beta1=est.beta_1,
            beta2=est.beta_2,
            eps=est.epsilon,
            rho=est.rho if est.rho is not None else (self.rho or 0.9),
            weight_decay=est.weight_decay,
            swats_eps=est.swats_eps,
        )


def _solver(name, lr, **spec):
    return Solver(name, _tables.SOLVERS[name], lr, **spec)


#: Solvers by name.
SOLVERS = {
    "sgd": _solver("sgd", 0.001),
    "adam": _solver("adam", 0.001),
    "adamw": _solver("adamw", 0.001),
    "adagrad": _solver("adagrad", 0.01),
    "rmsprop": _solver("rmsprop", 0.01, rho=0.99),
    # Adadelta's 1.0 is the paper's rate-free update
    "adadelta": _solver("adadelta", 1.0, rho=0.9),
    # Adam's rate until SWATS switches to SGD at its own estimate
    "swats": _solver("swats", 0.001),
    "lbfgs": Solver("lbfgs", None, 0.001),
}
assert {s.name for s in SOLVERS.values() if s.stochastic} == set(_tables.SOLVERS), \
    "every solver of csrc/tables.h needs its spec here"

STOCHASTIC_SOLVERS = tuple(name for name, s in SOLVERS.items() if s.stochastic)

#: Weight initialisations (``_network.Network.init_params``).
WEIGHT_INITS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "standard")
