"""The task types a task file can declare, one row each: the roles its rows have, the column MTEB's evaluator
reads for each role, the MTEB base class, category and main score, and the column holding the gold labels that
per-pair statistics compare against (None when MTEB evaluates no pairs: classification, clustering, retrieval).

Retrieval and Reranking tasks have no column roles: their splits are folders of fixed-layout files
(:data:`RETRIEVAL_FILES`, BEIR's corpus / queries / qrels plus MTEB's top-ranked candidates for reranking)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskType:
    name: str
    columns: dict[str, str]  # role -> MTEB's column name (the roles [local].columns and [hub].columns map)
    base: str  # "module:class" of MTEB's abstract task, imported when a task class is made
    category: str
    main_score: str
    gold_column: str | None
    files: tuple[str, ...] = ()  # a retrieval split's files (without .tsv), required ones first

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def base_class(self) -> type[Any]:
        module, _, name = self.base.partition(":")
        return getattr(importlib.import_module(module), name)


TASK_TYPES = {
    t.name: t
    for t in (
        TaskType(
            "STS",
            {"sentence1": "sentence1", "sentence2": "sentence2", "score": "score"},
            "mteb.abstasks.sts:AbsTaskSTS",
            "t2t",
            "cosine_spearman",
            "score",
        ),
        TaskType(
            "PairClassification",
            {"sentence1": "sentence1", "sentence2": "sentence2", "label": "labels"},
            "mteb.abstasks.pair_classification:AbsTaskPairClassification",
            "t2t",
            "max_ap",
            "labels",
        ),
        TaskType(
            "Classification",
            {"text": "text", "label": "label"},
            "mteb.abstasks.classification:AbsTaskClassification",
            "t2c",
            "accuracy",
            None,
        ),
        TaskType(
            "Clustering",
            {"text": "sentences", "label": "labels"},
            "mteb.abstasks.clustering:AbsTaskClustering",
            "t2c",
            "v_measure",
            None,
        ),
        TaskType(
            "Retrieval",
            {},
            "mteb.abstasks.retrieval:AbsTaskRetrieval",
            "t2t",
            "ndcg_at_10",
            None,
            ("corpus", "queries", "qrels"),
        ),
        # MTEB 2 evaluates reranking as retrieval restricted to each query's candidates (``top_ranked``)
        TaskType(
            "Reranking",
            {},
            "mteb.abstasks.retrieval:AbsTaskRetrieval",
            "t2t",
            "map_at_1000",
            None,
            ("corpus", "queries", "qrels", "top_ranked"),
        ),
    )
}
TASK_TYPE_NAMES = tuple(TASK_TYPES)
RETRIEVAL_TYPES = frozenset(name for name, kind in TASK_TYPES.items() if kind.files)
# every file a retrieval split may hold, and its header: ids are strings, qrels scores integers >= 0,
# a top-ranked row lists its candidates separated by spaces
RETRIEVAL_FILES = {
    "corpus": ("id", "text"),
    "queries": ("id", "text"),
    "qrels": ("query-id", "corpus-id", "score"),
    "top_ranked": ("query-id", "corpus-ids"),
}
