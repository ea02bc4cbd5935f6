"""Intervals for Retrieval and Reranking entries: the main score is a mean over queries, so its interval is a
percentile bootstrap over queries (seeded, as the pair tasks' intervals are over pairs).

Per-query values come from the rankings MTEB saved (``*_predictions.json``: query -> document -> score) and the
task's own relevance judgements, scored by pytrec_eval with the measure MTEB computes the main score with
(``ndcg_at_K`` = ``ndcg_cut.K``, ``map_at_K`` = ``map_cut.K``, ``recall_at_K`` = ``recall.K``,
``precision_at_K`` = ``P.K``). Their mean must equal the result file's main score; where it does not (a ranking
file from another run), the entry keeps no interval and the board says why.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rwkv_mteb.board.records import Entry
from rwkv_mteb.metrics import stats
from rwkv_mteb.tasks.types import RETRIEVAL_TYPES

Rankings = dict[str, dict[str, float]]  # query -> document -> score
MEASURES = {"ndcg_at": "ndcg_cut", "map_at": "map_cut", "recall_at": "recall", "precision_at": "P"}


def trec_measure(main_score: str) -> tuple[str, str] | None:
    """MTEB's score name as pytrec_eval's measure and its result key: ``ndcg_at_1`` -> (``ndcg_cut.1``,
    ``ndcg_cut_1``); None for a score pytrec_eval does not compute (MRR, nAUC, ...)."""
    match = re.fullmatch(r"([a-z]+_at)_(\d+)", main_score)
    if not match or match.group(1) not in MEASURES:
        return None
    name = MEASURES[match.group(1)]
    return f"{name}.{match.group(2)}", f"{name}_{match.group(2)}"


def per_query(rankings: Rankings, qrels: dict[str, dict[str, int]], main_score: str) -> np.ndarray | None:
    import pytrec_eval

    measure = trec_measure(main_score)
    if measure is None:
        return None
    scored = pytrec_eval.RelevanceEvaluator(qrels, {measure[0]}).evaluate(rankings)
    return np.array([scored[q][measure[1]] for q in sorted(scored)], dtype=float)


def collect_rankings(folders: list[Path]) -> dict[tuple[str, str | None, str], dict[str, Rankings]]:
    """(MTEB model name, experiment or None, task) -> split -> rankings, from retrieval prediction files."""
    from rwkv_mteb.board.collect import _experiment_of

    out: dict[tuple[str, str | None, str], dict[str, Rankings]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*_predictions.json")):
            try:
                data = json.loads(path.read_text())
                model = data["mteb_model_meta"]["model_name"]
                splits = data["default"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
            for split, ranked in splits.items() if isinstance(splits, dict) else ():
                first = next(iter(ranked.values()), None) if isinstance(ranked, dict) and ranked else None
                if isinstance(first, dict):  # query -> {document: score}: a retrieval ranking
                    task = path.name.removesuffix("_predictions.json")
                    out.setdefault((model, _experiment_of(path), task), {})[split] = ranked
    return out


def _judgements(task: str) -> dict[str, dict[str, dict[str, int]]]:
    import mteb

    task_obj = mteb.get_task(task)
    task_obj.load_data()
    return {split: dict(data["relevant_docs"]) for split, data in task_obj.dataset["default"].items()}


@lru_cache
def _task_type(task: str) -> str | None:
    """The task's MTEB type, or None for a task no longer registered (its results still publish)."""
    import mteb

    try:
        return mteb.get_task(task).metadata.type
    except Exception:
        return None


def add_retrieval_intervals(
    entries: list[Entry], runs: list[Any], rankings: dict[tuple[str, str | None, str], dict[str, Rankings]],
    warnings: list[str],
) -> None:  # fmt: skip
    """Fill ``ci95_bootstrap`` and ``n_queries`` of every Retrieval/Reranking entry whose rankings were saved."""

    source = {(r.model, r.task): (r.name, r.experiment, r.task) for r in runs}
    qrels: dict[str, dict[str, dict[str, dict[str, int]]]] = {}
    for entry in entries:
        if entry.main_score is None or _task_type(entry.task) not in RETRIEVAL_TYPES:
            continue
        key = source.get((entry.model, entry.task))
        ranked = rankings.get(key, {}).get(entry.split) if key else None
        if ranked is None:
            continue
        if entry.task not in qrels:
            qrels[entry.task] = _judgements(entry.task)
        values = per_query(ranked, qrels[entry.task][entry.split], entry.main_score_name or "")
        if values is None or not len(values):
            continue
        if abs(float(values.mean()) - entry.main_score) > 1e-4:
            warnings.append(
                f"{entry.model} on {entry.task}/{entry.split}: the saved rankings score {values.mean():.4f}, the "
                f"result file {entry.main_score:.4f}; no interval (rerun to write both from one evaluation)"
            )
            continue
        entry.n_queries = len(values)
        entry.ci95_bootstrap = stats.mean_ci(values, seed=sum(map(ord, f"{entry.task}/{entry.split}")))
