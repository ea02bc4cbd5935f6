"""Adds rwkv-mteb's tasks and models to MTEB's registries.

MTEB 2.x keeps tasks in ``mteb.get_tasks._TASKS_REGISTRY``/``TASK_LIST`` and models in
``mteb.models.model_implementations.MODEL_REGISTRY``; ``mteb.get_task``, ``get_tasks``, ``get_model`` and the
CLI read them at call time, so adding entries is all registration takes. This touches mteb internals, which is
why ``pyproject.toml`` pins mteb's minor version.
"""

from __future__ import annotations

import importlib
import threading

from rwkv_mteb.config import model_paths
from rwkv_mteb.errors import TaskDefinitionError

_lock = threading.RLock()
_registered_tasks: dict[str, type] = {}
_state = {"done": False, "running": False}


def _register_tasks() -> None:
    # `mteb.get_tasks` the attribute is the function; the module is only reachable through importlib
    get_tasks_module = importlib.import_module("mteb.get_tasks")
    from rwkv_mteb.task_factory import make_task_class
    from rwkv_mteb.task_spec import load_task_specs

    registry = get_tasks_module._TASKS_REGISTRY
    new = []
    for spec in load_task_specs():
        existing = registry.get(spec.name)
        if existing is not None and existing is not _registered_tasks.get(spec.name):
            raise TaskDefinitionError(
                f"{spec.path}: task name {spec.name!r} is already an MTEB task; choose another name"
            )
        if existing is None:
            cls = make_task_class(spec)
            registry[spec.name] = cls
            _registered_tasks[spec.name] = cls
            new.append(cls)
    get_tasks_module.TASK_LIST = (*get_tasks_module.TASK_LIST, *new)


def _register_models() -> None:
    from mteb.models.model_implementations import MODEL_REGISTRY

    from rwkv_mteb import model_metas
    from rwkv_mteb.rwkv.metas import rwkv_metas

    metas = [*model_metas.glove_metas(), *model_metas.simcse_metas()]
    # MTEB's own sentence-transformers models: ours find packaged or user-mapped weights before the hub
    st_names = list(model_metas.DEFAULT_SBERT)
    st_names += [n for n in model_paths() if n in MODEL_REGISTRY and n not in model_metas.BUILDERS]
    metas += model_metas.sbert_overrides(MODEL_REGISTRY, st_names)
    metas += rwkv_metas()
    for meta in metas:
        MODEL_REGISTRY[meta.name] = meta


def register() -> None:
    """Idempotent: the first call registers, later (and nested) calls do nothing."""
    with _lock:
        if _state["done"] or _state["running"]:
            return
        _state["running"] = True
        try:
            importlib.import_module("mteb")  # first, so that mteb's import hook finds us already running
            _register_tasks()
            _register_models()
            from rwkv_mteb.profiling import install_result_cache_hook

            install_result_cache_hook()
            _state["done"] = True
        finally:
            _state["running"] = False
