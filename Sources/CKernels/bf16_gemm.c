// The BF16 matrix product of a prefill: C[m×n] = bf16(A)[m×k] · W[n×k]ᵀ with W bfloat16 as
// stored (row-major, read in place) and A rounded to bfloat16 (round to nearest even), as
// torch and MLX compute a bfloat16 model's linear layers. Products of two bfloat16 are exact
// in float32 and summed in float32 by AVX-512 BF16's VDPBF16PS (two products per lane per
// instruction, twice the multiply-adds of an FMA). See CKernels.h for the contract.
#include "CKernels.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define CK_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,fma")))

static int bf16_supported = -1;

int ck_bf16_gemm_available(void) {
    if (ck_vector_level() < 2) return 0;
    if (bf16_supported < 0) {
        __builtin_cpu_init();
        bf16_supported = __builtin_cpu_supports("avx512bf16") ? 1 : 0;
    }
    return bf16_supported;
}

// Rows of A (tokens) per tile: one zmm of 16 lanes, two of them per micro-kernel step.
enum { TOKENS = 32, OUTPUTS = 12 };

size_t ck_bf16_gemm_packed_size(size_t m, size_t k) {
    size_t tiles = (m + TOKENS - 1) / TOKENS, pairs = (k + 1) / 2;
    return tiles * pairs * TOKENS;
}

// Packs A (m×k floats, row stride lda) as bfloat16 pairs, tile by tile of 32 tokens:
// packed[tile][pair][token] = bf16(A[t][2p]) | bf16(A[t][2p+1]) << 16. Rows past m and the
// odd column past k are zero.
CK_BF16 void ck_bf16_gemm_pack(const float *a, size_t lda, size_t m, size_t k, uint32_t *packed) {
    const size_t pairs = (k + 1) / 2;
    // Every pair of rows < m is written below; only the last tile's padding rows are zeroed.
    if (m % TOKENS != 0) {
        uint32_t *last = packed + (m / TOKENS) * pairs * TOKENS;
        for (size_t p = 0; p < pairs; p++)
            memset(last + p * TOKENS + m % TOKENS, 0, (TOKENS - m % TOKENS) * sizeof(uint32_t));
    }
    const __m512i lane = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                            _mm512_set1_epi32(TOKENS));
    for (size_t t = 0; t < m; t++) {
        uint32_t *base = packed + (t / TOKENS) * pairs * TOKENS + (t % TOKENS);
        const float *row = a + t * lda;
        size_t c = 0;
        for (; c + 32 <= k; c += 32) {
            __m512 lo = _mm512_loadu_ps(row + c), hi = _mm512_loadu_ps(row + c + 16);
            // cvtne2ps_pbh(hi, lo): lanes 0-15 of the result are lo's, 16-31 hi's, so the 16
            // dwords are the pairs c/2 ... c/2+15 in order.
            __m512i pr = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
            _mm512_i32scatter_epi32(base + (c / 2) * TOKENS, lane, pr, 4);
        }
        for (; c < k; c += 2) {
            float x0 = row[c], x1 = c + 1 < k ? row[c + 1] : 0.0f;
            __m512bh v = _mm512_cvtne2ps_pbh(_mm512_set1_ps(x1), _mm512_set1_ps(x0));
            uint16_t h[32];
            memcpy(h, &v, 64);
            base[(c / 2) * TOKENS] = (uint32_t)h[0] | (uint32_t)h[16] << 16;
        }
    }
}

// One broadcast pair of W row `r` at pair p.
#define WPAIR(r, p) _mm512_set1_epi32((int)load_u32(w##r + 4 * (p)))

static inline uint32_t load_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

// C[t0 + i][j0 + r] for r < nr, i < mt, from acc lanes (acc[r][h] holds tokens 16h ... 16h+15).
CK_BF16 static void store_tile(__m512 acc[OUTPUTS][2], size_t nr, size_t mt, float *c, size_t ldc) {
    float tmp[OUTPUTS][TOKENS];
    for (size_t r = 0; r < nr; r++) {
        _mm512_storeu_ps(tmp[r], acc[r][0]);
        _mm512_storeu_ps(tmp[r] + 16, acc[r][1]);
    }
    for (size_t i = 0; i < mt; i++)
        for (size_t r = 0; r < nr; r++) c[i * ldc + r] = tmp[r][i];
}

// 12 rows of W × one tile of 32 tokens, over all k: 24 accumulators, per pair 2 loads of A,
// 12 broadcasts of W, 24 VDPBF16PS.
CK_BF16 static void kernel12(const uint8_t *w0, size_t wstride, const uint32_t *ap, size_t k, size_t mt, float *c, size_t ldc) {
    const uint8_t *w1 = w0 + wstride, *w2 = w1 + wstride, *w3 = w2 + wstride, *w4 = w3 + wstride,
                  *w5 = w4 + wstride, *w6 = w5 + wstride, *w7 = w6 + wstride, *w8 = w7 + wstride,
                  *w9 = w8 + wstride, *w10 = w9 + wstride, *w11 = w10 + wstride;
    __m512 acc[OUTPUTS][2];
    for (int r = 0; r < OUTPUTS; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    // Whole pairs of W (an odd k's last column is handled after: W has no byte past it).
    const size_t full = k / 2;
    for (size_t p = 0; p < full; p++) {
        __m512bh a0 = (__m512bh)_mm512_loadu_si512(ap + p * TOKENS);
        __m512bh a1 = (__m512bh)_mm512_loadu_si512(ap + p * TOKENS + 16);
#define STEP(r)                                                                                  \
    {                                                                                            \
        __m512bh b = (__m512bh)WPAIR(r, p);                                                      \
        acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a0, b);                                          \
        acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a1, b);                                          \
    }
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) STEP(11)
#undef STEP
    }
    if (k & 1) {
        const uint8_t *ws[OUTPUTS] = {w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11};
        __m512bh a0 = (__m512bh)_mm512_loadu_si512(ap + full * TOKENS);
        __m512bh a1 = (__m512bh)_mm512_loadu_si512(ap + full * TOKENS + 16);
        for (int r = 0; r < OUTPUTS; r++) {
            uint16_t h;
            memcpy(&h, ws[r] + 2 * (k - 1), 2);
            __m512bh b = (__m512bh)_mm512_set1_epi32(h);
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], a0, b);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], a1, b);
        }
    }
    store_tile(acc, OUTPUTS, mt, c, ldc);
}

// Fewer than 12 rows of W (the tail of a range): one row at a time.
CK_BF16 static void kernel_rows(const uint8_t *w, size_t wstride, size_t nr, const uint32_t *ap,
                                size_t k, size_t mt, float *c, size_t ldc) {
    __m512 acc[OUTPUTS][2];
    const size_t full = k / 2;
    for (size_t r = 0; r < nr; r++) {
        const uint8_t *wr = w + r * wstride;
        __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
        for (size_t p = 0; p < full; p++) {
            __m512bh b = (__m512bh)_mm512_set1_epi32((int)load_u32(wr + 4 * p));
            s0 = _mm512_dpbf16_ps(s0, (__m512bh)_mm512_loadu_si512(ap + p * TOKENS), b);
            s1 = _mm512_dpbf16_ps(s1, (__m512bh)_mm512_loadu_si512(ap + p * TOKENS + 16), b);
        }
        if (k & 1) {
            uint16_t h;
            memcpy(&h, wr + 2 * (k - 1), 2);
            __m512bh b = (__m512bh)_mm512_set1_epi32(h);
            s0 = _mm512_dpbf16_ps(s0, (__m512bh)_mm512_loadu_si512(ap + full * TOKENS), b);
            s1 = _mm512_dpbf16_ps(s1, (__m512bh)_mm512_loadu_si512(ap + full * TOKENS + 16), b);
        }
        acc[r][0] = s0;
        acc[r][1] = s1;
    }
    store_tile(acc, nr, mt, c, ldc);
}

CK_BF16 void ck_bf16_gemm(const uint32_t *packed, size_t m, size_t k, const void *w,
                          size_t row_begin, size_t row_end, float *c, size_t ldc) {
    const size_t pairs = (k + 1) / 2, tiles = (m + TOKENS - 1) / TOKENS;
    const uint8_t *wb = (const uint8_t *)w;
    const size_t wstride = 2 * k;
    // A block of 12 rows of W (12 × 2k bytes) is read from memory once and used against every
    // tile of A, which stays in L2 (m × k × 2 bytes).
    size_t j = row_begin;
    for (; j + OUTPUTS <= row_end; j += OUTPUTS)
        for (size_t t = 0; t < tiles; t++) {
            size_t mt = m - t * TOKENS < TOKENS ? m - t * TOKENS : TOKENS;
            kernel12(wb + j * wstride, wstride, packed + t * pairs * TOKENS, k, mt,
                     c + t * TOKENS * ldc + j, ldc);
        }
    if (j < row_end)
        for (size_t t = 0; t < tiles; t++) {
            size_t mt = m - t * TOKENS < TOKENS ? m - t * TOKENS : TOKENS;
            kernel_rows(wb + j * wstride, wstride, row_end - j, packed + t * pairs * TOKENS, k, mt,
                        c + t * TOKENS * ldc + j, ldc);
        }
}

#else

int ck_bf16_gemm_available(void) { return 0; }
size_t ck_bf16_gemm_packed_size(size_t m, size_t k) { (void)m; (void)k; return 0; }
void ck_bf16_gemm_pack(const float *a, size_t lda, size_t m, size_t k, uint32_t *packed) {
    (void)a; (void)lda; (void)m; (void)k; (void)packed;
}
void ck_bf16_gemm(const uint32_t *packed, size_t m, size_t k, const void *w, size_t row_begin,
                  size_t row_end, float *c, size_t ldc) {
    (void)packed; (void)m; (void)k; (void)w; (void)row_begin; (void)row_end; (void)c; (void)ldc;
}

#endif
