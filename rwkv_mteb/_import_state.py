"""Whether one of our modules is mid-import: mteb's import hook (``_autoload``) must not register then, and
registering is what imports most of the package. A leaf module (it imports nothing of ours), so that both the hook
and :mod:`rwkv_mteb.mteb_internals` can use it without an import circle."""

from __future__ import annotations

import sys


def our_module_is_initializing() -> bool:
    """True while one of our modules is mid-import. Reads ``ModuleSpec._initializing``, which CPython sets during an
    import: the one CPython internal outside :mod:`rwkv_mteb.mteb_internals` (which imports mteb, so mteb's own
    import hook cannot import it); that module re-exports it."""
    return any(
        name.startswith("rwkv_mteb.") and getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
    )
