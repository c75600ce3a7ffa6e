// ggml_ops.cpp: the kernels as ggml custom ops (kernels.h: linear,
// attention), so they run inside the graph on ggml's thread pool.  Each op's
// threads take its units of work in turn from a counter (op_node).
#include "isa.h"

#include <algorithm>
#include <chrono>

namespace dino::kernels {

namespace {

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Runs take(node) until it returns false, and keeps the node's books: its timing when
// profiling, and the reset of its counter after the last thread.
template <class Take>
void share_out(op_node & node, int nth, Take && take) {
    const int64_t t0 = node.timing ? now_ns() : 0;
    while (take()) {}
    if (op_timing * t = node.timing) {
        const int64_t t1 = now_ns();
        for (int64_t v = t->start.load(); t0 < v && !t->start.compare_exchange_weak(v, t0);) {}
        for (int64_t v = t->end.load(); t1 > v && !t->end.compare_exchange_weak(v, t1);) {}
    }
    if (node.finished.fetch_add(1) + 1 == nth) {  // every thread is past its last take
        node.next = 0;
        node.finished = 0;
    }
}

// dst->src: x, bias, [norm_w, norm_b], [residual].  Units: runs of whole panels of rows (each
// thread quantizes only its own), at most kBlockPanels (the weights' reuse in L2), and guided:
// a thread takes a share of what is left, down to one panel at the end, so the threads finish
// within a panel of each other (equal units of 48 rows left up to one unit, 6%, to one thread).
void linear_forward(ggml_tensor * dst, int, int nth, void * userdata) {
    op_node & node = *static_cast<op_node *>(userdata);
    const linear_op & op = *static_cast<const linear_op *>(node.op);
    const ggml_tensor * x = dst->src[0];
    const bool norm = op.norm;
    const ggml_tensor * residual = dst->src[norm ? 4 : 2];
    const auto f = [](const ggml_tensor * t) { return t ? static_cast<const float *>(t->data) : nullptr; };
    const int64_t rows = ggml_nrows(x);
    const bool int8 = op.w->int8();
    const isa_kernels & k = *active().k;
    const int64_t panel = !int8 ? k.rows_float : active().vnni ? k.rows_int8_vnni : k.rows_int8;
    share_out(node, nth, [&] {
        const int64_t left = rows - node.next.load();
        const int64_t size = std::clamp<int64_t>(left / (2 * nth) / panel, 1, kBlockPanels) * panel;
        const int64_t r0 = node.next.fetch_add(size);
        if (left <= 0 || r0 >= rows) return false;
        linear_rows(op, f(x), norm ? f(dst->src[2]) : nullptr, norm ? f(dst->src[3]) : nullptr, f(dst->src[1]), f(residual),
                    static_cast<float *>(dst->data), r0, std::min(rows, r0 + size));
        return true;
    });
}

// Units: per sequence and head, nth slices of the queries (whole panels): each unit packs its
// head's keys and values once.
void attention_forward(ggml_tensor * dst, int, int nth, void * userdata) {
    op_node & node = *static_cast<op_node *>(userdata);
    const attention_op & op = *static_cast<const attention_op *>(node.op);
    const ggml_tensor * qkv = dst->src[0];
    const int64_t D = dst->ne[0], T = dst->ne[1], N = dst->ne[2], H = op.heads;
    const int64_t panel = active().k->rows_attention;
    const int64_t slice = ((T + nth - 1) / nth + panel - 1) / panel * panel, slices = (T + slice - 1) / slice;
    share_out(node, nth, [&] {
        const int64_t u = node.next++;
        if (u >= N * H * slices) return false;
        const int64_t n = u / (H * slices), h = u / slices % H, q0 = u % slices * slice;
        attention_rows(op, static_cast<const float *>(qkv->data) + n * T * 3 * D, D, T, h,
                       static_cast<float *>(dst->data) + n * T * D, q0, std::min(T, q0 + slice));
        return true;
    });
}

}  // namespace

ggml_tensor * attention(ggml_context * ctx, op_node & node, const attention_op & op, ggml_tensor * qkv) {
    if (!ggml_is_contiguous(qkv)) qkv = ggml_cont(ctx, qkv);
    ggml_tensor * args[1] = {qkv};
    node.op = &op;
    return ggml_custom_4d(ctx, GGML_TYPE_F32, qkv->ne[0] / 3, qkv->ne[1], qkv->ne[2], 1, args, 1, attention_forward,
                          GGML_N_TASKS_MAX, &node);
}

ggml_tensor * linear(ggml_context * ctx, op_node & node, const linear_op & op, ggml_tensor * x, ggml_tensor * bias,
                     ggml_tensor * norm_w, ggml_tensor * norm_b, ggml_tensor * residual) {
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
    node.op = &op;
    return ggml_custom_4d(ctx, GGML_TYPE_F32, op.w->n, x->ne[1], x->ne[2], x->ne[3], args, n, linear_forward,
                          GGML_N_TASKS_MAX, &node);
}

}  // namespace dino::kernels
