// linear_op: one ViT-S/8 linear layer (q8_0/q4_0/f32 weights, bias) on ROWS tokens, computed REPS times
// on one thread, by our kernels or by ggml's ops (ggml_mul_mat + ggml_add): the unit that
// bench/arm64/count.sh counts instructions of under qemu, where arm64 code cannot be timed.  On
// hardware it also prints the layer's speed against the int8 or f32 peak the probe measures (one
// thread), the quickest way to see a microkernel change.
//   linear_op ours|ggml TYPE K N ROWS REPS
// and, for attention's share of an int8 model, one attention op (all heads of one sequence of T tokens):
//   linear_op attention f32|int8 DIM HEADS T REPS
#include "kernels.h"

#include "ggml-cpu.h"
#include "ggml.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

// Cheap pseudo-random values (an LCG): the set-up is counted too, and subtracted (REPS 0 or 1).
struct lcg {
    uint32_t state = 12345;
    float operator()() { return float(int32_t((state = state * 1664525u + 1013904223u) >> 8) - (1 << 23)) / float(1 << 23); }
};

// The graph's node computed reps times on one thread; false if a computation failed.
bool compute(ggml_context * ctx, ggml_tensor * y, int reps, double & check) {
    ggml_cgraph * gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, y);
    for (int r = 0; r < reps; ++r) {
        if (ggml_graph_compute_with_ctx(ctx, gf, 1) != GGML_STATUS_SUCCESS) return false;
        check += static_cast<const float *>(y->data)[r % ggml_nelements(y)];
    }
    return true;
}

int attention_main(const std::string & products, int64_t D, int64_t heads, int64_t T, int reps) {
    ggml_init_params params = {size_t(64) << 20, nullptr, false};
    ggml_context * ctx = ggml_init(params);
    ggml_tensor * qkv = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, 3 * D, T, 1);
    lcg next;
    for (int64_t i = 0; i < ggml_nelements(qkv); ++i) static_cast<float *>(qkv->data)[i] = next();
    const dino::kernels::attention_op op = dino::kernels::attention_kernel(
        D, int(heads), products == "int8" ? dino::kernels::attention_products::int8 : dino::kernels::attention_products::f32);
    if (op.heads == 0) {
        std::fprintf(stderr, "linear_op: no %s attention kernel here\n", products.c_str());
        return 1;
    }
    dino::kernels::op_node node;
    ggml_tensor * y = dino::kernels::attention(ctx, node, op, qkv);
    double check = 0;
    if (!compute(ctx, y, reps, check)) return 1;
    std::printf("attention %s D=%lld heads=%lld T=%lld reps=%d kernels=%s check=%.6g\n", products.c_str(), (long long) D,
                (long long) heads, (long long) T, reps, dino::kernels::isa_name() ? dino::kernels::isa_name() : "ggml", check);
    ggml_free(ctx);
    return 0;
}

int main(int argc, char ** argv) {
    if (argc != 7) {
        std::fprintf(stderr, "usage: linear_op ours|ggml q8_0|q5_0|q4_0|f32 K N ROWS REPS\n"
                             "       linear_op attention f32|int8 DIM HEADS T REPS\n");
        return 2;
    }
    const std::string path = argv[1], type_name = argv[2];
    if (path == "attention") return attention_main(type_name, std::atoll(argv[3]), std::atoll(argv[4]), std::atoll(argv[5]), std::atoi(argv[6]));
    const int64_t K = std::atoll(argv[3]), N = std::atoll(argv[4]), rows = std::atoll(argv[5]);
    const int reps = std::atoi(argv[6]);
    const ggml_type type = type_name == "q8_0" ? GGML_TYPE_Q8_0 : type_name == "q5_0" ? GGML_TYPE_Q5_0 : type_name == "q4_0" ? GGML_TYPE_Q4_0 : GGML_TYPE_F32;

    ggml_init_params params = {size_t(256) << 20, nullptr, false};
    ggml_context * ctx = ggml_init(params);
    ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K, rows);
    ggml_tensor * w32 = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, K, N);
    ggml_tensor * b = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, N);
    lcg next;
    for (int64_t i = 0; i < K * rows; ++i) static_cast<float *>(x->data)[i] = next();
    for (int64_t i = 0; i < K * N; ++i) static_cast<float *>(w32->data)[i] = 0.05f * next();
    for (int64_t i = 0; i < N; ++i) static_cast<float *>(b->data)[i] = 0.01f * next();
    ggml_tensor * w = w32;
    if (type != GGML_TYPE_F32) {
        w = ggml_new_tensor_2d(ctx, type, K, N);
        ggml_quantize_chunk(type, static_cast<const float *>(w32->data), w->data, 0, N, K, nullptr);
    }

    std::unique_ptr<dino::kernels::packed_linear> packed;
    dino::kernels::linear_op op;
    dino::kernels::op_node node;
    ggml_tensor * y;
    if (path == "ours") {
        packed = dino::kernels::pack(w);
        if (!packed) {
            std::fprintf(stderr, "linear_op: no kernel for %s here\n", type_name.c_str());
            return 1;
        }
        op.w = packed.get();
        y = dino::kernels::linear(ctx, node, op, x, b, nullptr, nullptr, nullptr);
    } else {
        y = ggml_add(ctx, ggml_mul_mat(ctx, w, x), b);
    }
    double check = 0;
    const auto start = std::chrono::steady_clock::now();
    if (!compute(ctx, y, reps, check)) return 1;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%s %s K=%lld N=%lld rows=%lld reps=%d kernels=%s check=%.6g\n", path.c_str(), type_name.c_str(),
                (long long) K, (long long) N, (long long) rows, reps,
                dino::kernels::isa_name() ? dino::kernels::isa_name() : "ggml", check);
    if (reps > 0 && std::getenv("LINEAR_OP_TIME")) {
        const double gops = 2.0 * double(K) * double(N) * double(rows) * reps / seconds / 1e9;
        const double peak = dino::kernels::peak_ops(type == GGML_TYPE_F32 ? 0 : 1, 1, 1.0) / 1e9;
        std::printf("%.2f ms/rep, %.1f GOP/s, peak %.1f GOP/s: %.0f %%\n", 1e3 * seconds / reps, gops, peak, 100 * gops / peak);
    }
    ggml_free(ctx);
    return 0;
}
