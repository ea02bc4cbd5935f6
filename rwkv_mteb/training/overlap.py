"""A trained model is never scored on what it was trained on. Before a split is encoded, its rows are compared
with the training rows by content (:func:`rwkv_mteb.training.data.row_digest`), not by split name:

- a scored pair task of ours: the share of the split's pairs that were training pairs; above
  :data:`MAX_PAIR_SHARE` (1%) it is an error naming both splits. Below it, the count is kept in
  :attr:`TrainedEncoder.overlaps` (STS-B's test split repeats 12 of its 1,379 pairs from train, in either
  order: the data's own duplicates, reported, not refused);
- any other task: the share of the texts being encoded that were training texts; above :data:`MAX_TEXT_SHARE`
  (50%) it is an error (MRPC's test split shares 7% of its sentences with train).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rwkv_mteb.errors import TrainingOverlapError
from rwkv_mteb.models.wrapper import Encoder
from rwkv_mteb.training.data import row_digest
from rwkv_mteb.training.record import read_record, read_rows

MAX_PAIR_SHARE = 0.01
MAX_TEXT_SHARE = 0.5


def text_digest(text: str) -> str:
    return row_digest(text, "")


def pair_overlap(task: str, split: str, trained_rows: set[str]) -> tuple[int, int] | None:
    """(overlapping pairs, pairs) of one split of a scored pair task of ours; None for another task."""
    from rwkv_mteb.tasks.spec import load_task_specs
    from rwkv_mteb.training.data import task_rows

    spec = next((s for s in load_task_specs() if s.name == task), None)
    if spec is None or spec.score is None or split not in spec.splits:
        return None
    rows = task_rows(task, split)
    digests = [row_digest(a, b) for a, b in zip(rows["sentence1"], rows["sentence2"], strict=True)]
    return sum(d in trained_rows for d in digests), len(digests)


def refuse_overlap(task: str, split: str, trained_rows: set[str], trained_on: str) -> int:
    """The overlapping pair count of a split of ours, or the one-line error when it is above the limit."""
    paired = pair_overlap(task, split, trained_rows)
    shared, total = paired if paired is not None else (0, 0)
    if total and shared / total > MAX_PAIR_SHARE:
        raise TrainingOverlapError(
            f"{task}:{split} overlaps this model's training data {trained_on}: {shared} of its {total} pairs "
            "were trained on; evaluate on a split it did not see"
        )
    return shared


class TrainedEncoder(Encoder):
    def __init__(self, model: Any, meta: Any, revision: str | None, folder: Path) -> None:
        super().__init__(model, meta, revision=revision)
        record = read_record(folder)
        self.trained_on = record.spec.train if record else "?"
        self.rows, self.texts = read_rows(folder)
        self.overlaps: dict[tuple[str, str], int] = {}

    def check(self, task: str, split: str, texts: list[str]) -> None:
        if pair_overlap(task, split, set()) is not None:
            self.overlaps[(task, split)] = refuse_overlap(task, split, self.rows, self.trained_on)
            return
        shared, total = sum(text_digest(t) in self.texts for t in texts), len(texts)
        if total and shared / total > MAX_TEXT_SHARE:
            raise TrainingOverlapError(
                f"{task}:{split} overlaps this model's training data {self.trained_on}: {shared} of its {total} "
                "texts were trained on; evaluate on a split it did not see"
            )
        self.overlaps[(task, split)] = shared

    def encode(self, inputs: Any, *, task_metadata: Any, hf_split: str, hf_subset: str, **kwargs: Any) -> Any:
        key = (task_metadata.name, hf_split)
        if key not in self.overlaps:
            texts = [t for batch in inputs for t in batch.get("text", [])]
            self.check(*key, texts)
        return super().encode(inputs, task_metadata=task_metadata, hf_split=hf_split, hf_subset=hf_subset, **kwargs)
