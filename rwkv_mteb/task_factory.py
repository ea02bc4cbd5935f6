"""Turns a declarative task file into an MTEB task class (an ``AbsTaskSTS`` scored by cosine Spearman)."""

from __future__ import annotations

import hashlib
from typing import Any

from mteb.abstasks.sts import AbsTaskSTS
from mteb.abstasks.task_metadata import TaskMetadata
from pydantic import ValidationError

from rwkv_mteb.errors import TaskDefinitionError
from rwkv_mteb.task_data import load_splits
from rwkv_mteb.task_spec import TaskSpec

_METADATA_DEFAULTS: dict[str, Any] = {
    "type": "STS",
    "category": "t2t",
    "modalities": ["text"],
    "eval_langs": ["eng-Latn"],
    "main_score": "cosine_spearman",
    "dialect": [],
    "task_subtypes": [],
}


def _dataset(spec: TaskSpec) -> dict[str, str]:
    """MTEB's ``dataset`` field: the pinned hub source, or for a local-only task a digest of its declared
    files (so its results are filed under the data they came from)."""
    if spec.hub is not None:
        return spec.hub.load_kwargs()
    declared = "|".join(f"{name}:{split.sha256 or split.rows}" for name, split in sorted(spec.splits.items()))
    return {"path": f"local/{spec.name}", "revision": hashlib.sha256(declared.encode()).hexdigest()[:40]}


def task_metadata(spec: TaskSpec) -> TaskMetadata:
    fields = {**_METADATA_DEFAULTS, **spec.metadata}
    if "date" in fields:
        fields["date"] = tuple(fields["date"])
    try:
        return TaskMetadata(
            name=spec.name,
            description=spec.description,
            dataset=_dataset(spec),
            eval_splits=spec.eval_splits,
            **fields,
        )
    except ValidationError as exc:
        raise TaskDefinitionError(f"{spec.path}: MTEB rejects this task's metadata:\n{exc}") from None


def make_task_class(spec: TaskSpec) -> type[AbsTaskSTS]:
    def load_data(self: AbsTaskSTS, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        self.dataset = load_splits(spec)
        self.data_loaded = True

    namespace = {
        "__doc__": spec.description,
        "__module__": __name__,
        "metadata": task_metadata(spec),
        "min_score": spec.score_min,
        "max_score": spec.score_max,
        "spec": spec,
        "load_data": load_data,
    }
    return type(spec.name, (AbsTaskSTS,), namespace)
