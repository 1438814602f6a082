# OpenMP for the engine: every call to an OpenMP routine goes through this
# file, which falls back to serial stand-ins when fastmlp is built without
# OpenMP (the prange loops then run on one thread; Cython guards their
# pragmas itself).  After scikit-learn's sklearn/utils/_openmp_helpers.pxd.

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTMLP_OPENMP 1
    #else
    #include <time.h>
    #define FASTMLP_OPENMP 0
    static inline int omp_get_max_threads(void) { return 1; }
    static inline int omp_get_num_procs(void) { return 1; }
    static inline int omp_get_thread_num(void) { return 0; }
    static inline double omp_get_wtime(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    }
    #endif
    """
    bint FASTMLP_OPENMP
    int omp_get_max_threads() noexcept nogil
    int omp_get_num_procs() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    double omp_get_wtime() noexcept nogil
