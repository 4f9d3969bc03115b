#!/usr/bin/env bash
# aarch64 check (not part of the default CI run: about an hour on 2 cores, see docs/simd.md):
# cross-compiles the library and its CPU tests with Debian's g++-aarch64-linux-gnu (CUDA, audio,
# the CLI, Python, LV2, benches and examples off) and runs, under qemu-user, the CPU unit tests
# and the conformance suite under every SSM_CPU_ISA that qemu's CPU model offers (neon, sve,
# sve2, scalar), then the SIMD tests and the conformance suite again at the two fixed SVE vector
# widths Highway has its own targets for (SVE2 at 128 bits, SVE at 256 bits).
#
#   bash .ci/aarch64.sh            # build dir: build-aarch64 (SSM_AARCH64_BUILD overrides)
#   SSM_AARCH64_NO_INSTALL=1 ...   # missing packages: exit 77 (skipped) instead of apt-get
# Also the CTest aarch64.qemu (label slow) of a native x86-64 build: `ctest -L slow -R aarch64`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${SSM_AARCH64_BUILD:-build-aarch64}
JOBS=${JOBS:-2}
start=$(date +%s)

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
  if [ -n "${SSM_AARCH64_NO_INSTALL:-}" ]; then
    echo "aarch64: skipped, packages missing: ${missing[*]} (bash .ci/aarch64.sh installs them)"
    exit 77
  fi
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD" "${gen[@]}" "${launcher[@]}" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
  -DCMAKE_BUILD_TYPE=Release -DSSM_WITH_CUDA=OFF -DSSM_WITH_AUDIO=OFF -DSSM_BUILD_BENCH=OFF \
  -DSSM_BUILD_EXAMPLES=OFF -DSSM_BUILD_TOOLS=OFF -DSSM_BUILD_PYTHON=OFF -DSSM_WITH_LV2=OFF -DSSM_NATIVE=OFF
# The library, the conformance runner and the CPU unit tests: not the CLI's (they drive the
# ssmkit program, built with audio), not the slow ones, not the docs snippets (examples of the
# same API the unit tests cover).
targets=(conformance_runner print_cpu_isas)
while read -r t; do targets+=("$t"); done < <(
  cmake --build "$BUILD" --target help | sed -n 's/^\(\.\.\. \)\{0,1\}\(test_[a-z0-9_]*\)\(: .*\)\{0,1\}$/\2/p' |
    grep -v -e '^test_cli_' -e '_slow$' | sort -u)
cmake --build "$BUILD" -j"$JOBS" --target "${targets[@]}"
built=$(date +%s)

export OMP_NUM_THREADS=2
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64)
run() { "$qemu" "$@"; }  # no -L /usr/aarch64-linux-gnu: cmake/aarch64-linux-gnu.cmake says why
echo "== CPU ISAs under qemu: $(run "$BUILD/tests/print_cpu_isas" | tr '\n' ' ')"
# Every test under qemu is 10-50x slower than native: the per-test limit is raised (a hang
# still ends). conformance_each_cpu_isa is the longest (the suite four times).
rc=0
# `conformance` is left out: conformance_each_cpu_isa runs the same suite under every ISA.
(cd "$BUILD" && ctest -L cpu -E '^(cli\.|python\.|architecture\.|doc_|docs_|consumer|conformance$)' --output-on-failure \
   -j"$JOBS" --timeout 3600) || rc=1
# The per-ISA summary lines (tests/conformance/each_cpu_isa.cmake prints them).
grep -ho 'SSM_CPU_ISA=[a-z0-9]*: conformance: [^(]*(exit [0-9]*)' "$BUILD/Testing/Temporary/LastTest.log" || true

# qemu's CPU model has 512-bit SVE, so Highway chose its scalable SVE/SVE2 targets above; its
# SVE2_128 (e.g. Neoverse N2/V2) and SVE_256 (Neoverse V1) targets run only at those widths.
for vl in 16:sve2 32:sve; do
  bytes=${vl%%:*} isa=${vl##*:}
  export QEMU_CPU="max,sve-default-vector-length=$bytes"
  echo "== SVE at $((bytes * 8)) bits, SSM_CPU_ISA=$isa: $(SSM_CPU_ISA=$isa run "$BUILD/tests/test_core_cpu_isa" \
       --log_level=message --color_output=no 2>&1 | sed -n 's/.*cpu: //p')"
  for t in conformance_runner test_core_activations test_scan_selective_scan test_stream_diag_filter \
           test_stream_dense_filter; do
    args=()
    [ "$t" != conformance_runner ] && args=(--color_output=no)  # Boost.Test: a plain last line
    out=$(SSM_CPU_ISA=$isa SSM_DEVICE=cpu run "$BUILD/tests/$t" "${args[@]}" 2>&1) && r=0 || r=$?
    summary=$(printf '%s\n' "$out" | grep -o 'conformance: .*' || printf '%s\n' "$out" | tail -n 1)
    echo "   $t: $summary (exit $r)"
    [ "$r" -eq 0 ] || { printf '%s\n' "$out" | tail -n 40; rc=1; }
  done
  unset QEMU_CPU
done

end=$(date +%s)
echo "aarch64: build $((built - start)) s, tests $((end - built)) s"
[ "$rc" -eq 0 ] || { echo "aarch64: FAILED"; exit 1; }
echo "aarch64: all checks passed"
