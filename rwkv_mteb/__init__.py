"""rwkv-mteb: layer-wise RWKV, GloVe and SBERT encoders and zero-shot paraphrase tasks, registered with MTEB.

Kept import-light on purpose: a ``.pth`` file imports ``rwkv_mteb._autoload`` at every interpreter start,
so nothing heavy (torch, mteb) may be imported here. The public functions load their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rwkv_mteb import _aliases

__version__ = "0.1.0"
_aliases.install()

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["__version__", "leaderboard", "load_encoder", "register", "sweep"]


def __getattr__(name: str) -> Any:
    """``rwkv_mteb.leaderboard`` (a module: ``.load(path)``) is imported on first use."""
    if name == "leaderboard":
        return importlib.import_module("rwkv_mteb.leaderboard")
    raise AttributeError(f"module 'rwkv_mteb' has no attribute {name!r}")


def register() -> None:
    """Add the project's tasks and models to MTEB's registries (idempotent)."""
    from rwkv_mteb.registry import register as _register

    _register()


def load_encoder(name: str, **kwargs: Any) -> SentenceTransformer:
    """The ``SentenceTransformer`` behind any model name this project registers."""
    from rwkv_mteb.registry import load_encoder as _load_encoder

    return _load_encoder(name, **kwargs)


def sweep(model: str, tasks: list[str] | None = None, **kwargs: Any) -> Any:
    """A layer sweep from Python (``rwkv-mteb sweep``'s engine), returning a ``SweepResult`` (``.to_pandas()``,
    ``.plot()``); see :func:`rwkv_mteb.notebook.sweep.sweep` for the axes (layers, pooling, prompt, ablate) and
    options. Its module (torch, mteb, the board) is imported on first use, like ``leaderboard``'s."""
    return importlib.import_module("rwkv_mteb.notebook.sweep").sweep(model, tasks, **kwargs)
