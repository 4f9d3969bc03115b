#!/usr/bin/env bash
# The Python package as a user gets it: `pip install .` into a fresh venv over Debian's python3
# (system site-packages: numpy, pytest, torch), then the package's API and conformance tests
# against the installed package, not the build tree. Runs after `make test` (uses
# build/src/cli/ssmkit).
# Configuration: what a user with nvcc gets (CUDA on; no GPU here, so its tests skip), with the
# kernels compiled for $SSM_CI_CUDA_GENCODE when .ci/run sets it, else CPU only
# (SSM_PIP_CUDA=ON|OFF overrides). Under .ci/run the build directory is build-pip/, beside build/
# and configured like it, and ccache is on: the library's objects and kernels are cache hits of
# `make test`'s build, so this costs the nanobind module, the links and pip's build requirements
# from PyPI (the ccache statistics printed below say how many hits). Without the cache it is a
# second full build of the library (9 min of CPU time without CUDA). The tests take ~15 s.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(mktemp -d)/venv
/usr/bin/python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r tests/python/requirements.txt
cuda=${SSM_PIP_CUDA:-$([ -n "${SSM_CI_CUDA_GENCODE:-}" ] && command -v nvcc >/dev/null 2>&1 && echo ON || echo OFF)}
settings=(--config-settings=cmake.define.SSM_WITH_CUDA="$cuda" --config-settings=build-dir="$PWD/build-pip")
[ "$cuda" = ON ] && [ -n "${SSM_CI_CUDA_GENCODE:-}" ] && settings+=(--config-settings=cmake.define.SSM_CUDA_GENCODE="$SSM_CI_CUDA_GENCODE")
# The compilers of build/ by the same paths (ccache keys on the compiler's path: scikit-build-core
# would name /usr/bin/x86_64-linux-gnu-g++, Python's own, where CMake found /usr/bin/c++).
for lang in C CXX; do
  c=$(sed -n "s/^CMAKE_${lang}_COMPILER:FILEPATH=//p" build/CMakeCache.txt 2>/dev/null)
  [ -n "$c" ] && settings+=(--config-settings=cmake.define.CMAKE_${lang}_COMPILER="$c")
done
rm -rf build-pip
! command -v ccache >/dev/null 2>&1 || [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] || ccache -z >/dev/null
start=$(date +%s)
"$VENV/bin/python" -m pip install --disable-pip-version-check -q . "${settings[@]}"
echo "pip install . (CUDA $cuda): $(( $(date +%s) - start )) s"
! command -v ccache >/dev/null 2>&1 || [ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] || ccache -s | sed -n '1,6p'
cd "$(dirname "$VENV")"  # away from the source tree: `import ssmkit` is the installed package
"$VENV/bin/python" -c "import ssmkit, os; assert 'site-packages' in ssmkit.__file__, ssmkit.__file__; \
  assert os.path.exists(os.path.join(os.path.dirname(ssmkit.__file__), '_ssmkit.pyi')); print('installed:', ssmkit.__file__)"
SRC=$OLDPWD
SSMKIT_CLI=$SRC/build/src/cli/ssmkit SSMKIT_TOOLS_DIR=$SRC/tools SSMKIT_CASES_DIR=${SSM_CONFORMANCE_DIR:-$SRC/../shared/conformance/cases} \
  OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 \
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$SRC/tests/python/test_package_api.py" \
  "$SRC/tests/python/test_package_conformance.py"
