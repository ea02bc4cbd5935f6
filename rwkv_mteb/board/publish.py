"""``rwkv-mteb leaderboard``: build the board and publish it as one set of files under ``--out``:
``leaderboard.json`` (validated, its schema beside it), ``results/`` (the source result files in MTEB's layout,
so ``mteb.ResultCache(out)`` reads them), ``README.md`` (the tables), the plots and ``index.html``.

Publishing is safe: the board is written into a staging folder beside ``--out`` and swapped in only when every
file is there, so bad input (a missing or empty results folder, a corrupt side file) leaves the published board
untouched, and readers see the old board or the new one, never a mix.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rwkv_mteb.board.build import build_board
from rwkv_mteb.board.collect import Run
from rwkv_mteb.board.page import write_page
from rwkv_mteb.board.pairs import PAIRS_FILE, pairs_script
from rwkv_mteb.board.records import Board
from rwkv_mteb.board.report import write_plots, write_readme
from rwkv_mteb.provenance.records import schema_text
from rwkv_mteb.provenance.sidecars import COMMANDS_LOG, atomic_write_json, atomic_write_text


def _swap_in(staging: Path, out: Path) -> None:
    """Replace ``out`` by ``staging`` as one set: readers see the old board or the new one, never a mix. Boards
    published inside ``out`` (``leaderboard/trained/``, ``leaderboard/long-inputs/``: folders holding a
    ``leaderboard.json``) are not this board's and move into the new one; anything else the old board held is
    retired with it (a plot the new board has no data for must not survive as if current)."""
    if not out.exists():
        staging.replace(out)
        return
    retired = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.replace(retired)
    staging.replace(out)
    for child in retired.iterdir():  # moved after the swap: a crash before it leaves them in `retired`, not lost
        if (child / "leaderboard.json").is_file() and not (out / child.name).exists():
            child.replace(out / child.name)
    shutil.rmtree(retired)


def publish(folders: list[Path], out: Path, command: list[str]) -> Board:
    """Build the board in a staging folder beside ``out`` and swap it in only when every file is written."""
    board, runs, pairs = build_board(folders, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.staging-", dir=out.parent))
    try:
        write_board(board, runs, staging, pairs)
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return board


def write_board(board: Board, runs: list[Run], out: Path, pairs: dict[str, Any] | None = None) -> None:
    target = out / "results"
    for run in runs:  # MTEB's own layout, so mteb.ResultCache(out) reads the board's sources
        dest = (target / run.relative_path).parent
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run.result_path, dest / run.result_path.name)
        for extra in ("model_meta.json", COMMANDS_LOG, f"profiles/{run.result_path.name}"):
            if (run.result_path.parent / extra).is_file():
                (dest / extra).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run.result_path.parent / extra, dest / extra)
    atomic_write_text(out / "leaderboard.schema.json", schema_text(Board))
    atomic_write_json(out / "leaderboard.json", board.model_dump(mode="json"))
    write_readme(board, out / "README.md")
    write_plots(board, out)
    atomic_write_text(out / PAIRS_FILE, pairs_script(pairs or {}))
    write_page(board, out)
