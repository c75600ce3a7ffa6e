// x86/avx512.cpp: simd.inc for AVX-512 (F, BW, DQ, VL; VNNI for the int8
// code).  Built with -mavx512f -mavx512bw -mavx512dq -mavx512vl
// (CMakeLists.txt) and called only where x86/select.cpp found those.
#include "../isa.h"

#include <algorithm>
#include <cmath>
#include <cpuid.h>
#include <cstring>
#include <immintrin.h>
#include <type_traits>
#include <vector>

#if !defined(__clang__)
// GCC 12's AVX-512 headers trip these on their own _mm512_undefined_* helpers.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace dino::kernels::avx512 {
namespace {

#define DINO_INT8 __attribute__((target("avx512vnni")))
#define DINO_BF16 __attribute__((target("avx512bf16")))

struct vec {
    static constexpr int W = 16;
    static constexpr int kRowsQ8 = 6, kTilesQ8 = 2;  // 6 x 2 tiles: 12 int32 + 12 f32 accumulators of 32
    static constexpr int kRowsMaddubs = 6, kTilesMaddubs = 2;  // 6 rows x 2 vectors: 24 int16 accumulators (h, l)
    static constexpr int kRowsF = 6, kTilesF = 2;    // 6 x 2 tiles: 12 accumulators
    static constexpr int kRowsAttention = 12;        // 12 x 2 tiles: 24 accumulators
    static constexpr bool kSignedDot = false, kMatmulInt8 = false, kInt8Halves = false;  // int8 by VNNI or maddubs (int8.inc)
    static constexpr float kExpMin = -104.0f;        // scalef reaches the denormals: e^-104 < the smallest float
    using F = __m512;
    using I = __m512i;

    static __mmask16 first(int64_t n) { return __mmask16((1u << n) - 1); }
    static F zero() { return _mm512_setzero_ps(); }
    static F set1(float v) { return _mm512_set1_ps(v); }
    static F load(const float * p) { return _mm512_loadu_ps(p); }
    static void store(float * p, F v) { _mm512_storeu_ps(p, v); }
    static F load_n(const float * p, int64_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
    static void store_n(float * p, F v, int64_t n) { _mm512_mask_storeu_ps(p, first(n), v); }
    static F load_h(const uint16_t * p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p))); }
    static F add(F a, F b) { return _mm512_add_ps(a, b); }
    static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F div(F a, F b) { return _mm512_div_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
    static F fmsub(F a, F b, F c) { return _mm512_fmsub_ps(a, b, c); }
    static F max(F a, F b) { return _mm512_max_ps(a, b); }
    static F min(F a, F b) { return _mm512_min_ps(a, b); }
    static F abs(F a) { return _mm512_abs_ps(a); }
    static float hsum(F v) { return _mm512_reduce_add_ps(v); }
    static float hmax(F v) { return _mm512_reduce_max_ps(v); }
    static F round(F v) { return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static F scale2(F p, F n) { return _mm512_scalef_ps(p, n); }  // p * 2^n
    static F max_first(F m, F x, int64_t n) { return _mm512_mask_max_ps(m, first(std::clamp<int64_t>(n, 0, W)), m, x); }  // lanes < n
    static F keep_first(F v, int64_t n) { return n >= W ? v : _mm512_maskz_mov_ps(first(std::max<int64_t>(n, 0)), v); }
    static F keep_if_less(F v, F a, F b) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), v); }
    static F select_negative(F x, F if_negative, F otherwise) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero(), _CMP_LT_OQ), otherwise, if_negative);
    }

    static I zero_i() { return _mm512_setzero_si512(); }
    // 16 x 16 32-bit lanes: r[i] lane j to r[j] lane i.  32-bit, then 64-bit interleaves within
    // 128-bit lanes (4 x 4 blocks), then two shuffles of 128-bit lanes.
    static void transpose16(I (&r)[16]) {
        I b[16], c[16];
        for (int i = 0; i < 16; i += 2) {
            b[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
            b[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
        }
        for (int g = 0; g < 16; g += 4) {  // c[g + i], lane k: rows g..g+3 of column 4k + i
            c[g + 0] = _mm512_unpacklo_epi64(b[g], b[g + 2]);
            c[g + 1] = _mm512_unpackhi_epi64(b[g], b[g + 2]);
            c[g + 2] = _mm512_unpacklo_epi64(b[g + 1], b[g + 3]);
            c[g + 3] = _mm512_unpackhi_epi64(b[g + 1], b[g + 3]);
        }
        for (int i = 0; i < 4; ++i) {
            const I d = _mm512_shuffle_i32x4(c[i], c[4 + i], 0x88), e = _mm512_shuffle_i32x4(c[i], c[4 + i], 0xDD);
            const I f = _mm512_shuffle_i32x4(c[8 + i], c[12 + i], 0x88), g = _mm512_shuffle_i32x4(c[8 + i], c[12 + i], 0xDD);
            r[i] = _mm512_shuffle_i32x4(d, f, 0x88);
            r[4 + i] = _mm512_shuffle_i32x4(e, g, 0x88);
            r[8 + i] = _mm512_shuffle_i32x4(d, f, 0xDD);
            r[12 + i] = _mm512_shuffle_i32x4(e, g, 0xDD);
        }
    }
    static void transpose(F (&r)[W]) {  // W x W: r[i] lane j to r[j] lane i
        I x[16];
        for (int i = 0; i < 16; ++i) x[i] = _mm512_castps_si512(r[i]);
        transpose16(x);
        for (int i = 0; i < 16; ++i) r[i] = _mm512_castsi512_ps(x[i]);
    }
    static I load_i(const void * p) { return _mm512_loadu_si512(p); }
    static void store_i(void * p, I v) { _mm512_storeu_si512(p, v); }
    static I set1_i(int32_t v) { return _mm512_set1_epi32(v); }
    static I add_i(I a, I b) { return _mm512_add_epi32(a, b); }
    static F cvt_f(I v) { return _mm512_cvtepi32_ps(v); }
    static I low_nibbles(I v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0F)); }
    static I high_nibbles(I v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F)); }
    static I set1_i16(int16_t v) { return _mm512_set1_epi16(v); }
    static I add_i16(I a, I b) { return _mm512_add_epi16(a, b); }
    static I maddubs(I u8, I s8) { return _mm512_maddubs_epi16(u8, s8); }  // int16 pairs, saturating
    static I madd(I a, I b) { return _mm512_madd_epi16(a, b); }            // int16 pairs to int32
    DINO_INT8 static I dpbusd(I acc, I a, I w) { return _mm512_dpbusd_epi32(acc, a, w); }

    // bf16 pairs (simd.inc: attention_rows_bf16), rounded to nearest even.
    DINO_BF16 static F dot_bf16(F acc, I a, I b) { return _mm512_dpbf16_ps(acc, (__m512bh) a, (__m512bh) b); }
    DINO_BF16 static I bf16_pairs(F lo, F hi) { return (I) _mm512_cvtne2ps_pbh(hi, lo); }  // x[0..31]: lane i (x[2i], x[2i+1])
    DINO_BF16 static I bf16_interleave(F a, F b) {  // lane i: (a[i], b[i])
        const I pairs = (I) _mm512_cvtne2ps_pbh(b, a);  // a's 16 values, then b's
        const I order = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                         23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
        return _mm512_permutexvar_epi16(order, pairs);
    }

    // n <= 16 blocks of 32 values to q8_0 + 128 (see quantize_row_q8); sums may be null.  Per
    // block the arithmetic of ggml's q8_0; across blocks one vector: the 16 maxima (and sums) by
    // one transposing reduction, the scales by one division, the bytes of two blocks by one pack
    // and one store (block by block, the horizontal reductions, scalar divisions and narrowing
    // stores cost a cycle per value: a quarter of fc2's time).
    static constexpr int kQuantizeBlocks = 16;
    static void quantize_blocks(const float * x, int64_t n, uint8_t * q, float * d_out, int32_t * sums) {
        F m[16];
        for (int b = 0; b < 16; ++b) m[b] = b < n ? max(abs(load(x + 32 * b)), abs(load(x + 32 * b + 16))) : zero();
        const F d = div(lanes_of(m, [](F a, F b) { return max(a, b); }), set1(127.0f));
        const F id = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(d, zero(), _CMP_NEQ_OQ), set1(1.0f), d);  // 0 where d is
        _mm512_mask_storeu_ps(d_out, first(n), _mm512_cvtph_ps(_mm512_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT)));  // as stored: f16
        alignas(64) float ids[16];
        _mm512_store_ps(ids, id);
        F s[16];
        for (int b = 0; b < 16; b += 2) {
            if (b >= n) {
                s[b] = s[b + 1] = zero();
                continue;
            }
            I i[4];
            for (int h = 0; h < 4; ++h) {
                const int64_t block = b + h / 2;
                i[h] = block < n ? _mm512_cvtps_epi32(mul(load(x + 32 * block + 16 * (h % 2)), set1(ids[block]))) : zero_i();
            }
            s[b] = _mm512_castsi512_ps(_mm512_add_epi32(i[0], i[1]));
            s[b + 1] = _mm512_castsi512_ps(_mm512_add_epi32(i[2], i[3]));
            // int32 -> int8 (|x * id| <= 127: no saturation): the packs work per 128-bit lane, the
            // permute puts the dwords back in order.
            const I packed = _mm512_packs_epi16(_mm512_packs_epi32(i[0], i[1]), _mm512_packs_epi32(i[2], i[3]));
            const I bytes = _mm512_xor_si512(_mm512_permutexvar_epi32(transpose4x4(), packed), _mm512_set1_epi8(char(0x80)));
            if (b + 1 < n) _mm512_storeu_si512(q + 32 * b, bytes);
            else _mm256_storeu_si256(reinterpret_cast<__m256i *>(q + 32 * b), _mm512_castsi512_si256(bytes));
        }
        if (sums) {
            const F total = lanes_of(s, [](F a, F b) { return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b))); });
            _mm512_mask_storeu_epi32(sums, first(n), _mm512_add_epi32(_mm512_castps_si512(total), _mm512_set1_epi32(128 * 32)));
        }
    }
    // Lane 4i + j to lane 4j + i (its own inverse).
    static I transpose4x4() { return _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15); }
    // Lane b: op over all the lanes of v[b].  Four rounds, each halving the vectors and doubling the
    // blocks per vector: 128-bit halves, 128-bit quarters, then pairs and lanes within 128 bits.
    // The rounds leave block 4j + i in lane 4i + j.
    template <class Op>
    static F lanes_of(F (&v)[16], Op op) {
        F a[8], b[4], c[2];
        for (int i = 0; i < 8; ++i)  // v[2i] in quarters 0-1, v[2i+1] in 2-3
            a[i] = op(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44), _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
        for (int i = 0; i < 4; ++i)  // quarter q: v[4i + q]
            b[i] = op(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x88), _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xDD));
        for (int i = 0; i < 2; ++i)  // quarter q: lanes 0-1 v[8i + q], lanes 2-3 v[8i + 4 + q]
            c[i] = op(_mm512_shuffle_ps(b[2 * i], b[2 * i + 1], 0x44), _mm512_shuffle_ps(b[2 * i], b[2 * i + 1], 0xEE));
        const F r = op(_mm512_shuffle_ps(c[0], c[1], 0x88), _mm512_shuffle_ps(c[0], c[1], 0xDD));  // lane 4q + j: v[4j + q]
        return _mm512_permutexvar_ps(transpose4x4(), r);
    }
};

bool vnni_supported() {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 11));  // CPUID.7.0:ECX.AVX512_VNNI
}

bool bf16_supported() {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));  // CPUID.7.1:EAX.AVX512_BF16
}

#include "../simd.inc"

}  // namespace
}  // namespace dino::kernels::avx512

namespace dino::kernels {
extern const isa_kernels avx512_kernels = avx512::table("avx512");
}  // namespace dino::kernels
