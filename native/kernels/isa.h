// isa.h: inside the kernels wing.  What each instruction set's build of the
// kernels provides (simd.inc compiled for that ISA: x86/avx512.cpp,
// x86/avx2.cpp; arm64/neon.cpp, dotprod.cpp, i8mm.cpp) and how a CPU family
// picks one (x86/select.cpp, arm64/select.cpp).  Each family is a folder with
// its ISA files and its select.cpp.
#pragma once

#include "kernels.h"

#include <string>
#include <vector>

namespace dino::kernels {

constexpr int64_t kTile = 16;   // output columns per tile of the packed layouts
constexpr int64_t kBlock = 32;  // q8_0 / q4_0 block along K
constexpr int64_t kBlockPanels = 8;  // a linear op's unit of work: this many microkernel panels of rows (simd.inc)

// int8 weights (kernels.h: packed_linear), per tile and 32-wide K block, in one of two layouts:
//   groups4: 8 groups of [16 columns x 4 K] (64 bytes): a column's 4 bytes in one 32-bit lane, for
//            one-row dot products (vpdpbusd, maddubs, sdot); q4: groups 2i, 2i+1 in the low and
//            high nibbles of 64 bytes.  In halves (NEON without sdot): each 16 bytes (4 columns)
//            hold K 0-1 of the 4 columns, then K 2-3, so that smull of the low half and smlal2 of
//            the high one leave a column's 4 products in two adjacent int16 lanes (build.inc).
//   pairs8:  4 runs of [16 columns x 8 K] (128 bytes): a column pair's 16 bytes in one register,
//            for 2 x 2 matrix products (smmla); q4: columns 0-7 low, 8-15 high nibbles of 64 bytes.

struct isa_kernels {
    const char * name;                 // "avx512", "avx2", "i8mm", "dotprod", "neon"
    int rows_int8, rows_int8_vnni, rows_float, rows_attention;  // microkernel heights: threads take whole panels
    bool int8_pairs8;                  // int8 weights in the pairs8 layout (pack.cpp), else groups4
    bool int8_halves;                  // groups4 in halves (above)
    bool (*vnni_supported)();          // this CPU has the ISA's VNNI (else int8 uses maddubs)
    bool (*bf16_supported)();          // this CPU has the ISA's bf16 dot products (attention_op.bf16)
    bool int8_attention_by_default;    // int8 models' attention in int8 where bf16 is not available (simd.inc says why)
    void (*linear_rows)(const linear_op & op, bool vnni, const float * x, const float * norm_w, const float * norm_b,
                        const float * bias, const float * residual, float * y, int64_t row_begin, int64_t row_end);
    void (*attention_rows)(const attention_op & op, const float * qkv, int64_t dim, int64_t tokens,
                           int64_t head, float * out, int64_t q_begin, int64_t q_end);
    void (*gelu)(const float * x, float * y, int64_t n);
    double (*peak_probe)(int kind, bool vnni, int64_t n);  // kernels.h: peak_ops
};

// Where column c (0-15) of a tile keeps K value k (0-3) of a groups4 group (64 bytes), plain or in halves.
constexpr int64_t groups4_at(int64_t c, int k, bool halves) {
    return halves ? (c / 4) * 16 + (k / 2) * 8 + (c % 4) * 2 + k % 2 : c * 4 + k;
}

// Room in p for q8 weights of N x K (either layout), its memory reused where large enough: p's
// format, sizes, scales and offsets set, its values to be written (int8 attention packs each head's
// keys and values so, simd/attention_int8.inc).  False when out of memory.
bool reserve_q8(packed_linear & p, int64_t N, int64_t K);

// The build that runs here and how its int8 path runs.
struct selection {
    const isa_kernels * k = nullptr;  // null: ggml's ops
    bool vnni = false;                // int8 dot products by VNNI (else maddubs)
};

// This CPU family's choice for this CPU.  forced: DINO_KERNELS without "ggml"
// (e.g. "avx2", "avx512-novnni", "neon", "dotprod"), empty for the best build.  Families without
// kernels return {}.
selection select_isa(const std::string & forced);

// The DINO_KERNELS values this family takes besides "ggml" (forced builds: "avx2", "neon", ...).
std::vector<std::string> forced_names();

// The build that runs in this process (chosen once).
const selection & active();

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DINO_KERNELS_X86 1
extern const isa_kernels avx512_kernels;
extern const isa_kernels avx2_kernels;
#else
#define DINO_KERNELS_X86 0
#endif

#if defined(__aarch64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define DINO_KERNELS_ARM64 1
extern const isa_kernels i8mm_kernels;
extern const isa_kernels dotprod_kernels;
extern const isa_kernels neon_kernels;
#else
#define DINO_KERNELS_ARM64 0
#endif

}  // namespace dino::kernels
