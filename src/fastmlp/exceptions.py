"""Exceptions and warnings of fastmlp."""

__all__ = ["DivergenceError", "InconsistentVersionWarning"]


class DivergenceError(ValueError):
    """Training produced a non-finite loss.

    Raised by ``fit`` and ``partial_fit``; the message names the epoch and
    the minibatch.  The estimator keeps the parameters it had at the end of
    the last epoch whose loss was finite.  A subclass of ``ValueError``.

    See Also
    --------
    fastmlp.MLPClassifier.fit, fastmlp.MLPRegressor.fit : Where it is raised.

    Examples
    --------
    >>> from fastmlp.exceptions import DivergenceError
    >>> issubclass(DivergenceError, ValueError)
    True
    """


class InconsistentVersionWarning(UserWarning):
    """An estimator was unpickled by a fastmlp version other than its own.

    fastmlp's counterpart of scikit-learn's
    :class:`sklearn.exceptions.InconsistentVersionWarning`: a pickle records
    the fastmlp version that wrote it, and loading it with another version
    warns, because the fitted state's layout may differ between versions.
    Refit, or load with the version that wrote the pickle.

    Parameters
    ----------
    estimator_name : str
        The estimator's class name.
    current_version : str
        The fastmlp version loading the pickle.
    original_version : str
        The fastmlp version that wrote it (``"unknown"`` for pickles written
        before versions were recorded).

    See Also
    --------
    sklearn.exceptions.InconsistentVersionWarning : The same for scikit-learn.

    Examples
    --------
    >>> import pickle, warnings
    >>> from fastmlp import MLPRegressor
    >>> from fastmlp.exceptions import InconsistentVersionWarning
    >>> state = MLPRegressor().__getstate__()
    >>> state["_fastmlp_version"] = "0.0.1"
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     MLPRegressor().__setstate__(state)
    >>> caught[0].category is InconsistentVersionWarning
    True
    """

    def __init__(self, *, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Trying to unpickle estimator {self.estimator_name} from fastmlp "
            f"version {self.original_version} when using version "
            f"{self.current_version}. The fitted state may not load correctly "
            "or may give wrong results: refit the estimator, or load the pickle "
            "with the fastmlp version that wrote it."
        )
