#!/usr/bin/env bash
# The seed paper's next experiments (its section 6), a second job after scripts/main.sh, into the same results/:
# interventions on SmolLM2-135M-Instruct around the layers where mean pooling collapses on STS-B, the real tiny
# rwkv.cpp RWKV-6 and RWKV-7 (trained weights, byte-level) with their recurrent state as the embedding and their
# branches and decay intervened, `rwkv-mteb analyze` of all three, then the leaderboard rebuilt from everything.
# Data: ../shared/data as in main.sh (the tiny models are read from ../shared/data/rwkvcpp).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/job_env.sh
source scripts/job_env.sh
# shellcheck source=scripts/model_paths.sh
source scripts/model_paths.sh
# SmolLM2: hidden state 12 is block 11's output, where STS-B's mean-pooled score collapses and the mean norm jumps;
# its attention or MLP (or the whole block) zeroed, each against the intact sweep of the main job on the same pairs
.venv/bin/rwkv-mteb sweep -m "$SMOL" --dtype bfloat16 --pooling mean --output-folder "$OUT" \
    -t STSBenchmarkZeroShot --eval-splits test --ablate attention@11 mlp@11 block@11 mlp@10 --augmented-sample 0
# the tiny real RWKV models: mean pooling against the recurrent state (sketched, exact, token shift), then mean
# pooling with a branch of block 5 zeroed, the decay's data-dependent term dropped, or every decay rate halved
for model in "$V6" "$V7"; do
    .venv/bin/rwkv-mteb sweep -m "$model" --pooling mean wkv_state wkv_state_full shift_state --output-folder "$OUT" \
        -t MRPCZeroShot STSBenchmarkZeroShot --eval-splits test --augmented-sample 0
    .venv/bin/rwkv-mteb sweep -m "$model" --pooling mean --output-folder "$OUT" \
        --ablate time_mix@5 channel_mix@5 decay=static@0-11 decay=scale:0.5@0-11 \
        -t MRPCZeroShot STSBenchmarkZeroShot --eval-splits test --augmented-sample 0
done
.venv/bin/rwkv-mteb analyze -m "$SMOL" "$V6" "$V7" -t STSBenchmarkZeroShot --eval-splits test --output-folder "$OUT"
.venv/bin/rwkv-mteb leaderboard --results "$OUT" --out leaderboard
