"""Shared fixtures. Nothing here may reach the Hugging Face hub: tests run offline."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("RWKV_MTEB_SHARED_DATA", REPO.parent / "shared" / "data"))

# set before anything imports huggingface_hub, datasets or transformers
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# the files whose tests and fixtures take a minute or more (`--durations`, 2026-12-08), longest first: scripts/test.sh
# hands whole files to two workers in this order (`--no-loadscope-reorder`: xdist's default reorders them by their
# number of tests), so that no worker is left with a long file at the end; the second and third need `results`,
# which one worker builds while the other runs the Ray tests
SLOWEST_FIRST = (
    "test_distributed.py",
    "test_leaderboard_page.py",
    "test_experiments.py",
    "test_leaderboard.py",
    "test_long_inputs.py",
    "test_sweep_tasks.py",
    "test_trust.py",
    "test_retrieval_tasks.py",
    "test_interventions.py",
    "test_notebook.py",
    "test_rwkv_end_to_end.py",
    "test_user_errors.py",
    "test_registration.py",
    "test_state_pooling.py",
    "test_rwkv7.py",
    "test_training.py",
    "test_layerwise.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file keeps its own order


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "mrpc" / "validation.tsv").is_file():
        pytest.fail(f"the real data are missing at {SHARED_DATA}; CI must run with ../shared beside the checkout")
    return SHARED_DATA


@pytest.fixture
def data_env(monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> Path:
    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(shared_data))
    return shared_data


@pytest.fixture(scope="session")
def registered() -> None:
    import rwkv_mteb

    rwkv_mteb.register()


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for a subprocess running the installed commands."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(extra)
    return env


def bin_path(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def run(command: str, *args: str, env: dict[str, str] | None = None, timeout: int = 900):  # type: ignore[no-untyped-def]
    """Run one of the installed commands (mteb, rwkv-mteb, python) as a user would."""
    import subprocess

    return subprocess.run(
        [bin_path(command), *args], env=env or cli_env(), capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def small_rwkv(tmp_path_factory) -> Path:
    """A random RWKV-6 checkpoint in the Hugging Face layout: 3 blocks, hidden 128 (2 heads of 64)."""
    from rwkv_mteb.rwkv.checkpoint import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("rwkv") / "hf", layers=3, hidden=128, seed=0)


@pytest.fixture(scope="session")
def tiny_llama(tmp_path_factory) -> Path:
    """A random Llama-architecture checkpoint (SmolLM2's) with 256 ids and no tokenizer files: byte-level."""
    import torch
    from transformers import LlamaConfig, LlamaModel

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-llama")
    config = LlamaConfig(
        vocab_size=256, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=1024,
    )  # fmt: skip
    LlamaModel(config).save_pretrained(folder)
    return folder


@pytest.fixture
def no_vector_cache(monkeypatch):
    monkeypatch.setenv("RWKV_MTEB_VECTOR_CACHE", "0")


def result_files(folder: Path, task: str) -> list[Path]:
    """MTEB result files of ``task`` under ``folder`` (not the profiles written beside them)."""
    return sorted(p for p in folder.rglob(f"{task}.json") if p.parent.name != "profiles")


def variant_of(result: Path) -> str:
    """The name a user types for the model of a result file, from the model meta MTEB saved beside it (its
    name, then its experiment: ``"<model> (layer=K, ...)"``)."""
    import json

    from rwkv_mteb.layerwise.variants import display_name

    meta = json.loads((result.parent / "model_meta.json").read_text())
    return display_name(meta["name"], meta.get("experiment_kwargs"))


@pytest.fixture(scope="session")
def results(tmp_path_factory, shared_data, small_rwkv, worker_id):
    """Real result folders: GloVe on MRPC through `protocol`, a layer sweep of a small random RWKV-6 (intact and
    with block 1's time mixing zeroed) and its `analyze` file. Built once a run (70 s): the pytest-xdist workers
    share one folder, made by the first to ask for it under a lock; no test writes into it (those that break a
    results folder break a copy)."""
    from filelock import FileLock

    if worker_id == "master":  # one process: its own temporary folder
        return _results(tmp_path_factory.mktemp("results"), shared_data, small_rwkv)
    out = tmp_path_factory.getbasetemp().parent / "results"  # the run's folder, above each worker's own
    done = out.with_name("results.complete")
    with FileLock(f"{out}.lock"):
        if not done.is_file():
            shutil.rmtree(out, ignore_errors=True)
            _results(out, shared_data, small_rwkv)
            done.touch()
    return out


def _results(out: Path, shared_data: Path, small_rwkv: Path) -> Path:
    env = cli_env(
        RWKV_MTEB_DATA_DIR=str(shared_data),
        RWKV_MTEB_CACHE_DIR=str(out / "cache"),
        RWKV_MTEB_MODEL_PATHS=f"RWKV/v6-Finch-1B6-HF={small_rwkv}",
    )
    for cmd in (
        ["protocol", "-m", "stanfordnlp/glove.6B.50d", "-t", "MRPCZeroShot", "--eval-splits", "train", "validation"],
        [
            "sweep",
            "-m",
            "RWKV/v6-Finch-1B6-HF",
            "-t",
            "MRPCZeroShot",
            "--eval-splits",
            "train",
            "validation",
            "--augmented-sample",
            "16",
        ],
        [
            "sweep",
            "-m",
            "RWKV/v6-Finch-1B6-HF",
            "-t",
            "MRPCZeroShot",
            "--eval-splits",
            "validation",
            "--ablate",
            "time_mix@1",
            "--augmented-sample",
            "0",
        ],
        [
            "analyze",
            "-m",
            "RWKV/v6-Finch-1B6-HF",
            "-t",
            "MRPCZeroShot",
            "--eval-splits",
            "validation",
            "--sample",
            "16",
        ],
    ):
        proc = run("rwkv-mteb", *cmd, "--output-folder", str(out), env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return out
