"""Module paths of earlier releases, kept importable: saved model folders name their module classes by path in
``modules.json`` (``rwkv_mteb.glove.GloveEmbedding``, ``rwkv_mteb.rwkv.layerwise.LayerwiseEncoder``), so a
folder written before the subpackage layout must still load. As sentence-transformers does for its own moved
modules, an import of an old path is answered with the module that now holds the class (nothing is imported
until an old path is asked for)."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from types import ModuleType

MOVED = {
    "rwkv_mteb.glove": "rwkv_mteb.models.glove",
    "rwkv_mteb.rwkv.layerwise": "rwkv_mteb.layerwise.encoder",
}


class _Loader(importlib.abc.Loader):
    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.spec = module.__spec__

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return self.module

    def exec_module(self, module: ModuleType) -> None:
        """Already executed under its new name; the import machinery set ``__spec__`` to the old one: undo it."""
        module.__spec__ = self.spec


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):  # type: ignore[no-untyped-def]
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Loader(importlib.import_module(new)))


def install() -> None:
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.append(_MovedFinder())
