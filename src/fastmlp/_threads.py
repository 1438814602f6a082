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
import warnings

from ._blas_limit import BlasLimit
from ._config import get_config
from ._openmp_helpers import max_threads, openmp_enabled

_CPUS = {}

#: OMP_NUM_THREADS as OpenMP read it: when its runtime loaded, with fastmlp's
#: engine (before this module).  A later change of the environment (a dask
#: LocalCluster sets it for its workers) changes nothing in OpenMP, and
#: nothing here; reading it once also keeps 0.7 us off every prediction.
_OMP_NUM_THREADS = os.environ.get("OMP_NUM_THREADS")


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
    the process may use unless ``OMP_NUM_THREADS`` (as the process started
    with it) asks for more.  More
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
        if not _OMP_NUM_THREADS:
            return max(1, min(n, _cpu_count(physical=True)))
        n_threads, source = n, f"OMP_NUM_THREADS={_OMP_NUM_THREADS}"
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


#: ``with blas_limit(n):`` (or ``blas_limit.run(n, func, *args)``) BLAS runs
#: on n threads inside the block; blocks of every thread share one setting
#: (see _blas_limit.pyx).
blas_limit = BlasLimit()


def gemm_blocks():
    """Blocks of a split GEMM: ``config_context(gemm_blocks=...)``, else the
    machine's CPU count.  The blocks fix the order of every sum, so a model
    is the same for any n_threads, affinity mask or quota on one machine."""
    return get_config()["gemm_blocks"] or machine_cpus()
