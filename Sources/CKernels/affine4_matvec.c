// The 4-bit affine matrix-vector product and the bfloat16 one (decode-time linear layers).
// See CKernels.h for the contract. FMA is used on purpose here (not in the quantizers, whose
// bytes must equal their references'): the order of every sum is still fixed.
#include "CKernels.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define CK_X86 1
#define CK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))
#endif

static int forced_portable = 0;

void ck_force_portable(int force) { forced_portable = force != 0; }

int ck_vector_level(void) {
    if (forced_portable) return 0;
#ifdef CK_X86
    static int level = -1;
    if (level < 0) {
        __builtin_cpu_init();
        level = (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("f16c") && __builtin_cpu_supports("fma"))
                    ? 2
                    : 0;
    }
    return level;
#else
    return 0;
#endif
}

// IEEE half to float, exactly (subnormals, infinities, NaN payloads kept and quieted).
static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, em = h & 0x7fff, bits;
    if (em >= 0x7c00) {
        bits = sign | 0x7f800000 | ((em & 0x3ff) << 13) | (em > 0x7c00 ? 0x00400000 : 0);
    } else {
        float f;
        uint32_t u = em << 13;
        memcpy(&f, &u, 4);
        f *= 0x1p112f;  // rebias the exponent: exact, subnormals included
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float r;
    memcpy(&r, &bits, 4);
    return r;
}

static float scale_at(const void *p, ck_scale_type t, size_t i) {
    switch (t) {
    case CK_SCALES_F16: {
        uint16_t h;
        memcpy(&h, (const uint8_t *)p + 2 * i, 2);
        return half_to_float(h);
    }
    case CK_SCALES_BF16: {
        uint16_t h;
        memcpy(&h, (const uint8_t *)p + 2 * i, 2);
        uint32_t u = (uint32_t)h << 16;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    default: {
        float f;
        memcpy(&f, (const uint8_t *)p + 4 * i, 4);
        return f;
    }
    }
}

static float bias_term(const void *biases, ck_scale_type t, size_t first, size_t groups,
                       const float *sums) {
    float s = 0;
    for (size_t g = 0; g < groups; g++) s += scale_at(biases, t, first + g) * sums[g];
    return s;
}

static void affine4_portable(const uint8_t *packed, size_t row_bytes, const void *scales,
                             const void *biases, ck_scale_type t, size_t groups,
                             size_t group_size, const float *xs, const float *sums, size_t r0,
                             size_t r1, float *out) {
    size_t chunks = group_size / 32;
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *p = packed + r * row_bytes;
        const float *x = xs;
        float acc = 0;
        for (size_t g = 0; g < groups; g++) {
            float a = 0;
            for (size_t c = 0; c < chunks; c++) {
                for (int j = 0; j < 16; j++) a += (float)(p[j] & 0xF) * x[j];
                for (int j = 0; j < 16; j++) a += (float)(p[j] >> 4) * x[16 + j];
                p += 16;
                x += 32;
            }
            acc += a * scale_at(scales, t, r * groups + g);
        }
        out[r] = acc + bias_term(biases, t, r * groups, groups, sums);
    }
}

#ifdef CK_X86
CK_AVX512 static inline __m512 load_scales16(const void *p, ck_scale_type t, size_t i) {
    switch (t) {
    case CK_SCALES_F16:
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint8_t *)p + 2 * i)));
    case CK_SCALES_BF16:
        return _mm512_castsi512_ps(_mm512_slli_epi32(
            _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint8_t *)p + 2 * i))),
            16));
    default:
        return _mm512_loadu_ps((const float *)((const uint8_t *)p + 4 * i));
    }
}

CK_AVX512 static void affine4_avx512(const uint8_t *packed, size_t row_bytes, const void *scales,
                                     const void *biases, ck_scale_type t, size_t groups,
                                     size_t group_size, const float *xs, const float *sums,
                                     size_t r0, size_t r1, float *out) {
    const __m512i m = _mm512_set1_epi32(0xF);
    const size_t chunks = group_size / 32;
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *p = packed + r * row_bytes;
        const float *x = xs;
        const size_t first = r * groups;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
        for (size_t g = 0; g < groups; g++) {
            // Four independent accumulators per group (two chunks a step): the FMA latency
            // is hidden, and the loop runs at the speed of loads and conversions.
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
            __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
            size_t c = 0;
            for (; c + 2 <= chunks; c += 2) {
                __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
                __m512i w = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(p + 16)));
                a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(v, m)), _mm512_loadu_ps(x), a0);
                a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4)), _mm512_loadu_ps(x + 16), a1);
                a2 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(w, m)), _mm512_loadu_ps(x + 32), a2);
                a3 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(w, 4)), _mm512_loadu_ps(x + 48), a3);
                p += 32;
                x += 64;
            }
            if (c < chunks) {
                __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
                a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_and_si512(v, m)), _mm512_loadu_ps(x), a0);
                a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4)), _mm512_loadu_ps(x + 16), a1);
                p += 16;
                x += 32;
            }
            __m512 s = _mm512_set1_ps(scale_at(scales, t, first + g));
            __m512 sum = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
            if (g & 1)
                acc1 = _mm512_fmadd_ps(sum, s, acc1);
            else
                acc0 = _mm512_fmadd_ps(sum, s, acc0);
        }
        // Σ bias·Σx, 16 groups a step, then the tail in order.
        __m512 b = _mm512_setzero_ps();
        size_t g = 0;
        for (; g + 16 <= groups; g += 16)
            b = _mm512_fmadd_ps(load_scales16(biases, t, first + g), _mm512_loadu_ps(sums + g), b);
        float tail = 0;
        for (; g < groups; g++) tail += scale_at(biases, t, first + g) * sums[g];
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + (_mm512_reduce_add_ps(b) + tail);
    }
}

CK_AVX512 static void bf16_avx512(const void *w, size_t columns, const float *x, size_t r0,
                                  size_t r1, float *out) {
    for (size_t r = r0; r < r1; r++) {
        const uint8_t *p = (const uint8_t *)w + 2 * r * columns;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        size_t i = 0;
        for (; i + 64 <= columns; i += 64) {
            __m512i v0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p + 2 * (i))));
            __m512i v1 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p + 2 * (i + 16))));
            __m512i v2 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p + 2 * (i + 32))));
            __m512i v3 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p + 2 * (i + 48))));
            a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), _mm512_loadu_ps(x + i), a0);
            a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), _mm512_loadu_ps(x + i + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v2, 16)), _mm512_loadu_ps(x + i + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v3, 16)), _mm512_loadu_ps(x + i + 48), a3);
        }
        for (; i + 16 <= columns; i += 16) {
            __m512i v0 = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p + 2 * (i))));
            a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), _mm512_loadu_ps(x + i), a0);
        }
        float tail = 0;
        for (; i < columns; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            uint32_t u = (uint32_t)h << 16;
            float f;
            memcpy(&f, &u, 4);
            tail += f * x[i];
        }
        out[r] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) + tail;
    }
}
#endif

void ck_affine4_matvec(const uint8_t *packed, size_t packed_row_bytes, const void *scales,
                       const void *biases, ck_scale_type scale_type, size_t groups,
                       size_t group_size, const float *xs, const float *sums, size_t row_begin,
                       size_t row_end, float *out) {
#ifdef CK_X86
    if (ck_vector_level() >= 2) {
        affine4_avx512(packed, packed_row_bytes, scales, biases, scale_type, groups, group_size,
                       xs, sums, row_begin, row_end, out);
        return;
    }
#endif
    affine4_portable(packed, packed_row_bytes, scales, biases, scale_type, groups, group_size, xs,
                     sums, row_begin, row_end, out);
}

void ck_bf16_matvec(const void *w, size_t columns, const float *x, size_t row_begin,
                    size_t row_end, float *out) {
#ifdef CK_X86
    if (ck_vector_level() >= 2) {
        bf16_avx512(w, columns, x, row_begin, row_end, out);
        return;
    }
#endif
    for (size_t r = row_begin; r < row_end; r++) {
        const uint8_t *p = (const uint8_t *)w + 2 * r * columns;
        float s = 0;
        for (size_t i = 0; i < columns; i++) {
            uint32_t u = ((uint32_t)p[2 * i] | (uint32_t)p[2 * i + 1] << 8) << 16;
            float f;
            memcpy(&f, &u, 4);
            s += f * x[i];
        }
        out[r] = s;
    }
}
