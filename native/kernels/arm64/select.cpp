// arm64/select.cpp: which arm64 build of the kernels this CPU runs (isa.h),
// from the features the kernel reports (getauxval: AT_HWCAP, AT_HWCAP2).
#include "../isa.h"

#include <sys/auxv.h>

// From <asm/hwcap.h>, for C libraries whose headers predate them.
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif

namespace dino::kernels {

std::vector<std::string> forced_names() { return {"i8mm", "dotprod", "neon"}; }

selection select_isa(const std::string & forced) {
    // forced "neon" or "dotprod": that build even where a better one runs (tests); a build whose
    // instructions this CPU lacks is never chosen, forced or not.
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    if (!(hw & HWCAP_ASIMD)) return {};
    const bool dotprod = hw & HWCAP_ASIMDDP, i8mm = dotprod && (hw2 & HWCAP2_I8MM);
    if (i8mm && forced != "neon" && forced != "dotprod") return {&i8mm_kernels, false};
    if (dotprod && forced != "neon") return {&dotprod_kernels, false};
    return {&neon_kernels, false};
}

}  // namespace dino::kernels
