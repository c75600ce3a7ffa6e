// quantize.cpp: dino_quantize_model, through ggml's own quantizers: reading
// the model, the importance matrix, and writing the file (recipe.cpp chooses
// the layers' types for a target).
//
// Three ways, by what the caller gives:
//   - a type alone: every linear weight in that type (ggml's plain quantizers);
//   - calibration images: first an importance matrix, the per-input-channel
//     mean of the squared input of every linear layer over the images
//     (ref: llama.cpp tools/imatrix), which ggml's q4_0, q4_1, q5_*, and
//     K-quant quantizers use to choose their scales;
//   - a target (CLS cosine, file size): then the type of each layer too.
#include "quantize.h"

#include "errors.h"
#include "file_io.h"
#include "model.h"
#include "recipe.h"
#include "tensor_names.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

using dino::fail;
using dino::quantize_request;
using dino::quant_layer;
using dino::type_name;

namespace {

// Types dino_quantize writes, with llama.cpp's general.file_type for each.
struct output_type {
    ggml_type type;
    uint32_t file_type;
    ggml_type fallback;  // for rows that are not a multiple of the type's block
};

const output_type kOutputTypes[] = {
    {GGML_TYPE_F32, 0, GGML_TYPE_F32},   {GGML_TYPE_F16, 1, GGML_TYPE_F16},   {GGML_TYPE_BF16, 32, GGML_TYPE_BF16},
    {GGML_TYPE_Q4_0, 2, GGML_TYPE_Q4_0}, {GGML_TYPE_Q4_1, 3, GGML_TYPE_Q4_1}, {GGML_TYPE_Q5_0, 8, GGML_TYPE_Q5_0},
    {GGML_TYPE_Q5_1, 9, GGML_TYPE_Q5_1}, {GGML_TYPE_Q8_0, 7, GGML_TYPE_Q8_0},
    // K-quants: 256-value super-blocks.  ViT-S rows are 384 wide except
    // ffn_down's (1536), so most tensors take the fallback.
    {GGML_TYPE_Q2_K, 10, GGML_TYPE_Q4_0}, {GGML_TYPE_Q3_K, 11, GGML_TYPE_Q4_0}, {GGML_TYPE_Q4_K, 14, GGML_TYPE_Q5_0},
    {GGML_TYPE_Q5_K, 16, GGML_TYPE_Q5_1}, {GGML_TYPE_Q6_K, 18, GGML_TYPE_Q8_0},
};

std::string lower(std::string s) {
    for (char & c : s) c = char(tolower(static_cast<unsigned char>(c)));
    return s;
}


// ggml's names in lower case ("q4_k" for GGML_TYPE_Q4_K), kept for the life of the library.
const std::vector<std::string> & output_type_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        for (const output_type & t : kOutputTypes) n.push_back(type_name(t.type));
        return n;
    }();
    return names;
}

const output_type & find_output_type(const std::string & name) {
    const std::string want = lower(name);
    for (size_t i = 0; i < output_type_names().size(); ++i) {
        if (output_type_names()[i] == want) return kOutputTypes[i];
    }
    std::string known;
    for (const std::string & n : output_type_names()) known += (known.empty() ? "" : ", ") + n;
    fail(DINO_ERR_INVALID_ARGUMENT, "unknown or unsupported type '%.32s' (%s)", name.c_str(), known.c_str());
}

std::vector<float> to_f32(const ggml_tensor * t, const char * path, const std::string & name) {
    const int64_t n = ggml_nelements(t);
    std::vector<float> f(static_cast<size_t>(n));
    switch (t->type) {
        case GGML_TYPE_F32: std::copy_n(static_cast<const float *>(t->data), n, f.data()); break;
        case GGML_TYPE_F16: ggml_fp16_to_fp32_row(static_cast<const ggml_fp16_t *>(t->data), f.data(), n); break;
        case GGML_TYPE_BF16: ggml_bf16_to_fp32_row(static_cast<const ggml_bf16_t *>(t->data), f.data(), n); break;
        default:
            fail(DINO_ERR_UNSUPPORTED, "%s: tensor '%s' is already %s; quantize from an f32, f16 or bf16 model", path,
                 name.c_str(), ggml_type_name(t->type));
    }
    return f;
}

// The importance matrix: the f32 model (no packed weights, so each product's
// input is a tensor of the graph) over every calibration image.
void collect_importance(const dino_model & src, const dino::quant_run & run, std::vector<quant_layer> & layers) {
    const std::unique_ptr<dino_context> ctx = run.context(src);
    dino::input_stats stats;
    const int32_t n = run.r.n_images, step = 4;
    for (int32_t i = 0; i < n; i += step) {
        run.step("calibrating", i, n);
        dino::compute_extras extras;
        extras.stats = &stats;
        ctx->compute(run.r.images + size_t(i) * run.image_floats(), std::min(step, n - i), run.size, run.size, {}, extras);
    }
    run.step("calibrating", n, n);
    if (stats.sums.size() != layers.size()) fail(DINO_ERR_INTERNAL, "calibration saw %zu layers of %zu", stats.sums.size(), layers.size());
    for (size_t l = 0; l < layers.size(); ++l) {
        if (int64_t(stats.sums[l].size()) != layers[l].k) fail(DINO_ERR_INTERNAL, "calibration: '%s' has the wrong width", layers[l].name.c_str());
        layers[l].importance.resize(stats.sums[l].size());
        for (size_t c = 0; c < stats.sums[l].size(); ++c) layers[l].importance[c] = float(stats.sums[l][c] / double(stats.rows));
    }
}

std::string describe(const std::vector<quant_layer> & layers, const quantize_request & r, const dino::recipe_result & res) {
    std::map<std::string, int> count;
    for (const quant_layer & l : layers) ++count[type_name(l.type)];
    std::string types;
    for (const auto & [name, n] : count) types += dino::format("%s%d x %s", types.empty() ? "" : ", ", n, name.c_str());
    std::string s = dino::format("linear layers %s", types.c_str());
    if (r.n_images > 0) s += dino::format("; importance matrix from %d image(s)", r.n_images);
    if (r.recipe()) {
        std::string want;
        if (r.target_cos > 0) want = dino::format("CLS cosine >= %.8g", r.target_cos);
        if (r.max_mb > 0) want += dino::format("%sat most %.6g MB", want.empty() ? "" : ", ", r.max_mb);
        s += dino::format("; chosen for %s; calibration images: cosine min %.6f, mean %.6f", want.c_str(), res.cos_min, res.cos_mean);
    }
    return s;
}

// FNV-1a over the importance values, so a file names the statistics it was made with.
std::string importance_digest(const std::vector<quant_layer> & layers) {
    uint64_t h = 1469598103934665603ull;
    for (const quant_layer & l : layers) {
        const auto * p = reinterpret_cast<const uint8_t *>(l.importance.data());
        for (size_t i = 0; i < l.importance.size() * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
    }
    return dino::format("fnv1a64:%016llx", static_cast<unsigned long long>(h));
}

}  // namespace

std::string dino::type_name(ggml_type t) { return lower(ggml_type_name(t)); }

const char * dino::quantize_type_name(size_t index) {
    return index < output_type_names().size() ? output_type_names()[index].c_str() : nullptr;
}

void dino::quantize(const char * input_path, const char * output_path, const quantize_request & r) {
    const output_type & out_type = find_output_type(r.type);
    // Written over, the input would be gone (a link or hard link to it is the same file).
    if (dino::file_io::same_file(input_path, output_path))
        fail(DINO_ERR_INVALID_ARGUMENT, "%s is the input %s: the output must be another file", output_path, input_path);
    if (r.recipe()) {
        if (r.n_images < 1) fail(DINO_ERR_INVALID_ARGUMENT, "a target (cosine or size) needs calibration images to measure on");
        if (std::find(std::begin(dino::kRecipeTypes), std::end(dino::kRecipeTypes) - 1, out_type.type) == std::end(dino::kRecipeTypes) - 1) {
            fail(DINO_ERR_INVALID_ARGUMENT, "with a target, the type is the lowest a layer may take: q4_0, q5_0 or q8_0 "
                 "(the types the library's kernels run), not %s", type_name(out_type.type).c_str());
        }
    }
    const std::unique_ptr<dino_model> m = dino_model::load(input_path, dino::load_options{/*check_values=*/true, /*use_kernels=*/false});
    if (r.n_images > 0 && (r.image_size < m->hp.patch || r.image_size > 4096 || r.image_size % m->hp.patch != 0)) {
        fail(DINO_ERR_INVALID_ARGUMENT, "the calibration images are %dx%d: not a multiple of the patch size %d up to 4096 "
             "(preprocess them with the model's defaults)", r.image_size, r.image_size, m->hp.patch);
    }
    const dino::quant_run run{r, r.image_size};

    std::vector<quant_layer> layers;  // the blocks' matrices, in block order
    uint64_t fixed = m->file.file_size;  // what the linear weights leave: header, norms, embeddings
    for (const dino::block & b : m->blocks) {
        for (const dino::linear_layer * l : b.linears()) {
            quant_layer x;
            x.name = ggml_get_name(l->w);
            x.block = int(&b - m->blocks.data());
            x.k = l->w->ne[0];
            x.n = l->w->ne[1];
            x.f32 = to_f32(l->w, input_path, x.name);
            x.type = x.k % ggml_blck_size(out_type.type) == 0 ? out_type.type : out_type.fallback;
            fixed -= ggml_nbytes(l->w);
            layers.push_back(std::move(x));
        }
    }
    if (r.n_images > 0) collect_importance(*m, run, layers);
    dino::recipe_result res;
    if (r.recipe()) {
        res = dino::choose_types(input_path, run, layers, fixed, out_type.type);
        if (r.target_cos > 0 && !res.met) {
            dino::log(DINO_LOG_WARN, "quantize: the target CLS cosine %.8g (with the margin for unseen images: %.8g on the calibration "
                      "images) was not reached within %.6g MB; the best mix measures %.7f", r.target_cos, 1 - (1 - r.target_cos) * dino::kUnseenMargin,
                      r.max_mb, res.cos_min);
        }
    }

    std::map<std::string, const quant_layer *> by_name;
    for (const quant_layer & l : layers) by_name[l.name] = &l;
    std::vector<std::vector<uint8_t>> storage;  // converted tensor data
    std::vector<dino::gguf_out_tensor> out;
    for (const auto & info : m->file.tensors) {
        const ggml_tensor * t = m->tensor(info.name);
        dino::gguf_out_tensor o{info.name, info.n_dims, {info.ne[0], info.ne[1], info.ne[2], info.ne[3]}, t->type,
                                t->data, ggml_nbytes(t)};
        const auto it = by_name.find(info.name);
        if (it != by_name.end() && t->type != it->second->type) {
            run.step("writing", int32_t(storage.size()), int32_t(layers.size()));
            storage.push_back(run.quantized(*it->second, it->second->type));
            o.type = it->second->type;
            o.data = storage.back().data();
            o.nbytes = storage.back().size();
        }
        out.push_back(o);
    }
    if (!storage.empty()) run.step("writing", int32_t(layers.size()), int32_t(layers.size()));

    std::vector<dino::gguf_kv> kvs;
    for (const auto & kv : m->file.kvs) {
        if (kv.key == dino::kv::kAlignment || kv.key.rfind(dino::kv::kQuantizePrefix, 0) == 0) continue;  // the writer's, and ours below
        kvs.push_back(kv.key == dino::kv::kFileType ? dino::make_kv_u32(kv.key, out_type.file_type) : kv);
    }
    if (!m->file.find(dino::kv::kFileType)) kvs.push_back(dino::make_kv_u32(dino::kv::kFileType, out_type.file_type));
    if (r.n_images > 0) {  // a plain type says nothing more, and stays byte-identical to convert_gguf.py's
        kvs.push_back(dino::make_kv_str(dino::kv::kQuantizeRecipe, describe(layers, r, res)));
        kvs.push_back(dino::make_kv_u32(dino::kv::kImatrixImages, uint32_t(r.n_images)));
        kvs.push_back(dino::make_kv_str(dino::kv::kImatrixDigest, importance_digest(layers)));
    }
    dino::write_gguf(output_path, kvs, out);
    dino::log(DINO_LOG_INFO, "quantized %s to %s (%s)", input_path, output_path, describe(layers, r, res).c_str());
}
