// ggml_ops.cpp: the kernels as ggml custom ops (kernels.h: linear,
// attention), so they run inside the graph on ggml's thread pool.  Each op
// splits its rows between the threads in whole microkernel panels.
#include "isa.h"

#include <algorithm>
#include <chrono>

namespace dino::kernels {

namespace {

// dst->src: x, bias, [norm_w, norm_b], [residual]
void linear_forward(ggml_tensor * dst, int ith, int nth, void * userdata) {
    const linear_op & op = *static_cast<const linear_op *>(userdata);
    const ggml_tensor * x = dst->src[0];
    const bool norm = op.norm;
    const ggml_tensor * residual = dst->src[norm ? 4 : 2];
    const auto f = [](const ggml_tensor * t) { return t ? static_cast<const float *>(t->data) : nullptr; };
    // Whole panels per thread, so every thread quantizes only its own rows.
    const int64_t rows = ggml_nrows(x);
    const bool int8 = op.w->fmt == packed_linear::format::q8 || op.w->fmt == packed_linear::format::q4;
    const int64_t panel = int8 ? active().k->rows_int8 : active().k->rows_float;
    const int64_t per_thread = (rows + nth - 1) / nth;
    const int64_t chunk = (per_thread + panel - 1) / panel * panel;
    const int64_t r0 = std::min(rows, ith * chunk), r1 = std::min(rows, r0 + chunk);
    if (r0 >= r1) return;
    linear_rows(op, f(x), norm ? f(dst->src[2]) : nullptr, norm ? f(dst->src[3]) : nullptr, f(dst->src[1]), f(residual),
                static_cast<float *>(dst->data), r0, r1);
}

void attention_forward(ggml_tensor * dst, int ith, int nth, void * userdata) {
    const attention_op & op = *static_cast<const attention_op *>(userdata);
    const ggml_tensor * qkv = dst->src[0];
    const int64_t D = dst->ne[0], T = dst->ne[1], N = dst->ne[2];
    // Each thread: its slice of the queries, whole panels, in every sequence and head.
    const int64_t rows = active().k->rows_float;
    const int64_t chunk = ((T + nth - 1) / nth + rows - 1) / rows * rows;
    const int64_t q0 = std::min(T, ith * chunk), q1 = std::min(T, q0 + chunk);
    if (q0 < q1) attention_rows(op, static_cast<const float *>(qkv->data), D, T, N, static_cast<float *>(dst->data), q0, q1);
}

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// F, timed: userdata is an op_timing whose op is F's userdata.
template <void (*F)(ggml_tensor *, int, int, void *)>
void timed(ggml_tensor * dst, int ith, int nth, void * userdata) {
    op_timing & t = *static_cast<op_timing *>(userdata);
    const int64_t t0 = now_ns();
    F(dst, ith, nth, const_cast<void *>(t.op));
    const int64_t t1 = now_ns();
    for (int64_t v = t.start.load(); t0 < v && !t.start.compare_exchange_weak(v, t0);) {}
    for (int64_t v = t.end.load(); t1 > v && !t.end.compare_exchange_weak(v, t1);) {}
}

}  // namespace

ggml_tensor * attention(ggml_context * ctx, const attention_op & op, ggml_tensor * qkv, op_timing * timing) {
    if (!ggml_is_contiguous(qkv)) qkv = ggml_cont(ctx, qkv);
    ggml_tensor * args[1] = {qkv};
    if (timing) timing->op = &op;
    return ggml_custom_4d(ctx, GGML_TYPE_F32, qkv->ne[0] / 3, qkv->ne[1], qkv->ne[2], 1, args, 1,
                          timing ? timed<attention_forward> : attention_forward, GGML_N_TASKS_MAX,
                          timing ? static_cast<void *>(timing) : const_cast<attention_op *>(&op));
}

ggml_tensor * linear(ggml_context * ctx, const linear_op & op, ggml_tensor * x, ggml_tensor * bias,
                     ggml_tensor * norm_w, ggml_tensor * norm_b, ggml_tensor * residual, op_timing * timing) {
    if (!ggml_is_contiguous(x)) x = ggml_cont(ctx, x);
    ggml_tensor * args[5];
    int n = 0;
    args[n++] = x;
    args[n++] = bias;
    if (op.norm) {
        args[n++] = norm_w;
        args[n++] = norm_b;
    }
    if (residual) args[n++] = residual;
    if (timing) timing->op = &op;
    return ggml_custom_4d(ctx, GGML_TYPE_F32, op.w->n, x->ne[1], x->ne[2], x->ne[3], args, n,
                          timing ? timed<linear_forward> : linear_forward, GGML_N_TASKS_MAX,
                          timing ? static_cast<void *>(timing) : const_cast<linear_op *>(&op));
}

}  // namespace dino::kernels
