"""Registers rwkv-mteb's tasks and models with MTEB, each on its own.

A broken item (a malformed user task file, a bad ``RWKV_MTEB_MODEL_PATHS`` entry) is reported in one line on
standard error and skipped; everything else still registers. A skipped task file is remembered by its task name
(or, when the file is too broken to say, its file name), so that asking for that task later says why it is not
there. The registries themselves are MTEB internals, reached only through :mod:`rwkv_mteb.mteb_internals`.
"""

from __future__ import annotations

import difflib
import sys
import threading
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mteb  # noqa: F401  loaded first, so that mteb's import hook finds us already registering

from rwkv_mteb import mteb_internals
from rwkv_mteb.config import MODEL_PATHS_VAR, model_paths
from rwkv_mteb.errors import ModelUnavailableError, RwkvMtebError
from rwkv_mteb.models import catalog
from rwkv_mteb.models.loader import build_model, mteb_loader
from rwkv_mteb.provenance.profiling import after_result_saved
from rwkv_mteb.tasks.factory import make_task_class
from rwkv_mteb.tasks.spec import parse_task_file, task_files

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_lock = threading.RLock()
_state: dict[str, Any] = {"done": False, "running": False}
problems: list[str] = []  # what could not be registered, one line each
skipped_tasks: dict[str, str] = {}  # task name (or file stem) -> why its file was skipped


def _report(problem: str) -> None:
    problems.append(problem)
    print(f"rwkv-mteb: {problem}", file=sys.stderr)


def _declared_name(path: Path) -> str:
    """The ``name`` a task file declares, read leniently (the file may be broken), else its file name."""
    try:
        name = tomllib.loads(path.read_text(encoding="utf-8")).get("name")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        name = None
    return name if isinstance(name, str) and name else path.stem


def _register_tasks() -> None:
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
            if mteb_internals.registered_task(spec.name) is not None:
                raise RwkvMtebError(f"task name {spec.name!r} is already an MTEB task; choose another name")
            mteb_internals.add_task(make_task_class(spec))
            seen[spec.name] = str(path)
        except Exception as exc:  # one bad file must not hide the others
            message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
            skipped_tasks.setdefault(_declared_name(path), message)
            _report(f"skipped task file ({type(exc).__name__}): {message}")


def _register_models() -> None:
    for meta in catalog.OWN_METAS:
        mteb_internals.add_model(meta)
    names = list(catalog.DEFAULT_SBERT)
    try:
        mapped = list(model_paths())
    except RwkvMtebError as exc:
        _report(f"ignored {MODEL_PATHS_VAR}: {exc}")
        mapped = []
    registry = mteb_internals.model_registry()
    names += [n for n in mapped if n in registry and n not in names and registry[n].loader is not mteb_loader]
    for meta in catalog.sbert_metas(registry, names):
        mteb_internals.add_model(meta)


def _resolve(name: str) -> Any:
    """A variant name of ours, or a trained model's folder (`rwkv-mteb train`)."""
    from rwkv_mteb.training.resolve import trained_meta

    return catalog.resolve_variant(name) or trained_meta(name)


def our_model_names() -> list[str]:
    """Every name we serve: the models, and their registered variant names (for close-match hints)."""
    return [m.name for m in catalog.OWN_METAS] + catalog.registered_variant_names()


def register() -> None:
    """Idempotent: the first call registers, later (and nested) calls do nothing."""
    with _lock:
        if _state["done"] or _state["running"]:
            return
        _state["running"] = True
        try:
            mteb_internals.check_mteb_version()
            _register_tasks()
            try:
                _register_models()
            except Exception as exc:
                _report(f"could not register models ({type(exc).__name__}: {exc})")
            mteb_internals.install_result_hooks(after_result_saved)
            mteb_internals.install_unknown_model_errors(our_model_names, _resolve)
            mteb_internals.install_unknown_task_errors(lambda: skipped_tasks)
            mteb_internals.install_hub_errors()
            _state["done"] = True
        finally:
            _state["running"] = False


def load_encoder(
    name: str, revision: str | None = None, device: str | int | None = None, **options: Any
) -> SentenceTransformer:
    """The ``SentenceTransformer`` behind a model name rwkv-mteb serves (RWKV, GloVe, SBERT, SimCSE): a variant
    name, or a language model's name with its axes as options (``layer=3``, ``layers=[1, 3], combine="concat"``)."""
    register()
    meta = mteb_internals.model_registry().get(name) or catalog.resolve_variant(name)
    if meta is None or meta.loader is not mteb_loader:
        close = difflib.get_close_matches(name, our_model_names(), n=3)
        hint = f" Did you mean {close}?" if close else ""
        raise ModelUnavailableError(
            f"unknown model {name!r}: rwkv-mteb serves {len(our_model_names())} model names "
            f"(list them with `rwkv-mteb models`).{hint}"
        )
    kwargs = {**meta.loader_kwargs, **(meta.experiment_kwargs or {}), **options}
    return build_model(meta.name, revision, device, **kwargs)
