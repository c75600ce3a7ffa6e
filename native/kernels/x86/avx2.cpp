// x86/avx2.cpp: simd.inc for AVX2 + FMA + F16C (AVX-VNNI, 256-bit, for the
// int8 code).  Built with -mavx2 -mfma -mf16c (CMakeLists.txt) and called
// only where x86/select.cpp found those: most x86-64 CPUs without AVX-512.
#include "../isa.h"

#include <algorithm>
#include <cmath>
#include <cpuid.h>
#include <cstring>
#include <immintrin.h>
#include <type_traits>
#include <vector>

namespace dino::kernels::avx2 {
namespace {

#define DINO_INT8 __attribute__((target("avxvnni")))

struct vec {
    static constexpr int W = 8;
    static constexpr int kRowsQ8 = 2, kTilesQ8 = 1;  // VNNI: 2 rows x 2 vectors: 4 int32 + 4 f32 accumulators of 16
    static constexpr int kRowsMaddubs = 2, kTilesMaddubs = 1;  // 2 rows x 2 vectors: 8 int16 accumulators (h, l)
    static constexpr int kRowsF = 6, kTilesF = 1;    // 6 rows x 2 vectors: 12 accumulators
    static constexpr int kRowsAttention = 6;
    static constexpr bool kSignedDot = false, kMatmulInt8 = false, kInt8Halves = false;  // int8 by VNNI or maddubs (int8.inc)
    static constexpr float kExpMin = -87.0f;         // 2^n built from exponent bits: n >= -126
    using F = __m256;
    using I = __m256i;

    static __m256i first(int64_t n) {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static F zero() { return _mm256_setzero_ps(); }
    static F set1(float v) { return _mm256_set1_ps(v); }
    static F load(const float * p) { return _mm256_loadu_ps(p); }
    static void store(float * p, F v) { _mm256_storeu_ps(p, v); }
    static F load_n(const float * p, int64_t n) { return _mm256_maskload_ps(p, first(n)); }
    static void store_n(float * p, F v, int64_t n) { _mm256_maskstore_ps(p, first(n), v); }
    static F load_h(const uint16_t * p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))); }
    static F add(F a, F b) { return _mm256_add_ps(a, b); }
    static F sub(F a, F b) { return _mm256_sub_ps(a, b); }
    static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
    static F div(F a, F b) { return _mm256_div_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
    static F fmsub(F a, F b, F c) { return _mm256_fmsub_ps(a, b, c); }
    static F max(F a, F b) { return _mm256_max_ps(a, b); }
    static F min(F a, F b) { return _mm256_min_ps(a, b); }
    static F abs(F a) { return _mm256_and_ps(a, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF))); }
    static float hsum(F v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
    }
    static float hmax(F v) {
        __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_max_ps(s, _mm_movehl_ps(s, s));
        return _mm_cvtss_f32(_mm_max_ss(s, _mm_shuffle_ps(s, s, 1)));
    }
    static F round(F v) { return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
    static F scale2(F p, F n) {  // p * 2^n, -126 <= n <= 127
        const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
        return mul(p, _mm256_castsi256_ps(e));
    }
    static F keep_if_less(F v, F a, F b) { return _mm256_and_ps(v, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
    static F select_negative(F x, F if_negative, F otherwise) {
        return _mm256_blendv_ps(otherwise, if_negative, _mm256_cmp_ps(x, zero(), _CMP_LT_OQ));
    }
    static void transpose(F (&r)[W]) {  // W x W: r[i] lane j to r[j] lane i
        F t[8], u[8];
        for (int i = 0; i < 8; i += 2) {  // 32-bit, then 64-bit interleaves within 128-bit lanes
            t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
            t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
        }
        for (int g = 0; g < 8; g += 4) {  // u[g + i], lane k of each half: rows g..g+3 of column i
            u[g + 0] = _mm256_shuffle_ps(t[g], t[g + 2], 0x44);
            u[g + 1] = _mm256_shuffle_ps(t[g], t[g + 2], 0xEE);
            u[g + 2] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0x44);
            u[g + 3] = _mm256_shuffle_ps(t[g + 1], t[g + 3], 0xEE);
        }
        for (int i = 0; i < 4; ++i) {  // then the 128-bit halves
            r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
            r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
        }
    }

    static I load_i(const void * p) { return _mm256_loadu_si256(static_cast<const __m256i *>(p)); }
    static I set1_i(int32_t v) { return _mm256_set1_epi32(v); }
    static I add_i(I a, I b) { return _mm256_add_epi32(a, b); }
    static F cvt_f(I v) { return _mm256_cvtepi32_ps(v); }
    static I low_nibbles(I v) { return _mm256_and_si256(v, _mm256_set1_epi8(0x0F)); }
    static I high_nibbles(I v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F)); }
    static I set1_i16(int16_t v) { return _mm256_set1_epi16(v); }
    static I add_i16(I a, I b) { return _mm256_add_epi16(a, b); }
    static I maddubs(I u8, I s8) { return _mm256_maddubs_epi16(u8, s8); }  // int16 pairs, saturating
    static I madd(I a, I b) { return _mm256_madd_epi16(a, b); }            // int16 pairs to int32
    DINO_INT8 static I dpbusd(I acc, I a, I w) { return _mm256_dpbusd_avx_epi32(acc, a, w); }

    static constexpr int kQuantizeBlocks = 1;  // a block at a time
    // 32 values to q8_0 + 128 (see quantize_row_q8).
    static void quantize_block(const float * x, uint8_t * q, float & d_out, int32_t & sum) {
        const F v0 = load(x), v1 = load(x + 8), v2 = load(x + 16), v3 = load(x + 24);
        const float amax = hmax(max(max(abs(v0), abs(v1)), max(abs(v2), abs(v3))));
        const float d = amax / 127.0f;
        const F id = set1(d != 0.0f ? 1.0f / d : 0.0f);
        const I i0 = _mm256_cvtps_epi32(mul(v0, id)), i1 = _mm256_cvtps_epi32(mul(v1, id));
        const I i2 = _mm256_cvtps_epi32(mul(v2, id)), i3 = _mm256_cvtps_epi32(mul(v3, id));
        const I s4 = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(s4), _mm256_extracti128_si256(s4, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
        sum = _mm_cvtsi128_si32(s) + 128 * 32;  // |x * id| <= 127: no saturation below
        // int32 -> int8 in order: the packs work per 128-bit lane, the permute puts the dwords back.
        const I packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
        const I ordered = _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(q), _mm256_xor_si256(ordered, _mm256_set1_epi8(char(0x80))));
        d_out = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(d), _MM_FROUND_TO_NEAREST_INT)));  // as stored: f16
    }
};

bool vnni_supported() {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));  // CPUID.7.1:EAX.AVX-VNNI
}

bool bf16_supported() { return false; }  // (no 256-bit bf16 attention)

#include "../simd.inc"

}  // namespace
}  // namespace dino::kernels::avx2

namespace dino::kernels {
extern const isa_kernels avx2_kernels = avx2::table("avx2");
}  // namespace dino::kernels
