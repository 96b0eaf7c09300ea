// CRC-32 (the zlib/gzip polynomial, reflected) by carry-less multiplication: the bulk of a
// buffer is folded 64 bytes a step into four 128-bit lanes, the lanes are folded into one,
// and a Barrett reduction gives the 32-bit remainder (Gopal et al., "Fast CRC Computation
// for Generic Polynomials Using PCLMULQDQ Instruction", Intel 2009; the constants are
// x^n mod P(x) for the fold distances, in the bit-reflected domain, from that paper).
#include "CKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define CK_CLMUL __attribute__((target("pclmul,sse4.1")))

int ck_crc32_fold_available(void) {
    static int supported = -1;
    if (supported < 0) {
        __builtin_cpu_init();
        supported = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    }
    return supported;
}

// Multiplies both 64-bit halves of `x` by the fold constants in `k` and adds `next`: the
// 128 bits of `x` move 128·n bits further along the message, where `next` starts.
CK_CLMUL static inline __m128i fold(__m128i x, __m128i k, __m128i next) {
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

CK_CLMUL uint32_t ck_crc32_fold(uint32_t state, const uint8_t *buf, size_t len) {
    // Fold distances: 512 bits (four lanes), 128 bits (one lane), 64 and 32 bits at the end.
    const __m128i k512 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4);
    const __m128i k128 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0);
    const __m128i k64 = _mm_set_epi64x(0, 0x0163cd6124);
    const __m128i barrett = _mm_set_epi64x(0x01f7011641, 0x01db710641);
    const __m128i low32 = _mm_setr_epi32(~0, 0, ~0, 0);

    __m128i a = _mm_loadu_si128((const __m128i *)buf);
    __m128i b = _mm_loadu_si128((const __m128i *)(buf + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(buf + 32));
    __m128i d = _mm_loadu_si128((const __m128i *)(buf + 48));
    a = _mm_xor_si128(a, _mm_cvtsi32_si128((int)state));
    buf += 64;
    len -= 64;
    for (; len >= 64; buf += 64, len -= 64) {
        a = fold(a, k512, _mm_loadu_si128((const __m128i *)buf));
        b = fold(b, k512, _mm_loadu_si128((const __m128i *)(buf + 16)));
        c = fold(c, k512, _mm_loadu_si128((const __m128i *)(buf + 32)));
        d = fold(d, k512, _mm_loadu_si128((const __m128i *)(buf + 48)));
    }
    a = fold(a, k128, b);
    a = fold(a, k128, c);
    a = fold(a, k128, d);
    for (; len >= 16; buf += 16, len -= 16) a = fold(a, k128, _mm_loadu_si128((const __m128i *)buf));

    // 128 → 64 bits.
    __m128i t = _mm_clmulepi64_si128(a, k128, 0x10);
    a = _mm_xor_si128(_mm_srli_si128(a, 8), t);
    // 64 → 32 bits (times x^32).
    t = _mm_srli_si128(a, 4);
    a = _mm_clmulepi64_si128(_mm_and_si128(a, low32), k64, 0x00);
    a = _mm_xor_si128(a, t);
    // Barrett reduction modulo P(x).
    t = _mm_clmulepi64_si128(_mm_and_si128(a, low32), barrett, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), barrett, 0x00);
    a = _mm_xor_si128(a, t);
    return (uint32_t)_mm_extract_epi32(a, 1);
}

#else

int ck_crc32_fold_available(void) { return 0; }
uint32_t ck_crc32_fold(uint32_t state, const uint8_t *buf, size_t len) {
    (void)buf; (void)len;
    return state;
}

#endif
