// Linked into both native test programs.  Run with DINO_KERNELS forcing an x86 build this CPU cannot
// run, the library falls back to one it can, so the tests would test another build and say passed:
// instead the program says why and exits with 77, which CTest reports as "Skipped"
// (SKIP_RETURN_CODE, tests/native/CMakeLists.txt).  arm64's forced builds are left to fail (CTest's
// kernels_*_refused_* runs expect exactly that).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

constexpr int kSkipped = 77;  // CTest's SKIP_RETURN_CODE (and automake's)

// The forced build, if this CPU lacks its instructions; else empty.  (CPUID as x86/select.cpp reads
// it, by the compiler's own detection: an independent check.)
std::string unavailable_forced_build() {
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
    const char * k = std::getenv("DINO_KERNELS");
    const std::string forced = k ? k : "";
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
    if ((forced.rfind("avx512", 0) == 0 && !avx512) || (forced.rfind("avx2", 0) == 0 && !avx2)) return forced;
#endif
    return "";
}

struct forced_build_check : ::testing::Environment {
    void SetUp() override {
        const std::string forced = unavailable_forced_build();
        if (forced.empty()) return;
        std::printf("[  SKIPPED ] every test: DINO_KERNELS=%s, a build this CPU cannot run\n", forced.c_str());
        std::fflush(stdout);
        std::exit(kSkipped);
    }
};

const ::testing::Environment * const registered = ::testing::AddGlobalTestEnvironment(new forced_build_check);

}  // namespace
