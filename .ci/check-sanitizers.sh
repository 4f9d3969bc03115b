#!/usr/bin/env bash
# CI check: the CPU library and its tests built with AddressSanitizer + UndefinedBehaviorSanitizer
# (GCC; the runtimes come with g++), then `ctest -L cpu` (no Python module or LV2 plugin: their
# tests carry the python and audio labels and run in the main build). Any sanitizer report aborts the test
# that triggered it, so the job fails. Installs nothing beyond .ci/deps.sh. See docs/reliability.md.
#
#   bash .ci/check-sanitizers.sh            # build dir: build-asan (SSM_ASAN_BUILD overrides)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SSM_ASAN_BUILD:-build-asan}
JOBS=${JOBS:-2}

# -O1 -g1: line tables are all a sanitizer's stack trace needs (file:line of every frame); full
# -g made each file compile ~1.8x longer. No NDEBUG, so Eigen's own bounds assertions stay on.
# UBSan without alignment, null, vptr and object-size: null dereferences and out-of-bounds
# accesses are ASan's (reported with the same stack), a misaligned SIMD load faults, and the
# code has no polymorphic casts to check; those four checks doubled the compile time of a file.
# The rest of UBSan (integer overflow, shifts, bounds of arrays, float casts, enums, bool, ...) stays.
# Highway targets: avx512 (where the CPU has it, see below), avx2 and the scalar fallback (SSE4 is another 128-bit path like the
# scalar one, and a fourth copy of every SIMD file); conformance_each_cpu_isa runs all three.
# GCC: its sanitizer runtimes and libgomp come with g++ (clang would need libomp). The compilers
# are named only on the first configure (naming them again would make CMake wipe the cache).
# AVX-512 code only where this CPU runs it: on a machine without AVX-512 (CI's AMD EPYC) those
# copies of every SIMD file would be compiled with ASan and never executed.
hwy_disabled="HWY_SSSE3|HWY_SSE4"
grep -qw avx512f /proc/cpuinfo 2>/dev/null || hwy_disabled+="|HWY_AVX3|HWY_AVX3_DL"
compilers=()
[ -f "$BUILD/CMakeCache.txt" ] || compilers=(-DCMAKE_C_COMPILER=gcc -DCMAKE_CXX_COMPILER=g++)
# Ninja (from .ci/deps.sh) schedules the two cores better than Makefiles; a new tree only.
[ -f "$BUILD/CMakeCache.txt" ] || ! command -v ninja >/dev/null 2>&1 || compilers+=(-G Ninja)
cmake -S . -B "$BUILD" "${compilers[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DSSM_SANITIZE=address,undefined -DSSM_SANITIZE_EXCLUDE=alignment,null,vptr,object-size \
  "-DSSM_HWY_DISABLED_TARGETS=(${hwy_disabled})" \
  -DSSM_WITH_CUDA=OFF -DSSM_WITH_AUDIO=OFF -DSSM_BUILD_BENCH=OFF -DSSM_BUILD_EXAMPLES=OFF \
  -DSSM_BUILD_PYTHON=OFF -DSSM_WITH_LV2=OFF \
  -DSSM_NATIVE=OFF
cmake --build "$BUILD" -j"$JOBS"

# Leak checking needs ptrace-like access that some containers deny; LSan then dies with
# "LeakSanitizer has encountered a fatal error". Probe once and turn it off only in that case.
leaks=1
probe=$(mktemp -d)
printf 'int main(){return 0;}\n' > "$probe/p.c"
if gcc -fsanitize=address "$probe/p.c" -o "$probe/p" 2>/dev/null; then
  if ! ASAN_OPTIONS=detect_leaks=1 "$probe/p" 2>/dev/null; then
    leaks=0
    echo "check-sanitizers: LeakSanitizer cannot run here (ptrace denied?): leak checking off"
  fi
fi
rm -rf "$probe"

export ASAN_OPTIONS="detect_leaks=${leaks}:abort_on_error=1:strict_string_checks=1:check_initialization_order=1:detect_invalid_pointer_pairs=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_NUM_THREADS=2
cd "$BUILD"
ctest --output-on-failure -L cpu -j"$JOBS"
echo "check-sanitizers: ASan+UBSan clean on ctest -L cpu"
