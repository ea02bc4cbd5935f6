"""The profiling hook: consistent records, for every split, through the real commands, surviving interruption."""

import json

import pytest

from tests.conftest import cli_env, run

pytestmark = pytest.mark.usefixtures("registered")


def check_record(record):
    assert record["encode_calls"] == 2  # STS: one call per side of the pairs
    assert record["pair_task"] is True
    assert record["pairs"] == record["sentences"] // 2 and record["sentences"] % 2 == 0
    assert record["sentences_per_second"] == pytest.approx(record["sentences"] / record["encode_seconds"])
    assert record["seconds_per_pair"] == pytest.approx(record["encode_seconds"] / record["pairs"])
    assert record["peak_gpu_allocated_mb"] is None and record["peak_gpu_reserved_mb"] is None  # CPU
    assert record["device"] == "cpu" and record["peak_rss_mb"] > 0
    assert set(record["versions"]) == {"torch", "transformers", "sentence-transformers", "mteb", "rwkv-mteb"}


@pytest.mark.slow
def test_mteb_run_writes_a_profile_for_every_split(tmp_path, shared_data):
    proc = run(
        "mteb",
        "run",
        "-m",
        "stanfordnlp/glove.6B.50d",
        "-t",
        "MRPCZeroShot",
        "--eval-splits",
        "train_sample",
        "validation",
        "test",
        "--output-folder",
        str(tmp_path),
        "-v",
        "0",
        env=cli_env(RWKV_MTEB_DATA_DIR=str(shared_data)),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = tmp_path.rglob("profiles/MRPCZeroShot.json")
    profile = json.loads(path.read_text())
    assert profile["model"] == "stanfordnlp/glove.6B.50d" and profile["schema_version"] == 2
    by_split = {r["split"]: r for r in profile["records"]}
    assert set(by_split) == {"train_sample", "validation", "test"}
    assert {s: r["pairs"] for s, r in by_split.items()} == {"train_sample": 1000, "validation": 408, "test": 1725}
    for record in by_split.values():
        check_record(record)
        assert record["tokens"] > record["sentences"]  # GloVe counts whitespace words
        assert record["model_load_seconds"] > 0 and record["batch_size"] == 32
    assert sum(r["includes_warmup"] for r in by_split.values()) == 1
    assert not list(tmp_path.rglob("*.tmp"))
    # MTEB still reads the result folder
    import mteb

    assert mteb.ResultCache(tmp_path).load_results(tasks=["MRPCZeroShot"]).model_results


@pytest.mark.slow
def test_rwkv_mteb_run_profiles_any_mteb_model(tmp_path, shared_data):
    proc = run(
        "rwkv-mteb",
        "run",
        "-m",
        "mteb/baseline-random-encoder",
        "-t",
        "MRPCZeroShot",
        "--eval-splits",
        "validation",
        "--output-folder",
        str(tmp_path),
        "-v",
        "0",
        env=cli_env(RWKV_MTEB_DATA_DIR=str(shared_data)),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (path,) = tmp_path.rglob("profiles/MRPCZeroShot.json")
    (record,) = json.loads(path.read_text())["records"]
    assert record["model"] == "mteb/baseline-random-encoder" and record["pairs"] == 408
    assert record["tokens"] is None  # no tokenizer to count with
    assert record["sentences_per_second"] == pytest.approx(record["sentences"] / record["encode_seconds"])


def test_profile_survives_an_interrupted_run(tmp_path, data_env):
    import mteb

    task = mteb.get_task("MRPCZeroShot", eval_splits=["validation", "test"])
    model = mteb.get_model("stanfordnlp/glove.6B.50d")
    profiled = model.encode
    calls = []

    def interrupted(inputs, *args, **kwargs):
        calls.append(kwargs["hf_split"])
        if kwargs["hf_split"] == "test":
            raise KeyboardInterrupt
        return profiled(inputs, *args, **kwargs)

    model.encode = interrupted
    with pytest.raises(KeyboardInterrupt):
        mteb.evaluate(model, task, cache=mteb.ResultCache(tmp_path), show_progress_bar=False)
    (path,) = tmp_path.rglob("profiles/MRPCZeroShot.json")
    records = json.loads(path.read_text())["records"]
    assert [r["split"] for r in records] == ["validation"]
    check_record(records[0])
    # the resumed run adds the missing split to the same profile file
    model.encode = profiled
    mteb.evaluate(model, task, cache=mteb.ResultCache(tmp_path), show_progress_bar=False)
    records = json.loads(path.read_text())["records"]
    assert sorted(r["split"] for r in records) == ["test", "validation"]
