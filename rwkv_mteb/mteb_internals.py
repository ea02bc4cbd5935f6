"""The one door to other projects' internals: every use of a private part of mteb, argparse or CPython.

MTEB 2.x has no plugin interface, so registering tasks and models, hooking result saving and turning unknown
names or an unreachable hub into one clear line all touch its internals. They are gathered here, each behind a
small function, and guarded by a version check that fails loudly on an mteb this module was not tested with
(``tests/test_mteb_internals.py`` has one test per seam). Import it only once mteb is loaded (``_autoload`` does
so from its hook, after ``import mteb`` has finished).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import importlib.metadata
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mteb
import numpy as np
from mteb._set_seed import _set_seed
from mteb.cache import ResultCache
from mteb.cli.build_cli import _add_benchmark_selection_args, _add_task_selection_args, build_cli
from mteb.models import get_model_meta as _get_model_meta_module
from mteb.models.model_implementations import MODEL_REGISTRY
from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper, _resolve_model_prompts

from rwkv_mteb._import_state import our_module_is_initializing
from rwkv_mteb.errors import (
    CorruptFileError,
    DataError,
    RwkvMtebError,
    UnknownModelError,
    UnknownTaskError,
    UntestedMtebError,
)

TESTED_MTEB = ("2.26",)
_TASKS_MODULE = importlib.import_module("mteb.get_tasks")  # `mteb.get_tasks` the attribute is the function
_EVALUATE_MODULE = importlib.import_module("mteb.evaluate")  # likewise `mteb.evaluate`

# re-exported for the modules that build on them
__all__ = [
    "SentenceTransformerEncoderWrapper",
    "add_benchmark_selection_args",
    "add_task_selection_args",
    "build_cli",
    "our_module_is_initializing",
]
add_task_selection_args = _add_task_selection_args
add_benchmark_selection_args = _add_benchmark_selection_args


def _mark(function: Callable[..., Any]) -> Callable[..., Any]:
    function._rwkv_mteb = True  # type: ignore[attr-defined]
    return function


def _marked(function: Any) -> bool:
    return getattr(function, "_rwkv_mteb", False)


def check_mteb_version() -> None:
    installed = importlib.metadata.version("mteb")
    if not installed.startswith(tuple(f"{v}." for v in TESTED_MTEB)):
        raise UntestedMtebError(
            f"rwkv-mteb registers through mteb internals tested with mteb {', '.join(TESTED_MTEB)}.*, but mteb "
            f"{installed} is installed; install a tested version (pip install 'mteb>=2.26.24,<2.27') or set "
            "RWKV_MTEB_AUTOLOAD=0"
        )


# ------------------------------------------------------------------------------------------ registries


def add_task(task_class: type) -> None:
    """Make a task class visible to ``mteb.get_task(s)`` and the CLI (``_TASKS_REGISTRY``, ``TASK_LIST``)."""
    _TASKS_MODULE._TASKS_REGISTRY[task_class.metadata.name] = task_class
    _TASKS_MODULE.TASK_LIST = (*_TASKS_MODULE.TASK_LIST, task_class)


def registered_task(name: str) -> type | None:
    return _TASKS_MODULE._TASKS_REGISTRY.get(name)


def task_names() -> list[str]:
    return list(_TASKS_MODULE._TASKS_REGISTRY)


def model_registry() -> dict[str, Any]:
    """MTEB's name -> ModelMeta mapping (read by ``mteb.get_model(_meta)`` at call time)."""
    return MODEL_REGISTRY


def add_model(meta: Any) -> None:
    MODEL_REGISTRY[meta.name] = meta


def labels_converted_once(base: type) -> dict[str, Any]:
    """Class attributes for a Classification task built on ``base``: MTEB hands the label column (a
    ``datasets.Column`` under datasets 4) to seven scikit-learn metrics per experiment, each converting it row by
    row: 103 of the 137 s of a two-layer sweep of STSBGenreClassification. Converted to an array once, the
    scores are the same (``tests/test_mteb_internals.py``)."""

    def _calculate_scores(self: Any, y_test: Any, y_pred: Any) -> Any:
        return base._calculate_scores(self, np.asarray(y_test), y_pred)

    return {"_calculate_scores": _calculate_scores}


def fresh_task(task: Any) -> Any:
    """The task as ``mteb.get_task`` makes it (its random state freshly seeded from ``task.seed``), its loaded
    data shared: every evaluation of it samples what a separate ``mteb run`` would."""
    import copy

    fresh = copy.copy(task)
    fresh.rng_state, fresh.np_rng = _set_seed(task.seed)
    return fresh


def resolve_model_prompts(model: Any) -> Any:
    return _resolve_model_prompts(model, None)


# ------------------------------------------------------------------------------------------ results


def install_result_hooks(after_save: Callable[[Path, Any, Any], None]) -> None:
    """``after_save(result_path, task_result, model_meta)`` runs each time MTEB saves a task result; a result
    file MTEB cannot parse (e.g. cut short by a crash) is named with the fix instead of a bare traceback."""
    if _marked(ResultCache.save_to_cache):
        return
    save, load = ResultCache.save_to_cache, ResultCache.load_task_result

    def save_to_cache(self, task_result, model_name, model_revision=None, **kwargs):  # type: ignore[no-untyped-def]
        save(self, task_result, model_name, model_revision, **kwargs)
        path = self.get_task_result_path(
            model_name=model_name, model_revision=model_revision, task_name=task_result.task_name
        )
        after_save(path, task_result, model_name)

    def load_task_result(self, task_name, model_name, model_revision=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            return load(self, task_name, model_name, model_revision, *args, **kwargs)
        except (ValueError, UnicodeDecodeError) as exc:  # pydantic's and json's errors are ValueErrors
            path = self.get_task_result_path(task_name=task_name, model_name=model_name, model_revision=model_revision)
            raise CorruptFileError(
                f"result file {path} is corrupt ({type(exc).__name__}: {str(exc).splitlines()[0]}); move it away "
                "or delete it and rerun: the task is then evaluated again"
            ) from None

    ResultCache.save_to_cache = _mark(save_to_cache)
    ResultCache.load_task_result = load_task_result


# ------------------------------------------------------------------------------------------ names and the hub


def install_unknown_model_errors(
    our_names: Callable[[], list[str]], resolve: Callable[[str], Any] = lambda name: None
) -> None:
    """A model name neither registered nor loadable from the hub becomes one line with the close matches
    (registered names, ours and MTEB's), online or offline, instead of a hub traceback. ``resolve``: the meta of
    an unregistered name built on demand (a variant of ours: its model's meta with the variant as
    ``experiment_kwargs``), returned as it is (the registry keeps one entry per model)."""
    original = _get_model_meta_module.get_model_meta
    if _marked(original):
        return

    def get_model_meta(model_name: str, revision: str | None = None, fetch_from_hf: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        if model_name not in MODEL_REGISTRY:
            made = resolve(model_name)
            if made is not None:
                return made
        try:
            meta = original(model_name, revision, fetch_from_hf, **kwargs)
            if meta.loader is None and model_name not in MODEL_REGISTRY:
                raise LookupError("no model of that name on the hub either")  # mteb returns an empty meta
            return meta
        except RwkvMtebError:
            raise
        except Exception as exc:
            if model_name in MODEL_REGISTRY:
                raise
            names = list(dict.fromkeys([*our_names(), *MODEL_REGISTRY]))
            close = difflib.get_close_matches(model_name, names, n=3, cutoff=0.8)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
            raise UnknownModelError(
                f"unknown model {model_name!r}: neither rwkv-mteb nor mteb registers it, and it could not be "
                f"loaded from the Hugging Face hub ({reason}){hint} (`rwkv-mteb models` lists ours)"
            ) from None

    _get_model_meta_module.get_model_meta = _mark(get_model_meta)  # what mteb.get_model calls
    mteb.get_model_meta = get_model_meta


def install_unknown_task_errors(skipped: Callable[[], dict[str, str]]) -> None:
    """``mteb.get_task(s)`` of a name MTEB does not know raises one :class:`UnknownTaskError` line: the reason a
    task file of that name was skipped at registration (``skipped()``: task name -> reason), or close matches."""
    original = _TASKS_MODULE.get_task
    if _marked(original):
        return

    def get_task(task_name: str, *args: Any, **kwargs: Any) -> Any:
        if task_name in _TASKS_MODULE._TASKS_REGISTRY or task_name in getattr(_TASKS_MODULE, "_TASK_RENAMES", {}):
            return original(task_name, *args, **kwargs)
        reason = skipped().get(task_name)
        if reason is not None:
            raise UnknownTaskError(f"task {task_name!r} was not registered: its task file was skipped ({reason})")
        close = difflib.get_close_matches(task_name, list(_TASKS_MODULE._TASKS_REGISTRY), n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownTaskError(
            f"unknown task {task_name!r}: neither mteb nor rwkv-mteb's task files define it{hint} "
            "(`rwkv-mteb available-tasks` lists them; add your own with RWKV_MTEB_TASKS_DIR)"
        )

    _TASKS_MODULE.get_task = _mark(get_task)  # what mteb.get_tasks calls for each name
    mteb.get_task = get_task


def hub_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the Hugging Face hub could not be reached or is switched off."""
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionError | OfflineModeIsEnabled | LocalEntryNotFoundError):
            return True
        if type(seen).__name__ in {"ConnectError", "ConnectTimeout", "ConnectionError"}:  # httpx, requests
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def install_hub_errors() -> None:
    """A task whose data MTEB loads from the hub, while the hub cannot be reached, ends in one :class:`DataError`
    line naming the task and what to do, instead of a ``ConnectionError`` traceback."""
    original = _EVALUATE_MODULE._evaluate_task
    if _marked(original):
        return

    def evaluate_task(model: Any, task: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(model, task, *args, **kwargs)
        except Exception as exc:
            if isinstance(exc, RwkvMtebError) or not hub_unreachable(exc):
                raise
            dataset = task.metadata.dataset.get("path", "?")
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(
                f"task {task.metadata.name} loads its data ({dataset}) from the Hugging Face hub, which cannot be "
                f"reached ({first}); run it where the hub is reachable (unset HF_HUB_OFFLINE), or choose a task "
                "that reads local files (e.g. STSBenchmarkZeroShot with RWKV_MTEB_DATA_DIR)"
            ) from None

    _EVALUATE_MODULE._evaluate_task = _mark(evaluate_task)


# ------------------------------------------------------------------------------------------ mteb's own calls


@contextmanager
def models_loaded_by_mteb_wrapped(wrap: Callable[[Any, float], Any]) -> Iterator[None]:
    """While the block runs, every model ``mteb.get_model`` loads (e.g. inside mteb's own ``run`` command)
    goes through ``wrap(model, load_seconds)``."""
    original = mteb.get_model

    def get_model(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        model = original(*args, **kwargs)
        return wrap(model, time.perf_counter() - start)

    mteb.get_model = get_model
    try:
        yield
    finally:
        mteb.get_model = original


@contextmanager
def evaluations_captured() -> Iterator[list[Any]]:
    """Collects the ``ModelResult`` of every ``mteb.evaluate`` call made while the block runs (mteb's own
    ``run`` command returns nothing, and we print the scores it computed)."""
    original = mteb.evaluate
    results: list[Any] = []

    def evaluate(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        results.append(result)
        return result

    mteb.evaluate = evaluate
    try:
        yield results
    finally:
        mteb.evaluate = original


# ------------------------------------------------------------------------------------------ argparse


def subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def remove_subcommand(sub: argparse._SubParsersAction, name: str) -> None:
    """argparse cannot replace a subcommand; drop its parser and its help line."""
    sub._name_parser_map.pop(name, None)
    sub._choices_actions[:] = [a for a in sub._choices_actions if a.dest != name]
