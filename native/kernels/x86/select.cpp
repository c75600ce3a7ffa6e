// x86/select.cpp: which x86 build of the kernels this CPU runs (isa.h), from
// CPUID and XGETBV (the OS must save the vector registers too).
#include "../isa.h"

#include <cpuid.h>

namespace dino::kernels {

std::vector<std::string> forced_names() { return {"avx512", "avx512-novnni", "avx2", "avx2-novnni"}; }

selection select_isa(const std::string & forced) {
    // forced "avx2": the AVX2 build even on AVX-512 CPUs; "...novnni": int8 without VNNI
    // even where it exists (tests: avx2-novnni, avx512-novnni).
    const bool vnni_allowed = forced.find("novnni") == std::string::npos;
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return {};
    const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
    if (!osxsave || !avx) return {};
    uint32_t xlo, xhi;  // XCR0: which register files the OS saves
    __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    const bool ymm = (xlo & 0x06) == 0x06, zmm = (xlo & 0xE6) == 0xE6;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return {};
    const bool avx2 = b & (1u << 5), avx512 = (b & (1u << 16)) && (b & (1u << 17)) && (b & (1u << 30)) && (b & (1u << 31));  // F DQ BW VL
    if (forced.rfind("avx2", 0) != 0 && zmm && avx512) return {&avx512_kernels, vnni_allowed && avx512_kernels.vnni_supported()};
    if (ymm && avx2 && fma && f16c) return {&avx2_kernels, vnni_allowed && avx2_kernels.vnni_supported()};
    return {};
}

}  // namespace dino::kernels
