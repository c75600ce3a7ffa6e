// dino.cpp: the C API (dino.h).  Every entry point catches everything and
// turns it into a status and a thread-local message.
#include "dino.h"

#include "errors.h"
#include "model.h"

#include "ggml-cpu.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>

#ifndef DINO_VERSION
#define DINO_VERSION "0.1.0"
#endif

namespace {

thread_local std::string g_last_error;

std::mutex g_log_mutex;
dino_log_callback g_log_callback = nullptr;
void * g_log_user_data = nullptr;
bool g_log_default = true;  // until dino_log_set: warnings and errors to stderr

void emit(int32_t level, const char * text) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (g_log_callback) {
        g_log_callback(level, text, g_log_user_data);
    } else if (g_log_default && level >= DINO_LOG_WARN) {
        fprintf(stderr, "dino: %s%s", text, text[0] && text[strlen(text) - 1] == '\n' ? "" : "\n");
    }
}

void ggml_logger(ggml_log_level level, const char * text, void *) {
    // GGML_LOG_LEVEL_CONT continues the previous line; report it at info level.
    const int32_t l = level == GGML_LOG_LEVEL_DEBUG ? DINO_LOG_DEBUG
                    : level == GGML_LOG_LEVEL_WARN  ? DINO_LOG_WARN
                    : level == GGML_LOG_LEVEL_ERROR ? DINO_LOG_ERROR : DINO_LOG_INFO;
    emit(l, text);
}

// Runs f, mapping exceptions to statuses and messages.
template <typename F> dino_status guarded(F && f) {
    try {
        g_last_error.clear();
        f();
        return DINO_OK;
    } catch (const dino::error & e) {
        g_last_error = e.what();
        return e.status;
    } catch (const std::bad_alloc &) {
        g_last_error = "out of memory";
        return DINO_ERR_OUT_OF_MEMORY;
    } catch (const std::exception & e) {
        g_last_error = std::string("internal error: ") + e.what();
        return DINO_ERR_INTERNAL;
    } catch (...) {
        g_last_error = "internal error: unknown exception";
        return DINO_ERR_INTERNAL;
    }
}

void require(bool ok, const char * what) {
    if (!ok) dino::fail(DINO_ERR_INVALID_ARGUMENT, "%s", what);
}

// Checks an optional output buffer against the floats it must hold.
void check_capacity(const float * p, size_t capacity, int64_t need, const char * name) {
    if (p && capacity < uint64_t(need)) {
        dino::fail(DINO_ERR_INVALID_ARGUMENT, "outputs.%s holds %zu floats, %lld are needed", name, capacity, (long long) need);
    }
}

}  // namespace

namespace dino {

std::string format(const char * fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    const int n = vsnprintf(nullptr, 0, fmt, ap);
    va_end(ap);
    std::string s(n > 0 ? size_t(n) : 0, '\0');
    if (n > 0) vsnprintf(s.data(), size_t(n) + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

void fail(dino_status status, const char * fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    throw error(status, buf);
}

void log(dino_log_level level, const char * fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit(level, buf);
}

void install_ggml_logger() {
    static std::once_flag once;
    std::call_once(once, [] { ggml_log_set(ggml_logger, nullptr); });
}

void check_ggml_version() {
    // Built against ggml 0.18 (headers are ABI-compatible with it, not with every release):
    // refuse to run on another line rather than misread its structs.
    const char * v = ggml_version();
    if (strncmp(v, "0.18.", 5) != 0) {
        fail(DINO_ERR_UNSUPPORTED, "libdino needs ggml 0.18.x but loaded ggml %s (%s); install the ggml libraries it was built with",
             v, ggml_commit());
    }
}

}  // namespace dino

// ---- library -------------------------------------------------------------------

const char * dino_last_error(void) { return g_last_error.c_str(); }

const char * dino_version(void) {
    static const std::string v = dino::format("dino %s; ggml %s (%s)", DINO_VERSION, ggml_version(), ggml_commit());
    return v.c_str();
}

void dino_log_set(dino_log_callback callback, void * user_data) {
    dino::install_ggml_logger();
    std::lock_guard<std::mutex> lock(g_log_mutex);
    g_log_callback = callback;
    g_log_user_data = user_data;
    g_log_default = false;
}

// ---- model ---------------------------------------------------------------------

dino_model_params dino_model_default_params(void) {
    dino_model_params p{};
    p.check_values = true;
    return p;
}

dino_status dino_model_load(const char * path, const dino_model_params * params, dino_model ** out_model) {
    return guarded([&] {
        require(out_model != nullptr, "out_model is NULL");
        *out_model = nullptr;
        require(path != nullptr && path[0] != '\0', "path is NULL or empty");
        dino::install_ggml_logger();
        dino::check_ggml_version();
        const dino_model_params p = params ? *params : dino_model_default_params();
        *out_model = dino_model::load(path, p);
    });
}

void dino_model_free(dino_model * model) { delete model; }

dino_status dino_model_get_info(const dino_model * model, dino_model_info * out) {
    return guarded([&] {
        require(model != nullptr && out != nullptr, "model or out_info is NULL");
        dino_model_info i{};
        snprintf(i.name, sizeof i.name, "%s", model->name.c_str());
        snprintf(i.weight_type, sizeof i.weight_type, "%s", model->weight_types.c_str());
        snprintf(i.kernels, sizeof i.kernels, "%s", model->kernels().c_str());
        const dino::hparams & h = model->hp;
        i.embedding_length = h.dim;
        i.block_count = h.depth;
        i.head_count = h.heads;
        i.feed_forward_length = h.mlp;
        i.patch_size = h.patch;
        i.image_size = h.image;
        i.layer_norm_eps = h.eps;
        i.parameter_count = model->n_params;
        i.weight_bytes = int64_t(model->weight_bytes());
        const dino::preprocess & p = model->pp;
        i.preprocess_resize = p.resize;
        i.preprocess_resize_shortest_edge = p.shortest_edge;
        i.preprocess_crop = p.crop;
        i.preprocess_resample = p.resample;
        i.preprocess_rescale = p.rescale;
        for (int c = 0; c < 3; ++c) {
            i.preprocess_mean[c] = p.mean[c];
            i.preprocess_std[c] = p.std[c];
        }
        *out = i;
    });
}

int32_t dino_model_tensor_count(const dino_model * model) {
    return model ? int32_t(model->file.tensors.size()) : 0;
}

dino_status dino_model_tensor_info(const dino_model * model, int32_t index, dino_tensor_info * out) {
    return guarded([&] {
        require(model != nullptr && out != nullptr, "model or out_info is NULL");
        if (index < 0 || size_t(index) >= model->file.tensors.size()) {
            dino::fail(DINO_ERR_INVALID_ARGUMENT, "tensor index %d is out of range (0 to %zu)", index, model->file.tensors.size());
        }
        const dino::gguf_tensor_info & t = model->file.tensors[size_t(index)];
        dino_tensor_info i{};
        snprintf(i.name, sizeof i.name, "%s", t.name.c_str());
        snprintf(i.type, sizeof i.type, "%s", ggml_type_name(ggml_type(t.type)));
        i.n_dims = int32_t(t.n_dims);
        for (int d = 0; d < 4; ++d) i.ne[d] = t.ne[d];
        i.nbytes = int64_t(t.nbytes);
        *out = i;
    });
}

int32_t dino_model_token_count(const dino_model * model, int32_t height, int32_t width) {
    if (!model) return 0;
    const int32_t p = model->hp.patch;
    if (height < p || width < p || height % p || width % p) return 0;
    const int64_t t = 1 + int64_t(height / p) * (width / p);
    return t > INT32_MAX ? 0 : int32_t(t);
}

// ---- context -------------------------------------------------------------------

dino_context_params dino_context_default_params(void) {
    dino_context_params p{};
    p.n_threads = 0;
    p.pos_interp = DINO_POS_INTERP_DINO;
    p.attention_kernel = DINO_ATTENTION_AUTO;
    p.max_memory_mb = 8192;
    return p;
}

dino_context::~dino_context() {
    free_graph();
    if (galloc) ggml_gallocr_free(galloc);
    if (backend) ggml_backend_free(backend);
}

dino_status dino_context_new(const dino_model * model, const dino_context_params * params, dino_context ** out) {
    return guarded([&] {
        require(out != nullptr, "out_context is NULL");
        *out = nullptr;
        require(model != nullptr, "model is NULL");
        dino_context_params p = params ? *params : dino_context_default_params();
        if (p.pos_interp != DINO_POS_INTERP_DINO && p.pos_interp != DINO_POS_INTERP_SIZE) {
            dino::fail(DINO_ERR_INVALID_ARGUMENT, "pos_interp %d is not a dino_pos_interp value", p.pos_interp);
        }
        if (p.attention_kernel < DINO_ATTENTION_AUTO || p.attention_kernel > DINO_ATTENTION_FLASH) {
            dino::fail(DINO_ERR_INVALID_ARGUMENT, "attention_kernel %d is not a dino_attention_kernel value", p.attention_kernel);
        }
        if (p.attention_kernel == DINO_ATTENTION_AUTO) p.attention_kernel = DINO_ATTENTION_FLASH;
        if (p.n_threads <= 0) p.n_threads = int32_t(std::max(1u, std::thread::hardware_concurrency()));
        if (p.n_threads > 512) dino::fail(DINO_ERR_INVALID_ARGUMENT, "n_threads %d is out of range (1 to 512)", p.n_threads);
        auto c = std::make_unique<dino_context>();
        c->model = model;
        c->params = p;
        c->backend = ggml_backend_cpu_init();
        if (!c->backend) dino::fail(DINO_ERR_OUT_OF_MEMORY, "cannot create the CPU backend");
        ggml_backend_cpu_set_n_threads(c->backend, p.n_threads);
        c->galloc = ggml_gallocr_new(ggml_backend_get_default_buffer_type(c->backend));
        if (!c->galloc) dino::fail(DINO_ERR_OUT_OF_MEMORY, "cannot create the graph allocator");
        *out = c.release();
    });
}

void dino_context_free(dino_context * context) { delete context; }

void dino_context_set_abort_callback(dino_context * context, dino_abort_callback callback, void * user_data) {
    if (context) ggml_backend_cpu_set_abort_callback(context->backend, callback, user_data);
}

// ---- compute -------------------------------------------------------------------

namespace {

// How many of n images of T tokens share one graph: enough tokens to keep the threads busy
// (about 1024), and a divisor of n, so one graph serves the whole call.
int32_t images_per_graph(int32_t n, int64_t T) {
    int32_t k = int32_t(std::clamp<int64_t>(1024 / T, 1, n));
    while (n % k != 0) --k;
    return k;
}

}  // namespace

dino_outputs dino_outputs_default(void) {
    dino_outputs o{};
    return o;
}

dino_status dino_compute(dino_context * ctx, const float * pixels, int32_t n, int32_t height, int32_t width,
                         dino_outputs * out) {
    return guarded([&] {
        require(ctx != nullptr, "context is NULL");
        require(pixels != nullptr, "pixels is NULL");
        require(out != nullptr, "outputs is NULL");
        const dino::hparams & hp = ctx->model->hp;
        if (n < 1 || n > 4096) dino::fail(DINO_ERR_INVALID_ARGUMENT, "n_images %d is out of range (1 to 4096)", n);
        if (height < hp.patch || width < hp.patch || height % hp.patch || width % hp.patch || height > 8192 || width > 8192) {
            dino::fail(DINO_ERR_INVALID_ARGUMENT, "image size %dx%d is not a multiple of the patch size %d between %d and 8192",
                       height, width, hp.patch, hp.patch);
        }
        if (out->n_intermediate < 0 || out->n_intermediate > hp.depth) {
            dino::fail(DINO_ERR_INVALID_ARGUMENT, "n_intermediate %d is out of range (0 to %d blocks)", out->n_intermediate, hp.depth);
        }
        const int64_t T = dino_model_token_count(ctx->model, height, width), D = hp.dim, H = hp.heads;
        const int64_t Q = out->attention_full ? T : 1;
        check_capacity(out->tokens, out->tokens_capacity, n * T * D, "tokens");
        check_capacity(out->cls, out->cls_capacity, n * D, "cls");
        check_capacity(out->attention, out->attention_capacity, n * H * Q * T, "attention");
        check_capacity(out->intermediate, out->intermediate_capacity, n * out->n_intermediate * T * D, "intermediate");
        if (out->n_intermediate > 0 && !out->intermediate) {
            dino::fail(DINO_ERR_INVALID_ARGUMENT, "n_intermediate is %d but outputs.intermediate is NULL", out->n_intermediate);
        }

        // Images go through the graph a few at a time.  Every op already reuses its weights across an
        // image's hundreds of tokens, so a bigger graph buys nothing, while its activations (tens of MB
        // at batch 8 and 224) fall out of cache: 10-15% slower per image, measured (bench/run.sh).
        // Small images still share a graph, whose fixed cost would dominate.
        const int32_t per_graph = images_per_graph(n, T);

        // A guard against sizes that would exhaust memory: the largest live
        // activations are the attention matrices and the MLP hidden layer.
        if (ctx->params.max_memory_mb > 0) {
            const double floats = double(per_graph) * (2.0 * H * T * T + double(T) * (4 * D + hp.mlp) * 2 +
                                                       double(out->n_intermediate) * T * D + 3.0 * height * width);
            const double mb = floats * 4 / (1 << 20);
            if (mb > double(ctx->params.max_memory_mb)) {
                dino::fail(DINO_ERR_OUT_OF_MEMORY, "%d image(s) of %dx%d at a time need about %.0f MB of compute memory; "
                           "the limit is %lld MB (dino_context_params.max_memory_mb): use smaller images",
                           per_graph, height, width, mb, (long long) ctx->params.max_memory_mb);
            }
        }

        dino_context::shape s;
        s.n = per_graph;
        s.height = height;
        s.width = width;
        s.n_intermediate = out->n_intermediate;
        s.attention = out->attention != nullptr;
        s.attention_full = s.attention && out->attention_full;
        if (!(ctx->graph && ctx->built == s)) ctx->build_graph(s);
        if (!ggml_gallocr_alloc_graph(ctx->galloc, ctx->graph)) {
            ctx->free_graph();
            dino::fail(DINO_ERR_OUT_OF_MEMORY, "cannot allocate the compute buffers for %d image(s) of %dx%d", per_graph, height, width);
        }

        const size_t row = size_t(D) * sizeof(float);
        const int64_t K = out->n_intermediate;
        for (int64_t first = 0; first < n; first += per_graph) {
            // Both inputs every time: the allocator reuses their memory once they are consumed.
            ggml_backend_tensor_set(ctx->in_pixels, pixels + first * 3 * height * width, 0, ggml_nbytes(ctx->in_pixels));
            if (ctx->in_pos) ggml_backend_tensor_set(ctx->in_pos, ctx->pos_values.data(), 0, ggml_nbytes(ctx->in_pos));
            const ggml_status st = ggml_backend_graph_compute(ctx->backend, ctx->graph);
            if (st == GGML_STATUS_ABORTED) dino::fail(DINO_ERR_ABORTED, "computation aborted by the abort callback");
            if (st != GGML_STATUS_SUCCESS) dino::fail(DINO_ERR_COMPUTE, "ggml graph compute failed (status %d)", int(st));

            if (out->tokens) ggml_backend_tensor_get(ctx->out_tokens, out->tokens + first * T * D, 0, ggml_nbytes(ctx->out_tokens));
            for (int64_t i = 0; out->cls && i < per_graph; ++i) {
                ggml_backend_tensor_get(ctx->out_tokens, out->cls + (first + i) * D, size_t(i * T) * row, row);
            }
            if (out->attention) {
                ggml_backend_tensor_get(ctx->out_attention, out->attention + first * H * Q * T, 0, ggml_nbytes(ctx->out_attention));
            }
            for (int64_t k = 0; k < K; ++k) {  // [D, T, N] per block -> [N, K, T, D]
                for (int64_t i = 0; i < per_graph; ++i) {
                    ggml_backend_tensor_get(ctx->out_intermediate[size_t(k)], out->intermediate + ((first + i) * K + k) * T * D,
                                            size_t(i * T) * row, size_t(T) * row);
                }
            }
        }
    });
}

// ---- quantization --------------------------------------------------------------

dino_status dino_quantize(const char * input_path, const char * output_path, const char * type) {
    return guarded([&] {
        require(input_path && input_path[0] && output_path && output_path[0], "input or output path is NULL or empty");
        require(type != nullptr, "type is NULL");
        dino::install_ggml_logger();
        dino::quantize(input_path, output_path, type);
    });
}
