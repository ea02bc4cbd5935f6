"""Registers rwkv-mteb's tasks and models with MTEB, each on its own.

A broken item (a malformed user task file, a bad ``RWKV_MTEB_MODEL_PATHS`` entry) is reported in one line on
standard error and skipped; everything else still registers. The registries themselves are MTEB internals,
reached only through :mod:`rwkv_mteb.seams`.
"""

from __future__ import annotations

import difflib
import logging
import sys
import threading
from typing import TYPE_CHECKING, Any

from rwkv_mteb.config import MODEL_PATHS_VAR, model_paths
from rwkv_mteb.errors import ModelUnavailableError, RwkvMtebError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)
_lock = threading.RLock()
_state: dict[str, Any] = {"done": False, "running": False}
problems: list[str] = []  # what could not be registered, one line each


def _report(problem: str) -> None:
    problems.append(problem)
    print(f"rwkv-mteb: {problem}", file=sys.stderr)


def _register_tasks() -> None:
    from rwkv_mteb import seams
    from rwkv_mteb.task_factory import make_task_class
    from rwkv_mteb.task_spec import parse_task_file, task_files

    try:
        files = task_files()
    except RwkvMtebError as exc:
        _report(f"skipped user tasks: {exc}")
        files = task_files(include_user=False)
    seen: dict[str, str] = {}
    for path in files:
        try:
            spec = parse_task_file(path)
            if spec.name in seen:
                raise RwkvMtebError(f"task name {spec.name!r} is already defined by {seen[spec.name]}; rename one")
            if seams.registered_task(spec.name) is not None:
                raise RwkvMtebError(f"task name {spec.name!r} is already an MTEB task; choose another name")
            seams.add_task(make_task_class(spec))
            seen[spec.name] = str(path)
        except Exception as exc:  # one bad file must not hide the others
            message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            _report(f"skipped task file ({type(exc).__name__}): {message}")


def _register_models() -> None:
    from rwkv_mteb import model_metas, seams

    for meta in model_metas.OWN_METAS:
        seams.add_model(meta)
    names = list(model_metas.DEFAULT_SBERT)
    try:
        mapped = list(model_paths())
    except RwkvMtebError as exc:
        _report(f"ignored {MODEL_PATHS_VAR}: {exc}")
        mapped = []
    registry = seams.model_registry()
    names += [
        n for n in mapped if n in registry and n not in names and registry[n].loader is not model_metas.mteb_loader
    ]
    for meta in model_metas.sbert_metas(registry, names):
        seams.add_model(meta)


def our_model_names() -> list[str]:
    from rwkv_mteb import model_metas

    return [m.name for m in model_metas.OWN_METAS] + [lm.name for lm in model_metas.LANGUAGE_MODELS]


def _after_save(result_path, task_result, model) -> None:  # type: ignore[no-untyped-def]
    from rwkv_mteb.profiling import after_result_saved

    after_result_saved(result_path, task_result, model)


def register() -> None:
    """Idempotent: the first call registers, later (and nested) calls do nothing."""
    with _lock:
        if _state["done"] or _state["running"]:
            return
        _state["running"] = True
        try:
            import mteb  # noqa: F401  first, so that mteb's import hook finds us already running

            from rwkv_mteb import seams

            seams.check_mteb_version()
            _register_tasks()
            try:
                _register_models()
            except Exception as exc:
                _report(f"could not register models ({type(exc).__name__}: {exc})")
            seams.install_result_hooks(_after_save)
            seams.install_unknown_model_errors(our_model_names)
            _state["done"] = True
        finally:
            _state["running"] = False


def load_encoder(
    name: str, revision: str | None = None, device: str | int | None = None, **options: Any
) -> SentenceTransformer:
    """The ``SentenceTransformer`` behind a model name rwkv-mteb serves (RWKV, GloVe, SBERT, SimCSE), or
    behind a bare language model name with explicit options (``layers=[1, 3], combine="concat"``)."""
    from rwkv_mteb import loaders, model_metas, seams

    register()
    meta = seams.model_registry().get(name)
    if meta is not None and meta.loader is loaders.mteb_loader:
        kwargs = {**meta.loader_kwargs, **options}
    elif name in model_metas.LANGUAGE_MODELS_BY_NAME:
        kwargs = {**model_metas.layerwise_kwargs(model_metas.LANGUAGE_MODELS_BY_NAME[name]), **options}
    else:
        close = difflib.get_close_matches(name, our_model_names(), n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ModelUnavailableError(
            f"unknown model {name!r}: rwkv-mteb serves {len(our_model_names())} model names "
            f"(list them with `rwkv-mteb models`).{hint}"
        )
    return loaders.build(name, revision, device, **kwargs)
