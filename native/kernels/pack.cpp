// pack.cpp: linear weights in the microkernels' layouts (kernels.h:
// packed_linear), made once at load.
#include "isa.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#if defined(_WIN32)
#include <malloc.h>
#endif

namespace dino::kernels {

namespace {

// 64-byte aligned (one cache line, one AVX-512 load), released by free_aligned.
void * alloc_aligned(size_t bytes) {
#if defined(_WIN32)
    return _aligned_malloc(bytes, 64);  // Windows' C runtime has no aligned_alloc
#else
    return std::aligned_alloc(64, (bytes + 63) / 64 * 64);  // the size must be a multiple of the alignment
#endif
}

void free_aligned(void * p) {
#if defined(_WIN32)
    _aligned_free(p);
#else
    std::free(p);
#endif
}

}  // namespace

packed_linear::~packed_linear() { free_aligned(data); }

namespace {

// The block types that run as int8 weights: q8_0 and q5_0 in the q8 layout, q4_0 in the q4 one.
bool int8_type(ggml_type type) { return type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q5_0 || type == GGML_TYPE_Q4_0; }

// One 32-value block's f16 scale and its values as int8, from any int8_type.
// ref: ggml's dequantize_row_q8_0, _q5_0 (5-bit: the low nibbles plus one high bit each from qh,
// offset 16) and _q4_0 (low nibbles are values 0..15, high nibbles 16..31, offset 8).
void block_values(ggml_type type, const uint8_t * blk, ggml_fp16_t & d16, int8_t q[kBlock]) {
    std::memcpy(&d16, blk, 2);
    if (type == GGML_TYPE_Q8_0) {
        std::memcpy(q, blk + 2, kBlock);
    } else if (type == GGML_TYPE_Q5_0) {
        uint32_t qh;
        std::memcpy(&qh, blk + 2, 4);
        for (int j = 0; j < kBlock / 2; ++j) {
            q[j] = int8_t(((blk[6 + j] & 0x0F) | (((qh >> j) << 4) & 0x10)) - 16);
            q[j + kBlock / 2] = int8_t(((blk[6 + j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16);
        }
    } else {
        for (int j = 0; j < kBlock / 2; ++j) {
            q[j] = int8_t((blk[2 + j] & 0x0F) - 8);
            q[j + kBlock / 2] = int8_t((blk[2 + j] >> 4) - 8);
        }
    }
}

// Lays one 32-value block of column c (0..15) of a tile into blk, the block's bytes, in the layout
// this CPU's int8 kernels read (isa.h: groups4 or pairs8; q4: w + 8 in nibbles); returns sum(q).
int32_t put_block(uint8_t * blk, int64_t c, const int8_t q[kBlock], bool q4, bool pairs8, bool halves) {
    int32_t sum = 0;
    for (int j = 0; j < kBlock; ++j) {
        if (!pairs8) {  // groups4: group g = j / 4 is [16 columns x 4 K], 64 bytes
            const int g = j / 4;
            const int64_t at = groups4_at(c, j % 4, halves);
            if (!q4) blk[g * 64 + at] = uint8_t(q[j]);
            else blk[(g / 2) * 64 + at] |= uint8_t((q[j] + 8) << (g % 2 ? 4 : 0));
        } else {  // pairs8: K 8i..8i+7 as [16 columns x 8 K], 128 bytes (q4: columns 8-15 high)
            const int i = j / 8;
            if (!q4) blk[i * 128 + c * 8 + j % 8] = uint8_t(q[j]);
            else blk[i * 64 + (c % 8) * 8 + j % 8] |= uint8_t((q[j] + 8) << (c >= 8 ? 4 : 0));
        }
        sum += q[j];
    }
    return sum;
}

// q / 2 to nearest, ties to even (in integers: the same on every CPU): 127 -> 64, -3 -> -2, 1 -> 0.
int half_to_even(int q) {
    const int h = q >> 1;  // floor(q / 2)
    return (q & 1) && (h & 1) ? h + 1 : h;
}

}  // namespace

bool reserve_q8(packed_linear & p, int64_t N, int64_t K) {
    const size_t values = size_t(N * K), per_block = size_t(N * (K / kBlock)) * 4, bytes = values + 2 * per_block;
    if (p.capacity < bytes) {
        free_aligned(p.data);
        p.data = alloc_aligned(bytes);
        p.capacity = p.data ? bytes : 0;
        if (!p.data) return false;
    }
    p.fmt = packed_linear::format::q8;
    p.narrow = false;
    p.n = N;
    p.k = K;
    p.bytes = bytes;
    p.scales = reinterpret_cast<float *>(static_cast<uint8_t *>(p.data) + values);
    p.offsets = reinterpret_cast<float *>(static_cast<uint8_t *>(p.data) + values + per_block);
    return true;
}

bool can_pack(ggml_type type, int64_t K, int64_t N) {
    const bool int8 = int8_type(type);
    if (!int8 && type != GGML_TYPE_F32 && type != GGML_TYPE_F16) return false;
    if (K <= 0 || N <= 0 || N % kTile != 0 || (int8 && K % kBlock != 0)) return false;
    return cpu_supported();
}

std::unique_ptr<packed_linear> pack(const ggml_tensor * w, bool seven_bit) {
    const int64_t K = w->ne[0], N = w->ne[1];
    if (ggml_n_dims(w) != 2 || !ggml_is_contiguous(w) || !can_pack(w->type, K, N)) return nullptr;
    const bool int8 = int8_type(w->type);

    auto p = std::make_unique<packed_linear>();
    p->n = N;
    p->k = K;
    const int64_t KB = K / kBlock;
    if (int8) {
        const bool q4 = w->type == GGML_TYPE_Q4_0;
        p->fmt = q4 ? packed_linear::format::q4 : packed_linear::format::q8;
        const size_t values = size_t(N * K) / (q4 ? 2 : 1), per_block = size_t(N * KB) * 4;
        p->bytes = p->capacity = values + 2 * per_block;
        p->data = alloc_aligned(p->bytes);
        if (!p->data) return nullptr;
        std::memset(p->data, 0, values);
        p->scales = reinterpret_cast<float *>(static_cast<uint8_t *>(p->data) + values);
        p->offsets = reinterpret_cast<float *>(static_cast<uint8_t *>(p->data) + values + per_block);
        uint8_t * qs = static_cast<uint8_t *>(p->data);
        const bool pairs8 = active().k->int8_pairs8, halves = active().k->int8_halves;
        const size_t row_bytes = ggml_row_size(w->type, K), block_bytes = ggml_type_size(w->type);
        int largest = 0;  // |q|
        for (int64_t n = 0; n < N; ++n) {
            const uint8_t * row = static_cast<const uint8_t *>(w->data) + size_t(n) * row_bytes;
            const int64_t t = n / kTile, c = n % kTile;
            for (int64_t b = 0; b < KB; ++b) {
                int8_t q[kBlock];
                ggml_fp16_t d16;
                block_values(w->type, row + size_t(b) * block_bytes, d16, q);
                float d = ggml_fp16_to_fp32(d16);
                if (seven_bit && w->type == GGML_TYPE_Q8_0 && std::any_of(q, q + kBlock, [](int8_t v) { return std::abs(int(v)) > kNarrowLimit; })) {
                    for (int j = 0; j < kBlock; ++j) q[j] = int8_t(half_to_even(q[j]));
                    d *= 2;  // (exact)
                }
                for (int j = 0; j < kBlock; ++j) largest = std::max(largest, std::abs(int(q[j])));
                const int64_t base = t * KB + b;
                const int32_t sum = put_block(qs + base * (q4 ? kBlock * kTile / 2 : kBlock * kTile), c, q, q4, pairs8, halves);
                p->scales[base * kTile + c] = d;
                p->offsets[base * kTile + c] = d * float(-128 * sum);
            }
        }
        p->narrow = !q4 && largest <= kNarrowLimit;
    } else {
        const bool f16 = w->type == GGML_TYPE_F16;
        p->fmt = f16 ? packed_linear::format::f16 : packed_linear::format::f32;
        const size_t elem = f16 ? 2 : 4;
        p->bytes = size_t(N * K) * elem;
        p->data = alloc_aligned(p->bytes);
        if (!p->data) return nullptr;
        for (int64_t n = 0; n < N; ++n) {
            const uint8_t * row = static_cast<const uint8_t *>(w->data) + size_t(n * K) * elem;
            uint8_t * dst = static_cast<uint8_t *>(p->data) + size_t((n / kTile) * K * kTile + n % kTile) * elem;
            for (int64_t k = 0; k < K; ++k) std::memcpy(dst + size_t(k * kTile) * elem, row + size_t(k) * elem, elem);
        }
    }
    return p;
}

}  // namespace dino::kernels
