"""``rwkv_mteb.sweep(...)``: the layer sweep from Python, returning its scores as a DataFrame and a plot.

It runs exactly what ``rwkv-mteb sweep`` runs (:func:`rwkv_mteb.runs.sweep.sweep`: MTEB result files in the
experiment layout, profiles, diagnostics), then builds the board over the output folder, so the frame's scores,
intervals and costs are the board's own (``rwkv-mteb leaderboard --results <folder>`` publishes the same).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rwkv_mteb.board.build import build_board
from rwkv_mteb.board.records import Board, Entry
from rwkv_mteb.notebook.frames import entries_frame, plot_layers


@dataclass
class SweepResult:
    """What one sweep produced: MTEB's ``ModelResult`` per variant, and the board over its output folder."""

    model: str
    output_folder: Path
    model_results: list[Any]
    board: Board = field(repr=False)

    @property
    def entries(self) -> list[Entry]:
        """The board's entries of this sweep's variants (the folder may hold other runs)."""
        ran = {(r.model_revision, r.experiment_name, t.task_name) for r in self.model_results for t in r.task_results}
        return [
            e for e in self.board.entries if e.base_model == self.model and (e.revision, e.experiment, e.task) in ran
        ]

    def to_pandas(self) -> pd.DataFrame:
        """One row per task, split, layer and method: score, 95% interval, pairs and the cost of the vectors."""
        return entries_frame(self.entries)

    def plot(self) -> Any:
        """Score by layer, per task split and method, intervals shaded (a matplotlib figure)."""
        return plot_layers(self.to_pandas(), title=self.model)


def sweep(
    model: str,
    tasks: Sequence[str] | None = None,
    *,
    layers: Sequence[int] | None = None,
    pooling: str | Sequence[str] = "mean",
    prompt: str | Sequence[str] = "none",
    ablate: str | Sequence[str] = "none",
    output_folder: str | Path = "results",
    show_progress_bar: bool = False,
    **options: Any,
) -> SweepResult:
    """Sweep ``layers`` (default: every hidden state) of language model ``model`` by each pooling, prompt and
    intervention on ``tasks``; ``options`` are :func:`rwkv_mteb.runs.sweep.sweep`'s (``eval_splits``,
    ``batch_size``, ``device``, ``dtype``, ``metric_sample``, ...). Results already in ``output_folder`` are
    reused, as ``rwkv-mteb sweep`` reuses them."""
    from rwkv_mteb.runs.sweep import sweep as run_sweep

    def many(value: str | Sequence[str]) -> list[str]:
        return [value] if isinstance(value, str) else list(value)

    out = Path(output_folder)
    results = run_sweep(
        model=model,
        tasks=list(tasks) if tasks is not None else None,
        layers=list(layers) if layers is not None else None,
        poolings=many(pooling),
        prompts=many(prompt),
        ablations=many(ablate),
        output_folder=out,
        show_progress_bar=show_progress_bar,
        **options,
    )
    board, _, _ = build_board([out], ["rwkv_mteb.sweep", model])
    return SweepResult(model, out, results, board)
