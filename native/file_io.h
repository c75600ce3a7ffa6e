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

// A file written beside its target under a fresh, unguessable name, created exclusively (a link
// planted at that name is never followed), and renamed over the target only by commit(); the
// destructor removes it otherwise.  A target that is a link is written through: the file it names
// is replaced, the link stays.  A target that exists but is not a regular file (a device, FIFO or
// folder) is refused.  Failures are DINO_ERR_IO.
class atomic_output {
public:
    explicit atomic_output(const std::string & target);
    ~atomic_output();
    atomic_output(const atomic_output &) = delete;
    atomic_output & operator=(const atomic_output &) = delete;

    FILE * get() const { return file_.get(); }
    const std::string & temp_path() const { return temp_; }
    void commit();

private:
    std::string target_;
    std::string temp_;
    file_ptr file_;
    bool committed_ = false;
};

// Whether a and b name the same existing file, links followed: the same device and inode (Windows:
// volume and file index), so a link or a hard link to the input is caught, not only the same path.
bool same_file(const std::string & a, const std::string & b);

// The file of the loaded library (shared object, DLL) that holds `address`, as the system loader
// resolved it; "" if it cannot say.
std::string module_path(const void * address);

// Reads `n` bytes at `offset`; false on a short read or a failed seek.
bool read_at(FILE * f, uint64_t offset, void * dst, uint64_t n);

}  // namespace dino::file_io
