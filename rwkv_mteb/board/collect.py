"""What the board is built from, read and checked: MTEB result folders, found by ``mteb.ResultCache`` in both of
MTEB's layouts (``<DIR>/results/<model>/<revision>/<task>.json`` and, for an experiment such as a layer-wise
variant, ``.../<revision>/experiments/<name>/<task>.json``) and read by MTEB's ``TaskResult``, with the profiles
and command logs beside them; MTEB prediction files anywhere under DIR (``*_predictions.json``), sweep
diagnostics, and the gold labels of each task from its own loader (the same files the run read). Nothing is
re-encoded. A result folder written before variants were experiments (the variant's name as its model name)
reads the same: the entry's name is the variant name either way.

A folder that does not exist, or results that hold no run at all, stop the build (nothing is published); a
corrupt result file is named in a warning and skipped; a corrupt side file (model meta, profile, command log,
diagnostics) stops the build with its name and the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mteb
import numpy as np
from mteb.results import TaskResult
from pydantic import BaseModel, ValidationError

from rwkv_mteb.analysis.records import AnalysisFile
from rwkv_mteb.board.records import Diagnostics
from rwkv_mteb.errors import CorruptFileError, PublishError
from rwkv_mteb.interventions.spec import Intervention
from rwkv_mteb.layerwise.prompts import Prompt
from rwkv_mteb.layerwise.variants import display_name
from rwkv_mteb.metrics.stats import PAIR_SCORES
from rwkv_mteb.provenance.records import ProfileFile, ProfileRecord, ScalingCurve
from rwkv_mteb.provenance.sidecars import (
    COMMANDS_LOG,
    analysis_path,
    diagnostics_path,
    profile_path,
    read_json,
    read_jsonl,
)
from rwkv_mteb.tasks.types import TASK_TYPES

EXPERIMENTS = "experiments"  # MTEB's folder of a model revision's experiments
# the main score the board resamples, by MTEB task type (tasks of other types get no intervals)
RESAMPLED_SCORE = {"STS": "spearman", "PairClassification": "max_ap"}


@dataclass
class Run:
    """One model's result for one task (all its splits), with what was saved beside it. ``model`` is the name a
    user types (a variant's name, ``"<model> (layer=K, ...)"``); ``name`` and ``experiment`` are MTEB's."""

    model: str
    revision: str
    task: str
    result_path: Path
    result: TaskResult
    meta: dict[str, Any]
    name: str = ""
    experiment: str | None = None  # MTEB's experiment folder name
    relative_path: str = ""  # under results/
    profile: dict[str, ProfileRecord] = field(default_factory=dict)  # split -> record
    commands: dict[str, str] = field(default_factory=dict)  # split -> the command that produced it


@dataclass
class Gold:
    """A task's gold labels per split, and which main score is resampled against them."""

    kind: str  # "spearman" or "max_ap"
    splits: dict[str, np.ndarray]
    texts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # split -> each pair's two texts


def _results_root(folder: Path) -> Path:
    return folder / "results" if (folder / "results").is_dir() else folder


def _experiment_of(path: Path) -> str | None:
    """MTEB's experiment folder name of a result or prediction file, from its place (``experiments/<name>/``)."""
    return path.parent.name if path.parent.parent.name == EXPERIMENTS else None


def validated(record: type[BaseModel], data: Any, path: Path, what: str, fix: str) -> Any:
    """``data`` as a typed record; a file of the wrong shape is named, like a file that is not JSON at all."""
    try:
        return record.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise CorruptFileError(f"{what} {path} is corrupt ({where}: {first['msg']}); {fix}") from None


def _run(path: Path, root: Path, result: TaskResult, warnings: list[str]) -> Run:
    meta_path = path.parent / "model_meta.json"
    rerun = "rerun the command that wrote it, or delete the folder"
    meta = read_json(meta_path, "model meta", rerun) if meta_path.is_file() else {}
    experiment = _experiment_of(path)
    revision_folder = path.parent.parent.parent if experiment else path.parent
    name = meta.get("name") or revision_folder.parent.name.replace("__", "/")
    run = Run(
        display_name(name, meta.get("experiment_kwargs")),
        meta.get("revision") or revision_folder.name,
        result.task_name,
        path,
        result,
        meta,
        name,
        experiment,
        path.relative_to(root).as_posix(),
    )
    profile_file = profile_path(path)
    if profile_file.is_file():
        fix = f"delete it (cost columns become null) or {rerun}"
        records = validated(ProfileFile, read_json(profile_file, "profile", fix), profile_file, "profile", fix)
        run.profile = {r.split: r for r in records.records}
    else:
        warnings.append(f"{run.model} on {run.task}: no profile beside {path}; cost columns are null")
    commands = path.parent / COMMANDS_LOG
    if commands.is_file():
        for record in read_jsonl(commands, "commands log", f"fix or delete the line, or {rerun}"):
            if record.get("task") == run.task:
                run.commands[record.get("split")] = record.get("command")
    return run


def result_files(root: Path) -> list[Path]:
    """Every result file under a ``results/`` folder, found as ``mteb.ResultCache`` finds them (both layouts,
    with or without ``model_meta.json``)."""
    cache = mteb.ResultCache(root.parent) if root.name == "results" else None
    if cache is None:  # a bare folder of model folders: MTEB's own patterns, globbed here
        found = [*root.glob("*/*/*.json"), *root.glob(f"*/*/{EXPERIMENTS}/*/*.json")]
        return sorted(p for p in found if p.name != "model_meta.json")
    paths = cache.get_cache_paths(require_model_meta=False, include_remote=False, load_experiments="match_name")
    return sorted(paths)


def collect_runs(folders: list[Path], warnings: list[str]) -> list[Run]:
    """Every MTEB result file under the folders, read by mteb's own ``TaskResult`` reader."""
    runs = []
    for folder in folders:
        if not folder.is_dir():
            raise PublishError(
                f"results folder {folder} does not exist; pass the --output-folder of a run (nothing was written)"
            )
        root = _results_root(folder)
        for path in result_files(root):
            try:
                result = TaskResult.from_disk(path)  # mteb's own reader (it also upgrades older layouts)
            except (ValueError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else ""
                warnings.append(f"corrupt result file {path} ({type(exc).__name__}: {first}); skipped")
                continue
            runs.append(_run(path, root, result, warnings))
    if not runs:
        raise PublishError(
            f"no MTEB result files under {', '.join(map(str, folders))} (expected <folder>/results/<model>/"
            "<revision>/<task>.json); nothing was written"
        )
    return runs


def collect_predictions(folders: list[Path]) -> dict[tuple[str, str | None, str], dict[str, dict[str, np.ndarray]]]:
    """(MTEB model name, experiment folder name or None, task) -> split -> score name (``cosine_scores``,
    ``dot_scores``, ...) -> per-pair values."""
    out: dict[tuple[str, str | None, str], dict[str, dict[str, np.ndarray]]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*_predictions.json")):
            try:
                data = json.loads(path.read_text())
                model = data["mteb_model_meta"]["model_name"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
            task = path.name.removesuffix("_predictions.json")
            for subset, splits in data.items():
                if subset == "mteb_model_meta" or not isinstance(splits, dict):
                    continue
                for split, preds in splits.items():
                    if isinstance(preds, dict) and "cosine_scores" in preds:
                        arrays = {k: np.asarray(v, dtype=float) for k, v in preds.items() if isinstance(v, list)}
                        out.setdefault((model, _experiment_of(path), task), {})[split] = arrays
    return out


def resampled_prediction(kind: str, scores: dict[str, np.ndarray] | None) -> np.ndarray | None:
    """What the resampled main score is computed from: the cosine scores (Spearman), or MTEB's five pair
    scores stacked (max AP); None when they are missing or not all finite (then no interval, never a wrong one)."""
    if scores is None:
        return None
    if kind == "spearman":
        pred = scores.get("cosine_scores")
    elif all(name in scores for name, _ in PAIR_SCORES):
        pred = np.stack([scores[name] for name, _ in PAIR_SCORES])
    else:
        pred = None
    return pred if pred is not None and np.isfinite(pred).all() else None


def collect_diagnostics(folders: list[Path]) -> list[Diagnostics]:
    found = []
    for folder in folders:
        for path in sorted(diagnostics_path(folder, "*", "*", "*", "*").parent.glob("*.json")):
            fix = "delete it or rerun the sweep that wrote it"
            found.append(
                validated(Diagnostics, read_json(path, "sweep diagnostics", fix), path, "sweep diagnostics", fix)
            )
    return sorted(found, key=lambda d: (d.model, d.pooling, d.prompt, d.ablate, d.task))


def collect_scaling(folders: list[Path]) -> list[ScalingCurve]:
    """The curves ``rwkv-mteb scaling --out <folder>/scaling/<name>.json`` wrote beside each folder's results."""
    found = []
    for folder in folders:
        for path in sorted((folder / "scaling").glob("*.json")):
            fix = "delete it or rerun the scaling command that wrote it"
            found.append(validated(ScalingCurve, read_json(path, "scaling curve", fix), path, "scaling curve", fix))
    return sorted(found, key=lambda c: c.model)


def collect_analyses(folders: list[Path]) -> list[AnalysisFile]:
    """The files ``rwkv-mteb analyze`` wrote under each folder's ``analysis/``."""
    found = []
    for folder in folders:
        for path in sorted(analysis_path(folder, "*", "*").parent.glob("*.json")):
            fix = "delete it or rerun the analyze command that wrote it"
            found.append(validated(AnalysisFile, read_json(path, "analysis file", fix), path, "analysis file", fix))
    return sorted(found, key=lambda a: (a.task, a.model))


def _values(split: Any, column: str) -> list[Any]:
    values = list(split[column])
    if len(values) == 1 and isinstance(values[0], list):  # MTEB's v1 layout: one row holding every pair
        values = values[0]
    return values


def _column(split: Any, column: str) -> np.ndarray:
    return np.asarray(_values(split, column), dtype=float)


def gold_labels(task: str, warnings: list[str]) -> Gold | None:
    """The task's gold per split, for the types whose main score is resampled over pairs."""
    try:
        task_obj = mteb.get_task(task)
        kind = RESAMPLED_SCORE.get(task_obj.metadata.type)
        if kind is None:
            return None
        column = TASK_TYPES[task_obj.metadata.type].gold_column
        task_obj.load_data()
        data = task_obj.dataset
        data = data.get("default", data) if isinstance(data, dict) else data
        texts = {
            split: list(zip(_values(data[split], "sentence1"), _values(data[split], "sentence2"), strict=True))
            for split in data
        }
        return Gold(kind, {split: _column(data[split], column) for split in data}, texts)
    except Exception as exc:
        warnings.append(
            f"task {task}: gold labels unavailable ({type(exc).__name__}: {exc}); interval and comparison columns "
            "are null"
        )
        return None


def describe_model(name: str, saved_meta: dict[str, Any]) -> dict[str, Any]:
    """family, base model, layer, pooling, prompt and parameters, from the model's declaration (``loader_kwargs``
    and ``experiment_kwargs`` of the saved ``model_meta.json``, else of the registered meta): no name parsing."""
    try:
        registered = mteb.get_model_meta(name)
    except Exception:
        registered = None
    declared = saved_meta.get("loader_kwargs") or (registered.loader_kwargs if registered is not None else {}) or {}
    experiment = saved_meta.get("experiment_kwargs") or {}
    kwargs = {**declared, **experiment}
    if "layer" in experiment:
        kwargs["layers"] = [experiment["layer"]]
    builder = kwargs.get("builder")
    base = kwargs.get("base") or name
    if builder == "layerwise":
        family = kwargs.get("family")
        if family == "transformers":
            family = "rwkv4" if "rwkv-4" in base else base.split("/")[-1]
    else:
        family = {"glove": "glove", "simcse": "simcse", "sbert": "sbert"}.get(builder or "", "other")
        if family == "other" and name.startswith("sentence-transformers/"):
            family = "sbert"
        if kwargs.get("trained_on"):
            family = "trained"
    layers = kwargs.get("layers") or []
    layerwise = builder == "layerwise"
    return {
        "family": family,
        "base_model": base,
        "layer": layers[0] if layerwise and len(layers) == 1 else None,
        "pooling": kwargs.get("pooling", "mean") if layerwise else None,
        "prompt": Prompt.of(kwargs.get("template") or kwargs.get("prompt")).name if layerwise else None,
        "ablate": Intervention.parse(kwargs.get("ablate")).name if layerwise else None,
        "parameters": saved_meta.get("n_parameters", registered.n_parameters if registered is not None else None),
        "trained_on": kwargs.get("trained_on"),
    }
