"""rwkv-mteb: layer-wise RWKV, GloVe and SBERT encoders and zero-shot paraphrase tasks, registered with MTEB.

Kept import-light on purpose: a ``.pth`` file imports ``rwkv_mteb._autoload`` at every interpreter start,
so nothing heavy (torch, mteb) may be imported here. The public functions load their modules on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rwkv_mteb import _aliases

__version__ = "0.1.0"
_aliases.install()

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["__version__", "load_encoder", "register"]


def register() -> None:
    """Add the project's tasks and models to MTEB's registries (idempotent)."""
    from rwkv_mteb.registry import register as _register

    _register()


def load_encoder(name: str, **kwargs: Any) -> SentenceTransformer:
    """The ``SentenceTransformer`` behind any model name this project registers."""
    from rwkv_mteb.registry import load_encoder as _load_encoder

    return _load_encoder(name, **kwargs)
