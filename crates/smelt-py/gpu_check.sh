#!/usr/bin/env bash
# The PyTorch conversion test on a machine that has torch (the GPU machine): installs a smelt
# wheel built elsewhere (`maturin build --release`: one abi3 wheel) into the Python there,
# without dependencies or network (numpy and torch are installed already), and runs
# tests/test_torch.py (with pytest when it is installed, as a script otherwise).
#
#   crates/smelt-py/gpu_check.sh [WHEEL]   # default: the newest .gpu/wheels/smelt-*.whl
#
# PYTHON picks the interpreter (default python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
wheel="${1:-$(ls -t "$root"/.gpu/wheels/smelt-*.whl 2>/dev/null | head -1)}"
if [ -z "$wheel" ] || [ ! -f "$wheel" ]; then
  echo "error: no wheel: give one, or build it with maturin build --release -o .gpu/wheels" >&2
  exit 1
fi
py="${PYTHON:-python3}"
"$py" -c "import numpy, torch; print('python', __import__('sys').version.split()[0], '| numpy', numpy.__version__, '| torch', torch.__version__, '| cuda', torch.cuda.is_available())"
# a system Python may be marked externally managed; this install is meant for it
PIP_BREAK_SYSTEM_PACKAGES=1 "$py" -m pip install --no-deps --no-index --force-reinstall "$wheel"
# from tests/, `import smelt` is the installed wheel, not the sources under python/
cd "$here/tests"
if "$py" -c "import pytest" 2>/dev/null; then
  exec "$py" -m pytest -v -rs -s -p no:cacheprovider test_torch.py
else
  exec "$py" test_torch.py
fi
