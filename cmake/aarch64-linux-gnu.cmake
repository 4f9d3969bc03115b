# Cross toolchain: Debian 12's g++-aarch64-linux-gnu with the arm64 multiarch libraries
# (libhwy-dev:arm64, libfftw3-dev:arm64, libboost-test-dev:arm64); programs run under
# qemu-user (CMAKE_CROSSCOMPILING_EMULATOR, so CTest runs them too). Used by .ci/aarch64.sh.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# pkg-config reads the arm64 .pc files only (fftw3, fftw3f): the host's would name x86-64 paths.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)
# qemu without -L: the arm64 multiarch packages bring libc6:arm64, so the loader
# (/lib/ld-linux-aarch64.so.1) and every library are at their usual paths. With
# -L /usr/aarch64-linux-gnu the loader would be the cross toolchain's glibc (libc6-arm64-cross)
# and libc.so.6 the multiarch one, two builds of glibc whose private structures differ: the
# first pthread_create (every OpenMP region) then never returns.
find_program(SSM_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${SSM_QEMU_AARCH64})
