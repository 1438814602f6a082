"""The engine's loops over blocks shared by OpenMP threads, and its GEMMs.

Elementwise work is cut into blocks of fixed size (rows: ROW_BLOCK,
elements: ELEM_BLOCK, columns: COL_BLOCK) that OpenMP threads share with a
static schedule; below PARALLEL_MIN elements a loop stays on one thread.
Reductions sum each block in double, then the blocks in order: results do
not depend on the number of threads.
"""

from cython.parallel cimport prange

from ._blas cimport gemm_rm
from ._common cimport (
    COL_BLOCK, ELEM_BLOCK, ROW_BLOCK, SS_BLOCK, Threads, intp, threads_for,
)
from ._kernels cimport (
    k_act_backward, k_bias_act, k_colsum, k_gather_rows, k_loss_delta, k_output,
    k_scaled_copy_sumsq, k_sumsq, k_vecmat,
)

cdef enum:
    VECMAT_CHUNK = 128      # columns per chunk of fm_vecmat (FM_VECMAT_W)
    VECMAT_PARALLEL_MIN = 65536   # multiply-adds below which vecmat runs on one thread
    SPLIT_ALIGN = 16        # block edges of a split GEMM: multiples of this
    SPLIT_MIN_BLOCK = 32    # no block narrower than this (unless C is)
    SPLIT_MIN_FLOPS = 1000000


cdef void bias_act(const Threads *th, floating *z, const floating *b, floating *u,
                   intp rows, intp cols, int act, double param) noexcept nogil:
    """z[i, :] = act(z[i, :] + b), the input kept in u when not NULL."""
    cdef intp blk, r0, r1, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = threads_for(th, rows * cols)
    if nt == 1:
        k_bias_act(z, b, u, rows, cols, act, param)
        return
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, rows)
        k_bias_act(z + r0 * cols, b, (u + r0 * cols) if u != NULL else NULL,
                   r1 - r0, cols, act, param)


cdef void output(const Threads *th, floating *z, const floating *b, intp rows,
                 intp cols, int out, const intp *groups, intp n_groups) noexcept nogil:
    """z[i, :] = out(z[i, :] + b): the output layer at prediction (per group
    of columns when n_groups > 0)."""
    cdef intp blk, r0, r1, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = threads_for(th, rows * cols)
    if nt == 1:
        k_output(z, b, rows, cols, out, groups, n_groups)
        return
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, rows)
        k_output(z + r0 * cols, b, r1 - r0, cols, out, groups, n_groups)


cdef void act_backward(const Threads *th, floating *a, const floating *g,
                       const floating *u, intp n, int act, double param) noexcept nogil:
    """a := g * act'(input), given the output a (and the input u if kept)."""
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = threads_for(th, n)
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        k_act_backward(a + i0, g + i0, (u + i0) if u != NULL else NULL, i1 - i0,
                       act, param)


cdef double loss_delta(const Threads *th, floating *z, const floating *y,
                       const floating *sw, intp rows, intp cols, int out,
                       double scale, double *partial, const intp *groups,
                       intp n_groups) noexcept nogil:
    """Loss sum_i sw_i l_i; z becomes the output delta scale * sw_i * dl_i/dz
    (l_i summed over the groups of columns when n_groups > 0)."""
    cdef intp blk, r0, r1, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = threads_for(th, rows * cols)
    cdef double total = 0.0
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, rows)
        partial[blk] = k_loss_delta(z + r0 * cols, y + r0 * cols,
                                    (sw + r0) if sw != NULL else NULL,
                                    r1 - r0, cols, out, scale, groups, n_groups)
    for blk in range(nb):
        total += partial[blk]
    return total


cdef void bias_grad(const Threads *th, const floating *delta, intp rows, intp cols,
                    floating *gb, bint accumulate, double *acc) noexcept nogil:
    """gb (+)= column sums of delta, accumulated in double."""
    cdef intp j, blk, c0, c1, nb = (cols + COL_BLOCK - 1) // COL_BLOCK
    cdef int nt = threads_for(th, rows * cols)
    for j in range(cols):
        acc[j] = 0.0
    for blk in prange(nb, schedule='static', num_threads=nt):
        c0 = blk * COL_BLOCK
        c1 = min(c0 + COL_BLOCK, cols)
        k_colsum(delta + c0, rows, cols, c1 - c0, acc + c0)
    if accumulate:
        for j in range(cols):
            gb[j] = <floating>(gb[j] + acc[j])
    else:
        for j in range(cols):
            gb[j] = <floating>acc[j]


cdef double scaled_copy_sumsq(const Threads *th, floating *dst, const floating *src,
                              intp n, double scale, double *partial) noexcept nogil:
    """dst = scale * src; returns sum(src**2)."""
    cdef intp blk, i0, i1, nb = (n + ELEM_BLOCK - 1) // ELEM_BLOCK
    cdef int nt = threads_for(th, n)
    cdef double total = 0.0
    for blk in prange(nb, schedule='static', num_threads=nt):
        i0 = blk * ELEM_BLOCK
        i1 = min(i0 + ELEM_BLOCK, n)
        partial[blk] = k_scaled_copy_sumsq(dst + i0, src + i0, i1 - i0, scale)
    for blk in range(nb):
        total += partial[blk]
    return total


cdef double sumsq(const Threads *th, const floating *x, intp n,
                  double *partial) noexcept nogil:
    """sum(x[:n]**2) in double, in the optimiser step's blocks and order."""
    cdef int nt = threads_for(th, n)
    cdef intp nblk = (n + SS_BLOCK - 1) // SS_BLOCK, k, i0
    cdef double total = 0.0
    for k in prange(nblk, schedule='static', num_threads=nt):
        i0 = k * SS_BLOCK
        partial[k] = k_sumsq(x + i0, min(SS_BLOCK, n - i0))
    for k in range(nblk):
        total += partial[k]
    return total


cdef void gather(const Threads *th, floating *dst, const floating *src,
                 const intp *idx, intp rows, intp cols) noexcept nogil:
    """Rows idx[0:rows] of src into dst."""
    cdef intp blk, r0, r1, nb = (rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef int nt = threads_for(th, rows * cols)
    for blk in prange(nb, schedule='static', num_threads=nt):
        r0 = blk * ROW_BLOCK
        r1 = min(r0 + ROW_BLOCK, rows)
        k_gather_rows(dst + r0 * cols, src, idx + r0, r1 - r0, cols)


cdef void matmul(const Threads *th, char transa, char transb, intp m, intp n, intp k,
                 const floating *A, const floating *B, floating beta,
                 floating *C) noexcept nogil:
    """C = op(A) @ op(B) + beta C for contiguous row-major (C-ordered) arrays:
    C is (m, n), A is (m, k) or with transa 'T' (k, m), B (k, n) or (n, k).

    With th.split_gemm C is cut along its longer side into th.split_parts
    blocks (edges aligned to SPLIT_ALIGN), each computed by single-threaded
    BLAS, and OpenMP threads share the blocks; otherwise BLAS's own pool does
    the work (never both pools at once; bench/DECISIONS.md D1-D3).  Cutting the longer side copies
    the smaller operand into each block's packing buffers.  The blocks depend
    on the shape and split_parts alone, so the result is the same, bit for
    bit, for any number of threads.
    """
    cdef intp lda = k if transa == c'N' else m
    cdef intp ldb = n if transb == c'N' else k
    cdef intp blk, nb, r0, r1, dim, per
    cdef bint by_rows = m >= n
    cdef floating one = 1.0
    if not th.split_gemm or <double>m * n * k < SPLIT_MIN_FLOPS:
        gemm_rm(transa, transb, m, n, k, one, A, lda, B, ldb, beta, C, n)
        return
    dim = m if by_rows else n
    per = (dim + th.split_parts - 1) // th.split_parts
    per = max(SPLIT_MIN_BLOCK, (per + SPLIT_ALIGN - 1) // SPLIT_ALIGN * SPLIT_ALIGN)
    nb = (dim + per - 1) // per
    if nb == 1:
        gemm_rm(transa, transb, m, n, k, one, A, lda, B, ldb, beta, C, n)
        return
    for blk in prange(nb, schedule='static', num_threads=min(th.n, nb)):
        r0 = blk * per
        r1 = min(r0 + per, dim)
        if by_rows:
            # rows r0:r1 of op(A) and of C
            gemm_rm(transa, transb, r1 - r0, n, k, one,
                    (A + r0 * lda) if transa == c'N' else (A + r0), lda,
                    B, ldb, beta, C + r0 * n, n)
        else:
            # columns r0:r1 of op(B) and of C
            gemm_rm(transa, transb, m, r1 - r0, k, one, A, lda,
                    (B + r0) if transb == c'N' else (B + r0 * ldb), ldb,
                    beta, C + r0, n)


cdef void vecmat(const Threads *th, const floating *x, intp m, const floating *W,
                 intp n, floating *y) noexcept nogil:
    """y = x @ W for one row x and a row-major (m, n) W: our own kernel
    rather than BLAS's gemv, whose pool must not run beside OpenMP's.
    Chunks of VECMAT_CHUNK columns are shared by th.vec threads when the
    product repays starting them (halved when that leaves a thread idle);
    each thread streams only its columns of W, which stay in its core's
    cache between calls (bench/DECISIONS.md D6)."""
    cdef int nt = th.vec if m * n >= VECMAT_PARALLEL_MIN else 1
    cdef intp blk, c0, chunk = VECMAT_CHUNK
    cdef intp nb
    if nt > 1 and (n + chunk - 1) // chunk < nt:
        chunk = VECMAT_CHUNK // 2
    nb = (n + chunk - 1) // chunk
    if nt == 1 or nb == 1:
        k_vecmat(x, m, W, n, n, y)
        return
    for blk in prange(nb, schedule='static', num_threads=min(nt, nb)):
        c0 = blk * chunk
        k_vecmat(x, m, W + c0, n, min(chunk, n - c0), y + c0)
