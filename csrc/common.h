/* What every kernel file of fastmlp shares: the dispatch attribute, the
 * name-pasting macros of the float/double templates, and the counter-based
 * random numbers.
 *
 * The kernels work on a block of rows or elements that the Cython engine
 * hands to one thread: nothing here starts threads.  Each *_impl.h is a
 * template, included by its .c file once per floating type with T (float
 * or double), S (f or d) and the type's math functions defined by
 * type_float.h / type_double.h; FM_NAME(fm_x) is then fm_x_f or fm_x_d.
 */
#ifndef FASTMLP_COMMON_H
#define FASTMLP_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Each exported kernel is compiled for the portable x86-64 baseline, for
 * AVX2+FMA (x86-64-v3) and for AVX-512 (x86-64-v4); the loader picks the
 * best the CPU has (GNU ifunc).  The wheel stays portable, the loops run at
 * the machine's vector width.  FASTMLP_NO_CLONES builds the baseline only
 * (AddressSanitizer builds, and tests of the portable paths). */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) \
    && !defined(FASTMLP_NO_CLONES)
#define FM_KERNEL \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FM_KERNEL
#endif

#define FM_CAT_(a, b) a##_##b
#define FM_CAT(a, b) FM_CAT_(a, b)
/* fm_x_f or fm_x_d inside a template */
#define FM_NAME(base) FM_CAT(base, S)

/* A minibatch's rows as their nonzeros: row i's columns (sorted) and
 * values (of the kernel's type) at offset start[i] of cols and vals, nnz[i]
 * of them; n_features columns in all. */
typedef struct {
    const int32_t *cols;
    const void *vals;
    const ptrdiff_t *start;
    const ptrdiff_t *nnz;
    ptrdiff_t rows;
    ptrdiff_t n_features;
} fm_rows;

/* A part of the features' lists for the weight gradient (fm_csc_wgrad):
 * list ends, and the rows and values of the part's nonzeros. */
typedef struct {
    ptrdiff_t *colptr;
    int32_t *rowidx;
    void *cvals;
} fm_lists;

/* A CSR matrix: row r's columns and values at indptr[r]:indptr[r + 1]. */
typedef struct {
    const int32_t *indices;
    const void *data;
    const ptrdiff_t *indptr;
} fm_csr;

/* Non-zero: the kernels that pick a path by the CPU at run time take their
 * portable one (tests of those paths on machines that have the fast one). */
extern int fm_force_portable;

/* Counter-based random numbers: the bits for element `index` of a batch
 * depend only on (key, index), never on which thread draws them. */
static inline uint32_t fm_mix32(uint32_t x)
{
    /* "lowbias32" integer hash (C. Wellons): full avalanche in 2 rounds. */
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* 32 random bits for element `index` (< 2^32) of the stream keyed by key:
 * 32-bit arithmetic only, so that loops over index vectorise. */
static inline uint32_t fm_random_bits(uint64_t key, uint32_t index)
{
    return fm_mix32(fm_mix32(index ^ (uint32_t)key) ^ (uint32_t)(key >> 32));
}

/* The key of one batch's random numbers: SplitMix64 over (seed, epoch,
 * batch, stream). */
uint64_t fm_batch_key(uint64_t seed, uint64_t epoch, uint64_t batch, uint64_t stream);

/* Mixup's lambda ~ Beta(alpha, alpha) and row permutation of one minibatch
 * (regularization.c). */
double fm_mixup_draw(uint64_t key, double alpha, ptrdiff_t rows, ptrdiff_t *perm);

#endif
