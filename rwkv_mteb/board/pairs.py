"""The pair explorer's data: per task split with text pairs (STS, pair classification), each pair's two texts and
gold label, and the cosine of every summary row (:mod:`rwkv_mteb.board.summary`: each model and method at its
best layer, and the sentence encoders); training splits (``train``, ``train_sample``: what thresholds are fitted
on) are left out. Written beside the page as ``pairs.js`` and loaded by it on demand, so
the page stays small and still opens from ``file://`` (a browser fetches no JSON from there; a script it does)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rwkv_mteb.board.collect import Gold
from rwkv_mteb.board.records import Board
from rwkv_mteb.board.summary import summary_rows

PAIRS_FILE = "pairs.js"
CALLBACK = "rwkvMtebPairs"  # the file is `rwkvMtebPairs(<JSON>);`


def pair_data(
    board: Board, preds: dict[tuple[str, str], dict[str, dict[str, np.ndarray]]], golds: dict[str, Gold | None]
) -> dict[str, Any]:
    """``{"<task> / <split>": {"pairs": [[text1, text2, gold], ...], "cosines": {model: [...]}}}``, cosines
    rounded to 4 decimals (as the page shows them)."""
    out: dict[str, Any] = {}
    for task, split in sorted({(e.task, e.split) for e in board.entries if not e.split.startswith("train")}):
        gold = golds.get(task)
        texts = gold.texts.get(split) if gold is not None else None
        if not texts:
            continue
        cosines = {}
        for entry, _ in summary_rows(board, task, split):
            pred = (preds.get((entry.model, task)) or {}).get(split, {}).get("cosine_scores")
            if pred is not None and len(pred) == len(texts) and np.isfinite(pred).all():
                cosines[entry.model] = [round(float(v), 4) for v in pred]
        if cosines:
            labels = gold.splits[split]
            pairs = [[a, b, float(g)] for (a, b), g in zip(texts, labels, strict=True)]
            out[f"{task} / {split}"] = {"pairs": pairs, "cosines": cosines}
    return out


def pairs_script(data: dict[str, Any]) -> str:
    """Deterministic: sorted keys, no spaces; ``</`` escaped as in an inline script."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")
    return f"{CALLBACK}({text});\n"
