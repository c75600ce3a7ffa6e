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

struct vec {
    static constexpr int W = 16;
    static constexpr int kRowsQ8 = 6, kTilesQ8 = 2;  // 6 x 2 tiles: 12 int32 + 12 f32 accumulators of 32
    static constexpr int kRowsF = 6, kTilesF = 2;    // 6 x 2 tiles: 12 accumulators
    static constexpr bool kSignedDot = false, kMatmulInt8 = false;  // int8 by VNNI or maddubs (int8.inc)
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
    static F keep_if_less(F v, F a, F b) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), v); }
    static F select_negative(F x, F if_negative, F otherwise) {
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero(), _CMP_LT_OQ), otherwise, if_negative);
    }
    static F gather(const float * base, int64_t stride, int64_t n) {  // base[i * stride], i < n
        const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32(int32_t(stride)));
        return _mm512_mask_i32gather_ps(zero(), first(n), idx, base, 4);
    }

    static I load_i(const void * p) { return _mm512_loadu_si512(p); }
    static I set1_i(int32_t v) { return _mm512_set1_epi32(v); }
    static I add_i(I a, I b) { return _mm512_add_epi32(a, b); }
    static F cvt_f(I v) { return _mm512_cvtepi32_ps(v); }
    static I low_nibbles(I v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0F)); }
    static I high_nibbles(I v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F)); }
    static I abs8(I v) { return _mm512_abs_epi8(v); }
    static I sign8(I a, I w) { return _mm512_mask_sub_epi8(a, _mm512_movepi8_mask(w), _mm512_setzero_si512(), a); }  // a * sign(w), w != 0
    static I maddubs_ones(I u8, I s8) { return _mm512_madd_epi16(_mm512_maddubs_epi16(u8, s8), _mm512_set1_epi16(1)); }
    DINO_INT8 static I dpbusd(I acc, I a, I w) { return _mm512_dpbusd_epi32(acc, a, w); }

    // 32 values to q8_0 + 128 (see quantize_row_q8).
    static void quantize_block(const float * x, uint8_t * q, float & d_out, int32_t & sum) {
        const F v0 = load(x), v1 = load(x + 16);
        const float amax = hmax(max(abs(v0), abs(v1)));
        const float d = amax / 127.0f;
        const F id = set1(d != 0.0f ? 1.0f / d : 0.0f);
        const I i0 = _mm512_cvtps_epi32(mul(v0, id)), i1 = _mm512_cvtps_epi32(mul(v1, id));
        sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1)) + 128 * 32;  // |x * id| <= 127: no saturation
        const __m128i bias = _mm_set1_epi8(char(0x80));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(q), _mm_xor_si128(_mm512_cvtsepi32_epi8(i0), bias));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(q + 16), _mm_xor_si128(_mm512_cvtsepi32_epi8(i1), bias));
        d_out = _mm512_cvtss_f32(_mm512_cvtph_ps(_mm512_cvtps_ph(set1(d), _MM_FROUND_TO_NEAREST_INT)));  // as stored: f16
    }
};

#include "../simd.inc"

bool vnni_supported() {
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 11));  // CPUID.7.0:ECX.AVX512_VNNI
}

}  // namespace
}  // namespace dino::kernels::avx512

namespace dino::kernels {
extern const isa_kernels avx512_kernels = {"avx512", avx512::vec::kRowsQ8, avx512::vec::kRowsF, false, avx512::vnni_supported,
                                           avx512::linear_rows, avx512::attention_rows, avx512::gelu,
                                           avx512::peak_probe};
}  // namespace dino::kernels
