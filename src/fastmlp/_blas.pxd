# BLAS for the engine: scipy.linalg.cython_blas behind fused-type, row-major
# helpers. Every BLAS call of fastmlp goes through this file.
#
# `blas_int` is SciPy's integer type for BLAS arguments (int, or int64_t in
# an ILP64 SciPy >= 1.18); the build defines it in _blas_int.pxi.

from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm

include "_blas_int.pxi"


cdef inline void gemm_rm(
    char transa, char transb,
    Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
    floating alpha,
    const floating *A, Py_ssize_t lda,   # IN
    const floating *B, Py_ssize_t ldb,   # IN
    floating beta,
    floating *C, Py_ssize_t ldc,         # INOUT
) noexcept nogil:
    """C = alpha * op(A) @ op(B) + beta * C for row-major (C-contiguous) arrays.

    BLAS is column-major, and a row-major matrix is its own transpose in
    column-major order, so C^T = op(B)^T op(A)^T: swap A and B, m and n.
    Sizes fit `blas_int`: the engine checks its layer widths and batch
    capacity when it is built (`_engine.check_blas_size`).
    """
    cdef blas_int M = <blas_int>m, N = <blas_int>n, K = <blas_int>k
    cdef blas_int LDA = <blas_int>lda, LDB = <blas_int>ldb, LDC = <blas_int>ldc
    cdef char ta = transa, tb = transb
    if m == 0 or n == 0:
        return
    if floating is float:
        sgemm(&tb, &ta, &N, &M, &K, &alpha, <float *>B, &LDB,
              <float *>A, &LDA, &beta, C, &LDC)
    else:
        dgemm(&tb, &ta, &N, &M, &K, &alpha, <double *>B, &LDB,
              <double *>A, &LDA, &beta, C, &LDC)
