// Hand-vectorized inner loops of the compute engine, with run-time dispatch on the CPU's
// vector extensions (AVX-512 on x86-64) and a portable C path everywhere else. Swift's SIMD
// types do not reliably compile the widening conversions these loops live on (they become
// out-of-line calls), so the few loops where that decides the speed are written here.
#ifndef CKPT_CKERNELS_H
#define CKPT_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Storage of an affine weight's scales and biases.
typedef enum { CK_SCALES_F32 = 0, CK_SCALES_F16 = 1, CK_SCALES_BF16 = 2 } ck_scale_type;

/// Which path the kernels take on this CPU: 0 portable C, 2 AVX-512 (F, BW, VL, F16C, FMA).
int ck_vector_level(void);

/// Forces the portable path (`force` non-zero) or returns to dispatch by CPU (tests compare
/// the two paths).
void ck_force_portable(int force);

/// out[r] = Σ_g scale[r,g] · Σ_{i∈g} q[r,i] · x[i] + bias[r,g] · sums[g], for rows
/// row_begin ..< row_end of a 4-bit MLX affine matrix (codes LSB-first, `packed_row_bytes`
/// per row, `group_size` a multiple of 32). `xs` is x reordered per 32 codes (the 16 inputs
/// of the low nibbles of 16 bytes, then the 16 of the high ones); `sums` is Σx per group.
/// Every sum has a fixed order: results do not depend on how rows are split among threads.
void ck_affine4_matvec(const uint8_t *packed, size_t packed_row_bytes, const void *scales,
                       const void *biases, ck_scale_type scale_type, size_t groups,
                       size_t group_size, const float *xs, const float *sums, size_t row_begin,
                       size_t row_end, float *out);

/// out[r] = Σ_i w[r,i] · x[i] for rows row_begin ..< row_end of a dense bfloat16 matrix
/// (`columns` per row, little-endian), widened exactly to float32 in registers.
void ck_bf16_matvec(const void *w, size_t columns, const float *x, size_t row_begin,
                    size_t row_end, float *out);

/// Whether `ck_bf16_gemm` can run here (AVX-512 BF16); callers use another path when not.
int ck_bf16_gemm_available(void);

/// uint32 words `ck_bf16_gemm_pack` writes for an m×k A.
size_t ck_bf16_gemm_packed_size(size_t m, size_t k);

/// A (m×k floats, row stride `lda`) rounded to bfloat16 (to nearest even) and laid out for
/// `ck_bf16_gemm` in `packed` (`ck_bf16_gemm_packed_size(m, k)` words).
void ck_bf16_gemm_pack(const float *a, size_t lda, size_t m, size_t k, uint32_t *packed);

/// C[i][j] = Σ_c bf16(A)[i][c] · W[j][c] for every row i < m of A and the rows
/// row_begin ≤ j < row_end of W (bfloat16, row-major, k per row, read in place), written at
/// c[i * ldc + j]. Exact products, float32 sums in a fixed order (threads may split the rows
/// of W without changing any result). Only where `ck_bf16_gemm_available()`.
void ck_bf16_gemm(const uint32_t *packed, size_t m, size_t k, const void *w, size_t row_begin,
                  size_t row_end, float *c, size_t ldc);

/// Whether `ck_crc32_fold` can run here (PCLMULQDQ).
int ck_crc32_fold_available(void);

/// The running CRC-32 state (zlib's polynomial; the state is the CRC with its bits inverted,
/// as zlib keeps it inside `crc32`) after `len` more bytes: `len` ≥ 64 and a multiple of 16.
/// zlib's `crc32(crc, buf, len)` equals `~ck_crc32_fold(~crc, buf, len)`.
uint32_t ck_crc32_fold(uint32_t state, const uint8_t *buf, size_t len);

/// Runs `fn(ctx, i)` for every i < `tasks`, on at most `threads` threads (the calling one and
/// pool workers), and returns when all are done. Tasks are taken in index order from a shared
/// counter; a nested call, or a call while another job runs, runs its tasks on the calling
/// thread. Workers spin briefly between jobs (back-to-back kernels find them awake), then
/// sleep.
void ck_pool_run(size_t tasks, int threads, void (*fn)(void *, size_t), void *ctx);

/// Worker threads of the pool (online processors − 1), started on first use.
int ck_pool_workers(void);

/// scores[j] = scale · (q · k_j) for the `keys` rows k_j of `d` floats at `k`; returns the
/// largest score (-inf for none). One query row of attention.
float ck_attention_scores(const float *q, const float *k, size_t d, size_t keys, float scale,
                          float *scores);

/// out[c] = inv · Σ_j w[j] · v_j[c] for the `keys` rows v_j of `d` floats at `v`.
void ck_attention_mix(const float *w, const float *v, size_t d, size_t keys, float inv, float *out);

/// Reserves `size` bytes of disk for the file open on `fd` without changing its size
/// (Linux `fallocate` with FALLOC_FL_KEEP_SIZE). Returns 0, or the errno (ENOSPC when the
/// disk is too small, EOPNOTSUPP where the file system or platform has no such call).
int ck_reserve_file(int fd, int64_t size);

#ifdef __cplusplus
}
#endif

#endif
