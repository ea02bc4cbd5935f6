"""``leaderboard/index.html``: the board as a page (its data and our script inlined, Plotly beside it in
``plotly.min.js``), so the folder opens from ``file://`` or any static host with no network access and nothing
to install. Plotly is a file of its own because it is the same 4.6 MB in every board: git then stores it once,
where inlined it made every rebuilt page a new 5-7 MB blob.

Generated from ``leaderboard.json`` alone, deterministically: the same board gives the same bytes. The page's
script and style live beside this module in ``page_assets/``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from plotly.offline import get_plotlyjs

from rwkv_mteb.board.records import Board
from rwkv_mteb.provenance.sidecars import atomic_write_text


def _asset(name: str) -> str:
    return resources.files("rwkv_mteb.board").joinpath("page_assets", name).read_text(encoding="utf-8")


def _inline_script(source: str) -> str:
    """A script can be inlined as long as it never closes the element that holds it."""
    return source.replace("</script", "<\\/script")


def render_page(board: Board) -> str:
    """The page with the board inlined, less what it never shows (each entry's provenance and cost by length:
    in leaderboard.json)."""
    shown = board.model_dump(mode="json", exclude={"entries": {"__all__": {"provenance", "by_length"}}})
    data = json.dumps(shown, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    parts = {
        "/*CSS*/": _asset("board.css"),
        "/*DATA*/": data.replace("</", "<\\/"),
        "/*JS*/": _inline_script(_asset("board.js")),
    }
    rest, pieces = _asset("index.html"), []
    for marker, text in parts.items():  # in template order; inserted text is never searched for markers
        before, found, rest = rest.partition(marker)
        assert found, f"page template lacks {marker} (or has the markers out of order)"
        pieces += [before, text]
    return "".join([*pieces, rest])


PLOTLY_FILE = "plotly.min.js"


def write_page(board: Board, folder: Path) -> None:
    """``index.html`` and the Plotly it loads, in ``folder``."""
    atomic_write_text(folder / PLOTLY_FILE, get_plotlyjs())
    atomic_write_text(folder / "index.html", render_page(board))
