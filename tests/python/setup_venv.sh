#!/usr/bin/env bash
# Creates (once) the virtual environment of the Python tests: VENV with the system
# site-packages (Debian's torch, numpy, pytest, matplotlib) plus the pinned pip packages of
# REQUIREMENTS, made with PYTHON (default /usr/bin/python3: Debian's interpreter, the one that
# sees python3-torch; a pyenv or conda python3 earlier on PATH would not). Idempotent: a stamp holding the requirements' checksum says it is done; a
# changed requirements file re-runs pip. CTest runs this as the fixture python.venv.
#   setup_venv.sh VENV REQUIREMENTS [PYTHON]
set -euo pipefail
venv=$1 req=$2 python=${3:-/usr/bin/python3}
want=$(sha256sum "$req" | cut -d' ' -f1)
stamp="$venv/.ssmkit-$(basename "$req")"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
"$python" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$req"
"$venv/bin/python" -c "import safetensors, numpy, pytest"
echo "$want" > "$stamp"
echo "python venv ready: $venv"
