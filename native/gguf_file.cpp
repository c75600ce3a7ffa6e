#include "gguf_file.h"

#include "file_io.h"
#include "tensor_names.h"

#include "ggml.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>

namespace dino {

namespace {

// Limits far above any real ViT file, low enough that nothing we allocate
// from a count in the file can exhaust memory.
constexpr uint64_t kMaxTensors = 1u << 16;
constexpr uint64_t kMaxKvs = 1u << 16;
constexpr uint64_t kMaxKeyLength = 1u << 16;
constexpr uint64_t kMaxStringLength = 1u << 24;
constexpr uint64_t kMaxArrayLength = 1u << 24;
constexpr uint64_t kMaxAlignment = 1u << 20;
constexpr int64_t kMaxElements = int64_t(1) << 40;

// Sequential reads that never go past the end of the file.
class reader {
public:
    reader(FILE * f, uint64_t size, const std::string & path) : f_(f), size_(size), path_(path) {}

    uint64_t pos() const { return pos_; }
    uint64_t remaining() const { return size_ - pos_; }

    void bytes(void * dst, uint64_t n, const char * what) {
        if (n > remaining()) {
            fail(DINO_ERR_BAD_MODEL, "%s: truncated: %s needs %llu bytes at offset %llu, the file has %llu",
                 path_.c_str(), what, (unsigned long long) n, (unsigned long long) pos_,
                 (unsigned long long) size_);
        }
        if (n > 0 && fread(dst, 1, n, f_) != n) {
            fail(DINO_ERR_IO, "%s: read error at offset %llu: %s", path_.c_str(),
                 (unsigned long long) pos_, strerror(errno));
        }
        pos_ += n;
    }

    template <typename T> T value(const char * what) {
        T v;
        bytes(&v, sizeof(v), what);
        return v;
    }

    std::string string(uint64_t max_length, const char * what) {
        const uint64_t n = value<uint64_t>(what);
        if (n > max_length || n > remaining()) {
            fail(DINO_ERR_BAD_MODEL, "%s: %s has length %llu at offset %llu (past the end of the file or over %llu)",
                 path_.c_str(), what, (unsigned long long) n, (unsigned long long) (pos_ - 8),
                 (unsigned long long) max_length);
        }
        std::string s(n, '\0');
        bytes(s.data(), n, what);
        return s;
    }

private:
    FILE * f_;
    uint64_t size_;
    uint64_t pos_ = 0;
    const std::string & path_;
};

uint64_t scalar_size(uint32_t t) {
    switch (t) {
        case GGUF_VT_UINT8: case GGUF_VT_INT8: case GGUF_VT_BOOL: return 1;
        case GGUF_VT_UINT16: case GGUF_VT_INT16: return 2;
        case GGUF_VT_UINT32: case GGUF_VT_INT32: case GGUF_VT_FLOAT32: return 4;
        case GGUF_VT_UINT64: case GGUF_VT_INT64: case GGUF_VT_FLOAT64: return 8;
        default: return 0;
    }
}

double scalar_value(uint32_t t, const uint8_t * p) {
    switch (t) {
        case GGUF_VT_UINT8: return *p;
        case GGUF_VT_INT8: return int8_t(*p);
        case GGUF_VT_BOOL: return *p != 0;
        case GGUF_VT_UINT16: { uint16_t v; memcpy(&v, p, 2); return v; }
        case GGUF_VT_INT16: { int16_t v; memcpy(&v, p, 2); return v; }
        case GGUF_VT_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
        case GGUF_VT_INT32: { int32_t v; memcpy(&v, p, 4); return v; }
        case GGUF_VT_FLOAT32: { float v; memcpy(&v, p, 4); return v; }
        case GGUF_VT_UINT64: { uint64_t v; memcpy(&v, p, 8); return double(v); }
        case GGUF_VT_INT64: { int64_t v; memcpy(&v, p, 8); return double(v); }
        case GGUF_VT_FLOAT64: { double v; memcpy(&v, p, 8); return v; }
        default: return 0;
    }
}

void append(std::vector<uint8_t> & out, const void * p, size_t n) {
    const uint8_t * b = static_cast<const uint8_t *>(p);
    out.insert(out.end(), b, b + n);
}

// Reads one value into kv.raw (and kv.str).  budget is what is left of
// kMaxMetadataBytes; every byte kept is taken from it before it is read.
void read_value(reader & r, gguf_kv & kv, const std::string & path, uint64_t & budget) {
    auto take = [&](uint64_t n) {
        if (n > budget) {
            fail(DINO_ERR_BAD_MODEL, "%s: metadata passes %llu MiB at key '%s' (a DINO file has a few KiB)", path.c_str(),
                 (unsigned long long) (kMaxMetadataBytes >> 20), kv.key.c_str());
        }
        budget -= n;
    };
    auto scalars = [&](uint32_t t, uint64_t count) {  // count elements of a checked, non-zero size
        const uint64_t n = scalar_size(t) * count;
        take(n);
        const size_t at = kv.raw.size();
        kv.raw.resize(at + n);
        r.bytes(kv.raw.data() + at, n, kv.key.c_str());
    };
    auto string = [&](std::string * keep) {
        std::string s = r.string(kMaxStringLength, ("value of " + kv.key).c_str());
        const uint64_t n = s.size();
        take(8 + n + (keep ? n : 0));
        append(kv.raw, &n, 8);
        append(kv.raw, s.data(), s.size());
        if (keep) *keep = std::move(s);
    };

    if (kv.type == GGUF_VT_STRING) {
        string(&kv.str);
    } else if (kv.type == GGUF_VT_ARRAY) {
        kv.array_type = r.value<uint32_t>("array type");
        kv.array_length = r.value<uint64_t>("array length");
        append(kv.raw, &kv.array_type, 4);
        append(kv.raw, &kv.array_length, 8);
        if (kv.array_type == GGUF_VT_ARRAY) {
            fail(DINO_ERR_BAD_MODEL, "%s: key '%s' holds nested arrays, which are not supported", path.c_str(),
                 kv.key.c_str());
        }
        const uint64_t elem = kv.array_type == GGUF_VT_STRING ? 8 : scalar_size(kv.array_type);
        if (elem == 0) {
            fail(DINO_ERR_BAD_MODEL, "%s: key '%s' has an array of unknown type %u", path.c_str(), kv.key.c_str(),
                 kv.array_type);
        }
        if (kv.array_length > kMaxArrayLength || kv.array_length > r.remaining() / elem) {
            fail(DINO_ERR_BAD_MODEL, "%s: key '%s' has an array of %llu elements (past the end of the file)",
                 path.c_str(), kv.key.c_str(), (unsigned long long) kv.array_length);
        }
        if (kv.array_type == GGUF_VT_STRING) {
            for (uint64_t i = 0; i < kv.array_length; ++i) string(nullptr);
        } else {
            scalars(kv.array_type, kv.array_length);
        }
    } else if (scalar_size(kv.type) != 0) {
        scalars(kv.type, 1);
    } else {
        fail(DINO_ERR_BAD_MODEL, "%s: key '%s' has unknown value type %u", path.c_str(), kv.key.c_str(), kv.type);
    }
}

bool mul_ok(uint64_t a, uint64_t b, uint64_t * out) { return !__builtin_mul_overflow(a, b, out); }

}  // namespace

double gguf_kv::number(uint64_t i) const {
    const bool array = type == GGUF_VT_ARRAY;
    const uint32_t t = array ? array_type : type;
    const uint64_t size = scalar_size(t), at = (array ? 12 : 0) + i * size;
    if (size == 0 || (array ? i >= array_length : i != 0) || at + size > raw.size()) {
        fail(DINO_ERR_INTERNAL, "key '%s' has no number %llu", key.c_str(), (unsigned long long) i);
    }
    return scalar_value(t, raw.data() + at);
}

bool allowed_tensor_type(int type) {
    switch (type) {
        case GGML_TYPE_F32: case GGML_TYPE_F16: case GGML_TYPE_BF16:
        case GGML_TYPE_Q4_0: case GGML_TYPE_Q4_1: case GGML_TYPE_Q5_0: case GGML_TYPE_Q5_1: case GGML_TYPE_Q8_0:
        case GGML_TYPE_Q2_K: case GGML_TYPE_Q3_K: case GGML_TYPE_Q4_K: case GGML_TYPE_Q5_K: case GGML_TYPE_Q6_K:
            return true;
        default:
            return false;
    }
}

const gguf_kv * gguf_file::find(const std::string & key) const {
    for (const auto & kv : kvs) if (kv.key == key) return &kv;
    return nullptr;
}

gguf_file gguf_file::read(const std::string & path) {
    uint64_t size = 0;
    file_io::file_ptr f = file_io::open_regular(path, size);

    gguf_file g;
    g.path_ = path;
    g.file_size = size;
    reader r(f.get(), g.file_size, path);

    char magic[4];
    if (g.file_size < 4) fail(DINO_ERR_BAD_MODEL, "%s: not a GGUF file (%llu bytes)", path.c_str(), (unsigned long long) g.file_size);
    r.bytes(magic, 4, "magic");
    if (memcmp(magic, "GGUF", 4) != 0) fail(DINO_ERR_BAD_MODEL, "%s: not a GGUF file (bad magic)", path.c_str());
    g.version = r.value<uint32_t>("version");
    if (g.version != 2 && g.version != 3) {
        if ((g.version & 0xFFFF) == 0 && g.version != 0) {
            fail(DINO_ERR_UNSUPPORTED, "%s: GGUF written on a big-endian machine (version 0x%08x) is not supported",
                 path.c_str(), g.version);
        }
        fail(DINO_ERR_UNSUPPORTED, "%s: GGUF version %u is not supported (2 and 3 are)", path.c_str(), g.version);
    }
    const uint64_t n_tensors = r.value<uint64_t>("tensor count");
    const uint64_t n_kv = r.value<uint64_t>("key count");
    if (n_tensors > kMaxTensors) fail(DINO_ERR_BAD_MODEL, "%s: tensor count %lld is out of range", path.c_str(), (long long) n_tensors);
    if (n_kv > kMaxKvs) fail(DINO_ERR_BAD_MODEL, "%s: key count %lld is out of range", path.c_str(), (long long) n_kv);

    std::set<std::string> keys;
    uint64_t budget = kMaxMetadataBytes;
    for (uint64_t i = 0; i < n_kv; ++i) {
        gguf_kv kv;
        kv.key = r.string(kMaxKeyLength, "key");
        if (kv.key.size() * 2 > budget) {  // kept here and in keys
            fail(DINO_ERR_BAD_MODEL, "%s: metadata passes %llu MiB at key %llu", path.c_str(),
                 (unsigned long long) (kMaxMetadataBytes >> 20), (unsigned long long) i);
        }
        budget -= kv.key.size() * 2;
        if (kv.key.empty()) fail(DINO_ERR_BAD_MODEL, "%s: key %llu is empty", path.c_str(), (unsigned long long) i);
        if (!keys.insert(kv.key).second) fail(DINO_ERR_BAD_MODEL, "%s: duplicate key '%s'", path.c_str(), kv.key.c_str());
        kv.type = r.value<uint32_t>("value type");
        read_value(r, kv, path, budget);
        g.kvs.push_back(std::move(kv));
    }

    if (const gguf_kv * a = g.find(dino::kv::kAlignment)) {
        if (a->type != GGUF_VT_UINT32) fail(DINO_ERR_BAD_MODEL, "%s: general.alignment must be a uint32", path.c_str());
        const uint64_t v = uint64_t(a->number());
        if (v == 0 || (v & (v - 1)) != 0 || v > kMaxAlignment) {
            fail(DINO_ERR_BAD_MODEL, "%s: general.alignment %llu is not a power of two up to %llu", path.c_str(),
                 (unsigned long long) v, (unsigned long long) kMaxAlignment);
        }
        g.alignment = uint32_t(v);
    }

    std::set<std::string> names;
    for (uint64_t i = 0; i < n_tensors; ++i) {
        gguf_tensor_info t;
        t.name = r.string(kMaxKeyLength, "tensor name");
        if (t.name.empty() || t.name.size() >= GGML_MAX_NAME) {
            fail(DINO_ERR_BAD_MODEL, "%s: tensor %llu has a name of %zu bytes (1 to %d allowed)", path.c_str(),
                 (unsigned long long) i, t.name.size(), GGML_MAX_NAME - 1);
        }
        if (!names.insert(t.name).second) fail(DINO_ERR_BAD_MODEL, "%s: duplicate tensor '%s'", path.c_str(), t.name.c_str());
        const char * tn = t.name.c_str();
        t.n_dims = r.value<uint32_t>("dimension count");
        if (t.n_dims < 1 || t.n_dims > 4) fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' has %u dimensions (1 to 4 allowed)", path.c_str(), tn, t.n_dims);
        uint64_t elements = 1;
        for (uint32_t d = 0; d < t.n_dims; ++d) {
            t.ne[d] = r.value<int64_t>("dimension");
            if (t.ne[d] < 1 || t.ne[d] > kMaxElements || !mul_ok(elements, uint64_t(t.ne[d]), &elements) ||
                elements > uint64_t(kMaxElements)) {
                fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' has dimension %u = %lld (out of range)", path.c_str(), tn, d,
                     (long long) t.ne[d]);
            }
        }
        const uint32_t type = r.value<uint32_t>("tensor type");
        if (!allowed_tensor_type(int(type))) {
            fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' has type %u, which is not supported", path.c_str(), tn, type);
        }
        t.type = int(type);
        const int64_t blck = ggml_blck_size(ggml_type(type));
        if (t.ne[0] % blck != 0) {
            fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' of type %s has rows of %lld values, not a multiple of %lld",
                 path.c_str(), tn, ggml_type_name(ggml_type(type)), (long long) t.ne[0], (long long) blck);
        }
        // Sizes stay far below 2^64 given kMaxElements, but check anyway.
        uint64_t bytes = uint64_t(t.ne[0] / blck);
        if (!mul_ok(bytes, ggml_type_size(ggml_type(type)), &bytes)) fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' is too large", path.c_str(), tn);
        for (uint32_t d = 1; d < t.n_dims; ++d) {
            if (!mul_ok(bytes, uint64_t(t.ne[d]), &bytes)) fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' is too large", path.c_str(), tn);
        }
        t.nbytes = bytes;
        t.offset = r.value<uint64_t>("tensor offset");
        if (t.offset % g.alignment != 0) {
            fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' has offset %llu, not a multiple of the alignment %u", path.c_str(), tn,
                 (unsigned long long) t.offset, g.alignment);
        }
        g.tensors.push_back(std::move(t));
    }

    const uint64_t header_end = r.pos();
    g.data_offset = (header_end + g.alignment - 1) / g.alignment * g.alignment;
    if (g.data_offset > g.file_size && !g.tensors.empty()) {
        fail(DINO_ERR_BAD_MODEL, "%s: truncated: the data section is missing", path.c_str());
    }
    const uint64_t data_size = g.file_size > g.data_offset ? g.file_size - g.data_offset : 0;

    // Every tensor's data inside the file, none overlapping another.
    std::vector<const gguf_tensor_info *> by_offset;
    for (const auto & t : g.tensors) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto * a, auto * b) { return a->offset < b->offset; });
    uint64_t end = 0;
    for (const gguf_tensor_info * t : by_offset) {
        if (t->offset > data_size || t->nbytes > data_size - t->offset) {
            fail(DINO_ERR_BAD_MODEL, "%s: truncated: tensor '%s' needs bytes [%llu, %llu) of a %llu-byte data section",
                 path.c_str(), t->name.c_str(), (unsigned long long) t->offset,
                 (unsigned long long) (t->offset + t->nbytes), (unsigned long long) data_size);
        }
        if (t->offset < end) fail(DINO_ERR_BAD_MODEL, "%s: tensor '%s' overlaps another tensor's data", path.c_str(), t->name.c_str());
        end = t->offset + t->nbytes;
    }
    g.file_.reset(f.release(), fclose);
    return g;
}

void gguf_file::read_tensor(const gguf_tensor_info & t, void * dst) const {
    if (!file_) fail(DINO_ERR_INTERNAL, "%s: read_tensor after close", path_.c_str());
    // read() checked that the range lies in the file; the file may have changed since.
    if (t.offset > file_size - data_offset || t.nbytes > file_size - data_offset - t.offset ||
        !file_io::read_at(file_.get(), data_offset + t.offset, dst, t.nbytes)) {
        fail(DINO_ERR_IO, "%s: cannot read the data of tensor '%s'", path_.c_str(), t.name.c_str());
    }
}

gguf_kv make_kv_u32(const std::string & key, uint32_t value) {
    gguf_kv kv;
    kv.key = key;
    kv.type = GGUF_VT_UINT32;
    append(kv.raw, &value, 4);
    return kv;
}

gguf_kv make_kv_str(const std::string & key, const std::string & value) {
    gguf_kv kv;
    kv.key = key;
    kv.type = GGUF_VT_STRING;
    const uint64_t n = value.size();
    append(kv.raw, &n, 8);
    append(kv.raw, value.data(), value.size());
    kv.str = value;
    return kv;
}

void write_gguf(const std::string & path, const std::vector<gguf_kv> & kvs,
                const std::vector<gguf_out_tensor> & tensors) {
    constexpr uint64_t align = 32;
    std::vector<uint8_t> h;
    const uint32_t version = 3;
    const uint64_t nt = tensors.size(), nk = kvs.size();
    append(h, "GGUF", 4);
    append(h, &version, 4);
    append(h, &nt, 8);
    append(h, &nk, 8);
    auto str = [&](const std::string & s) {
        const uint64_t n = s.size();
        append(h, &n, 8);
        append(h, s.data(), s.size());
    };
    for (const auto & kv : kvs) {
        str(kv.key);
        append(h, &kv.type, 4);
        append(h, kv.raw.data(), kv.raw.size());
    }
    uint64_t offset = 0;
    for (const auto & t : tensors) {
        str(t.name);
        append(h, &t.n_dims, 4);
        append(h, t.ne, 8 * t.n_dims);
        const uint32_t type = uint32_t(t.type);
        append(h, &type, 4);
        append(h, &offset, 8);
        offset += (t.nbytes + align - 1) / align * align;
    }
    h.resize((h.size() + align - 1) / align * align, 0);

    file_io::atomic_output out(path);
    FILE * f = out.get();
    static const uint8_t zeros[align] = {};
    bool ok = fwrite(h.data(), 1, h.size(), f) == h.size();
    for (const auto & t : tensors) {
        if (!ok) break;
        const uint64_t pad = (align - t.nbytes % align) % align;
        ok = fwrite(t.data, 1, t.nbytes, f) == t.nbytes && fwrite(zeros, 1, pad, f) == pad;
    }
    if (!ok) fail(DINO_ERR_IO, "%s: write failed: %s", out.temp_path().c_str(), strerror(errno));
    out.commit();
}

}  // namespace dino
