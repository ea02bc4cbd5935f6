"""``rwkv_mteb.leaderboard.load(path)``: a published board (``rwkv-mteb leaderboard --out``) as typed records and
DataFrames, for notebooks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rwkv_mteb.board.collect import validated
from rwkv_mteb.board.records import Board, Entry
from rwkv_mteb.errors import RwkvMtebError
from rwkv_mteb.provenance.sidecars import read_json


@dataclass
class Leaderboard:
    """A board: ``board`` is the typed ``leaderboard.json`` (entries, comparisons, sweeps, ...)."""

    path: Path
    board: Board

    @property
    def entries(self) -> list[Entry]:
        return self.board.entries

    def to_pandas(self) -> Any:
        """One row per model variant, task and split (see :func:`rwkv_mteb.notebook.frames.entries_frame`)."""
        from rwkv_mteb.notebook.frames import entries_frame

        return entries_frame(self.board.entries)

    def comparisons(self) -> Any:
        """Each entry against the best of its task split: paired difference, interval, p (raw and Holm)."""
        import pandas as pd

        return pd.DataFrame([c.model_dump() for c in self.board.comparisons])

    def plot(self) -> Any:
        from rwkv_mteb.notebook.frames import plot_layers

        return plot_layers(self.to_pandas())


def load(path: str | Path = "leaderboard") -> Leaderboard:
    """The board in ``path`` (a folder holding ``leaderboard.json``, or the file itself), validated against its
    schema; a missing or malformed file is one error line naming it."""
    path = Path(path)
    file = path / "leaderboard.json" if path.is_dir() else path
    if not file.is_file():
        raise RwkvMtebError(f"no board at {file}; build one with `rwkv-mteb leaderboard --results <folder> --out DIR`")
    fix = "rebuild it with `rwkv-mteb leaderboard`"
    return Leaderboard(file.parent, validated(Board, read_json(file, "board", fix), file, "board", fix))
