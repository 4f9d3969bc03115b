#!/usr/bin/env bash
# aarch64 check (not part of the default CI run: about 40 min on 2 cores, see docs/simd.md):
# cross-compiles the library and its CPU tests with Debian's g++-aarch64-linux-gnu (CUDA, audio,
# benches and examples off) and runs the conformance suite under every SSM_CPU_ISA that qemu's
# CPU model offers (neon, sve, sve2, scalar), plus the CPU unit tests, under qemu-user.
#
#   bash .ci/aarch64.sh            # build dir: build-aarch64 (SSM_AARCH64_BUILD overrides)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SSM_AARCH64_BUILD:-build-aarch64}
JOBS=${JOBS:-2}

# Packages: the cross compiler, qemu-user, and the arm64 builds of the libraries the CPU code
# links (Eigen and nlohmann-json are header-only and architecture-independent).
PKGS=(g++-aarch64-linux-gnu qemu-user-static libhwy-dev:arm64 libfftw3-dev:arm64 libboost-test-dev:arm64
      libeigen3-dev nlohmann-json3-dev cmake pkg-config)
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DSSM_WITH_CUDA=OFF -DSSM_WITH_AUDIO=OFF -DSSM_BUILD_BENCH=OFF -DSSM_BUILD_EXAMPLES=OFF -DSSM_NATIVE=OFF
# The library, the conformance runner and the CPU unit tests (not the CLI: its tests need audio).
targets=(conformance_runner print_cpu_isas)
while read -r t; do targets+=("$t"); done < <(cmake --build "$BUILD" --target help | sed -n 's/^\.\.\. \(test_[a-z0-9_]*\).*/\1/p' | grep -v '^test_cli_')
cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}"

export OMP_NUM_THREADS=2
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64)
run() { "$qemu" -L /usr/aarch64-linux-gnu "$@"; }
echo "== CPU ISAs under qemu: $(run "$BUILD/tests/print_cpu_isas" | tr '\n' ' ')"
(cd "$BUILD" && ctest -L cpu -E '^(cli\.|python\.|architecture\.|doc_|consumer)' --output-on-failure -j"$JOBS")
echo "aarch64: all checks passed"
