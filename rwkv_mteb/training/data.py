"""Training examples from a task's split, shaped for each objective, and the row digests that keep a trained
model from being scored on what it saw.

Objectives (sentence-transformers' losses): ``cosent`` and ``angle`` read graded pairs (scores scaled to [0, 1]
by the task's score range); ``contrastive`` reads pairs labelled similar when the score is at least the range's
midpoint; ``mnrl`` reads those similar pairs as (anchor, positive) with in-batch negatives; ``simcse`` is
unsupervised SimCSE (Gao et al., 2021): every distinct sentence paired with a second view of itself under
MultipleNegativesRankingLoss. SimCSE's second view is the same text under another dropout mask; a model without
dropout (our RWKV-6/-7 have none) gets an augmented copy instead (:func:`rwkv_mteb.metrics.augment.augmented_views`:
nlpaug's split, character and keyboard noise), which the training record names.

A row's digest hashes its two texts in either order, so a split drawn from another (MRPC's ``train_sample`` from
``train``) or a pair repeated across splits is found whatever the split is called.
"""

from __future__ import annotations

import hashlib
from typing import Any

from datasets import Dataset

from rwkv_mteb.errors import DataError
from rwkv_mteb.tasks.data import load_splits
from rwkv_mteb.tasks.spec import TaskSpec, load_task_specs

OBJECTIVES = ("cosent", "angle", "contrastive", "mnrl", "simcse")


def pair_task(name: str) -> TaskSpec:
    specs = {s.name: s for s in load_task_specs()}
    if name not in specs or specs[name].score is None:
        pairs = sorted(n for n, s in specs.items() if s.score is not None)
        raise DataError(f"cannot train on {name!r}: training reads a scored pair task's split, one of {pairs}")
    return specs[name]


def task_rows(task: str, split: str) -> Dataset:
    """(sentence1, sentence2, score) rows of one split of a pair task (its task file's data, checksummed)."""
    return load_splits(pair_task(task), [split])[split]


def row_digest(first: str, second: str) -> str:
    return hashlib.sha256("\0".join(sorted((first, second))).encode()).hexdigest()[:16]


def row_digests(rows: Dataset) -> list[str]:
    return sorted({row_digest(a, b) for a, b in zip(rows["sentence1"], rows["sentence2"], strict=True)})


def examples(task: str, rows: Dataset, objective: str, has_dropout: bool, seed: int) -> tuple[Dataset, str]:
    """The training dataset for ``objective`` and one line saying how it was made."""
    score = pair_task(task).score
    low, high = score.min, score.max
    s1, s2, y = rows["sentence1"], rows["sentence2"], [float(v) for v in rows["score"]]
    middle = (low + high) / 2
    if objective in ("cosent", "angle"):
        scaled = [(v - low) / (high - low) for v in y]
        return Dataset.from_dict({"sentence1": s1, "sentence2": s2, "score": scaled}), "graded pairs"
    if objective == "contrastive":
        labels = [int(v >= middle) for v in y]
        return Dataset.from_dict({"sentence1": s1, "sentence2": s2, "label": labels}), f"label = score >= {middle}"
    if objective == "mnrl":
        keep = [i for i, v in enumerate(y) if v >= middle]
        data = {"anchor": [s1[i] for i in keep], "positive": [s2[i] for i in keep]}
        return Dataset.from_dict(data), f"{len(keep)} pairs with score >= {middle}, in-batch negatives"
    if objective == "simcse":
        texts = list(dict.fromkeys([*s1, *s2]))
        if has_dropout:
            return Dataset.from_dict({"anchor": texts, "positive": texts}), "each text twice, two dropout masks"
        from rwkv_mteb.metrics.augment import augmented_views

        views = [augmented_views(t, 1, seed)[0] for t in texts]
        return Dataset.from_dict({"anchor": texts, "positive": views}), "no dropout: an nlpaug view as the pair"
    raise DataError(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")


def loss_for(objective: str, model: Any) -> Any:
    from sentence_transformers.sentence_transformer import losses

    made = {
        "cosent": losses.CoSENTLoss,
        "angle": losses.AnglELoss,
        "contrastive": losses.ContrastiveLoss,
        "mnrl": losses.MultipleNegativesRankingLoss,
        "simcse": losses.MultipleNegativesRankingLoss,
    }
    return made[objective](model)
