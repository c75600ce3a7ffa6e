// dispatch.cpp: which build of the kernels runs here (chosen once, from the
// CPU family's select_isa and DINO_KERNELS) and the entry points that forward
// to it.  Built for the baseline ISA, so one libdino serves every CPU of its
// family and picks at run time.
#include "isa.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>
#include <vector>

namespace dino::kernels {

#if !DINO_KERNELS_X86 && !DINO_KERNELS_ARM64
selection select_isa(const std::string &) { return {}; }  // no kernels for this CPU family yet
std::vector<std::string> forced_names() { return {}; }
#endif

std::string forced_error() {
    const char * env = std::getenv("DINO_KERNELS");
    if (!env || !*env || std::string(env) == "ggml") return "";
    std::string valid = "ggml";
    for (const std::string & n : forced_names()) {
        if (n == env) return "";
        valid += ", " + n;
    }
    std::string shown;  // printable ASCII only: the value goes to terminals and logs
    for (const char * c = env; *c && shown.size() < 40; ++c) shown += (*c >= 0x20 && *c < 0x7F) ? *c : '?';
    return "DINO_KERNELS='" + shown + "' is not a build of the kernels here; use one of: " + valid + " (or unset it for the best this CPU runs)";
}

const selection & active() {
    static const selection s = [] {
        // DINO_KERNELS=ggml: ggml's own ops (to compare); anything else is the family's to read.
        const char * env = std::getenv("DINO_KERNELS");
        const std::string forced = env ? env : "";
        return forced == "ggml" ? selection{} : select_isa(forced);
    }();
    return s;
}

bool cpu_supported() { return active().k != nullptr; }

bool int8_vnni() { return active().vnni; }

const char * isa_name() { return active().k ? active().k->name : nullptr; }

void linear_rows(const linear_op & op, const float * x, const float * norm_w, const float * norm_b,
                 const float * bias, const float * residual, float * y, int64_t row_begin, int64_t row_end) {
    active().k->linear_rows(op, active().vnni, x, norm_w, norm_b, bias, residual, y, row_begin, row_end);  // pack() said yes
}

attention_op attention_kernel(int64_t dim, int heads, attention_products products) {
    attention_op op;
    if (heads <= 0 || dim % heads != 0 || (dim / heads) % kTile != 0 || !cpu_supported()) return op;
    if (products == attention_products::bf16 && !active().k->bf16_supported()) return op;
    if (products == attention_products::int8 && (dim / heads) % kBlock != 0) return op;  // q8_0 blocks along head_dim
    op.bf16 = products == attention_products::bf16;
    op.int8 = products == attention_products::int8;
    op.vnni = active().vnni;
    op.heads = heads;
    op.scale = 1.0f / std::sqrt(float(dim / heads));  // ref: self.scale = head_dim ** -0.5
    return op;
}

bool int8_attention_by_default() { return active().k && active().k->int8_attention_by_default; }

void attention_rows(const attention_op & op, const float * qkv, int64_t dim, int64_t tokens, int64_t head,
                    float * out, int64_t q_begin, int64_t q_end) {
    active().k->attention_rows(op, qkv, dim, tokens, head, out, q_begin, q_end);  // attention_kernel() said yes
}

double peak_ops(int kind, int n_threads, double seconds) {
    const selection & s = active();
    if (!s.k || n_threads < 1 || (kind == 2 && !s.k->bf16_supported())) return 0;
    if (s.k->peak_probe(kind, s.vnni, 1) == 0) return 0;  // no probe for this kind here
    // Every thread runs rounds of the probe until the time is up; the total over the wall time.
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    const auto stop = t0 + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(seconds));
    std::vector<double> ops(size_t(n_threads), 0.0);
    std::vector<std::thread> threads;
    for (int t = 0; t < n_threads; ++t) {
        threads.emplace_back([&, t] {
            while (clock::now() < stop) ops[size_t(t)] += s.k->peak_probe(kind, s.vnni, 1 << 16);
        });
    }
    for (std::thread & t : threads) t.join();
    double total = 0;
    for (double o : ops) total += o;
    return total / std::chrono::duration<double>(clock::now() - t0).count();
}

void gelu(const float * x, float * y, int64_t n) {
    if (active().k) return active().k->gelu(x, y, n);
    for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * std::erfc(-x[i] * 0.70710678118654752f);
}

}  // namespace dino::kernels
