"""Exceptions and warnings of fastmlp."""

__all__ = ["DivergenceError"]


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
