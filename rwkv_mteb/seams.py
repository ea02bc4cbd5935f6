"""The one door to other projects' internals: every use of a private part of mteb, argparse or CPython.

MTEB 2.x has no plugin interface, so registering tasks and models, hooking result saving and turning an
unknown model name into one clear line all touch its internals. They are gathered here, each behind a small
function, and guarded by a version check that fails loudly on an mteb this module was not tested with
(``tests/test_seams.py`` has one test per seam). Import it only once mteb is loaded (``_autoload`` does so
from its hook, after ``import mteb`` has finished).
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mteb.models.sentence_transformer_wrapper import SentenceTransformerEncoderWrapper, _resolve_model_prompts

from rwkv_mteb.errors import CorruptFileError, RwkvMtebError, UnknownModelError

TESTED_MTEB = ("2.26",)


class UntestedMtebError(RwkvMtebError):
    """The installed mteb is not a version whose internals this module was written against."""


def check_mteb_version() -> None:
    from importlib.metadata import version

    installed = version("mteb")
    if not installed.startswith(tuple(f"{v}." for v in TESTED_MTEB)):
        raise UntestedMtebError(
            f"rwkv-mteb registers through mteb internals tested with mteb {', '.join(TESTED_MTEB)}.*, but mteb "
            f"{installed} is installed; install a tested version (pip install 'mteb>=2.26.24,<2.27') or set "
            "RWKV_MTEB_AUTOLOAD=0"
        )


# ------------------------------------------------------------------------------------------ CPython


def our_module_is_initializing() -> bool:
    """True while one of our modules is mid-import (it imported mteb itself and registers explicitly).
    Reads ``ModuleSpec._initializing``, which CPython sets during an import."""
    return any(
        name.startswith("rwkv_mteb.") and getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
    )


# ------------------------------------------------------------------------------------------ registries


def add_task(task_class: type) -> None:
    """Make a task class visible to ``mteb.get_task(s)`` and the CLI (``_TASKS_REGISTRY``, ``TASK_LIST``)."""
    module = importlib.import_module("mteb.get_tasks")  # `mteb.get_tasks` the attribute is the function
    module._TASKS_REGISTRY[task_class.metadata.name] = task_class
    module.TASK_LIST = (*module.TASK_LIST, task_class)


def registered_task(name: str) -> type | None:
    return importlib.import_module("mteb.get_tasks")._TASKS_REGISTRY.get(name)


def model_registry() -> dict[str, Any]:
    """MTEB's name -> ModelMeta mapping (read by ``mteb.get_model(_meta)`` at call time)."""
    from mteb.models.model_implementations import MODEL_REGISTRY

    return MODEL_REGISTRY


def add_model(meta: Any) -> None:
    model_registry()[meta.name] = meta


# ------------------------------------------------------------------------------------------ results


def install_result_hooks(after_save: Callable[[Path, Any, Any], None]) -> None:
    """``after_save(result_path, task_result, model_meta)`` runs each time MTEB saves a task result; a result
    file MTEB cannot parse (e.g. cut short by a crash) is named with the fix instead of a bare traceback."""
    from mteb.cache import ResultCache

    if getattr(ResultCache.save_to_cache, "_rwkv_mteb", False):
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

    save_to_cache._rwkv_mteb = True  # type: ignore[attr-defined]
    ResultCache.save_to_cache = save_to_cache
    ResultCache.load_task_result = load_task_result


# ------------------------------------------------------------------------------------------ model names


def install_unknown_model_errors(our_names: Callable[[], list[str]]) -> None:
    """A model name neither registered nor loadable from the hub becomes one line with the close matches
    (registered names, ours and MTEB's), online or offline, instead of a hub traceback."""
    import mteb
    from mteb.models import get_model_meta as module

    original = module.get_model_meta
    if getattr(original, "_rwkv_mteb", False):
        return

    def get_model_meta(model_name: str, revision: str | None = None, fetch_from_hf: bool = False, **kwargs: Any):  # type: ignore[no-untyped-def]
        try:
            meta = original(model_name, revision, fetch_from_hf, **kwargs)
            if meta.loader is None and model_name not in model_registry():
                raise LookupError("no model of that name on the hub either")  # mteb returns an empty meta
            return meta
        except RwkvMtebError:
            raise
        except Exception as exc:
            if model_name in model_registry():
                raise
            names = list(dict.fromkeys([*our_names(), *model_registry()]))
            close = difflib.get_close_matches(model_name, names, n=3, cutoff=0.8)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
            raise UnknownModelError(
                f"unknown model {model_name!r}: neither rwkv-mteb nor mteb registers it, and it could not be "
                f"loaded from the Hugging Face hub ({reason}){hint} (`rwkv-mteb models` lists ours)"
            ) from None

    get_model_meta._rwkv_mteb = True  # type: ignore[attr-defined]
    module.get_model_meta = get_model_meta  # what mteb.get_model calls
    mteb.get_model_meta = get_model_meta


@contextmanager
def models_loaded_by_mteb_wrapped(wrap: Callable[[Any, float], Any]) -> Iterator[None]:
    """While the block runs, every model ``mteb.get_model`` loads (e.g. inside mteb's own ``run`` command)
    goes through ``wrap(model, load_seconds)``."""
    import time

    import mteb

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
    import mteb

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


class Encoder(SentenceTransformerEncoderWrapper):
    """MTEB's standard wrapper around one of our SentenceTransformers, with the metadata we declared and the
    revision of the weights actually loaded.

    MTEB's own constructor re-derives metadata from the model (and warns that it cannot tell the vocabulary
    size or architecture of a model it does not know); ``mteb_model_meta`` is a property here so that the
    revision survives MTEB assigning its registry copy after loading.
    """

    def __init__(self, model: Any, meta: Any, revision: str | None = None) -> None:  # not MTEB's: see above
        self.model = model
        self.content_revision = revision
        self.mteb_model_meta = meta
        self.model_prompts = _resolve_model_prompts(model, None)
        self.fps = self.max_frames = self.num_frames = self.target_sampling_rate = self.max_samples = None

    @property
    def mteb_model_meta(self) -> Any:
        return self._meta

    @mteb_model_meta.setter
    def mteb_model_meta(self, value: Any) -> None:
        if value is not None and self.content_revision and value.revision != self.content_revision:
            value = value.model_copy(update={"revision": self.content_revision})
        self._meta = value


# ------------------------------------------------------------------------------------------ argparse


def subcommands(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def remove_subcommand(sub: argparse._SubParsersAction, name: str) -> None:
    """argparse cannot replace a subcommand; drop its parser and its help line."""
    sub._name_parser_map.pop(name, None)
    sub._choices_actions[:] = [a for a in sub._choices_actions if a.dest != name]
