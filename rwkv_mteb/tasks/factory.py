"""Turns a declarative task file into an MTEB task class of its type (:mod:`rwkv_mteb.tasks.types`): STS (cosine
Spearman), PairClassification (max AP), Classification (accuracy of MTEB's logistic regression) or Clustering
(V-measure), Retrieval (nDCG@10) or Reranking (MAP@1000 over each query's candidates), each with MTEB's own
evaluator and main score."""

from __future__ import annotations

import hashlib
from typing import Any

from mteb.abstasks.abstask import AbsTask
from mteb.abstasks.task_metadata import TaskMetadata
from pydantic import ValidationError

from rwkv_mteb.errors import TaskDefinitionError
from rwkv_mteb.mteb_internals import labels_converted_once
from rwkv_mteb.tasks.data import load_splits
from rwkv_mteb.tasks.retrieval_files import load_retrieval_splits, split_folders
from rwkv_mteb.tasks.spec import TaskSpec
from rwkv_mteb.tasks.types import RETRIEVAL_TYPES, TASK_TYPES

_METADATA_DEFAULTS: dict[str, Any] = {
    "modalities": ["text"],
    "eval_langs": ["eng-Latn"],
    "dialect": [],
    "task_subtypes": [],
}


def _dataset(spec: TaskSpec) -> dict[str, str]:
    """MTEB's ``dataset`` field: the pinned hub source, or for a local-only task a digest of its declared
    files (so its results are filed under the data they came from)."""
    if spec.hub is not None:
        return spec.hub.load_kwargs()
    declared = "|".join(
        f"{name}:{split.sha256 or split.files or split.rows}" for name, split in sorted(spec.splits.items())
    )
    return {"path": f"local/{spec.name}", "revision": hashlib.sha256(declared.encode()).hexdigest()[:40]}


def task_metadata(spec: TaskSpec) -> TaskMetadata:
    kind = TASK_TYPES[spec.type]
    main_score = spec.main_score or kind.main_score
    fields = {**_METADATA_DEFAULTS, "type": spec.type, "category": kind.category, "main_score": main_score}
    fields |= spec.metadata
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


def make_task_class(spec: TaskSpec) -> type[AbsTask]:
    base = TASK_TYPES[spec.type].base_class()

    def load_data(self: AbsTask, num_proc: int | None = None, **kwargs: Any) -> None:
        if self.data_loaded:
            return
        if spec.type not in RETRIEVAL_TYPES:
            self.dataset = load_splits(spec)
        elif split_folders(spec) is None:  # hub only: MTEB's own retrieval loader
            return base.load_data(self, num_proc=num_proc, **kwargs)
        else:
            self.dataset = load_retrieval_splits(spec, list(self.metadata.eval_splits))
        self.data_loaded = True

    namespace: dict[str, Any] = {
        "__doc__": spec.description,
        "__module__": __name__,
        "metadata": task_metadata(spec),
        "spec": spec,
        "load_data": load_data,
    }
    if spec.type == "STS":
        namespace |= {"min_score": spec.score_min, "max_score": spec.score_max}
    elif spec.type == "Classification":
        namespace |= {"train_split": spec.train_split, **labels_converted_once(base)}
    elif spec.type == "Clustering":
        namespace["max_fraction_of_documents_to_embed"] = None  # local tasks are small: cluster every text
    return type(spec.name, (base,), namespace)
