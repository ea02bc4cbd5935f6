#!/usr/bin/env bash
# Create .venv (once) and install rwkv-mteb into it with the `offline` and `test` extras.
# torch==2.13.0 goes first: on the project's CPU machines pip takes the wheel on disk instead of a multi-GB
# CUDA build, and everything after it sees torch as already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/pip install --quiet --disable-pip-version-check ".[offline,test]" 2>&1 | grep -v "^WARNING: Location" || true
.venv/bin/python -c "import rwkv_mteb, mteb, torch; print('rwkv-mteb', rwkv_mteb.__version__, '| mteb', mteb.__version__, '| torch', torch.__version__)"
