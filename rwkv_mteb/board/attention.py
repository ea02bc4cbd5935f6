"""The trained attention heads of a board's models: each trained model's folder is named in its saved meta
(``loader_kwargs.folder``), and an attention head's folder holds its per-word weights on held-out texts
(``attention_weights.json``, written by ``rwkv-mteb train``). A folder that is gone is a warning, not a failure:
the scores stand without the look inside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rwkv_mteb.board.collect import Run
from rwkv_mteb.board.records import AttentionHead
from rwkv_mteb.training.record import TRAINING_FILE, WEIGHTS_FILE


def collect_attention_heads(runs: list[Run], warnings: list[str]) -> list[AttentionHead]:
    heads: dict[str, AttentionHead] = {}
    for run in runs:
        kwargs = run.meta.get("loader_kwargs") or {}
        if not kwargs.get("trained_on") or not kwargs.get("folder") or run.model in heads:
            continue
        folder = Path(kwargs["folder"])
        if not (folder / TRAINING_FILE).is_file():
            warnings.append(f"{run.model}: its trained folder {folder} is gone; what its head weighs is not shown")
            continue
        if (folder / WEIGHTS_FILE).is_file():
            heads[run.model] = _head(run.model, kwargs, folder)
    return sorted(heads.values(), key=lambda h: h.model)


def _head(model: str, kwargs: dict[str, Any], folder: Path) -> AttentionHead:
    weights = json.loads((folder / WEIGHTS_FILE).read_text())
    spec = json.loads((folder / TRAINING_FILE).read_text())["spec"]
    return AttentionHead(
        model=model,
        base_model=kwargs.get("base") or spec["model"],
        layer=spec.get("layer"),
        trained_on=kwargs["trained_on"],
        content_share=weights["content_share"]["trained"],
        mean_pooling_share=weights["content_share"]["mean_pooling"],
        texts=weights["texts"],
    )
