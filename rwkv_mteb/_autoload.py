"""Registers rwkv-mteb with MTEB as soon as ``mteb`` is imported.

MTEB 2.x has no plugin entry points. The wheel ships ``rwkv_mteb_autoload.pth``, which imports this module at
interpreter start; it only arms an import hook (no heavy imports), and the hook calls
:func:`rwkv_mteb.register` right after ``mteb`` finishes loading, so ``mteb run`` sees our tasks and models.
Set ``RWKV_MTEB_AUTOLOAD=0`` to turn it off.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

from rwkv_mteb._import_state import our_module_is_initializing
from rwkv_mteb.config import autoload_enabled
from rwkv_mteb.errors import RwkvMtebError


def _after_mteb_loaded() -> None:
    _install_excepthook()
    try:
        if our_module_is_initializing():
            # one of our modules imported mteb mid-import: registering now would find it half made (and record
            # itself done); the first rwkv_mteb.register() registers instead, and every entry point calls it
            return
        import rwkv_mteb

        rwkv_mteb.register()
    except Exception as exc:  # never break `import mteb` for everyone because of us; say so in one line
        print(
            f"rwkv-mteb: could not register with mteb ({type(exc).__name__}: {exc}); set RWKV_MTEB_AUTOLOAD=0 to "
            "silence this, or call rwkv_mteb.register() to see the traceback",
            file=sys.stderr,
        )


def _install_excepthook() -> None:
    """Print our user-facing errors as one line when they end a command such as ``mteb run``."""
    previous = sys.excepthook
    if getattr(previous, "_rwkv_mteb", False):
        return

    def hook(exc_type, exc, tb):  # type: ignore[no-untyped-def]
        if isinstance(exc, RwkvMtebError):
            print(f"error: {exc}", file=sys.stderr)
            return
        previous(exc_type, exc, tb)

    hook._rwkv_mteb = True  # type: ignore[attr-defined]
    sys.excepthook = hook


class _Loader(importlib.abc.Loader):
    def __init__(self, inner: importlib.abc.Loader) -> None:
        self._inner = inner

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _after_mteb_loaded()


class _MtebFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname != "mteb":
            return None
        sys.meta_path.remove(self)  # one shot: find the real spec with the other finders
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _Loader(spec.loader)
        return spec


def install() -> None:
    if not autoload_enabled() or "mteb" in sys.modules:
        if "mteb" in sys.modules and autoload_enabled():
            _after_mteb_loaded()
        return
    if not any(isinstance(f, _MtebFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MtebFinder())


install()
