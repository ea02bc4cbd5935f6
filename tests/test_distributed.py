"""The Ray executor on a local Ray instance with two CPU workers: the same result files as the local executor,
a worker killed mid-run, a unit that keeps failing, and sentence-transformers' multi-device encoding."""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from rwkv_mteb.cli import main
from tests.conftest import result_files

BASE = "RWKV/v6-Finch-1B6-HF"
GLOVE = "stanfordnlp/glove.6B.50d"
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def ray_instance():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


TIMING = {"evaluation_time", "date", "kg_co2_emissions"}


def scores(folder: Path, task: str) -> dict[str, dict]:
    """Each result file by model and revision folder, less its timing fields (the phases keep their names)."""
    out = {}
    for path in result_files(folder, task):
        data = {k: v for k, v in json.loads(path.read_text()).items() if k not in TIMING}
        data["evaluation_phases"] = [(p["name"], p["split"], p["subset"]) for p in data["evaluation_phases"]]
        out[str(path.relative_to(folder).parent)] = data
    return out


def profiles(folder: Path) -> list[dict]:
    return [r for p in sorted(folder.rglob("profiles/*.json")) for r in json.loads(p.read_text())["records"]]


def worker_pids(kind: str) -> list[int]:
    """Ray names an actor's process after its class (ray::SweepWorker)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and f"ray::{kind}".encode() in (proc / "cmdline").read_bytes():
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_without_ray_one_line_names_the_extra(monkeypatch, capsys, registered):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    assert main(["sweep", "-m", BASE, "-t", "MRPCZeroShot", "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "error: --executor ray needs Ray, which is not installed: pip install 'rwkv-mteb[distributed]'"
    )


@pytest.mark.slow
def test_sweep_on_ray_with_a_worker_killed_equals_the_local_sweep(
    ray_instance, small_rwkv, data_env, registered, tmp_path, monkeypatch
):
    from rwkv_mteb.runs.sweep import sweep

    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{BASE}={small_rwkv}")
    args = dict(tasks=["MRPCZeroShot"], layers=[1, 3], eval_splits=["validation", "test"], show_progress_bar=False)
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache-local"))
    sweep(model=BASE, output_folder=tmp_path / "local", **args)

    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache-ray"))
    killed: list[int] = []

    def kill_one_worker_mid_run() -> None:
        vectors = tmp_path / "cache-ray" / "vectors"
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            pids = worker_pids("SweepWorker")
            # once the driver has stored some shards (the pass is under way), kill a worker mid-shard
            if len(pids) == 2 and any(vectors.glob("*.sqlite-wal")):
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker_mid_run, daemon=True)
    killer.start()
    sweep(model=BASE, output_folder=tmp_path / "ray", executor="ray", workers=2, **args)
    killer.join(timeout=1)
    assert killed, "no worker was killed: the test did not exercise a failure"

    assert scores(tmp_path / "ray", "MRPCZeroShot") == scores(tmp_path / "local", "MRPCZeroShot")
    assert len(scores(tmp_path / "ray", "MRPCZeroShot")) == 2  # both layer variants
    # every split's profile says which workers computed its vectors, and they account for every sentence
    records = profiles(tmp_path / "ray")
    assert {(r["split"]) for r in records} == {"validation", "test"}
    produced = {w for r in records for w in r["produced_by"]}
    assert produced and all(w.startswith("ray-worker-") for w in produced)
    assert all(sum(r["produced_by"].values()) == r["sentences"] for r in records)
    # a rerun finds every shard in the cache: nothing is computed again, the same files come out
    sweep(model=BASE, output_folder=tmp_path / "ray", executor="ray", workers=2, overwrite_strategy="always", **args)
    assert scores(tmp_path / "ray", "MRPCZeroShot") == scores(tmp_path / "local", "MRPCZeroShot")


@pytest.mark.slow
def test_protocol_on_ray_equals_the_local_protocol_and_reports_a_failing_unit(
    ray_instance, data_env, registered, tmp_path, monkeypatch
):
    from rwkv_mteb.errors import RwkvMtebError
    from rwkv_mteb.runs.protocol import protocol

    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    tasks = ["MRPCZeroShot", "STSBenchmarkZeroShot"]
    splits = ["validation"]
    protocol(models=[GLOVE], tasks=tasks, output_folder=tmp_path / "local", eval_splits=splits)
    results = protocol(
        models=[GLOVE], tasks=tasks, output_folder=tmp_path / "ray", eval_splits=splits, executor="ray", workers=2
    )
    assert [r.model_name for r in results] == [GLOVE] and len(results[0].task_results) == 2
    for task in tasks:
        assert scores(tmp_path / "ray", task) == scores(tmp_path / "local", task)
    workers = {r["worker"] for r in profiles(tmp_path / "ray")}
    assert all(w.startswith("ray-worker-") for w in workers)
    # a rerun evaluates nothing again: the result files stay byte for byte (their timing fields included)
    finished = {path: path.read_bytes() for task in tasks for path in result_files(tmp_path / "ray", task)}
    protocol(models=[GLOVE], tasks=tasks, output_folder=tmp_path / "ray", eval_splits=splits, executor="ray", workers=2)
    assert {path: path.read_bytes() for path in finished} == finished

    # one model cannot load anywhere: its units are reported with the error, the other model's units finish
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{MINILM}={tmp_path / 'no-such-folder'}")
    with pytest.raises(RwkvMtebError) as failed:
        protocol(
            models=[MINILM, GLOVE],
            tasks=tasks,
            output_folder=tmp_path / "mixed",
            eval_splits=splits,
            executor="ray",
            workers=2,
        )
    message = str(failed.value)
    assert "2 units failed" in message and f"{MINILM} on MRPCZeroShot" in message and "no-such-folder" in message
    for task in tasks:
        assert scores(tmp_path / "mixed", task) == scores(tmp_path / "local", task)


@pytest.mark.slow
def test_sentence_transformers_baseline_on_two_devices(data_env, registered, tmp_path, monkeypatch, capsys):
    import numpy as np

    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    common = ["protocol", "-m", MINILM, "-t", "MRPCZeroShot", "--eval-splits", "validation"]
    assert main([*common, "--output-folder", str(tmp_path / "one")]) == 0
    assert main([*common, "--output-folder", str(tmp_path / "two"), "--devices", "cpu", "cpu"]) == 0
    one, two = scores(tmp_path / "one", "MRPCZeroShot"), scores(tmp_path / "two", "MRPCZeroShot")
    assert one.keys() == two.keys()
    for folder in one:
        np.testing.assert_allclose(
            two[folder]["scores"]["validation"][0]["main_score"],
            one[folder]["scores"]["validation"][0]["main_score"],
            atol=1e-6,
        )
    (record,) = profiles(tmp_path / "two")
    assert record["device"] == "cpu,cpu" and record["sentences"] == 816
    # a layer-wise model is not a plain sentence-transformers model: one clear line
    capsys.readouterr()
    bad = ["protocol", "-m", f"{BASE} (layer=1)", "-t", "MRPCZeroShot", "--devices", "cpu", "cpu"]
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{BASE}={tmp_path / 'none'}")
    assert main(bad) == 2
