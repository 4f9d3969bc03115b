#!/usr/bin/env bash
# The GPU run, on the lent GPU machine (its image has CUDA, CMake and ninja but no compiled
# Boost.Test, Eigen, FFTW, nlohmann-json, Google Benchmark or CLI11): the Debian 12 packages are
# carried in .debs/, fetched on the development machine with
#   mkdir -p .debs && cd .debs && apt-get download libeigen3-dev libfftw3-dev libfftw3-single3 \
#     libfftw3-double3 libfftw3-long3 libfftw3-quad3 libboost-test1.74-dev libboost-test1.74.0 \
#     libboost1.74-dev nlohmann-json3-dev libbenchmark-dev libbenchmark1debian libcli11-dev libhwy-dev libhwy1
# and unpacked into a private prefix. Builds Release with CUDA (no audio: the machine has
# no sound server), then runs what the phases name:
#   [GPU_PYTHON=1] bash .ci/gpu.sh [build] [test] [python] [conformance] [bench <regex>] [sanitize <ctest-regex>]
# Logs go to $OUT (or ./gpu-out) as files, the summary to stdout.
set -uo pipefail
cd "$(dirname "$0")/.."
OUTDIR=${OUT:-$PWD/gpu-out}; mkdir -p "$OUTDIR"
D=/tmp/ssm-deps
if [ ! -d "$D/usr" ]; then
  mkdir -p "$D"
  for f in .debs/*.deb; do dpkg -x "$f" "$D"; done
  for pc in "$D"/usr/lib/x86_64-linux-gnu/pkgconfig/*.pc "$D"/usr/share/pkgconfig/*.pc; do
    [ -e "$pc" ] && sed -i "s|^prefix=.*|prefix=$D/usr|" "$pc"
  done
fi
export PKG_CONFIG_PATH=$D/usr/lib/x86_64-linux-gnu/pkgconfig:$D/usr/share/pkgconfig
export LD_LIBRARY_PATH=$D/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}
export CMAKE_PREFIX_PATH=$D/usr
B=build-gpu
rc=0
# The conformance cases live beside the checkout (../shared), which does not travel: carry a
# copy as .cases/ (cp ../shared/conformance/cases/*.safetensors .cases/).
[ -d .cases ] && export SSM_CONFORMANCE_DIR=$PWD/.cases
DEADLINE=${DEADLINE:-100000}  # seconds: later bench/sanitize steps are skipped past it
while [ $# -gt 0 ]; do
  case "$1" in
    build)
      # The Python module with GPU_PYTHON=1: the image's python3 (PyTorch with CUDA, nanobind,
      # pytest, safetensors, numpy) stands in for the tests' venv (no PyPI there): a venv folder
      # whose bin/python is that interpreter and whose stamp says its requirements are met.
      PY=(-DSSM_BUILD_PYTHON=OFF)
      if [ "${GPU_PYTHON:-0}" = 1 ]; then
        for v in python-venv python-venv-ray; do
          mkdir -p $B/$v/bin && printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v python3)" > $B/$v/bin/python
          chmod +x $B/$v/bin/python
        done
        sha256sum tests/python/requirements.txt | cut -d' ' -f1 > $B/python-venv/.ssmkit-requirements.txt
        PY=(-DSSM_BUILD_PYTHON=ON)
      fi
      # The image's g++ links libstdc++ statically (nvcc adds its library folder first, so even
      # another g++ gets the static one): the test guard then cannot interpose __cxa_throw.
      CXX_FLAGS=(-DSSM_RT_GUARD_STATIC_LIBSTDCXX=ON)
      cmake -S . -B $B -G Ninja -DCMAKE_BUILD_TYPE=Release -DSSM_WITH_CUDA=ON -DSSM_WITH_AUDIO=OFF "${PY[@]}" "${CXX_FLAGS[@]}" >"$OUTDIR/configure.log" 2>&1 \
        || { echo "configure failed"; tail -30 "$OUTDIR/configure.log"; exit 1; }
      cmake --build $B -j"$(nproc)" >"$OUTDIR/build.log" 2>&1 \
        || { echo "build failed"; grep -E "error|Error" -A3 "$OUTDIR/build.log" | head -60; exit 1; }
      echo "build: ok"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader ;;
    test)
      # python: the lent machine has no PyTorch and no PyPI (the Python tests run in CI).
      (cd $B && ctest -LE "slow|audio|python" -j8 --output-on-failure --timeout 300) >"$OUTDIR/ctest.log" 2>&1 || rc=1
      grep -E "tests passed|tests failed|Failed|\*\*\*Failed|Not Run|Skipped" "$OUTDIR/ctest.log" | tail -25 ;;
    python)
      # The package on torch CUDA tensors (test_package_cuda.py) and the API/conformance tests,
      # then the GPU binding bench against torch's selective_scan_ref.
      (cd $B && ctest -R "python.package" --output-on-failure --timeout 300) >"$OUTDIR/python.log" 2>&1 || rc=1
      grep -E "tests passed|tests failed|Failed|passed|failed|skipped" "$OUTDIR/python.log" | tail -12
      PYTHONPATH=$B/python timeout 200 python3 bench/python/bench_binding.py --gpu 2>&1 | tail -6 ;;
    conformance)
      SSM_DEVICE=all $B/tests/conformance_runner >"$OUTDIR/conformance.log" 2>&1 || rc=1
      grep -E "^FAIL|conformance:" "$OUTDIR/conformance.log" | tail -30 ;;
    bench)
      shift
      for b in $B/bench/bench_*; do
        [[ "$(basename "$b")" =~ $1 ]] || continue
        if [ $SECONDS -gt $((DEADLINE - 90)) ]; then echo "== $(basename "$b"): skipped (deadline)"; continue; fi
        echo "== $(basename "$b")"
        timeout "${BENCH_TIMEOUT:-150}" "$b" >"$OUTDIR/$(basename "$b").log" 2>&1 || { echo "rc=$?"; rc=1; }
        grep -vE "^-+$|^Run on|^CPU Caches|L[123] |^Load Average|^\*\*\*WARNING" "$OUTDIR/$(basename "$b").log" | tail -30
      done ;;
    sanitize)
      shift
      for t in $(cd $B && ctest -N -R "$1" | sed -nE 's/.*Test +#[0-9]+: (.*)$/\1/p'); do
        exe=$(cd $B && ctest -N -V -R "^$t\$" | sed -nE 's/.*Test command: ([^ ]+).*/\1/p' | head -1)
        if [ $SECONDS -gt $((DEADLINE - 60)) ]; then echo "== memcheck $t: skipped (deadline)"; continue; fi
        echo "== compute-sanitizer memcheck $t"
        compute-sanitizer --tool memcheck --error-exitcode 9 "$exe" >"$OUTDIR/memcheck-$t.log" 2>&1; echo "rc=$?"
        grep -E "ERROR SUMMARY" "$OUTDIR/memcheck-$t.log" | tail -1
      done ;;
    *) echo "unknown phase $1"; exit 2 ;;
  esac
  shift
done
exit $rc
