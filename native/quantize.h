// quantize.h: dino_quantize through ggml's own quantizers (quantize.cpp).
#pragma once

#include <cstddef>

namespace dino {

// The types quantize writes, by ggml's lower-case name; null past the end.
const char * quantize_type_name(size_t index);

// Writes a copy of the model at input_path with its linear weights converted to
// type_name (one of quantize_type_name); throws dino::error.
void quantize(const char * input_path, const char * output_path, const char * type_name);

}  // namespace dino
