"""A fitted model: the network, its parameter vector and BN's running
statistics, bound together (``_Model``), and the checks that turn the public
attributes a user may have replaced (``coefs_``, ``intercepts_``, the
``bn_*`` arrays) back into a model.

An estimator replaces its model in one assignment, so that a prediction
running beside a refit sees the old model or the new one, whole.
"""

import numpy as np

from . import _predictor
from ._aligned import aligned, aligned_empty


class _Model:
    """A fitted network: architecture, parameter vector and BN's running
    statistics, bound together; `views` holds the public attributes' arrays
    (views of theta and running) as the model made them."""

    __slots__ = ("network", "theta", "running", "views", "_predictor")

    def __init__(self, network, theta, running):
        self.network = network
        self.theta = aligned(theta)   # e.g. unpickled: the engine wants 64 bytes
        self.running = running
        self.views = {
            "coefs_": tuple(network.coefs(self.theta)),
            "intercepts_": tuple(network.intercepts(self.theta)),
        }
        if network.batch_norm:
            means, variances = network.running_views(running)
            self.views.update(bn_gamma_=tuple(network.bn_gammas(self.theta)),
                              bn_running_mean_=tuple(means),
                              bn_running_var_=tuple(variances))
        self._predictor = None

    @property
    def predictor(self):
        """The engine's Predictor for this model, made on first use."""
        if self._predictor is None:
            self._predictor = _predictor.Predictor(self.network, self.theta, self.running)
        return self._predictor


#: The public attributes that show a model's parameters.
_PARAM_ATTRS = ("coefs_", "intercepts_", "bn_gamma_", "bn_running_mean_",
                "bn_running_var_")


def _shapes(network):
    """The arrays each public parameter attribute must hold."""
    sizes = [int(s) for s in network.sizes]
    shapes = {"coefs_": list(zip(sizes[:-1], sizes[1:])),
              "intercepts_": [(w,) for w in sizes[1:]]}
    if network.batch_norm:
        hidden = [(w,) for w in sizes[1:-1]]
        shapes.update(bn_gamma_=hidden, bn_running_mean_=hidden, bn_running_var_=hidden)
    return shapes


def _checked(attr, value, shapes, dtype):
    """The arrays of the user-visible attribute `attr`, checked against
    `shapes` (count, shape, numeric, finite in the model's `dtype`), as
    float64."""
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{attr} must be a list of {len(shapes)} arrays; got "
                         f"{type(value).__name__}.")
    if len(value) != len(shapes):
        raise ValueError(
            f"{attr} holds {len(value)} arrays where the network has "
            f"{len(shapes)} layers; with warm_start=True the architecture "
            "must stay the same (refit with warm_start=False)."
        )
    arrays = []
    for i, (a, shape) in enumerate(zip(value, shapes)):
        try:
            arr = np.asarray(a)
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"{attr}[{i}] is not an array of numbers: {exc}") from None
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"{attr}[{i}] must hold real numbers; got dtype "
                             f"{arr.dtype}.")
        if arr.shape != shape:
            raise ValueError(f"{attr}[{i}] has shape {arr.shape} where the network "
                             f"needs {shape}.")
        # float64, as BN's running statistics are kept (the parameters are
        # cast by their views), but finite in the model's dtype
        arr = arr.astype(np.float64, copy=False)
        with np.errstate(over="ignore"):   # overflow is reported below
            finite = np.isfinite(arr.astype(dtype, copy=False)).all()
        if not finite:
            raise ValueError(
                f"{attr}[{i}] holds NaN or infinity"
                + (f" (or values beyond {np.dtype(dtype).name}'s range, "
                   f"{np.finfo(dtype).max:.4g})" if np.dtype(dtype) != np.float64
                   else "") + ".")
        if attr == "bn_running_var_" and (arr < 0).any():
            raise ValueError(f"{attr}[{i}] holds negative variances.")
        arrays.append(arr)
    return arrays


def _model_from_attributes(network, attrs):
    """A model of `network` from the public attributes' arrays (which a user
    may have replaced), all checked: a user's values are used wherever they
    are set, or rejected with a ValueError naming them."""
    shapes = _shapes(network)
    for attr in shapes:
        if attrs.get(attr) is None:
            raise ValueError(f"{attr} is missing; with warm_start=True batch_norm "
                             "must stay as fitted (refit with warm_start=False).")
    arrays = {attr: _checked(attr, attrs[attr], shapes[attr], network.dtype)
              for attr in shapes}
    theta = aligned_empty(network.n_params, network.dtype)
    running = network.initial_running()
    model = _Model(network, theta, running)
    for attr, views in model.views.items():
        for view, arr in zip(views, arrays[attr]):
            view[...] = arr
    return model
