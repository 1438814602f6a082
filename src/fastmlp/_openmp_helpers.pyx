"""What the OpenMP runtime says, seen from Python."""


def openmp_enabled():
    """Whether fastmlp was built with OpenMP (otherwise its own loops run
    on one thread)."""
    return bool(FASTMLP_OPENMP)


def n_processors():
    """The processors OpenMP sees (1 without OpenMP)."""
    return omp_get_num_procs()


def max_threads():
    """OpenMP's maximum team size: ``OMP_NUM_THREADS`` or
    ``omp_set_num_threads`` where set (1 without OpenMP)."""
    return omp_get_max_threads()
