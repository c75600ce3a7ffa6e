// quantize.cpp: dino_quantize_model, through ggml's own quantizers.
//
// Three ways, by what the caller gives:
//   - a type alone: every linear weight in that type (ggml's plain quantizers);
//   - calibration images: first an importance matrix, the per-input-channel
//     mean of the squared input of every linear layer over the images
//     (ref: llama.cpp tools/imatrix), which ggml's q4_0, q4_1, q5_*, and
//     K-quant quantizers use to choose their scales;
//   - a target (CLS cosine, file size): then the type of each layer too.
//     Each layer's sensitivity is measured, the drop in CLS cosine when that
//     layer alone takes a lower type, computed by the same kernels a file of
//     that type runs; the cheapest mix whose summed drops meet the target is
//     taken, then measured whole.
#include "quantize.h"

#include "context.h"
#include "errors.h"
#include "model.h"

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

// The types a recipe chooses among, smallest first: the ones our kernels run
// (kernels.h), so a mixed file computes as fast as its parts.  Why these and
// not q4_1, q5_1 or the K-quants: README, "Quantization".
const ggml_type kRecipeTypes[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0, GGML_TYPE_F16};

// Of the drift a target allows, half is kept for images calibration did not see.
constexpr double kUnseenMargin = 0.5;

// Sensitivity is measured on at most this many calibration images: every layer
// and type costs one pass over them.
constexpr int32_t kSensitivityImages = 16;

std::string lower(std::string s) {
    for (char & c : s) c = char(tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string type_name(ggml_type t) { return lower(ggml_type_name(t)); }

// ggml's names in lower case ("q4_k" for GGML_TYPE_Q4_K), kept for the life of the library.
const std::vector<std::string> & target_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> n;
        for (const target & t : kTargets) n.push_back(type_name(t.type));
        return n;
    }();
    return names;
}

const target & find_target(const std::string & name) {
    const std::string want = lower(name);
    for (size_t i = 0; i < target_names().size(); ++i) {
        if (target_names()[i] == want) return kTargets[i];
    }
    std::string known;
    for (const std::string & n : target_names()) known += (known.empty() ? "" : ", ") + n;
    fail(DINO_ERR_INVALID_ARGUMENT, "unknown or unsupported type '%.32s' (%s)", name.c_str(), known.c_str());
}

// One linear weight of the model, as the quantizer sees it.
struct layer {
    std::string name;
    int block = 0;
    dino::linear_layer * in_model = nullptr;  // in the model the trials run
    int64_t k = 0, n = 0;                     // inputs (row length), outputs (rows)
    std::vector<float> f32;                   // the weights
    std::vector<float> importance;            // per input: mean of x^2 over the calibration tokens, or empty
    ggml_type type = GGML_TYPE_F32;           // what it is written as

    uint64_t bytes(ggml_type t) const { return ggml_row_size(t, k) * uint64_t(n); }

    std::vector<uint8_t> quantized(ggml_type t) const {
        std::vector<uint8_t> out(bytes(t));
        const size_t written = ggml_quantize_chunk(t, f32.data(), out.data(), 0, n, k,
                                                   importance.empty() ? nullptr : importance.data());
        if (written != out.size()) fail(DINO_ERR_INTERNAL, "quantizing '%s' wrote %zu bytes", name.c_str(), written);
        return out;
    }
};

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

// The run of one request: its images, its progress, the contexts it computes with.
struct run {
    const quantize_request & r;
    int32_t size = 0;  // the model's image size

    void step(const char * stage, int32_t done, int32_t total) const {
        if (r.progress && !r.progress(stage, done, total)) fail(DINO_ERR_ABORTED, "quantization stopped by the progress callback");
    }

    std::unique_ptr<dino_context> context(const dino_model & m, dino_attention_kernel attention = DINO_ATTENTION_FLASH) const {
        dino_context_params p{};
        p.n_threads = r.n_threads;
        p.pos_interp = DINO_POS_INTERP_DINO;
        p.attention_kernel = attention;
        return dino_context::create(&m, p);
    }

    size_t image_floats() const { return size_t(3) * size_t(size) * size_t(size); }

    // The CLS embeddings of n images from input (their pixels, or see compute_extras).
    std::vector<float> cls(const dino_model & m, const float * input, int32_t n, const dino::compute_extras & extras = {},
                           dino_attention_kernel attention = DINO_ATTENTION_FLASH) const {
        std::vector<float> out(size_t(n) * size_t(m.hp.dim));
        dino_outputs o{};
        o.cls = out.data();
        o.cls_capacity = out.size();
        context(m, attention)->compute(input, n, size, size, o, extras);
        return out;
    }
};

// Per image, 1 - cosine(a_i, b_i).
std::vector<double> drops(const std::vector<float> & a, const std::vector<float> & b, int64_t dim) {
    std::vector<double> d(a.size() / size_t(dim));
    for (size_t i = 0; i < d.size(); ++i) {
        double ab = 0, aa = 0, bb = 0;
        for (int64_t c = 0; c < dim; ++c) {
            const double x = a[i * size_t(dim) + size_t(c)], y = b[i * size_t(dim) + size_t(c)];
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }
        d[i] = 1.0 - ab / std::sqrt(aa * bb);
    }
    return d;
}

// The importance matrix: the f32 model (no packed weights, so each product's
// input is a tensor of the graph) over every calibration image.
void collect_importance(const dino_model & src, const run & run, std::vector<layer> & layers) {
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

// A model with some of its linear layers swapped for quantized weights, run
// exactly as a file of those types would be (packed for the same kernels, or
// on ggml's ops where the layer has none); put back when it goes.
class trial {
public:
    explicit trial(size_t max_layers) {
        ggml_init_params ip = {ggml_tensor_overhead() * (max_layers + 1), nullptr, /*no_alloc=*/true};
        meta_ = ggml_init(ip);
        if (!meta_) fail(DINO_ERR_OUT_OF_MEMORY, "cannot allocate a tensor table");
    }
    trial(const trial &) = delete;
    trial & operator=(const trial &) = delete;
    ~trial() {
        for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
            it->l->w = it->w;
            it->l->op.w = it->packed;
        }
        ggml_free(meta_);
    }

    // l computes with data (type t) until the trial ends; data must outlive it.
    void set(const layer & l, ggml_type t, std::vector<uint8_t> & data) {
        ggml_tensor * h = ggml_new_tensor_2d(meta_, t, l.k, l.n);
        if (!h) fail(DINO_ERR_INTERNAL, "trial: too many layers");
        h->data = data.data();
        dino::linear_layer & in = *l.in_model;
        saved_.push_back({&in, in.w, in.op.w});
        if (in.op.w) {
            if (!dino::kernels::can_pack(t, l.k, l.n)) fail(DINO_ERR_INTERNAL, "no kernel for '%s' as %s", l.name.c_str(), ggml_type_name(t));
            packs_.push_back(dino::kernels::pack(h));
            if (!packs_.back()) fail(DINO_ERR_OUT_OF_MEMORY, "cannot pack '%s'", l.name.c_str());
            in.op.w = packs_.back().get();
        } else {
            in.w = h;  // ggml's op; a context made after this builds its graph on it
        }
    }

private:
    struct saved { dino::linear_layer * l; ggml_tensor * w; const dino::kernels::packed_linear * packed; };
    ggml_context * meta_ = nullptr;
    std::vector<std::unique_ptr<dino::kernels::packed_linear>> packs_;
    std::vector<saved> saved_;
};

// One way a layer can be written: its type, size and measured per-image drop.
struct option {
    ggml_type type;
    uint64_t bytes;
    std::vector<double> drop;
};

struct pick {
    std::vector<size_t> choice;  // per layer, an index into its options
    uint64_t bytes = 0;
    double predicted = 0;        // the worst image's summed drops
    bool met = false;            // ... within the budget
};

// The smallest mix (greedy on the drop removed per byte, by the mean over
// images) whose summed per-image drops stay within budget on every image and
// whose size stays within max_bytes; with no budget, the best that fits.
pick choose(const std::vector<std::vector<option>> & options, uint64_t fixed, double budget, uint64_t max_bytes) {
    pick p;
    p.choice.assign(options.size(), 0);
    const size_t images = options[0][0].drop.size();
    std::vector<double> total(images, 0.0);
    p.bytes = fixed;
    for (const auto & o : options) {
        p.bytes += o[0].bytes;
        for (size_t i = 0; i < images; ++i) total[i] += o[0].drop[i];
    }
    const auto worst = [&] { return *std::max_element(total.begin(), total.end()); };
    for (;;) {
        p.predicted = worst();
        p.met = p.predicted <= budget;
        if (p.met) return p;
        double best_gain = 0;
        size_t best_l = 0, best_t = 0;
        for (size_t l = 0; l < options.size(); ++l) {
            const option & cur = options[l][p.choice[l]];
            for (size_t t = p.choice[l] + 1; t < options[l].size(); ++t) {
                const option & up = options[l][t];
                if (p.bytes - cur.bytes + up.bytes > max_bytes) continue;
                double removed = 0;
                for (size_t i = 0; i < images; ++i) removed += cur.drop[i] - up.drop[i];
                const double gain = removed / double(images) / double(up.bytes - cur.bytes);
                if (gain > best_gain) best_gain = gain, best_l = l, best_t = t;
            }
        }
        if (best_gain <= 0) return p;  // nothing left that fits and helps
        const option & cur = options[best_l][p.choice[best_l]];
        const option & up = options[best_l][best_t];
        for (size_t i = 0; i < images; ++i) total[i] += up.drop[i] - cur.drop[i];
        p.bytes = p.bytes - cur.bytes + up.bytes;
        p.choice[best_l] = best_t;
    }
}

struct recipe_result {
    double cos_min = 1, cos_mean = 1;  // the whole mix, on every calibration image
    bool met = true;
};

// Chooses each layer's type (layer::type) for the request's target and size.
recipe_result choose_types(const char * input_path, const run & run, std::vector<layer> & layers, uint64_t fixed) {
    const quantize_request & r = run.r;
    const ggml_type lowest = find_target(r.type).type;
    const uint64_t max_bytes = r.max_mb > 0 ? uint64_t(r.max_mb * 1e6) : std::numeric_limits<uint64_t>::max();
    uint64_t smallest = fixed;
    for (const layer & l : layers) smallest += l.bytes(lowest);
    if (smallest > max_bytes) {
        fail(DINO_ERR_INVALID_ARGUMENT, "the smallest file, every linear layer %s, is %.2f MB: more than the %.6g MB asked for",
             type_name(lowest).c_str(), double(smallest) / 1e6, r.max_mb);
    }
    const std::unique_ptr<dino_model> m = dino_model::load(input_path, dino_model_params{false}, /*use_kernels=*/true);
    for (size_t b = 0, l = 0; b < m->blocks.size(); ++b) {
        for (dino::linear_layer * x : m->blocks[b].linears()) layers[l++].in_model = x;
    }
    const int64_t dim = m->hp.dim;

    // The images sensitivity is measured on: spread over the calibration set.
    const int32_t n_sens = std::min(r.n_images, kSensitivityImages);
    std::vector<float> sens(size_t(n_sens) * run.image_floats());
    for (int32_t i = 0; i < n_sens; ++i) {
        const float * src = r.images + size_t(int64_t(i) * r.n_images / n_sens) * run.image_floats();
        std::copy_n(src, run.image_floats(), sens.data() + size_t(i) * run.image_floats());
    }
    const std::vector<float> ref_all = run.cls(*m, r.images, r.n_images);
    // A layer changes nothing before its block: each measurement starts there, from the stream the
    // f32 model sends into it (about half the work of whole passes).
    std::vector<std::vector<float>> stream;
    dino::compute_extras keep;
    keep.block_inputs = &stream;
    const std::vector<float> ref = run.cls(*m, sens.data(), n_sens, keep);

    std::vector<ggml_type> types;
    for (ggml_type t : kRecipeTypes) {
        if (types.empty() && t != lowest) continue;
        types.push_back(t);
    }
    const ggml_type top = types.back();

    std::vector<std::vector<option>> options(layers.size());
    const int32_t passes = int32_t(layers.size() * (types.size() - 1));
    int32_t done = 0;
    for (size_t l = 0; l < layers.size(); ++l) {
        for (ggml_type t : types) {
            option o{t, layers[l].bytes(t), std::vector<double>(size_t(n_sens), 0.0)};
            if (t != top) {  // the highest type's drop is taken as none: f16 moves the CLS by ~1e-6
                run.step("measuring each layer", done++, passes);
                std::vector<uint8_t> data = layers[l].quantized(t);
                trial tr(1);
                tr.set(layers[l], t, data);
                dino::compute_extras from;
                from.first_block = layers[l].block;
                const float * input = from.first_block > 0 ? stream[size_t(from.first_block)].data() : sens.data();
                o.drop = drops(ref, run.cls(*m, input, n_sens, from), dim);
            }
            options[l].push_back(std::move(o));
        }
    }
    run.step("measuring each layer", passes, passes);

    const double goal = r.target_cos > 0 ? (1.0 - r.target_cos) * kUnseenMargin : 0.0;
    double budget = goal;
    recipe_result res;
    for (int round = 0; round < 4; ++round) {
        const pick p = choose(options, fixed, budget, max_bytes);
        for (size_t l = 0; l < layers.size(); ++l) layers[l].type = options[l][p.choice[l]].type;

        // The mix as a whole, on every calibration image.
        run.step("measuring the mix", round, 4);
        std::vector<std::vector<uint8_t>> data(layers.size());
        trial tr(layers.size());
        for (size_t l = 0; l < layers.size(); ++l) {
            data[l] = layers[l].quantized(layers[l].type);
            tr.set(layers[l], layers[l].type, data[l]);
        }
        // With the attention the written file gets by default (bf16 for an all-int8 mix, where the CPU has it).
        const std::vector<double> d = drops(ref_all, run.cls(*m, r.images, r.n_images, {}, m->default_attention()), dim);
        const double worst = *std::max_element(d.begin(), d.end());
        double sum = 0;
        for (double x : d) sum += x;
        res = {1.0 - worst, 1.0 - sum / double(d.size()), true};
        dino::log(DINO_LOG_INFO, "quantize: mix %d: %.2f MB, predicted worst drop %.3g (budget %.3g), measured %.3g",
                  round, double(p.bytes) / 1e6, p.predicted, budget, worst);
        if (r.target_cos <= 0) break;                 // a size alone: the best that fits
        res.met = worst <= goal;
        if (res.met || !p.met) break;                 // met, or the size allows no more
        budget *= 0.8 * goal / worst;                 // the drops did not add up as predicted: aim lower
    }
    run.step("measuring the mix", 4, 4);
    return res;
}

std::string describe(const std::vector<layer> & layers, const quantize_request & r, const recipe_result & res) {
    std::map<std::string, int> count;
    for (const layer & l : layers) ++count[type_name(l.type)];
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
std::string importance_digest(const std::vector<layer> & layers) {
    uint64_t h = 1469598103934665603ull;
    for (const layer & l : layers) {
        const auto * p = reinterpret_cast<const uint8_t *>(l.importance.data());
        for (size_t i = 0; i < l.importance.size() * sizeof(float); ++i) h = (h ^ p[i]) * 1099511628211ull;
    }
    return dino::format("fnv1a64:%016llx", static_cast<unsigned long long>(h));
}

}  // namespace

const char * dino::quantize_type_name(size_t index) {
    return index < target_names().size() ? target_names()[index].c_str() : nullptr;
}

void dino::quantize(const char * input_path, const char * output_path, const quantize_request & r) {
    const target & tgt = find_target(r.type);
    if (r.recipe()) {
        if (r.n_images < 1) fail(DINO_ERR_INVALID_ARGUMENT, "a target (cosine or size) needs calibration images to measure on");
        if (std::find(std::begin(kRecipeTypes), std::end(kRecipeTypes) - 1, tgt.type) == std::end(kRecipeTypes) - 1) {
            fail(DINO_ERR_INVALID_ARGUMENT, "with a target, the type is the lowest a layer may take: q4_0, q5_0 or q8_0 "
                 "(the types the library's kernels run), not %s", type_name(tgt.type).c_str());
        }
    }
    const std::unique_ptr<dino_model> m = dino_model::load(input_path, dino_model_default_params(), /*use_kernels=*/false);
    if (r.n_images > 0 && r.image_size != m->hp.image) {
        fail(DINO_ERR_INVALID_ARGUMENT, "the calibration images are %dx%d; this model takes %dx%d (preprocess them with its defaults)",
             r.image_size, r.image_size, m->hp.image, m->hp.image);
    }
    const run run{r, m->hp.image};

    std::vector<layer> layers;  // the blocks' matrices, in block order
    uint64_t fixed = m->file.file_size;  // what the linear weights leave: header, norms, embeddings
    for (const dino::block & b : m->blocks) {
        for (const dino::linear_layer * l : b.linears()) {
            layer x;
            x.name = ggml_get_name(l->w);
            x.block = int(&b - m->blocks.data());
            x.k = l->w->ne[0];
            x.n = l->w->ne[1];
            x.f32 = to_f32(l->w, input_path, x.name);
            x.type = x.k % ggml_blck_size(tgt.type) == 0 ? tgt.type : tgt.fallback;
            fixed -= ggml_nbytes(l->w);
            layers.push_back(std::move(x));
        }
    }
    if (r.n_images > 0) collect_importance(*m, run, layers);
    recipe_result res;
    if (r.recipe()) {
        res = choose_types(input_path, run, layers, fixed);
        if (r.target_cos > 0 && !res.met) {
            dino::log(DINO_LOG_WARN, "quantize: the target CLS cosine %.8g (with the margin for unseen images: %.8g on the calibration "
                      "images) was not reached within %.6g MB; the best mix measures %.7f", r.target_cos, 1 - (1 - r.target_cos) * kUnseenMargin,
                      r.max_mb, res.cos_min);
        }
    }

    std::map<std::string, const layer *> by_name;
    for (const layer & l : layers) by_name[l.name] = &l;
    std::vector<std::vector<uint8_t>> storage;  // converted tensor data
    std::vector<dino::gguf_out_tensor> out;
    for (const auto & info : m->file.tensors) {
        const ggml_tensor * t = m->tensor(info.name);
        dino::gguf_out_tensor o{info.name, info.n_dims, {info.ne[0], info.ne[1], info.ne[2], info.ne[3]}, t->type,
                                t->data, ggml_nbytes(t)};
        const auto it = by_name.find(info.name);
        if (it != by_name.end() && t->type != it->second->type) {
            storage.push_back(it->second->quantized(it->second->type));
            o.type = it->second->type;
            o.data = storage.back().data();
            o.nbytes = storage.back().size();
        }
        out.push_back(o);
    }

    std::vector<dino::gguf_kv> kvs;
    for (const auto & kv : m->file.kvs) {
        if (kv.key == "general.alignment" || kv.key.rfind("dino.quantize.", 0) == 0) continue;  // the writer's, and ours below
        kvs.push_back(kv.key == "general.file_type" ? dino::make_kv_u32(kv.key, tgt.file_type) : kv);
    }
    if (!m->file.find("general.file_type")) kvs.push_back(dino::make_kv_u32("general.file_type", tgt.file_type));
    if (r.n_images > 0) {  // a plain type says nothing more, and stays byte-identical to convert_gguf.py's
        kvs.push_back(dino::make_kv_str("dino.quantize.recipe", describe(layers, r, res)));
        kvs.push_back(dino::make_kv_u32("dino.quantize.imatrix.images", uint32_t(r.n_images)));
        kvs.push_back(dino::make_kv_str("dino.quantize.imatrix.digest", importance_digest(layers)));
    }
    dino::write_gguf(output_path, kvs, out);
    dino::log(DINO_LOG_INFO, "quantized %s to %s (%s)", input_path, output_path, describe(layers, r, res).c_str());
}
