/* fastmlp: the first layer's products for inputs that are mostly zeros
 * (see sparse_impl.h), for float and double. */
#include <stdint.h>
#include <string.h>
#include "kernels.h"

int fm_force_portable = 0;

/* Explicit vectors with GCC and Clang; plain loops elsewhere. */
#if defined(__GNUC__)
#define FM_SP_VECTOR 1
#else
#define FM_SP_VECTOR 0
#endif

/* Compaction of a row into its nonzeros with AVX-512's compress, when the
 * CPU has it (picked at run time): 16 floats or 8 doubles per step instead
 * of one.  Compressed in a register and stored whole, since a compress
 * straight to memory is microcoded and slow on AMD Zen 4; the full store
 * stays inside the row's room because n <= k.  Returns the count. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FM_SP_AVX512 1

static int fm_sp_avx512(void)
{
    static int has = -1;
    if (has < 0)
        has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
    return has && !fm_force_portable;
}

__attribute__((target("avx512f,avx512vl")))
static ptrdiff_t fm_compress_avx512_f(const float *x, ptrdiff_t m, int32_t *c, float *v)
{
    const __m512 zero = _mm512_setzero_ps();
    const __m512i step = _mm512_set1_epi32(16);
    __m512i idx = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    ptrdiff_t n = 0, k = 0;
    for (; k + 16 <= m; k += 16) {
        const __m512 xv = _mm512_loadu_ps(x + k);
        const __mmask16 nz = _mm512_cmp_ps_mask(xv, zero, _CMP_NEQ_UQ);
        _mm512_storeu_ps(v + n, _mm512_maskz_compress_ps(nz, xv));
        _mm512_storeu_si512((void *)(c + n), _mm512_maskz_compress_epi32(nz, idx));
        n += __builtin_popcount((unsigned)nz);
        idx = _mm512_add_epi32(idx, step);
    }
    for (; k < m; k++) {
        c[n] = (int32_t)k;
        v[n] = x[k];
        n += x[k] != 0;
    }
    return n;
}

__attribute__((target("avx512f,avx512vl")))
static ptrdiff_t fm_compress_avx512_d(const double *x, ptrdiff_t m, int32_t *c, double *v)
{
    const __m512d zero = _mm512_setzero_pd();
    const __m256i step = _mm256_set1_epi32(8);
    __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    ptrdiff_t n = 0, k = 0;
    for (; k + 8 <= m; k += 8) {
        const __m512d xv = _mm512_loadu_pd(x + k);
        const __mmask8 nz = _mm512_cmp_pd_mask(xv, zero, _CMP_NEQ_UQ);
        _mm512_storeu_pd(v + n, _mm512_maskz_compress_pd(nz, xv));
        _mm256_storeu_si256((__m256i *)(c + n), _mm256_maskz_compress_epi32(nz, idx));
        n += __builtin_popcount((unsigned)nz);
        idx = _mm256_add_epi32(idx, step);
    }
    for (; k < m; k++) {
        c[n] = (int32_t)k;
        v[n] = x[k];
        n += x[k] != 0;
    }
    return n;
}
#else
#define FM_SP_AVX512 0
#endif

#include "type_float.h"
#include "sparse_impl.h"
#include "type_end.h"

#include "type_double.h"
#include "sparse_impl.h"
#include "type_end.h"
