#!/usr/bin/env bash
# Set up .venv from nothing, then run the main job: the seed paper's MRPC protocol (and STS-B) for GloVe and
# the SBERT models, MTEB result files under results/, then the leaderboard (leaderboard/: JSON, tables, plots).
# Data: the hub by default; ../shared/data (GLUE layout) when it exists and RWKV_MTEB_DATA_DIR is unset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${RWKV_MTEB_DATA_DIR:-}" ] && [ -d ../shared/data/mrpc ]; then
    export RWKV_MTEB_DATA_DIR="$PWD/../shared/data"
fi
OUT=${OUT:-results}
.venv/bin/rwkv-mteb protocol --output-folder "$OUT" -t MRPCZeroShot --eval-splits train_sample validation train test
.venv/bin/rwkv-mteb protocol --output-folder "$OUT" -t STSBenchmarkZeroShot
.venv/bin/rwkv-mteb leaderboard --results "$OUT" --out leaderboard
