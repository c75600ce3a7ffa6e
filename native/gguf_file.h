// gguf_file.h: a validating GGUF reader and a small writer.
//
// ggml 0.18.0's own gguf_init_from_file aborts or faults on some malformed
// files (zero dimensions, a bad general.alignment, size computations that
// wrap), and an abort kills the host process.  So we parse the container
// ourselves, check every count, length, type, shape and offset against the
// file, and hand ggml only what passed.
#pragma once

#include "errors.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace dino {

// GGUF value types (gguf.h: enum gguf_type).
enum gguf_value_type : uint32_t {
    GGUF_VT_UINT8 = 0, GGUF_VT_INT8 = 1, GGUF_VT_UINT16 = 2, GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4, GGUF_VT_INT32 = 5, GGUF_VT_FLOAT32 = 6, GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8, GGUF_VT_ARRAY = 9, GGUF_VT_UINT64 = 10, GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12,
};

struct gguf_kv {
    std::string key;
    uint32_t type = 0;            // gguf_value_type
    uint32_t array_type = 0;      // element type when type == ARRAY
    uint64_t array_length = 0;
    std::vector<uint8_t> raw;     // the value as stored (after the type field): the only copy of arrays
    std::string str;              // decoded STRING value

    // Element i of a numeric scalar (i = 0) or numeric array, decoded from raw.
    double number(uint64_t i = 0) const;
};

struct gguf_tensor_info {
    std::string name;
    uint32_t n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1};
    int type = 0;                 // ggml_type, checked against the allowlist
    uint64_t offset = 0;          // relative to the data section
    uint64_t nbytes = 0;
};

// All keys and values of a file together: a ViT's metadata is a few KiB, a
// language model's tokenizer some MiB; more is refused before it is read.
constexpr uint64_t kMaxMetadataBytes = uint64_t(64) << 20;

struct gguf_file {
    uint32_t version = 0;
    uint32_t alignment = 32;
    uint64_t data_offset = 0;     // absolute start of the data section
    uint64_t file_size = 0;
    std::vector<gguf_kv> kvs;
    std::vector<gguf_tensor_info> tensors;

    // Parses and validates the header and tensor table of path.  Metadata is
    // kept as stored (one byte per u8 element) and capped at kMaxMetadataBytes.  Tensor types
    // must be in the allowlist (allowed_tensor_type); data ranges must lie in
    // the file and not overlap.  Throws dino::error naming the problem.  The
    // file stays open for read_tensor until close().
    static gguf_file read(const std::string & path);

    const gguf_kv * find(const std::string & key) const;

    // Reads the data of t (one of tensors) into dst (t.nbytes).
    void read_tensor(const gguf_tensor_info & t, void * dst) const;
    void close() { file_.reset(); }

private:
    std::string path_;
    std::shared_ptr<FILE> file_;
};

// Tensor types a DINO GGUF may hold (F32, F16, BF16 and the block types whose
// CPU kernels ggml 0.18.0 has without an importance matrix).
bool allowed_tensor_type(int type);

// Writes a GGUF v3 file: kvs (raw values) then tensors with their data,
// aligned to 32 bytes.  Written through file_io::atomic_output: a temporary file renamed over path when complete.
struct gguf_out_tensor {
    std::string name;
    uint32_t n_dims;
    int64_t ne[4];
    int type;
    const void * data;
    uint64_t nbytes;
};
void write_gguf(const std::string & path, const std::vector<gguf_kv> & kvs,
                const std::vector<gguf_out_tensor> & tensors);

// A KV holding one value of the given type (for the writer).
gguf_kv make_kv_u32(const std::string & key, uint32_t value);
gguf_kv make_kv_str(const std::string & key, const std::string & value);

}  // namespace dino
