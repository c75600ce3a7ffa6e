// model.cpp: load and validate a DINO GGUF (schema: docs/gguf.md).
#include "model.h"

#include "tensor_names.h"

#include "ggml-cpu.h"

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>

using dino::fail;

namespace {

// What the file must hold, from its hyperparameters.
enum class kind { f32_only, linear };
struct expected {
    int n_dims;
    int64_t ne[4];
    kind k;
};

// The linear layers of a block: name, LayerNorm before it (or none), GELU
// after it, and shape as multiples of (width, MLP width) for inputs and outputs.
// ref: Block.forward and Mlp.forward
struct block_linear_spec {
    dino::linear_layer dino::block::*layer;
    const char * name;
    const char * norm;
    bool gelu;
    int in_dim, in_mlp, out_dim, out_mlp;  // in = in_dim * dim + in_mlp * mlp; likewise out
};
const block_linear_spec kBlockLinears[] = {
    {&dino::block::qkv, dino::tn::kAttnQkv, dino::tn::kAttnNorm, false, 1, 0, 3, 0},
    {&dino::block::out, dino::tn::kAttnOut, nullptr, false, 1, 0, 1, 0},
    {&dino::block::up, dino::tn::kFfnUp, dino::tn::kFfnNorm, true, 1, 0, 0, 1},  // (SwiGLU: 2 x mlp out, no GELU)
    {&dino::block::down, dino::tn::kFfnDown, nullptr, false, 0, 1, 1, 0},
};

std::map<std::string, expected> expected_tensors(const dino::hparams & h) {
    namespace tn = dino::tn;
    const int64_t d = h.dim, f = h.mlp, p = h.patch, g = h.grid();
    std::map<std::string, expected> e;
    auto vec = [&](const std::string & n, int64_t len) { e[n] = {1, {len, 1, 1, 1}, kind::f32_only}; };
    auto norm = [&](const std::string & layer) { vec(tn::weight(layer), d); vec(tn::bias(layer), d); };
    e[tn::kPatchWeight] = {4, {p, p, 3, d}, kind::f32_only};
    vec(tn::kPatchBias, d);
    vec(tn::kCls, d);
    e[tn::kPos] = {2, {d, 1 + g * g, 1, 1}, kind::f32_only};
    if (h.registers > 0) e[tn::kRegisters] = {2, {d, h.registers, 1, 1}, kind::f32_only};
    for (int i = 0; i < h.depth; ++i) {
        if (h.family == dino::family::dinov2) {
            vec(tn::block(i, tn::kAttnScale), d);
            vec(tn::block(i, tn::kFfnScale), d);
        }
        for (const block_linear_spec & l : kBlockLinears) {
            const int64_t in = l.in_dim * d + l.in_mlp * f, out = l.out_dim * d + l.out_mlp * f * (h.swiglu ? 2 : 1);
            const std::string name = tn::block(i, l.name);
            e[tn::weight(name)] = {2, {in, out, 1, 1}, kind::linear};
            vec(tn::bias(name), out);
            if (l.norm) norm(tn::block(i, l.norm));
        }
    }
    norm(tn::kOutputNorm);
    return e;
}

// fp16 bits with an all-ones exponent are Inf or NaN.
bool half_finite(const uint8_t * p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return (h & 0x7C00) != 0x7C00;
}

// Where the fp16 scales sit inside one block of each quantized type (the block
// structs of ggml-common.h), with the block's size to check the table against ggml.
struct scale_layout {
    ggml_type type;
    size_t block_bytes;
    int n;
    size_t offsets[2];
};
const scale_layout kScaleLayouts[] = {
    {GGML_TYPE_Q4_0, 18, 1, {0, 0}},   {GGML_TYPE_Q4_1, 20, 2, {0, 2}},  {GGML_TYPE_Q5_0, 22, 1, {0, 0}},
    {GGML_TYPE_Q5_1, 24, 2, {0, 2}},   {GGML_TYPE_Q8_0, 34, 1, {0, 0}},  {GGML_TYPE_Q2_K, 84, 2, {80, 82}},
    {GGML_TYPE_Q3_K, 110, 1, {108, 0}}, {GGML_TYPE_Q4_K, 144, 2, {0, 2}}, {GGML_TYPE_Q5_K, 176, 2, {0, 2}},
    {GGML_TYPE_Q6_K, 210, 1, {208, 0}},
};

// No NaN or Inf among f32/f16/bf16 values or quantization scales.  (Our own
// scan: ggml_validate_row_data prints to stderr, which a library must not.)
bool values_finite(ggml_type type, const void * data, size_t nbytes) {
    const uint8_t * p = static_cast<const uint8_t *>(data);
    switch (type) {
        case GGML_TYPE_F32:
            for (size_t i = 0; i + 4 <= nbytes; i += 4) {
                float v;
                memcpy(&v, p + i, 4);
                if (!std::isfinite(v)) return false;
            }
            return true;
        case GGML_TYPE_F16:
            for (size_t i = 0; i + 2 <= nbytes; i += 2) if (!half_finite(p + i)) return false;
            return true;
        case GGML_TYPE_BF16:
            for (size_t i = 0; i + 2 <= nbytes; i += 2) {
                uint16_t b;
                memcpy(&b, p + i, 2);
                if ((b & 0x7F80) == 0x7F80) return false;
            }
            return true;
        default:
            for (const scale_layout & l : kScaleLayouts) {
                if (l.type != type) continue;
                if (ggml_type_size(type) != l.block_bytes) fail(DINO_ERR_INTERNAL, "block layout of %s differs from ggml's", ggml_type_name(type));
                for (size_t b = 0; b + l.block_bytes <= nbytes; b += l.block_bytes) {
                    for (int k = 0; k < l.n; ++k) if (!half_finite(p + b + l.offsets[k])) return false;
                }
                return true;
            }
            return true;
    }
}

std::string shape_str(int n_dims, const int64_t * ne) {
    std::string s = "[";
    for (int i = 0; i < n_dims; ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
    return s + "]";
}

// Typed access to the KVs, each failure naming the key.
struct kv_reader {
    const dino::gguf_file & g;
    const std::string & path;

    const dino::gguf_kv * get(const char * key, uint32_t type, bool required) const {
        const dino::gguf_kv * kv = g.find(key);
        if (!kv) {
            if (required) fail(DINO_ERR_BAD_MODEL, "%s: missing key %s", path.c_str(), key);
            return nullptr;
        }
        if (kv->type != type) fail(DINO_ERR_BAD_MODEL, "%s: key %s has value type %u, expected %u", path.c_str(), key, kv->type, type);
        return kv;
    }
    int32_t u32(const char * key, int64_t lo, int64_t hi, bool required = true, int32_t def = 0) const {
        const dino::gguf_kv * kv = get(key, dino::GGUF_VT_UINT32, required);
        if (!kv) return def;
        const double v = kv->number();
        if (v < double(lo) || v > double(hi)) {
            fail(DINO_ERR_BAD_MODEL, "%s: %s = %.0f is out of range [%lld, %lld]", path.c_str(), key, v, (long long) lo, (long long) hi);
        }
        return int32_t(v);
    }
    float f32(const char * key, float lo, float hi, bool required = true, float def = 0) const {
        const dino::gguf_kv * kv = get(key, dino::GGUF_VT_FLOAT32, required);
        if (!kv) return def;
        const double v = kv->number();
        if (!std::isfinite(v) || v < lo || v > hi) fail(DINO_ERR_BAD_MODEL, "%s: %s = %g is out of range [%g, %g]", path.c_str(), key, v, lo, hi);
        return float(v);
    }
    void f32x3(const char * key, float * out, float lo, float hi) const {
        const dino::gguf_kv * kv = get(key, dino::GGUF_VT_ARRAY, false);
        if (!kv) return;
        if (kv->array_type != dino::GGUF_VT_FLOAT32 || kv->array_length != 3) {
            fail(DINO_ERR_BAD_MODEL, "%s: %s must be an array of 3 float32", path.c_str(), key);
        }
        for (int i = 0; i < 3; ++i) {
            const double v = kv->number(i);
            if (!std::isfinite(v) || v < lo || v > hi) fail(DINO_ERR_BAD_MODEL, "%s: %s[%d] = %g is out of range", path.c_str(), key, i, v);
            out[i] = float(v);
        }
    }
};

}  // namespace

dino_model::~dino_model() {
    if (buffer) ggml_backend_buffer_free(buffer);
    if (ctx) ggml_free(ctx);
}

ggml_tensor * dino_model::tensor(const std::string & n) const {
    ggml_tensor * t = ggml_get_tensor(ctx, n.c_str());
    if (!t) fail(DINO_ERR_INTERNAL, "tensor %s not created", n.c_str());
    return t;
}

size_t dino_model::weight_bytes() const {
    size_t bytes = ggml_backend_buffer_get_size(buffer);
    for (const auto & [tensor, p] : packed) bytes += p->bytes;
    return bytes;
}

std::string dino_model::kernels() const {
    const char * name = dino::kernels::isa_name();
    const std::string isa = name ? name : "ggml";
    std::string linear;
    const auto add = [&linear](const char * k) {
        if (linear.find(k) == std::string::npos) linear += (linear.empty() ? "" : "+") + std::string(k);
    };
    for (const dino::block & b : blocks) {
        for (const dino::linear_layer * l : b.linears()) {
            const dino::kernels::packed_linear * w = l->op.w;
            if (!w) add("ggml");
            else if (w->int8()) add((isa + (dino::kernels::int8_vnni() ? "-vnni" : "-int8")).c_str());
            else add(isa.c_str());
        }
    }
    const dino::attention_kind a = default_attention();
    const char * products = a == dino::attention_kind::bf16 ? "-bf16" : a == dino::attention_kind::int8 ? "-int8" : "";
    return "linear " + linear + (q8_0_as_7bit ? " (7-bit weights)" : "") + ", attention " + (attention.heads > 0 ? isa + products : "ggml");
}

dino::attention_kind dino_model::default_attention() const {
    for (const dino::block & b : blocks) {
        for (const dino::linear_layer * l : b.linears()) {
            if (!l->op.w || !l->op.w->int8()) return dino::attention_kind::flash;
        }
    }
    if (attention_bf16.heads > 0) return dino::attention_kind::bf16;
    if (attention_int8.heads > 0 && dino::kernels::int8_attention_by_default()) return dino::attention_kind::int8;
    return dino::attention_kind::flash;
}

namespace {

void check_ggml_version() {
    // Built against ggml 0.18 (headers are ABI-compatible with it, not with every release):
    // refuse to run on another line rather than misread its structs.
    const char * v = ggml_version();
    if (strncmp(v, "0.18.", 5) != 0) {
        fail(DINO_ERR_UNSUPPORTED, "libdino needs ggml 0.18.x but loaded ggml %s (%s); install the ggml libraries it was built with",
             v, ggml_commit());
    }
}

}  // namespace

std::unique_ptr<dino_model> dino_model::load(const std::string & path, const dino::load_options & options) {
    const bool use_kernels = options.use_kernels;
    check_ggml_version();
    if (const std::string e = dino::kernels::forced_error(); !e.empty()) fail(DINO_ERR_INVALID_ARGUMENT, "%s", e.c_str());
    auto m = std::make_unique<dino_model>();
    m->file = dino::gguf_file::read(path);
    const dino::gguf_file & g = m->file;
    const kv_reader kv{g, path};

    // --- metadata --------------------------------------------------------------
    const dino::gguf_kv * arch = kv.get(dino::kv::kArchitecture, dino::GGUF_VT_STRING, true);
    if (arch->str != "dino") {
        fail(DINO_ERR_BAD_MODEL, "%s: architecture '%.64s' is not 'dino'", path.c_str(), arch->str.c_str());
    }
    if (const dino::gguf_kv * n = kv.get(dino::kv::kName, dino::GGUF_VT_STRING, false)) m->name = n->str;
    if (const dino::gguf_kv * q = kv.get(dino::kv::kQuantizeRecipe, dino::GGUF_VT_STRING, false)) m->quantization = q->str;

    dino::hparams & h = m->hp;
    h.dim = kv.u32(dino::kv::kEmbeddingLength, 1, 8192);
    h.depth = kv.u32(dino::kv::kBlockCount, 1, 256);
    h.heads = kv.u32(dino::kv::kHeadCount, 1, 256);
    h.mlp = kv.u32(dino::kv::kFeedForwardLength, 1, 65536);
    h.patch = kv.u32(dino::kv::kPatchSize, 1, 64);
    h.image = kv.u32(dino::kv::kImageSize, 1, 4096);
    h.eps = kv.f32(dino::kv::kLayerNormEps, 1e-30f, 0.1f);
    if (h.dim % h.heads != 0) fail(DINO_ERR_BAD_MODEL, "%s: %d heads do not divide the width %d", path.c_str(), h.heads, h.dim);
    if (h.image % h.patch != 0) fail(DINO_ERR_BAD_MODEL, "%s: image size %d is not a multiple of the patch size %d", path.c_str(), h.image, h.patch);
    if (const dino::gguf_kv * f = kv.get(dino::kv::kFamily, dino::GGUF_VT_STRING, false)) {
        if (f->str == "dino") h.family = dino::family::dino;
        else if (f->str == "dinov2") h.family = dino::family::dinov2;
        else fail(DINO_ERR_BAD_MODEL, "%s: model family '%.32s' is not one this library runs (dino, dinov2)", path.c_str(), f->str.c_str());
    }
    h.registers = kv.u32(dino::kv::kRegisterCount, 0, 64, false, 0);
    if (const dino::gguf_kv * a = kv.get(dino::kv::kFeedForwardActivation, dino::GGUF_VT_STRING, false)) {
        if (a->str == "swiglu") h.swiglu = true;
        else if (a->str != "gelu") fail(DINO_ERR_BAD_MODEL, "%s: %s '%.32s' is not gelu or swiglu", path.c_str(), dino::kv::kFeedForwardActivation, a->str.c_str());
    }
    if (const dino::gguf_kv * pi = kv.get(dino::kv::kPositionInterpolation, dino::GGUF_VT_STRING, false)) {
        if (pi->str == "dino") h.pos = dino::pos_interp::dino;
        else if (pi->str == "size") h.pos = dino::pos_interp::size;
        else if (pi->str == "size_antialias") h.pos = dino::pos_interp::size_antialias;
        else fail(DINO_ERR_BAD_MODEL, "%s: %s '%.32s' is not dino, size or size_antialias", path.c_str(),
                  dino::kv::kPositionInterpolation, pi->str.c_str());
    }

    dino::preprocess & p = m->pp;
    p.resize = kv.u32(dino::kv::kResize, 0, 65536, false, h.image);
    if (const dino::gguf_kv * se = kv.get(dino::kv::kResizeShortestEdge, dino::GGUF_VT_BOOL, false)) p.shortest_edge = se->number() != 0;
    p.crop = kv.u32(dino::kv::kCrop, 0, 65536, false, 0);
    if (const dino::gguf_kv * cr = kv.get(dino::kv::kCropRounding, dino::GGUF_VT_STRING, false)) {
        if (cr->str == "down") p.crop_round_down = true;
        else if (cr->str != "half_to_even") fail(DINO_ERR_BAD_MODEL, "%s: %s '%.32s' is not half_to_even or down", path.c_str(), dino::kv::kCropRounding, cr->str.c_str());
    }
    if (const dino::gguf_kv * rs = kv.get(dino::kv::kResample, dino::GGUF_VT_STRING, false)) {
        if (rs->str == "bilinear") p.resample = DINO_RESAMPLE_BILINEAR;
        else if (rs->str == "bicubic") p.resample = DINO_RESAMPLE_BICUBIC;
        else fail(DINO_ERR_BAD_MODEL, "%s: dino.preprocess.resample '%.32s' is not bilinear or bicubic", path.c_str(), rs->str.c_str());
    }
    p.rescale = kv.f32(dino::kv::kRescaleFactor, 0.0f, 1.0f, false, 1.0f / 255.0f);
    kv.f32x3(dino::kv::kImageMean, p.mean, -1e3f, 1e3f);
    kv.f32x3(dino::kv::kImageStd, p.std, 1e-6f, 1e3f);

    // --- tensors: exactly the expected set, shapes and types -------------------
    const auto want = expected_tensors(h);
    for (const auto & t : g.tensors) {
        auto it = want.find(t.name);
        if (it == want.end()) fail(DINO_ERR_BAD_MODEL, "%s: unexpected tensor '%s'", path.c_str(), t.name.c_str());
        const expected & e = it->second;
        bool same = int(t.n_dims) == e.n_dims;
        for (int d = 0; same && d < e.n_dims; ++d) same = t.ne[d] == e.ne[d];
        if (!same) {
            fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' has shape %s, expected %s", path.c_str(), t.name.c_str(),
                 shape_str(int(t.n_dims), t.ne).c_str(), shape_str(e.n_dims, e.ne).c_str());
        }
        if (e.k == kind::f32_only && t.type != GGML_TYPE_F32) {
            fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' has type %s, expected f32", path.c_str(), t.name.c_str(),
                 ggml_type_name(ggml_type(t.type)));
        }
    }
    if (g.tensors.size() != want.size()) {
        for (const auto & [name, e] : want) {
            bool found = false;
            for (const auto & t : g.tensors) found = found || t.name == name;
            if (!found) fail(DINO_ERR_BAD_MODEL, "%s: missing tensor '%s'", path.c_str(), name.c_str());
        }
    }
    // The model's type, as reported: the linear weights' type(s), e.g. "q8_0" or "q5_0/q4_K".
    for (const auto & t : g.tensors) {
        if (want.at(t.name).k != kind::linear) continue;
        const std::string n = ggml_type_name(ggml_type(t.type));
        if (m->weight_types.find(n) == std::string::npos) m->weight_types += (m->weight_types.empty() ? "" : "/") + n;
    }

    // --- allocate and read ----------------------------------------------------
    // Linear weights our kernels take (kernels.h) are read, checked and repacked one at a time, and
    // only the packed copy is kept; every other tensor lives in one ggml CPU buffer.
    ggml_init_params ip = {ggml_tensor_overhead() * (g.tensors.size() + 1), nullptr, /*no_alloc=*/true};
    m->ctx = ggml_init(ip);
    if (!m->ctx) fail(DINO_ERR_OUT_OF_MEMORY, "cannot allocate the tensor table");
    std::set<const ggml_tensor *> to_pack;
    for (const auto & t : g.tensors) {
        ggml_tensor * x = ggml_new_tensor(m->ctx, ggml_type(t.type), int(t.n_dims), t.ne);
        ggml_set_name(x, t.name.c_str());
        m->n_params += ggml_nelements(x);
        if (use_kernels && want.at(t.name).k == kind::linear && dino::kernels::can_pack(x->type, x->ne[0], x->ne[1])) {
            to_pack.insert(x);
        }
    }
    ggml_backend_buffer_type_t buft = ggml_backend_cpu_buffer_type();
    size_t size = 0;
    for (ggml_tensor * x = ggml_get_first_tensor(m->ctx); x; x = ggml_get_next_tensor(m->ctx, x)) {
        if (!to_pack.count(x)) size += GGML_PAD(ggml_backend_buft_get_alloc_size(buft, x), ggml_backend_buft_get_alignment(buft));
    }
    m->buffer = ggml_backend_buft_alloc_buffer(buft, std::max<size_t>(size, 1));
    if (!m->buffer) fail(DINO_ERR_OUT_OF_MEMORY, "%s: cannot allocate %llu bytes for the weights", path.c_str(), (unsigned long long) size);
    ggml_backend_buffer_set_usage(m->buffer, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    ggml_tallocr placer = ggml_tallocr_new(m->buffer);
    for (ggml_tensor * x = ggml_get_first_tensor(m->ctx); x; x = ggml_get_next_tensor(m->ctx, x)) {
        if (!to_pack.count(x) && ggml_tallocr_alloc(&placer, x) != GGML_STATUS_SUCCESS) {
            fail(DINO_ERR_INTERNAL, "%s: cannot place tensor '%s'", path.c_str(), ggml_get_name(x));
        }
    }

    std::vector<uint8_t> staging;  // a weight on its way to being packed
    for (const auto & t : g.tensors) {
        ggml_tensor * x = ggml_get_tensor(m->ctx, t.name.c_str());
        if (ggml_nbytes(x) != t.nbytes) fail(DINO_ERR_INTERNAL, "%s: size mismatch for '%s'", path.c_str(), t.name.c_str());
        const bool packing = to_pack.count(x) > 0;
        if (packing) {
            staging.resize(t.nbytes);
            x->data = staging.data();
        }
        g.read_tensor(t, x->data);
        if (options.check_values && !values_finite(x->type, x->data, t.nbytes)) {
            fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' holds NaN or infinite values", path.c_str(), t.name.c_str());
        }
        if (packing) {
            std::unique_ptr<dino::kernels::packed_linear> p = dino::kernels::pack(x, options.q8_0_as_7bit);
            m->q8_0_as_7bit |= options.q8_0_as_7bit && x->type == GGML_TYPE_Q8_0;
            x->data = nullptr;  // from here on only the packed copy exists
            if (!p) fail(DINO_ERR_OUT_OF_MEMORY, "%s: cannot allocate the packed weights of '%s'", path.c_str(), t.name.c_str());
            m->packed[x] = std::move(p);
        }
    }

    m->file.close();

    namespace tn = dino::tn;
    m->patch_w = m->tensor(tn::kPatchWeight);
    m->patch_b = m->tensor(tn::kPatchBias);
    // ref: PatchEmbed's Conv2d(stride = kernel) is a linear layer [3 P P -> D] over the patches: our
    // f32 kernel runs it (ggml's f32 matmul took ~1 ms of 65 on q8_0 here, 30% of the FMA peak).
    // The conv weight stays for ggml's im2col, which reads only its shape.
    if (use_kernels) {
        ggml_tensor flat = *m->patch_w;
        flat.ne[0] = 3 * int64_t(h.patch) * h.patch;
        flat.ne[1] = h.dim;
        flat.ne[2] = flat.ne[3] = 1;
        flat.nb[1] = ggml_row_size(flat.type, flat.ne[0]);
        flat.nb[2] = flat.nb[3] = flat.nb[1] * size_t(flat.ne[1]);
        if (dino::kernels::can_pack(flat.type, flat.ne[0], flat.ne[1])) {  // (its shape is checked above)
            std::unique_ptr<dino::kernels::packed_linear> p = dino::kernels::pack(&flat);
            if (!p) fail(DINO_ERR_OUT_OF_MEMORY, "%s: cannot allocate the packed weights of '%s'", path.c_str(), tn::kPatchWeight);
            m->patch_op.w = p.get();
            m->packed[m->patch_w] = std::move(p);
        }
    }
    m->cls = m->tensor(tn::kCls);
    m->pos = m->tensor(tn::kPos);
    if (h.registers > 0) m->registers = m->tensor(tn::kRegisters);
    m->norm_w = m->tensor(tn::weight(tn::kOutputNorm));
    m->norm_b = m->tensor(tn::bias(tn::kOutputNorm));
    m->attention = dino::kernels::attention_kernel(h.dim, h.heads);
    m->attention_bf16 = dino::kernels::attention_kernel(h.dim, h.heads, dino::kernels::attention_products::bf16);
    m->attention_int8 = dino::kernels::attention_kernel(h.dim, h.heads, dino::kernels::attention_products::int8);
    for (int i = 0; i < h.depth; ++i) {
        dino::block k;
        for (const block_linear_spec & l : kBlockLinears) {
            dino::linear_layer & layer = k.*l.layer;
            const std::string name = tn::block(i, l.name);
            layer.w = m->tensor(tn::weight(name));
            layer.b = m->tensor(tn::bias(name));
            if (l.norm) {
                layer.norm_w = m->tensor(tn::weight(tn::block(i, l.norm)));
                layer.norm_b = m->tensor(tn::bias(tn::block(i, l.norm)));
            }
            const auto p = m->packed.find(layer.w);
            layer.op = {p != m->packed.end() ? p->second.get() : nullptr, l.norm != nullptr, h.eps, l.gelu && !h.swiglu};
        }
        if (h.family == dino::family::dinov2) {
            k.attn_scale = m->tensor(tn::block(i, tn::kAttnScale));
            k.ffn_scale = m->tensor(tn::block(i, tn::kFfnScale));
        }
        m->blocks.push_back(k);
    }
    dino::log(DINO_LOG_INFO, "loaded %s: %s %s, dim %d, %d blocks, %d heads, patch %d, %d registers, %s, %.1f MB", path.c_str(),
              h.family == dino::family::dinov2 ? "dinov2" : "dino", m->weight_types.c_str(), h.dim, h.depth, h.heads,
              h.patch, h.registers, m->kernels().c_str(),
              double(m->weight_bytes()) / 1e6);
    return m;
}
