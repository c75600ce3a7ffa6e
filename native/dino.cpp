// dino.cpp: the facade of the C API (dino.h): argument checks and
// marshalling only, every body through guarded() (errors.h).  The only unit
// that sees both the public header and the internals; nothing calls up into it.
#include "dino.h"

#include "context.h"
#include "errors.h"
#include "file_io.h"
#include "model.h"
#include "quantize.h"

#include <cstdio>

#ifndef DINO_VERSION
#define DINO_VERSION "0.1.0"
#endif

using dino::fail;
using dino::guarded;

static_assert(dino::kMaxThreads == DINO_MAX_THREADS);

namespace {

void require(bool ok, const char * what) {
    if (!ok) fail(DINO_ERR_INVALID_ARGUMENT, "%s", what);
}

// Checks an optional output buffer against the floats it must hold.
void check_capacity(const float * p, size_t capacity, int64_t need, const char * name) {
    if (p && capacity < uint64_t(need)) {
        fail(DINO_ERR_INVALID_ARGUMENT, "outputs.%s holds %zu floats, %lld are needed", name, capacity, (long long) need);
    }
}

}  // namespace

// ---- library -------------------------------------------------------------------

const char * dino_last_error(void) { return dino::last_error().c_str(); }

const char * dino_version(void) {
    static const std::string v = dino::format("dino %s; ggml %s (%s)", DINO_VERSION, ggml_version(), ggml_commit());
    return v.c_str();
}

const char * dino_ggml_path(void) {
    static const std::string path = dino::file_io::module_path(reinterpret_cast<const void *>(&ggml_version));
    return path.c_str();
}

void dino_log_set(dino_log_callback callback, void * user_data) { dino::set_log_callback(callback, user_data); }

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
        dino::load_options o;
        if (params) {
            o.check_values = params->check_values;
            switch (params->int8_weights) {
                case DINO_INT8_WEIGHTS_AS_STORED: break;
                case DINO_INT8_WEIGHTS_7BIT: o.q8_0_as_7bit = true; break;
                default: fail(DINO_ERR_INVALID_ARGUMENT, "int8_weights %d is not a dino_int8_weights value", params->int8_weights);
            }
        }
        *out_model = dino_model::load(path, o).release();
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
        snprintf(i.quantization, sizeof i.quantization, "%s", model->quantization.c_str());
        const dino::hparams & h = model->hp;
        i.embedding_length = h.dim;
        i.block_count = h.depth;
        i.head_count = h.heads;
        i.feed_forward_length = h.mlp;
        i.patch_size = h.patch;
        i.image_size = h.image;
        i.layer_norm_eps = h.eps;
        snprintf(i.family, sizeof i.family, "%s", h.family == dino::family::dinov2 ? "dinov2" : "dino");
        i.register_count = h.registers;
        i.swiglu = h.swiglu;
        i.position_interpolation = h.pos == dino::pos_interp::size ? DINO_POS_INTERP_SIZE
                                 : h.pos == dino::pos_interp::size_antialias ? DINO_POS_INTERP_SIZE_ANTIALIAS : DINO_POS_INTERP_DINO;
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
        // What the model's own preprocessing yields: its crop, or its square resize, else the native size.
        i.preprocess_crop_round_down = p.crop_round_down;
        i.input_size = p.crop > 0 ? p.crop : (p.resize > 0 && !p.shortest_edge ? p.resize : h.image);
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
            fail(DINO_ERR_INVALID_ARGUMENT, "tensor index %d is out of range (0 to %zu)", index, model->file.tensors.size());
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
    const int64_t t = model->hp.tokens(height, width);
    return t > INT32_MAX ? 0 : int32_t(t);
}

// ---- context -------------------------------------------------------------------

dino_context_params dino_context_default_params(void) {
    const dino::context_options o;
    dino_context_params p{};
    p.n_threads = o.n_threads;
    p.pos_interp = DINO_POS_INTERP_MODEL;
    p.attention_kernel = DINO_ATTENTION_AUTO;
    p.max_memory_mb = o.max_memory_mb;
    return p;
}

dino_status dino_context_new(const dino_model * model, const dino_context_params * params, dino_context ** out) {
    return guarded([&] {
        require(out != nullptr, "out_context is NULL");
        *out = nullptr;
        require(model != nullptr, "model is NULL");
        const dino_context_params p = params ? *params : dino_context_default_params();
        dino::context_options o;
        o.n_threads = p.n_threads;
        o.max_memory_mb = p.max_memory_mb;
        switch (p.pos_interp) {
            case DINO_POS_INTERP_DINO: o.pos = dino::pos_interp::dino; break;
            case DINO_POS_INTERP_SIZE: o.pos = dino::pos_interp::size; break;
            case DINO_POS_INTERP_SIZE_ANTIALIAS: o.pos = dino::pos_interp::size_antialias; break;
            case DINO_POS_INTERP_MODEL: o.pos = dino::pos_interp::model; break;
            default: fail(DINO_ERR_INVALID_ARGUMENT, "pos_interp %d is not a dino_pos_interp value", p.pos_interp);
        }
        switch (p.attention_kernel) {
            case DINO_ATTENTION_AUTO: o.attention = dino::attention_kind::automatic; break;
            case DINO_ATTENTION_EXACT: o.attention = dino::attention_kind::exact; break;
            case DINO_ATTENTION_FLASH: o.attention = dino::attention_kind::flash; break;
            case DINO_ATTENTION_BF16: o.attention = dino::attention_kind::bf16; break;
            case DINO_ATTENTION_INT8: o.attention = dino::attention_kind::int8; break;
            default: fail(DINO_ERR_INVALID_ARGUMENT, "attention_kernel %d is not a dino_attention_kernel value", p.attention_kernel);
        }
        *out = dino_context::create(model, o).release();
    });
}

int32_t dino_context_get_threads(const dino_context * context) { return context ? context->options.n_threads : 0; }

void dino_context_free(dino_context * context) { delete context; }

void dino_context_set_abort_callback(dino_context * context, dino_abort_callback callback, void * user_data) {
    if (context) context->set_abort_callback(callback, user_data);
}

// ---- profiling -----------------------------------------------------------------

void dino_context_set_profiling(dino_context * context, bool on) {
    if (context) context->set_profiling(on);
}

int32_t dino_context_get_profile(const dino_context * context, dino_profile_entry * entries, int32_t capacity,
                                 double * total_seconds) {
    if (total_seconds) *total_seconds = context ? context->profile_seconds() : 0.0;
    if (!context) return 0;
    const std::vector<dino_profile_entry> & p = context->profile();
    for (int32_t i = 0; entries && i < capacity && size_t(i) < p.size(); ++i) entries[i] = p[size_t(i)];
    return int32_t(p.size());
}

double dino_peak_ops(int32_t kind, int32_t n_threads, double seconds) {
    if (kind < DINO_PEAK_F32_FMA || kind > DINO_PEAK_BF16_DOT || n_threads < 0 || n_threads > DINO_MAX_THREADS || !(seconds > 0 && seconds <= 60)) return 0;
    if (n_threads == 0) n_threads = dino::usable_threads();
    return dino::kernels::peak_ops(kind, n_threads, seconds);
}

// ---- compute -------------------------------------------------------------------

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
        if (n < 1 || n > 4096) fail(DINO_ERR_INVALID_ARGUMENT, "n_images %d is out of range (1 to 4096)", n);
        if (height < hp.patch || width < hp.patch || height > 8192 || width > 8192) {
            fail(DINO_ERR_INVALID_ARGUMENT, "image size %dx%d is outside %d to 8192 pixels a side", height, width, hp.patch);
        }
        if (height % hp.patch || width % hp.patch) {
            fail(DINO_ERR_INVALID_ARGUMENT, "image size %dx%d is not a multiple of the patch size %d", height, width, hp.patch);
        }
        if (out->n_intermediate < 0 || out->n_intermediate > hp.depth) {
            fail(DINO_ERR_INVALID_ARGUMENT, "n_intermediate %d is out of range (0 to %d blocks)", out->n_intermediate, hp.depth);
        }
        const int64_t T = hp.tokens(height, width), D = hp.dim, H = hp.heads, R = hp.registers;
        const int64_t Q = out->attention_full ? T : 1;
        check_capacity(out->tokens, out->tokens_capacity, n * T * D, "tokens");
        check_capacity(out->cls, out->cls_capacity, n * D, "cls");
        check_capacity(out->attention, out->attention_capacity, n * H * Q * T, "attention");
        check_capacity(out->intermediate, out->intermediate_capacity, n * out->n_intermediate * T * D, "intermediate");
        check_capacity(out->registers, out->registers_capacity, n * R * D, "registers");
        if (out->registers && R == 0) fail(DINO_ERR_INVALID_ARGUMENT, "outputs.registers is set but the model has no register tokens");
        if (out->n_intermediate > 0 && !out->intermediate) {
            fail(DINO_ERR_INVALID_ARGUMENT, "n_intermediate is %d but outputs.intermediate is NULL", out->n_intermediate);
        }

        ctx->compute(pixels, n, height, width, *out);
    });
}

// ---- quantization --------------------------------------------------------------

const char * dino_quantize_type_name(int32_t index) {
    return index < 0 ? nullptr : dino::quantize_type_name(size_t(index));
}

dino_status dino_quantize(const char * input_path, const char * output_path, const char * type) {
    dino_quantize_params p = dino_quantize_default_params();
    p.type = type;
    return dino_quantize_model(input_path, output_path, &p);
}

dino_quantize_params dino_quantize_default_params(void) {
    dino_quantize_params p{};
    p.max_memory_mb = dino::context_options{}.max_memory_mb;
    return p;
}

dino_status dino_quantize_model(const char * input_path, const char * output_path, const dino_quantize_params * params) {
    return guarded([&] {
        require(input_path && input_path[0] && output_path && output_path[0], "input or output path is NULL or empty");
        const dino_quantize_params p = params ? *params : dino_quantize_default_params();
        // The ranges first (NaN fails them), so that a NaN target is named as itself, not as a missing type.
        if (!(p.target_cos == 0 || (p.target_cos > 0 && p.target_cos < 1))) {
            fail(DINO_ERR_INVALID_ARGUMENT, "target_cos %g is not in (0, 1) (0 = none)", p.target_cos);
        }
        if (!(p.max_mb == 0 || (p.max_mb > 0 && p.max_mb < 1e9))) {
            fail(DINO_ERR_INVALID_ARGUMENT, "max_mb %g is not a positive size (0 = none)", p.max_mb);
        }
        require(p.type != nullptr || p.target_cos > 0 || p.max_mb > 0, "type is NULL");
        require(p.n_calibration >= 0 && p.n_calibration <= 100000, "n_calibration is out of range (0 to 100000)");
        require(p.n_calibration == 0 || p.calibration != nullptr, "calibration is NULL but n_calibration is not 0");
        dino::install_ggml_logger();
        dino::quantize_request r;
        r.type = p.type ? p.type : "q4_0";
        r.images = p.calibration;
        r.n_images = p.n_calibration;
        r.image_size = p.calibration_size;
        r.target_cos = p.target_cos;
        r.max_mb = p.max_mb;
        r.context.n_threads = dino::resolve_threads(p.n_threads);  // checked now: a plain type computes nothing
        r.context.max_memory_mb = p.max_memory_mb;
        if (p.progress) {
            r.progress = [&p](const char * stage, int32_t done, int32_t total) {
                return p.progress(stage, done, total, p.progress_user_data);
            };
        }
        dino::quantize(input_path, output_path, r);
    });
}
