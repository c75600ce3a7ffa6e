// libFuzzer target: arbitrary bytes as a model file through dino_model_load,
// and any file that loads through one dino_compute.  Built with clang's
// AddressSanitizer and UndefinedBehaviorSanitizer (-DDINO_FUZZ=ON).
//
//   bounded run (scripts/test.sh, ctest fuzz_smoke): about a minute
//   by hand: build-fuzz/dino_fuzz_load build-fuzz/fuzz-corpus tests/fuzz/corpus -max_len=65536 -max_total_time=600
#include "dino.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

const std::string & scratch_path() {
    static const std::string p = "/dev/shm/dino-fuzz-" + std::to_string(getpid()) + ".gguf";
    return p;
}

void run_once(const dino_model * m) {
    dino_model_info info{};
    if (dino_model_get_info(m, &info) != DINO_OK) __builtin_trap();  // a loaded model always has info
    const int p = info.patch_size;
    dino_context_params cp = dino_context_default_params();
    cp.n_threads = 1;
    cp.max_memory_mb = 256;
    dino_context * ctx = nullptr;
    if (dino_context_new(m, &cp, &ctx) != DINO_OK) return;
    std::vector<float> pixels(size_t(3) * p * p * 2, 0.5f);  // the smallest input: one patch, two images
    std::vector<float> cls(size_t(info.embedding_length) * 2);
    std::vector<float> attn(size_t(info.head_count) * 2 * 2 * 2);
    dino_outputs o = dino_outputs_default();
    o.cls = cls.data();
    o.cls_capacity = cls.size();
    o.attention = attn.data();
    o.attention_capacity = attn.size();
    o.attention_full = true;
    dino_compute(ctx, pixels.data(), 2, p, p, &o);
    dino_context_free(ctx);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    dino_log_set(nullptr, nullptr);  // quiet: the fuzzer's own output is what matters
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t * data, size_t size) {
    FILE * f = fopen(scratch_path().c_str(), "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    dino_model * m = nullptr;
    if (dino_model_load(scratch_path().c_str(), nullptr, &m) == DINO_OK) {
        run_once(m);
        dino_model_free(m);
    } else if (m != nullptr || dino_last_error()[0] == '\0') {
        __builtin_trap();  // a failure must leave no model and say why
    }
    return 0;
}
