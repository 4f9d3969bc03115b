#!/usr/bin/env bash
# The Python package as a user gets it: `pip install .` (CPU only: no GPU in CI, and the CUDA
# kernels would add ~13 min on 2 cores) into a fresh venv over Debian's python3 (system
# site-packages: numpy, pytest, torch), then the package's API and conformance tests against the
# installed package, not the build tree. Runs after `make test` (uses build/src/cli/ssmkit).
# Cost on 2 cores: the library and module compiled once more without ccache (9 min of CPU time:
# ~5 min wall on an idle 2-core machine; 33 min measured with a load average of ~17) plus pip's
# build requirements from PyPI; the tests ~15 s.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(mktemp -d)/venv
/usr/bin/python3 -m venv --system-site-packages "$VENV"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -r tests/python/requirements.txt
start=$(date +%s)
"$VENV/bin/python" -m pip install --disable-pip-version-check -q . --config-settings=cmake.define.SSM_WITH_CUDA=OFF \
  --config-settings=build-dir="$(dirname "$VENV")/pip-build"
echo "pip install . (CPU): $(( $(date +%s) - start )) s"
cd "$(dirname "$VENV")"  # away from the source tree: `import ssmkit` is the installed package
"$VENV/bin/python" -c "import ssmkit, os; assert 'site-packages' in ssmkit.__file__, ssmkit.__file__; \
  assert os.path.exists(os.path.join(os.path.dirname(ssmkit.__file__), '_ssmkit.pyi')); print('installed:', ssmkit.__file__)"
SRC=$OLDPWD
SSMKIT_CLI=$SRC/build/src/cli/ssmkit SSMKIT_TOOLS_DIR=$SRC/tools SSMKIT_CASES_DIR=${SSM_CONFORMANCE_DIR:-$SRC/../shared/conformance/cases} \
  OMP_NUM_THREADS=1 PYTHONDONTWRITEBYTECODE=1 \
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$SRC/tests/python/test_package_api.py" \
  "$SRC/tests/python/test_package_conformance.py"
