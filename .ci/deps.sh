#!/usr/bin/env bash
# Installs the Debian 12 packages ssmkit needs, only those missing. Used by `make` and CI.
set -euo pipefail
PKGS=(cmake g++ make ninja-build ccache pkg-config libeigen3-dev libfftw3-dev libboost-test-dev nlohmann-json3-dev libhwy-dev
      portaudio19-dev libsndfile1-dev libbenchmark-dev libcli11-dev jackd2 clang libclang-rt-14-dev libomp-14-dev
      # The LV2 plugin (plugins/lv2): headers, and the hosts its tests run (lv2ls/lv2info,
      # sord_validate, lv2file, jalv).
      lv2-dev lilv-utils sordi lv2file jalv
      # Python tests (tests/python, label python; the venv adds safetensors from PyPI) and the
      # figures (tools/plot/ssmkit_plot.py: matplotlib); python3-scipy: the extra conformance cases
      # (tools/conformance/extra_cases.py); python3-dev: the headers of the Python module (python/,
      # nanobind from PyPI in the venv).
      python3 python3-dev python3-venv python3-pytest python3-numpy python3-scipy python3-torch python3-matplotlib)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "ssmkit: installing missing packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# jackd2 asks whether to enable real-time scheduling; answer no.
echo "jackd2 jackd/tweak_rt_limits boolean false" | $SUDO debconf-set-selections 2>/dev/null || true
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
