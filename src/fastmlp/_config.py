"""Global configuration of fastmlp: how the engine runs, not what it computes.

As scikit-learn's ``set_config`` / ``config_context``: the settings are per
thread (a context in one thread does not change another's fits), and
``config_context`` restores them on exit.
"""

import math
import numbers
import threading
from contextlib import contextmanager

_DEFAULTS = {
    "sparse_first_layer": "auto",
    "sparse_max_density": 0.25,
    "parallel_mode": "auto",
    "gemm_blocks": None,
}
_CHOICES = {
    "sparse_first_layer": ("auto", "always", "never"),
    "parallel_mode": ("auto", "split", "blas"),
}
_local = threading.local()


def _config():
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def get_config():
    """The current settings (a copy).

    Returns
    -------
    config : dict
        Keys as the parameters of :func:`set_config`.
    """
    return dict(_config())


def set_config(sparse_first_layer=None, sparse_max_density=None, parallel_mode=None,
               gemm_blocks=None):
    """Set fastmlp's settings for the current thread.

    A parameter left at None keeps its value.

    Parameters
    ----------
    sparse_first_layer : {"auto", "always", "never"}, default=None
        Whether the first layer trains on each minibatch's nonzeros: "auto"
        when at most ``sparse_max_density`` of the inputs are nonzero
        (estimated on up to 1,024 rows), "always", or "never".
        Initially "auto".
    sparse_max_density : float in (0, 1], default=None
        The densest inputs for which "auto" takes the sparse first layer.
        Initially 0.25, the measured break-even of random patterns.
    parallel_mode : {"auto", "split", "blas"}, default=None
        How training uses its threads: "split" cuts every GEMM into blocks
        that the engine's OpenMP threads share, each running single-threaded
        BLAS; "blas" leaves the GEMMs to BLAS's own pool and the engine's
        loops on one thread.  "auto" (initially) is "split".
    gemm_blocks : int, default=None
        Blocks of a split GEMM, from 1 to 1024.  Initially None: the number
        of processors.
        The blocks decide the order of the sums, so the same value gives the
        same model whatever ``n_threads``.

    See Also
    --------
    config_context : The same settings, restored on exit.
    get_config : The current settings.
    """
    config = _config()
    for key, value in (("sparse_first_layer", sparse_first_layer),
                       ("sparse_max_density", sparse_max_density),
                       ("parallel_mode", parallel_mode),
                       ("gemm_blocks", gemm_blocks)):
        if value is None:
            continue
        if key in _CHOICES and value not in _CHOICES[key]:
            raise ValueError(f"{key} must be one of {_CHOICES[key]}; got {value!r}")
        if key == "sparse_max_density" and not 0 < value <= 1:
            raise ValueError(f"sparse_max_density must be in (0, 1]; got {value!r}")
        if key == "gemm_blocks":
            value = _check_gemm_blocks(value)
        config[key] = value


#: More blocks than this would each be a handful of rows (and the engine
#: counts them in a C int).
MAX_GEMM_BLOCKS = 1024


def _check_gemm_blocks(value):
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, numbers.Real)) \
            or not (math.isfinite(value) and int(value) == value
                    and 1 <= value <= MAX_GEMM_BLOCKS):
        raise ValueError(f"gemm_blocks must be an integer in [1, {MAX_GEMM_BLOCKS}]; "
                         f"got {value!r}")
    return int(value)


@contextmanager
def config_context(**settings):
    """Change fastmlp's settings inside a ``with`` block.

    Parameters
    ----------
    **settings
        Any parameters of :func:`set_config`.

    Yields
    ------
    None
        The settings apply inside the block and are restored on exit, even
        when it raises.

    See Also
    --------
    set_config : Set the settings.
    get_config : The current settings.

    Examples
    --------
    >>> import fastmlp
    >>> with fastmlp.config_context(sparse_first_layer="never"):
    ...     fastmlp.get_config()["sparse_first_layer"]
    'never'
    >>> fastmlp.get_config()["sparse_first_layer"]
    'auto'
    """
    old = get_config()
    set_config(**settings)
    try:
        yield
    finally:
        _config().update(old)
