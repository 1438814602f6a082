"""fastmlp: a fast multilayer perceptron for the CPU, with scikit-learn's API."""

import os as _os

# OpenMP threads that wait at a barrier spin before they sleep; libgomp's
# default spin is long (300,000 rounds), and when another process or the
# hypervisor takes a core, a thread's partner spins in vain at every
# minibatch (two fits side by side on 2 cores ran 48x slower; 1,000 rounds
# cost nothing measurable alone: bench/DECISIONS.md D11).  libgomp reads the
# setting when it is loaded, so it is set around the engine's import only,
# and never over the user's.
_SPIN = not any(v in _os.environ for v in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY"))
if _SPIN:
    _os.environ["GOMP_SPINCOUNT"] = "1000"
try:
    from . import _engine  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    from ._build_info import SCIPY_VERSION as _BUILT_SCIPY

    import scipy

    raise ImportError(
        f"fastmlp's compiled engine failed to import ({exc}). It was built "
        f"against SciPy {_BUILT_SCIPY} and SciPy {scipy.__version__} is "
        "installed; scipy.linalg.cython_blas signatures differ between some "
        "SciPy versions. Either install a SciPy of the range fastmlp declares "
        "(pip install 'scipy>=1.13,<1.18'), or rebuild fastmlp against the "
        "installed SciPy from its source: pip install --force-reinstall "
        "--no-deps --no-build-isolation /path/to/fastmlp (the source tree or "
        "sdist it was installed from)."
    ) from exc
finally:
    if _SPIN:
        del _os.environ["GOMP_SPINCOUNT"]

from ._config import config_context, get_config, set_config
from ._multilayer_perceptron import MLPClassifier, MLPRegressor
from ._onnx import register_skl2onnx_converters, to_onnx
from .exceptions import DivergenceError

from ._build_info import VERSION as __version__  # noqa: E402
__all__ = [
    "DivergenceError",
    "MLPClassifier",
    "MLPRegressor",
    "__version__",
    "config_context",
    "get_config",
    "register_skl2onnx_converters",
    "set_config",
    "to_onnx",
]
