// errors.h: how failures travel inside libdino.
//
// Internal code throws dino::error (a status and a message); every extern "C"
// function in dino.cpp catches it (and everything else), stores the message in
// the thread's last error and returns the status.
#pragma once

#include "dino.h"

#include <cstdarg>
#include <stdexcept>
#include <string>

namespace dino {

struct error : std::runtime_error {
    dino_status status;
    error(dino_status s, const std::string & message) : std::runtime_error(message), status(s) {}
};

// printf-style: throw error(status, formatted message).
[[noreturn]] void fail(dino_status status, const char * fmt, ...) __attribute__((format(printf, 2, 3)));

std::string format(const char * fmt, ...) __attribute__((format(printf, 1, 2)));

// Logging through the callback set by dino_log_set (ggml's lines go there too).
void log(dino_log_level level, const char * fmt, ...) __attribute__((format(printf, 2, 3)));
void install_ggml_logger();
void check_ggml_version();  // fails with DINO_ERR_UNSUPPORTED unless ggml 0.18.x is loaded

}  // namespace dino
