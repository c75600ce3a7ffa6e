// helpers.h: shared pieces of the native tests.
#pragma once

#include "dino.h"
#include "npy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

// Where make_test_data.py wrote the synthetic models and inputs, and where the
// committed PyTorch reference outputs live (set by CTest).
inline std::string data_path(const std::string & name) {
    const char * d = getenv("DINO_TEST_DATA");
    return std::string(d ? d : "testdata") + "/" + name;
}
inline std::string ref_path(const std::string & name) {
    const char * d = getenv("DINO_TEST_REF");
    return std::string(d ? d : "../tests/reference") + "/" + name + ".npy";
}

struct model_deleter { void operator()(dino_model * m) const { dino_model_free(m); } };
struct context_deleter { void operator()(dino_context * c) const { dino_context_free(c); } };
using model_ptr = std::unique_ptr<dino_model, model_deleter>;
using context_ptr = std::unique_ptr<dino_context, context_deleter>;

// Models are loaded once per test binary and shared (read-only) by all tests.
inline const dino_model * shared_model(const std::string & file) {
    static std::map<std::string, model_ptr> cache;
    auto it = cache.find(file);
    if (it == cache.end()) {
        dino_model * m = nullptr;
        const dino_status st = dino_model_load(data_path(file).c_str(), nullptr, &m);
        if (st != DINO_OK) {
            ADD_FAILURE() << "loading " << file << ": " << dino_last_error();
            return nullptr;
        }
        it = cache.emplace(file, model_ptr(m)).first;
    }
    return it->second.get();
}

inline context_ptr make_context(const dino_model * m, int threads = 2, int pos_interp = DINO_POS_INTERP_MODEL,
                                int attention_kernel = DINO_ATTENTION_AUTO) {
    dino_context_params p = dino_context_default_params();
    p.n_threads = threads;
    p.pos_interp = pos_interp;
    p.attention_kernel = attention_kernel;
    dino_context * c = nullptr;
    EXPECT_EQ(dino_context_new(m, &p, &c), DINO_OK) << dino_last_error();
    return context_ptr(c);
}

inline dino_model_info info_of(const dino_model * m) {
    dino_model_info i{};
    EXPECT_EQ(dino_model_get_info(m, &i), DINO_OK);
    return i;
}

// One call's results, sized from the model and the request.
struct result {
    std::vector<float> tokens, cls, attention, intermediate, registers;
    int64_t T = 0, D = 0, R = 0;
};

struct request {
    bool attention = false, attention_full = false;
    int n_intermediate = 0;
};

inline result run(dino_context * ctx, const dino_model * m, const float * pixels, int n, int h, int w,
                  request rq = {}) {
    const dino_model_info i = info_of(m);
    result r;
    r.T = dino_model_token_count(m, h, w);
    r.D = i.embedding_length;
    r.R = i.register_count;
    r.tokens.resize(size_t(n * r.T * r.D));
    r.cls.resize(size_t(n * r.D));
    dino_outputs o = dino_outputs_default();
    o.tokens = r.tokens.data();
    o.tokens_capacity = r.tokens.size();
    o.cls = r.cls.data();
    o.cls_capacity = r.cls.size();
    if (r.R > 0) {
        r.registers.resize(size_t(n * r.R * r.D));
        o.registers = r.registers.data();
        o.registers_capacity = r.registers.size();
    }
    if (rq.attention) {
        r.attention.resize(size_t(n * i.head_count * (rq.attention_full ? r.T : 1) * r.T));
        o.attention = r.attention.data();
        o.attention_capacity = r.attention.size();
        o.attention_full = rq.attention_full;
    }
    if (rq.n_intermediate) {
        r.intermediate.resize(size_t(n * rq.n_intermediate * r.T * r.D));
        o.intermediate = r.intermediate.data();
        o.intermediate_capacity = r.intermediate.size();
        o.n_intermediate = rq.n_intermediate;
    }
    const dino_status st = dino_compute(ctx, pixels, n, h, w, &o);
    EXPECT_EQ(st, DINO_OK) << dino_last_error();
    return r;
}

inline double cosine(const float * a, const float * b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

inline double max_abs_diff(const float * a, const float * b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}

// Prints a measured value so the test log carries the numbers.
inline void report(const std::string & what, double value) {
    printf("[ measure  ] %-58s %.9f\n", what.c_str(), value);
    ::testing::Test::RecordProperty(what, std::to_string(value));
}
