"""What a reader looks at first: per task split, each layer-wise model and method at its best layer (the layer
sweep's choice, made with the labels of that split and said so), then the sentence encoders, by score. The
README's summary tables and the page's pair explorer list these rows; every other layer is one click away."""

from __future__ import annotations

from rwkv_mteb.board.records import Board, Entry, LayerSweep


def sweep_key(e: Entry | LayerSweep) -> tuple[str, str, str, str | None, str | None, str | None]:
    """A layer sweep: task split, model and method (pooling, prompt, intervention)."""
    return e.task, e.split, e.base_model, e.pooling, e.prompt, e.ablate


def summary_rows(board: Board, task: str, split: str) -> list[tuple[Entry, LayerSweep | None]]:
    """Each (model, method) of the split at its sweep's best layer with the sweep, then every sentence encoder
    (no sweep); sorted by score, undefined scores last."""
    sweeps = {sweep_key(s): s for s in board.layer_sweeps if s.task == task and s.split == split}
    rows: list[tuple[Entry, LayerSweep | None]] = []
    for e in board.entries:
        if e.task != task or e.split != split:
            continue
        if e.layer is None:
            rows.append((e, None))
        elif (sweep := sweeps.get(sweep_key(e))) is not None and sweep.best_layer == e.layer:
            rows.append((e, sweep))
    return sorted(rows, key=lambda r: (r[0].main_score is None, -(r[0].main_score or 0.0), r[0].model))


def layers_swept(board: Board, sweep: LayerSweep) -> int:
    return sum(1 for e in board.entries if e.layer is not None and sweep_key(e) == sweep_key(sweep))
