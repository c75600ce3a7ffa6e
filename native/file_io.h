// The files libdino reads and writes, the one place that knows the operating
// system: paths are UTF-8 everywhere (wide-char calls on Windows), only regular
// files are opened for reading (a FIFO or device would block or never end),
// offsets are 64-bit, and a finished file replaces its target atomically.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace dino::file_io {

struct closer {
    void operator()(FILE * f) const { if (f) fclose(f); }
};
using file_ptr = std::unique_ptr<FILE, closer>;

// Opens a regular file for reading and gives its size; anything else fails with DINO_ERR_IO.
file_ptr open_regular(const std::string & path, uint64_t & size);

// Creates (or truncates) a file for writing; fails with DINO_ERR_IO.
file_ptr create(const std::string & path);

// Moves `from` over `to` (replacing it); fails with DINO_ERR_IO.
void replace(const std::string & from, const std::string & to);

// Deletes a file, quietly: for cleaning up after a failure.
void remove_quietly(const std::string & path) noexcept;

// Reads `n` bytes at `offset`; false on a short read or a failed seek.
bool read_at(FILE * f, uint64_t offset, void * dst, uint64_t n);

}  // namespace dino::file_io
