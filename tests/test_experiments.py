"""Layer-wise variants as MTEB experiments: a sweep's output read back by plain ``mteb.ResultCache`` as one model
with its experiments; result folders of the older layout (a variant as its own model) read the same on the
board, and ``rwkv-mteb migrate-results`` moves them into MTEB's layout."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import mteb
import numpy as np
import pytest
from scipy.stats import spearmanr

from tests.conftest import cli_env, run

pytestmark = pytest.mark.slow
MODEL = "RWKV/v6-Finch-1B6-HF"
FOLDER = "RWKV__v6-Finch-1B6-HF"
SWEPT = {f"layer_{k}" for k in range(4)} | {f"ablate_time_mix@1__layer_{k}" for k in range(4)}


def mrpc_gold(shared_data: Path, split: str) -> np.ndarray:
    """The paraphrase labels, read from the GLUE TSV directly (no quoting, as its SOURCE.md says)."""
    with (shared_data / "mrpc" / f"{split}.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    return np.array([int(r[0]) for r in rows[1:]])


def test_a_sweep_is_one_mteb_model_whose_experiments_are_the_variants(results, shared_data):
    loaded = mteb.ResultCache(results).load_results(load_experiments="match_name", include_remote=False)
    ours = [m for m in loaded.model_results if m.model_name == MODEL]
    assert len({m.model_revision for m in ours}) == 1  # one model, one checkpoint
    assert {m.experiment_name for m in ours} == SWEPT  # 4 layers, intact and with block 1's time mixing zeroed
    gold = mrpc_gold(shared_data, "validation")
    for m in ours:
        (task_result,) = m.task_results
        assert m.model_meta.experiment_kwargs == {
            "layer": int(m.experiment_name.rsplit("_", 1)[1]),
            **({"ablate": "time_mix@1"} if m.experiment_name.startswith("ablate") else {}),
        }
        score = task_result.get_score(splits=["validation"], getter=lambda s: s["main_score"])
        # the right score: Spearman of the cosines MTEB saved for this experiment, against the TSV's labels
        pred_file = (
            results / "predictions" / FOLDER / "experiments" / m.experiment_name / "MRPCZeroShot_predictions.json"
        )
        cosines = json.loads(pred_file.read_text())["default"]["validation"]["cosine_scores"]
        assert score == pytest.approx(spearmanr(cosines, gold).statistic, abs=1e-6), m.experiment_name
    # MTEB's own filter by kwargs finds one variant
    meta = mteb.get_model_meta(f"{MODEL} (layer=2, ablate=time_mix@1)")
    meta = meta.model_copy(update={"revision": ours[0].model_revision})  # the checkpoint's content digest
    (only,) = mteb.ResultCache(results).load_results(models=[meta], include_remote=False).model_results
    assert only.experiment_name == "ablate_time_mix@1__layer_2"


def _old_layout(new: Path, old: Path) -> None:
    """The folders rwkv-mteb wrote before variants were experiments, made from a new-layout output: each variant
    its own model (its name in model_meta.json, the variant in loader_kwargs, an intervention's digest in the
    revision), its predictions under its own model folder."""
    from rwkv_mteb.interventions.spec import Intervention
    from rwkv_mteb.layerwise.variants import display_name

    shutil.copytree(new, old)
    for experiment in sorted((old / "results" / FOLDER).glob("*/experiments/*")):
        meta = json.loads((experiment / "model_meta.json").read_text())
        kwargs = meta["experiment_kwargs"]
        name = display_name(meta["name"], kwargs)
        revision = experiment.parents[1].name
        if "ablate" in kwargs:
            revision += f"-ablate-{Intervention.parse(kwargs['ablate']).digest}"
        declared = {**meta["loader_kwargs"], "layers": [kwargs["layer"]], "pooling": "mean"}
        declared |= {"ablate": kwargs["ablate"]} if "ablate" in kwargs else {}
        meta |= {"name": name, "revision": revision, "loader_kwargs": declared, "experiment_kwargs": None}
        folder = old / "results" / name.replace("/", "__").replace(" ", "_") / revision
        shutil.move(experiment, folder)
        (folder / "model_meta.json").write_text(json.dumps(meta))
        for profile in (folder / "profiles").glob("*.json"):
            data = json.loads(profile.read_text())
            data["model"] = name
            for record in data["records"]:
                record["model"], record["revision"] = name, revision
            profile.write_text(json.dumps(data))
        predictions = old / "predictions" / FOLDER / "experiments" / experiment.name
        target = old / "predictions" / name.replace("/", "__").replace(" ", "_")
        shutil.move(predictions, target)
        for file in target.glob("*.json"):
            data = json.loads(file.read_text())
            data["mteb_model_meta"] = {"model_name": name, "revision": revision}
            file.write_text(json.dumps(data))
    shutil.rmtree(old / "results" / FOLDER)
    shutil.rmtree(old / "predictions" / FOLDER)


def _board(folder: Path, out: Path, env: dict[str, str]) -> dict:
    proc = run("rwkv-mteb", "leaderboard", "--results", str(folder), "--out", str(out), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "leaderboard.json").read_text())


def _comparable(board: dict, layout_fields: bool) -> list[dict]:
    drop = {"experiment", "revision", "provenance"} if not layout_fields else set()
    return [{k: v for k, v in e.items() if k not in drop} for e in board["entries"]]


def test_older_result_folders_read_the_same_and_migrate(results, shared_data, tmp_path):
    env = cli_env(RWKV_MTEB_DATA_DIR=str(shared_data))
    old = tmp_path / "old"
    _old_layout(results, old)
    assert not list((old / "results").glob("*/*/experiments"))
    new_board = _board(results, tmp_path / "lb-new", env)
    old_board = _board(old, tmp_path / "lb-old", env)
    # the same entries, scores, intervals and costs under the same names; only where the files lie differs
    assert _comparable(old_board, False) == _comparable(new_board, False)
    assert old_board["comparisons"] == new_board["comparisons"]
    assert old_board["interventions"] == new_board["interventions"]

    proc = run("rwkv-mteb", "migrate-results", str(old), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"moved 8 variant folder\(s\) and 8 prediction file\(s\)", proc.stdout), proc.stdout
    files = {p.relative_to(results).as_posix() for p in (results / "results").rglob("*.json")}
    assert {p.relative_to(old).as_posix() for p in (old / "results").rglob("*.json")} == files
    migrated = _board(old, tmp_path / "lb-migrated", env)
    assert _comparable(migrated, True) == _comparable(new_board, True)
    again = run("rwkv-mteb", "migrate-results", str(old), env=env)  # nothing left to move
    assert again.returncode == 0 and "moved 0 variant folder(s)" in again.stdout
