// options.cpp: defaults and ranges of the internal options (options.h), and
// how many threads "all" is here.
#include "options.h"

#include "errors.h"
#include "model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#elif defined(_WIN32)
#include <windows.h>
#endif

namespace dino {

namespace {

#if defined(__linux__)
// A cgroup v2 CPU quota ("cpu.max": "<quota> <period>" or "max <period>"), in whole CPUs
// rounded up, or 0 where none applies.  .NET's Environment.ProcessorCount honours it too.
int32_t cgroup_cpus() {
    FILE * f = std::fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!f) return 0;
    char quota[32] = {0};
    long long period = 0;
    const int got = std::fscanf(f, "%31s %lld", quota, &period);
    std::fclose(f);
    if (got != 2 || period <= 0 || std::string_view(quota) == "max") return 0;
    const double q = std::atof(quota);
    return q > 0 ? int32_t(std::ceil(q / double(period))) : 0;
}
#endif

}  // namespace

int32_t usable_threads() {
    int32_t n = 0;
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
    if (const int32_t q = cgroup_cpus(); q > 0 && (n == 0 || q < n)) n = q;
#elif defined(_WIN32)
    n = int32_t(GetActiveProcessorCount(ALL_PROCESSOR_GROUPS));
#endif
    if (n <= 0) n = int32_t(std::thread::hardware_concurrency());
    return std::clamp<int32_t>(n, 1, kMaxThreads);
}

int32_t resolve_threads(int32_t n) {
    if (n < 0 || n > kMaxThreads) {
        fail(DINO_ERR_INVALID_ARGUMENT, "the thread count %d is out of range (0 = all cores, or 1 to %d)", n, kMaxThreads);
    }
    return n == 0 ? usable_threads() : n;
}

context_options context_options::resolved(const dino_model & model) const {
    context_options o = *this;
    o.n_threads = resolve_threads(n_threads);
    if (o.attention == attention_kind::automatic) o.attention = model.default_attention();
    if (o.pos == pos_interp::model) o.pos = model.hp.pos;
    return o;
}

}  // namespace dino
