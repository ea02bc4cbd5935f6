# Sourced by the jobs (main.sh, experiments.sh) from the repository root: set up .venv from nothing, read the data
# from ../shared/data (GLUE layout) when it exists and RWKV_MTEB_DATA_DIR is unset, write results to $OUT.
bash scripts/setup.sh
if [ -z "${RWKV_MTEB_DATA_DIR:-}" ] && [ -d ../shared/data/mrpc ]; then
    export RWKV_MTEB_DATA_DIR="$PWD/../shared/data"
fi
OUT=${OUT:-results}
