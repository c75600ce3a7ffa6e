// kernels.cpp: the fused linear op (see kernels.h) for x86-64 with AVX-512.
//
// Compiled for the baseline ISA; the kernels carry target attributes and run
// only after cpu_supported() said yes, so one libdino serves every x86-64 CPU.
#include "kernels.h"

#include <algorithm>
#include <type_traits>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DINO_HAVE_AVX512 1
#include <immintrin.h>
#if !defined(__clang__)
// GCC 12's AVX-512 headers trip these on their own _mm512_undefined_* helpers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define DINO_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
#define DINO_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#else
#define DINO_HAVE_AVX512 0
#endif

namespace dino::kernels {

namespace {

constexpr int64_t kTile = 16;   // output columns per 512-bit register
constexpr int64_t kBlock = 32;  // q8_0 / q4_0 block along K
constexpr int kRowsQ8 = 4;      // rows per microkernel call (int8): 4 x 2 tiles of int32 + f32 accumulators
constexpr int kRowsF = 6;       // rows per microkernel call (float): 6 x 2 tiles of accumulators

// Scratch for one thread's panel of rows; grows to the largest K seen.
struct panel {
    std::vector<float> normed;   // LayerNorm output, kRowsF rows
    std::vector<uint8_t> quant;  // q8_0 values + 128, kRowsQ8 rows
    std::vector<float> scales;   // their scales, kRowsQ8 rows x K/32
    std::vector<int32_t> sums;   // their sums (of q + 128) per block, for q4 weights
    std::vector<float> keys;     // attention: one head's keys, transposed in tiles of 16
    std::vector<float> scores;   // attention: kRowsF rows of scores / probabilities
};
thread_local panel scratch;

}  // namespace

packed_linear::~packed_linear() { std::free(data); }

bool cpu_supported(bool int8) {
#if DINO_HAVE_AVX512
    // A switch for comparing against ggml's own kernels (bench, bug reports).
    if (const char * k = std::getenv("DINO_KERNELS"); k && std::strcmp(k, "ggml") == 0) return false;
    __builtin_cpu_init();
    const bool base = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    return base && (!int8 || __builtin_cpu_supports("avx512vnni"));
#else
    (void) int8;
    return false;
#endif
}

bool can_pack(ggml_type type, int64_t K, int64_t N) {
    const bool int8 = type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0;
    if (!int8 && type != GGML_TYPE_F32 && type != GGML_TYPE_F16) return false;
    if (K <= 0 || N <= 0 || N % kTile != 0 || (int8 && K % kBlock != 0)) return false;
    return cpu_supported(int8);
}

std::unique_ptr<packed_linear> pack(const ggml_tensor * w) {
    const int64_t K = w->ne[0], N = w->ne[1];
    if (ggml_n_dims(w) != 2 || !ggml_is_contiguous(w) || !can_pack(w->type, K, N)) return nullptr;
    const bool int8 = w->type == GGML_TYPE_Q8_0 || w->type == GGML_TYPE_Q4_0;

    auto p = std::make_unique<packed_linear>();
    p->n = N;
    p->k = K;
    const int64_t KB = K / kBlock;
    if (int8) {
        const bool q4 = w->type == GGML_TYPE_Q4_0;
        p->fmt = q4 ? packed_linear::format::q4 : packed_linear::format::q8;
        const size_t values = size_t(N * K) / (q4 ? 2 : 1), per_block = size_t(N * KB) * 4;
        p->bytes = values + 2 * per_block;
        p->data = std::aligned_alloc(64, p->bytes);
        if (!p->data) return nullptr;
        std::memset(p->data, 0, values);
        p->scales = reinterpret_cast<float *>(static_cast<uint8_t *>(p->data) + values);
        p->corrections = reinterpret_cast<int32_t *>(static_cast<uint8_t *>(p->data) + values + per_block);
        uint8_t * qs = static_cast<uint8_t *>(p->data);
        const size_t row_bytes = ggml_row_size(w->type, K);
        for (int64_t n = 0; n < N; ++n) {
            const uint8_t * row = static_cast<const uint8_t *>(w->data) + size_t(n) * row_bytes;
            const int64_t t = n / kTile, c = n % kTile;
            for (int64_t b = 0; b < KB; ++b) {
                // Both formats: an f16 scale, then the block's values.
                int8_t q[kBlock];
                ggml_fp16_t d16;
                if (!q4) {
                    const uint8_t * blk = row + b * (2 + kBlock);
                    std::memcpy(&d16, blk, 2);
                    std::memcpy(q, blk + 2, kBlock);
                } else {  // q4_0: low nibbles are values 0..15, high nibbles 16..31, offset 8
                    const uint8_t * blk = row + b * (2 + kBlock / 2);
                    std::memcpy(&d16, blk, 2);
                    for (int j = 0; j < kBlock / 2; ++j) {
                        q[j] = int8_t((blk[2 + j] & 0x0F) - 8);
                        q[j + kBlock / 2] = int8_t((blk[2 + j] >> 4) - 8);
                    }
                }
                const int64_t base = t * KB + b;
                int32_t sum = 0;
                for (int j = 0; j < kBlock; ++j) {
                    const int g = j / 4;
                    const int64_t at = c * 4 + j % 4;  // byte within the group's 64
                    if (!q4) qs[(base * 8 + g) * 64 + at] = uint8_t(q[j]);
                    else qs[(base * 4 + g / 2) * 64 + at] |= uint8_t((q[j] + 8) << (g % 2 ? 4 : 0));
                    sum += q[j];
                }
                p->scales[base * kTile + c] = ggml_fp16_to_fp32(d16);
                p->corrections[base * kTile + c] = -128 * sum;
            }
        }
    } else {
        const bool f16 = w->type == GGML_TYPE_F16;
        p->fmt = f16 ? packed_linear::format::f16 : packed_linear::format::f32;
        const size_t elem = f16 ? 2 : 4;
        p->bytes = size_t(N * K) * elem;
        p->data = std::aligned_alloc(64, p->bytes);
        if (!p->data) return nullptr;
        for (int64_t n = 0; n < N; ++n) {
            const uint8_t * row = static_cast<const uint8_t *>(w->data) + size_t(n * K) * elem;
            uint8_t * dst = static_cast<uint8_t *>(p->data) + size_t((n / kTile) * K * kTile + n % kTile) * elem;
            for (int64_t k = 0; k < K; ++k) std::memcpy(dst + size_t(k * kTile) * elem, row + size_t(k) * elem, elem);
        }
    }
    return p;
}

#if DINO_HAVE_AVX512
namespace {

// ---- elementwise -------------------------------------------------------------

// e^y for y <= 88: y = n ln2 + r, |r| <= ln2/2, e^r by its Taylor series to r^7
// (relative error < 6e-9), then scaled by 2^n.
DINO_AVX512 inline __m512 exp16(__m512 y) {
    y = _mm512_max_ps(y, _mm512_set1_ps(-104.0f));  // e^-104 is below the smallest float
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(y, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), y);  // ln2 in two parts (Cody-Waite)
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187045e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    for (float c : {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f}) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    return _mm512_scalef_ps(p, n);
}

// ref: nn.GELU() (approximate="none"): x * Phi(x) = 0.5 x erfc(-x / sqrt 2).
// erfc(z) for z >= 0 as t exp(-z^2 + P(t - 7/12)), t = 1 / (1 + z/2), P of
// degree 10 fitted by us (Chebyshev least squares in double against
// math.erfc for z in [0, 10]; relative error 7e-9 before float rounding); 0 beyond.  For x < 0 this
// is 0.5 x erfc(|x|/sqrt 2); for x >= 0, x (1 - 0.5 erfc(x/sqrt 2)): no
// cancellation either side.
DINO_AVX512 inline __m512 gelu16(__m512 x) {
    static const float P[] = {-1.449133057e-01f, 1.449302137e-01f, 1.429528443e-01f, -2.450646211e-01f,
                              -5.273699846e-02f, 2.952124327e-01f, -3.468890057e-02f, -4.073979367e-01f,
                              9.069162666e-02f, 1.368737047e+00f, -5.585953537e-01f};
    const __m512 z = _mm512_min_ps(_mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f)),
                                   _mm512_set1_ps(10.0f));
    const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(z, _mm512_set1_ps(0.5f), _mm512_set1_ps(1.0f)));
    const __m512 ts = _mm512_sub_ps(t, _mm512_set1_ps(7.0f / 12));  // centred: small, well-conditioned terms
    __m512 p = _mm512_set1_ps(P[0]);
    for (int i = 1; i < 11; ++i) p = _mm512_fmadd_ps(p, ts, _mm512_set1_ps(P[i]));
    // z^2 = x^2 / 2 exactly, as zz + zz_lo: from x, not the rounded z (whose 6e-8 error, squared and
    // exponentiated, would cost 2e-6 relative at z = 4).
    const __m512 half = _mm512_set1_ps(0.5f);
    const __m512 xx = _mm512_mul_ps(x, x);
    const __m512 zz = _mm512_mul_ps(xx, half);
    const __m512 zz_lo = _mm512_mul_ps(_mm512_fmsub_ps(x, x, xx), half);
    // e^(-z^2 + P) as e^-zz * e^(P - zz_lo): both arguments exact or small, so no rounding of a large
    // exponent argument (which alone costs ~1e-6 relative near z = 2.5).
    __m512 e = _mm512_mul_ps(_mm512_mul_ps(t, exp16(_mm512_sub_ps(_mm512_setzero_ps(), zz))),
                             exp16(_mm512_sub_ps(p, zz_lo)));
    e = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, _mm512_set1_ps(10.0f), _CMP_LT_OQ), e);  // erfc(10) < 3e-45
    const __m512 half_x_e = _mm512_mul_ps(_mm512_mul_ps(half, x), e);
    const __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(neg, _mm512_sub_ps(x, half_x_e), half_x_e);
}

DINO_AVX512 inline float reduce_add(__m512 v) { return _mm512_reduce_add_ps(v); }

// ref: nn.LayerNorm: (x - mean) / sqrt(var + eps) * w + b, biased variance.
DINO_AVX512 void layer_norm_row(const float * x, const float * w, const float * b, float eps, int64_t K, float * y) {
    __m512 s = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(x + k));
    float sum = reduce_add(s);
    for (; k < K; ++k) sum += x[k];
    const float mean = sum / float(K);
    const __m512 vm = _mm512_set1_ps(mean);
    s = _mm512_setzero_ps();
    for (k = 0; k + 16 <= K; k += 16) {
        const __m512 d = _mm512_sub_ps(_mm512_loadu_ps(x + k), vm);
        s = _mm512_fmadd_ps(d, d, s);
    }
    float var = reduce_add(s);
    for (; k < K; ++k) var += (x[k] - mean) * (x[k] - mean);
    const float rstd = 1.0f / std::sqrt(var / float(K) + eps);
    const __m512 vr = _mm512_set1_ps(rstd);
    for (k = 0; k + 16 <= K; k += 16) {
        const __m512 d = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(x + k), vm), vr);
        _mm512_storeu_ps(y + k, _mm512_fmadd_ps(d, _mm512_loadu_ps(w + k), _mm512_loadu_ps(b + k)));
    }
    for (; k < K; ++k) y[k] = (x[k] - mean) * rstd * w[k] + b[k];
}

// One row to q8_0 as ggml quantizes activations (d = amax/127 stored as f16,
// q = round(x / d) with the f32 d), stored as q + 128 for vpdpbusd's unsigned side.
DINO_AVX512 void quantize_row_q8(const float * x, int64_t K, uint8_t * q, float * d_out, int32_t * sums) {
    for (int64_t b = 0; b < K / kBlock; ++b) {
        const __m512 v0 = _mm512_loadu_ps(x + b * kBlock), v1 = _mm512_loadu_ps(x + b * kBlock + 16);
        const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float d = amax / 127.0f;
        const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id)), i1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
        const __m128i q0 = _mm512_cvtsepi32_epi8(i0), q1 = _mm512_cvtsepi32_epi8(i1);
        sums[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1)) + 128 * kBlock;  // |x * id| <= 127: no saturation
        const __m128i bias = _mm_set1_epi8(char(0x80));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(q + b * kBlock), _mm_xor_si128(q0, bias));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(q + b * kBlock + 16), _mm_xor_si128(q1, bias));
        // the f16 round trip of the stored scale
        d_out[b] = _mm512_cvtss_f32(_mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_set1_ps(d), _MM_FROUND_TO_NEAREST_INT)));
    }
}

// ---- epilogue: bias, GELU, residual, store ----------------------------------
struct epilogue {
    const float * bias;      // by output column, or null
    const float * residual;  // laid out like y, or null
    float * y;
    int64_t ldy;             // y's row stride
    bool gelu;
};

template <int MR, int NT>
DINO_AVX512 inline void finish(const epilogue & e, int64_t row, int64_t t0, __m512 (&acc)[MR][NT]) {
    for (int m = 0; m < MR; ++m) {
        for (int t = 0; t < NT; ++t) {
            const int64_t col = (t0 + t) * kTile;
            __m512 v = acc[m][t];
            if (e.bias) v = _mm512_add_ps(v, _mm512_loadu_ps(e.bias + col));
            if (e.gelu) v = gelu16(v);
            const int64_t at = (row + m) * e.ldy + col;
            if (e.residual) v = _mm512_add_ps(v, _mm512_loadu_ps(e.residual + at));
            _mm512_storeu_ps(e.y + at, v);
        }
    }
}

// ---- int8 microkernel: MR rows x NT tiles, the whole K -----------------------
// Per 32-wide block: int32 sums by vpdpbusd (unsigned activations + 128 times
// signed weights, started at the -128 * sum(w) correction), then scaled by
// both f16 scales into f32, as ggml's q8_0 dot product does.  Q4: the weights
// come as w + 8 in nibbles, so the start also takes -8 * sum(a + 128).
// One group of 4 K values: a points at row 0's 4 activations, rows lda apart.
template <int MR, int NT>
__attribute__((always_inline)) DINO_AVX512_VNNI inline void dot_group(__m512i (&s)[MR][NT], const uint8_t * a, int64_t lda,
                                                                      const __m512i (&wv)[NT]) {
    for (int m = 0; m < MR; ++m) {
        int32_t a4;
        std::memcpy(&a4, a + m * lda, 4);
        const __m512i av = _mm512_set1_epi32(a4);
        for (int t = 0; t < NT; ++t) s[m][t] = _mm512_dpbusd_epi32(s[m][t], av, wv[t]);
    }
}

template <int MR, int NT, bool Q4>
DINO_AVX512_VNNI void tile_q8(const packed_linear & w, const uint8_t * a, const float * as, const int32_t * asum,
                              int64_t t0, int64_t row, const epilogue & e) {
    const int64_t K = w.k, KB = K / kBlock;
    const uint8_t * qs = static_cast<const uint8_t *>(w.data);
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    __m512 acc[MR][NT];
    for (int m = 0; m < MR; ++m)
        for (int t = 0; t < NT; ++t) acc[m][t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < KB; ++b) {
        __m512i s[MR][NT];
        for (int t = 0; t < NT; ++t) {
            const __m512i c = _mm512_load_si512(w.corrections + ((t0 + t) * KB + b) * kTile);
            for (int m = 0; m < MR; ++m) s[m][t] = Q4 ? _mm512_add_epi32(c, _mm512_set1_epi32(-8 * asum[m * KB + b])) : c;
        }
        if constexpr (Q4) {
#pragma GCC unroll 4
            for (int g = 0; g < 8; g += 2) {
                __m512i lo[NT], hi[NT];
                for (int t = 0; t < NT; ++t) {
                    const __m512i v = _mm512_load_si512(qs + (((t0 + t) * KB + b) * 4 + g / 2) * 64);
                    lo[t] = _mm512_and_si512(v, nibble);
                    hi[t] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nibble);
                }
                dot_group<MR, NT>(s, a + b * kBlock + g * 4, K, lo);
                dot_group<MR, NT>(s, a + b * kBlock + (g + 1) * 4, K, hi);
            }
        } else {
#pragma GCC unroll 8
            for (int g = 0; g < 8; ++g) {
                __m512i wv[NT];
                for (int t = 0; t < NT; ++t) wv[t] = _mm512_load_si512(qs + (((t0 + t) * KB + b) * 8 + g) * 64);
                dot_group<MR, NT>(s, a + b * kBlock + g * 4, K, wv);
            }
        }
        for (int t = 0; t < NT; ++t) {
            const __m512 ws = _mm512_load_ps(w.scales + ((t0 + t) * KB + b) * kTile);
            for (int m = 0; m < MR; ++m) {
                const __m512 d = _mm512_mul_ps(ws, _mm512_set1_ps(as[m * KB + b]));
                acc[m][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[m][t]), d, acc[m][t]);
            }
        }
    }
    finish<MR, NT>(e, row, t0, acc);
}

// ---- float microkernel: MR rows x NT tiles, f32 or f16 weights ---------------
// The weights as a view: tile t's 16 values for term k at w + t * tile_stride + k * ldw
// (packed linear weights, a head's transposed keys, or the values in place).
struct weights_view {
    const void * w;
    int64_t tile_stride, ldw, K;
};

template <int MR, int NT, bool F16>
DINO_AVX512 void tile_f(const weights_view & v, int64_t t0, const float * a, int64_t lda, int64_t row, const epilogue & e) {
    using T = std::conditional_t<F16, uint16_t, float>;
    __m512 acc[MR][NT];
    for (int m = 0; m < MR; ++m)
        for (int t = 0; t < NT; ++t) acc[m][t] = _mm512_setzero_ps();
    const T * w[NT];
    for (int t = 0; t < NT; ++t) w[t] = static_cast<const T *>(v.w) + (t0 + t) * v.tile_stride;
    for (int64_t k = 0; k < v.K; ++k) {
        __m512 wv[NT];
        for (int t = 0; t < NT; ++t) {
            if constexpr (F16) wv[t] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(w[t] + k * v.ldw)));
            else wv[t] = _mm512_loadu_ps(w[t] + k * v.ldw);
        }
        for (int m = 0; m < MR; ++m) {
            const __m512 av = _mm512_set1_ps(a[m * lda + k]);
            for (int t = 0; t < NT; ++t) acc[m][t] = _mm512_fmadd_ps(av, wv[t], acc[m][t]);
        }
    }
    finish<MR, NT>(e, row, t0, acc);
}

// Every tile pair (and a last single tile) for one panel of mr rows.
template <int MR, bool Q4>
DINO_AVX512_VNNI void panel_q8(const packed_linear & w, const panel & p, int64_t row, const epilogue & e) {
    const int64_t tiles = w.n / kTile;
    const uint8_t * a = p.quant.data();
    const float * as = p.scales.data();
    const int32_t * asum = p.sums.data();
    int64_t t0 = 0;
    for (; t0 + 2 <= tiles; t0 += 2) tile_q8<MR, 2, Q4>(w, a, as, asum, t0, row, e);
    if (t0 < tiles) tile_q8<MR, 1, Q4>(w, a, as, asum, t0, row, e);
}

template <int MR, bool F16>
DINO_AVX512 void panel_f(const weights_view & v, int64_t tiles, const float * a, int64_t lda, int64_t row, const epilogue & e) {
    int64_t t0 = 0;
    for (; t0 + 2 <= tiles; t0 += 2) tile_f<MR, 2, F16>(v, t0, a, lda, row, e);
    if (t0 < tiles) tile_f<MR, 1, F16>(v, t0, a, lda, row, e);
}

// All tiles for mr (<= kRowsF) rows.
template <bool F16>
DINO_AVX512 void rows_times(int mr, const weights_view & v, int64_t tiles, const float * a, int64_t lda, int64_t row,
                            const epilogue & e) {
    switch (mr) {
        case 6: panel_f<6, F16>(v, tiles, a, lda, row, e); break;
        case 5: panel_f<5, F16>(v, tiles, a, lda, row, e); break;
        case 4: panel_f<4, F16>(v, tiles, a, lda, row, e); break;
        case 3: panel_f<3, F16>(v, tiles, a, lda, row, e); break;
        case 2: panel_f<2, F16>(v, tiles, a, lda, row, e); break;
        default: panel_f<1, F16>(v, tiles, a, lda, row, e); break;
    }
}

template <bool Q4>
DINO_AVX512_VNNI void rows_q8(const linear_op & op, const float * x, const float * norm_w, const float * norm_b,
                              const epilogue & e, int64_t r0, int64_t r1) {
    const packed_linear & w = *op.w;
    const int64_t K = w.k, KB = K / kBlock;
    panel & p = scratch;
    if (p.quant.size() < size_t(kRowsQ8 * K)) p.quant.resize(size_t(kRowsQ8 * K));
    if (p.scales.size() < size_t(kRowsQ8 * KB)) p.scales.resize(size_t(kRowsQ8 * KB));
    if (p.sums.size() < size_t(kRowsQ8 * KB)) p.sums.resize(size_t(kRowsQ8 * KB));
    if (norm_w && p.normed.size() < size_t(K)) p.normed.resize(size_t(K));
    for (int64_t row = r0; row < r1; row += kRowsQ8) {
        const int mr = int(std::min<int64_t>(kRowsQ8, r1 - row));
        for (int m = 0; m < mr; ++m) {
            const float * src = x + (row + m) * K;
            if (norm_w) {
                layer_norm_row(src, norm_w, norm_b, op.norm_eps, K, p.normed.data());
                src = p.normed.data();
            }
            quantize_row_q8(src, K, p.quant.data() + m * K, p.scales.data() + m * KB, p.sums.data() + m * KB);
        }
        switch (mr) {
            case 4: panel_q8<4, Q4>(w, p, row, e); break;
            case 3: panel_q8<3, Q4>(w, p, row, e); break;
            case 2: panel_q8<2, Q4>(w, p, row, e); break;
            default: panel_q8<1, Q4>(w, p, row, e); break;
        }
    }
}

template <bool F16>
DINO_AVX512 void rows_f(const linear_op & op, const float * x, const float * norm_w, const float * norm_b,
                        const epilogue & e, int64_t r0, int64_t r1) {
    const packed_linear & w = *op.w;
    const int64_t K = w.k;
    const weights_view v{w.data, K * kTile, kTile, K};
    panel & p = scratch;
    if (norm_w && p.normed.size() < size_t(kRowsF * K)) p.normed.resize(size_t(kRowsF * K));
    for (int64_t row = r0; row < r1; row += kRowsF) {
        const int mr = int(std::min<int64_t>(kRowsF, r1 - row));
        const float * a = x + row * K;  // without LayerNorm, the rows as they are
        if (norm_w) {
            for (int m = 0; m < mr; ++m) layer_norm_row(x + (row + m) * K, norm_w, norm_b, op.norm_eps, K, p.normed.data() + m * K);
            a = p.normed.data();
        }
        rows_times<F16>(mr, v, w.n / kTile, a, K, row, e);
    }
}

// One head's keys (T rows at stride ld) as tiles of 16 keys, each [head_dim][16]:
// the layout tile_f reads, so q k^T is a float GEMM.  The last tile is padded with zeros.
DINO_AVX512 void transpose_keys(const float * k, int64_t ld, int64_t T, int64_t hd, float * kt) {
    const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(int32_t(ld)));
    for (int64_t j0 = 0; j0 < T; j0 += kTile) {
        const int64_t n = std::min<int64_t>(kTile, T - j0);
        const __mmask16 valid = __mmask16((1u << n) - 1);
        for (int64_t d = 0; d < hd; ++d) {
            _mm512_storeu_ps(kt + j0 * hd + d * kTile,
                             _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, idx, k + j0 * ld + d, 4));
        }
    }
}

// ref: attn = (q @ k.transpose(-2, -1)) * self.scale; attn = attn.softmax(dim=-1)
DINO_AVX512 void softmax_row(float * s, int64_t T, float scale) {
    const __m512 vs = _mm512_set1_ps(scale);
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    for (int64_t j = 0; j < T; j += 16) {
        const __mmask16 m = T - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (T - j)) - 1);
        const __m512 x = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), vs);
        _mm512_mask_storeu_ps(s + j, m, x);
        vmax = _mm512_mask_max_ps(vmax, m, vmax, x);
    }
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t j = 0; j < T; j += 16) {
        const __mmask16 m = T - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (T - j)) - 1);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), mx));
        _mm512_mask_storeu_ps(s + j, m, e);
        vsum = _mm512_mask_add_ps(vsum, m, vsum, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(vsum));
    for (int64_t j = 0; j < T; j += 16) {
        const __mmask16 m = T - j >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (T - j)) - 1);
        _mm512_mask_storeu_ps(s + j, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), inv));
    }
}

DINO_AVX512 void attention_avx512(const attention_op & op, const float * qkv, int64_t D, int64_t T, int64_t n_seq,
                                  float * out, int64_t q0, int64_t q1) {
    const int64_t hd = D / op.heads, ld = 3 * D, tiles = (T + kTile - 1) / kTile, Tpad = tiles * kTile;
    panel & p = scratch;
    if (p.keys.size() < size_t(Tpad * hd)) p.keys.resize(size_t(Tpad * hd));
    if (p.scores.size() < size_t(kRowsF * Tpad)) p.scores.resize(size_t(kRowsF * Tpad));
    for (int64_t n = 0; n < n_seq; ++n) {
        for (int64_t h = 0; h < op.heads; ++h) {
            // ref: q, k, v = qkv[0], qkv[1], qkv[2] for this sequence and head
            const float * q = qkv + n * T * ld + h * hd;
            const float * k = q + D;
            const float * v = q + 2 * D;
            transpose_keys(k, ld, T, hd, p.keys.data());
            const weights_view keys{p.keys.data(), hd * kTile, kTile, hd};  // tiles of 16 keys, summed over hd
            const weights_view values{v, kTile, ld, T};                      // tiles of 16 value dims, over T keys
            const epilogue scores{nullptr, nullptr, p.scores.data(), Tpad, false};
            // ref: x = (attn @ v).transpose(1, 2).reshape(B, N, C): head h at columns h*hd
            const epilogue result{nullptr, nullptr, out + n * T * D + h * hd, D, false};
            for (int64_t row = q0; row < q1; row += kRowsF) {
                const int mr = int(std::min<int64_t>(kRowsF, q1 - row));
                rows_times<false>(mr, keys, tiles, q + row * ld, ld, 0, scores);
                for (int m = 0; m < mr; ++m) softmax_row(p.scores.data() + m * Tpad, T, op.scale);
                rows_times<false>(mr, values, hd / kTile, p.scores.data(), Tpad, row, result);
            }
        }
    }
}

DINO_AVX512 void gelu_avx512(const float * x, float * y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, gelu16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 m = __mmask16((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, gelu16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

}  // namespace
#endif  // DINO_HAVE_AVX512

void linear_rows(const linear_op & op, const float * x, const float * norm_w, const float * norm_b,
                 const float * bias, const float * residual, float * y, int64_t row_begin, int64_t row_end) {
#if DINO_HAVE_AVX512
    const epilogue e{bias, residual, y, op.w->n, op.gelu};
    switch (op.w->fmt) {
        case packed_linear::format::q8: rows_q8<false>(op, x, norm_w, norm_b, e, row_begin, row_end); break;
        case packed_linear::format::q4: rows_q8<true>(op, x, norm_w, norm_b, e, row_begin, row_end); break;
        case packed_linear::format::f32: rows_f<false>(op, x, norm_w, norm_b, e, row_begin, row_end); break;
        case packed_linear::format::f16: rows_f<true>(op, x, norm_w, norm_b, e, row_begin, row_end); break;
    }
#else
    (void) op; (void) x; (void) norm_w; (void) norm_b; (void) bias; (void) residual; (void) y;
    (void) row_begin; (void) row_end;  // pack() never returns weights here
#endif
}

attention_op attention_kernel(int64_t dim, int heads) {
    attention_op op;
    if (heads <= 0 || dim % heads != 0 || (dim / heads) % kTile != 0 || !cpu_supported(false)) return op;
    op.heads = heads;
    op.scale = 1.0f / std::sqrt(float(dim / heads));  // ref: self.scale = head_dim ** -0.5
    return op;
}

void attention_rows(const attention_op & op, const float * qkv, int64_t dim, int64_t tokens, int64_t sequences,
                    float * out, int64_t q_begin, int64_t q_end) {
#if DINO_HAVE_AVX512
    attention_avx512(op, qkv, dim, tokens, sequences, out, q_begin, q_end);
#else
    (void) op; (void) qkv; (void) dim; (void) tokens; (void) sequences; (void) out; (void) q_begin;
    (void) q_end;  // attention_kernel() never says yes here
#endif
}

void gelu(const float * x, float * y, int64_t n) {
#if DINO_HAVE_AVX512
    gelu_avx512(x, y, n);
#else
    for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * std::erfc(-x[i] * 0.70710678118654752f);
#endif
}

// ---- the ggml custom op -------------------------------------------------------
namespace {

// dst->src: x, bias, [norm_w, norm_b], [residual]
void linear_forward(ggml_tensor * dst, int ith, int nth, void * userdata) {
    const linear_op & op = *static_cast<const linear_op *>(userdata);
    const ggml_tensor * x = dst->src[0];
    const bool norm = op.norm;
    const ggml_tensor * residual = dst->src[norm ? 4 : 2];
    const auto f = [](const ggml_tensor * t) { return t ? static_cast<const float *>(t->data) : nullptr; };
    // Whole panels per thread, so every thread quantizes only its own rows.
    const int64_t rows = ggml_nrows(x);
    const bool int8 = op.w->fmt == packed_linear::format::q8 || op.w->fmt == packed_linear::format::q4;
    const int64_t panel = int8 ? kRowsQ8 : kRowsF;
    const int64_t per_thread = (rows + nth - 1) / nth;
    const int64_t chunk = (per_thread + panel - 1) / panel * panel;
    const int64_t r0 = std::min(rows, ith * chunk), r1 = std::min(rows, r0 + chunk);
    if (r0 >= r1) return;
    linear_rows(op, f(x), norm ? f(dst->src[2]) : nullptr, norm ? f(dst->src[3]) : nullptr, f(dst->src[1]), f(residual),
                static_cast<float *>(dst->data), r0, r1);
}

void attention_forward(ggml_tensor * dst, int ith, int nth, void * userdata) {
    const attention_op & op = *static_cast<const attention_op *>(userdata);
    const ggml_tensor * qkv = dst->src[0];
    const int64_t D = dst->ne[0], T = dst->ne[1], N = dst->ne[2];
    // Each thread: its slice of the queries, whole panels, in every sequence and head.
    const int64_t chunk = ((T + nth - 1) / nth + kRowsF - 1) / kRowsF * kRowsF;
    const int64_t q0 = std::min(T, ith * chunk), q1 = std::min(T, q0 + chunk);
    if (q0 < q1) attention_rows(op, static_cast<const float *>(qkv->data), D, T, N, static_cast<float *>(dst->data), q0, q1);
}

}  // namespace

ggml_tensor * attention(ggml_context * ctx, const attention_op & op, ggml_tensor * qkv) {
    if (!ggml_is_contiguous(qkv)) qkv = ggml_cont(ctx, qkv);
    ggml_tensor * args[1] = {qkv};
    return ggml_custom_4d(ctx, GGML_TYPE_F32, qkv->ne[0] / 3, qkv->ne[1], qkv->ne[2], 1, args, 1, attention_forward,
                          GGML_N_TASKS_MAX, const_cast<attention_op *>(&op));
}

ggml_tensor * linear(ggml_context * ctx, const linear_op & op, ggml_tensor * x, ggml_tensor * bias,
                     ggml_tensor * norm_w, ggml_tensor * norm_b, ggml_tensor * residual) {
    if (!ggml_is_contiguous(x)) x = ggml_cont(ctx, x);
    ggml_tensor * args[5];
    int n = 0;
    args[n++] = x;
    args[n++] = bias;
    if (op.norm) {
        args[n++] = norm_w;
        args[n++] = norm_b;
    }
    if (residual) args[n++] = residual;
    return ggml_custom_4d(ctx, GGML_TYPE_F32, op.w->n, x->ne[1], x->ne[2], x->ne[3], args, n, linear_forward,
                          GGML_N_TASKS_MAX, const_cast<linear_op *>(&op));
}

}  // namespace dino::kernels
