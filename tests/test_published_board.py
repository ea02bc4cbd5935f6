"""The committed board (`leaderboard/`) checked against the result and profile files committed beside it, each
figure derived a second way in this file: a score is its MTEB result file's, a sweep entry's cost is its encode
pass's, and the marks are Holm's step-down on the published raw p-values."""

import json
from pathlib import Path

import pytest

BOARD = Path(__file__).resolve().parent.parent / "leaderboard"


@pytest.fixture(scope="module")
def board():
    return json.loads((BOARD / "leaderboard.json").read_text())


def _published(result_file: str) -> Path:
    """``results/<model>/<revision>/<task>.json`` as published under ``leaderboard/results``."""
    return BOARD / result_file


def test_every_score_is_its_result_files(board):
    for entry in board["entries"]:
        scores = json.loads(_published(entry["provenance"]["result_file"]).read_text())["scores"][entry["split"]]
        (row,) = [r for r in scores if r["hf_subset"] == "default"]
        if entry["main_score"] is not None:
            assert entry["main_score"] == pytest.approx(row["main_score"], abs=1e-6), entry["model"]


def test_sweep_costs_are_their_encode_pass_by_hand(board):
    """Seconds per pair = 2 x the pass's seconds / the sentences it ran; shared_by = variants naming that pass."""
    checked, pass_users = 0, {}
    for entry in board["entries"]:
        cost = entry["cost"]
        if cost is None or cost["vectors_from"] != "sweep pass":
            continue
        result = _published(entry["provenance"]["result_file"])
        records = json.loads((result.parent / "profiles" / result.name).read_text())["records"]
        (record,) = [r for r in records if r["split"] == entry["split"]]
        sweep_pass = record["sweep_pass"]
        assert cost["seconds_per_pair"] == pytest.approx(2 * sweep_pass["seconds"] / sweep_pass["sentences"], rel=1e-4)
        assert cost["tokens_per_second"] == pytest.approx(sweep_pass["tokens"] / sweep_pass["seconds"], rel=1e-4)
        assert cost["shared_by"] == sweep_pass["shared_by"]
        pass_users.setdefault(sweep_pass["id"], set()).add(entry["model"])
        checked += 1
    assert checked > 500
    for users in pass_users.values():
        shared_by = {e["cost"]["shared_by"] for e in board["entries"] if e["model"] in users}
        assert shared_by == {len(users)}


def test_marks_are_holms_step_down_on_the_published_p_values(board):
    """Holm by hand; the board rounds p to 6 decimals, so an adjusted value can differ by m x 1e-6."""
    splits = {}
    for c in board["comparisons"]:
        splits.setdefault((c["task"], c["split"]), []).append(c)
    for comparisons in splits.values():
        ordered = sorted(comparisons, key=lambda c: c["p_value"])
        m, running = len(ordered), 0.0
        for i, c in enumerate(ordered):
            running = max(running, min(1.0, (m - i) * c["p_value"]))
            assert c["p_value_holm"] == pytest.approx(running, abs=m * 1e-6)
            assert c["distinguishable"] == (c["p_value_holm"] < board["statistics"]["alpha"])
