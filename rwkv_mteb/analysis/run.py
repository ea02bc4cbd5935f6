"""``rwkv-mteb analyze -m MODEL [MODEL ...] [-t TASKS]``: per layer, the weights' singular-value spectra, RWKV's
decay and memory length (static and on the task's texts), gradient norms of the language-model loss by text
length, and linear CKA between layers and, for models analysed together, between models at equal relative depth.
One file per model and task under ``<output>/analysis/`` (schema: ``analysis/analysis.schema.json``), beside a
sweep's diagnostics; the leaderboard plots them."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rwkv_mteb.analysis import cka, decay, gradients, spectra
from rwkv_mteb.analysis.records import AnalysisFile
from rwkv_mteb.errors import ModelUnavailableError
from rwkv_mteb.interventions.apply import decoder_layers, rwkv_blocks
from rwkv_mteb.layerwise.encoder import LayerwiseEncoder
from rwkv_mteb.layerwise.session import SweepSession
from rwkv_mteb.models.builders import layerwise_encoder
from rwkv_mteb.models.catalog import LANGUAGE_MODELS_BY_NAME
from rwkv_mteb.provenance.sidecars import analysis_path, atomic_write_json
from rwkv_mteb.registry import register
from rwkv_mteb.runs.dry_run import select_tasks, texts_mteb_encodes, texts_of
from rwkv_mteb.runs.sweep_metrics import draw_sample

SAMPLE = 256  # distinct texts per task
DEPTHS = (0.0, 0.25, 0.5, 0.75, 1.0)


def _blocks(encoder: LayerwiseEncoder) -> list[nn.Module]:
    backbone = encoder.backbone
    if backbone.family == "transformers":
        return list(decoder_layers(backbone.model, backbone.num_hidden_states - 1))
    return list(rwkv_blocks(backbone.model))


def block_of(family: str, layer: int, hidden_states: int) -> int | None:
    """RWKV: hidden state i < L is block i's output (L: ln_out); transformers: hidden state i > 0 is block i-1's."""
    if family == "transformers":
        return layer - 1 if layer > 0 else None
    return layer if layer < hidden_states - 1 else None


def block_spectra(block: nn.Module) -> list[dict[str, Any]]:
    out = []
    for name, module in block.named_modules():
        if isinstance(module, nn.Linear):
            stats = spectra.spectrum_stats(spectra.spectrum(module.weight))
            size = stats.pop("size")
            out.append(
                {
                    "name": name,
                    "shape": tuple(module.weight.shape),
                    **stats,
                    "decay_rate": stats["decay_rate"] if np.isfinite(stats["decay_rate"]) else None,
                    "relative_stable_rank": stats["stable_rank"] / size,
                    "relative_effective_rank": stats["effective_rank"] / size,
                }
            )
    return out


def _mean(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in rows if r.get(key) is not None]
    return float(np.mean(values)) if values else None


def _median_memory(heads: list[dict[str, float]] | None) -> float | None:
    return float(np.median([h["memory_q50"] for h in heads])) if heads else None


def _decay_on(encoder: LayerwiseEncoder, ids: list[list[int]], batch_size: int) -> tuple[list[Any], np.ndarray]:
    """Mean-pooled vectors of every layer (n, layers, C), and, for RWKV, each block's log-decay on every real
    token of ``ids`` (a padding-free pass: segments cut at every length)."""
    backbone, layers = encoder.backbone, list(range(encoder.backbone.num_hidden_states))
    mixes = []
    if backbone.family != "transformers":
        mixes = [b.attention if hasattr(b, "attention") else b.att for b in rwkv_blocks(backbone.model)]
    overhead = getattr(backbone, "segment_overhead", None)  # RWKV only
    for mix in mixes:
        mix.decay_log = []
    try:
        if mixes:
            backbone.segment_overhead = 0
        parts = [backbone.pooled(ids[i : i + batch_size], layers, "mean") for i in range(0, len(ids), batch_size)]
        logs = [torch.cat([t.reshape(-1, *t.shape[-2:]) for t in mix.decay_log]).numpy() for mix in mixes]
    finally:
        for mix in mixes:
            mix.decay_log = None
        if mixes:
            backbone.segment_overhead = overhead
    return logs, torch.cat(parts).numpy()


def _lm_forward(encoder: LayerwiseEncoder) -> gradients.HiddenStates:
    """The same weights with their language-model head (loaded again: the encoder's backbone has none)."""
    backbone = encoder.backbone
    if backbone.family == "transformers":
        from transformers import AutoModelForCausalLM

        where, kwargs = backbone.location
        model = AutoModelForCausalLM.from_pretrained(where, dtype=torch.float32, **kwargs).eval()
        return gradients.transformers_forward(model)
    from rwkv_mteb.rwkv.checkpoint import load_rwkv

    model = load_rwkv(backbone.source, with_head=True)
    if model.head is None:
        raise ModelUnavailableError(f"{backbone.source} has no language-model head: gradient norms need one")
    return gradients.rwkv_forward(model.eval())


def analyze_model(
    model: str, tasks: list[Any], sample: int, batch_size: int, device: str | None, seed: int
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """One model's analysis per task (dicts in AnalysisFile's layout) and its pooled vectors per task."""
    started = time.perf_counter()
    lm = LANGUAGE_MODELS_BY_NAME[model]
    encoder = layerwise_encoder(
        model, family=lm.family, layers=[0], device=device, dtype="float32", cache=False, session=SweepSession()
    )
    backbone = encoder.backbone
    count = backbone.num_hidden_states
    per_task = texts_mteb_encodes(encoder, tasks, batch_size)
    blocks = _blocks(encoder)
    weights = [block_spectra(b) for b in blocks]
    static = decay.static_log_decay(backbone.model) if backbone.family != "transformers" else None
    forward = _lm_forward(encoder)
    files, vectors = [], {}
    for task, requests in per_task.items():
        texts = draw_sample(texts_of(requests), sample, augmented=0, seed=seed).texts  # the sweep diagnostics' sampling
        ids = backbone.tokenizer(texts)
        logs, pooled = _decay_on(encoder, ids, batch_size)
        vectors[task] = pooled
        layers = []
        for layer in range(count):
            block = block_of(backbone.family, layer, count)
            rows = weights[block] if block is not None else []
            stat = decay.head_stats(static[block]) if static is not None and block is not None else None
            data = decay.head_stats(logs[block]) if logs and block is not None else None
            layers.append(
                {
                    "layer": layer,
                    "relative_depth": layer / (count - 1),
                    "block": block,
                    "spectra": rows,
                    "mean_decay_rate": _mean(rows, "decay_rate"),
                    "mean_relative_stable_rank": _mean(rows, "relative_stable_rank"),
                    "mean_relative_effective_rank": _mean(rows, "relative_effective_rank"),
                    "decay_static": stat,
                    "decay_data": data,
                    "memory_static_median": _median_memory(stat),
                    "memory_data_median": _median_memory(data),
                }
            )
        layer_vectors = [pooled[:, k] for k in range(count)]
        files.append(
            {
                "model": model,
                "revision": encoder.revision,
                "family": backbone.family,
                "task": task,
                "texts": len(texts),
                "seed": seed,
                "layers": layers,
                "gradients": gradients.bucketed_norms(forward, ids),
                "cka_layers": cka.cka_matrix(layer_vectors),
                "seconds": time.perf_counter() - started,
            }
        )
    return files, vectors


def _at_depth(depth: float, count: int) -> int:
    return round(depth * (count - 1))


def cross_model_cka(vectors: dict[str, dict[str, np.ndarray]], task: str, model: str) -> dict[str, list[dict]]:
    mine = vectors[model][task]
    out = {}
    for other, theirs_by_task in vectors.items():
        if other == model or task not in theirs_by_task:
            continue
        theirs = theirs_by_task[task]
        rows = []
        for depth in DEPTHS:
            a, b = _at_depth(depth, mine.shape[1]), _at_depth(depth, theirs.shape[1])
            value = cka.finite(cka.linear_cka(mine[:, a], theirs[:, b]))
            rows.append({"relative_depth": depth, "layer": a, "other_layer": b, "cka": value})
        out[other] = rows
    return out


def analyze(
    models: Sequence[str],
    tasks: Sequence[str] | None = None,
    output_folder: Path = Path("results"),
    sample: int = SAMPLE,
    batch_size: int = 32,
    device: str | None = None,
    seed: int = 0,
    eval_splits: list[str] | None = None,
) -> list[Path]:
    """Analyse each model on each task's texts; returns the files written. Models analysed together on the same
    texts also get their CKA with each other at equal relative depth."""
    register()
    unknown = [m for m in models if m not in LANGUAGE_MODELS_BY_NAME]
    if unknown:
        raise ModelUnavailableError(
            f"analyze needs language models rwkv-mteb knows ({', '.join(unknown)} is not); "
            f"choose from {sorted(LANGUAGE_MODELS_BY_NAME)}"
        )
    task_objects = select_tasks(tasks, eval_splits=eval_splits)
    results: dict[str, list[dict[str, Any]]] = {}
    vectors: dict[str, dict[str, np.ndarray]] = {}
    for model in dict.fromkeys(models):
        results[model], vectors[model] = analyze_model(model, task_objects, sample, batch_size, device, seed)
    written = []
    for model, files in results.items():
        for data in files:
            data["cka_models"] = cross_model_cka(vectors, data["task"], model)
            record = AnalysisFile.model_validate(data)
            path = analysis_path(Path(output_folder), model, record.task)
            atomic_write_json(path, record.model_dump(mode="json"))
            written.append(path)
    return written
