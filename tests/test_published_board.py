"""The committed board (`leaderboard/`) checked against the result and profile files committed beside it, each
figure derived a second way in this file: a score is its MTEB result file's, a sweep entry's cost is its encode
pass's, and the marks are Holm's step-down on the published raw p-values."""

import json
import math
import re
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
    for users in pass_users.values():  # (a variant's other entries may be served by another pass or a cache)
        shared_by = {
            e["cost"]["shared_by"]
            for e in board["entries"]
            if e["model"] in users and e["cost"]["vectors_from"] == "sweep pass"
        }
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


def _score_of(board, model, task, split):
    (entry,) = [e for e in board["entries"] if (e["model"], e["task"], e["split"]) == (model, task, split)]
    scores = json.loads(_published(entry["provenance"]["result_file"]).read_text())["scores"][split]
    return entry, next(r for r in scores if r["hf_subset"] == "default")["main_score"]


def test_interventions_are_differences_of_the_two_result_files(board):
    """Each intervention row: its score and its intact twin's from their own result files, the difference
    theirs; and every intervened entry with an intact twin on the board has its row."""
    from rwkv_mteb.layerwise.variants import variant_name

    rows = board["interventions"]
    assert len(rows) >= 100  # SmolLM2's four block-11/10 interventions and the tiny RWKV models' four, all layers
    for r in rows:
        base, prompt, where = r["base_model"], r["prompt"] or "none", (r["task"], r["split"])
        _, score = _score_of(board, variant_name(base, r["layer"], r["pooling"], prompt, r["ablate"]), *where)
        _, intact = _score_of(board, variant_name(base, r["layer"], r["pooling"], prompt), *where)
        assert r["score"] == pytest.approx(score, abs=1e-6) and r["intact_score"] == pytest.approx(intact, abs=1e-6)
        assert r["difference"] == pytest.approx(score - intact, abs=1e-5)
        assert r["ci_low"] <= r["difference"] <= r["ci_high"] or abs(r["difference"]) < 1e-9


def test_label_free_picks_and_regrets_by_hand(board):
    """Each sweep's pick per metric: the extreme of that metric over the sweep's layers in the published
    diagnostics (ties to the shallower layer), its score from the result file, regret = best - that score."""
    from rwkv_mteb.metrics.layer_metrics import PICK_DIRECTION

    diagnostics = {(d["model"], d["pooling"], d["prompt"], d["ablate"], d["task"]): d for d in board["diagnostics"]}
    checked = 0
    for s in board["layer_sweeps"]:
        d = diagnostics.get((s["base_model"], s["pooling"], s["prompt"] or "none", s["ablate"] or "none", s["task"]))
        layers = {e["layer"]: e for e in board["entries"] if e["layer"] is not None and
                  (e["base_model"], e["pooling"], e["prompt"], e["ablate"], e["task"], e["split"]) ==
                  (s["base_model"], s["pooling"], s["prompt"], s["ablate"], s["task"], s["split"])}  # fmt: skip
        best = max(e["main_score"] for e in layers.values() if e["main_score"] is not None)
        for metric, choice in s["label_free_choices"].items():
            values = {r["layer"]: r[metric] for r in d["layers"] if r[metric] is not None and r["layer"] in layers}
            sign = 1 if PICK_DIRECTION[metric] == "max" else -1
            picked = min(values, key=lambda k: (-sign * values[k], k))
            assert choice["layer"] == picked, (s["base_model"], metric)
            if choice["regret"] is not None:
                _, score = _score_of(board, layers[picked]["model"], s["task"], s["split"])
                assert choice["regret"] == pytest.approx(best - score, abs=2e-6)
                checked += 1
    assert checked > 100


@pytest.mark.parametrize(
    "model,weights",
    [("rwkvcpp/tiny-rwkv-6v0-1m", "tiny-rwkv-6v0-1m.pth"), ("rwkvcpp/tiny-rwkv-7v0-834K", "tiny-rwkv-7v0-834K.pth")],
)
def test_published_memory_lengths_from_the_weights(board, shared_data, model, weights):
    """analyze's bias-only memory length per block, again from the .pth: tau = exp(-time_decay) tokens for
    RWKV-6, 1 / (0.606531 sigmoid(w0)) for RWKV-7; per head the median over channels, then over heads."""
    import numpy as np
    import torch

    (analysis,) = [a for a in board["analyses"] if a["model"] == model]
    state = torch.load(shared_data / "rwkvcpp" / weights, map_location="cpu")
    for layer in analysis["layers"][:-1]:
        i = layer["block"]
        if "7v0" in weights:
            heads = state[f"blocks.{i}.att.r_k"].shape[0]
            w0 = state[f"blocks.{i}.att.w0"].double().numpy().reshape(heads, -1)
            tau = 1 / (0.606531 / (1 + np.exp(-w0)))
        else:
            heads = state[f"blocks.{i}.att.time_faaaa"].shape[0]
            tau = np.exp(-state[f"blocks.{i}.att.time_decay"].double().numpy().reshape(heads, -1))
        expected = float(np.median(np.median(tau, axis=1)))
        assert layer["memory_static_median"] == pytest.approx(expected, rel=1e-5), (model, i)


def test_mteb_reads_each_language_model_as_one_model_with_its_experiments(board):
    """Plain `mteb.ResultCache` on the published folder: SmolLM2 is one model (one revision) whose experiments
    are its board entries' variants, each with the board's score."""
    import mteb

    loaded = mteb.ResultCache(BOARD).load_results(load_experiments="match_name", include_remote=False)
    smol = [m for m in loaded.model_results if m.model_name == "HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert len({m.model_revision for m in smol}) == 1
    entries = {
        (e["experiment"], e["task"], e["split"]): e for e in board["entries"] if e["base_model"] == smol[0].model_name
    }
    assert {m.experiment_name for m in smol} == {experiment for experiment, _, _ in entries}
    assert len(smol) > 200  # 31 layers by the prompt methods, poolings and interventions
    for m in smol:
        for task_result in m.task_results:
            for split, rows in task_result.scores.items():
                published = entries[(m.experiment_name, task_result.task_name, split)]["main_score"]
                if published is None:  # undefined on the board: MTEB recorded no finite score
                    assert not math.isfinite(rows[0]["main_score"])
                else:
                    assert published == pytest.approx(rows[0]["main_score"], abs=1e-6)


def test_readme_summary_rows_are_each_sweeps_best_layer(board):
    """Each layer sweep's row in the README: the layer with the highest score among its entries (ties to the
    shallower), with that entry's score; every sentence encoder has its row too."""
    from rwkv_mteb.layerwise.variants import method_label

    readme = (BOARD / "README.md").read_text()
    sections = dict(re.findall(r"^## (\S+ / \S+)\n(.*?)(?=^## )", readme, flags=re.S | re.M))
    for s in board["layer_sweeps"]:
        layers = [e for e in board["entries"] if e["layer"] is not None and
                  (e["base_model"], e["pooling"], e["prompt"], e["ablate"], e["task"], e["split"]) ==
                  (s["base_model"], s["pooling"], s["prompt"], s["ablate"], s["task"], s["split"])]  # fmt: skip
        top = max((e for e in layers if e["main_score"] is not None), key=lambda e: (e["main_score"], -e["layer"]))
        method = method_label(s["pooling"], s["prompt"], s["ablate"])
        row = f"| `{s['base_model']}` | {method} | {top['layer']} (of {len(layers)}) | {top['main_score']:.4f} |"
        (line,) = [x for x in sections[f"{s['task']} / {s['split']}"].splitlines() if x.startswith(row)]
        if top["cost"] and top["cost"]["vectors_from"] == "sweep pass":  # the pass's rate, said to be the pass's
            assert line.endswith(f" (pass ÷ {top['cost']['shared_by']}) |"), line
    for e in board["entries"]:
        if e["layer"] is None:
            assert (
                f"| `{e['model']}` | {e['family']} | – | {e['main_score']:.4f} |"
                in sections[f"{e['task']} / {e['split']}"]
            )


def test_pair_explorer_data_is_the_texts_and_glove_cosines_again(board, shared_data):
    """pairs.js: MRPC test's pairs as the TSV has them; GloVe's cosines, computed again here with the encoder."""
    import csv

    import numpy as np

    from rwkv_mteb import load_encoder

    text = (BOARD / "pairs.js").read_text(encoding="utf-8")
    assert text.startswith("rwkvMtebPairs(") and text.endswith(");\n")
    data = json.loads(text[len("rwkvMtebPairs(") : -3])["MRPCZeroShot / test"]
    with (shared_data / "mrpc" / "test.tsv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]
    assert [p[:2] for p in data["pairs"]] == [[r[3], r[4]] for r in rows]
    assert [p[2] for p in data["pairs"]] == [float(r[0]) for r in rows]
    glove = load_encoder("stanfordnlp/glove.6B.50d")
    a = glove.encode([r[3] for r in rows[:50]], normalize_embeddings=True)
    b = glove.encode([r[4] for r in rows[:50]], normalize_embeddings=True)
    np.testing.assert_allclose(data["cosines"]["stanfordnlp/glove.6B.50d"][:50], np.sum(a * b, axis=1), atol=6e-5)


def test_readme_intervention_summary_counts_by_hand(board):
    """Each summary row: the layers whose interval excludes 0 and the largest |difference|, from the board's rows."""
    from rwkv_mteb.layerwise.variants import method_label

    readme = (BOARD / "README.md").read_text()
    groups = {}
    for r in board["interventions"]:
        key = (r["base_model"], r["ablate"], method_label(r["pooling"], r["prompt"]), r["task"], r["split"])
        groups.setdefault(key, []).append(r)
    for (base, ablate, method, task, split), rows in groups.items():
        moved = sum(1 for r in rows if r["ci_low"] > 0 or r["ci_high"] < 0)
        top = max(rows, key=lambda r: (abs(r["difference"]), -r["layer"]))
        effect = f"{top['difference']:+.4f} [{top['ci_low']:+.3f}, {top['ci_high']:+.3f}] ({top['layer']})"
        row = f"| `{base}` | {ablate} | {method} | {task} / {split} | {moved} of {len(rows)} | {effect} |"
        assert row in readme, row
