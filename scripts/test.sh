#!/usr/bin/env bash
# Set up .venv from nothing, then run the whole test suite (offline; reads ../shared/data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the leaderboard page is tested in a real browser: Chromium from the Debian package (root and apt needed)
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    printf '\n== setup: Chromium (Debian package) for the page tests\n'
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 ||
        echo "Chromium could not be installed: the page tests will skip, saying so"
fi
.venv/bin/ruff check rwkv_mteb tests benchmarks
# two workers, each taking whole files (a file's module fixtures are built once) in the order tests/conftest.py
# gives them, and one thread: most of the suite is single-threaded Python (MTEB, subprocesses of the CLI), so two
# files at once use both cores; `-n 0` runs it in one process
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec .venv/bin/python -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder "$@"
