"""The acceptance run of the layer-wise engine, offline: one `rwkv-mteb sweep` command per model (a random RWKV-6
checkpoint over an STS, a PairClassification and a Classification task; a tiny transformers model, which shares
every code path past its backbone, over the PairClassification task), two poolings and two prompts; every registered
variant's result equals a separate evaluation of that variant with its vectors computed afresh; the method axes are
in the result names and in the vector cache's keys. The tasks are every eighth row of the built-in ones
(:mod:`tests.mini_tasks`): an equality of two runs does not need 7,000 sentences each."""

import json
import sqlite3

import pytest

from rwkv_mteb.layerwise.prompts import Prompt
from tests.conftest import cli_env, result_files, run, variant_of
from tests.mini_tasks import make_mini_tasks, mini_name

pytestmark = [pytest.mark.usefixtures("registered"), pytest.mark.slow]
BUILT_IN = ["STSBenchmarkZeroShot", "MRPCPairClassification", "STSBGenreClassification"]
TASKS = [mini_name(t) for t in BUILT_IN]
MODELS = {"rwkv": "RWKV/v6-Finch-1B6-HF", "llama": "HuggingFaceTB/SmolLM2-135M-Instruct"}
TASKS_OF = {"rwkv": TASKS, "llama": TASKS[1:2]}
LAYERS = [0, 2]


def main_scores(folder, task):
    return {
        variant_of(path): {s: rows[0]["main_score"] for s, rows in json.loads(path.read_text())["scores"].items()}
        for path in result_files(folder, task)
    }


@pytest.mark.parametrize("which", ["rwkv", "llama"])
def test_one_sweep_over_three_task_types_equals_separate_runs(which, small_rwkv, tiny_llama, shared_data, tmp_path):
    model, tasks = MODELS[which], TASKS_OF[which]
    env = cli_env(
        HF_HUB_OFFLINE="1",
        **make_mini_tasks(tmp_path / "mini", shared_data, BUILT_IN),
        RWKV_MTEB_MODEL_PATHS=f"{model}={small_rwkv if which == 'rwkv' else tiny_llama}",
        RWKV_MTEB_CACHE_DIR=str(tmp_path / "cache"),
    )
    command = ["sweep", "-m", model, "-t", *tasks, "--eval-splits", "test", "--layers", *map(str, LAYERS)]
    command += ["--pooling", "mean", "weighted_mean", "--prompt", "none", "echo", "--augmented-sample", "0"]
    proc = run("rwkv-mteb", *command, "--output-folder", str(tmp_path / "sweep"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    variants = {
        f"{model} (layer={k}{axes})"
        for k in LAYERS
        for axes in ("", ", pooling=weighted_mean", ", prompt=echo", ", pooling=weighted_mean, prompt=echo")
    }
    swept = {task: main_scores(tmp_path / "sweep", task) for task in tasks}
    for task in tasks:
        assert set(swept[task]) == variants, task
        assert all(isinstance(v["test"], float) for v in swept[task].values())

    # the cache holds one entry per method (pooling x prompt), all from one pass per prompt
    (cache_file,) = (tmp_path / "cache" / "vectors").glob("*.sqlite")
    with sqlite3.connect(cache_file) as db:
        methods = {row[0] for row in db.execute("SELECT DISTINCT method FROM vectors")}
    assert methods == {Prompt.of(p).method(q) for p in ("none", "echo") for q in ("mean", "weighted_mean")}

    # each registered variant, evaluated on its own (vectors computed afresh: no cache) by `mteb run`
    fresh = cli_env(**{**env, "RWKV_MTEB_VECTOR_CACHE": "0"})
    # one variant per method axis (the plain variant's equality with a fresh run: test_honest_costs)
    for name in (f"{model} (layer=2, prompt=echo)", f"{model} (layer=0, pooling=weighted_mean)"):
        proc = run("mteb", "run", "-m", name, "-t", *tasks, "--output-folder", str(tmp_path / "alone"), "-v", "0",
                   env=fresh)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    for task in tasks:
        alone = main_scores(tmp_path / "alone", task)
        assert len(alone) == 2
        for variant, scores in alone.items():
            # the same texts, batched differently: float noise only
            assert scores["test"] == pytest.approx(swept[task][variant]["test"], abs=1e-3), (task, variant)
