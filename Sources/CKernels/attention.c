// The two inner loops of scaled dot-product attention for one query row: the scores against
// every key, and the probability-weighted sum of the value rows. See CKernels.h.
#include "CKernels.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define CK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))

// Scores of four keys at once: four independent FMA chains over d, one horizontal sum each.
CK_AVX512 static float scores_avx512(const float *q, const float *k, size_t d, size_t keys,
                                     float scale, float *out) {
    float m = -__builtin_inff();
    size_t j = 0;
    for (; j + 4 <= keys; j += 4) {
        const float *k0 = k + j * d, *k1 = k0 + d, *k2 = k1 + d, *k3 = k2 + d;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
        for (size_t c = 0; c < d; c += 16) {
            __m512 qv = _mm512_loadu_ps(q + c);
            a0 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k0 + c), a0);
            a1 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k1 + c), a1);
            a2 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k2 + c), a2);
            a3 = _mm512_fmadd_ps(qv, _mm512_loadu_ps(k3 + c), a3);
        }
        float s0 = _mm512_reduce_add_ps(a0) * scale, s1 = _mm512_reduce_add_ps(a1) * scale;
        float s2 = _mm512_reduce_add_ps(a2) * scale, s3 = _mm512_reduce_add_ps(a3) * scale;
        out[j] = s0;
        out[j + 1] = s1;
        out[j + 2] = s2;
        out[j + 3] = s3;
        m = m > s0 ? m : s0;
        m = m > s1 ? m : s1;
        m = m > s2 ? m : s2;
        m = m > s3 ? m : s3;
    }
    for (; j < keys; j++) {
        const float *kr = k + j * d;
        __m512 a = _mm512_setzero_ps();
        for (size_t c = 0; c < d; c += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(q + c), _mm512_loadu_ps(kr + c), a);
        float s = _mm512_reduce_add_ps(a) * scale;
        out[j] = s;
        m = m > s ? m : s;
    }
    return m;
}

// Σ w_j·v_j with the output row in registers: NC chunks of 16, two sets (even and odd keys)
// so that each chain waits on every other key only.
#define MIX(NC)                                                                                   \
    CK_AVX512 static void mix##NC(const float *w, const float *v, size_t keys, float inv,         \
                                  float *out) {                                                   \
        __m512 e[NC], o[NC];                                                                      \
        for (int c = 0; c < NC; c++) e[c] = o[c] = _mm512_setzero_ps();                           \
        size_t j = 0;                                                                             \
        for (; j + 2 <= keys; j += 2) {                                                           \
            __m512 we = _mm512_set1_ps(w[j]), wo = _mm512_set1_ps(w[j + 1]);                      \
            const float *ve = v + j * (16 * NC), *vo = ve + 16 * NC;                              \
            for (int c = 0; c < NC; c++) {                                                        \
                e[c] = _mm512_fmadd_ps(we, _mm512_loadu_ps(ve + 16 * c), e[c]);                   \
                o[c] = _mm512_fmadd_ps(wo, _mm512_loadu_ps(vo + 16 * c), o[c]);                   \
            }                                                                                     \
        }                                                                                         \
        if (j < keys) {                                                                           \
            __m512 we = _mm512_set1_ps(w[j]);                                                     \
            const float *ve = v + j * (16 * NC);                                                  \
            for (int c = 0; c < NC; c++) e[c] = _mm512_fmadd_ps(we, _mm512_loadu_ps(ve + 16 * c), e[c]); \
        }                                                                                         \
        __m512 s = _mm512_set1_ps(inv);                                                           \
        for (int c = 0; c < NC; c++)                                                              \
            _mm512_storeu_ps(out + 16 * c, _mm512_mul_ps(_mm512_add_ps(e[c], o[c]), s));          \
    }
MIX(1)
MIX(2)
MIX(4)
MIX(8)
#endif

float ck_attention_scores(const float *q, const float *k, size_t d, size_t keys, float scale,
                          float *scores) {
#if defined(CK_AVX512)
    if (d % 16 == 0 && d > 0 && ck_vector_level() >= 2) return scores_avx512(q, k, d, keys, scale, scores);
#endif
    float m = -__builtin_inff();
    for (size_t j = 0; j < keys; j++) {
        const float *kr = k + j * d;
        float s = 0;
        for (size_t c = 0; c < d; c++) s += q[c] * kr[c];
        s *= scale;
        scores[j] = s;
        m = m > s ? m : s;
    }
    return m;
}

void ck_attention_mix(const float *w, const float *v, size_t d, size_t keys, float inv, float *out) {
#if defined(CK_AVX512)
    if (ck_vector_level() >= 2) {
        switch (d) {
        case 16: mix1(w, v, keys, inv, out); return;
        case 32: mix2(w, v, keys, inv, out); return;
        case 64: mix4(w, v, keys, inv, out); return;
        case 128: mix8(w, v, keys, inv, out); return;
        default: break;
        }
    }
#endif
    for (size_t c = 0; c < d; c++) out[c] = 0;
    for (size_t j = 0; j < keys; j++) {
        const float *vr = v + j * d;
        for (size_t c = 0; c < d; c++) out[c] += w[j] * vr[c];
    }
    for (size_t c = 0; c < d; c++) out[c] *= inv;
}
