#!/usr/bin/env bash
# Set up .venv from nothing, then run the whole test suite (offline; reads ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check rwkv_mteb tests benchmarks
exec .venv/bin/python -m pytest -q "$@"
