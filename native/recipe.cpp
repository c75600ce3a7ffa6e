// recipe.cpp: choosing each linear layer's type for a target (a CLS cosine,
// a file size).  Each layer's sensitivity is measured, the drop in CLS cosine
// when that layer alone takes a lower type, computed by the same kernels a
// file of that type runs; the cheapest mix whose summed drops meet the target
// is taken, then measured whole (quantize.cpp writes it).
#include "recipe.h"

#include "errors.h"
#include "model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

namespace dino {

namespace {

// Sensitivity is measured on at most this many calibration images: every layer
// and type costs one pass over them.
constexpr int32_t kSensitivityImages = 16;

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
    void set(const quant_layer & l, ggml_type t, std::vector<uint8_t> & data) {
        ggml_tensor * h = ggml_new_tensor_2d(meta_, t, l.k, l.n);
        if (!h) fail(DINO_ERR_INTERNAL, "trial: too many layers");
        h->data = data.data();
        linear_layer & in = *l.in_model;
        saved_.push_back({&in, in.w, in.op.w});
        if (in.op.w) {
            if (!kernels::can_pack(t, l.k, l.n)) fail(DINO_ERR_INTERNAL, "no kernel for '%s' as %s", l.name.c_str(), ggml_type_name(t));
            packs_.push_back(kernels::pack(h));
            if (!packs_.back()) fail(DINO_ERR_OUT_OF_MEMORY, "cannot pack '%s'", l.name.c_str());
            in.op.w = packs_.back().get();
        } else {
            in.w = h;  // ggml's op; a context made after this builds its graph on it
        }
    }

private:
    struct saved { linear_layer * l; ggml_tensor * w; const kernels::packed_linear * packed; };
    ggml_context * meta_ = nullptr;
    std::vector<std::unique_ptr<kernels::packed_linear>> packs_;
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


}  // namespace

recipe_result choose_types(const char * input_path, const quant_run & run, std::vector<quant_layer> & layers, uint64_t fixed,
                           ggml_type lowest) {
    const quantize_request & r = run.r;
    const uint64_t max_bytes = r.max_mb > 0 ? uint64_t(r.max_mb * 1e6) : std::numeric_limits<uint64_t>::max();
    uint64_t smallest = fixed;
    for (const quant_layer & l : layers) smallest += l.bytes(lowest);
    if (smallest > max_bytes) {
        fail(DINO_ERR_INVALID_ARGUMENT, "the smallest file, every linear layer %s, is %.2f MB: more than the %.6g MB asked for",
             type_name(lowest).c_str(), double(smallest) / 1e6, r.max_mb);
    }
    const std::unique_ptr<dino_model> m = dino_model::load(input_path, load_options{/*check_values=*/false, /*use_kernels=*/true});
    for (size_t b = 0, l = 0; b < m->blocks.size(); ++b) {
        for (linear_layer * x : m->blocks[b].linears()) layers[l++].in_model = x;
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
    compute_extras keep;
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
                std::vector<uint8_t> data = run.quantized(layers[l], t);
                trial tr(1);
                tr.set(layers[l], t, data);
                compute_extras from;
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
            data[l] = run.quantized(layers[l], layers[l].type);
            tr.set(layers[l], layers[l].type, data[l]);
        }
        // With the attention the written file gets by default (bf16 for an all-int8 mix, where the CPU has it).
        const std::vector<double> d = drops(ref_all, run.cls(*m, r.images, r.n_images, {}, m->default_attention()), dim);
        const double worst = *std::max_element(d.begin(), d.end());
        double sum = 0;
        for (double x : d) sum += x;
        res = {1.0 - worst, 1.0 - sum / double(d.size()), true};
        log(DINO_LOG_INFO, "quantize: mix %d: %.2f MB, predicted worst drop %.3g (budget %.3g), measured %.3g",
                  round, double(p.bytes) / 1e6, p.predicted, budget, worst);
        if (r.target_cos <= 0) break;                 // a size alone: the best that fits
        res.met = worst <= goal;
        if (res.met || !p.met) break;                 // met, or the size allows no more
        budget *= 0.8 * goal / worst;                 // the drops did not add up as predicted: aim lower
    }
    run.step("measuring the mix", 4, 4);
    return res;
}

}  // namespace dino
