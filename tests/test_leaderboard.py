"""The leaderboard: built from real result folders (GloVe on MRPC and a layer sweep of a small random RWKV-6),
deterministic, schema-valid, readable by MTEB, and honest about gaps."""

import json
import math
import shutil

import pytest

from tests.conftest import cli_env, run

pytestmark = [pytest.mark.usefixtures("registered"), pytest.mark.slow]


def build(results, out, data_env):
    from rwkv_mteb.leaderboard import publish

    return publish([results], out, ["rwkv-mteb", "leaderboard", "--results", "RESULTS", "--out", "OUT"])


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
    assert len(validation) == 4 and all(0 < c["p_value"] <= 1 for c in validation)
    (sweep,) = [s for s in board["layer_sweeps"] if s["split"] == "validation"]
    assert sweep["best_layer"] in sweep["layers_not_distinguishable_from_best"]
    (diag,) = board["diagnostics"]
    assert [row["layer"] for row in diag["layers"]] == [0, 1, 2, 3]
    for row in diag["layers"]:
        assert row["effective_rank"] == pytest.approx(math.exp(row["spectrum_entropy"]), rel=1e-5)
        assert 1 <= row["effective_rank"] <= 128  # at most the width of the small model
    out = tmp_path / "lb"
    assert {
        "leaderboard.json",
        "leaderboard.schema.json",
        "README.md",
        "layers.png",
        "cost_vs_score.png",
        "diagnostics.png",
        "index.html",
    } <= {p.name for p in out.iterdir()}
    assert "| `stanfordnlp/glove.6B.50d` | 0.4326 |" in (out / "README.md").read_text()
    import mteb

    loaded = mteb.ResultCache(out).load_results(tasks=["MRPCZeroShot"])
    assert len(loaded.model_results) == 5


def test_rebuild_is_byte_identical(results, tmp_path, data_env):
    build(results, tmp_path / "a", data_env)
    build(results, tmp_path / "b", data_env)
    for name in ("leaderboard.json", "index.html", "README.md"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_gaps_are_null_with_a_warning(results, tmp_path, data_env):
    broken = tmp_path / "broken"
    shutil.copytree(results, broken)
    root = broken / "results"
    glove = next(root.glob("stanfordnlp__glove.6B.50d/*/MRPCZeroShot.json"))
    shutil.rmtree(glove.parent / "profiles")  # a model without a profile
    layer0 = next(root.glob("RWKV__v6-Finch-1B6-HF_(layer=0)/*/MRPCZeroShot.json"))
    data = json.loads(layer0.read_text())
    del data["scores"]["train"]  # a missing split
    layer0.write_text(json.dumps(data))
    foreign = json.loads(glove.read_text())
    foreign["task_name"] = "NotARealTask"  # a task nobody registered
    (glove.parent / "NotARealTask.json").write_text(json.dumps(foreign))
    shutil.copy(next(broken.rglob("MRPCZeroShot_predictions.json")), broken / "NotARealTask_predictions.json")
    corrupt = next(root.glob("RWKV__v6-Finch-1B6-HF_(layer=2)/*/MRPCZeroShot.json"))
    corrupt.write_text("{not json")
    board = build(broken, tmp_path / "lb", data_env)
    warnings = "\n".join(board["warnings"])
    assert f"corrupt result file {corrupt}" in warnings
    assert "no profile" in warnings and "NotARealTask: gold scores unavailable" in warnings
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
