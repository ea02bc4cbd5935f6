"""The README's notebook example, run as written: its frame equals the frame of the board `rwkv-mteb leaderboard`
publishes from the same folder, and one of its scores is derived again from MTEB's prediction file and the TSV."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from tests.conftest import REPO, cli_env, run

pytestmark = pytest.mark.slow
TINY = "rwkvcpp/tiny-rwkv-7v0-834K"


def readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"<!-- notebook example -->\n```python\n(.*?)```", text, flags=re.S)
    return block


def test_the_readme_example_runs_and_its_frame_is_the_boards(shared_data, tmp_path, monkeypatch):
    import rwkv_mteb

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RWKV_MTEB_DATA_DIR", str(shared_data))
    monkeypatch.setenv("RWKV_MTEB_MODEL_PATHS", f"{TINY}={shared_data / 'rwkvcpp' / 'tiny-rwkv-7v0-834K.pth'}")
    monkeypatch.setenv("RWKV_MTEB_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "leaderboard").symlink_to(REPO / "leaderboard")  # "the published board" of the example
    namespace: dict = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    frame = namespace["frame"]
    assert len(frame) == 8 and set(frame["method"]) == {"mean", "wkv_state"}
    assert sorted(frame["layer"].unique()) == [0, 4, 8, 12]
    assert frame["ci_low"].notna().all() and (frame["ci_low"] <= frame["score"]).all()
    assert (tmp_path / "layers-notebook.png").stat().st_size > 0
    assert not namespace["stsb"].empty  # the published board loads and filters

    env = cli_env(RWKV_MTEB_DATA_DIR=str(shared_data))
    proc = run(
        "rwkv-mteb",
        "leaderboard",
        "--results",
        str(tmp_path / "results-notebook"),
        "--out",
        str(tmp_path / "lb"),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    published = rwkv_mteb.leaderboard.load(tmp_path / "lb").to_pandas()
    published = published[published["base_model"] == TINY].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame, published)

    # layer 12, mean pooling: Spearman of the cosines MTEB saved, against the TSV's labels
    with (shared_data / "mrpc" / "validation.tsv").open(encoding="utf-8") as handle:
        gold = [int(r[0]) for r in list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]]
    folder = tmp_path / "results-notebook" / "predictions" / TINY.replace("/", "__") / "experiments" / "layer_12"
    cosines = json.loads((folder / "MRPCZeroShot_predictions.json").read_text())["default"]["validation"]
    row = frame[(frame["layer"] == 12) & (frame["method"] == "mean")].iloc[0]
    assert row["score"] == pytest.approx(spearmanr(cosines["cosine_scores"], gold).statistic, abs=1e-6)
    assert row["experiment"] == "layer_12" and np.isfinite(row["seconds_per_pair"])
