#!/usr/bin/env bash
# CI check: builds the libFuzzer targets (fuzz/, clang, -fsanitize=fuzzer,address,undefined),
# replays every known crash (fuzz/regressions/<target>/), then fuzzes each target for a short
# budget starting from its seed corpus (fuzz/corpus/<target>/). A crash, leak, timeout or
# sanitizer report fails the job; libFuzzer writes the input to $BUILD/artifacts/.
# Targets: fuzz_safetensors, fuzz_npy, fuzz_model (model loaders + forward pass; needs FFTW,
# Eigen and libomp under clang), fuzz_audio (read_audio through libsndfile).
# Installs nothing beyond .ci/deps.sh (clang, libclang-rt-14-dev, libomp-14-dev). See
# docs/reliability.md.
#
#   bash .ci/check-fuzz.sh                   # 20 s per target (SSM_FUZZ_SECONDS overrides)
#   SSM_FUZZ_MODEL=OFF bash .ci/check-fuzz.sh   # without fuzz_model (saves ~2.5 min of build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SSM_FUZZ_BUILD:-build-fuzz}
SECONDS_PER_TARGET=${SSM_FUZZ_SECONDS:-20}
JOBS=${JOBS:-2}

# clang is named only on the first configure (naming it again would make CMake wipe the cache).
compilers=()
[ -f "$BUILD/CMakeCache.txt" ] || compilers=(-DCMAKE_CXX_COMPILER=clang++)
# Ninja (from .ci/deps.sh) schedules the two cores better than Makefiles; a new tree only.
[ -f "$BUILD/CMakeCache.txt" ] || ! command -v ninja >/dev/null 2>&1 || compilers+=(-G Ninja)
cmake -S fuzz -B "$BUILD" "${compilers[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSSM_FUZZ_MODEL="${SSM_FUZZ_MODEL:-ON}" -DSSM_FUZZ_IGNORELIST=
cmake --build "$BUILD" -j"$JOBS"

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMP_NUM_THREADS=1            # fuzz_model: one OpenMP thread (the target also sets it)
unset SSM_FUZZ_AUDIO_MAX_SAMPLES    # local exploration knob (docs/reliability.md), never in CI
mkdir -p "$BUILD/artifacts"
status=0
for exe in "$BUILD"/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] || continue
  name=${exe##*/fuzz_}
  seeds=fuzz/corpus/$name
  work=$BUILD/corpus-$name   # grows across local runs; CI starts from the seeds
  mkdir -p "$work"
  echo "== fuzz_$name: replaying fuzz/regressions/$name"
  if compgen -G "fuzz/regressions/$name/*" > /dev/null; then
    "$exe" fuzz/regressions/"$name"/* || { echo "fuzz_$name: a known crash reproduces"; status=1; continue; }
  fi
  echo "== fuzz_$name: ${SECONDS_PER_TARGET}s from $seeds"
  if ! "$exe" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/$name-" "$work" "$seeds"; then
    echo "fuzz_$name FAILED: the input is in $BUILD/artifacts/; reproduce with '$exe <file>', then"
    echo "add it to fuzz/regressions/$name/ and a test to tests/reliability/ (docs/reliability.md)"
    status=1
  fi
done
exit $status
