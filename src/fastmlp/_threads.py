"""Thread control: one number for both pools.

Two thread pools work in a fit: BLAS's (OpenBLAS inside SciPy) for the GEMMs
and OpenMP's for the engine's own loops.  They never run nested: the engine
calls BLAS between its parallel loops, not inside them.  ``n_threads`` sets
both: OpenMP through the ``num_threads`` of every parallel loop, BLAS through
threadpoolctl for the duration of ``fit`` / ``partial_fit``
(``_training.thread_plan`` decides which pool does the GEMMs).
"""

import os

from threadpoolctl import ThreadpoolController


def effective_n_threads(n_threads):
    """The number of threads to use for a requested ``n_threads``.

    ``None`` means every core this process may run on (respecting
    ``OMP_NUM_THREADS`` when it is set, as OpenMP programs do).
    """
    if n_threads is not None:
        return int(n_threads)
    return _default_n_threads()


def prediction_n_threads(n_threads):
    """``effective_n_threads`` for predictions of a few samples, where its
    system calls would be a tenth of the latency: the default is looked up
    once per process (environment and CPU affinity as they were then)."""
    if n_threads is not None:
        return int(n_threads)
    global _PREDICTION_DEFAULT
    if _PREDICTION_DEFAULT is None:
        _PREDICTION_DEFAULT = _default_n_threads()
    return _PREDICTION_DEFAULT


_PREDICTION_DEFAULT = None


def _default_n_threads():
    env = os.environ.get("OMP_NUM_THREADS")
    if env:
        try:
            return max(1, int(env.split(",")[0]))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def blas_threads(n_threads):
    """Context manager limiting BLAS to ``n_threads`` while training.

    threadpoolctl is not thread-safe, so this is used around whole fits only,
    never per ``predict`` call.  The libraries are looked up once per
    process (a scan of the loaded libraries costs 4 ms, a tenth of a small
    fit); the BLAS that matters, SciPy's, is loaded by then.
    """
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=n_threads, user_api="blas")


_CONTROLLER = None
