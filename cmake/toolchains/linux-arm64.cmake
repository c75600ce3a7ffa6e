# linux-arm64 from x86-64 Linux: Debian's aarch64 cross compiler; tests run under
# qemu-user (scripts/qemu-arm64.sh) against the Debian 13 sysroot that
# scripts/bootstrap.sh fetches.  scripts/build-native.sh linux-arm64 uses it;
# see the README, "Platforms and publishing".
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# ggml's arm64 libraries want glibc 2.38 symbols that Debian 12's cross libc (2.36) lacks: executables
# link anyway and get them from the Debian 13 sysroot at run time.  libdino itself needs glibc 2.34.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-Wl,--allow-shlib-undefined")
set(CMAKE_CROSSCOMPILING_EMULATOR "${CMAKE_CURRENT_LIST_DIR}/../../scripts/qemu-arm64.sh")
