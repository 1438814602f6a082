/* Sparse first-layer kernels (template, see common.h).
 *
 * A minibatch of inputs that are mostly zeros (images, one-hot codes, text)
 * is kept as its nonzeros, an fm_rows: row i's column indices and values at
 * offset start[i] of `cols` and `vals` (sorted by column), nnz[i] of them.
 * The first layer's forward product and weight gradient then read the rows
 * of W, or of the delta, that a nonzero selects, and nothing else.
 *
 * Sums run over the nonzeros in increasing column (forward) or row (weight
 * gradient) order, whatever part of the product a thread computes: the
 * result does not depend on the number of threads.
 */

#define FM_VT FM_NAME(fm_sp_vec)
/* Bytes of W's slab (forward) or of the delta's rows (weight gradient) that
 * a tile holds in L1 while a block of rows (features) reads them; 24 KB of
 * the 32 KB L1 (bench/DECISIONS.md D17: 16, 24, 32 and 64 KB measured).  The
 * block's cursors are on the stack. */
#define FM_SP_TILE_BYTES 24576
#define FM_SP_BLOCK 512

/* Rows of a tile of q-vector slabs at a stride of ld elements: those that
 * fill FM_SP_TILE_BYTES, or n (no tiles) where the stride would crowd them
 * into too few of L1's sets.  L1's set index repeats every 4 KB, so rows
 * whose stride is a multiple of 2 KB share 2 groups of sets, of 4 KB one:
 * a tile then evicts itself (measured, one thread, 256 rows, a tile of 48
 * rows of 512 bytes: 1.13x slower than none at a 2 KB stride, 1.34x at
 * 4 KB; at 512 B, 1 KB, 1.5 KB and 3 KB strides 1.03-1.17x faster).  Up to
 * 16 rows per set group are allowed (twice L1's 8 ways: a 1 KB stride,
 * 4 groups, still gained at 48 rows, and lost at 32). */
static inline ptrdiff_t FM_NAME(fm_sp_tile)(ptrdiff_t q, ptrdiff_t ld, ptrdiff_t n)
{
    const size_t s = ((size_t)ld * sizeof(T)) % 4096;
    const size_t groups = s ? 4096 / (s & (0 - s)) : 1;
    const ptrdiff_t t = FM_SP_TILE_BYTES / (q * 64);
    return (size_t)t <= 16 * groups ? t : n;
}

#if FM_SP_VECTOR
/* GCC/Clang vector extension: 64 bytes, loaded and stored unaligned.
 * Sums held in named vectors stay in registers, which GCC does not manage
 * for an array indexed through the column list (measured: 5x slower). */
typedef T FM_VT __attribute__((vector_size(64), aligned(sizeof(T))));
#define FM_VL ((ptrdiff_t)(64 / sizeof(T)))

/* Columns c : c + Q vectors of the rows OUT of NL sums, each over a list
 * of entries p in BEG:END (written in terms of the list number j) of
 * VX[p] * (row IX[p] of M, leading dimension LDM, MROWS rows), IX sorted
 * within a list; the rows start at zero when ZERO, else from OUT's values.
 * Q is a constant, so that the Q partial sums are registers.  M's rows are
 * taken in tiles (fm_sp_tile) that stay in L1 while every list of a block
 * of FM_SP_BLOCK lists adds its entries in the tile, its partial sums
 * waiting in OUT between tiles (stored and reloaded exactly: the sums are
 * the untiled ones, bit for bit); pos[j - j0] is list j's next entry.
 * The forward product's lists are the rows' nonzeros, the weight
 * gradient's the features'. */
#define FM_SP_LIST_SUMS(Q, NL, BEG, END, IX, VX, OUT, M, LDM, MROWS, ZERO)      \
    for (ptrdiff_t j0 = 0; j0 < (NL); j0 += FM_SP_BLOCK) {                    \
        const ptrdiff_t j1 = j0 + FM_SP_BLOCK < (NL) ? j0 + FM_SP_BLOCK : (NL); \
        const ptrdiff_t tile = FM_NAME(fm_sp_tile)(Q, (LDM), (MROWS));      \
        ptrdiff_t pos[FM_SP_BLOCK];                                           \
        for (ptrdiff_t j = j0; j < j1; j++) {                                 \
            FM_VT *o = (FM_VT *)(OUT);                                        \
            if (ZERO)                                                         \
                for (int q = 0; q < Q; q++) o[q] = (FM_VT){0};                \
            pos[j - j0] = (BEG);                                              \
        }                                                                     \
        for (ptrdiff_t ta = 0; ta < (MROWS); ta += tile) {                    \
            const int32_t tb = (int32_t)(ta + tile < (MROWS) ? ta + tile : (MROWS)); \
            for (ptrdiff_t j = j0; j < j1; j++) {                             \
                const ptrdiff_t end = (END);                                  \
                ptrdiff_t p = pos[j - j0];                                    \
                if (p >= end || (IX)[p] >= tb)                                \
                    continue;                                                 \
                FM_VT *o = (FM_VT *)(OUT);                                    \
                FM_VT a[Q];                                                   \
                for (int q = 0; q < Q; q++) a[q] = o[q];                      \
                for (; p < end && (IX)[p] < tb; p++) {                        \
                    const T v = (VX)[p];                                      \
                    const FM_VT *m = (const FM_VT *)((M) + (ptrdiff_t)(IX)[p] * (LDM) + c); \
                    for (int q = 0; q < Q; q++) a[q] += v * m[q];             \
                }                                                             \
                for (int q = 0; q < Q; q++) o[q] = a[q];                      \
                pos[j - j0] = p;                                              \
            }                                                                 \
        }                                                                     \
    }

/* Columns c : c + Q vectors of Z for every row: row j's nonzeros. */
#define FM_SP_MATMUL_CHUNK(Q)                                                 \
    FM_SP_LIST_SUMS(Q, rows, start[j], start[j] + nnz[j], cols, vals,         \
                    Z + j * ldz + c, W, ldw, x->n_features, 1)

/* Columns c : c + Q vectors of dW for every listed feature: feature k0 + j's
 * entries, rows of the delta. */
#define FM_SP_WGRAD_CHUNK(Q)                                                  \
    FM_SP_LIST_SUMS(Q, nk, (j ? colptr[j - 1] : 0), colptr[j], rowidx, cvals, \
                    dW + (k0 + j) * n_out + c, D, n_out, rows, !accumulate)
#endif

/* Rows r0:r1 of the minibatch as nonzeros, row i at i * ldx of cols and
 * vals: row i is row idx[i] of the dense (?, ldx) X, or row first + i
 * without idx. */
FM_KERNEL void FM_NAME(fm_csr_rows)(const T *X, ptrdiff_t ldx, const ptrdiff_t *idx,
                                    ptrdiff_t first, ptrdiff_t r0, ptrdiff_t r1,
                                    int32_t *cols, T *vals, ptrdiff_t *nnz)
{
    for (ptrdiff_t i = r0; i < r1; i++) {
        const T *x = X + (idx ? idx[i] : first + i) * ldx;
        int32_t *c = cols + i * ldx;
        T *v = vals + i * ldx;
        ptrdiff_t n = 0;
#if FM_SP_AVX512
        if (fm_sp_avx512()) {
            nnz[i] = FM_NAME(fm_compress_avx512)(x, ldx, c, v);
            continue;
        }
#endif
        for (ptrdiff_t k = 0; k < ldx; k++) {   /* branch-free compaction */
            c[n] = (int32_t)k;
            v[n] = x[k];
            n += x[k] != 0;
        }
        nnz[i] = n;
    }
}

/* Z[0:rows, c0:c1] = X @ W[:, c0:c1] for the minibatch's nonzeros X.
 * Column chunks outside, rows inside: a chunk's slab of W stays in cache
 * while every row reads it. */
FM_KERNEL void FM_NAME(fm_csr_matmul)(const fm_rows *x, const T *W, ptrdiff_t ldw,
                                      ptrdiff_t c0, ptrdiff_t c1, T *Z, ptrdiff_t ldz)
{
    const int32_t *cols = x->cols;
    const T *vals = (const T *)x->vals;
    const ptrdiff_t *start = x->start, *nnz = x->nnz, rows = x->rows;
    ptrdiff_t c = c0;
#if FM_SP_VECTOR
    /* chunks of 8 vectors, then at most one each of 4, 2 and 1 */
    for (; c + 8 * FM_VL <= c1; c += 8 * FM_VL)
        FM_SP_MATMUL_CHUNK(8);
    if (c + 4 * FM_VL <= c1) { FM_SP_MATMUL_CHUNK(4); c += 4 * FM_VL; }
    if (c + 2 * FM_VL <= c1) { FM_SP_MATMUL_CHUNK(2); c += 2 * FM_VL; }
    if (c + FM_VL <= c1) { FM_SP_MATMUL_CHUNK(1); c += FM_VL; }
    if (c < c1 && c1 - c0 >= FM_VL) {
        /* the last columns as one vector ending at c1: the columns it
         * shares with the previous chunk get the same sums again */
        c = c1 - FM_VL;
        FM_SP_MATMUL_CHUNK(1);
        c = c1;
    }
#endif
    if (c < c1) {
        const ptrdiff_t w = c1 - c;
        for (ptrdiff_t i = 0; i < rows; i++) {
            const int32_t *ci = cols + start[i];
            const T *vi = vals + start[i];
            T *z = Z + i * ldz + c;
            for (ptrdiff_t j = 0; j < w; j++) z[j] = 0;
            for (ptrdiff_t t = 0; t < nnz[i]; t++) {
                const T v = vi[t];
                const T *wr = W + (ptrdiff_t)ci[t] * ldw + c;
                for (ptrdiff_t j = 0; j < w; j++) z[j] += v * wr[j];
            }
        }
    }
}

/* Rows r0:r1 of the minibatch from the CSR matrix src: row i is row idx[i]
 * of src, or row first + i without idx; its entries go to start[i] of cols
 * and vals (the caller's prefix sums of the rows' lengths). */
FM_KERNEL void FM_NAME(fm_csr_gather)(const fm_csr *src, const ptrdiff_t *idx,
                                      ptrdiff_t first, ptrdiff_t r0, ptrdiff_t r1,
                                      int32_t *cols, T *vals, const ptrdiff_t *start)
{
    const T *data = (const T *)src->data;
    for (ptrdiff_t i = r0; i < r1; i++) {
        const ptrdiff_t r = idx ? idx[i] : first + i;
        const ptrdiff_t b = src->indptr[r], n = src->indptr[r + 1] - b;
        memcpy(cols + start[i], src->indices + b, (size_t)n * sizeof(int32_t));
        memcpy(vals + start[i], data + b, (size_t)n * sizeof(T));
    }
}

/* First nonzero of a row at column >= k (columns sorted). */
static inline ptrdiff_t FM_NAME(fm_sp_lower)(const int32_t *ci, ptrdiff_t n, ptrdiff_t k)
{
    ptrdiff_t lo = 0, hi = n;
    while (lo < hi) {
        const ptrdiff_t mid = lo + (hi - lo) / 2;
        if (ci[mid] < k) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* dW[k0:k1, :] (= or +=, `accumulate`) X[:, k0:k1]^T @ D for the
 * minibatch's nonzeros X and the (rows, n_out) delta D.  The features'
 * columns are listed first (a counting sort into s: room for k1 - k0 + 1
 * list ends, and for the batch's nonzeros in features k0:k1); each row of
 * dW is then a sum of rows of D held in registers, the rows of D taken in
 * tiles that stay in L1. */
FM_KERNEL void FM_NAME(fm_csc_wgrad)(const fm_rows *x, ptrdiff_t k0, ptrdiff_t k1,
                                     const T *D, ptrdiff_t n_out, T *dW,
                                     int accumulate, const fm_lists *s)
{
    const int32_t *cols = x->cols;
    const T *vals = (const T *)x->vals;
    const ptrdiff_t *start = x->start, *nnz = x->nnz, rows = x->rows;
    ptrdiff_t *colptr = s->colptr;
    int32_t *rowidx = s->rowidx;
    T *cvals = (T *)s->cvals;
    const ptrdiff_t nk = k1 - k0;
    if (nk <= 0)
        return;
    memset(colptr, 0, (size_t)(nk + 1) * sizeof(ptrdiff_t));
    for (ptrdiff_t i = 0; i < rows; i++) {
        const int32_t *ci = cols + start[i];
        for (ptrdiff_t t = FM_NAME(fm_sp_lower)(ci, nnz[i], k0);
             t < nnz[i] && ci[t] < k1; t++)
            colptr[ci[t] - k0 + 1]++;
    }
    for (ptrdiff_t k = 0; k < nk; k++) colptr[k + 1] += colptr[k];
    for (ptrdiff_t i = 0; i < rows; i++) {
        const int32_t *ci = cols + start[i];
        const T *vi = vals + start[i];
        for (ptrdiff_t t = FM_NAME(fm_sp_lower)(ci, nnz[i], k0);
             t < nnz[i] && ci[t] < k1; t++) {
            const ptrdiff_t p = colptr[ci[t] - k0]++;
            rowidx[p] = (int32_t)i;
            cvals[p] = vi[t];
        }
    }
    /* colptr[k] is now the end of feature k0 + k's list.  The column loop
     * is fm_csr_matmul's; one function for both (an inlined one, with
     * list starts as an array or a stride) made this product 3-7 % slower
     * (C harness, 784 x 256 and 784 x 100), so each kernel keeps its own. */
    ptrdiff_t c = 0;
#if FM_SP_VECTOR
    for (; c + 8 * FM_VL <= n_out; c += 8 * FM_VL)
        FM_SP_WGRAD_CHUNK(8);
    if (c + 4 * FM_VL <= n_out) { FM_SP_WGRAD_CHUNK(4); c += 4 * FM_VL; }
    if (c + 2 * FM_VL <= n_out) { FM_SP_WGRAD_CHUNK(2); c += 2 * FM_VL; }
    if (c + FM_VL <= n_out) { FM_SP_WGRAD_CHUNK(1); c += FM_VL; }
    if (c < n_out && n_out >= FM_VL && !accumulate) {
        /* as in fm_csr_matmul (adding would count the shared columns twice) */
        c = n_out - FM_VL;
        FM_SP_WGRAD_CHUNK(1);
        c = n_out;
    }
#endif
    if (c < n_out) {
        const ptrdiff_t w = n_out - c;
        for (ptrdiff_t k = 0; k < nk; k++) {
            T *dw = dW + (k0 + k) * n_out + c;
            if (!accumulate)
                for (ptrdiff_t j = 0; j < w; j++) dw[j] = 0;
            for (ptrdiff_t p = k ? colptr[k - 1] : 0; p < colptr[k]; p++) {
                const T v = cvals[p];
                const T *d = D + (ptrdiff_t)rowidx[p] * n_out + c;
                for (ptrdiff_t j = 0; j < w; j++) dw[j] += v * d[j];
            }
        }
    }
}

#undef FM_VT
#undef FM_VL
#undef FM_SP_MATMUL_CHUNK
#undef FM_SP_LIST_SUMS
#undef FM_SP_TILE_BYTES
#undef FM_SP_BLOCK
#undef FM_SP_WGRAD_CHUNK
