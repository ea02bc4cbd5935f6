#!/usr/bin/env bash
# Long inputs, a third job with its own results (results-long/) and board (leaderboard/long-inputs/): the
# generated long-context suite (passkey and
# needle retrieval, needle reranking; 256 to 32,768 RWKV World tokens per document) for GloVe, the SBERT models,
# SmolLM2-135M-Instruct layer by layer (cut at its 8,192 positions: the profiles count the cut inputs) and the
# tiny real rwkv.cpp RWKV-6 (state carried across any length; RWKV-7 up to 4,096 tokens), `rwkv-mteb scaling` of
# the three, then its own leaderboard.
# Its measured time on 2 cores is in the README ("Long inputs"). Data: ../shared/data as in main.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/job_env.sh
source scripts/job_env.sh
OUT=${LONG_OUT:-results-long}
LONG=(LongPasskeyRetrieval LongNeedleRetrieval LongNeedleReranking)
# shellcheck source=scripts/model_paths.sh
source scripts/model_paths.sh
.venv/bin/rwkv-mteb protocol --output-folder "$OUT" -t "${LONG[@]}"
# the label-free layer metrics on 16 texts per task (not 1,024): their token-level ones run each text alone, and
# a 32k-token document is 150k bytes for the byte-level tiny models. RWKV-7's per-token WKV loop reads about
# 1,100 bytes/s here (RWKV-6's chunked form 11,000), so its sweep stops at the 4,096-token documents.
.venv/bin/rwkv-mteb sweep -m "$V6" --pooling mean --output-folder "$OUT" -t "${LONG[@]}" \
    --metric-sample 16 --augmented-sample 0
.venv/bin/rwkv-mteb sweep -m "$V7" --pooling mean --output-folder "$OUT" -t "${LONG[@]}" \
    --eval-splits test_256 test_512 test_1024 test_2048 test_4096 --metric-sample 16 --augmented-sample 0
.venv/bin/rwkv-mteb sweep -m "$SMOL" --dtype bfloat16 --pooling mean --output-folder "$OUT" -t "${LONG[@]}" \
    --metric-sample 16 --augmented-sample 0
# cost by length on the real weights (the board tabulates and plots every curve under $OUT/scaling/)
.venv/bin/rwkv-mteb scaling -m "$SMOL" --dtype bfloat16 --out "$OUT/scaling/SmolLM2-135M-Instruct.json"
.venv/bin/rwkv-mteb scaling -m "$V6" --out "$OUT/scaling/tiny-rwkv-6v0-1m.json"
.venv/bin/rwkv-mteb scaling -m "$V7" --out "$OUT/scaling/tiny-rwkv-7v0-834K.json"
.venv/bin/rwkv-mteb leaderboard --results "$OUT" --out leaderboard/long-inputs
