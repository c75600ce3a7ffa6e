// npy.h: reads the float32 .npy files the tests compare against.
#pragma once

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

struct npy_array {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

// Little-endian float32, C order, format version 1 or 2 (what numpy writes).
inline npy_array read_npy(const std::string & path) {
    FILE * f = fopen(path.c_str(), "rb");
    if (!f) throw std::runtime_error("cannot open " + path);
    char magic[8];
    uint32_t header_len = 0;
    bool ok = fread(magic, 1, 8, f) == 8 && std::string(magic + 1, 5) == "NUMPY";
    if (ok && magic[6] == 1) {
        uint16_t n = 0;
        ok = fread(&n, 2, 1, f) == 1;
        header_len = n;
    } else if (ok) {
        ok = fread(&header_len, 4, 1, f) == 1;
    }
    std::string header(header_len, '\0');
    ok = ok && fread(header.data(), 1, header_len, f) == header_len;
    if (!ok || header.find("'descr': '<f4'") == std::string::npos || header.find("'fortran_order': False") == std::string::npos) {
        fclose(f);
        throw std::runtime_error(path + ": not a little-endian float32 C-order .npy");
    }
    npy_array a;
    const size_t open = header.find('(', header.find("'shape'")), close = header.find(')', open);
    size_t count = 1;
    for (size_t i = open + 1; i < close;) {
        const size_t comma = std::min(header.find(',', i), close);
        const std::string num = header.substr(i, comma - i);
        if (num.find_first_of("0123456789") != std::string::npos) {
            a.shape.push_back(std::stoll(num));
            count *= size_t(a.shape.back());
        }
        i = comma + 1;
    }
    a.data.resize(count);
    ok = fread(a.data.data(), sizeof(float), count, f) == count;
    fclose(f);
    if (!ok) throw std::runtime_error(path + ": truncated");
    return a;
}
