#include "file_io.h"

#include "errors.h"

#include <cerrno>
#include <climits>
#include <cstring>
#include <random>

#if defined(_WIN32)
#include <fcntl.h>
#include <io.h>
#include <share.h>
#include <sys/stat.h>
#include <windows.h>
#else
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
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

// The target's own path for writing: a link resolved to the file it names; a non-regular file refused.
static std::string writable_target(const std::string & target) {
    struct _stat64 st;
    if (_wstat64(wide(target).c_str(), &st) == 0 && (st.st_mode & _S_IFMT) != _S_IFREG)
        fail(DINO_ERR_IO, "%s: not a regular file; only files are written", target.c_str());
    return target;  // Windows links are rare; MoveFileEx replaces the link itself
}

static FILE * create_exclusive(const std::string & path) {
    int fd = -1;
    if (_wsopen_s(&fd, wide(path).c_str(), _O_CREAT | _O_EXCL | _O_WRONLY | _O_BINARY, _SH_DENYRW, _S_IREAD | _S_IWRITE) != 0)
        return nullptr;
    FILE * f = _fdopen(fd, "wb");
    if (!f) _close(fd);
    return f;
}

static void replace(const std::string & from, const std::string & to) {
    if (!MoveFileExW(wide(from).c_str(), wide(to).c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
        fail(DINO_ERR_IO, "%s: cannot rename to %s (Windows error %lu)", from.c_str(), to.c_str(), GetLastError());
}

static void remove_quietly(const std::string & path) noexcept {
    try { _wremove(wide(path).c_str()); } catch (...) {}
}

static bool sync_to_disk(FILE * f) { return _commit(_fileno(f)) == 0; }

bool read_at(FILE * f, uint64_t offset, void * dst, uint64_t n) {
    return _fseeki64(f, int64_t(offset), SEEK_SET) == 0 && fread(dst, 1, n, f) == n;
}

bool same_file(const std::string & a, const std::string & b) {
    auto identity = [](const std::string & path, BY_HANDLE_FILE_INFORMATION & info) {
        HANDLE h = CreateFileW(wide(path).c_str(), FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                               nullptr, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, nullptr);
        if (h == INVALID_HANDLE_VALUE) return false;
        const bool ok = GetFileInformationByHandle(h, &info) != 0;
        CloseHandle(h);
        return ok;
    };
    BY_HANDLE_FILE_INFORMATION x, y;
    return identity(a, x) && identity(b, y) && x.dwVolumeSerialNumber == y.dwVolumeSerialNumber &&
           x.nFileIndexHigh == y.nFileIndexHigh && x.nFileIndexLow == y.nFileIndexLow;
}

std::string module_path(const void * address) {
    HMODULE module = nullptr;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            static_cast<LPCWSTR>(address), &module))
        return {};
    std::wstring w(32768, L'\0');
    const DWORD n = GetModuleFileNameW(module, w.data(), DWORD(w.size()));
    if (n == 0 || n >= w.size()) return {};
    const int bytes = WideCharToMultiByte(CP_UTF8, 0, w.data(), int(n), nullptr, 0, nullptr, nullptr);
    std::string path(size_t(bytes > 0 ? bytes : 0), '\0');
    if (bytes > 0) WideCharToMultiByte(CP_UTF8, 0, w.data(), int(n), path.data(), bytes, nullptr, nullptr);
    return path;
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

static std::string writable_target(const std::string & target) {
    std::string path = target;
    char resolved[PATH_MAX];
    struct stat st;
    if (lstat(target.c_str(), &st) == 0 && S_ISLNK(st.st_mode) && realpath(target.c_str(), resolved)) path = resolved;
    if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
        fail(DINO_ERR_IO, "%s: not a regular file; only files are written", target.c_str());
    return path;
}

static FILE * create_exclusive(const std::string & path) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) return nullptr;
    FILE * f = fdopen(fd, "wb");
    if (!f) close(fd);
    return f;
}

static void replace(const std::string & from, const std::string & to) {
    if (rename(from.c_str(), to.c_str()) != 0)
        fail(DINO_ERR_IO, "%s: cannot rename to %s: %s", from.c_str(), to.c_str(), strerror(errno));
}

static void remove_quietly(const std::string & path) noexcept { ::remove(path.c_str()); }

static bool sync_to_disk(FILE * f) { return fsync(fileno(f)) == 0; }

bool read_at(FILE * f, uint64_t offset, void * dst, uint64_t n) {
    static_assert(sizeof(off_t) == 8, "64-bit file offsets");
    return fseeko(f, off_t(offset), SEEK_SET) == 0 && fread(dst, 1, n, f) == n;
}

bool same_file(const std::string & a, const std::string & b) {
    struct stat x, y;
    return stat(a.c_str(), &x) == 0 && stat(b.c_str(), &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

std::string module_path(const void * address) {
    Dl_info info;
    if (dladdr(address, &info) == 0 || !info.dli_fname) return {};
    char resolved[PATH_MAX];
    return realpath(info.dli_fname, resolved) ? std::string(resolved) : std::string(info.dli_fname);
}

#endif

atomic_output::atomic_output(const std::string & target) : target_(writable_target(target)) {
    const size_t slash = target_.find_last_of("/\\");
    const std::string dir = slash == std::string::npos ? std::string() : target_.substr(0, slash + 1);
    const std::string name = slash == std::string::npos ? target_ : target_.substr(slash + 1);
    std::random_device random;
    for (int attempt = 0; attempt < 16 && !file_; attempt++) {
        temp_ = format("%s.%s.%08x%08x.partial", dir.c_str(), name.c_str(), unsigned(random()), unsigned(random()));
        file_.reset(create_exclusive(temp_));
        if (!file_ && errno != EEXIST) break;
    }
    if (!file_) fail(DINO_ERR_IO, "%s: cannot create a file beside it: %s", target.c_str(), strerror(errno));
}

atomic_output::~atomic_output() {
    if (committed_) return;
    file_.reset();
    remove_quietly(temp_);
}

void atomic_output::commit() {
    // On the disk before the rename: a crash or power loss after it must not leave the target name on a
    // file whose data never arrived.
    const bool flushed = fflush(file_.get()) == 0 && sync_to_disk(file_.get());
    const int err = errno;
    const bool closed = fclose(file_.release()) == 0;
    if (!flushed || !closed) fail(DINO_ERR_IO, "%s: write failed: %s", temp_.c_str(), strerror(flushed ? errno : err));
    replace(temp_, target_);
    committed_ = true;
}

}  // namespace dino::file_io
