"""What the board derives across entries beyond one split's ranking: the layer each label-free metric would pick in
a sweep and what that choice costs (regret against the best layer chosen with labels), and each intervention's
effect against the intact model on the same pairs."""

from __future__ import annotations

from typing import Any

import numpy as np

from rwkv_mteb.board.records import Entry
from rwkv_mteb.metrics.layer_metrics import PICK_DIRECTION


def label_free_choices(layers: list[Entry], rows: dict[int, Any], best: float | None) -> dict[str, dict[str, Any]]:
    """Per metric with a value at two of the sweep's layers or more: the layer it picks by its declared direction
    (ties: the shallower layer), the score there and the regret ``best - score`` (null where the picked layer's
    score is undefined). ``layers``: the sweep's entries; ``rows``: its diagnostics by layer."""
    score_at = {e.layer: e.main_score for e in layers}
    out = {}
    for metric, direction in PICK_DIRECTION.items():
        values = {k: getattr(r, metric) for k, r in rows.items() if k in score_at and getattr(r, metric) is not None}
        if len(values) < 2 or best is None:
            continue
        sign = 1.0 if direction == "max" else -1.0
        layer = min(values, key=lambda k: (-sign * values[k], k))
        score = score_at.get(layer)
        out[metric] = {
            "direction": direction,
            "layer": layer,
            "score": score,
            "regret": best - score if score is not None else None,
        }
    return out


def regret_table(sweeps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per metric, over every sweep where it picked a scored layer: mean, median and worst regret, and how often
    it picked the best layer or one not distinguishable from it; picks of a layer whose score is undefined
    (constant vectors) have no regret and are counted apart, never dropped silently."""
    out = []
    for metric, direction in PICK_DIRECTION.items():
        chosen = [(s, s["label_free_choices"][metric]) for s in sweeps if metric in s["label_free_choices"]]
        picks = [(s, c) for s, c in chosen if c["regret"] is not None]
        if not picks:
            continue
        regrets = np.array([c["regret"] for _, c in picks])
        out.append(
            {
                "metric": metric,
                "direction": direction,
                "sweeps": len(picks),
                "mean_regret": float(regrets.mean()),
                "median_regret": float(np.median(regrets)),
                "max_regret": float(regrets.max()),
                "picked_best": sum(c["layer"] == s["best_layer"] for s, c in picks),
                "picked_tied": sum(c["layer"] in s["layers_not_distinguishable_from_best"] for s, c in picks),
                "picked_undefined": len(chosen) - len(picks),
            }
        )
    return out


def intervention_effects(entries: list[Entry], test: Any) -> list[dict[str, Any]]:
    """Each intervened layer-wise entry against its intact twin (same base model, layer, pooling, prompt, task
    and split); ``test(entry, intact)``: the paired test on the split's shared resamples."""

    def twin_key(e: Entry) -> tuple[Any, ...]:
        return (e.task, e.split, e.base_model, e.layer, e.pooling, e.prompt)

    intact = {twin_key(e): e for e in entries if e.layer is not None and e.ablate in (None, "none")}
    out = []
    for e in entries:
        if e.layer is None or e.ablate in (None, "none") or e.main_score is None or not e.n_pairs:
            continue
        twin = intact.get(twin_key(e))
        if twin is None or twin.main_score is None or not twin.n_pairs:
            continue
        result = test(e, twin)
        out.append(
            {
                "task": e.task,
                "split": e.split,
                "base_model": e.base_model,
                "layer": e.layer,
                "pooling": e.pooling,
                "prompt": e.prompt,
                "ablate": e.ablate,
                "score": e.main_score,
                "intact_score": twin.main_score,
                **result,
            }
        )
    return sorted(out, key=lambda r: (r["task"], r["split"], r["base_model"], r["ablate"], r["layer"]))
