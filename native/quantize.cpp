// quantize.cpp: dino_quantize, through ggml's own quantizers.
#include "quantize.h"

#include "errors.h"
#include "model.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

// Types dino_quantize writes, with llama.cpp's general.file_type for each.
struct target {
    ggml_type type;
    uint32_t file_type;
    ggml_type fallback;  // for rows that are not a multiple of the type's block
};

const target kTargets[] = {
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
const std::vector<std::string> & target_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        for (const target & t : kTargets) n.push_back(lower(ggml_type_name(t.type)));
        return n;
    }();
    return names;
}

const target * find_target(const char * name) {
    const std::string want = lower(name);
    for (size_t i = 0; i < target_names().size(); ++i) {
        if (target_names()[i] == want) return &kTargets[i];
    }
    return nullptr;
}

}  // namespace

const char * dino::quantize_type_name(size_t index) {
    return index < target_names().size() ? target_names()[index].c_str() : nullptr;
}

void dino::quantize(const char * input_path, const char * output_path, const char * type_name) {
    const target * tgt = find_target(type_name);
    if (!tgt) {
        std::string known;
        for (const std::string & n : target_names()) known += (known.empty() ? "" : ", ") + n;
        fail(DINO_ERR_INVALID_ARGUMENT, "unknown or unsupported type '%.32s' (%s)", type_name, known.c_str());
    }
    const std::unique_ptr<dino_model> m = dino_model::load(input_path, dino_model_default_params(), /*use_kernels=*/false);

    std::set<const ggml_tensor *> linear;  // the weights that take the type: the blocks' matrices
    for (const dino::block & b : m->blocks) {
        for (const dino::linear_layer * l : b.linears()) linear.insert(l->w);
    }

    std::vector<std::vector<uint8_t>> storage;  // converted tensor data
    std::vector<dino::gguf_out_tensor> out;
    std::vector<float> f32;
    for (const auto & info : m->file.tensors) {
        const ggml_tensor * t = m->tensor(info.name);
        dino::gguf_out_tensor o{info.name, info.n_dims, {info.ne[0], info.ne[1], info.ne[2], info.ne[3]}, t->type,
                                t->data, ggml_nbytes(t)};
        if (linear.count(t) && t->type != tgt->type) {
            const int64_t n_per_row = t->ne[0], nrows = ggml_nrows(t), n = n_per_row * nrows;
            f32.resize(size_t(n));
            switch (t->type) {
                case GGML_TYPE_F32: std::copy_n(static_cast<const float *>(t->data), n, f32.data()); break;
                case GGML_TYPE_F16: ggml_fp16_to_fp32_row(static_cast<const ggml_fp16_t *>(t->data), f32.data(), n); break;
                case GGML_TYPE_BF16: ggml_bf16_to_fp32_row(static_cast<const ggml_bf16_t *>(t->data), f32.data(), n); break;
                default:
                    fail(DINO_ERR_UNSUPPORTED, "%s: tensor '%s' is already %s; quantize from an f32, f16 or bf16 model",
                         input_path, info.name.c_str(), ggml_type_name(t->type));
            }
            const ggml_type type = n_per_row % ggml_blck_size(tgt->type) == 0 ? tgt->type : tgt->fallback;
            storage.emplace_back(ggml_row_size(type, n_per_row) * size_t(nrows));
            const size_t written = ggml_quantize_chunk(type, f32.data(), storage.back().data(), 0, nrows, n_per_row, nullptr);
            if (written != storage.back().size()) fail(DINO_ERR_INTERNAL, "quantizing '%s' wrote %zu bytes", info.name.c_str(), written);
            o.type = type;
            o.data = storage.back().data();
            o.nbytes = storage.back().size();
        }
        out.push_back(o);
    }

    std::vector<dino::gguf_kv> kvs;
    for (const auto & kv : m->file.kvs) {
        if (kv.key == "general.alignment") continue;  // the writer uses the default (32)
        kvs.push_back(kv.key == "general.file_type" ? dino::make_kv_u32(kv.key, tgt->file_type) : kv);
    }
    if (!m->file.find("general.file_type")) kvs.push_back(dino::make_kv_u32("general.file_type", tgt->file_type));
    dino::write_gguf(output_path, kvs, out);
    dino::log(DINO_LOG_INFO, "quantized %s to %s (%s)", input_path, output_path, ggml_type_name(tgt->type));
}
