#include "file_io.h"

#include "errors.h"

#include <cerrno>
#include <cstring>

#if defined(_WIN32)
#include <io.h>
#include <sys/stat.h>
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace dino::file_io {

#if defined(_WIN32)
namespace {

// The C API's paths are UTF-8; Windows' narrow calls would read them in the ANSI code page.
std::wstring wide(const std::string & path) {
    if (path.empty()) return {};
    const int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.data(), int(path.size()), nullptr, 0);
    if (n <= 0) fail(DINO_ERR_IO, "%s: not a valid UTF-8 path", path.c_str());
    std::wstring w(size_t(n), L'\0');
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path.data(), int(path.size()), w.data(), n);
    return w;
}

}  // namespace

file_ptr open_regular(const std::string & path, uint64_t & size) {
    const std::wstring w = wide(path);
    struct _stat64 st;
    if (_wstat64(w.c_str(), &st) != 0) fail(DINO_ERR_IO, "%s: cannot open: %s", path.c_str(), strerror(errno));
    if ((st.st_mode & _S_IFMT) != _S_IFREG) fail(DINO_ERR_IO, "%s: not a regular file", path.c_str());
    file_ptr f(_wfopen(w.c_str(), L"rb"));
    if (!f) fail(DINO_ERR_IO, "%s: cannot open: %s", path.c_str(), strerror(errno));
    size = uint64_t(st.st_size);
    return f;
}

file_ptr create(const std::string & path) {
    file_ptr f(_wfopen(wide(path).c_str(), L"wb"));
    if (!f) fail(DINO_ERR_IO, "%s: cannot create: %s", path.c_str(), strerror(errno));
    return f;
}

void replace(const std::string & from, const std::string & to) {
    if (!MoveFileExW(wide(from).c_str(), wide(to).c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        fail(DINO_ERR_IO, "%s: cannot rename to %s (Windows error %lu)", from.c_str(), to.c_str(), GetLastError());
}

void remove_quietly(const std::string & path) noexcept {
    try { _wremove(wide(path).c_str()); } catch (...) {}
}

bool read_at(FILE * f, uint64_t offset, void * dst, uint64_t n) {
    return _fseeki64(f, int64_t(offset), SEEK_SET) == 0 && fread(dst, 1, n, f) == n;
}

#else

file_ptr open_regular(const std::string & path, uint64_t & size) {
    // O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever; it is refused below.
    const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) fail(DINO_ERR_IO, "%s: cannot open: %s", path.c_str(), strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        fail(DINO_ERR_IO, "%s: not a regular file", path.c_str());
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    file_ptr f(fdopen(fd, "rb"));
    if (!f) {
        const int e = errno;
        close(fd);
        fail(DINO_ERR_IO, "%s: cannot open: %s", path.c_str(), strerror(e));
    }
    size = uint64_t(st.st_size);
    return f;
}

file_ptr create(const std::string & path) {
    file_ptr f(fopen(path.c_str(), "wb"));
    if (!f) fail(DINO_ERR_IO, "%s: cannot create: %s", path.c_str(), strerror(errno));
    return f;
}

void replace(const std::string & from, const std::string & to) {
    if (rename(from.c_str(), to.c_str()) != 0)
        fail(DINO_ERR_IO, "%s: cannot rename to %s: %s", from.c_str(), to.c_str(), strerror(errno));
}

void remove_quietly(const std::string & path) noexcept { ::remove(path.c_str()); }

bool read_at(FILE * f, uint64_t offset, void * dst, uint64_t n) {
    static_assert(sizeof(off_t) == 8, "64-bit file offsets");
    return fseeko(f, off_t(offset), SEEK_SET) == 0 && fread(dst, 1, n, f) == n;
}

#endif

}  // namespace dino::file_io
