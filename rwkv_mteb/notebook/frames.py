"""Board entries as one flat pandas DataFrame (one row per model variant, task and split), and the layer curve a
reader wants from it. The sweep's result and a loaded board both go through here, so their numbers are the same
numbers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from rwkv_mteb.board.records import Entry
from rwkv_mteb.layerwise.variants import method_label

COST_COLUMNS = ("seconds_per_pair", "sentences_per_second", "tokens_per_second", "peak_rss_mb", "vectors_from")
COLUMNS = (
    "task",
    "split",
    "model",
    "base_model",
    "family",
    "layer",
    "method",
    "pooling",
    "prompt",
    "ablate",
    "score",
    "ci_low",
    "ci_high",
    "n_pairs",
    "n_queries",
    "truncated_inputs",
    *COST_COLUMNS,
    "main_score_name",
    "revision",
    "experiment",
)


def _row(entry: Entry) -> dict[str, Any]:
    low, high = entry.ci95_bootstrap or (None, None)
    cost = entry.cost.model_dump() if entry.cost is not None else {}
    method = method_label(entry.pooling, entry.prompt, entry.ablate) if entry.layer is not None else None
    row = {k: getattr(entry, k) for k in COLUMNS if hasattr(entry, k)}
    cut = entry.truncation.inputs if entry.truncation is not None else None
    return (
        {**row, "method": method, "score": entry.main_score, "ci_low": low, "ci_high": high}
        | {"truncated_inputs": cut}
        | {k: cost.get(k) for k in COST_COLUMNS}
    )


def entries_frame(entries: Iterable[Entry]) -> pd.DataFrame:
    """One row per entry: score with its 95% bootstrap interval over pairs (queries, for retrieval), the inputs
    the encoder cut (null: none, or unknown), and the cost of its vectors (a sweep's variants carry the shared
    pass's rates). Sorted by task, split, model, layer."""
    frame = pd.DataFrame([_row(e) for e in entries], columns=list(COLUMNS))
    frame["layer"] = frame["layer"].astype("Int64")
    for column in ("n_pairs", "n_queries", "truncated_inputs"):
        frame[column] = frame[column].astype("Int64")
    return frame.sort_values(
        ["task", "split", "base_model", "method", "layer", "model"], na_position="first"
    ).reset_index(drop=True)


def plot_layers(frame: pd.DataFrame, title: str | None = None) -> Any:
    """Score against layer, one panel per task split and one line per model and method, the 95% interval
    shaded; sentence encoders (no layer) as dashed horizontal lines. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    panels = sorted(frame.groupby(["task", "split"]).groups)
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(5.5 * max(len(panels), 1), 3.8), squeeze=False)
    for ax, (task, split) in zip(axes[0], panels, strict=False):
        rows = frame[(frame["task"] == task) & (frame["split"] == split)]
        layered = rows[rows["layer"].notna()]
        for (base, method), curve in layered.groupby(["base_model", "method"], sort=True):
            curve = curve.sort_values("layer")
            (line,) = ax.plot(
                curve["layer"], curve["score"], "o-", markersize=3, label=f"{base.split('/')[-1]} ({method})"
            )
            if curve["ci_low"].notna().all():
                ax.fill_between(
                    curve["layer"].astype(float), curve["ci_low"], curve["ci_high"], color=line.get_color(), alpha=0.15
                )
        for _, flat in rows[rows["layer"].isna()].iterrows():
            ax.axhline(flat["score"], linestyle="--", linewidth=1, color="grey")
            ax.annotate(flat["model"].split("/")[-1], (0, flat["score"]), fontsize=7, color="grey")
        ax.set(title=f"{task} / {split}", xlabel="layer (hidden state)", ylabel=str(rows["main_score_name"].iloc[0]))
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
