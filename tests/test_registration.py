"""Registration with MTEB: Python API, the real `mteb` command in a subprocess, and the autoload switch."""

import json

import pytest

from tests.conftest import cli_env, result_files, run

pytestmark = pytest.mark.usefixtures("registered")


def test_register_is_idempotent():
    import mteb
    from mteb.models.model_implementations import MODEL_REGISTRY

    import rwkv_mteb

    tasks_before = len(mteb.get_tasks())
    models_before = len(MODEL_REGISTRY)
    rwkv_mteb.register()
    rwkv_mteb.register()
    assert len(mteb.get_tasks()) == tasks_before and len(MODEL_REGISTRY) == models_before


def test_tasks_are_in_mteb():
    import mteb

    task = mteb.get_task("MRPCZeroShot")
    assert task.metadata.main_score == "cosine_spearman"
    assert task.metadata.eval_splits == ["train_sample", "validation"]
    names = {t.metadata.name for t in mteb.get_tasks(task_types=["STS"], languages=["eng"])}
    assert {"MRPCZeroShot", "STSBenchmarkZeroShot", "STSBenchmark.v2"} <= names


def test_models_are_in_mteb():
    import mteb

    for name in [
        "stanfordnlp/glove.6B.50d",
        "princeton-nlp/sup-simcse-bert-base-uncased",
        "princeton-nlp/unsup-simcse-bert-base-uncased",
        "sentence-transformers/all-MiniLM-L6-v2",
    ]:
        meta = mteb.get_model_meta(name)
        assert meta.loader is not None and meta.name == name
    # MTEB's own metadata is kept for the SBERT models: the result folder is the standard one
    assert mteb.get_model_meta("sentence-transformers/all-MiniLM-L6-v2").revision == (
        "8b3219a92973c328a8e22fadcfa821b5dc75636a"
    )


def test_unknown_model_is_a_clear_error():
    from rwkv_mteb import load_encoder
    from rwkv_mteb.errors import ModelUnavailableError

    with pytest.raises(ModelUnavailableError, match=r"unknown model 'stanfordnlp/glove\.6B\.51d'.*glove\.6B\.50d"):
        load_encoder("stanfordnlp/glove.6B.51d")


@pytest.mark.slow
def test_mteb_run_subprocess_writes_standard_results(tmp_path, shared_data):
    """The real `mteb run` command sees our task and model right after installation, with no extra step."""
    env = cli_env(RWKV_MTEB_DATA_DIR=str(shared_data))
    proc = run(
        "mteb",
        "run",
        "-m",
        "stanfordnlp/glove.6B.50d",
        "-t",
        "MRPCZeroShot",
        "--output-folder",
        str(tmp_path),
        "-v",
        "0",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    import mteb

    results = mteb.ResultCache(tmp_path).load_results(models=["stanfordnlp/glove.6B.50d"], tasks=["MRPCZeroShot"])
    task_result = results.model_results[0].task_results[0]
    assert set(task_result.scores) == {"train_sample", "validation"}
    assert round(task_result.scores["validation"][0]["main_score"], 4) == 0.4326
    files = result_files(tmp_path, "MRPCZeroShot")
    assert len(files) == 1 and json.loads(files[0].read_text())["task_name"] == "MRPCZeroShot"


@pytest.mark.slow
def test_available_tasks_lists_ours():
    proc = run("mteb", "available-tasks", "-t", "MRPCZeroShot", "STSBenchmarkZeroShot", env=cli_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "MRPCZeroShot" in proc.stdout and "STSBenchmarkZeroShot" in proc.stdout


@pytest.mark.slow
def test_autoload_can_be_turned_off():
    code = (
        "import mteb; from mteb.models.model_implementations import MODEL_REGISTRY; "
        "print('stanfordnlp/glove.6B.50d' in MODEL_REGISTRY)"
    )
    on = run("python", "-c", code, env=cli_env())
    off = run("python", "-c", code, env=cli_env(RWKV_MTEB_AUTOLOAD="0"))
    assert on.stdout.strip() == "True", on.stderr[-2000:]
    assert off.stdout.strip() == "False", off.stderr[-2000:]


@pytest.mark.slow
def test_unavailable_model_is_one_line_not_a_traceback(tmp_path, shared_data):
    env = cli_env(RWKV_MTEB_DATA_DIR=str(shared_data), HF_HUB_OFFLINE="1")
    proc = run(
        "mteb",
        "run",
        "-m",
        "princeton-nlp/sup-simcse-bert-base-uncased",
        "-t",
        "MRPCZeroShot",
        "--output-folder",
        str(tmp_path),
        "-v",
        "0",
        env=env,
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "RWKV_MTEB_MODEL_PATHS" in errors[0], proc.stderr[-2000:]


@pytest.mark.slow
def test_rwkv_mteb_command_offers_mteb_subcommands(tmp_path):
    proc = run("rwkv-mteb", "available-tasks", "-t", "MRPCZeroShot", env=cli_env())
    assert proc.returncode == 0 and "MRPCZeroShot" in proc.stdout, proc.stderr[-2000:]
    proc = run("rwkv-mteb", "models", env=cli_env())
    assert proc.returncode == 0 and "stanfordnlp/glove.6B.50d" in proc.stdout, proc.stderr[-2000:]
    proc = run("rwkv-mteb", "run", "--help", env=cli_env())
    assert "--overwrite-strategy" in proc.stdout


def test_models_listing_is_grouped_collapsed_and_naturally_sorted():
    from rwkv_mteb.models.catalog import LANGUAGE_MODELS
    from rwkv_mteb.models.listing import model_listing

    short = [line.strip() for line in model_listing().splitlines()]
    assert len(short) < 2 * len(LANGUAGE_MODELS)  # one line per model and a few headings, not one per variant
    assert "RWKV/v6-Finch-1B6-HF (layer=0..24, pooling=mean|weighted_mean|max|last|first_last)  dim 2048" in short
    assert "with zero-shot prompts (prompt=eol: pooling=last; prompt=echo: pooling=mean|last)" in "\n".join(short)
    assert short.index("stanfordnlp/glove.6B.50d  dim 50") < short.index(
        "sentence-transformers/all-MiniLM-L6-v2  dim 384"
    )
    names = [
        line.strip() for line in model_listing(expand=True).splitlines() if line.startswith("  ") and "(layer=" in line
    ]
    # per layer: 5 poolings of the plain text, PromptEOL by its last token, echo by mean and last token
    assert len(names) == sum(lm.hidden_states for lm in LANGUAGE_MODELS) * (5 + 1 + 2)
    assert "HuggingFaceTB/SmolLM2-135M-Instruct (layer=30, pooling=last, prompt=echo)" in names
    assert names.index("RWKV/v6-Finch-1B6-HF (layer=2)") < names.index("RWKV/v6-Finch-1B6-HF (layer=10)")
