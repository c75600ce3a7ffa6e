// errors.h: how failures and log lines travel inside libdino.  The lowest
// layer: every other file may include it; it includes only the public header
// (for the status codes and log levels).
//
// Internal code throws dino::error (a status and a message); the facade
// (dino.cpp) runs every extern "C" body through guarded(), which catches it
// (and everything else), stores the message as the thread's last error and
// returns the status.
#pragma once

#include "dino.h"

#include <cstdarg>
#include <new>
#include <stdexcept>
#include <string>

#if defined(__MINGW32__)
#define DINO_PRINTF(fmt, args) __attribute__((format(gnu_printf, fmt, args)))
#else
#define DINO_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#endif

namespace dino {

struct error : std::runtime_error {
    dino_status status;
    error(dino_status s, const std::string & message) : std::runtime_error(message), status(s) {}
};

// printf-style formatting, any length.
std::string vformat(const char * fmt, va_list ap);
std::string format(const char * fmt, ...) DINO_PRINTF(1, 2);

// throw error(status, formatted message).
[[noreturn]] void fail(dino_status status, const char * fmt, ...) DINO_PRINTF(2, 3);

// Logging through the callback set by dino_log_set (ggml's lines go there too,
// once install_ggml_logger has run).
void log(dino_log_level level, const char * fmt, ...) DINO_PRINTF(2, 3);
void set_log_callback(dino_log_callback callback, void * user_data);
void install_ggml_logger();

// The calling thread's last error message (dino_last_error).
const std::string & last_error();
void set_last_error(std::string message);

// Runs f, mapping exceptions to a status and the thread's last error.
template <typename F> dino_status guarded(F && f) {
    try {
        set_last_error({});
        f();
        return DINO_OK;
    } catch (const error & e) {
        set_last_error(e.what());
        return e.status;
    } catch (const std::bad_alloc &) {
        set_last_error("out of memory");
        return DINO_ERR_OUT_OF_MEMORY;
    } catch (const std::exception & e) {
        set_last_error(std::string("internal error: ") + e.what());
        return DINO_ERR_INTERNAL;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return DINO_ERR_INTERNAL;
    }
}

}  // namespace dino
