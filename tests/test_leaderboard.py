"""The leaderboard: built from real result folders (GloVe on MRPC and a layer sweep of a small random RWKV-6),
deterministic, schema-valid, readable by MTEB, and honest about gaps."""

import json
import math
import shutil

import pytest

from rwkv_mteb.metrics.layer_metrics import LAYER_METRICS
from tests.conftest import cli_env, run

pytestmark = [pytest.mark.usefixtures("registered"), pytest.mark.slow]


def build(results, out, data_env):
    from rwkv_mteb.board.publish import publish

    board = publish([results], out, ["rwkv-mteb", "leaderboard", "--results", "RESULTS", "--out", "OUT"])
    return board.model_dump(mode="json")  # as readers of leaderboard.json see it


def test_board_contents(results, tmp_path, data_env):
    board = build(results, tmp_path / "lb", data_env)
    entries = {(e["model"], e["split"]): e for e in board["entries"]}
    glove = entries[("stanfordnlp/glove.6B.50d", "validation")]
    assert round(glove["main_score"], 4) == 0.4326 and glove["n_pairs"] == 408
    low, high = glove["ci95_bootstrap"]
    assert low < glove["main_score"] < high and 0.12 < high - low < 0.22  # about +-0.09 on 408 pairs
    assert glove["binary"]["threshold_from"] == "train" and 0.5 < glove["binary"]["accuracy"] < 0.9
    assert glove["cost"]["seconds_per_pair"] > 0 and glove["family"] == "glove"
    assert glove["provenance"]["dataset_revision"] == "bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c"
    assert glove["provenance"]["command"].startswith("rwkv-mteb protocol")
    layer = entries[("RWKV/v6-Finch-1B6-HF (layer=1)", "validation")]
    assert layer["layer"] == 1 and layer["pooling"] == "mean" and layer["family"] == "rwkv6"
    # every non-best entry of a task/split is compared with the best on the same pairs
    validation = [c for c in board["comparisons"] if c["split"] == "validation"]
    assert len(validation) == 8 and all(0 < c["p_value"] <= c["p_value_holm"] <= 1 for c in validation)
    assert all(c["distinguishable"] == (c["p_value_holm"] < 0.05) for c in validation)  # marks use adjusted p
    (sweep,) = [s for s in board["layer_sweeps"] if s["split"] == "validation" and s["ablate"] == "none"]
    assert sweep["best_layer"] in sweep["layers_not_distinguishable_from_best"]
    diag, ablated = board["diagnostics"]  # the sweep's texts of its one task, intact and intervened
    assert ablated["ablate"] == "time_mix@1" and diag["ablate"] == "none"
    assert diag["task"] == "MRPCZeroShot" and diag["prompt"] == "none"
    assert [row["layer"] for row in diag["layers"]] == [0, 1, 2, 3]
    for row in diag["layers"]:
        assert 1 <= row["effective_rank"] <= 128  # at most the width of the small model
        assert 0 <= row["dataset_entropy"] <= 1 and 0 <= row["prompt_entropy"] <= 1 and 0 <= row["lidar"] <= 1
        assert 0 <= row["curvature"] <= math.pi / 2 and row["intrinsic_dimension"] > 0 and row["infonce"] > 0
    assert diag["augmented_sentences"] == 16 and diag["augmentations"] == 16 and diag["alpha"] == 1.0
    # four layers: each label-free metric's Spearman correlation with the score across them
    assert set(sweep["metric_correlations"]) == set(LAYER_METRICS)
    assert all(-1 <= c["spearman"] <= 1 and c["layers"] == 4 for c in sweep["metric_correlations"].values())
    out = tmp_path / "lb"
    assert {
        "leaderboard.json",
        "leaderboard.schema.json",
        "README.md",
        "layers.png",
        "cost_vs_score.png",
        "diagnostics.png",
        "analysis.png",
        "index.html",
        "all-entries.md",
        "pairs.js",
        "plotly.min.js",
    } <= {p.name for p in out.iterdir()}
    for name in ("leaderboard.json", "index.html", "pairs.js", "plotly.min.js"):  # readable by a web server's user
        assert (out / name).stat().st_mode & 0o777 == 0o644, name
    assert "| `stanfordnlp/glove.6B.50d` | glove | – | 0.4326 |" in (out / "README.md").read_text()  # summary
    assert "| `stanfordnlp/glove.6B.50d` | 0.4326 |" in (out / "all-entries.md").read_text()  # every entry
    import mteb

    loaded = mteb.ResultCache(out).load_results(tasks=["MRPCZeroShot"], load_experiments="match_name")
    assert {(m.model_name, m.experiment_name) for m in loaded.model_results} == {
        ("stanfordnlp/glove.6B.50d", None),
        *(("RWKV/v6-Finch-1B6-HF", f"{ablate}layer_{k}") for k in range(4) for ablate in ("", "ablate_time_mix@1__")),
    }


def test_interventions_and_analysis_on_the_board(results, tmp_path, data_env):
    """Each intervened variant next to its intact twin: the difference derived again from the two entries, and
    the paired test from their prediction files directly; the analysis file as written by the command."""
    import numpy as np

    from rwkv_mteb.board.collect import gold_labels
    from rwkv_mteb.metrics import stats

    board = build(results, tmp_path / "lb", data_env)
    entries = {(e["model"], e["split"]): e for e in board["entries"]}
    effects = board["interventions"]
    assert {(r["layer"], r["split"]) for r in effects} == {(k, "validation") for k in range(4)}  # the only split swept
    row = next(r for r in effects if r["layer"] == 3 and r["split"] == "validation")
    ablated = entries[("RWKV/v6-Finch-1B6-HF (layer=3, ablate=time_mix@1)", "validation")]
    intact = entries[("RWKV/v6-Finch-1B6-HF (layer=3)", "validation")]
    assert row["score"] == ablated["main_score"] and row["intact_score"] == intact["main_score"]
    assert row["difference"] == pytest.approx(ablated["main_score"] - intact["main_score"], abs=2e-6)

    def cosines(entry):  # MTEB's prediction file of the variant, in its experiment's folder
        folder = results / "predictions" / "RWKV__v6-Finch-1B6-HF" / "experiments" / entry["experiment"]
        data = json.loads((folder / "MRPCZeroShot_predictions.json").read_text())
        return np.array(data["default"]["validation"]["cosine_scores"], dtype=float)

    assert ablated["experiment"] == "ablate_time_mix@1__layer_3" and intact["experiment"] == "layer_3"
    gold = gold_labels("MRPCZeroShot", []).splits["validation"]
    seed = sum(map(ord, "MRPCZeroShot/validation"))
    again = stats.paired_bootstrap(cosines(ablated), cosines(intact), gold, seed=seed)
    assert row["ci_low"] == pytest.approx(again["ci_low"], abs=2e-6)
    assert row["ci_high"] == pytest.approx(again["ci_high"], abs=2e-6)
    assert row["p_value"] == pytest.approx(again["p_value"], abs=2e-6)
    (analysis,) = board["analyses"]
    assert analysis["model"] == "RWKV/v6-Finch-1B6-HF" and analysis["texts"] == 16 and len(analysis["layers"]) == 4
    readme = (tmp_path / "lb" / "README.md").read_text()
    assert "## Interventions" in readme and "## Inside the models" in readme
    assert "## Choosing a layer without labels" in readme


def test_rebuild_is_byte_identical(results, tmp_path, data_env):
    build(results, tmp_path / "a", data_env)
    build(results, tmp_path / "b", data_env)
    for name in ("leaderboard.json", "index.html", "README.md", "all-entries.md", "pairs.js", "plotly.min.js"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_gaps_are_null_with_a_warning(results, tmp_path, data_env):
    broken = tmp_path / "broken"
    shutil.copytree(results, broken)
    root = broken / "results"
    glove = next(root.glob("stanfordnlp__glove.6B.50d/*/MRPCZeroShot.json"))
    shutil.rmtree(glove.parent / "profiles")  # a model without a profile
    layer0 = next(root.glob("RWKV__v6-Finch-1B6-HF/*/experiments/layer_0/MRPCZeroShot.json"))
    data = json.loads(layer0.read_text())
    del data["scores"]["train"]  # a missing split
    layer0.write_text(json.dumps(data))
    foreign = json.loads(glove.read_text())
    foreign["task_name"] = "NotARealTask"  # a task nobody registered
    (glove.parent / "NotARealTask.json").write_text(json.dumps(foreign))
    shutil.copy(next(broken.rglob("MRPCZeroShot_predictions.json")), broken / "NotARealTask_predictions.json")
    corrupt = next(root.glob("RWKV__v6-Finch-1B6-HF/*/experiments/layer_2/MRPCZeroShot.json"))
    corrupt.write_text("{not json")
    board = build(broken, tmp_path / "lb", data_env)
    warnings = "\n".join(board["warnings"])
    assert f"corrupt result file {corrupt}" in warnings
    assert "no profile" in warnings and "NotARealTask: gold labels unavailable" in warnings
    entries = {(e["model"], e["task"], e["split"]): e for e in board["entries"]}
    assert entries[("stanfordnlp/glove.6B.50d", "MRPCZeroShot", "validation")]["cost"] is None
    assert entries[("stanfordnlp/glove.6B.50d", "NotARealTask", "validation")]["ci95_bootstrap"] is None
    assert ("RWKV/v6-Finch-1B6-HF (layer=0)", "MRPCZeroShot", "train") not in entries
    assert not any(m == "RWKV/v6-Finch-1B6-HF (layer=2)" for m, _, _ in entries)


def test_leaderboard_command(results, tmp_path, shared_data):
    proc = run(
        "rwkv-mteb",
        "leaderboard",
        "--results",
        str(results),
        "--out",
        str(tmp_path / "lb"),
        env=cli_env(RWKV_MTEB_DATA_DIR=str(shared_data)),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    board = json.loads((tmp_path / "lb" / "leaderboard.json").read_text())
    assert board["generated_by"]["command"][:2] == ["rwkv-mteb", "leaderboard"]


def test_layer_metrics_correlate_with_scores_across_layers_and_undefined_scores_are_kept_out():
    from rwkv_mteb.board.build import layer_sweeps
    from rwkv_mteb.board.records import Diagnostics, Entry

    scores = [None, 0.10, 0.20, 0.25, 0.40, 0.38, 0.50, 0.55, 0.60, 0.58]  # layer 0: constant vectors
    entries = [
        Entry.model_construct(task="T", split="test", base_model="m", pooling="mean", prompt="eol", layer=k,
                              main_score=v, n_pairs=None, model=f"m (layer={k})")
        for k, v in enumerate(scores)
    ]  # fmt: skip
    rows = [{"layer": k, "effective_rank": float(k), "anisotropy": -float(k % 3), "curvature": None} for k in range(10)]
    diagnostics = [Diagnostics(model="m", pooling="mean", prompt="eol", task="T", sentences=10, layers=rows)]
    (sweep,) = layer_sweeps(entries, {}, None, diagnostics)
    assert sweep["best_layer"] == 8 and sweep["layers_not_distinguishable_from_best"] == [8]  # no predictions
    rank = sweep["metric_correlations"]["effective_rank"]
    assert rank["layers"] == 9 and rank["spearman"] == pytest.approx(0.9666, abs=1e-3)  # two swapped pairs
    low, high = rank["ci95_fisher"]
    assert low < rank["spearman"] < high <= 1
    assert "curvature" not in sweep["metric_correlations"]  # undefined on every layer: no correlation
    # diagnostics of another task never explain this task's scores
    (other,) = layer_sweeps(entries, {}, None, [diagnostics[0].model_copy(update={"task": "U"})])
    assert other["metric_correlations"] == {}
    # each metric's pick without labels, by hand: effective rank is highest at layer 9 (score 0.58, best 0.60);
    # anisotropy is lowest (-2) at layers 2, 5, 8: the shallowest, 2 (score 0.20)
    choices = sweep["label_free_choices"]
    assert choices["effective_rank"] == {"direction": "max", "layer": 9, "score": 0.58, "regret": pytest.approx(0.02)}
    assert choices["anisotropy"]["layer"] == 2 and choices["anisotropy"]["regret"] == pytest.approx(0.40)
    assert "curvature" not in choices
    from rwkv_mteb.board.effects import regret_table

    table = {r["metric"]: r for r in regret_table([sweep, {**sweep, "label_free_choices": {}}])}
    assert table["anisotropy"]["sweeps"] == 1 and table["anisotropy"]["mean_regret"] == pytest.approx(0.40)
    assert table["effective_rank"]["picked_tied"] == 0 and table["effective_rank"]["picked_best"] == 0
