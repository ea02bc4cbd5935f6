"""A sweep's label-free layer metrics (:mod:`rwkv_mteb.metrics.layer_metrics`), per task and method, written
beside the results as ``diagnostics/<model>__pooling=P[__prompt=Q]__<task>.json`` (read by the leaderboard).

Per task, a seeded sample of the distinct texts MTEB asks for (1,024) gives the pooled-vector metrics; its first
128 texts the token-level ones (each text run alone: no padding enters a trajectory); and its first 128 texts,
each in 16 augmented views, LiDAR (all 16) and DiME / InfoNCE (the first two). The views are known before the
encode pass, which computes and caches them like any other text; everything is read back batch by batch, so the
sweep's memory does not grow with the number of texts swept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.metrics.augment import augmented_views
from rwkv_mteb.metrics.layer_metrics import (
    AUGMENTATIONS,
    AUGMENTED_SAMPLE,
    DIAGNOSTIC_SAMPLE,
    RENYI_ORDER,
    TOKEN_SAMPLE,
    augmentation_metrics,
    curvature,
    pooled_metrics,
    prompt_entropy,
)
from rwkv_mteb.provenance.sidecars import atomic_write_json, diagnostics_path


@dataclass
class MetricSample:
    texts: list[str]
    views: list[list[str]]  # the augmented views of texts[:len(views)]

    @property
    def token_texts(self) -> list[str]:
        return self.texts[:TOKEN_SAMPLE]

    @property
    def view_texts(self) -> list[str]:
        """Every augmented view, text by text (what the encode pass must also encode)."""
        return [v for views in self.views for v in views]


def draw_sample(
    texts: list[str], size: int = DIAGNOSTIC_SAMPLE, augmented: int = AUGMENTED_SAMPLE, seed: int = 0
) -> MetricSample:
    """A seeded sample of ``texts`` (all of them when there are fewer), in their original order, and the
    augmented views of its first ``augmented`` texts (none for ``augmented=0``)."""
    if len(texts) <= size:
        chosen = list(texts)
    else:
        picked = np.sort(np.random.default_rng(seed).choice(len(texts), size=size, replace=False))
        chosen = [texts[i] for i in picked]
    return MetricSample(chosen, [augmented_views(t, AUGMENTATIONS, seed) for t in chosen[:augmented]])


def token_level_metrics(encoder: LayerwiseEncoder, sample: MetricSample, alpha: float) -> list[dict[str, float]]:
    """Per layer, prompt entropy and curvature of the pooled span's token states (the whole text without a
    prompt), on the first texts of the sample."""
    token_ids, starts = encoder.encode_texts(sample.token_texts)
    with encoder.backbone.intervened(encoder.ablate):
        states = encoder.backbone.token_states_many(token_ids, encoder.layers)
    per_text = [text[:, start:] for text, start in zip(states, starts, strict=True)]
    return [
        {
            "prompt_entropy": prompt_entropy([states[k] for states in per_text], alpha),
            "curvature": curvature([states[k] for states in per_text]),
        }
        for k in range(len(encoder.layers))
    ]


def _read(view: LayerwiseEncoder, texts: list[str], batch_size: int) -> np.ndarray:
    """(texts, layers, d) from the cache, batch by batch."""
    if not texts:
        return np.empty((0, len(view.layers), view.backbone.pooled_width(view.pooling)), dtype=np.float32)
    return np.concatenate([view.pooled_layers(texts[i : i + batch_size]) for i in range(0, len(texts), batch_size)])


def layer_rows(
    view: LayerwiseEncoder,
    sample: MetricSample,
    token_metrics: list[dict[str, float]],
    alpha: float = RENYI_ORDER,
    batch_size: int = 32,
) -> list[dict[str, float | None]]:
    """One row of metrics per layer of ``view``; undefined values (e.g. of constant vectors) are None."""
    vectors = _read(view, sample.texts, batch_size)
    augmented = _read(view, sample.view_texts, batch_size)
    if len(sample.views):
        augmented = augmented.reshape(len(sample.views), -1, *augmented.shape[1:])
    rows = []
    for slot, layer in enumerate(view.layers):
        row: dict[str, float | None] = {
            "layer": layer,
            **pooled_metrics(vectors[:, slot], alpha),
            **token_metrics[slot],
        }
        if len(sample.views) >= 2:
            row.update(augmentation_metrics(augmented[:, :, slot], alpha))
        row.update({k: None for k, v in row.items() if isinstance(v, float) and not np.isfinite(v)})
        rows.append(row)
    return rows


def write_diagnostics(
    view: LayerwiseEncoder,
    task: str,
    sample: MetricSample,
    token_metrics: list[dict[str, float]],
    output_folder: Path,
    swept: int,
    alpha: float = RENYI_ORDER,
) -> Path:
    """The per-layer metrics of one method (pooling and prompt) on one task's sample, beside the results."""
    model, prompt = view.model_id or "?", view.prompt
    ablate = view.ablate.digest if view.ablate else None
    path = diagnostics_path(output_folder, model, view.pooling, prompt.name, task, ablate)
    atomic_write_json(
        path,
        {
            "model": model,
            "pooling": view.pooling,
            "prompt": prompt.name,
            "template": prompt.spec,
            "ablate": view.ablate.name,
            "revision": view.revision,
            "task": task,
            "sentences": len(sample.texts),
            "token_sentences": len(sample.token_texts),
            "sentences_swept": swept,
            "augmented_sentences": len(sample.views),
            "augmentations": len(sample.views[0]) if sample.views else None,
            "alpha": alpha,
            "layers": layer_rows(view, sample, token_metrics, alpha),
        },
    )
    return path
