"""What a sweep will encode, learnt without reading any task's columns: the task selection of ``mteb run``, and
a dry run in which MTEB evaluates each task against stand-in vectors while the encoder records every text it is
asked for (nothing is written)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import mteb

from rwkv_mteb.errors import TaskDefinitionError
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.models.catalog import LANGUAGE_MODELS_BY_NAME, layerwise_meta
from rwkv_mteb.models.wrapper import wrap_for_mteb
from rwkv_mteb.mteb_internals import fresh_task


def select_tasks(
    tasks: Sequence[str] | None = None,
    task_types: Sequence[str] | None = None,
    languages: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    benchmarks: Sequence[str] | None = None,
    eval_splits: Sequence[str] | None = None,
) -> list[Any]:
    """The task selection of ``mteb run``: benchmarks, else names / types / languages / categories."""
    if benchmarks:
        return [task for benchmark in mteb.get_benchmarks(names=list(benchmarks)) for task in benchmark.tasks]
    selected = list(
        mteb.get_tasks(
            tasks=list(tasks) if tasks else None,
            task_types=list(task_types) if task_types else None,
            languages=list(languages) if languages else None,
            categories=list(categories) if categories else None,
            eval_splits=list(eval_splits) if eval_splits else None,
        )
    )
    for task in selected:  # a task file says which splits it has: fail before any model loads
        spec = getattr(task, "spec", None)
        missing = [s for s in eval_splits or () if spec is not None and s not in spec.splits]
        if missing:
            raise TaskDefinitionError(
                f"task {spec.name} has no split(s) {missing} (it has {list(spec.splits)}); sweep it with its own "
                "--eval-splits in a separate command"
            )
    return selected


Request = tuple[str | None, str]  # (side: "query", "document" or None for a symmetric task's input, text)


def texts_of(requests: list[Request]) -> list[str]:
    """The distinct texts of some requests, in order."""
    return list(dict.fromkeys(text for _, text in requests))


def texts_mteb_encodes(encoder: LayerwiseEncoder, task_objects: list[Any], batch_size: int) -> dict[str, list[Request]]:
    """Per task, every distinct (side, text) MTEB asks an encoder for, in order of first request: a retrieval
    task's queries and documents apart, so a one-side prompt's pass prompts the right ones."""
    session = encoder.session
    assert session is not None, "a dry run records into the sweep's session"
    recorder = encoder.view([encoder.layers[0]])
    meta = layerwise_meta(LANGUAGE_MODELS_BY_NAME[encoder.model_id], encoder.layers[0], "mean")
    stand_in = wrap_for_mteb(
        recorder.as_model(), meta.model_copy(update={"name": f"{meta.name} (dry run)"}), "dry-run", None
    )
    out = {}
    for task in task_objects:
        session.record_texts()
        mteb.evaluate(
            stand_in,
            [fresh_task(task)],
            cache=None,
            overwrite_strategy="always",
            show_progress_bar=False,
            encode_kwargs={"batch_size": batch_size},
        )
        out[task.metadata.name] = session.stop_recording()
    return out
