"""fastmlp: a fast multilayer perceptron for the CPU, with scikit-learn's API."""

try:
    from . import _engine  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    from ._build_info import SCIPY_VERSION as _BUILT_SCIPY

    import scipy

    raise ImportError(
        f"fastmlp's compiled engine failed to import ({exc}). It was built "
        f"against SciPy {_BUILT_SCIPY} and SciPy {scipy.__version__} is "
        "installed; scipy.linalg.cython_blas signatures differ between some "
        "SciPy versions. Reinstall fastmlp against the installed SciPy "
        "(pip install --force-reinstall --no-binary fastmlp fastmlp)."
    ) from exc

from ._estimators import DivergenceError, MLPClassifier, MLPRegressor

__version__ = "0.1.0"
__all__ = ["DivergenceError", "MLPClassifier", "MLPRegressor", "__version__"]
