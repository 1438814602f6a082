"""Threads: how many, and BLAS's share of them.

Two thread pools can work in fastmlp: OpenMP's for the engine's own loops
and BLAS's (OpenBLAS inside SciPy) for the GEMMs.  They never run nested:
the engine calls BLAS between its parallel loops or from inside its own
blocks, each block on one BLAS thread (bench/DECISIONS.md D1-D3).

BLAS's thread count is process-wide state (threadpoolctl sets it, and is not
thread-safe), so it is changed in one place only, `blas_limit`, which lets
any number of fits and predictions share one setting and restores the
process's own when the last of them ends.
"""

import os
import threading
import warnings
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

from ._config import get_config
from ._openmp_helpers import max_threads, openmp_enabled

_CPUS = {}


def _cpu_count(physical):
    """The CPUs this process may use (affinity, cgroup quota), cached:
    joblib's count, as scikit-learn's."""
    if physical not in _CPUS:
        from joblib import cpu_count

        _CPUS[physical] = max(1, cpu_count(only_physical_cores=physical))
    return _CPUS[physical]


def machine_cpus():
    """The machine's CPU count, whatever the process's affinity or quota:
    what the default number of GEMM blocks is derived from, so that a model
    does not depend on the threads a process is given."""
    return max(1, os.cpu_count() or 1)


def effective_n_threads(n_threads):
    """The threads to use for a requested ``n_threads``.

    As scikit-learn's ``_openmp_effective_n_threads``: ``None`` is OpenMP's
    maximum team size (``OMP_NUM_THREADS``, ``omp_set_num_threads`` and
    ``threadpoolctl``'s OpenMP limit change it), capped by the physical cores
    the process may use unless ``OMP_NUM_THREADS`` asks for more.  More
    threads than the CPUs the process may use (affinity and cgroup quota)
    are capped to that number with a warning: each OpenMP thread is an OS
    thread, and tens of thousands of them exhaust the process.  1 without
    OpenMP.
    """
    if not openmp_enabled():
        return 1
    limit = _cpu_count(physical=False)
    source = f"n_threads={n_threads}"
    if n_threads is None:
        n = max_threads()
        if not os.environ.get("OMP_NUM_THREADS"):
            return max(1, min(n, _cpu_count(physical=True)))
        n_threads, source = n, f"OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}"
    n_threads = int(n_threads)
    if n_threads > limit:
        warnings.warn(
            f"{source} asks for more threads than the {limit} CPUs this "
            f"process may use; using {limit}.",
            UserWarning,
            stacklevel=3,
        )
        return limit
    return max(1, n_threads)


class _BlasLimit:
    """One BLAS thread count shared by every fit and prediction that needs
    one: the first to come sets it (remembering the process's), the others
    with the same count share it, those with another count wait, and the
    last to leave restores the process's setting.  Inside a block, the same
    thread passes through (a fit's validation scores are predictions): it
    keeps the count it holds."""

    def __init__(self):
        self._cond = threading.Condition()
        self._holders = 0
        self._value = None
        self._limiter = None
        self._controller = None
        self._local = threading.local()

    @contextmanager
    def __call__(self, n_threads):
        if getattr(self._local, "held", False):
            yield
            return
        with self._cond:
            while self._holders and self._value != n_threads:
                self._cond.wait()
            if not self._holders:
                if self._controller is None:
                    # A scan of the loaded libraries costs 4 ms, a tenth of a
                    # small fit; SciPy's BLAS, the one that matters, is loaded
                    # by now (D7).
                    self._controller = ThreadpoolController()
                self._limiter = self._controller.limit(limits=n_threads,
                                                      user_api="blas")
                self._value = n_threads
            self._holders += 1
        self._local.held = True
        try:
            yield
        finally:
            self._local.held = False
            with self._cond:
                self._holders -= 1
                if not self._holders:
                    self._limiter.restore_original_limits()
                    self._limiter = self._value = None
                    self._cond.notify_all()


#: ``with blas_limit(n):`` BLAS runs on n threads inside the block.
blas_limit = _BlasLimit()


def gemm_blocks():
    """Blocks of a split GEMM: ``config_context(gemm_blocks=...)``, else the
    machine's CPU count.  The blocks fix the order of every sum, so a model
    is the same for any n_threads, affinity mask or quota on one machine."""
    return get_config()["gemm_blocks"] or machine_cpus()
