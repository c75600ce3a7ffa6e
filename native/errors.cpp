// errors.cpp: the error and log runtime (errors.h).
#include "errors.h"

#include "ggml.h"

#include <cstdio>
#include <cstring>
#include <mutex>

namespace dino {

namespace {

thread_local std::string g_last_error;

std::mutex g_log_mutex;
dino_log_callback g_log_callback = nullptr;
void * g_log_user_data = nullptr;
bool g_log_default = true;  // until dino_log_set: warnings and errors to stderr

void emit(int32_t level, const char * text) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (g_log_callback) {
        g_log_callback(level, text, g_log_user_data);
    } else if (g_log_default && level >= DINO_LOG_WARN) {
        fprintf(stderr, "dino: %s%s", text, text[0] && text[strlen(text) - 1] == '\n' ? "" : "\n");
    }
}

void ggml_logger(ggml_log_level level, const char * text, void *) {
    // GGML_LOG_LEVEL_CONT continues the previous line; report it at info level.
    const int32_t l = level == GGML_LOG_LEVEL_DEBUG ? DINO_LOG_DEBUG
                    : level == GGML_LOG_LEVEL_WARN  ? DINO_LOG_WARN
                    : level == GGML_LOG_LEVEL_ERROR ? DINO_LOG_ERROR : DINO_LOG_INFO;
    emit(l, text);
}

}  // namespace

std::string vformat(const char * fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    const int n = vsnprintf(nullptr, 0, fmt, ap);
    std::string s(n > 0 ? size_t(n) : 0, '\0');
    if (n > 0) vsnprintf(s.data(), size_t(n) + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

std::string format(const char * fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    return s;
}

void fail(dino_status status, const char * fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    std::string s = vformat(fmt, ap);
    va_end(ap);
    throw error(status, s);
}

void log(dino_log_level level, const char * fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const std::string s = vformat(fmt, ap);
    va_end(ap);
    emit(level, s.c_str());
}

void set_log_callback(dino_log_callback callback, void * user_data) {
    install_ggml_logger();
    std::lock_guard<std::mutex> lock(g_log_mutex);
    g_log_callback = callback;
    g_log_user_data = user_data;
    g_log_default = false;
}

void install_ggml_logger() {
    static std::once_flag once;
    std::call_once(once, [] { ggml_log_set(ggml_logger, nullptr); });
}

const std::string & last_error() { return g_last_error; }

void set_last_error(std::string message) { g_last_error = std::move(message); }

}  // namespace dino
